//! Verifications per second for one realistic webhook (a ~1.5 KB `WebhookComment` with
//! Bulgarian text), five ways in one run:
//!
//! - `raw_hmac`: HMAC-SHA256 over the same `timestamp "." body` bytes, keyed once, then
//!   clone + update + finalize. The ceiling: no header handling, no compare.
//! - `verifier`: `fastcomments_webhooks::Verifier::verify` with one secret, over an
//!   `http::HeaderMap` holding every header the hub sends (timestamp, signature, event, delivery,
//!   attempt): header lookups, parsing, freshness against the system clock, MAC, compare, and
//!   the extension headers read into `Verified`.
//! - `standard`: the same `Verifier::verify` on the request as the hub sends it once it signs
//!   both ways: the five FastComments headers plus `webhook-id: update_<delivery>`,
//!   `webhook-timestamp` and a `webhook-signature` with two `v1,` entries (a rotation's old and
//!   new secret; the verifier knows the new one, the second entry). Standard Webhooks is
//!   checked, plus the unsigned headers against the signed id.
//! - `standard_replay`: `standard` with a `MemoryReplayStore` holding 100,000 other messages and
//!   this one, so each call runs every check and is refused as a copy: the cost of the store's
//!   lookup. The accept path adds an insert, timed on its own after the table.
//! - `svix`: `svix::webhooks::Webhook::verify` on the equivalent message (`svix-id`,
//!   `svix-timestamp`, `svix-signature: v1,<base64>`, signed by svix's own `Webhook::sign`).
//!
//! Each is measured twice by criterion: in wall-clock time (`webhook_verify`) and in the CPU
//! time of the benchmark thread (`webhook_verify_cpu`, `CLOCK_THREAD_CPUTIME_ID`), because the
//! machine this runs on is shared: wall-clock time also counts the moments another process held
//! the core, CPU time does not. After criterion's report, a table of verifies/s and ratios is
//! printed from the estimates criterion just wrote, plus an interleaved cross-check.
//!
//! Run: `cargo bench -p fastcomments-webhooks --bench verify`.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{black_box, Criterion, Throughput};
use fastcomments_protocol::{Extra, Mention, MentionKind, Millis, WebhookComment};
use fastcomments_webhooks::{
    sign, verifier::system_clock, MemoryReplayStore, MessageId, ReplayStore, Scheme,
    StandardSigner, Verified, Verifier, VerifyError, WebhookEventKind,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const GROUP: &str = "webhook_verify";
const CPU_GROUP: &str = "webhook_verify_cpu";
const SECRET: &[u8] = b"fc-api-secret-7f3a9c2e1b5d4f60a8e7c6b5d4e3f2a1";

/// A comment as a busy Bulgarian blog would send it.
fn realistic_comment() -> WebhookComment {
    let text = "Благодаря за статията! \
                При по-стари версии на nginx услугата трябва да се рестартира, иначе новите \
                сертификати не се зареждат. Поздрави от София 🇧🇬🙂";
    WebhookComment {
        id: "6741a2b3c4d5e6f708192a3b".into(),
        url_id: "https://blog.example.bg/2025/11/nginx-letsencrypt-настройка".into(),
        url: Some("https://blog.example.bg/2025/11/nginx-letsencrypt-настройка#comments".into()),
        user_id: Some("6741a2b3c4d5e6f70819aa01".into()),
        commenter_email: Some("georgi.ivanov@example.bg".into()),
        commenter_name: "Георги Иванов".into(),
        comment: text.into(),
        comment_html: format!("<p>{text}</p>"),
        external_id: Some("wp-18342".into()),
        parent_id: Some("6741a2b3c4d5e6f708192a00".into()),
        date: Millis(1_763_880_000_123),
        votes: 12,
        votes_up: 14,
        votes_down: 2,
        verified: true,
        verified_date: Some(Millis(1_763_879_000_000)),
        reviewed: true,
        avatar_src: Some("https://cdn.example.bg/avatars/6741a2b3c4d5e6f70819aa01.png".into()),
        is_spam: false,
        ai_determined_spam: false,
        has_images: false,
        page_number: 0,
        page_number_of: 3,
        page_number_nf: 0,
        approved: true,
        locale: Some("bg_bg".into()),
        mentions: Some(vec![Mention {
            id: "6741a2b3c4d5e6f70819aa02".into(),
            tag: "@Мария".into(),
            raw_tag: "@Мария Петрова".into(),
            kind: MentionKind::User,
            sent: true,
        }]),
        domain: Some("blog.example.bg".into()),
        moderation_group_ids: Some(vec!["bg-moderators".into()]),
        extra: Extra::new(),
    }
}

fn header_map(pairs: &[(&'static str, String)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().expect("valid header value"));
    }
    map
}

/// The contenders, set up once with the same secret, timestamp and body.
struct Setup {
    body: Vec<u8>,
    /// (a) `timestamp "." body` in one buffer, and a MAC keyed with the secret.
    message: Vec<u8>,
    keyed: Hmac<Sha256>,
    /// (b) our verifier and the request headers the hub sends.
    verifier: Verifier,
    ours: http::HeaderMap,
    /// (c) the request signed both ways; (d) a verifier with a replay store that has seen it.
    both: http::HeaderMap,
    replay: Verifier,
    /// (e) svix and the equivalent svix request headers.
    svix: svix::webhooks::Webhook,
    theirs: http::HeaderMap,
}

/// Headers every request carries, whoever signs it.
fn common_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("host", "blog.example.bg".into()),
        ("user-agent", "FastComments-Webhooks/1.0".into()),
        ("accept", "*/*".into()),
        ("content-type", "application/json".into()),
        ("content-length", body.len().to_string()),
    ]
}

