//! Standard Webhooks against what others compute: the scheme's published test vectors, Python's
//! `hmac`/`base64` on random input, and the svix crate (the scheme's origin, an independent
//! Rust implementation).

use fastcomments_webhooks::{
    sign, verify_standard, MessageId, Scheme, Secret, StandardSignatureError, StandardSigner,
    Verifier, VerifyError, WebhookEventKind,
};
use std::io::Write;
use std::process::{Command, Stdio};

/// One published vector: key, message id, timestamp, payload and the signature header.
struct Vector {
    secret: &'static str,
    id: &'static str,
    timestamp: i64,
    payload: &'static str,
    signature: &'static str,
}

/// The vectors of the reference libraries in github.com/standard-webhooks/standard-webhooks
/// (`libraries/`), copied as data:
/// - the first is the `sign` test shared by the Python (`python/tests/test_webhooks.py`,
///   `test_sign_function`), JavaScript (`javascript/src/webhook.test.ts`, "sign function
///   works"), Go (`go/webhook_test.go`, `TestWebhookSign`), PHP (`php/tests/WebhookTest.php`,
///   `testSignFunctionWorks`) and C# (`csharp/StandardWebhooks.Tests/WebhookTest.cs`,
///   `verifyWebhookSignWorks`) libraries;
/// - the second is the Rust library's (`rust/src/lib.rs`, `test_sign`).
const PUBLISHED: [Vector; 2] = [
    Vector {
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp: 1614265330,
        payload: r#"{"test": 2432232314}"#,
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    },
    Vector {
        secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        timestamp: 1649367553,
        payload: r#"{"email":"test@example.com","username":"test_user"}"#,
        signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    },
];

/// Signatures the same test files expect to be refused for the first vector: the Python
/// library's `test_invalid_signature_raises_error` (one character off), the Go library's
/// "invalid signature is invalid", and the JavaScript/PHP "invalid signature" (not 32 bytes).
const WRONG: [&str; 2] = [
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
];
const NOT_32_BYTES: &str = "v1,dawfeoifkpqwoekfpqoekf";

/// The decoy entries of the libraries' multi-signature tests (`test_multi_sig_payload_is_valid`
/// and its siblings), around which the valid signature is placed; and the `v1a` signature of
/// the spec's example header (`spec/standard-webhooks.md`), which a symmetric verifier skips.
const DECOYS_BEFORE: &str =
    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
const DECOYS_AFTER: &str = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";

fn headers<'a>(id: &'a str, ts: &'a str, signature: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("webhook-id", id),
        ("webhook-timestamp", ts),
        ("webhook-signature", signature),
    ]
}

#[test]
fn published_vectors_sign_and_verify() {
    for v in &PUBLISHED {
        let key = Secret::parse(v.secret).unwrap();
        let id = MessageId::new(v.id).unwrap();
        let sig = StandardSigner::new([&key])
            .unwrap()
            .sign(&id, v.timestamp, v.payload.as_bytes());
        assert_eq!(sig.signature_header(), v.signature, "{}", v.id);
        assert_eq!(sig.timestamp_header(), v.timestamp.to_string());

        let ts = v.timestamp.to_string();
        let verifier = Verifier::new([&key]).with_clock(move || v.timestamp);
        let ok = verifier
            .verify(&headers(v.id, &ts, v.signature), v.payload.as_bytes())
            .unwrap();
        assert_eq!(ok.scheme, Scheme::StandardWebhooks);
        assert_eq!(ok.delivery_id.as_deref(), Some(v.id));
        // The key without its prefix is read the same way, as the libraries' prefix tests check.
        let bare = Secret::from_standard(v.secret.trim_start_matches("whsec_")).unwrap();
        assert_eq!(bare, key);
        // Within the tolerance either way, and not beyond it.
        for now in [v.timestamp - 300, v.timestamp + 300] {
            assert!(verifier
                .verify_at(&headers(v.id, &ts, v.signature), v.payload.as_bytes(), now)
                .is_ok());
        }
        assert!(verifier
            .verify_at(
                &headers(v.id, &ts, v.signature),
                v.payload.as_bytes(),
                v.timestamp + 301
            )
            .is_err());
        // The raw text of the whsec string is another key.
        assert_eq!(
            verify_standard(
                &headers(v.id, &ts, v.signature),
                v.payload.as_bytes(),
                &[v.secret],
                v.timestamp,
                300
            ),
            Err(VerifyError::SignatureMismatch)
        );
    }
}

#[test]
fn published_refusals_and_signature_lists() {
    let v = &PUBLISHED[0];
    let key = Secret::parse(v.secret).unwrap();
    let ts = v.timestamp.to_string();
    let at = |signature: &str| {
        verify_standard(
            &headers(v.id, &ts, signature),
            v.payload.as_bytes(),
            &[&key],
            v.timestamp,
            300,
        )
    };
    for wrong in WRONG {
        assert_eq!(at(wrong), Err(VerifyError::SignatureMismatch), "{wrong}");
    }
    assert_eq!(
        at(NOT_32_BYTES),
        Err(VerifyError::MalformedWebhookSignature(
            StandardSignatureError::NotBase64
        ))
    );
    // The valid signature among the decoys verifies; the decoys alone do not.
    let list = format!("{DECOYS_BEFORE} {} {DECOYS_AFTER}", v.signature);
    assert!(at(&list).is_ok());
    assert_eq!(
        at(&format!("{DECOYS_BEFORE} {DECOYS_AFTER}")),
        Err(VerifyError::SignatureMismatch)
    );
    // The second vector's signature is not the first's.
    assert_eq!(
        at(PUBLISHED[1].signature),
        Err(VerifyError::SignatureMismatch)
    );
}

