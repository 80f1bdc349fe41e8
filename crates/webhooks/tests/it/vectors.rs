//! Fixed vectors: every expected signature below was computed by Python's `hmac` module, not by
//! this crate, with the command in the comment above it; the expected body bytes were produced by
//! Node's `JSON.stringify`.

use crate::support;

use fastcomments_webhooks::{
    sign, verify, SignatureFormatError, Signer, Verifier, VerifyError, WebhookEventKind,
};
use support::{bulgarian_comment, SECRET, TS};

/// `WebhookComment::to_body()` of `support::bulgarian_comment()`: compact JSON, Cyrillic and
/// emoji as raw UTF-8, `/` unescaped, `"` and the newline escaped.
///
/// Cross-checked with Node v20: `node /tmp/stringify.js | cmp - body.json`, where stringify.js
/// builds the same object (same key order, `date: new Date(1763880000123)`) and runs
/// `process.stdout.write(JSON.stringify(c))`; the output was byte-identical. Also
/// `node -e 'process.stdout.write(JSON.stringify(JSON.parse(fs.readFileSync("body.json","utf8"))))'`
/// gives the same bytes back.
const BODY_BG: &str = r#"{"id":"6741a2b3c4d5e6f708192a3b","urlId":"https://example.bg/blog/2025/11/първи-пост","url":"https://example.bg/blog/2025/11/първи-пост?ref=a/b","userId":"user-42","commenterEmail":"ivan@example.bg","commenterName":"Иван Петров","comment":"Здравей, свят! 🇧🇬👍 Това е \"тест\" с наклонени черти: a/b/c\nвтори ред","commentHTML":"<p>Здравей, свят! 🇧🇬👍 Това е &quot;тест&quot; с наклонени черти: a/b/c<br/>втори ред</p>","date":"2025-11-23T06:40:00.123Z","votes":2,"votesUp":3,"votesDown":1,"verified":true,"reviewed":false,"avatarSrc":"https://cdn.example.bg/avatars/ivan.png","isSpam":false,"aiDeterminedSpam":false,"hasImages":false,"pageNumber":0,"pageNumberOF":0,"pageNumberNF":0,"approved":true,"locale":"bg_bg","mentions":[{"id":"user-7","tag":"@Мария","rawTag":"@Мария","type":"user","sent":true}],"domain":"example.bg"}"#;

/// ```text
/// python3 -c 'import hmac,hashlib; body=r"""<BODY_BG>""".encode(); print(hmac.new(b"secret", b"1763880000." + body, hashlib.sha256).hexdigest())'
/// ```
/// (with `<BODY_BG>` replaced by the literal above; it contains no `'` and no `"""`).
const SIG_BG: &str = "cf5dab50ab1fe8ca9b0a1ddf2d8b937ee806543bba6faa6ded0368e5bb65e782";

/// ```text
/// python3 -c 'import hmac,hashlib; body=r"""<BODY_BG>""".encode(); print(hmac.new(b"rotated-secret", b"1763880000." + body, hashlib.sha256).hexdigest())'
/// ```
const SIG_BG_ROTATED: &str = "704a8c0e1fae72e542bab15d7b803b3b54d9b394338776ea59fa87cdc89cba41";

/// The delete test payload.
const BODY_ID: &str = r#"{"id":"abc"}"#;
/// ```text
/// python3 -c 'import hmac,hashlib; print(hmac.new(b"secret", b"1763880000." + b"{\"id\":\"abc\"}", hashlib.sha256).hexdigest())'
/// ```
const SIG_ID: &str = "ba411669c7bf3632cf37eb3c62db69922f1f0a5a08eb09356cf2805c617f2e34";

/// ASCII with slashes.
const BODY_SLASHES: &str = r#"{"url":"https://example.com/a/b"}"#;
/// ```text
/// python3 -c 'import hmac,hashlib; print(hmac.new(b"secret", b"1763880000." + b"{\"url\":\"https://example.com/a/b\"}", hashlib.sha256).hexdigest())'
/// ```
const SIG_SLASHES: &str = "ba950823859d5928cbd6142e6e9cdb3f3c47202e588b487263724272900b559a";

