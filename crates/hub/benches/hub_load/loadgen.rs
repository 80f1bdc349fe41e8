//! A closed-loop HTTP/1.1 load generator: a fixed number of keep-alive connections, each
//! sending one GET after the other for a fixed time, checking every answer byte for byte.
//!
//! It runs on its own runtime whose threads are named [`THREAD_PREFIX`], so the CPU it burns
//! can be told apart from the server's (both share the machine's cores).

use crate::procfs;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::HOST;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// Name prefix of the load generator's threads.
pub const THREAD_PREFIX: &str = "loadgen";

/// What to hammer and how.
#[derive(Debug, Clone)]
pub struct Target {
    /// Label in the output.
    pub name: &'static str,
    /// Server address.
    pub addr: SocketAddr,
    /// `/path?query` of every request.
    pub path_and_query: String,
    /// The exact body every answer must carry (with status 200).
    pub expected_body: Bytes,
}

/// How hard and how long.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Time before counting starts (connections open, caches warm).
    pub warmup: Duration,
    /// Counted time.
    pub measure: Duration,
}

/// The outcome of one run.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    /// Requests answered correctly during the counted time.
    pub requests: u64,
    /// Wrong status, wrong body or transport error, over the whole run (warm-up included).
    pub errors: u64,
    /// Connections opened, over the whole run (one per connection when keep-alive works).
    pub connects: u64,
    /// The counted time, as measured.
    pub elapsed: Duration,
    /// CPU the load generator's threads spent during the counted time.
    pub loadgen_cpu: Duration,
    /// CPU every other thread of the process (the servers) spent during the counted time.
    pub server_cpu: Duration,
}

impl LoadResult {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Server CPU per request, microseconds.
    pub fn server_us_per_req(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }

    /// Load generator CPU per request, microseconds.
    pub fn loadgen_us_per_req(&self) -> f64 {
        self.loadgen_cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    errors: AtomicU64,
    connects: AtomicU64,
}

/// Runs `load` against `target` on the load generator's runtime `rt`. Call from a plain thread
/// (not from inside a runtime).
pub fn run(rt: &Runtime, target: &Target, load: Load) -> LoadResult {
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let target = Arc::new(target.clone());
    let workers: Vec<_> = (0..load.connections)
        .map(|_| rt.spawn(connection(target.clone(), counters.clone(), stop.clone())))
        .collect();
    std::thread::sleep(load.warmup);
    let cpu_before = procfs::thread_cpu_ns();
    let ok_before = counters.ok.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(load.measure);
    let ok_after = counters.ok.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    let cpu_after = procfs::thread_cpu_ns();
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for w in workers {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
    });
    let (loadgen_ns, server_ns) = procfs::cpu_between(&cpu_before, &cpu_after, THREAD_PREFIX);
    LoadResult {
        requests: ok_after - ok_before,
        errors: counters.errors.load(Ordering::Relaxed),
        connects: counters.connects.load(Ordering::Relaxed),
        elapsed,
        loadgen_cpu: Duration::from_nanos(loadgen_ns),
        server_cpu: Duration::from_nanos(server_ns),
    }
}

/// One connection's loop: connect, then request after request until told to stop; a broken
/// connection counts as an error and is replaced.
async fn connection(target: Arc<Target>, counters: Arc<Counters>, stop: Arc<AtomicBool>) {
    let host = target.addr.to_string();
    while !stop.load(Ordering::Relaxed) {
        counters.connects.fetch_add(1, Ordering::Relaxed);
        let mut sender = match open(target.addr).await {
            Ok(s) => s,
            Err(e) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("  [{}] connect failed: {e}", target.name);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = sender.ready().await {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("  [{}] connection closed: {e}", target.name);
                break;
            }
            let request = Request::get(target.path_and_query.as_str())
                .header(HOST, host.as_str())
                .body(Empty::<Bytes>::new())
                .expect("a GET with a static path is a valid request");
            let answer = match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status();
                    match response.into_body().collect().await {
                        Ok(body) => Ok((status, body.to_bytes())),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match answer {
                Ok((StatusCode::OK, body)) if body == target.expected_body => {
                    counters.ok.fetch_add(1, Ordering::Relaxed);
                }
                Ok((status, body)) => {
                    if counters.errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!(
                            "  [{}] unexpected answer {status}: {}",
                            target.name,
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        );
                    }
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("  [{}] request failed: {e}", target.name);
                    break;
                }
            }
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn open(addr: SocketAddr) -> Result<Sender, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
