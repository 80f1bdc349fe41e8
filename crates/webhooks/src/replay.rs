//! Replay protection for Standard Webhooks: a [`ReplayStore`] remembers the messages a
//! [`Verifier`](crate::Verifier) accepted until their timestamp leaves the tolerance, and the
//! verifier refuses one it is shown again ([`VerifyError::Replayed`](crate::VerifyError::Replayed)).
//!
//! # What counts as a replay
//!
//! A message is its `webhook-id` *and* its `webhook-timestamp`. The hub keeps a delivery's id
//! across retries but signs every attempt afresh with the current time, so a retry (say after
//! the receiver answered 500) is a new message and is accepted, while a copy of a captured
//! request repeats both values, cannot change either without the secret, and is refused. A
//! receiver that must apply each delivery once still de-duplicates on the delivery id, as the
//! spec advises; the store only keeps copies out.
//!
//! Only messages whose signature checked out are recorded (so nobody can fill the store, or
//! record an id before the hub's own request arrives), and each is forgotten once its
//! timestamp is more than the tolerance from "now": from then on the freshness check refuses
//! it anyway. The store therefore holds at most the messages accepted within twice the
//! tolerance.
//!
//! The FastComments scheme gets no store: it signs no message id, so two different deliveries
//! with the same body in the same second (an update undone within it) have the same signature,
//! and a store would refuse the second.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Remembers accepted messages for the time their timestamps stay acceptable.
///
/// Implement it over a shared store (e.g. Redis `SET key 1 NX EXAT keep_until`) when several
/// receiver processes must share what they have seen; [`MemoryReplayStore`] serves one process.
pub trait ReplayStore: Send + Sync {
    /// Records the message `id` signed at `timestamp` and says whether this is its first
    /// sighting (`false`: refuse it). Atomic: of two concurrent calls with the same message,
    /// one returns `true`.
    ///
    /// `keep_until` (unix seconds) is the last instant at which the message's timestamp is still
    /// within the tolerance; `now` is the verifier's clock. A message may be forgotten once
    /// `now > keep_until`.
    fn first_sighting(&self, id: &str, timestamp: i64, keep_until: i64, now: i64) -> bool;
}

impl<T: ReplayStore + ?Sized> ReplayStore for Arc<T> {
    fn first_sighting(&self, id: &str, timestamp: i64, keep_until: i64, now: i64) -> bool {
        (**self).first_sighting(id, timestamp, keep_until, now)
    }
}

/// The timestamps remembered for one id: nearly always one (a second one only when the hub
/// retried a delivery within the tolerance), so without a heap allocation.
enum Stamps {
    One(i64),
    Many(Vec<i64>),
}

impl Stamps {
    fn contains(&self, timestamp: i64) -> bool {
        match self {
            Stamps::One(t) => *t == timestamp,
            Stamps::Many(ts) => ts.contains(&timestamp),
        }
    }

    fn push(&mut self, timestamp: i64) {
        match self {
            Stamps::One(t) => *self = Stamps::Many(vec![*t, timestamp]),
            Stamps::Many(ts) => ts.push(timestamp),
        }
    }

    /// Forgets `timestamp`; says whether nothing is left.
    fn remove(&mut self, timestamp: i64) -> bool {
        match self {
            Stamps::One(t) => *t == timestamp,
            Stamps::Many(ts) => {
                ts.retain(|t| *t != timestamp);
                ts.is_empty()
            }
        }
    }
}

/// What a [`MemoryReplayStore`] holds behind its lock.
#[derive(Default)]
struct Seen {
    /// Every remembered message, by id; looked up by `&str`, without allocating.
    ids: HashMap<Arc<str>, Stamps>,
    /// The same messages bucketed by `keep_until` (one bucket per second, nearly always the
    /// newest), so that forgetting them in order is a walk from the front.
    expiry: BTreeMap<i64, Vec<(Arc<str>, i64)>>,
    /// How many messages `ids` holds.
    len: usize,
}

impl Seen {
    /// Forgets every message whose `keep_until` is before `now`.
    fn forget_before(&mut self, now: i64) {
        while let Some(bucket) = self.expiry.first_entry() {
            if *bucket.key() >= now {
                break;
            }
            for (id, timestamp) in bucket.remove() {
                // One hash and probe for both the update and the removal.
                if let Entry::Occupied(mut stamps) = self.ids.entry(id) {
                    self.len -= 1;
                    if stamps.get_mut().remove(timestamp) {
                        stamps.remove();
                    }
                }
            }
        }
    }
}

/// A [`ReplayStore`] in this process's memory: a map from id to timestamps and buckets by
/// expiry second, behind a mutex. Each call first forgets what has expired, so its size
/// follows the traffic of the last two tolerance windows and nothing else.
#[derive(Default)]
pub struct MemoryReplayStore {
    seen: Mutex<Seen>,
}

impl MemoryReplayStore {
    /// An empty store.
    pub fn new() -> MemoryReplayStore {
        MemoryReplayStore::default()
    }

    /// How many messages it remembers now (expired ones are dropped on the next call of
    /// [`first_sighting`](ReplayStore::first_sighting)).
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether it remembers nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // A panic while holding the lock can at worst leave a message remembered a little
        // longer or forgotten a little early; the store stays usable.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_sighting(&self, id: &str, timestamp: i64, keep_until: i64, now: i64) -> bool {
        let mut seen = self.lock();
        seen.forget_before(now);
        if keep_until < now {
            return true; // already outside the window: nothing to remember it for
        }
        let key = match seen.ids.get_key_value(id) {
            Some((_, stamps)) if stamps.contains(timestamp) => return false,
            Some((key, _)) => {
                // A retry of a delivery seen within the window: rare, a second lookup is fine.
                let key = Arc::clone(key);
                if let Some(stamps) = seen.ids.get_mut(id) {
                    stamps.push(timestamp);
                }
                key
            }
            None => {
                let key: Arc<str> = Arc::from(id);
                seen.ids.insert(Arc::clone(&key), Stamps::One(timestamp));
                key
            }
        };
        seen.len += 1;
        seen.expiry
            .entry(keep_until)
            .or_default()
            .push((key, timestamp));
        true
    }
}

impl std::fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("remembered", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let store = MemoryReplayStore::new();
        assert!(store.first_sighting("update_a", 1000, 1300, 1000));
        assert!(!store.first_sighting("update_a", 1000, 1300, 1299));
        // The same delivery re-signed later (a retry) is another message.
        assert!(store.first_sighting("update_a", 1060, 1360, 1060));
        assert!(store.first_sighting("update_b", 1000, 1300, 1000));
        assert_eq!(store.len(), 3);
        // Still refused at exactly keep_until; forgotten one second later.
        assert!(!store.first_sighting("update_a", 1000, 1300, 1300));
        assert!(store.first_sighting("other", 1301, 1601, 1301));
        assert_eq!(store.len(), 2, "both 1300 entries expired");
        assert!(!store.first_sighting("update_a", 1060, 1360, 1301));
        // Far later: everything is forgotten, and a message already outside its window is not
        // even recorded.
        assert!(store.first_sighting("late", 0, 300, 5000));
        assert!(store.is_empty());
    }

    #[test]
    fn concurrent_sightings_of_one_message_admit_one() {
        let store = Arc::new(MemoryReplayStore::new());
        let admitted: usize = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    (0..500)
                        .filter(|i| store.first_sighting(&format!("m{i}"), 1, 301, 1))
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(admitted, 500);
    }
}
