//! testkit's own tests, in one binary: the throwaway PostgreSQL cluster, and its end with the
//! process that started it.

mod cluster;
mod process_end;

/// Gone, or a zombie nobody reaps (this machine's init does not).
pub fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}
