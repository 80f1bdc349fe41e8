//! The FastComments hub: tenants, comments and votes, the per-tenant event timeline, and the
//! integration API that site plugins poll (`docs/protocol.md`).
//!
//! Code map:
//! - [`server`]: open the store, bind, serve (the accept loop's connection caps and timeouts
//!   in [`server::accept`]), shut down gracefully.
//! - [`api`]: HTTP handlers grouped by resource; they validate input, call [`hub::Hub`] or the
//!   store, and shape responses. They never touch SQL.
//! - [`hub`]: shared state and the caches that let idle polls skip the disk.
//! - [`store`]: the [`store::Store`] trait and its backends; every atomic step lives here.
//! - [`pages`]: the admin pages at `/admin` (sessions, CSRF, askama templates) over the same
//!   [`hub::Hub`] calls as the API.
//! - [`delivery`]: the webhook dispatcher: outbox → signed HTTP → attempt log → retry.
//! - [`domain`]: pure comment rules (validation, rendering, upload merge, vote counts).
//! - [`clock`], [`ids`], [`config`], [`error`], [`metrics`], [`client_addr`] (who the client
//!   is behind trusted proxies), [`page_headers`], [`redact`] (URLs for the log): the small parts.

#![deny(unsafe_code)]

pub mod api;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod error;
pub mod extract;
pub mod hub;
pub mod ids;
pub mod import;
pub mod metrics;
pub mod page_headers;
pub mod pages;
pub mod records;
pub mod redact;
pub mod rules;
pub mod server;
pub mod site_domain;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::HubConfig;
pub use hub::Hub;
pub use server::{open_store, open_store_within, RunningHub};
