//! The README's commands, run as written (issue 21 §6): the set-up's `serve` and the first
//! steps of "Using the hub", and the webhook walk-through ("Receiving webhooks"). Its shell blocks are taken from README.md and run by bash,
//! with only what a test must change: `cargo run … --` becomes the built `fastcomments`, the
//! hub's port 8080 (through `FASTCOMMENTS_LISTEN`) and the receiver's 8787 become free ones,
//! and the two long-running commands
//! (`serve`, `webhooks listen`) go to the background. Everything else, every flag, JSON body
//! and `curl`, is the README's own text.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The ```sh blocks of the README section whose heading starts with `heading`.
fn shell_blocks(heading: &str) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find(heading).expect("the README section");
    let section = &readme[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .split("```sh\n")
        .skip(1)
        .map(|b| b[..b.find("```").expect("a closed block")].to_owned())
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The ports the walk-through's hub and receiver use instead of 8080 and 8787.
#[derive(Clone, Copy)]
struct Ports {
    hub: u16,
    receiver: u16,
}

/// A README line with the test's binary and ports (written in, since some sit inside
/// single-quoted JSON where the shell expands nothing).
fn localised(line: &str, ports: Ports) -> String {
    line.replace("cargo run --release -q -p fastcomments --", "\"$FC\"")
        .replace("cargo run --release -p fastcomments --", "\"$FC\"")
        .replace("localhost:8080", &format!("localhost:{}", ports.hub))
        .replace("8787", &ports.receiver.to_string())
}

/// The block's commands (a line ending in `\` continues), each followed by `echo`, so every
/// answer is a line of its own.
fn with_echo_between(block: &str, ports: Ports) -> String {
    let mut out = String::new();
    for line in block.lines() {
        out.push_str(&localised(line, ports));
        out.push('\n');
        if !line.trim_end().ends_with('\\') {
            out.push_str("echo\n");
        }
    }
    out
}

/// The start of a walk-through's script: strict bash, background jobs killed at the end, and
/// the `serve` lines of `block` in the background (their output in `hub.log`) until the hub
/// answers.
fn script_serving(block: &str, ports: Ports) -> String {
    let mut script = String::from(
        "set -euo pipefail\n\
         trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n",
    );
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        script.push_str(&format!("{} > hub.log 2>&1 &\n", localised(line, ports)));
    }
    script.push_str(
        "for _ in $(seq 200); do curl -sf localhost:$HUB_PORT/healthz >/dev/null && break; sleep 0.1; done\n",
    );
    script
}

#[test]
fn the_webhook_walk_through_works_as_written() {
    let blocks = shell_blocks("## Receiving webhooks");
    assert!(
        blocks.len() >= 3,
        "the walk-through's three steps: {blocks:?}"
    );
    let (serve, receiver, calls) = (&blocks[0], &blocks[1], &blocks[2]);
    assert!(serve.contains(" serve"), "{serve}");
    assert!(receiver.contains("webhooks listen"), "{receiver}");

    let ports = Ports {
        hub: free_port(),
        receiver: free_port(),
    };
    // Step 1: the hub, in the background, until it answers.
    let mut script = script_serving(serve, ports);
    // Step 2: the tenant and its key, and the receiver in the background.
    for line in receiver.lines().filter(|l| !l.trim().is_empty()) {
        if line.contains("webhooks listen") {
            script.push_str(&format!("{} > listen.log 2>&1 &\n", localised(line, ports)));
            script.push_str(
                "for _ in $(seq 200); do grep -q listening listen.log 2>/dev/null && break; sleep 0.1; done\n",
            );
        } else {
            script.push_str(&localised(line, ports));
            script.push('\n');
        }
    }
    // Step 3: as written; then wait for the receiver to print the comment's delivery.
    script.push_str(&with_echo_between(calls, ports));
    script.push_str(
        "for _ in $(seq 200); do grep -q 'kind=comment.created comment=[0-9a-f]\\{24\\}' listen.log && break; sleep 0.1; done\n\
         echo '--- listen.log'\ncat listen.log\n",
    );

    let started = Instant::now();
    let (out, hub_log) = run_script(&script, ports);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("stdout:\n{stdout}\nstderr:\n{stderr}\nhub.log:\n{hub_log}");
    assert!(out.status.success(), "the walk-through failed: {all}");
    assert!(started.elapsed() < Duration::from_secs(60), "{all}");

    let (answers, listened) = stdout.split_once("--- listen.log").expect(&all);
    let answers: Vec<serde_json::Value> = answers
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    // PUT webhook-config, POST webhook-test, POST comments, GET webhook-deliveries.
    assert_eq!(answers.len(), 4, "{all}");
    for a in &answers {
        assert_eq!(a["status"], "success", "{all}");
    }
    let test = &answers[1];
    assert_eq!(test["ok"], true, "the test payload was accepted: {all}");
    assert_eq!(
        test["forged"]["refused"], true,
        "the receiver refused the forged copy: {all}"
    );
    let comment_id = answers[2]["comment"]["_id"].as_str().expect(&all);
    assert!(
        listened.lines().any(|l| l.contains("kind=comment.created")
            && l.contains(&format!("comment={comment_id}"))
            && l.contains("verdict=valid")),
        "the receiver printed the comment's delivery, verified: {all}"
    );
    assert!(
        listened.contains("verdict=rejected"),
        "and the forged test copy, rejected: {all}"
    );
}

/// Runs `script` with bash in a fresh directory, with the test's binary as `$FC` and the hub's
/// port in `FASTCOMMENTS_LISTEN` (`serve` as written listens on its default; the test's port
/// comes in its environment fallback, as a user's would); answers its output and the hub's log.
fn run_script(script: &str, ports: Ports) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env("FC", env!("CARGO_BIN_EXE_fastcomments"))
        .env("HUB_PORT", ports.hub.to_string())
        .env("FASTCOMMENTS_LISTEN", format!("127.0.0.1:{}", ports.hub))
        .env("FASTCOMMENTS_DATA_DIR", dir.path().join("data"))
        .env_remove("FASTCOMMENTS_DATABASE_URL")
        .output()
        .unwrap();
    let hub_log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
    (out, hub_log)
}

/// The set-up's `serve` (with its operator token), then "Using the hub" in order: a tenant
/// made by the command line, one made through the operator API, and `serve --help`.
#[test]
fn the_first_steps_work_as_written() {
    let setup = shell_blocks("## Set-up");
    let using = shell_blocks("## Using the hub");
    assert!(setup[0].contains(" serve"), "{setup:?}");
    assert!(using.len() >= 3, "{using:?}");
    let ports = Ports {
        hub: free_port(),
        receiver: free_port(),
    };
    let mut script = script_serving(&setup[0], ports);
    for block in &using[..3] {
        script.push_str(&with_echo_between(block, ports));
    }
    let (out, hub_log) = run_script(&script, ports);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!(
        "stdout:\n{stdout}\nstderr:\n{}\nhub.log:\n{hub_log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(
        stdout.contains("api secret: "),
        "tenant create printed the secret: {all}"
    );
    let answer: serde_json::Value = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect(l))
        .expect(&all);
    assert_eq!(
        answer["status"], "success",
        "the operator API made the tenant: {all}"
    );
    assert!(stdout.contains("--database-url"), "serve --help: {all}");
}
