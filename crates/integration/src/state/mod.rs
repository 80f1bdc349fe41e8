//! The integration's persistent state, one record saved atomically, and the stores that keep it.
//!
//! Everything the state machine must not forget across a crash lives in [`IntegrationState`]:
//! the token, the tenant it is bound to, the timeline cursor, the upload's keyset cursor and the
//! setup flag. Hosts implement [`StateStore`] (load / save one record atomically) or use a ready
//! store: [`MemoryStateStore`], [`JsonFileStateStore`] (write temp + fsync + rename),
//! [`SqliteStateStore`].

mod file;
mod sqlite;

pub use file::JsonFileStateStore;
pub use sqlite::SqliteStateStore;

use crate::error::HostError;
use crate::source::LocalId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// Where the initial upload (step 3) stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadProgress {
    /// Keyset cursor: the last local id of the contiguous prefix the hub accepted.
    pub after: Option<LocalId>,
    /// How many comments that prefix holds.
    pub sent: u64,
    /// The hub was told the upload is finished (`countRemaining: 0`) and accepted it.
    pub finished: bool,
}

/// One remembered event id (see [`Dedup`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenEvent {
    /// The timeline entry's id.
    pub id: String,
    /// When it was applied, epoch ms (wall clock), for the TTL.
    pub at: i64,
}

/// Ids of recently applied events, bounded by a TTL and a capacity.
///
/// This guards against the hub sending the same entry twice across a page boundary (e.g. a
/// whole-second cursor). It is saved with the cursor, so it does *not* make crash replays
/// harmless on its own: sinks must still apply events idempotently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<SeenEvent>", into = "Vec<SeenEvent>")]
pub struct Dedup {
    order: VecDeque<SeenEvent>,
    ids: HashSet<String>,
}

impl From<Vec<SeenEvent>> for Dedup {
    fn from(v: Vec<SeenEvent>) -> Dedup {
        let mut d = Dedup::default();
        for e in v {
            if d.ids.insert(e.id.clone()) {
                d.order.push_back(e);
            }
        }
        d
    }
}

impl From<Dedup> for Vec<SeenEvent> {
    fn from(d: Dedup) -> Vec<SeenEvent> {
        d.order.into_iter().collect()
    }
}

impl Dedup {
    /// Whether `id` was applied recently.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Remembers `id` as applied at `now_ms`.
    pub fn insert(&mut self, id: &str, now_ms: i64) {
        if self.ids.insert(id.to_owned()) {
            self.order.push_back(SeenEvent {
                id: id.to_owned(),
                at: now_ms,
            });
        }
    }

    /// Forgets ids older than `ttl_ms` and the oldest beyond `capacity`.
    pub fn prune(&mut self, now_ms: i64, ttl_ms: i64, capacity: usize) {
        while let Some(front) = self.order.front() {
            if self.order.len() > capacity || front.at < now_ms.saturating_sub(ttl_ms) {
                self.ids.remove(&front.id);
                self.order.pop_front();
            } else {
                break;
            }
        }
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The one record an integration persists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IntegrationState {
    /// Format version of this record.
    pub version: u32,
    /// The token (a UUID v4 from the OS CSPRNG), once created.
    pub token: Option<String>,
    /// The tenant the token is bound to, once acknowledged.
    pub tenant_id: Option<String>,
    /// Timeline cursor, epoch ms: every entry at or before it was applied (0 = from the start).
    pub cursor: i64,
    /// The initial upload's progress.
    pub upload: UploadProgress,
    /// `SetSetupCompleted` / `SetSyncDone` was received.
    pub setup_completed: bool,
    /// The hub reported a gap; a re-sync (download of every comment) is owed.
    pub resync_pending: bool,
    /// Recently applied event ids.
    pub seen: Dedup,
}

/// How durable a save must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Must survive power loss (a new token, the tenant binding, the setup flag).
    Durable,
    /// Atomic but may be lost by a power cut (cursor progress: losing it only means a replay).
    Progress,
}

/// Where the host keeps [`IntegrationState`]. Both calls see or replace the whole record:
/// a reader never sees half of a save.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The saved record, or `None` before the first save.
    async fn load(&self) -> Result<Option<IntegrationState>, HostError>;
    /// Replaces the record atomically.
    async fn save(&self, state: &IntegrationState, durability: Durability)
        -> Result<(), HostError>;
}

/// A [`StateStore`] in memory (tests, or hosts that persist elsewhere).
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    record: Mutex<Option<IntegrationState>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> MemoryStateStore {
        MemoryStateStore::default()
    }

    /// The saved record.
    pub fn snapshot(&self) -> Option<IntegrationState> {
        self.record.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self) -> Result<Option<IntegrationState>, HostError> {
        Ok(self.snapshot())
    }

    async fn save(&self, state: &IntegrationState, _: Durability) -> Result<(), HostError> {
        let mut r = self
            .record
            .lock()
            .map_err(|_| HostError::from("state lock poisoned"))?;
        *r = Some(state.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_ttl_capacity_and_round_trip() {
        let mut d = Dedup::default();
        d.insert("a", 1_000);
        d.insert("b", 2_000);
        d.insert("b", 2_500);
        d.insert("c", 3_000);
        assert_eq!(d.len(), 3);
        d.prune(3_000, 1_500, 10);
        assert!(!d.contains("a") && d.contains("b") && d.contains("c"));
        d.prune(3_000, 10_000, 1);
        assert!(!d.contains("b") && d.contains("c"));
        let json = serde_json::to_string(&d).unwrap();
        let back: Dedup = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn state_reads_older_records_with_defaults() {
        let s: IntegrationState = serde_json::from_str(r#"{"token":"abc"}"#).unwrap();
        assert_eq!(s.token.as_deref(), Some("abc"));
        assert_eq!(s.cursor, 0);
        assert!(!s.upload.finished);
    }
}
