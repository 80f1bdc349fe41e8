//! Tenant isolation: every read names the tenant, and another tenant's ids are "not found".

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{Comment, CommentIdMapping, Millis, Vote, VoteDirection};
use std::sync::Arc;

/// One of everything for a tenant, on the thread `/same` that both tenants use.
struct Seeded {
    tenant: TenantId,
    comment: Comment,
    vote: Vote,
    secret: ApiSecret,
    delivery: Delivery,
}

async fn seed(store: &dyn Store, id: &str) -> Seeded {
    let t = tenant(store, id).await;
    validated_token(store, &t, &format!("tok-{id}")).await;
    let secret = ApiSecret {
        id: format!("s2-{id}"),
        tenant_id: t.clone(),
        domain: format!("{id}.example"),
        secret: format!("domain-secret-{id}"),
        created_at: T0,
    };
    store.add_secret(&secret).await.unwrap();
    let url = format!("https://hooks.example/{id}");
    configure(store, &t, &hooks(&format!("{id}.example"), &url, false)).await;
    let mut c = new_comment(&t, "/same", &format!("{id}'s comment"));
    c.domain = Some(format!("{id}.example"));
    c.external_id = Some("shared-ext".into());
    let comment = store_new(store, &t, c).await;
    let vote = vote(&comment, Some("u1"), VoteDirection::Up);
    cast(store, &vote, T0 + 1).await;
    let delivery = deliveries_oldest_first(store, &t).await.remove(0);
    Seeded {
        tenant: t,
        comment,
        vote,
        secret,
        delivery,
    }
}

/// Tenant `b`'s reads never show tenant `a`'s records, by id or by listing.
pub async fn reads_see_only_their_tenant(store: Arc<dyn Store>) {
    let a = seed(&*store, "a").await;
    let b = seed(&*store, "b").await;
    for (me, them) in [(&b, &a), (&a, &b)] {
        let t = &me.tenant;
        assert!(store.comment(t, &them.comment.id).await.unwrap().is_none());
        let ids = |cs: Vec<Comment>| cs.into_iter().map(|c| c.id).collect::<Vec<_>>();
        let mine = vec![me.comment.id.clone()];
        assert_eq!(ids(store.comments_by_url(t, "/same").await.unwrap()), mine);
        assert_eq!(ids(store.comments_page(t, 0, 100).await.unwrap()), mine);
        assert_eq!(store.count_comments(t).await.unwrap(), 1);
        assert!(store.vote(t, &them.vote.id).await.unwrap().is_none());
        assert!(store.vote(t, &me.vote.id).await.unwrap().is_some());
        let tokens: Vec<String> = store
            .list_tokens(t)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.token.into_string())
            .collect();
        assert_eq!(tokens, vec![format!("tok-{t}")]);
        let secrets = store.list_secrets(t).await.unwrap();
        assert_eq!(secrets.len(), 2);
        assert!(secrets.iter().all(|s| &s.tenant_id == t));
        let entries = timeline(&*store, t, "viewer").await;
        assert_eq!(entries.len(), 2);
        for e in &entries {
            assert_eq!(payload_comment(e).unwrap().tenant_id, t.as_str());
        }
        let q = everything(t, "viewer");
        assert_eq!(store.count_timeline(&q, 100).await.unwrap(), 2);
        let configs = store.webhook_configs(t).await.unwrap();
        let domains: Vec<&str> = configs.iter().map(|c| c.domain.as_str()).collect();
        assert_eq!(domains, vec![format!("{t}.example")]);
        let deliveries = store.deliveries(t, None, None, 100).await.unwrap();
        assert_eq!(deliveries.len(), 2, "create and the vote's update");
        assert!(deliveries.iter().all(|d| &d.tenant_id == t));
        let only_theirs = store
            .deliveries(t, None, Some(&them.comment.id), 100)
            .await
            .unwrap();
        assert!(only_theirs.is_empty());
        assert!(store
            .delivery(t, &them.delivery.id)
            .await
            .unwrap()
            .is_none());
        assert!(store.delivery(t, &me.delivery.id).await.unwrap().is_some());
    }
}

fn is_not_found<T: std::fmt::Debug>(result: StoreResult<T>) -> bool {
    matches!(result, Err(StoreError::NotFound(_)))
}