impl Setup {
    fn new(body: Vec<u8>, now: i64) -> Setup {
        let mut message = format!("{now}.").into_bytes();
        message.extend_from_slice(&body);
        let keyed = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");

        let verifier = Verifier::new([SECRET]);
        let sig = sign(SECRET, now, &body);
        let mut pairs = common_headers(&body);
        pairs.extend([
            ("x-fastcomments-timestamp", sig.timestamp_header().into()),
            ("x-fastcomments-signature", sig.signature_header().into()),
            ("x-fastcomments-event", "comment.created".into()),
            (
                "x-fastcomments-delivery",
                "dlv_2p6Yv1wLq8kR3nZ0aB7cD9eF".into(),
            ),
            ("x-fastcomments-attempt", "1".into()),
        ]);
        let ours = header_map(&pairs);

        let id = MessageId::for_delivery(WebhookEventKind::Update, "6741a2b3c4d5e6f708192a3b")
            .expect("valid id");
        let standard = StandardSigner::new([b"retired api secret".as_slice(), SECRET])
            .expect("two secrets")
            .sign(&id, now, &body);
        let mut both = common_headers(&body);
        both.extend([
            ("x-fastcomments-timestamp", sig.timestamp_header().into()),
            ("x-fastcomments-signature", sig.signature_header().into()),
            ("x-fastcomments-event", "comment.updated".into()),
            ("x-fastcomments-delivery", "6741a2b3c4d5e6f708192a3b".into()),
            ("x-fastcomments-attempt", "1".into()),
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", standard.timestamp_header().into()),
            ("webhook-signature", standard.signature_header().into()),
        ]);
        let both = header_map(&both);
        let store = MemoryReplayStore::new();
        for i in 0..100_000 {
            store.first_sighting(&format!("update_{i:024x}"), now, now + 300, now);
        }
        let replay = Verifier::new([SECRET]).with_replay_store(store);
        assert!(replay.verify(&both, &body).is_ok(), "first sighting");

        let svix = svix::webhooks::Webhook::from_bytes(SECRET.to_vec()).expect("svix key");
        let msg_id = "msg_2p6Yv1wLq8kR3nZ0aB7cD9eF";
        let svix_sig = svix.sign(msg_id, now, &body).expect("svix sign");
        let mut pairs = common_headers(&body);
        pairs.extend([
            ("svix-id", msg_id.into()),
            ("svix-timestamp", now.to_string()),
            ("svix-signature", svix_sig),
        ]);
        let theirs = header_map(&pairs);

        let setup = Setup {
            body,
            message,
            keyed,
            verifier,
            ours,
            both,
            replay,
            svix,
            theirs,
        };
        assert!(setup.verifier.verify(&setup.ours, &setup.body).is_ok());
        assert_eq!(
            setup
                .verifier
                .verify(&setup.both, &setup.body)
                .map(|v| (v.scheme, v.secret_index)),
            Ok((Scheme::StandardWebhooks, 0))
        );
        assert_eq!(
            setup.replay.verify(&setup.both, &setup.body),
            Err(VerifyError::Replayed)
        );
        assert!(setup.svix.verify(&setup.body, &setup.theirs).is_ok());
        setup
    }

