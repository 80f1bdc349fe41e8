//! Admin page sessions on PostgreSQL (see `Store::save_session`): one row each, so a session
//! opened on one node is known on every other.

use super::*;

pub(super) async fn save_session(
    store: &PostgresStore,
    s: &SessionRecord,
    keep_anonymous: u64,
) -> StoreResult<()> {
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "INSERT INTO admin_sessions (id, doc, anonymous, created_at, seen_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, \
         anonymous = excluded.anonymous, seen_at = GREATEST(admin_sessions.seen_at, excluded.seen_at)",
    )
    .bind(&s.id)
    .bind(&s.doc)
    .bind(s.anonymous)
    .bind(s.created_at)
    .bind(s.seen_at)
    .execute(&mut *tx)
    .await?;
    if s.anonymous {
        sqlx::query(
            "DELETE FROM admin_sessions WHERE id IN (SELECT id FROM admin_sessions \
             WHERE anonymous ORDER BY seen_at DESC, id OFFSET $1)",
        )
        .bind(i64::try_from(keep_anonymous).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn session(store: &PostgresStore, id: &str) -> StoreResult<Option<SessionRecord>> {
    let row = sqlx::query("SELECT * FROM admin_sessions WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(session_from_row).transpose()
}

pub(super) async fn touch_session(
    store: &PostgresStore,
    id: &str,
    seen_at: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE admin_sessions SET seen_at = GREATEST(seen_at, $1) WHERE id = $2")
        .bind(seen_at)
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn delete_session(store: &PostgresStore, id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM admin_sessions WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn delete_expired_sessions(
    store: &PostgresStore,
    seen_before: i64,
    created_before: i64,
) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM admin_sessions WHERE seen_at < $1 OR created_at < $2")
        .bind(seen_before)
        .bind(created_before)
        .execute(&store.pool)
        .await?;
    Ok(done.rows_affected())
}
