//! Uploads (SPEC §1.4): merging an uploaded comment over what is stored, and parents.

use super::has_links;
use fastcomments_protocol::{Comment, Extra, Millis, UploadComment};

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
}
