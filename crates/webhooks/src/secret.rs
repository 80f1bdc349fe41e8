//! [`Secret`]: a signing key as bytes, read from either of the two forms a receiver is given.
//!
//! The FastComments scheme keys HMAC-SHA256 with the bytes of the API secret text. Standard
//! Webhooks writes a key as `whsec_` followed by the base64 of its bytes. The hub keys both
//! schemes with the same bytes, so the Standard Webhooks form of the API secret `S` is
//! `whsec_` + base64(`S`) ([`Secret::to_standard`]): a receiver that uses a Standard Webhooks
//! library of another language configures that string, one that uses this crate may configure
//! either form ([`Secret::parse`]).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use thiserror::Error;

/// What a Standard Webhooks secret starts with.
pub const STANDARD_SECRET_PREFIX: &str = "whsec_";

/// A secret key: the bytes HMAC is keyed with.
///
/// Its `Debug` form does not show the bytes. It implements `AsRef<[u8]>`, so it can be given
/// wherever this crate takes secrets (`Verifier::new([secret])`, `StandardSigner::new`, …).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<[u8]>);

/// Why a secret text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SecretError {
    /// The secret (or what follows `whsec_`) is empty.
    #[error("the secret is empty")]
    Empty,
    /// What follows `whsec_` is not standard, padded base64.
    #[error("the text after \"whsec_\" is not base64")]
    NotBase64,
}

impl Secret {
    /// The key is these bytes, as they are: an API secret as the FastComments scheme uses it.
    pub fn raw(bytes: impl AsRef<[u8]>) -> Secret {
        Secret(bytes.as_ref().into())
    }

    /// A secret in the Standard Webhooks form, `whsec_<base64>`. As the scheme's reference
    /// libraries do, the prefix may also be left out (then the whole text is base64).
    pub fn from_standard(text: &str) -> Result<Secret, SecretError> {
        let encoded = text.strip_prefix(STANDARD_SECRET_PREFIX).unwrap_or(text);
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|_| SecretError::NotBase64)?;
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret(bytes.into()))
    }

    /// Reads a secret as configured by a person: `whsec_…` is the Standard Webhooks form (the
    /// base64 is decoded), anything else is an API secret whose bytes are the key.
    ///
    /// ```
    /// use fastcomments_webhooks::Secret;
    /// let api = Secret::parse("6f1c…the tenant's API secret").unwrap();
    /// let same = Secret::parse(&api.to_standard()).unwrap();
    /// assert_eq!(api, same);
    /// ```
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        if text.starts_with(STANDARD_SECRET_PREFIX) {
            return Secret::from_standard(text);
        }
        if text.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret::raw(text))
    }

    /// The Standard Webhooks form: `whsec_` + base64 of the key bytes.
    pub fn to_standard(&self) -> String {
        format!("{STANDARD_SECRET_PREFIX}{}", BASE64.encode(&self.0))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([{} bytes redacted])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        // The secret of the Standard Webhooks libraries' tests: 24 bytes.
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(s.as_bytes().len(), 24);
        assert_eq!(s.to_standard(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(
            Secret::from_standard("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            s
        );
        // Anything without the prefix is an API secret, taken as its bytes.
        let api = Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(api.as_bytes(), b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(Secret::parse(&api.to_standard()).unwrap(), api);
        assert_eq!(Secret::parse(""), Err(SecretError::Empty));
        assert_eq!(Secret::parse("whsec_"), Err(SecretError::Empty));
        assert_eq!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64)
        );
        assert_eq!(Secret::parse("whsec_MfKQ9r8"), Err(SecretError::NotBase64));
        assert!(!format!("{s:?}").contains("MfKQ"));
    }
}
