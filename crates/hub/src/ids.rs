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

/// A 24-character object id: 8 hex digits of epoch seconds then 64 random bits (the shape of
/// MongoDB ObjectIds). Ids made later sort later, so new rows land at the end of primary-key
/// indexes instead of on random pages.
pub fn object_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{:08x}{}", secs & 0xffff_ffff, random_hex(8))
}

/// An API secret: 256 random bits, 64 hex characters.
pub fn api_secret() -> String {
    random_hex(32)
}

/// A tenant id: 12 hex characters prefixed so it is easy to tell apart in logs.
pub fn tenant_id() -> String {
    format!("t-{}", random_hex(8))
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
}
