//! `bad_input_properties.rs` (the bad-input property) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "bad_input_properties.rs"]
mod suite;
