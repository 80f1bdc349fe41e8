//! Admin page sessions in the store: every node of one database reads the same sessions.

use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::Millis;
use std::sync::Arc;

fn record(id: &str, anonymous: bool, at: i64) -> SessionRecord {
    SessionRecord {
        id: id.to_owned(),
        doc: format!("{{\"who\":\"{id}\"}}"),
        anonymous,
        created_at: at,
        seen_at: at,
    }
}

/// Saved, read back, replaced by id, touched (never backwards), deleted; expiry by last use
/// or by age; anonymous sessions capped at the newest `keep_anonymous`, signed-in ones never.
pub async fn sessions_round_trip_expire_and_cap_the_anonymous(store: Arc<dyn Store>) {
    let signed = record("signed", false, 100);
    store.save_session(&signed, 2).await.unwrap();
    assert_eq!(store.session("signed").await.unwrap(), Some(signed.clone()));
    assert_eq!(store.session("nobody").await.unwrap(), None);

    let changed = SessionRecord {
        doc: "{\"who\":\"changed\"}".into(),
        ..signed.clone()
    };
    store.save_session(&changed, 2).await.unwrap();
    assert_eq!(
        store.session("signed").await.unwrap().unwrap().doc,
        changed.doc
    );

    store.touch_session("signed", Millis(500)).await.unwrap();
    store.touch_session("signed", Millis(300)).await.unwrap();
    assert_eq!(store.session("signed").await.unwrap().unwrap().seen_at, 500);

    for (i, at) in [10, 20, 30].into_iter().enumerate() {
        store
            .save_session(&record(&format!("anon{i}"), true, at), 2)
            .await
            .unwrap();
    }
    assert_eq!(
        store.session("anon0").await.unwrap(),
        None,
        "the cap drops the oldest"
    );
    assert!(store.session("anon1").await.unwrap().is_some());
    assert!(store.session("anon2").await.unwrap().is_some());
    assert!(
        store.session("signed").await.unwrap().is_some(),
        "not capped"
    );

    // Last used before 25 or created before 50: anon1 (used at 20) goes for its idleness,
    // anon2 (created at 30) for its age; signed (created at 100, used at 500) stays.
    let gone = store
        .delete_expired_sessions(Millis(25), Millis(50))
        .await
        .unwrap();
    assert_eq!(gone, 2);
    assert!(store.session("signed").await.unwrap().is_some());
    assert_eq!(store.session("anon2").await.unwrap(), None);

    store.delete_session("signed").await.unwrap();
    assert_eq!(store.session("signed").await.unwrap(), None);
}
