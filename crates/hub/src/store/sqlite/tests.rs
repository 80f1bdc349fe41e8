//! Tests of the SQLite backend's own mechanisms (group commit, payload references,
//! upgrades of older databases).

use super::*;
use crate::records::CommentPatch;
use crate::{ids, rules};
use fastcomments_protocol::Millis;
use std::collections::HashSet;

/// The tenant most of these tests write to.
fn t1() -> TenantId {
    TenantId::from("t1")
}

#[tokio::test]
async fn recording_attempts_leaves_the_writer_at_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hub.db")).await.unwrap();
    let outcome = AttemptOutcome {
        attempt: DeliveryAttempt {
            delivery_id: "d1".into(),
            attempt: 1,
            at: 1,
            url: "http://x".into(),
            method: "PUT".into(),
            status_code: Some(200),
            response_body: None,
            duration_ms: 1,
            error: None,
        },
        status: DeliveryStatus::Succeeded,
        next_attempt_at: 1,
    };
    store.record_attempts(&[outcome], Millis(1)).await.unwrap();
    let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&store.writer)
        .await
        .unwrap();
    assert_eq!(level, 2, "FULL");
}

fn upload_comment(ext: &str) -> fastcomments_protocol::UploadComment {
    fastcomments_protocol::UploadComment {
        external_id: Some(ext.into()),
        url_id: Some("/page".into()),
        comment: "hello".into(),
        ..Default::default()
    }
}

fn upload_batch(token: &str, exts: &[&str]) -> UploadBatch {
    UploadBatch {
        tenant_id: "t1".into(),
        token: token.into(),
        comments: exts.iter().map(|e| upload_comment(e)).collect(),
        finishes_upload: false,
    }
}

/// Writes that share a transaction with a failing upload are rolled back with it and then
/// run again: each gets its own answer and nothing is lost or doubled.
#[tokio::test]
async fn a_failing_upload_does_not_take_its_group_down() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_token(dir.path()).await;
    let created = rules::merge_upload(
        None,
        &upload_comment("from-the-api"),
        &t1(),
        &ids::object_id(),
        Millis(5),
    );
    // All four are queued before the writer runs (one task, polled together): one group.
    let t1 = t1();
    let (a, b, c, d) = tokio::join!(
        store.upload(upload_batch("tok", &["a1", "a2", "a3"]), Millis(10)),
        store.upload(upload_batch("no-such-token", &["b1"]), Millis(10)),
        store.apply(
            &t1,
            Change::CreateComment(Box::new(created.clone())),
            Millis(10)
        ),
        store.upload(upload_batch("tok", &["c1", "c2"]), Millis(10)),
    );
    assert_eq!(a.unwrap().received, 3);
    assert!(matches!(b, Err(StoreError::NotFound("token"))), "{b:?}");
    assert_eq!(c.unwrap().comment.map(|c| c.id), Some(created.id));
    assert_eq!(d.unwrap().received, 2);
    assert_eq!(store.count_comments(&t1).await.unwrap(), 6);
    let token = store.token(&"tok".into()).await.unwrap().unwrap();
    assert_eq!(token.upload_received, 5);
    let entries = store
        .read_timeline(&everything_seen_by_another_token(true))
        .await
        .unwrap();
    assert_eq!(entries.len(), 6, "one event per comment, none doubled");
}

/// Tenant `t1`'s whole timeline as a token other than the uploader's sees it.
fn everything_seen_by_another_token(include_setup: bool) -> TimelineQuery {
    TimelineQuery {
        tenant_id: "t1".into(),
        viewer_token: "another-token".into(),
        after_ms: 0,
        until_ms: None,
        limit: 100,
        include_setup,
    }
}

/// A store with token `tok`, acknowledged for tenant `t1`.
async fn store_with_token(dir: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(&dir.join("hub.db")).await.unwrap();
    add_token(store).await
}

async fn add_token(store: SqliteStore) -> SqliteStore {
    store
        .register_token(&TokenRecord {
            tenant_id: Some("t1".into()),
            state: TokenState::Validated,
            acknowledged_at: Some(1),
            ..TokenRecord::pending(&"tok".into(), Millis(1), 500)
        })
        .await
        .unwrap();
    store
}

async fn payloads(store: &SqliteStore) -> Vec<(String, Option<Comment>)> {
    store
        .read_timeline(&everything_seen_by_another_token(false))
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let c = e.payload.map(|p| serde_json::from_str(&p).unwrap());
            (e.kind.as_str().to_owned(), c)
        })
        .collect()
}

