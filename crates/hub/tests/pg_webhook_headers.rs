//! `webhook_headers.rs` with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "webhook_headers.rs"]
mod suite;
