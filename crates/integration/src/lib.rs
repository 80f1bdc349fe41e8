//! The client core FastComments integrations build on: the polling state machine of the
//! integrations-core README (steps 1–4), both protocol generations of SPEC §1, and ready parts
//! for hosts that do not want to write their own.
//!
//! A host (a site plugin) supplies three small parts and calls [`Integration::tick`] from its
//! scheduler, or [`Integration::run`] to let the crate keep the cadence:
//!
//! | part | trait | ready implementations |
//! |---|---|---|
//! | where the state lives | [`StateStore`] | [`MemoryStateStore`], [`JsonFileStateStore`], [`SqliteStateStore`] |
//! | the site's comments, for the upload | [`CommentSource`] | [`MemorySource`], [`SqliteMirror`] |
//! | where hub events land | [`EventSink`] | [`MemorySink`], [`SqliteMirror`] |
//!
//! ```no_run
//! use fastcomments_integration::{Config, Integration, JsonFileStateStore, Protocol, SqliteMirror};
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let mirror = SqliteMirror::open("comments.db".as_ref()).await?;
//! let mut config = Config::new("https://fastcomments.com");
//! config.protocol = Protocol::Commands;
//! let mut integration = Integration::new(
//!     config,
//!     Arc::new(JsonFileStateStore::new("state.json")),
//!     Arc::new(mirror.clone()), // the comments to upload
//!     Arc::new(mirror),         // where hub events land
//! )
//! .await?;
//! integration.ensure_token().await?;
//! println!("open {}", integration.setup_url().unwrap_or_default());
//! integration.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Module map:
//! - [`client`]: [`Integration`], the state machine (token → validation → poll → upload →
//!   events → setup completed) and the run loop.
//! - [`upload`]: keyset batches, 413 splitting, contiguous-prefix cursor, pipelining.
//! - [`transport`]: [`HubClient`], the HTTP calls with retries, backoff and jitter.
//! - [`state`]: [`IntegrationState`] (one record saved atomically), event de-duplication, stores.
//! - [`source`], [`sink`]: the host traits and in-memory implementations.
//! - [`mirror`]: [`SqliteMirror`], a local comment table that is source and sink.
//! - [`config`], [`progress`], [`error`], [`backoff`]: the small parts.
//!
//! Guarantees, whatever the host or the network does:
//! - the timeline cursor moves only after the page's events were applied (at-least-once; the
//!   sink's apply is idempotent);
//! - the upload cursor moves only over batches the hub accepted, in keyset order, so a crash
//!   re-sends at most the batches in flight, which the hub upserts;
//! - transport errors, timeouts, 5xx, 429 and non-JSON answers are retried with backoff and
//!   jitter and never change the saved state.
//!
//! A gap (`gapDetected`, events lost to the hub's retention) is handled by catching up from the
//! oldest kept entry and then downloading every comment (`GET /integrations/v1/comments`) into
//! the sink ([`EventSink::resync_page`], [`EventSink::resync_finished`]), for both protocol
//! generations; the host is told through [`Progress::GapDetected`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod client;
pub mod config;
pub mod error;
pub mod mirror;
pub mod progress;
pub mod sink;
pub mod source;
pub mod state;
pub mod transport;
pub mod upload;

pub use client::{Integration, Phase, TickOutcome};
pub use config::{Config, Protocol, RetryPolicy};
pub use error::{Error, HostError, Result};
pub use mirror::{MirrorComment, Origin, SqliteMirror};
pub use progress::{Progress, ProgressFn};
pub use sink::{Change, EventSink, MemorySink, SyncEvent};
pub use source::{CommentSource, LocalComment, LocalId, MemorySource};
pub use state::{
    Dedup, Durability, IntegrationState, JsonFileStateStore, MemoryStateStore, SqliteStateStore,
    StateStore, UploadProgress,
};
pub use transport::HubClient;
pub use upload::BatchSender;