/// ```text
/// python3 -c 'import hmac,hashlib; print(hmac.new(b"secret", b"1763880000." + b"", hashlib.sha256).hexdigest())'
/// ```
const SIG_EMPTY: &str = "1e97c65c2829f47ae40e3e642b3ff60c9fcc62993a41603546733144a7e898a1";

/// What the old guide's Python receiver hashes for `BODY_BG`:
/// ```text
/// python3 -c 'import json; body=open("body.json","rb").read(); print(json.dumps(json.loads(body), separators=(",", ":")))'
/// ```
/// `ensure_ascii` is on by default, so every Cyrillic letter becomes `\u04xx` and each emoji a
/// surrogate pair. PHP's `json_encode($body, JSON_UNESCAPED_SLASHES)` escapes the same way.
const BODY_BG_PYTHON_RESERIALISED: &str = r#"{"id":"6741a2b3c4d5e6f708192a3b","urlId":"https://example.bg/blog/2025/11/\u043f\u044a\u0440\u0432\u0438-\u043f\u043e\u0441\u0442","url":"https://example.bg/blog/2025/11/\u043f\u044a\u0440\u0432\u0438-\u043f\u043e\u0441\u0442?ref=a/b","userId":"user-42","commenterEmail":"ivan@example.bg","commenterName":"\u0418\u0432\u0430\u043d \u041f\u0435\u0442\u0440\u043e\u0432","comment":"\u0417\u0434\u0440\u0430\u0432\u0435\u0439, \u0441\u0432\u044f\u0442! \ud83c\udde7\ud83c\uddec\ud83d\udc4d \u0422\u043e\u0432\u0430 \u0435 \"\u0442\u0435\u0441\u0442\" \u0441 \u043d\u0430\u043a\u043b\u043e\u043d\u0435\u043d\u0438 \u0447\u0435\u0440\u0442\u0438: a/b/c\n\u0432\u0442\u043e\u0440\u0438 \u0440\u0435\u0434","commentHTML":"<p>\u0417\u0434\u0440\u0430\u0432\u0435\u0439, \u0441\u0432\u044f\u0442! \ud83c\udde7\ud83c\uddec\ud83d\udc4d \u0422\u043e\u0432\u0430 \u0435 &quot;\u0442\u0435\u0441\u0442&quot; \u0441 \u043d\u0430\u043a\u043b\u043e\u043d\u0435\u043d\u0438 \u0447\u0435\u0440\u0442\u0438: a/b/c<br/>\u0432\u0442\u043e\u0440\u0438 \u0440\u0435\u0434</p>","date":"2025-11-23T06:40:00.123Z","votes":2,"votesUp":3,"votesDown":1,"verified":true,"reviewed":false,"avatarSrc":"https://cdn.example.bg/avatars/ivan.png","isSpam":false,"aiDeterminedSpam":false,"hasImages":false,"pageNumber":0,"pageNumberOF":0,"pageNumberNF":0,"approved":true,"locale":"bg_bg","mentions":[{"id":"user-7","tag":"@\u041c\u0430\u0440\u0438\u044f","rawTag":"@\u041c\u0430\u0440\u0438\u044f","type":"user","sent":true}],"domain":"example.bg"}"#;

/// A body a sender wrote differently from `JSON.stringify` (a trailing zero, `\u` and `\/`
/// escapes, an integer-like key last). The old guide's Node receiver hashes
/// `JSON.stringify(JSON.parse(raw))`, which is, per
/// `node -e 'process.stdout.write(JSON.stringify(JSON.parse(String.raw`<BODY_ODD>`)))'`,
/// `BODY_ODD_NODE_RESERIALISED`: the number, the escapes and the key order all changed.
const BODY_ODD: &str =
    r#"{"votes":1.50,"name":"\u00e9t\u00e9","url":"https:\/\/example.com\/a","10":"x"}"#;
const BODY_ODD_NODE_RESERIALISED: &str =
    r#"{"10":"x","votes":1.5,"name":"été","url":"https://example.com/a"}"#;
