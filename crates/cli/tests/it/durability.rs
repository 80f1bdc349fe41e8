//! Issue 19: an answer of 2xx means committed and durable.
//!
//! - A hub on SQLite whose disk fills up: every write answered 2xx is there after the hub is
//!   killed and started again; writes while the disk is full are answered `507` (with
//!   `Retry-After`, never a 2xx); `/readyz` says why it is not ready and `/metrics` counts the
//!   failures; once space is back, writes succeed again without a restart. The disk is a real
//!   one: a small tmpfs (testkit's `SmallDisk`) that a ballast file fills.
//! - A hub on PostgreSQL whose server is killed (SIGKILL) and started again while four clients
//!   write: every write answered 2xx is there afterwards, and what was refused during the
//!   outage was refused with `503` and `Retry-After`, not a 500.
//! - A hub on SQLite meeting a real I/O error (a file-size limit): `503`, nothing lost.
//! - A hub on PostgreSQL whose data directory (tables and WAL) fills up: `507` where a table
//!   cannot grow, `503` where the server PANICs and stops or a new connection cannot be made,
//!   never a 500 or a lost 2xx; writes succeed again once space is back and the server runs.

use crate::serve_support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::process::{Child, Command};

const ADMIN: &str = "full-disk-admin";
const TOKEN: &str = "full-disk-plugin-token-0001";

async fn start_hub(data_dir: &std::path::Path) -> (Child, String) {
    start_hub_with(data_dir, None).await
}

async fn start_hub_with(data_dir: &std::path::Path, database: Option<&str>) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fastcomments"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir);
    if let Some(url) = database {
        command.args(["--database-url", url]);
    }
    // Every refused write logs an error; the assertions say what went wrong.
    serve_support::spawn_hub(&mut command, ADMIN, "off").await
}

/// Every write the test made, and whether it was answered 2xx.
#[derive(Default)]
struct Ledger {
    /// API comments: hub id.
    comments: Vec<String>,
    /// Uploaded comments: plugin id, acknowledged or not.
    uploads: Vec<(String, bool)>,
    /// Acknowledged integration tokens, acknowledged or not.
    tokens: Vec<(String, bool)>,
    /// Webhook configurations (domain), acknowledged or not.
    configs: Vec<(String, bool)>,
    /// Every answer that was not a 2xx: (status, code, Retry-After present).
    refusals: Vec<(u16, String, bool)>,
    /// Uploaded comments, tokens and webhook configurations answered `507`: the storage said
    /// nothing of them was stored.
    insufficient: Vec<String>,
}

impl Ledger {
    fn absorb(&mut self, other: Ledger) {
        self.comments.extend(other.comments);
        self.uploads.extend(other.uploads);
        self.tokens.extend(other.tokens);
        self.configs.extend(other.configs);
        self.refusals.extend(other.refusals);
        self.insufficient.extend(other.insufficient);
    }

    /// Every write answered 2xx is in `h` (a refused one may or may not be: the outage
    /// left it unknown whether it committed).
    fn assert_acknowledged_held(&self, h: &Held) {
        for id in &self.comments {
            assert!(h.ids.contains(id), "acknowledged comment {id} lost");
        }
        for (e, ok) in &self.uploads {
            assert!(!ok || h.exts.contains(e), "acknowledged upload {e} lost");
        }
        for (t, ok) in &self.tokens {
            assert!(!ok || h.tokens.contains(t), "acknowledged token {t} lost");
        }
        for (d, ok) in &self.configs {
            assert!(
                !ok || h.configs.contains(d),
                "acknowledged configuration {d} lost"
            );
        }
    }

