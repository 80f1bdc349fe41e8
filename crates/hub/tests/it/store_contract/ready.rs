//! What `ready` means (ARCHITECTURE "per-comment delivery order"): a comment's deliveries to
//! one subscription, or to the per-domain configurations (one stream between them), wait in
//! position order, and only the earliest waiting one (queued, retrying or paused) is ready;
//! only a ready delivery is claimed. Every call that changes which deliveries of a stream wait
//! leaves the stream's head ready when it returns (each call is one transaction): queuing,
//! recording a success or a final failure, cancelling, retrying by hand (one or all), pausing
//! and enabling a subscription.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::Millis;
use std::sync::Arc;

/// Longer than any claim's lease.
const LATER: i64 = 10 * 60_000;

/// A comment created and edited `edits` times: its deliveries in stream `stream`, in order.
async fn comment_with_changes(
    store: &dyn Store,
    t: &TenantId,
    edits: i64,
) -> (String, Vec<Delivery>) {
    let c = create(store, t, "/p", "v0").await;
    for i in 1..=edits {
        edit(store, t, &c.id, &format!("v{i}"), T0 + i).await;
    }
    let all = stream(store, t, &c.id, "").await;
    assert_eq!(all.len() as i64, edits + 1);
    (c.id, all)
}

/// The comment's deliveries in one stream, by position.
async fn stream(store: &dyn Store, t: &TenantId, comment: &str, sub: &str) -> Vec<Delivery> {
    let mut d: Vec<Delivery> = store
        .deliveries(t, None, Some(comment), 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.subscription_id == sub)
        .collect();
    d.sort_by_key(|d| d.position);
    d
}

/// Which of the stream's deliveries are ready, by position.
async fn ready(store: &dyn Store, t: &TenantId, comment: &str, sub: &str) -> Vec<bool> {
    stream(store, t, comment, sub)
        .await
        .iter()
        .map(|d| d.ready)
        .collect()
}

/// Everything due at `now` (claimed, then given back so the next claim sees it again).
async fn claimable(store: &dyn Store, now: i64) -> Vec<String> {
    let q = DueQuery {
        now: Millis(now),
        limit: 1_000,
        per_host: 1_000,
        exclude: &[],
        skip_hosts: &[],
        skip_tenants: &[],
        skip_subscriptions: &[],
        lease_ms: 60_000,
    };
    let ids = claimed_ids(store, &q).await;
    store.release_claims(&ids).await.unwrap();
    ids
}

/// The first delivery a comment's stream queues is ready; the ones queued while it waits are
/// not, and are not claimed, even when due and their host is idle.
pub async fn the_head_of_a_stream_is_ready_and_the_next_is_not(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "v0").await;
    assert_eq!(ready(&*store, &t, &c.id, "").await, [true]);
    edit(&*store, &t, &c.id, "v1", T0 + 1).await;
    edit(&*store, &t, &c.id, "v2", T0 + 2).await;
    assert_eq!(ready(&*store, &t, &c.id, "").await, [true, false, false]);
    let d = stream(&*store, &t, &c.id, "").await;
    assert_eq!(claimable(&*store, T0 + LATER).await, vec![d[0].id.clone()]);
    // Another comment's stream has a head of its own.
    let other = create(&*store, &t, "/p", "other").await;
    assert_eq!(ready(&*store, &t, &other.id, "").await, [true]);
}

/// Recording a success or a final failure, or cancelling the head, makes the next delivery
/// ready in that same call; a retry (still waiting) does not. A delivery ended before it was
/// the head (cancelled while waiting) hands nothing on, and is passed over.
pub async fn ending_the_head_makes_the_next_ready_at_once(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let (c, d) = comment_with_changes(&*store, &t, 4).await;
    let now = T0 + LATER;
    let retry = outcome(&d[0], 1, DeliveryStatus::Retrying, now + 100);
    record(&*store, &[retry], now).await;
    assert_eq!(
        ready(&*store, &t, &c, "").await,
        [true, false, false, false, false]
    );
    let sent = outcome(&d[0], 2, DeliveryStatus::Succeeded, 0);
    record(&*store, &[sent], now).await;
    assert!(ready(&*store, &t, &c, "").await[1], "after a success");
    let failed = outcome(&d[1], 1, DeliveryStatus::Failed, 0);
    record(&*store, &[failed], now).await;
    assert!(ready(&*store, &t, &c, "").await[2], "after a final failure");
    // Not the head: cancelling it leaves the head as it is and the stream skips it.
    cancel(&*store, &t, &d[3].id, now).await;
    assert_eq!(ready(&*store, &t, &c, "").await[2..], [true, false, false]);
    cancel(&*store, &t, &d[2].id, now).await;
    let after = stream(&*store, &t, &c, "").await;
    assert!(after[4].ready, "after a cancel: {after:?}");
    assert_eq!(claimable(&*store, now).await, vec![d[4].id.clone()]);
}

