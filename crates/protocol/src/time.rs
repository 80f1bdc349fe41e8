//! Instants on the wire: [`Millis`] (epoch milliseconds, written as ISO-8601 UTC text) and
//! [`Cursor`], the position a client has read the timeline up to.
//!
//! Deployed plugins write dates in several ways (SPEC §1.4, §1.5); every accepted form of the
//! same instant parses to the same value, and the written form is always
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`, what JavaScript's `Date.prototype.toISOString` gives.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Numbers below this are epoch *seconds*, at or above it epoch *milliseconds* (10^11 ms is
/// March 1973; 10^11 s is the year 5138).
pub const SECONDS_LIMIT: i64 = 100_000_000_000;

/// An instant as epoch milliseconds (UTC). Serialized as ISO-8601 text with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(value_type = String, format = DateTime, example = "2024-05-01T12:00:00.000Z")
)]
pub struct Millis(pub i64);

/// Why a date or cursor text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeParseError(pub String);

impl fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimeParseError {}

impl Millis {
    /// The current wall-clock time.
    pub fn now() -> Millis {
        Millis((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`. Instants outside the years 0–9999 are clamped to that range.
    pub fn to_iso(self) -> String {
        // 0000-01-01T00:00:00.000Z ..= 9999-12-31T23:59:59.999Z
        let ms = self.0.clamp(-62_167_219_200_000, 253_402_300_799_999);
        let nanos = i128::from(ms) * 1_000_000;
        let dt =
            OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        dt.format(&fmt)
            .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000Z"))
    }

    /// Parses every date form deployed plugins send: RFC 3339 / ISO-8601 with a zone or offset,
    /// ISO-8601 without a zone (taken as UTC), `YYYY-MM-DD HH:MM:SS[.fff]` (UTC), `YYYY-MM-DD`,
    /// and epoch numbers as text (seconds below [`SECONDS_LIMIT`], else milliseconds).
    pub fn parse(text: &str) -> Result<Millis, TimeParseError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(TimeParseError("empty date".into()));
        }
        if let Ok(n) = t.parse::<f64>() {
            return Millis::from_epoch_number(n)
                .ok_or_else(|| TimeParseError(format!("date out of range: {t:?}")));
        }
        if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
            return Ok(from_offset(dt));
        }
        let spaced = t.replacen(' ', "T", 1);
        let local = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
        );
        if let Ok(dt) = PrimitiveDateTime::parse(&spaced, &local) {
            return Ok(from_offset(dt.assume_utc()));
        }
        let trimmed_zone = spaced.strip_suffix('Z').unwrap_or(&spaced);
        if let Ok(dt) = PrimitiveDateTime::parse(trimmed_zone, &local) {
            return Ok(from_offset(dt.assume_utc()));
        }
        let day = format_description!("[year]-[month]-[day]");
        if let Ok(d) = time::Date::parse(t, &day) {
            return Ok(from_offset(d.midnight().assume_utc()));
        }
        Err(TimeParseError(format!(
            "unrecognised date {t:?}: expected ISO-8601, 'YYYY-MM-DD HH:MM:SS' (UTC) or epoch ms"
        )))
    }

    /// An epoch number: seconds below [`SECONDS_LIMIT`], else milliseconds.
    pub fn from_epoch_number(n: f64) -> Option<Millis> {
        if !n.is_finite() || n.abs() >= 1.0e16 {
            return None;
        }
        if n.abs() < SECONDS_LIMIT as f64 {
            Some(Millis((n * 1000.0).round() as i64))
        } else {
            Some(Millis(n.round() as i64))
        }
    }
}

