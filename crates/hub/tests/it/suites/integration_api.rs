//! The integration API (SPEC §1) over real HTTP on loopback.

use super::BACKEND;
use crate::common;

use common::{assert_refused, items, TestHub};
use fastcomments_hub::HubConfig;
use fastcomments_protocol::{CommandsResponse, EventsResponse, StreamResponse, TokenResponse};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "0b6f1c1e-5a54-4c8e-9d59-0d4f7d0e2a11";

#[tokio::test]
async fn token_lifecycle_and_its_errors() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;

    // Malformed.
    for bad in ["short", "has%20space%20inside", &"a".repeat(129)] {
        let (s, v) = hub.register_token(bad).await;
        assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-token"), format_args!("{bad}"));
    }
    let (s, v) = hub
        .call(Method::PUT, "/integrations/v1/token", None, None)
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-token"), "");

    // Unknown token reads nothing.
    let (s, v) = hub
        .get(&format!("/integrations/v1/stream?token={TOKEN}"))
        .await;
    assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "unknown-token"), "");

    // Pending, repeated: both forms are the same call.
    for path in [
        format!("/integrations/v1/token/{TOKEN}?integrationType=wordpress&domain=https://acme.example/blog"),
        format!("/integrations/v1/token?token={TOKEN}"),
        format!("/integrations/v1/token?token={TOKEN}"),
    ] {
        let (s, v) = hub.call(Method::PUT, &path, None, None).await;
        assert_eq!(s, StatusCode::OK);
        let r: TokenResponse = serde_json::from_value(v).unwrap();
        assert!(!r.is_token_validated);
        assert_eq!(r.tenant_id, None);
    }
    for path in ["stream", "commands", "events", "comments", "api-secret"] {
        let (s, v) = hub
            .get(&format!("/integrations/v1/{path}?token={TOKEN}"))
            .await;
        assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "token-not-validated"), format_args!("{path}"));
    }

    // Acknowledged: bound to the tenant, domain kept from the first PUT.
    let (s, v) = hub.api(&t.key).acknowledge(TOKEN, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["integration"]["domain"], "acme.example");
    assert_eq!(v["integration"]["integrationType"], "wordpress");
    let (_, v) = hub.register_token(TOKEN).await;
    let r: TokenResponse = serde_json::from_value(v).unwrap();
    assert!(r.is_token_validated);
    assert_eq!(r.tenant_id.as_deref(), Some(t.id.as_str()));

    // Another tenant cannot take it over, nor see it.
    let other = hub.tenant("Other").await;
    let (s, v) = hub.api(&other.key).acknowledge(TOKEN, None).await;
    assert_refused(s, &v, (StatusCode::NOT_FOUND, "not-found"), "");
    let (_, v) = hub.api(&other.key).integrations().await;
    assert_eq!(v["integrations"], json!([]));
    let (s, _) = hub.api(&other.key).revoke(TOKEN).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Revoked: 403 everywhere, for good.
    let (s, _) = hub.api(&t.key).revoke(TOKEN).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = hub.register_token(TOKEN).await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "token-revoked"), "");
    for path in ["stream", "commands", "events", "comments", "api-secret"] {
        let (s, v) = hub
            .get(&format!("/integrations/v1/{path}?token={TOKEN}"))
            .await;
        assert_refused(s, &v, (StatusCode::FORBIDDEN, "token-revoked"), format_args!("{path}"));
    }
    let (s, v) = hub
        .upload(
            TOKEN,
            json!({"comments": []}),
        )
        .await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "token-revoked"), "");
}

#[tokio::test]
async fn pending_tokens_expire_after_seven_days() {
    let (hub, clock) = TestHub::with_manual_clock(
        BACKEND,
        common::admin_config(),
        1_763_880_000_000,
    )
    .await;
    let t = hub.tenant("Acme").await;
    hub.register_token(TOKEN).await;
    clock.advance(7 * 24 * 3600 * 1000 + 1);
    let (s, v) = hub.api(&t.key).acknowledge(TOKEN, None).await;
    assert_refused(s, &v, (StatusCode::GONE, "token-expired"), "");
    hub.running.hub.run_maintenance().await.unwrap();
    let (s, v) = hub
        .get(&format!("/integrations/v1/stream?token={TOKEN}"))
        .await;
    assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "unknown-token"), "");
    // Registering again starts a fresh pending period.
    hub.register_token(TOKEN).await;
    let (s, _) = hub.api(&t.key).acknowledge(TOKEN, None).await;
    assert_eq!(s, StatusCode::OK);
}

