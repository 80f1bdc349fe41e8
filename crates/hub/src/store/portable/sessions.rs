//! Admin page sessions (see `Store::save_session`) for both backends (compiled once in each:
//! see `portable/mod.rs`): one row each, so on PostgreSQL a session opened on one node is
//! known on every other; on SQLite they go through the writer's pool (sign-ins and a touch a
//! minute per admin are no load for the group commit).

use super::dialect::{sql, Backend, GREATEST, SAVE_SESSION, TRIM_ANONYMOUS_SESSIONS};
use crate::records::SessionRecord;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;

pub(in crate::store) async fn save_session(
    store: &Backend,
    s: &SessionRecord,
    keep_anonymous: u64,
) -> StoreResult<()> {
    let mut tx = store.writes().begin().await?;
    sqlx::query(&sql(SAVE_SESSION))
        .bind(&s.id)
        .bind(&s.doc)
        .bind(s.anonymous)
        .bind(s.created_at)
        .bind(s.seen_at)
        .execute(&mut *tx)
        .await?;
    if s.anonymous {
        sqlx::query(&sql(TRIM_ANONYMOUS_SESSIONS))
            .bind(i64::try_from(keep_anonymous).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(in crate::store) async fn touch_session(
    store: &Backend,
    id: &str,
    seen_at: Millis,
) -> StoreResult<()> {
    let text = format!("UPDATE admin_sessions SET seen_at = {GREATEST}(seen_at, ?) WHERE id = ?");
    sqlx::query(&sql(&text))
        .bind(seen_at.0)
        .bind(id)
        .execute(store.writes())
        .await?;
    Ok(())
}

pub(in crate::store) async fn delete_session(store: &Backend, id: &str) -> StoreResult<()> {
    sqlx::query(&sql("DELETE FROM admin_sessions WHERE id = ?"))
        .bind(id)
        .execute(store.writes())
        .await?;
    Ok(())
}

pub(in crate::store) async fn delete_expired_sessions(
    store: &Backend,
    seen_before: Millis,
    created_before: Millis,
) -> StoreResult<u64> {
    let done = sqlx::query(&sql(
        "DELETE FROM admin_sessions WHERE seen_at < ? OR created_at < ?",
    ))
    .bind(seen_before.0)
    .bind(created_before.0)
    .execute(store.writes())
    .await?;
    Ok(done.rows_affected())
}
