//! Which deliveries a dispatcher is handed (SPEC §2.2, ARCHITECTURE "per-comment delivery
//! order", "delivery claims").
//!
//! `due_deliveries` is a claim: what it hands out is not handed out again while the claim's
//! lease lives (another node, or this one, is sending it), and is handed out again once the
//! lease ends without a recorded attempt (its sender died). Within that: only due ones, in
//! due order; one delivery of a comment at a time, in change order, across retries, cancel
//! and manual retry.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::Millis;
use std::sync::Arc;

/// Longer than any claim's lease: a call this much later finds every earlier claim ended.
const LEASE_GONE: i64 = 10 * 60_000;

/// The claim's lease in these promises (shorter than [`LEASE_GONE`]).
const LEASE: i64 = 60_000;

/// A claim at `now` of at most `limit`, with no per-host limit and nothing skipped.
fn query<'a>(now: i64, limit: u64, exclude: &'a [String]) -> DueQuery<'a> {
    DueQuery {
        now: Millis(now),
        limit,
        per_host: 1_000,
        exclude,
        skip_hosts: &[],
        skip_tenants: &[],
        skip_subscriptions: &[],
        lease_ms: LEASE,
    }
}

async fn due(store: &dyn Store, now: i64, exclude: &[String]) -> Vec<String> {
    store
        .due_deliveries(&query(now, 100, exclude))
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect()
}

/// Only deliveries due by `now`, of every tenant, in due order, at most `limit`, without
/// the excluded ones; `next_due_at` names the next one strictly later.
pub async fn only_due_deliveries_in_due_order(store: Arc<dyn Store>) {
    let a = with_hooks(&*store, "a").await;
    let b = with_hooks(&*store, "b").await;
    for (t, now) in [(&a, T0), (&b, T0 + 10), (&a, T0 + 20)] {
        let c = new_comment(t, "/p", "c");
        store
            .apply(t, Change::CreateComment(Box::new(c)), Millis(now))
            .await
            .unwrap();
    }
    let mut d = deliveries_oldest_first(&*store, &a).await;
    d.insert(1, deliveries_oldest_first(&*store, &b).await.remove(0));
    let id = |i: usize| d[i].id.clone();
    assert_eq!(
        store.next_due_at(Millis(T0)).await.unwrap(),
        Some(Millis(T0 + 10))
    );

    assert_eq!(due(&*store, T0 - 1, &[]).await, Vec::<String>::new());
    assert_eq!(due(&*store, T0 + 15, &[]).await, vec![id(0), id(1)]);
    let mut now = T0 + LEASE_GONE;
    let limited = store.due_deliveries(&query(now, 2, &[])).await.unwrap();
    assert_eq!(
        limited.iter().map(|x| &x.id).collect::<Vec<_>>(),
        [&d[0].id, &d[1].id]
    );
    assert_eq!(limited[0].body, d[0].body);
    now += LEASE_GONE;
    assert_eq!(due(&*store, now, &[id(0)]).await, vec![id(1), id(2)]);

    // A retry later than the others goes to the back.
    now += LEASE_GONE;
    let retry = outcome(&d[0], 1, DeliveryStatus::Retrying, now + 50);
    record(&*store, &[retry], now).await;
    assert_eq!(due(&*store, now + 30, &[]).await, vec![id(1), id(2)]);
    assert_eq!(due(&*store, now + 50, &[]).await, vec![id(0)]);
    let done: Vec<AttemptOutcome> = d
        .iter()
        .map(|d| outcome(d, 2, DeliveryStatus::Succeeded, 0))
        .collect();
    record(&*store, &done, now + 60).await;
    assert!(due(&*store, now + 2 * LEASE_GONE, &[]).await.is_empty());
    assert_eq!(store.next_due_at(Millis(0)).await.unwrap(), None);
}

