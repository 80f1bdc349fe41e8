//! Telling the other nodes: `pg_notify` inside the writing transaction (PostgreSQL delivers it
//! at commit, and not at all on rollback) and one listening connection per node that turns
//! notifications back into [`Notice`]s.

use crate::records::Notice;
use crate::store::StoreResult;
use sqlx::postgres::PgConnection;
use sqlx::postgres::PgListener;
use sqlx::postgres::PgPool;
use std::time::Duration;
use tokio::sync::broadcast;

/// The channel every node listens on.
pub(super) const CHANNEL: &str = "fastcomments_hub";

/// Queues `notice` for the other nodes; sent when `conn`'s transaction commits.
pub(super) async fn announce(conn: &mut PgConnection, notice: &Notice) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(serde_json::to_string(notice)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Starts the listener: notices go to `notices`; a dropped connection sends [`Notice::Lost`]
/// (what it missed is unknown) and reconnects. The task ends when the pool is closed.
pub(super) async fn spawn_listener(
    pool: PgPool,
    notices: broadcast::Sender<Notice>,
) -> StoreResult<()> {
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<Notice>(n.payload()) {
                    Ok(notice) => {
                        let _ = notices.send(notice);
                    }
                    Err(e) => tracing::warn!(error = %e, "an unreadable hub notice was ignored"),
                },
                Ok(None) => {
                    tracing::warn!("the PostgreSQL notice connection dropped; reconnecting");
                    let _ = notices.send(Notice::Lost);
                }
                Err(sqlx::Error::PoolClosed) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "listening for hub notices failed; retrying");
                    let _ = notices.send(Notice::Lost);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(())
}
