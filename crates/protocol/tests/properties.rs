//! Property, round-trip, lenient-form, `JSON.stringify`-compatibility and fixture tests of the
//! wire types (SPEC §1.4–§1.6, §2.1).
//!
//! 1. serialize → parse is the identity for arbitrary values of every body type, unknown
//!    (`extra`) fields included, and serializing again gives the same bytes.
//! 2. Every lenient form of a value (dates, integers, booleans, ids, cursors) parses to the same
//!    value as the canonical one; the date and cursor parsers never panic.
//! 3. `WebhookComment::to_body()` is byte-equal to what `JSON.stringify` writes (checked with
//!    `node` when it is on PATH).
//! 4. Realistic payloads as the deployed WordPress plugin sends them parse to exact values.

use fastcomments_protocol::time::SECONDS_LIMIT;
use fastcomments_protocol::*;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::fmt::Debug;

/// 9999-12-31T23:59:59.999Z, the last instant with a four-digit year.
const MAX_MS: i64 = 253_402_300_799_999;
/// 0000-01-01T00:00:00.000Z, the first.
const YEAR_0_MS: i64 = -62_167_219_200_000;
const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// serialize → parse gives the value back, and serializing that again gives the same bytes.
fn round_trip<T>(v: &T) -> Result<String, TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text = serde_json::to_string(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: T = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("parse failed: {e}\n{text}")))?;
    prop_assert_eq!(&back, v, "JSON: {}", text);
    let again = serde_json::to_string(&back).unwrap();
    prop_assert_eq!(&again, &text);
    Ok(text)
}

/// The keys the other types know besides [`Comment::FIELDS`] (votes, pages, the comment's
/// `id` alias and `verifiedDate`), so that generated unknown fields never clash.
const OTHER_KNOWN_KEYS: &[&str] = &[
    "id",
    "verifiedDate",
    "commentId",
    "commentExternalId",
    "direction",
    "createdAt",
    "pageNumber",
    "pageNumberOF",
    "pageNumberNF",
    "moderationGroupIds",
    "start",
    "hasMore",
    "countRemaining",
    "comments",
];

/// The comment shape as `Comment` serializes it, minus any `extra`: the set of keys it owns.
fn comment_keys() -> Vec<String> {
    let v = serde_json::to_value(sample_comment()).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

fn sample_comment() -> Comment {
    Comment {
        url_id: "page-1".into(),
        commenter_name: "Ana".into(),
        comment: "hi".into(),
        comment_html: "<p>hi</p>".into(),
        ..Comment::blank("t1", "c1", Millis(1_763_880_000_123))
    }
}

fn sample_vote() -> Vote {
    Vote {
        id: "v1".into(),
        comment_id: "c1".into(),
        comment_external_id: None,
        tenant_id: "t1".into(),
        url_id: "page-1".into(),
        user_id: None,
        direction: VoteDirection::Up,
        created_at: Millis(1_763_880_000_123),
        extra: Map::new(),
    }
}

fn sample_webhook() -> WebhookComment {
    WebhookComment {
        id: "c1".into(),
        url_id: "page-1".into(),
        url: None,
        user_id: None,
        commenter_email: None,
        commenter_name: "Ana".into(),
        comment: "hi".into(),
        comment_html: "<p>hi</p>".into(),
        external_id: None,
        parent_id: None,
        date: Millis(1_763_880_000_123),
        votes: 0,
        votes_up: 0,
        votes_down: 0,
        verified: false,
        verified_date: None,
        reviewed: false,
        avatar_src: None,
        is_spam: false,
        ai_determined_spam: false,
        has_images: false,
        page_number: 0,
        page_number_of: 0,
        page_number_nf: 0,
        approved: true,
        locale: None,
        mentions: None,
        domain: None,
        moderation_group_ids: None,
        extra: Map::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Text of every kind: arbitrary code points (control characters, surrogate-range neighbours,
/// astral planes), plain words, URLs with `/`, HTML, Cyrillic, emoji.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        2 => "[a-z0-9]{1,10}",
        1 => "[ -~]{0,12}",
        1 => "https://[a-z]{1,8}\\.example/[a-zA-Z0-9/_.?=&%-]{0,16}",
        1 => prop::sample::select(vec![
            "",
            "Здравей, свят! 😀",
            "👩‍👩‍👧 family",
            "</script><b>&amp;</b>",
            "\u{2028}\u{2029}",
            "\0\u{1}\u{1f}\u{7f}\u{80}\u{9f}",
            "a/b\\c\"d",
            "\u{feff}\u{fffd}\u{10ffff}",
        ])
        .prop_map(String::from),
    ]
    .boxed()
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

/// Instants from 1970 to the end of year 9999, biased towards the edges and towards the years
/// before March 1973, where an epoch-ms number is below the seconds/milliseconds threshold.
fn millis() -> impl Strategy<Value = Millis> {
    prop_oneof![
        5 => 0..=MAX_MS,
        2 => 0..SECONDS_LIMIT,
        2 => 1_500_000_000_000i64..1_900_000_000_000,
        1 => prop::sample::select(vec![0, 1, 999, 1000, SECONDS_LIMIT - 1, SECONDS_LIMIT, MAX_MS]),
    ]
    .prop_map(Millis)
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Success), Just(Status::Failed)]
}

fn event_type() -> impl Strategy<Value = EventType> {
    prop::sample::select(vec![
        EventType::NewComment,
        EventType::UpdatedComment,
        EventType::DeletedComment,
        EventType::NewVote,
        EventType::DeletedVote,
    ])
}

/// Float-free JSON.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((text(), json_value()), 0..4).prop_map(|kv| kv.into_iter().collect())
}

/// Unknown field names: identifiers, near misses of known names (other case, snake case),
/// and arbitrary text; never a name some type knows.
fn extra_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z_$][a-zA-Z0-9_]{0,10}",
        1 => prop::sample::select(vec![
            "ID", "Id", "_ID", "commentHtml", "comment_html", "votes_up", "Date", "date ",
            "wpId", "karma", "comment_agent", "notificationSentForParent", "type", "status",
        ])
        .prop_map(String::from),
        1 => text(),
    ]
    .prop_filter("clashes with a known field", |k| {
        !Comment::FIELDS.contains(&k.as_str()) && !OTHER_KNOWN_KEYS.contains(&k.as_str())
    })
}

