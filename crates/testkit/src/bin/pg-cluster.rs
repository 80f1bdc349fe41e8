//! Runs a throwaway PostgreSQL cluster until stdin closes or Ctrl-C, printing how to reach it:
//!
//! ```text
//! cargo run -p testkit --bin pg-cluster [-- --durable]
//! url=postgres://postgres@127.0.0.1:40123/test
//! dir=/tmp/testkit-pg-AbC123
//! postmaster=4242
//! ```
//!
//! `--exit` starts the process-wide shared cluster and exits at once without running
//! destructors, as a test process does: the cluster's watchdog must stop it (the testkit's
//! own tests check that).

use std::io::Write;
use std::process::ExitCode;
use testkit::{PgCluster, PgOptions};
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut durable = false;
    let mut exit = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--durable" => durable = true,
            "--exit" => exit = true,
            _ => {
                eprintln!("usage: pg-cluster [--durable] [--exit]");
                return ExitCode::from(2);
            }
        }
    }
    if exit {
        match PgCluster::shared().await {
            Ok(cluster) => {
                announce(cluster);
                std::process::exit(0);
            }
            Err(e) => return fail(&e),
        }
    }
    let options = if durable {
        PgOptions::durable()
    } else {
        PgOptions::for_tests()
    };
    let cluster = match PgCluster::start_with(options).await {
        Ok(cluster) => cluster,
        Err(e) => return fail(&e),
    };
    announce(&cluster);
    let mut stdin = tokio::io::stdin();
    let mut sink = Vec::new();
    tokio::select! {
        _ = stdin.read_to_end(&mut sink) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(cluster);
    ExitCode::SUCCESS
}

fn announce(cluster: &PgCluster) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "url={}", cluster.url());
    let _ = writeln!(out, "dir={}", cluster.dir().display());
    let pid = cluster.postmaster_pid().map(|p| p.to_string());
    let _ = writeln!(out, "postmaster={}", pid.unwrap_or_default());
    let _ = out.flush();
}

fn fail(e: &testkit::PgError) -> ExitCode {
    eprintln!("pg-cluster: {e}");
    ExitCode::FAILURE
}