/// The stream of the token as read from `cursor`.
async fn stream_from(hub: &TestHub, cursor: i64) -> StreamResponse {
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/stream?token={TOKEN}&lastFetchDate={cursor}"
        ))
        .await;
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn initial_upload_commands_progress_and_setup_completed_once() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, TOKEN, false).await;

    let s = stream_from(&hub, 0).await;
    assert_eq!(
        serde_json::to_value(&s.commands).unwrap(),
        json!([{"command":"SendNextCommentsPayload","id":"send-0","start":0,"count":500}])
    );
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/commands?token={TOKEN}&fromDateTime=0"
        ))
        .await;
    let c: CommandsResponse = serde_json::from_value(v).unwrap();
    assert_eq!(
        serde_json::to_value(&c.commands).unwrap(),
        json!([{"id":null,"command":"SendComments"}])
    );

    let batch: Vec<Value> = (0..3)
        .map(|i| json!({"externalId": i, "urlId": "post-1", "comment": format!("c{i}"), "commenterName": "W"}))
        .collect();
    let (s, v) = hub.upload(
        TOKEN,
        json!({"start": 0, "hasMore": true, "countRemaining": 2, "comments": batch}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["received"], 3);
    assert_eq!(v["commentIds"].as_object().unwrap().len(), 3);
    // The same batch again (a retry after a lost answer): still three distinct comments.
    let (_, v2) = hub.upload(
        TOKEN,
        json!({"start": 0, "hasMore": true, "countRemaining": 2, "comments": batch}),
    )
    .await;
    assert_eq!(v2["commentIds"], v["commentIds"]);
    let s = stream_from(&hub, 0).await;
    assert_eq!(
        serde_json::to_value(&s.commands).unwrap(),
        json!([{"command":"SendNextCommentsPayload","id":"send-3","start":3,"count":500}])
    );
    // Echo suppression: the uploader does not get its own comments back.
    assert!(s.events.is_empty(), "{:?}", s.events);

    let last: Vec<Value> = (3..5)
        .map(|i| json!({"externalId": i, "urlId": "post-1", "comment": format!("c{i}")}))
        .collect();
    let (s, _) = hub.upload(
        TOKEN,
        json!({"countRemaining": "0", "comments": last}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let s = stream_from(&hub, 0).await;
    assert_eq!(s.commands.len(), 1);
    let done_at = match &s.commands[0] {
        fastcomments_protocol::StreamCommand::SetSetupCompleted { created_at, .. } => *created_at,
        other => panic!("expected SetSetupCompleted, got {other:?}"),
    };
    assert_eq!(s.next_fetch_date, done_at.0);
    // Once in cursor order: not again after the cursor passed it.
    let again = stream_from(&hub, s.next_fetch_date).await;
    assert!(again.commands.is_empty() && again.events.is_empty() && !again.has_more);
    assert_eq!(again.next_fetch_date, s.next_fetch_date);
    // Generation B says SetSyncDone until the cursor passes that entry.
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/commands?token={TOKEN}&fromDateTime=0"
        ))
        .await;
    assert_eq!(v["commands"], json!([{"id":null,"command":"SetSyncDone"}]));
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/commands?token={TOKEN}&fromDateTime={}",
            done_at.0
        ))
        .await;
    assert_eq!(v["commands"], json!([]));

    // Another token of the tenant sees every uploaded comment.
    let other = "second-token-abcdef";
    hub.connect(&t, other, true).await;
    let (events, commands, _) = hub.drain_stream(other, 0).await;
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e["type"] == "new-comment"));
    assert_eq!(
        commands.len(),
        1,
        "only its own SetSetupCompleted: {commands:?}"
    );
    assert_eq!(commands[0]["command"], "SetSetupCompleted");

    // Re-sync starts the upload over from 0.
    let (s, _) = hub.api(&t.key).resync(TOKEN).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/stream?token={TOKEN}&lastFetchDate={}",
            done_at.0
        ))
        .await;
    assert_eq!(v["commands"][0]["start"], 0);
    let all: Vec<Value> = (0..5)
        .map(|i| json!({"externalId": i, "urlId": "post-1", "comment": format!("c{i}")}))
        .collect();
    hub.upload(TOKEN, json!({"countRemaining": 0, "comments": all})).await;
    let (_, v) = hub.api(&t.key).integrations().await;
    let me = items(&v["integrations"])
        .find(|i| i["token"] == TOKEN)
        .unwrap()
        .clone();
    assert_eq!(me["commentsReceived"], 5);
    assert_eq!(me["uploadFinished"], true);
}

