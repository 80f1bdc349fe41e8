//! A comment as the tenant API answers it: the hosted API's `APIComment`, the shape the
//! official SDKs (generated from the hosted API's description) parse.
//!
//! The integration API and webhooks send the stored [`Comment`] as it is (ISO dates, `_id`,
//! `meta` as the plugin wrote it). The SDKs are stricter readers: `date` is epoch
//! milliseconds, `id` and a string `url` are required, and every key they know has one JSON
//! type. A stored comment may hold anything a plugin uploaded, so the view writes each known
//! key only in the type the SDKs read, converting what converts (`"1"` → `true`, `12` →
//! `"12"`, an epoch number → ISO text) and leaving out what does not: one odd upload must not
//! make a whole page unreadable.

use fastcomments_protocol::{lenient, Comment, Mention, Millis};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A comment of the tenant API (`APIComment`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    /// The hub's id (also as `_id`, the integration API's name for it).
    id: String,
    #[serde(rename = "_id")]
    legacy_id: String,
    tenant_id: String,
    url_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url_id_raw: Option<String>,
    /// The page's URL; `""` when no one gave it (an upload may not).
    url: String,
    page_title: Option<String>,
    user_id: Option<String>,
    commenter_name: String,
    commenter_email: Option<String>,
    comment: String,
    #[serde(rename = "commentHTML")]
    comment_html: String,
    parent_id: Option<String>,
    external_id: Option<String>,
    external_parent_id: Option<String>,
    /// When the comment was written, epoch milliseconds (the integration API writes ISO text).
    date: i64,
    votes: i32,
    votes_up: i32,
    votes_down: i32,
    /// How many users flagged the comment.
    flag_count: i32,
    verified: bool,
    reviewed: bool,
    approved: bool,
    is_spam: bool,
    ai_determined_spam: bool,
    has_images: bool,
    has_links: bool,
    avatar_src: Option<String>,
    locale: Option<String>,
    is_by_admin: bool,
    is_by_moderator: bool,
    domain: Option<String>,
    mentions: Vec<Mention>,
    /// As stored, but `wpUserId` and `wpPostId` as text (the WordPress plugin uploads numbers).
    #[schema(value_type = Option<Object>)]
    meta: Option<Map<String, Value>>,
    /// What else the comment holds: a key the SDKs know only in the type they read.
    #[serde(flatten)]
    #[schema(ignore)]
    extra: Map<String, Value>,
}

impl CommentView {
    /// The view of `c`, flagged by `flag_count` users.
    pub fn new(c: Comment, flag_count: i64) -> CommentView {
        let extra = c
            .extra
            .into_iter()
            .filter(|(k, _)| !Comment::is_field(k) && !OWN_KEYS.contains(&k.as_str()))
            .filter_map(|(k, v)| {
                let v = match known_kind(&k) {
                    Some(kind) => kind.convert(v)?,
                    None => v,
                };
                Some((k, v))
            })
            .collect();
        CommentView {
            legacy_id: c.id.clone(),
            id: c.id,
            tenant_id: c.tenant_id,
            url_id: c.url_id,
            url_id_raw: c.url_id_raw,
            url: c.url.unwrap_or_default(),
            page_title: c.page_title,
            user_id: c.user_id,
            commenter_name: c.commenter_name,
            commenter_email: c.commenter_email,
            comment: c.comment,
            comment_html: c.comment_html,
            parent_id: c.parent_id,
            external_id: c.external_id,
            external_parent_id: c.external_parent_id,
            date: c.date.0,
            votes: clamp_i32(c.votes),
            votes_up: clamp_i32(c.votes_up),
            votes_down: clamp_i32(c.votes_down),
            flag_count: clamp_i32(flag_count),
            verified: c.verified,
            reviewed: c.reviewed,
            approved: c.approved,
            is_spam: c.is_spam,
            ai_determined_spam: c.ai_determined_spam,
            has_images: c.has_images,
            has_links: c.has_links,
            avatar_src: c.avatar_src,
            locale: c.locale,
            is_by_admin: c.is_by_admin,
            is_by_moderator: c.is_by_moderator,
            domain: c.domain,
            mentions: c.mentions,
            meta: c.meta.map(sdk_meta),
            extra,
        }
    }

    /// The comment's hub id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Keys the view writes itself besides [`Comment::FIELDS`]: never taken from `extra` (a key
/// twice is refused by the SDKs' parsers).
const OWN_KEYS: &[&str] = &["id", "flagCount"];

fn clamp_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// `meta` with the two keys the SDKs type (`wpUserId`, `wpPostId`: text) made text.
fn sdk_meta(mut meta: Map<String, Value>) -> Map<String, Value> {
    for key in ["wpUserId", "wpPostId"] {
        if let Some(v) = meta.remove(key) {
            if let Some(v) = Kind::Text.convert(v) {
                meta.insert(key.to_owned(), v);
            }
        }
    }
    meta
}

/// The JSON type an SDK reads a key in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Flag,
    /// A 32-bit integer.
    Int,
    Number,
    /// RFC 3339 text.
    Instant,
    TextList,
    /// `[{id, tag, url, retain?}]`.
    HashTags,
    /// `[{id, type, description, …}]`.
    Badges,
}

/// The type of a key the SDKs' `APIComment` knows and the hub's comment does not.
fn known_kind(key: &str) -> Option<Kind> {
    Some(match key {
        "anonUserId" | "commenterLink" | "displayLabel" | "localDateString" => Kind::Text,
        "hasCode"
        | "isDeleted"
        | "isDeletedUser"
        | "isPinned"
        | "isLocked"
        | "notificationSentForParent"
        | "notificationSentForParentTenant" => Kind::Flag,
        "localDateHours" | "fromProductId" => Kind::Int,
        "rating" => Kind::Number,
        "expireAt" | "verifiedDate" => Kind::Instant,
        "feedbackIds" | "moderationGroupIds" => Kind::TextList,
        "hashTags" => Kind::HashTags,
        "badges" => Kind::Badges,
        _ => return None,
    })
}

