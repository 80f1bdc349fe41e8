//! Upload batches (SPEC §1.4): idempotent upserts, parents linked whenever they arrive,
//! atomic batches, the finishing batch.

use super::fixtures::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{Millis, UploadComment};
use std::sync::Arc;

fn child(external_id: &str, parent: &str, text: &str) -> UploadComment {
    UploadComment {
        external_parent_id: Some(parent.to_owned()),
        ..upload(external_id, text)
    }
}

/// A re-sent batch upserts: same hub ids, no second copy, no second event, and the token's
/// `start` counts each comment once.
pub async fn the_same_batch_twice_stores_once(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    let comments = vec![upload("a", "A"), upload("b", "B"), child("c", "a", "C")];
    let first = store
        .upload(batch(&t, "up", comments.clone()), Millis(T0))
        .await
        .unwrap();
    let again = store
        .upload(batch(&t, "up", comments), Millis(T0 + 1))
        .await
        .unwrap();
    assert_eq!(first.received, 3);
    assert_eq!(again.received, 3);
    assert_eq!(
        first.comment_ids.keys().collect::<Vec<_>>(),
        vec!["a", "b", "c"]
    );
    assert_eq!(first.comment_ids, again.comment_ids);
    assert!(again.entries.is_empty(), "{:?}", again.entries);
    assert_eq!(store.count_comments(&t).await.unwrap(), 3);
    assert_eq!(again.token.upload_received, 3);
    assert_eq!(stored_token(&*store, "up").await.upload_received, 3);
    let page = store.comments_page(&t, 0, 100).await.unwrap();
    let mut exts: Vec<_> = page.iter().filter_map(|c| c.external_id.clone()).collect();
    exts.sort();
    assert_eq!(exts, vec!["a", "b", "c"]);
    for c in &page {
        let ext = c.external_id.as_deref().unwrap();
        assert_eq!(first.comment_ids[ext], c.id);
    }
    assert_eq!(
        kinds(&timeline(&*store, &t, "other").await),
        vec!["new-comment"; 3]
    );
}

/// The upsert key is `_id` when given, else `(tenant, externalId)`.
pub async fn upserts_on_id_and_on_external_id(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    let send = |comments: Vec<UploadComment>| {
        let store = store.clone();
        let t = t.clone();
        async move {
            store
                .upload(batch(&t, "up", comments), Millis(T0))
                .await
                .unwrap()
        }
    };
    let id = send(vec![upload("a", "one")]).await.comment_ids["a"].clone();
    assert_eq!(send(vec![upload("a", "two")]).await.comment_ids["a"], id);
    let text = |id: String| {
        let store = store.clone();
        let t = t.clone();
        async move { store.comment(&t, &id).await.unwrap().unwrap() }
    };
    assert_eq!(text(id.clone()).await.comment, "two");

    // By hub id, without the plugin id: the same comment, its plugin id kept.
    let by_id = UploadComment {
        id: Some(id.clone()),
        external_id: None,
        ..upload("unused", "three")
    };
    send(vec![by_id]).await;
    let stored = text(id.clone()).await;
    assert_eq!(stored.comment, "three");
    assert_eq!(stored.external_id.as_deref(), Some("a"));
    assert_eq!(store.count_comments(&t).await.unwrap(), 1);

    // A comment made through the API, updated by a plugin that learnt its hub id.
    let api = create(&*store, &t, "/page", "made in the API").await;
    let by_api_id = UploadComment {
        id: Some(api.id.clone()),
        external_id: Some("wp-9".into()),
        ..upload("unused", "edited by the plugin")
    };
    let outcome = send(vec![by_api_id]).await;
    assert_eq!(outcome.comment_ids["wp-9"], api.id);
    assert_eq!(text(api.id.clone()).await.comment, "edited by the plugin");
    assert_eq!(store.count_comments(&t).await.unwrap(), 2);

    // A hub id the tenant does not have is no upsert key: a new comment.
    let unknown = UploadComment {
        id: Some("no-such-comment".into()),
        ..upload("z", "new")
    };
    let z = send(vec![unknown]).await.comment_ids["z"].clone();
    assert_eq!(text(z).await.comment, "new");
    assert_eq!(store.count_comments(&t).await.unwrap(), 3);
}