/// An uploaded comment's event refers to the stored document; every later change to the
/// document (re-upload, API update, vote, delete) leaves the earlier events as they were.
#[tokio::test]
async fn events_keep_the_comment_as_of_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_token(dir.path()).await;
    let first = store
        .upload(upload_batch("tok", &["a"]), Millis(10))
        .await
        .unwrap();
    let id = first.comment_ids["a"].clone();
    // The same comment again, unchanged: no event; then with a new text: an update event.
    store
        .upload(upload_batch("tok", &["a"]), Millis(11))
        .await
        .unwrap();
    let mut edited = upload_batch("tok", &["a"]);
    edited.comments[0].comment = "edited by the plugin".into();
    store.upload(edited, Millis(12)).await.unwrap();
    let patch = CommentPatch {
        comment: Some("edited through the API".into()),
        ..Default::default()
    };
    store
        .apply(
            &t1(),
            Change::UpdateComment {
                id: id.clone(),
                patch: Box::new(patch),
            },
            Millis(13),
        )
        .await
        .unwrap();
    store
        .apply(&t1(), Change::DeleteComment { id: id.clone() }, Millis(14))
        .await
        .unwrap();
    let seen = payloads(&store).await;
    let texts: Vec<(&str, &str)> = seen
        .iter()
        .map(|(k, c)| {
            (
                k.as_str(),
                c.as_ref().map(|c| c.comment.as_str()).unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            ("new-comment", "hello"),
            ("updated-comment", "edited by the plugin"),
            ("updated-comment", "edited through the API"),
            ("deleted-comment", "edited through the API"),
        ]
    );
    assert!(seen
        .iter()
        .all(|(_, c)| c.as_ref().map(|c| c.id.as_str()) == Some(id.as_str())));
}

/// A database made before `event_pos`/`doc_ref` existed opens, gains them, and keeps its data.
#[tokio::test]
async fn a_database_from_before_payload_references_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE comments (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, url_id TEXT NOT NULL, \
             parent_id TEXT, external_id TEXT, external_parent_id TEXT, date_ms INTEGER NOT NULL, \
             upload_token TEXT, doc TEXT NOT NULL); \
             CREATE TABLE timeline (tenant_id TEXT NOT NULL, created_at INTEGER NOT NULL, id TEXT NOT NULL, \
             kind TEXT NOT NULL, url_id TEXT NOT NULL, origin_token TEXT, only_token TEXT, payload TEXT, \
             PRIMARY KEY (tenant_id, created_at)); \
             INSERT INTO timeline VALUES ('t1', 5, 'e1', 'new-vote', '/page', NULL, NULL, '{\"x\":1}');",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let store = store_with_token(dir.path()).await;
    store
        .upload(upload_batch("tok", &["a"]), Millis(10))
        .await
        .unwrap();
    let kinds: Vec<String> = store
        .read_timeline(&everything_seen_by_another_token(false))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect();
    assert_eq!(kinds, vec!["new-vote".to_owned(), "new-comment".to_owned()]);
    let old: Option<String> = sqlx::query_scalar("SELECT payload FROM timeline WHERE id = 'e1'")
        .fetch_one(&store.reader)
        .await
        .unwrap();
    assert_eq!(old.as_deref(), Some("{\"x\":1}"));
}

/// Hubs before 0.1.1 wrote uploaded fields twice into a comment's document (`"hasImages"` as
/// the field and again among the unknown ones); every strict read then failed. Opening such a
/// database repairs the documents and the event payloads copied from them, once.
#[tokio::test]
async fn documents_written_with_a_key_twice_are_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let broken = r#"{"_id":"c1","tenantId":"t1","urlId":"p","urlIdRaw":"p","url":null,"pageTitle":null,"userId":null,"commenterName":"A","commenterEmail":null,"comment":"hi","commentHTML":"hi","parentId":null,"externalId":"e1","externalParentId":null,"date":"2024-05-01T12:00:00.000Z","votes":0,"votesUp":0,"votesDown":0,"verified":false,"reviewed":false,"approved":true,"isSpam":false,"aiDeterminedSpam":false,"hasImages":false,"hasLinks":false,"avatarSrc":null,"locale":null,"isByAdmin":false,"isByModerator":false,"domain":null,"mentions":[],"meta":null,"tenantId":"t1","hasImages":true,"verifiedDate":null}"#;
    {
        let store = store_with_token(dir.path()).await;
        // As an older hub left it: the repair not yet run, a comment and an event copy broken.
        sqlx::raw_sql("DELETE FROM schema_migrations")
            .execute(&store.writer)
            .await
            .unwrap();
        for insert in [
            "INSERT INTO comments (id, tenant_id, url_id, external_id, date_ms, doc) VALUES ('c1', 't1', 'p', 'e1', 1, ?)",
            "INSERT INTO timeline (tenant_id, created_at, id, kind, url_id, payload) VALUES ('t1', 7, 'e7', 'updated-comment', 'p', ?)",
        ] {
            sqlx::query(insert)
                .bind(broken)
                .execute(&store.writer)
                .await
                .unwrap();
        }
        assert!(serde_json::from_str::<Comment>(broken).is_err());
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let c = store.comment(&t1(), "c1").await.unwrap().unwrap();
    assert!(c.has_images, "the last occurrence wins, as in JS and PHP");
    assert_eq!(c.extra.get("verifiedDate"), Some(&serde_json::Value::Null));
    let doc: String = sqlx::query_scalar("SELECT doc FROM comments WHERE id = 'c1'")
        .fetch_one(&store.reader)
        .await
        .unwrap();
    assert_eq!(doc.matches("\"hasImages\"").count(), 1, "{doc}");
    serde_json::from_str::<Comment>(&doc).unwrap();
    let payload: String = sqlx::query_scalar("SELECT payload FROM timeline WHERE id = 'e7'")
        .fetch_one(&store.reader)
        .await
        .unwrap();
    serde_json::from_str::<Comment>(&payload).unwrap();
    let ran: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM schema_migrations WHERE name = 'repair-comment-documents-with-duplicate-keys'",
    )
    .fetch_one(&store.reader)
    .await
    .unwrap();
    assert_eq!(ran, 1);
}