/// ```text
/// python3 -c 'import hmac,hashlib; print(hmac.new(b"secret", b"1763880000." + br"""<BODY_ODD>""", hashlib.sha256).hexdigest())'
/// ```
const SIG_ODD: &str = "8569a0a2f39640878363cbc159cbd1396180c82a5c9463e35dfcc17065c8df94";

fn sig_header(hex: &str) -> String {
    format!("sha256={hex}")
}

/// Headers as a receiver gets them, as plain pairs.
fn pairs(timestamp: &str, signature: &str) -> Vec<(String, String)> {
    vec![
        ("X-FastComments-Timestamp".into(), timestamp.into()),
        ("X-FastComments-Signature".into(), signature.into()),
    ]
}

fn check(
    body: &[u8],
    timestamp: &str,
    signature: &str,
    secrets: &[&str],
    now: i64,
) -> Result<fastcomments_webhooks::Verified, VerifyError> {
    verify(&pairs(timestamp, signature), body, secrets, now, 300)
}

#[test]
fn to_body_is_exactly_what_json_stringify_writes() {
    let body = bulgarian_comment().to_body();
    assert_eq!(std::str::from_utf8(&body).unwrap(), BODY_BG);
    assert!(body.len() > 900, "a realistic body, not a toy");
    // Raw UTF-8 (not \u escapes) and raw slashes.
    assert!(BODY_BG.contains("Здравей, свят! 🇧🇬👍"));
    assert!(BODY_BG.contains("https://example.bg/blog/2025/11/първи-пост"));
    assert!(!BODY_BG.contains("\\u"));
    assert!(!BODY_BG.contains("\\/"));
}

#[test]
fn signing_matches_python_vectors() {
    let cases: [(&[u8], &[u8], &str); 5] = [
        (SECRET, BODY_BG.as_bytes(), SIG_BG),
        (b"rotated-secret", BODY_BG.as_bytes(), SIG_BG_ROTATED),
        (SECRET, BODY_ID.as_bytes(), SIG_ID),
        (SECRET, BODY_SLASHES.as_bytes(), SIG_SLASHES),
        (SECRET, b"", SIG_EMPTY),
    ];
    for (secret, body, hex) in cases {
        let sig = sign(secret, TS, body);
        assert_eq!(sig.timestamp(), TS);
        assert_eq!(sig.timestamp_header(), "1763880000");
        assert_eq!(sig.hex(), hex);
        assert_eq!(sig.signature_header(), sig_header(hex));
        // A keyed signer gives the same, again and again.
        let signer = Signer::new(secret);
        assert_eq!(signer.sign(TS, body), sig);
        assert_eq!(signer.sign(TS, body), sig);
    }
    assert_eq!(sign(SECRET, TS, BODY_ODD.as_bytes()).hex(), SIG_ODD);
}

#[test]
fn python_vectors_verify() {
    for (body, hex) in [
        (BODY_BG, SIG_BG),
        (BODY_ID, SIG_ID),
        (BODY_SLASHES, SIG_SLASHES),
        ("", SIG_EMPTY),
        (BODY_ODD, SIG_ODD),
    ] {
        let ok = check(
            body.as_bytes(),
            "1763880000",
            &sig_header(hex),
            &["secret"],
            TS,
        )
        .unwrap();
        assert_eq!(ok.timestamp, TS);
        assert_eq!(ok.secret_index, 0);
    }
}

