//! Integration tokens (SPEC §1.1): registration, acknowledgement with its entry, the narrow
//! updates that must not overwrite a concurrent upload's progress, re-sync, expiry.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::Millis;
use std::sync::Arc;

/// Registering again returns the stored record untouched, pending or acknowledged.
pub async fn register_is_idempotent(store: Arc<dyn Store>) {
    let first = store
        .register_token(&TokenRecord::pending(&"tok".into(), Millis(T0), 100))
        .await
        .unwrap();
    assert_eq!(first, TokenRecord::pending(&"tok".into(), Millis(T0), 100));
    let again = store
        .register_token(&TokenRecord::pending(&"tok".into(), Millis(T0 + 5), 7))
        .await
        .unwrap();
    assert_eq!(again, first);
    let t = tenant(&*store, "t1").await;
    let validated = validated_token(&*store, &t, "tok").await;
    assert_eq!(validated.created_at, T0);
    let after = store
        .register_token(&TokenRecord::pending(&"tok".into(), Millis(T0 + 9), 7))
        .await
        .unwrap();
    assert_eq!(after, validated);
    assert_eq!(store.token(&"tok".into()).await.unwrap(), Some(validated));
    assert_eq!(store.token(&"missing".into()).await.unwrap(), None);
}

/// `save_token` replaces the record; with an entry it appends it to the token's tenant and
/// stamps its position into `setup_completed_at`, in one call. An entry needs a tenant.
pub async fn save_token_with_an_entry(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let mut record = validated_token(&*store, &t, "tok").await;
    record.batch_size = 42;
    record.skip_requested = true;
    record.upload_finished = true;
    let (saved, entry) = store
        .save_token(
            &record,
            Some(NewEntry::setup_completed(&"tok".into())),
            Millis(T0 + 5),
        )
        .await
        .unwrap();
    let entry = entry.unwrap();
    assert_eq!(entry.kind, EntryKind::SetupCompleted);
    assert!(entry.created_at >= T0 + 5);
    assert_eq!(saved.setup_completed_at, Some(entry.created_at));
    assert_eq!(
        TokenRecord {
            setup_completed_at: None,
            ..saved.clone()
        },
        record
    );
    assert_eq!(
        store.token(&"tok".into()).await.unwrap(),
        Some(saved.clone())
    );
    assert_eq!(store.list_tokens(&t).await.unwrap(), vec![saved]);
    let own = timeline(&*store, &t, "tok").await;
    assert_eq!(
        own.iter().map(|e| &e.id).collect::<Vec<_>>(),
        vec![&entry.id]
    );
    assert!(timeline(&*store, &t, "another").await.is_empty());

    let pending = store
        .register_token(&TokenRecord::pending(&"unbound".into(), Millis(T0), 100))
        .await
        .unwrap();
    let refused = store
        .save_token(
            &pending,
            Some(NewEntry::setup_completed(&"unbound".into())),
            Millis(T0),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(store.token(&"unbound".into()).await.unwrap(), Some(pending));
}

/// `halve_batch_size`, `describe_token` and `revoke_token` change their field only: the
/// upload progress a concurrent upload wrote survives them, whatever the caller last read.
pub async fn narrow_updates_touch_nothing_else(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "tok").await;
    let comments = vec![upload("a", "A"), upload("b", "B"), upload("c", "C")];
    store
        .upload(batch(&t, "tok", comments), Millis(T0))
        .await
        .unwrap();
    let halved = store.halve_batch_size(&"tok".into()).await.unwrap();
    assert_eq!((halved.batch_size, halved.upload_received), (50, 3));
    for _ in 0..10 {
        store.halve_batch_size(&"tok".into()).await.unwrap();
    }
    assert_eq!(stored_token(&*store, "tok").await.batch_size, 1);

    let described = store
        .describe_token(&"tok".into(), Some("wordpress"), None)
        .await
        .unwrap();
    assert_eq!(described.integration_type.as_deref(), Some("wordpress"));
    assert_eq!(described.domain, None);
    let described = store
        .describe_token(&"tok".into(), Some("joomla"), Some("blog.example"))
        .await
        .unwrap();
    assert_eq!(described.integration_type.as_deref(), Some("wordpress"));
    assert_eq!(described.domain.as_deref(), Some("blog.example"));
    assert_eq!((described.upload_received, described.batch_size), (3, 1));

    let revoked = store.revoke_token(&"tok".into()).await.unwrap();
    assert_eq!(revoked.state, TokenState::Revoked);
    assert_eq!(
        TokenRecord {
            state: TokenState::Validated,
            ..revoked.clone()
        },
        described
    );
    assert_eq!(store.token(&"tok".into()).await.unwrap(), Some(revoked));

    for result in [
        store.halve_batch_size(&"missing".into()).await,
        store
            .describe_token(&"missing".into(), Some("x"), None)
            .await,
        store.revoke_token(&"missing".into()).await,
    ] {
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }
}

