//! `cursor_properties.rs` (the cursor property) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "cursor_properties.rs"]
mod suite;
