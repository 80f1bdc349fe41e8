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
//!
//! `--keep DIR --port P --database NAME` starts (or finds running) a cluster that outlives
//! this process, its data in DIR, prints `url=…` of database NAME and exits; `--stop DIR`
//! stops it (`tools/serve-on-postgres`). Exit code 3: PostgreSQL is not installed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use testkit::{PgCluster, PgOptions};
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut durable = false;
    let mut exit = false;
    let (mut keep, mut stop, mut port, mut database) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--durable" => durable = true,
            "--exit" => exit = true,
            "--keep" => keep = args.next().map(PathBuf::from),
            "--stop" => stop = args.next().map(PathBuf::from),
            "--port" => port = args.next().and_then(|p| p.parse::<u16>().ok()),
            "--database" => database = args.next(),
            _ => return usage(),
        }
    }
    if let Some(dir) = stop {
        return match PgCluster::stop_kept(&dir).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        };
    }
    if let Some(dir) = keep {
        let (Some(port), Some(database)) = (port, database) else {
            return usage();
        };
        return match PgCluster::keep_in(&dir, port, &database).await {
            Ok(url) => {
                println!("url={url}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
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
    if e.is_missing_postgres() {
        ExitCode::from(3)
    } else {
        ExitCode::FAILURE
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: pg-cluster [--durable] [--exit] | --keep DIR --port P --database NAME | --stop DIR"
    );
    ExitCode::from(2)
}
