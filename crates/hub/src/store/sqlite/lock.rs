//! One serving hub per database file: an advisory lock next to it.

use super::SqliteStore;
use crate::store::{StoreError, StoreResult};
use std::path::{Path, PathBuf};
/// The lock file next to a database: `hub.db` → `hub.db-serving.lock`.
pub(super) fn serving_lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-serving.lock");
    PathBuf::from(name)
}

/// Takes an exclusive advisory lock on `<db>-serving.lock` and writes this process's id
/// into it. A second `serve` of the same file gets a conflict naming the holder's pid.
pub(super) fn claim_for_serving(store: &SqliteStore) -> StoreResult<()> {
    use std::io::{Read, Seek, Write};
    let Some(db) = &store.path else {
        return Ok(());
    };
    let mut held = store.serving_lock.lock();
    if held.is_some() {
        return Ok(());
    }
    let lock_path = serving_lock_path(db);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::database(format!("cannot open {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            return Err(StoreError::Conflict(format!(
                "{} is already served by another hub process{holder}: one hub at a time \
                 may serve an SQLite database; stop that one or use another --data-dir",
                db.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::database(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            )))
        }
    }
    // The pid is for the message above and for operators; the lock is what counts.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    *held = Some(file);
    Ok(())
}