impl Kind {
    /// `v` in this type, or `None` when it has no reading in it. `null` stays `null`.
    fn convert(self, v: Value) -> Option<Value> {
        if v.is_null() {
            return Some(v);
        }
        match self {
            Kind::Text => match v {
                Value::String(_) => Some(v),
                Value::Number(n) => Some(Value::String(n.to_string())),
                _ => None,
            },
            Kind::Flag => lenient::boolean(v).ok().map(Value::Bool),
            Kind::Int => lenient::int(v)
                .ok()
                .and_then(|n| i32::try_from(n).ok())
                .map(Value::from),
            Kind::Number => match v {
                Value::Number(_) => Some(v),
                Value::String(s) => s.trim().parse::<f64>().ok().map(Value::from),
                _ => None,
            },
            Kind::Instant => {
                let ms = match &v {
                    Value::Number(n) => n.as_f64().and_then(Millis::from_epoch_number),
                    Value::String(s) => Millis::parse(s).ok(),
                    _ => None,
                }?;
                Some(Value::String(ms.to_iso()))
            }
            Kind::TextList => match v {
                Value::Array(items) => items
                    .into_iter()
                    .map(|i| Kind::Text.convert(i).filter(Value::is_string))
                    .collect::<Option<Vec<_>>>()
                    .map(Value::Array),
                _ => None,
            },
            Kind::HashTags => list_of(v, &[("id", Kind::Text), ("tag", Kind::Text)], "url"),
            Kind::Badges => list_of(
                v,
                &[
                    ("id", Kind::Text),
                    ("type", Kind::Int),
                    ("description", Kind::Text),
                ],
                "",
            ),
        }
    }
}

/// A list of objects each holding `required` keys in their types (kept only if every item
/// does); `key_present`, when not empty, is a key the SDKs need present (written `null`).
fn list_of(v: Value, required: &[(&str, Kind)], key_present: &str) -> Option<Value> {
    let Value::Array(items) = v else { return None };
    let items = items
        .into_iter()
        .map(|item| {
            let Value::Object(mut o) = item else {
                return None;
            };
            for (key, kind) in required {
                let value = o.remove(*key).filter(|v| !v.is_null())?;
                o.insert((*key).to_owned(), kind.convert(value)?);
            }
            if !key_present.is_empty() {
                o.entry(key_present).or_insert(Value::Null);
            }
            Some(Value::Object(o))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(extra: Value, meta: Value) -> Comment {
        let mut doc = json!({
            "_id": "c1", "tenantId": "t", "urlId": "p", "url": null, "commenterName": "n",
            "comment": "x", "commentHTML": "<p>x</p>", "date": "2024-05-01T12:00:00.000Z",
            "votes": 3_000_000_000_i64, "meta": meta,
        });
        if let (Some(d), Value::Object(e)) = (doc.as_object_mut(), extra) {
            d.extend(e);
        }
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn dates_are_epoch_ms_and_url_is_text() {
        let v = serde_json::to_value(CommentView::new(stored(json!({}), json!(null)), 2)).unwrap();
        assert_eq!(v["date"], json!(1_714_564_800_000_i64));
        assert_eq!(v["url"], json!(""));
        assert_eq!(v["id"], json!("c1"));
        assert_eq!(v["_id"], json!("c1"));
        assert_eq!(v["votes"], json!(i32::MAX), "clamped to what the SDKs read");
        assert_eq!(v["flagCount"], json!(2));
        assert!(v.get("locale").is_some(), "the SDKs need the key");
    }

    #[test]
    fn uploaded_keys_come_out_in_the_sdks_types_or_not_at_all() {
        let extra = json!({
            "id": "other", "flagCount": "9", "isPinned": "1", "isLocked": "maybe",
            "verifiedDate": 1_700_000_000_000_i64, "expireAt": "not a date",
            "localDateHours": 99_999_999_999_i64, "rating": "4.5",
            "hashTags": [{"id": "h", "tag": "#x"}], "badges": [{"id": "b"}],
            "feedbackIds": ["a", 2], "custom": {"anything": [1]},
        });
        let meta = json!({"wpPostId": 12, "wpUserId": "3", "other": [1]});
        let v = serde_json::to_value(CommentView::new(stored(extra, meta), 0)).unwrap();
        assert_eq!(v["id"], json!("c1"));
        assert_eq!(v["flagCount"], json!(0));
        assert_eq!(v["isPinned"], json!(true));
        assert!(v.get("isLocked").is_none());
        assert_eq!(v["verifiedDate"], json!("2023-11-14T22:13:20.000Z"));
        assert!(v.get("expireAt").is_none());
        assert!(v.get("localDateHours").is_none());
        assert_eq!(v["rating"], json!(4.5));
        assert_eq!(
            v["hashTags"],
            json!([{"id": "h", "tag": "#x", "url": null}])
        );
        assert!(v.get("badges").is_none());
        assert_eq!(v["feedbackIds"], json!(["a", "2"]));
        assert_eq!(v["custom"], json!({"anything": [1]}));
        assert_eq!(
            v["meta"],
            json!({"wpPostId": "12", "wpUserId": "3", "other": [1]})
        );
        let text = serde_json::to_string(&CommentView::new(
            stored(json!({"id": "x"}), json!(null)),
            0,
        ))
        .unwrap();
        assert_eq!(text.matches("\"id\":").count(), 1, "{text}");
    }
}