#[tokio::test]
async fn nothing_to_upload_and_skip_initial_sync() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, TOKEN, false).await;
    let (s, v) = hub.upload(TOKEN, json!({"countRemaining": 0, "comments": []})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["received"], 0);
    let (_, v) = hub
        .get(&format!("/integrations/v1/stream?token={TOKEN}"))
        .await;
    assert_eq!(v["commands"][0]["command"], "SetSetupCompleted");

    // skipInitialSync asked for by the plugin in its PUT.
    let t2 = "skipper-token-123";
    hub.call(
        Method::PUT,
        &format!("/integrations/v1/token/{t2}?skipInitialSync=true"),
        None,
        None,
    )
    .await;
    hub.api(&t.key).acknowledge(t2, None).await;
    let (_, v) = hub
        .get(&format!("/integrations/v1/stream?token={t2}"))
        .await;
    assert_eq!(v["commands"].as_array().unwrap().len(), 1);
    assert_eq!(v["commands"][0]["command"], "SetSetupCompleted");
}

#[tokio::test]
async fn children_before_parents_are_linked_and_lenient_input_is_accepted() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, TOKEN, false).await;
    let watcher = "watcher-token-xyz";
    hub.connect(&t, watcher, true).await;
    let (_, _, cursor) = hub.drain_stream(watcher, 0).await;

    // Batch 1: a reply whose parent has not arrived; a reply to a parent later in the batch.
    let (s, v) = hub.upload(
        TOKEN,
        json!({"hasMore": "true", "comments": [
            {"externalId": "11", "externalParentId": 10, "urlId": 42, "comment": "<p>reply to later</p>",
             "date": "2024-03-05 14:22:11", "approved": "1", "votesUp": "2", "votesDown": "0", "wpExtra": {"k": 1}},
            {"externalId": 21, "externalParentId": "20", "urlId": "42", "comment": "reply first", "date": "2024-03-05T14:22:11Z"},
            {"externalId": 20, "urlId": "42", "comment": "parent second", "date": 1709648531000_i64},
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids = v["commentIds"].clone();
    let (_, v) = hub.api(&t.key).comments("urlId=42").await;
    let by_ext = |v: &Value, e: &str| -> Value {
        items(&v["comments"])
            .find(|c| c["externalId"] == e)
            .unwrap()
            .clone()
    };
    assert_eq!(by_ext(&v, "21")["parentId"], ids["20"]);
    assert_eq!(by_ext(&v, "11")["parentId"], Value::Null);
    assert_eq!(by_ext(&v, "11")["votes"], 2);
    assert_eq!(by_ext(&v, "11")["commentHTML"], "<p>reply to later</p>");
    assert_eq!(by_ext(&v, "11")["wpExtra"], json!({"k": 1}));
    // Equal dates in three spellings (the tenant API writes epoch ms, as the official SDKs
    // read it).
    assert_eq!(by_ext(&v, "11")["date"], common::iso_ms("2024-03-05T14:22:11.000Z"));
    assert_eq!(by_ext(&v, "21")["date"], by_ext(&v, "20")["date"]);

    // Batch 2: the parent arrives; the waiting child is linked and others learn of it.
    let (s, v) = hub.upload(TOKEN, json!({"countRemaining": 0, "comments": [{"externalId": 10, "urlId": "42", "comment": "late parent"}]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let parent_id = v["commentIds"]["10"].clone();
    let (_, v) = hub.api(&t.key).comments("urlId=42").await;
    assert_eq!(by_ext(&v, "11")["parentId"], parent_id);
    let (events, _, _) = hub.drain_stream(watcher, cursor).await;
    let last_of_child = events
        .iter()
        .rev()
        .find(|e| e["comment"]["externalId"] == "11")
        .unwrap();
    assert_eq!(last_of_child["type"], "updated-comment");
    assert_eq!(last_of_child["comment"]["parentId"], parent_id);

    // Bad input: a clear 400, never a 500.
    for bad in [
        json!({"comments": [{"externalId": 1, "comment": "no thread"}]}),
        json!({"comments": [{"externalId": 1, "urlId": "x", "comment": "c", "date": "yesterday"}]}),
        json!({"comments": [{"externalId": 1, "urlId": "x", "comment": "c", "votes": "many"}]}),
        json!({"comments": "not a list"}),
        json!([1, 2]),
    ] {
        let (s, v) = hub.upload(TOKEN, bad.clone()).await;
        assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), format_args!("{bad} →"));
    }
    let res = hub
        .client
        .post(format!(
            "{}/integrations/v1/comments?token={TOKEN}",
            hub.base
        ))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_upload_is_413_and_the_hub_asks_for_smaller_batches() {
    let config = HubConfig {
        upload_limit_bytes: 4096,
        ..common::admin_config()
    };
    let hub = TestHub::configured(
        BACKEND,
        config,
    )
    .await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, TOKEN, false).await;
    let big: Vec<Value> = (0..40)
        .map(|i| json!({"externalId": i, "urlId": "p", "comment": "x".repeat(200)}))
        .collect();
    let (s, v) = hub.upload(TOKEN, json!({"hasMore": true, "comments": big})).await;
    assert_refused(s, &v, (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"), "");
    let (_, v) = hub
        .get(&format!("/integrations/v1/stream?token={TOKEN}"))
        .await;
    assert_eq!(v["commands"][0]["count"], 250);
    let (s, _) = hub.upload(TOKEN, json!({"hasMore": true, "comments": big[..10]})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = hub
        .get(&format!("/integrations/v1/stream?token={TOKEN}"))
        .await;
    assert_eq!(v["commands"][0]["start"], 10);
}

#[tokio::test]
async fn tenant_isolation() {
    let hub = TestHub::start(BACKEND).await;
    let ta = "token-of-tenant-a";
    let tb = "token-of-tenant-b";
    let a = hub.connected_tenant("A", ta, true).await;
    let b = hub.connected_tenant("B", tb, true).await;
    let ca = hub.comment(&a, "same-thread", "secret of A").await;
    hub.comment(&b, "same-thread", "words of B").await;
    hub.upload(
        ta,
        json!({"comments": [{"externalId": "e1", "urlId": "same-thread", "comment": "A upload"}]}),
    )
    .await;
    hub.upload(
        tb,
        json!({"comments": [{"externalId": "e1", "urlId": "same-thread", "comment": "B upload"}]}),
    )
    .await;

    let (events, _, _) = hub.drain_stream(tb, 0).await;
    assert!(
        events
            .iter()
            .all(|e| e["comment"]["tenantId"] == b.id.as_str()),
        "{events:?}"
    );
    assert!(!events
        .iter()
        .any(|e| e["comment"]["comment"] == "secret of A"));
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/comments?token={tb}&includeCount=true"
        ))
        .await;
    assert_eq!(v["totalCount"], 2);
    assert!(items(&v["comments"])
        .all(|c| c["tenantId"] == b.id.as_str()));
    let (_, v) = hub.api(&b.key).comments("urlId=same-thread").await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 2);

    // B cannot touch A's comment by id, through any door.
    let id = ca["_id"].as_str().unwrap();
    let (s, _) = hub
        .api(&b.key)
        .update_comment(id, json!({"comment": "x"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = hub.api(&b.key).delete_comment(id).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = hub.api(&b.key).vote(id, json!({"direction": 1})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = hub
        .set_comment_ids(
            tb,
            json!({"mappings": [{"fcId": id, "wpId": 9}]}),
        )
        .await;
    assert_eq!(v["updated"], 0);
    // Uploading A's hub id from B's token makes a new B comment, never touches A's.
    let (_, v) = hub.upload(
        tb,
        json!({"comments": [{"_id": id, "externalId": "x9", "urlId": "t", "comment": "hijack"}]}),
    )
    .await;
    assert_ne!(v["commentIds"]["x9"], id);
    let (_, v) = hub.api(&a.key).comments("urlId=same-thread").await;
    assert!(items(&v["comments"])
        .any(|c| c["comment"] == "secret of A"));
    // B's token reads no API secret (its admin did not allow it), and never A's.
    let (s, v) = hub
        .get(&format!("/integrations/v1/api-secret?token={tb}"))
        .await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "api-secret-not-allowed"), "");
    assert!(!v.to_string().contains(&a.key) && !v.to_string().contains(&b.key));
}

#[tokio::test]
async fn download_comment_ids_and_api_secret() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    hub.call(
        Method::PUT,
        &format!("/integrations/v1/token/{TOKEN}?domain=blog.acme.example"),
        None,
        None,
    )
    .await;
    hub.api(&t.key)
        .acknowledge(TOKEN, Some(json!({"skipInitialSync": true})))
        .await;
    let mut ids = Vec::new();
    for i in 0..130 {
        ids.push(
            hub.comment(&t, &format!("p{}", i % 3), &format!("comment {i}"))
                .await["_id"]
                .clone(),
        );
    }
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/comments?token={TOKEN}&includeCount=true"
        ))
        .await;
    assert_eq!(v["totalCount"], 130);
    assert_eq!(v["hasMore"], true);
    let mut seen: Vec<Value> = items(&v["comments"])
        .map(|c| c["_id"].clone())
        .collect();
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/comments?token={TOKEN}&skip={}",
            seen.len()
        ))
        .await;
    assert_eq!(v["hasMore"], false);
    assert!(v.get("totalCount").is_none());
    seen.extend(
        items(&v["comments"])
            .map(|c| c["_id"].clone()),
    );
    assert_eq!(seen, ids);
    let (s, v) = hub
        .get(&format!("/integrations/v1/comments?token={TOKEN}&skip=-1"))
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");

    let mappings: Vec<Value> = ids
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, id)| json!({"fcId": id, "wpId": i + 100}))
        .collect();
    let (s, v) = hub
        .set_comment_ids(
            TOKEN,
            json!({"mappings": mappings}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["updated"], 3);
    let (_, v) = hub
        .get(&format!("/integrations/v1/comments?token={TOKEN}"))
        .await;
    assert_eq!(v["comments"][1]["meta"]["wpId"], "101");
    let too_many: Vec<Value> = (0..501)
        .map(|i| json!({"fcId": format!("x{i}"), "wpId": i}))
        .collect();
    let (s, v) = hub
        .set_comment_ids(
            TOKEN,
            json!({"mappings": too_many}),
        )
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");

    // Issue 20 §2: no secret unless the acknowledging admin allowed it, and then only one of
    // the integration's own domain, never the All Domains one.
    let (s, v) = hub
        .get(&format!("/integrations/v1/api-secret?token={TOKEN}"))
        .await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "api-secret-not-allowed"), "");
    let (s, v) = hub
        .api(&t.key)
        .acknowledge(TOKEN, Some(json!({"allowApiSecret": true})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["integration"]["apiSecretAllowed"], true, "{v}");
    let (s, v) = hub
        .get(&format!("/integrations/v1/api-secret?token={TOKEN}"))
        .await;
    assert_refused(s, &v, (StatusCode::NOT_FOUND, "no-api-secret"), "");
    assert!(
        !v.to_string().contains(&t.key),
        "never the All Domains secret"
    );
    let (_, v) = hub
        .api(&t.key)
        .create_secret(json!({"domain": "https://blog.acme.example/"}))
        .await;
    let domain_secret = v["apiSecret"]["secret"].clone();
    let (_, v) = hub
        .get(&format!("/integrations/v1/api-secret?token={TOKEN}"))
        .await;
    assert_eq!(v["secret"], domain_secret);
}

