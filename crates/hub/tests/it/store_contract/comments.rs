//! Comment reads and API changes, plugin-local ids, tenants and their secrets.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{CommentIdMapping, Millis, VoteDirection};
use std::sync::Arc;

/// A thread reads oldest first, and all comments page by `(date, id)`.
pub async fn reads_are_ordered_and_paged(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let mut made = Vec::new();
    for (url, date) in [("/p", 3), ("/p", 1), ("/p", 2), ("/p", 1), ("/q", 0)] {
        let mut c = new_comment(&t, url, &format!("{url} at {date}"));
        c.date = Millis(T0 + date);
        let applied = store
            .apply(&t, Change::CreateComment(Box::new(c)), Millis(T0))
            .await
            .unwrap();
        made.push(applied.comment.unwrap());
    }
    made.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    let ids =
        |cs: &[fastcomments_protocol::Comment]| cs.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let thread: Vec<_> = made.iter().filter(|c| c.url_id == "/p").cloned().collect();
    assert_eq!(store.comments_by_url(&t, "/p").await.unwrap(), thread);
    assert!(store.comments_by_url(&t, "/none").await.unwrap().is_empty());
    let page = store.comments_page(&t, 1, 2).await.unwrap();
    assert_eq!(ids(&page), ids(&made[1..3]));
    let all = store.comments_page(&t, 0, 100).await.unwrap();
    assert_eq!(all, made);
    assert!(store.comments_page(&t, 5, 10).await.unwrap().is_empty());
    assert_eq!(store.count_comments(&t).await.unwrap(), 5);
    assert_eq!(
        store.comment(&t, &made[0].id).await.unwrap().as_ref(),
        Some(&made[0])
    );
    // Thread by thread, then by (date, id): every comment once, whatever the page size, even
    // when a page ends between two comments of one thread written at the same instant.
    let mut by_thread = made.clone();
    by_thread.sort_by(|a, b| (&a.url_id, a.date, &a.id).cmp(&(&b.url_id, b.date, &b.id)));
    for limit in [1, 2, 100] {
        let mut walked = Vec::new();
        loop {
            let after = walked.last().map(|c: &fastcomments_protocol::Comment| {
                (c.url_id.as_str(), c.date, c.id.as_str())
            });
            let page = store
                .comments_by_thread_after(&t, after, limit)
                .await
                .unwrap();
            let done = (page.len() as u64) < limit;
            walked.extend(page);
            if done {
                break;
            }
        }
        assert_eq!(ids(&walked), ids(&by_thread), "pages of {limit}");
    }
    let other = tenant(&*store, "t2").await;
    assert!(store
        .comments_by_thread_after(&other, None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Changes naming a comment (or parent, or vote) that does not exist are "not found" and
/// write nothing.
pub async fn changes_to_missing_comments_are_not_found(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let ghost = new_comment(&t, "/p", "never stored");
    let mut orphan = new_comment(&t, "/p", "reply to nothing");
    orphan.parent_id = Some(ghost.id.clone());
    let changes = vec![
        Change::UpdateComment {
            id: ghost.id.clone(),
            patch: Box::new(CommentPatch {
                approved: Some(false),
                ..Default::default()
            }),
        },
        Change::DeleteComment {
            id: ghost.id.clone(),
        },
        Change::AddVote(Box::new(vote(&ghost, Some("u1"), VoteDirection::Up))),
        Change::DeleteVote {
            id: "no-such-vote".into(),
        },
        Change::CreateComment(Box::new(orphan)),
    ];
    for change in changes {
        let result = store.apply(&t, change.clone(), Millis(T0)).await;
        assert!(
            matches!(result, Err(StoreError::NotFound(_))),
            "{change:?}: {result:?}"
        );
    }
    assert_eq!(store.count_comments(&t).await.unwrap(), 0);
    assert!(timeline(&*store, &t, "viewer").await.is_empty());
    assert_eq!(store.timeline_bounds(&t).await.unwrap().newest, 0);

    let parent = create(&*store, &t, "/p", "parent").await;
    let mut reply = new_comment(&t, "/p", "reply");
    reply.parent_id = Some(parent.id.clone());
    let applied = store
        .apply(&t, Change::CreateComment(Box::new(reply)), Millis(T0))
        .await
        .unwrap();
    assert_eq!(applied.comment.unwrap().parent_id, Some(parent.id));
}

/// `set_local_ids` stores each plugin id in `meta.wpId`, keeping the rest of `meta`, and
/// counts the comments it found.
pub async fn local_ids_are_stored_in_meta(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let mut first = new_comment(&t, "/p", "with meta");
    let mut meta = serde_json::Map::new();
    meta.insert("wpPostId".into(), 5.into());
    first.meta = Some(meta);
    let first = store_new(&*store, &t, first).await;
    let second = create(&*store, &t, "/p", "without").await;
    let map = |fc: &str, wp: &str| CommentIdMapping {
        fc_id: fc.to_owned(),
        wp_id: wp.to_owned(),
    };
    let found = store
        .set_local_ids(
            &t,
            &[
                map(&first.id, "11"),
                map(&second.id, "12"),
                map("missing", "13"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(found, 2);
    let meta_of = |id: String| {
        let store = store.clone();
        let t = t.clone();
        async move {
            let c = store.comment(&t, &id).await.unwrap().unwrap();
            serde_json::Value::Object(c.meta.unwrap_or_default())
        }
    };
    assert_eq!(
        meta_of(first.id.clone()).await,
        serde_json::json!({"wpPostId": 5, "wpId": "11"})
    );
    assert_eq!(meta_of(second.id).await, serde_json::json!({"wpId": "12"}));
}

/// Tenants and API secrets read back as written; a secret text belongs to one record.
pub async fn tenants_and_secrets_round_trip(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let stored = store.tenant(&t).await.unwrap().unwrap();
    assert_eq!(
        stored,
        Tenant {
            id: t.clone(),
            name: "Tenant t1".into(),
            domains: vec!["t1.example".into()],
            created_at: T0,
        }
    );
    assert!(store
        .tenant(&TenantId::from("missing"))
        .await
        .unwrap()
        .is_none());
    let wildcard = store.secret_by_value("secret-t1").await.unwrap().unwrap();
    assert_eq!(
        (wildcard.domain.as_str(), wildcard.tenant_id.as_str()),
        ("*", "t1")
    );
    let blog = ApiSecret {
        id: "s-blog".into(),
        tenant_id: t.clone(),
        domain: "blog.example".into(),
        secret: "blog-secret".into(),
        created_at: T0 + 1,
    };
    store.add_secret(&blog).await.unwrap();
    assert_eq!(
        store.list_secrets(&t).await.unwrap(),
        vec![wildcard, blog.clone()]
    );
    assert_eq!(
        store.secret_by_value("blog-secret").await.unwrap(),
        Some(blog.clone())
    );
    let duplicate = ApiSecret {
        id: "s-dup".into(),
        ..blog.clone()
    };
    assert!(store.add_secret(&duplicate).await.is_err());
    assert_eq!(store.delete_secret(&t, "s-blog").await.unwrap(), Some(blog));
    assert_eq!(store.delete_secret(&t, "s-blog").await.unwrap(), None);
    assert!(store
        .secret_by_value("blog-secret")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.list_secrets(&t).await.unwrap().len(), 1);
}
