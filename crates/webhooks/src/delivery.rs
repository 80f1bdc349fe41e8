//! [`DeliveryId`]: the `X-FastComments-Delivery` value, kept without a heap allocation when it
//! is short (as every id the hub makes is), because it is read on every verification.

use std::fmt;
use std::ops::Deref;

/// How many bytes are kept inline (a UUID is 36); longer ids go to the heap.
const INLINE: usize = 46;

/// A delivery id as received: the idempotency key of a webhook, stable across retries.
///
/// Behaves like a `&str` (`Deref<Target = str>`, `as_str`, comparisons with `str`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// `bytes[..len]` is the id, valid UTF-8 (it was copied from a `&str`).
    Inline { len: u8, bytes: [u8; INLINE] },
    /// Ids longer than [`INLINE`] bytes.
    Heap(Box<str>),
}

impl DeliveryId {
    /// Copies an id.
    pub fn new(id: &str) -> DeliveryId {
        DeliveryId(match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                Repr::Inline { len, bytes }
            }
            _ => Repr::Heap(id.into()),
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Copied from a `&str` whole, so always valid UTF-8.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(id) => id,
        }
    }
}

impl Deref for DeliveryId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for DeliveryId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for DeliveryId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DeliveryId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<&str> for DeliveryId {
    fn from(id: &str) -> DeliveryId {
        DeliveryId::new(id)
    }
}

impl From<DeliveryId> for String {
    fn from(id: DeliveryId) -> String {
        id.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_ids() {
        for id in [
            "",
            "dlv-1",
            "3f2b8c1e-9d4a-4e7b-a1c2-5d6e7f8a9b0c",
            "доставка-№1",
            &"x".repeat(INLINE),
            &"y".repeat(INLINE + 1),
            &"ж".repeat(200),
        ] {
            let d = DeliveryId::new(id);
            assert_eq!(d.as_str(), id);
            assert_eq!(&*d, id);
            assert_eq!(d, id);
            assert_eq!(d.to_string(), id);
            assert_eq!(format!("{d:?}"), format!("{id:?}"));
            assert_eq!(String::from(d.clone()), id);
        }
        assert!(matches!(
            DeliveryId::new(&"x".repeat(INLINE)).0,
            Repr::Inline { .. }
        ));
        assert!(matches!(
            DeliveryId::new(&"x".repeat(INLINE + 1)).0,
            Repr::Heap(_)
        ));
    }
}
