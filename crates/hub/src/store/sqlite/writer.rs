//! The group-commit writer: the one task that writes API changes and upload batches.

use crate::ids::TenantId;
use crate::records::Applied;
use crate::records::Change;
use crate::records::UploadBatch;
use crate::records::UploadOutcome;
use crate::rules;
use crate::rules::upload::Prepared;
use crate::store::sqlite::apply_in;
use crate::store::sqlite::on_own_handle;
use crate::store::sqlite::upload_in;
use crate::store::sqlite::writer_stopped;
use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::sqlite::SqliteConnection;
use sqlx::SqlitePool;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::sync::oneshot;

/// A write waiting for the group-commit writer.
pub(super) enum PendingWrite {
    /// A comments/votes API change.
    Change {
        tenant: TenantId,
        change: Change,
        now: Millis,
        reply: oneshot::Sender<StoreResult<Applied>>,
    },
    /// An upload batch (step 3).
    Upload {
        batch: UploadBatch,
        prepared: Vec<Option<Prepared>>,
        now: Millis,
        reply: oneshot::Sender<StoreResult<UploadOutcome>>,
    },
    /// A write that changes nothing the hub reads ([`probe_write`]): whether a commit can
    /// happen now, for `/readyz` while writes are failing.
    Probe {
        reply: oneshot::Sender<StoreResult<()>>,
    },
}

impl PendingWrite {
    /// Comments this write brings (what a commit's size is counted in).
    fn weight(&self) -> usize {
        match self {
            PendingWrite::Change { .. } => 1,
            PendingWrite::Upload { batch, .. } => batch.comments.len().max(1),
            PendingWrite::Probe { .. } => 1,
        }
    }
}

/// What one pending write did, before the commit says whether it holds.
pub(super) enum WriteResult {
    Change(Box<StoreResult<Applied>>),
    Upload(Box<StoreResult<UploadOutcome>>),
    Probe,
}

/// Most writes one commit covers.
pub(super) const GROUP_COMMIT_MAX: usize = 256;
/// Most comments one commit covers (upload batches count their comments): bounds the
/// transaction's size and the latency of the writes queued behind it.
pub(super) const GROUP_COMMIT_MAX_WEIGHT: usize = 4_000;

