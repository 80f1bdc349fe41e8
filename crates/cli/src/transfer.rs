//! `fastcomments import` and `fastcomments export`: a site's comments into a running hub (a
//! Disqus export, a WordPress export or JSON lines) and out of it (JSON lines or a WordPress
//! export), over the tenant API. The file is streamed both ways: memory stays flat whatever its size.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Where the hub is and whose comments move.
#[derive(Args, Debug)]
pub struct HubArgs {
    /// The hub's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "FASTCOMMENTS_HUB")]
    hub: String,
    /// The tenant's All Domains API secret.
    #[arg(long, env = "FASTCOMMENTS_API_KEY")]
    api_key: String,
}

/// `fastcomments import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    hub: HubArgs,
    /// disqus, wxr or jsonl; the hub tells from the file's start when not given.
    #[arg(long)]
    format: Option<String>,
    /// Read and check the file, store nothing.
    #[arg(long)]
    dry_run: bool,
    /// The file to import.
    file: PathBuf,
}

/// `fastcomments export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    hub: HubArgs,
    /// jsonl (one comment a line, what an import reads back) or wxr (a WordPress export file).
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "wxr"])]
    format: String,
    /// Where to write; standard output when not given.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
}

fn base(hub: &str) -> &str {
    hub.trim_end_matches('/')
}

/// The hub's refusal, as it says it.
async fn refusal(res: reqwest::Response) -> anyhow::Error {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let reason = body["reason"].as_str().unwrap_or("no reason given");
    let code = body["code"].as_str().unwrap_or("");
    anyhow::anyhow!("the hub answered {status} {code}: {reason}")
}

/// Sends the file with a progress bar, then shows the import's progress until it ends.
pub async fn import(args: ImportArgs) -> Result<()> {
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("sending {bytes}/{total_bytes} {wide_bar} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let sent = bar.clone();
    let stream = tokio_util::io::ReaderStream::new(file);
    let stream = futures_util::StreamExt::inspect(stream, move |chunk| {
        if let Ok(c) = chunk {
            sent.inc(c.len() as u64);
        }
    });
    let mut url = format!(
        "{}/api/v1/imports?dryRun={}",
        base(&args.hub.hub),
        args.dry_run
    );
    if let Some(f) = &args.format {
        url.push_str(&format!("&format={f}"));
    }
    let client = reqwest::Client::new();
    let res = client
        .post(&url)
        .header("x-api-key", &args.hub.api_key)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .context("cannot reach the hub")?;
    bar.finish_and_clear();
    if !res.status().is_success() {
        return Err(refusal(res).await);
    }
    let started: Value = res.json().await.context("the hub's answer is not JSON")?;
    let id = started["import"]["id"]
        .as_str()
        .context("the hub named no import")?
        .to_owned();
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    let done = loop {
        let res = client
            .get(format!("{}/api/v1/imports/{id}", base(&args.hub.hub)))
            .header("x-api-key", &args.hub.api_key)
            .send()
            .await
            .context("cannot reach the hub")?;
        if !res.status().is_success() {
            return Err(refusal(res).await);
        }
        let v: Value = res.json().await.context("the hub's answer is not JSON")?;
        let import = v["import"].clone();
        spinner.set_message(format!(
            "import {id}: {} read, {} created, {} updated",
            import["read"], import["created"], import["updated"]
        ));
        if import["state"] != "running" {
            break import;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    spinner.finish_and_clear();
    println!(
        "import {id} {}: {} read, {} created, {} updated, {} unchanged, {} skipped, {} problems",
        done["state"].as_str().unwrap_or("?"),
        done["read"],
        done["created"],
        done["updated"],
        done["unchanged"],
        done["skipped"],
        done["problems"].as_array().map_or(0, Vec::len) as u64
            + done["problemsLeftOut"].as_u64().unwrap_or(0),
    );
    for p in done["problems"].as_array().into_iter().flatten() {
        println!(
            "  line {}, column {}: {}",
            p["line"],
            p["column"],
            p["message"].as_str().unwrap_or("")
        );
    }
    if done["state"] != "done" {
        bail!("import {id} failed");
    }
    Ok(())
}

/// How many times an export refused as busy (`429`: the tenant's or the hub's exports at once,
/// docs/imports.md) is asked again, each after the hub's `Retry-After` (1 to 60 s).
const BUSY_TRIES: u32 = 30;

/// Streams the tenant's comments to a file or standard output. While the hub answers that too
/// many exports run, it waits as told and asks again.
pub async fn export(args: ExportArgs) -> Result<()> {
    let url = format!(
        "{}/api/v1/export?format={}",
        base(&args.hub.hub),
        args.format
    );
    let client = reqwest::Client::new();
    let mut tries = 0;
    let mut res = loop {
        let res = client
            .get(&url)
            .header("x-api-key", &args.hub.api_key)
            .send()
            .await
            .context("cannot reach the hub")?;
        if res.status() != reqwest::StatusCode::TOO_MANY_REQUESTS || tries == BUSY_TRIES {
            break res;
        }
        tries += 1;
        let wait = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(10)
            .clamp(1, 60);
        eprintln!("the hub runs as many exports as it takes; asking again in {wait} s");
        tokio::time::sleep(Duration::from_secs(wait)).await;
    };
    if !res.status().is_success() {
        return Err(refusal(res).await);
    }
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = match &args.output {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let (mut lines, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = res.chunk().await.context("the download broke off")? {
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
        out.write_all(&chunk)
            .await
            .context("cannot write the export")?;
    }
    out.flush().await.context("cannot write the export")?;
    if let Some(path) = &args.output {
        if args.format == "jsonl" {
            eprintln!("{lines} comments written to {}", path.display());
        } else {
            eprintln!("{bytes} bytes written to {}", path.display());
        }
    }
    Ok(())
}