/// xorshift64*: reproducible random input from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    fn text(&mut self, len: usize) -> String {
        const PIECES: [&str; 8] = ["a", "Z", "/", "\"", " ", "ж", "€", "🇧🇬"];
        (0..len)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn id(&mut self) -> MessageId {
        const CHARS: &[u8] = b"abcdefABCDEF0123456789_-~";
        let len = 1 + self.below(40) as usize;
        let delivery: String = (0..len)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize] as char)
            .collect();
        let kind = WebhookEventKind::ALL[self.below(3) as usize];
        if self.below(2) == 0 {
            MessageId::for_delivery(kind, &delivery).unwrap()
        } else {
            MessageId::new(&delivery).unwrap()
        }
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos | 1
}

/// What Python's standard library computes for one message: the `webhook-signature` for the
/// keys, their `whsec_` forms, and the FastComments hex signature with the first key.
const PYTHON: &str = r#"
import base64, hashlib, hmac, sys
msg_id, ts = sys.argv[1], sys.argv[2]
keys = [base64.b64decode(k) for k in sys.argv[3:]]
body = sys.stdin.buffer.read()
signed = msg_id.encode() + b"." + ts.encode() + b"." + body
print(" ".join("v1," + base64.b64encode(hmac.new(k, signed, hashlib.sha256).digest()).decode() for k in keys))
print(" ".join("whsec_" + base64.b64encode(k).decode() for k in keys))
print(hmac.new(keys[0], ts.encode() + b"." + body, hashlib.sha256).hexdigest())
"#;

fn python(id: &str, ts: &str, keys: &[Vec<u8>], body: &[u8]) -> Vec<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PYTHON)
        .arg(id)
        .arg(ts)
        .args(keys.iter().map(|k| b64.encode(k)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed: this cross-check does not skip");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn python_computes_the_same_signatures_on_random_input() {
    let seed = seed();
    let mut rng = Rng(seed);
    for round in 0..12 {
        let keys: Vec<Vec<u8>> = (0..1 + rng.below(3))
            .map(|_| {
                let len = 1 + rng.below(80) as usize;
                rng.bytes(len)
            })
            .collect();
        let id = rng.id();
        let ts = 1_000_000_000 + rng.below(3_000_000_000) as i64;
        // Any bytes: the MAC is over bytes, UTF-8 or not.
        let len = rng.below(3000) as usize;
        let body = rng.bytes(len);
        let ctx = format!("seed {seed} round {round}");

        let ours = StandardSigner::new(&keys).unwrap().sign(&id, ts, &body);
        let theirs = python(id.as_str(), ours.timestamp_header(), &keys, &body);
        assert_eq!(ours.signature_header(), theirs[0], "{ctx}");
        let whsec: Vec<_> = keys.iter().map(|k| Secret::raw(k).to_standard()).collect();
        assert_eq!(whsec.join(" "), theirs[1], "{ctx}");
        assert_eq!(sign(&keys[0], ts, &body).hex(), theirs[2], "{ctx}");

        // What Python signed verifies here, with any one of the keys, read from whsec form.
        let last = Secret::parse(whsec.last().unwrap()).unwrap();
        let ok = Verifier::new([last])
            .with_clock(move || ts)
            .verify(
                &headers(id.as_str(), ours.timestamp_header(), &theirs[0]),
                &body,
            )
            .unwrap();
        assert_eq!(ok.event, id.event(), "{ctx}");
        // And a flipped body bit does not.
        if let Some(first) = body.first() {
            let mut tampered = body.clone();
            tampered[0] = first ^ 0x40;
            assert_eq!(
                verify_standard(
                    &headers(id.as_str(), ours.timestamp_header(), &theirs[0]),
                    &tampered,
                    &keys,
                    ts,
                    300
                ),
                Err(VerifyError::SignatureMismatch),
                "{ctx}"
            );
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn svix_and_we_agree_both_ways() {
    let seed = seed();
    let mut rng = Rng(seed);
    for round in 0..20 {
        let key_len = 1 + rng.below(64) as usize;
        let key = rng.bytes(key_len);
        let id = rng.id();
        let len = rng.below(500) as usize;
        let body = rng.text(len); // svix signs text only
        let ts = now();
        let ctx = format!("seed {seed} round {round}");
        let svix = svix::webhooks::Webhook::from_bytes(key.clone()).unwrap();

        let ours = StandardSigner::new([&key])
            .unwrap()
            .sign(&id, ts, body.as_bytes());
        let theirs = svix.sign(id.as_str(), ts, body.as_bytes()).unwrap();
        assert_eq!(ours.signature_header(), theirs, "{ctx}");

        // svix verifies what we sign (two keys, as during a rotation: it must find its own)…
        let rotated = StandardSigner::new([b"retired key".as_slice(), key.as_slice()])
            .unwrap()
            .sign(&id, ts, body.as_bytes());
        let mut map = http::HeaderMap::new();
        rotated.insert_into(&mut map);
        svix.verify(body.as_bytes(), &map).unwrap();
        // …and we verify what svix signs.
        let ok = verify_standard(
            &headers(id.as_str(), &ts.to_string(), &theirs),
            body.as_bytes(),
            &[&key],
            ts,
            300,
        );
        assert!(ok.is_ok(), "{ctx}: {ok:?}");
        // A whsec secret svix reads is the key we write.
        let whsec = Secret::raw(&key).to_standard();
        let from_whsec = svix::webhooks::Webhook::new(&whsec).unwrap();
        assert_eq!(
            from_whsec.sign(id.as_str(), ts, body.as_bytes()).unwrap(),
            theirs,
            "{ctx}"
        );
    }
}
