//! The store-dependent suites (`suites/`) over SQLite: a temporary file per hub. Each suite
//! passes [`BACKEND`] to every hub it starts; `postgres.rs` includes the same files.

/// The backend of this module's suites.
pub const BACKEND: crate::common::Backend = crate::common::Backend::Sqlite;

#[path = "suites/admin_pages.rs"]
mod admin_pages;
#[path = "suites/bad_input_properties.rs"]
mod bad_input_properties;
#[path = "suites/comments_api.rs"]
mod comments_api;
#[path = "suites/cursor_properties.rs"]
mod cursor_properties;
#[path = "suites/hanging_receiver.rs"]
mod hanging_receiver;
#[path = "suites/integration_api.rs"]
mod integration_api;
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
#[path = "suites/webhooks.rs"]
mod webhooks;
