//! Rules about comments that need no storage, shared by every store backend (each calls them
//! inside its own transactions, so the backends cannot drift apart):
//!
//! - this module: validation of API input and uploads, rendering text to HTML, API patches;
//! - [`upload`]: merging an uploaded comment over the stored one, and linking parents;
//! - [`votes`]: vote arithmetic and replacement;
//! - [`webhooks`]: which webhook a change fires, to which configuration, with what body.

pub mod upload;
pub mod votes;
pub mod webhooks;

pub use upload::{merge_upload, upload_parent_id};
pub use votes::{count_vote, vote_for};
pub use webhooks::{webhook_comment, WEBHOOK_COMMENT_FIELDS};

use crate::ids::TenantId;
use crate::records::CommentPatch;
use fastcomments_protocol::{Comment, Extra, Millis, UploadComment};
use serde::Deserialize;

/// Longest comment text accepted, in bytes.
pub const MAX_COMMENT_BYTES: usize = 64 * 1024;
/// Longest id, name, url id, e-mail and similar short field, in bytes.
pub const MAX_SHORT_FIELD: usize = 2048;

/// Body of `POST /api/v1/comments`. Besides the fields the hub keeps, it accepts, and leaves
/// aside, every other field of the hosted API's `CreateCommentParams` (what the official SDKs
/// send: dates, votes, moderation flags, ratings, …): the hub dates, counts and moderates a
/// comment itself (`PATCH` sets approval and review). Any other field is still `400`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCommentInput {
    /// Thread id.
    #[serde(deserialize_with = "fastcomments_protocol::lenient::string")]
    pub url_id: String,
    /// Page URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Page title.
    #[serde(default)]
    pub page_title: Option<String>,
    /// Author.
    pub commenter_name: String,
    /// Author's e-mail.
    #[serde(default)]
    pub commenter_email: Option<String>,
    /// The text.
    pub comment: String,
    /// Parent comment (hub id).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Author's user id.
    #[serde(
        default,
        deserialize_with = "fastcomments_protocol::lenient::opt_string"
    )]
    pub user_id: Option<String>,
    /// The domain written on.
    #[serde(default)]
    pub domain: Option<String>,
    /// Free-form data kept with the comment as given (plugins recognise their own comments by
    /// it, e.g. WordPress by `wpPostId`). At most [`MAX_META_BYTES`] as JSON.
    #[serde(
        default,
        deserialize_with = "fastcomments_protocol::lenient::opt_object"
    )]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    /// The author's locale (`en_us`); the official SDKs always send it.
    #[serde(default)]
    pub locale: Option<String>,
    /// The author's avatar.
    #[serde(default)]
    pub avatar_src: Option<String>,
    /// `date`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "date")]
    #[schema(value_type = Option<Object>)]
    pub date: Option<serde::de::IgnoredAny>,
    /// `localDateString`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "localDateString")]
    #[schema(value_type = Option<Object>)]
    pub local_date_string: Option<serde::de::IgnoredAny>,
    /// `localDateHours`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "localDateHours")]
    #[schema(value_type = Option<Object>)]
    pub local_date_hours: Option<serde::de::IgnoredAny>,
    /// `commenterLink`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "commenterLink")]
    #[schema(value_type = Option<Object>)]
    pub commenter_link: Option<serde::de::IgnoredAny>,
    /// `productId`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "productId")]
    #[schema(value_type = Option<Object>)]
    pub product_id: Option<serde::de::IgnoredAny>,
    /// `mentions`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "mentions")]
    #[schema(value_type = Option<Object>)]
    pub mentions: Option<serde::de::IgnoredAny>,
    /// `hashTags`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "hashTags")]
    #[schema(value_type = Option<Object>)]
    pub hash_tags: Option<serde::de::IgnoredAny>,
    /// `botId`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "botId")]
    #[schema(value_type = Option<Object>)]
    pub bot_id: Option<serde::de::IgnoredAny>,
    /// `ip`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "ip")]
    #[schema(value_type = Option<Object>)]
    pub ip: Option<serde::de::IgnoredAny>,
    /// `isFromMyAccountPage`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "isFromMyAccountPage")]
    #[schema(value_type = Option<Object>)]
    pub is_from_my_account_page: Option<serde::de::IgnoredAny>,
    /// `fromOfflineRestore`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "fromOfflineRestore")]
    #[schema(value_type = Option<Object>)]
    pub from_offline_restore: Option<serde::de::IgnoredAny>,
    /// `tos`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "tos")]
    #[schema(value_type = Option<Object>)]
    pub tos: Option<serde::de::IgnoredAny>,
    /// `approved`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "approved")]
    #[schema(value_type = Option<Object>)]
    pub approved: Option<serde::de::IgnoredAny>,
    /// `isPinned`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "isPinned")]
    #[schema(value_type = Option<Object>)]
    pub is_pinned: Option<serde::de::IgnoredAny>,
    /// `reviewed`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "reviewed")]
    #[schema(value_type = Option<Object>)]
    pub reviewed: Option<serde::de::IgnoredAny>,
    /// `verified`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "verified")]
    #[schema(value_type = Option<Object>)]
    pub verified: Option<serde::de::IgnoredAny>,
    /// `moderationGroupIds`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "moderationGroupIds")]
    #[schema(value_type = Option<Object>)]
    pub moderation_group_ids: Option<serde::de::IgnoredAny>,
    /// `feedbackIds`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "feedbackIds")]
    #[schema(value_type = Option<Object>)]
    pub feedback_ids: Option<serde::de::IgnoredAny>,
    /// `rating`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "rating")]
    #[schema(value_type = Option<Object>)]
    pub rating: Option<serde::de::IgnoredAny>,
    /// `autoplayDelayMS`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "autoplayDelayMS")]
    #[schema(value_type = Option<Object>)]
    pub autoplay_delay_ms: Option<serde::de::IgnoredAny>,
    /// `questionValues`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "questionValues")]
    #[schema(value_type = Option<Object>)]
    pub question_values: Option<serde::de::IgnoredAny>,
    /// `votes`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "votes")]
    #[schema(value_type = Option<Object>)]
    pub votes: Option<serde::de::IgnoredAny>,
    /// `votesDown`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "votesDown")]
    #[schema(value_type = Option<Object>)]
    pub votes_down: Option<serde::de::IgnoredAny>,
    /// `votesUp`: accepted as the SDKs send it, and left aside.
    #[serde(default, rename = "votesUp")]
    #[schema(value_type = Option<Object>)]
    pub votes_up: Option<serde::de::IgnoredAny>,
}

