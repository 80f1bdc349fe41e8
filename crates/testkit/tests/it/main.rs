//! testkit's own tests, in one binary: the throwaway PostgreSQL cluster, and its end with the
//! process that started it.

mod cluster;
mod process_end;
