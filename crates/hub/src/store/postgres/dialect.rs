//! What the portable queries (`store/portable/`, compiled once per backend) need of
//! PostgreSQL: the store and connection types, its one pool, numbered placeholders, and the
//! few words of SQL in which it differs from SQLite.

use super::comments::{load_comment, upsert_comments};
use super::PostgresStore;
use crate::store::StoreResult;
use fastcomments_protocol::Comment;
use sqlx::postgres::{PgConnection, PgPool};
use std::borrow::Cow;

pub(super) use super::notify::announce;

pub(super) type Backend = PostgresStore;
pub(super) type Db = sqlx::Postgres;
pub(super) type Conn = PgConnection;

impl PostgresStore {
    /// Reads and writes share one pool: every node's connections are alike.
    pub(super) fn reads(&self) -> &PgPool {
        &self.pool
    }

    /// See [`PostgresStore::reads`].
    pub(super) fn writes(&self) -> &PgPool {
        &self.pool
    }
}

/// The portable statement with PostgreSQL's numbered placeholders: the n-th `?` becomes `$n`.
/// (The portable statements hold no `?` inside a string literal.)
pub(super) fn sql(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len() + 16);
    for (n, part) in text.split('?').enumerate() {
        if n > 0 {
            out.push('$');
            out.push_str(&n.to_string());
        }
        out.push_str(part);
    }
    Cow::Owned(out)
}

/// What ends a delivery's claim: the lease and the node that holds it (several nodes claim).
pub(super) const END_CLAIM: &str = "lease_until = NULL, claimed_by = NULL";

/// The larger of two values.
pub(super) const GREATEST: &str = "GREATEST";

/// Stores a session. On a conflict the row keeps its `created_at` and the later `seen_at`,
/// since two nodes may save one session at once.
pub(super) const SAVE_SESSION: &str =
    "INSERT INTO admin_sessions (id, doc, anonymous, created_at, seen_at) \
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, \
     anonymous = excluded.anonymous, seen_at = GREATEST(admin_sessions.seen_at, excluded.seen_at)";

/// Drops the anonymous sessions past the newest `?` (the flag is a boolean here).
pub(super) const TRIM_ANONYMOUS_SESSIONS: &str =
    "DELETE FROM admin_sessions WHERE id IN (SELECT id FROM admin_sessions \
     WHERE anonymous ORDER BY seen_at DESC, id OFFSET ?)";

/// A comment of the tenant; with `lock`, its row stays locked until the transaction ends, so
/// concurrent changes of one comment (on any node) apply one after the other.
pub(super) async fn read_comment(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
    lock: bool,
) -> StoreResult<Option<Comment>> {
    load_comment(conn, tenant, id, lock).await
}

/// Writes one changed comment.
pub(super) async fn save_comment(conn: &mut Conn, c: &Comment) -> StoreResult<()> {
    upsert_comments(conn, &[c]).await
}

/// Ends (`healthy`) or starts (from `first`, unless one runs) the failing streak of the
/// subscriptions of the deliveries `ids`, in one statement over an array.
pub(super) async fn set_failing_since(
    conn: &mut Conn,
    ids: &[&str],
    healthy: bool,
    first: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_subscriptions SET failing_since = CASE WHEN $1 THEN NULL \
         ELSE COALESCE(failing_since, $2) END \
         WHERE id IN (SELECT subscription_id FROM webhook_deliveries \
         WHERE subscription_id <> '' AND id = ANY($3))",
    )
    .bind(healthy)
    .bind(first)
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
