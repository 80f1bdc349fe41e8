//! `upload_properties.rs` (the upload property) with every hub on PostgreSQL (see `common::on_postgres`).
#[path = "upload_properties.rs"]
mod suite;
