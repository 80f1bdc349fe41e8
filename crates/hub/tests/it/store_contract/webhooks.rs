//! The webhook outbox (SPEC §2): configurations, deliveries queued by the change's own call,
//! listings, cancel and retry, attempt logs. Claiming due deliveries is in `dispatch`.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{Comment, HttpMethod, Millis, VoteDirection, WebhookEventKind};
use std::sync::Arc;

const BASE: &str = "https://hooks.example";

fn body_of(d: &Delivery) -> serde_json::Value {
    serde_json::from_str(&d.body).unwrap()
}

/// One configuration per domain: putting a domain's again replaces it.
pub async fn configs_are_replaced_by_domain(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    assert!(store.webhook_configs(&t).await.unwrap().is_empty());
    let any = hooks("*", "https://one.example", false);
    let blog = hooks("blog.example", "https://two.example", true);
    configure(&*store, &t, &any).await;
    configure(&*store, &t, &blog).await;
    let replaced = WebhookConfig {
        delete: None,
        legacy_token_header: true,
        ..hooks("*", "https://three.example", false)
    };
    store
        .put_webhook_config(&t, &replaced, Millis(T0 + 1))
        .await
        .unwrap();
    let mut configs = store.webhook_configs(&t).await.unwrap();
    configs.sort_by(|a, b| a.domain.cmp(&b.domain));
    assert_eq!(configs, vec![replaced, blog]);
}

async fn create_on(store: &dyn Store, t: &TenantId, domain: Option<&str>, text: &str) -> Applied {
    let mut c = new_comment(t, "/p", text);
    c.domain = domain.map(str::to_owned);
    store
        .apply(t, Change::CreateComment(Box::new(c)), Millis(T0))
        .await
        .unwrap()
}

