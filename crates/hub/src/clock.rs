//! Time as the hub sees it. Everything that stamps or compares times asks a [`Clock`], so tests
//! can drive expiry and retention without sleeping.

use fastcomments_protocol::Millis;
use parking_lot::Mutex;
use std::sync::Arc;

/// A source of instants.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        Millis::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<i64>>);

impl ManualClock {
    /// Starts at `ms`.
    pub fn new(ms: i64) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(ms)))
    }

    /// Moves forward by `ms`.
    pub fn advance(&self, ms: i64) {
        *self.0.lock() += ms;
    }

    /// Jumps to `ms`.
    pub fn set(&self, ms: i64) {
        *self.0.lock() = ms;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(*self.0.lock())
    }
}

/// The next position of a tenant's timeline: strictly after `last`, and no earlier than `now`
/// (SPEC §1.2), so a burst within one millisecond still gets distinct, ordered positions.
pub fn next_position(now: Millis, last_ms: i64) -> i64 {
    now.0.max(last_ms.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_strictly_increase_even_when_the_clock_stalls_or_goes_back() {
        let mut last = 0;
        for now in [5, 5, 5, 3, 10, 10, 9] {
            let next = next_position(Millis(now), last);
            assert!(next > last);
            assert!(next >= now);
            last = next;
        }
        assert_eq!(last, 12);
    }
}
