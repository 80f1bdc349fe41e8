//! One limiter in front of every credential check (issue 20 §2).
//!
//! A failed check (an unknown or unacknowledged integration token, a wrong API key or operator
//! token, a wrong sign-in secret: every answer `401`) costs its client address one cell of a
//! GCRA budget (`governor`). A real plugin or admin fails now and then; a guesser fails all the
//! time. When an address has spent its budget, every request of it that carries a credential
//! is answered `429 rate-limited` with `Retry-After` until the budget refills, without looking
//! at the credential, so the answer says nothing about whether a guess was right. Successful
//! checks cost nothing: a busy backend writing through the API is never slowed.
//!
//! The budget is per hub process: on several nodes each node keeps its own (docs/security.md).

pub use crate::config::ThrottleQuota;
use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// The keyed limiter: one GCRA state per client address.
type Limiter = RateLimiter<IpAddr, governor::state::keyed::HashMapStateStore<IpAddr>, DefaultClock>;

/// Failed credential checks per client address, and the addresses refused until a time.
#[derive(Debug)]
pub struct CredentialThrottle {
    limiter: Limiter,
    clock: DefaultClock,
    refused_until: Mutex<HashMap<IpAddr, Instant>>,
    /// Whether `refused_until` may hold anyone: every request asks [`Self::wait`], and while
    /// nobody is refused (nearly always) the answer costs one atomic load, no lock.
    any_refused: std::sync::atomic::AtomicBool,
}

impl CredentialThrottle {
    /// A throttle with this budget.
    pub fn new(quota: ThrottleQuota) -> CredentialThrottle {
        let per_minute = NonZeroU32::new(quota.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(quota.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let clock = DefaultClock::default();
        CredentialThrottle {
            limiter: RateLimiter::hashmap_with_clock(
                Quota::per_minute(per_minute).allow_burst(burst),
                clock.clone(),
            ),
            clock,
            refused_until: Mutex::default(),
            any_refused: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// How long `client` must wait before a credential of it is looked at again (`None`: it
    /// may go ahead).
    pub fn wait(&self, client: IpAddr) -> Option<Duration> {
        if !self.any_refused.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        let mut refused = self.refused_until.lock();
        let until = *refused.get(&client)?;
        let now = Instant::now();
        if until > now {
            return Some(until - now);
        }
        refused.remove(&client);
        None
    }

    /// Counts a failed check of `client`; when that spends its budget, refuses it until the
    /// budget has a cell again. Returns the wait when it does.
    pub fn failed(&self, client: IpAddr) -> Option<Duration> {
        let Err(not_until) = self.limiter.check_key(&client) else {
            return None;
        };
        let wait = not_until.wait_time_from(self.clock.now());
        let mut refused = self.refused_until.lock();
        refused.insert(client, Instant::now() + wait);
        self.any_refused
            .store(true, std::sync::atomic::Ordering::Release);
        // Addresses whose wait is over are forgotten here too, so the map stays small.
        if refused.len() > 10_000 {
            let now = Instant::now();
            refused.retain(|_, until| *until > now);
        }
        Some(wait)
    }

    /// Forgets addresses whose budget is full again (maintenance).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        let now = Instant::now();
        let mut refused = self.refused_until.lock();
        refused.retain(|_, until| *until > now);
        if refused.is_empty() {
            self.any_refused
                .store(false, std::sync::atomic::Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_once_its_failures_spend_the_budget_and_others_are_not() {
        let t = CredentialThrottle::new(ThrottleQuota {
            burst: 3,
            per_minute: 1,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(t.failed(a), None);
            assert_eq!(t.wait(a), None);
        }
        let wait = t.failed(a).expect("the fourth failure spends the budget");
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(t.wait(a).is_some());
        assert_eq!(t.wait(b), None, "another address is not touched");
        assert_eq!(t.failed(b), None);
        // Maintenance keeps a refusal that still runs.
        t.forget_idle();
        assert!(t.wait(a).is_some());
    }
}