/// A document damaged outside the hub leaves a page without it, not the whole page failing.
#[tokio::test]
async fn an_unreadable_document_does_not_fail_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_token(dir.path()).await;
    store
        .upload(upload_batch("tok", &["a", "b"]), Millis(10))
        .await
        .unwrap();
    sqlx::query("UPDATE comments SET doc = '{\"not\":\"a comment\"}' WHERE external_id = 'a'")
        .execute(&store.writer)
        .await
        .unwrap();
    let page = store.comments_page(&t1(), 0, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].external_id.as_deref(), Some("b"));
    assert_eq!(
        store.comments_by_url(&t1(), "/page").await.unwrap().len(),
        1
    );
}

/// What a write answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    /// `Ok`: it must be stored.
    Ok,
    /// An error that says nothing was stored (a full disk, a lock, a constraint).
    Refused,
    /// An I/O error: the commit may have reached the disk or not (an `fsync` that failed after
    /// the WAL frames were written); the hub answers it `503`, "may not have been stored".
    Unknown,
}

impl Done {
    fn of<T>(r: &StoreResult<T>) -> Done {
        match r {
            Ok(_) => Done::Ok,
            Err(e) if e.fault() == Some(crate::store::FaultKind::Io) => Done::Unknown,
            Err(_) => Done::Refused,
        }
    }

    /// Whether the write may be found stored (`Some(must)`), or either is right (`None`).
    fn stored(self) -> Option<bool> {
        match self {
            Done::Ok => Some(true),
            Done::Refused => Some(false),
            Done::Unknown => None,
        }
    }
}

/// What one write of [`full_disk_round`] was, and what it answered.
enum Acked {
    Comment(String, Done),
    Upload(Vec<String>, Done),
    Token(String, Done),
    Session(String, Done),
}

impl Acked {
    fn done(&self) -> Done {
        match self {
            Acked::Comment(_, d)
            | Acked::Upload(_, d)
            | Acked::Token(_, d)
            | Acked::Session(_, d) => *d,
        }
    }
}

/// Asserts that `found` agrees with what the write answered.
fn agrees(done: Done, found: bool, what: &str) {
    if let Some(must) = done.stored() {
        assert_eq!(found, must, "{what} answered {done:?}");
    }
}

/// One round of concurrent writes of every kind the writer connection takes: API changes and
/// upload batches (the group-commit writer), token registrations and sessions (the connection's
/// other users).
async fn full_disk_round(store: &SqliteStore, round: usize, writes: usize) -> Vec<Acked> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..writes {
        let store = store.clone();
        tasks.spawn(async move {
            let text = "a comment long enough to need pages of its own ".repeat(20);
            match i % 4 {
                0 => {
                    let mut up = upload_comment(&format!("api-{round}-{i}"));
                    up.comment = text;
                    let c = rules::merge_upload(None, &up, &t1(), &ids::object_id(), Millis(5));
                    let r = store
                        .apply(
                            &t1(),
                            Change::CreateComment(Box::new(c.clone())),
                            Millis(10),
                        )
                        .await;
                    Acked::Comment(c.id, Done::of(&r))
                }
                1 => {
                    let exts: Vec<String> = (0..5).map(|k| format!("r{round}-{i}-{k}")).collect();
                    let refs: Vec<&str> = exts.iter().map(String::as_str).collect();
                    let mut batch = upload_batch("tok", &refs);
                    for c in &mut batch.comments {
                        c.comment = text.clone();
                    }
                    let r = store.upload(batch, Millis(10)).await;
                    Acked::Upload(exts, Done::of(&r))
                }
                2 => {
                    let token = format!("pending-{round}-{i}");
                    let r = store
                        .register_token(&TokenRecord {
                            integration_type: Some(text),
                            ..TokenRecord::pending(&token.as_str().into(), Millis(1), 500)
                        })
                        .await;
                    Acked::Token(token, Done::of(&r))
                }
                _ => {
                    let id = format!("session-{round}-{i}");
                    let r = store
                        .save_session(
                            &SessionRecord {
                                id: id.clone(),
                                doc: text,
                                anonymous: false,
                                created_at: 1,
                                seen_at: 1,
                            },
                            100,
                        )
                        .await;
                    Acked::Session(id, Done::of(&r))
                }
            }
        });
    }
    let mut acked = Vec::new();
    while let Some(done) = tasks.join_next().await {
        acked.push(done.unwrap());
    }
    acked
}

/// Whether every write of a round was answered `Ok`, and whether any was.
fn round_outcome(acked: &[Acked]) -> (bool, bool) {
    let ok = acked.iter().filter(|a| a.done() == Done::Ok).count();
    (ok == acked.len(), ok > 0)
}

