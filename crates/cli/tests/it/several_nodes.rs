//! Three `fastcomments serve` processes on one PostgreSQL database, the way an operator runs
//! the hub behind a load balancer: one timeline whichever node a poll lands on, each webhook
//! delivered once (at least once across a `kill -9`, never by two nodes at the same time) in
//! per-comment order, and a rolling restart that a client retrying on another node never
//! notices.
//!
//! The database is a real PostgreSQL from the system's packages (`testkit::PgCluster`); the
//! nodes are the real binary, talking to each other only through that database.

use crate::serve_support;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use axum::Router;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const ADMIN: &str = "several-nodes-admin";

/// One hub process.
struct Node {
    child: Child,
    url: String,
    port: u16,
}

/// A port nobody listens on right now (a node restarted keeps its port, as behind a load
/// balancer).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn start_node(database: &str, port: u16) -> Node {
    start_node_with(database, port, &[]).await
}

async fn start_node_with(database: &str, port: u16, extra: &[&str]) -> Node {
    let (child, url) = serve_support::spawn_hub(
        Command::new(env!("CARGO_BIN_EXE_fastcomments"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database])
            .args(extra)
            .args([
                "--webhook-retry-base-ms",
                "50",
                "--webhook-timeout-ms",
                "500",
                // A node killed mid-send leaves its claims to the others after this.
                "--webhook-claim-lease-ms",
                "1500",
                "--webhook-per-host-concurrency",
                "8",
                "--webhook-per-tenant-concurrency",
                "8",
                // The receiver is on loopback.
                "--webhook-allow-private-targets",
            ]),
        ADMIN,
        "warn",
    )
    .await;
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    Node { child, url, port }
}

async fn three_nodes(name: &str) -> (String, Vec<Node>) {
    let cluster = testkit::PgCluster::shared().await.unwrap();
    let database = cluster.database(name).await.unwrap();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(start_node(&database, free_port()).await);
    }
    (database, nodes)
}

/// A client of several nodes: each call goes to the next node in turn and, when that node
/// cannot be reached or answers 5xx, to the one after it, as a client behind a load balancer
/// that retries elsewhere would.
struct Client {
    http: reqwest::Client,
    urls: Mutex<Vec<String>>,
    next: AtomicUsize,
    /// Calls that needed another node.
    failovers: AtomicUsize,
}

impl Client {
    fn new(nodes: &[Node]) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            urls: Mutex::new(nodes.iter().map(|n| n.url.clone()).collect()),
            next: AtomicUsize::new(0),
            failovers: AtomicUsize::new(0),
        }
    }

    /// Leaves `url` out of the rotation (the node is gone for good).
    fn forget(&self, url: &str) {
        self.urls.lock().retain(|u| u != url);
    }

    /// The answer of the first node that gives one, or every node's failure.
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let urls = self.urls.lock().clone();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let mut failures = Vec::new();
        // Each node twice: a node restarting right now is back a moment later.
        for attempt in 0..urls.len() * 2 {
            if attempt > 0 {
                self.failovers.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
            }
            let base = &urls[(first + attempt) % urls.len()];
            let mut req = self.http.request(method.clone(), format!("{base}{path}"));
            if let Some(key) = key {
                req = req.header("x-api-key", key);
            }
            if let Some(body) = &body {
                req = req.json(body);
            }
            match req.send().await {
                Ok(res) if res.status().is_server_error() => {
                    failures.push(format!("{base}: {}", res.status()));
                }
                Ok(res) => {
                    let status = res.status().as_u16();
                    let v = res.json::<Value>().await.unwrap_or(Value::Null);
                    return Ok((status, v));
                }
                Err(e) => failures.push(format!("{base}: {e}")),
            }
        }
        Err(failures.join("; "))
    }

    async fn ok(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let (status, v) = self
            .call(method.clone(), path, key, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no node answered: {e}"));
        assert_eq!(status, 200, "{method} {path}: {v}");
        v
    }
}

/// A tenant owning `localhost`, made through the first node's operator API; its API secret.
async fn tenant(client: &Client) -> String {
    let first = client.urls.lock()[0].clone();
    serve_support::create_tenant(&client.http, &first, ADMIN, "Several nodes", &["localhost"]).await
}

