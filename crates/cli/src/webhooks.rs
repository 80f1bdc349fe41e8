//! `fastcomments webhooks listen`: a local receiver for development. It verifies every request
//! with `fastcomments-webhooks` (raw body, constant time) and prints kind, comment id and verdict.

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use clap::Args;
use fastcomments_webhooks::Verifier;
use std::io::Write;

/// Flags of `webhooks listen`.
#[derive(Args, Debug)]
pub struct ListenArgs {
    /// An API secret to accept (repeat for rotation or per-domain plus wildcard secrets).
    #[arg(long = "secret", env = "FASTCOMMENTS_WEBHOOK_SECRET", required = true)]
    secrets: Vec<String>,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Seconds a timestamp may be from now.
    #[arg(long, default_value_t = fastcomments_webhooks::DEFAULT_TOLERANCE_SECS)]
    tolerance: u64,
}

/// One line of output for a request.
fn describe(
    method: &Method,
    uri: &Uri,
    verdict: &Result<fastcomments_webhooks::Verified, String>,
    body: &[u8],
) -> String {
    let id = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    match verdict {
        Ok(v) => format!(
            "{method} {} kind={} comment={id} delivery={} attempt={} verdict=valid",
            uri.path(),
            v.event.map(|e| e.header_value()).unwrap_or("-"),
            v.delivery_id.as_deref().unwrap_or("-"),
            v.attempt
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        Err(e) => format!(
            "{method} {} comment={id} verdict=rejected reason={e}",
            uri.path()
        ),
    }
}

/// Runs the receiver until Ctrl-C.
pub async fn listen(args: ListenArgs) -> Result<()> {
    let verifier = Verifier::new(args.secrets.iter()).with_tolerance_secs(args.tolerance);
    if verifier.secret_count() == 0 {
        anyhow::bail!("give at least one non-empty --secret");
    }
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let verifier = verifier.clone();
            async move {
                let verdict = verifier.verify(&headers, &body).map_err(|e| e.to_string());
                let line = describe(&method, &uri, &verdict, &body);
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
                match verdict {
                    Ok(_) => (StatusCode::OK, "ok".to_owned()),
                    Err(e) => (StatusCode::UNAUTHORIZED, e),
                }
            }
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
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}