/// A last round of `writes`, each of which must succeed (`why` says when); then, with the
/// store closed, what was answered `Ok` over every round is exactly what is stored.
async fn ends_with_every_write_kept(
    store: SqliteStore,
    path: &std::path::Path,
    mut all: Vec<Acked>,
    round: usize,
    writes: usize,
    why: &str,
) {
    let after = full_disk_round(&store, round, writes).await;
    assert!(round_outcome(&after).0, "{why}");
    all.extend(after);
    store.close().await;
    drop(store);
    assert_exactly_the_acknowledged(path, all).await;
}

/// After the store is opened again: every write answered `Ok` is there, and no write answered
/// with an error is.
async fn assert_exactly_the_acknowledged(path: &std::path::Path, all: Vec<Acked>) {
    let store = SqliteStore::open(path).await.unwrap();
    let stored = store.comments_page(&t1(), 0, 1_000_000).await.unwrap();
    let ids: HashSet<String> = stored.iter().map(|c| c.id.clone()).collect();
    let exts: HashSet<String> = stored
        .iter()
        .filter_map(|c| c.external_id.clone())
        .collect();
    for a in all {
        match a {
            Acked::Comment(id, done) => agrees(done, ids.contains(&id), &format!("comment {id}")),
            Acked::Upload(batch, done) => {
                let found: Vec<bool> = batch.iter().map(|e| exts.contains(e)).collect();
                // A batch is one transaction: all of it or none.
                assert!(
                    found.iter().all(|f| *f == found[0]),
                    "batch {batch:?} split: {found:?}"
                );
                agrees(done, found[0], &format!("upload {batch:?}"));
            }
            Acked::Token(t, done) => {
                let found = store.token(&t.as_str().into()).await.unwrap().is_some();
                agrees(done, found, &format!("token {t}"))
            }
            Acked::Session(s, done) => {
                let found = store.session(&s).await.unwrap().is_some();
                agrees(done, found, &format!("session {s}"))
            }
        }
    }
    store.close().await;
}

/// Issue 19: on a disk that fills up and gets its space back, every write the store answered
/// `Ok` is there after the database is opened again, and no write it answered with an error is.
/// While the disk is full every write fails; after the space came back every write succeeds,
/// without a restart. (Before the fix, the writer's connection stayed inside a transaction
/// that SQLite had rolled back, and every later write was answered `Ok` and lost.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_no_acknowledged_write() {
    let disk = testkit::SmallDisk::mount(6).unwrap();
    let path = disk.path().join("hub.db");
    let store = store_with_token(disk.path()).await;
    let mut all = Vec::new();
    for round in 0..9 {
        match round % 3 {
            1 => {
                disk.fill().unwrap();
            }
            2 => disk.free().unwrap(),
            _ => {}
        }
        let acked = full_disk_round(&store, round, 24).await;
        let (every, any) = round_outcome(&acked);
        match round % 3 {
            1 => assert!(!any, "round {round}: a write succeeded on a full disk"),
            _ => assert!(
                every,
                "round {round}: a write failed with space on the disk"
            ),
        }
        all.extend(acked);
    }
    disk.free().unwrap();
    store.close().await;
    drop(store);
    assert_exactly_the_acknowledged(&path, all).await;
}

/// The README's promise about the log's size: checkpoints every 65,536 pages of 4 KiB.
#[tokio::test]
async fn the_log_is_checkpointed_every_256_mib() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hub.db")).await.unwrap();
    let mut conn = store.writer.acquire().await.unwrap();
    let pages: (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let size: (i64,) = sqlx::query_as("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(pages.0 * size.0, 256 * 1024 * 1024);
    drop(conn);
    store.close().await;
}

/// A target's deliveries, named as the statements that walk a target name them
/// (`portable::outbox::TARGET`), are read through `webhook_deliveries_of_target`, in position
/// order (no sort), and a stream's lookup cannot take that index (see the test below).
#[tokio::test]
async fn a_targets_deliveries_are_read_through_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hub.db")).await.unwrap();
    let target = portable::outbox::TARGET;
    let text = format!(
        "EXPLAIN QUERY PLAN SELECT id FROM webhook_deliveries WHERE tenant_id = 't' \
         AND {target} = 's' AND (position, id) > (0, '') ORDER BY position, id LIMIT 10"
    );
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&text)
        .fetch_all(&store.writer)
        .await
        .unwrap();
    let details: Vec<&str> = plan.iter().map(|(.., d)| d.as_str()).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("webhook_deliveries_of_target")),
        "{details:?}"
    );
    assert!(
        !details.iter().any(|d| d.contains("TEMP B-TREE")),
        "{details:?}"
    );
}

/// The `detail` column of SQLite's plan for `statement` (its parameters left unbound: the
/// plan does not depend on them), on a new store.
async fn plan_of(statement: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hub.db")).await.unwrap();
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {statement}"))
            .fetch_all(&store.writer)
            .await
            .unwrap();
    store.close().await;
    plan.into_iter().map(|(.., detail)| detail).collect()
}

