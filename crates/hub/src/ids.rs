//! Random identifiers and secrets, from the operating system's CSPRNG.

/// `n` random bytes as lowercase hex. Falls back to a time-and-counter mix only if the OS
/// generator fails, which on Linux does not happen after boot.
fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if getrandom::getrandom(&mut buf).is_err() {
        let seed = uuid::Uuid::new_v4();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed.as_bytes()[i % 16];
        }
    }
    hex::encode(buf)
}

/// A 24-character object id: 8 hex digits of epoch seconds, 8 of a per-process random seed,
/// then 8 of a per-process counter (the shape of MongoDB ObjectIds). The ids one process makes
/// sort in the order they were made (until the counter wraps, after at least 2^31 ids), so new
/// rows land at the end of primary-key indexes instead of on random leaves.
///
/// No two ids of one process collide unless it makes 2^32 ids within one second; ids of
/// different processes differ by their seeds. The counter starts at a random value and no
/// system call is made per id (an upload makes two ids per comment). Ids are not secrets;
/// secrets and tokens come from [`api_secret`] and the OS generator.
pub fn object_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<(u32, u32)> = OnceLock::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let (seed, start) = *SEED.get_or_init(|| {
        let mut buf = [0u8; 8];
        if getrandom::getrandom(&mut buf).is_err() {
            buf.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
        }
        let [a, b, c, d, e, f, g, h] = buf;
        (
            u32::from_le_bytes([a, b, c, d]),
            // Below 2^31: at least 2^31 ids before the counter wraps.
            u32::from_le_bytes([e, f, g, h]) >> 1,
        )
    });
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let n = start.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:08x}{seed:08x}{n:08x}", secs & 0xffff_ffff)
}

/// An API secret: 256 random bits, 64 hex characters.
pub fn api_secret() -> String {
    random_hex(32)
}

/// A new tenant id: 12 hex characters prefixed so it is easy to tell apart in logs.
pub fn tenant_id() -> TenantId {
    TenantId(format!("t-{}", random_hex(8)))
}

/// What a type of its own over a `String` ([`TenantId`], [`crate::records::IntegrationToken`])
/// has alike: it is made from text, read as text, and compared with text as a `String` is (a
/// query's `tenantId`, a stored column, a test's literal); passing text where one is expected
/// still needs a conversion, which is what the type is for. What differs (a `Display`, which a
/// credential must not have) each type says itself.
macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// The text (to bind in SQL, to compare with a request's text, to redact for a log).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned (for a wire type that carries it as a string).
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> $name {
                $name(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                $name(text.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}
pub(crate) use text_newtype;

/// A tenant's id (`t-…`; tenants made elsewhere may have any text). A type of its own, not a
/// `&str`, so a tenant id cannot be passed where a domain, a thread's url id, a token or an
/// API secret is expected, nor one of those as a tenant id: the compiler checks each call.
/// Serialized as the bare text, so stored and sent forms are what they were as a `String`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TenantId(String);

text_newtype!(TenantId);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

/// Shortens a secret or token for logs: the first 4 characters and the length.
pub fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…({} chars)", secret.chars().count())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_and_well_formed() {
        let a = super::object_id();
        let b = super::object_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 24);
        assert_eq!(super::api_secret().len(), 64);
        assert_eq!(super::redact("abcdefgh"), "abcd…(8 chars)");
    }

    #[test]
    fn ids_made_one_after_another_sort_in_that_order() {
        // The counter starts below 2^31, so it cannot wrap within one test run.
        let ids: Vec<String> = (0..1_000).map(|_| super::object_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert!(
            ids.iter().all(|id| id[8..16] == ids[0][8..16]),
            "one seed per process"
        );
    }

    #[test]
    fn many_ids_from_many_threads_never_collide() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..50_000).map(|_| super::object_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert_eq!(id.len(), 24);
                assert!(id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                assert!(all.insert(id), "duplicate id");
            }
        }
        assert_eq!(all.len(), 200_000);
    }
}
