//! Property (issue 10 §1): an upload may carry any subset of the comment fields (SPEC §1.6)
//! plus fields nobody knows, in every form deployed plugins write them (numbers as strings,
//! booleans as `"1"`, three date forms). Uploaded twice, each comment is stored once, and every
//! read path answers without a server error, with the values that were sent: the tenant API,
//! downloads, both event generations, webhooks, votes and replies.

use super::BACKEND;
use crate::common;

use common::receiver::Receiver;
use common::{proptest_runtime, TestHub};
use fastcomments_hub::HubConfig;
use fastcomments_protocol::Millis;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One field as sent, and the value every read path must show for it.
#[derive(Debug, Clone)]
struct Field {
    name: &'static str,
    sent: Value,
    read: Value,
}

impl Field {
    /// A field read back as it was sent.
    fn kept(name: &'static str, value: Value) -> Field {
        Field {
            name,
            sent: value.clone(),
            read: value,
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .,!?]{1,24}",
        Just("Zoë <b>bold</b> & \"quotes\" / slashes".to_owned()),
        Just("Здравей 👋".to_owned()),
    ]
}

fn string_field(name: &'static str) -> impl Strategy<Value = Field> {
    text().prop_map(move |s| Field::kept(name, json!(s)))
}

/// An id-like value: numbers arrive as JSON numbers or numeric strings; reads give text.
fn id_field(name: &'static str) -> impl Strategy<Value = Field> {
    prop_oneof![
        (1u32..1_000_000).prop_map(move |n| Field {
            name,
            sent: json!(n),
            read: json!(n.to_string())
        }),
        (1u32..1_000_000).prop_map(move |n| Field {
            name,
            sent: json!(n.to_string()),
            read: json!(n.to_string())
        }),
        "[a-z]{3,10}".prop_map(move |s| Field::kept(name, json!(s))),
    ]
}

fn bool_field(name: &'static str) -> impl Strategy<Value = Field> {
    (any::<bool>(), 0..4u8).prop_map(move |(b, form)| Field {
        name,
        sent: match form {
            0 => json!(b),
            1 => json!(if b { "1" } else { "0" }),
            2 => json!(i32::from(b)),
            _ => json!(if b { "true" } else { "false" }),
        },
        read: json!(b),
    })
}

fn count_field(name: &'static str) -> impl Strategy<Value = (&'static str, i64, Value)> {
    (0i64..50, any::<bool>()).prop_map(move |(n, as_text)| {
        (
            name,
            n,
            if as_text {
                json!(n.to_string())
            } else {
                json!(n)
            },
        )
    })
}

/// A date at whole seconds (the `Y-m-d H:i:s` form has no milliseconds), in one of the forms.
fn date_field() -> impl Strategy<Value = Field> {
    (1_500_000_000i64..1_800_000_000, 0..3u8).prop_map(|(secs, form)| {
        let iso = Millis(secs * 1000).to_iso();
        let sent = match form {
            0 => iso.clone(),
            1 => iso.replace(".000Z", ""),
            _ => iso.replace('T', " ").replace(".000Z", ""),
        };
        Field {
            name: "date",
            sent: json!(sent),
            read: json!(iso),
        }
    })
}

fn mentions_field() -> impl Strategy<Value = Field> {
    prop::collection::vec(
        (
            "[a-z0-9]{4,8}",
            "[A-Za-z]{2,8}",
            any::<bool>(),
            any::<bool>(),
        ),
        0..3,
    )
    .prop_map(|ms| {
        let list: Vec<Value> = ms
            .into_iter()
            .map(|(id, name, sso, sent)| {
                json!({"id": id, "tag": format!("@{name}"), "rawTag": format!("@{name}"),
                           "type": if sso { "sso" } else { "user" }, "sent": sent})
            })
            .collect();
        Field::kept("mentions", json!(list))
    })
}

fn meta_field() -> impl Strategy<Value = Field> {
    prop::collection::btree_map(
        "[a-zA-Z]{1,8}",
        prop_oneof![
            any::<i32>().prop_map(|n| json!(n)),
            text().prop_map(|s| json!(s))
        ],
        0..4,
    )
    .prop_map(|m| {
        let obj: Map<String, Value> = m.into_iter().collect();
        Field::kept("meta", Value::Object(obj))
    })
}

/// Keys no comment field has, in the styles plugins use for their own.
fn unknown_field() -> impl Strategy<Value = Field> {
    (
        prop_oneof![
            Just("notificationSentForParent"),
            Just("verifiedDate"),
            Just("imported"),
            Just("comment_agent"),
            Just("karma"),
            Just("commentHtml"),
            Just("ID"),
        ],
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            text().prop_map(Value::from)
        ],
    )
        .prop_map(|(name, v)| Field::kept(name, v))
}

