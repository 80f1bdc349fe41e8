//! Steps 1–4 of the integrations-core README, run the way a plugin runs them: the real hub on
//! loopback, `fastcomments-integration` with a `SqliteMirror` and a JSON state file, both
//! protocol generations. Every check compares data, not counts.

use crate::sync_support;

use fastcomments_hub::HubConfig;
use fastcomments_integration::{
    Config, Integration, JsonFileStateStore, Phase, Protocol, RetryPolicy, SqliteMirror, StateStore,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use sync_support::{assert_mirror_equals_hub, local_comments, TestHub};

fn config(hub: &TestHub, protocol: Protocol) -> Config {
    let mut c = Config::new(hub.base.clone());
    c.protocol = protocol;
    c.integration_type = Some("e2e-test".into());
    c.setup_poll_interval = Duration::from_millis(20);
    c.max_batch = 40;
    c.retry = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    c
}

async fn steps_1_to_4(protocol: Protocol) {
    let hub = TestHub::start(HubConfig {
        initial_batch_size: 25,
        page_size: 7,
        ..HubConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mirror = SqliteMirror::open(&dir.path().join("mirror.db"))
        .await
        .unwrap();
    let local = local_comments(120);
    mirror.import(local.clone()).await.unwrap();
    let state_path = dir.path().join("state.json");
    let store = Arc::new(JsonFileStateStore::new(&state_path));
    let mut integration = Integration::new(
        config(&hub, protocol),
        store.clone(),
        Arc::new(mirror.clone()),
        Arc::new(mirror.clone()),
    )
    .await
    .unwrap();

    // Step 1: a fresh CSPRNG token, registered and pending.
    let outcome = integration.tick().await.unwrap();
    assert_eq!(outcome.phase, Phase::AwaitingAcknowledgement);
    let saved = store.load().await.unwrap().unwrap();
    let token = saved.token.clone().unwrap();
    let uuid = uuid::Uuid::parse_str(&token).unwrap();
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(saved.tenant_id, None);
    let listed = hub.integrations().await;
    assert!(
        listed.iter().all(|i| i["token"] != token.as_str()),
        "a pending token is not the tenant's yet"
    );
    assert!(integration.setup_url().unwrap().ends_with(&format!(
        "/auth/my-account/integrations/v1/setup?token={token}"
    )));
    assert_eq!(
        integration.tick().await.unwrap().phase,
        Phase::AwaitingAcknowledgement
    );

    // Step 2: acknowledged → the tenant id is stored.
    hub.acknowledge(&token, false).await;
    let mut phase = integration.tick().await.unwrap().phase;
    let saved = store.load().await.unwrap().unwrap();
    assert_eq!(saved.tenant_id.as_deref(), Some(hub.tenant_id.as_str()));
    assert_eq!(saved.token.as_deref(), Some(token.as_str()));

    // Step 3: every local comment arrived exactly once, with its content.
    for _ in 0..20 {
        if phase == Phase::SetupCompleted {
            break;
        }
        phase = integration.tick().await.unwrap().phase;
    }
    assert_eq!(phase, Phase::SetupCompleted);
    let on_hub = hub.comments().await;
    assert_eq!(on_hub.len(), local.len(), "each comment exactly once");
    let by_ext: HashMap<&str, &fastcomments_protocol::Comment> = on_hub
        .iter()
        .map(|c| (c.external_id.as_deref().unwrap(), c))
        .collect();
    for l in &local {
        let h = by_ext[l.external_id.as_deref().unwrap()];
        assert_eq!(h.comment, l.comment);
        assert_eq!(Some(&h.commenter_name), l.commenter_name.as_ref());
        assert_eq!(Some(&h.url_id), l.url_id.as_ref());
        assert_eq!(Some(h.date), l.date);
    }
    let reply = by_ext["reply-1"];
    let root = by_ext["root-1"];
    assert_eq!(
        reply.parent_id.as_deref(),
        Some(root.id.as_str()),
        "reply linked to the later parent"
    );
    assert_eq!(reply.date, root.date, "equal dates kept");
    assert_eq!((root.votes, root.votes_up, root.votes_down), (2, 3, 1));
    assert_mirror_equals_hub(&mirror, &hub).await;
    let integ = hub.integrations().await;
    let me = integ.iter().find(|i| i["token"] == token.as_str()).unwrap();
    assert_eq!(me["commentsReceived"], local.len());
    assert_eq!(me["uploadFinished"], true);

    // Step 4: changes made through the hub's API reach the mirror.
    let fresh = hub
        .create_comment("post/1", "Neu: 新しいコメント ✨", None)
        .await;
    let answer = hub
        .create_comment("post/1", "a reply to an uploaded comment", Some(&root.id))
        .await;
    hub.edit_comment(&root.id, "Корень, отредактирован").await;
    hub.edit_comment(&fresh.id, "Neu, bearbeitet ✓").await;
    let gone = by_ext["f-7"].id.clone();
    hub.delete_comment(&gone).await;
    let up = hub.vote(&root.id, 1, "u1").await;
    hub.vote(&root.id, -1, "u2").await;
    hub.vote(&fresh.id, 1, "u1").await;
    hub.vote(&answer.id, 1, "u3").await;
    let v = hub.vote(&reply.id, -1, "u4").await;
    hub.delete_vote(&v).await;
    hub.delete_vote(&up).await;
    let voted_then_deleted = by_ext["f-8"].id.clone();
    hub.vote(&voted_then_deleted, 1, "u1").await;
    hub.delete_comment(&voted_then_deleted).await;

    let outcome = integration.tick().await.unwrap();
    assert!(outcome.events_applied >= 12, "{outcome:?}");
    assert_mirror_equals_hub(&mirror, &hub).await;
    let rows = mirror.comments().await.unwrap();
    let root_row = rows
        .iter()
        .find(|r| r.hub_id.as_deref() == Some(&root.id))
        .unwrap();
    assert_eq!(root_row.comment, "Корень, отредактирован");
    assert_eq!(
        (root_row.votes, root_row.votes_up, root_row.votes_down),
        (Some(1), Some(3), Some(2))
    );
    assert!(rows
        .iter()
        .all(|r| r.hub_id.as_deref() != Some(gone.as_str())));

    // Nothing new: a tick applies nothing and changes nothing.
    let before = store.load().await.unwrap();
    let outcome = integration.tick().await.unwrap();
    assert_eq!(outcome.events_applied, 0);
    assert_eq!(outcome.uploaded, 0);
    assert_eq!(
        store.load().await.unwrap().map(|s| s.cursor),
        before.map(|s| s.cursor)
    );
    assert_mirror_equals_hub(&mirror, &hub).await;
}

on_both_protocols!(steps_1_to_4: steps_1_to_4_stream_protocol, steps_1_to_4_commands_protocol);

/// The admin skips the initial upload: nothing is sent, setup completes, events still flow.
#[tokio::test]
async fn skipped_initial_sync_uploads_nothing() {
    let hub = TestHub::start(HubConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mirror = SqliteMirror::open(&dir.path().join("m.db")).await.unwrap();
    let store = Arc::new(JsonFileStateStore::new(dir.path().join("s.json")));
    let mut integration = Integration::new(
        config(&hub, Protocol::Commands),
        store,
        Arc::new(mirror.clone()),
        Arc::new(mirror.clone()),
    )
    .await
    .unwrap();
    integration.tick().await.unwrap();
    let token = integration.state().token.clone().unwrap();
    hub.create_comment("p", "before the integration existed", None)
        .await;
    hub.acknowledge(&token, true).await;
    let outcome = integration.tick().await.unwrap();
    assert_eq!(outcome.phase, Phase::SetupCompleted);
    assert_eq!(outcome.uploaded, 0);
    assert_mirror_equals_hub(&mirror, &hub).await;
}
