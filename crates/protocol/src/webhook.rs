//! The body of a comment webhook (SPEC §2.1): one [`WebhookComment`], written as compact JSON
//! exactly as JavaScript's `JSON.stringify` would write it (UTF-8 unescaped, `/` unescaped).

use crate::comment::{Extra, Mention};
use crate::lenient;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// A comment as webhooks carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookComment {
    /// The hub's comment id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// The thread.
    #[serde(deserialize_with = "lenient::string")]
    pub url_id: String,
    /// The page URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The author's user id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub user_id: Option<String>,
    /// The author's e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commenter_email: Option<String>,
    /// The author's name.
    pub commenter_name: String,
    /// The text as written.
    pub comment: String,
    /// The text as HTML.
    #[serde(rename = "commentHTML")]
    pub comment_html: String,
    /// The id the uploading site gave it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub external_id: Option<String>,
    /// The parent's id, for a reply.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub parent_id: Option<String>,
    /// When it was written.
    pub date: Millis,
    /// Net votes.
    #[serde(deserialize_with = "lenient::int")]
    pub votes: i64,
    /// Up votes.
    #[serde(deserialize_with = "lenient::int")]
    pub votes_up: i64,
    /// Down votes.
    #[serde(deserialize_with = "lenient::int")]
    pub votes_down: i64,
    /// Verified author.
    #[serde(deserialize_with = "lenient::boolean")]
    pub verified: bool,
    /// When the author was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_date: Option<Millis>,
    /// Reviewed by a moderator.
    #[serde(deserialize_with = "lenient::boolean")]
    pub reviewed: bool,
    /// The author's avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_src: Option<String>,
    /// Spam.
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_spam: bool,
    /// Spam by the classifier.
    #[serde(deserialize_with = "lenient::boolean")]
    pub ai_determined_spam: bool,
    /// Holds images.
    #[serde(deserialize_with = "lenient::boolean")]
    pub has_images: bool,
    /// Page of the thread the comment is on, sorted by most relevant.
    #[serde(deserialize_with = "lenient::int")]
    pub page_number: i64,
    /// Page, oldest first.
    #[serde(rename = "pageNumberOF", deserialize_with = "lenient::int")]
    pub page_number_of: i64,
    /// Page, newest first.
    #[serde(rename = "pageNumberNF", deserialize_with = "lenient::int")]
    pub page_number_nf: i64,
    /// Visible.
    #[serde(deserialize_with = "lenient::boolean")]
    pub approved: bool,
    /// The author's locale (`null` when unknown).
    pub locale: Option<String>,
    /// Users mentioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<Mention>>,
    /// The domain it was written on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Moderation groups the comment belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation_group_ids: Option<Vec<String>>,
    /// Fields this crate does not know (a newer hub's), kept for round trips.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Extra,
}

impl WebhookComment {
    /// The exact body bytes the hub sends: compact JSON, UTF-8 and `/` unescaped.
    ///
    /// Serialising this type cannot fail (every field is a string, number, boolean, list or a
    /// string-keyed JSON map), so the empty fallback is unreachable. It matches
    /// `JSON.stringify` byte for byte for every known field; a floating-point number inside
    /// `extra` would be written the Rust way (`1.0` where JavaScript writes `1`).
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The three webhook event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WebhookEventKind {
    /// A comment was created.
    Create,
    /// A comment changed (including its votes).
    Update,
    /// A comment was deleted.
    Delete,
}

impl WebhookEventKind {
    /// All three, in configuration order.
    pub const ALL: [WebhookEventKind; 3] = [
        WebhookEventKind::Create,
        WebhookEventKind::Update,
        WebhookEventKind::Delete,
    ];

    /// `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventKind::Create => "create",
            WebhookEventKind::Update => "update",
            WebhookEventKind::Delete => "delete",
        }
    }

    /// Parses `create`/`update`/`delete`, the header form `comment.created` etc., or the hosted
    /// API's event names `comment-created` etc. (see [`WebhookEventKind::event_name`]).
    pub fn parse(s: &str) -> Option<WebhookEventKind> {
        Some(match s {
            "create" | "comment.created" | "comment-created" => WebhookEventKind::Create,
            "update" | "comment.updated" | "comment-updated" => WebhookEventKind::Update,
            "delete" | "comment.deleted" | "comment-deleted" => WebhookEventKind::Delete,
            _ => return None,
        })
    }

    /// The name the hosted API's subscriptions give the kind (`event` of `POST
    /// /api/v1/webhooks`, as the FastComments Zapier app sends it): `comment-created`,
    /// `comment-updated`, `comment-deleted`.
    pub fn event_name(self) -> &'static str {
        match self {
            WebhookEventKind::Create => "comment-created",
            WebhookEventKind::Update => "comment-updated",
            WebhookEventKind::Delete => "comment-deleted",
        }
    }

    /// The `X-FastComments-Event` value: `comment.created`, `comment.updated`, `comment.deleted`.
    pub fn header_value(self) -> &'static str {
        match self {
            WebhookEventKind::Create => "comment.created",
            WebhookEventKind::Update => "comment.updated",
            WebhookEventKind::Delete => "comment.deleted",
        }
    }

    /// The HTTP method used when the tenant configured none.
    pub fn default_method(self) -> HttpMethod {
        match self {
            WebhookEventKind::Create | WebhookEventKind::Update => HttpMethod::Put,
            WebhookEventKind::Delete => HttpMethod::Delete,
        }
    }

    /// Whether this kind may be sent with `method` (SPEC §2.1).
    pub fn allows(self, method: HttpMethod) -> bool {
        match self {
            WebhookEventKind::Create | WebhookEventKind::Update => {
                matches!(method, HttpMethod::Post | HttpMethod::Put)
            }
            WebhookEventKind::Delete => true,
        }
    }
}

/// The HTTP methods a webhook may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl HttpMethod {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// Parses a method name, case-insensitively.
    pub fn parse(s: &str) -> Option<HttpMethod> {
        match s.to_ascii_uppercase().as_str() {
            "POST" => Some(HttpMethod::Post),
            "PUT" => Some(HttpMethod::Put),
            "DELETE" => Some(HttpMethod::Delete),
            _ => None,
        }
    }
}

/// The test payload of a delete webhook: the id only (SPEC §2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteTestPayload {
    /// A dummy comment id.
    pub id: String,
}
