//! Comment changes through the API, pages of comments, and plugin upload batches.

use super::{IntegrationToken, TimelineEntry, TokenRecord};
use crate::ids::TenantId;
use fastcomments_protocol::{Comment, Millis, UploadComment, Vote};
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
        patch: Box<CommentPatch>,
    },
    /// Move every comment of thread `from` (and its page) to thread `to`: one update event and
    /// webhook per comment. A page already at `to` refuses it.
    MoveThread {
        /// The thread now.
        from: String,
        /// The thread after.
        to: String,
    },
    /// Delete a thread: every comment of it (with their votes and flags, one delete event and
    /// webhook each) and its page.
    DeleteThread {
        /// The thread.
        url_id: String,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommentsQuery<'a> {
    /// One thread, or the whole tenant.
    pub url_id: Option<&'a str>,
    /// Only the replies to this comment.
    pub parent_id: Option<&'a str>,
    /// Only comments written at or after this instant (epoch ms).
    pub from_ms: Option<i64>,
    /// Only comments written at or before this instant (epoch ms).
    pub to_ms: Option<i64>,
    /// Only comments someone flagged.
    pub flagged_only: bool,
    /// Comments passed over first.
    pub skip: u64,
    /// Most comments returned.
    pub limit: u64,
    /// Newest first (else oldest first).
    pub newest_first: bool,
}

impl CommentsQuery<'_> {
    /// The statement, with `?` placeholders in the order tenant, then each filter given (url
    /// id, parent id, from, to, and the tenant again for `flagged_only`), limit, skip. Built from the flags only: no input reaches the
    /// text.
    pub fn sql(&self) -> String {
        let order = if self.newest_first { "DESC" } else { "ASC" };
        let mut filters = String::new();
        for (given, clause) in [
            (self.url_id.is_some(), " AND url_id = ?"),
            (self.parent_id.is_some(), " AND parent_id = ?"),
            (self.from_ms.is_some(), " AND date_ms >= ?"),
            (self.to_ms.is_some(), " AND date_ms <= ?"),
            (
                self.flagged_only,
                " AND id IN (SELECT comment_id FROM comment_flags WHERE tenant_id = ?)",
            ),
        ] {
            if given {
                filters.push_str(clause);
            }
        }
        format!(
            "SELECT id, doc FROM comments WHERE tenant_id = ?{filters} \
             ORDER BY date_ms {order}, id {order} LIMIT ? OFFSET ?"
        )
    }
}

/// Fields the comments API may change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommentPatch {
    /// New text (re-rendered to HTML).
    pub comment: Option<String>,
    /// New HTML, as given.
    pub comment_html: Option<String>,
    /// Visibility.
    pub approved: Option<bool>,
    /// Spam flag.
    pub is_spam: Option<bool>,
    /// Reviewed flag.
    pub reviewed: Option<bool>,
    /// The author verified their identity.
    pub verified: Option<bool>,
    /// Written by a site admin.
    pub is_by_admin: Option<bool>,
    /// Written by a moderator.
    pub is_by_moderator: Option<bool>,
    /// Author's name.
    pub commenter_name: Option<String>,
    /// Another thread.
    pub url_id: Option<String>,
    /// The thread id as the site gave it.
    pub url_id_raw: Option<String>,
    /// The page's URL.
    pub url: Option<String>,
    /// The site's id of the comment.
    pub external_id: Option<String>,
    /// `Some(None)` clears; likewise for the five after it.
    pub page_title: Option<Option<String>>,
    pub user_id: Option<Option<String>>,
    pub commenter_email: Option<Option<String>>,
    pub avatar_src: Option<Option<String>>,
    pub parent_id: Option<Option<String>>,
    pub external_parent_id: Option<Option<String>>,
    /// When it was written.
    pub date: Option<Millis>,
    /// Keys set in the comment's `meta` (`null` removes the key).
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    /// Keys set beside the comment's fields (`null` removes the key).
    pub extra: serde_json::Map<String, serde_json::Value>,
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