/// `plan` is one step: a read through `index`, in its order (no sort, no other table).
fn assert_one_read_through(plan: &[String], index: &str) {
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert!(
        plan[0].contains(&format!("USING INDEX {index}")),
        "{plan:?}"
    );
}

/// Settling a stream's head reads that stream only: every lookup of the statement goes through
/// the primary key or `webhook_deliveries_by_stream`, whatever other index covers two of its
/// columns (the index of a target's deliveries, over (tenant, subscription) then, won the
/// planner's choice against the per-comment index and made each settle read the whole
/// target's outbox).
#[tokio::test]
async fn settling_heads_reads_one_stream() {
    let plan =
        plan_of(&portable::outbox::settle_heads_sql().replace('?', "'[\"some-delivery\"]'")).await;
    let reads: Vec<&String> = plan
        .iter()
        .filter(|d| d.contains("webhook_deliveries"))
        .collect();
    assert!(!reads.is_empty(), "{plan:?}");
    for read in &reads {
        assert!(
            read.contains("webhook_deliveries_by_stream")
                || read.contains("sqlite_autoindex_webhook_deliveries")
                || read.contains("INTEGER PRIMARY KEY")
                || read.contains("USING PRIMARY KEY"),
            "a settle reads more than its stream: {read} (plan: {reads:?})"
        );
    }
}

/// What a queuing reads of its streams (their earliest waiting positions) goes through
/// `webhook_deliveries_by_stream`, one range per comment, and sorts nothing: not the index of a
/// target's deliveries, nor a walk over the waiting ones.
#[tokio::test]
async fn a_queuing_reads_its_streams_by_comment() {
    let plan = plan_of(&super::dialect::first_waiting_sql(3)).await;
    assert!(
        plan.iter()
            .any(|d| d.contains("webhook_deliveries_by_stream") && d.contains("comment_id=?")),
        "{plan:?}"
    );
    assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{plan:?}");
}

/// A recover's copies find their originals by primary key, one lookup per copy: no read of
/// the outbox as a whole, nor through another of its indexes.
#[tokio::test]
async fn a_recovers_copies_find_their_originals_by_key() {
    reads_the_outbox_once_by_key(&plan_of(&super::dialect::copies_sql(3)).await);
}

/// `plan` reads the outbox once, through its primary key, a row at a time.
fn reads_the_outbox_once_by_key(plan: &[String]) {
    let reads: Vec<&String> = plan
        .iter()
        .filter(|d| d.contains("webhook_deliveries"))
        .collect();
    assert_eq!(reads.len(), 1, "{plan:?}");
    assert!(
        reads[0].contains("sqlite_autoindex_webhook_deliveries_1") && reads[0].contains("id=?"),
        "{plan:?}"
    );
}

/// When the next ready delivery is due is one entry of `webhook_deliveries_next_ready`, read
/// in its order (no sort, no other index).
#[tokio::test]
async fn the_next_due_instant_is_read_from_its_own_index() {
    let plan = plan_of(&portable::outbox::next_due_sql()).await;
    assert_one_read_through(&plan, "webhook_deliveries_next_ready");
}

/// `/metrics`' counts of open deliveries read `webhook_deliveries_by_state`, one range per
/// state, and nothing else of the outbox.
#[tokio::test]
async fn the_outbox_gauges_read_the_index_by_state() {
    let plan = plan_of(&portable::stats::open_counts_sql()).await;
    assert_each_read_through(&plan, 4, "INDEX webhook_deliveries_by_state");
}

/// The admin page's counts of one tenant read `webhook_deliveries_by_state`, one range per
/// unsent state and tenant, and the tenant's deliveries in `webhook_deliveries_by_tenant`
/// (up to a bound) from the index alone: never a sort, nor the table's rows.
#[tokio::test]
async fn a_tenants_counts_read_the_index_by_state() {
    let plan = plan_of(&portable::stats::tenant_counts_sql()).await;
    let reads: Vec<&String> = plan
        .iter()
        .filter(|d| d.contains("webhook_deliveries"))
        .collect();
    assert_eq!(reads.len(), 6, "{plan:?}");
    for read in &reads[..5] {
        assert!(
            read.contains("INDEX webhook_deliveries_by_state (<expr>=? AND tenant_id=?)"),
            "{read} (plan: {plan:?})"
        );
    }
    assert!(
        reads[5].contains("COVERING INDEX webhook_deliveries_by_tenant (tenant_id=?)"),
        "{plan:?}"
    );
    assert!(plan.iter().all(|d| !d.contains("TEMP B-TREE")), "{plan:?}");
}

