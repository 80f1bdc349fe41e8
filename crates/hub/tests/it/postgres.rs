//! The store-dependent suites (`suites/`) over PostgreSQL: a new database of the process's test cluster per hub. Each suite
//! passes [`BACKEND`] to every hub it starts; `postgres.rs` includes the same files.

/// The backend of this module's suites.
pub const BACKEND: crate::common::Backend = crate::common::Backend::Postgres;

backend_suites!();
