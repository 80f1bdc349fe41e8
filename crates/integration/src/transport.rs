//! [`HubClient`]: the integration API over HTTP, with retries.
//!
//! Every call is retried on what a later attempt may fix — connection errors, timeouts, 408,
//! 429 (honouring `Retry-After`), 5xx, and answers that are not the JSON expected — with
//! exponential backoff and jitter. Other 4xx answers are returned as typed errors at once.
//! Query values are always URL-encoded (`Url::query_pairs_mut`).

use crate::backoff;
use crate::config::RetryPolicy;
use crate::error::{Error, Result};
use fastcomments_protocol::{
    codes, CommandsResponse, CommentsPage, EventsResponse, StreamResponse, TokenResponse,
    UploadRequest, UploadResponse,
};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// What one attempt gave.
enum Attempt<T> {
    Done(T),
    Retry(String, Option<Duration>),
    Fail(Error),
}

/// A hook told about each retry (attempt number, delay, reason).
pub type RetryHook = std::sync::Arc<dyn Fn(u32, Duration, &str) + Send + Sync>;

/// The integration API of one hub.
#[derive(Clone)]
pub struct HubClient {
    http: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
    on_retry: Option<RetryHook>,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("base", &self.base.as_str())
            .finish()
    }
}

/// The text of a failed answer: the hub's `code` and `reason` when it is the hub's JSON.
fn failure_parts(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct F {
        #[serde(default)]
        code: String,
        #[serde(default)]
        reason: String,
    }
    match serde_json::from_slice::<F>(body) {
        Ok(f) => (f.code, f.reason),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        ),
    }
}

impl HubClient {
    /// A client for the hub at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, retry: RetryPolicy) -> Result<HubClient> {
        let mut base =
            Url::parse(base.trim()).map_err(|e| Error::Config(format!("hub URL {base:?}: {e}")))?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .timeout(retry.request_timeout)
            .connect_timeout(retry.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(HubClient {
            http,
            base,
            retry,
            on_retry: None,
        })
    }

    /// Calls `hook` before each retry.
    pub fn on_retry(mut self, hook: RetryHook) -> HubClient {
        self.on_retry = Some(hook);
        self
    }

