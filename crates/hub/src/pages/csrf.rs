//! The CSRF check: every form of a session carries its token in a hidden field named
//! [`FIELD`], and every `POST` under `/admin` must send it back. A missing or wrong token, or a
//! `POST` without a session, is refused with a 403 page before any handler runs. `SameSite`
//! cookies already stop most cross-site posts; the token also covers browsers and proxies that
//! do not honour it.
//!
//! The Import form is the exception: its body is a file that may be gigabytes, streamed to
//! disk, so it cannot be read first to find a field in it. Its token is in the form's action
//! URL (`?csrf=`) or, for a script, in the [`HEADER`] header, and [`verify_upload`] checks it
//! from the request's head alone, before a byte of the body is read. Such a URL does not stay
//! in the address bar (the form's answer is a redirect but on a server fault) and is not sent
//! on (every page is `Referrer-Policy: no-referrer`). Because the body is not read first, the upload also
//! refuses what a browser says came from another site (`Sec-Fetch-Site`, else `Origin`).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

/// The form field holding the token.
pub const FIELD: &str = "csrf";

/// The header a script's upload carries the token in.
pub const HEADER: &str = "x-csrf-token";

/// Why a `POST` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No session cookie, or an expired session.
    NoSession,
    /// The form had no token, or another one.
    BadToken,
    /// The body was over the limit or not readable.
    BadBody,
    /// The browser says the request came from another site.
    CrossSite,
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

/// Checks an upload's token from its head alone: the [`HEADER`] header or the `csrf` query
/// field against `expected`, and that no browser says it came from another site. The body is
/// left untouched, to be streamed by the handler.
pub fn verify_upload(
    headers: &HeaderMap,
    query: Option<&str>,
    expected: Option<&str>,
) -> Result<(), Refusal> {
    let Some(expected) = expected else {
        return Err(Refusal::NoSession);
    };
    if !same_origin(headers) {
        return Err(Refusal::CrossSite);
    }
    let from_query = || {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
            .ok()?
            .into_iter()
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v)
    };
    let sent = match headers.get(HEADER).map(|v| v.to_str()) {
        Some(Ok(v)) => Some(v.to_owned()),
        Some(Err(_)) => None,
        None => from_query(),
    };
    match sent {
        Some(sent) if matches(expected, &sent) => Ok(()),
        _ => Err(Refusal::BadToken),
    }
}

/// Whether the browser, if it says, sent this from the hub's own pages: `Sec-Fetch-Site:
/// same-origin` where the browser sends it (every current one), else an `Origin` naming the
/// host the request was sent to. A client that sends neither (a script, an old browser) is
/// judged by the token alone.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return site.eq_ignore_ascii_case("same-origin");
    }
    match text(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let authority = origin.split_once("://").map(|(_, rest)| rest);
            let host = text(header::HOST);
            matches!((authority, host), (Some(a), Some(h)) if !h.is_empty() && a.eq_ignore_ascii_case(h))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{matches, verify_upload, Refusal};
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn an_upload_is_checked_from_its_head() {
        let ok = |h: &[(&'static str, &str)], q| verify_upload(&headers(h), q, Some("tok"));
        assert_eq!(ok(&[], Some("csrf=tok")), Ok(()));
        assert_eq!(ok(&[("x-csrf-token", "tok")], None), Ok(()));
        assert_eq!(ok(&[], None), Err(Refusal::BadToken));
        assert_eq!(ok(&[], Some("csrf=other")), Err(Refusal::BadToken));
        assert_eq!(
            ok(&[("x-csrf-token", "other")], Some("csrf=tok")),
            Err(Refusal::BadToken),
            "the header, when sent, is what counts"
        );
        let same = [("sec-fetch-site", "same-origin"), ("origin", "http://evil")];
        assert_eq!(
            ok(&same, Some("csrf=tok")),
            Ok(()),
            "Sec-Fetch-Site decides"
        );
        let cross = [("sec-fetch-site", "same-site")];
        assert_eq!(ok(&cross, Some("csrf=tok")), Err(Refusal::CrossSite));
        let hosted = [
            ("origin", "https://hub.example:8080"),
            ("host", "hub.example:8080"),
        ];
        assert_eq!(ok(&hosted, Some("csrf=tok")), Ok(()));
        let elsewhere = [("origin", "https://evil.example"), ("host", "hub.example")];
        assert_eq!(ok(&elsewhere, Some("csrf=tok")), Err(Refusal::CrossSite));
        assert_eq!(
            ok(&[("origin", "null")], Some("csrf=tok")),
            Err(Refusal::CrossSite)
        );
        assert_eq!(
            verify_upload(&headers(&[]), Some("csrf=tok"), None),
            Err(Refusal::NoSession)
        );
    }

    #[test]
    fn tokens_match_only_exactly() {
        assert!(matches("abc123", "abc123"));
        assert!(!matches("abc123", "abc124"));
        assert!(!matches("abc123", "abc12"));
        assert!(!matches("abc123", ""));
    }
}