/// Largest `meta` object accepted through the comments API, as compact JSON.
pub const MAX_META_BYTES: usize = 16 * 1024;

/// Refuses a `meta` object over [`MAX_META_BYTES`].
pub fn check_meta(meta: &Option<serde_json::Map<String, serde_json::Value>>) -> Result<(), String> {
    let Some(m) = meta else { return Ok(()) };
    let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_META_BYTES {
        return Err(format!(
            "meta is {size} bytes as JSON; at most {MAX_META_BYTES} are kept"
        ));
    }
    Ok(())
}

pub(crate) fn check_short(name: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_SHORT_FIELD {
        return Err(format!("{name} is longer than {MAX_SHORT_FIELD} bytes"));
    }
    Ok(())
}

pub(crate) fn check_opt(name: &str, value: &Option<String>) -> Result<(), String> {
    value.as_deref().map_or(Ok(()), |v| check_short(name, v))
}

pub(crate) fn check_text(value: &str) -> Result<(), String> {
    if value.len() > MAX_COMMENT_BYTES {
        return Err(format!("comment is longer than {MAX_COMMENT_BYTES} bytes"));
    }
    Ok(())
}

impl NewCommentInput {
    /// Refuses empty required fields and oversized ones.
    pub fn validate(&self) -> Result<(), String> {
        if self.url_id.trim().is_empty() {
            return Err("urlId must not be empty".into());
        }
        if self.commenter_name.trim().is_empty() {
            return Err("commenterName must not be empty".into());
        }
        if self.comment.trim().is_empty() {
            return Err("comment must not be empty".into());
        }
        check_short("urlId", &self.url_id)?;
        check_short("commenterName", &self.commenter_name)?;
        check_text(&self.comment)?;
        check_opt("url", &self.url)?;
        check_opt("pageTitle", &self.page_title)?;
        check_opt("commenterEmail", &self.commenter_email)?;
        check_opt("parentId", &self.parent_id)?;
        check_opt("userId", &self.user_id)?;
        check_opt("domain", &self.domain)?;
        check_meta(&self.meta)
    }

