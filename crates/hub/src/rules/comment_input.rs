//! The tenant API's comment bodies, as the hosted API names them and the official SDKs send
//! them: `CreateCommentParams` ([`NewCommentInput`]) and `UpdatableCommentParams`
//! ([`CommentUpdateInput`]).
//!
//! Every field the SDKs may send is accepted: the ones the hub's comment has are stored in
//! them, the ones it has no place for but a reader may want back (`isPinned`,
//! `commenterLink`, `hashTags`, …) are kept beside them (the comment's `extra`), and the
//! request-only ones (`ip`, `tos`, `botId`, …) and the ones the hub decides itself (votes,
//! and on creation the date and the moderation flags) are left aside. A key no SDK sends is
//! `400`: a typo is an error, not a silent no-op.

use super::{
    blank_comment, check_meta, check_opt, check_short, check_text, has_links, render_html,
};
use crate::ids::TenantId;
use crate::records::CommentPatch;
use fastcomments_protocol::{lenient, Comment, Extra, Mention, MentionKind, Millis};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Keys of `CreateCommentParams` the hub keeps in the comment's `extra`.
const CREATE_KEPT: &[&str] = &[
    "commenterLink",
    "localDateString",
    "localDateHours",
    "hashTags",
    "isPinned",
    "rating",
    "moderationGroupIds",
    "feedbackIds",
];

/// Keys of `CreateCommentParams` accepted and left aside: request options, what the hub
/// decides itself (date, votes, moderation), and what it will not store (`ip`).
const CREATE_LEFT_ASIDE: &[&str] = &[
    "date",
    "productId",
    "botId",
    "ip",
    "isFromMyAccountPage",
    "fromOfflineRestore",
    "tos",
    "approved",
    "reviewed",
    "verified",
    "autoplayDelayMS",
    "questionValues",
    "votes",
    "votesUp",
    "votesDown",
];

/// Keys of `UpdatableCommentParams` the hub keeps in the comment's `extra` (`null` removes).
const UPDATE_KEPT: &[&str] = &[
    "commenterLink",
    "localDateString",
    "localDateHours",
    "displayLabel",
    "expireAt",
    "verifiedDate",
    "notificationSentForParent",
    "notificationSentForParentTenant",
    "isDeleted",
    "isDeletedUser",
    "isPinned",
    "isLocked",
    "moderationGroupIds",
    "feedbackIds",
];

/// Keys of `UpdatableCommentParams` accepted and left aside: counts the hub keeps itself.
const UPDATE_LEFT_ASIDE: &[&str] = &["votes", "votesUp", "votesDown", "flagCount"];

/// The keys of `rest` that are kept (`kept`), refusing any neither kept nor `left_aside`.
fn sort_rest(
    rest: Map<String, Value>,
    kept: &[&str],
    left_aside: &[&str],
) -> Result<Extra, String> {
    let mut out = Extra::new();
    for (key, value) in rest {
        if kept.contains(&key.as_str()) {
            out.insert(key, value);
        } else if !left_aside.contains(&key.as_str()) {
            return Err(format!("unknown field `{key}`"));
        }
    }
    let size = serde_json::to_vec(&out)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > super::MAX_META_BYTES {
        return Err(format!(
            "the extra fields are {size} bytes as JSON; at most {} are kept",
            super::MAX_META_BYTES
        ));
    }
    Ok(out)
}

/// A mention as the SDKs send it (`rawTag`, `type` and `sent` may be left out).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentMention {
    #[serde(deserialize_with = "lenient::string")]
    id: String,
    tag: String,
    #[serde(default)]
    raw_tag: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<MentionKind>,
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    sent: Option<bool>,
}

