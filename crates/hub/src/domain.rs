//! Rules about comments that need no storage: validation, rendering, merging an upload into a
//! stored comment, vote arithmetic. Every store backend calls these inside its transactions.

use crate::store::CommentPatch;
use fastcomments_protocol::{Comment, Extra, Millis, UploadComment, Vote, VoteDirection};
use serde::Deserialize;

/// Longest comment text accepted, in bytes.
pub const MAX_COMMENT_BYTES: usize = 64 * 1024;
/// Longest id, name, url id, e-mail and similar short field, in bytes.
pub const MAX_SHORT_FIELD: usize = 2048;

/// Body of `POST /api/v1/comments`.
#[derive(Debug, Clone, Deserialize)]
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

fn check_short(name: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_SHORT_FIELD {
        return Err(format!("{name} is longer than {MAX_SHORT_FIELD} bytes"));
    }
    Ok(())
}

fn check_opt(name: &str, value: &Option<String>) -> Result<(), String> {
    value.as_deref().map_or(Ok(()), |v| check_short(name, v))
}

fn check_text(value: &str) -> Result<(), String> {
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
    pub fn into_comment(self, tenant_id: &str, id: String, now: Millis) -> Comment {
        let html = render_html(&self.comment);
        Comment {
            id,
            tenant_id: tenant_id.to_owned(),
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
            avatar_src: None,
            locale: None,
            is_by_admin: false,
            is_by_moderator: false,
            domain: self.domain,
            mentions: Vec::new(),
            meta: self.meta,
            extra: Extra::new(),
        }
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

/// Adds (`sign = 1`) or removes (`sign = -1`) a vote's weight on its comment.
pub fn count_vote(comment: &mut Comment, direction: VoteDirection, sign: i64) {
    match direction {
        VoteDirection::Up => comment.votes_up = (comment.votes_up + sign).max(0),
        VoteDirection::Down => comment.votes_down = (comment.votes_down + sign).max(0),
    }
    comment.votes = comment.votes_up - comment.votes_down;
}

/// The vote as stored for a comment, with the comment's external id filled in.
pub fn vote_for(mut vote: Vote, comment: &Comment) -> Vote {
    vote.comment_external_id = comment.external_id.clone();
    vote.url_id = comment.url_id.clone();
    vote
}

/// The comment fields a webhook body carries under the same name and with the same value
/// (the comment's `_id` goes out as `id`).
pub const WEBHOOK_COMMENT_FIELDS: &[&str] = &[
    "urlId",
    "url",
    "userId",
    "commenterEmail",
    "commenterName",
    "comment",
    "commentHTML",
    "externalId",
    "parentId",
    "date",
    "votes",
    "votesUp",
    "votesDown",
    "verified",
    "reviewed",
    "avatarSrc",
    "isSpam",
    "aiDeterminedSpam",
    "hasImages",
    "approved",
    "locale",
    "mentions",
    "domain",
];

/// The webhook body for a comment (SPEC §2.1). Page numbers are not tracked by this hub and
/// are sent as 0.
pub fn webhook_comment(c: &Comment) -> fastcomments_protocol::WebhookComment {
    fastcomments_protocol::WebhookComment {
        id: c.id.clone(),
        url_id: c.url_id.clone(),
        url: c.url.clone(),
        user_id: c.user_id.clone(),
        commenter_email: c.commenter_email.clone(),
        commenter_name: c.commenter_name.clone(),
        comment: c.comment.clone(),
        comment_html: c.comment_html.clone(),
        external_id: c.external_id.clone(),
        parent_id: c.parent_id.clone(),
        date: c.date,
        votes: c.votes,
        votes_up: c.votes_up,
        votes_down: c.votes_down,
        verified: c.verified,
        verified_date: None,
        reviewed: c.reviewed,
        avatar_src: c.avatar_src.clone(),
        is_spam: c.is_spam,
        ai_determined_spam: c.ai_determined_spam,
        has_images: c.has_images,
        page_number: 0,
        page_number_of: 0,
        page_number_nf: 0,
        approved: c.approved,
        locale: c.locale.clone(),
        mentions: Some(c.mentions.clone()),
        domain: c.domain.clone(),
        moderation_group_ids: None,
        extra: Extra::new(),
    }
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

/// The hub parent id an uploaded comment names, if any (`""` and `"0"`, which plugins send
/// for "no parent", are none). It must be a comment of the uploader's tenant.
pub fn upload_parent_id(up: &UploadComment) -> Option<&str> {
    up.parent_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "0")
}

/// Merges an uploaded comment over the stored one (or a fresh one): fields the upload carries
/// win, the rest is kept. `parent_id` is resolved by the caller.
pub fn merge_upload(
    existing: Option<Comment>,
    up: &UploadComment,
    tenant_id: &str,
    id: &str,
    now: Millis,
) -> Comment {
    let is_new = existing.is_none();
    let mut c = existing.unwrap_or_else(|| Comment {
        id: id.to_owned(),
        tenant_id: tenant_id.to_owned(),
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
    });
    let url_id = up
        .url_id
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .or(up.url.as_deref())
        .map(|u| u.trim().to_owned());
    if let Some(u) = url_id {
        if c.url_id_raw.is_none() || is_new {
            c.url_id_raw = up.url_id.clone().or_else(|| Some(u.clone()));
        }
        c.url_id = u;
    }
    set_opt(&mut c.url, &up.url);
    set_opt(&mut c.page_title, &up.page_title);
    set_opt(&mut c.user_id, &up.user_id);
    if let Some(n) = &up.commenter_name {
        c.commenter_name = n.clone();
    }
    set_opt(&mut c.commenter_email, &up.commenter_email);
    if is_new || !up.comment.is_empty() {
        c.comment = up.comment.clone();
        c.comment_html = up
            .comment_html
            .clone()
            .unwrap_or_else(|| up.comment.clone());
        c.has_links = has_links(&c.comment_html);
        c.has_images = c.comment_html.contains("<img");
    }
    if up.external_id.is_some() {
        c.external_id = up.external_id.clone();
    }
    c.external_parent_id = up
        .external_parent_id
        .clone()
        .filter(|p| !p.is_empty() && p != "0");
    if let Some(d) = up.date {
        c.date = d;
    }
    // Vote counts are the site's history when the comment arrives; from then on the hub
    // keeps them (votes cast through the hub change them), so a re-upload does not reset them.
    if is_new {
        if let Some(v) = up.votes_up {
            c.votes_up = v.max(0);
        }
        if let Some(v) = up.votes_down {
            c.votes_down = v.max(0);
        }
        c.votes = match (up.votes, up.votes_up.is_some() || up.votes_down.is_some()) {
            (_, true) => c.votes_up - c.votes_down,
            (Some(v), false) => v,
            (None, false) => c.votes_up - c.votes_down,
        };
    }
    for (field, value) in [
        (&mut c.verified, up.verified),
        (&mut c.reviewed, up.reviewed),
        (&mut c.approved, up.approved),
        (&mut c.is_spam, up.is_spam),
        (&mut c.ai_determined_spam, up.ai_determined_spam),
        (&mut c.has_images, up.has_images),
        (&mut c.has_links, up.has_links),
        (&mut c.is_by_admin, up.is_by_admin),
        (&mut c.is_by_moderator, up.is_by_moderator),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    set_opt(&mut c.url_id_raw, &up.url_id_raw);
    set_opt(&mut c.avatar_src, &up.avatar_src);
    set_opt(&mut c.locale, &up.locale);
    set_opt(&mut c.domain, &up.domain);
    if let Some(mentions) = &up.mentions {
        c.mentions.clone_from(mentions);
    }
    if let Some(meta) = &up.meta {
        let target = c.meta.get_or_insert_with(Default::default);
        for (k, v) in meta {
            target.insert(k.clone(), v.clone());
        }
    }
    // Unknown fields are kept; a key that names a comment field is that field's business
    // (the typed fields above), never a second copy.
    for (k, v) in &up.extra {
        if !Comment::is_field(k) {
            c.extra.insert(k.clone(), v.clone());
        }
    }
    c
}

fn set_opt(target: &mut Option<String>, value: &Option<String>) {
    if value.is_some() {
        target.clone_from(value);
    }
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

    #[test]
    fn upload_merge_keeps_what_the_upload_lacks() {
        let up: UploadComment = serde_json::from_str(
            r#"{"externalId":7,"urlId":"p1","comment":"<p>hi</p>","date":"2024-03-05 14:22:11",
                "approved":"1","votesUp":"3","votesDown":"1","custom":true}"#,
        )
        .unwrap();
        let c = merge_upload(None, &up, "t", "id1", Millis(5));
        assert_eq!(c.external_id.as_deref(), Some("7"));
        assert_eq!(c.comment_html, "<p>hi</p>");
        assert_eq!((c.votes, c.votes_up, c.votes_down), (2, 3, 1));
        assert_eq!(c.date, Millis::parse("2024-03-05T14:22:11Z").unwrap());
        assert_eq!(c.extra.get("custom"), Some(&serde_json::Value::Bool(true)));
        let again: UploadComment =
            serde_json::from_str(r#"{"externalId":"7","urlId":"p1","comment":""}"#).unwrap();
        let c2 = merge_upload(Some(c.clone()), &again, "t", "ignored", Millis(9));
        assert_eq!(c2.comment, c.comment);
        assert_eq!(c2.date, c.date);
        assert_eq!(c2.id, "id1");
    }

    #[test]
    fn votes_never_go_negative() {
        let up = UploadComment {
            url_id: Some("p".into()),
            ..Default::default()
        };
        let mut c = merge_upload(None, &up, "t", "i", Millis(1));
        count_vote(&mut c, VoteDirection::Down, -1);
        assert_eq!((c.votes, c.votes_down), (0, 0));
        count_vote(&mut c, VoteDirection::Up, 1);
        count_vote(&mut c, VoteDirection::Down, 1);
        assert_eq!((c.votes, c.votes_up, c.votes_down), (0, 1, 1));
    }
}
