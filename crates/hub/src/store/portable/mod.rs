//! The queries both backends run alike, written once.
//!
//! This module is compiled twice, once inside each backend (`sqlite/mod.rs` and
//! `postgres/mod.rs` both load it with `#[path]`), so each copy works on that backend's own
//! concrete types: no generic bounds over `sqlx::Database`, and a compile error names the
//! backend it is in. What the two dialects do differently stays in each backend's
//! `dialect.rs`, which every file here reaches as `super::dialect`:
//! - `Backend`, `Db`, `Row`, `Conn`: the store, the sqlx database, its row and connection;
//! - `Backend::reads()` and `Backend::writes()`: SQLite's read-only pool and its one writer,
//!   PostgreSQL's one pool for both;
//! - `sql(text)`: a statement written with `?` (or `?N`) placeholders, as the backend takes
//!   it (PostgreSQL numbers them: `$1`, `$2`, …); `MAX_PARAMS`, the bound values a
//!   statement may carry;
//! - `announce(conn, notice)`: tells the other nodes of a commit in the same transaction
//!   (PostgreSQL's `pg_notify`; nothing on SQLite, which one hub serves alone);
//! - statements or fragments whose SQL differs (`END_CLAIM`, `GREATEST`, a list of ids as one
//!   parameter `ID_LIST`, the session upsert, the timeline's read columns and prune mark),
//!   and the few steps that need row locks (`read_comment`);
//! - hooks for what the trait methods do in the backend's own way (`probe_write`, `apply`,
//!   `upload`, `release_claims`, `claim_for_serving`, `notices`, `write_fault`), and
//!   `Backend::retrying` (PostgreSQL runs a write again that a concurrent one made it lose).
//!
//! `traits` implements the store's three traits once: a read by key is written there, every
//! other method forwards to its query here or in the backend's own files.
//!
//! What differs for a reason beyond spelling stays in the backends' own files: the timeline
//! clock, uploads (with PostgreSQL's token progress), comment upserts, delivery claims and
//! attempt records, retention, migrations, notifications and SQLite's writer thread.

// The backend's modules the portable queries use, under the names they use.
use super::{comments, dialect, retention, timeline, webhooks};

use crate::store::StoreResult;
use dialect::{sql, Backend, Conn, Db, Row};
use sqlx::query::Query;
use sqlx::Database;

pub(super) mod apply;
mod comment_reads;
mod flags;
mod imports;
pub(super) mod listing;
pub(super) mod outbox;
pub(super) mod pages;
mod recover;
mod rotation;
mod sessions;
pub(super) mod stats;
pub(super) mod subscriptions;
mod tenants;
pub(super) mod timeline_log;
pub(super) mod tokens;
mod traits;

/// What maps a row to a record (the `*_from_row` functions of `store/rows.rs`).
type FromRow<T> = fn(&Row) -> StoreResult<T>;

/// A statement written with `?` placeholders (already through [`sql`]), each bound to `args`
/// in order (text: the ids and names most statements select by).
fn bound<'q>(text: &'q str, args: &[&'q str]) -> Query<'q, Db, <Db as Database>::Arguments<'q>> {
    args.iter()
        .fold(sqlx::query(text), |query, arg| query.bind(*arg))
}

/// The rows of a read on the store's read pool, its `?` placeholders bound to `args` in order.
async fn read_rows(store: &Backend, text: &str, args: &[&str]) -> StoreResult<Vec<Row>> {
    let text = sql(text);
    Ok(bound(&text, args).fetch_all(store.reads()).await?)
}

/// The rows `query` reads on the store's read pool, its last placeholder (a `LIMIT`) bound to
/// `limit`.
async fn rows_up_to<'q>(
    store: &Backend,
    query: Query<'q, Db, <Db as Database>::Arguments<'q>>,
    limit: u64,
) -> StoreResult<Vec<Row>> {
    let query = query.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    Ok(query.fetch_all(store.reads()).await?)
}

/// Every row of a read (see [`read_rows`]), as records.
async fn read_all<T>(
    store: &Backend,
    text: &str,
    args: &[&str],
    f: FromRow<T>,
) -> StoreResult<Vec<T>> {
    read_rows(store, text, args).await?.iter().map(f).collect()
}

/// The first row of a read (see [`read_rows`]; they select by a key), as a record: fetched
/// alone, with no list built for it (these are the lookups behind cache misses).
async fn read_one<T>(
    store: &Backend,
    text: &str,
    args: &[&str],
    f: FromRow<T>,
) -> StoreResult<Option<T>> {
    let text = sql(text);
    let row = bound(&text, args).fetch_optional(store.reads()).await?;
    row.as_ref().map(f).transpose()
}

/// The row a statement selects by a key in the caller's transaction (or a write's
/// `RETURNING` row), as a record; `?` placeholders bound to `args` as in [`bound`].
async fn one_in<T>(
    conn: &mut Conn,
    text: &str,
    args: &[&str],
    f: FromRow<T>,
) -> StoreResult<Option<T>> {
    let text = sql(text);
    let row = bound(&text, args).fetch_optional(&mut *conn).await?;
    row.as_ref().map(f).transpose()
}
