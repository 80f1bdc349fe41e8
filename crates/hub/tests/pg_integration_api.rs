//! `integration_api.rs` (the integration API) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "integration_api.rs"]
mod suite;
