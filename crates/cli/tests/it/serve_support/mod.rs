//! For tests that run `fastcomments serve` as a child process.

use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// The `fastcomments` binary with both its outputs piped (to read them) and killed when
/// dropped (a failed test leaves no process behind); the caller adds the arguments.
pub fn fastcomments() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fastcomments"));
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// `out` is a successful run's; its stderr says why not.
pub fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `command` to its end, which must come within `limit`: its status and outputs.
pub async fn run_to_end(command: &mut Command, limit: Duration) -> Output {
    let out = command.spawn().unwrap().wait_with_output();
    tokio::time::timeout(limit, out)
        .await
        .expect("the command ends in time")
        .unwrap()
}

/// The `http://ADDR` the hub prints on its first stdout line once it listens (the child must
/// have been spawned with a piped stdout).
pub async fn listening_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("spawned with a piped stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the hub prints its address within 20 s")
        .expect("reading the hub's stdout")
        .expect("the hub printed a line");
    line.rsplit(' ')
        .next()
        .map(str::to_owned)
        .unwrap_or_default()
}

/// Sends `request`; its answer's JSON body (whatever the status: tests read refusals too).
pub async fn json_answer(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Creates a tenant owning `domains` through the operator API of the hub at `url` (whose
/// operator token is `admin`); its API secret.
pub async fn create_tenant(
    http: &reqwest::Client,
    url: &str,
    admin: &str,
    name: &str,
    domains: &[&str],
) -> String {
    let request = http
        .post(format!("{url}/admin/v1/tenants"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"name": name, "domains": domains}));
    let v = json_answer(request).await;
    v["apiSecret"].as_str().unwrap().to_owned()
}

/// Sends SIGTERM to the process `pid`, as an operator's service manager stops the hub.
pub fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Spawns `command` (a `fastcomments serve` the caller put together) with the operator token
/// `admin` and `RUST_LOG=log`, killed when dropped; the child and the URL it listens on.
pub async fn spawn_hub(command: &mut Command, admin: &str, log: &str) -> (Child, String) {
    let mut child = command
        .env("FASTCOMMENTS_ADMIN_TOKEN", admin)
        .env("RUST_LOG", log)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = listening_url(&mut child).await;
    (child, url)
}
