//! Issue 20: the hub stays up for everyone while one client misbehaves, tested against the real
//! binary over loopback. Clients come from several loopback addresses (127.0.0.2, 127.0.0.3…,
//! all routed to `lo` on Linux), so per-address limits can be told from global ones.

mod serve_support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};

/// Starts `fastcomments serve` under `ulimit -n <files>` with these extra flags.
async fn start_hub(dir: &std::path::Path, files: u32, flags: &[&str]) -> (Child, String) {
    let mut script =
        format!("ulimit -n {files} && exec \"$0\" serve --listen 127.0.0.1:0 --data-dir \"$1\"");
    for f in flags {
        script.push(' ');
        script.push_str(f);
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_fastcomments"))
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = serve_support::listening_url(&mut child).await;
    (child, url)
}

/// A connection from loopback address `from` to the hub at `url`.
async fn connect_from(from: [u8; 4], url: &str) -> std::io::Result<TcpStream> {
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

/// `GET /healthz` on a fresh connection from `from`: the status line's code, if any came.
async fn healthz_from(from: [u8; 4], url: &str) -> Option<u16> {
    let mut s = connect_from(from, url).await.ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Whether the peer closed `s` (a read returns end of file or an error) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// One address holding more idle connections than the file limit allows does not keep another
/// address out: it is served within a second, and the attacker's extra connections are
/// refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holding_idle_connections_does_not_lock_out_another() {
    let dir = tempfile::tempdir().unwrap();
    // Default caps; the file limit (256) makes the total cap 192 and the per-address cap 128.
    let (_hub, url) = start_hub(dir.path(), 256, &["--header-read-timeout-secs", "30"]).await;
    let mut held = Vec::new();
    for _ in 0..300 {
        match connect_from([127, 0, 0, 2], &url).await {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    // Connections over the cap are accepted by the kernel and closed by the hub at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut open = 0;
    for s in &mut held {
        if !closed_within(s, Duration::from_millis(5)).await {
            open += 1;
        }
    }
    assert!(open <= 128, "{open} connections of one address stayed open");
    let started = Instant::now();
    assert_eq!(healthz_from([127, 0, 0, 3], &url).await, Some(200));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "another address waited {:?}",
        started.elapsed()
    );
    drop(held);
}

/// A connection that sends nothing, one that sends its headers a line every second, and a
/// kept-alive one that goes quiet after its answer are each closed within their timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_and_idle_connections_are_closed_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, url) = start_hub(
        dir.path(),
        1024,
        &[
            "--header-read-timeout-secs",
            "2",
            "--idle-timeout-secs",
            "1",
        ],
    )
    .await;

    let mut silent = connect_from([127, 0, 0, 4], &url).await.unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(4)).await);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1500), "closed after {took:?}");

    let mut slow = connect_from([127, 0, 0, 4], &url).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let mut closed = false;
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        if slow
            .write_all(format!("X-Line-{i}: a header sent slowly\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
    }
    closed = closed || closed_within(&mut slow, Duration::from_millis(500)).await;
    assert!(
        closed,
        "a slow head was still open after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let mut kept = connect_from([127, 0, 0, 4], &url).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(2500),
        "idle connection closed after {took:?}"
    );
}