/// A comment's streams (each subscription, and the configurations) wait independently: a
/// head that does not end holds back only its own stream.
pub async fn streams_of_one_comment_are_independent(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    for (id, url) in [("a", "https://a.example/"), ("b", "https://b.example/")] {
        store
            .create_subscription(&subscription(id, &t, url))
            .await
            .unwrap();
    }
    let c = create(&*store, &t, "/p", "v0").await;
    edit(&*store, &t, &c.id, "v1", T0 + 1).await;
    for s in ["", "a", "b"] {
        assert_eq!(ready(&*store, &t, &c.id, s).await, [true, false], "{s:?}");
    }
    let now = T0 + LATER;
    let of_a = stream(&*store, &t, &c.id, "a").await;
    let sent = outcome(&of_a[0], 1, DeliveryStatus::Succeeded, 0);
    record(&*store, &[sent], now).await;
    assert!(ready(&*store, &t, &c.id, "a").await[1]);
    for s in ["", "b"] {
        assert_eq!(ready(&*store, &t, &c.id, s).await, [true, false], "{s:?}");
    }
    let mut due = claimable(&*store, now).await;
    due.sort();
    let mut heads = vec![of_a[1].id.clone()];
    for s in ["", "b"] {
        heads.push(stream(&*store, &t, &c.id, s).await[0].id.clone());
    }
    heads.sort();
    assert_eq!(due, heads);
}

/// A delivery retried by hand (alone or with every recent failure) waits in its stream at its
/// position again: earlier than every waiting one, it is the head again and the later ones
/// wait for it (if one of them is being sent, that attempt goes on); later than the head, it
/// waits its turn.
pub async fn a_retried_delivery_keeps_its_stream_in_order(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let (c, d) = comment_with_changes(&*store, &t, 3).await;
    let mut now = T0 + LATER;
    cancel(&*store, &t, &d[0].id, now).await;
    assert_eq!(ready(&*store, &t, &c, "").await[1..], [true, false, false]);
    store
        .retry_delivery(&t, &d[0].id, Millis(now), 3)
        .await
        .unwrap();
    assert_eq!(
        ready(&*store, &t, &c, "").await,
        [true, false, false, false]
    );
    assert_eq!(claimable(&*store, now).await, vec![d[0].id.clone()]);

    // Later than the head: it waits.
    cancel(&*store, &t, &d[2].id, now).await;
    let back = store
        .retry_delivery(&t, &d[2].id, Millis(now), 3)
        .await
        .unwrap();
    assert!(!back.ready);
    assert_eq!(
        ready(&*store, &t, &c, "").await,
        [true, false, false, false]
    );

    // Every recent failure at once: the earliest waiting one is the head.
    now += LATER;
    let failed = outcome(&d[0], 1, DeliveryStatus::Failed, 0);
    record(&*store, &[failed], now).await;
    assert_eq!(ready(&*store, &t, &c, "").await[1..], [true, false, false]);
    let failed = outcome(&d[1], 1, DeliveryStatus::Failed, 0);
    record(&*store, &[failed], now).await;
    assert_eq!(ready(&*store, &t, &c, "").await[2..], [true, false]);
    let retried = store
        .retry_failed_since(&t, Millis(now), Millis(now + 1), 3)
        .await
        .unwrap();
    assert_eq!(retried, 2);
    assert_eq!(
        ready(&*store, &t, &c, "").await,
        [true, false, false, false]
    );
    assert_eq!(claimable(&*store, now + 1).await, vec![d[0].id.clone()]);
}

/// A disabled subscription's deliveries (and those queued while it is disabled) are paused in
/// their streams' order and never claimed; enabled, each stream goes on from its head, in
/// order. The configurations' stream of the same comment is not held back meanwhile.
pub async fn a_paused_stream_resumes_in_order(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    store
        .create_subscription(&subscription("s", &t, "https://s.example/"))
        .await
        .unwrap();
    let c = create(&*store, &t, "/p", "v0").await;
    edit(&*store, &t, &c.id, "v1", T0 + 1).await;
    let mut now = T0 + LATER;
    store
        .set_subscription_enabled(&t, "s", false, Some("test"), Millis(now))
        .await
        .unwrap();
    edit(&*store, &t, &c.id, "v2", now + 1).await;
    let paused = stream(&*store, &t, &c.id, "s").await;
    assert!(
        paused.iter().all(|d| d.status == DeliveryStatus::Paused),
        "{paused:?}"
    );
    assert_eq!(
        paused.iter().map(|d| d.ready).collect::<Vec<_>>(),
        [true, false, false]
    );
    let config_head = stream(&*store, &t, &c.id, "").await[0].id.clone();
    assert_eq!(claimable(&*store, now + 2).await, vec![config_head]);

    now += LATER;
    store
        .set_subscription_enabled(&t, "s", true, None, Millis(now))
        .await
        .unwrap();
    let resumed = stream(&*store, &t, &c.id, "s").await;
    assert!(resumed.iter().all(|d| d.status.is_pending()), "{resumed:?}");
    assert_eq!(
        resumed.iter().map(|d| d.ready).collect::<Vec<_>>(),
        [true, false, false]
    );
    let due = claimable(&*store, now).await;
    assert!(due.contains(&resumed[0].id), "{due:?}");
    for later in &resumed[1..] {
        assert!(!due.contains(&later.id), "{due:?}");
    }
    for (i, d) in resumed.iter().enumerate() {
        let sent = outcome(d, 1, DeliveryStatus::Succeeded, 0);
        record(&*store, &[sent], now).await;
        if let Some(next) = resumed.get(i + 1) {
            assert!(claimable(&*store, now).await.contains(&next.id));
        }
    }
}