/// A registered token, acknowledged on another node than the one it was registered on.
async fn connected_token(client: &Client, key: &str, token: &str) {
    client
        .ok(
            Method::PUT,
            &format!("/integrations/v1/token/{token}"),
            None,
            None,
        )
        .await;
    client
        .ok(
            Method::POST,
            &format!("/api/v1/integrations/{token}/acknowledge"),
            Some(key),
            Some(json!({"skipInitialSync": true})),
        )
        .await;
}

/// One poll of `/stream` on whichever node is next: its events and the new cursor.
async fn poll(client: &Client, token: &str, cursor: i64) -> (Vec<Value>, i64, bool) {
    let v = client
        .ok(
            Method::GET,
            &format!("/integrations/v1/stream?token={token}&lastFetchDate={cursor}"),
            None,
            None,
        )
        .await;
    let next = v["nextFetchDate"].as_i64().unwrap();
    assert!(next >= cursor, "the cursor went back: {cursor} -> {next}");
    (
        v["events"].as_array().unwrap().clone(),
        next,
        v["hasMore"].as_bool().unwrap(),
    )
}

/// Checks the events a poller collected: positions strictly increasing (cursor order), and
/// each created comment's `new-comment` event exactly once. Returns the created ids seen.
fn created_once_in_order(events: &[Value]) -> HashSet<String> {
    let mut created = HashSet::new();
    let mut last = 0;
    for e in events {
        let at = e["createdAt"].as_i64().unwrap();
        assert!(at > last, "events out of cursor order: {last} then {at}");
        last = at;
        if e["type"] == "new-comment" {
            let id = e["comment"]["_id"].as_str().unwrap().to_owned();
            assert!(created.insert(id.clone()), "comment {id} created twice");
        }
    }
    created
}

/// One poll of generation B's `/events` on whichever node is next: each event's comment id
/// and position (epoch ms), and whether there is more.
async fn poll_events(client: &Client, token: &str, cursor: i64) -> (Vec<(String, i64)>, bool) {
    let v = client
        .ok(
            Method::GET,
            &format!("/integrations/v1/events?token={token}&fromDateTime={cursor}"),
            None,
            None,
        )
        .await;
    let events = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let data: Value = serde_json::from_str(e["data"].as_str().unwrap()).unwrap();
            let at = data["timestamp"].as_i64().unwrap();
            (data["comment"]["_id"].as_str().unwrap_or("").to_owned(), at)
        })
        .collect();
    (events, v["hasMore"].as_bool().unwrap())
}

