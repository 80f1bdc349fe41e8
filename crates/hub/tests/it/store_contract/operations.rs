//! Issue 13's store promises: secret rotation with overlap, delivery retention,
//! subscriptions.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use std::sync::Arc;

fn secret(id: &str, tenant: &TenantId, text: &str, at: i64) -> ApiSecret {
    ApiSecret {
        id: id.to_owned(),
        tenant_id: tenant.to_owned(),
        domain: "ignored: the old secret's domain is used".to_owned(),
        secret: text.to_owned(),
        created_at: at,
    }
}

/// Rotates secret `id` of `tenant` to a new one (its id and value, made at `T0 + 1`), the old
/// one retiring at `retires_at`; the old and the new secret.
async fn rotate(
    store: &dyn Store,
    tenant: &TenantId,
    id: &str,
    (new_id, value): (&str, &str),
    retires_at: i64,
) -> (ApiSecret, ApiSecret) {
    let new = secret(new_id, tenant, value, T0 + 1);
    store
        .rotate_secret(tenant, id, &new, Millis(retires_at))
        .await
        .unwrap()
}

/// A rotation adds the new secret for the old one's domain and keeps the old one, listed as
/// retiring, until its time: retiring removes exactly the due ones, of every tenant, and only
/// once. Unknown ids, other tenants' secrets and a second rotation of the same secret fail.
pub async fn a_rotation_keeps_the_old_secret_until_it_retires(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let u = tenant(&*store, "t2").await;
    let (old, new) = rotate(&*store, &t, "s-t1", ("n1", "new-t1"), T0 + 100).await;
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
            .rotate_secret(&t, "s-t1", &secret("n2", &t, "x", T0), Millis(T0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    for (tenant, id) in [(&t, "nope"), (&t, "s-t2"), (&u, "s-t1")] {
        assert!(matches!(
            store
                .rotate_secret(tenant, id, &secret("n3", tenant, "y", T0), Millis(T0))
                .await,
            Err(StoreError::NotFound(_))
        ));
    }
    rotate(&*store, &u, "s-t2", ("n4", "new-t2"), T0 + 200).await;

    let retire = |at: i64| store.retire_secrets(Millis(at));
    assert!(retire(T0 + 99).await.unwrap().is_empty());
    let retired = retire(T0 + 150).await.unwrap();
    assert_eq!(retired, vec![old]);
    assert!(store.secret_by_value("secret-t1").await.unwrap().is_none());
    assert!(store.secret_by_value("new-t1").await.unwrap().is_some());
    assert!(store.secret_retirements(&t).await.unwrap().is_empty());
    assert!(retire(T0 + 150).await.unwrap().is_empty());
    let retired = retire(T0 + 200).await.unwrap();
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].id, "s-t2");
    assert_eq!(store.list_secrets(&u).await.unwrap().len(), 1);
}

/// Queues `n` deliveries for tenant `t` in one upload (imports fire with `fireOnImport`).
async fn queue_many(
    store: &dyn Store,
    t: &TenantId,
    token: &str,
    n: usize,
    now: i64,
) -> Vec<Delivery> {
    configure(store, t, &hooks("*", "https://hooks.example", true)).await;
    validated_token(store, t, token).await;
    let comments = (0..n)
        .map(|i| upload(&format!("{token}-{i}"), "text"))
        .collect();
    let out = store
        .upload(batch(t, token, comments), Millis(now))
        .await
        .unwrap();
    assert_eq!(out.deliveries, n);
    let mut all = store.deliveries(t, None, None, 100_000).await.unwrap();
    all.retain(|d| d.created_at == now);
    all
}

/// Records a first attempt of each of `ds` that left it `status`.
async fn record_each(store: &dyn Store, ds: &[Delivery], status: DeliveryStatus, at: i64) {
    let outcomes: Vec<AttemptOutcome> = ds.iter().map(|d| outcome(d, 1, status, at)).collect();
    record(store, &outcomes, at).await;
}

