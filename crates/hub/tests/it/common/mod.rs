//! A real hub on 127.0.0.1:0 over a fresh store of the backend asked for (a temporary SQLite
//! file, or a new database of the process's PostgreSQL test cluster), and a real HTTP client.
#![allow(dead_code)]

pub mod client;
pub mod raw_receiver;
pub mod receiver;

use fastcomments_hub::ids::TenantId;
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::store::Store;
use fastcomments_hub::{Clock, HubConfig, ManualClock, RunningHub, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub struct TestHub {
    pub running: RunningHub,
    /// The store the hub runs over (another hub may be started over it).
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    pub base: String,
    pub dir: tempfile::TempDir,
}

pub struct Tenant {
    pub id: TenantId,
    pub key: String,
}

/// Which store a test's hubs run on: the explicit parameter of the backend matrix. `main.rs`
/// includes each store-dependent suite once per backend, in a module whose `BACKEND` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the hub's temporary directory.
    Sqlite,
    /// A new database on the process's PostgreSQL test cluster (started on first use).
    Postgres,
}

impl Backend {
    /// Whether this is PostgreSQL.
    pub fn is_postgres(self) -> bool {
        self == Backend::Postgres
    }
}

impl TestHub {
    pub async fn start(backend: Backend) -> TestHub {
        Self::start_with(backend, admin_config(), Arc::new(SystemClock)).await
    }

    /// A hub on `backend` with `config` and the system's clock.
    pub async fn configured(backend: Backend, config: HubConfig) -> TestHub {
        Self::start_with(backend, config, Arc::new(SystemClock)).await
    }

