//! Where hub events land: the host's [`EventSink`].

use crate::error::HostError;
use crate::source::LocalId;
use async_trait::async_trait;
use fastcomments_protocol::{Comment, EventType, Millis, Vote};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// What an event changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `new-comment`.
    NewComment(Comment),
    /// `updated-comment`: the comment as it is now.
    UpdatedComment(Comment),
    /// `deleted-comment`: the comment as it was.
    DeletedComment(Comment),
    /// `new-vote`: adjust the counts of `vote.comment_id`.
    NewVote(Vote),
    /// `deleted-vote`: undo that adjustment.
    DeletedVote(Vote),
}

impl Change {
    /// The wire name of the event type.
    pub fn event_type(&self) -> EventType {
        match self {
            Change::NewComment(_) => EventType::NewComment,
            Change::UpdatedComment(_) => EventType::UpdatedComment,
            Change::DeletedComment(_) => EventType::DeletedComment,
            Change::NewVote(_) => EventType::NewVote,
            Change::DeletedVote(_) => EventType::DeletedVote,
        }
    }

    /// Builds a change from an event's parts; `None` when the payload the type needs is missing.
    pub fn from_parts(
        kind: EventType,
        comment: Option<Comment>,
        vote: Option<Vote>,
    ) -> Option<Change> {
        Some(match kind {
            EventType::NewComment => Change::NewComment(comment?),
            EventType::UpdatedComment => Change::UpdatedComment(comment?),
            EventType::DeletedComment => Change::DeletedComment(comment?),
            EventType::NewVote => Change::NewVote(vote?),
            EventType::DeletedVote => Change::DeletedVote(vote?),
        })
    }
}

/// One timeline event, protocol-independent.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncEvent {
    /// The timeline entry's id.
    pub id: String,
    /// Its position on the tenant's timeline (strictly increasing).
    pub created_at: Millis,
    /// The thread.
    pub url_id: String,
    /// What it changes.
    pub change: Change,
}

/// Where the host applies hub events.
///
/// Delivery is at-least-once: after a crash, the events since the saved cursor come again, so
/// applying an event twice (or a suffix of events twice, in order) must leave the same state.
/// A simple way: remember, per comment, the position of the last event applied to it and skip
/// events at or before it; keep applied vote ids so counts move once per vote.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Applies one event idempotently.
    async fn apply(&self, event: &SyncEvent) -> Result<(), HostError>;

    /// Applies a page of events in order; override to do it in one transaction.
    async fn apply_page(&self, events: &[SyncEvent]) -> Result<(), HostError> {
        for e in events {
            self.apply(e).await?;
        }
        Ok(())
    }

    /// Records that local comment `local` is `hub_id` on the hub (after an accepted upload).
    async fn map_ids(&self, pairs: &[(LocalId, String)]) -> Result<(), HostError>;

    /// A page of the hub's comments as they are now, during a re-sync after a gap. `as_of` is
    /// the cursor every later event will come after. The default applies them as updates.
    async fn resync_page(&self, comments: &[Comment], as_of: Millis) -> Result<(), HostError> {
        for c in comments {
            self.apply(&SyncEvent {
                id: format!("resync-{}", c.id),
                created_at: as_of,
                url_id: c.url_id.clone(),
                change: Change::UpdatedComment(c.clone()),
            })
            .await?;
        }
        Ok(())
    }

    /// The re-sync is complete: `present` holds every hub id the hub still has. Sinks that can
    /// should drop the hub comments not in it (deleted during the gap). Default: nothing.
    async fn resync_finished(&self, present: &HashSet<String>) -> Result<(), HostError> {
        let _ = present;
        Ok(())
    }
}

/// An [`EventSink`] in memory: hub comments by id, with vote counts kept. For tests and demos.
///
/// Idempotence comes from positions: each comment remembers the timeline position of the last
/// event applied to it, and older or equal events are skipped.
#[derive(Debug, Default)]
pub struct MemorySink {
    inner: Mutex<MemorySinkInner>,
}

#[derive(Debug, Default)]
struct MemorySinkInner {
    comments: HashMap<String, (Comment, i64)>,
    ids: HashMap<LocalId, String>,
    applied: Vec<String>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The comments held, sorted by hub id.
    pub fn comments(&self) -> Vec<Comment> {
        let Ok(g) = self.inner.lock() else {
            return Vec::new();
        };
        let mut v: Vec<Comment> = g.comments.values().map(|(c, _)| c.clone()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Local id → hub id, as mapped after uploads.
    pub fn id_map(&self) -> HashMap<LocalId, String> {
        self.inner.lock().map(|g| g.ids.clone()).unwrap_or_default()
    }

    /// Ids of every event applied, in order (with repeats, if any were delivered twice).
    pub fn applied(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|g| g.applied.clone())
            .unwrap_or_default()
    }
}

fn adjust(c: &mut Comment, vote: &Vote, sign: i64) {
    let d = vote.direction.as_i64();
    c.votes += d * sign;
    if d > 0 {
        c.votes_up += sign;
    } else {
        c.votes_down += sign;
    }
}

#[async_trait]
impl EventSink for MemorySink {
    async fn apply(&self, e: &SyncEvent) -> Result<(), HostError> {
        let mut g = self.inner.lock().map_err(|_| HostError::from("poisoned"))?;
        g.applied.push(e.id.clone());
        let pos = e.created_at.0;
        match &e.change {
            Change::NewComment(c) | Change::UpdatedComment(c) => {
                let stale = g.comments.get(&c.id).is_some_and(|(_, at)| *at >= pos);
                if !stale {
                    g.comments.insert(c.id.clone(), (c.clone(), pos));
                }
            }
            Change::DeletedComment(c) => {
                g.comments.remove(&c.id);
            }
            Change::NewVote(v) | Change::DeletedVote(v) => {
                let sign = if matches!(e.change, Change::NewVote(_)) {
                    1
                } else {
                    -1
                };
                if let Some((c, at)) = g.comments.get_mut(&v.comment_id) {
                    if *at < pos {
                        adjust(c, v, sign);
                        *at = pos;
                    }
                }
            }
        }
        Ok(())
    }

    async fn map_ids(&self, pairs: &[(LocalId, String)]) -> Result<(), HostError> {
        let mut g = self.inner.lock().map_err(|_| HostError::from("poisoned"))?;
        for (l, h) in pairs {
            g.ids.insert(l.clone(), h.clone());
        }
        Ok(())
    }
}
