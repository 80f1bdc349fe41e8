//! What the webhook benchmarks of the hub and the command line share: their command-line
//! arguments, a loopback receiver that notes when each comment first arrived, percentiles,
//! and CPU time read from `/proc`.

use axum::body::Bytes;
use axum::Router;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The value after `name` on the command line (`--rate 200`), or `default` when it is missing
/// or does not parse.
pub fn arg<T: FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Each comment id's first arrival at a receiver.
pub type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A webhook receiver on loopback, answering every request `ok` (or never, when it hangs).
pub struct Receiver {
    /// Where it listens, `http://127.0.0.1:<port>/hook`.
    pub url: String,
    /// When each comment id (the body's `id`) first arrived; a hanging receiver notes none.
    pub arrivals: Arrivals,
    /// Requests it saw, answered or not.
    pub requests: Arc<AtomicUsize>,
}

impl Receiver {
    /// Starts one on the current runtime; `hang`: it accepts every request and never answers.
    pub async fn start(hang: bool) -> Receiver {
        let arrivals: Arrivals = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let (a, r) = (arrivals.clone(), requests.clone());
        let app = Router::new().fallback(move |body: Bytes| {
            let (a, r) = (a.clone(), r.clone());
            async move {
                r.fetch_add(1, Ordering::Relaxed);
                if hang {
                    std::future::pending::<()>().await;
                }
                let now = Instant::now();
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
                        a.lock().entry(id.to_owned()).or_insert(now);
                    }
                }
                "ok"
            }
        });
        let url = serve_hook(app).await;
        Receiver {
            url,
            arrivals,
            requests,
        }
    }
}

/// Serves `app` on a free loopback port, on the current runtime, until the process ends;
/// returns its webhook URL, `http://127.0.0.1:<port>/hook`.
pub async fn serve_hook(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// The `p` quantile (0 to 1) of `sorted`: the element at the rounded rank; NaN for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Starts `serve` as `command` describes it (its arguments set), with `admin` as the admin
/// token and warnings only in the log, and waits for the line it prints first, which ends with
/// its address: the child (killed when dropped) and that address (`http://127.0.0.1:<port>`).
pub async fn spawn_serve(
    mut command: tokio::process::Command,
    admin: &str,
) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .env("FASTCOMMENTS_ADMIN_TOKEN", admin)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start fastcomments serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = tokio::io::BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("read the hub's stdout")
        .expect("the hub prints its address");
    let url = line.rsplit(' ').next().unwrap_or_default().to_owned();
    (child, url)
}

/// A hub's claims so far, the deliveries they handed out and the seconds they took, from its
/// `/metrics` at `base`.
pub async fn claims(http: &reqwest::Client, base: &str) -> (u64, u64, f64) {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    (
        counter(&text, "fastcomments_webhook_claims") as u64,
        counter(&text, "fastcomments_webhook_claimed") as u64,
        counter(&text, "fastcomments_webhook_claim_seconds"),
    )
}

/// The value of counter `name` (without its `_total`) in a `/metrics` page, 0 when absent.
fn counter(metrics: &str, name: &str) -> f64 {
    let prefix = format!("{name}_total ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// `/proc` counts CPU time in USER_HZ ticks, 100 a second on Linux whatever the kernel's own
/// tick.
const TICKS: f64 = 100.0;

/// A process's fields in `/proc/PID/stat` after its command's closing parenthesis, as numbers
/// (0 is the state, a letter, read as 0; 1 the parent; 11 and 12 user and system CPU); none
/// once it is gone.
pub fn stat_fields(pid: u32) -> Vec<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').map_or(vec![], |(_, rest)| {
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect()
    })
}

/// CPU seconds of a process so far (all its threads), from its [`stat_fields`]: user and
/// system, and with `waited` those of its children it has waited for.
pub fn cpu_seconds(fields: &[u64], waited: bool) -> f64 {
    let last = if waited { 15 } else { 13 };
    fields.get(11..last).map_or(0, |t| t.iter().sum::<u64>()) as f64 / TICKS
}

/// CPU seconds of the process `pid` so far, user and system, all its threads; 0 once it is
/// gone.
pub fn process_cpu_seconds(pid: u32) -> f64 {
    cpu_seconds(&stat_fields(pid), false)
}

/// The machine's idle seconds so far, all cores together (`/proc/stat`).
pub fn idle_seconds() -> f64 {
    machine_seconds(4)
}

/// The machine's stolen seconds so far: on a virtual machine, CPU time its host gave to other
/// machines while this one had work to run.
pub fn stolen_seconds() -> f64 {
    machine_seconds(8)
}

/// A column of the machine's CPU line in `/proc/stat`, in seconds.
fn machine_seconds(column: usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .next()
        .and_then(|cpu| cpu.split_whitespace().nth(column))
        .and_then(|t| t.parse::<f64>().ok())
        .map_or(0.0, |t| t / TICKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_reads_its_own_cpu_and_parent_and_a_gone_one_reads_none() {
        // Busy until the counts grow by 50 ms (5 ticks), or for ten seconds on a machine that
        // gives this thread nothing.
        let before = cpu_seconds(&stat_fields(std::process::id()), false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut spin = 0u64;
        while cpu_seconds(&stat_fields(std::process::id()), false) < before + 0.05
            && std::time::Instant::now() < deadline
        {
            for _ in 0..100_000 {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
        }
        let own = stat_fields(std::process::id());
        assert!(cpu_seconds(&own, false) >= before + 0.05, "{own:?}");
        assert!(cpu_seconds(&own, true) >= cpu_seconds(&own, false));
        assert_eq!(
            own.get(1).copied(),
            Some(u64::from(std::os::unix::process::parent_id()))
        );
        // Pid 0 has no `/proc` entry.
        assert!(stat_fields(0).is_empty());
        assert_eq!(cpu_seconds(&stat_fields(0), true), 0.0);
    }

    #[test]
    fn the_machine_has_been_idle_some_time_since_it_booted() {
        assert!(idle_seconds() > 0.0);
        assert!(stolen_seconds() >= 0.0);
    }
}
