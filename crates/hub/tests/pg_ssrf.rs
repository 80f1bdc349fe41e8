//! `ssrf.rs` with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "ssrf.rs"]
mod suite;
