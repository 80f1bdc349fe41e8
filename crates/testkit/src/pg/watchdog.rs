//! Stops a cluster when the process that started it ends, however it ends.
//!
//! A test process exits without running statics' destructors (the shared cluster lives in
//! one), and may be killed. So each cluster gets a watchdog: a small shell process, in its
//! own process group (a Ctrl-C to the tests does not reach it), whose stdin is a pipe whose
//! only write end this process holds (std opens it close-on-exec, so no other child inherits
//! it). The kernel closes that end when this process ends — exit, panic or SIGKILL — and the
//! watchdog, reading EOF, stops the server (`pg_ctl stop -m immediate`) and removes the
//! directory. No polling, and no pid that could be reused.

use super::account::Account;
use std::path::Path;
use std::process::{Child, Stdio};

/// Waits for EOF on stdin, then stops the server in `$2` with `pg_ctl` `$1` and removes `$2`
/// (the data directory, which may live outside the cluster's directory) and `$3`.
const SCRIPT: &str = r#"cat >/dev/null
"$1" stop -D "$2" -m immediate -w -t 60 -s >/dev/null 2>&1
rm -rf "$2" "$3""#;

/// The watchdog of one cluster.
#[derive(Debug)]
pub(super) struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// Starts the watchdog of the cluster with data directory `data` and directory `root`.
    pub fn spawn(
        account: &Account,
        pg_ctl: &Path,
        data: &Path,
        root: &Path,
    ) -> std::io::Result<Watchdog> {
        use std::os::unix::process::CommandExt;
        let mut command = account.command(Path::new("/bin/sh"), root);
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg("testkit-pg-watchdog")
            .arg(pg_ctl)
            .arg(data)
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        Ok(Watchdog {
            child: command.spawn()?,
        })
    }

    /// Lets the watchdog stop the cluster now, and waits until it has.
    pub fn finish(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
