//! Step 3: send the host's comments in keyset batches.
//!
//! - Batches are read with [`CommentSource::page`] after the saved keyset cursor — never by
//!   offset or date.
//! - Up to `concurrency` batches are in flight, but results are taken in dispatch order and the
//!   cursor moves only over the contiguous accepted prefix; a failure drops the rest (they are
//!   re-sent later; the hub upserts).
//! - A 413 splits only that batch in half, recursively, and lowers the size of later pages.
//! - `countRemaining` is what the source holds after the batch (counted, so it stays right
//!   across restarts); the finishing batch (`countRemaining: 0`) goes out only after every other
//!   batch was accepted, so the hub never marks an upload finished that has holes.

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::sink::EventSink;
use crate::source::{CommentSource, LocalComment, LocalId};
use crate::state::{Durability, IntegrationState, StateStore};
use async_trait::async_trait;
use fastcomments_protocol::{UploadRequest, UploadResponse};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Sends one upload request (the HTTP transport, or a fake in tests).
#[async_trait]
pub trait BatchSender: Send + Sync {
    /// `POST /integrations/v1/comments`; a 413 must come back as `Error::Hub { status: 413, .. }`.
    async fn send(&self, request: &UploadRequest) -> Result<UploadResponse>;
}

/// What an upload needs from the rest of the integration.
pub(crate) struct UploadCtx<'a> {
    pub sender: &'a dyn BatchSender,
    pub source: &'a dyn CommentSource,
    pub sink: &'a dyn EventSink,
    pub store: &'a dyn StateStore,
    pub progress: &'a (dyn Fn(&Progress) + Send + Sync),
    pub concurrency: usize,
}

/// A batch the hub accepted.
struct Accepted {
    last: Option<LocalId>,
    count: u64,
    ids: Vec<(LocalId, String)>,
}

/// The key the hub upserts on for `c`: its hub id when known, else its external id (defaulted
/// to the local id).
fn request_for(comments: &[LocalComment], start: u64, remaining: u64) -> UploadRequest {
    let comments = comments
        .iter()
        .map(|lc| {
            let mut c = lc.comment.clone();
            if c.external_id.is_none() && c.id.is_none() {
                c.external_id = Some(lc.id.0.clone());
            }
            c
        })
        .collect();
    UploadRequest {
        start: Some(start as i64),
        has_more: Some(remaining > 0),
        count_remaining: Some(remaining as i64),
        comments,
        extra: Default::default(),
    }
}

fn id_pairs(comments: &[LocalComment], response: &UploadResponse) -> Vec<(LocalId, String)> {
    let mut by_ext: HashMap<&str, &LocalId> = HashMap::with_capacity(comments.len());
    for lc in comments {
        match (&lc.comment.external_id, &lc.comment.id) {
            (Some(e), _) => {
                by_ext.insert(e.as_str(), &lc.id);
            }
            (None, None) => {
                by_ext.insert(lc.id.0.as_str(), &lc.id);
            }
            (None, Some(_)) => {}
        }
    }
    response
        .comment_ids
        .iter()
        .filter_map(|(ext, hub)| {
            by_ext
                .get(ext.as_str())
                .map(|l| ((*l).clone(), hub.clone()))
        })
        .collect()
}

/// Sends `comments` (followed by `remaining` more), halving on 413.
fn send_split<'a>(
    sender: &'a dyn BatchSender,
    comments: &'a [LocalComment],
    start: u64,
    remaining: u64,
    limit: &'a AtomicUsize,
) -> BoxFuture<'a, Result<Vec<(LocalId, String)>>> {
    Box::pin(async move {
        let request = request_for(comments, start, remaining);
        match sender.send(&request).await {
            Ok(response) => Ok(id_pairs(comments, &response)),
            Err(Error::Hub { status: 413, .. }) => {
                if comments.len() <= 1 {
                    return Err(Error::CommentTooLarge {
                        local_id: comments.first().map(|c| c.id.0.clone()).unwrap_or_default(),
                    });
                }
                let mid = comments.len() / 2;
                limit.fetch_min(mid.max(1), Ordering::Relaxed);
                tracing::info!(
                    size = comments.len(),
                    "batch over the hub's limit; halving it"
                );
                let tail = (comments.len() - mid) as u64;
                let mut ids =
                    send_split(sender, &comments[..mid], start, remaining + tail, limit).await?;
                ids.extend(
                    send_split(
                        sender,
                        &comments[mid..],
                        start + mid as u64,
                        remaining,
                        limit,
                    )
                    .await?,
                );
                Ok(ids)
            }
            Err(e) => Err(e),
        }
    })
}

