//! `fastcomments serve` as an operator runs it: defaults, health, operator API, SIGTERM.

use crate::serve_support;
use serve_support::assert_succeeded;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// SIGTERM, then the hub must finish and exit 0 within 20 s.
async fn stop_gracefully(child: &mut tokio::process::Child) {
    serve_support::sigterm(child.id().unwrap());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

/// `POST /admin/v1/tenants` with the operator token `op`.
async fn create_ops_tenant(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .post(format!("{url}/admin/v1/tenants"))
        .bearer_auth("op")
        .json(&serde_json::json!({"name": "Ops"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn serve_starts_with_defaults_answers_and_stops_gracefully_on_sigterm() {
    let cwd = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(cwd.path())
        .env("FASTCOMMENTS_ADMIN_TOKEN", "op")
        .env_remove("FASTCOMMENTS_DATA_DIR")
        .env_remove("FASTCOMMENTS_DATABASE_URL")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = serve_support::listening_url(&mut child).await;
    let client = reqwest::Client::new();
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    println!("started and healthy after {:?}", started.elapsed());
    assert!(
        cwd.path().join("fastcomments-data/hub.db").exists(),
        "default data dir is ./fastcomments-data"
    );
    let res = create_ops_tenant(&client, &url).await;
    assert_eq!(res.status(), 200);

    // SIGTERM: finishes and exits 0.
    stop_gracefully(&mut child).await;

    // The data survives a restart.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(cwd.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = serve_support::listening_url(&mut child).await;
    // Without FASTCOMMENTS_ADMIN_TOKEN the operator API is off.
    let res = create_ops_tenant(&client, &url).await;
    assert_eq!(res.status(), 403);
}

/// `fastcomments tenant create --name NAME --domain DOMAIN --data-dir DIR`, run to its end.
async fn tenant_create(name: &str, domain: &str, data_dir: &Path) -> Output {
    let mut command = serve_support::fastcomments();
    command
        .args(["tenant", "create", "--name", name, "--domain", domain])
        .arg("--data-dir")
        .arg(data_dir);
    serve_support::run_to_end(&mut command, Duration::from_secs(60)).await
}

#[tokio::test]
async fn tenant_create_prints_id_and_secret_and_bad_flags_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = tenant_create("Blog", "blog.example.com", dir.path()).await;
    assert_succeeded(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("tenant id:  t-"), "{text}");
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("api secret: "))
        .unwrap();
    assert_eq!(secret.len(), 64);

    let out = tenant_create("x", "not a domain", dir.path()).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a domain"));

    let out = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["serve", "--database-url", "mysql://nope"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two hubs over one SQLite file would each trust their own caches and both dispatch the same
/// webhook deliveries: the second is refused, names the first one's pid, and can start once the
/// first has gone. `tenant create` (no hub) still works beside a running hub.
#[tokio::test]
async fn a_second_hub_on_the_same_data_dir_is_refused_until_the_first_stops() {
    let data = tempfile::tempdir().unwrap();
    let spawn = || {
        serve_support::fastcomments()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env_remove("FASTCOMMENTS_DATABASE_URL")
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    let url = serve_support::listening_url(&mut first).await;
    let first_pid = first.id().unwrap();

    let second = tokio::time::timeout(Duration::from_secs(20), spawn().wait_with_output())
        .await
        .expect("the second hub gives up at once")
        .unwrap();
    assert!(!second.status.success(), "the second hub must not serve");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("already served by another hub process")
            && err.contains(&first_pid.to_string()),
        "{err}"
    );
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200, "the first hub is untouched");

    let out = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["tenant", "create", "--name", "Side", "--data-dir"])
        .arg(data.path())
        .output()
        .await
        .unwrap();
    assert_succeeded(&out);

    stop_gracefully(&mut first).await;

    let mut again = spawn();
    let url = serve_support::listening_url(&mut again).await;
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}