/// A comment change with a matching configuration queues its delivery in the same call (the
/// outbox): the target of the comment's domain (else `*`), the kind of the change (a vote is
/// an update), the change's position, the comment as of the change in the body; due at once.
pub async fn a_change_queues_its_delivery_in_the_same_call(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let quiet = create_on(&*store, &t, Some("blog.example"), "before any config").await;
    assert_eq!(quiet.deliveries, 0);
    configure(&*store, &t, &hooks("*", &format!("{BASE}/any"), false)).await;
    let blog = hooks("blog.example", &format!("{BASE}/blog"), false);
    configure(&*store, &t, &blog).await;

    let created = create_on(&*store, &t, Some("https://Blog.Example/post"), "hello").await;
    assert_eq!(created.deliveries, 1);
    let c: Comment = created.comment.clone().unwrap();
    let d = store
        .deliveries(&t, None, None, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(d.comment_id, c.id);
    assert_eq!(d.kind, WebhookEventKind::Create);
    assert_eq!(
        (d.url.as_str(), d.method),
        ("https://hooks.example/blog/create", HttpMethod::Put)
    );
    assert_eq!(d.config_domain, "blog.example");
    assert_eq!(d.domain.as_deref(), Some("https://Blog.Example/post"));
    assert_eq!(d.position, created.entries[0].created_at);
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Queued, 0));
    assert_eq!(d.next_attempt_at, T0);
    assert_eq!(d.tenant_id, t);
    assert_eq!(body_of(&d)["id"], c.id.as_str());
    assert_eq!(body_of(&d)["comment"], "hello");

    for domain in [None, Some("elsewhere.example")] {
        create_on(&*store, &t, domain, "to the wildcard").await;
        let d = store.deliveries(&t, None, None, 1).await.unwrap().remove(0);
        assert_eq!(d.url, "https://hooks.example/any/create");
        assert_eq!(d.config_domain, "*");
    }

    let edited = edit(&*store, &t, &c.id, "edited", T0 + 1).await;
    let voted = cast(&*store, &vote(&c, Some("u1"), VoteDirection::Up), T0 + 2).await;
    let deleted = delete(&*store, &t, &c.id, T0 + 3).await;
    for applied in [&edited, &voted, &deleted] {
        assert_eq!(applied.deliveries, 1);
    }
    let of_c = store.deliveries(&t, None, Some(&c.id), 10).await.unwrap();
    let seen: Vec<(WebhookEventKind, &str, HttpMethod, i64, String, i64)> = of_c
        .iter()
        .rev()
        .map(|d| {
            let body = body_of(d);
            (
                d.kind,
                d.url.trim_start_matches(BASE),
                d.method,
                d.position,
                body["comment"].as_str().unwrap().to_owned(),
                body["votes"].as_i64().unwrap(),
            )
        })
        .collect();
    let last = |a: &Applied| a.entries.last().unwrap().created_at;
    assert_eq!(
        seen,
        vec![
            (
                WebhookEventKind::Create,
                "/blog/create",
                HttpMethod::Put,
                last(&created),
                "hello".to_owned(),
                0
            ),
            (
                WebhookEventKind::Update,
                "/blog/update",
                HttpMethod::Put,
                last(&edited),
                "edited".to_owned(),
                0
            ),
            (
                WebhookEventKind::Update,
                "/blog/update",
                HttpMethod::Put,
                last(&voted),
                "edited".to_owned(),
                1
            ),
            (
                WebhookEventKind::Delete,
                "/blog/delete",
                HttpMethod::Delete,
                last(&deleted),
                "edited".to_owned(),
                1
            ),
        ]
    );

    // A configuration without a target for the kind queues nothing for it.
    let no_updates = WebhookConfig {
        update: None,
        ..hooks("quiet.example", BASE, false)
    };
    configure(&*store, &t, &no_updates).await;
    let q = create_on(&*store, &t, Some("quiet.example"), "quiet").await;
    assert_eq!(q.deliveries, 1);
    let q = q.comment.unwrap();
    assert_eq!(
        edit(&*store, &t, &q.id, "still quiet", T0 + 4)
            .await
            .deliveries,
        0
    );
    assert_eq!(
        store
            .deliveries(&t, None, Some(&q.id), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Uploaded comments queue deliveries only where the configuration has `fireOnImport`, as
/// `create` when new and `update` when changed (a late parent's link included).
pub async fn imports_fire_only_with_fire_on_import(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    configure(&*store, &t, &hooks("*", BASE, false)).await;
    let silent = store
        .upload(batch(&t, "up", vec![upload("a", "A")]), Millis(T0))
        .await
        .unwrap();
    assert_eq!(silent.deliveries, 0);
    assert!(store
        .deliveries(&t, None, None, 10)
        .await
        .unwrap()
        .is_empty());

    configure(&*store, &t, &hooks("*", BASE, true)).await;
    let child = fastcomments_protocol::UploadComment {
        external_parent_id: Some("p".into()),
        ..upload("c", "child")
    };
    let first = store
        .upload(
            batch(&t, "up", vec![upload("b", "B"), child]),
            Millis(T0 + 1),
        )
        .await
        .unwrap();
    assert_eq!(first.deliveries, 2);
    let second = store
        .upload(
            batch(
                &t,
                "up",
                vec![
                    upload("b", "B edited"),
                    upload("p", "parent"),
                    upload("a", "A"),
                ],
            ),
            Millis(T0 + 2),
        )
        .await
        .unwrap();
    assert_eq!(
        second.deliveries, 3,
        "b changed, p new, c linked; a unchanged"
    );
    let ids = |ext: &str| {
        first
            .comment_ids
            .get(ext)
            .or_else(|| second.comment_ids.get(ext))
            .unwrap()
            .clone()
    };
    let mut seen: Vec<(String, &str)> = deliveries_oldest_first(&*store, &t)
        .await
        .into_iter()
        .map(|d| (d.comment_id, d.kind.as_str()))
        .collect();
    seen.sort();
    let mut expected = vec![
        (ids("b"), "create"),
        (ids("c"), "create"),
        (ids("b"), "update"),
        (ids("p"), "create"),
        (ids("c"), "update"),
    ];
    expected.sort();
    assert_eq!(seen, expected);
}

/// Listings are newest first and filter by status and comment; one delivery comes with its
/// attempts in order.
pub async fn deliveries_are_listed_newest_first(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    configure(&*store, &t, &hooks("*", BASE, false)).await;
    let mut comments = Vec::new();
    for i in 0..3 {
        let c = new_comment(&t, "/p", &format!("c{i}"));
        let applied = store
            .apply(&t, Change::CreateComment(Box::new(c)), Millis(T0 + i))
            .await
            .unwrap();
        comments.push(applied.comment.unwrap());
    }
    edit(&*store, &t, &comments[0].id, "c0 edited", T0 + 3).await;
    let all = store.deliveries(&t, None, None, 10).await.unwrap();
    let order: Vec<(&str, WebhookEventKind)> = all
        .iter()
        .map(|d| (d.comment_id.as_str(), d.kind))
        .collect();
    let id = |i: usize| comments[i].id.as_str();
    assert_eq!(
        order,
        vec![
            (id(0), WebhookEventKind::Update),
            (id(2), WebhookEventKind::Create),
            (id(1), WebhookEventKind::Create),
            (id(0), WebhookEventKind::Create),
        ]
    );
    assert_eq!(store.deliveries(&t, None, None, 2).await.unwrap(), all[..2]);
    let of_first = store.deliveries(&t, None, Some(id(0)), 10).await.unwrap();
    assert_eq!(of_first, vec![all[0].clone(), all[3].clone()]);

    let d = all[3].clone();
    record(
        &*store,
        &[outcome(&d, 1, DeliveryStatus::Retrying, T0 + 60_000)],
        T0 + 10,
    )
    .await;
    record(
        &*store,
        &[outcome(&d, 2, DeliveryStatus::Succeeded, 0)],
        T0 + 60_000,
    )
    .await;
    let succeeded = store
        .deliveries(&t, Some(DeliveryStatus::Succeeded), None, 10)
        .await
        .unwrap();
    assert_eq!(
        succeeded.iter().map(|d| &d.id).collect::<Vec<_>>(),
        vec![&d.id]
    );
    let queued = store
        .deliveries(&t, Some(DeliveryStatus::Queued), None, 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 3);
    assert!(queued.iter().all(|q| q.id != d.id));
    let (one, attempts) = store.delivery(&t, &d.id).await.unwrap().unwrap();
    assert_eq!((one.status, one.attempts), (DeliveryStatus::Succeeded, 2));
    // Every field of every attempt, in attempt order.
    assert_eq!(
        attempts,
        vec![
            outcome(&d, 1, DeliveryStatus::Retrying, T0 + 60_000).attempt,
            outcome(&d, 2, DeliveryStatus::Succeeded, 0).attempt,
        ]
    );
    assert!(store
        .delivery(&t, "no-such-delivery")
        .await
        .unwrap()
        .is_none());
}

/// Four queued deliveries of distinct comments of a new tenant with a `*` configuration.
async fn four_queued(store: &dyn Store) -> (TenantId, Vec<Delivery>) {
    let t = tenant(store, "t1").await;
    configure(store, &t, &hooks("*", BASE, false)).await;
    for i in 0..4 {
        create(store, &t, "/p", &format!("c{i}")).await;
    }
    let all = deliveries_oldest_first(store, &t).await;
    (t, all)
}

/// Queued or retrying deliveries can be cancelled; failed or cancelled ones retried (queued
/// again, due now, `extra_attempts` more); anything else is a conflict, and an unknown id not
/// found.
pub async fn cancel_and_retry_follow_the_state_rules(store: Arc<dyn Store>) {
    let (t, d) = four_queued(&*store).await;
    let now = T0 + 1000;
    let cancelled = cancel(&*store, &t, &d[0].id, now).await;
    assert_eq!(cancelled.status, DeliveryStatus::Cancelled);
    assert_eq!(cancelled.updated_at, now);
    let twice = store.cancel_delivery(&t, &d[0].id, Millis(now)).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let retried = store
        .retry_delivery(&t, &d[0].id, Millis(now + 1), 3)
        .await
        .unwrap();
    assert_eq!(retried.status, DeliveryStatus::Queued);
    assert_eq!(retried.next_attempt_at, now + 1);
    assert_eq!(retried.max_attempts, retried.attempts + 3);
    let queued_retry = store.retry_delivery(&t, &d[0].id, Millis(now), 3).await;
    assert!(matches!(queued_retry, Err(StoreError::Conflict(_))));

    let retrying = outcome(&d[1], 1, DeliveryStatus::Retrying, now + 60_000);
    record(&*store, &[retrying], now).await;
    let retrying_retry = store.retry_delivery(&t, &d[1].id, Millis(now), 3).await;
    assert!(matches!(retrying_retry, Err(StoreError::Conflict(_))));
    let cancelled = cancel(&*store, &t, &d[1].id, now).await;
    assert_eq!(cancelled.status, DeliveryStatus::Cancelled);

    let ok = outcome(&d[2], 1, DeliveryStatus::Succeeded, 0);
    record(&*store, &[ok], now).await;
    let late_cancel = store.cancel_delivery(&t, &d[2].id, Millis(now)).await;
    assert!(matches!(late_cancel, Err(StoreError::Conflict(_))));
    let needless_retry = store.retry_delivery(&t, &d[2].id, Millis(now), 3).await;
    assert!(matches!(needless_retry, Err(StoreError::Conflict(_))));

    let failed = outcome(&d[3], 1, DeliveryStatus::Failed, 0);
    record(&*store, &[failed], now).await;
    let again = store
        .retry_delivery(&t, &d[3].id, Millis(now + 5), 2)
        .await
        .unwrap();
    assert_eq!(
        (
            again.status,
            again.attempts,
            again.max_attempts,
            again.next_attempt_at
        ),
        (DeliveryStatus::Queued, 1, 3, now + 5)
    );

    for result in [
        store
            .cancel_delivery(&t, "no-such-delivery", Millis(now))
            .await,
        store
            .retry_delivery(&t, "no-such-delivery", Millis(now), 1)
            .await,
    ] {
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }
}

/// Recorded attempts move deliveries on (retrying with its next time, then succeeded), several
/// in one call; an attempt recorded after the delivery was cancelled leaves it cancelled.
pub async fn attempts_move_deliveries_on_but_not_cancelled_ones(store: Arc<dyn Store>) {
    let (t, d) = four_queued(&*store).await;
    let status = |id: String| {
        let store = store.clone();
        let t = t.clone();
        async move { store.delivery(&t, &id).await.unwrap().unwrap().0 }
    };
    record(
        &*store,
        &[
            outcome(&d[0], 1, DeliveryStatus::Retrying, T0 + 60_000),
            outcome(&d[1], 1, DeliveryStatus::Succeeded, 0),
        ],
        T0 + 10,
    )
    .await;
    let first = status(d[0].id.clone()).await;
    assert_eq!(
        (first.status, first.attempts, first.next_attempt_at),
        (DeliveryStatus::Retrying, 1, T0 + 60_000)
    );
    assert_eq!(first.last_error.as_deref(), Some("status 500"));
    assert_eq!(first.updated_at, T0 + 10);
    assert_eq!(
        status(d[1].id.clone()).await.status,
        DeliveryStatus::Succeeded
    );
    record(
        &*store,
        &[outcome(&d[0], 2, DeliveryStatus::Succeeded, 0)],
        T0 + 60_000,
    )
    .await;
    let first = status(d[0].id.clone()).await;
    assert_eq!(
        (first.status, first.attempts),
        (DeliveryStatus::Succeeded, 2)
    );

    // Cancelled while its attempt was in flight: the late result does not bring it back.
    for (i, late) in [
        (2, DeliveryStatus::Succeeded),
        (3, DeliveryStatus::Retrying),
    ] {
        cancel(&*store, &t, &d[i].id, T0 + 20).await;
        record(&*store, &[outcome(&d[i], 1, late, T0 + 60_000)], T0 + 30).await;
        assert_eq!(
            status(d[i].id.clone()).await.status,
            DeliveryStatus::Cancelled
        );
    }
    let pending = store
        .deliveries(&t, Some(DeliveryStatus::Retrying), None, 10)
        .await
        .unwrap();
    assert!(pending.is_empty(), "{pending:?}");
}

/// An attempt that was in flight when its delivery was cancelled still happened: it is logged
/// and counted (the delivery stays cancelled), so a manual retry sends the next attempt number
/// and its log entry is kept beside the first.
pub async fn an_attempt_recorded_after_cancel_still_counts(store: Arc<dyn Store>) {
    let (t, d) = four_queued(&*store).await;
    cancel(&*store, &t, &d[0].id, T0 + 20).await;
    record(
        &*store,
        &[outcome(&d[0], 1, DeliveryStatus::Retrying, T0 + 60_000)],
        T0 + 30,
    )
    .await;
    let (after, log) = store.delivery(&t, &d[0].id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.attempts),
        (DeliveryStatus::Cancelled, 1)
    );
    assert_eq!(log.len(), 1);
    let retried = store
        .retry_delivery(&t, &d[0].id, Millis(T0 + 40), 3)
        .await
        .unwrap();
    assert_eq!(
        (retried.status, retried.attempts),
        (DeliveryStatus::Queued, 1)
    );
    record(
        &*store,
        &[outcome(&d[0], 2, DeliveryStatus::Succeeded, 0)],
        T0 + 50,
    )
    .await;
    let (done, log) = store.delivery(&t, &d[0].id).await.unwrap().unwrap();
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Succeeded, 2));
    assert_eq!(
        log.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![1, 2],
        "both attempts are in the log"
    );
}