fn extra() -> BoxedStrategy<Map<String, Value>> {
    proptest::collection::vec((extra_key(), json_value()), 0..4)
        .prop_map(|kv| kv.into_iter().collect())
        .boxed()
}

fn mention() -> BoxedStrategy<Mention> {
    (
        text(),
        text(),
        text(),
        prop_oneof![Just(MentionKind::User), Just(MentionKind::Sso)],
        any::<bool>(),
    )
        .prop_map(|(id, tag, raw_tag, kind, sent)| Mention {
            id,
            tag,
            raw_tag,
            kind,
            sent,
        })
        .boxed()
}

fn comment() -> BoxedStrategy<Comment> {
    let a = (
        text(),
        text(),
        text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        text(),
        opt_text(),
        text(),
        text(),
        opt_text(),
    );
    let b = (
        opt_text(),
        opt_text(),
        millis(),
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        any::<[bool; 9]>(),
        opt_text(),
        opt_text(),
        opt_text(),
        proptest::collection::vec(mention(), 0..3),
        proptest::option::of(json_object()),
    );
    (a, b, extra())
        .prop_map(
            |(
                (
                    id,
                    tenant_id,
                    url_id,
                    url_id_raw,
                    url,
                    page_title,
                    user_id,
                    commenter_name,
                    commenter_email,
                    comment,
                    comment_html,
                    parent_id,
                ),
                (
                    external_id,
                    external_parent_id,
                    date,
                    votes,
                    votes_up,
                    votes_down,
                    flags,
                    avatar_src,
                    locale,
                    domain,
                    mentions,
                    meta,
                ),
                extra,
            )| Comment {
                id,
                tenant_id,
                url_id,
                url_id_raw,
                url,
                page_title,
                user_id,
                commenter_name,
                commenter_email,
                comment,
                comment_html,
                parent_id,
                external_id,
                external_parent_id,
                date,
                votes,
                votes_up,
                votes_down,
                verified: flags[0],
                reviewed: flags[1],
                approved: flags[2],
                is_spam: flags[3],
                ai_determined_spam: flags[4],
                has_images: flags[5],
                has_links: flags[6],
                avatar_src,
                locale,
                is_by_admin: flags[7],
                is_by_moderator: flags[8],
                domain,
                mentions,
                meta,
                extra,
            },
        )
        .boxed()
}

fn vote() -> BoxedStrategy<Vote> {
    (
        text(),
        text(),
        opt_text(),
        text(),
        text(),
        opt_text(),
        prop_oneof![Just(VoteDirection::Up), Just(VoteDirection::Down)],
        millis(),
        extra(),
    )
        .prop_map(
            |(
                id,
                comment_id,
                comment_external_id,
                tenant_id,
                url_id,
                user_id,
                direction,
                created_at,
                extra,
            )| {
                Vote {
                    id,
                    comment_id,
                    comment_external_id,
                    tenant_id,
                    url_id,
                    user_id,
                    direction,
                    created_at,
                    extra,
                }
            },
        )
        .boxed()
}

fn upload_comment() -> BoxedStrategy<UploadComment> {
    let ids = proptest::collection::vec(opt_text(), 16);
    let nums = proptest::collection::vec(proptest::option::of(any::<i64>()), 3);
    let flags = proptest::collection::vec(proptest::option::of(any::<bool>()), 9);
    (
        ids,
        text(),
        proptest::option::of(millis()),
        nums,
        flags,
        proptest::option::of(json_object()),
        proptest::option::of(proptest::collection::vec(mention(), 0..3)),
        extra(),
    )
        .prop_map(
            |(s, comment, date, n, f, meta, mentions, extra)| UploadComment {
                id: s[0].clone(),
                external_id: s[1].clone(),
                external_parent_id: s[2].clone(),
                parent_id: s[3].clone(),
                url_id: s[4].clone(),
                url: s[5].clone(),
                page_title: s[6].clone(),
                user_id: s[7].clone(),
                commenter_name: s[8].clone(),
                commenter_email: s[9].clone(),
                comment,
                comment_html: s[10].clone(),
                date,
                votes: n[0],
                votes_up: n[1],
                votes_down: n[2],
                verified: f[0],
                reviewed: f[1],
                approved: f[2],
                is_spam: f[3],
                avatar_src: s[11].clone(),
                locale: s[12].clone(),
                domain: s[13].clone(),
                meta,
                tenant_id: s[14].clone(),
                url_id_raw: s[15].clone(),
                ai_determined_spam: f[4],
                has_images: f[5],
                has_links: f[6],
                is_by_admin: f[7],
                is_by_moderator: f[8],
                // `Some([])` is written as `[]`, which reads back as `Some([])`.
                mentions,
                extra,
            },
        )
        .boxed()
}

fn stream_command() -> impl Strategy<Value = StreamCommand> {
    prop_oneof![
        (text(), any::<u64>(), any::<u64>()).prop_map(|(id, start, count)| {
            StreamCommand::SendNextCommentsPayload { id, start, count }
        }),
        (text(), millis())
            .prop_map(|(id, created_at)| StreamCommand::SetSetupCompleted { id, created_at }),
    ]
}

fn stream_event() -> BoxedStrategy<StreamEvent> {
    (
        text(),
        millis(),
        event_type(),
        text(),
        proptest::option::of(comment()),
        proptest::option::of(vote()),
    )
        .prop_map(
            |(id, created_at, event_type, url_id, comment, vote)| StreamEvent {
                id,
                created_at,
                event_type,
                url_id,
                comment,
                vote,
            },
        )
        .boxed()
}

fn stream_response() -> impl Strategy<Value = StreamResponse> {
    (
        status(),
        proptest::collection::vec(stream_command(), 0..4),
        proptest::collection::vec(stream_event(), 0..3),
        any::<bool>(),
        any::<i64>(),
        any::<bool>(),
    )
        .prop_map(
            |(status, commands, events, has_more, next_fetch_date, gap_detected)| StreamResponse {
                status,
                commands,
                events,
                has_more,
                next_fetch_date,
                gap_detected,
            },
        )
}

