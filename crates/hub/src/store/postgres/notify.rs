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

/// The session setting that names the node a connection belongs to (set at connect, see
/// `PostgresStore::connect_within`), so a notice says who sent it.
pub(super) const NODE_SETTING: &str = "fastcomments.node";

/// A notice as sent: with the node that committed it, so that node can ignore its own.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sent {
    from: Option<String>,
    notice: Notice,
}

/// Queues `notice` for the other nodes; sent when `conn`'s transaction commits, naming this
/// connection's node (its `fastcomments.node` setting).
pub(super) async fn announce(conn: &mut PgConnection, notice: &Notice) -> StoreResult<()> {
    sqlx::query(
        "SELECT pg_notify($1, json_build_object('from', current_setting($2, true), \
         'notice', $3::json)::text)",
    )
    .bind(CHANNEL)
    .bind(NODE_SETTING)
    .bind(serde_json::to_string(notice)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The notice in `payload` unless `node` sent it; a bare notice (a node of an older release)
/// is another node's.
fn from_others(payload: &str, node: &str) -> serde_json::Result<Option<Notice>> {
    match serde_json::from_str::<Sent>(payload) {
        Ok(sent) if sent.from.as_deref() == Some(node) => Ok(None),
        Ok(sent) => Ok(Some(sent.notice)),
        Err(_) => serde_json::from_str::<Notice>(payload).map(Some),
    }
}

/// Starts the listener: other nodes' notices go to `notices` (`node`'s own are dropped: this
/// node applied what it committed, and its own `Deliveries` woke its dispatcher a second
/// time for each write); a dropped connection sends [`Notice::Lost`] (what it missed is
/// unknown) and reconnects. The task ends when the pool is closed.
pub(super) async fn spawn_listener(
    pool: PgPool,
    notices: broadcast::Sender<Notice>,
    node: String,
) -> StoreResult<()> {
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match from_others(n.payload(), &node) {
                    Ok(Some(notice)) => {
                        let _ = notices.send(notice);
                    }
                    Ok(None) => {}
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

#[cfg(test)]
mod tests {
    use super::{from_others, Sent};
    use crate::records::Notice;

    /// Another node's notice is kept, this node's own dropped, and a bare one (an older
    /// release's) is another node's; anything else is an error.
    #[test]
    fn a_notice_is_kept_unless_this_node_sent_it() {
        let sent = |from: Option<&str>| {
            serde_json::to_string(&Sent {
                from: from.map(str::to_owned),
                notice: Notice::Deliveries,
            })
            .unwrap()
        };
        assert!(matches!(
            from_others(&sent(Some("b")), "a"),
            Ok(Some(Notice::Deliveries))
        ));
        assert!(matches!(from_others(&sent(Some("a")), "a"), Ok(None)));
        assert!(matches!(
            from_others(&sent(None), "a"),
            Ok(Some(Notice::Deliveries))
        ));
        let bare = serde_json::to_string(&Notice::Pruned).unwrap();
        assert!(matches!(from_others(&bare, "a"), Ok(Some(Notice::Pruned))));
        assert!(from_others("{\"nonsense\": 1}", "a").is_err());
    }
}