/// A re-sync starts the upload over: progress zero, setup not completed, and comments the
/// token uploaded before count again (without being stored twice).
pub async fn restart_upload_counts_from_zero(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "tok").await;
    let mut finishing = batch(&t, "tok", vec![upload("a", "A"), upload("b", "B")]);
    finishing.finishes_upload = true;
    let done = store
        .upload(finishing.clone(), Millis(T0))
        .await
        .unwrap()
        .token;
    assert_eq!(done.upload_received, 2);
    let first_setup = done.setup_completed_at.unwrap();

    let restarted = store.restart_upload(&done).await.unwrap();
    assert_eq!(restarted.upload_received, 0);
    assert!(!restarted.upload_finished);
    assert_eq!(restarted.setup_completed_at, None);
    assert_eq!(store.token(&"tok".into()).await.unwrap(), Some(restarted));

    let again = store.upload(finishing, Millis(T0 + 1)).await.unwrap();
    assert_eq!(again.token.upload_received, 2);
    assert_eq!(store.count_comments(&t).await.unwrap(), 2);
    assert!(again.token.upload_finished);
    assert!(again.token.setup_completed_at.unwrap() > first_setup);
    let own = timeline(&*store, &t, "tok").await;
    assert_eq!(kinds(&own), vec!["SetSetupCompleted"; 2]);
}

/// Pending tokens registered before the cut-off go; newer ones and acknowledged ones stay.
pub async fn expired_pending_tokens_are_deleted(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    for (token, at) in [("old", T0), ("new", T0 + 1000)] {
        store
            .register_token(&TokenRecord::pending(&token.into(), Millis(at), 100))
            .await
            .unwrap();
    }
    validated_token(&*store, &t, "acknowledged").await;
    assert_eq!(
        store
            .delete_expired_pending(Millis(T0 + 500))
            .await
            .unwrap(),
        1
    );
    assert!(store.token(&"old".into()).await.unwrap().is_none());
    assert!(store.token(&"new".into()).await.unwrap().is_some());
    assert!(store.token(&"acknowledged".into()).await.unwrap().is_some());
    assert_eq!(
        store
            .delete_expired_pending(Millis(T0 + 500))
            .await
            .unwrap(),
        0
    );
}

/// Issue 20 §3: pending tokens are capped per registering address and in all, the oldest
/// going first; acknowledged tokens and other addresses' are never touched by the per-address
/// cap, and what is removed is named.
pub async fn pending_tokens_are_capped_per_address_and_overall(store: Arc<dyn Store>) {
    let register = |token: &str, from: &str, at: i64| TokenRecord {
        registered_from: Some(from.to_owned()),
        ..TokenRecord::pending(&token.into(), Millis(at), 100)
    };
    for i in 0..5 {
        store
            .register_token(&register(&format!("a-{i}"), "192.0.2.1", T0 + i))
            .await
            .unwrap();
    }
    for i in 0..2 {
        store
            .register_token(&register(&format!("b-{i}"), "192.0.2.2", T0 + 10 + i))
            .await
            .unwrap();
    }
    // An acknowledged token from the same address is no pending one.
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "a-acknowledged").await;

    let mut removed = store
        .trim_pending_tokens("192.0.2.1", 3, None)
        .await
        .unwrap();
    removed.sort();
    assert_eq!(removed, vec!["a-0", "a-1"]);
    for kept in ["a-2", "a-3", "a-4", "b-0", "b-1", "a-acknowledged"] {
        assert!(store.token(&kept.into()).await.unwrap().is_some(), "{kept}");
    }
    // Five pending in all now; the overall cap of 4 takes the oldest, whoever made it.
    let removed = store
        .trim_pending_tokens("192.0.2.2", 3, Some(4))
        .await
        .unwrap();
    assert_eq!(removed, vec!["a-2"]);
    assert!(store
        .token(&"a-acknowledged".into())
        .await
        .unwrap()
        .is_some());
    assert!(store.token(&"b-0".into()).await.unwrap().is_some());
    // Nothing over either cap: nothing removed.
    assert!(store
        .trim_pending_tokens("192.0.2.1", 3, Some(4))
        .await
        .unwrap()
        .is_empty());
}