/// Retention removes succeeded and cancelled deliveries last changed before the cut, with
/// their attempts, at most `limit` a call, oldest first; failed and pending ones, and newer
/// finished ones, stay. Comment changes made between the batches (the writer is free between
/// them) all commit.
pub async fn retention_prunes_finished_deliveries_in_bounded_batches(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let old = queue_many(&*store, &t, "old", 240, T0).await;
    record_each(&*store, &old[..200], DeliveryStatus::Succeeded, T0 + 10).await;
    record_each(&*store, &old[200..210], DeliveryStatus::Failed, T0 + 10).await;
    for d in &old[210..220] {
        cancel(&*store, &t, &d.id, T0 + 10).await;
    }
    // old[220..240] stay pending.
    let new = queue_many(&*store, &t, "new", 20, T0 + 1_000).await;
    record_each(&*store, &new, DeliveryStatus::Succeeded, T0 + 1_000).await;
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
                    .apply(
                        &t,
                        Change::CreateComment(Box::new(c)),
                        Millis(T0 + 2_000 + i),
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let mut batches = Vec::new();
    loop {
        let n = store.prune_deliveries(Millis(T0 + 500), 25).await.unwrap();
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

fn sub(id: &str, tenant: &TenantId, url: &str, kinds: &[WebhookEventKind]) -> Subscription {
    Subscription {
        kinds: kinds.to_vec(),
        ..subscription(id, tenant, url)
    }
}

use fastcomments_protocol::{Millis, WebhookEventKind};
const ALL_KINDS: [WebhookEventKind; 3] = WebhookEventKind::ALL;

/// Subscriptions: the same form twice is stored once, at most 50 a tenant; a change fans out
/// to each matching one (kind, domain) beside the configuration; per comment, each
/// subscription's deliveries go out in order independently of the others'; attempts keep
/// `failing_since`; a disabled subscription's waiting deliveries are paused (new ones too) and
/// not handed out, and come back in order when it is enabled; removing one cancels its own.
pub async fn subscriptions_fan_out_pause_and_resume(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let (a, created) = store
        .create_subscription(&sub("a", &t, "https://a.example/", &ALL_KINDS))
        .await
        .unwrap();
    assert!(created);
    let (same, created) = store
        .create_subscription(&sub("a2", &t, "https://a.example/", &ALL_KINDS))
        .await
        .unwrap();
    assert_eq!((same.id.as_str(), created), ("a", false));
    let b = sub(
        "b",
        &t,
        "https://b.example/",
        &[WebhookEventKind::Create, WebhookEventKind::Update],
    );
    store.create_subscription(&b).await.unwrap();
    let elsewhere = Subscription {
        domains: vec!["other.example".to_owned()],
        ..sub("c", &t, "https://c.example/", &ALL_KINDS)
    };
    store.create_subscription(&elsewhere).await.unwrap();
    for i in 3..MAX_SUBSCRIPTIONS {
        store
            .create_subscription(&sub(
                &format!("n{i}"),
                &t,
                &format!("https://n{i}.example/"),
                &[WebhookEventKind::Delete],
            ))
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .create_subscription(&sub("over", &t, "https://over.example/", &ALL_KINDS))
            .await,
        Err(StoreError::Conflict(_))
    ));
    for i in 3..MAX_SUBSCRIPTIONS {
        store
            .delete_subscription(&t, &format!("n{i}"), Millis(T0))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(store.subscriptions(&t).await.unwrap().len(), 3);
    assert_eq!(a.kinds, ALL_KINDS.to_vec());

    let c = create(&*store, &t, "/p", "one").await;
    edit(&*store, &t, &c.id, "two", T0 + 1).await;
    let of_c = store.deliveries(&t, None, Some(&c.id), 100).await.unwrap();
    let mut per_sub: Vec<(String, WebhookEventKind)> = of_c
        .iter()
        .map(|d| (d.subscription_id.clone(), d.kind))
        .collect();
    per_sub.sort_by_key(|(s, k)| (s.clone(), *k as u8));
    assert_eq!(
        per_sub,
        vec![
            ("a".to_owned(), WebhookEventKind::Create),
            ("a".to_owned(), WebhookEventKind::Update),
            ("b".to_owned(), WebhookEventKind::Create),
            ("b".to_owned(), WebhookEventKind::Update)
        ],
        "c wants another domain"
    );
    // One create per subscription is due; each one's update waits for its own create.
    let due = store.due_deliveries(&claim(T0 + 10)).await.unwrap();
    let mut firsts: Vec<(String, WebhookEventKind)> = due
        .iter()
        .map(|d| (d.subscription_id.clone(), d.kind))
        .collect();
    firsts.sort_by_key(|(s, _)| s.clone());
    assert_eq!(
        firsts,
        vec![
            ("a".to_owned(), WebhookEventKind::Create),
            ("b".to_owned(), WebhookEventKind::Create)
        ]
    );
    let (da, db): (Vec<&Delivery>, Vec<&Delivery>) =
        due.iter().partition(|d| d.subscription_id == "a");
    // a's receiver answers, b's fails: a's update is due next, b's still waits.
    let outcomes = vec![
        outcome(da[0], 1, DeliveryStatus::Succeeded, T0 + 20),
        outcome(db[0], 1, DeliveryStatus::Retrying, T0 + 1_000_000),
    ];
    record(&*store, &outcomes, T0 + 20).await;
    let due = store.due_deliveries(&claim(T0 + 30)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].subscription_id.as_str(), due[0].kind),
        ("a", WebhookEventKind::Update)
    );
    store.release_claims(&[due[0].id.clone()]).await.unwrap();
    let subs = store.subscriptions(&t).await.unwrap();
    let failing = |id: &str| subs.iter().find(|s| s.id == id).unwrap().failing_since;
    assert_eq!(
        (failing("a"), failing("b")),
        (None, Some(T0 + 1)),
        "the failed attempt's time"
    );

    // b failing since T0 + 1: disabled by a cut at or after that, not before.
    assert!(store
        .disable_failing_subscriptions(Millis(T0), Millis(T0 + 40))
        .await
        .unwrap()
        .is_empty());
    let disabled = store
        .disable_failing_subscriptions(Millis(T0 + 5), Millis(T0 + 40))
        .await
        .unwrap();
    assert_eq!(disabled.len(), 1);
    assert_eq!(
        (disabled[0].id.as_str(), disabled[0].disabled_at),
        ("b", Some(T0 + 40))
    );
    edit(&*store, &t, &c.id, "three", T0 + 50).await;
    let of_b: Vec<Delivery> = deliveries_oldest_first(&*store, &t)
        .await
        .into_iter()
        .filter(|d| d.subscription_id == "b")
        .collect();
    assert!(
        of_b.iter().all(|d| d.status == DeliveryStatus::Paused),
        "{of_b:?}"
    );
    assert_eq!(of_b.len(), 3);
    let due = store.due_deliveries(&claim(T0 + 2_000_000)).await.unwrap();
    assert!(
        due.iter().all(|d| d.subscription_id == "a"),
        "a paused delivery was handed out"
    );
    store
        .release_claims(&due.iter().map(|d| d.id.clone()).collect::<Vec<_>>())
        .await
        .unwrap();
    let stats = store.webhook_stats().await.unwrap();
    assert_eq!(stats.disabled_subscriptions, 1);

    let enabled = store
        .set_subscription_enabled(&t, "b", true, None, Millis(T0 + 60))
        .await
        .unwrap();
    assert_eq!((enabled.disabled_at, enabled.failing_since), (None, None));
    let due = store.due_deliveries(&claim(T0 + 60)).await.unwrap();
    let of_b: Vec<&Delivery> = due.iter().filter(|d| d.subscription_id == "b").collect();
    assert_eq!(of_b.len(), 1);
    assert_eq!(
        (of_b[0].kind, of_b[0].status, of_b[0].attempts),
        (WebhookEventKind::Create, DeliveryStatus::Retrying, 1)
    );
    assert!(matches!(
        store
            .set_subscription_enabled(&t, "nope", true, None, Millis(T0))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let removed = store
        .delete_subscription(&t, "b", Millis(T0 + 70))
        .await
        .unwrap();
    assert_eq!(removed.map(|s| s.id), Some("b".to_owned()));
    let left = deliveries_oldest_first(&*store, &t).await;
    assert!(left
        .iter()
        .filter(|d| d.subscription_id == "b")
        .all(|d| d.status == DeliveryStatus::Cancelled));
    assert!(store
        .delete_subscription(&t, "b", Millis(T0 + 70))
        .await
        .unwrap()
        .is_none());
    let other = tenant(&*store, "t2").await;
    assert!(store.subscriptions(&other).await.unwrap().is_empty());
    assert!(store
        .delete_subscription(&other, "a", Millis(T0))
        .await
        .unwrap()
        .is_none());
}

/// An attempt recorded after its delivery was cancelled leaves it cancelled but is counted:
/// a retry by hand is then attempt 2, not a second attempt 1 (whose log row would be
/// dropped as a duplicate). `tests/webhooks.rs`' cancel-and-retry test hit this race.
pub async fn an_attempt_of_a_cancelled_delivery_is_counted(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "one").await;
    let d = newest_delivery_of(&*store, &t, &c.id).await;
    cancel(&*store, &t, &d.id, T0 + 1).await;
    record(
        &*store,
        &[outcome(&d, 1, DeliveryStatus::Retrying, T0 + 60_000)],
        T0 + 2,
    )
    .await;
    let (after, attempts) = store.delivery(&t, &d.id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.attempts, attempts.len()),
        (DeliveryStatus::Cancelled, 1, 1)
    );
    let retried = store
        .retry_delivery(&t, &d.id, Millis(T0 + 3), 5)
        .await
        .unwrap();
    assert_eq!((retried.attempts, retried.max_attempts), (1, 6));
}

/// A claim can leave out subscriptions at their in-flight limit: their deliveries stay queued
/// for a later claim, while other subscriptions' and the per-domain configuration's (which is
/// no subscription) are handed out.
pub async fn a_claim_leaves_out_full_subscriptions(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    configure(&*store, &t, &hooks("*", "https://config.example/", false)).await;
    for id in ["a", "b"] {
        store
            .create_subscription(&sub(id, &t, &format!("https://{id}.example/"), &ALL_KINDS))
            .await
            .unwrap();
    }
    create(&*store, &t, "/p", "one").await;
    let full = ["a".to_owned()];
    let q = DueQuery {
        skip_subscriptions: &full,
        ..claim(T0 + 10)
    };
    let mut got: Vec<String> = store
        .due_deliveries(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.subscription_id)
        .collect();
    got.sort();
    assert_eq!(got, vec!["".to_owned(), "b".to_owned()]);
    let later: Vec<String> = store
        .due_deliveries(&claim(T0 + 20))
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.subscription_id)
        .collect();
    assert_eq!(later, vec!["a".to_owned()], "a's delivery waited, queued");
}
