//! Issue 20: the hub stays up for everyone while one client misbehaves, tested against the real
//! binary over loopback. Clients come from several loopback addresses (127.0.0.2, 127.0.0.3…,
//! all routed to `lo` on Linux), so per-address limits can be told from global ones.

use crate::serve_support;

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};

const ADMIN: &str = "hostile-clients-operator-token";

/// Starts `fastcomments serve` with these extra flags, under `ulimit -n <files>` when given.
/// A hub whose request heads must arrive within `head` seconds and whose kept-alive
/// connections close after `idle` idle seconds.
async fn start_hub_timing_out(
    dir: &std::path::Path,
    files: Option<u32>,
    (head, idle): (&str, &str),
) -> (Child, String) {
    let flags = [
        "--header-read-timeout-secs",
        head,
        "--idle-timeout-secs",
        idle,
    ];
    start_hub(dir, files, &flags).await
}

async fn start_hub(dir: &std::path::Path, files: Option<u32>, flags: &[&str]) -> (Child, String) {
    let limit = files.map_or(String::new(), |n| format!("ulimit -n {n} && "));
    let mut script = format!("{limit}exec \"$0\" serve --listen 127.0.0.1:0 --data-dir \"$1\"");
    for f in flags {
        script.push(' ');
        script.push_str(f);
    }
    let (child, url) = serve_support::spawn_hub(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_fastcomments"))
            .arg(dir),
        ADMIN,
        "error",
    )
    .await;
    (child, url)
}

/// A connection from loopback address `from` to the hub at `url`.
async fn connect_from(from: [u8; 4], url: &str) -> std::io::Result<TcpStream> {
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

/// A kept-alive connection from `from` that asked `GET /healthz` and got its `200`.
async fn answered_once(from: [u8; 4], url: &str) -> TcpStream {
    let mut s = connect_from(from, url).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s
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
    let (_hub, url) = start_hub(dir.path(), Some(256), &["--header-read-timeout-secs", "30"]).await;
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
    let (_hub, url) = start_hub_timing_out(dir.path(), Some(1024), ("2", "1")).await;

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

    let mut kept = answered_once([127, 0, 0, 4], &url).await;
    let started = Instant::now();
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(2500),
        "idle connection closed after {took:?}"
    );
}

/// A client whose requests come from `from`.
fn client_from(from: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap()
}

/// Whether one of `tries` requests made by `request(i)` was answered 429.
async fn throttled_within(
    tries: usize,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
) -> bool {
    for i in 0..tries {
        if request(i).send().await.unwrap().status() == 429 {
            return true;
        }
    }
    false
}

