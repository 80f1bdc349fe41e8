//! The webhook dispatcher (SPEC §2.2): takes due deliveries from the outbox, signs and sends
//! them, logs every attempt and schedules retries.
//!
//! It is woken on commit (no polling delay) and also wakes when the earliest retry is due, so a
//! restart picks up whatever was queued before it. Deliveries of one comment go out one at a
//! time in change order, per subscription (the per-domain configurations count as one): the
//! outbox query only offers a delivery whose comment has no earlier pending one of the same
//! subscription, and a delivery stays pending in the store until its attempt is recorded. So
//! one subscription's dead receiver holds back only that subscription's deliveries.
//! A crash between sending and recording sends again after the restart: at-least-once, with
//! `X-FastComments-Delivery` as the receiver's idempotency key.
//!
//! - [`guard`]: which addresses a webhook may reach, checked where connections are made.
//! - [`schedule`]: when a failed attempt is tried again (`base × n`, `Retry-After`, jitter).
//! - [`sender`]: one signed attempt over HTTP (also used by test payloads).
//! - [`test_send`]: a test payload and its forged twin, sent now, for the API and the pages.
//! - [`dispatcher`]: the loop that claims, runs and records attempts.
//! - `held`: claimed deliveries waiting for a free slot, briefly.

pub mod dispatcher;
pub mod guard;
mod held;
pub mod schedule;
pub mod sender;
pub mod test_send;

pub use dispatcher::{outcome_of, spawn};
pub use guard::is_non_public;
pub use sender::{send_once, send_once_showing, Outgoing, Senders, Sent, RESPONSE_LOG_BYTES};
