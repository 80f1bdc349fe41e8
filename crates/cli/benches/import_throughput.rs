//! Import and export throughput (issue 24 §3): a generated Disqus export (or, with `--format
//! wxr`, a WordPress export of the same comments) of `--comments` comments imported into a
//! fresh tenant of a release `serve`, on SQLite and on a durable PostgreSQL, rounds
//! alternating between the two; comments per second from the first byte sent to the import's
//! `done` (the hub parses the upload as it arrives), and the hub's peak resident memory
//! (`VmHWM`) when the import ended. Then the tenant exported as JSON lines and as a WordPress
//! export (WXR), comments per second each, and the peak memory again.
//!
//! `--upload-mib-per-s R` sends the file at most that fast (a client on a real network
//! rather than loopback); by default it goes as fast as loopback takes it.
//!
//! `--only sqlite` or `--only postgres` runs one store's rounds.
//!
//! `--hub-bin PATH` runs another build of `fastcomments` (say, an earlier commit's) instead of
//! this one's, to compare two commits on one machine in one run of the same bench.
//!
//! `cargo bench -p fastcomments --bench import_throughput [-- --comments 100000 --rounds 2
//! --format disqus|wxr --upload-mib-per-s 0 --only sqlite|postgres --hub-bin PATH]`

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};
use testkit::bench::{arg, spawn_serve};
use tokio::process::{Child, Command};

const ADMIN: &str = "import-bench-admin";

/// A Disqus export of `n` comments on `n / 20` threads, one in four a reply to the comment
/// before it, written to `path`; its size in bytes, and the comments an import creates of it.
fn generate_disqus(path: &std::path::Path, n: usize) -> (u64, usize) {
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
    (std::fs::metadata(path).map(|m| m.len()).unwrap_or(0), n)
}

/// A comment's `wp:comment_approved` in the WordPress export: mostly approved, some held,
/// spam or in the bin.
fn wp_state(i: usize) -> &'static str {
    match i % 200 {
        7 | 57 | 107 | 157 => "0",
        13 | 113 => "spam",
        17 => "trash",
        _ => "1",
    }
}

/// A WordPress export (WXR) of `n` comments (`wp:comment`s with ids, parents, dates, states)
/// on `n / 20` posts, twenty comments each, one in four a reply to the comment before it, one
/// in a thousand a pingback (skipped by the import), written to `path`; its size in bytes,
/// and the comments an import creates of it.
fn generate_wxr(path: &std::path::Path, n: usize) -> (u64, usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create the export"));
    writeln!(f, r#"<?xml version="1.0" encoding="UTF-8" ?>"#).ok();
    writeln!(
        f,
        r#"<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">"#
    )
    .ok();
    writeln!(
        f,
        "<channel><title>Bench</title><link>https://blog.example</link>\
         <language>en-US</language><wp:wxr_version>1.2</wp:wxr_version>\
         <wp:base_site_url>https://blog.example</wp:base_site_url>"
    )
    .ok();
    let mut pingbacks = 0;
    for t in 0..n.div_ceil(20) {
        let post_id = t + 1;
        writeln!(
            f,
            "<item><title><![CDATA[Post {t} & more]]></title><link>https://blog.example/{t}/</link>\
             <pubDate>Tue, 01 Jan 2013 00:00:00 +0000</pubDate><dc:creator><![CDATA[admin]]></dc:creator>\
             <guid isPermaLink=\"false\">https://blog.example/?p={post_id}</guid>\
             <description></description><content:encoded><![CDATA[<p>Post {t}</p>]]></content:encoded>\
             <wp:post_id>{post_id}</wp:post_id><wp:post_date><![CDATA[2013-01-01 00:00:00]]></wp:post_date>\
             <wp:post_date_gmt><![CDATA[2013-01-01 00:00:00]]></wp:post_date_gmt>\
             <wp:post_name><![CDATA[post-{t}]]></wp:post_name><wp:status><![CDATA[publish]]></wp:status>\
             <wp:post_type><![CDATA[post]]></wp:post_type>"
        )
        .ok();
        for i in t * 20..(t * 20 + 20).min(n) {
            let comment_id = i + 1;
            let parent = if i % 4 == 3 { comment_id - 1 } else { 0 };
            let kind = if i % 1000 == 999 {
                pingbacks += 1;
                "pingback"
            } else {
                "comment"
            };
            writeln!(
                f,
                "<wp:comment><wp:comment_id>{comment_id}</wp:comment_id>\
                 <wp:comment_author><![CDATA[User {i}]]></wp:comment_author>\
                 <wp:comment_author_email><![CDATA[user{i}@example.com]]></wp:comment_author_email>\
                 <wp:comment_author_url>https://example.com/u{i}</wp:comment_author_url>\
                 <wp:comment_author_IP><![CDATA[127.0.0.1]]></wp:comment_author_IP>\
                 <wp:comment_date><![CDATA[2013-01-01 00:00:{s:02}]]></wp:comment_date>\
                 <wp:comment_date_gmt><![CDATA[2013-01-01 00:00:{s:02}]]></wp:comment_date_gmt>\
                 <wp:comment_content><![CDATA[<p>Comment number {i}, with a \
                 <a href=\"https://example.com\">link</a> and some text to make it the size of a \
                 real comment: Zoë wrote this on a train.</p>]]></wp:comment_content>\
                 <wp:comment_approved><![CDATA[{state}]]></wp:comment_approved>\
                 <wp:comment_type><![CDATA[{kind}]]></wp:comment_type>\
                 <wp:comment_parent>{parent}</wp:comment_parent>\
                 <wp:comment_user_id>0</wp:comment_user_id></wp:comment>",
                s = i % 60,
                state = wp_state(i),
            )
            .ok();
        }
        writeln!(f, "</item>").ok();
    }
    writeln!(f, "</channel>\n</rss>").ok();
    f.flush().expect("write the export");
    drop(f);
    (
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        n - pingbacks,
    )
}

/// The file as a request body, at most `mib_per_s` MiB a second (0: as fast as it goes).
async fn body_of(file: &std::path::Path, mib_per_s: f64) -> reqwest::Body {
    let f = tokio::fs::File::open(file).await.expect("open the export");
    let chunks = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024);
    if mib_per_s <= 0.0 {
        return reqwest::Body::wrap_stream(chunks);
    }
    let start = Instant::now();
    let mut sent = 0u64;
    let paced = chunks.then(move |chunk| {
        if let Ok(c) = &chunk {
            sent += c.len() as u64;
        }
        let due = start + Duration::from_secs_f64(sent as f64 / (mib_per_s * 1024.0 * 1024.0));
        async move {
            tokio::time::sleep_until(due.into()).await;
            chunk
        }
    });
    reqwest::Body::wrap_stream(paced)
}