/// In one batch, a child before its parent (and a grandchild after it) are linked, and the
/// child's one event already names its parent.
pub async fn children_before_parents_in_one_batch(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    let comments = vec![
        child("c", "p", "child"),
        upload("p", "parent"),
        child("g", "c", "grandchild"),
    ];
    let ids = store
        .upload(batch(&t, "up", comments), Millis(T0))
        .await
        .unwrap()
        .comment_ids;
    let parent_of = |ext: &str| {
        let store = store.clone();
        let (t, id) = (t.clone(), ids[ext].clone());
        async move { store.comment(&t, &id).await.unwrap().unwrap().parent_id }
    };
    assert_eq!(parent_of("c").await, Some(ids["p"].clone()));
    assert_eq!(parent_of("g").await, Some(ids["c"].clone()));
    assert_eq!(parent_of("p").await, None);
    let entries = timeline(&*store, &t, "other").await;
    assert_eq!(kinds(&entries), vec!["new-comment"; 3]);
    let child_event = entries
        .iter()
        .map(|e| payload_comment(e).unwrap())
        .find(|c| c.id == ids["c"])
        .unwrap();
    assert_eq!(child_event.parent_id, Some(ids["p"].clone()));
}

/// A child stored before its parent's batch is linked when the parent arrives, with an
/// `updated-comment` event; its first event stays as it was (no parent yet).
pub async fn children_before_parents_across_batches(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    let first = store
        .upload(batch(&t, "up", vec![child("c", "p", "child")]), Millis(T0))
        .await
        .unwrap();
    let c = first.comment_ids["c"].clone();
    assert_eq!(
        store.comment(&t, &c).await.unwrap().unwrap().parent_id,
        None
    );
    let second = store
        .upload(batch(&t, "up", vec![upload("p", "parent")]), Millis(T0 + 1))
        .await
        .unwrap();
    let p = second.comment_ids["p"].clone();
    assert_eq!(
        store.comment(&t, &c).await.unwrap().unwrap().parent_id,
        Some(p.clone())
    );
    let entries = timeline(&*store, &t, "other").await;
    let seen: Vec<(&str, String, Option<String>)> = entries
        .iter()
        .map(|e| {
            let comment = payload_comment(e).unwrap();
            (e.kind.as_str(), comment.id, comment.parent_id)
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("new-comment", c.clone(), None),
            ("new-comment", p.clone(), None),
            ("updated-comment", c, Some(p)),
        ]
    );
    assert_eq!(store.count_comments(&t).await.unwrap(), 2);
}

/// Batches in flight at once (the integration core sends several): a reply whose parent is in
/// a batch committing at the same moment is still linked, whichever of the two commits first.
/// Each round races a batch of parents against a batch of their replies.
pub async fn children_and_parents_in_concurrent_batches_are_linked(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    const ROUNDS: usize = 40;
    const PAIRS: usize = 20;
    for round in 0..ROUNDS {
        let parents: Vec<UploadComment> = (0..PAIRS)
            .map(|i| upload(&format!("p{round}-{i}"), "parent"))
            .collect();
        let replies: Vec<UploadComment> = (0..PAIRS)
            .map(|i| child(&format!("c{round}-{i}"), &format!("p{round}-{i}"), "reply"))
            .collect();
        let (a, b) = (store.clone(), store.clone());
        let (pb, cb) = (batch(&t, "up", parents), batch(&t, "up", replies));
        // Replies first on even rounds, parents first on odd ones.
        let (first, second) = if round % 2 == 0 { (cb, pb) } else { (pb, cb) };
        let one = tokio::spawn(async move { a.upload(first, Millis(T0)).await });
        let two = tokio::spawn(async move { b.upload(second, Millis(T0)).await });
        let (one, two) = (one.await.unwrap().unwrap(), two.await.unwrap().unwrap());
        let mut ids = one.comment_ids;
        ids.extend(two.comment_ids);
        for i in 0..PAIRS {
            let reply = store
                .comment(&t, &ids[&format!("c{round}-{i}")])
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                reply.parent_id.as_deref(),
                Some(ids[&format!("p{round}-{i}")].as_str()),
                "round {round}, pair {i}: the reply is not linked to its parent"
            );
        }
    }
    assert_eq!(
        store.count_comments(&t).await.unwrap(),
        (ROUNDS * PAIRS * 2) as u64
    );
}