/// Body of `POST /api/v1/comments` (and each item of `/comments/bulk`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewCommentInput {
    /// Thread id.
    #[serde(deserialize_with = "lenient::string")]
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
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    /// The domain written on.
    #[serde(default)]
    pub domain: Option<String>,
    /// Free-form data kept with the comment as given (plugins recognise their own comments by
    /// it, e.g. WordPress by `wpPostId`). At most [`super::MAX_META_BYTES`] as JSON.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub meta: Option<Map<String, Value>>,
    /// The author's locale (`en_us`); the official SDKs always send it.
    #[serde(default)]
    pub locale: Option<String>,
    /// The author's avatar.
    #[serde(default)]
    pub avatar_src: Option<String>,
    /// Users mentioned (`{id, tag, rawTag?, type?, sent?}`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub mentions: Option<Value>,
    /// The hosted API's other fields: `commenterLink`, `localDateString`, `localDateHours`,
    /// `hashTags`, `isPinned`, `rating`, `moderationGroupIds`, `feedbackIds` are kept with the
    /// comment; `date`, `votes*`, `approved`, `reviewed`, `verified`, `ip`, `tos`, `botId`,
    /// `productId`, `isFromMyAccountPage`, `fromOfflineRestore`, `autoplayDelayMS`,
    /// `questionValues` are accepted and left aside. Any other key is `400`.
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

impl NewCommentInput {
    /// Refuses empty required fields, oversized ones and unknown keys.
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
        check_opt("locale", &self.locale)?;
        check_opt("avatarSrc", &self.avatar_src)?;
        check_meta(&self.meta)?;
        mentions(self.mentions.clone())?;
        sort_rest(self.rest.clone(), CREATE_KEPT, CREATE_LEFT_ASIDE).map(drop)
    }

    /// The comment to store ([`NewCommentInput::validate`] first: what it refuses is dropped
    /// here).
    pub fn into_comment(self, tenant_id: &TenantId, id: String, now: Millis) -> Comment {
        let html = render_html(&self.comment);
        let extra = sort_rest(self.rest, CREATE_KEPT, CREATE_LEFT_ASIDE).unwrap_or_default();
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
            mentions: mentions(self.mentions).unwrap_or_default(),
            extra,
            ..blank_comment(tenant_id, &id, now)
        }
    }
}

/// The mentions sent, with the hosted API's defaults for what was left out.
fn mentions(sent: Option<Value>) -> Result<Vec<Mention>, String> {
    let Some(sent) = sent.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let sent: Vec<SentMention> =
        serde_json::from_value(sent).map_err(|e| format!("mentions: {e}"))?;
    Ok(sent
        .into_iter()
        .map(|m| Mention {
            raw_tag: m.raw_tag.unwrap_or_else(|| m.tag.clone()),
            id: m.id,
            tag: m.tag,
            kind: m.kind.unwrap_or(MentionKind::User),
            sent: m.sent.unwrap_or(false),
        })
        .collect())
}

