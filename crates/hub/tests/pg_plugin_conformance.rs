//! `plugin_conformance.rs` (the plugin-shaped conformance) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "plugin_conformance.rs"]
mod suite;
