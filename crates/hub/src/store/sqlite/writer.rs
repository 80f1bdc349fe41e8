//! The group-commit writer: the one task that writes API changes and upload batches.

use super::*;

/// A write waiting for the group-commit writer.
pub(super) enum PendingWrite {
    /// A comments/votes API change.
    Change {
        tenant: String,
        change: Change,
        now_ms: i64,
        reply: oneshot::Sender<StoreResult<Applied>>,
    },
    /// An upload batch (step 3).
    Upload {
        batch: UploadBatch,
        prepared: Vec<Option<Prepared>>,
        now_ms: i64,
        reply: oneshot::Sender<StoreResult<UploadOutcome>>,
    },
}

impl PendingWrite {
    /// Comments this write brings (what a commit's size is counted in).
    fn weight(&self) -> usize {
        match self {
            PendingWrite::Change { .. } => 1,
            PendingWrite::Upload { batch, .. } => batch.comments.len().max(1),
        }
    }
}

/// What one pending write did, before the commit says whether it holds.
pub(super) enum WriteResult {
    Change(Box<StoreResult<Applied>>),
    Upload(Box<StoreResult<UploadOutcome>>),
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
pub(super) async fn group_commit_writer(pool: SqlitePool, mut queue: mpsc::Receiver<PendingWrite>) {
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
                let text = e.to_string();
                for p in batch {
                    p.fail(&text);
                }
            }
        }
    }
}

/// Starts the group-commit writer on a thread of its own, with a single-threaded runtime.
/// The writer is the store's one serial path: on the server's shared workers it waited behind
/// request tasks (each parsing and preparing hundreds of comments without yielding) every time
/// its commit finished; on its own thread the kernel schedules it like any other. It stops when
/// the last sender of `queue` is dropped.
pub(super) fn spawn_writer(
    pool: SqlitePool,
    queue: mpsc::Receiver<PendingWrite>,
) -> StoreResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Database(format!("cannot start the writer's runtime: {e}")))?;
    std::thread::Builder::new()
        .name("hub-writer".into())
        .spawn(move || runtime.block_on(group_commit_writer(pool, queue)))
        .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
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
                now_ms,
                ..
            } => {
                sqlx::query("SAVEPOINT pending_write")
                    .execute(&mut *tx)
                    .await?;
                let result = apply_in(&mut tx, tenant, change.clone(), *now_ms).await;
                if result.is_err() {
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
                now_ms,
                ..
            } => match upload_in(&mut tx, batch, prepared, *now_ms).await {
                Ok(outcome) => results.push(WriteResult::Upload(Box::new(Ok(outcome)))),
                Err(e) => {
                    tx.rollback().await?;
                    return Err(GroupFailure::Upload(i, e));
                }
            },
        }
    }
    tx.commit().await?;
    Ok(results)
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
            // Results are made in the order of the writes, one each, of the same kind.
            (p, _) => p.fail("the SQLite writer lost track of a write"),
        }
    }

    /// Answers the writer with an error.
    fn fail(self, text: &str) {
        let err = || StoreError::Database(text.to_owned());
        match self {
            PendingWrite::Change { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            PendingWrite::Upload { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
        }
    }
}

pub(super) async fn apply(
    store: &SqliteStore,
    tenant: &str,
    change: Change,
    now_ms: i64,
) -> StoreResult<Applied> {
    let (reply, answer) = oneshot::channel();
    store
        .queue_write(PendingWrite::Change {
            tenant: tenant.to_owned(),
            change,
            now_ms,
            reply,
        })
        .await?;
    answer.await.map_err(|_| writer_stopped())?
}

pub(super) async fn upload(
    store: &SqliteStore,
    batch: UploadBatch,
    now_ms: i64,
) -> StoreResult<UploadOutcome> {
    let (reply, answer) = oneshot::channel();
    let prepared = domain::upload::prepare_upload(&batch.comments, &batch.tenant_id, now_ms)?;
    store
        .queue_write(PendingWrite::Upload {
            batch,
            prepared,
            now_ms,
            reply,
        })
        .await?;
    answer.await.map_err(|_| writer_stopped())?
}
