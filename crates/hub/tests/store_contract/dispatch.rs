//! Which deliveries the dispatcher is offered (SPEC §2.2, ARCHITECTURE "per-comment delivery
//! order").
//!
//! For the lead: these call today's `due_deliveries(now, limit, exclude)`, which claims
//! nothing. When it becomes a claim with a lease (several nodes), keep each promise here —
//! only due ones, in due order; one delivery of a comment at a time, in change order, across
//! retries, cancel and manual retry — with "claimed by someone else, lease alive" in the place
//! of `exclude`, and add the claim's own: no delivery handed out twice while its lease lives,
//! handed out again once it expires.

use super::fixtures::*;
use fastcomments_hub::store::*;
use std::sync::Arc;

const FAR: i64 = T0 + 86_400_000;

async fn with_hooks(store: &dyn Store, id: &str) -> String {
    let t = tenant(store, id).await;
    store
        .put_webhook_config(&t, &hooks("*", "https://hooks.example", false), T0)
        .await
        .unwrap();
    t
}

async fn due(store: &dyn Store, now: i64, exclude: &[String]) -> Vec<String> {
    store
        .due_deliveries(now, 100, exclude)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect()
}

/// Only deliveries due by `now`, of every tenant, in due order, at most `limit`, without
/// the excluded (in flight) ones; `next_due_at` names the next one strictly later.
pub async fn only_due_deliveries_in_due_order(store: Arc<dyn Store>) {
    let a = with_hooks(&*store, "a").await;
    let b = with_hooks(&*store, "b").await;
    for (t, now) in [(&a, T0), (&b, T0 + 10), (&a, T0 + 20)] {
        let c = new_comment(t, "/p", "c");
        store
            .apply(t, Change::CreateComment(Box::new(c)), now)
            .await
            .unwrap();
    }
    let mut d = deliveries_oldest_first(&*store, &a).await;
    d.insert(1, deliveries_oldest_first(&*store, &b).await.remove(0));
    let id = |i: usize| d[i].id.clone();

    assert_eq!(due(&*store, T0 - 1, &[]).await, Vec::<String>::new());
    assert_eq!(due(&*store, T0 + 15, &[]).await, vec![id(0), id(1)]);
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(0), id(1), id(2)]);
    let limited = store.due_deliveries(FAR, 2, &[]).await.unwrap();
    assert_eq!(limited, d[..2]);
    assert_eq!(due(&*store, FAR, &[id(0)]).await, vec![id(1), id(2)]);
    assert_eq!(store.next_due_at(T0).await.unwrap(), Some(T0 + 10));
    assert_eq!(store.next_due_at(T0 + 20).await.unwrap(), None);

    // A retry later than the others goes to the back.
    let retry = outcome(&d[0], 1, DeliveryStatus::Retrying, T0 + 50);
    store.record_attempts(&[retry], T0 + 1).await.unwrap();
    assert_eq!(due(&*store, T0 + 30, &[]).await, vec![id(1), id(2)]);
    assert_eq!(due(&*store, T0 + 50, &[]).await, vec![id(1), id(2), id(0)]);
    assert_eq!(store.next_due_at(T0 + 20).await.unwrap(), Some(T0 + 50));
    let done: Vec<AttemptOutcome> = d
        .iter()
        .map(|d| outcome(d, 2, DeliveryStatus::Succeeded, 0))
        .collect();
    store.record_attempts(&done, T0 + 60).await.unwrap();
    assert!(due(&*store, FAR, &[]).await.is_empty());
    assert_eq!(store.next_due_at(0).await.unwrap(), None);
}

/// A comment's deliveries are offered one at a time, in the order of its changes: a later one
/// waits while an earlier one is pending (queued, retrying, or in flight), even when the
/// earlier one's retry is not due yet. Other comments do not wait.
pub async fn one_comment_at_a_time_in_change_order(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "v0").await;
    edit(&*store, &t, &c.id, "v1", T0 + 1).await;
    edit(&*store, &t, &c.id, "v2", T0 + 2).await;
    store
        .apply(&t, Change::DeleteComment { id: c.id.clone() }, T0 + 3)
        .await
        .unwrap();
    let of_c = deliveries_oldest_first(&*store, &t).await;
    assert_eq!(of_c.len(), 4);
    let other = create(&*store, &t, "/p", "independent").await;
    let other = store
        .deliveries(&t, None, Some(&other.id), 1)
        .await
        .unwrap()
        .remove(0);
    let id = |i: usize| of_c[i].id.clone();

    assert_eq!(due(&*store, FAR, &[]).await, vec![id(0), other.id.clone()]);
    assert_eq!(
        due(&*store, FAR, &[id(0)]).await,
        vec![other.id.clone()],
        "the update was offered while its create was in flight"
    );

    let retry = outcome(&of_c[0], 1, DeliveryStatus::Retrying, T0 + 100);
    store.record_attempts(&[retry], T0 + 5).await.unwrap();
    assert_eq!(due(&*store, T0 + 50, &[]).await, vec![other.id.clone()]);
    assert_eq!(due(&*store, T0 + 100, &[]).await, vec![other.id, id(0)]);

    let steps = [
        (0, DeliveryStatus::Succeeded, 1),
        (1, DeliveryStatus::Failed, 2),
        (2, DeliveryStatus::Succeeded, 3),
    ];
    for (i, status, next) in steps {
        let o = outcome(&of_c[i], 2, status, 0);
        store.record_attempts(&[o], T0 + 200).await.unwrap();
        let offered = due(&*store, FAR, &[]).await;
        assert!(
            offered.contains(&id(next)),
            "after {i} {status:?}: {offered:?}"
        );
        for later in next + 1..4 {
            assert!(!offered.contains(&id(later)), "{later} overtook {next}");
        }
    }
}

/// Cancelling a delivery lets the comment's next one go; retrying an earlier one by hand
/// holds the later ones back again until it is done.
pub async fn order_holds_across_cancel_and_manual_retry(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "v0").await;
    edit(&*store, &t, &c.id, "v1", T0 + 1).await;
    store
        .apply(&t, Change::DeleteComment { id: c.id.clone() }, T0 + 2)
        .await
        .unwrap();
    let d = deliveries_oldest_first(&*store, &t).await;
    let id = |i: usize| d[i].id.clone();
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(0)]);

    store.cancel_delivery(&t, &id(0), T0 + 10).await.unwrap();
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(1)]);
    store.retry_delivery(&t, &id(0), T0 + 11, 3).await.unwrap();
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(0)]);
    let sent = outcome(&d[0], 1, DeliveryStatus::Succeeded, 0);
    store.record_attempts(&[sent], T0 + 12).await.unwrap();
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(1)]);

    store.cancel_delivery(&t, &id(1), T0 + 13).await.unwrap();
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(2)]);
    store.retry_delivery(&t, &id(1), T0 + 14, 3).await.unwrap();
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(1)]);
    assert_eq!(due(&*store, FAR, &[id(1)]).await, Vec::<String>::new());
    let sent = outcome(&d[1], 1, DeliveryStatus::Succeeded, 0);
    store.record_attempts(&[sent], T0 + 15).await.unwrap();
    assert_eq!(due(&*store, FAR, &[]).await, vec![id(2)]);
}