async fn start_hub(store: &[&str]) -> (Child, String) {
    // `--hub-bin PATH`: another build of the binary, to compare two commits on one machine.
    let bin: String = arg("--hub-bin", env!("CARGO_BIN_EXE_fastcomments").to_owned());
    let mut command = Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(store);
    spawn_serve(command, ADMIN).await
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

/// The file a round imports.
struct Input<'a> {
    file: &'a std::path::Path,
    /// `disqus` or `wxr`.
    format: &'a str,
    /// Records in the file (comments and pingbacks).
    records: usize,
    /// Comments an import creates of it.
    comments: usize,
    /// The upload's pace, MiB/s (0: unpaced).
    mib_per_s: f64,
}

/// What one round measured.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// Records per second, from the first byte sent to `done`.
    import_per_s: f64,
    /// Seconds from the first byte sent to the `202` (the whole file received).
    upload_secs: f64,
    /// Seconds from the first byte sent to `done`.
    import_secs: f64,
    export_per_s: f64,
    wxr_export_per_s: f64,
    /// The hub's peak resident memory when the import ended (before the exports).
    import_rss_mib: f64,
    /// The hub's peak resident memory after the exports.
    peak_rss_mib: f64,
}

/// The JSON answer to `request`; `what` names the request when it fails.
async fn json_of(request: reqwest::RequestBuilder, what: &str) -> Value {
    request
        .send()
        .await
        .expect(what)
        .json()
        .await
        .expect("a JSON answer")
}

/// The tenant's export in `format` (`jsonl` or `wxr`), and the seconds it took.
async fn timed_export(http: &reqwest::Client, url: &str, key: &str, format: &str) -> (String, f64) {
    let start = Instant::now();
    let text = http
        .get(format!("{url}/api/v1/export?format={format}"))
        .header("x-api-key", key)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("the export's body");
    (text, start.elapsed().as_secs_f64())
}

