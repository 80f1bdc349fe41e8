//! `fastcomments import` and `fastcomments export` against a running `serve`: a WordPress
//! export in, counts and problems printed, JSON lines out, and the hub's refusals said plainly.

use crate::serve_support;
use serve_support::assert_succeeded;
use std::process::Output;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const ADMIN: &str = "transfer-admin";

const WXR: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <item>
    <title>Hello</title><link>https://blog.example/hello/</link><wp:post_id>12</wp:post_id>
    <wp:comment><wp:comment_id>1</wp:comment_id><wp:comment_author>Ana</wp:comment_author>
      <wp:comment_date_gmt>2024-05-01 12:00:00</wp:comment_date_gmt><wp:comment_content>First</wp:comment_content>
      <wp:comment_approved>1</wp:comment_approved></wp:comment>
    <wp:comment><wp:comment_id>2</wp:comment_id><wp:comment_author>Bo</wp:comment_author>
      <wp:comment_date_gmt>2024-05-01 12:05:00</wp:comment_date_gmt><wp:comment_content>Reply</wp:comment_content>
      <wp:comment_approved>1</wp:comment_approved><wp:comment_parent>1</wp:comment_parent></wp:comment>
    <wp:comment><wp:comment_id>3</wp:comment_id><wp:comment_author>Other</wp:comment_author>
      <wp:comment_content>ping</wp:comment_content><wp:comment_type>pingback</wp:comment_type></wp:comment>
  </item>
</channel>
</rss>"#;

async fn fastcomments(args: &[&str]) -> Output {
    let mut command = serve_support::fastcomments();
    command
        .args(args)
        .env_remove("FASTCOMMENTS_HUB")
        .env_remove("FASTCOMMENTS_API_KEY");
    serve_support::run_to_end(&mut command, Duration::from_secs(60)).await
}

/// `fastcomments VERB --hub URL --api-key KEY REST…` (`import` or `export`), run to its end.
async fn against_hub(verb: &str, url: &str, key: &str, rest: &[&str]) -> Output {
    let args = [&[verb, "--hub", url, "--api-key", key], rest].concat();
    fastcomments(&args).await
}

/// A hub serving on a data folder in `dir`, with one tenant: the hub (stopped when dropped),
/// its URL and the tenant's API key.
async fn hub_with_a_tenant(dir: &tempfile::TempDir) -> (tokio::process::Child, String, String) {
    let (child, url) = serve_support::spawn_hub(
        Command::new(env!("CARGO_BIN_EXE_fastcomments"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data")),
        ADMIN,
        "error",
    )
    .await;
    let http = reqwest::Client::new();
    let key = serve_support::create_tenant(&http, &url, ADMIN, "Blog", &["blog.example"]).await;
    (child, url, key)
}

#[tokio::test]
async fn a_wordpress_export_goes_in_and_json_lines_come_out() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, url, key) = hub_with_a_tenant(&dir).await;
    let file = dir.path().join("export.xml");
    std::fs::write(&file, WXR).unwrap();
    let file = file.to_str().unwrap();

    let out = against_hub("import", &url, &key, &[file]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("done: 3 read, 2 created, 0 updated, 0 unchanged, 1 skipped, 0 problems"),
        "{stdout}"
    );

    let exported = dir.path().join("comments.jsonl");
    let out = against_hub("export", &url, &key, &["-o", exported.to_str().unwrap()]).await;
    assert_succeeded(&out);
    let text = std::fs::read_to_string(&exported).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (&lines[1]["externalId"], &lines[1]["externalParentId"]),
        (&serde_json::json!("2"), &serde_json::json!("1"))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 comments written"));

    // As a WordPress export: a WXR file, which imports back into the tenant as nothing new.
    let wxr = dir.path().join("comments.xml");
    let out = against_hub(
        "export",
        &url,
        &key,
        &["--format", "wxr", "-o", wxr.to_str().unwrap()],
    )
    .await;
    assert_succeeded(&out);
    let text = std::fs::read_to_string(&wxr).unwrap();
    assert!(
        text.starts_with("<?xml") && text.contains("<wp:comment_id>2</wp:comment_id>"),
        "{text}"
    );
    let out = against_hub("import", &url, &key, &[wxr.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("done: 2 read, 0 created, 0 updated, 2 unchanged"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same file again through a dry run: checked, nothing stored; a wrong key: said.
    let out = against_hub("import", &url, &key, &["--dry-run", file]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("done: 3 read, 0 created"));
    let out = against_hub("import", &url, "wrong", &[file]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("unauthorized"),
        "{stderr}"
    );
    let out = against_hub("import", &url, &key, &["/no/such/file.xml"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /no/such/file.xml"));
}

/// While the tenant has as many exports running as the hub takes (2, docs/imports.md), the
/// hub answers `429` with `Retry-After`; `fastcomments export` waits as told, says so, and gets
/// the whole export once a place frees.
#[tokio::test]
async fn an_export_waits_while_the_tenants_exports_are_all_running() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, url, key) = hub_with_a_tenant(&dir).await;
    // About 24 MB to export: more than the socket buffers of a client that does not read.
    let file = dir.path().join("big.jsonl");
    let lines: String = (0..400)
        .map(|i| {
            let c = serde_json::json!({"externalId": format!("big-{i}"), "urlId": "big",
                "commenterName": "Ana", "comment": format!("{i} {}", "0123456789".repeat(3000))});
            format!("{c}\n")
        })
        .collect();
    std::fs::write(&file, lines).unwrap();
    assert_succeeded(&against_hub("import", &url, &key, &[file.to_str().unwrap()]).await);

    let addr = url.trim_start_matches("http://");
    let mut held = Vec::new();
    for _ in 0..2 {
        let (status, tcp) =
            testkit::slow_reader::get_head_only(addr, "/api/v1/export", &[("x-api-key", &key)])
                .await
                .unwrap();
        assert_eq!(status, 200);
        held.push(tcp);
    }
    let out = dir.path().join("out.jsonl");
    let mut export = serve_support::fastcomments()
        .args(["export", "--hub", &url, "--api-key", &key, "-o"])
        .arg(&out)
        .env_remove("FASTCOMMENTS_HUB")
        .env_remove("FASTCOMMENTS_API_KEY")
        .spawn()
        .unwrap();
    // Refused (the hub says 10 s), and only then a place frees: a fixed pause before freeing
    // it lost the race on a loaded machine, where the command had not asked yet.
    let mut stderr = BufReader::new(export.stderr.take().unwrap()).lines();
    let refused = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.contains("asking again in 10 s") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the export was refused within 60 s");
    assert!(refused, "the export ended without being refused");
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(60), export.wait())
        .await
        .expect("the export ends once a place frees")
        .unwrap();
    assert!(status.success(), "{status}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 400);
}
