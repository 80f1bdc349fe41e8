//! The accept loop: a task per connection, under the limits that keep one client from taking
//! the hub down for everyone (issue 20 §1).
//!
//! - **Open connections are capped**, in all and per client address (an IPv6 client counts per
//!   /64, which one host usually holds whole). What is over a cap is closed at once, before
//!   any byte is read, so the hub keeps file descriptors for everyone else. Connections from a
//!   trusted proxy count only toward the total: every client behind it shares its address.
//! - **A connection must send a complete request head in time** (`header_read_timeout`),
//!   counted from when it was opened or, on a kept-alive connection, from the first byte of
//!   the next request: one that sends nothing, or its headers a line at a time, is closed.
//! - **A kept-alive connection idle for `idle_timeout`** after its last answer is closed.
//! - **A request body must arrive within `body_read_timeout`** of its head: one that trickles
//!   (a byte every few seconds) closes the connection.
//!
//! The two timeouts are kept by a watchdog per connection over a small state machine fed by
//! the connection's own reads and writes and by the requests it serves (hyper's own header
//! timer would also run while a kept-alive connection waits, and so could not be set apart
//! from the idle timeout).

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tower_service::Service;

use crate::client_addr::{is_trusted_proxy, AddressKey};
pub use crate::config::ConnectionLimits;

/// Open connections, in all and per address.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<AddressKey, usize>,
}

/// Admits connections under the caps and counts them until their [`Admitted`] is dropped.
#[derive(Debug)]
pub struct Gate {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
}

/// An admitted connection's place in the counts, given back when dropped.
#[derive(Debug)]
pub struct Admitted {
    gate: Arc<Gate>,
    key: Option<AddressKey>,
}

impl Gate {
    /// A gate with these limits.
    pub fn new(limits: ConnectionLimits) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            counts: Mutex::default(),
        })
    }

    /// Counts a new connection from `ip`, or says no when a cap is reached.
    pub fn admit(self: &Arc<Gate>, ip: IpAddr) -> Option<Admitted> {
        let trusted = is_trusted_proxy(&self.limits.trusted_proxies, ip);
        let key = (!trusted).then(|| AddressKey::of(ip));
        let mut counts = self.counts.lock();
        if counts.total >= self.limits.max_connections {
            return None;
        }
        if let Some(key) = key {
            let n = counts.by_address.entry(key).or_insert(0);
            if *n >= self.limits.max_per_address {
                return None;
            }
            *n += 1;
        }
        counts.total += 1;
        Some(Admitted {
            gate: self.clone(),
            key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.lock().total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.gate.counts.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(key) = self.key {
            if let Some(n) = counts.by_address.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    counts.by_address.remove(&key);
                }
            }
        }
    }
}

/// A connection's phase and its last read or write, shared by its I/O, its service and its
/// watchdog. Atomics, not a lock: every read and write of every connection passes here.
///
/// Phases: reading a request head (since `head_since`), handling `handling` requests, or idle
/// since the last read or write. Times are milliseconds since the connection opened.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// When the current request head began, or [`NOT_READING`].
    head_since: AtomicU64,
    /// Requests being handled.
    handling: AtomicUsize,
    /// The last read or write.
    last_io: AtomicU64,
    /// When the body of the request being handled began, while it has not all arrived, or
    /// [`NOT_READING`].
    body_since: AtomicU64,
    /// Wakes the watchdog when a phase begins whose deadline may be nearer than the one it
    /// sleeps towards.
    changed: tokio::sync::Notify,
}

/// `head_since` while no request head is being read.
const NOT_READING: u64 = u64::MAX;

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            head_since: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            last_io: AtomicU64::new(0),
            body_since: AtomicU64::new(NOT_READING),
            changed: tokio::sync::Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn read(&self) {
        let now = self.now();
        // The first byte after an answer starts the next request's head.
        if self.handling.load(Ordering::Acquire) == 0
            && self
                .head_since
                .compare_exchange(NOT_READING, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.changed.notify_one();
        }
        self.last_io.store(now, Ordering::Release);
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Release);
    }

    fn request_started(&self, has_body: bool) {
        self.handling.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NOT_READING, Ordering::Release);
        if has_body {
            self.body_since.store(self.now(), Ordering::Release);
        }
        self.changed.notify_one();
    }

    fn body_done(&self) {
        self.body_since.store(NOT_READING, Ordering::Release);
    }

    fn request_answered(&self) {
        self.body_done();
        self.last_io.store(self.now(), Ordering::Release);
        let _ = self
            .handling
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// When the connection is due to be closed, as of now (`None`: while a request whose
    /// body has arrived is handled, never).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let at = |ms: u64, plus: Duration| self.opened + Duration::from_millis(ms) + plus;
        if self.handling.load(Ordering::Acquire) > 0 {
            return match self.body_since.load(Ordering::Acquire) {
                NOT_READING => None,
                since => Some(at(since, limits.body_read_timeout)),
            };
        }
        match self.head_since.load(Ordering::Acquire) {
            NOT_READING => Some(at(
                self.last_io.load(Ordering::Acquire),
                limits.idle_timeout,
            )),
            since => Some(at(since, limits.header_read_timeout)),
        }
    }
}

