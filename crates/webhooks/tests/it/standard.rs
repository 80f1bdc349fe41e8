//! Standard Webhooks through the public API: signing with one or several secrets, every check
//! of verification, which scheme a `Verifier` picks, and the unsigned headers and method that
//! must agree with the signed id. (Published vectors and other implementations:
//! `standard_vectors.rs`.)

use crate::support;

use fastcomments_webhooks::headers::insert_extensions;
use fastcomments_webhooks::{
    sign, verify_standard, AcceptedSchemes, MessageId, Scheme, Secret, StandardSignature,
    StandardSignatureError, StandardSigner, Verifier, VerifyError, WebhookEventKind, WebhookHeader,
};
use support::{bulgarian_comment, SECRET, TS};

const DELIVERY: &str = "6741a2b3c4d5e6f708192a3b";

fn id(kind: WebhookEventKind) -> MessageId {
    MessageId::for_delivery(kind, DELIVERY).unwrap()
}

fn signed(secrets: &[&str], kind: WebhookEventKind, ts: i64, body: &[u8]) -> StandardSignature {
    StandardSigner::new(secrets)
        .unwrap()
        .sign(&id(kind), ts, body)
}

/// The three Standard Webhooks headers, as plain pairs.
fn headers(id: &str, ts: &str, signature: &str) -> Vec<(String, String)> {
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts.into()),
        ("webhook-signature".into(), signature.into()),
    ]
}

fn of(sig: &StandardSignature) -> Vec<(String, String)> {
    headers(
        sig.id().as_str(),
        sig.timestamp_header(),
        sig.signature_header(),
    )
}

fn verifier() -> Verifier {
    Verifier::new(["some other secret", "secret"]).with_clock(|| TS)
}

#[test]
fn round_trip_with_kind_and_delivery_signed() {
    let body = bulgarian_comment().to_body();
    let sig = signed(&["secret"], WebhookEventKind::Update, TS, &body);
    assert_eq!(sig.id().as_str(), format!("update_{DELIVERY}"));
    assert_eq!(sig.timestamp_header(), "1763880000");
    assert!(sig.signature_header().starts_with("v1,"));
    assert_eq!(sig.signature_header().len(), 3 + 44);

    let ok = verifier().verify(&of(&sig), &body).unwrap();
    assert_eq!(ok.scheme, Scheme::StandardWebhooks);
    assert_eq!(ok.secret_index, 1);
    assert_eq!(ok.timestamp, TS);
    assert_eq!(ok.event, Some(WebhookEventKind::Update));
    assert_eq!(ok.signed_event(), Some(WebhookEventKind::Update));
    assert_eq!(ok.delivery_id.as_deref(), Some(DELIVERY));
    assert_eq!(ok.signed_delivery_id(), Some(DELIVERY));
    assert_eq!(ok.attempt, None);

    // The free function gives the same answer.
    let free = verify_standard(&of(&sig), &body, &["nope", "secret"], TS, 300).unwrap();
    assert_eq!(free, ok);
}

#[test]
fn several_secrets_sign_with_several_v1_entries() {
    let body = bulgarian_comment().to_body();
    let both = signed(
        &["old secret", "new secret"],
        WebhookEventKind::Create,
        TS,
        &body,
    );
    let old = signed(&["old secret"], WebhookEventKind::Create, TS, &body);
    let new = signed(&["", "new secret"], WebhookEventKind::Create, TS, &body);
    // One entry per key, in the order given, separated by one space; empty secrets skipped.
    assert_eq!(
        both.signature_header(),
        format!("{} {}", old.signature_header(), new.signature_header())
    );
    assert_ne!(old.signature_header(), new.signature_header());
    assert_eq!(
        StandardSigner::new(["old secret", "", "new secret"])
            .unwrap()
            .key_count(),
        2
    );
    // A receiver that knows either secret verifies; one that knows neither does not.
    for (secrets, index) in [(&["old secret"][..], 0), (&["x", "new secret"][..], 1)] {
        let ok = Verifier::new(secrets)
            .with_clock(|| TS)
            .verify(&of(&both), &body)
            .unwrap();
        assert_eq!(ok.secret_index, index);
    }
    assert_eq!(
        Verifier::new(["neither"])
            .with_clock(|| TS)
            .verify(&of(&both), &body),
        Err(VerifyError::SignatureMismatch)
    );
    assert!(StandardSigner::new([""]).is_none());
    assert!(fastcomments_webhooks::sign_standard(&[""; 0], &both.id().clone(), TS, b"").is_none());
}