/// A tenant and an acknowledged integration token: (API key, token).
async fn tenant_and_token(url: &str) -> (String, String) {
    let http = client_from([127, 0, 0, 1]);
    let key =
        serve_support::create_tenant(&http, url, ADMIN, "Guessed", &["guessed.example"]).await;
    let token = "a-real-plugin-token-0001".to_owned();
    let r = http
        .post(format!("{url}/api/v1/integrations/{token}/acknowledge"))
        .header("x-api-key", &key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    (key, token)
}

/// Guessing is not free: after the budget of failed checks, every credential of that address
/// is answered 429 with Retry-After and the same body, right or wrong, for integration tokens,
/// API keys and the operator token alike; other addresses are not touched, and probes still
/// answer. Behind a trusted proxy each forwarded client has its own budget, and a forged
/// X-Forwarded-For from anyone else changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_credential_checks_are_throttled_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, url) = start_hub(dir.path(), None, &["--trusted-proxy", "127.0.0.20"]).await;
    let (key, token) = tenant_and_token(&url).await;

    let guesser = client_from([127, 0, 0, 10]);
    let stream = |c: &reqwest::Client, t: &str| {
        c.get(format!("{url}/integrations/v1/stream?token={t}"))
            .send()
    };
    let mut refused_at = None;
    for i in 0..200 {
        let r = stream(&guesser, &format!("guess-{i:08}")).await.unwrap();
        if r.status() == 429 {
            refused_at = Some(i);
            break;
        }
        assert_eq!(r.status(), 401);
    }
    let refused_at = refused_at.expect("200 wrong tokens were never throttled");
    assert!(
        (50..=70).contains(&refused_at),
        "throttled after {refused_at}"
    );

    // Now everything that carries a credential is refused alike, the right one included.
    let right = stream(&guesser, &token).await.unwrap();
    assert_eq!(right.status(), 429);
    assert!(right.headers().contains_key("retry-after"));
    let right_body: serde_json::Value = right.json().await.unwrap();
    let wrong: serde_json::Value = stream(&guesser, "another-guess-1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(right_body["code"], "rate-limited");
    assert_eq!(
        right_body, wrong,
        "the body says nothing about the credential"
    );
    let api = guesser
        .get(format!("{url}/api/v1/integrations"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 429);
    let operator = guesser
        .post(format!("{url}/admin/v1/tenants"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(operator.status(), 429);
    let health = guesser.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "probes carry no credential");

    // Another address is not touched.
    let other = client_from([127, 0, 0, 11]);
    assert_eq!(stream(&other, &token).await.unwrap().status(), 200);

    // Wrong API keys and operator tokens are counted the same way.
    let keys = client_from([127, 0, 0, 12]);
    let wrong_key = |i: usize| {
        keys.get(format!("{url}/api/v1/integrations"))
            .header("x-api-key", format!("wrong-key-{i}"))
    };
    assert!(
        throttled_within(100, wrong_key).await,
        "wrong API keys were never throttled"
    );
    let ops = client_from([127, 0, 0, 13]);
    let wrong_operator = |i: usize| {
        ops.post(format!("{url}/admin/v1/tenants"))
            .bearer_auth(format!("wrong-operator-{i}"))
            .json(&serde_json::json!({"name": "x"}))
    };
    assert!(
        throttled_within(100, wrong_operator).await,
        "wrong operator tokens were never throttled"
    );

    // The stream polled with `token`, the request saying it is forwarded for `client`.
    let forwarded = |c: &reqwest::Client, token: &str, client: &'static str| {
        c.get(format!("{url}/integrations/v1/stream?token={token}"))
            .header("x-forwarded-for", client)
    };

    // A forged X-Forwarded-For from an untrusted peer is ignored: still throttled.
    let forged = forwarded(&guesser, &token, "198.51.100.99");
    assert_eq!(forged.send().await.unwrap().status(), 429);

    // Behind the trusted proxy, one client's guesses do not lock out another.
    let proxy = client_from([127, 0, 0, 20]);
    let proxied_guess =
        |i: usize| forwarded(&proxy, &format!("proxied-guess-{i:04}"), "198.51.100.1");
    throttled_within(100, proxied_guess).await;
    let behind = forwarded(&proxy, &token, "198.51.100.1");
    assert_eq!(
        behind.send().await.unwrap().status(),
        429,
        "the guesser behind the proxy is throttled"
    );
    let neighbour = forwarded(&proxy, &token, "198.51.100.2");
    assert_eq!(
        neighbour.send().await.unwrap().status(),
        200,
        "its neighbour behind the proxy is not"
    );
}

/// Issue 20 §3: one address registering fresh tokens without end keeps only its newest 100
/// pending ones (the oldest go first), another address's pending token stays, and the newest is
/// still found and acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_token_registrations_are_capped_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, url) = start_hub(dir.path(), None, &[]).await;
    let put = |c: &reqwest::Client, token: &str| {
        c.put(format!(
            "{url}/integrations/v1/token?token={token}&integrationType=wordpress"
        ))
        .send()
    };
    let neighbour = client_from([127, 0, 0, 31]);
    assert_eq!(
        put(&neighbour, "neighbour-token-0001")
            .await
            .unwrap()
            .status(),
        200
    );
    let flooder = client_from([127, 0, 0, 30]);
    for i in 0..150 {
        let r = put(&flooder, &format!("flood-token-{i:06}")).await.unwrap();
        assert_eq!(r.status(), 200, "a registration is never refused");
    }
    let code_of = |token: String| {
        let c = client_from([127, 0, 0, 32]);
        let url = url.clone();
        async move {
            let stream = c.get(format!("{url}/integrations/v1/stream?token={token}"));
            let v = serve_support::json_answer(stream).await;
            v["code"].as_str().unwrap_or("").to_owned()
        }
    };
    assert_eq!(
        code_of("flood-token-000000".into()).await,
        "unknown-token",
        "the oldest went"
    );
    assert_eq!(code_of("flood-token-000049".into()).await, "unknown-token");
    assert_eq!(
        code_of("flood-token-000050".into()).await,
        "token-not-validated",
        "the newest 100 stay"
    );
    assert_eq!(
        code_of("neighbour-token-0001".into()).await,
        "token-not-validated"
    );
    let (key, _) = tenant_and_token(&url).await;
    let r = client_from([127, 0, 0, 1])
        .post(format!(
            "{url}/api/v1/integrations/flood-token-000149/acknowledge"
        ))
        .header("x-api-key", &key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A request whose head arrived but whose body trickles (a byte a second) is cut off after
/// the body timeout, and the connection's place is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, url) = start_hub(dir.path(), None, &["--body-read-timeout-secs", "2"]).await;
    let mut s = connect_from([127, 0, 0, 40], &url).await.unwrap();
    s.write_all(
        // The sign-in form's body is read before anything answers (its CSRF check).
        b"POST /admin/sign-in HTTP/1.1\r\nHost: hub\r\n\
          Cookie: fc_admin=signin.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nc",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        if s.write_all(b" ").await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut s, Duration::from_millis(10)).await {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "a trickling body was still open after {:?}",
        started.elapsed()
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
}

/// A kept-alive connection that, after its answer, starts its next request head and trickles
/// it is closed the head timeout after that first byte, not at the (later) idle deadline the
/// watchdog was sleeping towards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_head_after_an_answer_is_closed_on_the_head_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, url) = start_hub_timing_out(dir.path(), None, ("2", "8")).await;
    let mut s = answered_once([127, 0, 0, 41], &url).await;
    // Longer than the head timeout, shorter than the idle one: the watchdog now sleeps
    // towards the idle deadline.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let started = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let mut closed = false;
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let line = format!("X-Slow-{i}: one line at a time\r\n");
        if s.write_all(line.as_bytes()).await.is_err()
            || closed_within(&mut s, Duration::from_millis(10)).await
        {
            closed = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(closed, "a slow head was still open after {took:?}");
    assert!(
        took < Duration::from_millis(4000),
        "closed after {took:?}, not on the head timeout"
    );
}