    /// `h` holds exactly the writes answered 2xx: every one of them, and no refused upload,
    /// token or configuration.
    fn assert_held_exactly(&self, h: &Held) {
        for id in &self.comments {
            assert!(h.ids.contains(id), "acknowledged comment {id} lost");
        }
        for (e, ok) in &self.uploads {
            assert_eq!(h.exts.contains(e), *ok, "uploaded {e}");
        }
        for (t, ok) in &self.tokens {
            assert_eq!(h.tokens.contains(t), *ok, "token {t}");
        }
        for (d, ok) in &self.configs {
            assert_eq!(h.configs.contains(d), *ok, "webhook configuration {d}");
        }
    }

    /// Notes `keys` as refused for a full disk when the last answer was a `507`.
    fn note_insufficient(&mut self, ok: bool, keys: impl IntoIterator<Item = String>) {
        if !ok
            && self
                .refusals
                .last()
                .is_some_and(|(status, ..)| *status == 507)
        {
            self.insufficient.extend(keys);
        }
    }
}

/// Sends a write: its JSON answer when it was a 2xx, else `None` with the refusal noted.
async fn send(request: reqwest::RequestBuilder, ledger: &mut Ledger) -> Option<Value> {
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let has_retry = r.headers().contains_key("retry-after");
    let body: Value = r.json().await.unwrap();
    if (200..300).contains(&status) {
        return Some(body);
    }
    let code = body["code"].as_str().unwrap_or("").to_owned();
    ledger.refusals.push((status, code, has_retry));
    None
}

/// One write of each kind, `n` picked by the caller so names never repeat.
async fn write_each_kind(http: &reqwest::Client, hub: &str, key: &str, n: usize) -> Ledger {
    let mut ledger = Ledger::default();
    let text = "a comment of some length, so that pages fill ".repeat(8);

    let comment = json!({"urlId": "/thread", "commenterName": "Ann", "comment": text, "domain": "example.com"});
    let post = http.post(format!("{hub}/api/v1/comments"));
    if let Some(body) = send(post.header("x-api-key", key).json(&comment), &mut ledger).await {
        let id = body["comment"]["_id"].as_str().unwrap().to_owned();
        ledger.comments.push(id);
    }

    let exts: Vec<String> = (0..5).map(|k| format!("up-{n}-{k}")).collect();
    let comments: Vec<Value> = exts
        .iter()
        .map(|e| json!({"externalId": e, "urlId": "/thread", "commenterName": "Bo", "comment": text}))
        .collect();
    let upload = http
        .post(format!("{hub}/integrations/v1/comments?token={TOKEN}"))
        .json(&json!({"countRemaining": 5, "comments": comments}));
    let ok = send(upload, &mut ledger).await.is_some();
    ledger.note_insufficient(ok, exts.iter().cloned());
    ledger.uploads.extend(exts.into_iter().map(|e| (e, ok)));

    let token = format!("full-disk-ack-{n:06}");
    let acknowledge = http
        .post(format!("{hub}/api/v1/integrations/{token}/acknowledge"))
        .header("x-api-key", key)
        .json(&json!({}));
    let ok = send(acknowledge, &mut ledger).await.is_some();
    ledger.note_insufficient(ok, [token.clone()]);
    ledger.tokens.push((token, ok));

    let domain = format!("w{n}.example.com");
    let target = json!({"url": "https://receiver.example.net/hook"});
    let config = http
        .put(format!("{hub}/api/v1/webhook-config"))
        .header("x-api-key", key)
        .json(&json!({"domain": domain, "create": target, "update": target, "delete": target}));
    let ok = send(config, &mut ledger).await.is_some();
    ledger.note_insufficient(ok, [domain.clone()]);
    ledger.configs.push((domain, ok));
    ledger
}

/// Four writers, `rounds` writes of each kind each, side by side.
async fn write_concurrently(hub: &str, key: &str, first: usize, rounds: usize) -> Ledger {
    write_until(hub, key, first, rounds, None).await
}