/// One import and the two exports on a hub over `store`.
async fn round(store: &[&str], input: &Input<'_>) -> Measured {
    let (child, url) = start_hub(store).await;
    let http = reqwest::Client::new();
    let tenant = json_of(
        http.post(format!("{url}/admin/v1/tenants"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": "Bench", "domains": ["bench.example"]})),
        "create a tenant",
    )
    .await;
    let key = tenant["apiSecret"].as_str().expect("a secret").to_owned();
    let body = body_of(input.file, input.mib_per_s).await;
    let start = Instant::now();
    let started = json_of(
        http.post(format!("{url}/api/v1/imports?format={}", input.format))
            .header("x-api-key", &key)
            .body(body),
        "start the import",
    )
    .await;
    let upload_secs = start.elapsed().as_secs_f64();
    let id = started["import"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an import id in {started}"))
        .to_owned();
    let done = loop {
        let v = json_of(
            http.get(format!("{url}/api/v1/imports/{id}"))
                .header("x-api-key", &key),
            "read the import",
        )
        .await;
        if v["import"]["state"] != "running" {
            break v["import"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let import_secs = start.elapsed().as_secs_f64();
    let import_rss_mib = child.id().map_or(0.0, peak_rss_mib);
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        done["created"].as_u64(),
        Some(input.comments as u64),
        "{done}"
    );
    let (text, export_secs) = timed_export(&http, &url, &key, "jsonl").await;
    assert_eq!(text.lines().count(), input.comments);
    drop(text);
    let (wxr, wxr_secs) = timed_export(&http, &url, &key, "wxr").await;
    assert_eq!(wxr.matches("<wp:comment>").count(), input.comments);
    let peak_rss_mib = child.id().map_or(0.0, peak_rss_mib);
    drop(child);
    Measured {
        import_per_s: input.records as f64 / import_secs,
        upload_secs,
        import_secs,
        export_per_s: input.comments as f64 / export_secs,
        wxr_export_per_s: input.comments as f64 / wxr_secs,
        import_rss_mib,
        peak_rss_mib,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn report(what: &str, m: &Measured) {
    println!(
        "{what}: import {:.0}/s ({:.1} s from the first byte to done, the whole file received \
         after {:.1} s), export {:.0}/s, WXR export {:.0}/s, hub peak RSS {:.0} MiB ({:.0} MB) \
         by the import's end, {:.0} MiB ({:.0} MB) after the exports",
        m.import_per_s,
        m.import_secs,
        m.upload_secs,
        m.export_per_s,
        m.wxr_export_per_s,
        m.import_rss_mib,
        m.import_rss_mib * 1.048_576,
        m.peak_rss_mib,
        m.peak_rss_mib * 1.048_576
    );
}

#[tokio::main]
async fn main() {
    let n: usize = arg("--comments", 100_000);
    let rounds: usize = arg("--rounds", 2);
    let format: String = arg("--format", "disqus".to_owned());
    let mib_per_s: f64 = arg("--upload-mib-per-s", 0.0);
    let only: String = arg("--only", String::new());
    let wanted = |i: usize| only.is_empty() || only == ["sqlite", "postgres"][i];
    assert!(
        only.is_empty() || (0..2).any(wanted),
        "--only is sqlite or postgres, not {only}"
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join(format!("{format}.xml"));
    let (size, comments) = match format.as_str() {
        "disqus" => generate_disqus(&file, n),
        "wxr" => generate_wxr(&file, n),
        other => panic!("--format is disqus or wxr, not {other}"),
    };
    println!(
        "{n} records ({comments} comments), {:.1} MB of {format} export, sent {}",
        size as f64 / 1e6,
        if mib_per_s > 0.0 {
            format!("at {mib_per_s} MiB/s")
        } else {
            "unpaced".to_owned()
        }
    );
    let input = Input {
        file: &file,
        format: &format,
        records: n,
        comments,
        mib_per_s,
    };
    // PostgreSQL is started only when its rounds run (`--only sqlite` needs none).
    let cluster = if wanted(1) {
        Some(
            testkit::PgCluster::start_with(testkit::PgOptions::durable())
                .await
                .expect("start PostgreSQL (apt-get install -y postgresql)"),
        )
    } else {
        None
    };
    let mut results: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for r in 0..rounds {
        if wanted(0) {
            let data = dir.path().join(format!("sqlite-{r}"));
            let sqlite = ["--data-dir", data.to_str().expect("a UTF-8 path")];
            let got = round(&sqlite, &input).await;
            report(&format!("round {r} SQLite"), &got);
            results[0].push(got);
        }
        if let Some(cluster) = &cluster {
            let pg_url = cluster
                .database(&format!("import_{r}"))
                .await
                .expect("a database");
            let got = round(&["--database-url", pg_url.as_str()], &input).await;
            report(&format!("round {r} PostgreSQL"), &got);
            results[1].push(got);
        }
    }
    for (i, name) in ["SQLite", "PostgreSQL"].iter().enumerate() {
        let r = &results[i];
        if r.is_empty() {
            continue;
        }
        let med = |f: fn(&Measured) -> f64| median(r.iter().map(f).collect());
        report(
            &format!("{name} median"),
            &Measured {
                import_per_s: med(|m| m.import_per_s),
                upload_secs: med(|m| m.upload_secs),
                import_secs: med(|m| m.import_secs),
                export_per_s: med(|m| m.export_per_s),
                wxr_export_per_s: med(|m| m.wxr_export_per_s),
                import_rss_mib: med(|m| m.import_rss_mib),
                peak_rss_mib: med(|m| m.peak_rss_mib),
            },
        );
    }
}
