//! Request and response bodies of the integration API (SPEC §1): token setup, the stream
//! ("generation A"), the commands/events form deployed plugins speak ("generation B"), uploads
//! and downloads.

use crate::comment::{Comment, Extra, UploadComment, Vote};
use crate::lenient;
use crate::time::{epoch_ms, Millis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `"success"` or `"failed"`, the first key of every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The call did what was asked.
    Success,
    /// It did not; `code` and `reason` say why.
    Failed,
}

/// The body of every failed call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Failure {
    /// Always [`Status::Failed`].
    pub status: Status,
    /// Kebab-case machine code, e.g. `token-not-validated`.
    pub code: String,
    /// Human text.
    pub reason: String,
}

impl Failure {
    /// A failure body with this code and reason.
    pub fn new(code: impl Into<String>, reason: impl Into<String>) -> Failure {
        Failure {
            status: Status::Failed,
            code: code.into(),
            reason: reason.into(),
        }
    }
}

/// The machine codes of SPEC.md, as constants so both sides spell them alike.
pub mod codes {
    /// The token is not of the accepted form.
    pub const INVALID_TOKEN: &str = "invalid-token";
    /// The hub has never seen this token.
    pub const UNKNOWN_TOKEN: &str = "unknown-token";
    /// Registered but not acknowledged by a tenant admin yet.
    pub const TOKEN_NOT_VALIDATED: &str = "token-not-validated";
    /// Revoked by the tenant.
    pub const TOKEN_REVOKED: &str = "token-revoked";
    /// The cursor is older than the oldest kept timeline entry.
    pub const CURSOR_EXPIRED: &str = "cursor-expired";
    /// The body is over the hub's limit.
    pub const PAYLOAD_TOO_LARGE: &str = "payload-too-large";
    /// The body is not the JSON expected.
    pub const INVALID_BODY: &str = "invalid-body";
    /// A query value is missing or malformed.
    pub const INVALID_QUERY: &str = "invalid-query";
    /// No such object (or not the caller's).
    pub const NOT_FOUND: &str = "not-found";
    /// The API key is missing or wrong.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Too many requests.
    pub const RATE_LIMITED: &str = "rate-limited";
    /// The hub failed; retry later.
    pub const INTERNAL: &str = "internal-error";
    /// No API secret for the domain and no wildcard one.
    pub const NO_API_SECRET: &str = "no-api-secret";
    /// The hub's disk is full: nothing of the request was stored; retry later (`507`).
    pub const INSUFFICIENT_STORAGE: &str = "insufficient-storage";
    /// The hub's storage failed or cannot be reached: nothing of the request was stored (or,
    /// for a commit cut off mid-way, it is unknown whether it was); retry later (`503`, with
    /// `Retry-After`).
    pub const STORAGE_UNAVAILABLE: &str = "storage-unavailable";
}

/// Answer to `PUT /integrations/v1/token…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// Success.
    pub status: Status,
    /// Whether a tenant admin acknowledged the token.
    pub is_token_validated: bool,
    /// The tenant the token is bound to, once validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// The timeline's event kinds (SPEC §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// A comment was created.
    NewComment,
    /// A comment changed.
    UpdatedComment,
    /// A comment was deleted; the event carries it as it was.
    DeletedComment,
    /// A vote was cast.
    NewVote,
    /// A vote was removed.
    DeletedVote,
}

impl EventType {
    /// The kebab-case name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::NewComment => "new-comment",
            EventType::UpdatedComment => "updated-comment",
            EventType::DeletedComment => "deleted-comment",
            EventType::NewVote => "new-vote",
            EventType::DeletedVote => "deleted-vote",
        }
    }

    /// The inverse of [`EventType::as_str`].
    pub fn parse(s: &str) -> Option<EventType> {
        Some(match s {
            "new-comment" => EventType::NewComment,
            "updated-comment" => EventType::UpdatedComment,
            "deleted-comment" => EventType::DeletedComment,
            "new-vote" => EventType::NewVote,
            "deleted-vote" => EventType::DeletedVote,
            _ => return None,
        })
    }

    /// Whether the event carries a vote (else a comment).
    pub fn is_vote(self) -> bool {
        matches!(self, EventType::NewVote | EventType::DeletedVote)
    }
}