/// The hosted API's pending events, a page and their count, read the tenant's waiting
/// deliveries in `webhook_deliveries_by_state`, one range per pending state, and a log of
/// failed ones that state's range: never the tenant's deliveries whole
/// (`webhook_deliveries_by_tenant`), sent ones included.
#[tokio::test]
async fn pending_events_and_logs_by_state_read_the_index_by_state() {
    let tenant = crate::ids::TenantId::from("t1");
    let pending = crate::records::DeliveryFilter {
        pending: true,
        kind: Some(fastcomments_protocol::WebhookEventKind::Create),
        limit: 100,
        ..Default::default()
    };
    for statement in [
        portable::listing::find_query(&tenant, &pending),
        portable::listing::count_query(&tenant, &pending),
    ] {
        let plan = plan_of(statement.sql()).await;
        assert_each_read_through(
            &plan,
            2,
            "INDEX webhook_deliveries_by_state (<expr>=? AND tenant_id=?)",
        );
    }
    let failed = crate::records::DeliveryFilter {
        status: Some(crate::records::DeliveryStatus::Failed),
        limit: 25,
        ..Default::default()
    };
    let plan = plan_of(portable::listing::find_query(&tenant, &failed).sql()).await;
    assert_each_read_through(
        &plan,
        1,
        "INDEX webhook_deliveries_by_state (<expr>=? AND tenant_id=?)",
    );
}

/// `plan` reads the outbox `reads` times, each through `index`.
fn assert_each_read_through(plan: &[String], reads: usize, index: &str) {
    let read: Vec<&String> = plan
        .iter()
        .filter(|d| d.contains("webhook_deliveries"))
        .collect();
    assert_eq!(read.len(), reads, "{plan:?}");
    for r in read {
        assert!(r.contains(index), "{r} (plan: {plan:?})");
    }
}

/// The dispatcher's claim is one statement text whatever its lists of left-out deliveries,
/// hosts, tenants and subscriptions hold, so it is prepared once per connection: spelled
/// out as placeholders, each count of each list was a statement of its own, prepared again
/// as sqlx's cache turned over. And it still walks the ready index only, each left-out
/// list read once.
#[tokio::test]
async fn a_claim_is_one_statement_whatever_it_leaves_out() {
    let query = |exclude: &'static [String], hosts: &'static [String]| crate::records::DueQuery {
        now: Millis(1),
        limit: 64,
        per_host: 32,
        exclude,
        skip_hosts: hosts,
        skip_tenants: &[],
        skip_subscriptions: &[],
        lease_ms: 60_000,
    };
    let some: &'static [String] =
        Box::leak(vec!["a".to_owned(), "b".to_owned()].into_boxed_slice());
    let texts: HashSet<String> = [query(&[], &[]), query(some, &[]), query(some, some)]
        .iter()
        .map(|q| super::webhooks::claim_query(q).unwrap().sql().to_owned())
        .collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    let text = texts.into_iter().next().unwrap();
    let plan = plan_of(&text).await;
    let outbox: Vec<&String> = plan
        .iter()
        .filter(|d| d.contains("webhook_deliveries"))
        .collect();
    // The ready index for the walk, each picked row by its rowid, the update by primary key.
    let by_key = |d: &str| {
        d.contains("USING INTEGER PRIMARY KEY")
            || d.contains("sqlite_autoindex_webhook_deliveries_1 (id=?)")
    };
    assert!(
        outbox
            .iter()
            .all(|d| d.contains("webhook_deliveries_ready") || by_key(d)),
        "{plan:?}"
    );
}

/// An attempts' record moves each delivery by its primary key, one lookup per row of its
/// JSON list.
#[tokio::test]
async fn a_record_moves_its_deliveries_by_key() {
    reads_the_outbox_once_by_key(&plan_of(super::webhooks::MOVE_ON_SQL).await);
}

/// The retention reads finished deliveries through `webhook_deliveries_finished_at`, in its
/// order; a tenant's log filtered by a finished state reads that tenant's deliveries
/// (`webhook_deliveries_by_tenant`), never that index.
#[tokio::test]
async fn the_retention_alone_reads_the_finished_index() {
    let plan = plan_of(&super::retention::prune_sql()).await;
    assert_one_read_through(&plan, "webhook_deliveries_finished_at");
    let log = plan_of(
        "SELECT * FROM webhook_deliveries WHERE tenant_id = 't' AND status = 'succeeded' \
         ORDER BY created_at DESC, position DESC LIMIT 25",
    )
    .await;
    assert!(log.iter().all(|d| !d.contains("finished_at")), "{log:?}");
}

/// The property test's busy timeout: short, so that a lock held past it costs little time.
const PROPERTY_BUSY_TIMEOUT: Duration = Duration::from_millis(60);

/// What fails while a round of writes runs, `after_ms` into it, so that the failure meets the
/// writer wherever it is: a statement, a savepoint, the commit, between groups.
#[derive(Debug, Clone)]
enum Fault {
    /// The disk fills up (`SQLITE_FULL`, which may roll the whole transaction back).
    Full { after_ms: u64 },
    /// Another connection takes SQLite's write lock (`BEGIN IMMEDIATE`, as an operator's
    /// `sqlite3` or a backup would), before the writes start (`after_ms` `None`) or while
    /// they run, and holds it `hold_ms`: shorter or longer than the busy timeout, so writes
    /// wait and succeed or fail with `SQLITE_BUSY`. With `commit`, it writes a row and
    /// commits, so a transaction of the store that read before that commit cannot write any
    /// more (`SQLITE_BUSY_SNAPSHOT`, at once).
    Lock {
        after_ms: Option<u64>,
        hold_ms: u64,
        commit: bool,
    },
    /// The store's own VFS fails the call of `kind`'s aim after `after` others of it: a page
    /// or journal write (`SQLITE_FULL` from then on, or one `SQLITE_IOERR_WRITE`), a sync
    /// (`SQLITE_IOERR_FSYNC`), a lock for writing (`SQLITE_BUSY` from then on). So the fault meets a
    /// statement, a savepoint's journal, a commit's WAL frames or its sync, exactly.
    Vfs {
        kind: super::fault_vfs::Injected,
        after: u32,
    },
}