#[tokio::test]
async fn stream_and_events_carry_every_kind_with_vote_semantics() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, TOKEN, true).await;
    let (_, _, cursor) = hub.drain_stream(TOKEN, 0).await;
    let c = hub.comment(&t, "thread", "hello").await;
    let id = c["_id"].as_str().unwrap();
    hub.api(&t.key)
        .update_comment(id, json!({"comment": "edited"}))
        .await;
    let (_, v) = hub
        .api(&t.key)
        .vote(id, json!({"direction": 1, "userId": "u1"}))
        .await;
    let vote_id = v["vote"]["_id"].as_str().unwrap().to_owned();
    hub.api(&t.key).delete_vote(&vote_id).await;
    hub.api(&t.key).delete_comment(id).await;

    let (events, _, end) = hub.drain_stream(TOKEN, cursor).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "new-comment",
            "updated-comment",
            "new-vote",
            "deleted-vote",
            "deleted-comment"
        ]
    );
    assert_eq!(events[2]["vote"]["commentId"], id);
    assert_eq!(events[2]["vote"]["direction"], 1);
    assert_eq!(
        events[2]["comment"]["_id"], id,
        "vote events carry the voted comment"
    );
    assert_eq!(events[4]["comment"]["comment"], "edited");
    let parsed: StreamResponse = serde_json::from_value(
        hub.get(&format!(
            "/integrations/v1/stream?token={TOKEN}&lastFetchDate={cursor}"
        ))
        .await
        .1,
    )
    .unwrap();
    assert_eq!(parsed.events.len(), 5);
    assert_eq!(parsed.next_fetch_date, end);

    // Generation B: the same events, data as a JSON string.
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/commands?token={TOKEN}&fromDateTime={cursor}"
        ))
        .await;
    assert_eq!(
        v["commands"],
        json!([{"id":null,"command":"FetchEvents","eventCount":5}])
    );
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/events?token={TOKEN}&fromDateTime={cursor}"
        ))
        .await;
    let r: EventsResponse = serde_json::from_value(v).unwrap();
    let decoded: Vec<_> = r.events.iter().map(|e| e.decode().unwrap()).collect();
    assert_eq!(
        decoded
            .iter()
            .map(|d| d.event_type.as_str())
            .collect::<Vec<_>>(),
        kinds
    );
    assert_eq!(decoded[2].vote.as_ref().unwrap().comment_id, id);
    assert_eq!(r.events[0].id, decoded[0].broadcast_id);
    assert!(r.events[0].created_at.to_iso().ends_with('Z'));
    // An ISO cursor works the same as epoch ms.
    let iso = fastcomments_protocol::Millis(cursor).to_iso();
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/events?token={TOKEN}&fromDateTime={iso}"
        ))
        .await;
    assert_eq!(v["events"].as_array().unwrap().len(), 5);
    let (s, v) = hub
        .get(&format!(
            "/integrations/v1/events?token={TOKEN}&fromDateTime=yesterday"
        ))
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/events?token={TOKEN}&fromDateTime={end}"
        ))
        .await;
    assert_eq!(v, json!({"status":"success","events":[],"hasMore":false}));
}

#[tokio::test]
async fn expired_cursor_is_reported_as_a_gap() {
    let config = HubConfig {
        retention: std::time::Duration::from_secs(3600),
        ..common::admin_config()
    };
    let (hub, clock) = TestHub::with_manual_clock(BACKEND, config, 1_763_880_000_000).await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, TOKEN, true).await;
    let (_, _, cursor) = hub.drain_stream(TOKEN, 0).await;
    hub.comment(&t, "p", "old one").await;
    clock.advance(2 * 3600 * 1000);
    hub.comment(&t, "p", "new one").await;
    let (_, removed) = hub.running.hub.run_maintenance().await.unwrap();
    assert!(removed >= 1);
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/stream?token={TOKEN}&lastFetchDate={cursor}"
        ))
        .await;
    assert_eq!(v["gapDetected"], true, "{v}");
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/events?token={TOKEN}&fromDateTime={cursor}"
        ))
        .await;
    assert_eq!(v["gapDetected"], true);
    // A client that is up to date sees no gap.
    let next = v["events"][0]["createdAt"].as_str().unwrap().to_owned();
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/events?token={TOKEN}&fromDateTime={next}"
        ))
        .await;
    assert!(v.get("gapDetected").is_none(), "{v}");
}
