//! Webhook deliveries per second with 1 node and with 3 nodes on one PostgreSQL database
//! (issue 11 §5): does claiming deliveries across nodes cost throughput, and where is the
//! limit?
//!
//! `cargo bench -p fastcomments --bench nodes_delivery [-- --deliveries 20000 --nodes 1,3
//! --per-host 32 --pg-setting shared_preload_libraries=pg_stat_statements --explain
//! --sqlite --fill upload --backlogs 10000,100000 --recover --analyze-drained --hub-bin PATH
//! --vs PATH]`
//!
//! `--explain` (issue 23) prints, in each PostgreSQL round, the claim's plan
//! (`EXPLAIN (ANALYZE, BUFFERS)`, rolled back) and its time per call, on the empty outbox and
//! again right after it was filled, before PostgreSQL's statistics catch up: the plan should
//! be the same both times. `--sqlite` adds a round of one SQLite hub to each round, the same
//! work on the other backend, as a baseline run alongside.
//!
//! `--fill upload` fills the outbox with a plugin's initial upload (`fastcomments sync` from a
//! mirror of the comments, the target firing on imports) instead of one API call per comment:
//! a tenant's API writes are serialized by its clock row, and 100,000 of them took ten minutes
//! on PostgreSQL. `--backlogs A,B` (issue 23 §2: does the drain rate hold as the backlog
//! grows?) compares backlog sizes instead of node counts: each round drains A, then B, on one
//! PostgreSQL node (and one SQLite hub with `--sqlite`), and prints B's rate as a ratio of A's
//! for each backend. `--recover` then recovers every change of each round twice (issue 23 §3)
//! and times the copies against the first drain: queued and sent together, and then queued
//! while the receiver holds its requests (timed apart) and drained like the first backlog; with
//! `--analyze-drained`, each after a `VACUUM ANALYZE` of the drained outbox (PostgreSQL), the
//! dead rows and statistics autovacuum leaves between two bursts.
//!
//! Each round: a fresh database on a durable PostgreSQL (`testkit`, fsync on), one `serve`
//! process fills the outbox with `--deliveries` comment creations while the receiver holds
//! every request (so nothing is sent yet but the first few claims), then the other nodes start,
//! the receiver lets go, and the clock runs until every delivery has arrived. Rounds alternate
//! node counts, so the machine's drift hits both alike; the ratio is the result. `--vs PATH`
//! (another commit's `fastcomments`) runs each round on that build first and then on this
//! one, and prints this build's rate as a ratio of that one's, per round and as medians.
//!
//! Each drain also prints what it cost in CPU per 1,000 deliveries, by the nodes, PostgreSQL
//! and this bench (the receiver), and the machine's idle and stolen time (`/proc`). On a
//! virtual machine, stolen time is CPU its host gave to other machines: the slowest rounds
//! were those where it took a large share, so a round's rate is read beside it.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::Router;
use fastcomments_integration::{IntegrationState, SqliteMirror};
use fastcomments_protocol::UploadComment;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::bench::{
    arg, claims, cpu_seconds, idle_seconds, process_cpu_seconds, serve_hook, spawn_serve,
    stat_fields, stolen_seconds,
};
use tokio::process::{Child, Command};

const ADMIN: &str = "nodes-bench-admin";

struct Receiver {
    url: String,
    open: Arc<AtomicBool>,
    seen: Arc<Mutex<HashSet<String>>>,
    /// Every request, copies of a recover included.
    requests: Arc<AtomicUsize>,
}