/// Every optional field of a comment, each present or not.
fn optional_fields() -> impl Strategy<Value = Vec<Field>> {
    let strings = (
        string_field("urlIdRaw"),
        string_field("url"),
        string_field("pageTitle"),
        id_field("userId"),
        string_field("commenterName"),
        string_field("commenterEmail"),
        string_field("avatarSrc"),
        string_field("locale"),
        string_field("domain"),
        string_field("commentHTML"),
        id_field("tenantId"),
    );
    let flags = (
        bool_field("verified"),
        bool_field("reviewed"),
        bool_field("approved"),
        bool_field("isSpam"),
        bool_field("aiDeterminedSpam"),
        bool_field("hasImages"),
        bool_field("hasLinks"),
        bool_field("isByAdmin"),
        bool_field("isByModerator"),
    );
    (
        strings,
        flags,
        date_field(),
        mentions_field(),
        meta_field(),
        prop::collection::vec(unknown_field(), 0..3),
        prop::collection::vec(any::<bool>(), 25),
    )
        .prop_map(|(s, f, date, mentions, meta, unknown, keep)| {
            let all = vec![
                s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7, s.8, s.9, s.10, f.0, f.1, f.2, f.3, f.4,
                f.5, f.6, f.7, f.8, date, mentions, meta,
            ];
            let mut out: Vec<Field> = all
                .into_iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(f, _)| f)
                .collect();
            for u in unknown {
                if !out.iter().any(|f| f.name == u.name) {
                    out.push(u);
                }
            }
            out
        })
}

/// One generated comment: its plugin id, its text, its parent in the batch, its vote counts
/// as sent, and the rest of its fields.
#[derive(Debug, Clone)]
struct Generated {
    ext: Field,
    comment: String,
    parent: Option<usize>,
    counts: Vec<(&'static str, i64, Value)>,
    fields: Vec<Field>,
}

fn generated() -> impl Strategy<Value = Generated> {
    (
        id_field("externalId"),
        text(),
        prop::option::of(0usize..8),
        prop::collection::vec(
            prop_oneof![
                count_field("votes"),
                count_field("votesUp"),
                count_field("votesDown")
            ],
            0..3,
        ),
        optional_fields(),
    )
        .prop_map(|(ext, comment, parent, counts, fields)| Generated {
            ext,
            comment,
            parent,
            counts,
            fields,
        })
}

/// The upload body and, per comment, the fields every read must show (plugin id → fields).
fn batch(url_id: &Value, comments: &[Generated]) -> (Value, BTreeMap<String, Vec<Field>>) {
    let mut sent = Vec::new();
    let mut expect = BTreeMap::new();
    for (i, g) in comments.iter().enumerate() {
        let ext = g.ext.read.as_str().unwrap().to_owned();
        let mut obj = Map::new();
        obj.insert("urlId".into(), url_id.clone());
        obj.insert("externalId".into(), g.ext.sent.clone());
        obj.insert("comment".into(), json!(g.comment));
        // A parent that comes earlier in the batch (plugins send no `parentId`).
        if let Some(p) = g.parent.filter(|p| *p < i) {
            obj.insert("externalParentId".into(), comments[p].ext.sent.clone());
        }
        let mut fields: Vec<Field> = g.fields.clone();
        for f in &g.fields {
            obj.insert(f.name.into(), f.sent.clone());
        }
        let mut seen = BTreeMap::new();
        for (name, n, form) in &g.counts {
            obj.insert((*name).into(), form.clone());
            seen.insert(*name, *n);
        }
        // The counts as the hub keeps them: up and down win over a net count.
        let (up, down) = (seen.get("votesUp"), seen.get("votesDown"));
        if up.is_some() || down.is_some() {
            let (u, d) = (up.copied().unwrap_or(0), down.copied().unwrap_or(0));
            fields.push(Field {
                name: "votesUp",
                sent: Value::Null,
                read: json!(u),
            });
            fields.push(Field {
                name: "votesDown",
                sent: Value::Null,
                read: json!(d),
            });
            fields.push(Field {
                name: "votes",
                sent: Value::Null,
                read: json!(u - d),
            });
        } else if let Some(v) = seen.get("votes") {
            fields.push(Field {
                name: "votes",
                sent: Value::Null,
                read: json!(v),
            });
        }
        fields.push(Field {
            name: "comment",
            sent: Value::Null,
            read: json!(g.comment),
        });
        // The tenant is the token's, whatever the plugin says.
        fields.retain(|f| f.name != "tenantId");
        sent.push(Value::Object(obj));
        expect.insert(ext, fields);
    }
    (json!({"countRemaining": 0, "comments": sent}), expect)
}

/// Unique plugin ids within a batch.
fn comments() -> impl Strategy<Value = Vec<Generated>> {
    prop::collection::vec(generated(), 1..6).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|g| seen.insert(g.ext.read.as_str().unwrap().to_owned()));
        v
    })
}