#[tokio::test]
async fn pollers_on_switching_nodes_see_one_timeline() {
    let (_db, nodes) = three_nodes("one_timeline").await;
    let client = Arc::new(Client::new(&nodes));
    let key = tenant(&client).await;
    let token = "several-nodes-timeline-0001";
    let reader_b = "several-nodes-timeline-gen-b";
    let uploader = "several-nodes-uploader-0001";
    for t in [token, reader_b, uploader] {
        connected_token(&client, &key, t).await;
    }

    // API writers and plugin uploaders on every node while the pollers switch node on every
    // poll. Each upload batch goes to the next node; uploaded comments are told apart by
    // their `externalId`.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, key) = (client.clone(), key.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..75 {
                    let v = client
                        .ok(
                            Method::POST,
                            "/api/v1/comments",
                            Some(&key),
                            Some(json!({"urlId": format!("page-{}", i % 5), "commenterName": "n", "comment": format!("w{w} c{i}"), "domain": "localhost"})),
                        )
                        .await;
                    ids.push(v["comment"]["_id"].as_str().unwrap().to_owned());
                }
                ids
            })
        })
        .collect();
    let uploaders: Vec<_> = (0..2)
        .map(|u| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut external = Vec::new();
                for b in 0..15 {
                    let comments: Vec<Value> = (0..5)
                        .map(|j| {
                            let ext = format!("u{u}-b{b}-{j}");
                            external.push(ext.clone());
                            json!({"externalId": ext, "urlId": format!("page-{}", j % 5), "commenterName": "plugin", "comment": format!("uploaded {u} {b} {j}"), "date": "2024-05-01 12:00:00", "votes": "0", "approved": true})
                        })
                        .collect();
                    client
                        .ok(
                            Method::POST,
                            &format!("/integrations/v1/comments?token={uploader}"),
                            None,
                            Some(json!({"countRemaining": 1000, "comments": comments})),
                        )
                        .await;
                }
                external
            })
        })
        .collect();
    let mut events = Vec::new();
    let (mut cursor, mut cursor_b) = (0, 0);
    let mut seen_b: Vec<(String, i64)> = Vec::new();
    let mut polls = 0;
    while !writers.iter().chain(&uploaders).all(|w| w.is_finished()) {
        let (page, next, _) = poll(&client, token, cursor).await;
        events.extend(page);
        cursor = next;
        let (page, _) = poll_events(&client, reader_b, cursor_b).await;
        if let Some((_, at)) = page.last() {
            cursor_b = *at;
        }
        seen_b.extend(page);
        polls += 1;
    }
    let mut written = HashSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    let mut uploaded = HashSet::new();
    for u in uploaders {
        uploaded.extend(u.await.unwrap());
    }
    let expected = written.len() + uploaded.len();
    // Caught up: polls until every node has nothing more (another node's cache may trail by
    // its notification, never by more than the TTL).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (page, next, more) = poll(&client, token, cursor).await;
        let empty = page.is_empty();
        events.extend(page);
        cursor = next;
        if created_once_in_order(&events).len() == expected && !more && empty {
            break;
        }
        assert!(Instant::now() < deadline, "the timeline never caught up");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (page, more) = poll_events(&client, reader_b, cursor_b).await;
        if let Some((_, at)) = page.last() {
            cursor_b = *at;
        }
        let empty = page.is_empty();
        seen_b.extend(page);
        if seen_b.len() >= expected && !more && empty {
            break;
        }
        assert!(Instant::now() < deadline, "generation B never caught up");
    }
    assert!(
        polls > 10,
        "the pollers switched nodes while writes ran ({polls} polls)"
    );
    // Generation A: every API comment once, and every uploaded one once, in cursor order.
    let created = created_once_in_order(&events);
    let uploaded_seen: HashSet<String> = events
        .iter()
        .filter(|e| e["type"] == "new-comment")
        .filter_map(|e| e["comment"]["externalId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(uploaded_seen, uploaded, "every upload once on the stream");
    assert_eq!(created.len(), expected);
    assert!(written.is_subset(&created));
    // Generation B: the same comments, each once, positions strictly increasing.
    assert!(
        seen_b.windows(2).all(|w| w[0].1 < w[1].1),
        "generation B out of cursor order"
    );
    let ids_b: Vec<&String> = seen_b.iter().map(|(id, _)| id).collect();
    let unique_b: HashSet<&String> = ids_b.iter().copied().collect();
    assert_eq!(
        ids_b.len(),
        unique_b.len(),
        "an event twice on generation B"
    );
    assert_eq!(
        unique_b.into_iter().cloned().collect::<HashSet<String>>(),
        created
    );
}

/// What the receiver saw.
#[derive(Default)]
struct Receipts {
    /// Every request, in arrival order: (delivery id, event kind, comment id, comment text).
    all: Vec<(String, String, String, String)>,
    /// Attempts (delivery id, `X-FastComments-Attempt`) being answered right now.
    in_flight: HashSet<(String, String)>,
    /// An attempt that arrived while the same attempt was still being answered: two senders
    /// holding one claim. (A hub that gave up waiting sends the next attempt, with the next
    /// number, and may do so while a slow receiver still works on the last one.)
    concurrent: Vec<(String, String)>,
    /// Attempts that arrived more than once (what a killed node sent before it died is sent
    /// again, under the same number, once its claim ran out).
    attempts: HashMap<(String, String), usize>,
}

/// Takes an attempt out of `in_flight` when dropped.
struct OutOfFlightOnDrop {
    receipts: Arc<Mutex<Receipts>>,
    attempt: (String, String),
}

impl Drop for OutOfFlightOnDrop {
    fn drop(&mut self) {
        self.receipts.lock().in_flight.remove(&self.attempt);
    }
}

/// Starts a receiver and sets the tenant's webhook configuration to `config` of its URL; what
/// the receiver gets.
async fn hooked(
    client: &Client,
    key: &str,
    config: impl FnOnce(&str) -> Value,
) -> Arc<Mutex<Receipts>> {
    let receipts: Arc<Mutex<Receipts>> = Arc::default();
    let hook = receiver(receipts.clone()).await;
    client
        .ok(
            Method::PUT,
            "/api/v1/webhook-config",
            Some(key),
            Some(config(&hook)),
        )
        .await;
    receipts
}

async fn receiver(receipts: Arc<Mutex<Receipts>>) -> String {
    let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let receipts = receipts.clone();
        async move {
            let text = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let id = text("x-fastcomments-delivery");
            let attempt = (id.clone(), text("x-fastcomments-attempt"));
            let kind = text("x-fastcomments-event");
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let comment = v["id"].as_str().unwrap_or("").to_owned();
            let words = v["comment"].as_str().unwrap_or("").to_owned();
            {
                let mut r = receipts.lock();
                if !r.in_flight.insert(attempt.clone()) {
                    r.concurrent.push(attempt.clone());
                }
                *r.attempts.entry(attempt.clone()).or_default() += 1;
                r.all.push((id.clone(), kind, comment, words));
            }
            // Out of flight when this handler ends, also when it is dropped halfway: a node
            // killed while its request sleeps here closes the connection, the server drops
            // the handler, and the same attempt, sent again once the claim ran out, must not
            // look as if two nodes sent it at once.
            let _out = OutOfFlightOnDrop {
                receipts: receipts.clone(),
                attempt,
            };
            // A receiver that takes a moment, so that deliveries overlap across nodes.
            tokio::time::sleep(Duration::from_millis(3)).await;
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// One comment's life, each change on whichever node is next: create, two edits, delete.
async fn comment_life(client: &Client, key: &str, n: usize) -> String {
    let v = client
        .ok(
            Method::POST,
            "/api/v1/comments",
            Some(key),
            Some(json!({"urlId": format!("life-{}", n % 7), "commenterName": "n", "comment": format!("{n} v0"), "domain": "localhost"})),
        )
        .await;
    let id = v["comment"]["_id"].as_str().unwrap().to_owned();
    for edit in 1..=2 {
        client
            .ok(
                Method::PATCH,
                &format!("/api/v1/comments/{id}"),
                Some(key),
                Some(json!({"comment": format!("{n} v{edit}")})),
            )
            .await;
    }
    client
        .ok(
            Method::DELETE,
            &format!("/api/v1/comments/{id}"),
            Some(key),
            None,
        )
        .await;
    id
}

async fn lives(client: &Arc<Client>, key: &str, range: std::ops::Range<usize>) -> Vec<String> {
    let tasks: Vec<_> = range
        .collect::<Vec<_>>()
        .chunks(16)
        .map(|chunk| {
            let (client, key, chunk) = (client.clone(), key.to_owned(), chunk.to_vec());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in chunk {
                    ids.push(comment_life(&client, &key, n).await);
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_changes_on_mixed_nodes_each_delivered_in_order_through_a_kill() {
    const COMMENTS: usize = 250; // × 4 changes = 1,000 deliveries
    let (_db, mut nodes) = three_nodes("deliveries").await;
    let client = Arc::new(Client::new(&nodes));
    let key = tenant(&client).await;
    let receipts = hooked(&client, &key, |hook| json!({"domain": "localhost", "create": {"url": hook}, "update": {"url": hook}, "delete": {"url": hook}})).await;

    // A third of the comments on all three nodes; then the rest on two of them, and while
    // those are written and sent, the third node (still sending: every node dispatches) is
    // killed. No write is in flight on the node killed, so a retrying client sends none twice.
    let mut ids = lives(&client, &key, 0..COMMENTS / 3).await;
    let mut victim = nodes.pop().unwrap();
    client.forget(&victim.url);
    let before = receipts.lock().all.len();
    let rest = {
        let (client, key) = (client.clone(), key.clone());
        tokio::spawn(async move { lives(&client, &key, COMMENTS / 3..COMMENTS).await })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while receipts.lock().all.len() < before + 150 {
        assert!(Instant::now() < deadline, "the second part was never sent");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    victim.child.kill().await.unwrap(); // SIGKILL: its claims stay until their lease ends
    let sent_at_kill = receipts.lock().all.len();
    assert!(
        !rest.is_finished(),
        "the kill came while changes were still being written"
    );
    ids.extend(rest.await.unwrap());
    eprintln!("{sent_at_kill} requests had arrived when the node was killed");

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let distinct: HashSet<String> = receipts.lock().all.iter().map(|r| r.0.clone()).collect();
        if distinct.len() >= COMMENTS * 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} deliveries arrived",
            distinct.len(),
            COMMENTS * 4
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything still being re-sent has had time to arrive.
    tokio::time::sleep(Duration::from_millis(2000)).await;

    let r = receipts.lock();
    assert!(
        r.concurrent.is_empty(),
        "sent by two nodes at once: {:?}",
        r.concurrent
    );
    let distinct: HashSet<&str> = r.all.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(distinct.len(), COMMENTS * 4, "each change delivered");
    // At least once: only what the killed node was sending when it died may come twice.
    let repeats = r.all.len() - distinct.len();
    assert!(
        repeats <= 8,
        "{repeats} deliveries repeated, more than the killed node had in flight"
    );

    // Per comment, first arrivals in the order the changes were made.
    let mut firsts: HashMap<&str, Vec<String>> = HashMap::new();
    let mut seen = HashSet::new();
    for (delivery, kind, comment, text) in &r.all {
        if seen.insert(delivery.as_str()) {
            firsts
                .entry(comment.as_str())
                .or_default()
                .push(format!("{kind} {text}"));
        }
    }
    assert_eq!(
        firsts.len(),
        COMMENTS,
        "every comment's deliveries carry its id"
    );
    for (n, id) in ids.iter().enumerate() {
        let got = firsts.get(id.as_str()).cloned().unwrap_or_default();
        let kinds: Vec<&str> = got
            .iter()
            .map(|g| g.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(kinds.len(), 4, "comment {id}: {got:?}");
        assert!(
            kinds[0].contains("create") && kinds[3].contains("delete"),
            "comment {id} out of order: {got:?}"
        );
        let edits: Vec<&String> = got[1..3].iter().collect();
        assert!(
            edits[0].ends_with(&format!("{n} v1")) && edits[1].ends_with(&format!("{n} v2")),
            "comment {id} edits out of order: {got:?}"
        );
    }
}

/// Stops a node gracefully (SIGTERM, as a service manager does) and waits until it exited.
async fn stop_gracefully(node: &mut Node) {
    serve_support::sigterm(node.child.id().unwrap());
    let exit = tokio::time::timeout(Duration::from_secs(20), node.child.wait())
        .await
        .expect("the node stops within 20 s of SIGTERM")
        .unwrap();
    assert!(exit.success(), "a graceful stop exits 0: {exit}");
}

#[tokio::test]
async fn a_rolling_restart_fails_no_request_of_a_client_that_retries_elsewhere() {
    let (database, mut nodes) = three_nodes("rolling_restart").await;
    let client = Arc::new(Client::new(&nodes));
    let key = tenant(&client).await;
    let token = "several-nodes-rolling-0001";
    connected_token(&client, &key, token).await;

    // A client writing and polling without pause while the nodes restart one by one.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (client, key, stop) = (client.clone(), key.clone(), stop.clone());
        tokio::spawn(async move {
            let mut written = HashSet::new();
            let mut events = Vec::new();
            let mut cursor = 0;
            let mut i = 0;
            let mut failed = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match client
                    .call(
                        Method::POST,
                        "/api/v1/comments",
                        Some(&key),
                        Some(json!({"urlId": "rolling", "commenterName": "n", "comment": format!("r{i}"), "domain": "localhost"})),
                    )
                    .await
                {
                    Ok((200, v)) => {
                        written.insert(v["comment"]["_id"].as_str().unwrap().to_owned());
                    }
                    other => failed.push(format!("create r{i}: {other:?}")),
                }
                i += 1;
                match client
                    .call(
                        Method::GET,
                        &format!("/integrations/v1/stream?token={token}&lastFetchDate={cursor}"),
                        None,
                        None,
                    )
                    .await
                {
                    Ok((200, v)) => {
                        events.extend(v["events"].as_array().unwrap().iter().cloned());
                        cursor = v["nextFetchDate"].as_i64().unwrap();
                    }
                    other => failed.push(format!("poll: {other:?}")),
                }
            }
            (written, events, cursor, failed, i)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    for node in nodes.iter_mut() {
        stop_gracefully(node).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        *node = start_node(&database, node.port).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (written, mut events, mut cursor, failed, requests) = traffic.await.unwrap();
    assert!(
        failed.is_empty(),
        "requests failed on every node: {failed:?}"
    );
    assert!(
        requests > 20,
        "the client kept working during the restarts ({requests})"
    );
    assert!(
        client.failovers.load(Ordering::Relaxed) > 0,
        "the restarts were seen by the client"
    );
    // Every comment the client wrote reaches the poller once, in order.
    let deadline = Instant::now() + Duration::from_secs(10);
    while created_once_in_order(&events).len() < written.len() {
        assert!(Instant::now() < deadline, "the timeline never caught up");
        let (page, next, _) = poll(&client, token, cursor).await;
        events.extend(page);
        cursor = next;
    }
    assert_eq!(created_once_in_order(&events), written);
}

/// PostgreSQL killed (-9) for five seconds while a plugin uploads on two nodes with webhooks on,
/// then started again. Requests made during the outage are answered `503` with `Retry-After`
/// within the store timeout (`--store-timeout-ms`), not after the pool's long wait; when the
/// database is back everything resumes by itself: each uploaded comment is stored once and
/// its webhook arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_gone_fails_requests_fast_and_loses_nothing() {
    through_an_outage(Outage::Killed).await;
}

/// The same with PostgreSQL frozen (SIGSTOP to every one of its processes) for five seconds:
/// its connections stay open and nothing answers, as when its machine hangs or the network
/// drops packets. Statements already sent would wait until the connections break; each store
/// call is ended once the server does not answer a probe (`postgres/liveness.rs`), so the
/// writes made meanwhile are still answered `503` within the store timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_frozen_fails_requests_fast_and_loses_nothing() {
    through_an_outage(Outage::Frozen).await;
}

/// How the database goes away in [`through_an_outage`].
enum Outage {
    Killed,
    Frozen,
}

async fn through_an_outage(outage: Outage) {
    const STORE_TIMEOUT_MS: u64 = 1_500;
    const BATCHES: usize = 40;
    const PER_BATCH: usize = 25;
    // A cluster of its own: this test kills it.
    let cluster = testkit::PgCluster::start_with(testkit::PgOptions::durable())
        .await
        .unwrap();
    let database = cluster.database("outage").await.unwrap();
    let timeout = STORE_TIMEOUT_MS.to_string();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let extra = ["--store-timeout-ms", timeout.as_str()];
        nodes.push(start_node_with(&database, free_port(), &extra).await);
    }
    let client = Arc::new(Client::new(&nodes));
    let key = tenant(&client).await;
    let uploader = "several-nodes-outage-0001";
    connected_token(&client, &key, uploader).await;
    let receipts = hooked(
        &client,
        &key,
        |hook| json!({"domain": "localhost", "create": {"url": hook}, "fireOnImport": true}),
    )
    .await;

    // The plugin: each batch sent until a node takes it (an upload is idempotent by the
    // plugin's ids, so sending one again stores nothing twice).
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let uploads = {
        let (http, urls) = (client.http.clone(), urls.clone());
        tokio::spawn(async move {
            for b in 0..BATCHES {
                let comments: Vec<Value> = (0..PER_BATCH)
                    .map(|j| json!({"externalId": format!("b{b}-{j}"), "urlId": format!("page-{}", j % 3), "commenterName": "plugin", "comment": format!("uploaded {b} {j}"), "domain": "localhost", "approved": true}))
                    .collect();
                let body = json!({"countRemaining": 1000, "comments": comments});
                for attempt in 0.. {
                    let url = &urls[(b + attempt) % urls.len()];
                    let sent = http
                        .post(format!("{url}/integrations/v1/comments?token={uploader}"))
                        .json(&body)
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        break;
                    }
                    assert!(attempt < 600, "batch {b} was never taken");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Frozen: one write is on the server when it stops, waiting for a lock this test holds.
    // Its statement was sent; only the bound on each store call ends it before the thaw.
    let mut in_flight = None;
    let frozen = match outage {
        Outage::Killed => {
            cluster.kill().await.unwrap();
            None
        }
        Outage::Frozen => {
            use sqlx::{Connection, Executor};
            let mut holder = sqlx::PgConnection::connect(&database).await.unwrap();
            holder
                .execute("BEGIN; LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap();
            let (http, url, key) = (client.http.clone(), urls[0].clone(), key.clone());
            let write = tokio::spawn(async move {
                let started = Instant::now();
                let r = http
                    .post(format!("{url}/api/v1/comments"))
                    .header("x-api-key", &key)
                    .json(&json!({"urlId": "frozen", "commenterName": "n", "comment": "sent before the freeze", "domain": "localhost"}))
                    .send()
                    .await;
                let answer =
                    r.map(|r| (r.status().as_u16(), r.headers().contains_key("retry-after")));
                (answer.map_err(|e| e.to_string()), started.elapsed())
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            in_flight = Some((holder, write));
            Some(cluster.freeze().unwrap())
        }
    };

    // During the outage: API writes on both nodes, each timed.
    let outage = Instant::now();
    let mut answers = Vec::new();
    while outage.elapsed() < Duration::from_secs(5) {
        let url = &urls[answers.len() % urls.len()];
        let started = Instant::now();
        let r = client
            .http
            .post(format!("{url}/api/v1/comments"))
            .header("x-api-key", &key)
            .json(&json!({"urlId": "during", "commenterName": "n", "comment": "in the outage", "domain": "localhost"}))
            .send()
            .await;
        let took = started.elapsed();
        let answer = r.map(|r| (r.status().as_u16(), r.headers().contains_key("retry-after")));
        answers.push((answer.map_err(|e| e.to_string()), took));
    }
    if let Some((_, write)) = &mut in_flight {
        let answered = tokio::time::timeout(Duration::from_secs(10), write)
            .await
            .expect("a write sent before the freeze still waits 10 s later");
        answers.push(answered.unwrap());
    }
    match frozen {
        Some(frozen) => frozen.thaw(),
        None => cluster.start_again().await.unwrap(),
    }
    if let Some((mut holder, _)) = in_flight {
        use sqlx::Executor;
        holder.execute("COMMIT").await.unwrap();
    }
    assert!(answers.len() >= 2, "{answers:?}");
    let bound = Duration::from_millis(STORE_TIMEOUT_MS + 1_000);
    for (answer, took) in &answers {
        assert_eq!(answer, &Ok((503, true)), "{answers:?}");
        assert!(
            *took < bound,
            "a write waited {took:?} for a database that is gone"
        );
    }
    eprintln!(
        "outage: {} writes answered, slowest {:?}",
        answers.len(),
        answers.iter().map(|a| a.1).max()
    );

    // Back: the plugin finishes, every comment is stored once, every webhook arrives.
    let back = Instant::now();
    tokio::time::timeout(Duration::from_secs(120), uploads)
        .await
        .expect("the uploads finish once the database is back")
        .unwrap();
    let mut exts = Vec::new();
    for page in 0.. {
        let v = client
            .ok(
                Method::GET,
                &format!("/api/v1/comments?limit=1000&page={page}"),
                Some(&key),
                None,
            )
            .await;
        let got = v["comments"].as_array().unwrap();
        exts.extend(
            got.iter()
                .filter_map(|c| c["externalId"].as_str().map(str::to_owned)),
        );
        if got.len() < 1000 {
            break;
        }
    }
    let distinct: HashSet<&String> = exts.iter().collect();
    assert_eq!(
        exts.len(),
        BATCHES * PER_BATCH,
        "each uploaded comment stored once"
    );
    assert_eq!(distinct.len(), BATCHES * PER_BATCH);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let delivered: HashSet<String> = receipts.lock().all.iter().map(|r| r.2.clone()).collect();
        if delivered.len() >= BATCHES * PER_BATCH {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} webhooks arrived",
            delivered.len(),
            BATCHES * PER_BATCH
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "everything delivered {:?} after the database came back",
        back.elapsed()
    );
}