    fn raw_hmac(&self) -> bool {
        let mut mac = self.keyed.clone();
        mac.update(black_box(&self.message));
        black_box(mac.finalize().into_bytes())[0] != 1
    }

    /// `verifier` checking `headers` with the body, opaque to the optimizer either way.
    fn verify(
        &self,
        verifier: &Verifier,
        headers: &http::HeaderMap,
    ) -> Result<Verified, VerifyError> {
        black_box(verifier.verify(black_box(headers), black_box(&self.body)))
    }

    fn verifier(&self) -> bool {
        self.verify(&self.verifier, &self.ours).is_ok()
    }

    fn standard(&self) -> bool {
        self.verify(&self.verifier, &self.both).is_ok()
    }

    fn standard_replay(&self) -> bool {
        self.verify(&self.replay, &self.both).is_err()
    }

    fn svix(&self) -> bool {
        black_box(
            self.svix
                .verify(black_box(&self.body), black_box(&self.theirs)),
        )
        .is_ok()
    }
}

const NAMES: [&str; 5] = [
    "raw_hmac",
    "verifier",
    "standard",
    "standard_replay",
    "svix",
];
/// The contenders, in the order of `NAMES`.
const RUNNERS: [fn(&Setup) -> bool; 5] = [
    Setup::raw_hmac,
    Setup::verifier,
    Setup::standard,
    Setup::standard_replay,
    Setup::svix,
];
/// Index of svix in `NAMES`.
const SVIX: usize = 4;

fn benches<M: Measurement>(c: &mut Criterion<M>, group: &str, setup: &Setup) {
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(8));
    for (name, runner) in NAMES.into_iter().zip(RUNNERS) {
        group.bench_function(name, |b| b.iter(|| runner(setup)));
    }
    group.finish();
}

/// The CPU time this thread has used, nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` only writes the `timespec` it is given, which lives on our stack.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID is available on Linux");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// A criterion measurement in CPU time of the benchmark thread instead of wall-clock time.
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Prints nanosecond values the way criterion prints wall-clock times.
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "µs"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let (per_iteration, unit) = match t {
            Throughput::Elements(n) => (*n as f64, "elem/s"),
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (*n as f64, "B/s"),
        };
        values
            .iter_mut()
            .for_each(|v| *v = per_iteration * 1e9 / *v);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// What the interleaved cross-check found, per contender (in the order of `NAMES`).
struct Interleaved {
    rounds: usize,
    /// Median over rounds of raw time / this contender's time.
    median_vs_raw: [f64; NAMES.len()],
    /// Each contender's 10th-percentile batch time, ns per verification: interference from
    /// other processes only ever adds time, so low percentiles are the closest to the cost of
    /// the code itself.
    p10_ns: [f64; NAMES.len()],
}

