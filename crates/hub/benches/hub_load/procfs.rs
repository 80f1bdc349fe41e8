//! Reading what Linux's `/proc` knows about CPU time and memory, so the bench can tell the
//! server's share of the CPU from the load generator's and the hub's peak RSS from its own.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// CPU time of each live thread of this process in nanoseconds, with its name.
pub fn thread_cpu_ns() -> HashMap<u32, (String, u64)> {
    threads("self")
        .into_iter()
        .map(|(tid, t)| (tid, (t.name, t.on_cpu_ns)))
        .collect()
}

/// Scheduler accounting of one thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadTimes {
    /// The thread's name (`comm`).
    pub name: String,
    /// Time spent running on a CPU.
    pub on_cpu_ns: u64,
    /// Time spent runnable but waiting for a CPU (contention on a shared machine).
    pub waiting_ns: u64,
}

/// Scheduler accounting of every live thread of process `pid` (`"self"` for this one).
///
/// `schedstat` gives nanosecond-precise on-CPU and run-queue times; `stat`'s ticks (10 ms)
/// are too coarse for a few-second window, so they are only the fallback.
pub fn threads(pid: &str) -> HashMap<u32, ThreadTimes> {
    let mut out = HashMap::new();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let name = fs::read_to_string(path.join("comm"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let sched: Vec<u64> = fs::read_to_string(path.join("schedstat"))
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|f| f.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let times = match sched.as_slice() {
            [on_cpu, waiting, ..] => ThreadTimes {
                name,
                on_cpu_ns: *on_cpu,
                waiting_ns: *waiting,
            },
            _ => match stat_ticks(&path.join("stat")) {
                Some(t) => ThreadTimes {
                    name,
                    on_cpu_ns: t * 10_000_000,
                    waiting_ns: 0,
                },
                None => continue,
            },
        };
        out.insert(tid, times);
    }
    out
}

/// Per thread name, on-CPU and waiting time between two snapshots of [`threads`], busiest
/// first.
pub fn threads_between(
    before: &HashMap<u32, ThreadTimes>,
    after: &HashMap<u32, ThreadTimes>,
) -> Vec<ThreadTimes> {
    let mut by_name: HashMap<String, ThreadTimes> = HashMap::new();
    for (tid, t) in after {
        let start = before.get(tid).cloned().unwrap_or_default();
        let sum = by_name
            .entry(t.name.clone())
            .or_insert_with(|| ThreadTimes {
                name: t.name.clone(),
                ..ThreadTimes::default()
            });
        sum.on_cpu_ns += t.on_cpu_ns.saturating_sub(start.on_cpu_ns);
        sum.waiting_ns += t.waiting_ns.saturating_sub(start.waiting_ns);
    }
    let mut list: Vec<ThreadTimes> = by_name.into_values().collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.on_cpu_ns));
    list
}

/// utime + stime of a whole process, in clock ticks (10 ms each on Linux).
pub fn process_cpu_ticks(pid: u32) -> Option<u64> {
    stat_ticks(Path::new(&format!("/proc/{pid}/stat")))
}

/// utime + stime of a `stat` file, in clock ticks.
fn stat_ticks(path: &Path) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // The first field after ')' is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU spent between two snapshots, split by whether the thread's name starts with `prefix`.
/// Returns `(matching_ns, other_ns)`.
pub fn cpu_between(
    before: &HashMap<u32, (String, u64)>,
    after: &HashMap<u32, (String, u64)>,
    prefix: &str,
) -> (u64, u64) {
    let mut matching = 0;
    let mut other = 0;
    for (tid, (name, ns)) in after {
        let start = before.get(tid).map_or(0, |(_, b)| *b);
        let spent = ns.saturating_sub(start);
        if name.starts_with(prefix) {
            matching += spent;
        } else {
            other += spent;
        }
    }
    (matching, other)
}

/// A `kB` line of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in bytes.
pub fn status_bytes(pid: u32, key: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        let kb: u64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// The machine's load averages (how busy the shared machine was).
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
