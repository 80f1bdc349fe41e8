//! An import's life: the file, spooled to disk as it arrives, is read as it grows on a
//! blocking thread by its format's parser (so parsing overlaps the upload); the comments it
//! yields are stored in batches through the upload path, and the import's record is stored at
//! most every second while it runs (after a batch, or while it waits for more of the upload),
//! so `GET /api/v1/imports/{id}` shows its progress from any node. Memory holds a few batches
//! and the parser's state, whatever the file's size. An upload that stops short ends the import
//! `failed` with where it stopped; the batches stored before stay (a rerun converges).
//!
//! [`IN_FLIGHT`] batches are stored at once, as a plugin's uploads may be: while one commits
//! (waiting for the disk), the next is checked and written. A reply whose parent is in a batch
//! still running is linked when the later of the two commits, as for a plugin (`link_late` in
//! the stores); counts are taken from each batch's outcome, in the file's order.

use super::spool::SpoolReader;
use super::{Format, Item, Problem};
use crate::hub::Hub;
use crate::ids::TenantId;
use crate::records::UploadOutcome;
use crate::records::{
    EntryKind, ImportProblem, ImportRecord, ImportState, IntegrationToken, UploadBatch,
};
use crate::store::StoreResult;
use fastcomments_protocol::{EventType, UploadComment};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Comments stored per transaction.
pub const BATCH: usize = 1000;

/// Batches being stored at once: while one commits, the next is checked and written (a
/// 1,000,000-comment import on PostgreSQL went from 14,596/s to 21,700–27,119/s, BENCHMARKS.md).
/// Each one more holds another batch in memory; more than two were not measured.
const IN_FLIGHT: usize = 2;

/// How often an import's progress is stored while it runs (each store is a commit of its own).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn problem(p: Problem) -> ImportProblem {
    ImportProblem {
        line: p.line,
        column: p.column,
        message: p.message,
    }
}

/// Runs the import of the upload `spool` reads for `record`, to its end.
pub async fn run(hub: Arc<Hub>, mut record: ImportRecord, format: Format, spool: SpoolReader) {
    let watch = spool.watch();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(4 * BATCH);
    let parser = tokio::task::spawn_blocking(move || {
        let r = std::io::BufReader::with_capacity(256 * 1024, spool);
        format.read(r, &mut |item| tx.blocking_send(item).is_ok())
    });
    let tenant = record.tenant_id.clone();
    let token = if record.dry_run {
        None
    } else {
        match hub.import_token(&tenant).await {
            Ok(t) => Some(t),
            Err(e) => {
                watch.stop();
                record.problem(problem(Problem::at((1, 1), e.reason)));
                return finish(&hub, record, ImportState::Failed, None).await;
            }
        }
    };
    let mut batch: Vec<UploadComment> = Vec::with_capacity(BATCH);
    let mut running = Running::default();
    let mut failed = false;
    let mut progress = Progress::new(&record);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            // A batch stored is counted at once, not when the next one is full.
            stored = running.oldest(), if !running.is_empty() => {
                if let Some((sent, outcome)) = stored {
                    if !account(&mut record, sent, outcome) {
                        failed = true;
                        break;
                    }
                }
                progress.save(&hub, &mut record).await;
                continue;
            }
            // Waiting for more of a slow upload: what was read so far is shown all the same.
            _ = tick.tick() => {
                progress.save(&hub, &mut record).await;
                continue;
            }
        };
        let Some(item) = item else { break };
        record.read += 1;
        match item {
            Item::Comment(c) => batch.push(*c),
            Item::Skipped(_) => record.skipped += 1,
            Item::Problem(p) => record.problem(problem(p)),
        }
        if batch.len() >= BATCH {
            if running.len() >= IN_FLIGHT && !running.finish_oldest(&mut record).await {
                failed = true;
                break;
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            running.start(&hub, &tenant, token.as_ref(), full);
            progress.save(&hub, &mut record).await;
        }
    }
    // Dropping the receiver stops the parser at its next record; a parser waiting for more of
    // the upload is stopped by the watch.
    drop(rx);
    if !failed {
        running.start(&hub, &tenant, token.as_ref(), batch);
    }
    // Batches already sent are waited for even after a failure: they may have committed, and
    // the counts say what is stored.
    while !running.is_empty() {
        failed |= !running.finish_oldest(&mut record).await;
    }
    if failed {
        watch.stop();
    }
    let state = match parser.await {
        Ok(Ok(())) if !failed => ImportState::Done,
        Ok(Ok(())) => ImportState::Failed,
        Ok(Err(p)) if failed => {
            // The parser was stopped by the failure already noted.
            tracing::debug!(import = %record.id, problem = %p.message, "an import's parser stopped");
            ImportState::Failed
        }
        Ok(Err(p)) => {
            // At the end of a cut-short upload the parser's error is the cut: said as such.
            let message = watch.cut().unwrap_or(p.message);
            record.problem(problem(Problem::at((p.line, p.column), message)));
            ImportState::Failed
        }
        Err(e) => {
            record.problem(problem(Problem::at(
                (1, 1),
                format!("the parser stopped: {e}"),
            )));
            ImportState::Failed
        }
    };
    finish(&hub, record, state, token).await;
}