/// A cross-check that does not depend on the machine staying equally busy between criterion's
/// benchmarks (the bench machine is shared): many short rounds, each timing the contenders back
/// to back in thread CPU time (rotating their order). Batches last a few milliseconds each
/// (3000 verifications for ours, 300 for svix) so that branch predictors and caches are warm
/// for most of a batch.
fn interleaved(setup: &Setup) -> Interleaved {
    const ROUNDS: usize = 300;
    const N: usize = NAMES.len();
    let batch = |i: usize| if i == SVIX { 300u32 } else { 3000 };
    let mut times: [Vec<f64>; N] = Default::default();
    let mut vs_raw: [Vec<f64>; N] = Default::default();
    for round in 0..ROUNDS {
        let mut ns = [0f64; N];
        for k in 0..N {
            let i = (round + k) % N;
            let runner = RUNNERS[i];
            let start = thread_cpu_ns();
            for _ in 0..batch(i) {
                black_box(runner(setup));
            }
            ns[i] = (thread_cpu_ns() - start) as f64 / f64::from(batch(i));
            times[i].push(ns[i]);
        }
        for i in 0..N {
            vs_raw[i].push(ns[0] / ns[i]);
        }
    }
    let quantile = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q) as usize]
    };
    Interleaved {
        rounds: ROUNDS,
        median_vs_raw: vs_raw.map(|mut v| quantile(&mut v, 0.5)),
        p10_ns: times.map(|mut t| quantile(&mut t, 0.1)),
    }
}

/// CPU ns per `MemoryReplayStore::first_sighting` that records a new message at steady
/// state: 333 new messages per (simulated) second and a 300 s tolerance, so the store holds
/// ~100,000 messages and each second forgets as many as it adds. Five minutes are run to fill
/// it, the next five are timed (records and forgetting included). Best of three runs: the part
/// of the accept path that `standard_replay` does not time.
fn store_insert_ns() -> f64 {
    const PER_SECOND: usize = 333;
    const SECONDS: i64 = 300;
    let ids: Vec<String> = (0..2 * SECONDS as usize * PER_SECOND)
        .map(|i| format!("update_{:024x}", i * 7919))
        .collect();
    let run = |store: &MemoryReplayStore, from: i64| {
        for second in from..from + SECONDS {
            let first = second as usize * PER_SECOND;
            for id in &ids[first..first + PER_SECOND] {
                assert!(store.first_sighting(black_box(id), second, second + SECONDS, second));
            }
        }
    };
    (0..3)
        .map(|_| {
            let store = MemoryReplayStore::new();
            run(&store, 0);
            let start = thread_cpu_ns();
            run(&store, SECONDS);
            let ns = (thread_cpu_ns() - start) as f64 / (SECONDS as usize * PER_SECOND) as f64;
            assert!((90_000..=110_000).contains(&store.len()), "{}", store.len());
            ns
        })
        .fold(f64::INFINITY, f64::min)
}

