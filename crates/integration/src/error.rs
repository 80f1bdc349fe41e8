//! The one error type of the client core.
//!
//! Errors are split by what the caller should do: [`Error::is_fatal`] ones need a person (the
//! token was revoked, the hub refuses what we send); the rest are retried by [`crate::Integration::run`].

/// An error raised by the host's own code (its state store, comment source or event sink).
pub type HostError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a tick.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hub answered with a failure we do not retry (a 4xx other than 408/413/429).
    #[error("hub refused the call ({status} {code}): {reason}")]
    Hub {
        /// HTTP status.
        status: u16,
        /// The machine code of the body (`""` when the body was not the hub's JSON).
        code: String,
        /// Human text.
        reason: String,
    },
    /// A single comment is larger than the hub's upload limit: it can not be split further.
    #[error("comment {local_id} alone is over the hub's upload limit")]
    CommentTooLarge {
        /// The local id of the comment.
        local_id: String,
    },
    /// The hub could not be reached (or kept failing) after every retry.
    #[error("hub unavailable after {attempts} attempts: {last}")]
    Unavailable {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The token was revoked by the tenant: a new one must be created and acknowledged.
    #[error("the integration token was revoked")]
    TokenRevoked,
    /// The host's state store failed.
    #[error("state store: {0}")]
    State(#[source] HostError),
    /// The host's comment source failed.
    #[error("comment source: {0}")]
    Source(#[source] HostError),
    /// The host's event sink failed.
    #[error("event sink: {0}")]
    Sink(#[source] HostError),
    /// The configuration is unusable (e.g. the hub URL does not parse).
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// Errors that retrying will not fix: the run loop stops on them.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::TokenRevoked | Error::Config(_) | Error::CommentTooLarge { .. }
        )
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