/// When an import's record was last stored, and what it said then.
struct Progress {
    read: u64,
}

impl Progress {
    fn new(record: &ImportRecord) -> Progress {
        Progress { read: record.read }
    }

    /// Stores the record when it moved on and the last store is a second old.
    async fn save(&mut self, hub: &Hub, record: &mut ImportRecord) {
        let now = hub.now().0;
        if record.read == self.read || now - record.updated_at < PROGRESS_EVERY.as_millis() as i64 {
            return;
        }
        record.updated_at = now;
        self.read = record.read;
        if let Err(e) = hub.save_import(record).await {
            tracing::warn!(import = %record.id, error = %e, "an import's progress was not stored");
        }
    }
}

/// The batches being stored, oldest first, each with its size.
#[derive(Default)]
struct Running {
    batches: VecDeque<(u64, JoinHandle<StoreResult<UploadOutcome>>)>,
}

impl Running {
    fn len(&self) -> usize {
        self.batches.len()
    }

    fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Starts storing `comments` (nothing for an empty batch or a dry run, which checks and
    /// counts but stores nothing).
    fn start(
        &mut self,
        hub: &Arc<Hub>,
        tenant: &TenantId,
        token: Option<&IntegrationToken>,
        comments: Vec<UploadComment>,
    ) {
        let Some(token) = token.filter(|_| !comments.is_empty()) else {
            return;
        };
        let sent = comments.len() as u64;
        let batch = UploadBatch {
            tenant_id: tenant.clone(),
            token: token.clone(),
            comments,
            finishes_upload: false,
        };
        let hub = hub.clone();
        let task = tokio::spawn(async move { hub.upload(batch).await });
        self.batches.push_back((sent, task));
    }

    /// Waits for the oldest batch to be stored; its size and outcome. Cancel-safe: dropped
    /// before the batch ends, it leaves the batch where it was.
    async fn oldest(&mut self) -> Option<(u64, StoreResult<UploadOutcome>)> {
        let (sent, task) = self.batches.front_mut()?;
        let sent = *sent;
        let outcome = task
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::database(e.to_string())));
        self.batches.pop_front();
        Some((sent, outcome))
    }

    /// Waits for the oldest batch and counts it in `record`; `false` when it was not stored.
    async fn finish_oldest(&mut self, record: &mut ImportRecord) -> bool {
        match self.oldest().await {
            Some((sent, outcome)) => account(record, sent, outcome),
            None => true,
        }
    }
}

/// Counts a batch of `sent` comments in `record`; `false` when it was not stored (noted in the
/// record as a problem).
fn account(record: &mut ImportRecord, sent: u64, outcome: StoreResult<UploadOutcome>) -> bool {
    match outcome {
        Ok(outcome) => {
            count(record, sent, &outcome);
            true
        }
        Err(e) => {
            tracing::warn!(import = %record.id, error = %e, "an import's batch was not stored");
            record.problem(problem(Problem::at(
                (0, 0),
                format!("a batch of {sent} comments was not stored ({e}); run the import again"),
            )));
            false
        }
    }
}

/// Counts a stored batch of `sent` comments in `record`.
fn count(record: &mut ImportRecord, sent: u64, outcome: &UploadOutcome) {
    let events = |kind: EventType| {
        outcome
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Event(kind))
            .count() as u64
    };
    let created = events(EventType::NewComment);
    // A waiting reply linked to its parent is an update of a comment not in the batch.
    let updated = events(EventType::UpdatedComment).min(sent - created.min(sent));
    record.created += created;
    record.updated += updated;
    record.unchanged += sent.saturating_sub(created + updated);
}

async fn finish(
    hub: &Hub,
    mut record: ImportRecord,
    state: ImportState,
    token: Option<IntegrationToken>,
) {
    if let Some(token) = token {
        if let Err(e) = hub.revoke_token(&token).await {
            tracing::warn!(import = %record.id, error = %e, "an import's token was not revoked");
        }
    }
    record.state = state;
    record.updated_at = hub.now().0;
    if let Err(e) = hub.save_import(&record).await {
        tracing::error!(import = %record.id, error = %e, "an import's end was not stored");
    }
}