/// What is handed out is not handed out again while its claim lives: not to this dispatcher,
/// and not to another one sharing the store. Recording the attempt ends the claim (a retry is
/// handed out when due); a claim whose holder never records ends with its lease.
pub async fn a_claimed_delivery_is_handed_out_once_until_recorded_or_expired(
    store: Arc<dyn Store>,
) {
    let t = with_hooks(&*store, "t1").await;
    for i in 0..3 {
        create(&*store, &t, &format!("/p{i}"), "c").await;
    }
    let d = deliveries_oldest_first(&*store, &t).await;
    let ids: Vec<String> = d.iter().map(|x| x.id.clone()).collect();
    let first = due(&*store, T0 + 1, &[]).await;
    assert_eq!(first, ids);
    assert!(
        due(&*store, T0 + 2, &[]).await.is_empty(),
        "handed out twice"
    );
    // Concurrent claimers (as several nodes would be), each of at most 2: each delivery to
    // exactly one of them. A claim locks only what it hands out and skips what another one
    // locked, so between them they hand out all three whichever runs first (an earlier
    // claim locked the third too, unhanded, and the other one could miss it). Several rounds,
    // each after the leases of the last ended.
    let mut sorted = ids.clone();
    sorted.sort();
    let rounds = 10;
    for round in 1..=rounds {
        let q = query(T0 + round * LEASE_GONE, 2, &[]);
        let (x, y) = tokio::join!(store.due_deliveries(&q), store.due_deliveries(&q));
        let mut both: Vec<String> = x
            .unwrap()
            .into_iter()
            .chain(y.unwrap())
            .map(|d| d.id)
            .collect();
        both.sort();
        assert_eq!(
            both, sorted,
            "each claimed once by one of them (round {round})"
        );
    }
    // Recorded: the retry is handed out when due, without waiting for the lease.
    let now = T0 + rounds * LEASE_GONE + 10;
    record(
        &*store,
        &[outcome(&d[0], 1, DeliveryStatus::Retrying, now + 5)],
        now,
    )
    .await;
    assert_eq!(due(&*store, now + 5, &[]).await, vec![ids[0].clone()]);
    // `next_due_at` names the retry, not the claims: a claim that ends unrecorded is found
    // by the dispatcher's next look (at least once a second), so no index holds the lease.
    assert_eq!(
        store.next_due_at(Millis(now)).await.unwrap(),
        Some(Millis(now + 5))
    );
    assert_eq!(store.next_due_at(Millis(now + 5)).await.unwrap(), None);
    // Never recorded: handed out again once the lease ran out.
    let again = due(&*store, now + 5 + LEASE_GONE, &[]).await;
    assert_eq!(again.len(), 3);
}

