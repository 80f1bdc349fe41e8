//! Deliveries the dispatcher claimed but could not start at once: their host, tenant or
//! subscription filled up while the claim's batch was being started. They wait here, still
//! claimed, and start as soon as a slot of theirs frees, before the next claim. Giving them back
//! at once cost a write per claim and the same rows claimed again a moment later (12 % of the
//! rows claimed on a busy host, in the PostgreSQL delivery bench). One that waits longer than
//! [`Held::new`]'s bound (a slow host) is given back, so another node may take it well within
//! its lease.

use crate::records::Delivery;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What is held: a claimed delivery (anything with an id, for the tests).
pub(super) trait Claimed {
    fn id(&self) -> &String;
}

impl Claimed for Delivery {
    fn id(&self) -> &String {
        &self.id
    }
}

/// The deliveries held, oldest first, with when each was claimed: in the order they came, so
/// those past the bound are always a prefix.
#[derive(Debug)]
pub(super) struct Held<T = Delivery> {
    /// Boxed, and kept in place: every turn of the dispatcher looks at each one and keeps
    /// most, and a delivery is some 400 bytes to move (moved into a new queue twice a turn,
    /// the two takes were 7.7 % of a node's CPU samples in a drain to a fast receiver,
    /// `perf`; BENCHMARKS.md).
    waiting: VecDeque<(Box<T>, Instant)>,
    at_most: Duration,
}

impl<T: Claimed> Held<T> {
    /// Holds deliveries at most a second, and never more than a quarter of the claim's lease.
    pub(super) fn new(lease: Duration) -> Held<T> {
        Held {
            waiting: VecDeque::new(),
            at_most: (lease / 4).min(Duration::from_secs(1)),
        }
    }

    /// How long a delivery may be held.
    pub(super) fn bound(&self) -> Duration {
        self.at_most
    }

    pub(super) fn hold(&mut self, d: T) {
        self.waiting.push_back((Box::new(d), Instant::now()));
    }

    /// The ids held (the next claim leaves them out).
    pub(super) fn ids(&self) -> impl Iterator<Item = &String> {
        self.waiting.iter().map(|(d, _)| d.id())
    }

    /// The deliveries held, oldest first.
    pub(super) fn items(&self) -> impl Iterator<Item = &T> {
        self.waiting.iter().map(|(d, _)| &**d)
    }

    /// Takes out, oldest first, each delivery `fits` accepts (`fits` counts what it accepts,
    /// so a later one sees the room the earlier ones took).
    pub(super) fn take_fitting(&mut self, mut fits: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut taken = Vec::new();
        // Once round the queue, in place: each one is taken or goes back behind the rest.
        for _ in 0..self.waiting.len() {
            let Some((d, at)) = self.waiting.pop_front() else {
                break;
            };
            if fits(&d) {
                taken.push(*d);
            } else {
                self.waiting.push_back((d, at));
            }
        }
        taken
    }

    /// Takes out the deliveries held past the bound, or all with `all`, oldest first.
    pub(super) fn take_expired(&mut self, all: bool) -> Vec<T> {
        let now = Instant::now();
        let mut expired = Vec::new();
        while let Some((_, at)) = self.waiting.front() {
            if !all && now.saturating_duration_since(*at) < self.at_most {
                break;
            }
            if let Some((d, _)) = self.waiting.pop_front() {
                expired.push(*d);
            }
        }
        expired
    }

    /// How long until the oldest one is past the bound.
    pub(super) fn next_expiry(&self) -> Option<Duration> {
        self.waiting
            .front()
            .map(|(_, at)| self.at_most.saturating_sub(at.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::{Claimed, Held};
    use std::time::Duration;

    struct Claim {
        id: String,
        host: &'static str,
    }

    impl Claimed for Claim {
        fn id(&self) -> &String {
            &self.id
        }
    }

    fn delivery(id: &str, host: &'static str) -> Claim {
        Claim {
            id: id.into(),
            host,
        }
    }

    /// Oldest first, only what fits, the rest kept in order; the bound is a quarter of the
    /// lease, at most a second; everything goes when all are asked for.
    #[test]
    fn held_deliveries_start_in_order_when_they_fit_and_expire() {
        let mut held = Held::new(Duration::from_millis(40));
        for (id, host) in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "x")] {
            held.hold(delivery(id, host));
        }
        let mut room_on_x = 2;
        let started = held.take_fitting(|d| {
            let fits = d.host == "x" && room_on_x > 0;
            room_on_x -= usize::from(fits);
            fits
        });
        let ids: Vec<&str> = started.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(held.ids().cloned().collect::<Vec<_>>(), ["b", "d"]);
        let ids = |ds: Vec<Claim>| ds.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert!(held.take_expired(false).is_empty());
        assert!(held
            .next_expiry()
            .is_some_and(|e| e <= Duration::from_millis(10)));
        std::thread::sleep(Duration::from_millis(12));
        assert_eq!(ids(held.take_expired(false)), ["b", "d"]);
        assert_eq!(held.next_expiry(), None);
        held.hold(delivery("e", "x"));
        assert_eq!(ids(held.take_expired(true)), ["e"]);
        let long: Held<Claim> = Held::new(Duration::from_secs(60));
        assert_eq!(long.at_most, Duration::from_secs(1));
    }
}
