//! `admin_pages.rs` with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "admin_pages.rs"]
mod suite;
