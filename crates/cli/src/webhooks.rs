//! `fastcomments webhooks listen`: a local receiver for development. It verifies every request
//! with `fastcomments-webhooks` (either scheme, raw body, constant time, copies of an accepted
//! Standard Webhooks request refused) and prints kind, comment id and verdict. With
//! `--forward URL` it passes each verified request on to a local app, unchanged, and answers
//! with the app's response; a request that does not verify is answered 401 and never reaches
//! the app.

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use clap::Args;
use fastcomments_webhooks::{
    AcceptedSchemes, MemoryReplayStore, Scheme, Secret, Verified, Verifier,
};
use std::io::Write;
use std::time::Duration;

/// Flags of `webhooks listen`.
#[derive(Args, Debug)]
pub struct ListenArgs {
    /// An API secret to accept, as is or in the Standard Webhooks form `whsec_<base64>` (repeat
    /// for rotation or per-domain plus wildcard secrets).
    #[arg(long = "secret", env = "FASTCOMMENTS_WEBHOOK_SECRET", required = true)]
    secrets: Vec<String>,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Seconds a timestamp may be from now.
    #[arg(long, default_value_t = fastcomments_webhooks::DEFAULT_TOLERANCE_SECS)]
    tolerance: u64,
    /// Accept only Standard Webhooks (refuse requests without the `webhook-*` headers).
    #[arg(long)]
    standard_only: bool,
    /// Pass each verified request on to this URL (e.g. http://127.0.0.1:3000): same method,
    /// the request's path and query appended to the URL's path, same headers and raw body; the
    /// app's status, headers and body are the answer.
    #[arg(long, value_name = "URL")]
    forward: Option<String>,
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the two the
/// HTTP client and server write themselves for the new connection and body: never copied.
const NOT_FORWARDED: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
    header::CONTENT_LENGTH,
];

/// `headers` without the connection-specific ones (and those the `Connection` header names).
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !NOT_FORWARDED.contains(name) && !named.iter().any(|n| n == name.as_str()) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

/// Where verified requests go, and the client that takes them there.
#[derive(Clone)]
struct Forwarder {
    client: reqwest::Client,
    base: reqwest::Url,
}

impl Forwarder {
    fn new(url: &str) -> Result<Forwarder> {
        let base = reqwest::Url::parse(url).with_context(|| format!("--forward {url:?}"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            anyhow::bail!("--forward needs an http:// or https:// URL, got {url:?}");
        }
        let client = reqwest::Client::builder()
            // The app's redirect is its answer to the hub, not ours to follow.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Forwarder { client, base })
    }

    /// The app's URL for a request: the base's path, then the request's path and query.
    fn target(&self, uri: &Uri) -> reqwest::Url {
        let mut url = self.base.clone();
        let path = format!("{}{}", self.base.path().trim_end_matches('/'), uri.path());
        url.set_path(&path);
        url.set_query(uri.query());
        url
    }

    /// Sends the request on and turns the app's answer into ours.
    async fn forward(
        &self,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response, reqwest::Error> {
        let answer = self
            .client
            .request(method, self.target(uri))
            .headers(end_to_end(headers))
            .body(body)
            .send()
            .await?;
        let status = answer.status();
        let headers = end_to_end(answer.headers());
        let body = answer.bytes().await?;
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// One line of output for a request.
fn describe(method: &Method, uri: &Uri, verdict: &Result<Verified, String>, body: &[u8]) -> String {
    let id = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    match verdict {
        Ok(v) => format!(
            "{method} {} kind={} comment={id} delivery={} attempt={} verdict=valid scheme={}",
            uri.path(),
            v.event.map(|e| e.header_value()).unwrap_or("-"),
            v.delivery_id.as_deref().unwrap_or("-"),
            v.attempt
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
            match v.scheme {
                Scheme::StandardWebhooks => "standard-webhooks",
                Scheme::FastComments => "fastcomments",
            },
        ),
        Err(e) => format!(
            "{method} {} comment={id} verdict=rejected reason={e}",
            uri.path()
        ),
    }
}

fn print(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Verifies one request, prints it, and answers it (or has the app answer it).
async fn handle(
    verifier: &Verifier,
    forwarder: Option<&Forwarder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verdict = verifier
        .verify(&headers, &body)
        .and_then(|v| v.check_method(&method).map(|()| v))
        .map_err(|e| e.to_string());
    let line = describe(&method, &uri, &verdict, &body);
    if let Err(e) = verdict {
        print(&line);
        return (StatusCode::UNAUTHORIZED, e).into_response();
    }
    let Some(forwarder) = forwarder else {
        print(&line);
        return (StatusCode::OK, "ok").into_response();
    };
    match forwarder.forward(method, &uri, &headers, body).await {
        Ok(response) => {
            print(&format!("{line} forwarded={}", response.status().as_u16()));
            response
        }
        Err(e) => {
            let reason = format!("forwarding to the app failed: {e}");
            print(&format!("{line} forwarded=failed ({reason})"));
            (StatusCode::BAD_GATEWAY, reason).into_response()
        }
    }
}

/// Runs the receiver until Ctrl-C.
pub async fn listen(args: ListenArgs) -> Result<()> {
    let secrets = args
        .secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| Secret::parse(s).context("a --secret"))
        .collect::<Result<Vec<_>>>()?;
    if secrets.is_empty() {
        anyhow::bail!("give at least one non-empty --secret");
    }
    let schemes = if args.standard_only {
        AcceptedSchemes::StandardWebhooksOnly
    } else {
        AcceptedSchemes::Either
    };
    let verifier = Verifier::new(secrets)
        .with_tolerance_secs(args.tolerance)
        .with_schemes(schemes)
        .with_replay_store(MemoryReplayStore::new());
    let forwarder = args.forward.as_deref().map(Forwarder::new).transpose()?;
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let verifier = verifier.clone();
            let forwarder = forwarder.clone();
            async move { handle(&verifier, forwarder.as_ref(), method, uri, headers, body).await }
        },
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    println!(
        "listening for webhooks on http://{addr}/ (a hub sends to this loopback URL only when \
         started with --webhook-allow-private-targets)"
    );
    if let Some(url) = &args.forward {
        println!("forwarding verified requests to {url}");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}