/// Where criterion keeps its results: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, or the
/// `criterion` folder of the target directory this bench binary was built into.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf)) // target/release/deps/verify-…
        .map(|target| target.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Nanoseconds per verification from this run's `estimates.json` (criterion's typical value:
/// the slope, else the mean), or `None` when the benchmark did not run now.
fn estimate_ns(dir: &Path, group: &str, name: &str, started: SystemTime) -> Option<f64> {
    let path = dir
        .join(group)
        .join(name)
        .join("new")
        .join("estimates.json");
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified >= started);
    if !fresh {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let typical = if value["slope"].is_object() {
        &value["slope"]
    } else {
        &value["mean"]
    };
    typical["point_estimate"].as_f64()
}

fn print_table(dir: &Path, started: SystemTime, setup: &Setup) {
    let estimates = |group| -> Option<[f64; NAMES.len()]> {
        let found = NAMES.map(|name| estimate_ns(dir, group, name, started));
        found
            .iter()
            .all(Option::is_some)
            .then(|| found.map(|v| v.unwrap_or(0.0)))
    };
    let (Some(wall), Some(cpu)) = (estimates(GROUP), estimates(CPU_GROUP)) else {
        println!("\n(ratio table skipped: not all benchmarks ran in this invocation)");
        return;
    };
    println!(
        "\nWebhook verification, {}-byte WebhookComment body, one secret",
        setup.body.len()
    );
    println!(
        "| implementation | CPU ns/verify | CPU verifies/s | vs raw HMAC (CPU) | svix / this \
         (CPU) | wall ns/verify | wall verifies/s | vs raw HMAC (wall) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let labels = [
        "raw HMAC-SHA256 (hmac+sha2, keyed once)",
        "Verifier::verify, FastComments headers",
        "Verifier::verify, both schemes' headers (Standard Webhooks checked)",
        "the same with a MemoryReplayStore of 100k (refused as a copy)",
        "svix 1.70 Webhook::verify",
    ];
    for (i, label) in labels.iter().enumerate() {
        println!(
            "| {label} | {:.0} | {:.0} | {:.1}% | {:.2}x | {:.0} | {:.0} | {:.1}% |",
            cpu[i],
            1e9 / cpu[i],
            100.0 * cpu[0] / cpu[i],
            cpu[SVIX] / cpu[i],
            wall[i],
            1e9 / wall[i],
            100.0 * wall[0] / wall[i],
        );
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for (clock, t) in [
        ("CPU time", cpu),
        (
            "wall-clock (also counts time given to other processes)",
            wall,
        ),
    ] {
        println!(
            "{clock}: FastComments / raw HMAC = {:.1}% (bar >= 85%: {}), svix / FastComments = \
             {:.2}x (bar >= 4x: {}); Standard Webhooks / raw HMAC = {:.1}%, with the store {:.1}%",
            100.0 * t[0] / t[1],
            verdict(t[0] / t[1] >= 0.85),
            t[SVIX] / t[1],
            verdict(t[SVIX] / t[1] >= 4.0),
            100.0 * t[0] / t[2],
            100.0 * t[0] / t[3],
        );
    }
    let check = interleaved(setup);
    let p10 = check.p10_ns;
    println!(
        "interleaved CPU-time check, {} rounds, this / raw HMAC (median of per-round ratios; \
         from 10th-percentile batch times): FastComments {:.1}%; {:.1}%, Standard Webhooks \
         {:.1}%; {:.1}%, with the store {:.1}%; {:.1}%; svix / FastComments {:.2}x, svix / \
         Standard Webhooks {:.2}x (p10)",
        check.rounds,
        100.0 * check.median_vs_raw[1],
        100.0 * p10[0] / p10[1],
        100.0 * check.median_vs_raw[2],
        100.0 * p10[0] / p10[2],
        100.0 * check.median_vs_raw[3],
        100.0 * p10[0] / p10[3],
        p10[SVIX] / p10[1],
        p10[SVIX] / p10[2],
    );
    println!(
        "replay store, recording a new message (steady state, ~100k messages): {:.0} CPU ns",
        store_insert_ns()
    );
    println!(
        "load average during the run: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

fn main() {
    let started = SystemTime::now();
    let body = realistic_comment().to_body();
    assert!(
        (1400..=1700).contains(&body.len()),
        "a ~1.5 KB body, got {} bytes",
        body.len()
    );
    let setup = Setup::new(body, system_clock());
    let dir = criterion_dir();
    let mut wall = Criterion::default()
        .with_measurement(WallTime)
        .output_directory(&dir)
        .configure_from_args();
    benches(&mut wall, GROUP, &setup);
    let mut cpu = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .output_directory(&dir)
        .configure_from_args();
    benches(&mut cpu, CPU_GROUP, &setup);
    cpu.final_summary();
    print_table(&dir, started, &setup);
}
