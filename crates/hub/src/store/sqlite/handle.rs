//! The bridge to `rusqlite` on the writer connection's own SQLite handle ([`on_own_handle`]),
//! for the upload path's many single-row writes and single-key lookups. The statements
//! themselves are beside their tables: `comments.rs` and `timeline.rs`.

use crate::store::StoreResult;
use sqlx::sqlite::SqliteConnection;

/// Runs `work` with a `rusqlite` connection on `conn`'s own SQLite handle, inside whatever
/// transaction `conn` has open, while sqlx's worker thread is locked out of the handle. For the
/// upload path's many small statements: prepared once, values bound straight from Rust data,
/// no message to the worker per statement. `work` must not commit or roll back.
#[allow(unsafe_code)] // the crate's one unsafe call: see SAFETY below
pub(super) async fn on_own_handle<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    // SAFETY: `raw` is the connection's handle, locked away from sqlx's worker by `handle` for
    // as long as `db` lives (it is dropped before `handle`). `db` does not own the handle:
    // dropping it finalizes its own statements and leaves the handle open, inside the
    // transaction.
    let db = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }?;
    let result = work(&db);
    drop(db);
    drop(handle);
    result
}
