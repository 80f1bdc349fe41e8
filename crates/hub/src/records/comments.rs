//! Comment changes through the API, pages of comments, and plugin upload batches.

use super::{IntegrationToken, TimelineEntry, TokenRecord};
use crate::ids::TenantId;
use fastcomments_protocol::{Comment, UploadComment, Vote};
use std::collections::BTreeMap;

/// A change through the comments API.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Store a new comment (its parent, if any, must exist in the tenant).
    CreateComment(Box<Comment>),
    /// Change fields of a comment.
    UpdateComment {
        /// The comment's id.
        id: String,
        /// What to change.
        patch: CommentPatch,
    },
    /// Delete a comment (and its votes).
    DeleteComment {
        /// The comment's id.
        id: String,
    },
    /// Cast a vote; when the same user already voted on the comment, that vote is replaced
    /// (or kept, if it points the same way).
    AddVote(Box<Vote>),
    /// Remove a vote.
    DeleteVote {
        /// The vote's id.
        id: String,
    },
}

/// Which page of comments [`crate::store::Store::list_comments`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentsQuery<'a> {
    /// One thread, or the whole tenant.
    pub url_id: Option<&'a str>,
    /// Comments passed over first.
    pub skip: u64,
    /// Most comments returned.
    pub limit: u64,
    /// Newest first (else oldest first).
    pub newest_first: bool,
}

impl CommentsQuery<'_> {
    /// The statement, with `?` placeholders in the order tenant, url id (when given), limit,
    /// skip. Built from the flags only: no input reaches the text.
    pub fn sql(&self) -> String {
        let order = if self.newest_first { "DESC" } else { "ASC" };
        let thread = if self.url_id.is_some() {
            " AND url_id = ?"
        } else {
            ""
        };
        format!(
            "SELECT id, doc FROM comments WHERE tenant_id = ?{thread} \
             ORDER BY date_ms {order}, id {order} LIMIT ? OFFSET ?"
        )
    }
}

/// Fields the comments API may change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommentPatch {
    /// New text (re-rendered to HTML).
    pub comment: Option<String>,
    /// Visibility.
    pub approved: Option<bool>,
    /// Spam flag.
    pub is_spam: Option<bool>,
    /// Reviewed flag.
    pub reviewed: Option<bool>,
    /// Replaces the comment's `meta` object.
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What [`Change`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The comment after the change (before it, for a delete).
    pub comment: Option<Comment>,
    /// The vote cast or removed.
    pub vote: Option<Vote>,
    /// The entries appended, in order.
    pub entries: Vec<TimelineEntry>,
    /// Webhook deliveries queued by the change.
    pub deliveries: usize,
    /// Changes that matched none of the tenant's webhook configurations (it has some).
    pub webhooks_unmatched: usize,
}

/// An upload batch (SPEC §1.4).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadBatch {
    /// The token's tenant.
    pub tenant_id: TenantId,
    /// The uploading token.
    pub token: IntegrationToken,
    /// The comments, already validated.
    pub comments: Vec<UploadComment>,
    /// This is the last batch of the initial upload.
    pub finishes_upload: bool,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadOutcome {
    /// Plugin id → hub id.
    pub comment_ids: BTreeMap<String, String>,
    /// Comments stored.
    pub received: u64,
    /// The token's record after the batch.
    pub token: TokenRecord,
    /// Entries appended.
    pub entries: Vec<TimelineEntry>,
    /// Webhook deliveries queued (imports fire only where the tenant turned that on).
    pub deliveries: usize,
}
