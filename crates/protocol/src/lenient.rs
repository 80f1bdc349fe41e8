//! Liberal deserializers for the inputs deployed plugins send (SPEC §1.4): numbers as numeric
//! strings, booleans as `"1"`/`"true"`, ids as numbers.
//!
//! Each function is meant for `#[serde(deserialize_with = "…")]`. They accept every form the
//! real plugins are known to send and reject the rest with a message naming what was expected.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Parses an integer from a JSON number (integral, or a float with no fraction) or a numeric string.
pub fn int_from_str(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let f = t.parse::<f64>().ok()?;
    float_to_int(f)
}

fn float_to_int(f: f64) -> Option<i64> {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        Some(f as i64)
    } else {
        None
    }
}

struct IntVisitor;

impl<'de> Visitor<'de> for IntVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string holding an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        float_to_int(v).ok_or_else(|| E::custom(format!("expected an integer, got {v}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        int_from_str(v).ok_or_else(|| E::custom(format!("expected an integer, got {v:?}")))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<i64, E> {
        Ok(i64::from(v))
    }
}

/// An `i64` from a number or a numeric string.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(IntVisitor)
}

/// An optional `i64`: `null`, an empty string, a number or a numeric string.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(OptVisitor(IntVisitor, |s: &str| s.trim().is_empty()))
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean, 0/1, or \"true\"/\"false\"/\"1\"/\"0\"")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        Ok(v != 0.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => Err(E::custom(format!("expected a boolean, got {v:?}"))),
        }
    }
}

/// A `bool` from a boolean, a number (non-zero is true) or a string such as `"1"` or `"true"`.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(BoolVisitor)
}

/// An optional `bool`, as [`boolean`], with `null` as `None`.
pub fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(OptVisitor(BoolVisitor, |_: &str| false))
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        match float_to_int(v) {
            Some(i) => Ok(i.to_string()),
            None => Ok(v.to_string()),
        }
    }
}

/// A `String` from a string or a number (WordPress ids arrive as numbers).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(StringVisitor)
}

/// An optional `String`: `null` is `None`; numbers become their decimal text. An empty string
/// or `"0"` stays as given (callers decide what an empty parent id means).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(OptVisitor(StringVisitor, |_: &str| false))
}

/// An optional JSON object: `null` and `[]` (PHP's encoding of an empty map) are `None`; any
/// other non-object is refused.
pub fn opt_object<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, D::Error> {
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(m)) => Ok(Some(m)),
        Some(serde_json::Value::Array(a)) if a.is_empty() => Ok(None),
        Some(other) => Err(de::Error::custom(format!(
            "expected an object, got {other}"
        ))),
    }
}

/// Wraps a visitor so that `null` (and, where `empty_is_none` says so, some strings) is `None`.
struct OptVisitor<V>(V, fn(&str) -> bool);

impl<'de, V: Visitor<'de>> Visitor<'de> for OptVisitor<V> {
    type Value = Option<V::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(" or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.0.visit_bool(v).map(Some)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.0.visit_i64(v).map(Some)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.0.visit_u64(v).map(Some)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.0.visit_f64(v).map(Some)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if (self.1)(v) {
            return Ok(None);
        }
        self.0.visit_str(v).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Probe {
        #[serde(deserialize_with = "super::int")]
        n: i64,
        #[serde(default, deserialize_with = "super::opt_int")]
        o: Option<i64>,
        #[serde(deserialize_with = "super::boolean")]
        b: bool,
        #[serde(deserialize_with = "super::string")]
        s: String,
    }

    fn probe(j: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(j)
    }

    #[test]
    fn accepts_numeric_strings_and_numbers() {
        let p = probe(r#"{"n":"12","o":" 7 ","b":"1","s":42}"#).unwrap();
        assert_eq!((p.n, p.o, p.b, p.s.as_str()), (12, Some(7), true, "42"));
        let p = probe(r#"{"n":12.0,"o":null,"b":false,"s":"x"}"#).unwrap();
        assert_eq!((p.n, p.o, p.b), (12, None, false));
        let p = probe(r#"{"n":1,"o":"","b":"false","s":"x"}"#).unwrap();
        assert_eq!(p.o, None);
        assert!(!p.b);
    }

    #[test]
    fn php_empty_maps_and_zero_dates_are_absent() {
        let c: crate::UploadComment =
            serde_json::from_str(r#"{"comment":"x","meta":[],"date":"0000-00-00 00:00:00"}"#)
                .unwrap();
        assert_eq!((c.meta, c.date), (None, None));
        let c: crate::UploadComment = serde_json::from_str(r#"{"comment":"x","date":""}"#).unwrap();
        assert_eq!(c.date, None);
        let c: crate::UploadComment =
            serde_json::from_str(r#"{"comment":"x","meta":{"a":1},"date":"2024-01-02 03:04:05"}"#)
                .unwrap();
        assert_eq!(c.meta.map(|m| m.len()), Some(1));
        assert!(c.date.is_some());
        assert!(
            serde_json::from_str::<crate::UploadComment>(r#"{"comment":"x","meta":[1]}"#).is_err()
        );
        assert!(
            serde_json::from_str::<crate::UploadComment>(r#"{"comment":"x","date":"soon"}"#)
                .is_err()
        );
    }

    #[test]
    fn rejects_garbage_with_a_message() {
        let e = probe(r#"{"n":"twelve","b":true,"s":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("expected an integer"), "{e}");
        let e = probe(r#"{"n":1.5,"b":true,"s":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("expected an integer"), "{e}");
        let e = probe(r#"{"n":1,"b":"maybe","s":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("expected a boolean"), "{e}");
    }
}
