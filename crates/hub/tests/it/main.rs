//! The hub's integration tests, in one binary (linked once): the real hub on loopback, driven
//! over HTTP, with real receivers, a real PostgreSQL and a real Chromium.
//!
//! The backend matrix is said here, not guessed: every suite whose hubs need a store is
//! included twice, in `sqlite` and in `postgres`, whose `BACKEND` the suite passes to each
//! hub it starts (`cargo test -p fastcomments-hub --test it postgres::` runs one backend). The
//! store contract has its own matrix (`store_contract`); the other modules name their backend
//! where they start a hub.

// `sqlite.rs` and `postgres.rs` include the same suite files on purpose: that is the matrix.
#![allow(clippy::duplicate_mod)]

mod common;

/// The store-dependent suites, one module per file of `suites/`: `sqlite.rs` and `postgres.rs`
/// each expand this once, after naming the `BACKEND` the suites pass to their hubs, so the two
/// backends run the same list.
macro_rules! backend_suites {
    () => {
        #[path = "suites/admin_pages.rs"]
        mod admin_pages;
        #[path = "suites/bad_input_properties.rs"]
        mod bad_input_properties;
        #[path = "suites/comments_api.rs"]
        mod comments_api;
        #[path = "suites/cursor_properties.rs"]
        mod cursor_properties;
        #[path = "suites/export_slots.rs"]
        mod export_slots;
        #[path = "suites/hanging_receiver.rs"]
        mod hanging_receiver;
        #[path = "suites/import_page.rs"]
        mod import_page;
        #[path = "suites/import_upload.rs"]
        mod import_upload;
        #[path = "suites/imports.rs"]
        mod imports;
        #[path = "suites/integration_api.rs"]
        mod integration_api;
        #[path = "suites/official_sdk.rs"]
        mod official_sdk;
        #[path = "suites/plugin_conformance.rs"]
        mod plugin_conformance;
        #[path = "suites/real_plugins.rs"]
        mod real_plugins;
        #[path = "suites/ssrf.rs"]
        mod ssrf;
        #[path = "suites/upload_properties.rs"]
        mod upload_properties;
        #[path = "suites/webhook_headers.rs"]
        mod webhook_headers;
        #[path = "suites/webhook_operations.rs"]
        mod webhook_operations;
        #[path = "suites/webhook_recover.rs"]
        mod webhook_recover;
        #[path = "suites/webhooks.rs"]
        mod webhooks;
        #[path = "suites/wxr_export.rs"]
        mod wxr_export;
    };
}

/// The admin pages in Debian's Chromium under chromedriver.
mod admin_browser;
/// The admin pages' routes against docs/admin.md.
mod admin_routes;
/// What a claim costs on PostgreSQL: written in place, a full tenant skipped whole.
mod claim_costs;
/// Rows damaged on disk are reported, not served.
mod damaged_rows;
/// An older database brought up to date, on each backend.
mod migrations;
/// `/openapi.json` against the routes the hub serves.
mod openapi;
/// Several nodes on one PostgreSQL database tell each other what they committed.
mod pg_liveness;
mod pg_notices;
/// A comment's stream on PostgreSQL when a record waits for a queuing of the same stream.
mod pg_streams;
/// Outboxes stored before the `ready` column get their streams' heads.
mod ready_backfill;
/// Several hubs over one SQLite file, one serving at a time.
mod several_nodes;
/// What every `Store` backend promises, per backend.
mod store_contract;

/// The same suites over PostgreSQL.
mod postgres;
/// The store-dependent suites over SQLite.
mod sqlite;