/// Four writers side by side, each `rounds` writes of each kind, or until `stop` is set.
async fn write_until(
    hub: &str,
    key: &str,
    first: usize,
    rounds: usize,
    stop: Option<Arc<std::sync::atomic::AtomicBool>>,
) -> Ledger {
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (http, hub, key) = (http.clone(), hub.to_owned(), key.to_owned());
        let stop = stop.clone();
        tasks.spawn(async move {
            let mut all = Ledger::default();
            for i in 0..rounds {
                if stop
                    .as_ref()
                    .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
                {
                    break;
                }
                all.absorb(write_each_kind(&http, &hub, &key, first + w * 1_000_000 + i).await);
            }
            all
        });
    }
    let mut all = Ledger::default();
    while let Some(l) = tasks.join_next().await {
        all.absorb(l.unwrap());
    }
    all
}

/// What `/metrics` counts as `fastcomments_storage_failures_total{kind}`.
async fn storage_failures(http: &reqwest::Client, url: &str, kind: &str) -> u64 {
    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("fastcomments_storage_failures_total{{kind=\"{kind}\"}}");
    metrics
        .lines()
        .find(|l| l.starts_with(&series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
}

async fn get_json(http: &reqwest::Client, url: &str, key: &str) -> (u16, Value) {
    let r = http.get(url).header("x-api-key", key).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Creates a tenant owning `example.com` and acknowledges [`TOKEN`] for it: its API key.
async fn tenant_with_plugin(http: &reqwest::Client, url: &str) -> String {
    let key = serve_support::create_tenant(http, url, ADMIN, "Full disk", &["example.com"]).await;
    let r = http
        .post(format!("{url}/api/v1/integrations/{TOKEN}/acknowledge"))
        .header("x-api-key", &key)
        .json(&json!({"skipInitialSync": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    key
}

/// What the hub holds now: API and uploaded comments (hub ids, plugin ids), acknowledged
/// tokens, webhook configurations' domains.
struct Held {
    ids: HashSet<String>,
    exts: HashSet<String>,
    tokens: HashSet<String>,
    configs: HashSet<String>,
}

async fn held(http: &reqwest::Client, url: &str, key: &str) -> Held {
    // Every page of the thread (a page holds at most 1,000).
    let mut stored = Vec::new();
    for page in 0.. {
        let (_, body) = get_json(
            http,
            &format!("{url}/api/v1/comments?urlId=/thread&limit=1000&page={page}"),
            key,
        )
        .await;
        let got = body["comments"].as_array().unwrap().clone();
        let last = got.len() < 1000;
        stored.extend(got);
        if last {
            break;
        }
    }
    let stored = &stored;
    let strings = |v: &[Value], field: &str| -> HashSet<String> {
        v.iter()
            .filter_map(|c| c[field].as_str().map(str::to_owned))
            .collect()
    };
    let ids = strings(stored, "_id");
    let exts = strings(stored, "externalId");
    let (_, body) = get_json(http, &format!("{url}/api/v1/integrations"), key).await;
    let tokens = strings(body["integrations"].as_array().unwrap(), "token");
    let (_, body) = get_json(http, &format!("{url}/api/v1/webhook-config"), key).await;
    let configs = strings(body["configs"].as_array().unwrap(), "domain");
    Held {
        ids,
        exts,
        tokens,
        configs,
    }
}

/// A hub on SQLite whose data lives on a small disk of its own (16 MiB), with a tenant
/// connected as a plugin.
struct OnSmallDisk {
    disk: Arc<testkit::SmallDisk>,
    data: std::path::PathBuf,
    hub: Child,
    url: String,
    http: reqwest::Client,
    key: String,
}

impl OnSmallDisk {
    async fn start() -> OnSmallDisk {
        let disk = Arc::new(testkit::SmallDisk::mount(16).unwrap());
        let data = disk.path().join("data");
        let (hub, url) = start_hub(&data).await;
        let http = reqwest::Client::new();
        let key = tenant_with_plugin(&http, &url).await;
        OnSmallDisk {
            disk,
            data,
            hub,
            url,
            http,
            key,
        }
    }

    /// Fills the disk (off the async threads), leaving `room` bytes free, or none.
    async fn fill(&self, room: Option<u64>) {
        let d = self.disk.clone();
        tokio::task::spawn_blocking(move || match room {
            Some(bytes) => d.fill_leaving(bytes),
            None => d.fill(),
        })
        .await
        .unwrap()
        .unwrap();
    }

    /// Kills the hub without a graceful stop, starts it again on the same data, and reads
    /// what it holds.
    async fn killed_and_restarted(&mut self) -> Held {
        self.hub.start_kill().unwrap();
        self.hub.wait().await.unwrap();
        (self.hub, self.url) = start_hub(&self.data).await;
        held(&self.http, &self.url, &self.key).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_answered_507_and_loses_no_acknowledged_write() {
    let mut on = OnSmallDisk::start().await;
    let (url, key, http) = (on.url.clone(), on.key.clone(), on.http.clone());

    // Space on the disk: everything is stored.
    let before = write_concurrently(&url, &key, 0, 5).await;
    assert!(before.refusals.is_empty(), "{:?}", before.refusals);

    // The disk fills up: every write is refused with 507 and Retry-After, none is a 2xx.
    on.fill(None).await;
    let full = write_concurrently(&url, &key, 100, 3).await;
    assert!(
        full.comments.is_empty(),
        "a comment was acknowledged on a full disk"
    );
    assert!(full.uploads.iter().all(|(_, ok)| !ok));
    assert!(full.tokens.iter().all(|(_, ok)| !ok));
    assert!(full.configs.iter().all(|(_, ok)| !ok));
    assert_eq!(full.refusals.len(), 4 * 3 * 4);
    for (status, code, retry_after) in &full.refusals {
        assert_eq!((*status, code.as_str()), (507, "insufficient-storage"));
        assert!(retry_after, "a 507 without Retry-After");
    }
    let (status, body) = get_json(&http, &format!("{url}/readyz"), "").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("disk is full"),
        "{body}"
    );
    assert!(storage_failures(&http, &url, "disk-full").await > 0);

    // Space comes back: ready again and writes succeed, without a restart.
    on.disk.free().unwrap();
    let (status, body) = get_json(&http, &format!("{url}/readyz"), "").await;
    assert_eq!(status, 200, "{body}");
    let after = write_concurrently(&url, &key, 200, 3).await;
    assert!(after.refusals.is_empty(), "{:?}", after.refusals);

    // Killed without a graceful stop, started again: every 2xx is there, and no refused write.
    let h = on.killed_and_restarted().await;
    for ledger in [&before, &full, &after] {
        ledger.assert_held_exactly(&h);
    }
    // API comments that were refused left nothing behind either.
    assert_eq!(
        h.ids.len() - h.exts.len(),
        before.comments.len() + after.comments.len()
    );
}

/// `POST /api/v1/comments/bulk` with `items`.
async fn post_bulk(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    items: &[Value],
) -> reqwest::Response {
    http.post(format!("{url}/api/v1/comments/bulk"))
        .header("x-api-key", key)
        .json(items)
        .send()
        .await
        .unwrap()
}

/// `POST /api/v1/comments/bulk` on a disk that fills part way through the call: the comments
/// stored before the disk filled are answered `success` (an answer of `507` for the whole call
/// made the SDK's caller send them all again, and store them twice), the one that met the full
/// disk and every one after it `failed` with `insufficient-storage`, and exactly the `success`
/// ones are there after a restart. A call that stores nothing is answered `507` as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_call_that_meets_a_full_disk_says_which_comments_were_stored() {
    let mut on = OnSmallDisk::start().await;
    let (url, key, http) = (on.url.clone(), on.key.clone(), on.http.clone());
    let text = "a comment of some length, so that pages fill ".repeat(40);
    let bulk = |tag: &str| -> Vec<Value> {
        (0..500)
            .map(|i| json!({"urlId": "/thread", "commenterName": "Ann", "comment": format!("{tag} {i} {text}"), "domain": "example.com"}))
            .collect()
    };
    // Room for a few dozen commits, not for 500.
    on.fill(Some(1 << 20)).await;
    let r = post_bulk(&http, &url, &key, &bulk("first")).await;
    assert_eq!(r.status().as_u16(), 200);
    let items: Vec<Value> = r.json().await.unwrap();
    assert_eq!(items.len(), 500);
    let stored: Vec<String> = items
        .iter()
        .take_while(|i| i["status"] == "success")
        .map(|i| i["comment"]["_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !stored.is_empty() && stored.len() < 500,
        "the disk should fill part way: {} stored",
        stored.len()
    );
    for item in &items[stored.len()..] {
        assert_eq!(item["status"], "failed", "{item}");
        assert_eq!(item["code"], "insufficient-storage", "{item}");
        assert!(item["reason"].as_str().is_some_and(|r| !r.is_empty()));
    }

    // Now nothing fits: nothing is stored, and the whole call is refused as one.
    on.fill(None).await;
    let r = post_bulk(&http, &url, &key, &bulk("second")).await;
    assert_eq!(r.status().as_u16(), 507);
    assert!(r.headers().contains_key("retry-after"));

    on.disk.free().unwrap();
    let h = on.killed_and_restarted().await;
    assert_eq!(
        h.ids,
        stored.into_iter().collect::<HashSet<_>>(),
        "exactly the comments answered success are stored"
    );
}

/// A hub on a new database of `cluster`, with a tenant connected as a plugin: the hub's
/// folder (removed when dropped), the hub, its URL, a client and the tenant's API secret.
async fn hub_on_postgres(
    cluster: &testkit::PgCluster,
) -> (tempfile::TempDir, Child, String, reqwest::Client, String) {
    let database = cluster.database("durability").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (hub, url) = start_hub_with(dir.path(), Some(&database)).await;
    let http = reqwest::Client::new();
    let key = tenant_with_plugin(&http, &url).await;
    (dir, hub, url, http, key)
}

/// PostgreSQL killed and started again under writes of every kind: nothing answered 2xx is
/// lost, and what the outage refused was refused as "retry later" (`503` + `Retry-After`).
/// A commit cut off by the kill may have happened or not: such a write is answered 503 and
/// may be there, so refused writes are not checked to be absent here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_mid_writes_loses_no_acknowledged_write() {
    let cluster = testkit::PgCluster::start_with(testkit::PgOptions::durable())
        .await
        .unwrap();
    let (_dir, _hub, url, http, key) = hub_on_postgres(&cluster).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = {
        let (url, key, stop) = (url.clone(), key.clone(), stop.clone());
        tokio::spawn(async move { write_until(&url, &key, 0, 100_000, Some(stop)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    cluster.kill().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    cluster.start_again().await.unwrap();
    // Writes go on until a round after the restart has succeeded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let probe = write_concurrently(&url, &key, 500_000, 1).await;
        if probe.refusals.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "writes still refused a minute after PostgreSQL came back: {:?}",
            probe.refusals
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let ledger = writers.await.unwrap();

    assert!(!ledger.refusals.is_empty(), "the outage refused nothing");
    for (status, code, retry_after) in &ledger.refusals {
        assert_eq!(
            (*status, code.as_str(), *retry_after),
            (503, "storage-unavailable", true),
            "a write refused during the outage"
        );
    }
    let h = held(&http, &url, &key).await;
    ledger.assert_acknowledged_held(&h);
}

/// A real I/O error: the hub runs with a file-size limit (`ulimit -f`, `SIGXFSZ` ignored), so
/// once its database files reach it every write SQLite makes fails with `EFBIG`, which SQLite
/// reports as `SQLITE_IOERR_WRITE`. Writes are then answered `503 storage-unavailable` with
/// `Retry-After`, never 2xx; when the limit is lifted (`prlimit` on the running process) writes
/// succeed again without a restart; after a kill -9 every 2xx is there and no refused write is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_io_error_is_answered_503_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // 4,096 blocks of 512 bytes: 2 MiB per file.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -S -f 4096 && exec \"$0\" serve --listen 127.0.0.1:0 --data-dir \"$1\"")
        .arg(env!("CARGO_BIN_EXE_fastcomments"))
        .arg(&data);
    let (mut child, url) = serve_support::spawn_hub(&mut command, ADMIN, "off").await;
    let pid = child.id().unwrap();
    let http = reqwest::Client::new();
    let key = tenant_with_plugin(&http, &url).await;

    // Write until the files reach the limit and writes are refused.
    let mut all = Ledger::default();
    let mut round = 0;
    while all.refusals.is_empty() {
        assert!(round < 200, "the file-size limit was never reached");
        all.absorb(write_concurrently(&url, &key, round * 10, 1).await);
        round += 1;
    }
    let refused = write_concurrently(&url, &key, 5_000, 2).await;
    assert!(
        refused.comments.is_empty(),
        "a write was acknowledged past the limit"
    );
    for (status, code, retry_after) in all.refusals.iter().chain(&refused.refusals) {
        assert_eq!(
            (*status, code.as_str(), *retry_after),
            (503, "storage-unavailable", true)
        );
    }
    all.absorb(refused);
    // Not ready while the hub's writes cannot commit, and it says why.
    let (status, body) = get_json(&http, &format!("{url}/readyz"), "").await;
    assert_eq!(status, 503, "/readyz past the file-size limit: {body}");
    assert!(
        body["reason"].as_str().unwrap_or("").contains("io-error"),
        "{body}"
    );
    assert!(storage_failures(&http, &url, "io-error").await > 0);

    // The limit is lifted on the running process: writes succeed again, no restart.
    let lifted = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--fsize=unlimited:unlimited"])
        .status()
        .unwrap();
    assert!(lifted.success(), "prlimit failed");
    let after = write_concurrently(&url, &key, 9_000, 2).await;
    assert!(after.refusals.is_empty(), "{:?}", after.refusals);
    all.absorb(after);
    let (status, body) = get_json(&http, &format!("{url}/readyz"), "").await;
    assert_eq!(status, 200, "/readyz once the limit is lifted: {body}");

    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let (_hub, url) = start_hub(&data).await;
    let h = held(&http, &url, &key).await;
    all.assert_held_exactly(&h);
}

/// PostgreSQL whose disk fills up under writes of every kind: its whole data directory, tables
/// and WAL, on a small tmpfs that a ballast file fills. PostgreSQL meets a full disk in three
/// ways, and the test makes each happen:
/// 1. a table or index that must grow fails its statement with `53100 disk_full` ("could not
///    extend file") and the transaction rolls back: `507`;
/// 2. WAL that needs a new segment file cannot be written: the server PANICs, and its crash
///    recovery, which must write WAL too, fails, so the server stops: `503` for what was cut
///    off, and writes succeed again once space is back and the server is started;
/// 3. a new connection cannot write its relation-cache init file (which a crash restart
///    removes) and ends with `FATAL: could not write init file` (SQLSTATE `XX000`): `503`,
///    not the `500` it was before.
///
/// Throughout: every refusal is `507 insufficient-storage` or `503 storage-unavailable` with
/// `Retry-After`; a write answered `507` is not there afterwards; every write answered 2xx is
/// there afterwards, also after the server is then killed and recovers from its WAL. A 2xx
/// while the disk is full is allowed (PostgreSQL commits a write that fits in the pages and WAL
/// segment it has, durably); the test counts them. A `503` may be there or not: a commit cut
/// off by the crash has an unknown outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_out_of_disk_loses_no_acknowledged_write() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let disk = Arc::new(testkit::SmallDisk::mount(128).unwrap());
    let pgdata = disk.path().join("pgdata");
    let cluster = testkit::PgCluster::start_with(testkit::PgOptions {
        data_dir: Some(pgdata.clone()),
        // Old WAL segments are removed, not kept for reuse: a new one needs space.
        settings: vec![("wal_recycle".into(), "off".into())],
        ..testkit::PgOptions::durable()
    })
    .await
    .unwrap();
    let (_dir, _hub, url, http, key) = hub_on_postgres(&cluster).await;
    let fill = || {
        let disk = disk.clone();
        async move {
            tokio::task::spawn_blocking(move || disk.fill())
                .await
                .unwrap()
                .unwrap()
        }
    };
    // Writes until a round of them is all 2xx (after space came back).
    let until_clean = |first: usize| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut all = Ledger::default();
            for round in 0.. {
                let r = write_concurrently(&url, &key, first + round, 1).await;
                let clean = r.refusals.is_empty();
                all.absorb(r);
                if clean {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "writes still refused a minute after space came back: {:?}",
                    all.refusals
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            all
        }
    };
    let mut all = Ledger::default();

    let before = write_concurrently(&url, &key, 0, 5).await;
    assert!(before.refusals.is_empty(), "{:?}", before.refusals);
    all.absorb(before);

    // 1. The disk fills up; writes go on until they are refused, then three rounds more. A
    //    connection made now, for step 2: a new one cannot be made on a full disk.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.url())
        .await
        .unwrap();
    let ballast = fill().await;
    let mut full = Ledger::default();
    let (mut rounds, mut after_refusal, mut acked_while_full) = (0, 0, 0);
    while after_refusal < 3 {
        assert!(rounds < 400, "no write refused after {rounds} rounds");
        let seen = !full.refusals.is_empty();
        let r = write_concurrently(&url, &key, 10_000_000 + rounds, 1).await;
        if seen {
            after_refusal += 1;
            acked_while_full += 16 - r.refusals.len();
        }
        full.absorb(r);
        rounds += 1;
    }
    let extend_507 = full.refusals.iter().filter(|r| r.0 == 507).count();
    assert!(extend_507 > 0, "no 507 on a full disk: {:?}", full.refusals);
    // While tables cannot grow, the hub is not ready, and says why: the disk is full (or,
    // should the probe's own WAL record have been the one that needed a new segment, that
    // the server is gone).
    let (status, body) = get_json(&http, &format!("{url}/readyz"), "").await;
    assert_eq!(status, 503, "/readyz on a full disk: {body}");
    let reason = body["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("disk is full") || reason.contains("unreachable"),
        "{body}"
    );
    eprintln!(
        "1. full disk (ballast {ballast} B): {rounds} rounds, {} refused ({extend_507} 507), \
         {acked_while_full} of {} acknowledged after the first refusal, at {:?}",
        full.refusals.len(),
        16 * after_refusal,
        started.elapsed()
    );
    all.absorb(full);

    // 2. The WAL cannot grow either: after a switch to a new segment, the next WAL write needs
    //    a new file. Writers keep going; the admin connection's commit makes sure a WAL write
    //    comes. The server PANICs, its recovery fails, it stops.
    let stop = Arc::new(AtomicBool::new(false));
    let writers = {
        let (url, key, stop) = (url.clone(), key.clone(), stop.clone());
        tokio::spawn(async move { write_until(&url, &key, 20_000_000, 100_000, Some(stop)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server may be gone already: any WAL write since step 1 (the `/readyz` probe's
    // among them) may have been the one that needed a new segment. Then the switch finds the
    // connection closed, and the PANIC below is already in the log.
    if sqlx::query("SELECT pg_switch_wal()")
        .execute(&mut admin)
        .await
        .is_ok()
    {
        let _ = sqlx::query("SELECT txid_current()")
            .execute(&mut admin)
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.is_running() {
        assert!(
            Instant::now() < deadline,
            "the server did not stop on a full WAL disk; its log:\n{}",
            cluster.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        cluster.log().contains("PANIC"),
        "no PANIC; server log:\n{}",
        cluster.log()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    disk.free().unwrap();
    cluster.start_again().await.unwrap();
    let recovered = until_clean(25_000_000).await;
    stop.store(true, Ordering::SeqCst);
    let crash = writers.await.unwrap();
    eprintln!(
        "2. WAL full, PANIC, stopped, started: {} refused ({} 507, {} 503), {} comments \
         acknowledged meanwhile; {} refused before a clean round, at {:?}",
        crash.refusals.len(),
        crash.refusals.iter().filter(|r| r.0 == 507).count(),
        crash.refusals.iter().filter(|r| r.0 == 503).count(),
        crash.comments.len(),
        recovered.refusals.len(),
        started.elapsed()
    );
    all.absorb(crash);
    all.absorb(recovered);

    // 3. New connections on a full disk. A crash restart removes the relation-cache init files
    //    (`pg_internal.init`); removing them here, filling the disk again (they gave some back)
    //    and ending the hub's connections puts the hub where it is when the server restarted
    //    on a full disk: every write needs a new connection, which cannot be made.
    for db in std::fs::read_dir(pgdata.join("base")).unwrap() {
        let init = db.unwrap().path().join("pg_internal.init");
        if init.exists() {
            std::fs::remove_file(init).unwrap();
        }
    }
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.url())
        .await
        .unwrap();
    fill().await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'durability'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ended.is_empty(), "the hub had no connection to end");
    let fresh = write_concurrently(&url, &key, 30_000_000, 2).await;
    assert!(
        !fresh.refusals.is_empty(),
        "a new connection was made on a full disk"
    );
    eprintln!(
        "3. new connections on a full disk: {} refused ({} 503), at {:?}",
        fresh.refusals.len(),
        fresh.refusals.iter().filter(|r| r.0 == 503).count(),
        started.elapsed()
    );
    all.absorb(fresh);
    disk.free().unwrap();
    all.absorb(until_clean(35_000_000).await);
    let last = write_concurrently(&url, &key, 40_000_000, 2).await;
    assert!(last.refusals.is_empty(), "{:?}", last.refusals);
    all.absorb(last);
    // Space is back: ready again, without a restart of the hub.
    let (status, body) = get_json(&http, &format!("{url}/readyz"), "").await;
    assert_eq!(status, 200, "/readyz once space is back: {body}");

    for (status, code, retry_after) in &all.refusals {
        assert!(
            matches!(
                (*status, code.as_str()),
                (507, "insufficient-storage") | (503, "storage-unavailable")
            ) && *retry_after,
            "a write refused: {status} {code} (Retry-After: {retry_after})"
        );
    }

    // The server is killed and recovers from its WAL: what was acknowledged is there, and
    // what was answered 507 is not.
    cluster.kill().await.unwrap();
    cluster.start_again().await.unwrap();
    let h = held(&http, &url, &key).await;
    all.assert_acknowledged_held(&h);
    for k in &all.insufficient {
        let there = h.exts.contains(k) || h.tokens.contains(k) || h.configs.contains(k);
        assert!(!there, "{k} was answered 507 but is stored");
    }
    let acked = all.comments.len()
        + all.uploads.iter().filter(|u| u.1).count() / 5
        + all.tokens.iter().filter(|t| t.1).count()
        + all.configs.iter().filter(|c| c.1).count();
    eprintln!(
        "in all: {acked} writes acknowledged and present, {} refused ({} 507, {} 503), {} \
         answered 507 checked absent, {:?}",
        all.refusals.len(),
        all.refusals.iter().filter(|r| r.0 == 507).count(),
        all.refusals.iter().filter(|r| r.0 == 503).count(),
        all.insufficient.len(),
        started.elapsed()
    );
}
