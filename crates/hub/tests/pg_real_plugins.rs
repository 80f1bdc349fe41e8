//! `real_plugins.rs` (the real plugins' requests) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "real_plugins.rs"]
mod suite;
