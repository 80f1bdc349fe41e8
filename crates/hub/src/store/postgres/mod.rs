//! The backend for several hub nodes: one PostgreSQL database that any number of `serve`
//! processes share.
//!
//! What makes several nodes safe, by concern:
//! - positions ([`timeline`]): a writing transaction takes its tenant's clock row with one
//!   `UPDATE … RETURNING` (`max(now, last + 1)`) and holds it until it commits, so one tenant's
//!   appends commit in position order whichever node makes them;
//! - documents ([`comments`], [`apply`], [`upload`]): read-modify-write of a comment locks its
//!   row (`FOR UPDATE`); every timeline entry carries its own payload (the comment as of the
//!   event), so no later write can change an earlier event;
//! - deliveries ([`webhooks`]): claimed with `FOR UPDATE SKIP LOCKED` and a lease, so no two
//!   live nodes send one at once and a killed node's claims come back when their lease ends;
//! - caches ([`notify`]): every commit that other nodes must hear is announced with
//!   `pg_notify`, which PostgreSQL delivers at commit, to a listener on each node.
//!
//! Schema changes are migrations applied on start ([`migrate`]), under sqlx's advisory lock, so
//! nodes starting together apply each once.

use super::*;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;
use std::time::Duration;
use tokio::sync::broadcast;

mod comments;
mod dialect;
mod liveness;
mod migrate;
mod notify;
mod retention;
mod timeline;
mod tokens;
mod upload;
mod webhooks;
/// Statements whose plans the cost tests (`tests/it/claim_costs.rs`) and the nodes bench
/// (`crates/cli/benches/nodes_delivery.rs`) look at: a recover's copies, the retention's
/// prune, the claim.
#[doc(hidden)]
pub use dialect::COPIES_SQL;
#[doc(hidden)]
pub use retention::prune_sql;
#[doc(hidden)]
pub use webhooks::CLAIM_SQL;

// The queries both backends run alike: one source, compiled here against this backend's
// `dialect` (and in the other backend against its own; see `portable/mod.rs`).
#[path = "../portable/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose, against each one's own types"
)]
mod portable;
// What this backend's own files call: `apply_in` (a change inside a transaction they
// opened), `note_health` (when attempts are recorded) and the outbox (uploads).
use portable::outbox::{enqueue_webhooks, load_webhook_targets};
use portable::{apply, subscriptions};

use notify::*;

/// How many times a write is run again after the database gave it up for a concurrent one.
const CONTENTION_RETRIES: usize = 8;

