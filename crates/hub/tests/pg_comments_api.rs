//! `comments_api.rs` (the tenant and operator API) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "comments_api.rs"]
mod suite;
