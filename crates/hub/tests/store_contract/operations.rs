//! Issue 13's store promises: secret rotation with overlap, delivery retention,
//! subscriptions.

use super::fixtures::*;
use fastcomments_hub::store::*;
use std::sync::Arc;

fn secret(id: &str, tenant: &str, text: &str, at: i64) -> ApiSecret {
    ApiSecret {
        id: id.to_owned(),
        tenant_id: tenant.to_owned(),
        domain: "ignored: the old secret's domain is used".to_owned(),
        secret: text.to_owned(),
        created_at: at,
    }
}

/// A rotation adds the new secret for the old one's domain and keeps the old one, listed as
/// retiring, until its time: retiring removes exactly the due ones, of every tenant, and only
/// once. Unknown ids, other tenants' secrets and a second rotation of the same secret fail.
pub async fn a_rotation_keeps_the_old_secret_until_it_retires(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let u = tenant(&*store, "t2").await;
    let (old, new) = store
        .rotate_secret(&t, "s-t1", &secret("n1", &t, "new-t1", T0 + 1), T0 + 100)
        .await
        .unwrap();
    assert_eq!(
        (old.id.as_str(), old.secret.as_str()),
        ("s-t1", "secret-t1")
    );
    assert_eq!((new.id.as_str(), new.domain.as_str()), ("n1", "*"));
    let listed = store.list_secrets(&t).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["s-t1", "n1"],
        "oldest first: the retiring one signs the FastComments header"
    );
    assert_eq!(
        store.secret_retirements(&t).await.unwrap(),
        vec![SecretRetirement {
            secret: old.clone(),
            retires_at: T0 + 100
        }]
    );
    assert!(matches!(
        store
            .rotate_secret(&t, "s-t1", &secret("n2", &t, "x", T0), T0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    for (tenant, id) in [(&t, "nope"), (&t, "s-t2"), (&u, "s-t1")] {
        assert!(matches!(
            store
                .rotate_secret(tenant, id, &secret("n3", tenant, "y", T0), T0)
                .await,
            Err(StoreError::NotFound(_))
        ));
    }
    store
        .rotate_secret(&u, "s-t2", &secret("n4", &u, "new-t2", T0 + 1), T0 + 200)
        .await
        .unwrap();

    assert!(store.retire_secrets(T0 + 99).await.unwrap().is_empty());
    let retired = store.retire_secrets(T0 + 150).await.unwrap();
    assert_eq!(retired, vec![old]);
    assert!(store.secret_by_value("secret-t1").await.unwrap().is_none());
    assert!(store.secret_by_value("new-t1").await.unwrap().is_some());
    assert!(store.secret_retirements(&t).await.unwrap().is_empty());
    assert!(store.retire_secrets(T0 + 150).await.unwrap().is_empty());
    let retired = store.retire_secrets(T0 + 200).await.unwrap();
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].id, "s-t2");
    assert_eq!(store.list_secrets(&u).await.unwrap().len(), 1);
}

/// Queues `n` deliveries for tenant `t` in one upload (imports fire with `fireOnImport`).
async fn queue_many(store: &dyn Store, t: &str, token: &str, n: usize, now: i64) -> Vec<Delivery> {
    store
        .put_webhook_config(t, &hooks("*", "https://hooks.example", true), T0)
        .await
        .unwrap();
    validated_token(store, t, token).await;
    let comments = (0..n)
        .map(|i| upload(&format!("{token}-{i}"), "text"))
        .collect();
    let out = store.upload(batch(t, token, comments), now).await.unwrap();
    assert_eq!(out.deliveries, n);
    let mut all = store.deliveries(t, None, None, 100_000).await.unwrap();
    all.retain(|d| d.created_at == now);
    all
}

async fn record(store: &dyn Store, ds: &[Delivery], status: DeliveryStatus, at: i64) {
    let outcomes: Vec<AttemptOutcome> = ds.iter().map(|d| outcome(d, 1, status, at)).collect();
    store.record_attempts(&outcomes, at).await.unwrap();
}

/// Retention removes succeeded and cancelled deliveries last changed before the cut, with
/// their attempts, at most `limit` a call, oldest first; failed and pending ones, and newer
/// finished ones, stay. Comment changes made between the batches (the writer is free between
/// them) all commit.
pub async fn retention_prunes_finished_deliveries_in_bounded_batches(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let old = queue_many(&*store, &t, "old", 240, T0).await;
    record(&*store, &old[..200], DeliveryStatus::Succeeded, T0 + 10).await;
    record(&*store, &old[200..210], DeliveryStatus::Failed, T0 + 10).await;
    for d in &old[210..220] {
        store.cancel_delivery(&t, &d.id, T0 + 10).await.unwrap();
    }
    // old[220..240] stay pending.
    let new = queue_many(&*store, &t, "new", 20, T0 + 1_000).await;
    record(&*store, &new, DeliveryStatus::Succeeded, T0 + 1_000).await;
    let attempt_of = old[0].id.clone();
    assert_eq!(
        store
            .delivery(&t, &attempt_of)
            .await
            .unwrap()
            .unwrap()
            .1
            .len(),
        1
    );

    // Writes go on while the batches run.
    let writer = {
        let store = store.clone();
        let t = t.clone();
        tokio::spawn(async move {
            for i in 0..30 {
                let c = new_comment(&t, "/busy", &format!("during pruning {i}"));
                store
                    .apply(&t, Change::CreateComment(Box::new(c)), T0 + 2_000 + i)
                    .await
                    .unwrap();
            }
        })
    };
    let mut batches = Vec::new();
    loop {
        let n = store.prune_deliveries(T0 + 500, 25).await.unwrap();
        batches.push(n);
        if n < 25 {
            break;
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    assert!(batches.iter().all(|n| *n <= 25), "{batches:?}");
    assert_eq!(batches.iter().sum::<u64>(), 210, "{batches:?}");

    let left = store.deliveries(&t, None, None, 100_000).await.unwrap();
    let count = |s: DeliveryStatus| left.iter().filter(|d| d.status == s).count();
    assert_eq!(count(DeliveryStatus::Succeeded), 20, "the newer ones");
    assert_eq!(count(DeliveryStatus::Failed), 10);
    assert_eq!(count(DeliveryStatus::Cancelled), 0);
    assert_eq!(
        left.iter().filter(|d| d.status.is_pending()).count(),
        20 + 30,
        "pending ones stay (the busy writes queued 30)"
    );
    assert!(store.delivery(&t, &attempt_of).await.unwrap().is_none());
    let stats = store.webhook_stats().await.unwrap();
    let of = |s: DeliveryStatus| {
        stats
            .by_status
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(
        (of(DeliveryStatus::Queued), of(DeliveryStatus::Failed)),
        (50, 10)
    );
    assert_eq!(stats.oldest_pending_at, Some(T0));
}
