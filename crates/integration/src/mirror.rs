//! [`SqliteMirror`]: a local comment table that is both the upload's [`CommentSource`] and the
//! events' [`EventSink`] — what a site plugin's own comments table is, in SQLite.
//!
//! Each row keeps the raw JSON of the last full snapshot (an imported comment as uploaded, or
//! the hub's comment from the last comment event) plus columns for the fields both sides hold.
//! Vote events adjust the count columns. Deleted comments are removed.
//!
//! Idempotence: every row records `applied_at`, the timeline position of the last event
//! applied to it; an event at or before it is skipped. Because a replay after a crash is always
//! an in-order suffix of the timeline, this applies each event exactly once in effect.

use crate::error::HostError;
use crate::sink::{Change, EventSink, SyncEvent};
use crate::source::{CommentSource, LocalComment, LocalId};
use crate::state::SqliteStateStore;
use async_trait::async_trait;
use fastcomments_protocol::{Comment, Millis, UploadComment};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS comments (
    local_id INTEGER PRIMARY KEY AUTOINCREMENT,
    hub_id TEXT UNIQUE,
    origin TEXT NOT NULL,
    external_id TEXT,
    external_parent_id TEXT,
    parent_hub_id TEXT,
    url_id TEXT NOT NULL,
    commenter_name TEXT NOT NULL,
    commenter_email TEXT,
    comment TEXT NOT NULL,
    comment_html TEXT,
    date_ms INTEGER,
    votes INTEGER,
    votes_up INTEGER,
    votes_down INTEGER,
    approved INTEGER,
    reviewed INTEGER,
    is_spam INTEGER,
    applied_at INTEGER NOT NULL DEFAULT 0,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_external_id ON comments (external_id);
";

/// Where a mirror row's raw JSON came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Imported locally: `raw` is an [`UploadComment`].
    Local,
    /// Last written from a hub event: `raw` is a hub [`Comment`].
    Hub,
}

/// One row of the mirror, with the parent resolved to a hub id where possible.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorComment {
    /// The local id (keyset key).
    pub local_id: i64,
    /// The hub's id, once known.
    pub hub_id: Option<String>,
    /// Where `raw` came from.
    pub origin: Origin,
    /// The site's id of the comment.
    pub external_id: Option<String>,
    /// The site's id of the parent.
    pub external_parent_id: Option<String>,
    /// The parent's hub id: from the hub, or through `external_parent_id`.
    pub parent_hub_id: Option<String>,
    /// Thread.
    pub url_id: String,
    /// Author's name.
    pub commenter_name: String,
    /// Author's e-mail.
    pub commenter_email: Option<String>,
    /// The text.
    pub comment: String,
    /// The HTML, when held.
    pub comment_html: Option<String>,
    /// When written, when held.
    pub date: Option<Millis>,
    /// Net votes, when held.
    pub votes: Option<i64>,
    /// Up votes, when held.
    pub votes_up: Option<i64>,
    /// Down votes, when held.
    pub votes_down: Option<i64>,
    /// Visible, when held.
    pub approved: Option<bool>,
    /// Reviewed, when held.
    pub reviewed: Option<bool>,
    /// Spam, when held.
    pub is_spam: Option<bool>,
    /// The last full snapshot as JSON.
    pub raw: serde_json::Value,
}

/// A SQLite comment table that is source and sink at once.
#[derive(Debug, Clone)]
pub struct SqliteMirror {
    pool: SqlitePool,
}

fn parse_local(id: Option<&LocalId>) -> Result<i64, HostError> {
    match id {
        None => Ok(0),
        Some(l) => {
            l.0.parse::<i64>()
                .map_err(|_| HostError::from(format!("not a mirror id: {:?}", l.0)))
        }
    }
}

