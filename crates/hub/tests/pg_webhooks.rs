//! `webhooks.rs` (webhook delivery) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "webhooks.rs"]
mod suite;
