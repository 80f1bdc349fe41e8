//! The embedded default backend: one SQLite file in WAL mode, one writer connection (SQLite
//! allows one writer at a time anyway; a single connection makes that explicit and keeps
//! write transactions from waiting on locks) and a pool of readers.

use super::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

mod comments;
mod dialect;
#[cfg(test)]
mod fault_vfs;
mod handle;
mod lock;
mod migrate;
mod retention;
#[cfg(test)]
mod tests;
mod timeline;
mod upload;
mod webhooks;
mod writer;

// The queries both backends run alike: one source, compiled here against this backend's
// `dialect` (and in the other backend against its own; see `portable/mod.rs`).
#[path = "../portable/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose, against each one's own types"
)]
mod portable;
// What this backend's own files call: `apply_in` (a change inside a transaction they
// opened), `note_health` (when attempts are recorded), the outbox and the token's row
// (uploads).
use portable::outbox::{enqueue_webhooks, load_webhook_targets};
use portable::pages::ensure_pages;
use portable::timeline_log::reserve_positions;
use portable::{apply, subscriptions, tokens};

use apply::*;
use comments::*;
use handle::*;
use migrate::*;
use timeline::*;
use tokens::*;
use upload::*;
use writer::*;

/// Most bound values one statement carries (SQLite allows 32,766).
const MAX_PARAMS: usize = 30_000;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    writes: mpsc::Sender<PendingWrite>,
    /// Whether the writer's last group committed.
    health: WriteHealth,
    /// The database file (`None` for an in-memory database).
    path: Option<PathBuf>,
    /// The open lock file while this store is claimed for serving (see
    /// [`Store::claim_for_serving`]); the OS releases the lock when the process ends.
    serving_lock: Arc<parking_lot::Mutex<Option<std::fs::File>>>,
}

fn writer_stopped() -> StoreError {
    StoreError::database("the SQLite writer has stopped")
}

impl SqliteStore {
    /// Hands a write to the group-commit writer.
    async fn queue_write(&self, write: PendingWrite) -> StoreResult<()> {
        self.writes.send(write).await.map_err(|_| writer_stopped())
    }

    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::database(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        Self::with_options(Self::file_options(path)).await
    }

    /// How [`SqliteStore::open`] opens the file at `path`.
    fn file_options(path: &Path) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false)
    }

    /// Opens a `sqlite://…` URL.
    pub async fn open_url(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::database(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        Self::with_options(options).await
    }

    async fn with_options(options: SqliteConnectOptions) -> StoreResult<SqliteStore> {
        // In-memory databases (and `file:` URIs) get no serving lock.
        let name = options.get_filename();
        let path = (!name.as_os_str().is_empty()
            && name != Path::new(":memory:")
            && !name.to_string_lossy().starts_with("file:"))
        .then(|| name.to_path_buf());
        // The writer gets a 48 MiB page cache, in-memory statement journals and a checkpoint
        // every 65,536 WAL pages (256 MiB) instead of SQLite's 1,000: index leaves that many
        // commits rewrite go back to the database file once per checkpoint, not once per few
        // commits (1M-comment upload, four A/B pairs against 16,384 pages: +3 to +14 %). The
        // WAL file keeps that size on disk, and opening after a crash reads it back. The
        // readers keep SQLite's defaults. The cache is most of the hub's memory: 64 MiB put a
        // 1,000,000-comment import at 151 MB resident against its 150 MB bound, 48 MiB at
        // 132 MB, imported as fast (two A/B pairs) and exported no slower; 32 MiB slowed the
        // exports that follow a large import (BENCHMARKS.md, issue 24).
        let writer_options = options
            .clone()
            .pragma("cache_size", "-49152")
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "65536");
        // A connection an error left inside a transaction is closed, not reused (see
        // `connection_is_clean`): checked when it comes back, which is after every use (a
        // dropped transaction's ROLLBACK runs first), so it is never handed out unchecked.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .after_release(|conn, _| Box::pin(async move { Ok(connection_is_clean(conn).await) }))
            .connect_with(writer_options)
            .await?;
        sqlx::raw_sql(include_str!("schema.sql"))
            .execute(&writer)
            .await?;
        // Columns and indexes added after the first schema: a database made before them gets
        // them here.
        upgrade(&writer).await?;
        for old in [
            "webhook_deliveries_by_comment",
            "webhook_deliveries_by_host",
            "webhook_deliveries_by_subscription",
            "webhook_deliveries_by_target",
            "webhook_deliveries_due",
            "webhook_deliveries_next_due",
            "webhook_deliveries_recover",
        ] {
            sqlx::query(&format!("DROP INDEX IF EXISTS {old}"))
                .execute(&writer)
                .await?;
        }
        sqlx::raw_sql(include_str!("schema_triggers.sql"))
            .execute(&writer)
            .await?;
        run_repairs(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.read_only(true))
            .await?;
        let (writes, queue) = mpsc::channel(4096);
        let health = WriteHealth::default();
        spawn_writer(writer.clone(), health.clone(), queue)?;
        let store = SqliteStore {
            writer,
            reader,
            writes,
            health,
            path,
            serving_lock: Arc::default(),
        };
        // Claims of a hub that crashed would hold its deliveries back for a lease; a running
        // hub (beside a `tenant create`) loses nothing by this: it never hands out what it
        // has in flight (the dispatcher's `exclude`).
        webhooks::release_claims(&store).await?;
        Ok(store)
    }

    /// Closes both pools (waits for in-flight statements).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
