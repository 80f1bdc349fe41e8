//! The CSRF check: every form of a session carries its token in a hidden field named
//! [`FIELD`], and every `POST` under `/admin` must send it back. A missing or wrong token, or a
//! `POST` without a session, is refused with a 403 page before any handler runs. `SameSite`
//! cookies already stop most cross-site posts; the token also covers browsers and proxies that
//! do not honour it.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use subtle::ConstantTimeEq;

/// The form field holding the token.
pub const FIELD: &str = "csrf";

/// Why a `POST` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No session cookie, or an expired session.
    NoSession,
    /// The form had no token, or another one.
    BadToken,
    /// The body was over the limit or not readable.
    BadBody,
}

/// Whether `sent` is `expected`, in time independent of where they differ.
pub fn matches(expected: &str, sent: &str) -> bool {
    expected.len() == sent.len() && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
}

/// Reads the form body of `req` (at most `limit` bytes), checks its token against `expected`
/// (the session's, or the sign-in form's own), and gives the request back with the same body
/// for the handler.
pub async fn verify(
    req: Request,
    expected: Option<&str>,
    limit: usize,
) -> Result<Request, Refusal> {
    let Some(expected) = expected else {
        return Err(Refusal::NoSession);
    };
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Refusal::BadBody)?;
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).map_err(|_| Refusal::BadToken)?;
    let sent = fields
        .iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.as_str())
        .ok_or(Refusal::BadToken)?;
    if !matches(expected, sent) {
        return Err(Refusal::BadToken);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn tokens_match_only_exactly() {
        assert!(matches("abc123", "abc123"));
        assert!(!matches("abc123", "abc124"));
        assert!(!matches("abc123", "abc12"));
        assert!(!matches("abc123", ""));
    }
}
