//! Two hub nodes over one database (what a PostgreSQL deployment runs; here two `RunningHub`s
//! share one store in one process): what node A commits reaches node B's answers once B's
//! caches may no longer be trusted (`HubConfig::cache_ttl`). With no TTL (the single-node
//! default that SQLite's serving lock guarantees), B keeps answering from its caches.

use crate::common;

use common::{code, TestHub};
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::{HubConfig, SystemClock};
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "two-nodes-token-0001";

/// What node B answered after node A's changes.
#[derive(Debug, PartialEq)]
struct SeenByB {
    /// The comment A created shows up in B's stream.
    new_event: bool,
    /// B refuses the token A revoked.
    token_refused: bool,
    /// B refuses the API secret A revoked.
    secret_refused: bool,
}

async fn node(store: Arc<SqliteStore>, cache_ttl: Option<Duration>) -> TestHub {
    let config = HubConfig {
        cache_ttl,
        ..common::admin_config()
    };
    let dir = tempfile::tempdir().unwrap();
    TestHub::over_store(store, config, Arc::new(SystemClock), dir).await
}

async fn changes_on_a_seen_by_b(cache_ttl: Option<Duration>) -> SeenByB {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("hub.db")).await.unwrap());
    let a = node(store.clone(), cache_ttl).await;
    let b = node(store, cache_ttl).await;

    let (t, extra_key, extra_id, cursor) = common::warm_two_nodes(&a, &b, TOKEN).await;

    // A: a new comment, then the secret revoked.
    let created = a.comment(&t, "/shared/", "written on node A").await;
    let (s, _) = a.api(&t.key).delete_secret(&extra_id).await;
    assert_eq!(s, StatusCode::OK);

    let (events, _, _) = b.drain_stream(TOKEN, cursor).await;
    let new_event = events
        .iter()
        .any(|e| e.to_string().contains(created["_id"].as_str().unwrap()));
    let (s, _) = b.api(&extra_key).secrets().await;
    let secret_refused = s == StatusCode::UNAUTHORIZED;

    // A revokes the token.
    let (s, _) = a.api(&t.key).revoke(TOKEN).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = b
        .get(&format!(
            "/integrations/v1/stream?token={TOKEN}&lastFetchDate={cursor}"
        ))
        .await;
    let token_refused = (s, code(&v)) == (StatusCode::FORBIDDEN, "token-revoked");
    SeenByB {
        new_event,
        token_refused,
        secret_refused,
    }
}

#[tokio::test]
async fn with_a_cache_ttl_node_b_sees_what_node_a_committed() {
    // TTL zero: B never answers from a cache, so the outcome does not depend on timing.
    let seen = changes_on_a_seen_by_b(Some(Duration::ZERO)).await;
    assert_eq!(
        seen,
        SeenByB {
            new_event: true,
            token_refused: true,
            secret_refused: true,
        }
    );
}

#[tokio::test]
async fn without_a_ttl_node_b_trusts_its_caches_which_is_why_sqlite_serves_one_hub() {
    let seen = changes_on_a_seen_by_b(None).await;
    assert_eq!(
        seen,
        SeenByB {
            new_event: false,
            token_refused: false,
            secret_refused: false,
        }
    );
}