async fn receiver() -> Receiver {
    let open = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let requests: Arc<AtomicUsize> = Arc::default();
    let (o, s, n) = (open.clone(), seen.clone(), requests.clone());
    let app = Router::new().fallback(move |headers: HeaderMap, _body: Bytes| {
        let (open, seen, requests) = (o.clone(), s.clone(), n.clone());
        async move {
            while !open.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if let Some(id) = headers
                .get("x-fastcomments-delivery")
                .and_then(|v| v.to_str().ok())
            {
                seen.lock().insert(id.to_owned());
            }
            requests.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    let url = serve_hook(app).await;
    Receiver {
        url,
        open,
        seen,
        requests,
    }
}

/// The claim's parameters as a dispatcher of `per_host` sends them (nothing in flight).
fn bind_claim<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    per_host: usize,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let none: Vec<String> = Vec::new();
    q.bind(now)
        .bind(none.clone())
        .bind(none.clone())
        .bind(per_host as i64)
        .bind(none.clone())
        .bind(2 * per_host as i64)
        .bind("bench-explain")
        .bind(60_000i64)
        .bind(none)
}

/// The claim's plan (`EXPLAIN (ANALYZE, BUFFERS)`, rolled back so nothing stays claimed) and
/// its median time over 30 calls, each rolled back, planned with its values at each call as
/// the hub runs it (planning included).
async fn explain_claim(database: &str, when: &str, per_host: usize) {
    let pool = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(database)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("  explain: cannot connect: {e}");
            return;
        }
    };
    let pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE status IN ('queued', 'retrying')",
    )
    .fetch_one(&pool)
    .await
    .unwrap_or(-1);
    let explain = format!(
        "EXPLAIN (ANALYZE, BUFFERS) {}",
        fastcomments_hub::store::postgres::CLAIM_SQL
    );
    let Ok(mut tx) = pool.begin().await else {
        return;
    };
    match bind_claim(sqlx::query(&explain), per_host)
        .fetch_all(&mut *tx)
        .await
    {
        Ok(lines) => {
            println!("claim plan, {when} ({pending} pending):");
            for l in lines {
                let line: String = sqlx::Row::try_get(&l, 0).unwrap_or_default();
                println!("    {line}");
            }
        }
        Err(e) => eprintln!("  explain failed: {e}"),
    }
    let _ = tx.rollback().await;
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..30 {
        let Ok(mut tx) = pool.begin().await else {
            return;
        };
        let started = Instant::now();
        if let Ok(r) = bind_claim(
            sqlx::query(fastcomments_hub::store::postgres::CLAIM_SQL).persistent(false),
            per_host,
        )
        .fetch_all(&mut *tx)
        .await
        {
            rows = r.len();
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        let _ = tx.rollback().await;
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "claim time, {when}: median {:.2} ms, max {:.2} ms over {} calls, {rows} rows each",
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    );
    pool.close().await;
}

async fn start_node(database: &str, per_host: usize, bin: &str) -> (Child, String) {
    let mut command = Command::new(bin);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database,
        ])
        .args(["--webhook-per-host-concurrency", &per_host.to_string()])
        .args(["--webhook-per-tenant-concurrency", &per_host.to_string()])
        // Held requests must not time out while the outbox fills: filling 20,000 on a loaded
        // machine took over two minutes, and the requests held that long timed out and came
        // back a minute later (the late deliveries of earlier runs).
        .args([
            "--webhook-timeout-ms",
            "3600000",
            "--webhook-allow-private-targets",
        ]);
    spawn_serve(command, ADMIN).await
}

/// With pg_stat_statements preloaded (`--pg-setting`), the costliest statements since the
/// receiver opened, then a reset for the next round; without it, nothing. Through `psql`, which the PostgreSQL
/// package brings.
fn psql(database: &str, sql: &str) -> Option<String> {
    std::process::Command::new("psql")
        .args([database, "-X", "-q", "-A", "-F", " | ", "-t", "-c", sql])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Starts pg_stat_statements' counts afresh (when it is loaded).
fn reset_statement_costs(database: &str) {
    if psql(
        database,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
    )
    .is_some()
    {
        let _ = psql(database, "SELECT pg_stat_statements_reset()");
    }
}

fn print_statement_costs(database: &str) {
    let psql = |sql: &str| psql(database, sql);
    if psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").is_none() {
        return;
    }
    // Texts alike in their first 100 characters are summed: a statement spelled with one
    // placeholder per value is a text per count of values.
    let top = psql(
        "SELECT round(sum(total_exec_time))::bigint, round(sum(total_plan_time))::bigint, \
         sum(calls), sum(rows), sum(wal_records), q FROM (SELECT *, \
         left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS q FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) s \
         GROUP BY q ORDER BY 1 DESC LIMIT 10",
    );
    if let Some(top) = top {
        eprintln!(
            "  statements (ms running | ms planning, with pg_stat_statements.track_planning | calls | rows | WAL records | query):"
        );
        for line in top.lines().filter(|l| !l.is_empty()) {
            eprintln!("    {line}");
        }
    }
    let _ = psql("SELECT pg_stat_statements_reset()");
}

