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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Fields this crate does not know. A key that names one of [`Comment::FIELDS`] is never
    /// written from here: the field itself is the truth, and JSON with a key twice is refused
    /// by readers (serde's structs among them).
    #[serde(flatten, serialize_with = "unshadowed_extra")]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Extra,
}

impl Comment {
    /// Every key a serialized comment has, besides those of [`Comment::extra`].
    pub const FIELDS: &'static [&'static str] = &[
        "_id",
        "tenantId",
        "urlId",
        "urlIdRaw",
        "url",
        "pageTitle",
        "userId",
        "commenterName",
        "commenterEmail",
        "comment",
        "commentHTML",
        "parentId",
        "externalId",
        "externalParentId",
        "date",
        "votes",
        "votesUp",
        "votesDown",
        "verified",
        "reviewed",
        "approved",
        "isSpam",
        "aiDeterminedSpam",
        "hasImages",
        "hasLinks",
        "avatarSrc",
        "locale",
        "isByAdmin",
        "isByModerator",
        "domain",
        "mentions",
        "meta",
    ];

    /// A comment with nothing written yet, dated `date`: no text, no votes, approved, not
    /// spam.
    pub fn blank(tenant_id: &str, id: &str, date: Millis) -> Comment {
        Comment {
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
            date,
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

    /// Whether `key` is one of [`Comment::FIELDS`].
    pub fn is_field(key: &str) -> bool {
        Comment::FIELDS.contains(&key)
    }

    /// Reads a stored or received comment, repairing JSON that holds a key twice (documents
    /// written by hubs before 0.1.1 could hold an uploaded field both as itself and in `extra`):
    /// the last occurrence wins, as in JavaScript's and PHP's JSON parsers.
    pub fn from_json_lenient(json: &str) -> Result<Comment, serde_json::Error> {
        match serde_json::from_str(json) {
            Ok(c) => Ok(c),
            Err(strict) => {
                // A `Value` keeps one entry per key (the last); then parse that.
                let value: Value = serde_json::from_str(json).map_err(|_| strict)?;
                serde_json::from_value(value)
            }
        }
    }
}

/// Serializes `extra` without the keys a [`Comment`] writes itself.
fn unshadowed_extra<S: serde::Serializer>(extra: &Extra, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(None)?;
    for (k, v) in extra {
        if !Comment::is_field(k) {
            map.serialize_entry(k, v)?;
        }
    }
    map.end()
}

/// A comment as a plugin uploads it (SPEC §1.4). Everything but the text is optional, and
/// numbers, booleans and dates come in every form deployed plugins use.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The tenant as the plugin knows it (WordPress sends it). The hub takes the tenant from
    /// the token and ignores this.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub tenant_id: Option<String>,
    /// The thread id exactly as the site has it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub url_id_raw: Option<String>,
    /// Marked as spam by a classifier.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub ai_determined_spam: Option<bool>,
    /// The text holds images (else the hub looks at the HTML).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub has_images: Option<bool>,
    /// The text holds links (else the hub looks at the HTML).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub has_links: Option<bool>,
    /// Written by a site admin.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub is_by_admin: Option<bool>,
    /// Written by a moderator.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_boolean"
    )]
    pub is_by_moderator: Option<bool>,
    /// Users mentioned. `null` and PHP's `{}` read as `None`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_mentions"
    )]
    pub mentions: Option<Vec<Mention>>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Extra,
}

/// Optional mentions: `null`, `[]`-as-`{}` (PHP) and absent are `None`; otherwise a list.
fn opt_mentions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<Mention>>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) if m.is_empty() => Ok(None),
        Some(v @ Value::Array(_)) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| D::Error::custom(format!("mentions: {e}"))),
        Some(other) => Err(D::Error::custom(format!(
            "mentions: expected a list, got {other}"
        ))),
    }
}

/// A vote on a comment (SPEC §1.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Millis,
    /// Fields this crate does not know.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
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

// Written by hand: the derive would describe the variant names, not the numbers on the wire.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for VoteDirection {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .enum_values(Some([1, -1]))
            .description(Some("`1` up, `-1` down (numeric strings are accepted)."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for VoteDirection {}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Comment {
        serde_json::from_str(
            r#"{"_id":"c1","tenantId":"t","urlId":"p","date":"2024-05-01T12:00:00Z"}"#,
        )
        .unwrap()
    }

    #[test]
    fn fields_are_exactly_the_keys_a_comment_writes() {
        let value = serde_json::to_value(sample()).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, Comment::FIELDS);
    }

    #[test]
    fn an_extra_that_shadows_a_field_is_not_written_twice() {
        let mut c = sample();
        c.has_images = true;
        c.extra.insert("hasImages".into(), Value::Bool(false));
        c.extra.insert("custom".into(), Value::from(7));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json.matches("\"hasImages\"").count(), 1, "{json}");
        let back: Comment = serde_json::from_str(&json).unwrap();
        assert!(back.has_images);
        assert_eq!(back.extra.get("custom"), Some(&Value::from(7)));
    }

    #[test]
    fn a_document_with_a_key_twice_is_repaired_last_wins() {
        let broken = r#"{"_id":"c1","tenantId":"t","urlId":"p","date":"2024-05-01T12:00:00Z","hasImages":true,"hasImages":false}"#;
        assert!(serde_json::from_str::<Comment>(broken).is_err());
        let c = Comment::from_json_lenient(broken).unwrap();
        assert!(!c.has_images);
    }
}
