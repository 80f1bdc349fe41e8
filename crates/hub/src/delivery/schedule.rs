//! When a failed attempt is tried again (SPEC §2.2, issue 13 §2): `base × attempt`, stretched
//! by a receiver's `Retry-After` on 429 and 503, plus jitter.
//!
//! - The schedule is the floor: attempt *n* waits at least `base × n`. A `Retry-After` asking
//!   for longer is honoured up to the schedule's longest step (`base × max_attempts`, 99
//!   minutes by default), so a receiver can slow the hub down but neither make it hammer
//!   sooner than the schedule nor park a delivery for a day.
//! - Jitter then adds a random 0 to [`JITTER_PERCENT`] % of that wait: after an outage, the
//!   deliveries that failed together spread out instead of all arriving again in the same
//!   second. It only ever lengthens the wait, so "never before `base × n`" still holds.

use std::time::{Duration, SystemTime};

/// Most jitter added to a wait, in percent of it.
pub const JITTER_PERCENT: u64 = 20;

/// The wait before the attempt after attempt `attempt` (1-based), given the receiver's
/// `Retry-After` (on 429/503 only) and a random number; pure, so its bounds can be tested.
pub fn retry_delay(
    base: Duration,
    attempt: i64,
    max_attempts: i64,
    retry_after: Option<Duration>,
    random: u64,
) -> Duration {
    let base_ms = base.as_millis().min(u128::from(u64::MAX / 1024)) as u64;
    let n = attempt.max(1) as u64;
    let scheduled = base_ms.saturating_mul(n);
    let longest = base_ms.saturating_mul(max_attempts.max(attempt).max(1) as u64);
    let wait = match retry_after {
        Some(asked) => {
            let asked = asked.as_millis().min(u128::from(u64::MAX)) as u64;
            asked.clamp(scheduled, longest)
        }
        None => scheduled,
    };
    let span = wait.saturating_mul(JITTER_PERCENT) / 100;
    let jitter = if span == 0 { 0 } else { random % (span + 1) };
    Duration::from_millis(wait.saturating_add(jitter))
}

/// A random number for [`retry_delay`]'s jitter (0 if the system has none to give: the wait
/// is then exactly the schedule's).
pub fn jitter_seed() -> u64 {
    let mut b = [0u8; 8];
    match getrandom::getrandom(&mut b) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => 0,
    }
}

/// Reads a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, the latter
/// measured from `now` (a date in the past means "now"). `None` for anything else.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "very long": the clamp caps it anyway.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn bounds(d: Duration, lo_ms: u64) {
        let ms = d.as_millis() as u64;
        assert!(ms >= lo_ms, "{ms} ms is earlier than {lo_ms} ms");
        assert!(
            ms <= lo_ms + lo_ms * JITTER_PERCENT / 100,
            "{ms} ms is later than {lo_ms} ms + {JITTER_PERCENT} %"
        );
    }

    #[test]
    fn jitter_stays_between_the_schedule_and_twenty_percent_more() {
        for n in 1..=99 {
            for random in [0, 1, u64::MAX, u64::MAX / 2, 12_345_678_901] {
                bounds(retry_delay(MIN, n, 99, None, random), 60_000 * n as u64);
            }
            for _ in 0..50 {
                bounds(
                    retry_delay(MIN, n, 99, None, jitter_seed()),
                    60_000 * n as u64,
                );
            }
        }
        // The extremes are reachable: exactly the schedule, exactly 20 % more.
        assert_eq!(retry_delay(MIN, 3, 99, None, 0), Duration::from_secs(180));
        assert_eq!(
            retry_delay(MIN, 3, 99, None, 36_000),
            Duration::from_secs(216)
        );
    }

    #[test]
    fn jitter_spreads_retries_out() {
        let waits: std::collections::HashSet<Duration> = (0..100)
            .map(|_| retry_delay(MIN, 1, 99, None, jitter_seed()))
            .collect();
        assert!(
            waits.len() > 50,
            "only {} distinct waits of 100",
            waits.len()
        );
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_longest_step() {
        let after = |secs| Some(Duration::from_secs(secs));
        // Longer than the schedule: honoured.
        bounds(retry_delay(MIN, 1, 99, after(600), 7), 600_000);
        // Shorter than the schedule: the schedule wins.
        bounds(retry_delay(MIN, 5, 99, after(10), 7), 300_000);
        // Beyond the longest step (99 minutes): capped there.
        bounds(retry_delay(MIN, 1, 99, after(86_400), 7), 99 * 60_000);
        bounds(retry_delay(MIN, 1, 10, after(u64::MAX), 7), 10 * 60_000);
    }

    #[test]
    fn retry_after_values_are_read_as_seconds_or_http_dates() {
        let now = httpdate::parse_http_date("Wed, 02 Dec 2026 00:00:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 00:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", "-5", "1.5", "soon", "120s"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
