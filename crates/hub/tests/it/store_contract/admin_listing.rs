//! What the admin pages ask of the store: the operator's tenant list, deliveries filtered and
//! paged, counts by state, and retrying every failed delivery since a time.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{Millis, WebhookEventKind};
use std::sync::Arc;

const BASE: &str = "https://hooks.example";

async fn create_on(store: &dyn Store, t: &TenantId, domain: Option<&str>, text: &str) -> String {
    let mut c = new_comment(t, "/p", text);
    c.domain = domain.map(str::to_owned);
    let applied = store
        .apply(t, Change::CreateComment(Box::new(c)), Millis(T0))
        .await
        .unwrap();
    applied.comment.unwrap().id
}

/// Every tenant, by name.
pub async fn tenants_are_listed_by_name(store: Arc<dyn Store>) {
    assert!(store.list_tenants().await.unwrap().is_empty());
    tenant(&*store, "b").await;
    tenant(&*store, "a").await;
    let names: Vec<String> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec!["Tenant a", "Tenant b"]);
}

/// The tenant's deliveries that `filter` finds (at most 10, whatever its limit).
async fn find_up_to_10(
    store: &dyn Store,
    t: &TenantId,
    filter: DeliveryFilter<'_>,
) -> Vec<Delivery> {
    let filter = DeliveryFilter {
        limit: 10,
        ..filter
    };
    store.find_deliveries(t, &filter).await.unwrap()
}

/// Filters by state, kind, comment and domain combine; pages are newest first without overlap;
/// counts are per state; another tenant's deliveries are in none of them.
pub async fn deliveries_are_filtered_paged_and_counted(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let other = tenant(&*store, "t2").await;
    for tenant in [&t, &other] {
        configure(&*store, tenant, &hooks("*", BASE, false)).await;
        configure(&*store, tenant, &hooks("blog.example", BASE, false)).await;
    }
    let on_blog = create_on(&*store, &t, Some("blog.example"), "on blog").await;
    let plain = create_on(&*store, &t, None, "plain").await;
    edit(&*store, &t, &plain, "plain edited", T0 + 1).await;
    create_on(&*store, &other, Some("blog.example"), "other tenant").await;
    let find = {
        let (store, t) = (&*store, &t);
        move |filter| find_up_to_10(store, t, filter)
    };

    let all = find(DeliveryFilter::default()).await;
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|d| d.tenant_id == t));
    assert_eq!(all, store.deliveries(&t, None, None, 10).await.unwrap());

    let page = |offset| DeliveryFilter {
        offset,
        limit: 2,
        ..Default::default()
    };
    let first = store.find_deliveries(&t, &page(0)).await.unwrap();
    let second = store.find_deliveries(&t, &page(2)).await.unwrap();
    assert_eq!([first, second].concat(), all);

    let updates = find(DeliveryFilter {
        kind: Some(WebhookEventKind::Update),
        ..Default::default()
    })
    .await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].comment_id, plain);

    let blog = find(DeliveryFilter {
        domain: Some("blog.example"),
        ..Default::default()
    })
    .await;
    assert_eq!(
        blog.iter().map(|d| &d.comment_id).collect::<Vec<_>>(),
        vec![&on_blog]
    );
    let of_plain_created = find(DeliveryFilter {
        comment_id: Some(&plain),
        kind: Some(WebhookEventKind::Create),
        ..Default::default()
    })
    .await;
    assert_eq!(of_plain_created.len(), 1);

    let first = &all[2];
    record(
        &*store,
        &[outcome(first, 1, DeliveryStatus::Failed, 0)],
        T0 + 5,
    )
    .await;
    cancel(&*store, &t, &all[1].id, T0 + 6).await;
    let failed = find(DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        ..Default::default()
    })
    .await;
    assert_eq!(
        failed.iter().map(|d| &d.id).collect::<Vec<_>>(),
        vec![&first.id]
    );
    assert_eq!(
        store.delivery_counts(&t, 10).await.unwrap(),
        DeliveryCounts {
            queued: 1,
            failed: 1,
            cancelled: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        store.delivery_counts(&other, 10).await.unwrap(),
        DeliveryCounts {
            queued: 1,
            ..Default::default()
        }
    );
}

/// Tenant `t1` with `n` deliveries claimed (one per comment, to the configurations) and
/// tenant `t2` with one of its own, unclaimed by the caller; `t1`'s claimed, in claim order.
async fn claimed_beside_another(
    store: &dyn Store,
    n: usize,
) -> (TenantId, TenantId, Vec<Delivery>) {
    let t = tenant(store, "t1").await;
    let other = tenant(store, "t2").await;
    for tenant in [&t, &other] {
        configure(store, tenant, &hooks("*", BASE, false)).await;
    }
    for i in 0..n {
        create_on(store, &t, None, &format!("c{i}")).await;
    }
    create_on(store, &other, None, "other").await;
    let mut due = store.due_deliveries(&claim(T0 + 1)).await.unwrap();
    due.retain(|d| d.tenant_id == t);
    (t, other, due)
}

