//! The embedded default backend: one SQLite file in WAL mode, one writer connection (SQLite
//! allows one writer at a time anyway; a single connection makes that explicit and keeps
//! write transactions from waiting on locks) and a pool of readers.

use super::*;
use crate::clock::next_position;
use crate::domain;
use crate::ids;
use fastcomments_protocol::{HttpMethod, Millis, WebhookEventKind};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most bound values one statement carries (SQLite allows 32,766).
const MAX_PARAMS: usize = 30_000;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    writes: mpsc::Sender<PendingWrite>,
    /// The database file (`None` for an in-memory database).
    path: Option<PathBuf>,
    /// The open lock file while this store is claimed for serving (see
    /// [`Store::claim_for_serving`]); the OS releases the lock when the process ends.
    serving_lock: Arc<parking_lot::Mutex<Option<std::fs::File>>>,
}

/// `ALTER TABLE … ADD COLUMN` unless the table has the column already.
async fn add_column_if_missing(
    pool: &SqlitePool,
    table: &'static str,
    column: &'static str,
    decl: &'static str,
) -> StoreResult<()> {
    let columns: Vec<String> =
        sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(pool)
            .await?;
    if !columns.iter().any(|c| c == column) {
        sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
            .execute(pool)
            .await?;
    }
    Ok(())
}

fn writer_stopped() -> StoreError {
    StoreError::Database("the SQLite writer has stopped".into())
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
                    StoreError::Database(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        Self::with_options(options).await
    }

    /// Opens a `sqlite://…` URL.
    pub async fn open_url(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("bad SQLite URL {url:?}: {e}")))?
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
        // The writer gets a 64 MiB page cache, in-memory statement journals and a checkpoint
        // every 65,536 WAL pages (256 MiB) instead of SQLite's 1,000: index leaves that many
        // commits rewrite go back to the database file once per checkpoint, not once per few
        // commits (1M-comment upload, four A/B pairs against 16,384 pages: +3 to +14 %). The
        // WAL file keeps that size on disk, and opening after a crash reads it back. The
        // readers keep SQLite's defaults.
        let writer_options = options
            .clone()
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "65536");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(writer_options)
            .await?;
        sqlx::raw_sql(include_str!("schema_sqlite.sql"))
            .execute(&writer)
            .await?;
        // Columns added after the first schema: a database made before them gets them here.
        add_column_if_missing(&writer, "comments", "event_pos", "INTEGER").await?;
        add_column_if_missing(&writer, "timeline", "doc_ref", "TEXT").await?;
        add_column_if_missing(
            &writer,
            "webhook_deliveries",
            "target_host",
            "TEXT NOT NULL DEFAULT ''",
        )
        .await?;
        // After the column exists in old databases too: the outbox query walks pending
        // deliveries host by host through it.
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_host ON webhook_deliveries \
             (target_host, next_attempt_at, position) WHERE status IN ('queued', 'retrying')",
        )
        .execute(&writer)
        .await?;
        sqlx::raw_sql(include_str!("schema_sqlite_triggers.sql"))
            .execute(&writer)
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.read_only(true))
            .await?;
        let (writes, queue) = mpsc::channel(4096);
        spawn_writer(writer.clone(), queue)?;
        Ok(SqliteStore {
            writer,
            reader,
            writes,
            path,
            serving_lock: Arc::default(),
        })
    }

    /// Closes both pools (waits for in-flight statements).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

// ---------- row mapping ----------

fn tenant_from_row(row: &SqliteRow) -> StoreResult<Tenant> {
    let domains: String = row.try_get("domains")?;
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        domains: serde_json::from_str(&domains)?,
        created_at: row.try_get("created_at")?,
    })
}

fn secret_from_row(row: &SqliteRow) -> StoreResult<ApiSecret> {
    Ok(ApiSecret {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        domain: row.try_get("domain")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get("created_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> StoreResult<TokenRecord> {
    let state: String = row.try_get("state")?;
    Ok(TokenRecord {
        token: row.try_get("token")?,
        tenant_id: row.try_get("tenant_id")?,
        state: TokenState::parse(&state)
            .ok_or_else(|| StoreError::Database(format!("unknown token state {state:?}")))?,
        integration_type: row.try_get("integration_type")?,
        domain: row.try_get("domain")?,
        skip_requested: row.try_get("skip_requested")?,
        created_at: row.try_get("created_at")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        upload_received: row.try_get("upload_received")?,
        upload_finished: row.try_get("upload_finished")?,
        batch_size: row.try_get("batch_size")?,
        setup_completed_at: row.try_get("setup_completed_at")?,
    })
}

fn comment_from_row(row: &SqliteRow) -> StoreResult<Comment> {
    let doc: String = row.try_get("doc")?;
    Ok(serde_json::from_str(&doc)?)
}

fn vote_from_row(row: &SqliteRow) -> StoreResult<Vote> {
    let doc: String = row.try_get("doc")?;
    Ok(serde_json::from_str(&doc)?)
}

fn entry_from_row(row: &SqliteRow) -> StoreResult<TimelineEntry> {
    let kind: String = row.try_get("kind")?;
    Ok(TimelineEntry {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::Database(format!("unknown entry kind {kind:?}")))?,
        url_id: row.try_get("url_id")?,
        payload: row.try_get("payload")?,
    })
}

// ---------- helpers used inside write transactions ----------

/// Appends entries to a tenant's timeline at strictly increasing positions.
async fn append_entries(
    conn: &mut SqliteConnection,
    tenant: &str,
    entries: Vec<NewEntry>,
    now_ms: i64,
) -> StoreResult<Vec<TimelineEntry>> {
    let positions = reserve_positions(conn, tenant, entries.len(), now_ms).await?;
    let rows: Vec<EntryRow> = entries
        .into_iter()
        .zip(positions)
        .map(|(entry, position)| EntryRow {
            position,
            entry,
            doc_of: None,
        })
        .collect();
    insert_entries(conn, tenant, rows).await
}

/// Hands out the next `count` positions of a tenant's clock (strictly increasing, never
/// behind `now_ms`'s past positions) and moves the clock past them.
async fn reserve_positions(
    conn: &mut SqliteConnection,
    tenant: &str,
    count: usize,
    now_ms: i64,
) -> StoreResult<Vec<i64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let last: Option<i64> =
        sqlx::query_scalar("SELECT last_ms FROM tenant_clock WHERE tenant_id = ?")
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?;
    let mut position = last.unwrap_or(0);
    let mut positions = Vec::with_capacity(count);
    for _ in 0..count {
        position = next_position(now_ms, position);
        positions.push(position);
    }
    sqlx::query(
        "INSERT INTO tenant_clock (tenant_id, last_ms) VALUES (?, ?) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_ms = excluded.last_ms",
    )
    .bind(tenant)
    .bind(position)
    .execute(&mut *conn)
    .await?;
    Ok(positions)
}

/// A timeline entry about to be written at a reserved position.
struct EntryRow {
    position: i64,
    entry: NewEntry,
    /// The entry's payload is this comment's stored document, written in the same
    /// transaction with `event_pos` = `position`: the entry stores no copy of it (`doc_ref`)
    /// until the document changes (the `comments_event_payload_*` triggers copy it then).
    doc_of: Option<String>,
}

/// Writes entries at their reserved positions.
async fn insert_entries(
    conn: &mut SqliteConnection,
    tenant: &str,
    rows: Vec<EntryRow>,
) -> StoreResult<Vec<TimelineEntry>> {
    let ids: Vec<String> = rows.iter().map(|_| ids::object_id()).collect();
    on_own_handle(conn, |db| write_entry_rows(db, tenant, &rows, &ids)).await?;
    Ok(stored_entries(rows, ids))
}

/// What [`insert_entries`] reports: the entries with their ids.
fn stored_entries(rows: Vec<EntryRow>, ids: Vec<String>) -> Vec<TimelineEntry> {
    rows.into_iter()
        .zip(ids)
        .map(|(r, id)| TimelineEntry {
            id,
            created_at: r.position,
            kind: r.entry.kind,
            url_id: r.entry.url_id,
            payload: r.entry.payload,
        })
        .collect()
}

impl EntryRow {
    /// The payload stored in the entry itself (none when it refers to a comment's document).
    fn own_payload(&self) -> Option<&str> {
        match self.doc_of {
            Some(_) => None,
            None => self.entry.payload.as_deref(),
        }
    }
}

/// Runs `work` with a `rusqlite` connection on `conn`'s own SQLite handle, inside whatever
/// transaction `conn` has open, while sqlx's worker thread is locked out of the handle. For the
/// upload path's many small statements: prepared once, values bound straight from Rust data,
/// no message to the worker per statement. `work` must not commit or roll back.
#[allow(unsafe_code)] // the crate's one unsafe call: see SAFETY below
async fn on_own_handle<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    // SAFETY: `raw` is the connection's handle, locked away from sqlx's worker by `handle` for
    // as long as `db` lives (it is dropped before `handle`). `db` does not own the handle:
    // dropping it finalizes its own statements and leaves the handle open, inside the
    // transaction.
    let db = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }?;
    let result = work(&db);
    drop(db);
    drop(handle);
    result
}

