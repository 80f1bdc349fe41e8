//! The hub's integration tests, in one binary (linked once): the real hub on loopback, driven
//! over HTTP, with real receivers, a real PostgreSQL and a real Chromium.
//!
//! The backend matrix is said here, not guessed: every suite whose hubs need a store is
//! included twice, in `sqlite` and in `postgres`, whose `BACKEND` the suite passes to each
//! hub it starts (`cargo test -p fastcomments-hub --test it postgres::` runs one backend). The
//! store contract has its own matrix (`store_contract`); the other modules name their backend
//! where they start a hub.

// `sqlite.rs` and `postgres.rs` include the same suite files on purpose: that is the matrix.
#![allow(clippy::duplicate_mod)]

mod common;

/// The admin pages in Debian's Chromium under chromedriver.
mod admin_browser;
/// The admin pages' routes against docs/admin.md.
mod admin_routes;
/// Rows damaged on disk are reported, not served.
mod damaged_rows;
/// `/openapi.json` against the routes the hub serves.
mod openapi;
/// Several nodes on one PostgreSQL database tell each other what they committed.
mod pg_notices;
/// Several hubs over one SQLite file, one serving at a time.
mod several_nodes;
/// What every `Store` backend promises, per backend.
mod store_contract;

/// The same suites over PostgreSQL.
mod postgres;
/// The store-dependent suites over SQLite.
mod sqlite;
