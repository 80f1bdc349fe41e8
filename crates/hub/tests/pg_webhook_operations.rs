//! `webhook_operations.rs` with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "webhook_operations.rs"]
mod suite;