/// What [`lookup_by_external`] found: stored comments, and (plugin id, hub id) of parents.
type ExternalLookup = (Vec<Existing>, Vec<(String, String)>);

/// Looks an upload batch's plugin ids up: the stored comments that have one of `targets`
/// (documents, to merge over), and the hub ids of those that have one of `parents` (only to
/// link to). One prepared single-key lookup each.
fn lookup_by_external(
    db: &rusqlite::Connection,
    tenant: &str,
    targets: &[&str],
    parents: &[&str],
) -> StoreResult<ExternalLookup> {
    let mut found = Vec::new();
    let mut by_doc = db.prepare(
        "SELECT doc, upload_token FROM comments WHERE tenant_id = ?1 AND external_id = ?2",
    )?;
    for key in targets {
        let mut rows = by_doc.query(rusqlite::params![tenant, key])?;
        if let Some(row) = rows.next()? {
            let doc: String = row.get(0)?;
            found.push(Existing::stored(&doc, row.get(1)?)?);
        }
    }
    let mut ids = Vec::new();
    let mut by_id =
        db.prepare("SELECT id FROM comments WHERE tenant_id = ?1 AND external_id = ?2")?;
    for key in parents {
        let mut rows = by_id.query(rusqlite::params![tenant, key])?;
        if let Some(row) = rows.next()? {
            ids.push(((*key).to_owned(), row.get(0)?));
        }
    }
    Ok((found, ids))
}

/// Writes comment rows on a connection's own handle (see [`on_own_handle`]): one prepared
/// single-row statement, values bound straight from the rows. A multi-row statement on a page
/// that the transaction already changed makes SQLite copy that page into a statement journal
/// first (it must be able to undo just that statement); single-row statements need none. New
/// comments are plain inserts; the others (updates, linked children, API writes) are upserts.
fn write_comment_rows(db: &rusqlite::Connection, rows: &[CommentRow<'_>]) -> StoreResult<()> {
    let values = "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    let mut insert = db.prepare(&format!("{COMMENT_COLUMNS}{values}"))?;
    let mut upsert = db.prepare(&format!("{COMMENT_COLUMNS}{values}{COMMENT_UPSERT}"))?;
    for r in rows {
        let c = r.comment;
        let statement = if r.is_new { &mut insert } else { &mut upsert };
        statement.execute(rusqlite::params![
            c.id,
            c.tenant_id,
            c.url_id,
            c.parent_id,
            c.external_id,
            c.external_parent_id,
            c.date.0,
            r.upload_token,
            r.doc,
            r.event_pos,
        ])?;
    }
    Ok(())
}

/// Writes timeline rows, with their ids, on a connection's own handle, as
/// [`write_comment_rows`] does.
fn write_entry_rows(
    db: &rusqlite::Connection,
    tenant: &str,
    entries: &[EntryRow],
    entry_ids: &[String],
) -> StoreResult<()> {
    let mut timeline = db.prepare(&format!(
        "{TIMELINE_COLUMNS}VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    for (r, id) in entries.iter().zip(entry_ids) {
        let e = &r.entry;
        timeline.execute(rusqlite::params![
            tenant,
            r.position,
            id,
            e.kind.as_str(),
            e.url_id,
            e.origin_token,
            e.only_token,
            r.own_payload(),
            r.doc_of,
        ])?;
    }
    Ok(())
}

async fn load_comment(
    conn: &mut SqliteConnection,
    tenant: &str,
    id: &str,
) -> StoreResult<Option<Comment>> {
    let row = sqlx::query("SELECT doc FROM comments WHERE tenant_id = ? AND id = ?")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(comment_from_row).transpose()
}

/// A stored comment with the token that last uploaded it.
struct Existing {
    comment: Comment,
    upload_token: Option<String>,
}

impl Existing {
    /// From a row's `doc` and `upload_token`.
    fn stored(doc: &str, upload_token: Option<String>) -> StoreResult<Existing> {
        Ok(Existing {
            comment: serde_json::from_str(doc)?,
            upload_token,
        })
    }
}

/// Writes comments (insert or replace by id), keeping the lookup columns in step with `doc`.
async fn upsert_comments(
    conn: &mut SqliteConnection,
    rows: &[(&Comment, Option<&str>)],
) -> StoreResult<()> {
    let mut with_docs = Vec::with_capacity(rows.len());
    for (c, token) in rows {
        with_docs.push(CommentRow {
            comment: c,
            upload_token: *token,
            doc: serde_json::to_string(c)?,
            event_pos: None,
            is_new: false,
        });
    }
    upsert_comment_docs(conn, &with_docs).await
}

/// The columns of a comment row, in the order [`CommentRow`]s are bound.
const COMMENT_COLUMNS: &str = "INSERT INTO comments (id, tenant_id, url_id, parent_id, external_id, external_parent_id, date_ms, upload_token, doc, event_pos) ";
/// What an upsert of a comment row changes when the id exists.
const COMMENT_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET url_id = excluded.url_id, parent_id = excluded.parent_id, \
     external_id = excluded.external_id, external_parent_id = excluded.external_parent_id, \
     date_ms = excluded.date_ms, upload_token = COALESCE(excluded.upload_token, comments.upload_token), \
     doc = excluded.doc, event_pos = excluded.event_pos";
/// The columns of a timeline row, in the order [`EntryRow`]s are bound.
const TIMELINE_COLUMNS: &str = "INSERT INTO timeline (tenant_id, created_at, id, kind, url_id, origin_token, only_token, payload, doc_ref) ";

/// A comment about to be written, with its JSON made.
struct CommentRow<'a> {
    comment: &'a Comment,
    upload_token: Option<&'a str>,
    doc: String,
    /// The position of the timeline entry written with it whose payload is `doc` by
    /// reference (see [`EntryRow::doc_of`]); `None` when no entry refers to this version.
    event_pos: Option<i64>,
    /// Not stored yet (a plain insert will do).
    is_new: bool,
}

/// As [`upsert_comments`], with each comment's JSON already made.
async fn upsert_comment_docs(
    conn: &mut SqliteConnection,
    rows: &[CommentRow<'_>],
) -> StoreResult<()> {
    on_own_handle(conn, |db| write_comment_rows(db, rows)).await
}

/// Rows of `SELECT {columns} FROM comments` of a tenant whose `column` is one of `keys` (and
/// that meet `extra_condition`, an `AND …` clause), in chunks under SQLite's parameter limit.
async fn comment_rows_where_in(
    conn: &mut SqliteConnection,
    columns: &'static str,
    tenant: &str,
    column: &'static str,
    extra_condition: &'static str,
    keys: &[&str],
) -> StoreResult<Vec<SqliteRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(900) {
        if chunk.is_empty() {
            continue;
        }
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {columns} FROM comments WHERE tenant_id = "));
        qb.push_bind(tenant);
        qb.push(format!(" {extra_condition} AND {column} IN ("));
        let mut sep = qb.separated(", ");
        for k in chunk {
            sep.push_bind(*k);
        }
        qb.push(")");
        out.extend(qb.build().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Loads comments of a tenant whose `column` is one of `keys`.
async fn comments_where_in(
    conn: &mut SqliteConnection,
    tenant: &str,
    column: &'static str,
    extra_condition: &'static str,
    keys: &[&str],
) -> StoreResult<Vec<Existing>> {
    let rows = comment_rows_where_in(
        conn,
        "doc, upload_token",
        tenant,
        column,
        extra_condition,
        keys,
    )
    .await?;
    rows.iter()
        .map(|row| Existing::stored(row.try_get("doc")?, row.try_get("upload_token")?))
        .collect()
}

fn comment_entry(
    kind: fastcomments_protocol::EventType,
    c: &Comment,
    origin: Option<&str>,
) -> StoreResult<NewEntry> {
    Ok(entry_with_payload(
        kind,
        c,
        origin,
        serde_json::to_string(c)?,
    ))
}

/// A comment event whose payload (the comment's JSON) is already made.
fn entry_with_payload(
    kind: fastcomments_protocol::EventType,
    c: &Comment,
    origin: Option<&str>,
    payload: String,
) -> NewEntry {
    NewEntry {
        kind: EntryKind::Event(kind),
        url_id: c.url_id.clone(),
        origin_token: origin.map(str::to_owned),
        only_token: None,
        payload: Some(payload),
    }
}

fn vote_entry(kind: fastcomments_protocol::EventType, v: &Vote) -> StoreResult<NewEntry> {
    Ok(NewEntry {
        kind: EntryKind::Event(kind),
        url_id: v.url_id.clone(),
        origin_token: None,
        only_token: None,
        payload: Some(serde_json::to_string(v)?),
    })
}

async fn write_token(conn: &mut SqliteConnection, r: &TokenRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE integration_tokens SET tenant_id = ?, state = ?, integration_type = ?, domain = ?, \
         skip_requested = ?, acknowledged_at = ?, upload_received = ?, upload_finished = ?, \
         batch_size = ?, setup_completed_at = ? WHERE token = ?",
    )
    .bind(r.tenant_id.as_deref())
    .bind(r.state.as_str())
    .bind(r.integration_type.as_deref())
    .bind(r.domain.as_deref())
    .bind(r.skip_requested)
    .bind(r.acknowledged_at)
    .bind(r.upload_received)
    .bind(r.upload_finished)
    .bind(r.batch_size)
    .bind(r.setup_completed_at)
    .bind(r.token.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn read_token(conn: &mut SqliteConnection, token: &str) -> StoreResult<Option<TokenRecord>> {
    let row = sqlx::query("SELECT * FROM integration_tokens WHERE token = ?")
        .bind(token)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// The WHERE clause of a timeline read; the timeline is `t` in the query.
fn push_visibility(qb: &mut QueryBuilder<'_, Sqlite>, q: &TimelineQuery) {
    qb.push(" WHERE t.tenant_id = ");
    qb.push_bind(q.tenant_id.clone());
    qb.push(" AND t.created_at > ");
    qb.push_bind(q.after_ms);
    if let Some(until) = q.until_ms {
        qb.push(" AND t.created_at <= ");
        qb.push_bind(until);
    }
    qb.push(" AND (t.origin_token IS NULL OR t.origin_token <> ");
    qb.push_bind(q.viewer_token.clone());
    qb.push(") AND (t.only_token IS NULL OR t.only_token = ");
    qb.push_bind(q.viewer_token.clone());
    qb.push(")");
    if !q.include_setup {
        qb.push(" AND t.kind <> 'SetSetupCompleted'");
    }
}

// ---------- webhooks ----------

async fn load_webhook_configs(
    conn: &mut SqliteConnection,
    tenant: &str,
) -> StoreResult<Vec<WebhookConfig>> {
    let rows =
        sqlx::query("SELECT config FROM webhook_configs WHERE tenant_id = ? ORDER BY domain")
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("config")?;
            Ok(serde_json::from_str(&text)?)
        })
        .collect()
}

/// The configuration for a comment's domain: its own, else the `*` one.
fn config_for<'a>(configs: &'a [WebhookConfig], domain: Option<&str>) -> Option<&'a WebhookConfig> {
    let host = domain.and_then(crate::hub::normalize_domain);
    host.and_then(|h| configs.iter().find(|c| c.domain == h))
        .or_else(|| configs.iter().find(|c| c.domain == "*"))
}

/// Queues webhook deliveries for changed comments, in the caller's transaction (the outbox).
async fn enqueue_webhooks(
    conn: &mut SqliteConnection,
    tenant: &str,
    configs: &[WebhookConfig],
    changes: &[(WebhookEventKind, &Comment, i64)],
    imported: bool,
    now_ms: i64,
) -> StoreResult<usize> {
    let mut rows: Vec<(
        String,
        &Comment,
        i64,
        WebhookEventKind,
        &WebhookConfig,
        &WebhookTarget,
        String,
    )> = Vec::new();
    for (kind, comment, position) in changes {
        let Some(config) = config_for(configs, comment.domain.as_deref()) else {
            continue;
        };
        if imported && !config.fire_on_import {
            continue;
        }
        let Some(target) = config.target(*kind) else {
            continue;
        };
        let body = serde_json::to_string(&domain::webhook_comment(comment))?;
        rows.push((
            ids::object_id(),
            comment,
            *position,
            *kind,
            config,
            target,
            body,
        ));
    }
    let per_row = 18;
    for chunk in rows.chunks(MAX_PARAMS / per_row) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, config_domain, url, target_host, method, \
             legacy_token, body, status, attempts, max_attempts, next_attempt_at, created_at, updated_at) ",
        );
        qb.push_values(
            chunk.iter(),
            |mut b, (id, c, pos, kind, config, target, body)| {
                b.push_bind(id.as_str())
                    .push_bind(tenant)
                    .push_bind(c.id.as_str())
                    .push_bind(*pos)
                    .push_bind(kind.as_str())
                    .push_bind(c.domain.as_deref())
                    .push_bind(config.domain.as_str())
                    .push_bind(target.url.as_str())
                    .push_bind(target_host(&target.url))
                    .push_bind(target.method.as_str())
                    .push_bind(config.legacy_token_header)
                    .push_bind(body.as_str())
                    .push_bind(DeliveryStatus::Queued.as_str())
                    .push_bind(0i64)
                    .push_bind(0i64)
                    .push_bind(now_ms)
                    .push_bind(now_ms)
                    .push_bind(now_ms);
            },
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(rows.len())
}

fn delivery_from_row(row: &SqliteRow) -> StoreResult<Delivery> {
    let kind: String = row.try_get("kind")?;
    let method: String = row.try_get("method")?;
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        comment_id: row.try_get("comment_id")?,
        position: row.try_get("position")?,
        kind: WebhookEventKind::parse(&kind)
            .ok_or_else(|| StoreError::Database(format!("unknown webhook kind {kind:?}")))?,
        domain: row.try_get("domain")?,
        config_domain: row.try_get("config_domain")?,
        url: row.try_get("url")?,
        target_host: row.try_get("target_host")?,
        method: HttpMethod::parse(&method)
            .ok_or_else(|| StoreError::Database(format!("unknown method {method:?}")))?,
        legacy_token: row.try_get("legacy_token")?,
        body: row.try_get("body")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("unknown delivery status {status:?}")))?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_error: row.try_get("last_error")?,
    })
}