/// One event of the stream protocol (SPEC §1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StreamEvent {
    /// The timeline entry's id (stable: the de-duplication key).
    pub id: String,
    /// The entry's position, epoch ms (a number on the wire).
    #[serde(with = "epoch_ms")]
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Millis,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The thread.
    #[serde(deserialize_with = "lenient::string")]
    pub url_id: String,
    /// The comment, for comment events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Comment>,
    /// The vote, for vote events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vote: Option<Vote>,
}

/// A command of the stream protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "command")]
pub enum StreamCommand {
    /// Upload the next batch: comments `start .. start + count` of the site's keyset order.
    #[serde(rename_all = "camelCase")]
    SendNextCommentsPayload {
        /// An id for logs.
        id: String,
        /// How many distinct comments the hub has received from this token so far.
        start: u64,
        /// How many it wants next.
        count: u64,
    },
    /// The initial sync is done (or was skipped). A timeline entry, delivered in cursor order.
    #[serde(rename_all = "camelCase")]
    SetSetupCompleted {
        /// The timeline entry's id.
        id: String,
        /// Its position, epoch ms.
        #[serde(with = "epoch_ms")]
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        created_at: Millis,
    },
}

/// Answer to `GET /integrations/v1/stream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StreamResponse {
    /// Success.
    pub status: Status,
    /// Commands, in cursor order where they are timeline entries.
    pub commands: Vec<StreamCommand>,
    /// Events with `createdAt > lastFetchDate`, ascending.
    pub events: Vec<StreamEvent>,
    /// Another non-empty page exists.
    pub has_more: bool,
    /// The client's next `lastFetchDate`, to store once the events are applied.
    pub next_fetch_date: i64,
    /// The cursor was older than the oldest kept entry: events were lost, re-sync.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gap_detected: bool,
}

/// A command of the deployed plugins' protocol (SPEC §1.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Command {
    /// Always `null` today; kept for the plugins that read it.
    pub id: Option<String>,
    /// What to do.
    pub command: CommandKind,
    /// For `FetchEvents`: how many events wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_count: Option<u64>,
}

/// The kinds of [`Command`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CommandKind {
    /// Call `GET /events`.
    FetchEvents,
    /// Upload comments (`POST /comments`).
    SendComments,
    /// The initial sync is done.
    SetSyncDone,
}

/// Answer to `GET /integrations/v1/commands`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandsResponse {
    /// Success.
    pub status: Status,
    /// What the plugin should do now.
    pub commands: Vec<Command>,
}

/// One event of the deployed plugins' protocol: the payload is a JSON *string* in `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EncodedEvent {
    /// The timeline entry's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its position as ISO-8601 text with milliseconds.
    pub created_at: Millis,
    /// The thread.
    #[serde(deserialize_with = "lenient::string")]
    pub url_id: String,
    /// [`EventData`] serialized to JSON text.
    pub data: String,
}

impl EncodedEvent {
    /// Decodes `data`.
    pub fn decode(&self) -> Result<EventData, serde_json::Error> {
        serde_json::from_str(&self.data)
    }
}

/// What `EncodedEvent::data` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The event's id (the same as the entry's `_id`).
    pub broadcast_id: String,
    /// The entry's position, epoch ms.
    #[serde(with = "epoch_ms")]
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub timestamp: Millis,
    /// The comment, for comment events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Comment>,
    /// The vote, for vote events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vote: Option<Vote>,
}