/// Resolves when the connection has overstayed a timeout.
async fn watchdog(activity: Arc<Activity>, limits: Arc<ConnectionLimits>) {
    loop {
        // Taken before the deadline is read, so a change in between is not missed: a new
        // phase can bring the deadline closer (a request head after a long idle wait, a body
        // whose timeout is shorter than the head's), and the sleep must not outlast it.
        let changed = activity.changed.notified();
        let sleep = match activity.deadline(&limits) {
            Some(at) if at <= Instant::now() => return,
            Some(at) => tokio::time::sleep_until(at),
            // Handling a request whose body has arrived: look again after a while.
            None => tokio::time::sleep(
                limits
                    .header_read_timeout
                    .min(limits.idle_timeout)
                    .min(limits.body_read_timeout),
            ),
        };
        tokio::select! {
            _ = sleep => {}
            _ = changed => {}
        }
    }
}

/// The socket, reporting its reads and writes to the watchdog.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that tells the watchdog when it has all arrived.
struct WatchedBody {
    inner: Incoming,
    activity: Arc<Activity>,
}

impl hyper::body::Body for WatchedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.activity.body_done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Marks a request answered when dropped (also when its handler is cancelled).
struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.request_answered();
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    gate: Arc<Gate>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = Arc::new(gate.limits.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // The watchdog keeps the timeouts; hyper's own header timer is off (see the module doc).
    http.timer(TokioTimer::new()).header_read_timeout(None);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin; the caps should keep the first away.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(admitted) = gate.admit(peer.ip()) else {
            tracing::debug!(peer = %peer.ip(), "connection refused: over the connection cap");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let app = app.clone();
        let on_request = activity.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            on_request.request_started(!request.body().is_end_stream());
            let activity = on_request.clone();
            let request = request.map(|inner| WatchedBody { inner, activity });
            let answering = Answering(on_request.clone());
            let mut app = app.clone();
            async move {
                let response = app.call(request).await;
                drop(answering);
                response
            }
        });
        let connection = graceful.watch(http.serve_connection(io, service));
        let limits = limits.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = watchdog(activity, limits) => {
                    tracing::debug!(peer = %peer.ip(), "connection closed: request head or idle timeout");
                }
            }
            drop(admitted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(per_address: usize, total: usize, proxies: &[&str]) -> Arc<Gate> {
        Gate::new(ConnectionLimits {
            max_per_address: per_address,
            max_connections: total,
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            ..ConnectionLimits::default()
        })
    }

    #[test]
    fn one_address_cannot_take_the_others_share() {
        let g = gate(2, 10, &[]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = g.admit(a).unwrap();
        let _second = g.admit(a).unwrap();
        assert!(g.admit(a).is_none(), "a third from the same address");
        assert!(g.admit(b).is_some(), "another address still gets in");
        drop(first);
        assert!(
            g.admit(a).is_some(),
            "a closed connection gives its place back"
        );
    }

    #[test]
    fn an_ipv6_client_counts_per_64_and_mapped_ipv4_is_ipv4() {
        let g = gate(1, 10, &[]);
        let _one = g.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(g.admit("2001:db8:1:2::ffff".parse().unwrap()).is_none());
        assert!(g.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        let _v4 = g.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert!(g.admit("::ffff:192.0.2.7".parse().unwrap()).is_none());
    }

    #[test]
    fn the_total_cap_holds_and_a_trusted_proxy_counts_only_toward_it() {
        let g = gate(1, 3, &["10.0.0.0/8"]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| g.admit(proxy).unwrap()).collect();
        assert_eq!(g.open(), 3);
        assert!(
            g.admit("192.0.2.9".parse().unwrap()).is_none(),
            "total reached"
        );
        drop(held);
        assert_eq!(g.open(), 0);
    }
}