    /// `{base}{path}?{query…}`, every value URL-encoded.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut u = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Config(format!("URL for {path}: {e}")))?;
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(u)
    }

    /// The page a tenant admin opens to acknowledge `token`.
    pub fn setup_url(&self, token: &str) -> String {
        self.url("auth/my-account/integrations/v1/setup", &[("token", token)])
            .map(String::from)
            .unwrap_or_default()
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Attempt<T> {
        let mut req = self.http.request(method.clone(), url.clone());
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(format!("transport: {e}"), None),
        };
        let status = res.status();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match res.bytes().await {
            Ok(b) => b,
            Err(e) => return Attempt::Retry(format!("reading the answer: {e}"), None),
        };
        if status.is_success() {
            return match serde_json::from_slice::<T>(&bytes) {
                Ok(v) => Attempt::Done(v),
                Err(e) => Attempt::Retry(format!("{status} with an unexpected body: {e}"), None),
            };
        }
        let (code, reason) = failure_parts(&bytes);
        if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            return Attempt::Retry(format!("{status} {code} {reason}"), retry_after);
        }
        if status == StatusCode::FORBIDDEN && code == codes::TOKEN_REVOKED {
            return Attempt::Fail(Error::TokenRevoked);
        }
        Attempt::Fail(Error::Hub {
            status: status.as_u16(),
            code,
            reason,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&[u8]>,
    ) -> Result<T> {
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (why, hint) = match self.attempt(&method, &url, body).await {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(why, hint) => (why, hint),
            };
            if attempt >= max {
                return Err(Error::Unavailable {
                    attempts: attempt,
                    last: why,
                });
            }
            let mut delay = backoff::delay(attempt, self.retry.base_delay, self.retry.max_delay);
            if let Some(h) = hint {
                delay = delay.max(h.min(self.retry.max_delay));
            }
            tracing::warn!(attempt, ?delay, path = url.path(), reason = %why, "hub call failed; retrying");
            if let Some(hook) = &self.on_retry {
                hook(attempt, delay, &why);
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// `PUT /integrations/v1/token?token=…` (step 1).
    pub async fn register_token(
        &self,
        token: &str,
        integration_type: Option<&str>,
        domain: Option<&str>,
    ) -> Result<TokenResponse> {
        let mut q = vec![("token", token)];
        if let Some(t) = integration_type {
            q.push(("integrationType", t));
        }
        if let Some(d) = domain {
            q.push(("domain", d));
        }
        let url = self.url("integrations/v1/token", &q)?;
        self.call(Method::PUT, url, None).await
    }

    /// `GET {path}?token&{place}={at}`: what the token reads from a place.
    async fn read_from<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        place: &str,
        at: impl ToString,
    ) -> Result<T> {
        let at = at.to_string();
        let url = self.url(path, &[("token", token), (place, &at)])?;
        self.call(Method::GET, url, None).await
    }

    /// `GET /integrations/v1/stream?token&lastFetchDate` (generation A).
    pub async fn stream(&self, token: &str, last_fetch_date: i64) -> Result<StreamResponse> {
        self.read_from(
            "integrations/v1/stream",
            token,
            "lastFetchDate",
            last_fetch_date,
        )
        .await
    }

    /// `GET /integrations/v1/commands?token&fromDateTime` (generation B).
    pub async fn commands(&self, token: &str, from: i64) -> Result<CommandsResponse> {
        self.read_from("integrations/v1/commands", token, "fromDateTime", from)
            .await
    }

    /// `GET /integrations/v1/events?token&fromDateTime` (generation B).
    pub async fn events(&self, token: &str, from: i64) -> Result<EventsResponse> {
        self.read_from("integrations/v1/events", token, "fromDateTime", from)
            .await
    }

    /// `GET /integrations/v1/comments?token&skip&includeCount` (download, for a re-sync).
    pub async fn download(&self, token: &str, skip: u64) -> Result<CommentsPage> {
        self.read_from("integrations/v1/comments", token, "skip", skip)
            .await
    }

    /// `POST /integrations/v1/comments?token` (step 3). A 413 comes back as
    /// [`Error::Hub`] with status 413, for the uploader to split the batch.
    pub async fn upload(&self, token: &str, request: &UploadRequest) -> Result<UploadResponse> {
        let body =
            serde_json::to_vec(request).map_err(|e| Error::Config(format!("upload body: {e}")))?;
        let url = self.url("integrations/v1/comments", &[("token", token)])?;
        self.call(Method::POST, url, Some(&body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded_and_joined() {
        let c = HubClient::new("http://h.example:8080/base", RetryPolicy::default()).unwrap();
        let u = c
            .url(
                "integrations/v1/stream",
                &[("token", "a b&c=d/ü"), ("x", "1")],
            )
            .unwrap();
        assert_eq!(
            u.as_str(),
            "http://h.example:8080/base/integrations/v1/stream?token=a+b%26c%3Dd%2F%C3%BC&x=1"
        );
        assert_eq!(
            c.setup_url("tok-1"),
            "http://h.example:8080/base/auth/my-account/integrations/v1/setup?token=tok-1"
        );
        assert!(HubClient::new("not a url", RetryPolicy::default()).is_err());
    }

    #[test]
    fn failure_bodies() {
        assert_eq!(
            failure_parts(br#"{"status":"failed","code":"x-y","reason":"because"}"#),
            ("x-y".to_owned(), "because".to_owned())
        );
        assert_eq!(
            failure_parts(b"<html>"),
            (String::new(), "<html>".to_owned())
        );
    }
}
