//! Rules about comments that need no storage, shared by every store backend (each calls them
//! inside its own transactions, so the backends cannot drift apart):
//!
//! - this module: validation of API input and uploads, rendering text to HTML, API patches;
//! - [`upload`]: merging an uploaded comment over the stored one, and linking parents;
//! - [`votes`]: vote arithmetic and replacement;
//! - [`webhooks`]: which webhook a change fires, to which configuration, with what body.

pub mod comment_input;
pub mod upload;
pub mod votes;
pub mod webhooks;

pub use comment_input::{CommentUpdateInput, NewCommentInput};
pub use upload::{merge_upload, upload_parent_id};
pub use votes::{count_vote, vote_for};
pub use webhooks::{webhook_comment, WEBHOOK_COMMENT_FIELDS};

use crate::ids::TenantId;
use crate::records::CommentPatch;
use fastcomments_protocol::{Comment, Millis, UploadComment};

/// Longest comment text accepted, in bytes.
pub const MAX_COMMENT_BYTES: usize = 64 * 1024;
/// Longest id, name, url id, e-mail and similar short field, in bytes.
pub const MAX_SHORT_FIELD: usize = 2048;

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

/// A comment with nothing written yet, made `now`: no text, no votes, approved, not spam. New
/// comments, from the API or an upload, start from it, so both get the same defaults.
pub(crate) fn blank_comment(tenant_id: &TenantId, id: &str, now: Millis) -> Comment {
    Comment::blank(tenant_id.as_str(), id, now)
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

/// Applies an API patch (checked by [`validate_patch`]).
pub fn apply_patch(c: &mut Comment, patch: &CommentPatch) {
    if let Some(text) = &patch.comment {
        c.comment_html = render_html(text);
        c.has_links = has_links(text);
        c.comment = text.clone();
    }
    if let Some(html) = &patch.comment_html {
        c.has_images = html.contains("<img");
        c.comment_html = html.clone();
    }
    let flags = [
        (patch.approved, &mut c.approved),
        (patch.is_spam, &mut c.is_spam),
        (patch.reviewed, &mut c.reviewed),
        (patch.verified, &mut c.verified),
        (patch.is_by_admin, &mut c.is_by_admin),
        (patch.is_by_moderator, &mut c.is_by_moderator),
    ];
    for (given, field) in flags {
        if let Some(v) = given {
            *field = v;
        }
    }
    if let Some(v) = &patch.commenter_name {
        c.commenter_name = v.clone();
    }
    if let Some(v) = &patch.url_id {
        c.url_id = v.trim().to_owned();
    }
    let texts = [
        (&patch.url_id_raw, &mut c.url_id_raw),
        (&patch.url, &mut c.url),
        (&patch.external_id, &mut c.external_id),
    ];
    for (given, field) in texts {
        if let Some(v) = given {
            *field = Some(v.clone());
        }
    }
    let clearable = [
        (&patch.page_title, &mut c.page_title),
        (&patch.user_id, &mut c.user_id),
        (&patch.commenter_email, &mut c.commenter_email),
        (&patch.avatar_src, &mut c.avatar_src),
        (&patch.parent_id, &mut c.parent_id),
        (&patch.external_parent_id, &mut c.external_parent_id),
    ];
    for (given, field) in clearable {
        if let Some(v) = given {
            *field = v.clone();
        }
    }
    if let Some(date) = patch.date {
        c.date = date;
    }
    if let Some(meta) = &patch.meta {
        let stored = c.meta.get_or_insert_with(Default::default);
        for (k, v) in meta {
            if v.is_null() {
                stored.remove(k);
            } else {
                stored.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in &patch.extra {
        if v.is_null() {
            c.extra.remove(k);
        } else {
            c.extra.insert(k.clone(), v.clone());
        }
    }
}

/// Refuses a patch with nothing to change, or with empty or oversized fields.
pub fn validate_patch(patch: &CommentPatch) -> Result<(), String> {
    if *patch == CommentPatch::default() {
        return Err(
            "nothing to change: give comment, approved, isSpam, reviewed, meta or \
                    another field of the comment"
                .into(),
        );
    }
    check_meta(&patch.meta)?;
    if let Some(text) = &patch.comment {
        if text.trim().is_empty() {
            return Err("comment must not be empty".into());
        }
        check_text(text)?;
    }
    if let Some(html) = &patch.comment_html {
        check_text(html)?;
    }
    for (name, v) in [
        ("commenterName", &patch.commenter_name),
        ("urlId", &patch.url_id),
    ] {
        if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(format!("{name} must not be empty"));
        }
        check_opt(name, v)?;
    }
    check_opt("urlIdRaw", &patch.url_id_raw)?;
    check_opt("url", &patch.url)?;
    check_opt("externalId", &patch.external_id)?;
    for (name, v) in [
        ("pageTitle", &patch.page_title),
        ("userId", &patch.user_id),
        ("commenterEmail", &patch.commenter_email),
        ("avatarSrc", &patch.avatar_src),
        ("parentId", &patch.parent_id),
        ("externalParentId", &patch.external_parent_id),
    ] {
        check_opt(name, &v.clone().flatten())?;
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