/// A hub parent id that is not the tenant's (another tenant's, or none at all) refuses the
/// batch as a whole: nothing of it is stored. `""` and `"0"` mean "no parent".
pub async fn a_foreign_hub_parent_refuses_the_whole_batch(store: Arc<dyn Store>) {
    let a = tenant(&*store, "a").await;
    let b = tenant(&*store, "b").await;
    validated_token(&*store, &a, "up").await;
    let theirs = create(&*store, &b, "/page", "tenant b's").await;
    for parent in [theirs.id.as_str(), "no-such-comment"] {
        let bad = UploadComment {
            parent_id: Some(parent.to_owned()),
            ..upload("y", "reply")
        };
        let result = store
            .upload(batch(&a, "up", vec![upload("x", "fine"), bad]), Millis(T0))
            .await;
        assert!(
            matches!(result, Err(StoreError::NotFound(_))),
            "parent {parent}: {result:?}"
        );
    }
    assert_eq!(store.count_comments(&a).await.unwrap(), 0);
    assert!(timeline(&*store, &a, "other").await.is_empty());
    assert_eq!(stored_token(&*store, "up").await.upload_received, 0);

    let no_parent = |ext: &str, p: &str| UploadComment {
        parent_id: Some(p.to_owned()),
        ..upload(ext, "top level")
    };
    let outcome = store
        .upload(
            batch(&a, "up", vec![no_parent("e", ""), no_parent("z", "0")]),
            Millis(T0),
        )
        .await
        .unwrap();
    for ext in ["e", "z"] {
        let c = store
            .comment(&a, &outcome.comment_ids[ext])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.parent_id, None);
    }
    let unknown = store
        .upload(batch(&a, "no-such-token", vec![]), Millis(T0))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// The finishing batch marks the upload finished and writes the token's `SetSetupCompleted`
/// entry once (its position in `setup_completed_at`); later finishing batches add none. An
/// empty finishing batch is "nothing to upload".
pub async fn the_finishing_batch_completes_setup_once(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    let mut finishing = batch(&t, "up", vec![upload("a", "A")]);
    finishing.finishes_upload = true;
    let outcome = store.upload(finishing.clone(), Millis(T0)).await.unwrap();
    assert_eq!(
        kinds(&outcome.entries),
        vec!["new-comment", "SetSetupCompleted"]
    );
    let setup_at = outcome.entries[1].created_at;
    assert!(outcome.token.upload_finished);
    assert_eq!(outcome.token.setup_completed_at, Some(setup_at));
    assert_eq!(stored_token(&*store, "up").await, outcome.token);

    finishing.comments = vec![upload("b", "B")];
    let later = store.upload(finishing, Millis(T0 + 1)).await.unwrap();
    assert_eq!(kinds(&later.entries), vec!["new-comment"]);
    assert_eq!(later.token.setup_completed_at, Some(setup_at));
    let own = timeline(&*store, &t, "up").await;
    assert_eq!(kinds(&own), vec!["SetSetupCompleted"]);

    validated_token(&*store, &t, "empty").await;
    let mut nothing = batch(&t, "empty", vec![]);
    nothing.finishes_upload = true;
    let outcome = store.upload(nothing, Millis(T0)).await.unwrap();
    assert_eq!(outcome.received, 0);
    assert_eq!(kinds(&outcome.entries), vec!["SetSetupCompleted"]);
    assert!(outcome.token.upload_finished);
}