/// A field `null` may clear: absent (`None`), `null` (`Some(None)`) or a value.
fn clearable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PATCH /api/v1/comments/{id}`: every field optional, `null` clears the ones that
/// may be empty.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentUpdateInput {
    /// New text (re-rendered to HTML unless `commentHTML` is given too).
    #[serde(default)]
    pub comment: Option<String>,
    /// The HTML as given.
    #[serde(default, rename = "commentHTML")]
    pub comment_html: Option<String>,
    /// Visibility.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub approved: Option<bool>,
    /// Marked as spam.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub is_spam: Option<bool>,
    /// A moderator reviewed it.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub reviewed: Option<bool>,
    /// The author verified their identity.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub verified: Option<bool>,
    /// Written by a site admin.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub is_by_admin: Option<bool>,
    /// Written by a moderator.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub is_by_moderator: Option<bool>,
    /// Author's name.
    #[serde(default)]
    pub commenter_name: Option<String>,
    /// Moves the comment to another thread.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub url_id: Option<String>,
    /// The thread id as the site gave it.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub url_id_raw: Option<String>,
    /// The page's URL.
    #[serde(default)]
    pub url: Option<String>,
    /// The id the site gave the comment (unique in the tenant).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub external_id: Option<String>,
    /// The page's title (`null` clears).
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    pub page_title: Option<Option<String>>,
    /// The author's user id (`null` clears).
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<Option<String>>,
    /// The author's e-mail (`null` clears).
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    pub commenter_email: Option<Option<String>>,
    /// The author's avatar (`null` clears).
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    pub avatar_src: Option<Option<String>>,
    /// The parent comment's hub id (`null`: a top-level comment).
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
    /// The parent's id at the site (`null` clears).
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    pub external_parent_id: Option<Option<String>>,
    /// When the comment was written, epoch milliseconds (or ISO text).
    #[serde(default, deserialize_with = "fastcomments_protocol::time::opt_lenient")]
    #[schema(value_type = Option<f64>)]
    pub date: Option<Millis>,
    /// Keys set in the comment's `meta` (a key given `null` is removed; others are kept).
    #[serde(default, deserialize_with = "lenient::opt_object")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// The hosted API's other fields: `commenterLink`, `localDateString`, `localDateHours`,
    /// `displayLabel`, `expireAt`, `verifiedDate`, `notificationSentForParent[Tenant]`,
    /// `isDeleted`, `isDeletedUser`, `isPinned`, `isLocked`, `moderationGroupIds`,
    /// `feedbackIds` are kept with the comment (`null` removes); `votes*` and `flagCount` are
    /// counted by the hub and left aside. Any other key is `400`.
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

impl CommentUpdateInput {
    /// The change to make, or why the body is refused.
    pub fn into_patch(self) -> Result<CommentPatch, String> {
        let extra = sort_rest(self.rest, UPDATE_KEPT, UPDATE_LEFT_ASIDE)?;
        let patch = CommentPatch {
            comment: self.comment,
            comment_html: self.comment_html,
            approved: self.approved,
            is_spam: self.is_spam,
            reviewed: self.reviewed,
            verified: self.verified,
            is_by_admin: self.is_by_admin,
            is_by_moderator: self.is_by_moderator,
            commenter_name: self.commenter_name,
            url_id: self.url_id,
            url_id_raw: self.url_id_raw,
            url: self.url,
            external_id: self.external_id,
            page_title: self.page_title,
            user_id: self.user_id,
            commenter_email: self.commenter_email,
            avatar_src: self.avatar_src,
            parent_id: self.parent_id.map(|p| p.filter(|p| !p.is_empty())),
            external_parent_id: self.external_parent_id,
            date: self.date,
            meta: self.meta,
            extra,
        };
        super::validate_patch(&patch)?;
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sdk_fields_are_kept_or_left_aside_and_others_refused() {
        let input: NewCommentInput = serde_json::from_value(json!({
            "urlId": "p", "commenterName": "n", "comment": "c", "locale": "en_us",
            "isPinned": true, "ip": "10.0.0.1", "mentions": [{"id": 7, "tag": "@a"}],
        }))
        .unwrap();
        input.validate().unwrap();
        let c = input.into_comment(&TenantId::from("t"), "id".into(), Millis(5));
        assert_eq!(c.extra.get("isPinned"), Some(&json!(true)));
        assert!(c.extra.get("ip").is_none(), "an address is not stored");
        assert_eq!(c.mentions[0].raw_tag, "@a");
        let typo: NewCommentInput = serde_json::from_value(json!({
            "urlId": "p", "commenterName": "n", "comment": "c", "commenterNmae": "x",
        }))
        .unwrap();
        assert!(typo.validate().unwrap_err().contains("commenterNmae"));
    }

    #[test]
    fn an_update_clears_with_null_and_refuses_typos() {
        let input: CommentUpdateInput = serde_json::from_value(json!({
            "pageTitle": null, "userId": "u", "isLocked": null, "votes": 3,
        }))
        .unwrap();
        let patch = input.into_patch().unwrap();
        assert_eq!(patch.page_title, Some(None));
        assert_eq!(patch.user_id, Some(Some("u".into())));
        assert_eq!(patch.extra.get("isLocked"), Some(&Value::Null));
        assert!(patch.extra.get("votes").is_none());
        let typo: CommentUpdateInput = serde_json::from_value(json!({"approvd": true})).unwrap();
        assert!(typo.into_patch().unwrap_err().contains("approvd"));
        let empty: CommentUpdateInput = serde_json::from_value(json!({})).unwrap();
        assert!(empty.into_patch().is_err(), "nothing to change");
    }
}
