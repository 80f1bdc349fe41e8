//! Import and export throughput (issue 24 §3): a generated Disqus export of `--comments`
//! comments imported into a fresh tenant of a release `serve`, on SQLite and on a durable
//! PostgreSQL, rounds alternating between the two; comments per second, and the hub's peak
//! resident memory (`VmHWM`). Then the tenant exported as JSON lines and as a WordPress export
//! (WXR), comments per second each.
//!
//! `cargo bench -p fastcomments --bench import_throughput [-- --comments 100000 --rounds 2]`

use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

const ADMIN: &str = "import-bench-admin";

fn number(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A Disqus export of `n` comments on `n / 20` threads, one in four a reply to the comment
/// before it, written to `path`; its size in bytes.
fn generate(path: &std::path::Path, n: usize) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create the export"));
    let threads = (n / 20).max(1);
    writeln!(f, r#"<?xml version="1.0" encoding="utf-8"?>"#).ok();
    writeln!(
        f,
        r#"<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">"#
    )
    .ok();
    for t in 0..threads {
        writeln!(
            f,
            "<thread dsq:id=\"{t}\"><id>post-{t}</id><forum>bench</forum><link>https://blog.example/{t}</link>\
             <title>Post {t} &amp; more</title><message/><createdAt>2013-01-01T00:00:00Z</createdAt>\
             <isClosed>false</isClosed><isDeleted>false</isDeleted></thread>"
        )
        .ok();
    }
    for i in 0..n {
        let parent = if i % 4 == 3 {
            format!("<parent dsq:id=\"{}\"/>", i - 1)
        } else {
            String::new()
        };
        writeln!(
            f,
            "<post dsq:id=\"{i}\"><id/><message><![CDATA[<p>Comment number {i}, with a \
             <a href=\"https://example.com\">link</a> and some text to make it the size of a \
             real comment: Zoë wrote this on a train.</p>]]></message>\
             <createdAt>2013-01-01T00:00:{:02}Z</createdAt><isDeleted>false</isDeleted>\
             <isSpam>false</isSpam><author><email>user{i}@example.com</email>\
             <name>User {i}</name><isAnonymous>false</isAnonymous><username>user{i}</username>\
             </author><ipAddress>127.0.0.1</ipAddress><thread dsq:id=\"{}\"/>{parent}</post>",
            i % 60,
            i % threads
        )
        .ok();
    }
    writeln!(f, "</disqus>").ok();
    f.flush().expect("write the export");
    drop(f);
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

async fn start_hub(store: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(store)
        .env("FASTCOMMENTS_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start fastcomments serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = tokio::io::BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("read the hub's stdout")
        .expect("the hub prints its address");
    (
        child,
        line.rsplit(' ').next().unwrap_or_default().to_owned(),
    )
}

/// The peak resident memory of process `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// One import and the two exports on a hub over `store`: (import/s, JSON-lines export/s, peak
/// RSS MiB, WXR export/s).
async fn round(store: &[&str], file: &std::path::Path, n: usize) -> (f64, f64, f64, f64) {
    let (child, url) = start_hub(store).await;
    let http = reqwest::Client::new();
    let tenant: Value = http
        .post(format!("{url}/admin/v1/tenants"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "Bench", "domains": ["bench.example"]}))
        .send()
        .await
        .expect("create a tenant")
        .json()
        .await
        .expect("a JSON answer");
    let key = tenant["apiSecret"].as_str().expect("a secret").to_owned();
    let body = tokio::fs::read(file).await.expect("read the export");
    let start = Instant::now();
    let started: Value = http
        .post(format!("{url}/api/v1/imports?format=disqus"))
        .header("x-api-key", &key)
        .body(body)
        .send()
        .await
        .expect("start the import")
        .json()
        .await
        .expect("a JSON answer");
    let id = started["import"]["id"]
        .as_str()
        .expect("an import id")
        .to_owned();
    let done = loop {
        let v: Value = http
            .get(format!("{url}/api/v1/imports/{id}"))
            .header("x-api-key", &key)
            .send()
            .await
            .expect("read the import")
            .json()
            .await
            .expect("a JSON answer");
        if v["import"]["state"] != "running" {
            break v["import"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let import_secs = start.elapsed().as_secs_f64();
    assert_eq!(done["created"].as_u64(), Some(n as u64), "{done}");
    let start = Instant::now();
    let text = http
        .get(format!("{url}/api/v1/export?format=jsonl"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("the export's body");
    let export_secs = start.elapsed().as_secs_f64();
    assert_eq!(text.lines().count(), n);
    let start = Instant::now();
    let wxr = http
        .get(format!("{url}/api/v1/export?format=wxr"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("the export's body");
    let wxr_secs = start.elapsed().as_secs_f64();
    assert_eq!(wxr.matches("<wp:comment>").count(), n);
    let rss = child.id().map_or(0.0, peak_rss_mib);
    drop(child);
    (
        n as f64 / import_secs,
        n as f64 / export_secs,
        rss,
        n as f64 / wxr_secs,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let n = number("--comments", 100_000);
    let rounds = number("--rounds", 2);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("disqus.xml");
    let size = generate(&file, n);
    println!("{n} comments, {:.1} MB of Disqus export", size as f64 / 1e6);
    let cluster = testkit::PgCluster::start_with(testkit::PgOptions::durable())
        .await
        .expect("start PostgreSQL (apt-get install -y postgresql)");
    let mut results: [Vec<(f64, f64, f64, f64)>; 2] = [Vec::new(), Vec::new()];
    for r in 0..rounds {
        let data = dir.path().join(format!("sqlite-{r}"));
        let sqlite = ["--data-dir", data.to_str().expect("a UTF-8 path")];
        let pg_url = cluster
            .database(&format!("import_{r}"))
            .await
            .expect("a database");
        let pg = ["--database-url", pg_url.as_str()];
        for (i, store) in [&sqlite[..], &pg[..]].into_iter().enumerate() {
            let got = round(store, &file, n).await;
            println!(
                "round {r} {}: import {:.0}/s, export {:.0}/s, WXR export {:.0}/s, hub peak RSS {:.0} MiB",
                ["SQLite", "PostgreSQL"][i],
                got.0,
                got.1,
                got.3,
                got.2
            );
            results[i].push(got);
        }
    }
    for (i, name) in ["SQLite", "PostgreSQL"].iter().enumerate() {
        let r = &results[i];
        println!(
            "{name}: median import {:.0}/s, export {:.0}/s, WXR export {:.0}/s, peak RSS {:.0} MiB",
            median(r.iter().map(|x| x.0).collect()),
            median(r.iter().map(|x| x.1).collect()),
            median(r.iter().map(|x| x.3).collect()),
            median(r.iter().map(|x| x.2).collect()),
        );
    }
}
