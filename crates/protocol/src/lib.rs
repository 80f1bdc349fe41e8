//! Wire types of the FastComments integration system (`docs/protocol.md`), with no I/O.
//!
//! Both the hub and the client core speak through these types, so they are the single place
//! where a field's name, form and leniency are decided.
//!
//! - [`time`]: instants (`Millis`, written as ISO-8601) and timeline cursors (`Cursor`).
//! - [`lenient`]: deserializers for the loose forms deployed plugins send.
//! - [`comment`]: comments, upload comments, votes, mentions.
//! - [`integration`]: token, stream (generation A), commands/events (generation B), upload,
//!   download, id mapping and API-secret bodies, plus the error codes.
//! - [`webhook`]: the `WebhookComment` body, event kinds and methods.
//!
//! Unknown fields are kept in each type's `extra` map, so a parse → serialize round trip keeps
//! what a newer peer sent.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod comment;
pub mod integration;
pub mod lenient;
pub mod time;
pub mod webhook;

pub use comment::{Comment, Extra, Mention, MentionKind, UploadComment, Vote, VoteDirection};
pub use integration::{
    codes, is_valid_token, ApiSecretResponse, Command, CommandKind, CommandsResponse,
    CommentIdMapping, CommentIdsRequest, CommentsPage, EncodedEvent, EventData, EventType,
    EventsResponse, Failure, Status, StreamCommand, StreamEvent, StreamResponse, TokenResponse,
    UploadRequest, UploadResponse,
};
pub use time::{Cursor, Millis, TimeParseError};
pub use webhook::{DeleteTestPayload, HttpMethod, WebhookComment, WebhookEventKind};
