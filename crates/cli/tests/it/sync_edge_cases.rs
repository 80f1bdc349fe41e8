//! The integration against the real hub at its edges: a batch over the hub's body limit is
//! split (413), and a cursor older than the hub's retention (gapDetected) triggers a re-sync
//! that still ends with the mirror equal to the hub. Both protocol generations.

use crate::sync_support;

use fastcomments_hub::HubConfig;
use fastcomments_integration::{
    Config, Integration, MemoryStateStore, Phase, Progress, Protocol, RetryPolicy, SqliteMirror,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sync_support::{assert_mirror_equals_hub, local_comments, TestHub};

fn config(hub: &TestHub, protocol: Protocol, max_batch: usize) -> Config {
    let mut c = Config::new(hub.base.clone());
    c.protocol = protocol;
    c.max_batch = max_batch;
    c.retry = RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    c
}

/// An integration with `hub` in batches of 100, its state in memory, reading and writing
/// `mirror`.
async fn on_mirror(hub: &TestHub, protocol: Protocol, mirror: &SqliteMirror) -> Integration {
    Integration::new(
        config(hub, protocol, 100),
        Arc::new(MemoryStateStore::new()),
        Arc::new(mirror.clone()),
        Arc::new(mirror.clone()),
    )
    .await
    .unwrap()
}

async fn split_on_413(protocol: Protocol) {
    let hub = TestHub::start(HubConfig {
        upload_limit_bytes: 6 * 1024,
        initial_batch_size: 100,
        ..HubConfig::default()
    })
    .await;
    let mirror = SqliteMirror::in_memory().await.unwrap();
    let local = local_comments(300);
    mirror.import(local.clone()).await.unwrap();
    let mut i = on_mirror(&hub, protocol, &mirror).await;
    i.tick().await.unwrap();
    hub.acknowledge(i.state().token.as_deref().unwrap(), false)
        .await;
    let mut phase = Phase::Syncing;
    for _ in 0..5 {
        phase = i.tick().await.unwrap().phase;
        if phase == Phase::SetupCompleted {
            break;
        }
    }
    assert_eq!(phase, Phase::SetupCompleted);
    assert!(
        hub.running.hub.metrics.uploads_too_large.get() > 0,
        "no 413 was provoked"
    );
    let on_hub = hub.comments().await;
    assert_eq!(on_hub.len(), local.len());
    let me = hub.integrations().await;
    assert_eq!(me[0]["commentsReceived"], local.len());
    assert_eq!(i.state().upload.sent, local.len() as u64);
    assert_mirror_equals_hub(&mirror, &hub).await;
}

on_both_protocols!(split_on_413: oversized_batches_are_split_stream, oversized_batches_are_split_commands);

async fn gap_resync(protocol: Protocol) {
    let t0 = 1_763_880_000_000;
    let (hub, clock) = TestHub::start_manual(
        HubConfig {
            retention: Duration::from_secs(3600),
            ..HubConfig::default()
        },
        t0,
    )
    .await;
    let mirror = SqliteMirror::in_memory().await.unwrap();
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let log = seen.clone();
    let mut i = on_mirror(&hub, protocol, &mirror)
        .await
        .with_progress(Arc::new(move |p: &Progress| {
            log.lock().unwrap().push(p.clone())
        }));
    i.tick().await.unwrap();
    hub.acknowledge(i.state().token.as_deref().unwrap(), true)
        .await;
    let a = hub.create_comment("p", "A", None).await;
    let b = hub.create_comment("p", "B", None).await;
    let c = hub.create_comment("p", "C", Some(&a.id)).await;
    assert_eq!(i.tick().await.unwrap().phase, Phase::SetupCompleted);
    assert_mirror_equals_hub(&mirror, &hub).await;

    // While the site is away, changes happen and then fall out of the hub's retention.
    hub.create_comment("p", "D (missed)", None).await;
    hub.edit_comment(&a.id, "A, edited (missed)").await;
    hub.delete_comment(&b.id).await;
    hub.vote(&c.id, 1, "u").await;
    clock.advance(2 * 3600 * 1000);
    hub.create_comment("p", "E (kept)", None).await;
    let (_, pruned) = hub.running.hub.run_maintenance().await.unwrap();
    assert!(pruned >= 4);

    i.tick().await.unwrap();
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|p| matches!(p, Progress::GapDetected { .. })));
    assert!(!i.state().resync_pending);
    assert_mirror_equals_hub(&mirror, &hub).await;
    let texts: Vec<String> = mirror
        .comments()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.comment)
        .collect();
    assert!(texts.contains(&"D (missed)".to_owned()));
    assert!(!texts.contains(&"B".to_owned()));
}

on_both_protocols!(gap_resync: gap_detected_resyncs_stream, gap_detected_resyncs_commands);

/// A revoked token stops the run loop with a fatal error; `forget_token` starts over with a
/// fresh token that waits for acknowledgement.
#[tokio::test]
async fn revoked_token_is_fatal_until_forgotten() {
    let hub = TestHub::start(HubConfig::default()).await;
    let mirror = SqliteMirror::in_memory().await.unwrap();
    let mut i = on_mirror(&hub, Protocol::Stream, &mirror).await;
    i.tick().await.unwrap();
    let old = i.state().token.clone().unwrap();
    hub.acknowledge(&old, true).await;
    assert_eq!(i.tick().await.unwrap().phase, Phase::SetupCompleted);
    hub.api(
        reqwest::Method::DELETE,
        &format!("/api/v1/integrations/{old}"),
        None,
    )
    .await;
    let err = i.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(err, fastcomments_integration::Error::TokenRevoked),
        "{err}"
    );
    i.forget_token().await.unwrap();
    assert_eq!(
        i.tick().await.unwrap().phase,
        Phase::AwaitingAcknowledgement
    );
    let new = i.state().token.clone().unwrap();
    assert_ne!(new, old);
    assert_eq!(i.state().cursor, 0);
}