fn check(what: &str, c: &Value, fields: &[Field]) -> Result<(), TestCaseError> {
    for f in fields {
        prop_assert_eq!(&c[f.name], &f.read, "{}: field {} of {}", what, f.name, c);
    }
    check_keys_once(what, c)
}

/// The tenant API answers the official SDKs' shape (docs/protocol.md §10): what the SDK's own
/// model reads, with the same values, `date` as epoch ms, `url` as text,
/// `meta.wpUserId`/`wpPostId` as text; a key the SDK types is written in its type, so only the
/// SDK's reading of it is checked.
fn check_tenant_api(c: &Value, fields: &[Field]) -> Result<(), TestCaseError> {
    let parsed = serde_json::from_value::<fastcomments_sdk::client::models::ApiComment>(c.clone());
    prop_assert!(parsed.is_ok(), "the SDK cannot read {}: {:?}", c, parsed.err());
    for f in fields {
        if SDK_TYPED.contains(&f.name) {
            continue;
        }
        let expected = match (f.name, &f.read) {
            ("date", Value::String(iso)) => json!(fastcomments_protocol::Millis::parse(iso).unwrap().0),
            ("url", Value::Null) => json!(""),
            ("meta", Value::Object(m)) => {
                let mut m = m.clone();
                for key in ["wpUserId", "wpPostId"] {
                    if let Some(Value::Number(n)) = m.get(key) {
                        let text = n.to_string();
                        m.insert(key.to_owned(), json!(text));
                    }
                }
                Value::Object(m)
            }
            (_, v) => v.clone(),
        };
        prop_assert_eq!(&c[f.name], &expected, "tenant API: field {} of {}", f.name, c);
    }
    check_keys_once("tenant API", c)
}

/// Keys the official SDKs read in one type, which the tenant API converts to it (or leaves out).
const SDK_TYPED: &[&str] = &[
    "anonUserId", "commenterLink", "displayLabel", "localDateString", "hasCode", "isDeleted",
    "isDeletedUser", "isPinned", "isLocked", "notificationSentForParent",
    "notificationSentForParentTenant", "localDateHours", "fromProductId", "rating", "expireAt",
    "verifiedDate", "feedbackIds", "moderationGroupIds", "hashTags", "badges", "votes",
    "votesUp", "votesDown",
];