/// What the property test does next.
#[derive(Debug, Clone)]
enum DiskStep {
    /// This many concurrent writes, with a fault injected while they run if given.
    Writes { count: usize, fault: Option<Fault> },
    /// Gives the space back.
    Free,
}

fn fault() -> impl proptest::strategy::Strategy<Value = Option<Fault>> {
    use proptest::prelude::*;
    let busy = PROPERTY_BUSY_TIMEOUT.as_millis() as u64;
    prop_oneof![
        1 => Just(None),
        2 => (0u64..15).prop_map(|after_ms| Some(Fault::Full { after_ms })),
        3 => (
            prop_oneof![
                Just(super::fault_vfs::Injected::Full),
                Just(super::fault_vfs::Injected::IoErrWrite),
                Just(super::fault_vfs::Injected::IoErrSync),
                Just(super::fault_vfs::Injected::Busy),
            ],
            0u32..80,
        )
            .prop_map(|(kind, after)| Some(Fault::Vfs { kind, after })),
        3 => (proptest::option::of(0u64..15), 0..busy * 4, any::<bool>()).prop_map(
            |(after_ms, hold_ms, commit)| {
                Some(Fault::Lock {
                    after_ms,
                    hold_ms,
                    commit,
                })
            }
        ),
    ]
}

fn disk_step() -> impl proptest::strategy::Strategy<Value = DiskStep> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (1usize..40, fault()).prop_map(|(count, fault)| DiskStep::Writes { count, fault }),
        1 => Just(DiskStep::Free),
    ]
}

/// Holds SQLite's write lock on `path` from another connection, as [`Fault::Lock`] says,
/// saying on `held` when it has it. The disk may be full meanwhile: then its own write fails,
/// which is not what is tested, and the lock is held all the same.
fn hold_write_lock(
    path: &std::path::Path,
    hold_ms: u64,
    commit: bool,
    held: tokio::sync::oneshot::Sender<()>,
) {
    let db = rusqlite::Connection::open(path).unwrap();
    // Long enough to wait for the store's writer between its transactions.
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let _ = held.send(());
    if commit {
        let _ = db.execute_batch(
            "INSERT INTO write_probe (id, n) VALUES (2, 1) \
             ON CONFLICT (id) DO UPDATE SET n = write_probe.n + 1",
        );
    }
    std::thread::sleep(Duration::from_millis(hold_ms));
    let end = if commit { "COMMIT" } else { "ROLLBACK" };
    if db.execute_batch(end).is_err() {
        // A full disk refused the commit; the lock must go all the same.
        let _ = db.execute_batch("ROLLBACK");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]

    /// Issue 19, as a property: random batches of writes of every kind, while the disk fills
    /// (`SQLITE_FULL`), another connection holds the write lock (`SQLITE_BUSY`, also
    /// `SQLITE_BUSY_SNAPSHOT`) at random moments, or the store's VFS fails a write, a sync or a
    /// lock at a random call (`SQLITE_FULL`, `SQLITE_IOERR_WRITE`, `SQLITE_IOERR_FSYNC`,
    /// `SQLITE_BUSY`: a statement, a savepoint's journal, a commit), and space comes back
    /// between them. Afterwards every write answered `Ok` is found after reopening the
    /// database and every write refused is not (an I/O error may have committed or not: either
    /// is right), an upload batch is all there or not at all, and once the faults are gone a
    /// write succeeds, no restart.
    #[test]
    fn the_acknowledged_writes_are_exactly_the_stored_ones(
        steps in proptest::collection::vec(disk_step(), 1..8)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Room for the hub's own files at the most writes a case makes: the log keeps each
            // commit's frames until a checkpoint (every 256 MiB), about 50 KiB per commit here,
            // so eight rounds of single-write commits fill a 6 MiB disk by themselves, and no
            // write could succeed at the end although the ballast is gone. The full-disk
            // faults still fill what is left, whatever the size.
            let disk = std::sync::Arc::new(testkit::SmallDisk::mount(48).unwrap());
            let path = disk.path().join("hub.db");
            static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let case = CASE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // sqlx keeps the VFS's name for the store's life; SQLite keeps the VFS for good.
            let vfs: &'static str = Box::leak(format!("fault-{case}").into_boxed_str());
            let plan = super::fault_vfs::register(vfs);
            let options = SqliteStore::file_options(&path)
                .busy_timeout(PROPERTY_BUSY_TIMEOUT)
                .vfs(vfs);
            let store = add_token(SqliteStore::with_options(options).await.unwrap()).await;
            let mut all = Vec::new();
            for (round, step) in steps.into_iter().enumerate() {
                match step {
                    DiskStep::Free => disk.free().unwrap(),
                    DiskStep::Writes { count, fault } => {
                        let (disk, path) = (disk.clone(), path.clone());
                        let (held, lock_taken) = tokio::sync::oneshot::channel();
                        let before = matches!(fault, Some(Fault::Lock { after_ms: None, .. }));
                        let (fault, vfs_fault) = match fault {
                            Some(Fault::Vfs { kind, after }) => (None, Some((kind, after))),
                            other => (other, None),
                        };
                        if let Some((kind, after)) = vfs_fault {
                            plan.arm(kind, after);
                        }
                        let injected = fault.map(|fault| {
                            tokio::spawn(async move {
                                let after_ms = match fault {
                                    Fault::Full { after_ms } => Some(after_ms),
                                    Fault::Lock { after_ms, .. } => after_ms,
                                    Fault::Vfs { .. } => None,
                                };
                                if let Some(ms) = after_ms {
                                    tokio::time::sleep(Duration::from_millis(ms)).await;
                                }
                                tokio::task::spawn_blocking(move || match fault {
                                    Fault::Full { .. } => {
                                        disk.fill().unwrap();
                                    }
                                    Fault::Lock { hold_ms, commit, .. } => {
                                        hold_write_lock(&path, hold_ms, commit, held);
                                    }
                                    Fault::Vfs { .. } => {}
                                })
                                .await
                                .unwrap()
                            })
                        });
                        if before {
                            lock_taken.await.unwrap();
                        }
                        all.extend(full_disk_round(&store, round, count).await);
                        if let Some(f) = injected {
                            f.await.unwrap();
                        }
                        // The VFS's fault ends with the round, as a full disk's with `Free`.
                        plan.disarm();
                    }
                }
            }
            disk.free().unwrap();
            // Space is back and no lock is held: a write succeeds without a restart.
            ends_with_every_write_kept(store, &path, all, 99, 4, "space is back but a write failed")
                .await;
        });
    }
}