/// The hub comment as an upload (a manual re-upload of what the hub sent us).
fn upload_from_hub(c: Comment) -> UploadComment {
    UploadComment {
        id: Some(c.id),
        external_id: c.external_id,
        external_parent_id: c.external_parent_id,
        parent_id: c.parent_id,
        url_id: Some(c.url_id),
        url: c.url,
        page_title: c.page_title,
        user_id: c.user_id,
        commenter_name: Some(c.commenter_name),
        commenter_email: c.commenter_email,
        comment: c.comment,
        comment_html: Some(c.comment_html),
        date: Some(c.date),
        votes: Some(c.votes),
        votes_up: Some(c.votes_up),
        votes_down: Some(c.votes_down),
        verified: Some(c.verified),
        reviewed: Some(c.reviewed),
        approved: Some(c.approved),
        is_spam: Some(c.is_spam),
        avatar_src: c.avatar_src,
        locale: c.locale,
        domain: c.domain,
        meta: c.meta,
        tenant_id: Some(c.tenant_id),
        url_id_raw: c.url_id_raw,
        ai_determined_spam: Some(c.ai_determined_spam),
        has_images: Some(c.has_images),
        has_links: Some(c.has_links),
        is_by_admin: Some(c.is_by_admin),
        is_by_moderator: Some(c.is_by_moderator),
        mentions: Some(c.mentions),
        extra: c.extra,
    }
}

/// Rows per multi-row statement (19 parameters each, well under SQLite's 32,766).
const CHUNK: usize = 400;