/// Every state is counted whole but sent, which is counted up to the bound asked for (the
/// retention keeps a month of them), more than it counted as one more.
pub async fn sent_deliveries_are_counted_up_to_the_bound(store: Arc<dyn Store>) {
    let (t, _, due) = claimed_beside_another(&*store, 7).await;
    assert_eq!(due.len(), 7);
    let outcomes: Vec<_> = due[..5]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let status = if i == 0 {
                DeliveryStatus::Failed
            } else {
                DeliveryStatus::Succeeded
            };
            outcome(d, 1, status, 0)
        })
        .collect();
    record(&*store, &outcomes, T0 + 2).await;
    cancel(&*store, &t, &due[5].id, T0 + 3).await;
    let counts = |up_to| {
        let store = store.clone();
        let t = t.clone();
        async move { store.delivery_counts(&t, up_to).await.unwrap() }
    };
    let expected = |succeeded| DeliveryCounts {
        queued: 1,
        succeeded,
        failed: 1,
        cancelled: 1,
        ..Default::default()
    };
    assert_eq!(counts(10).await, expected(4));
    assert_eq!(counts(4).await, expected(4));
    assert_eq!(counts(3).await, expected(4), "more than 3: 4");
    assert_eq!(counts(2).await, expected(3), "more than 2: 3");
    assert_eq!(counts(0).await, expected(1), "more than 0: 1");
}

/// Pending deliveries (queued and retrying, each read from its own range) come back merged
/// newest first, paged without overlap, and counted; another tenant's are in none of them.
pub async fn pending_deliveries_merge_their_states_newest_first(store: Arc<dyn Store>) {
    let (t, other, due) = claimed_beside_another(&*store, 5).await;
    // The second and fourth wait for a retry, the fifth was sent.
    let outcomes = [
        outcome(&due[1], 1, DeliveryStatus::Retrying, T0 + 60_000),
        outcome(&due[3], 1, DeliveryStatus::Retrying, T0 + 60_000),
        outcome(&due[4], 1, DeliveryStatus::Succeeded, 0),
    ];
    record(&*store, &outcomes, T0 + 2).await;
    let every = find_up_to_10(&*store, &t, DeliveryFilter::default()).await;
    let waiting: Vec<&String> = every
        .iter()
        .filter(|d| d.status.is_pending())
        .map(|d| &d.id)
        .collect();
    assert_eq!(waiting.len(), 4);
    let pending = |offset, limit| DeliveryFilter {
        pending: true,
        offset,
        limit,
        ..Default::default()
    };
    let all = store.find_deliveries(&t, &pending(0, 10)).await.unwrap();
    assert_eq!(all.iter().map(|d| &d.id).collect::<Vec<_>>(), waiting);
    let mut paged = Vec::new();
    for offset in [0, 3] {
        paged.extend(
            store
                .find_deliveries(&t, &pending(offset, 3))
                .await
                .unwrap(),
        );
    }
    assert_eq!(paged, all);
    assert_eq!(
        store.count_deliveries(&t, &pending(0, 10)).await.unwrap(),
        4
    );
    let theirs = store
        .find_deliveries(&other, &pending(0, 10))
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].tenant_id, other);
    let retrying = DeliveryFilter {
        status: Some(DeliveryStatus::Retrying),
        limit: 10,
        ..Default::default()
    };
    let found = store.find_deliveries(&t, &retrying).await.unwrap();
    assert_eq!(
        found.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&due[3].id, &due[1].id]
    );
    assert_eq!(store.count_deliveries(&t, &retrying).await.unwrap(), 2);
}

/// Only the tenant's deliveries that failed at or after the time are queued again (due now, a
/// fresh budget); earlier failures, cancelled ones and another tenant's stay as they were.
pub async fn retry_failed_since_requeues_only_recent_failures(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let other = tenant(&*store, "t2").await;
    for tenant in [&t, &other] {
        configure(&*store, tenant, &hooks("*", BASE, false)).await;
    }
    for i in 0..4 {
        create(&*store, &t, "/p", &format!("c{i}")).await;
    }
    create(&*store, &other, "/p", "theirs").await;
    let d = deliveries_oldest_first(&*store, &t).await;
    let theirs = deliveries_oldest_first(&*store, &other).await;
    let fail = |delivery: &Delivery| outcome(delivery, 1, DeliveryStatus::Failed, 0);
    record(&*store, &[fail(&d[0])], T0 + 100).await;
    record(&*store, &[fail(&d[1])], T0 + 200).await;
    record(&*store, &[fail(&d[2])], T0 + 300).await;
    cancel(&*store, &t, &d[3].id, T0 + 300).await;
    record(&*store, &[fail(&theirs[0])], T0 + 300).await;

    let now = T0 + 1000;
    let n = store
        .retry_failed_since(&t, Millis(T0 + 200), Millis(now), 5)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let status = |id: String, tenant: TenantId| {
        let store = store.clone();
        async move { store.delivery(&tenant, &id).await.unwrap().unwrap().0 }
    };
    let early = status(d[0].id.clone(), t.clone()).await;
    assert_eq!(early.status, DeliveryStatus::Failed);
    for i in [1, 2] {
        let again = status(d[i].id.clone(), t.clone()).await;
        assert_eq!(
            (again.status, again.next_attempt_at, again.max_attempts),
            (DeliveryStatus::Queued, now, again.attempts + 5)
        );
    }
    let cancelled = status(d[3].id.clone(), t.clone()).await;
    assert_eq!(cancelled.status, DeliveryStatus::Cancelled);
    let foreign = status(theirs[0].id.clone(), other.clone()).await;
    assert_eq!(foreign.status, DeliveryStatus::Failed);
    // Nothing left to retry since then.
    assert_eq!(
        store
            .retry_failed_since(&t, Millis(T0 + 200), Millis(now), 5)
            .await
            .unwrap(),
        0
    );
}
