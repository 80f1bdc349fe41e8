//! For tests that run `fastcomments serve` as a child process.

use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::Child;

/// The `http://ADDR` the hub prints on its first stdout line once it listens (the child must
/// have been spawned with a piped stdout).
pub async fn listening_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("spawned with a piped stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the hub prints its address within 20 s")
        .expect("reading the hub's stdout")
        .expect("the hub printed a line");
    line.rsplit(' ')
        .next()
        .map(str::to_owned)
        .unwrap_or_default()
}
