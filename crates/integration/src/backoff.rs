//! Exponential backoff with jitter, so that many plugins recovering from the same outage do not
//! all call again in the same instant.

use std::time::Duration;

/// A uniformly random number in `0..=u64::MAX` from the OS CSPRNG (0 if it is unavailable:
/// jitter is then merely absent, which is harmless).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    match getrandom::getrandom(&mut b) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => 0,
    }
}

/// The delay before retry number `attempt` (1 = the first retry): `base · 2^(attempt-1)`,
/// capped at `max`, then a random point in its upper half ("equal jitter").
pub fn delay(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = base
        .checked_mul(1u32 << exp)
        .unwrap_or(max)
        .min(max)
        .as_millis() as u64;
    if full == 0 {
        return Duration::ZERO;
    }
    let half = full / 2;
    Duration::from_millis(half + random_u64() % (full - half + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_jitters_within_bounds() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 1..40 {
            let full = (100u64 << (attempt - 1).min(30)).min(2000);
            for _ in 0..20 {
                let d = delay(attempt, base, max).as_millis() as u64;
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d} vs {full}"
                );
            }
        }
        assert_eq!(delay(1, Duration::ZERO, max), Duration::ZERO);
    }
}