fn attempt_from_row(row: &SqliteRow) -> StoreResult<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        delivery_id: row.try_get("delivery_id")?,
        attempt: row.try_get("attempt")?,
        at: row.try_get("at")?,
        url: row.try_get("url")?,
        method: row.try_get("method")?,
        status_code: row.try_get("status_code")?,
        response_body: row.try_get("response_body")?,
        duration_ms: row.try_get("duration_ms")?,
        error: row.try_get("error")?,
    })
}

/// Applies one API change inside the caller's transaction (the group-commit writer's).
async fn apply_in(
    tx: &mut SqliteConnection,
    tenant: &str,
    change: Change,
    now_ms: i64,
) -> StoreResult<Applied> {
    use fastcomments_protocol::EventType as E;
    let mut entries = Vec::new();
    let webhook_kind = match &change {
        Change::CreateComment(_) => Some(WebhookEventKind::Create),
        Change::DeleteComment { .. } => Some(WebhookEventKind::Delete),
        _ => Some(WebhookEventKind::Update),
    };
    let (comment, vote) = match change {
        Change::CreateComment(c) => {
            if let Some(parent) = &c.parent_id {
                if load_comment(tx, tenant, parent).await?.is_none() {
                    return Err(StoreError::NotFound("parent comment"));
                }
            }
            upsert_comments(tx, &[(&c, None)]).await?;
            entries.push(comment_entry(E::NewComment, &c, None)?);
            (Some(*c), None)
        }
        Change::UpdateComment { id, patch } => {
            let mut c = load_comment(tx, tenant, &id)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            domain::apply_patch(&mut c, &patch);
            upsert_comments(tx, &[(&c, None)]).await?;
            entries.push(comment_entry(E::UpdatedComment, &c, None)?);
            (Some(c), None)
        }
        Change::DeleteComment { id } => {
            let c = load_comment(tx, tenant, &id)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            sqlx::query("DELETE FROM comments WHERE tenant_id = ? AND id = ?")
                .bind(tenant)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM votes WHERE tenant_id = ? AND comment_id = ?")
                .bind(tenant)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            entries.push(comment_entry(E::DeletedComment, &c, None)?);
            (Some(c), None)
        }
        Change::AddVote(vote) => {
            let mut c = load_comment(tx, tenant, &vote.comment_id)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            let vote = domain::vote_for(*vote, &c);
            if let Some(user) = &vote.user_id {
                let prior = sqlx::query(
                    "SELECT doc FROM votes WHERE comment_id = ? AND user_id = ? AND tenant_id = ?",
                )
                .bind(&c.id)
                .bind(user)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(prior) = prior.as_ref().map(vote_from_row).transpose()? {
                    if prior.direction == vote.direction {
                        return Ok(Applied {
                            comment: Some(c),
                            vote: Some(prior),
                            entries: Vec::new(),
                            deliveries: 0,
                        });
                    }
                    sqlx::query("DELETE FROM votes WHERE id = ?")
                        .bind(&prior.id)
                        .execute(&mut *tx)
                        .await?;
                    domain::count_vote(&mut c, prior.direction, -1);
                    entries.push(vote_entry(E::DeletedVote, &prior)?);
                }
            }
            sqlx::query(
                "INSERT INTO votes (id, tenant_id, comment_id, user_id, direction, created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&vote.id)
            .bind(tenant)
            .bind(&vote.comment_id)
            .bind(vote.user_id.as_deref())
            .bind(vote.direction.as_i64())
            .bind(vote.created_at.0)
            .bind(serde_json::to_string(&vote)?)
            .execute(&mut *tx)
            .await?;
            domain::count_vote(&mut c, vote.direction, 1);
            upsert_comments(tx, &[(&c, None)]).await?;
            entries.push(vote_entry(E::NewVote, &vote)?);
            (Some(c), Some(vote))
        }
        Change::DeleteVote { id } => {
            let row = sqlx::query("DELETE FROM votes WHERE tenant_id = ? AND id = ? RETURNING doc")
                .bind(tenant)
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?;
            let vote = row
                .as_ref()
                .map(vote_from_row)
                .transpose()?
                .ok_or(StoreError::NotFound("vote"))?;
            let mut comment = load_comment(tx, tenant, &vote.comment_id).await?;
            if let Some(c) = comment.as_mut() {
                domain::count_vote(c, vote.direction, -1);
                upsert_comments(tx, &[(c, None)]).await?;
            }
            entries.push(vote_entry(E::DeletedVote, &vote)?);
            (comment, Some(vote))
        }
    };
    let entries = append_entries(tx, tenant, entries, now_ms).await?;
    let mut deliveries = 0;
    if let (Some(kind), Some(c), Some(last)) = (webhook_kind, comment.as_ref(), entries.last()) {
        let configs = load_webhook_configs(tx, tenant).await?;
        if !configs.is_empty() {
            let changes = [(kind, c, last.created_at)];
            deliveries = enqueue_webhooks(tx, tenant, &configs, &changes, false, now_ms).await?;
        }
    }
    Ok(Applied {
        comment,
        vote,
        entries,
        deliveries,
    })
}

/// Stores one upload batch inside the caller's transaction (the group-commit writer's).
async fn upload_in(
    tx: &mut SqliteConnection,
    batch: &UploadBatch,
    prepared: &mut [Option<Prepared>],
    now_ms: i64,
) -> StoreResult<UploadOutcome> {
    use fastcomments_protocol::EventType as E;
    let tenant = batch.tenant_id.as_str();
    let token = batch.token.as_str();
    let mut record = read_token(tx, token)
        .await?
        .ok_or(StoreError::NotFound("token"))?;

    // 1. Prefetch what the batch may touch: comments by hub id, by plugin id, and parents.
    let by_id_keys: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(|c| c.id.as_deref())
        .collect();
    let ext_keys: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(|c| c.external_id.as_deref())
        .collect();
    let parent_keys: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(|c| c.external_parent_id.as_deref())
        .collect();
    let mut known: HashMap<String, Existing> = HashMap::new();
    let mut ext_to_id: HashMap<String, String> = HashMap::new();
    let mut fetched = comments_where_in(tx, tenant, "id", "", &by_id_keys).await?;
    // Parents are only linked to: their hub ids are enough (no documents to read and parse).
    let batch_exts: HashSet<&str> = ext_keys.iter().copied().collect();
    let outside: Vec<&str> = parent_keys
        .iter()
        .copied()
        .filter(|p| !batch_exts.contains(p))
        .collect();
    let (by_ext, parent_ids) =
        on_own_handle(tx, |db| lookup_by_external(db, tenant, &ext_keys, &outside)).await?;
    fetched.extend(by_ext);
    for e in fetched {
        if let Some(ext) = &e.comment.external_id {
            ext_to_id.insert(ext.clone(), e.comment.id.clone());
        }
        known.insert(e.comment.id.clone(), e);
    }
    for (ext, id) in parent_ids {
        ext_to_id.entry(ext).or_insert(id);
    }

    // 2. Merge each uploaded comment over what is stored, in batch order.
    let now = Millis(now_ms);
    let mut order: Vec<String> = Vec::new();
    let mut merged: HashMap<String, (Comment, bool)> = HashMap::new(); // id → (comment, is_new)
    let mut before: HashMap<String, Comment> = HashMap::new();
    let mut new_for_token = 0i64;
    let mut comment_ids = BTreeMap::new();
    let mut counted: HashSet<String> = HashSet::new();
    // JSON made before the writer ran, by id: valid while the comment is as it was prepared.
    let mut docs: HashMap<String, String> = HashMap::new();
    for (i, up) in batch.comments.iter().enumerate() {
        let target = up
            .id
            .as_deref()
            .filter(|id| known.contains_key(*id) || merged.contains_key(*id))
            .map(str::to_owned)
            .or_else(|| {
                up.external_id
                    .as_ref()
                    .and_then(|e| ext_to_id.get(e).cloned())
            });
        let (existing, id, is_new, fresh) = match target {
            Some(id) => {
                let current = merged
                    .get(&id)
                    .map(|(c, _)| c.clone())
                    .or_else(|| known.get(&id).map(|e| e.comment.clone()));
                let is_new = merged.get(&id).map(|(_, n)| *n).unwrap_or(false);
                docs.remove(&id);
                (current, id, is_new, None)
            }
            None => match prepared.get_mut(i).and_then(Option::take) {
                Some(p) => (None, p.comment.id.clone(), true, Some(p)),
                None => (None, ids::object_id(), true, None),
            },
        };
        if let Some(old) = known.get(&id) {
            before
                .entry(id.clone())
                .or_insert_with(|| old.comment.clone());
        }
        let (mut c, mut ready) = match fresh {
            Some(p) => (p.comment, Some(p.doc)),
            None => (domain::merge_upload(existing, up, tenant, &id, now), None),
        };
        let prepared_parent = c.parent_id.clone();
        set_upload_parent(&mut c, up, &ext_to_id);
        if c.parent_id != prepared_parent {
            ready = None;
        }
        if let Some(doc) = ready {
            docs.insert(id.clone(), doc);
        }
        if let Some(ext) = &c.external_id {
            ext_to_id.insert(ext.clone(), id.clone());
            comment_ids.insert(ext.clone(), id.clone());
        }
        let previously_from_token =
            known.get(&id).and_then(|e| e.upload_token.as_deref()) == Some(token);
        if !previously_from_token && counted.insert(id.clone()) {
            new_for_token += 1;
        }
        if !merged.contains_key(&id) {
            order.push(id.clone());
        }
        merged.insert(id, (c, is_new));
    }
    // Children of this batch that came before their parent in the same batch.
    for id in &order {
        let Some((c, _)) = merged.get(id) else {
            continue;
        };
        if c.parent_id.is_none() {
            if let Some(pid) = c
                .external_parent_id
                .as_ref()
                .and_then(|e| ext_to_id.get(e))
                .cloned()
            {
                if let Some((c, _)) = merged.get_mut(id) {
                    c.parent_id = Some(pid);
                    docs.remove(id);
                }
            }
        }
    }

    // 3. Stored children that were waiting for a parent that arrived now.
    let arrived: Vec<&str> = order
        .iter()
        .filter_map(|id| merged.get(id).and_then(|(c, _)| c.external_id.as_deref()))
        .collect();
    let waiting = comments_where_in(
        &mut *tx,
        tenant,
        "external_parent_id",
        "AND parent_id IS NULL",
        &arrived,
    )
    .await?;
    let mut linked: Vec<Comment> = Vec::new();
    for w in waiting {
        if merged.contains_key(&w.comment.id) {
            continue;
        }
        let mut child = w.comment;
        child.parent_id = child
            .external_parent_id
            .as_ref()
            .and_then(|e| ext_to_id.get(e))
            .cloned();
        if child.parent_id.is_some() {
            linked.push(child);
        }
    }

    // 4. Write comments, their events and the token's progress. Each comment is serialised
    //    once: its event refers to the stored document instead of holding a second copy.
    let mut writes: Vec<(&Comment, Option<&str>, Option<E>)> =
        Vec::with_capacity(order.len() + linked.len());
    for id in &order {
        if let Some((c, is_new)) = merged.get(id) {
            let kind = if *is_new && !before.contains_key(id) {
                Some(E::NewComment)
            } else if before.get(id) != Some(c) {
                Some(E::UpdatedComment)
            } else {
                None
            };
            writes.push((c, Some(token), kind));
        }
    }
    for c in &linked {
        writes.push((c, None, Some(E::UpdatedComment)));
    }
    record.upload_received += new_for_token;
    if batch.finishes_upload && !record.upload_finished {
        record.upload_finished = true;
    }
    let wants_setup_entry = record.upload_finished && record.setup_completed_at.is_none();
    let events = writes.iter().filter(|w| w.2.is_some()).count();
    let mut positions =
        reserve_positions(tx, tenant, events + usize::from(wants_setup_entry), now_ms)
            .await?
            .into_iter();
    let mut rows = Vec::with_capacity(writes.len());
    let mut entries = Vec::with_capacity(events + 1);
    let mut imported = Vec::new();
    for (c, upload_token, kind) in writes {
        let event_pos = match kind {
            Some(kind) => {
                let position = positions.next().ok_or_else(|| {
                    StoreError::Database("fewer timeline positions than events".into())
                })?;
                entries.push(EntryRow {
                    position,
                    entry: NewEntry {
                        kind: EntryKind::Event(kind),
                        url_id: c.url_id.clone(),
                        origin_token: Some(token.to_owned()),
                        only_token: None,
                        payload: None,
                    },
                    doc_of: Some(c.id.clone()),
                });
                let webhook = match kind {
                    E::NewComment => WebhookEventKind::Create,
                    _ => WebhookEventKind::Update,
                };
                imported.push((webhook, c, position));
                Some(position)
            }
            None => None,
        };
        let doc = match docs.remove(&c.id) {
            Some(doc) => doc,
            None => serde_json::to_string(c)?,
        };
        debug_assert_eq!(
            doc,
            serde_json::to_string(c)?,
            "a prepared document went stale"
        );
        rows.push(CommentRow {
            comment: c,
            upload_token,
            doc,
            event_pos,
            is_new: kind == Some(E::NewComment),
        });
    }
    if wants_setup_entry {
        let position = positions.next().ok_or_else(|| {
            StoreError::Database("no timeline position for SetSetupCompleted".into())
        })?;
        entries.push(EntryRow {
            position,
            entry: NewEntry {
                kind: EntryKind::SetupCompleted,
                url_id: String::new(),
                origin_token: None,
                only_token: Some(token.to_owned()),
                payload: None,
            },
            doc_of: None,
        });
        record.setup_completed_at = Some(position);
    }
    upsert_comment_docs(tx, &rows).await?;
    let entries = insert_entries(tx, tenant, entries).await?;
    let mut deliveries = 0;
    let configs = load_webhook_configs(tx, tenant).await?;
    if configs.iter().any(|c| c.fire_on_import) {
        deliveries = enqueue_webhooks(tx, tenant, &configs, &imported, true, now_ms).await?;
    }
    write_token(tx, &record).await?;
    Ok(UploadOutcome {
        comment_ids,
        received: batch.comments.len() as u64,
        token: record,
        entries,
        deliveries,
    })
}

/// Links an uploaded comment to its parent: the hub id the plugin gave, else the hub id of its
/// plugin parent when that is known (`ext_to_id`), else none yet.
fn set_upload_parent(
    c: &mut Comment,
    up: &fastcomments_protocol::UploadComment,
    ext_to_id: &HashMap<String, String>,
) {
    if let Some(p) = up.parent_id.as_deref().filter(|p| !p.is_empty()) {
        c.parent_id = Some(p.to_owned());
    } else if let Some(ext_parent) = &c.external_parent_id {
        c.parent_id = ext_to_id.get(ext_parent).cloned();
    }
}

/// An uploaded comment made ready as if it were new (a fresh id, the merged document and its
/// JSON) by the uploading request's task, so the single writer does less: the writer uses it
/// when the comment is new and its parent is as prepared, and drops it otherwise.
struct Prepared {
    comment: Comment,
    doc: String,
}

/// [`Prepared`] comments of a batch, in batch order.
fn prepare_upload(batch: &UploadBatch, now_ms: i64) -> StoreResult<Vec<Option<Prepared>>> {
    let none = HashMap::new();
    batch
        .comments
        .iter()
        .map(|up| {
            let id = ids::object_id();
            let mut comment = domain::merge_upload(None, up, &batch.tenant_id, &id, Millis(now_ms));
            set_upload_parent(&mut comment, up, &none);
            let doc = serde_json::to_string(&comment)?;
            Ok(Some(Prepared { comment, doc }))
        })
        .collect()
}

/// A write waiting for the group-commit writer.
enum PendingWrite {
    /// A comments/votes API change.
    Change {
        tenant: String,
        change: Change,
        now_ms: i64,
        reply: oneshot::Sender<StoreResult<Applied>>,
    },
    /// An upload batch (step 3).
    Upload {
        batch: UploadBatch,
        prepared: Vec<Option<Prepared>>,
        now_ms: i64,
        reply: oneshot::Sender<StoreResult<UploadOutcome>>,
    },
}

impl PendingWrite {
    /// Comments this write brings (what a commit's size is counted in).
    fn weight(&self) -> usize {
        match self {
            PendingWrite::Change { .. } => 1,
            PendingWrite::Upload { batch, .. } => batch.comments.len().max(1),
        }
    }
}

/// What one pending write did, before the commit says whether it holds.
enum WriteResult {
    Change(Box<StoreResult<Applied>>),
    Upload(Box<StoreResult<UploadOutcome>>),
}

/// Most writes one commit covers.
const GROUP_COMMIT_MAX: usize = 256;
/// Most comments one commit covers (upload batches count their comments): bounds the
/// transaction's size and the latency of the writes queued behind it.
const GROUP_COMMIT_MAX_WEIGHT: usize = 4_000;

/// The group-commit writer: every write (API change or upload batch) that arrives while a
/// commit is under way joins the next transaction, so N concurrent writers share one fsync
/// instead of paying N, and the index pages that many writes touch go to the WAL once per
/// commit. An API change runs inside a savepoint (one that fails, e.g. on a missing comment,
/// rolls back alone). An upload batch runs without one: a savepoint copies every page the batch
/// touches into SQLite's sub-journal, which cost the upload path about a sixth of its writer
/// time. So if an upload fails, the whole transaction rolls back, that upload gets its error and
/// the others run again in a new transaction.
async fn group_commit_writer(pool: SqlitePool, mut queue: mpsc::Receiver<PendingWrite>) {
    let mut carried: Vec<PendingWrite> = Vec::new();
    loop {
        let mut batch = std::mem::take(&mut carried);
        if batch.is_empty() {
            match queue.recv().await {
                Some(first) => batch.push(first),
                None => return,
            }
        }
        let mut weight: usize = batch.iter().map(PendingWrite::weight).sum();
        while batch.len() < GROUP_COMMIT_MAX && weight < GROUP_COMMIT_MAX_WEIGHT {
            match queue.try_recv() {
                Ok(next) => {
                    weight += next.weight();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        match run_group(&pool, &mut batch).await {
            Ok(results) => {
                for (p, r) in batch.into_iter().zip(results) {
                    p.answer(r);
                }
            }
            Err(GroupFailure::Upload(at, e)) => {
                // Everything before `at` was rolled back with it: run the rest again.
                let mut rest = batch;
                let failed = rest.remove(at);
                failed.answer(WriteResult::Upload(Box::new(Err(e))));
                carried = rest;
            }
            Err(GroupFailure::Database(e)) => {
                let text = e.to_string();
                for p in batch {
                    p.fail(&text);
                }
            }
        }
    }
}

/// Starts the group-commit writer on a thread of its own, with a single-threaded runtime.
/// The writer is the store's one serial path: on the server's shared workers it waited behind
/// request tasks (each parsing and preparing hundreds of comments without yielding) every time
/// its commit finished; on its own thread the kernel schedules it like any other. It stops when
/// the last sender of `queue` is dropped.
fn spawn_writer(pool: SqlitePool, queue: mpsc::Receiver<PendingWrite>) -> StoreResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Database(format!("cannot start the writer's runtime: {e}")))?;
    std::thread::Builder::new()
        .name("hub-writer".into())
        .spawn(move || runtime.block_on(group_commit_writer(pool, queue)))
        .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
    Ok(())
}

/// Why a group's transaction did not commit.
enum GroupFailure {
    /// The upload at this index failed (the transaction was rolled back).
    Upload(usize, StoreError),
    /// The transaction itself failed.
    Database(StoreError),
}

impl From<sqlx::Error> for GroupFailure {
    fn from(e: sqlx::Error) -> GroupFailure {
        GroupFailure::Database(e.into())
    }
}

/// Runs a group of writes in one transaction and commits it.
async fn run_group(
    pool: &SqlitePool,
    batch: &mut [PendingWrite],
) -> Result<Vec<WriteResult>, GroupFailure> {
    let mut results: Vec<WriteResult> = Vec::with_capacity(batch.len());
    let mut tx = pool.begin().await?;
    for (i, p) in batch.iter_mut().enumerate() {
        match p {
            PendingWrite::Change {
                tenant,
                change,
                now_ms,
                ..
            } => {
                sqlx::query("SAVEPOINT pending_write")
                    .execute(&mut *tx)
                    .await?;
                let result = apply_in(&mut tx, tenant, change.clone(), *now_ms).await;
                if result.is_err() {
                    sqlx::query("ROLLBACK TO pending_write")
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("RELEASE pending_write")
                    .execute(&mut *tx)
                    .await?;
                results.push(WriteResult::Change(Box::new(result)));
            }
            PendingWrite::Upload {
                batch,
                prepared,
                now_ms,
                ..
            } => match upload_in(&mut tx, batch, prepared, *now_ms).await {
                Ok(outcome) => results.push(WriteResult::Upload(Box::new(Ok(outcome)))),
                Err(e) => {
                    tx.rollback().await?;
                    return Err(GroupFailure::Upload(i, e));
                }
            },
        }
    }
    tx.commit().await?;
    Ok(results)
}

impl PendingWrite {
    /// Answers the writer with its result.
    fn answer(self, result: WriteResult) {
        match (self, result) {
            (PendingWrite::Change { reply, .. }, WriteResult::Change(r)) => {
                let _ = reply.send(*r);
            }
            (PendingWrite::Upload { reply, .. }, WriteResult::Upload(r)) => {
                let _ = reply.send(*r);
            }
            // Results are made in the order of the writes, one each, of the same kind.
            (p, _) => p.fail("the SQLite writer lost track of a write"),
        }
    }

    /// Answers the writer with an error.
    fn fail(self, text: &str) {
        let err = || StoreError::Database(text.to_owned());
        match self {
            PendingWrite::Change { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            PendingWrite::Upload { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
        }
    }
}

/// Writes attempt logs and moves their deliveries on, in one transaction of `conn`.
async fn record_attempts_in(
    conn: &mut SqliteConnection,
    outcomes: &[AttemptOutcome],
    now_ms: i64,
) -> StoreResult<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // One multi-row statement each for the logs and the status changes: the dispatcher
    // records results in batches, and one commit covers the whole batch.
    for chunk in outcomes.chunks(MAX_PARAMS / 9) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, url, method, status_code, response_body, duration_ms, error) ",
        );
        qb.push_values(chunk.iter(), |mut b, o| {
            let a = &o.attempt;
            b.push_bind(a.delivery_id.as_str())
                .push_bind(a.attempt)
                .push_bind(a.at)
                .push_bind(a.url.as_str())
                .push_bind(a.method.as_str())
                .push_bind(a.status_code)
                .push_bind(a.response_body.as_deref())
                .push_bind(a.duration_ms)
                .push_bind(a.error.as_deref());
        });
        qb.push(" ON CONFLICT (delivery_id, attempt) DO NOTHING");
        qb.build().execute(&mut *tx).await?;

        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("WITH v(id, status, attempt, next_at, err) AS (");
        qb.push_values(chunk.iter(), |mut b, o| {
            b.push_bind(o.attempt.delivery_id.as_str())
                .push_bind(o.status.as_str())
                .push_bind(o.attempt.attempt)
                .push_bind(o.next_attempt_at)
                .push_bind(o.attempt.error.as_deref());
        });
        qb.push(
            ") UPDATE webhook_deliveries SET status = v.status, attempts = MAX(webhook_deliveries.attempts, v.attempt), \
             next_attempt_at = v.next_at, last_error = v.err, updated_at = ",
        );
        qb.push_bind(now_ms);
        qb.push(" FROM v WHERE webhook_deliveries.id = v.id AND webhook_deliveries.status IN ('queued', 'retrying')");
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The lock file next to a database: `hub.db` → `hub.db-serving.lock`.
fn serving_lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-serving.lock");
    PathBuf::from(name)
}

#[async_trait]
impl Store for SqliteStore {
    /// Takes an exclusive advisory lock on `<db>-serving.lock` and writes this process's id
    /// into it. A second `serve` of the same file gets a conflict naming the holder's pid.
    fn claim_for_serving(&self) -> StoreResult<()> {
        use std::io::{Read, Seek, Write};
        let Some(db) = &self.path else {
            return Ok(());
        };
        let mut held = self.serving_lock.lock();
        if held.is_some() {
            return Ok(());
        }
        let lock_path = serving_lock_path(db);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                StoreError::Database(format!("cannot open {}: {e}", lock_path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (pid {pid})"),
                };
                return Err(StoreError::Conflict(format!(
                    "{} is already served by another hub process{holder}: one hub at a time \
                     may serve an SQLite database; stop that one or use another --data-dir",
                    db.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Database(format!(
                    "cannot lock {}: {e}",
                    lock_path.display()
                )))
            }
        }
        // The pid is for the message above and for operators; the lock is what counts.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        *held = Some(file);
        Ok(())
    }

    async fn create_tenant(&self, tenant: &Tenant, wildcard: &ApiSecret) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO tenants (id, name, domains, created_at) VALUES (?, ?, ?, ?)")
            .bind(&tenant.id)
            .bind(&tenant.name)
            .bind(serde_json::to_string(&tenant.domains)?)
            .bind(tenant.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO api_secrets (id, tenant_id, domain, secret, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&wildcard.id)
            .bind(&wildcard.tenant_id)
            .bind(&wildcard.domain)
            .bind(&wildcard.secret)
            .bind(wildcard.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
        let row = sqlx::query("SELECT * FROM tenants WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn secret_by_value(&self, secret: &str) -> StoreResult<Option<ApiSecret>> {
        let row = sqlx::query("SELECT * FROM api_secrets WHERE secret = ?")
            .bind(secret)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(secret_from_row).transpose()
    }

    async fn list_secrets(&self, tenant: &str) -> StoreResult<Vec<ApiSecret>> {
        let rows =
            sqlx::query("SELECT * FROM api_secrets WHERE tenant_id = ? ORDER BY created_at, id")
                .bind(tenant)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(secret_from_row).collect()
    }

    async fn add_secret(&self, s: &ApiSecret) -> StoreResult<()> {
        sqlx::query("INSERT INTO api_secrets (id, tenant_id, domain, secret, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&s.id)
            .bind(&s.tenant_id)
            .bind(&s.domain)
            .bind(&s.secret)
            .bind(s.created_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_secret(&self, tenant: &str, id: &str) -> StoreResult<Option<ApiSecret>> {
        let row = sqlx::query("DELETE FROM api_secrets WHERE tenant_id = ? AND id = ? RETURNING *")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        row.as_ref().map(secret_from_row).transpose()
    }

    async fn token(&self, token: &str) -> StoreResult<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM integration_tokens WHERE token = ?")
            .bind(token)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn register_token(&self, r: &TokenRecord) -> StoreResult<TokenRecord> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO integration_tokens (token, tenant_id, state, integration_type, domain, skip_requested, \
             created_at, acknowledged_at, upload_received, upload_finished, batch_size, setup_completed_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING",
        )
        .bind(&r.token)
        .bind(r.tenant_id.as_deref())
        .bind(r.state.as_str())
        .bind(r.integration_type.as_deref())
        .bind(r.domain.as_deref())
        .bind(r.skip_requested)
        .bind(r.created_at)
        .bind(r.acknowledged_at)
        .bind(r.upload_received)
        .bind(r.upload_finished)
        .bind(r.batch_size)
        .bind(r.setup_completed_at)
        .execute(&mut *tx)
        .await?;
        let stored = read_token(&mut tx, &r.token)
            .await?
            .ok_or(StoreError::NotFound("token"))?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn list_tokens(&self, tenant: &str) -> StoreResult<Vec<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM integration_tokens WHERE tenant_id = ? ORDER BY created_at, token",
        )
        .bind(tenant)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn save_token(
        &self,
        record: &TokenRecord,
        entry: Option<NewEntry>,
        now_ms: i64,
    ) -> StoreResult<(TokenRecord, Option<TimelineEntry>)> {
        let mut tx = self.writer.begin().await?;
        let mut record = record.clone();
        let mut written = None;
        if let Some(entry) = entry {
            let tenant = record.tenant_id.clone().ok_or_else(|| {
                StoreError::Invalid("a timeline entry needs the token's tenant".into())
            })?;
            let mut entries = append_entries(&mut tx, &tenant, vec![entry], now_ms).await?;
            let e = entries
                .pop()
                .ok_or_else(|| StoreError::Database("entry not appended".into()))?;
            record.setup_completed_at = Some(e.created_at);
            written = Some(e);
        }
        write_token(&mut tx, &record).await?;
        tx.commit().await?;
        Ok((record, written))
    }

    async fn halve_batch_size(&self, token: &str) -> StoreResult<TokenRecord> {
        let row = sqlx::query(
            "UPDATE integration_tokens SET batch_size = MAX(1, batch_size / 2) WHERE token = ? RETURNING *",
        )
        .bind(token)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref()
            .map(token_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound("token"))
    }

    async fn revoke_token(&self, token: &str) -> StoreResult<TokenRecord> {
        let row = sqlx::query(
            "UPDATE integration_tokens SET state = 'revoked' WHERE token = ? RETURNING *",
        )
        .bind(token)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref()
            .map(token_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound("token"))
    }

    async fn restart_upload(&self, record: &TokenRecord) -> StoreResult<TokenRecord> {
        let mut tx = self.writer.begin().await?;
        let mut record = record.clone();
        record.upload_received = 0;
        record.upload_finished = false;
        record.setup_completed_at = None;
        sqlx::query("UPDATE comments SET upload_token = NULL WHERE upload_token = ?")
            .bind(&record.token)
            .execute(&mut *tx)
            .await?;
        write_token(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn delete_expired_pending(&self, created_before: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM integration_tokens WHERE state = 'pending' AND created_at < ?",
        )
        .bind(created_before)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn comment(&self, tenant: &str, id: &str) -> StoreResult<Option<Comment>> {
        let mut conn = self.reader.acquire().await?;
        load_comment(&mut conn, tenant, id).await
    }

    async fn comments_by_url(&self, tenant: &str, url_id: &str) -> StoreResult<Vec<Comment>> {
        let rows = sqlx::query(
            "SELECT doc FROM comments WHERE tenant_id = ? AND url_id = ? ORDER BY date_ms, id",
        )
        .bind(tenant)
        .bind(url_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(comment_from_row).collect()
    }

    async fn comments_page(
        &self,
        tenant: &str,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Comment>> {
        let rows = sqlx::query(
            "SELECT doc FROM comments WHERE tenant_id = ? ORDER BY date_ms, id LIMIT ? OFFSET ?",
        )
        .bind(tenant)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(skip).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(comment_from_row).collect()
    }

    async fn count_comments(&self, tenant: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comments WHERE tenant_id = ?")
            .bind(tenant)
            .fetch_one(&self.reader)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn vote(&self, tenant: &str, id: &str) -> StoreResult<Option<Vote>> {
        let row = sqlx::query("SELECT doc FROM votes WHERE tenant_id = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(vote_from_row).transpose()
    }

    async fn apply(&self, tenant: &str, change: Change, now_ms: i64) -> StoreResult<Applied> {
        let (reply, answer) = oneshot::channel();
        self.queue_write(PendingWrite::Change {
            tenant: tenant.to_owned(),
            change,
            now_ms,
            reply,
        })
        .await?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn upload(&self, batch: UploadBatch, now_ms: i64) -> StoreResult<UploadOutcome> {
        let (reply, answer) = oneshot::channel();
        let prepared = prepare_upload(&batch, now_ms)?;
        self.queue_write(PendingWrite::Upload {
            batch,
            prepared,
            now_ms,
            reply,
        })
        .await?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn set_local_ids(&self, tenant: &str, mappings: &[CommentIdMapping]) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        let mut found = 0;
        for m in mappings {
            let Some(mut c) = load_comment(&mut tx, tenant, &m.fc_id).await? else {
                continue;
            };
            c.meta
                .get_or_insert_with(Default::default)
                .insert("wpId".into(), serde_json::Value::String(m.wp_id.clone()));
            upsert_comments(&mut tx, &[(&c, None)]).await?;
            found += 1;
        }
        tx.commit().await?;
        Ok(found)
    }

    async fn read_timeline(&self, q: &TimelineQuery) -> StoreResult<Vec<TimelineEntry>> {
        let mut qb: QueryBuilder<Sqlite> =
            // An entry without a payload of its own (`doc_ref`) takes its comment's document.
            QueryBuilder::new(
                "SELECT t.id, t.created_at, t.kind, t.url_id, COALESCE(t.payload, c.doc) AS payload \
                 FROM timeline t LEFT JOIN comments c ON t.payload IS NULL AND c.id = t.doc_ref",
            );
        push_visibility(&mut qb, q);
        qb.push(" ORDER BY t.created_at LIMIT ");
        qb.push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn count_timeline(&self, q: &TimelineQuery, cap: u64) -> StoreResult<u64> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM timeline t");
        push_visibility(&mut qb, q);
        qb.push(" LIMIT ");
        qb.push_bind(i64::try_from(cap).unwrap_or(i64::MAX));
        qb.push(")");
        let n: i64 = qb.build_query_scalar().fetch_one(&self.reader).await?;
        Ok(n.max(0) as u64)
    }

    async fn timeline_bounds(&self, tenant: &str) -> StoreResult<TimelineBounds> {
        let row =
            sqlx::query("SELECT last_ms, pruned_through FROM tenant_clock WHERE tenant_id = ?")
                .bind(tenant)
                .fetch_optional(&self.reader)
                .await?;
        Ok(match row {
            Some(r) => TimelineBounds {
                newest: r.try_get("last_ms")?,
                pruned_through: r.try_get("pruned_through")?,
            },
            None => TimelineBounds::default(),
        })
    }

    async fn prune_timeline(&self, before_ms: i64) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE tenant_clock SET pruned_through = MAX(pruned_through, \
             (SELECT MAX(created_at) FROM timeline t WHERE t.tenant_id = tenant_clock.tenant_id AND t.created_at < ?)) \
             WHERE EXISTS (SELECT 1 FROM timeline t WHERE t.tenant_id = tenant_clock.tenant_id AND t.created_at < ?)",
        )
        .bind(before_ms)
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM timeline WHERE created_at < ?")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn webhook_configs(&self, tenant: &str) -> StoreResult<Vec<WebhookConfig>> {
        let mut conn = self.reader.acquire().await?;
        load_webhook_configs(&mut conn, tenant).await
    }

    async fn put_webhook_config(
        &self,
        tenant: &str,
        config: &WebhookConfig,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webhook_configs (tenant_id, domain, config, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, domain) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(&config.domain)
        .bind(serde_json::to_string(config)?)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn due_deliveries(&self, q: &DueQuery<'_>) -> StoreResult<Vec<Delivery>> {
        // The pending hosts are walked with one index seek each (a recursive MIN over
        // `webhook_deliveries_by_host`), and each host not left out gives its first `per_host`
        // due deliveries: a host with thousands due costs no more than one with a few.
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "WITH RECURSIVE hosts(h) AS ( \
               SELECT (SELECT MIN(target_host) FROM webhook_deliveries WHERE status IN ('queued', 'retrying')) \
               UNION ALL \
               SELECT (SELECT MIN(target_host) FROM webhook_deliveries \
                       WHERE status IN ('queued', 'retrying') AND target_host > hosts.h) \
               FROM hosts WHERE hosts.h IS NOT NULL) \
             SELECT d.* FROM hosts JOIN webhook_deliveries d ON d.rowid IN ( \
               SELECT e.rowid FROM webhook_deliveries e \
               WHERE e.target_host = hosts.h AND e.status IN ('queued', 'retrying') AND e.next_attempt_at <= ",
        );
        qb.push_bind(q.now_ms);
        qb.push(
            " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries f WHERE f.tenant_id = e.tenant_id \
               AND f.comment_id = e.comment_id AND f.position < e.position AND f.status IN ('queued', 'retrying'))",
        );
        // In-flight ids are at most the dispatcher's concurrency, full hosts and tenants fewer.
        let not_in = |qb: &mut QueryBuilder<Sqlite>, column: &str, values: &[String]| {
            if !values.is_empty() {
                qb.push(format!(" AND {column} NOT IN ("));
                let mut sep = qb.separated(", ");
                for v in values.iter().take(MAX_PARAMS / 4) {
                    sep.push_bind(v.clone());
                }
                qb.push(")");
            }
        };
        not_in(&mut qb, "e.id", q.exclude);
        not_in(&mut qb, "e.tenant_id", q.skip_tenants);
        qb.push(" ORDER BY e.next_attempt_at, e.position LIMIT ");
        qb.push_bind(i64::try_from(q.per_host).unwrap_or(i64::MAX));
        qb.push(") WHERE hosts.h IS NOT NULL");
        not_in(&mut qb, "hosts.h", q.skip_hosts);
        qb.push(" ORDER BY d.next_attempt_at, d.position LIMIT ");
        qb.push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn next_due_at(&self, after_ms: i64) -> StoreResult<Option<i64>> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status IN ('queued', 'retrying') \
             AND next_attempt_at > ?",
        )
        .bind(after_ms)
        .fetch_one(&self.reader)
        .await?;
        Ok(next)
    }

    async fn record_attempts(&self, outcomes: &[AttemptOutcome], now_ms: i64) -> StoreResult<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        // Attempt logs are committed without their own fsync (`synchronous=NORMAL` for this one
        // transaction): a process crash loses nothing (the WAL is written), and the next
        // API commit's fsync makes them durable. Only a power cut in between could lose one,
        // and that only means the delivery is sent again — at-least-once holds either way.
        let mut conn = self.writer.acquire().await?;
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await?;
        let result = record_attempts_in(&mut conn, outcomes, now_ms).await;
        let reset = sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await;
        if let Err(e) = reset {
            tracing::error!(error = %e, "could not restore synchronous=FULL; closing the connection");
            conn.detach();
        }
        result
    }

    async fn deliveries(
        &self,
        tenant: &str,
        status: Option<DeliveryStatus>,
        comment_id: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT * FROM webhook_deliveries WHERE tenant_id = ");
        qb.push_bind(tenant);
        if let Some(s) = status {
            qb.push(" AND status = ");
            qb.push_bind(s.as_str());
        }
        if let Some(c) = comment_id {
            qb.push(" AND comment_id = ");
            qb.push_bind(c);
        }
        qb.push(" ORDER BY created_at DESC, position DESC LIMIT ");
        qb.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn delivery(
        &self,
        tenant: &str,
        id: &str,
    ) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>> {
        let row = sqlx::query("SELECT * FROM webhook_deliveries WHERE tenant_id = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        let Some(d) = row.as_ref().map(delivery_from_row).transpose()? else {
            return Ok(None);
        };
        let rows =
            sqlx::query("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt")
                .bind(id)
                .fetch_all(&self.reader)
                .await?;
        let attempts = rows
            .iter()
            .map(attempt_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(Some((d, attempts)))
    }

    async fn cancel_delivery(&self, tenant: &str, id: &str, now_ms: i64) -> StoreResult<Delivery> {
        let row = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled', updated_at = ? \
             WHERE tenant_id = ? AND id = ? AND status IN ('queued', 'retrying') RETURNING *",
        )
        .bind(now_ms)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        match row.as_ref().map(delivery_from_row).transpose()? {
            Some(d) => Ok(d),
            None => match self.delivery(tenant, id).await? {
                Some((d, _)) => Err(StoreError::Conflict(format!(
                    "only queued or retrying deliveries can be cancelled; this one is {}",
                    d.status.as_str()
                ))),
                None => Err(StoreError::NotFound("webhook delivery")),
            },
        }
    }

    async fn retry_delivery(
        &self,
        tenant: &str,
        id: &str,
        now_ms: i64,
        extra_attempts: i64,
    ) -> StoreResult<Delivery> {
        let row = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ?, \
             max_attempts = attempts + ? WHERE tenant_id = ? AND id = ? AND status IN ('failed', 'cancelled') RETURNING *",
        )
        .bind(now_ms)
        .bind(now_ms)
        .bind(extra_attempts)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        match row.as_ref().map(delivery_from_row).transpose()? {
            Some(d) => Ok(d),
            None => match self.delivery(tenant, id).await? {
                Some((d, _)) => Err(StoreError::Conflict(format!(
                    "only failed or cancelled deliveries can be retried; this one is {}",
                    d.status.as_str()
                ))),
                None => Err(StoreError::NotFound("webhook delivery")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recording_attempts_leaves_the_writer_at_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hub.db")).await.unwrap();
        let outcome = AttemptOutcome {
            attempt: DeliveryAttempt {
                delivery_id: "d1".into(),
                attempt: 1,
                at: 1,
                url: "http://x".into(),
                method: "PUT".into(),
                status_code: Some(200),
                response_body: None,
                duration_ms: 1,
                error: None,
            },
            status: DeliveryStatus::Succeeded,
            next_attempt_at: 1,
        };
        store.record_attempts(&[outcome], 1).await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(level, 2, "FULL");
    }

    fn upload_comment(ext: &str) -> fastcomments_protocol::UploadComment {
        fastcomments_protocol::UploadComment {
            external_id: Some(ext.into()),
            url_id: Some("/page".into()),
            comment: "hello".into(),
            ..Default::default()
        }
    }

    fn upload_batch(token: &str, exts: &[&str]) -> UploadBatch {
        UploadBatch {
            tenant_id: "t1".into(),
            token: token.into(),
            comments: exts.iter().map(|e| upload_comment(e)).collect(),
            finishes_upload: false,
        }
    }

    /// Writes that share a transaction with a failing upload are rolled back with it and then
    /// run again: each gets its own answer and nothing is lost or doubled.
    #[tokio::test]
    async fn a_failing_upload_does_not_take_its_group_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_token(dir.path()).await;
        let created = domain::merge_upload(
            None,
            &upload_comment("from-the-api"),
            "t1",
            &ids::object_id(),
            Millis(5),
        );
        // All four are queued before the writer runs (one task, polled together): one group.
        let (a, b, c, d) = tokio::join!(
            store.upload(upload_batch("tok", &["a1", "a2", "a3"]), 10),
            store.upload(upload_batch("no-such-token", &["b1"]), 10),
            store.apply("t1", Change::CreateComment(Box::new(created.clone())), 10),
            store.upload(upload_batch("tok", &["c1", "c2"]), 10),
        );
        assert_eq!(a.unwrap().received, 3);
        assert!(matches!(b, Err(StoreError::NotFound("token"))), "{b:?}");
        assert_eq!(c.unwrap().comment.map(|c| c.id), Some(created.id));
        assert_eq!(d.unwrap().received, 2);
        assert_eq!(store.count_comments("t1").await.unwrap(), 6);
        let token = store.token("tok").await.unwrap().unwrap();
        assert_eq!(token.upload_received, 5);
        let entries = store
            .read_timeline(&everything_seen_by_another_token(true))
            .await
            .unwrap();
        assert_eq!(entries.len(), 6, "one event per comment, none doubled");
    }

    /// Tenant `t1`'s whole timeline as a token other than the uploader's sees it.
    fn everything_seen_by_another_token(include_setup: bool) -> TimelineQuery {
        TimelineQuery {
            tenant_id: "t1".into(),
            viewer_token: "another-token".into(),
            after_ms: 0,
            until_ms: None,
            limit: 100,
            include_setup,
        }
    }

    /// A store with token `tok`, acknowledged for tenant `t1`.
    async fn store_with_token(dir: &std::path::Path) -> SqliteStore {
        let store = SqliteStore::open(&dir.join("hub.db")).await.unwrap();
        store
            .register_token(&TokenRecord {
                token: "tok".into(),
                tenant_id: Some("t1".into()),
                state: TokenState::Validated,
                integration_type: None,
                domain: None,
                skip_requested: false,
                created_at: 1,
                acknowledged_at: Some(1),
                upload_received: 0,
                upload_finished: false,
                batch_size: 500,
                setup_completed_at: None,
            })
            .await
            .unwrap();
        store
    }

    async fn payloads(store: &SqliteStore) -> Vec<(String, Option<Comment>)> {
        store
            .read_timeline(&everything_seen_by_another_token(false))
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                let c = e.payload.map(|p| serde_json::from_str(&p).unwrap());
                (e.kind.as_str().to_owned(), c)
            })
            .collect()
    }

    /// An uploaded comment's event refers to the stored document; every later change to the
    /// document (re-upload, API update, vote, delete) leaves the earlier events as they were.
    #[tokio::test]
    async fn events_keep_the_comment_as_of_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_token(dir.path()).await;
        let first = store.upload(upload_batch("tok", &["a"]), 10).await.unwrap();
        let id = first.comment_ids["a"].clone();
        // The same comment again, unchanged: no event; then with a new text: an update event.
        store.upload(upload_batch("tok", &["a"]), 11).await.unwrap();
        let mut edited = upload_batch("tok", &["a"]);
        edited.comments[0].comment = "edited by the plugin".into();
        store.upload(edited, 12).await.unwrap();
        let patch = CommentPatch {
            comment: Some("edited through the API".into()),
            ..Default::default()
        };
        store
            .apply(
                "t1",
                Change::UpdateComment {
                    id: id.clone(),
                    patch,
                },
                13,
            )
            .await
            .unwrap();
        store
            .apply("t1", Change::DeleteComment { id: id.clone() }, 14)
            .await
            .unwrap();
        let seen = payloads(&store).await;
        let texts: Vec<(&str, &str)> = seen
            .iter()
            .map(|(k, c)| {
                (
                    k.as_str(),
                    c.as_ref().map(|c| c.comment.as_str()).unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                ("new-comment", "hello"),
                ("updated-comment", "edited by the plugin"),
                ("updated-comment", "edited through the API"),
                ("deleted-comment", "edited through the API"),
            ]
        );
        assert!(seen
            .iter()
            .all(|(_, c)| c.as_ref().map(|c| c.id.as_str()) == Some(id.as_str())));
    }

    /// A database made before `event_pos`/`doc_ref` existed opens, gains them, and keeps its data.
    #[tokio::test]
    async fn a_database_from_before_payload_references_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        {
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = SqlitePool::connect_with(options).await.unwrap();
            sqlx::raw_sql(
                "CREATE TABLE comments (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, url_id TEXT NOT NULL, \
                 parent_id TEXT, external_id TEXT, external_parent_id TEXT, date_ms INTEGER NOT NULL, \
                 upload_token TEXT, doc TEXT NOT NULL); \
                 CREATE TABLE timeline (tenant_id TEXT NOT NULL, created_at INTEGER NOT NULL, id TEXT NOT NULL, \
                 kind TEXT NOT NULL, url_id TEXT NOT NULL, origin_token TEXT, only_token TEXT, payload TEXT, \
                 PRIMARY KEY (tenant_id, created_at)); \
                 INSERT INTO timeline VALUES ('t1', 5, 'e1', 'new-vote', '/page', NULL, NULL, '{\"x\":1}');",
            )
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let store = store_with_token(dir.path()).await;
        store.upload(upload_batch("tok", &["a"]), 10).await.unwrap();
        let kinds: Vec<String> = store
            .read_timeline(&everything_seen_by_another_token(false))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind.as_str().to_owned())
            .collect();
        assert_eq!(kinds, vec!["new-vote".to_owned(), "new-comment".to_owned()]);
        let old: Option<String> =
            sqlx::query_scalar("SELECT payload FROM timeline WHERE id = 'e1'")
                .fetch_one(&store.reader)
                .await
                .unwrap();
        assert_eq!(old.as_deref(), Some("{\"x\":1}"));
    }
}