/// The deliveries not yet sent, as the hub's API lists them: what a stalled round waits for.
async fn print_pending(http: &reqwest::Client, base: &str, key: &str) {
    for status in ["retrying", "queued"] {
        let Ok(res) = http
            .get(format!(
                "{base}/api/v1/webhook-deliveries?status={status}&limit=5"
            ))
            .header("x-api-key", key)
            .send()
            .await
        else {
            continue;
        };
        let Ok(v) = res.json::<Value>().await else {
            continue;
        };
        for d in v["deliveries"].as_array().into_iter().flatten() {
            eprintln!(
                "    waiting: {status} {} attempts {} next at {} last error {}",
                d["id"], d["attempts"], d["nextAttemptAt"], d["lastError"]
            );
        }
    }
}

/// How a round fills the outbox.
#[derive(Clone, Copy, PartialEq)]
enum Fill {
    /// One `POST /api/v1/comments` per delivery, 16 writers at a time.
    Api,
    /// A plugin's initial upload by `fastcomments sync`.
    Upload,
}

/// What every round does alike.
#[derive(Clone, Copy)]
struct Options {
    /// A host's (and the tenant's) in-flight limit.
    per_host: usize,
    /// Print the claim's plan (PostgreSQL rounds).
    explain: bool,
    fill: Fill,
    /// After the drain, recover every change and time its copies' drain too.
    recover: bool,
    /// Before each recover, `VACUUM ANALYZE` the drained outbox (PostgreSQL rounds): what
    /// autovacuum finds between two bursts, statistics that say no delivery is ready.
    analyze_drained: bool,
    /// The `fastcomments` the nodes run: this build, `--hub-bin PATH`, or the baseline of
    /// `--vs PATH`.
    hub_bin: &'static str,
}

/// One round: deliveries per second with `nodes` nodes.
async fn round(database: &str, nodes: usize, deliveries: usize, o: Options) -> f64 {
    let Options {
        per_host,
        explain,
        fill,
        recover,
        analyze_drained: _,
        hub_bin,
    } = o;
    let database = database.to_owned();
    let explain = explain && database.starts_with("postgres");
    let rx = receiver().await;
    let (first, base) = start_node(&database, per_host, hub_bin).await;
    let mut children = vec![first];
    let http = reqwest::Client::new();
    let v: Value = http
        .post(format!("{base}/admin/v1/tenants"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "bench", "domains": ["localhost"]}))
        .send()
        .await
        .expect("create the tenant")
        .json()
        .await
        .expect("tenant JSON");
    let key = v["apiSecret"].as_str().expect("an API secret").to_owned();
    let res = http
        .put(format!("{base}/api/v1/webhook-config"))
        .header("x-api-key", &key)
        .json(&json!({"domain": "*", "create": {"url": rx.url}, "fireOnImport": true}))
        .send()
        .await
        .expect("configure the webhook");
    assert!(res.status().is_success());
    if explain {
        explain_claim(&database, "empty outbox", per_host).await;
    }
    match fill {
        Fill::Api => fill_by_api(&http, &base, &key, deliveries).await,
        Fill::Upload => fill_by_upload(&http, &base, &key, deliveries).await,
    }
    if explain {
        explain_claim(&database, "just filled", per_host).await;
    }
    let mut bases = vec![base.clone()];
    for _ in 1..nodes {
        let (child, address) = start_node(&database, per_host, hub_bin).await;
        children.push(child);
        bases.push(address);
    }
    // Statement costs count from here: the delivery part, not the filling.
    reset_statement_costs(&database);
    if database.starts_with("postgres") {
        // The fill's pages are written out before the clock starts, so a checkpoint they
        // would start does not fall in one round's drain and not in another's.
        psql(&database, "CHECKPOINT").expect("psql: CHECKPOINT");
    }
    let claimed_before = claim_seconds(&http, &bases).await;
    let node_pids: Vec<u32> = children.iter().filter_map(Child::id).collect();
    let cpu_before = Cpu::now(&database, &node_pids);
    let started = Instant::now();
    rx.open.store(true, Ordering::Relaxed);
    let arrived = || rx.seen.lock().len();
    wait_until(
        &arrived,
        deliveries,
        started,
        &format!("{nodes} node(s)"),
        &http,
        &base,
        &key,
    )
    .await;
    let drained = started.elapsed().as_secs_f64();
    let rate = deliveries as f64 / drained;
    Cpu::now(&database, &node_pids).print_since(&cpu_before, deliveries);
    // One claim at a time per node: near 100 % per node, the claims' latency bounds the drain.
    let claiming = claim_seconds(&http, &bases).await - claimed_before;
    println!(
        "  claims in flight {:.0} % of the drain (per node)",
        claiming / drained / bases.len() as f64 * 100.0
    );
    if database.starts_with("postgres") {
        print_statement_costs(&database);
    }
    if nodes > 1 {
        print_claims_per_node(&http, &bases).await;
    }
    if recover {
        let first = Drained {
            deliveries,
            rate,
            node_pids: &node_pids,
        };
        recover_twice(&database, o, &rx, &http, &base, &key, first).await;
    }
    for mut c in children {
        let _ = c.kill().await;
        let _ = c.wait().await;
    }
    if database.starts_with("postgres") {
        print_outbox_reads(&database).await;
    }
    rate
}

