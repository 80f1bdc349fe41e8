//! Which account runs the server. PostgreSQL refuses to run as root, and CI and this project's
//! machines run tests as root: then every PostgreSQL program runs as an unprivileged account
//! (`postgres`, which Debian's package creates, else `nobody`), owning the cluster's directory.

use super::PgError;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Accounts to run the server as when the tests run as root, in order of preference.
const UNPRIVILEGED: [&str; 2] = ["postgres", "nobody"];

/// The account PostgreSQL's programs run as.
#[derive(Debug, Clone)]
pub(super) struct Account {
    /// `(uid, gid)` to switch to; `None`: the current user.
    ids: Option<(u32, u32)>,
}

impl Account {
    /// The current user, or an unprivileged account when that is root.
    pub fn for_server() -> Result<Account, PgError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(Account { ids: None });
        }
        UNPRIVILEGED
            .iter()
            .find_map(|name| lookup(name))
            .map(|ids| Account { ids: Some(ids) })
            .ok_or_else(|| {
                PgError::new(
                    "the tests run as root, which PostgreSQL refuses, and there is no \
                     `postgres` or `nobody` account to run it as (`apt-get install -y \
                     postgresql` creates `postgres`)",
                )
            })
    }

    /// A command running `program` as this account in `dir`, with no `PG…` variables of the
    /// caller's environment (they would redirect `pg_ctl`) and untranslated messages (the log
    /// is matched for a port clash).
    pub fn command(&self, program: &Path, dir: &Path) -> Command {
        let mut command = Command::new(program);
        if let Some((uid, gid)) = self.ids {
            // Called as root without `groups`, std also drops the supplementary groups.
            command.uid(uid).gid(gid);
        }
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        command
            .env("LC_ALL", "C")
            .current_dir(dir)
            .stdin(Stdio::null());
        command
    }

    /// Hands `path` to this account.
    pub fn give(&self, path: &Path) -> std::io::Result<()> {
        match self.ids {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
            None => Ok(()),
        }
    }
}

/// `(uid, gid)` of an account, asked of `id` so that every name service counts.
fn lookup(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).arg(name).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}