/// The group-commit writer: every write (API change or upload batch) that arrives while a
/// commit is under way joins the next transaction, so N concurrent writers share one fsync
/// instead of paying N, and the index pages that many writes touch go to the WAL once per
/// commit. An API change runs inside a savepoint (one that fails, e.g. on a missing comment,
/// rolls back alone). An upload batch runs without one: a savepoint copies every page the batch
/// touches into SQLite's sub-journal, which cost the upload path about a sixth of its writer
/// time. So if an upload fails, the whole transaction rolls back, that upload gets its error and
/// the others run again in a new transaction.
///
/// A group answers its writes only after its COMMIT returned: a write is answered `Ok` only
/// when it is committed (and, at `synchronous=FULL`, durable). When SQLite ends the
/// transaction by itself (`SQLITE_FULL`, `SQLITE_IOERR`, … may roll back the whole transaction,
/// not only the statement), every write of the group is answered with that error, and the next
/// group starts on a connection proven to be outside any transaction ([`connection_is_clean`],
/// checked on every acquire): the writer never goes on as if the rolled-back transaction were
/// still open. `health` says whether the last group committed.
pub(super) async fn group_commit_writer(
    pool: SqlitePool,
    health: WriteHealth,
    mut queue: mpsc::Receiver<PendingWrite>,
) {
    let mut carried: Vec<PendingWrite> = Vec::new();
    loop {
        let mut batch = std::mem::take(&mut carried);
        if batch.is_empty() {
            match queue.recv().await {
                Some(first) => batch.push(first),
                None => return,
            }
        }
        let mut weight: usize = batch.iter().map(PendingWrite::weight).sum();
        while batch.len() < GROUP_COMMIT_MAX && weight < GROUP_COMMIT_MAX_WEIGHT {
            match queue.try_recv() {
                Ok(next) => {
                    weight += next.weight();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        match run_group(&pool, &mut batch).await {
            Ok(results) => {
                health.committed();
                for (p, r) in batch.into_iter().zip(results) {
                    p.answer(r);
                }
            }
            Err(GroupFailure::Upload(at, e)) => {
                // Everything before `at` was rolled back with it: run the rest again.
                let mut rest = batch;
                let failed = rest.remove(at);
                failed.answer(WriteResult::Upload(Box::new(Err(e))));
                carried = rest;
            }
            Err(GroupFailure::Database(e)) => {
                health.failed(&e);
                for p in batch {
                    p.fail(&e);
                }
            }
        }
    }
}

/// Whether the writer's last transaction committed: `/readyz` answers not-ready, with the
/// reason, while it did not. Shared by the writer and the store.
#[derive(Debug, Clone, Default)]
pub(super) struct WriteHealth(Arc<parking_lot::Mutex<Option<StoreError>>>);

impl WriteHealth {
    fn committed(&self) {
        *self.0.lock() = None;
    }

    fn failed(&self, e: &StoreError) {
        *self.0.lock() = Some(e.clone());
    }

    /// The error of the last group, if it failed.
    pub(super) fn failing(&self) -> Option<StoreError> {
        self.0.lock().clone()
    }
}

/// Whether `conn` is outside any transaction, by SQLite's own word (`sqlite3_get_autocommit`)
/// and by sqlx's count of the transactions it opened. After an error that ended SQLite's
/// transaction by itself, or a ROLLBACK that failed, the two can disagree, and the next
/// `begin()` would open a savepoint inside a transaction nobody commits: every write after it
/// would be answered `Ok` and lost. A connection that is not provably clean is closed by the
/// pool (`after_release` returns `false`) and a fresh one opened.
pub(super) async fn connection_is_clean(conn: &mut SqliteConnection) -> bool {
    use sqlx::Connection;
    // `on_own_handle` waits for the connection's worker to finish what was queued before it,
    // such as the ROLLBACK a dropped transaction queues, so the answer is after those.
    let autocommit = on_own_handle(conn, |db| Ok(db.is_autocommit())).await;
    let clean = matches!(autocommit, Ok(true)) && !conn.is_in_transaction();
    if !clean {
        tracing::warn!(
            sqlite_autocommit = ?autocommit.ok(),
            sqlx_in_transaction = conn.is_in_transaction(),
            "a writer connection was left inside a transaction after an error; closing it"
        );
    }
    clean
}

/// Starts the group-commit writer on a thread of its own, with a single-threaded runtime.
/// The writer is the store's one serial path: on the server's shared workers it waited behind
/// request tasks (each parsing and preparing hundreds of comments without yielding) every time
/// its commit finished; on its own thread the kernel schedules it like any other. It stops when
/// the last sender of `queue` is dropped.
pub(super) fn spawn_writer(
    pool: SqlitePool,
    health: WriteHealth,
    queue: mpsc::Receiver<PendingWrite>,
) -> StoreResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::database(format!("cannot start the writer's runtime: {e}")))?;
    std::thread::Builder::new()
        .name("hub-writer".into())
        .spawn(move || runtime.block_on(group_commit_writer(pool, health, queue)))
        .map_err(|e| StoreError::database(format!("cannot start the writer thread: {e}")))?;
    Ok(())
}

/// Why a group's transaction did not commit.
pub(super) enum GroupFailure {
    /// The upload at this index failed (the transaction was rolled back).
    Upload(usize, StoreError),
    /// The transaction itself failed.
    Database(StoreError),
}

impl From<sqlx::Error> for GroupFailure {
    fn from(e: sqlx::Error) -> GroupFailure {
        GroupFailure::Database(e.into())
    }
}

/// Runs a group of writes in one transaction and commits it.
pub(super) async fn run_group(
    pool: &SqlitePool,
    batch: &mut [PendingWrite],
) -> Result<Vec<WriteResult>, GroupFailure> {
    let mut results: Vec<WriteResult> = Vec::with_capacity(batch.len());
    let mut tx = pool.begin().await?;
    for (i, p) in batch.iter_mut().enumerate() {
        match p {
            PendingWrite::Change {
                tenant,
                change,
                now,
                ..
            } => {
                sqlx::query("SAVEPOINT pending_write")
                    .execute(&mut *tx)
                    .await?;
                let result = apply_in(&mut tx, tenant, change.clone(), *now).await;
                if let Err(e) = &result {
                    // SQLite may have rolled the whole transaction back (a full disk, an I/O
                    // error): then there is no savepoint to return to, and the group's earlier
                    // writes are gone with it. Ask SQLite rather than assume.
                    if e.fault().is_some() && !transaction_is_open(&mut tx).await {
                        return Err(GroupFailure::Database(e.clone()));
                    }
                    sqlx::query("ROLLBACK TO pending_write")
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("RELEASE pending_write")
                    .execute(&mut *tx)
                    .await?;
                results.push(WriteResult::Change(Box::new(result)));
            }
            PendingWrite::Upload {
                batch,
                prepared,
                now,
                ..
            } => match upload_in(&mut tx, batch, prepared, *now).await {
                Ok(outcome) => results.push(WriteResult::Upload(Box::new(Ok(outcome)))),
                // A storage fault fails the whole group: running the others again on the same
                // full disk would only fail them one at a time.
                Err(e) if e.fault().is_some() => return Err(GroupFailure::Database(e)),
                Err(e) => {
                    tx.rollback().await?;
                    return Err(GroupFailure::Upload(i, e));
                }
            },
            PendingWrite::Probe { .. } => {
                // 64 KiB of fresh pages, as a batch of comments needs: a probe of one small
                // row could still fit in the room a refused commit left in the log, and say
                // ready while the hub's own writes cannot (a file-size limit, a disk with a
                // few pages free). The row is replaced by each probe, so it never grows.
                sqlx::query(
                    "INSERT INTO write_probe (id, n) VALUES (1, randomblob(65536)) \
                     ON CONFLICT (id) DO UPDATE SET n = randomblob(65536)",
                )
                .execute(&mut *tx)
                .await?;
                results.push(WriteResult::Probe);
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// Whether SQLite still has `tx`'s transaction open (it may have rolled it back by itself).
async fn transaction_is_open(tx: &mut SqliteConnection) -> bool {
    matches!(
        on_own_handle(tx, |db| Ok(db.is_autocommit())).await,
        Ok(false)
    )
}

impl PendingWrite {
    /// Answers the writer with its result.
    fn answer(self, result: WriteResult) {
        match (self, result) {
            (PendingWrite::Change { reply, .. }, WriteResult::Change(r)) => {
                let _ = reply.send(*r);
            }
            (PendingWrite::Upload { reply, .. }, WriteResult::Upload(r)) => {
                let _ = reply.send(*r);
            }
            (PendingWrite::Probe { reply }, WriteResult::Probe) => {
                let _ = reply.send(Ok(()));
            }
            // Results are made in the order of the writes, one each, of the same kind.
            (p, _) => p.fail(&StoreError::database(
                "the SQLite writer lost track of a write",
            )),
        }
    }

    /// Answers the writer with an error.
    fn fail(self, e: &StoreError) {
        match self {
            PendingWrite::Change { reply, .. } => {
                let _ = reply.send(Err(e.clone()));
            }
            PendingWrite::Upload { reply, .. } => {
                let _ = reply.send(Err(e.clone()));
            }
            PendingWrite::Probe { reply } => {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

pub(super) async fn apply(
    store: &SqliteStore,
    tenant: &TenantId,
    change: Change,
    now: Millis,
) -> StoreResult<Applied> {
    let (reply, answer) = oneshot::channel();
    store
        .queue_write(PendingWrite::Change {
            tenant: tenant.clone(),
            change,
            now,
            reply,
        })
        .await?;
    answer.await.map_err(|_| writer_stopped())?
}

pub(super) async fn upload(
    store: &SqliteStore,
    batch: UploadBatch,
    now: Millis,
) -> StoreResult<UploadOutcome> {
    let (reply, answer) = oneshot::channel();
    let prepared = rules::upload::prepare_upload(&batch.comments, &batch.tenant_id, now)?;
    store
        .queue_write(PendingWrite::Upload {
            batch,
            prepared,
            now,
            reply,
        })
        .await?;
    answer.await.map_err(|_| writer_stopped())?
}

/// Runs a write that changes nothing the hub reads through the writer: `Ok` when a commit can
/// happen now. `/readyz` asks this while writes are failing, so it turns ready again when
/// space comes back even if no client writes.
pub(super) async fn probe_write(store: &SqliteStore) -> StoreResult<()> {
    let (reply, answer) = oneshot::channel();
    store.queue_write(PendingWrite::Probe { reply }).await?;
    answer.await.map_err(|_| writer_stopped())?
}
