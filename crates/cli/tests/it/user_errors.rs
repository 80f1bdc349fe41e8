//! A user's mistake at start-up is one `error: …` line on stderr and a non-zero exit — with
//! `RUST_BACKTRACE=1` set too (no backtrace, no Debug dump) — and logs written to a pipe carry
//! no colour codes.

use crate::serve_support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// `fastcomments ARGS` with a backtrace requested, colour not refused, run to its end.
async fn run_with_backtrace(args: &[&str], data_dir: &Path) -> Output {
    let mut command = serve_support::fastcomments();
    command
        .args(args)
        .current_dir(data_dir)
        .env("RUST_BACKTRACE", "1")
        .env_remove("NO_COLOR")
        .env_remove("FASTCOMMENTS_DATABASE_URL")
        .env_remove("FASTCOMMENTS_DATA_DIR")
        .env_remove("FASTCOMMENTS_LISTEN");
    // A refused start ends at once.
    serve_support::run_to_end(&mut command, Duration::from_secs(30)).await
}

/// Asserts the process failed and said so in exactly one `error:` line holding every `part`;
/// returns that line.
fn one_error_line(out: &Output, parts: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail; stderr: {stderr}");
    assert!(
        !stderr.to_lowercase().contains("backtrace"),
        "no backtrace: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    assert!(!line.contains("\x1b["), "no colour codes: {line:?}");
    for part in parts {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
    line.to_owned()
}

#[tokio::test]
async fn a_port_in_use_is_one_error_line_even_with_rust_backtrace() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_backtrace(&["serve", "--listen", &addr], dir.path()).await;
    let line = one_error_line(&out, &["starting the hub on", &addr, "in use"]);
    // The causes are joined into the line, not listed under "Caused by:".
    assert!(!line.contains("Caused by"), "{line}");
    assert_eq!(out.status.code(), Some(1));
    drop(taken);
}

#[tokio::test]
async fn a_bad_flag_value_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_backtrace(&["serve", "--page-size", "many"], dir.path()).await;
    one_error_line(&out, &["'many'", "--page-size"]);
    assert_eq!(out.status.code(), Some(2), "clap's code for usage errors");

    // What the README's old sync example did: brackets pasted into the command.
    let out = run_with_backtrace(
        &[
            "sync",
            "--hub",
            "http://127.0.0.1:9",
            "--state",
            "s.json",
            "--mirror",
            "m.db",
            "[--import",
            "comments.jsonl]",
        ],
        dir.path(),
    )
    .await;
    one_error_line(&out, &["unexpected argument '[--import'"]);

    // Several missing arguments are still named, on the one line.
    let out = run_with_backtrace(&["sync"], dir.path()).await;
    one_error_line(&out, &["--hub", "--state", "--mirror"]);
}

#[tokio::test]
async fn an_unusable_data_dir_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be (the tests run as root, so a directory with
    // its permissions taken away would still be readable).
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let path = file.to_str().unwrap();
    let out = run_with_backtrace(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", path],
        dir.path(),
    )
    .await;
    one_error_line(&out, &["opening the store", path]);

    // A data directory whose database is something SQLite cannot open.
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("hub.db")).unwrap();
    let data = data.to_str().unwrap();
    let out = run_with_backtrace(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", data],
        dir.path(),
    )
    .await;
    one_error_line(&out, &["opening the store"]);
}

#[tokio::test]
async fn a_second_hub_on_the_same_data_dir_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let mut first = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data])
        .env_remove("FASTCOMMENTS_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    serve_support::listening_url(&mut first).await;
    let first_pid = first.id().unwrap().to_string();
    let out = run_with_backtrace(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data],
        dir.path(),
    )
    .await;
    one_error_line(&out, &["already served by another hub process", &first_pid]);
}

/// Logs through a pipe are plain text: the hub's stderr is not a terminal here, and `NO_COLOR`
/// is not set, so only the terminal check keeps colour out.
#[tokio::test]
async fn logs_written_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve_support::fastcomments()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("NO_COLOR")
        .env_remove("FASTCOMMENTS_DATABASE_URL")
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap();
    let url = serve_support::listening_url(&mut child).await;
    // Registering a token logs a line at info.
    let res = reqwest::Client::new()
        .put(format!("{url}/integrations/v1/token/pipe-test-token-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    serve_support::sigterm(child.id().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let mut logs = String::new();
    tokio::time::timeout(Duration::from_secs(20), stderr.read_to_string(&mut logs))
        .await
        .expect("the hub stops on SIGTERM")
        .unwrap();
    assert!(
        logs.contains("integration token registered") && logs.contains("INFO"),
        "the logs hold the token's line: {logs:?}"
    );
    assert!(!logs.contains("\x1b["), "no ANSI escapes: {logs:?}");
}

/// A PostgreSQL that does not answer is an error within seconds, naming where the hub tried
/// (without the password), not a minute of silence while the pool retries (issue 21 §6).
#[tokio::test]
async fn an_unreachable_postgres_is_one_error_line_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: connections are refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = format!("postgres://hub:s3cret-pw@127.0.0.1:{port}/hub");
    // A port that takes the connection (the kernel's backlog) and never says a word.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    let silent = format!("postgres://hub:s3cret-pw@127.0.0.1:{mute_port}/hub");
    let cases = [
        (refused, format!("127.0.0.1:{port}"), "refused"),
        (
            silent,
            format!("127.0.0.1:{mute_port}"),
            "no answer within 10 s",
        ),
    ];
    for (url, host, why) in cases {
        let started = std::time::Instant::now();
        let out = run_with_backtrace(
            &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
            dir.path(),
        )
        .await;
        let took = started.elapsed();
        let line = one_error_line(&out, &["cannot connect to PostgreSQL", &host, why]);
        assert!(
            !line.contains("s3cret-pw"),
            "the password is not shown: {line}"
        );
        assert!(
            took < Duration::from_secs(15),
            "the error came after {took:?}: {line}"
        );
    }
    drop(mute);
}