fn check_keys_once(what: &str, c: &Value) -> Result<(), TestCaseError> {
    let text = c.to_string();
    for key in fastcomments_protocol::Comment::FIELDS {
        prop_assert!(
            text.matches(&format!("\"{key}\":")).count() <= 1,
            "{}: {} twice in {}",
            what,
            key,
            text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_upload_reads_back_as_sent_on_every_path(
        list in comments(),
        numeric_url in any::<bool>(),
        with_ids in any::<bool>(),
    ) {
        proptest_runtime().block_on(async {
            let config = HubConfig {
                webhook_allow_private_targets: true,
                webhook_retry_base: Duration::from_millis(10),
                ..common::admin_config()
            };
            let hub = TestHub::start_with(BACKEND, config, Arc::new(fastcomments_hub::SystemClock)).await;
            let receiver = Receiver::ok().await;
            let t = hub.tenant("Props").await;
            let (s, v) = hub.api(&t.key).put_webhook_config(json!({
                "domain": "*", "create": {"url": receiver.url}, "update": {"url": receiver.url},
                "fireOnImport": true
            })).await;
            prop_assert_eq!(s, StatusCode::OK, "{}", v);
            let (uploader, reader) = ("props-uploader-1", "props-reader-01");
            hub.connect(&t, uploader, false).await;
            hub.connect(&t, reader, true).await;
            let url_id = if numeric_url { json!(4242) } else { json!("4242") };
            let (body, expect) = batch(&url_id, &list);
            let upload = format!("/integrations/v1/comments?token={uploader}");

            let (s, v) = hub.call(Method::POST, &upload, None, Some(body.clone())).await;
            prop_assert_eq!(s, StatusCode::OK, "{}", v);
            let ids: BTreeMap<String, String> = serde_json::from_value(v["commentIds"].clone()).unwrap();
            prop_assert_eq!(ids.len(), expect.len());
            // Again, the re-sync way: with the hub ids when the plugin has them.
            let mut again = body.clone();
            if with_ids {
                for c in again["comments"].as_array_mut().unwrap() {
                    let ext = match &c["externalId"] { Value::String(s) => s.clone(), other => other.to_string() };
                    c["_id"] = json!(ids[&ext]);
                }
            }
            let (s, v) = hub.call(Method::POST, &upload, None, Some(again)).await;
            prop_assert_eq!(s, StatusCode::OK, "{}", v);
            prop_assert_eq!(serde_json::from_value::<BTreeMap<String, String>>(v["commentIds"].clone()).unwrap(), ids.clone());

            // The tenant API.
            let (s, v) = hub.api(&t.key).comments("urlId=4242").await;
            prop_assert_eq!(s, StatusCode::OK, "{}", v);
            let listed = v["comments"].as_array().unwrap().clone();
            prop_assert_eq!(listed.len(), expect.len(), "stored once each");
            for c in &listed {
                let ext = c["externalId"].as_str().unwrap();
                check_tenant_api(c, &expect[ext])?;
                prop_assert_eq!(&c["tenantId"], &json!(t.id));
                prop_assert_eq!(&c["urlId"], &json!("4242"));
            }
            // Downloads.
            let (s, v) = hub.get(&format!("/integrations/v1/comments?token={reader}&includeCount=true")).await;
            prop_assert_eq!(s, StatusCode::OK, "{}", v);
            prop_assert_eq!(v["totalCount"].as_u64(), Some(expect.len() as u64));
            for c in v["comments"].as_array().unwrap() {
                check("download", c, &expect[c["externalId"].as_str().unwrap()])?;
            }
            // Generation A, as another token of the tenant sees the uploads.
            let (events, _, _) = hub.drain_stream(reader, 0).await;
            prop_assert_eq!(events.len(), expect.len(), "one new-comment each, none for the repeat");
            for e in &events {
                check("stream", &e["comment"], &expect[e["comment"]["externalId"].as_str().unwrap()])?;
            }
            // Generation B.
            let (s, v) = hub.get(&format!("/integrations/v1/events?token={reader}&fromDateTime=0")).await;
            prop_assert_eq!(s, StatusCode::OK, "{}", v);
            for e in v["events"].as_array().unwrap() {
                let data: Value = serde_json::from_str(e["data"].as_str().unwrap()).unwrap();
                check("events", &data["comment"], &expect[data["comment"]["externalId"].as_str().unwrap()])?;
            }
            // Webhooks for the imports (turned on): the fields a webhook body has.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while receiver.got.lock().len() < expect.len() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let got = receiver.got.lock().clone();
            prop_assert_eq!(got.len(), expect.len());
            for r in &got {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                let ext = body["externalId"].as_str().unwrap();
                let webhook_fields: Vec<Field> = expect[ext]
                    .iter()
                    .filter(|f| fastcomments_hub::rules::WEBHOOK_COMMENT_FIELDS.contains(&f.name))
                    .cloned()
                    .collect();
                check("webhook", &body, &webhook_fields)?;
                prop_assert_eq!(&body["id"], &json!(ids[ext]));
            }
            // Votes and replies on every uploaded comment.
            for (ext, id) in &ids {
                let (s, v) = hub.api(&t.key).vote(id, json!({"direction": 1, "userId": "voter"})).await;
                prop_assert_eq!(s, StatusCode::OK, "{}", v);
                let (s, v) = hub.api(&t.key).create_comment(json!({"urlId": "4242", "commenterName": "R", "comment": "reply", "parentId": id})).await;
                prop_assert_eq!(s, StatusCode::OK, "{}", v);
                let (s, v) = hub.api(&t.key).comments("urlId=4242").await;
                prop_assert_eq!(s, StatusCode::OK, "{}", v);
                let c = v["comments"].as_array().unwrap().iter().find(|c| &c["_id"] == id).unwrap().clone();
                let before = expect[ext].iter().find(|f| f.name == "votesUp").and_then(|f| f.read.as_i64()).unwrap_or(0);
                prop_assert_eq!(c["votesUp"].as_i64(), Some(before + 1));
            }
            let (events, _, _) = hub.drain_stream(reader, 0).await;
            for e in events.iter().filter(|e| e["type"] == "new-vote") {
                prop_assert_eq!(&e["comment"]["_id"], &e["vote"]["commentId"]);
            }
            Ok(())
        })?;
    }
}