#[test]
fn unknown_versions_and_unusable_entries_are_skipped() {
    let body = br#"{"id":"abc"}"#;
    let sig = signed(&["secret"], WebhookEventKind::Delete, TS, body);
    let good = sig.signature_header();
    let good_b64 = &good[3..];
    let at = |signature: &str| {
        verifier().verify(&headers(sig.id().as_str(), "1763880000", signature), body)
    };
    for accepted in [
        format!("v1a,{good_b64} {good}"),
        format!("v2,AAAA {good} v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="),
        format!("v1,dawfeoifkpqwoekfpqoekf {good}"),
        format!("  {good}   v1,{}  ", "A".repeat(43) + "="),
        format!("{good}\tv1a,x"),
    ] {
        assert_eq!(at(&accepted).map(|v| v.secret_index), Ok(1), "{accepted}");
    }
    let malformed = |e| Err(VerifyError::MalformedWebhookSignature(e));
    for no_v1 in [
        format!("v1a,{good_b64}"),
        format!("V1,{good_b64}"),
        format!("sha256={}", "0".repeat(64)),
        String::new(),
    ] {
        let want = malformed(StandardSignatureError::NoV1Signature);
        assert_eq!(at(&no_v1), want, "{no_v1}");
    }
    for bad in [
        "v1,".to_owned(),
        "v1,dawfeoifkpqwoekfpqoekf".into(),
        format!("v1,{}", &good_b64[..43]),
        format!("v1,{}", good_b64.trim_end_matches('=')),
        format!("v1,{good_b64}AAAA"),
        format!("v1={good_b64}"),
    ] {
        let want = if bad.starts_with("v1,") {
            StandardSignatureError::NotBase64
        } else {
            StandardSignatureError::NoV1Signature
        };
        assert_eq!(at(&bad), malformed(want), "{bad}");
    }
    assert_eq!(at("v1,").unwrap_err().code(), "malformed-signature");
    // At most eight v1 entries are looked at.
    let eight = [good; 8].join(" ");
    assert!(at(&eight).is_ok());
    assert_eq!(
        at(&format!("{eight} {good}")),
        malformed(StandardSignatureError::TooMany)
    );
    // Well-formed but wrong: a mismatch.
    assert_eq!(
        at(&format!("v1,{}", "A".repeat(43) + "=")),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn id_timestamp_and_body_are_all_covered() {
    let body = bulgarian_comment().to_body();
    let sig = signed(&["secret"], WebhookEventKind::Update, TS, &body);
    let s = sig.signature_header();
    let mismatch = Err(VerifyError::SignatureMismatch);
    // Another kind, another delivery, another instant (still fresh), another byte of body.
    for other_id in [
        format!("delete_{DELIVERY}"),
        format!("create_{DELIVERY}"),
        format!("update_{DELIVERY}0"),
        DELIVERY.to_owned(),
    ] {
        assert_eq!(
            verifier().verify(&headers(&other_id, "1763880000", s), &body),
            mismatch,
            "{other_id}"
        );
    }
    assert_eq!(
        verifier().verify(&headers(sig.id().as_str(), "1763880001", s), &body),
        mismatch
    );
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(verifier().verify(&of(&sig), &tampered), mismatch);
    // Surrounding whitespace of the values is not part of them.
    let padded = headers(
        &format!(" {} ", sig.id()),
        "\t1763880000 ",
        &format!(" {s}"),
    );
    assert!(verifier().verify(&padded, &body).is_ok());
}

#[test]
fn tolerance_is_300_seconds_both_ways() {
    let sig = signed(&["secret"], WebhookEventKind::Create, TS, b"{}");
    let at = |now: i64| verifier().verify_at(&of(&sig), b"{}", now);
    support::assert_tolerance_is_300_seconds(at);
    // Freshness comes before the MAC: a stale request with a wrong signature says "stale".
    let wrong = headers(
        sig.id().as_str(),
        "1763880000",
        &format!("v1,{}=", "A".repeat(43)),
    );
    assert_eq!(
        verifier()
            .verify_at(&wrong, b"{}", TS + 301)
            .unwrap_err()
            .code(),
        "stale-timestamp"
    );
    let strict = verifier().with_tolerance_secs(5);
    assert!(strict.verify_at(&of(&sig), b"{}", TS + 5).is_ok());
    assert_eq!(
        strict
            .verify_at(&of(&sig), b"{}", TS - 6)
            .unwrap_err()
            .code(),
        "future-timestamp"
    );
}

#[test]
fn missing_and_malformed_headers_say_which() {
    let sig = signed(&["secret"], WebhookEventKind::Create, TS, b"{}");
    let full = of(&sig);
    for (drop, code) in [
        ("webhook-id", "missing-webhook-id"),
        ("webhook-timestamp", "missing-webhook-timestamp"),
        ("webhook-signature", "missing-webhook-signature"),
    ] {
        let partial: Vec<_> = full.iter().filter(|(n, _)| n != drop).cloned().collect();
        let err = verifier().verify(&partial, b"{}").unwrap_err();
        assert_eq!(err.code(), code);
        assert_eq!(err.to_string(), format!("missing {drop} header"));
    }
    assert_eq!(
        verifier().verify(&full[..1], b"{}"),
        Err(VerifyError::MissingStandardHeader(
            WebhookHeader::WebhookTimestamp
        ))
    );
    let s = sig.signature_header();
    let long = "x".repeat(257);
    for bad_id in ["", "a.b", "update_6741.x", "a b", "ид", long.as_str()] {
        assert_eq!(
            verifier().verify(&headers(bad_id, "1763880000", s), b"{}"),
            Err(VerifyError::MalformedWebhookId),
            "{bad_id:?}"
        );
    }
    assert_eq!(
        VerifyError::MalformedWebhookId.code(),
        "malformed-webhook-id"
    );
    for bad_ts in [
        "",
        "abc",
        "+1763880000",
        "1763880000.0",
        "1.7e9",
        "99999999999999999999",
    ] {
        let err = verifier()
            .verify(&headers(sig.id().as_str(), bad_ts, s), b"{}")
            .unwrap_err();
        assert_eq!(err, VerifyError::MalformedWebhookTimestamp, "{bad_ts:?}");
        assert_eq!(err.code(), "malformed-timestamp");
    }
    // Header names are case-insensitive, in pairs and in a HeaderMap.
    let upper: Vec<_> = full
        .iter()
        .map(|(n, v)| (n.to_ascii_uppercase(), v.clone()))
        .collect();
    assert!(verifier().verify(&upper, b"{}").is_ok());
    let mut map = http::HeaderMap::new();
    sig.insert_into(&mut map);
    assert_eq!(map.len(), 3);
    assert!(verifier().verify(&map, b"{}").is_ok());
}

/// A request as the hub sends it: both schemes' headers and the extension headers.
fn hub_request(kind: WebhookEventKind, body: &[u8]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    sign(SECRET, TS, body).insert_into(&mut map);
    signed(&["secret"], kind, TS, body).insert_into(&mut map);
    insert_extensions(&mut map, kind, DELIVERY, 2).unwrap();
    map
}

#[test]
fn standard_webhooks_is_preferred_and_never_falls_back() {
    let body = bulgarian_comment().to_body();
    let map = hub_request(WebhookEventKind::Update, &body);
    let ok = verifier().verify(&map, &body).unwrap();
    assert_eq!(ok.scheme, Scheme::StandardWebhooks);
    assert_eq!(ok.attempt, Some(2));
    let fc = verifier()
        .with_schemes(AcceptedSchemes::FastCommentsOnly)
        .verify(&map, &body)
        .unwrap();
    assert_eq!(fc.scheme, Scheme::FastComments);
    assert_eq!(fc.signed_event(), None);
    assert_eq!(fc.event, Some(WebhookEventKind::Update));

    // A broken Standard Webhooks signature is refused even though the FastComments one is good.
    let mut broken = map.clone();
    broken.insert("webhook-id", format!("delete_{DELIVERY}").parse().unwrap());
    assert_eq!(
        verifier().verify(&broken, &body),
        Err(VerifyError::SignatureMismatch)
    );
    // So is a request that kept only some of the three headers.
    let mut partial = map.clone();
    partial.remove("webhook-id");
    assert_eq!(
        verifier().verify(&partial, &body),
        Err(VerifyError::MissingStandardHeader(WebhookHeader::WebhookId))
    );

    // Without any of them: the FastComments scheme, unless only Standard Webhooks is accepted.
    let mut stripped = map.clone();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        stripped.remove(name);
    }
    assert_eq!(
        verifier().verify(&stripped, &body).unwrap().scheme,
        Scheme::FastComments
    );
    let strict = verifier().with_schemes(AcceptedSchemes::StandardWebhooksOnly);
    assert_eq!(strict.schemes(), AcceptedSchemes::StandardWebhooksOnly);
    assert_eq!(
        strict.verify(&stripped, &body).unwrap_err().code(),
        "missing-webhook-id"
    );
    assert!(strict.verify(&map, &body).is_ok());
}

#[test]
fn unsigned_headers_must_agree_with_the_signed_id() {
    let body = br#"{"id":"abc"}"#;
    let map = hub_request(WebhookEventKind::Update, body);
    let with = |name: &'static str, value: &str| {
        let mut m = map.clone();
        m.insert(name, value.parse().unwrap());
        verifier().verify(&m, body)
    };
    assert_eq!(
        with("x-fastcomments-event", "comment.deleted"),
        Err(VerifyError::HeaderMismatch(WebhookHeader::Event))
    );
    assert_eq!(
        with("x-fastcomments-event", "delete").unwrap_err().code(),
        "header-mismatch"
    );
    assert!(with("x-fastcomments-event", "update").is_ok());
    // An unknown value is no contradiction (and no kind): ignored as in the FastComments scheme.
    assert_eq!(
        with("x-fastcomments-event", "comment.exploded")
            .unwrap()
            .event,
        Some(WebhookEventKind::Update)
    );
    assert_eq!(
        with("x-fastcomments-delivery", "another-delivery"),
        Err(VerifyError::HeaderMismatch(WebhookHeader::Delivery))
    );
    assert!(with("x-fastcomments-delivery", &format!(" {DELIVERY} ")).is_ok());
    let err = with("x-fastcomments-event", "comment.created").unwrap_err();
    assert_eq!(
        err.to_string(),
        "X-FastComments-Event contradicts the signed webhook-id"
    );

    // An id that names no kind: no signed kind, and the unsigned header is not taken for one.
    let plain = MessageId::new("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W").unwrap();
    let sig = StandardSigner::new(["secret"])
        .unwrap()
        .sign(&plain, TS, body);
    let mut pairs = of(&sig);
    pairs.push(("X-FastComments-Event".into(), "comment.deleted".into()));
    let ok = verifier().verify(&pairs, body).unwrap();
    assert_eq!((ok.event, ok.signed_event()), (None, None));
    assert_eq!(
        ok.signed_delivery_id(),
        Some("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    );
}

#[test]
fn a_delete_must_be_signed_as_a_delete() {
    use http::Method;
    let body = br#"{"id":"abc"}"#;
    let check = |kind, method: Method| {
        let ok = verifier().verify(&hub_request(kind, body), body).unwrap();
        ok.check_method(&method)
    };
    assert_eq!(
        check(WebhookEventKind::Update, Method::DELETE),
        Err(VerifyError::MethodMismatch {
            signed: WebhookEventKind::Update
        })
    );
    assert_eq!(
        check(WebhookEventKind::Create, Method::DELETE)
            .unwrap_err()
            .code(),
        "method-mismatch"
    );
    for method in [Method::PUT, Method::POST] {
        assert!(check(WebhookEventKind::Update, method.clone()).is_ok());
        assert!(check(WebhookEventKind::Delete, method).is_ok());
    }
    assert!(check(WebhookEventKind::Delete, Method::DELETE).is_ok());
    // FastComments scheme: the kind is an unsigned hint, nothing to hold the method against.
    let fc = verifier()
        .with_schemes(AcceptedSchemes::FastCommentsOnly)
        .verify(&hub_request(WebhookEventKind::Update, body), body)
        .unwrap();
    assert_eq!(fc.event, Some(WebhookEventKind::Update));
    assert!(fc.check_method(&Method::DELETE).is_ok());
    // No kind at all: nothing to contradict.
    let bare = [
        ("X-FastComments-Timestamp", "1763880000".to_owned()),
        (
            "X-FastComments-Signature",
            sign(SECRET, TS, body).signature_header().to_owned(),
        ),
    ];
    let ok = verifier().verify(&bare, body).unwrap();
    assert!(ok.check_method(&Method::DELETE).is_ok());
}

#[test]
fn whsec_and_raw_forms_of_one_secret_are_the_same_key() {
    let api = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let whsec = Secret::raw(api).to_standard();
    assert!(whsec.starts_with("whsec_"));
    let body = bulgarian_comment().to_body();
    let sig = signed(&[api], WebhookEventKind::Create, TS, &body);
    for configured in [Secret::parse(&whsec).unwrap(), Secret::parse(api).unwrap()] {
        let ok = Verifier::new([configured])
            .with_clock(|| TS)
            .verify(&of(&sig), &body)
            .unwrap();
        assert_eq!(ok.secret_index, 0);
    }
    // Signing with the decoded whsec form gives the same bytes.
    let again = StandardSigner::new([Secret::parse(&whsec).unwrap()])
        .unwrap()
        .sign(sig.id(), TS, &body);
    assert_eq!(again, sig);
}

#[test]
fn no_secret_is_a_configuration_error() {
    let sig = signed(&["secret"], WebhookEventKind::Create, TS, b"{}");
    let none: [&str; 0] = [];
    assert_eq!(
        Verifier::new(none).verify_at(&of(&sig), b"{}", TS),
        Err(VerifyError::NoSecret)
    );
    assert_eq!(
        verify_standard(&of(&sig), b"{}", &[""], TS, 300),
        Err(VerifyError::NoSecret)
    );
}

#[test]
fn errors_never_reveal_the_expected_signature() {
    let body = bulgarian_comment().to_body();
    let sig = signed(&["secret"], WebhookEventKind::Update, TS, &body);
    let expected = &sig.signature_header()[3..];
    let id = sig.id().as_str();
    let attempts = [
        verifier().verify(
            &headers(id, "1763880000", &format!("v1,{}=", "A".repeat(43))),
            &body,
        ),
        verifier().verify(&of(&sig), b"{}"),
        verifier().verify(&headers(id, "1763880000", "v1,AA"), &body),
        verifier().verify(
            &headers(
                &format!("delete_{DELIVERY}"),
                "1763880000",
                sig.signature_header(),
            ),
            &body,
        ),
        verifier().verify_at(&of(&sig), &body, TS + 9999),
    ];
    for attempt in attempts {
        let err = attempt.unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(expected), "{text}");
        }
    }
    let text = format!("{:?}", StandardSigner::new(["secret"]).unwrap());
    assert!(
        !text.contains("secret\"") && text.contains("redacted"),
        "{text}"
    );
}