    /// The comment to store.
    pub fn into_comment(self, tenant_id: &TenantId, id: String, now: Millis) -> Comment {
        let html = render_html(&self.comment);
        Comment {
            url_id_raw: Some(self.url_id.clone()),
            url_id: self.url_id.trim().to_owned(),
            url: self.url,
            page_title: self.page_title,
            user_id: self.user_id,
            commenter_name: self.commenter_name,
            commenter_email: self.commenter_email,
            has_links: has_links(&self.comment),
            has_images: html.contains("<img"),
            comment: self.comment,
            comment_html: html,
            parent_id: self.parent_id.filter(|p| !p.is_empty()),
            domain: self.domain,
            meta: self.meta,
            locale: self.locale.filter(|l| !l.trim().is_empty()),
            avatar_src: self.avatar_src.filter(|a| !a.trim().is_empty()),
            ..blank_comment(tenant_id, &id, now)
        }
    }
}

/// A comment with nothing written yet, made `now`: no text, no votes, approved, not spam. New
/// comments, from the API or an upload, start from it, so both get the same defaults.
pub(crate) fn blank_comment(tenant_id: &TenantId, id: &str, now: Millis) -> Comment {
    Comment {
        id: id.to_owned(),
        tenant_id: tenant_id.to_string(),
        url_id: String::new(),
        url_id_raw: None,
        url: None,
        page_title: None,
        user_id: None,
        commenter_name: String::new(),
        commenter_email: None,
        comment: String::new(),
        comment_html: String::new(),
        parent_id: None,
        external_id: None,
        external_parent_id: None,
        date: now,
        votes: 0,
        votes_up: 0,
        votes_down: 0,
        verified: false,
        reviewed: false,
        approved: true,
        is_spam: false,
        ai_determined_spam: false,
        has_images: false,
        has_links: false,
        avatar_src: None,
        locale: None,
        is_by_admin: false,
        is_by_moderator: false,
        domain: None,
        mentions: Vec::new(),
        meta: None,
        extra: Extra::new(),
    }
}

/// Renders plain comment text to HTML: escapes markup, keeps line breaks.
pub fn render_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether the text holds a link.
pub fn has_links(text: &str) -> bool {
    text.contains("http://") || text.contains("https://")
}

/// Applies an API patch.
pub fn apply_patch(comment: &mut Comment, patch: &CommentPatch) {
    if let Some(text) = &patch.comment {
        comment.comment_html = render_html(text);
        comment.has_links = has_links(text);
        comment.comment = text.clone();
    }
    if let Some(v) = patch.approved {
        comment.approved = v;
    }
    if let Some(v) = patch.is_spam {
        comment.is_spam = v;
    }
    if let Some(v) = patch.reviewed {
        comment.reviewed = v;
    }
    if let Some(meta) = &patch.meta {
        comment.meta = Some(meta.clone());
    }
}

/// Refuses a patch with nothing to change or with oversized text.
pub fn validate_patch(patch: &CommentPatch) -> Result<(), String> {
    if patch.comment.is_none()
        && patch.approved.is_none()
        && patch.is_spam.is_none()
        && patch.reviewed.is_none()
        && patch.meta.is_none()
    {
        return Err("nothing to change: give comment, approved, isSpam, reviewed or meta".into());
    }
    check_meta(&patch.meta)?;
    if let Some(text) = &patch.comment {
        if text.trim().is_empty() {
            return Err("comment must not be empty".into());
        }
        check_text(text)?;
    }
    Ok(())
}

/// Refuses an uploaded comment that cannot be stored.
pub fn validate_upload(c: &UploadComment) -> Result<(), String> {
    let has_thread = c.url_id.as_deref().is_some_and(|u| !u.trim().is_empty())
        || c.url.as_deref().is_some_and(|u| !u.trim().is_empty());
    if !has_thread {
        return Err(format!(
            "comment {} has neither urlId nor url",
            c.external_id
                .as_deref()
                .or(c.id.as_deref())
                .unwrap_or("(no id)")
        ));
    }
    check_text(&c.comment)?;
    check_opt("_id", &c.id)?;
    check_opt("externalId", &c.external_id)?;
    check_opt("externalParentId", &c.external_parent_id)?;
    check_opt("parentId", &c.parent_id)?;
    check_opt("urlId", &c.url_id)?;
    check_opt("url", &c.url)?;
    check_opt("commenterName", &c.commenter_name)?;
    check_opt("commenterEmail", &c.commenter_email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            render_html("a<b>&\"x'\nnext"),
            "a&lt;b&gt;&amp;&quot;x&#39;<br>next"
        );
    }
}