/// Issue 19: another process holding SQLite's write lock past the busy timeout (an operator's
/// `sqlite3`, a backup) makes the writes waiting behind it fail as `busy`, never `Ok`; once it
/// lets go, writes succeed without a restart, and what was answered `Ok` is exactly what is
/// stored. Takes the busy timeout (10 s) to run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_past_the_busy_timeout_fails_writes_as_busy_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let store = store_with_token(dir.path()).await;
    let mut all = full_disk_round(&store, 0, 8).await;
    assert!(round_outcome(&all).0, "writes before the lock");
    let holder = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            let db = rusqlite::Connection::open(&path).unwrap();
            db.execute_batch("BEGIN IMMEDIATE").unwrap();
            std::thread::sleep(Duration::from_secs(12));
            db.execute_batch("ROLLBACK").unwrap();
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Writes queued behind the first ones may run once the lock is let go (after 12 s, the
    // busy timeout is 10 s): at least the first group fails; none is answered `Ok` and lost.
    let during = full_disk_round(&store, 1, 8).await;
    let (every, _) = round_outcome(&during);
    assert!(!every, "no write waited out the busy timeout");
    all.extend(during);
    holder.await.unwrap();
    ends_with_every_write_kept(store, &path, all, 2, 8, "writes after the lock was let go").await;
}

/// The fault VFS the property test uses hits what it aims at: a failed sync or write fails a
/// write as an I/O error, a full disk and a held lock fail every write until disarmed; and
/// after each, with the fault gone, the next write succeeds (no restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_vfs_fails_what_it_aims_at_and_the_writer_recovers() {
    use super::fault_vfs::{register, Injected};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let plan = register("fault-deterministic");
    let options = SqliteStore::file_options(&path)
        .busy_timeout(Duration::from_millis(50))
        .vfs("fault-deterministic");
    let store = add_token(SqliteStore::with_options(options).await.unwrap()).await;
    let mut all = Vec::new();
    for (round, kind) in [
        Injected::IoErrSync,
        Injected::Full,
        Injected::Busy,
        Injected::IoErrWrite,
    ]
    .into_iter()
    .enumerate()
    {
        let before = plan.injected();
        plan.arm(kind, 0);
        let acked = full_disk_round(&store, round, 8).await;
        plan.disarm();
        assert!(plan.injected() > before, "{kind:?} was injected");
        let refused = acked.iter().filter(|a| a.done() != Done::Ok).count();
        assert!(refused > 0, "{kind:?}: some write failed");
        if matches!(kind, Injected::Full | Injected::Busy) {
            assert_eq!(refused, acked.len(), "{kind:?} fails every write");
        }
        all.extend(acked);
        let after = full_disk_round(&store, 100 + round, 4).await;
        assert!(round_outcome(&after).0, "{kind:?}: the writer recovered");
        all.extend(after);
    }
    store.close().await;
    drop(store);
    assert_exactly_the_acknowledged(&path, all).await;
}