fn command() -> impl Strategy<Value = Command> {
    (
        opt_text(),
        prop::sample::select(vec![
            CommandKind::FetchEvents,
            CommandKind::SendComments,
            CommandKind::SetSyncDone,
        ]),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(id, command, event_count)| Command {
            id,
            command,
            event_count,
        })
}

fn event_data() -> BoxedStrategy<EventData> {
    (
        event_type(),
        text(),
        millis(),
        proptest::option::of(comment()),
        proptest::option::of(vote()),
    )
        .prop_map(
            |(event_type, broadcast_id, timestamp, comment, vote)| EventData {
                event_type,
                broadcast_id,
                timestamp,
                comment,
                vote,
            },
        )
        .boxed()
}

/// An encoded event together with the data it encodes.
fn encoded_event() -> impl Strategy<Value = (EncodedEvent, EventData)> {
    (text(), millis(), text(), event_data()).prop_map(|(id, created_at, url_id, data)| {
        (
            EncodedEvent {
                id,
                created_at,
                url_id,
                data: data.encode(),
            },
            data,
        )
    })
}

fn webhook_comment() -> BoxedStrategy<WebhookComment> {
    let a = (
        text(),
        text(),
        opt_text(),
        opt_text(),
        opt_text(),
        text(),
        text(),
        text(),
        opt_text(),
        opt_text(),
        millis(),
        proptest::option::of(millis()),
    );
    let b = (
        proptest::collection::vec(any::<i64>(), 6),
        any::<[bool; 6]>(),
        opt_text(),
        opt_text(),
        proptest::option::of(proptest::collection::vec(mention(), 0..3)),
        opt_text(),
        proptest::option::of(proptest::collection::vec(text(), 0..3)),
        extra(),
    );
    (a, b)
        .prop_map(
            |(
                (
                    id,
                    url_id,
                    url,
                    user_id,
                    commenter_email,
                    commenter_name,
                    comment,
                    comment_html,
                    external_id,
                    parent_id,
                    date,
                    verified_date,
                ),
                (n, f, avatar_src, locale, mentions, domain, moderation_group_ids, extra),
            )| WebhookComment {
                id,
                url_id,
                url,
                user_id,
                commenter_email,
                commenter_name,
                comment,
                comment_html,
                external_id,
                parent_id,
                date,
                votes: n[0],
                votes_up: n[1],
                votes_down: n[2],
                verified: f[0],
                verified_date,
                reviewed: f[1],
                avatar_src,
                is_spam: f[2],
                ai_determined_spam: f[3],
                has_images: f[4],
                page_number: n[3],
                page_number_of: n[4],
                page_number_nf: n[5],
                approved: f[5],
                locale,
                mentions,
                domain,
                moderation_group_ids,
                extra,
            },
        )
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// 1. Round trips
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn comment_round_trips_keeping_unknown_fields(c in comment()) {
        let text = round_trip(&c)?;
        // The unknown fields are on the wire as top-level keys, next to the known ones.
        let v: Value = serde_json::from_str(&text).unwrap();
        let obj = v.as_object().unwrap();
        for (k, val) in &c.extra {
            prop_assert_eq!(obj.get(k), Some(val));
        }
        prop_assert_eq!(obj.len(), comment_keys().len() + c.extra.len());
    }

    #[test]
    fn upload_comment_round_trips(c in upload_comment()) {
        round_trip(&c)?;
    }

    #[test]
    fn vote_round_trips(v in vote()) {
        let text = round_trip(&v)?;
        // `createdAt` is a number of milliseconds on the wire.
        let j: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&j["createdAt"], &json!(v.created_at.0));
    }

    #[test]
    fn mention_round_trips(m in mention()) {
        round_trip(&m)?;
    }

    #[test]
    fn webhook_comment_round_trips(c in webhook_comment()) {
        let text = round_trip(&c)?;
        // The body is exactly the compact serialization, and parses back.
        let body = c.to_body();
        prop_assert_eq!(&body, text.as_bytes());
        let back: WebhookComment = serde_json::from_slice(&body).unwrap();
        prop_assert_eq!(back, c);
    }

    #[test]
    fn event_data_round_trips_through_its_string_encoding((e, data) in encoded_event()) {
        round_trip(&e)?;
        round_trip(&data)?;
        let text = serde_json::to_string(&e).unwrap();
        let back: EncodedEvent = serde_json::from_str(&text).unwrap();
        // `data` travels as a JSON string, not an object.
        let j: Value = serde_json::from_str(&text).unwrap();
        prop_assert!(j["data"].is_string());
        prop_assert_eq!(back.decode().unwrap(), data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn stream_response_round_trips(r in stream_response()) {
        round_trip(&r)?;
    }

    #[test]
    fn commands_response_round_trips(
        status in status(),
        commands in proptest::collection::vec(command(), 0..4),
    ) {
        round_trip(&CommandsResponse { status, commands })?;
    }

    #[test]
    fn events_response_round_trips(
        status in status(),
        events in proptest::collection::vec(encoded_event(), 0..3),
        has_more in any::<bool>(),
        gap_detected in any::<bool>(),
    ) {
        let r = EventsResponse {
            status,
            events: events.iter().map(|(e, _)| e.clone()).collect(),
            has_more,
            gap_detected,
        };
        let text = round_trip(&r)?;
        let back: EventsResponse = serde_json::from_str(&text).unwrap();
        for (e, (_, data)) in back.events.iter().zip(&events) {
            prop_assert_eq!(&e.decode().unwrap(), data);
        }
    }

    #[test]
    fn upload_request_round_trips(
        start in proptest::option::of(any::<i64>()),
        has_more in proptest::option::of(any::<bool>()),
        count_remaining in proptest::option::of(any::<i64>()),
        comments in proptest::collection::vec(upload_comment(), 0..3),
        extra in extra(),
    ) {
        round_trip(&UploadRequest { start, has_more, count_remaining, comments, extra })?;
    }

    #[test]
    fn upload_response_round_trips(
        status in status(),
        comment_ids in proptest::collection::btree_map(text(), text(), 0..5),
        received in any::<u64>(),
    ) {
        round_trip(&UploadResponse { status, comment_ids, received })?;
    }

    #[test]
    fn comments_page_round_trips(
        status in status(),
        comments in proptest::collection::vec(comment(), 0..3),
        has_more in any::<bool>(),
        total_count in proptest::option::of(any::<u64>()),
    ) {
        round_trip(&CommentsPage { status, comments, has_more, total_count })?;
    }

    #[test]
    fn comment_ids_request_round_trips(rows in proptest::collection::vec((text(), text()), 0..6)) {
        let mappings = rows
            .into_iter()
            .map(|(fc_id, wp_id)| CommentIdMapping { fc_id, wp_id })
            .collect();
        round_trip(&CommentIdsRequest { mappings })?;
    }
}

/// Regression: numbers in the epoch-ms fields (`Vote.createdAt`, `StreamEvent.createdAt`,
/// `EventData.timestamp`, `SetSetupCompleted.createdAt`) are written as milliseconds, so they
/// must be read as milliseconds too, even below [`SECONDS_LIMIT`] (before March 1973): a value
/// must not come back a thousand times larger.
#[test]
fn epoch_ms_fields_read_numbers_as_milliseconds() {
    for ms in [1, 999, 5_000, 86_400_000, SECONDS_LIMIT - 1] {
        let mut v = sample_vote();
        v.created_at = Millis(ms);
        let text = serde_json::to_string(&v).unwrap();
        let back: Vote = serde_json::from_str(&text).unwrap();
        assert_eq!(back.created_at, Millis(ms), "{text}");

        let d = EventData {
            event_type: EventType::NewVote,
            broadcast_id: "e1".into(),
            timestamp: Millis(ms),
            comment: None,
            vote: Some(v.clone()),
        };
        let back: EventData = serde_json::from_str(&d.encode()).unwrap();
        assert_eq!(back, d);

        let c = StreamCommand::SetSetupCompleted {
            id: "s".into(),
            created_at: Millis(ms),
        };
        let back: StreamCommand =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
    // Text forms in an epoch-ms field still read as dates.
    let mut j = serde_json::to_value(sample_vote()).unwrap();
    j["createdAt"] = json!("2025-11-23T06:40:00.123Z");
    let v: Vote = serde_json::from_value(j.clone()).unwrap();
    assert_eq!(v.created_at, Millis(1_763_880_000_123));
    j["createdAt"] = json!("1763880000123");
    let v: Vote = serde_json::from_value(j).unwrap();
    assert_eq!(v.created_at, Millis(1_763_880_000_123));
}

// ---------------------------------------------------------------------------------------------
// 2. Lenient forms
// ---------------------------------------------------------------------------------------------

/// `YYYY-MM-DD<sep>HH:MM:SS.mmm` of `ms` seen at `offset_min` minutes east of UTC, computed
/// with the `time` crate directly (not through `Millis`).
fn civil(ms: i64, offset_min: i32, sep: char, with_ms: bool) -> String {
    let off = ::time::UtcOffset::from_whole_seconds(offset_min * 60).unwrap();
    let dt = ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .to_offset(off);
    let mut s = format!(
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if with_ms {
        s.push_str(&format!(".{:03}", dt.millisecond()));
    }
    s
}

fn offset_suffix(offset_min: i32) -> String {
    let sign = if offset_min < 0 { '-' } else { '+' };
    let a = offset_min.abs();
    format!("{sign}{:02}:{:02}", a / 60, a % 60)
}

/// Parses `form` as a `Millis` in every way one arrives: `Millis::parse`, a JSON value, and the
/// `date` of an uploaded comment (a flattened struct, so serde buffers it first).
fn parse_date_everywhere(form: &Value) -> Result<[Millis; 2], String> {
    let direct: Millis = serde_json::from_str(&form.to_string()).map_err(|e| e.to_string())?;
    let c: UploadComment = serde_json::from_str(&json!({"comment": "x", "date": form}).to_string())
        .map_err(|e| e.to_string())?;
    Ok([direct, c.date.ok_or("no date")?])
}

fn check_date(form: Value, want: Millis) -> Result<(), TestCaseError> {
    if let Value::String(s) = &form {
        prop_assert_eq!(Millis::parse(s), Ok(want), "Millis::parse({:?})", s);
    }
    let got = parse_date_everywhere(&form).map_err(TestCaseError::fail)?;
    prop_assert_eq!(got, [want, want], "form {}", form);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_date_form_gives_the_same_millis(
        ms in DAY_MS..=MAX_MS - DAY_MS,
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59),
    ) {
        let want = Millis(ms);
        let iso_z = format!("{}Z", civil(ms, 0, 'T', true));
        prop_assert_eq!(want.to_iso(), iso_z.clone());
        check_date(json!(iso_z), want)?;
        check_date(json!(format!("{}{}", civil(ms, offset_min, 'T', true), offset_suffix(offset_min))), want)?;
        check_date(json!(civil(ms, 0, ' ', true)), want)?;
        check_date(json!(civil(ms, 0, 'T', true)), want)?;
        check_date(json!(format!("  {iso_z} ")), want)?;
        if ms >= SECONDS_LIMIT {
            // Epoch ms only reads as ms from 10^11 on; below, a number is epoch seconds (SPEC §1.5).
            check_date(json!(ms), want)?;
            check_date(json!(ms.to_string()), want)?;
        }
    }

    #[test]
    fn every_whole_second_form_gives_the_same_millis(
        s in 1i64..SECONDS_LIMIT,
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59),
    ) {
        let ms = s * 1000;
        let want = Millis(ms);
        check_date(json!(civil(ms, 0, ' ', false)), want)?;
        check_date(json!(civil(ms, 0, 'T', false)), want)?;
        check_date(json!(format!("{}Z", civil(ms, 0, 'T', false))), want)?;
        check_date(json!(format!("{}{}", civil(ms, offset_min, 'T', false), offset_suffix(offset_min))), want)?;
        check_date(json!(civil(ms, 0, ' ', true)), want)?;
        check_date(json!(s), want)?;
        check_date(json!(s.to_string()), want)?;
    }

    #[test]
    fn to_iso_parses_back(ms in 0..=MAX_MS) {
        prop_assert_eq!(Millis::parse(&Millis(ms).to_iso()), Ok(Millis(ms)));
    }

    #[test]
    fn to_iso_is_always_the_documented_shape(
        ms in prop_oneof![
            any::<i64>(),
            // Years −9999 … 9999 and a little beyond, where `time` can still represent it.
            -400_000_000_000_000i64..300_000_000_000_000,
            prop::sample::select(vec![
                i64::MIN, -377_705_116_800_001, YEAR_0_MS - 1, YEAR_0_MS, -1,
                MAX_MS, MAX_MS + 1, i64::MAX,
            ]),
        ],
    ) {
        let s = Millis(ms).to_iso();
        let b = s.as_bytes();
        let shape_ok = b.len() == 24
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'.',
                23 => *c == b'Z',
                _ => c.is_ascii_digit(),
            });
        prop_assert!(shape_ok, "{} gave {:?}", ms, s);
        // Exact within the years 0000–9999, clamped to them outside.
        let back = Millis::parse(&s).unwrap();
        prop_assert_eq!(back, Millis(ms.clamp(YEAR_0_MS, MAX_MS)), "{} gave {:?}", ms, s);
    }

    #[test]
    fn integer_forms_are_equal(n in any::<i64>()) {
        for form in [json!(n), json!(n.to_string()), json!(format!("  {n} "))] {
            let mut c = serde_json::to_value(sample_comment()).unwrap();
            c["votes"] = form.clone();
            let c: Comment = serde_json::from_value(c).unwrap();
            prop_assert_eq!(c.votes, n);

            let u: UploadComment =
                serde_json::from_str(&json!({"comment": "", "votesUp": form}).to_string()).unwrap();
            prop_assert_eq!(u.votes_up, Some(n));

            let r: UploadRequest =
                serde_json::from_str(&json!({"start": form, "countRemaining": form}).to_string()).unwrap();
            prop_assert_eq!((r.start, r.count_remaining), (Some(n), Some(n)));

            let mut w = serde_json::to_value(sample_webhook()).unwrap();
            w["pageNumberOF"] = form.clone();
            let w: WebhookComment = serde_json::from_str(&w.to_string()).unwrap();
            prop_assert_eq!(w.page_number_of, n);
        }
    }

    #[test]
    fn id_forms_are_equal(n in prop_oneof![any::<i64>().prop_map(Value::from), any::<u64>().prop_map(Value::from)]) {
        let s = n.to_string();
        for form in [n.clone(), json!(s)] {
            let mut c = serde_json::to_value(sample_comment()).unwrap();
            for k in ["_id", "urlId", "userId", "parentId", "externalId", "externalParentId"] {
                c[k] = form.clone();
            }
            let c: Comment = serde_json::from_str(&c.to_string()).unwrap();
            prop_assert_eq!(&c.id, &s);
            prop_assert_eq!(&c.url_id, &s);
            for o in [&c.user_id, &c.parent_id, &c.external_id, &c.external_parent_id] {
                prop_assert_eq!(o.as_deref(), Some(s.as_str()));
            }

            let u: UploadComment = serde_json::from_str(
                &json!({"comment": "", "_id": form, "externalId": form, "externalParentId": form, "urlId": form})
                    .to_string(),
            )
            .unwrap();
            for o in [&u.id, &u.external_id, &u.external_parent_id, &u.url_id] {
                prop_assert_eq!(o.as_deref(), Some(s.as_str()));
            }

            let mut v = serde_json::to_value(sample_vote()).unwrap();
            v["commentId"] = form.clone();
            v["commentExternalId"] = form.clone();
            let v: Vote = serde_json::from_str(&v.to_string()).unwrap();
            prop_assert_eq!(&v.comment_id, &s);
            prop_assert_eq!(v.comment_external_id.as_deref(), Some(s.as_str()));

            let m: CommentIdMapping =
                serde_json::from_str(&json!({"fcId": form, "wpId": form}).to_string()).unwrap();
            prop_assert_eq!((&m.fc_id, &m.wp_id), (&s, &s));

            let mut w = serde_json::to_value(sample_webhook()).unwrap();
            w["id"] = form.clone();
            w["externalId"] = form.clone();
            let w: WebhookComment = serde_json::from_str(&w.to_string()).unwrap();
            prop_assert_eq!(&w.id, &s);
            prop_assert_eq!(w.external_id.as_deref(), Some(s.as_str()));
        }
    }

    #[test]
    fn cursor_ms_and_iso_agree(
        ms in SECONDS_LIMIT..=MAX_MS - DAY_MS,
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59),
    ) {
        let want = Cursor::Millis(ms);
        let forms = [
            ms.to_string(),
            format!(" {ms} "),
            Millis(ms).to_iso(),
            format!("{}{}", civil(ms, offset_min, 'T', true), offset_suffix(offset_min)),
            civil(ms, 0, ' ', true),
        ];
        for f in &forms {
            prop_assert_eq!(Cursor::parse(f), Ok(want), "{:?}", f);
        }
        prop_assert_eq!(want.after_ms(), ms);
    }

    #[test]
    fn cursor_iso_is_exact_even_before_1973(ms in 1..SECONDS_LIMIT) {
        prop_assert_eq!(Cursor::parse(&Millis(ms).to_iso()), Ok(Cursor::Millis(ms)));
    }

    #[test]
    fn cursor_seconds(s in 1i64..SECONDS_LIMIT) {
        let c = Cursor::parse(&s.to_string()).unwrap();
        prop_assert_eq!(c, Cursor::Seconds(s));
        prop_assert_eq!(c.after_ms(), s * 1000 + 999);
        // Every entry of that second is at or before the cursor; the next second's first is after.
        prop_assert!(c.after_ms() >= s * 1000 + 999 && c.after_ms() < (s + 1) * 1000);
    }

    #[test]
    fn parsers_never_panic_on_any_text(s in any::<String>()) {
        check_no_panic(&s)?;
    }

    #[test]
    fn parsers_never_panic_on_date_like_text(
        s in prop_oneof![
            "[-+0-9 .:TtZz]{0,32}",
            "[0-9]{1,40}",
            "[0-9]{1,20}\\.[0-9]{0,20}",
            "[+-]?[0-9]{4,7}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})?",
            "(inf|-inf|NaN|infinity|1e999|-1e999|1e15|-0|0e0|0x10|\\+5)",
        ],
    ) {
        check_no_panic(&s)?;
    }

    #[test]
    fn numbers_as_dates_never_panic(n in any::<i64>(), u in any::<u64>(), f in any::<f64>()) {
        let _ = serde_json::from_value::<Millis>(json!(n));
        let _ = serde_json::from_value::<Millis>(json!(u));
        let _ = serde_json::from_value::<Millis>(json!(f));
        let _ = Millis::from_epoch_number(f);
        let _ = Millis(n).to_iso();
        let _ = Cursor::Seconds(n).after_ms();
        let _ = Cursor::Millis(n).after_ms();
    }
}