#[test]
fn reserialised_bodies_fail_as_the_docs_say() {
    let sig = sig_header(SIG_BG);
    // The guide's Python and PHP receivers: \u escapes instead of the bytes that were signed.
    assert_ne!(BODY_BG_PYTHON_RESERIALISED, BODY_BG);
    assert!(BODY_BG_PYTHON_RESERIALISED.contains(r"\u0417\u0434\u0440\u0430\u0432\u0435\u0439"));
    assert_eq!(
        check(
            BODY_BG_PYTHON_RESERIALISED.as_bytes(),
            "1763880000",
            &sig,
            &["secret"],
            TS
        ),
        Err(VerifyError::SignatureMismatch)
    );
    // The guide's Node receiver, on a body not written exactly as JSON.stringify would.
    assert_eq!(
        check(
            BODY_ODD_NODE_RESERIALISED.as_bytes(),
            "1763880000",
            &sig_header(SIG_ODD),
            &["secret"],
            TS
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn tampered_body_is_refused() {
    let sig = sig_header(SIG_BG);
    let tampered = BODY_BG.replace("\"votes\":2", "\"votes\":3");
    assert_eq!(
        check(tampered.as_bytes(), "1763880000", &sig, &["secret"], TS),
        Err(VerifyError::SignatureMismatch)
    );
    let mut truncated = BODY_BG.as_bytes().to_vec();
    truncated.pop();
    assert_eq!(
        check(&truncated, "1763880000", &sig, &["secret"], TS),
        Err(VerifyError::SignatureMismatch)
    );
    let mut appended = BODY_BG.as_bytes().to_vec();
    appended.push(b'\n');
    assert_eq!(
        check(&appended, "1763880000", &sig, &["secret"], TS),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn timestamp_is_covered_by_the_signature() {
    // Same signature, timestamp moved by one second (still fresh): refused.
    assert_eq!(
        check(
            BODY_ID.as_bytes(),
            "1763880001",
            &sig_header(SIG_ID),
            &["secret"],
            TS
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn wrong_secret_is_refused() {
    assert_eq!(
        check(
            BODY_BG.as_bytes(),
            "1763880000",
            &sig_header(SIG_BG),
            &["Secret"],
            TS
        ),
        Err(VerifyError::SignatureMismatch)
    );
    assert_eq!(
        check(
            BODY_BG.as_bytes(),
            "1763880000",
            &sig_header(SIG_BG),
            &["wrong", "also wrong"],
            TS
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn any_of_several_secrets_matches() {
    let ok = check(
        BODY_BG.as_bytes(),
        "1763880000",
        &sig_header(SIG_BG_ROTATED),
        &["secret", "rotated-secret"],
        TS,
    )
    .unwrap();
    assert_eq!(ok.secret_index, 1);
    // Empty secrets never match and are skipped, not counted out of the index.
    let ok = check(
        BODY_BG.as_bytes(),
        "1763880000",
        &sig_header(SIG_BG),
        &["", "secret"],
        TS,
    )
    .unwrap();
    assert_eq!(ok.secret_index, 1);
    // Same through a Verifier.
    let verifier = Verifier::new(["old", "", "rotated-secret"]).with_clock(|| TS);
    assert_eq!(verifier.secret_count(), 2);
    let ok = verifier
        .verify(
            &pairs("1763880000", &sig_header(SIG_BG_ROTATED)),
            BODY_BG.as_bytes(),
        )
        .unwrap();
    assert_eq!(ok.secret_index, 2);
}

#[test]
fn no_secret_is_a_configuration_error() {
    let none: [&str; 0] = [];
    let headers = pairs("1763880000", &sig_header(SIG_ID));
    assert_eq!(
        verify(&headers, BODY_ID.as_bytes(), &none, TS, 300),
        Err(VerifyError::NoSecret)
    );
    assert_eq!(
        verify(&headers, BODY_ID.as_bytes(), &[""], TS, 300),
        Err(VerifyError::NoSecret)
    );
    assert_eq!(
        Verifier::new(none).verify_at(&headers, BODY_ID.as_bytes(), TS),
        Err(VerifyError::NoSecret)
    );
}

#[test]
fn tolerance_is_300_seconds_both_ways() {
    let sig = sig_header(SIG_ID);
    let at = |now| check(BODY_ID.as_bytes(), "1763880000", &sig, &["secret"], now);
    support::assert_tolerance_is_300_seconds(at);
    assert_eq!(at(TS + 301).unwrap_err().code(), "stale-timestamp");
    assert_eq!(at(TS - 301).unwrap_err().code(), "future-timestamp");
    // A stale timestamp is refused before any MAC: even a wrong signature says "stale".
    assert_eq!(
        check(
            BODY_ID.as_bytes(),
            "1763880000",
            &sig_header(&"0".repeat(64)),
            &["secret"],
            TS + 301
        )
        .unwrap_err()
        .code(),
        "stale-timestamp"
    );
    // Configurable, and the Verifier uses its clock.
    let verifier = Verifier::new(["secret"])
        .with_tolerance_secs(10)
        .with_clock(|| TS + 11);
    assert_eq!(verifier.tolerance_secs(), 10);
    assert_eq!(
        verifier.verify(&pairs("1763880000", &sig), BODY_ID.as_bytes()),
        Err(VerifyError::StaleTimestamp {
            age_secs: 11,
            tolerance_secs: 10
        })
    );
    assert!(verifier
        .verify_at(&pairs("1763880000", &sig), BODY_ID.as_bytes(), TS + 10)
        .is_ok());
    assert_eq!(Verifier::new(["s"]).tolerance_secs(), 300);
}

#[test]
fn malformed_timestamps() {
    let sig = sig_header(SIG_ID);
    for bad in [
        "",
        "abc",
        "1763880000.0",
        "1.76388e9",
        "+1763880000",
        "0x6922A940",
        "1763880000s",
        "99999999999999999999",
    ] {
        assert_eq!(
            check(BODY_ID.as_bytes(), bad, &sig, &["secret"], TS),
            Err(VerifyError::MalformedTimestamp),
            "{bad:?}"
        );
    }
    assert_eq!(
        check(BODY_ID.as_bytes(), "abc", &sig, &["secret"], TS)
            .unwrap_err()
            .code(),
        "malformed-timestamp"
    );
    // Optional whitespace around a header value is not part of it.
    assert!(check(BODY_ID.as_bytes(), " 1763880000\t", &sig, &["secret"], TS).is_ok());
}

#[test]
fn malformed_signatures() {
    let at = |signature: &str| check(BODY_ID.as_bytes(), "1763880000", signature, &["secret"], TS);
    let malformed = |e| Err(VerifyError::MalformedSignature(e));
    use SignatureFormatError as E;
    let not_hex = format!("{}zz", &SIG_ID[..62]);
    for (signature, error) in [
        // No prefix, or another spelling of it.
        (SIG_ID.to_owned(), E::MissingPrefix),
        (format!("SHA256={SIG_ID}"), E::MissingPrefix),
        (format!("sha256:{SIG_ID}"), E::MissingPrefix),
        (format!("v1,{SIG_ID}"), E::MissingPrefix),
        // Wrong length.
        ("sha256=".to_owned(), E::WrongLength { len: 0 }),
        (sig_header(&SIG_ID[..63]), E::WrongLength { len: 63 }),
        (
            sig_header(&format!("{SIG_ID}0")),
            E::WrongLength { len: 65 },
        ),
        (sig_header(&SIG_ID[..32]), E::WrongLength { len: 32 }),
        // Not hex.
        (sig_header(&not_hex), E::NotHex),
        (sig_header(&"é".repeat(32)), E::NotHex),
    ] {
        assert_eq!(at(&signature), malformed(error), "{signature}");
    }
    assert_eq!(at("sha256=abc").unwrap_err().code(), "malformed-signature");
}

#[test]
fn uppercase_hex_is_accepted() {
    // Decision (documented in the `verify` module): hex case does not matter, the comparison
    // is on the 32 decoded bytes. The hub itself always sends lowercase.
    let upper = SIG_BG.to_ascii_uppercase();
    assert_ne!(upper, SIG_BG);
    assert!(check(
        BODY_BG.as_bytes(),
        "1763880000",
        &sig_header(&upper),
        &["secret"],
        TS
    )
    .is_ok());
    let mixed: String = SIG_BG
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    assert!(check(
        BODY_BG.as_bytes(),
        "1763880000",
        &sig_header(&mixed),
        &["secret"],
        TS
    )
    .is_ok());
    // Uppercase of a wrong signature is still wrong.
    let wrong = SIG_ID.to_ascii_uppercase();
    assert_eq!(
        check(
            BODY_BG.as_bytes(),
            "1763880000",
            &sig_header(&wrong),
            &["secret"],
            TS
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn missing_headers() {
    let sig = sig_header(SIG_ID);
    let only_sig = [("X-FastComments-Signature", sig.as_str())];
    let only_ts = [("X-FastComments-Timestamp", "1763880000")];
    let none: [(&str, &str); 0] = [];
    assert_eq!(
        verify(&only_sig, BODY_ID.as_bytes(), &["secret"], TS, 300),
        Err(VerifyError::MissingTimestamp)
    );
    assert_eq!(
        verify(&only_ts, BODY_ID.as_bytes(), &["secret"], TS, 300),
        Err(VerifyError::MissingSignature)
    );
    assert_eq!(
        verify(&none, BODY_ID.as_bytes(), &["secret"], TS, 300),
        Err(VerifyError::MissingTimestamp)
    );
    assert_eq!(VerifyError::MissingTimestamp.code(), "missing-timestamp");
    assert_eq!(VerifyError::MissingSignature.code(), "missing-signature");
    // The legacy `token` header is no substitute for a signature.
    let legacy = [
        ("X-FastComments-Timestamp", "1763880000"),
        ("token", "secret"),
    ];
    assert_eq!(
        verify(&legacy, BODY_ID.as_bytes(), &["secret"], TS, 300),
        Err(VerifyError::MissingSignature)
    );
}

#[test]
fn header_names_are_case_insensitive() {
    let sig = sig_header(SIG_ID);
    for (ts_name, sig_name) in [
        ("x-fastcomments-timestamp", "x-fastcomments-signature"),
        ("X-FASTCOMMENTS-TIMESTAMP", "X-FASTCOMMENTS-SIGNATURE"),
        ("X-Fastcomments-Timestamp", "x-FastComments-SIGNATURE"),
    ] {
        let headers = [(ts_name, "1763880000"), (sig_name, sig.as_str())];
        assert!(verify(&headers, BODY_ID.as_bytes(), &["secret"], TS, 300).is_ok());
    }
    // http::HeaderMap, which stores names lowercase, whatever the sender wrote.
    let mut map = http::HeaderMap::new();
    map.insert("X-FastComments-Timestamp", "1763880000".parse().unwrap());
    map.insert("X-FASTCOMMENTS-SIGNATURE", sig.parse().unwrap());
    assert!(verify(&map, BODY_ID.as_bytes(), &["secret"], TS, 300).is_ok());
}

#[test]
fn extensions_are_read_when_present() {
    let sig = sign(SECRET, TS, BODY_BG.as_bytes());
    let mut map = http::HeaderMap::new();
    sig.insert_into(&mut map);
    fastcomments_webhooks::headers::insert_extensions(
        &mut map,
        WebhookEventKind::Update,
        "dlv-1/7",
        3,
    )
    .unwrap();
    assert_eq!(map["x-fastcomments-event"], "comment.updated");
    let ok = verify(&map, BODY_BG.as_bytes(), &["secret"], TS, 300).unwrap();
    assert_eq!(ok.event, Some(WebhookEventKind::Update));
    assert_eq!(ok.delivery_id.as_deref(), Some("dlv-1/7"));
    assert_eq!(ok.attempt, Some(3));

    // Absent: None. Unknown or garbled: None too (they are unsigned hints, never a reason to
    // refuse an authentic request).
    let bare = pairs("1763880000", sig.signature_header());
    let ok = verify(&bare, BODY_BG.as_bytes(), &["secret"], TS, 300).unwrap();
    assert_eq!((ok.event, ok.delivery_id, ok.attempt), (None, None, None));
    let odd = vec![
        ("X-FastComments-Timestamp", "1763880000"),
        ("X-FastComments-Signature", sig.signature_header()),
        ("X-FastComments-Event", "comment.exploded"),
        ("X-FastComments-Delivery", ""),
        ("X-FastComments-Attempt", "-1"),
    ];
    let ok = verify(&odd, BODY_BG.as_bytes(), &["secret"], TS, 300).unwrap();
    assert_eq!((ok.event, ok.delivery_id, ok.attempt), (None, None, None));
    for (value, kind) in [
        ("comment.created", WebhookEventKind::Create),
        ("comment.updated", WebhookEventKind::Update),
        ("comment.deleted", WebhookEventKind::Delete),
    ] {
        let headers = [
            ("X-FastComments-Timestamp", "1763880000"),
            ("X-FastComments-Signature", sig.signature_header()),
            ("X-FastComments-Event", value),
        ];
        let ok = verify(&headers, BODY_BG.as_bytes(), &["secret"], TS, 300).unwrap();
        assert_eq!(ok.event, Some(kind));
    }
}

#[test]
fn signature_inserts_into_a_header_map() {
    let sig = sign(SECRET, TS, BODY_ID.as_bytes());
    let mut map = http::HeaderMap::new();
    map.insert("x-fastcomments-timestamp", "1".parse().unwrap());
    sig.insert_into(&mut map);
    assert_eq!(map["x-fastcomments-timestamp"], "1763880000");
    assert_eq!(map["x-fastcomments-signature"], sig_header(SIG_ID).as_str());
    assert_eq!(map.len(), 2);
}

#[test]
fn errors_never_reveal_the_expected_signature() {
    // Whatever is wrong with the request, neither the message nor the debug form of the error
    // holds the signature the secret would give.
    let expected = SIG_BG;
    let attempts = [
        check(
            BODY_BG.as_bytes(),
            "1763880000",
            &sig_header(&"0".repeat(64)),
            &["secret"],
            TS,
        ),
        check(b"{}", "1763880000", &sig_header(SIG_ID), &["secret"], TS),
        check(
            BODY_BG.as_bytes(),
            "1763880000",
            "sha256=00",
            &["secret"],
            TS,
        ),
        check(
            BODY_BG.as_bytes(),
            "1763880000",
            &sig_header(SIG_BG),
            &["secret"],
            TS + 9999,
        ),
    ];
    for attempt in attempts {
        let err = attempt.unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(expected), "{text}");
            assert!(!text.contains(&expected.to_ascii_uppercase()), "{text}");
        }
    }
    // Debug forms of the keyed types redact the secret.
    let text = format!(
        "{:?} {:?}",
        Verifier::new(["secret"]),
        Signer::new("secret")
    );
    assert!(!text.contains("secret\""), "{text}");
    assert!(text.contains("redacted"), "{text}");
}

#[test]
fn negative_and_extreme_timestamps_round_trip() {
    // The signer writes any i64; the verifier reads the same text back.
    for ts in [0i64, -5, 1, i64::MAX, i64::MIN] {
        let sig = sign(SECRET, ts, BODY_ID.as_bytes());
        assert_eq!(sig.timestamp_header(), ts.to_string());
        let ok = verify(
            &pairs(sig.timestamp_header(), sig.signature_header()),
            BODY_ID.as_bytes(),
            &["secret"],
            ts,
            0,
        )
        .unwrap();
        assert_eq!(ok.timestamp, ts);
    }
}

/// A receiver's own header type, implementing only the required method of `HeaderLookup`.
struct CgiEnv(Vec<(String, String)>);

impl fastcomments_webhooks::HeaderLookup for CgiEnv {
    fn header(&self, name: fastcomments_webhooks::WebhookHeader) -> Option<&[u8]> {
        // CGI spells `X-FastComments-Timestamp` as `HTTP_X_FASTCOMMENTS_TIMESTAMP`.
        let wanted = format!(
            "HTTP_{}",
            name.as_str().replace('-', "_").to_ascii_uppercase()
        );
        self.0
            .iter()
            .find(|(k, _)| *k == wanted)
            .map(|(_, v)| v.as_bytes())
    }
}

#[test]
fn own_header_types_plug_in() {
    let env = CgiEnv(vec![
        ("HTTP_X_FASTCOMMENTS_TIMESTAMP".into(), "1763880000".into()),
        ("HTTP_X_FASTCOMMENTS_SIGNATURE".into(), sig_header(SIG_BG)),
        ("HTTP_X_FASTCOMMENTS_DELIVERY".into(), "dlv-9".into()),
    ]);
    let ok = verify(&env, BODY_BG.as_bytes(), &["secret"], TS, 300).unwrap();
    assert_eq!(ok.delivery_id.as_deref(), Some("dlv-9"));
    assert_eq!(
        Verifier::new(["secret"]).verify_at(&env, b"{}", TS),
        Err(VerifyError::SignatureMismatch)
    );
}
