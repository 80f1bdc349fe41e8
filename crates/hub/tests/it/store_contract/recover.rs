//! Recover (issue 23 §3): the deliveries a target was sent from a time on are queued again as
//! copies, a page per call, each at its change's position in its comment's stream, so the
//! stream's head is still its earliest waiting delivery; one recover per target at a time.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{Millis, WebhookEventKind};
use std::sync::Arc;

fn recovery(id: &str, tenant: &TenantId, target: RecoverTarget, since: i64) -> Recovery {
    Recovery {
        id: id.to_owned(),
        tenant_id: tenant.to_owned(),
        target,
        since,
        until: T0 + 1_000_000,
        cursor: (since, String::new()),
        queued: 0,
        started_at: T0,
        finished_at: None,
    }
}

/// Every waiting delivery of `tenant` marked succeeded (what a receiver answering 200 does).
async fn deliver_all(store: &dyn Store, tenant: &TenantId) {
    let all = deliveries_oldest_first(store, tenant).await;
    let outcomes: Vec<AttemptOutcome> = all
        .iter()
        .filter(|d| d.status.is_pending())
        .map(|d| outcome(d, 1, DeliveryStatus::Succeeded, 0))
        .collect();
    record(store, &outcomes, T0 + 10).await;
}

fn is_conflict<T: std::fmt::Debug>(r: StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

/// Two comments' changes went to a subscription (and the `*` configuration); the subscription's
/// receiver lost them. A recover since the second change copies the subscription's deliveries
/// from it on, in pages of 2, with their positions, kinds and bodies, naming the copied ones;
/// the configuration's deliveries are not touched; each stream's earliest copy is its ready head.
pub async fn a_recover_copies_what_the_target_was_sent_in_pages(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    configure(&*store, &t, &hooks("*", "https://conf.example", false)).await;
    store
        .create_subscription(&subscription("s1", &t, "https://sub.example/hook"))
        .await
        .unwrap();
    let a = create(&*store, &t, "/p", "a0").await;
    let b = create(&*store, &t, "/p", "b0").await;
    edit(&*store, &t, &a.id, "a1", T0 + 1).await;
    edit(&*store, &t, &b.id, "b1", T0 + 2).await;
    edit(&*store, &t, &a.id, "a2", T0 + 3).await;
    deliver_all(&*store, &t).await;
    let originals: Vec<Delivery> = deliveries_oldest_first(&*store, &t)
        .await
        .into_iter()
        .filter(|d| d.subscription_id == "s1")
        .collect();
    assert_eq!(originals.len(), 5);
    let mut sorted = originals.clone();
    sorted.sort_by_key(|d| d.position);
    let since = sorted[1].position;
    let wanted: Vec<&Delivery> = sorted.iter().filter(|d| d.position >= since).collect();

    let target = RecoverTarget::Subscription("s1".into());
    let r = recovery("r1", &t, target.clone(), since);
    let lease = Millis(T0 + 60_000);
    store.begin_recovery(&r, Millis(T0), lease).await.unwrap();
    // While it queues, a second recover of the target is refused; another target's is not.
    let again = recovery("r2", &t, target.clone(), since);
    assert!(is_conflict(
        store.begin_recovery(&again, Millis(T0 + 1), lease).await
    ));
    let mut pages = 0;
    let mut now = r.clone();
    while now.finished_at.is_none() {
        now = store
            .recover_page(&now, 2, Millis(T0 + 20), lease)
            .await
            .unwrap();
        pages += 1;
        assert!(pages <= 3, "2 pages of 2 and one that finds none at most");
    }
    // Finished with its last copies, not by a page after them that finds nothing: until it
    // is, a second recover of the target is refused.
    assert_eq!(
        pages, 2,
        "the page that queued the last copies finished the recover"
    );
    assert_eq!(now.queued, wanted.len() as u64);

    let all = deliveries_oldest_first(&*store, &t).await;
    let mut copies: Vec<&Delivery> = all.iter().filter(|d| d.recovered_from.is_some()).collect();
    copies.sort_by_key(|d| d.position);
    assert_eq!(copies.len(), wanted.len());
    for (copy, original) in copies.iter().zip(&wanted) {
        assert_eq!(copy.recovered_from.as_deref(), Some(original.id.as_str()));
        assert_eq!(copy.message_id(), original.id);
        assert_ne!(copy.id, original.id);
        assert_eq!(
            (copy.position, copy.kind, &copy.body, &copy.comment_id),
            (
                original.position,
                original.kind,
                &original.body,
                &original.comment_id
            )
        );
        assert_eq!(copy.subscription_id, "s1");
        assert_eq!(copy.status, DeliveryStatus::Queued);
        // The rest of the change is the original's; where it goes is the target's now.
        assert_eq!(
            (&copy.tenant_id, &copy.domain, &copy.config_domain),
            (
                &original.tenant_id,
                &original.domain,
                &original.config_domain
            )
        );
        assert_eq!(
            (copy.url.as_str(), copy.method, copy.legacy_token),
            ("https://sub.example/hook", original.method, false)
        );
        assert_eq!(copy.target_host, original.target_host);
        assert_eq!((copy.attempts, copy.created_at), (0, T0 + 20));
    }
    // Each comment's earliest copy is ready, the later ones wait for it.
    for c in [&a.id, &b.id] {
        let stream: Vec<bool> = copies
            .iter()
            .filter(|d| &d.comment_id == c)
            .map(|d| d.ready)
            .collect();
        assert_eq!(stream.first(), Some(&true), "{stream:?}");
        assert!(stream[1..].iter().all(|r| !r), "{stream:?}");
    }
    // While its copies wait, the target's recover still runs.
    let later = recovery("r3", &t, target, since);
    assert!(is_conflict(
        store
            .begin_recovery(&later, Millis(T0 + 100_000), lease)
            .await
    ));
    // Once they are sent, it may run again.
    deliver_all(&*store, &t).await;
    store
        .begin_recovery(&later, Millis(T0 + 100_000), lease)
        .await
        .unwrap();
}

/// A configuration's recover copies its domain's deliveries of the configurations' stream
/// only, waiting ones too, and a copy of an earlier change goes before a later change still
/// waiting in its stream (that one stops being the head).
pub async fn a_copy_goes_before_a_later_waiting_change(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    configure(&*store, &t, &hooks("*", "https://conf.example", false)).await;
    let a = create(&*store, &t, "/p", "a0").await;
    deliver_all(&*store, &t).await;
    edit(&*store, &t, &a.id, "a1", T0 + 5).await;
    let waiting = deliveries_oldest_first(&*store, &t).await;
    assert!(waiting.last().unwrap().ready);
    let r = recovery("r1", &t, RecoverTarget::Config("*".into()), T0 - 1);
    let lease = Millis(T0 + 60_000);
    store.begin_recovery(&r, Millis(T0), lease).await.unwrap();
    let done = store
        .recover_page(&r, 100, Millis(T0 + 20), lease)
        .await
        .unwrap();
    assert!(done.finished_at.is_some());
    // Both changes are copied, the waiting update too (it may be in flight, and lost).
    assert_eq!(done.queued, 2);
    let all = deliveries_oldest_first(&*store, &t).await;
    let copy = all
        .iter()
        .find(|d| d.recovered_from.is_some() && d.kind == WebhookEventKind::Create)
        .unwrap();
    assert!(copy.ready);
    let updates: Vec<&Delivery> = all
        .iter()
        .filter(|d| d.kind == WebhookEventKind::Update)
        .collect();
    assert_eq!(updates.len(), 2);
    assert!(
        updates.iter().all(|u| !u.ready),
        "the later change and its copy wait for the copy of the earlier one"
    );
    // Another domain's configuration recovers nothing of `*`'s.
    let other = recovery(
        "r2",
        &t,
        RecoverTarget::Config("example.com".into()),
        T0 - 1,
    );
    store
        .begin_recovery(&other, Millis(T0), lease)
        .await
        .unwrap();
    let none = store
        .recover_page(&other, 100, Millis(T0 + 20), lease)
        .await
        .unwrap();
    assert_eq!(none.queued, 0);
}

/// A recover whose node stopped (its lease ran out) leaves the target free; the old one then
/// queues nothing more. Another tenant's deliveries are never copied.
pub async fn a_stopped_recover_frees_its_target(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let u = tenant(&*store, "t2").await;
    for x in [&t, &u] {
        store
            .create_subscription(&subscription(
                &format!("s-{}", x.as_str()),
                x,
                "https://sub.example/hook",
            ))
            .await
            .unwrap();
        create(&*store, x, "/p", "x").await;
        deliver_all(&*store, x).await;
    }
    let target = RecoverTarget::Subscription("s-t1".into());
    let old = recovery("r1", &t, target.clone(), T0 - 1);
    store
        .begin_recovery(&old, Millis(T0), Millis(T0 + 1_000))
        .await
        .unwrap();
    let new = recovery("r2", &t, target, T0 - 1);
    assert!(is_conflict(
        store
            .begin_recovery(&new, Millis(T0 + 999), Millis(T0 + 5_000))
            .await
    ));
    store
        .begin_recovery(&new, Millis(T0 + 1_000), Millis(T0 + 5_000))
        .await
        .unwrap();
    let stale = store
        .recover_page(&old, 100, Millis(T0 + 1_001), Millis(T0 + 5_000))
        .await
        .unwrap();
    assert!(stale.finished_at.is_some());
    assert_eq!(stale.queued, 0);
    let done = store
        .recover_page(&new, 100, Millis(T0 + 1_001), Millis(T0 + 5_000))
        .await
        .unwrap();
    assert_eq!(done.queued, 1);
    // Tenant t2's subscription id named under t1 finds nothing of t2's.
    let foreign = recovery("r3", &t, RecoverTarget::Subscription("s-t2".into()), T0 - 1);
    store
        .begin_recovery(&foreign, Millis(T0), Millis(T0 + 5_000))
        .await
        .unwrap();
    let none = store
        .recover_page(&foreign, 100, Millis(T0), Millis(T0 + 5_000))
        .await
        .unwrap();
    assert_eq!(none.queued, 0);
    let copies_of_u = deliveries_oldest_first(&*store, &u)
        .await
        .into_iter()
        .filter(|d| d.recovered_from.is_some())
        .count();
    assert_eq!(copies_of_u, 0);
}