/// Tenant `b`'s writes cannot change tenant `a`'s records: ids of `a` are not found, and an
/// upload by `b` naming them makes `b`'s own records.
pub async fn writes_cannot_reach_another_tenant(store: Arc<dyn Store>) {
    let a = seed(&*store, "a").await;
    let b = seed(&*store, "b").await;
    let t = &b.tenant;
    let theirs = a.comment.id.clone();
    let patch = CommentPatch {
        comment: Some("hijacked".into()),
        ..Default::default()
    };
    let update = Change::UpdateComment {
        id: theirs.clone(),
        patch: Box::new(patch),
    };
    assert!(is_not_found(store.apply(t, update, Millis(T0 + 5)).await));
    let delete = Change::DeleteComment { id: theirs.clone() };
    assert!(is_not_found(store.apply(t, delete, Millis(T0 + 5)).await));
    let mut cross_vote = vote(&a.comment, Some("u9"), VoteDirection::Down);
    cross_vote.tenant_id = t.to_string();
    let add = Change::AddVote(Box::new(cross_vote));
    assert!(is_not_found(store.apply(t, add, Millis(T0 + 5)).await));
    let unvote = Change::DeleteVote {
        id: a.vote.id.clone(),
    };
    assert!(is_not_found(store.apply(t, unvote, Millis(T0 + 5)).await));
    let mut reply = new_comment(t, "/same", "a reply across tenants");
    reply.parent_id = Some(theirs.clone());
    let reply = Change::CreateComment(Box::new(reply));
    assert!(is_not_found(store.apply(t, reply, Millis(T0 + 5)).await));
    let mapping = CommentIdMapping {
        fc_id: theirs.clone(),
        wp_id: "77".into(),
    };
    assert_eq!(store.set_local_ids(t, &[mapping]).await.unwrap(), 0);
    assert!(store
        .delete_secret(t, &a.secret.id)
        .await
        .unwrap()
        .is_none());
    assert!(is_not_found(
        store
            .cancel_delivery(t, &a.delivery.id, Millis(T0 + 5))
            .await
    ));
    assert!(is_not_found(
        store
            .retry_delivery(t, &a.delivery.id, Millis(T0 + 5), 3)
            .await
    ));

    // An upload by b's token naming a's hub id, or a's plugin id, makes b's own comments.
    let by_id = fastcomments_protocol::UploadComment {
        id: Some(theirs.clone()),
        ..upload("b-1", "uploaded by b with a's id")
    };
    let outcome = store
        .upload(
            batch(t, "tok-b", vec![by_id, upload("shared-ext", "b's copy")]),
            Millis(T0 + 6),
        )
        .await
        .unwrap();
    assert_ne!(outcome.comment_ids["b-1"], theirs);
    assert_ne!(outcome.comment_ids["shared-ext"], theirs);
    assert_eq!(outcome.comment_ids["shared-ext"], b.comment.id);
    assert_eq!(store.count_comments(t).await.unwrap(), 2);

    // a's records are as they were.
    let now = store.comment(&a.tenant, &theirs).await.unwrap().unwrap();
    assert_eq!(now, stored_after_vote(&a));
    assert!(store.vote(&a.tenant, &a.vote.id).await.unwrap().is_some());
    assert_eq!(store.list_secrets(&a.tenant).await.unwrap().len(), 2);
    let delivery = store.delivery(&a.tenant, &a.delivery.id).await.unwrap();
    assert_eq!(delivery.unwrap().0.status, DeliveryStatus::Queued);
    assert_eq!(store.count_comments(&a.tenant).await.unwrap(), 1);
    assert_eq!(timeline(&*store, &a.tenant, "viewer").await.len(), 2);
}

/// `a`'s comment as the seed left it: one up vote.
fn stored_after_vote(a: &Seeded) -> Comment {
    let mut c = a.comment.clone();
    c.votes_up = 1;
    c.votes = 1;
    c
}

/// `localhost`, IP literals and RFC 6761 names may be held by any number of tenants (the
/// webhook guide has every developer add `localhost`); a public domain stays one tenant's.
pub async fn names_of_no_public_site_are_shared_public_domains_are_not(store: Arc<dyn Store>) {
    let make = |id: &str, domains: &[&str]| {
        (
            Tenant {
                id: TenantId::from(id),
                name: id.to_owned(),
                domains: domains.iter().map(|d| (*d).to_owned()).collect(),
                created_at: T0,
            },
            ApiSecret {
                id: format!("s-{id}"),
                tenant_id: TenantId::from(id),
                domain: "*".into(),
                secret: format!("secret-{id}"),
                created_at: T0,
            },
        )
    };
    let shared = [
        "localhost",
        "127.0.0.1",
        "dev.localhost",
        "blog.test",
        "x.invalid",
    ];
    let (a, sa) = make("dev-a", &[&shared[..], &["a-public.example"]].concat());
    store.create_tenant(&a, &sa).await.unwrap();
    let (b, sb) = make("dev-b", &shared);
    store.create_tenant(&b, &sb).await.unwrap();
    assert_eq!(
        store
            .tenant(&TenantId::from("dev-b"))
            .await
            .unwrap()
            .unwrap()
            .domains
            .len(),
        5
    );
    let (c, sc) = make("dev-c", &["localhost", "a-public.example"]);
    let refused = store.create_tenant(&c, &sc).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert!(
        store
            .tenant(&TenantId::from("dev-c"))
            .await
            .unwrap()
            .is_none(),
        "nothing of it stored"
    );
}