impl EventData {
    /// JSON text for [`EncodedEvent::data`].
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Answer to `GET /integrations/v1/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventsResponse {
    /// Success.
    pub status: Status,
    /// Always present, possibly empty.
    pub events: Vec<EncodedEvent>,
    /// Another non-empty page exists.
    pub has_more: bool,
    /// The cursor was older than the oldest kept entry: events were lost, re-sync.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gap_detected: bool,
}

/// Body of `POST /integrations/v1/comments`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    /// Where this batch starts in the site's order (from `SendNextCommentsPayload`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub start: Option<i64>,
    /// More batches follow.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub has_more: Option<bool>,
    /// How many comments remain after this batch (what deployed plugins send).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub count_remaining: Option<i64>,
    /// The batch.
    #[serde(default)]
    pub comments: Vec<UploadComment>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Extra,
}

impl UploadRequest {
    /// The upload is finished after this batch: `hasMore` false, or `countRemaining` ≤ 0.
    pub fn is_last(&self) -> bool {
        self.has_more == Some(false) || self.count_remaining.is_some_and(|c| c <= 0)
    }
}

/// Answer to an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    /// Success.
    pub status: Status,
    /// Plugin id → hub id, for every comment of the batch that had an `externalId`.
    pub comment_ids: BTreeMap<String, String>,
    /// How many comments of the batch were stored.
    pub received: u64,
}

/// Answer to `GET /integrations/v1/comments` (download).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommentsPage {
    /// Success.
    pub status: Status,
    /// A page of the tenant's comments, oldest first.
    pub comments: Vec<Comment>,
    /// More pages follow.
    pub has_more: bool,
    /// All the tenant's comments, when `includeCount=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

/// One row of `PATCH /integrations/v1/comment-ids`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommentIdMapping {
    /// The hub id.
    #[serde(deserialize_with = "lenient::string")]
    pub fc_id: String,
    /// The plugin's local id.
    #[serde(deserialize_with = "lenient::string")]
    pub wp_id: String,
}

/// Body of `PATCH /integrations/v1/comment-ids` (at most [`CommentIdsRequest::MAX`] rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentIdsRequest {
    /// The rows.
    pub mappings: Vec<CommentIdMapping>,
}

impl CommentIdsRequest {
    /// Most rows one call may carry.
    pub const MAX: usize = 500;
}

/// Answer to `GET /integrations/v1/api-secret`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiSecretResponse {
    /// Success.
    pub status: Status,
    /// The tenant's API secret for the token's domain, else the wildcard one.
    pub secret: String,
}

/// Whether a token is of the form the hub accepts: `[A-Za-z0-9._-]{8,128}`.
pub fn is_valid_token(token: &str) -> bool {
    (8..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_form() {
        assert!(is_valid_token("0b6f1c1e-5a54-4c8e-9d59-0d4f7d0e2a11"));
        assert!(is_valid_token("abc.DEF_12"));
        assert!(!is_valid_token("short"));
        assert!(!is_valid_token("has space in it"));
        assert!(!is_valid_token(&"a".repeat(129)));
        assert!(!is_valid_token("ünïcödé-token"));
    }

    #[test]
    fn upload_is_last() {
        let r: UploadRequest =
            serde_json::from_str(r#"{"countRemaining":"0","comments":[]}"#).unwrap();
        assert!(r.is_last());
        let r: UploadRequest = serde_json::from_str(
            r#"{"start":200,"hasMore":true,"countRemaining":5,"comments":[]}"#,
        )
        .unwrap();
        assert!(!r.is_last());
        let r: UploadRequest = serde_json::from_str(r#"{"hasMore":false,"comments":[]}"#).unwrap();
        assert!(r.is_last());
    }

    #[test]
    fn stream_commands_are_tagged() {
        let c = StreamCommand::SendNextCommentsPayload {
            id: "c1".into(),
            start: 200,
            count: 100,
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"command":"SendNextCommentsPayload","id":"c1","start":200,"count":100}"#
        );
        let cmd = Command {
            id: None,
            command: CommandKind::FetchEvents,
            event_count: Some(3),
        };
        assert_eq!(
            serde_json::to_string(&cmd).unwrap(),
            r#"{"id":null,"command":"FetchEvents","eventCount":3}"#
        );
    }
}