/// Upserts hub comments, many rows per statement: the mirror's connection lives on its own
/// thread, so each statement is a thread round trip and batching them is what keeps a
/// catch-up fast. `force` skips the position guard (re-sync snapshots).
async fn upsert_hub_comments(
    tx: &mut Transaction<'_, Sqlite>,
    rows: &[(&Comment, i64)],
    force: bool,
) -> Result<(), HostError> {
    for chunk in rows.chunks(CHUNK) {
        let raws = chunk
            .iter()
            .map(|(c, _)| serde_json::to_string(c))
            .collect::<Result<Vec<String>, _>>()?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO comments (hub_id, origin, external_id, external_parent_id, parent_hub_id, \
             url_id, commenter_name, commenter_email, comment, comment_html, date_ms, votes, \
             votes_up, votes_down, approved, reviewed, is_spam, applied_at, raw) ",
        );
        qb.push_values(chunk.iter().zip(raws), |mut b, ((c, pos), raw)| {
            b.push_bind(&c.id)
                .push("'hub'")
                .push_bind(&c.external_id)
                .push_bind(&c.external_parent_id)
                .push_bind(&c.parent_id)
                .push_bind(&c.url_id)
                .push_bind(&c.commenter_name)
                .push_bind(&c.commenter_email)
                .push_bind(&c.comment)
                .push_bind(&c.comment_html)
                .push_bind(c.date.0)
                .push_bind(c.votes)
                .push_bind(c.votes_up)
                .push_bind(c.votes_down)
                .push_bind(c.approved)
                .push_bind(c.reviewed)
                .push_bind(c.is_spam)
                .push_bind(*pos)
                .push_bind(raw);
        });
        qb.push(
            " ON CONFLICT(hub_id) DO UPDATE SET origin = 'hub', external_id = excluded.external_id, \
             external_parent_id = excluded.external_parent_id, parent_hub_id = excluded.parent_hub_id, \
             url_id = excluded.url_id, commenter_name = excluded.commenter_name, \
             commenter_email = excluded.commenter_email, comment = excluded.comment, \
             comment_html = excluded.comment_html, date_ms = excluded.date_ms, votes = excluded.votes, \
             votes_up = excluded.votes_up, votes_down = excluded.votes_down, approved = excluded.approved, \
             reviewed = excluded.reviewed, is_spam = excluded.is_spam, applied_at = excluded.applied_at, \
             raw = excluded.raw",
        );
        if !force {
            qb.push(" WHERE comments.applied_at < excluded.applied_at");
        }
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn apply_vote(
    tx: &mut Transaction<'_, Sqlite>,
    v: &fastcomments_protocol::Vote,
    sign: i64,
    pos: i64,
) -> Result<(), HostError> {
    let d = v.direction.as_i64();
    let (up, down) = if d > 0 { (sign, 0) } else { (0, sign) };
    sqlx::query(
        "UPDATE comments SET votes = COALESCE(votes, 0) + ?, \
         votes_up = COALESCE(votes_up, 0) + ?, votes_down = COALESCE(votes_down, 0) + ?, \
         applied_at = ? WHERE hub_id = ? AND applied_at < ?",
    )
    .bind(d * sign)
    .bind(up)
    .bind(down)
    .bind(pos)
    .bind(&v.comment_id)
    .bind(pos)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies events in order, turning each run of comment upserts into multi-row statements.
async fn apply_events(
    tx: &mut Transaction<'_, Sqlite>,
    events: &[SyncEvent],
) -> Result<(), HostError> {
    let mut run: Vec<(&Comment, i64)> = Vec::new();
    for e in events {
        let pos = e.created_at.0;
        if let Change::NewComment(c) | Change::UpdatedComment(c) = &e.change {
            run.push((c, pos));
            continue;
        }
        upsert_hub_comments(tx, &run, false).await?;
        run.clear();
        match &e.change {
            Change::DeletedComment(c) => {
                sqlx::query("DELETE FROM comments WHERE hub_id = ?")
                    .bind(&c.id)
                    .execute(&mut **tx)
                    .await?;
            }
            Change::NewVote(v) => apply_vote(tx, v, 1, pos).await?,
            Change::DeletedVote(v) => apply_vote(tx, v, -1, pos).await?,
            Change::NewComment(_) | Change::UpdatedComment(_) => {}
        }
    }
    upsert_hub_comments(tx, &run, false).await
}

/// Moves row `from`'s hub snapshot onto row `into` (keeping `into`'s local id) and drops `from`.
async fn merge_into(
    tx: &mut Transaction<'_, Sqlite>,
    from: i64,
    into: i64,
) -> Result<(), HostError> {
    sqlx::query(
        "UPDATE comments SET (origin, external_id, external_parent_id, parent_hub_id, url_id, \
         commenter_name, commenter_email, comment, comment_html, date_ms, votes, votes_up, \
         votes_down, approved, reviewed, is_spam, applied_at, raw) = (SELECT origin, \
         external_id, external_parent_id, parent_hub_id, url_id, commenter_name, \
         commenter_email, comment, comment_html, date_ms, votes, votes_up, votes_down, \
         approved, reviewed, is_spam, applied_at, raw FROM comments WHERE local_id = ?) \
         WHERE local_id = ?",
    )
    .bind(from)
    .bind(into)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM comments WHERE local_id = ?")
        .bind(from)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn mirror_row(r: &SqliteRow) -> Result<MirrorComment, HostError> {
    let origin: String = r.try_get("origin")?;
    let raw: String = r.try_get("raw")?;
    Ok(MirrorComment {
        local_id: r.try_get("local_id")?,
        hub_id: r.try_get("hub_id")?,
        origin: if origin == "hub" {
            Origin::Hub
        } else {
            Origin::Local
        },
        external_id: r.try_get("external_id")?,
        external_parent_id: r.try_get("external_parent_id")?,
        parent_hub_id: r.try_get("parent")?,
        url_id: r.try_get("url_id")?,
        commenter_name: r.try_get("commenter_name")?,
        commenter_email: r.try_get("commenter_email")?,
        comment: r.try_get("comment")?,
        comment_html: r.try_get("comment_html")?,
        date: r.try_get::<Option<i64>, _>("date_ms")?.map(Millis),
        votes: r.try_get("votes")?,
        votes_up: r.try_get("votes_up")?,
        votes_down: r.try_get("votes_down")?,
        approved: r.try_get("approved")?,
        reviewed: r.try_get("reviewed")?,
        is_spam: r.try_get("is_spam")?,
        raw: serde_json::from_str(&raw)?,
    })
}

impl SqliteMirror {
    /// Opens (creating if needed) the mirror database at `path` (WAL mode).
    pub async fn open(path: &Path) -> Result<SqliteMirror, HostError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // 16 MiB of page cache: the hub-id index of a 100k-comment mirror stays in memory.
            .pragma("cache_size", "-16384")
            .busy_timeout(Duration::from_secs(30));
        Self::with_options(options).await
    }

    /// A mirror in memory (tests).
    pub async fn in_memory() -> Result<SqliteMirror, HostError> {
        Self::with_options(SqliteConnectOptions::from_str("sqlite::memory:")?).await
    }

    async fn with_options(options: SqliteConnectOptions) -> Result<SqliteMirror, HostError> {
        // One connection: the mirror is written by one integration; reads queue behind it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(SqliteMirror { pool })
    }

    /// The connection pool (e.g. for [`SqliteStateStore`] in the same file).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A state store in the same database.
    pub async fn state_store(&self) -> Result<SqliteStateStore, HostError> {
        SqliteStateStore::new(self.pool.clone()).await
    }

    /// Adds local comments (what a site already has) in one transaction. A comment whose
    /// `externalId` is already present is skipped, so importing the same file again is
    /// harmless. Returns how many were added.
    pub async fn import<I>(&self, comments: I) -> Result<u64, HostError>
    where
        I: IntoIterator<Item = UploadComment>,
    {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for c in comments {
            if let Some(ext) = &c.external_id {
                let exists = sqlx::query("SELECT 1 FROM comments WHERE external_id = ? LIMIT 1")
                    .bind(ext)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() {
                    continue;
                }
            }
            let url_id = c
                .url_id
                .clone()
                .or_else(|| c.url.clone())
                .unwrap_or_default();
            let raw = serde_json::to_string(&c)?;
            sqlx::query(
                "INSERT INTO comments (origin, external_id, external_parent_id, url_id, commenter_name, \
                 commenter_email, comment, comment_html, date_ms, votes, votes_up, votes_down, approved, \
                 reviewed, is_spam, raw) VALUES ('local', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&c.external_id)
            .bind(&c.external_parent_id)
            .bind(url_id)
            .bind(c.commenter_name.clone().unwrap_or_default())
            .bind(&c.commenter_email)
            .bind(&c.comment)
            .bind(&c.comment_html)
            .bind(c.date.map(|d| d.0))
            .bind(c.votes)
            .bind(c.votes_up)
            .bind(c.votes_down)
            .bind(c.approved)
            .bind(c.reviewed)
            .bind(c.is_spam)
            .bind(raw)
            .execute(&mut *tx)
            .await?;
            added += 1;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Imports a file of one JSON [`UploadComment`] per line (blank lines skipped).
    pub async fn import_jsonl(&self, path: &Path) -> Result<u64, HostError> {
        let text = tokio::fs::read_to_string(path).await?;
        let mut comments = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let c: UploadComment = serde_json::from_str(line)
                .map_err(|e| HostError::from(format!("{}:{}: {e}", path.display(), n + 1)))?;
            comments.push(c);
        }
        self.import(comments).await
    }

    /// Every row, by local id.
    pub async fn comments(&self) -> Result<Vec<MirrorComment>, HostError> {
        let rows = sqlx::query(
            "SELECT c.*, COALESCE(c.parent_hub_id, (SELECT p.hub_id FROM comments p \
             WHERE c.external_parent_id IS NOT NULL AND p.external_id = c.external_parent_id \
             ORDER BY p.origin = 'local' DESC LIMIT 1)) AS parent \
             FROM comments c ORDER BY c.local_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(mirror_row).collect()
    }

    /// How many rows the mirror holds.
    pub async fn len(&self) -> Result<u64, HostError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comments")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    /// Whether it holds no row.
    pub async fn is_empty(&self) -> Result<bool, HostError> {
        Ok(self.len().await? == 0)
    }
}

#[async_trait]
impl CommentSource for SqliteMirror {
    async fn count_after(&self, after: Option<&LocalId>) -> Result<u64, HostError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comments WHERE local_id > ?")
            .bind(parse_local(after)?)
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn page(
        &self,
        after: Option<&LocalId>,
        limit: usize,
    ) -> Result<Vec<LocalComment>, HostError> {
        let rows = sqlx::query(
            "SELECT local_id, hub_id, origin, raw FROM comments WHERE local_id > ? \
             ORDER BY local_id LIMIT ?",
        )
        .bind(parse_local(after)?)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let local: i64 = r.try_get("local_id")?;
            let hub_id: Option<String> = r.try_get("hub_id")?;
            let origin: String = r.try_get("origin")?;
            let raw: String = r.try_get("raw")?;
            let mut comment = if origin == "hub" {
                upload_from_hub(serde_json::from_str::<Comment>(&raw)?)
            } else {
                serde_json::from_str::<UploadComment>(&raw)?
            };
            if comment.id.is_none() {
                comment.id = hub_id;
            }
            out.push(LocalComment {
                id: LocalId(local.to_string()),
                comment,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl EventSink for SqliteMirror {
    async fn apply(&self, event: &SyncEvent) -> Result<(), HostError> {
        self.apply_page(std::slice::from_ref(event)).await
    }

    async fn apply_page(&self, events: &[SyncEvent]) -> Result<(), HostError> {
        let mut tx = self.pool.begin().await?;
        apply_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn map_ids(&self, pairs: &[(LocalId, String)]) -> Result<(), HostError> {
        let mut tx = self.pool.begin().await?;
        for chunk in pairs.chunks(CHUNK) {
            let parsed = chunk
                .iter()
                .map(|(l, h)| Ok((parse_local(Some(l))?, h.as_str())))
                .collect::<Result<Vec<(i64, &str)>, HostError>>()?;
            // Rows the hub's events created for these comments before the mapping was known
            // (a crash between an accepted upload and its mapping): rare, merged one by one.
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT local_id, hub_id FROM comments WHERE hub_id IN (");
            let mut sep = qb.separated(", ");
            for (_, h) in &parsed {
                sep.push_bind(*h);
            }
            qb.push(")");
            let holders: HashMap<String, i64> = qb
                .build()
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("hub_id")?, r.try_get("local_id")?)))
                .collect::<Result<_, sqlx::Error>>()?;
            for (local, hub) in &parsed {
                if let Some(other) = holders.get(*hub).filter(|o| **o != *local) {
                    merge_into(&mut tx, *other, *local).await?;
                }
            }
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("UPDATE comments SET hub_id = m.column2 FROM (");
            qb.push_values(&parsed, |mut b, (l, h)| {
                b.push_bind(*l).push_bind(*h);
            });
            qb.push(") AS m WHERE comments.local_id = m.column1");
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn resync_page(&self, comments: &[Comment], as_of: Millis) -> Result<(), HostError> {
        let rows: Vec<(&Comment, i64)> = comments.iter().map(|c| (c, as_of.0)).collect();
        let mut tx = self.pool.begin().await?;
        upsert_hub_comments(&mut tx, &rows, true).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn resync_finished(&self, present: &HashSet<String>) -> Result<(), HostError> {
        let rows = sqlx::query("SELECT local_id, hub_id FROM comments WHERE hub_id IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        let mut tx = self.pool.begin().await?;
        for r in rows {
            let hub: String = r.try_get("hub_id")?;
            if !present.contains(&hub) {
                let local: i64 = r.try_get("local_id")?;
                sqlx::query("DELETE FROM comments WHERE local_id = ?")
                    .bind(local)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
