//! Comments, votes and mentions as the hub sends them (SPEC §1.6), and the comment shape
//! plugins upload (SPEC §1.4).

use crate::lenient;
use crate::time::{epoch_ms, Millis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields this crate does not know, kept so that a parse → serialize round trip loses nothing.
pub type Extra = Map<String, Value>;

/// A user mentioned in a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mention {
    /// The mentioned user's id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// The tag as rendered, e.g. `@Ana`.
    pub tag: String,
    /// The tag as typed.
    pub raw_tag: String,
    /// `user` (FastComments account) or `sso`.
    #[serde(rename = "type")]
    pub kind: MentionKind,
    /// Whether the mention notification went out.
    #[serde(deserialize_with = "lenient::boolean")]
    pub sent: bool,
}

/// Where a mentioned user's account lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MentionKind {
    /// A FastComments account.
    User,
    /// A single-sign-on user of the site.
    Sso,
}

/// A comment as the hub stores and sends it (events, downloads).
///
/// Optional fields are written as `null` when absent, so every comment has the same keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    /// The hub's id.
    #[serde(rename = "_id", deserialize_with = "lenient::string")]
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The thread (page) id, normalised.
    #[serde(deserialize_with = "lenient::string")]
    pub url_id: String,
    /// The thread id as the site first gave it.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub url_id_raw: Option<String>,
    /// The page's URL.
    #[serde(default)]
    pub url: Option<String>,
    /// The page's title.
    #[serde(default)]
    pub page_title: Option<String>,
    /// The author's user id, when known.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    /// The author's display name.
    #[serde(default)]
    pub commenter_name: String,
    /// The author's e-mail.
    #[serde(default)]
    pub commenter_email: Option<String>,
    /// The comment as written (may hold HTML for imported comments).
    #[serde(default)]
    pub comment: String,
    /// The comment rendered to HTML.
    #[serde(default, rename = "commentHTML")]
    pub comment_html: String,
    /// The parent comment's hub id (a reply), else `null`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub parent_id: Option<String>,
    /// The id the uploading site gave this comment.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub external_id: Option<String>,
    /// The parent's id at the uploading site.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub external_parent_id: Option<String>,
    /// When the comment was written.
    pub date: Millis,
    /// `votes_up - votes_down`.
    #[serde(default, deserialize_with = "lenient::int")]
    pub votes: i64,
    /// Up votes.
    #[serde(default, deserialize_with = "lenient::int")]
    pub votes_up: i64,
    /// Down votes.
    #[serde(default, deserialize_with = "lenient::int")]
    pub votes_down: i64,
    /// The author verified their identity.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub verified: bool,
    /// A moderator reviewed the comment.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub reviewed: bool,
    /// The comment is visible.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub approved: bool,
    /// Marked as spam.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub is_spam: bool,
    /// Marked as spam by the classifier.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub ai_determined_spam: bool,
    /// The text holds images.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub has_images: bool,
    /// The text holds links.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub has_links: bool,
    /// The author's avatar URL.
    #[serde(default)]
    pub avatar_src: Option<String>,
    /// The author's locale, e.g. `en_us`.
    #[serde(default)]
    pub locale: Option<String>,
    /// Written by a site admin.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub is_by_admin: bool,
    /// Written by a moderator.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub is_by_moderator: bool,
    /// The domain the comment was written on.
    #[serde(default)]
    pub domain: Option<String>,
    /// Users mentioned.
    #[serde(default)]
    pub mentions: Vec<Mention>,
    /// Free-form data, e.g. `wpId` (the plugin's local id). `[]` (PHP's empty map) is `None`.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub meta: Option<Map<String, Value>>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A comment as a plugin uploads it (SPEC §1.4). Everything but the text is optional, and
/// numbers, booleans and dates come in every form deployed plugins use.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadComment {
    /// The hub id, when the plugin already knows it (then the upsert is on it).
    #[serde(
        rename = "_id",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub id: Option<String>,
    /// The plugin's own id; the upsert key when `_id` is absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub external_id: Option<String>,
    /// The parent's plugin id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub external_parent_id: Option<String>,
    /// The parent's hub id, when known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub parent_id: Option<String>,
    /// Thread id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub url_id: Option<String>,
    /// Page URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Page title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    /// Author's user id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub user_id: Option<String>,
    /// Author's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commenter_name: Option<String>,
    /// Author's e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commenter_email: Option<String>,
    /// The text; plugins often send HTML here and no `commentHTML`.
    #[serde(default)]
    pub comment: String,
    /// The rendered HTML, when the plugin has it.
    #[serde(
        default,
        rename = "commentHTML",
        skip_serializing_if = "Option::is_none"
    )]
    pub comment_html: Option<String>,
    /// When it was written. WordPress's zero date (`0000-00-00 00:00:00`), `""` and `null`
    /// mean "unknown" (the hub then uses the upload time).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::opt_lenient"
    )]
    pub date: Option<Millis>,
    /// Net votes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub votes: Option<i64>,
    /// Up votes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub votes_up: Option<i64>,
    /// Down votes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub votes_down: Option<i64>,
    /// Verified author.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub verified: Option<bool>,
    /// Reviewed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub reviewed: Option<bool>,
    /// Visible.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub approved: Option<bool>,
    /// Spam.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub is_spam: Option<bool>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_src: Option<String>,
    /// Locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Free-form data. PHP writes an empty map as `[]`, which reads as `None`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_object"
    )]
    pub meta: Option<Map<String, Value>>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A vote on a comment (SPEC §1.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// The hub's id.
    #[serde(rename = "_id", deserialize_with = "lenient::string")]
    pub id: String,
    /// The comment voted on (hub id).
    #[serde(deserialize_with = "lenient::string")]
    pub comment_id: String,
    /// The comment's plugin id, when it has one.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub comment_external_id: Option<String>,
    /// Owning tenant.
    pub tenant_id: String,
    /// The comment's thread.
    #[serde(deserialize_with = "lenient::string")]
    pub url_id: String,
    /// The voter.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    /// `1` up, `-1` down.
    pub direction: VoteDirection,
    /// When the vote was cast, epoch ms on the wire.
    #[serde(with = "epoch_ms")]
    pub created_at: Millis,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Which way a vote goes. On the wire: `1` or `-1` (numeric strings accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoteDirection {
    /// `1`
    Up,
    /// `-1`
    Down,
}

impl VoteDirection {
    /// `1` or `-1`.
    pub fn as_i64(self) -> i64 {
        match self {
            VoteDirection::Up => 1,
            VoteDirection::Down => -1,
        }
    }

    /// `1` → up, `-1` → down, anything else refused.
    pub fn from_i64(v: i64) -> Option<VoteDirection> {
        match v {
            1 => Some(VoteDirection::Up),
            -1 => Some(VoteDirection::Down),
            _ => None,
        }
    }
}

impl Serialize for VoteDirection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.as_i64())
    }
}

impl<'de> Deserialize<'de> for VoteDirection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = lenient::int(d)?;
        VoteDirection::from_i64(v).ok_or_else(|| {
            serde::de::Error::custom(format!("vote direction must be 1 or -1, got {v}"))
        })
    }
}
