//! The per-tenant timeline: entries to append, entries as stored, and how they are read.

use super::IntegrationToken;
use crate::ids::TenantId;
use fastcomments_protocol::{Comment, EventType, Vote};

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A comment or vote event.
    Event(EventType),
    /// A token's initial sync finished (visible to that token only).
    SetupCompleted,
}

impl EntryKind {
    /// Storage text.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Event(e) => e.as_str(),
            EntryKind::SetupCompleted => "SetSetupCompleted",
        }
    }

    /// Inverse of [`EntryKind::as_str`].
    pub fn parse(s: &str) -> Option<EntryKind> {
        if s == "SetSetupCompleted" {
            return Some(EntryKind::SetupCompleted);
        }
        EventType::parse(s).map(EntryKind::Event)
    }
}

/// An entry to append; the store gives it its id and position.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// What happened.
    pub kind: EntryKind,
    /// The thread.
    pub url_id: String,
    /// The token whose upload caused it: hidden from that token (echo suppression).
    pub origin_token: Option<IntegrationToken>,
    /// Visible to this token only.
    pub only_token: Option<IntegrationToken>,
    /// The comment or vote JSON as of the event.
    pub payload: Option<String>,
}

impl NewEntry {
    /// `SetSetupCompleted` for `token`: the end of its setup, visible to it alone.
    pub fn setup_completed(token: &IntegrationToken) -> NewEntry {
        NewEntry {
            kind: EntryKind::SetupCompleted,
            url_id: String::new(),
            origin_token: None,
            only_token: Some(token.clone()),
            payload: None,
        }
    }

    /// A comment event carrying the comment as of the event, hidden from `origin` (the token
    /// whose upload caused it).
    pub fn comment_event(
        kind: fastcomments_protocol::EventType,
        comment: &Comment,
        origin: Option<&IntegrationToken>,
    ) -> Result<NewEntry, serde_json::Error> {
        Ok(NewEntry {
            kind: EntryKind::Event(kind),
            url_id: comment.url_id.clone(),
            origin_token: origin.cloned(),
            only_token: None,
            payload: Some(serde_json::to_string(comment)?),
        })
    }

    /// A vote event. Its payload carries the vote and the voted comment as of the event
    /// (`{"vote":…,"comment":…}`): plugins read `vote.commentId`, the official examples read
    /// `comment._id`. Entries written before this carried the bare vote; [`EventPayload`]
    /// reads both.
    pub fn vote_event(
        kind: fastcomments_protocol::EventType,
        vote: &Vote,
        comment: Option<&Comment>,
    ) -> Result<NewEntry, serde_json::Error> {
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            vote: &'a Vote,
            #[serde(skip_serializing_if = "Option::is_none")]
            comment: Option<&'a Comment>,
        }
        Ok(NewEntry {
            kind: EntryKind::Event(kind),
            url_id: vote.url_id.clone(),
            origin_token: None,
            only_token: None,
            payload: Some(serde_json::to_string(&Envelope { vote, comment })?),
        })
    }
}

/// An event's payload split into what goes out as `comment` and as `vote`, borrowing the
/// stored JSON (no copy, no re-serialisation).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventPayload<'a> {
    /// The comment (comment events; vote events written since votes carry it).
    pub comment: Option<&'a serde_json::value::RawValue>,
    /// The vote (vote events).
    pub vote: Option<&'a serde_json::value::RawValue>,
}

impl<'a> EventPayload<'a> {
    /// Splits `payload` of an event of `kind`.
    pub fn split(
        kind: fastcomments_protocol::EventType,
        payload: Option<&'a str>,
    ) -> Result<EventPayload<'a>, serde_json::Error> {
        use serde_json::value::RawValue;
        let Some(text) = payload else {
            return Ok(EventPayload::default());
        };
        if !kind.is_vote() {
            return Ok(EventPayload {
                comment: Some(serde_json::from_str::<&RawValue>(text)?),
                vote: None,
            });
        }
        #[derive(serde::Deserialize)]
        struct Envelope<'b> {
            #[serde(borrow)]
            vote: &'b RawValue,
            #[serde(borrow, default)]
            comment: Option<&'b RawValue>,
        }
        match serde_json::from_str::<Envelope<'a>>(text) {
            Ok(e) => Ok(EventPayload {
                comment: e.comment,
                vote: Some(e.vote),
            }),
            // A bare vote (entries written before votes carried their comment).
            Err(_) => Ok(EventPayload {
                comment: None,
                vote: Some(serde_json::from_str::<&RawValue>(text)?),
            }),
        }
    }
}

/// A stored timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// The entry's id (event id).
    pub id: String,
    /// Position: per-tenant strictly increasing epoch ms.
    pub created_at: i64,
    /// What happened.
    pub kind: EntryKind,
    /// The thread.
    pub url_id: String,
    /// The comment or vote JSON.
    pub payload: Option<String>,
}

/// A read of one tenant's timeline on behalf of one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineQuery {
    /// Whose timeline.
    pub tenant_id: TenantId,
    /// The reader (echo suppression and token-only entries).
    pub viewer_token: IntegrationToken,
    /// Entries with `created_at > after_ms`.
    pub after_ms: i64,
    /// And `created_at <= until_ms`, when set.
    pub until_ms: Option<i64>,
    /// At most this many.
    pub limit: u64,
    /// Include `SetSetupCompleted` entries (the stream protocol does; commands/events does not).
    pub include_setup: bool,
}

/// The ends of a tenant's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimelineBounds {
    /// The newest position (0 when empty).
    pub newest: i64,
    /// Every entry at or before this position may have been pruned (0: none pruned).
    pub pruned_through: i64,
}
