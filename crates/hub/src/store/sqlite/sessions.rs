//! Admin page sessions on SQLite (see `Store::save_session`): one row each, written through the
//! writer's pool (sign-ins and a touch a minute per admin are no load for the group commit).

use super::*;

pub(super) async fn save_session(
    store: &SqliteStore,
    s: &SessionRecord,
    keep_anonymous: u64,
) -> StoreResult<()> {
    let mut tx = store.writer.begin().await?;
    sqlx::query(
        "INSERT OR REPLACE INTO admin_sessions (id, doc, anonymous, created_at, seen_at) \
         VALUES (?, ?, ?, ?, ?)",
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
             WHERE anonymous = 1 ORDER BY seen_at DESC, id LIMIT -1 OFFSET ?)",
        )
        .bind(i64::try_from(keep_anonymous).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn session(store: &SqliteStore, id: &str) -> StoreResult<Option<SessionRecord>> {
    let row = sqlx::query("SELECT * FROM admin_sessions WHERE id = ?")
        .bind(id)
        .fetch_optional(&store.reader)
        .await?;
    row.as_ref().map(session_from_row).transpose()
}

pub(super) async fn touch_session(store: &SqliteStore, id: &str, seen_at: i64) -> StoreResult<()> {
    sqlx::query("UPDATE admin_sessions SET seen_at = MAX(seen_at, ?) WHERE id = ?")
        .bind(seen_at)
        .bind(id)
        .execute(&store.writer)
        .await?;
    Ok(())
}

pub(super) async fn delete_session(store: &SqliteStore, id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM admin_sessions WHERE id = ?")
        .bind(id)
        .execute(&store.writer)
        .await?;
    Ok(())
}

pub(super) async fn delete_expired_sessions(
    store: &SqliteStore,
    seen_before: i64,
    created_before: i64,
) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM admin_sessions WHERE seen_at < ? OR created_at < ?")
        .bind(seen_before)
        .bind(created_before)
        .execute(&store.writer)
        .await?;
    Ok(done.rows_affected())
}
