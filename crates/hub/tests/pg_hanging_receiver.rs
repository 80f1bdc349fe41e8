//! `hanging_receiver.rs` (one receiver's hang delays only its own deliveries) with every hub on
//! PostgreSQL (see `common::on_postgres`).
#[path = "hanging_receiver.rs"]
mod suite;