/// How the round's statements read and wrote the outbox, as PostgreSQL counted them once the
/// nodes' sessions ended: a sequential scan, or updates that were not heap-only, show a plan
/// or a write that costs more than the rows it touched.
async fn print_outbox_reads(database: &str) {
    let query = "SELECT seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, \
                 n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'";
    // A session's counts reach the view when it ends; the last may take a moment.
    for _ in 0..50 {
        let others = psql(
            database,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid()",
        );
        if others.as_deref().map(str::trim) == Some("0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(counts) = psql(database, query) {
        eprintln!(
            "  outbox (seq scans | rows they read | index scans | rows fetched | inserted | updated | heap-only): {}",
            counts.trim()
        );
    }
}

/// A round's first drain, as the recovers compare with it.
struct Drained<'a> {
    deliveries: usize,
    rate: f64,
    node_pids: &'a [u32],
}

/// Recovers every change of the round twice (issue 23 §3). First with the receiver open, so
/// the copies are queued and sent at once: the rate from the request to the last copy. Then
/// as the first drain was measured: the receiver holds its requests while the recover queues
/// (timed apart, until the store says it finished), and the clock runs from when it lets go,
/// so the copies' drain is a backlog's drain like the first. Copies carry their original's
/// delivery id, so they are counted as requests, not as new ids.
async fn recover_twice(
    database: &str,
    o: Options,
    rx: &Receiver,
    http: &reqwest::Client,
    base: &str,
    key: &str,
    first: Drained<'_>,
) {
    let Drained {
        deliveries,
        rate,
        node_pids,
    } = first;
    let postgres = database.starts_with("postgres");
    let requests = || rx.requests.load(Ordering::Relaxed);
    let start_recover = || async {
        let res = http
            .post(format!("{base}/api/v1/webhook-config/recover"))
            .header("x-api-key", key)
            .json(&json!({"domain": "*", "since": 1}))
            .send()
            .await
            .expect("start the recover");
        assert!(res.status().is_success(), "recover: {}", res.status());
    };
    // Each recover finds the outbox as autovacuum leaves it between two bursts, not with the
    // last one's dead row versions (with `--analyze-drained`).
    let vacuum = || {
        if o.analyze_drained && postgres {
            psql(database, "VACUUM ANALYZE webhook_deliveries").expect("psql: VACUUM ANALYZE");
        }
    };
    vacuum();
    let started = Instant::now();
    start_recover().await;
    wait_until(
        &requests,
        2 * deliveries,
        started,
        "recover",
        http,
        base,
        key,
    )
    .await;
    let together = deliveries as f64 / started.elapsed().as_secs_f64();
    if postgres {
        // What the recover's queuing and the copies' drain cost, apart from the first drain.
        print_statement_costs(database);
    }
    println!(
        "  recover of {deliveries}, queued and sent together: {together:.0} deliveries/s, {:.2}x of the first drain",
        together / rate
    );
    rx.open.store(false, Ordering::Relaxed);
    // A second recover of the target is answered 409 until the first has marked itself
    // finished (its last page does, with its last copies) and none of its copies waits: the
    // receiver has them all, but the hub may not have recorded the last answers yet.
    let mut store = Recoveries::open(database).await;
    let ended = store
        .until_none(
            Recoveries::RUNNING,
            Duration::from_secs(60),
            "the first recover's end",
        )
        .await;
    if ended > Duration::from_millis(100) {
        println!(
            "  the first recover ended {} ms after its copies arrived",
            ended.as_millis()
        );
    }
    vacuum();
    let started = Instant::now();
    start_recover().await;
    store
        .until_none(
            Recoveries::QUEUING,
            Duration::from_secs(600),
            "the second recover's queuing",
        )
        .await;
    let queuing = started.elapsed().as_secs_f64();
    if o.explain && postgres {
        explain_claim(database, "a recover's copies queued", o.per_host).await;
    }
    if postgres {
        reset_statement_costs(database);
        psql(database, "CHECKPOINT").expect("psql: CHECKPOINT");
    }
    let cpu_before = Cpu::now(database, node_pids);
    let started = Instant::now();
    rx.open.store(true, Ordering::Relaxed);
    wait_until(
        &requests,
        3 * deliveries,
        started,
        "recover's drain",
        http,
        base,
        key,
    )
    .await;
    let drained = deliveries as f64 / started.elapsed().as_secs_f64();
    Cpu::now(database, node_pids).print_since(&cpu_before, deliveries);
    if postgres {
        print_statement_costs(database);
    }
    println!(
        "  recover of {deliveries}, queued first ({:.0} copies/s) and then sent: {drained:.0} deliveries/s, {:.2}x of the first drain",
        deliveries as f64 / queuing,
        drained / rate
    );
}