fn check_no_panic(s: &str) -> Result<(), TestCaseError> {
    let m = Millis::parse(s);
    if let Ok(m) = m {
        let _ = m.to_iso();
    }
    match Cursor::parse(s) {
        Ok(Cursor::Start) | Err(_) => {}
        Ok(Cursor::Millis(ms)) => prop_assert!(ms > 0, "{:?} → Millis({})", s, ms),
        Ok(c @ Cursor::Seconds(sec)) => {
            prop_assert!(sec > 0 && sec < SECONDS_LIMIT, "{:?} → Seconds({})", s, sec);
            let _ = c.after_ms();
        }
    }
    let _ = serde_json::from_value::<Millis>(json!(s));
    Ok(())
}

#[test]
fn padded_integer_and_boolean_forms() {
    let c: UploadComment =
        serde_json::from_str(r#"{"comment":"","votes":"  12 ","votesUp":12,"votesDown":"12"}"#)
            .unwrap();
    assert_eq!(
        (c.votes, c.votes_up, c.votes_down),
        (Some(12), Some(12), Some(12))
    );

    let truthy = [
        json!(true),
        json!("true"),
        json!("1"),
        json!(1),
        json!(" TRUE "),
    ];
    let falsy = [json!(false), json!("false"), json!("0"), json!(0)];
    for (forms, want) in [(&truthy[..], true), (&falsy[..], false)] {
        for form in forms {
            let mut c = serde_json::to_value(sample_comment()).unwrap();
            for k in ["verified", "approved", "isSpam", "hasLinks", "isByAdmin"] {
                c[k] = form.clone();
            }
            let c: Comment = serde_json::from_str(&c.to_string()).unwrap();
            assert_eq!(
                [
                    c.verified,
                    c.approved,
                    c.is_spam,
                    c.has_links,
                    c.is_by_admin
                ],
                [want; 5],
                "{form}"
            );

            let u: UploadComment = serde_json::from_str(
                &json!({"comment": "", "approved": form, "verified": form, "isSpam": form})
                    .to_string(),
            )
            .unwrap();
            assert_eq!(
                [u.approved, u.verified, u.is_spam],
                [Some(want); 3],
                "{form}"
            );

            let r: UploadRequest =
                serde_json::from_str(&json!({"hasMore": form}).to_string()).unwrap();
            assert_eq!(r.has_more, Some(want));

            let mut w = serde_json::to_value(sample_webhook()).unwrap();
            w["approved"] = form.clone();
            w["hasImages"] = form.clone();
            let w: WebhookComment = serde_json::from_str(&w.to_string()).unwrap();
            assert_eq!([w.approved, w.has_images], [want; 2], "{form}");

            let m: Mention = serde_json::from_str(
                &json!({"id": 7, "tag": "@a", "rawTag": "@a", "type": "sso", "sent": form})
                    .to_string(),
            )
            .unwrap();
            assert_eq!(m.sent, want);
        }
    }
}

#[test]
fn cursor_fixed_forms() {
    assert_eq!(Cursor::parse("  "), Ok(Cursor::Start));
    assert_eq!(Cursor::parse("000"), Ok(Cursor::Start));
    assert_eq!(Cursor::parse("1970-01-01T00:00:00.000Z"), Ok(Cursor::Start));
    assert_eq!(
        Cursor::parse(&(SECONDS_LIMIT - 1).to_string()),
        Ok(Cursor::Seconds(SECONDS_LIMIT - 1))
    );
    assert_eq!(
        Cursor::parse(&SECONDS_LIMIT.to_string()),
        Ok(Cursor::Millis(SECONDS_LIMIT))
    );
    assert!(Cursor::parse("1969-12-31T23:59:59.999Z").is_err());
    assert!(Cursor::parse("9".repeat(30).as_str()).is_err());
}

// ---------------------------------------------------------------------------------------------
// 3. `to_body()` is what JSON.stringify writes
// ---------------------------------------------------------------------------------------------

fn stringify_cases() -> Vec<WebhookComment> {
    let controls: String = (0u32..0x20)
        .chain([0x7f, 0x80, 0x9f])
        .filter_map(char::from_u32)
        .collect();
    let mut a = sample_webhook();
    a.comment = format!("ctl:{controls}|ls:\u{2028}|ps:\u{2029}|bom:\u{feff}|q:\"|bs:\\");
    a.comment_html = "<p>a < b &amp;&amp; c > d</p><script>x='</script>'</script>".into();
    a.url = Some("https://example.com/a/b/?x=1&y=%2F#/frag".into());
    a.avatar_src = Some("//cdn.example.com/u/1.png".into());

    let mut b = sample_webhook();
    b.id = "😀-id".into();
    b.commenter_name = "Иван Петров 👩‍👩‍👧 🇧🇬".into();
    b.comment = "Здравей, свят! 😀 — “quotes” ‘single’ …".into();
    b.comment_html = "<p>Здравей, свят! 😀</p>".into();
    b.commenter_email = Some("ivan@пример.bg".into());
    b.votes = -3;
    b.votes_up = 1;
    b.votes_down = 4;
    b.page_number_of = 12;
    b.verified = true;
    b.verified_date = Some(Millis(1_700_000_000_001));
    b.locale = Some("bg_bg".into());
    b.mentions = Some(vec![Mention {
        id: "u/1".into(),
        tag: "@Ана".into(),
        raw_tag: "@Ана".into(),
        kind: MentionKind::Sso,
        sent: false,
    }]);
    b.moderation_group_ids = Some(vec!["g/1".into(), "</g>".into()]);
    b.domain = Some("blog.example.bg".into());

    let mut c = sample_webhook();
    c.comment = String::new();
    c.comment_html = String::new();
    c.parent_id = Some("p-1".into());
    c.external_id = Some("123".into());
    c.date = Millis(0);
    c.extra.insert("isPinned".into(), json!(false));
    c.extra.insert(
        "nested".into(),
        json!({"a/b": ["<&>", null, -1, 9_007_199_254_740_991_i64], "é": {"\u{2028}": "\u{0}"}}),
    );
    vec![a, b, c]
}

#[test]
fn to_body_is_what_json_stringify_writes() {
    let cases = stringify_cases();
    let bodies: Vec<Vec<u8>> = cases.iter().map(WebhookComment::to_body).collect();
    for (c, body) in cases.iter().zip(&bodies) {
        let s = std::str::from_utf8(body).unwrap();
        // Raw UTF-8 and raw `/`, as JSON.stringify writes them.
        assert!(!s.contains("\\/"), "{s}");
        assert!(!s.contains("\\u2028") && !s.contains("\\ud83d"), "{s}");
        assert!(!s.contains('\n'), "a body is one line");
        let back: WebhookComment = serde_json::from_slice(body).unwrap();
        assert_eq!(&back, c);
    }
    assert!(std::str::from_utf8(&bodies[1])
        .unwrap()
        .contains("Иван Петров 👩‍👩‍👧"));
    assert!(std::str::from_utf8(&bodies[0])
        .unwrap()
        .contains(r#""url":"https://example.com/a/b/?x=1&y=%2F#/frag""#));

    // One body per line (a compact body holds no raw newline; U+2028 is not '\n').
    let script = r#"
        let d = "";
        process.stdin.setEncoding("utf8");
        process.stdin.on("data", c => d += c);
        process.stdin.on("end", () => {
            const out = d.split("\n").filter(l => l.length > 0).map(l => JSON.stringify(JSON.parse(l)));
            process.stdout.write(out.join("\n"));
        });
    "#;
    let child = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`node` is not on PATH: this test compares with Node's JSON.stringify (apt-get install -y nodejs)")
        }
        Err(e) => panic!("could not start node: {e}"),
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for b in &bodies {
            stdin.write_all(b).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&[u8]> = out.stdout.split(|b| *b == b'\n').collect();
    assert_eq!(
        lines.len(),
        bodies.len(),
        "node answered {} bodies",
        lines.len()
    );
    for (ours, theirs) in bodies.iter().zip(lines) {
        assert_eq!(
            String::from_utf8_lossy(theirs),
            String::from_utf8_lossy(ours),
            "JSON.stringify differs"
        );
        assert_eq!(theirs, &ours[..]);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Fixtures: what deployed plugins send
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn wordpress_upload_parses_exactly() {
    let r: UploadRequest = serde_json::from_str(&fixture("wordpress_upload.json")).unwrap();
    assert_eq!(r.start, None);
    assert_eq!(r.has_more, None);
    assert_eq!(r.count_remaining, Some(1198));
    assert!(!r.is_last());
    assert!(r.extra.is_empty());
    assert_eq!(r.comments.len(), 2);

    // PHP's json_encode escapes `/` and non-ASCII; both decode to the plain text.
    let a = &r.comments[0];
    assert_eq!(a.id.as_deref(), Some("lBq9aXz3kP"));
    assert_eq!(a.external_id.as_deref(), Some("123"));
    assert_eq!(a.external_parent_id, None);
    assert_eq!(a.parent_id, None);
    assert_eq!(a.url_id.as_deref(), Some("42"));
    assert_eq!(
        a.url.as_deref(),
        Some("https://blog.example.bg/2024/03/zdravei-svyat/")
    );
    assert_eq!(a.page_title.as_deref(), Some("Здравей, свят!"));
    assert_eq!(a.user_id, None);
    assert_eq!(a.commenter_name.as_deref(), Some("Иван Петров"));
    assert_eq!(a.commenter_email.as_deref(), Some("ivan@example.bg"));
    assert_eq!(a.comment, "<p>Great post &amp; thanks!</p>\n<p>👍</p>");
    assert_eq!(a.comment_html, None);
    // 2024-03-05 14:22:11 UTC
    assert_eq!(a.date, Some(Millis(1_709_648_531_000)));
    assert_eq!(a.date.unwrap().to_iso(), "2024-03-05T14:22:11.000Z");
    assert_eq!(
        (a.votes, a.votes_up, a.votes_down),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(a.verified, Some(true));
    assert_eq!(a.reviewed, None);
    assert_eq!(a.approved, Some(true));
    assert_eq!(a.is_spam, Some(false));
    assert_eq!(a.avatar_src, None);
    assert_eq!(a.meta, None);
    // Every comment field is a typed field (a comment field kept among the unknown ones was
    // stored twice by the hub); unknown fields are kept, in the order they came.
    assert_eq!(a.tenant_id.as_deref(), Some("L177BUDVvSe"));
    assert_eq!((a.has_images, a.has_links), (Some(false), Some(false)));
    let keys: Vec<&str> = a.extra.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "verifiedDate",
            "verificationId",
            "notificationSentForParent",
            "notificationSentForParentTenant",
        ]
    );
    assert_eq!(a.extra["verifiedDate"], Value::Null);
    assert_eq!(a.extra["notificationSentForParent"], json!(true));

    let b = &r.comments[1];
    assert_eq!(b.id, None);
    assert_eq!(b.external_id.as_deref(), Some("124"));
    assert_eq!(b.external_parent_id.as_deref(), Some("123"));
    assert_eq!(b.url_id.as_deref(), Some("42"));
    assert_eq!(b.commenter_email.as_deref(), Some(""));
    assert_eq!(
        b.comment,
        r#"Reply with a <a href="https://example.com/x?a=1&b=2">link</a>"#
    );
    assert_eq!(b.comment_html, None);
    // Zone-less ISO is UTC.
    assert_eq!(b.date, Some(Millis(1_709_715_600_000)));
    assert_eq!(
        (b.votes, b.votes_up, b.votes_down),
        (Some(-2), Some(0), Some(2))
    );
    assert_eq!(b.verified, Some(false));
    assert_eq!(b.approved, Some(false));
    assert_eq!(b.is_spam, Some(false));
    let mut meta = Map::new();
    meta.insert("wpPostId".into(), json!("42"));
    meta.insert("wpUserId".into(), json!(0));
    assert_eq!(b.meta, Some(meta));
    assert_eq!(b.extra["karma"], json!("0"));
    assert_eq!(b.extra["comment_agent"], json!("Mozilla/5.0"));
    // PHP's `""` is false, `"1"` true.
    assert_eq!((b.has_images, b.has_links), (Some(false), Some(true)));
    assert!(b
        .extra
        .keys()
        .all(|k| !Comment::FIELDS.contains(&k.as_str())));

    // Re-serializing keeps every field the plugin sent (by value; forms become canonical).
    let again: UploadRequest = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(again, r);
}

#[test]
fn nothing_to_upload_is_last() {
    let r: UploadRequest = serde_json::from_str(r#"{"countRemaining":0,"comments":[]}"#).unwrap();
    assert!(r.is_last());
    assert_eq!(
        r,
        UploadRequest {
            count_remaining: Some(0),
            ..Default::default()
        }
    );
}

#[test]
fn wordpress_comment_ids_parse_exactly() {
    let r: CommentIdsRequest =
        serde_json::from_str(&fixture("wordpress_comment_ids.json")).unwrap();
    assert_eq!(
        r.mappings,
        vec![
            CommentIdMapping {
                fc_id: "lBq9aXz3kP".into(),
                wp_id: "123".into()
            },
            CommentIdMapping {
                fc_id: "x7Yc2mQ0pL".into(),
                wp_id: "124".into()
            },
        ]
    );
}

#[test]
fn events_response_fixture_decodes_exactly() {
    let r: EventsResponse = serde_json::from_str(&fixture("events_response.json")).unwrap();
    assert_eq!(r.status, Status::Success);
    assert!(!r.has_more);
    assert!(!r.gap_detected);
    assert_eq!(r.events.len(), 2);

    let e = &r.events[0];
    assert_eq!(e.id, "evt-000001");
    assert_eq!(e.created_at, Millis(1_763_880_000_123));
    assert_eq!(e.url_id, "42");
    let d = e.decode().unwrap();
    assert_eq!(d.event_type, EventType::NewComment);
    assert_eq!(d.broadcast_id, "evt-000001");
    assert_eq!(d.timestamp, Millis(1_763_880_000_123));
    assert_eq!(d.vote, None);
    let c = d.comment.unwrap();
    assert_eq!(c.id, "x7Yc2mQ0pL");
    assert_eq!(c.tenant_id, "L177BUDVvSe");
    assert_eq!(c.page_title.as_deref(), Some("Здравей, свят!"));
    assert_eq!(c.commenter_name, "Мария");
    assert_eq!(c.commenter_email, None);
    assert_eq!(c.comment, "Хубаво! 🎉");
    assert_eq!(c.comment_html, "<p>Хубаво! 🎉</p>");
    assert_eq!(c.date, Millis(1_763_880_000_120));
    assert!(c.approved && !c.verified && !c.is_spam);
    assert_eq!(c.locale.as_deref(), Some("bg_bg"));
    assert_eq!(c.meta.as_ref().unwrap()["wpPostId"], json!("42"));
    assert_eq!(c.extra.len(), 2);
    assert_eq!(c.extra["flagCount"], json!(0));
    assert_eq!(c.extra["badges"], json!([{"id": "b1", "type": 7}]));

    let e = &r.events[1];
    assert_eq!(e.created_at, Millis(1_763_880_001_000));
    let d = e.decode().unwrap();
    assert_eq!(d.event_type, EventType::NewVote);
    assert_eq!(d.comment, None);
    let v = d.vote.unwrap();
    assert_eq!(v.id, "v-1");
    assert_eq!(v.comment_id, "lBq9aXz3kP");
    assert_eq!(v.comment_external_id.as_deref(), Some("123"));
    assert_eq!(v.user_id.as_deref(), Some("u-9"));
    assert_eq!(v.direction, VoteDirection::Down);
    assert_eq!(v.created_at, Millis(1_763_880_001_000));
    assert!(v.extra.is_empty());
}

#[test]
fn webhook_fixture_parses_exactly_and_reserializes_byte_equal() {
    let text = fixture("webhook_comment.json");
    let w: WebhookComment = serde_json::from_str(&text).unwrap();
    assert_eq!(w.id, "x7Yc2mQ0pL");
    assert_eq!(
        w.url.as_deref(),
        Some("https://blog.example.bg/2024/03/zdravei-svyat/")
    );
    assert_eq!(w.comment, "Хубаво! 🎉 <script>alert(1)</script> & more");
    assert_eq!(w.parent_id.as_deref(), Some("lBq9aXz3kP"));
    assert_eq!(w.date, Millis(1_763_880_000_120));
    assert_eq!(w.verified_date, Some(Millis(1_763_632_800_000)));
    assert_eq!((w.votes, w.votes_up, w.votes_down), (-1, 0, 1));
    assert_eq!(
        (w.page_number, w.page_number_of, w.page_number_nf),
        (0, 2, 0)
    );
    assert_eq!(
        w.mentions,
        Some(vec![Mention {
            id: "u-1".into(),
            tag: "@Иван".into(),
            raw_tag: "@Иван".into(),
            kind: MentionKind::User,
            sent: true,
        }])
    );
    assert_eq!(w.moderation_group_ids, Some(vec!["g1".to_string()]));
    assert_eq!(w.extra.len(), 2);
    assert_eq!(w.extra["feedbackIds"], json!([]));
    assert_eq!(w.extra["isPinned"], json!(false));
    // The fixture is in canonical order and form, so the body is byte-identical.
    assert_eq!(String::from_utf8(w.to_body()).unwrap(), text.trim_end());
}
