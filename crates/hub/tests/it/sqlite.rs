//! The store-dependent suites (`suites/`) over SQLite: a temporary file per hub. Each suite
//! passes [`BACKEND`] to every hub it starts; `postgres.rs` includes the same files.

/// The backend of this module's suites.
pub const BACKEND: crate::common::Backend = crate::common::Backend::Sqlite;

backend_suites!();
