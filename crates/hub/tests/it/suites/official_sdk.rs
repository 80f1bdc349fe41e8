//! The official FastComments SDK for Rust (`fastcomments-sdk`, pinned), unchanged, against the
//! real hub on loopback: its `Configuration.base_path` set to the hub, the tenant's API secret
//! and id, every call of the comment subset (comments, bulk, votes, flags, pending webhook
//! events, pages), each answer read by the SDK's own models and checked for content.

use super::BACKEND;
use crate::common::{Tenant, TestHub};
use fastcomments_sdk::client::apis::configuration::{ApiKey, Configuration};
use fastcomments_sdk::client::apis::default_api as sdk;
use fastcomments_sdk::client::apis::Error;
use fastcomments_sdk::client::models;
use reqwest::StatusCode;
use serde_json::json;

/// The SDK configured as a user would for this hub and tenant.
fn configured(hub: &TestHub, key: &str) -> Configuration {
    Configuration {
        base_path: hub.base.trim_end_matches('/').to_owned(),
        api_key: Some(ApiKey {
            prefix: None,
            key: key.to_owned(),
        }),
        ..Configuration::default()
    }
}

/// The status of a refused call, and the `code` of its typed error body when there is one.
fn refused<T: std::fmt::Debug>(e: Error<T>) -> (StatusCode, String) {
    match e {
        Error::ResponseError(r) => {
            let code = serde_json::from_str::<serde_json::Value>(&r.content)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            (r.status, code)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn new_comment(url_id: &str, text: &str) -> models::CreateCommentParams {
    models::CreateCommentParams::new(
        "Ana".into(),
        text.into(),
        format!("https://alpha.example/{url_id}"),
        url_id.into(),
        "en_us".into(),
    )
}

async fn save(cfg: &Configuration, t: &Tenant, params: models::CreateCommentParams) -> models::ApiComment {
    let saved = sdk::save_comment(
        cfg,
        sdk::SaveCommentParams {
            tenant_id: t.id.to_string(),
            create_comment_params: params,
            is_live: Some(true),
            do_spam_check: Some(false),
            send_emails: Some(false),
            populate_notifications: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(saved.status, models::ApiStatus::Success);
    *saved.comment
}

fn list_params(t: &Tenant) -> sdk::GetCommentsParams {
    sdk::GetCommentsParams {
        tenant_id: t.id.to_string(),
        page: None,
        limit: None,
        skip: None,
        as_tree: None,
        skip_children: None,
        limit_children: None,
        max_tree_depth: None,
        url_id: None,
        user_id: None,
        anon_user_id: None,
        context_user_id: None,
        hash_tag: None,
        parent_id: None,
        direction: None,
        from_date: None,
        to_date: None,
    }
}

#[tokio::test]
async fn comments_round_trip_through_the_sdk() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Alpha").await;
    let cfg = configured(&hub, &t.key);

    let mut first = new_comment("post-1", "First!");
    first.mentions = Some(vec![models::CommentUserMentionInfo::new("u9".into(), "@Bo".into())]);
    first.is_pinned = Some(true);
    first.commenter_link = Some(Some("https://ana.example".into()));
    let top = save(&cfg, &t, first).await;
    assert_eq!((top.url_id.as_str(), top.comment.as_str()), ("post-1", "First!"));
    assert_eq!(top.url, "https://alpha.example/post-1");
    assert_eq!(top.locale.as_deref(), Some("en_us"));
    assert_eq!(top.is_pinned, Some(Some(true)));
    assert_eq!(top.commenter_link, Some(Some("https://ana.example".into())));
    assert_eq!(top.mentions.as_ref().map(|m| m[0].tag.as_str()), Some("@Bo"));
    assert!(top.date.is_some_and(|d| d > 1.7e12), "epoch ms: {:?}", top.date);
    assert_eq!(top.tenant_id, t.id.as_str());

    let mut reply = new_comment("post-1", "A reply");
    reply.parent_id = Some(Some(top.id.clone()));
    let reply = save(&cfg, &t, reply).await;
    assert_eq!(reply.parent_id, Some(Some(top.id.clone())));
    for n in 0..3 {
        save(&cfg, &t, new_comment("post-2", &format!("other {n}"))).await;
    }

    let one = get_one(&cfg, t.id.to_string(), top.id.clone())
    .await
    .unwrap();
    assert_eq!((one.comment.id.as_str(), one.comment.comment.as_str()), (top.id.as_str(), "First!"));

    // A thread, in pages of 1, oldest first; the replies of one comment; the whole tenant.
    let mut seen = Vec::new();
    for page in 0..3 {
        let got = sdk::get_comments(
            &cfg,
            sdk::GetCommentsParams {
                url_id: Some("post-1".into()),
                page: Some(page),
                limit: Some(1),
                ..list_params(&t)
            },
        )
        .await
        .unwrap();
        seen.extend(got.comments.into_iter().map(|c| c.id));
    }
    assert_eq!(seen, vec![top.id.clone(), reply.id.clone()]);
    let replies = sdk::get_comments(
        &cfg,
        sdk::GetCommentsParams {
            parent_id: Some(top.id.clone()),
            ..list_params(&t)
        },
    )
    .await
    .unwrap();
    assert_eq!(replies.comments.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), vec![reply.id.clone()]);
    let all = sdk::get_comments(&cfg, list_params(&t)).await.unwrap();
    assert_eq!(all.comments.len(), 5);
    let oldest_first = sdk::get_comments(
        &cfg,
        sdk::GetCommentsParams {
            direction: Some(models::SortDirections::Of),
            ..list_params(&t)
        },
    )
    .await
    .unwrap();
    assert_eq!(oldest_first.comments[0].id, top.id);
    // A filter the hub cannot apply is refused, not ignored.
    let e = sdk::get_comments(
        &cfg,
        sdk::GetCommentsParams {
            user_id: Some("u1".into()),
            ..list_params(&t)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused(e), (StatusCode::BAD_REQUEST, "invalid-query".into()));

    // Every field of an update the hub keeps; meta keys merge; null clears.
    let mut change = models::UpdatableCommentParams::new();
    change.comment = Some("First, edited".into());
    change.commenter_name = Some("Ana B.".into());
    change.page_title = Some(Some("Post one".into()));
    change.is_pinned = Some(None);
    change.is_locked = Some(Some(true));
    change.meta = Some(Some(models::ApiCommentBaseMeta {
        wp_user_id: Some("3".into()),
        wp_post_id: None,
    }));
    let done = update(&cfg, t.id.to_string(), top.id.clone(), change)
    .await
    .unwrap();
    assert_eq!(done.status, models::ApiStatus::Success);
    let now = get_one(&cfg, t.id.to_string(), top.id.clone())
    .await
    .unwrap()
    .comment;
    assert_eq!(
        (now.comment.as_str(), now.commenter_name.as_str(), now.page_title.clone()),
        ("First, edited", "Ana B.", Some(Some("Post one".to_owned())))
    );
    assert_eq!((now.is_pinned, now.is_locked), (None, Some(Some(true))));
    assert_eq!(now.meta.and_then(|m| m).and_then(|m| m.wp_user_id), Some("3".into()));

    let gone = sdk::delete_comment(
        &cfg,
        sdk::DeleteCommentParams {
            tenant_id: t.id.to_string(),
            id: reply.id.clone(),
            context_user_id: None,
            is_live: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(gone.action, models::DeleteCommentAction::HardRemoved);
    let e = get_one(&cfg, t.id.to_string(), reply.id.clone())
    .await
    .unwrap_err();
    assert_eq!(refused(e), (StatusCode::NOT_FOUND, "not-found".into()));
}

#[tokio::test]
async fn bulk_saves_each_comment_and_says_which_failed() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Alpha").await;
    let cfg = configured(&hub, &t.key);
    let mut orphan = new_comment("p", "orphan");
    orphan.parent_id = Some(Some("no-such-comment".into()));
    let items = vec![new_comment("p", "one"), new_comment("p", " "), orphan, new_comment("p", "two")];
    let got = sdk::save_comments_bulk(
        &cfg,
        sdk::SaveCommentsBulkParams {
            tenant_id: t.id.to_string(),
            create_comment_params: items,
            is_live: None,
            do_spam_check: None,
            send_emails: None,
            populate_notifications: None,
        },
    )
    .await
    .unwrap();
    let summary: Vec<_> = got
        .iter()
        .map(|r| (r.status, r.code.clone(), r.comment.as_ref().map(|c| c.comment.clone())))
        .collect();
    assert_eq!(
        summary,
        vec![
            (models::ApiStatus::Success, None, Some("one".into())),
            (models::ApiStatus::Failed, Some("invalid-body".into()), None),
            (models::ApiStatus::Failed, Some("not-found".into()), None),
            (models::ApiStatus::Success, None, Some("two".into())),
        ]
    );
    let stored = sdk::get_comments(&cfg, list_params(&t)).await.unwrap();
    assert_eq!(stored.comments.len(), 2);
    // Too many in one call: refused as a whole.
    let many = vec![new_comment("p", "x"); 501];
    let e = sdk::save_comments_bulk(
        &cfg,
        sdk::SaveCommentsBulkParams {
            tenant_id: t.id.to_string(),
            create_comment_params: many,
            is_live: None,
            do_spam_check: None,
            send_emails: None,
            populate_notifications: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused(e).0, StatusCode::BAD_REQUEST);
}

/// What plugins upload is read by the SDK too: numbers where it wants text, a key it types
/// differently, no `url`, an `id` of the plugin's own.
#[tokio::test]
async fn uploaded_comments_are_readable_by_the_sdk() {
    let hub = TestHub::start(BACKEND).await;
    let token = "5b3e0a2c-1f4d-4e8b-9c7a-2d6f8e1b3a5c";
    let t = hub.connected_tenant("Alpha", token, false).await;
    let (s, v) = hub
        .upload(
            token,
            json!({"comments": [{
                "id": "wp-7", "externalId": "7", "urlId": "12", "commenterName": "Wp",
                "comment": "From WordPress", "date": "2024-05-01 12:00:00",
                "meta": {"wpPostId": 12, "wpUserId": 0}, "isPinned": "1",
                "verifiedDate": 1_700_000_000_000_i64, "hashTags": [{"id": "h", "tag": "#t"}],
                "votes": 3_000_000_000_i64, "expireAt": "soon"
            }], "countRemaining": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cfg = configured(&hub, &t.key);
    let got = sdk::get_comments(&cfg, list_params(&t)).await.unwrap();
    let c = &got.comments[0];
    assert_eq!(c.url, "");
    assert_eq!(c.external_id.as_deref(), Some("7"));
    assert_eq!(c.date, Some(1_714_564_800_000.0));
    let meta = c.meta.clone().and_then(|m| m).unwrap();
    assert_eq!((meta.wp_post_id.as_deref(), meta.wp_user_id.as_deref()), (Some("12"), Some("0")));
    assert_eq!(c.is_pinned, Some(Some(true)));
    assert!(c.verified_date.is_some());
    assert_eq!(c.votes, Some(Some(i32::MAX)));
    assert!(c.expire_at.is_none(), "not a date: left out");
}

#[tokio::test]
async fn votes_and_flags_through_the_sdk() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Alpha").await;
    let cfg = configured(&hub, &t.key);
    let c = save(&cfg, &t, new_comment("post-1", "Vote on me")).await;
    let vote = |direction: &str, user: Option<&str>, anon: Option<&str>| {
        sdk::create_vote(
            &cfg,
            sdk::CreateVoteParams {
                tenant_id: t.id.to_string(),
                comment_id: c.id.clone(),
                direction: direction.into(),
                user_id: user.map(str::to_owned),
                anon_user_id: anon.map(str::to_owned),
            },
        )
    };
    let first = vote("up", Some("u1"), None).await.unwrap();
    assert_eq!(first.status, models::vote_response::Status::Success);
    let again = vote("up", Some("u1"), None).await.unwrap();
    assert_eq!(again.vote_id, first.vote_id, "the same vote twice is one vote");
    let anon = vote("down", None, Some("visitor-1")).await.unwrap();
    let anon_again = vote("down", None, Some("visitor-1")).await.unwrap();
    assert_eq!(anon_again.vote_id, anon.vote_id);
    let e = vote("sideways", Some("u2"), None).await.unwrap_err();
    assert_eq!(refused(e), (StatusCode::BAD_REQUEST, "invalid-query".into()));

    let all = sdk::get_votes(
        &cfg,
        sdk::GetVotesParams {
            tenant_id: t.id.to_string(),
            url_id: "post-1".into(),
        },
    )
    .await
    .unwrap();
    let named: Vec<_> = all
        .applied_authorized_votes
        .iter()
        .map(|v| (v.user_id.as_str(), v.direction.as_str(), v.comment_id.as_str(), v.url_id.as_str()))
        .collect();
    assert_eq!(named, vec![("u1", "up", c.id.as_str(), "post-1")]);
    assert_eq!(all.applied_anonymous_votes.len(), 1);
    assert_eq!(all.applied_anonymous_votes[0].user_id, "visitor-1");
    assert!(all.pending_votes.is_empty());
    let mine = sdk::get_votes_for_user(
        &cfg,
        sdk::GetVotesForUserParams {
            tenant_id: t.id.to_string(),
            url_id: "post-1".into(),
            user_id: None,
            anon_user_id: Some("visitor-1".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(mine.applied_anonymous_votes.len() + mine.applied_authorized_votes.len(), 1);
    let counted = get_one(&cfg, t.id.to_string(), c.id.clone())
    .await
    .unwrap()
    .comment;
    assert_eq!((counted.votes_up, counted.votes_down, counted.votes), (Some(Some(1)), Some(Some(1)), Some(Some(0))));
    let removed = sdk::delete_vote(
        &cfg,
        sdk::DeleteVoteParams {
            tenant_id: t.id.to_string(),
            id: first.vote_id.clone().unwrap(),
            edit_key: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(removed.status, models::ApiStatus::Success);

    // Flags: once per user, taken back by that user only.
    let flag = |user: &str, on: bool| {
        let (cfg, t, id) = (&cfg, &t, c.id.clone());
        let user = user.to_owned();
        async move {
            if on {
                sdk::flag_comment(
                    cfg,
                    sdk::FlagCommentParams {
                        tenant_id: t.id.to_string(),
                        id,
                        user_id: Some(user),
                        anon_user_id: None,
                    },
                )
                .await
                .unwrap()
            } else {
                sdk::un_flag_comment(
                    cfg,
                    sdk::UnFlagCommentParams {
                        tenant_id: t.id.to_string(),
                        id,
                        user_id: Some(user),
                        anon_user_id: None,
                    },
                )
                .await
                .unwrap()
            }
        }
    };
    flag("u1", true).await;
    flag("u1", true).await;
    let r = flag("u2", true).await;
    assert_eq!(r.status, models::ApiStatus::Success);
    flag("u3", false).await;
    let count = |id: String| async {
        get_one(&cfg, t.id.to_string(), id)
            .await
            .unwrap()
            .comment
            .flag_count
    };
    assert_eq!(count(c.id.clone()).await, Some(Some(2)));
    flag("u1", false).await;
    assert_eq!(count(c.id.clone()).await, Some(Some(1)));
    let e = sdk::flag_comment(
        &cfg,
        sdk::FlagCommentParams {
            tenant_id: t.id.to_string(),
            id: c.id.clone(),
            user_id: None,
            anon_user_id: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused(e), (StatusCode::BAD_REQUEST, "invalid-query".into()));
}

/// Another tenant's ids are "not found", a `tenantId` that is not the key's is `401`, and a
/// domain's secret reaches its own domain only.
#[tokio::test]
async fn the_sdk_reaches_only_what_its_key_may() {
    let hub = TestHub::start(BACKEND).await;
    let alpha = hub.tenant_owning("Alpha", &["alpha.example", "beta.example"]).await;
    let other = hub.tenant("Other").await;
    let cfg = configured(&hub, &alpha.key);
    let mut on_beta = new_comment("p", "on beta");
    on_beta.domain = Some("beta.example".into());
    let beta_comment = save(&cfg, &alpha, on_beta).await;
    let theirs = save(&configured(&hub, &other.key), &other, new_comment("p", "theirs")).await;

    // Alpha's key with Other's tenant id.
    let e = sdk::get_comments(&cfg, list_params(&other)).await.unwrap_err();
    assert_eq!(refused(e), (StatusCode::UNAUTHORIZED, "unauthorized".into()));
    // Other's comment through Alpha's key, by every call that takes an id.
    let get = get_one(&cfg, alpha.id.to_string(), theirs.id.clone()).await.unwrap_err();
    assert_eq!(refused(get).0, StatusCode::NOT_FOUND);
    let flag = sdk::flag_comment(&cfg, sdk::FlagCommentParams { tenant_id: alpha.id.to_string(), id: theirs.id.clone(), user_id: Some("u".into()), anon_user_id: None }).await.unwrap_err();
    assert_eq!(refused(flag).0, StatusCode::NOT_FOUND);
    let vote = sdk::create_vote(&cfg, sdk::CreateVoteParams { tenant_id: alpha.id.to_string(), comment_id: theirs.id.clone(), direction: "up".into(), user_id: Some("u".into()), anon_user_id: None }).await.unwrap_err();
    assert_eq!(refused(vote).0, StatusCode::NOT_FOUND);
    let mut change = models::UpdatableCommentParams::new();
    change.comment = Some("taken".into());
    let changed = update(&cfg, alpha.id.to_string(), theirs.id.clone(), change).await.unwrap_err();
    assert_eq!(refused(changed).0, StatusCode::NOT_FOUND);
    let mut reparent = models::UpdatableCommentParams::new();
    reparent.parent_id = Some(Some(theirs.id.clone()));
    let e = update(&cfg, alpha.id.to_string(), beta_comment.id.clone(), reparent).await.unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND, "a parent in another tenant");
    let delete = sdk::delete_comment(&cfg, sdk::DeleteCommentParams { tenant_id: alpha.id.to_string(), id: theirs.id.clone(), context_user_id: None, is_live: None }).await.unwrap_err();
    assert_eq!(refused(delete).0, StatusCode::NOT_FOUND);

    // A secret of alpha.example cannot read, vote on or flag beta.example's comment.
    let (alpha_secret, _) = hub.api(&alpha.key).create_secret_for("alpha.example").await;
    let narrow = configured(&hub, &alpha_secret);
    let e = get_one(&narrow, alpha.id.to_string(), beta_comment.id.clone()).await.unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND);
    let listed = sdk::get_comments(&narrow, list_params(&alpha)).await.unwrap();
    assert!(listed.comments.is_empty());
    let votes = sdk::get_votes(&narrow, sdk::GetVotesParams { tenant_id: alpha.id.to_string(), url_id: "p".into() }).await.unwrap();
    assert!(votes.applied_authorized_votes.is_empty());
    let e = sdk::un_flag_comment(&narrow, sdk::UnFlagCommentParams { tenant_id: alpha.id.to_string(), id: beta_comment.id.clone(), user_id: Some("u".into()), anon_user_id: None }).await.unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND);

    // A reply cannot become its own ancestor.
    let mut child = new_comment("p", "child");
    child.parent_id = Some(Some(beta_comment.id.clone()));
    let child = save(&cfg, &alpha, child).await;
    let mut up = models::UpdatableCommentParams::new();
    up.parent_id = Some(Some(child.id.clone()));
    let e = update(&cfg, alpha.id.to_string(), beta_comment.id.clone(), up).await.unwrap_err();
    assert_eq!(refused(e), (StatusCode::BAD_REQUEST, "invalid-body".into()));
}

fn pending_params(t: &Tenant) -> sdk::GetPendingWebhookEventsParams {
    sdk::GetPendingWebhookEventsParams {
        tenant_id: t.id.to_string(),
        comment_id: None,
        external_id: None,
        event_type: None,
        r#type: None,
        domain: None,
        attempt_count_gt: None,
        skip: None,
    }
}

async fn pending_count(
    cfg: &Configuration,
    p: sdk::GetPendingWebhookEventsParams,
) -> f64 {
    sdk::get_pending_webhook_event_count(
        cfg,
        sdk::GetPendingWebhookEventCountParams {
            tenant_id: p.tenant_id,
            comment_id: p.comment_id,
            external_id: p.external_id,
            event_type: p.event_type,
            r#type: p.r#type,
            domain: p.domain,
            attempt_count_gt: p.attempt_count_gt,
        },
    )
    .await
    .unwrap()
    .count
}

/// The webhook queue as the hosted API shows it: deliveries to a receiver that refuses
/// connections wait for their retry; they are listed, counted by every filter and cancelled.
#[tokio::test]
async fn pending_webhook_events_are_listed_counted_and_cancelled() {
    // Retries ten minutes apart: what failed once stays pending through the test.
    let hub = TestHub::for_webhooks(BACKEND, 600_000, 5).await;
    let t = hub.tenant_owning("Alpha", &["alpha.example", "beta.example"]).await;
    let other = hub.tenant("Other").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/in", closed.local_addr().unwrap());
    drop(closed);
    let (s, v) = hub
        .api(&t.key)
        .put_webhook_config(json!({"domain": "*", "create": {"url": url}, "update": {"url": url}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cfg = configured(&hub, &t.key);
    let mut on_alpha = new_comment("p", "on alpha");
    on_alpha.domain = Some("alpha.example".into());
    let a = save(&cfg, &t, on_alpha).await;
    let mut on_beta = new_comment("p", "on beta");
    on_beta.domain = Some("beta.example".into());
    let b = save(&cfg, &t, on_beta).await;
    let mut change = models::UpdatableCommentParams::new();
    change.comment = Some("edited".into());
    update(&cfg, t.id.to_string(), a.id.clone(), change)
    .await
    .unwrap();

    // Both creates are tried (and refused); the update waits behind its create.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let tried = pending_params(&t);
    while pending_count(&cfg, sdk::GetPendingWebhookEventsParams { attempt_count_gt: Some(0.0), ..tried.clone() }).await < 2.0 {
        assert!(std::time::Instant::now() < deadline, "the creates were never tried");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let listed = sdk::get_pending_webhook_events(&cfg, pending_params(&t))
        .await
        .unwrap()
        .pending_webhook_events;
    assert_eq!(listed.len(), 3);
    for e in &listed {
        assert_eq!(e.tenant_id, t.id.as_str());
        assert!(e.external_id.is_none());
        assert!(e.webhook_id.is_none());
        assert_eq!(e.r#type, 0.0);
    }
    let update = listed.iter().find(|e| e.event_type == 1.0).unwrap();
    assert_eq!((update.comment_id.as_str(), update.attempt_count), (a.id.as_str(), 0.0));
    let b_event = listed.iter().find(|e| e.comment_id == b.id).unwrap();
    assert_eq!((b_event.domain.as_str(), b_event.attempt_count), ("beta.example", 1.0));
    assert!(b_event.last_error.as_str().is_some_and(|e| !e.is_empty()), "{:?}", b_event.last_error);

    let by = |f: fn(&mut sdk::GetPendingWebhookEventsParams)| {
        let mut p = pending_params(&t);
        f(&mut p);
        p
    };
    assert_eq!(pending_count(&cfg, by(|p| p.event_type = Some("1".into()))).await, 1.0);
    assert_eq!(pending_count(&cfg, by(|p| p.event_type = Some("create".into()))).await, 2.0);
    assert_eq!(pending_count(&cfg, by(|p| p.domain = Some("beta.example".into()))).await, 1.0);
    assert_eq!(pending_count(&cfg, by(|p| p.r#type = Some("1".into()))).await, 0.0);
    assert_eq!(pending_count(&cfg, sdk::GetPendingWebhookEventsParams { comment_id: Some(a.id.clone()), ..pending_params(&t) }).await, 2.0);
    let skipped = sdk::get_pending_webhook_events(&cfg, sdk::GetPendingWebhookEventsParams { skip: Some(2.0), ..pending_params(&t) })
        .await
        .unwrap();
    assert_eq!(skipped.pending_webhook_events.len(), 1);
    let e = sdk::get_pending_webhook_events(&cfg, by(|p| p.event_type = Some("sideways".into())))
        .await
        .unwrap_err();
    assert_eq!(refused(e), (StatusCode::BAD_REQUEST, "invalid-query".into()));

    // A domain's secret sees its domain's; another tenant sees none and cancels none.
    let (alpha_secret, _) = hub.api(&t.key).create_secret_for("alpha.example").await;
    let narrow = configured(&hub, &alpha_secret);
    assert_eq!(pending_count(&narrow, pending_params(&t)).await, 2.0);
    let theirs = configured(&hub, &other.key);
    let e = cancel(&theirs, &other, b_event._id.clone()).await.unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND);
    let e = cancel(&narrow, &t, b_event._id.clone()).await.unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND);

    let done = cancel(&cfg, &t, b_event._id.clone()).await.unwrap();
    assert_eq!(done.status, models::ApiStatus::Success);
    assert_eq!(pending_count(&cfg, pending_params(&t)).await, 2.0);
    let e = cancel(&cfg, &t, b_event._id.clone()).await.unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND, "no longer pending");
    let (_, v) = hub.api(&t.key).delivery(&b_event._id).await;
    assert_eq!(v["delivery"]["status"], "cancelled", "{v}");
}

async fn cancel(
    cfg: &Configuration,
    tenant: &Tenant,
    id: String,
) -> Result<models::ApiEmptyResponse, Error<sdk::DeletePendingWebhookEventError>> {
    sdk::delete_pending_webhook_event(
        cfg,
        sdk::DeletePendingWebhookEventParams {
            tenant_id: tenant.id.to_string(),
            id,
        },
    )
    .await
}

/// Threads as pages: made with the first comment or by the API, counted, renamed (the
/// comments move, each an update webhook), deleted (the comments go, each a delete webhook).
#[tokio::test]
async fn pages_are_the_threads_and_move_and_go_with_their_comments() {
    let hub = TestHub::for_webhooks(BACKEND, 600_000, 5).await;
    let t = hub.tenant("Alpha").await;
    let other = hub.tenant("Other").await;
    let cfg = configured(&hub, &t.key);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/in", closed.local_addr().unwrap());
    drop(closed);
    let (s, v) = hub
        .api(&t.key)
        .put_webhook_config(json!({"domain": "*", "create": {"url": url}, "update": {"url": url}, "delete": {"url": url}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let added = sdk::add_page(
        &cfg,
        sdk::AddPageParams {
            tenant_id: t.id.to_string(),
            create_api_page_data: models::CreateApiPageData::new(
                "Before any comment".into(),
                "https://alpha.example/early".into(),
                "early".into(),
            ),
        },
    )
    .await
    .unwrap();
    let early = added.page.unwrap();
    assert_eq!((early.url_id.as_str(), early.title.as_str(), early.comment_count), ("early", "Before any comment", 0));
    let again = sdk::add_page(
        &cfg,
        sdk::AddPageParams {
            tenant_id: t.id.to_string(),
            create_api_page_data: models::CreateApiPageData::new("x".into(), "y".into(), "early".into()),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused(again), (StatusCode::CONFLICT, "conflict".into()));

    // A thread's first comment makes its page; replies count, but not as roots.
    let mut first = new_comment("post-1", "first");
    first.page_title = Some("Post one".into());
    let top = save(&cfg, &t, first).await;
    let mut reply = new_comment("post-1", "reply");
    reply.parent_id = Some(Some(top.id.clone()));
    save(&cfg, &t, reply).await;
    let by_url = |url_id: &str| {
        sdk::get_page_by_urlid(
            &cfg,
            sdk::GetPageByUrlidParams {
                tenant_id: t.id.to_string(),
                url_id: url_id.into(),
            },
        )
    };
    let post = by_url("post-1").await.unwrap().page.unwrap();
    assert_eq!(
        (post.title.as_str(), post.url.as_deref(), post.comment_count, post.root_comment_count),
        ("Post one", Some("https://alpha.example/post-1"), 2, 1)
    );
    let all = sdk::get_pages(&cfg, sdk::GetPagesParams { tenant_id: t.id.to_string() })
        .await
        .unwrap()
        .pages
        .unwrap();
    assert_eq!(all.iter().map(|p| p.url_id.as_str()).collect::<Vec<_>>(), vec!["early", "post-1"]);
    let e = by_url("nowhere").await.unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND);

    // Renamed: the same page, its comments moved, one update webhook each.
    let mut change = models::UpdateApiPageData::new();
    change.url_id = Some("post-one".into());
    change.title = Some("Post one, renamed".into());
    change.is_closed = Some(true);
    let patched = sdk::patch_page(
        &cfg,
        sdk::PatchPageParams {
            tenant_id: t.id.to_string(),
            id: post.id.clone(),
            update_api_page_data: change,
        },
    )
    .await
    .unwrap();
    assert_eq!(patched.comments_updated, Some(2));
    let moved = patched.page.unwrap();
    assert_eq!((moved.id.as_str(), moved.url_id.as_str(), moved.is_closed), (post.id.as_str(), "post-one", Some(true)));
    assert_eq!(moved.comment_count, 2);
    assert_eq!(refused(by_url("post-1").await.unwrap_err()).0, StatusCode::NOT_FOUND);
    let in_thread = sdk::get_comments(&cfg, sdk::GetCommentsParams { url_id: Some("post-one".into()), ..list_params(&t) })
        .await
        .unwrap();
    assert_eq!(in_thread.comments.len(), 2);
    let mut onto_early = models::UpdateApiPageData::new();
    onto_early.url_id = Some("early".into());
    let e = sdk::patch_page(&cfg, sdk::PatchPageParams { tenant_id: t.id.to_string(), id: post.id.clone(), update_api_page_data: onto_early })
        .await
        .unwrap_err();
    assert_eq!(refused(e), (StatusCode::CONFLICT, "conflict".into()));

    // Another tenant and a domain's secret reach none of it.
    let theirs = configured(&hub, &other.key);
    let e = sdk::delete_page(&theirs, sdk::DeletePageParams { tenant_id: other.id.to_string(), id: post.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(refused(e).0, StatusCode::NOT_FOUND);
    let (narrow_key, _) = hub.api(&t.key).create_secret_for("alpha.example").await;
    let e = sdk::get_pages(&configured(&hub, &narrow_key), sdk::GetPagesParams { tenant_id: t.id.to_string() })
        .await
        .unwrap_err();
    assert_eq!(refused(e), (StatusCode::FORBIDDEN, "all-domains-secret-required".into()));

    // Deleted: the page and both comments, one delete webhook each.
    let gone = sdk::delete_page(&cfg, sdk::DeletePageParams { tenant_id: t.id.to_string(), id: post.id.clone() })
        .await
        .unwrap();
    assert_eq!(gone.status, "success");
    let left = sdk::get_comments(&cfg, list_params(&t)).await.unwrap();
    assert!(left.comments.is_empty());
    let (_, v) = hub.api(&t.key).deliveries("limit=100").await;
    let kinds = |kind: &str| v["deliveries"].as_array().unwrap().iter().filter(|d| d["kind"] == kind).count();
    assert_eq!((kinds("create"), kinds("update"), kinds("delete")), (2, 2, 2), "{v}");
    let pages = sdk::get_pages(&cfg, sdk::GetPagesParams { tenant_id: t.id.to_string() }).await.unwrap();
    assert_eq!(pages.pages.unwrap().len(), 1);
}

/// The SDK's calls the hub has no part of answer `404 not-supported`, a code the SDK shows in
/// its error, and every path outside the hosted API stays a plain `404 not-found`.
#[tokio::test]
async fn calls_outside_the_hubs_part_are_not_supported() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Alpha").await;
    let cfg = configured(&hub, &t.key);
    let e = sdk::get_moderators(
        &cfg,
        sdk::GetModeratorsParams {
            tenant_id: t.id.to_string(),
            skip: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused(e), (StatusCode::NOT_FOUND, "not-supported".into()));
    let (s, v) = hub.get(&format!("/comments/{}?urlId=p", t.id)).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-supported")), "{v}");
    let (s, v) = hub.get("/no/such/path").await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{v}");
}

async fn get_one(
    cfg: &Configuration,
    tenant_id: String,
    id: String,
) -> Result<models::ApiGetCommentResponse, Error<sdk::GetCommentError>> {
    sdk::get_comment(cfg, sdk::GetCommentParams { tenant_id, id }).await
}

async fn update(
    cfg: &Configuration,
    tenant_id: String,
    id: String,
    change: models::UpdatableCommentParams,
) -> Result<models::ApiEmptyResponse, Error<sdk::UpdateCommentError>> {
    let params = sdk::UpdateCommentParams {
        tenant_id,
        id,
        updatable_comment_params: change,
        context_user_id: None,
        do_spam_check: None,
        is_live: None,
    };
    sdk::update_comment(cfg, params).await
}