/// How long a statement waits for a connection when `serve` is not told
/// (`--store-timeout-ms`).
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the first connection at start-up may take before the hub gives up and says so.
const FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Connections whose commits do not wait for the log's flush, for the dispatcher's
    /// claims and attempt records only.
    bookkeeping: PgPool,
    notices: broadcast::Sender<Notice>,
    /// This process's name in delivery claims.
    node: String,
    /// How many full-disk faults this process had met when a probe last wrote (see
    /// `dialect::write_fault`).
    full_probed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether the server still answers, asked when a call waits long (`liveness.rs`).
    liveness: std::sync::Arc<liveness::Liveness>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`), applies the migrations this database lacks and
    /// starts listening for other nodes' notices.
    pub async fn connect(url: &str) -> StoreResult<PostgresStore> {
        Self::connect_within(url, DEFAULT_STORE_TIMEOUT).await
    }

    /// [`PostgresStore::connect`], with `timeout` as the longest a statement waits for a
    /// connection of the pool. While the server is gone (killed, restarting, out of reach) a
    /// request is answered `503` with `Retry-After` after at most that, instead of piling up
    /// behind a pool that keeps trying to connect; the notice listener and the dispatcher try
    /// again at the same pace, so everything resumes within about `timeout` of its return.
    pub async fn connect_within(url: &str, timeout: Duration) -> StoreResult<PostgresStore> {
        // One connection first, with a short limit: the pool retries a refused or silent
        // server for its whole acquire timeout without a word, and a user who mistyped the
        // host should hear so in seconds, told where the hub tried (without the password).
        let shown = crate::redact::url(url);
        let cannot = |why: String| {
            StoreError::database(format!("cannot connect to PostgreSQL at {shown}: {why}"))
        };
        match tokio::time::timeout(FIRST_CONNECT_TIMEOUT, PgConnection::connect(url)).await {
            Err(_) => {
                return Err(cannot(format!(
                    "no answer within {} s",
                    FIRST_CONNECT_TIMEOUT.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(cannot(e.to_string())),
            Ok(Ok(first)) => {
                let _ = first.close().await;
            }
        }
        // No JIT: every statement of the hub is a short one, and a plan whose estimate crosses
        // the JIT's threshold on a large outbox or timeline spends 100 ms and more compiling
        // what runs in a few (the claim did, before it was planned with its values).
        // Each session also names its node, so the notices it sends say who sent them.
        let node = format!("{}-{}", std::process::id(), crate::ids::object_id());
        let options = url
            .parse::<PgConnectOptions>()
            .map_err(|e| cannot(e.to_string()))?
            .options([("jit", "off"), (notify::NODE_SETTING, node.as_str())]);
        let liveness = std::sync::Arc::new(liveness::Liveness::new(options.clone(), timeout));
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(timeout)
            .connect_with(options.clone())
            .await
            .map_err(|e| cannot(e.to_string()))?;
        // The dispatcher's bookkeeping (see `webhooks.rs`) commits without waiting for the
        // log's flush: sessions of their own, so no API write ever runs with that setting.
        // Their statements are prepared once per session and planned with their values at
        // every call, never from a cached generic plan (the claim's, `webhooks.rs`).
        // No ping when one is taken (sqlx pings at every acquire and again at every
        // release): a claim waited for that round trip before its statement went out, and a
        // connection that broke while idle still fails its ping at release and is dropped,
        // so a dead one costs the dispatcher one failed call and its back-off, nothing more.
        let bookkeeping = PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .test_before_acquire(false)
            .acquire_timeout(timeout)
            .connect_lazy_with(options.options([
                ("synchronous_commit", "off"),
                ("plan_cache_mode", "force_custom_plan"),
            ]));
        migrate::run(&pool).await?;
        let (notices, _) = broadcast::channel(4096);
        spawn_listener(pool.clone(), notices.clone(), node.clone()).await?;
        Ok(PostgresStore {
            full_probed: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(full_faults())),
            liveness,
            pool,
            bookkeeping,
            notices,
            node,
        })
    }

    /// A setting as the dispatcher's sessions see it (for the tests).
    #[doc(hidden)]
    pub async fn bookkeeping_setting(&self, name: &str) -> StoreResult<String> {
        let (value,): (String,) = sqlx::query_as("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(&self.bookkeeping)
            .await?;
        Ok(value)
    }

    /// Closes the pool (waits for in-flight statements).
    pub async fn close(&self) {
        self.bookkeeping.close().await;
        self.pool.close().await;
    }

    /// Runs `work` again while the database gives it up for a concurrent transaction.
    async fn retrying<T, F, Fut>(&self, what: &str, mut work: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>>,
    {
        let mut tries = 0;
        loop {
            match work().await {
                Err(StoreError::Contended(e)) if tries < CONTENTION_RETRIES => {
                    tries += 1;
                    tracing::debug!(what, tries, error = %e, "write contended; running it again");
                    // A little spread so the contenders do not meet again at once.
                    let jitter = u64::from(getrandom_u8()) % 8;
                    tokio::time::sleep(Duration::from_millis(tries as u64 * 2 + jitter)).await;
                }
                other => return other,
            }
        }
    }
}

/// One random byte (retry jitter).
fn getrandom_u8() -> u8 {
    let mut b = [0u8; 1];
    let _ = getrandom::getrandom(&mut b);
    b[0]
}