async fn send_batch(
    sender: &dyn BatchSender,
    comments: Vec<LocalComment>,
    start: u64,
    remaining: u64,
    limit: &AtomicUsize,
) -> Result<Accepted> {
    let ids = send_split(sender, &comments, start, remaining, limit).await?;
    Ok(Accepted {
        last: comments.last().map(|c| c.id.clone()),
        count: comments.len() as u64,
        ids,
    })
}

impl UploadCtx<'_> {
    async fn accept(&self, state: &mut IntegrationState, acc: Accepted, total: u64) -> Result<()> {
        if !acc.ids.is_empty() {
            self.sink.map_ids(&acc.ids).await.map_err(Error::Sink)?;
        }
        if let Some(last) = acc.last {
            state.upload.after = Some(last);
        }
        state.upload.sent += acc.count;
        let uploaded = Progress::Uploaded {
            sent: state.upload.sent,
            total: total.max(state.upload.sent),
        };
        self.save_then_report(state, Durability::Progress, uploaded)
            .await
    }

    /// Saves `state` (as `durability` says), then reports `progress`.
    async fn save_then_report(
        &self,
        state: &IntegrationState,
        durability: Durability,
        progress: Progress,
    ) -> Result<()> {
        self.store
            .save(state, durability)
            .await
            .map_err(Error::State)?;
        (self.progress)(&progress);
        Ok(())
    }

    /// Uploads everything after `state.upload.after`, then the finishing batch. Returns how
    /// many comments this call sent.
    pub(crate) async fn upload_all(
        &self,
        state: &mut IntegrationState,
        max_batch: usize,
    ) -> Result<u64> {
        let src = |e| Error::Source(e);
        let sent_before = state.upload.sent;
        let mut read_after = state.upload.after.clone();
        let mut remaining = self
            .source
            .count_after(read_after.as_ref())
            .await
            .map_err(src)?;
        let total = state.upload.sent + remaining;
        (self.progress)(&Progress::UploadStarted {
            sent: state.upload.sent,
            total,
        });
        let limit = AtomicUsize::new(max_batch.max(1));
        let mut inflight = FuturesOrdered::new();
        let mut dispatched = state.upload.sent;
        let mut final_batch: Option<Vec<LocalComment>> = None;
        loop {
            while final_batch.is_none() && inflight.len() < self.concurrency.max(1) {
                let page = self
                    .source
                    .page(read_after.as_ref(), limit.load(Ordering::Relaxed))
                    .await
                    .map_err(src)?;
                let Some(last) = page.last().map(|c| c.id.clone()) else {
                    final_batch = Some(Vec::new());
                    break;
                };
                let n = page.len() as u64;
                remaining = remaining.saturating_sub(n);
                if remaining == 0 {
                    // The estimate says this is the end: make sure (comments may have been added).
                    remaining = self.source.count_after(Some(&last)).await.map_err(src)?;
                }
                if remaining == 0 {
                    final_batch = Some(page);
                    break;
                }
                read_after = Some(last);
                let start = dispatched;
                dispatched += n;
                let limit = &limit;
                inflight.push_back(send_batch(self.sender, page, start, remaining, limit));
            }
            match inflight.next().await {
                Some(acc) => self.accept(state, acc?, total).await?,
                None => break,
            }
        }
        drop(inflight);
        let last = final_batch.unwrap_or_default();
        let acc = send_batch(self.sender, last, dispatched, 0, &limit).await?;
        self.accept(state, acc, total).await?;
        state.upload.finished = true;
        let finished = Progress::UploadFinished {
            sent: state.upload.sent,
        };
        self.save_then_report(state, Durability::Durable, finished)
            .await?;
        Ok(state.upload.sent - sent_before)
    }
}

#[cfg(test)]
mod tests;