/// A comment's deliveries are offered one at a time, in the order of its changes: a later one
/// waits while an earlier one is pending (queued, retrying, or claimed), even when the
/// earlier one's retry is not due yet. Other comments do not wait.
pub async fn one_comment_at_a_time_in_change_order(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "v0").await;
    edit(&*store, &t, &c.id, "v1", T0 + 1).await;
    edit(&*store, &t, &c.id, "v2", T0 + 2).await;
    delete(&*store, &t, &c.id, T0 + 3).await;
    let of_c = deliveries_oldest_first(&*store, &t).await;
    assert_eq!(of_c.len(), 4);
    let other = create(&*store, &t, "/p", "independent").await;
    let other = newest_delivery_of(&*store, &t, &other.id).await;
    let id = |i: usize| of_c[i].id.clone();

    let mut now = T0 + 10;
    assert_eq!(due(&*store, now, &[]).await, vec![id(0), other.id.clone()]);
    now += 1;
    assert!(
        due(&*store, now, &[]).await.is_empty(),
        "the update was offered while its create was claimed"
    );
    now += LEASE_GONE;
    assert_eq!(
        due(&*store, now, &[id(0), other.id.clone()]).await,
        Vec::<String>::new(),
        "the update was offered while its create was in flight"
    );

    let retry = outcome(&of_c[0], 1, DeliveryStatus::Retrying, now + 100);
    record(&*store, &[retry], now).await;
    assert_eq!(due(&*store, now + 50, &[]).await, vec![other.id.clone()]);
    assert_eq!(due(&*store, now + 100, &[]).await, vec![id(0)]);

    let steps = [
        (0, DeliveryStatus::Succeeded, 1),
        (1, DeliveryStatus::Failed, 2),
        (2, DeliveryStatus::Succeeded, 3),
    ];
    for (i, status, next) in steps {
        now += LEASE_GONE;
        let o = outcome(&of_c[i], 2, status, 0);
        record(&*store, &[o], now).await;
        let offered = due(&*store, now, &[]).await;
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
    delete(&*store, &t, &c.id, T0 + 2).await;
    let d = deliveries_oldest_first(&*store, &t).await;
    let id = |i: usize| d[i].id.clone();
    let mut now = T0 + 10;
    let mut next = || {
        now += LEASE_GONE;
        now
    };
    assert_eq!(due(&*store, next(), &[]).await, vec![id(0)]);

    // The first two in turn: cancelled, the next one goes; retried by hand, it is first
    // again and holds the next back while it is in flight, until it is sent.
    for (i, delivery) in d.iter().enumerate().take(2) {
        let at = next();
        cancel(&*store, &t, &id(i), at).await;
        assert_eq!(due(&*store, at, &[]).await, vec![id(i + 1)]);
        let at = next();
        store
            .retry_delivery(&t, &id(i), Millis(at), 3)
            .await
            .unwrap();
        assert_eq!(due(&*store, at, &[]).await, vec![id(i)]);
        let at = next();
        assert_eq!(due(&*store, at, &[id(i)]).await, Vec::<String>::new());
        let sent = outcome(delivery, 1, DeliveryStatus::Succeeded, 0);
        record(&*store, &[sent], at).await;
        assert_eq!(due(&*store, at, &[]).await, vec![id(i + 1)]);
    }
}

/// At most `per_host` deliveries per target host (`host:port`), none to a skipped host or of a
/// skipped tenant: a host with a long backlog neither fills the answer nor hides the others.
pub async fn per_host_limits_and_skips(store: Arc<dyn Store>) {
    let busy = tenant(&*store, "busy").await;
    configure(&*store, &busy, &hooks("*", "https://slow.example", false)).await;
    let other = tenant(&*store, "other").await;
    configure(
        &*store,
        &other,
        &hooks("*", "https://fast.example:8443", false),
    )
    .await;
    for i in 0..5 {
        create(&*store, &busy, &format!("/p{i}"), "c").await;
    }
    create(&*store, &other, "/q", "c").await;
    let slow = deliveries_oldest_first(&*store, &busy).await;
    let fast = deliveries_oldest_first(&*store, &other).await;
    assert_eq!(slow[0].target_host, "slow.example:443");
    assert_eq!(fast[0].target_host, "fast.example:8443");

    let mut q = query(T0 + 1, 100, &[]);
    q.per_host = 2;
    let got = claimed_ids(&*store, &q).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains(&fast[0].id) && got.contains(&slow[0].id) && got.contains(&slow[1].id));

    let hosts = vec!["slow.example:443".to_owned()];
    let mut q = query(T0 + LEASE_GONE, 100, &[]);
    q.skip_hosts = &hosts;
    let got = claimed_ids(&*store, &q).await;
    assert_eq!(got, vec![fast[0].id.clone()]);
    let tenants = vec![other.clone()];
    let mut q = query(T0 + 2 * LEASE_GONE, 100, &[]);
    q.skip_tenants = &tenants;
    let got = claimed_ids(&*store, &q).await;
    assert_eq!(got, slow.iter().map(|d| d.id.clone()).collect::<Vec<_>>());
}

/// Claims given back are due again at once, before their lease would have ended.
pub async fn released_claims_are_due_again_at_once(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    create(&*store, &t, "/p", "c").await;
    let d = deliveries_oldest_first(&*store, &t).await;
    assert_eq!(due(&*store, T0 + 1, &[]).await, vec![d[0].id.clone()]);
    assert!(due(&*store, T0 + 2, &[]).await.is_empty());
    store.release_claims(&[d[0].id.clone()]).await.unwrap();
    assert_eq!(due(&*store, T0 + 3, &[]).await, vec![d[0].id.clone()]);
}
