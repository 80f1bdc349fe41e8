//! The replay store behind a `Verifier`: a copy of an accepted Standard Webhooks request is
//! refused within the tolerance, a retry the hub signed afresh is not, forged requests are never
//! recorded, and the store forgets what the freshness check refuses anyway.

use crate::support;

use fastcomments_webhooks::{
    sign, MemoryReplayStore, MessageId, Scheme, StandardSignature, StandardSigner, Verifier,
    VerifyError, WebhookEventKind,
};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use support::{bulgarian_comment, SECRET, TS};

fn signed(delivery: &str, ts: i64, body: &[u8]) -> StandardSignature {
    let id = MessageId::for_delivery(WebhookEventKind::Update, delivery).unwrap();
    StandardSigner::new(["secret"]).unwrap().sign(&id, ts, body)
}

fn headers(sig: &StandardSignature) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", sig.id().to_string()),
        ("webhook-timestamp", sig.timestamp_header().to_owned()),
        ("webhook-signature", sig.signature_header().to_owned()),
    ]
}

/// A verifier with a store and a clock the test moves.
fn verifier(store: Arc<MemoryReplayStore>) -> (Verifier, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(TS));
    let clock = Arc::clone(&now);
    let verifier = Verifier::new(["secret"])
        .with_replay_store(store)
        .with_clock(move || clock.load(Ordering::SeqCst));
    (verifier, now)
}

/// A verifier with a replay store of its own: the store, the verifier and its clock.
fn with_a_new_store() -> (Arc<MemoryReplayStore>, Verifier, Arc<AtomicI64>) {
    let store = Arc::new(MemoryReplayStore::new());
    let (verifier, now) = verifier(Arc::clone(&store));
    (store, verifier, now)
}

#[test]
fn a_copy_is_refused_and_a_retry_is_not() {
    let (store, verifier, now) = with_a_new_store();
    let body = bulgarian_comment().to_body();
    let first = signed("dlv-1", TS, &body);
    assert!(verifier.verify(&headers(&first), &body).is_ok());
    // The same bytes again, a second or four minutes later: a replay.
    for later in [TS + 1, TS + 240, TS + 300] {
        now.store(later, Ordering::SeqCst);
        let err = verifier.verify(&headers(&first), &body).unwrap_err();
        assert_eq!(err, VerifyError::Replayed);
        assert_eq!(err.code(), "replayed");
    }
    // The hub's retry of the same delivery, re-signed a minute later: accepted once.
    now.store(TS + 60, Ordering::SeqCst);
    let retry = signed("dlv-1", TS + 60, &body);
    let ok = verifier.verify(&headers(&retry), &body).unwrap();
    assert_eq!(ok.delivery_id.as_deref(), Some("dlv-1"));
    assert_eq!(
        verifier.verify(&headers(&retry), &body),
        Err(VerifyError::Replayed)
    );
    // Another delivery at the same second is another message.
    assert!(verifier
        .verify(&headers(&signed("dlv-2", TS + 60, &body)), &body)
        .is_ok());
    assert_eq!(store.len(), 3);
}

#[test]
fn only_authentic_messages_are_recorded() {
    let (store, verifier, _) = with_a_new_store();
    let body = br#"{"id":"abc"}"#;
    let genuine = signed("dlv-1", TS, body);
    // Someone who knows the next id and timestamp but not the secret sends first…
    let mut forged = headers(&genuine);
    forged[2].1 = format!("v1,{}=", "A".repeat(43));
    assert_eq!(
        verifier.verify(&forged, body),
        Err(VerifyError::SignatureMismatch)
    );
    // …and so does one who tampered with the body.
    assert_eq!(
        verifier.verify(&headers(&genuine), b"{}"),
        Err(VerifyError::SignatureMismatch)
    );
    assert!(store.is_empty());
    // The hub's request is still accepted.
    assert!(verifier.verify(&headers(&genuine), body).is_ok());
}

#[test]
fn the_store_forgets_what_the_tolerance_refuses_anyway() {
    let (store, verifier, now) = with_a_new_store();
    let body = b"{}";
    for i in 0..1000 {
        let sig = signed(&format!("d{i}"), TS, body);
        assert!(verifier.verify(&headers(&sig), body).is_ok());
    }
    assert_eq!(store.len(), 1000);
    // Past the window the old copy is stale, whether remembered or not…
    now.store(TS + 301, Ordering::SeqCst);
    assert_eq!(
        verifier
            .verify(&headers(&signed("d0", TS, body)), body)
            .unwrap_err()
            .code(),
        "stale-timestamp"
    );
    // …and the next accepted message lets the store drop all of them.
    assert!(verifier
        .verify(&headers(&signed("d0", TS + 301, body)), body)
        .is_ok());
    assert_eq!(store.len(), 1);
}

#[test]
fn a_timestamp_ahead_of_the_clock_is_kept_until_it_is_stale() {
    let (_, verifier, now) = with_a_new_store();
    // Signed 300 s ahead of the receiver's clock (the sender's clock runs fast).
    let ahead = signed("dlv-1", TS + 300, b"{}");
    assert!(verifier.verify(&headers(&ahead), b"{}").is_ok());
    now.store(TS + 600, Ordering::SeqCst);
    assert_eq!(
        verifier.verify(&headers(&ahead), b"{}"),
        Err(VerifyError::Replayed)
    );
    now.store(TS + 601, Ordering::SeqCst);
    assert_eq!(
        verifier.verify(&headers(&ahead), b"{}").unwrap_err().code(),
        "stale-timestamp"
    );
}

#[test]
fn verifiers_sharing_a_store_share_what_they_saw() {
    let store = Arc::new(MemoryReplayStore::new());
    let (a, _) = verifier(Arc::clone(&store));
    let (b, _) = verifier(Arc::clone(&store));
    let sig = signed("dlv-1", TS, b"{}");
    assert!(a.verify(&headers(&sig), b"{}").is_ok());
    assert_eq!(b.verify(&headers(&sig), b"{}"), Err(VerifyError::Replayed));
    // A clone of a verifier is the same receiver.
    let sig = signed("dlv-2", TS, b"{}");
    assert!(a.clone().verify(&headers(&sig), b"{}").is_ok());
    assert_eq!(a.verify(&headers(&sig), b"{}"), Err(VerifyError::Replayed));
}

#[test]
fn concurrent_copies_admit_exactly_one() {
    let (_, verifier, _) = with_a_new_store();
    let body = bulgarian_comment().to_body();
    let sig = signed("dlv-1", TS, &body);
    let accepted: usize = (0..8)
        .map(|_| {
            let verifier = verifier.clone();
            let headers = headers(&sig);
            let body = body.clone();
            std::thread::spawn(move || {
                (0..50)
                    .filter(|_| verifier.verify(&headers, &body).is_ok())
                    .count()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .sum();
    assert_eq!(accepted, 1);
}

#[test]
fn the_fastcomments_scheme_is_not_held_against_the_store() {
    // It signs no message id: the same bytes twice in one second may be two deliveries.
    let (store, verifier, _) = with_a_new_store();
    let sig = sign(SECRET, TS, b"{}");
    let headers = [
        ("X-FastComments-Timestamp", sig.timestamp_header()),
        ("X-FastComments-Signature", sig.signature_header()),
    ];
    for _ in 0..2 {
        let ok = verifier.verify(&headers, b"{}").unwrap();
        assert_eq!(ok.scheme, Scheme::FastComments);
    }
    assert!(store.is_empty());
}