/// A connection to the round's database that waits for its recovers.
enum Recoveries {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl Recoveries {
    async fn open(database: &str) -> Recoveries {
        use sqlx::Connection;
        if database.starts_with("postgres") {
            Recoveries::Postgres(
                sqlx::PgConnection::connect(database)
                    .await
                    .expect("connect to PostgreSQL"),
            )
        } else {
            Recoveries::Sqlite(
                sqlx::SqliteConnection::connect(database)
                    .await
                    .expect("open the SQLite hub's file"),
            )
        }
    }

    /// Recovers not yet finished queuing.
    const QUEUING: &str = "SELECT count(*) FROM webhook_recoveries WHERE finished_at IS NULL";

    /// Recovers not yet finished queuing, and their copies not yet sent (or given up): what
    /// makes the hub refuse another recover of the target.
    const RUNNING: &str =
        "SELECT (SELECT count(*) FROM webhook_recoveries WHERE finished_at IS NULL) \
         + (SELECT count(*) FROM webhook_deliveries \
         WHERE recovered_from IS NOT NULL AND status IN ('queued', 'retrying', 'paused'))";

    /// Waits until the count `sql` reads is 0, at most `most` (then fails, naming `what`);
    /// returns how long it took.
    async fn until_none(&mut self, sql: &'static str, most: Duration, what: &str) -> Duration {
        let started = Instant::now();
        loop {
            let left: i64 = match self {
                Recoveries::Postgres(c) => sqlx::query_scalar(sql).fetch_one(c).await,
                Recoveries::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(c).await,
            }
            .expect("count the recovers");
            if left == 0 {
                return started.elapsed();
            }
            assert!(started.elapsed() < most, "{what}: not within {most:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Each node's claims and the deliveries they handed out, from its `/metrics`: how the work
/// was shared, and how many claims found nothing.
async fn print_claims_per_node(http: &reqwest::Client, bases: &[String]) {
    for (i, base) in bases.iter().enumerate() {
        let (claims, claimed, _) = claims(http, base).await;
        println!("  node {i}: {claims} claims handed out {claimed} deliveries");
    }
}

/// The seconds the nodes' claims took so far, all nodes together.
async fn claim_seconds(http: &reqwest::Client, bases: &[String]) -> f64 {
    let mut total = 0.0;
    for base in bases {
        total += claims(http, base).await.2;
    }
    total
}

/// Waits until `arrived()` reaches `target`, saying every 5 s how far it got (and what waits,
/// when nothing moved): a round that stalls shows where.
async fn wait_until(
    arrived: &dyn Fn() -> usize,
    target: usize,
    started: Instant,
    what: &str,
    http: &reqwest::Client,
    base: &str,
    key: &str,
) {
    let mut reported = Instant::now();
    let mut last = 0;
    loop {
        let now = arrived();
        if now >= target {
            return;
        }
        if reported.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "  {what}: {now} of {target} after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            if now == last {
                print_pending(http, base, key).await;
            }
            last = now;
            reported = Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{what}: only {} of {target} arrived",
            arrived()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Fills the outbox with one API call per comment, 16 writers at a time.
async fn fill_by_api(http: &reqwest::Client, base: &str, key: &str, deliveries: usize) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let (http, base, key, next) = (
                http.clone(),
                base.to_owned(),
                key.to_owned(),
                next.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= deliveries {
                        break;
                    }
                    let res = http
                        .post(format!("{base}/api/v1/comments"))
                        .header("x-api-key", &key)
                        .json(&json!({"urlId": format!("p{}", i % 50), "commenterName": "n", "comment": format!("c{i}"), "domain": "localhost"}))
                        .send()
                        .await
                        .expect("write a comment");
                    assert!(res.status().is_success());
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
}

/// Fills the outbox with a plugin's initial upload of `deliveries` comments: a mirror seeded
/// here, sent by the `fastcomments sync` binary once its token is acknowledged.
async fn fill_by_upload(http: &reqwest::Client, base: &str, key: &str, deliveries: usize) {
    let dir = tempfile::tempdir().expect("a directory for the site's mirror");
    let mirror = SqliteMirror::open(&dir.path().join("mirror.db"))
        .await
        .expect("the site's mirror");
    mirror
        .import((0..deliveries).map(|i| UploadComment {
            external_id: Some(format!("site-{i}")),
            url_id: Some(format!("http://localhost/p{}", i % 50)),
            commenter_name: Some("n".into()),
            comment: format!("c{i}"),
            ..Default::default()
        }))
        .await
        .expect("seed the mirror");
    drop(mirror);
    let state = dir.path().join("state.json");
    let mut sync = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["sync", "--hub", base, "--exit-when-synced"])
        .arg("--state")
        .arg(&state)
        .arg("--mirror")
        .arg(dir.path().join("mirror.db"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start fastcomments sync");
    let token = loop {
        let saved = std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<IntegrationState>(&b).ok());
        if let Some(t) = saved.and_then(|s| s.token) {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // The token is saved before the hub has seen it: acknowledged once its first call came.
    while !http
        .post(format!("{base}/api/v1/integrations/{token}/acknowledge"))
        .header("x-api-key", key)
        .json(&json!({ "skipInitialSync": false }))
        .send()
        .await
        .expect("acknowledge the token")
        .status()
        .is_success()
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = sync.wait().await.expect("wait for fastcomments sync");
    assert!(status.success(), "the upload failed: {status}");
}

/// A flag's value for the rest of the run (the options are copied into every round).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// CPU seconds so far of the nodes, of PostgreSQL's processes and of this bench (the
/// receiver), and the machine's idle and stolen seconds (a virtual machine's CPU time its
/// host gave to others), from `/proc`: what a drain costs besides how fast it went, on two
/// cores shared by all of them, where the rate swings by up to 1.5x between rounds.
struct Cpu {
    nodes: f64,
    postgres: f64,
    bench: f64,
    idle: f64,
    stolen: f64,
}

impl Cpu {
    fn now(database: &str, nodes: &[u32]) -> Cpu {
        let postgres = if database.starts_with("postgres") {
            postgres_cpu()
        } else {
            0.0
        };
        Cpu {
            nodes: nodes.iter().map(|&p| process_cpu_seconds(p)).sum(),
            postgres,
            bench: process_cpu_seconds(std::process::id()),
            idle: idle_seconds(),
            stolen: stolen_seconds(),
        }
    }

    fn print_since(&self, before: &Cpu, deliveries: usize) {
        let per_k = |now: f64, then: f64| (now - then) * 1e6 / deliveries as f64;
        println!(
            "  CPU ms per 1,000 deliveries: nodes {:.0}, PostgreSQL {:.0}, bench (receiver) {:.0}; idle {:.0}, stolen {:.0}",
            per_k(self.nodes, before.nodes),
            per_k(self.postgres, before.postgres),
            per_k(self.bench, before.bench),
            per_k(self.idle, before.idle),
            per_k(self.stolen, before.stolen),
        );
    }
}

/// The cluster's postmaster, set once it started.
static POSTMASTER: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// PostgreSQL's CPU seconds so far: the postmaster, those of its children that ended (it
/// waits for each), and its live children (the nodes' sessions, the server's own workers).
/// Found from the cluster, not through a session: when the `psql` asking for it failed, the
/// server read as none, and a round as minus (or plus) all of the server's past CPU.
fn postgres_cpu() -> f64 {
    let Some(&postmaster) = POSTMASTER.get() else {
        return 0.0;
    };
    let children: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|p| p.parse().ok()))
        .map(stat_fields)
        .filter(|fields| fields.get(1) == Some(&u64::from(postmaster)))
        .map(|fields| cpu_seconds(&fields, false))
        .sum();
    cpu_seconds(&stat_fields(postmaster), true) + children
}

/// `--backlogs A,B`: each round drains A deliveries, then B, on one PostgreSQL node and (with
/// `--sqlite`) one SQLite hub; B's rate as a ratio of A's, per round and as medians.
async fn compare_backlogs(
    cluster: &testkit::PgCluster,
    backlogs: &[usize],
    rounds: usize,
    sqlite: bool,
    options: Options,
) {
    let dir = tempfile::tempdir().expect("a directory for the SQLite rounds");
    let backends: &[&str] = if sqlite {
        &["PostgreSQL", "SQLite"]
    } else {
        &["PostgreSQL"]
    };
    // rates[backend][backlog]: one rate per round.
    let mut rates = vec![vec![Vec::new(); backlogs.len()]; backends.len()];
    for r in 0..rounds {
        for (b, &backend) in backends.iter().enumerate() {
            for (i, &n) in backlogs.iter().enumerate() {
                let database = if backend == "SQLite" {
                    format!(
                        "sqlite://{}",
                        dir.path().join(format!("r{r}_{n}.db")).display()
                    )
                } else {
                    cluster
                        .database(&format!("backlog_{r}_{n}"))
                        .await
                        .expect("a database")
                };
                let rate = round(&database, 1, n, options).await;
                println!("round {r}: {backend}, {n} deliveries: {rate:.0} deliveries/s");
                rates[b][i].push(rate);
            }
            let first = rates[b][0][r];
            for (i, &n) in backlogs.iter().enumerate().skip(1) {
                println!(
                    "round {r}: {backend}, {n} against {}: {:.2}x",
                    backlogs[0],
                    rates[b][i][r] / first
                );
            }
        }
    }
    for (b, backend) in backends.iter().enumerate() {
        let first = median(&rates[b][0]);
        for (i, &n) in backlogs.iter().enumerate() {
            println!(
                "{backend}, {n} deliveries: median {:.0} deliveries/s, {:.2}x of {}",
                median(&rates[b][i]),
                median(&rates[b][i]) / first,
                backlogs[0]
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let deliveries = arg("--deliveries", 20_000usize);
    let per_host = arg("--per-host", 32usize);
    let rounds = arg("--rounds", 2usize);
    let counts: Vec<usize> = arg("--nodes", String::from("1,3"))
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let backlogs: Vec<usize> = arg("--backlogs", String::new())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let fill = match arg("--fill", String::from("api")).as_str() {
        "upload" => Fill::Upload,
        _ => Fill::Api,
    };
    // `--pg-setting name=value` (repeatable): e.g. shared_preload_libraries=pg_stat_statements,
    // and each round then prints what PostgreSQL spent its time on.
    let args: Vec<String> = std::env::args().collect();
    let settings: Vec<(String, String)> = args
        .windows(2)
        .filter(|w| w[0] == "--pg-setting")
        .filter_map(|w| w[1].split_once('='))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let cluster = testkit::PgCluster::start_with(testkit::PgOptions {
        settings,
        ..testkit::PgOptions::durable()
    })
    .await
    .expect("start PostgreSQL (apt-get install -y postgresql)");
    if let Some(pid) = cluster.postmaster_pid() {
        let _ = POSTMASTER.set(pid);
    }
    let sqlite = args.iter().any(|a| a == "--sqlite");
    let options = Options {
        per_host,
        explain: args.iter().any(|a| a == "--explain"),
        fill,
        recover: args.iter().any(|a| a == "--recover"),
        analyze_drained: args.iter().any(|a| a == "--analyze-drained"),
        hub_bin: leak(arg(
            "--hub-bin",
            env!("CARGO_BIN_EXE_fastcomments").to_owned(),
        )),
    };
    // `--vs PATH`: each round runs PATH (another commit's build) first, then this one, with
    // the same node count, and the ratio is this build's rate over PATH's.
    let vs = Some(arg("--vs", String::new()))
        .filter(|p| !p.is_empty())
        .map(leak);
    // `--server-log`: PostgreSQL's log at the end (with `--pg-setting
    // shared_preload_libraries=auto_explain --pg-setting auto_explain.log_min_duration=50`,
    // the plans of the slow statements).
    let server_log = args.iter().any(|a| a == "--server-log");
    assert!(
        vs.is_none() || backlogs.is_empty(),
        "--vs compares builds over node counts, not --backlogs"
    );
    if !backlogs.is_empty() {
        compare_backlogs(&cluster, &backlogs, rounds, sqlite, options).await;
        if server_log {
            eprintln!("{}", cluster.log());
        }
        return;
    }
    let dir = tempfile::tempdir().expect("a directory for the SQLite rounds");
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
    let mut sqlite_rates = Vec::new();
    let mut baseline_rates: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
    for r in 0..rounds {
        for (i, &nodes) in counts.iter().enumerate() {
            if let Some(bin) = vs {
                let database = cluster
                    .database(&format!("vs_{r}_{nodes}"))
                    .await
                    .expect("a database");
                let o = Options {
                    hub_bin: bin,
                    ..options
                };
                let rate = round(&database, nodes, deliveries, o).await;
                println!("round {r}: {nodes} node(s) of {bin}: {rate:.0} deliveries/s");
                baseline_rates[i].push(rate);
            }
            let database = cluster
                .database(&format!("nodes_{r}_{nodes}"))
                .await
                .expect("a database");
            let rate = round(&database, nodes, deliveries, options).await;
            println!("round {r}: {nodes} node(s): {rate:.0} deliveries/s");
            if let Some(before) = baseline_rates[i].last() {
                println!(
                    "round {r}: {nodes} node(s): {:.2}x of the baseline",
                    rate / before
                );
            }
            rates[i].push(rate);
        }
        if sqlite {
            let database = format!("sqlite://{}", dir.path().join(format!("r{r}.db")).display());
            let rate = round(&database, 1, deliveries, options).await;
            println!("round {r}: 1 SQLite hub: {rate:.0} deliveries/s");
            sqlite_rates.push(rate);
        }
    }
    if !sqlite_rates.is_empty() {
        let m = median(&sqlite_rates);
        println!(
            "1 SQLite hub: median {m:.0} deliveries/s; 1 PostgreSQL node {:.2}x of it",
            median(&rates[0]) / m
        );
    }
    if let Some(bin) = vs {
        for (i, &nodes) in counts.iter().enumerate() {
            let ratios: Vec<f64> = rates[i]
                .iter()
                .zip(&baseline_rates[i])
                .map(|(now, before)| now / before)
                .collect();
            println!(
                "{nodes} node(s): median {:.0} deliveries/s against {:.0} of {bin}: {:.2}x \
                 (median of the rounds' ratios {:.2}x)",
                median(&rates[i]),
                median(&baseline_rates[i]),
                median(&rates[i]) / median(&baseline_rates[i]),
                median(&ratios)
            );
        }
    }
    let baseline = median(&rates[0]);
    for (i, &nodes) in counts.iter().enumerate() {
        let m = median(&rates[i]);
        println!(
            "{nodes} node(s): median {m:.0} deliveries/s, {:.2}x of {} node(s)",
            m / baseline,
            counts[0]
        );
    }
    if server_log {
        eprintln!("{}", cluster.log());
    }
}