fn from_offset(dt: OffsetDateTime) -> Millis {
    Millis((dt.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

struct MillisVisitor;

impl<'de> Visitor<'de> for MillisVisitor {
    type Value = Millis;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a date: ISO-8601 text, 'YYYY-MM-DD HH:MM:SS', or epoch milliseconds")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
        Millis::from_epoch_number(v as f64).ok_or_else(|| E::custom("date out of range"))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
        Millis::from_epoch_number(v as f64).ok_or_else(|| E::custom("date out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Millis, E> {
        Millis::from_epoch_number(v).ok_or_else(|| E::custom("date out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
        Millis::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        d.deserialize_any(MillisVisitor)
    }
}

/// An optional date in any accepted form; `null`, `""` and zero dates such as
/// `0000-00-00 00:00:00` (what WordPress stores for "no date") are `None`.
pub fn opt_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t.starts_with("0000-00-00") {
                Ok(None)
            } else {
                Millis::parse(t).map(Some).map_err(de::Error::custom)
            }
        }
        Some(other) => Millis::deserialize(other)
            .map(Some)
            .map_err(de::Error::custom),
    }
}

/// Serde helpers for a `Millis` written as a JSON *number* of epoch milliseconds (event
/// `createdAt` in the stream protocol, vote `createdAt`). Reading takes a number (or a string
/// holding an integer) as milliseconds whatever its size, so small values round-trip too (the
/// seconds heuristic of [`SECONDS_LIMIT`] is not applied); other text is read as any date form.
pub mod epoch_ms {
    use super::{Millis, MillisVisitor};
    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;
    use std::fmt;

    /// Writes the number of milliseconds.
    pub fn serialize<S: Serializer>(v: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(v.0)
    }

    /// Reads epoch milliseconds (a number or an integer string), else any date form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        d.deserialize_any(MsVisitor)
    }

    /// Epoch ms within the range [`Millis::from_epoch_number`] accepts.
    fn exact_ms<E: de::Error>(n: f64) -> Result<Millis, E> {
        if n.is_finite() && n.abs() < 1.0e16 {
            Ok(Millis(n.round() as i64))
        } else {
            Err(E::custom("date out of range"))
        }
    }

    struct MsVisitor;

    impl<'de> Visitor<'de> for MsVisitor {
        type Value = Millis;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("epoch milliseconds, or a date as text")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
            exact_ms(v as f64).map(|_| Millis(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
            exact_ms(v as f64).map(|_| Millis(v as i64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Millis, E> {
            exact_ms(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
            match crate::lenient::int_from_str(v) {
                Some(ms) => self.visit_i64(ms),
                None => MillisVisitor.visit_str(v),
            }
        }
    }
}

/// Where a client has read the timeline up to: it has seen every entry *at or before* this
/// position. Built from the `lastFetchDate` / `fromDateTime` query values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Missing, empty or `0`: from the start of what is kept.
    Start,
    /// An exact millisecond position (epoch ms, or ISO-8601 text).
    Millis(i64),
    /// A whole second (an epoch number below [`SECONDS_LIMIT`]). Plugins that floor their
    /// cursor send these; because a page never ends inside a second, the client has seen every
    /// entry of that second, so reading resumes at the next one.
    Seconds(i64),
}

impl Cursor {
    /// Parses `0`, epoch ms, epoch seconds (below 10^11), fractional seconds, or ISO-8601 text.
    pub fn parse(text: &str) -> Result<Cursor, TimeParseError> {
        let t = text.trim();
        if t.is_empty() || t == "0" {
            return Ok(Cursor::Start);
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = t
                .parse()
                .map_err(|_| TimeParseError(format!("cursor out of range: {t:?}")))?;
            return Ok(if n == 0 {
                Cursor::Start
            } else if n < SECONDS_LIMIT {
                Cursor::Seconds(n)
            } else {
                Cursor::Millis(n)
            });
        }
        if t.starts_with('-') {
            return Err(TimeParseError(format!(
                "cursor must not be negative: {t:?}"
            )));
        }
        if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            let f: f64 = t
                .parse()
                .map_err(|_| TimeParseError(format!("unrecognised cursor {t:?}")))?;
            let ms = Millis::from_epoch_number(f)
                .ok_or_else(|| TimeParseError(format!("cursor out of range: {t:?}")))?;
            return Ok(if ms.0 == 0 {
                Cursor::Start
            } else {
                Cursor::Millis(ms.0)
            });
        }
        let ms = Millis::parse(t)?;
        if ms.0 < 0 {
            return Err(TimeParseError(format!("cursor before 1970: {t:?}")));
        }
        Ok(if ms.0 == 0 {
            Cursor::Start
        } else {
            Cursor::Millis(ms.0)
        })
    }

    /// The hub returns entries with `createdAt` strictly greater than this.
    pub fn after_ms(self) -> i64 {
        match self {
            Cursor::Start => 0,
            Cursor::Millis(ms) => ms,
            Cursor::Seconds(s) => s.saturating_mul(1000).saturating_add(999),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip_and_forms() {
        let m = Millis(1_763_880_000_123);
        assert_eq!(m.to_iso(), "2025-11-23T06:40:00.123Z");
        assert_eq!(Millis::parse("2025-11-23T06:40:00.123Z"), Ok(m));
        assert_eq!(Millis::parse("2025-11-23T08:40:00.123+02:00"), Ok(m));
        assert_eq!(Millis::parse("2025-11-23 06:40:00.123"), Ok(m));
        assert_eq!(Millis::parse("1763880000123"), Ok(m));
        let whole = Millis(1_763_880_000_000);
        assert_eq!(Millis::parse("2025-11-23 06:40:00"), Ok(whole));
        assert_eq!(Millis::parse("2025-11-23T06:40:00"), Ok(whole));
        assert_eq!(Millis::parse("1763880000"), Ok(whole));
        assert_eq!(Millis::parse("2025-11-23"), Ok(Millis(1_763_856_000_000)));
        assert!(Millis::parse("yesterday").is_err());
        assert!(Millis::parse("").is_err());
        assert!(Millis::parse("2025-13-45 99:00:00").is_err());
    }

    #[test]
    fn cursor_forms() {
        assert_eq!(Cursor::parse(""), Ok(Cursor::Start));
        assert_eq!(Cursor::parse("0"), Ok(Cursor::Start));
        assert_eq!(
            Cursor::parse("1763880000123"),
            Ok(Cursor::Millis(1_763_880_000_123))
        );
        assert_eq!(
            Cursor::parse("1763880000"),
            Ok(Cursor::Seconds(1_763_880_000))
        );
        assert_eq!(Cursor::Seconds(1_763_880_000).after_ms(), 1_763_880_000_999);
        assert_eq!(
            Cursor::parse("2025-11-23T06:40:00.123Z"),
            Ok(Cursor::Millis(1_763_880_000_123))
        );
        assert_eq!(
            Cursor::parse("1763880000.5"),
            Ok(Cursor::Millis(1_763_880_000_500))
        );
        // Zero is the start in every spelling (proptest found "0." giving `Millis(0)`).
        for zero in ["0.", "0.0", "00.000", ".0"] {
            assert_eq!(Cursor::parse(zero), Ok(Cursor::Start), "{zero:?}");
        }
        assert!(Cursor::parse("-5").is_err());
        assert!(Cursor::parse("abc").is_err());
        assert!(Cursor::parse("99999999999999999999999").is_err());
    }
}