    pub async fn start_with(backend: Backend, config: HubConfig, clock: Arc<dyn Clock>) -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let store = fresh_store(backend, &dir).await;
        Self::over_store(store, config, clock, dir).await
    }

    /// A hub over a store the caller opened (several hubs may share one); `dir` is kept
    /// alive with it.
    pub async fn over_store(
        store: Arc<dyn Store>,
        config: HubConfig,
        clock: Arc<dyn Clock>,
        dir: tempfile::TempDir,
    ) -> TestHub {
        let running = RunningHub::bind_with_clock(
            "127.0.0.1:0",
            store.clone(),
            clock,
            config,
            std::future::pending(),
        )
        .await
        .unwrap();
        let base = running.url();
        TestHub {
            running,
            store,
            client: reqwest::Client::new(),
            base,
            dir,
        }
    }

    pub async fn with_manual_clock(
        backend: Backend,
        config: HubConfig,
        start_ms: i64,
    ) -> (TestHub, ManualClock) {
        let clock = ManualClock::new(start_ms);
        (
            Self::start_with(backend, config, Arc::new(clock.clone())).await,
            clock,
        )
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("non-JSON answer {status}: {text}"));
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, None).await
    }

    /// `PUT /integrations/v1/token/{token}`, as a plugin registers (or checks) its token.
    pub async fn register_token(&self, token: &str) -> (StatusCode, Value) {
        let path = format!("/integrations/v1/token/{token}");
        self.call(Method::PUT, &path, None, None).await
    }

    /// `POST /integrations/v1/comments?token`, as a plugin uploads a batch.
    pub async fn upload(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/integrations/v1/comments?token={token}");
        self.call(Method::POST, &path, None, Some(body)).await
    }

    /// `PATCH /integrations/v1/comment-ids?token`, as a plugin stores its local ids.
    pub async fn set_comment_ids(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/integrations/v1/comment-ids?token={token}");
        self.call(Method::PATCH, &path, None, Some(body)).await
    }

    /// A hub on `backend` whose webhook deliveries retry after `base_ms × n` up to
    /// `max_attempts` times, allowed to deliver to loopback.
    pub async fn for_webhooks(backend: Backend, base_ms: u64, max_attempts: i64) -> TestHub {
        Self::start_with(
            backend,
            webhook_config(base_ms, max_attempts),
            Arc::new(SystemClock),
        )
        .await
    }

    /// What the hub reads its store through.
    pub fn reads(&self) -> &dyn fastcomments_hub::store::StoreReads {
        self.running.hub.reads()
    }

    /// The answer of `GET path` as it came, for a test that reads its status or headers
    /// before its body (`/openapi.json`, `/metrics`).
    pub async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// The body of `GET path` as text (`/metrics`).
    pub async fn get_text(&self, path: &str) -> String {
        self.get_raw(path).await.text().await.unwrap()
    }

    /// Reads generation B's `/events` from the start to the end, as a plugin does (the next
    /// cursor is the last event's `createdAt`, floored to whole seconds when asked); the
    /// comment ids of every event, in order.
    pub async fn drain_events(&self, token: &str, floor_to_seconds: bool) -> Vec<String> {
        let path =
            |cursor: &str| format!("/integrations/v1/events?token={token}&fromDateTime={cursor}");
        let mut cursor = "0".to_owned();
        let mut got = Vec::new();
        self.page_through(path(&cursor), "generation B never finished", |v| {
            let events = v["events"].as_array().unwrap();
            for e in events {
                let data: Value = serde_json::from_str(e["data"].as_str().unwrap()).unwrap();
                got.push(data["comment"]["_id"].as_str().unwrap().to_owned());
            }
            if let Some(last) = events.last() {
                let ms = fastcomments_protocol::Millis::parse(last["createdAt"].as_str().unwrap())
                    .unwrap()
                    .0;
                cursor = if floor_to_seconds {
                    (ms / 1000).to_string()
                } else {
                    ms.to_string()
                };
            }
            path(&cursor)
        })
        .await;
        got
    }

    /// `GET`s `path`, then the path `next` makes of each answer, until an answer says
    /// `hasMore: false`; after 10,000 pages it panics with `never_ended`.
    async fn page_through(
        &self,
        mut path: String,
        never_ended: &str,
        mut next: impl FnMut(&Value) -> String,
    ) {
        for _ in 0..10_000 {
            let (s, v) = self.get(&path).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            path = next(&v);
            if !v["hasMore"].as_bool().unwrap() {
                return;
            }
        }
        panic!("{never_ended}");
    }

    /// Creates a tenant through the operator API, owning `<name in lower case>.example`.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let domain = format!("{}.example", name.to_lowercase());
        self.tenant_owning(name, &[domain.as_str()]).await
    }

    /// `POST /admin/v1/tenants` with `body`, as the operator: the answer, whatever it is.
    pub async fn create_tenant(&self, body: Value) -> (StatusCode, Value) {
        let res = self
            .client
            .post(format!("{}/admin/v1/tenants", self.base))
            .bearer_auth("admin-secret")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap())
    }

    /// Creates a tenant owning exactly `domains`.
    pub async fn tenant_owning(&self, name: &str, domains: &[&str]) -> Tenant {
        let (s, v) = self
            .create_tenant(json!({"name": name, "domains": domains}))
            .await;
        assert_eq!(s, StatusCode::OK);
        Tenant {
            id: TenantId::from(v["tenantId"].as_str().unwrap()),
            key: v["apiSecret"].as_str().unwrap().to_owned(),
        }
    }

    /// Writes a comment on `domain` through the tenant API; returns the comment.
    pub async fn comment_on(&self, tenant: &Tenant, domain: &str, text: &str) -> Value {
        let (s, v) = self.api(&tenant.key).create_comment(json!({"urlId": "post/1", "url": "https://blog.example/post/1?x=1", "commenterName": "Ана", "comment": text, "domain": domain})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["comment"].clone()
    }

    /// Creates a tenant (as [`TestHub::tenant`]) and connects the plugin token `token` to it
    /// (as [`TestHub::connect`]).
    pub async fn connected_tenant(&self, name: &str, token: &str, skip: bool) -> Tenant {
        let tenant = self.tenant(name).await;
        self.connect(&tenant, token, skip).await;
        tenant
    }

    /// Registers `token` and acknowledges it for `tenant`.
    pub async fn connect(&self, tenant: &Tenant, token: &str, skip: bool) {
        let (s, v) = self.register_token(token).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = self
            .api(&tenant.key)
            .acknowledge(token, Some(json!({"skipInitialSync": skip})))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    pub async fn comment(&self, tenant: &Tenant, url_id: &str, text: &str) -> Value {
        let (s, v) = self
            .api(&tenant.key)
            .create_comment(json!({"urlId": url_id, "commenterName": "Ана", "comment": text}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["comment"].clone()
    }

    /// Reads the whole stream from `cursor` in pages; returns (events, commands, final cursor).
    pub async fn drain_stream(
        &self,
        token: &str,
        mut cursor: i64,
    ) -> (Vec<Value>, Vec<Value>, i64) {
        let path =
            |cursor: i64| format!("/integrations/v1/stream?token={token}&lastFetchDate={cursor}");
        let mut events = Vec::new();
        let mut commands = Vec::new();
        self.page_through(path(cursor), "stream never ended", |v| {
            events.extend(v["events"].as_array().unwrap().iter().cloned());
            commands.extend(v["commands"].as_array().unwrap().iter().cloned());
            let next = v["nextFetchDate"].as_i64().unwrap();
            assert!(next >= cursor, "cursor went back: {cursor} -> {next}");
            cursor = next;
            path(cursor)
        })
        .await;
        (events, commands, cursor)
    }
}

/// Two nodes over one store, the second with warm caches: node A makes a tenant, connects
/// `token` and adds a second API secret; node B then reads the token's (empty) stream and uses
/// the secret, so it caches the token, the tenant's timeline bounds and the secret. A test then
/// changes something on A and checks how soon B stops trusting what it cached. Answers the
/// tenant, the second secret and its id, and where B's stream ended.
pub async fn warm_two_nodes(
    a: &TestHub,
    b: &TestHub,
    token: &str,
) -> (Tenant, String, String, i64) {
    let tenant = a.tenant("Shared").await;
    a.connect(&tenant, token, true).await;
    let (extra_key, extra_id) = a.api(&tenant.key).create_secret_for("shared.example").await;

    let (events, _, cursor) = b.drain_stream(token, 0).await;
    assert!(events.is_empty(), "{events:?}");
    let (s, _) = b.api(&extra_key).webhook_config("").await;
    assert_eq!(s, StatusCode::OK);
    (tenant, extra_key, extra_id, cursor)
}

/// An empty store of `backend`: SQLite in `dir`, or a new PostgreSQL database.
pub async fn fresh_store(backend: Backend, dir: &tempfile::TempDir) -> Arc<dyn Store> {
    if !backend.is_postgres() {
        return Arc::new(SqliteStore::open(&dir.path().join("hub.db")).await.unwrap());
    }
    let url = postgres_database().await;
    Arc::new(
        fastcomments_hub::store::postgres::PostgresStore::connect(&url)
            .await
            .unwrap(),
    )
}

/// A new, empty database on the process's PostgreSQL test cluster (started on first use).
pub async fn postgres_database() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let cluster = testkit::PgCluster::shared().await.unwrap();
    let name = format!("hub_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    cluster.database(&name).await.unwrap()
}

/// Polls `all` every 5 ms until it holds at least `n` items, which it answers; panics after
/// `secs` saying how many of the `n` `what` arrived. The receivers wait for requests with it.
pub async fn wait_for_count<T>(
    n: usize,
    secs: u64,
    what: &str,
    all: impl Fn() -> Vec<T>,
) -> Vec<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let got = all();
        if got.len() >= n {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} {what} arrived",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The configuration of the webhook suites' hubs: retries after `base_ms × n`, at most
/// `max_attempts` attempts.
pub fn webhook_config(base_ms: u64, max_attempts: i64) -> HubConfig {
    HubConfig {
        webhook_retry_base: Duration::from_millis(base_ms),
        webhook_max_attempts: max_attempts,
        // The receivers listen on loopback, as a developer's do (SPEC §2.2).
        webhook_allow_private_targets: true,
        ..admin_config()
    }
}

/// The default configuration with the operator API on (token `admin-secret`), as every test
/// hub runs unless it says otherwise.
pub fn admin_config() -> HubConfig {
    HubConfig {
        admin_token: Some("admin-secret".into()),
        ..HubConfig::default()
    }
}

/// The runtime a property test drives its hub with (proptest's cases are synchronous).
pub fn proptest_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// Asserts an answer (`status`, `body`) is the refusal `want` (a status and an error code);
/// when it is not, the message shows `context` (which case it was) and the body.
#[track_caller]
pub fn assert_refused(
    status: StatusCode,
    body: &Value,
    want: (StatusCode, &str),
    context: impl std::fmt::Display,
) {
    assert_eq!((status, code(body)), want, "{context}: {body}");
}

/// An ISO instant as the epoch milliseconds the tenant API writes.
pub fn iso_ms(iso: &str) -> Value {
    json!(fastcomments_protocol::Millis::parse(iso).unwrap().0)
}

/// The elements of the array `v` (a list in an answer, such as `v["deliveries"]`); panics when
/// it is not an array.
#[track_caller]
pub fn items(v: &Value) -> std::slice::Iter<'_, Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
}
