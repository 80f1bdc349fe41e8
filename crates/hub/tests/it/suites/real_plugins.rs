//! What the deployed plugins really send (the WordPress plugin's sync code, the official
//! integration cores and their harness, the Drupal module), byte for byte where it matters,
//! and what broke when they met the hub. Each test names the client it stands for.

use super::BACKEND;
use crate::common;

use common::{assert_refused, code, items, Tenant, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A token as WordPress makes them (`uniqid("", true)`): not a UUID.
const WP_TOKEN: &str = "65f1c2a3b4d5e6.12345678";

/// A request with the headers WordPress sends on every call, bodies given as exact text.
async fn wp(
    hub: &TestHub,
    method: Method,
    path_and_query: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let res = hub
        .client
        .request(method, format!("{}{}", hub.base, path_and_query))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.unwrap_or("").to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    (status, v)
}

/// The WordPress plugin's upload of a post comment and a reply, as PHP's `json_encode` writes
/// it: numeric strings, `Y-m-d H:i:s` GMT dates, escaped slashes and non-ASCII, and the
/// comment fields the hub once stored twice (`tenantId`, `hasImages`, `hasLinks`).
fn wp_batch(tenant_id: &str, first_id: Option<&str>, count_remaining: i64) -> String {
    let id = first_id
        .map(|i| format!("\"_id\":\"{i}\","))
        .unwrap_or_default();
    format!(
        concat!(
            r#"{{"countRemaining":{cr},"comments":[{{{id}"tenantId":"{t}","urlId":"12","url":"https:\/\/blog.example.com\/2024\/05\/hello-world\/","pageTitle":"Hello world!","userId":null,"commenterName":"A WordPress Commenter","commenterEmail":"wapuu@wordpress.example","comment":"Hi, this is a comment.","externalParentId":null,"date":"2024-05-01 12:00:00","votes":"0","votesUp":0,"votesDown":0,"verified":true,"verifiedDate":null,"verificationId":null,"notificationSentForParent":true,"notificationSentForParentTenant":true,"isSpam":false,"externalId":"1","avatarSrc":null,"hasImages":false,"hasLinks":false,"approved":true}},"#,
            r#"{{"tenantId":"{t}","urlId":"12","url":"https:\/\/blog.example.com\/2024\/05\/hello-world\/","pageTitle":"Hello world!","userId":null,"commenterName":"Zo\u00eb","commenterEmail":"","comment":"Thanks! <a href=\"https:\/\/example.com\">see<\/a>","externalParentId":"1","date":"2024-05-01 12:03:10","votes":"2","votesUp":"2","votesDown":0,"verified":false,"verifiedDate":null,"verificationId":null,"notificationSentForParent":true,"notificationSentForParentTenant":true,"isSpam":false,"externalId":"2","avatarSrc":null,"hasImages":false,"hasLinks":true,"approved":false}}]}}"#
        ),
        cr = count_remaining,
        id = id,
        t = tenant_id
    )
}

/// Registers WP_TOKEN the WordPress way and acknowledges it.
async fn wp_connected(hub: &TestHub, t: &Tenant) {
    let put = format!(
        "/integrations/v1/token?token={WP_TOKEN}&integrationType=wordpress&domain=https://blog.example.com"
    );
    let (s, v) = wp(hub, Method::PUT, &put, None).await;
    assert_eq!(
        (s, &v["isTokenValidated"]),
        (StatusCode::OK, &json!(false)),
        "{v}"
    );
    let (s, v) = hub.api(&t.key).acknowledge(WP_TOKEN, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Issue 10 §1: a WordPress upload used to store `hasImages` & co. twice in the document, and
/// every read of those comments then answered 500. Every read path must work, with the values
/// the plugin sent.
#[tokio::test]
async fn a_wordpress_upload_is_readable_on_every_path() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    wp_connected(&hub, &t).await;
    let upload = format!("/integrations/v1/comments?token={WP_TOKEN}");
    let (s, v) = wp(&hub, Method::POST, &upload, Some(&wp_batch(t.id.as_str(), None, 0))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let first = v["commentIds"]["1"].as_str().unwrap().to_owned();
    let reply = v["commentIds"]["2"].as_str().unwrap().to_owned();

    // The tenant API.
    let (s, v) = hub.api(&t.key).comments("urlId=12").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let listed = v["comments"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let by_ext = |ext: &str| {
        listed
            .iter()
            .find(|c| c["externalId"] == ext)
            .unwrap()
            .clone()
    };
    let a = by_ext("1");
    let b = by_ext("2");
    assert_eq!(a["tenantId"], t.id.as_str());
    // Epoch ms, as the official SDKs read it (docs/protocol.md §10).
    assert_eq!(a["date"], common::iso_ms("2024-05-01T12:00:00.000Z"));
    assert_eq!(
        (&a["hasImages"], &a["hasLinks"]),
        (&json!(false), &json!(false))
    );
    assert_eq!(
        a["notificationSentForParent"], true,
        "unknown fields are kept"
    );
    assert_eq!(b["commenterName"], "Zoë");
    assert_eq!(
        b["comment"],
        "Thanks! <a href=\"https://example.com\">see</a>"
    );
    assert_eq!((&b["votes"], &b["votesUp"]), (&json!(2), &json!(2)));
    assert_eq!(
        (&b["hasLinks"], &b["approved"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(b["parentId"], first.as_str());
    for c in listed {
        let text = c.to_string();
        assert_eq!(text.matches("\"hasImages\"").count(), 1, "{text}");
    }

    // The download ("sync to WordPress"), first page with the count.
    let (s, v) = wp(
        &hub,
        Method::GET,
        &format!("/integrations/v1/comments?token={WP_TOKEN}&includeCount=true"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["totalCount"], 2);
    assert_eq!(v["comments"].as_array().unwrap().len(), 2);

    // Votes and replies on the uploaded comments.
    let (s, v) = hub
        .api(&t.key)
        .vote(&reply, json!({"direction": 1, "userId": "u1"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = hub.api(&t.key).create_comment(json!({"urlId": "12", "commenterName": "Admin", "comment": "Welcome", "parentId": first})).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // The "re-sync" button: everything again, now with `_id`, not the last batch, twice.
    for _ in 0..2 {
        let (s, v) = wp(
            &hub,
            Method::POST,
            &upload,
            Some(&wp_batch(t.id.as_str(), Some(&first), 142)),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["commentIds"]["1"], first.as_str());
    }
    let (s, v) = hub.api(&t.key).comments("urlId=12").await;
    assert_eq!(
        (s, v["comments"].as_array().unwrap().len()),
        (StatusCode::OK, 3)
    );
    let b = items(&v["comments"])
        .find(|c| c["externalId"] == "2")
        .unwrap();
    assert_eq!(
        b["votesUp"], 3,
        "the hub keeps the counts after the site's history"
    );
}

/// Issue 10 §2: the official harness acknowledges a token right after creating it, before the
/// plugin's first `PUT`; the plugin's first `PUT` then answers validated with the tenant.
#[tokio::test]
async fn a_token_acknowledged_before_the_plugins_first_put_is_validated_on_it() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Harness").await;
    let token = "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed";
    let (s, v) = hub.api(&t.key).acknowledge(token, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["integration"]["state"], "validated");
    // Malformed tokens are still refused.
    let (s, v) = hub
        .call(
            Method::POST,
            "/api/v1/integrations/bad!/acknowledge",
            Some(&t.key),
            None,
        )
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-token"), "");

    // The JS core's PUT, with the Content-Type it always sends.
    let res = hub
        .client
        .put(format!(
            "{}/integrations/v1/token?token={token}&integrationType=test&domain=my-awesome-site.com",
            hub.base
        ))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["isTokenValidated"], true);
    assert_eq!(v["tenantId"], t.id.as_str());
    // The plugin's first call told the hub what it is.
    let (_, v) = hub.api(&t.key).integrations().await;
    assert_eq!(v["integrations"][0]["integrationType"], "test");
    assert_eq!(v["integrations"][0]["domain"], "my-awesome-site.com");
    // Another tenant cannot take it over.
    let other = hub.tenant("Other").await;
    let (s, _) = hub.api(&other.key).acknowledge(token, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Issue 10 §2: the WordPress plugin links admins to `/confirm?token=…&hasAccount=…`.
#[tokio::test]
async fn the_confirm_link_serves_the_setup_page() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    for has_account in ["true", "false"] {
        let res = hub
            .client
            .get(format!(
                "{}/auth/my-account/integrations/v1/confirm?token={WP_TOKEN}&hasAccount={has_account}",
                hub.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html")));
        assert!(res.text().await.unwrap().contains(WP_TOKEN));
    }
    let res = hub
        .client
        .post(format!(
            "{}/auth/my-account/integrations/v1/confirm?token={WP_TOKEN}&hasAccount=true",
            hub.base
        ))
        .form(&[("token", WP_TOKEN), ("apiKey", t.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, v) = wp(
        &hub,
        Method::PUT,
        &format!("/integrations/v1/token?token={WP_TOKEN}&integrationType=wordpress&domain=https://blog.example.com"),
        None,
    )
    .await;
    assert_eq!(v["isTokenValidated"], true, "{v}");
}

/// Issue 10 §2: the harness's `create-testing-events`, for the token's own tenant only.
#[tokio::test]
async fn testing_events_are_made_for_the_tokens_own_tenant_only() {
    let hub = TestHub::start(BACKEND).await;
    let token = "5f0c8a1b2c3d4";
    let t = hub.connected_tenant("Harness", token, true).await;
    let other = hub.tenant("Other").await;
    let path = format!("/auth/my-account/integrations/v1/create-testing-events?token={token}");
    let (s, v) = hub.call(Method::GET, &path, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = hub.call(Method::GET, &path, Some(&other.key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let res = hub
        .client
        .get(format!("{}{path}", hub.base))
        .bearer_auth("not-the-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The tenant's own key, in the query form too.
    let (s, v) = hub
        .call(
            Method::GET,
            &format!("{path}&tenantId={}&API_KEY={}", t.id, t.key),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let deleted = v["deleted"].as_str().unwrap().to_owned();
    let res = hub
        .client
        .post(format!("{}{path}", hub.base))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // What the harness's client sees: its local store ends with more than 3 comments after
    // its 2 uploaded ones, so the events must add at least 2 comments net.
    let (s, v) = wp(
        &hub,
        Method::GET,
        &format!("/integrations/v1/events?token={token}&fromDateTime=0"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut live = std::collections::BTreeSet::new();
    let mut kinds = Vec::new();
    for e in v["events"].as_array().unwrap() {
        let data: Value = serde_json::from_str(e["data"].as_str().unwrap()).unwrap();
        let id = data["comment"]["_id"].as_str().unwrap().to_owned();
        kinds.push(data["type"].as_str().unwrap().to_owned());
        match data["type"].as_str().unwrap() {
            "new-comment" => {
                live.insert(id);
            }
            "deleted-comment" => {
                live.remove(&id);
            }
            _ => {}
        }
    }
    assert_eq!(live.len(), 4, "two calls, two comments net each: {kinds:?}");
    assert!(!live.contains(&deleted));
    for k in [
        "new-comment",
        "updated-comment",
        "deleted-comment",
        "new-vote",
        "deleted-vote",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing in {kinds:?}");
    }
    // The other tenant got nothing.
    let (_, v) = hub
        .api(&other.key)
        .comments("urlId=fastcomments-integration-test")
        .await;
    assert_eq!(v["comments"], json!([]));
}

/// Issue 10 §3: `meta` set through the API travels with the comment, so the WordPress plugin
/// can tell its own comments (`meta.wpPostId`) from others, which it skips.
#[tokio::test]
async fn meta_from_the_api_reaches_events_and_downloads() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    wp_connected(&hub, &t).await;
    wp(
        &hub,
        Method::POST,
        &format!("/integrations/v1/comments?token={WP_TOKEN}"),
        Some(r#"{"countRemaining":0,"comments":[]}"#),
    )
    .await;
    let (s, v) = hub
        .api(&t.key)
        .create_comment(
            json!({"urlId": "12", "commenterName": "Reader", "comment": "From the widget",
                        "meta": {"wpPostId": 12, "wpUserId": 0}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let with_meta = v["comment"]["_id"].as_str().unwrap().to_owned();
    let (s, v) = hub
        .api(&t.key)
        .create_comment(
            json!({"urlId": "elsewhere", "commenterName": "Bot", "comment": "Not from WordPress"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // PATCH sets meta keys (the tenant API shows WordPress' two ids as text, as the official
    // SDKs read them; events and downloads below keep what was sent).
    let (s, v) = hub
        .api(&t.key)
        .update_comment(&with_meta, json!({"meta": {"wpPostId": 12, "wpUserId": 3}}))
        .await;
    assert_eq!(
        (s, &v["comment"]["meta"]["wpUserId"]),
        (StatusCode::OK, &json!("3")),
        "{v}"
    );
    // Not an object, or too big: refused with a reason.
    for bad in [json!("x"), json!({"big": "y".repeat(20_000)})] {
        let (s, v) = hub
            .api(&t.key)
            .create_comment(
                json!({"urlId": "12", "commenterName": "R", "comment": "c", "meta": bad}),
            )
            .await;
        assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
    }

    // What the plugin does with the events: apply those with meta.wpPostId, skip the others.
    let (s, v) = wp(
        &hub,
        Method::GET,
        &format!("/integrations/v1/events?token={WP_TOKEN}&fromDateTime=0"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut applied = Vec::new();
    let mut skipped = Vec::new();
    for e in v["events"].as_array().unwrap() {
        let data: Value = serde_json::from_str(e["data"].as_str().unwrap()).unwrap();
        let c = &data["comment"];
        match c["meta"]["wpPostId"].as_i64() {
            Some(post) => applied.push((
                data["type"].as_str().unwrap().to_owned(),
                post,
                c["meta"]["wpUserId"].clone(),
            )),
            None => skipped.push(c["comment"].as_str().unwrap().to_owned()),
        }
    }
    assert_eq!(
        applied,
        vec![
            ("new-comment".to_owned(), 12, json!(0)),
            ("updated-comment".to_owned(), 12, json!(3))
        ]
    );
    assert_eq!(skipped, vec!["Not from WordPress"]);
    let (_, v) = wp(
        &hub,
        Method::GET,
        &format!("/integrations/v1/comments?token={WP_TOKEN}"),
        None,
    )
    .await;
    let downloaded = v["comments"].as_array().unwrap();
    assert!(downloaded
        .iter()
        .any(|c| c["_id"] == with_meta.as_str() && c["meta"]["wpPostId"] == 12));
}

/// Issue 10 §3: vote events carry the voted comment too (the official examples read
/// `comment._id`, the WordPress plugin `vote.commentId`), in both generations.
#[tokio::test]
async fn vote_events_carry_the_voted_comment() {
    let hub = TestHub::start(BACKEND).await;
    let token = "votes-token-0001";
    let t = hub.connected_tenant("Votes", token, true).await;
    let c = hub.comment(&t, "p", "vote on me").await;
    let id = c["_id"].as_str().unwrap();
    let (s, v) = hub
        .api(&t.key)
        .vote(id, json!({"direction": -1, "userId": "u"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let vote_id = v["vote"]["_id"].as_str().unwrap().to_owned();
    hub.api(&t.key).delete_vote(&vote_id).await;

    let (events, _, _) = hub.drain_stream(token, 0).await;
    let votes: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"].as_str().unwrap().ends_with("-vote"))
        .collect();
    assert_eq!(votes.len(), 2);
    for (e, down) in votes.iter().zip([1, 0]) {
        assert_eq!(e["vote"]["commentId"], id);
        assert_eq!(e["comment"]["_id"], id);
        assert_eq!(
            e["comment"]["votesDown"], down,
            "the comment as of the event"
        );
    }
    let (_, v) = hub
        .get(&format!(
            "/integrations/v1/events?token={token}&fromDateTime=0"
        ))
        .await;
    let datas: Vec<Value> = items(&v["events"])
        .map(|e| serde_json::from_str(e["data"].as_str().unwrap()).unwrap())
        .filter(|d: &Value| d["type"].as_str().unwrap().ends_with("-vote"))
        .collect();
    assert_eq!(datas.len(), 2);
    for d in datas {
        assert_eq!(
            (&d["vote"]["commentId"], &d["comment"]["_id"]),
            (&json!(id), &json!(id))
        );
    }
}

/// Issue 10 §3: the hosted API's query form of authentication (the Drupal module's).
#[tokio::test]
async fn the_tenant_api_accepts_the_query_form_of_the_key() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Drupal").await;
    let other = hub.tenant("Other").await;
    hub.comment(&t, "drupal-node-42", "hello").await;
    let list = |tenant: &str, key: &str| {
        format!("/api/v1/comments?urlId=drupal-node-42&API_KEY={key}&tenantId={tenant}")
    };
    let (s, v) = hub.get(&list(t.id.as_str(), &t.key)).await;
    assert_eq!(
        (s, v["comments"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1)),
        "{v}"
    );
    let (s, _) = hub
        .get(&format!(
            "/api/v1/comments?urlId=drupal-node-42&API_KEY={}",
            t.key
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    // A key of another tenant, or a tenant id that is not the key's owner: refused.
    let (s, _) = hub.get(&list(t.id.as_str(), &other.key)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = hub.get(&list(other.id.as_str(), &t.key)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = hub.get(&list(other.id.as_str(), &other.key)).await;
    assert_eq!((s, &v["comments"]), (StatusCode::OK, &json!([])));
    let (s, _) = hub.get(&list(t.id.as_str(), "not-a-key")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Issue 14 §3: an upload's `parentId` must be a comment of the uploader's tenant, as in the
/// comments API; another tenant's id is refused on both paths the same way.
#[tokio::test]
async fn a_parent_in_another_tenant_is_refused_on_both_paths() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Mine").await;
    let other = hub.tenant("Theirs").await;
    let foreign = hub.comment(&other, "p", "not yours").await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = "parent-token-0001";
    hub.connect(&t, token, false).await;
    let (s, v) = hub
        .upload(
            token,
            json!({"countRemaining": 0, "comments": [
                {"externalId": "e1", "urlId": "p", "comment": "reply", "parentId": foreign}
            ]}),
        )
        .await;
    let api = hub
        .api(&t.key)
        .create_comment(
            json!({"urlId": "p", "commenterName": "x", "comment": "reply", "parentId": foreign}),
        )
        .await;
    assert_refused(s, &v, (StatusCode::NOT_FOUND, "not-found"), "");
    assert_eq!((api.0, code(&api.1)), (s, code(&v)), "the same refusal");
    let (_, v) = hub.api(&t.key).comments("urlId=p").await;
    assert_eq!(v["comments"], json!([]), "nothing stored");
    // Its own comments are fine parents; `"0"` and `""` mean none.
    let own = hub.comment(&t, "p", "parent").await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = hub
        .upload(
            token,
            json!({"countRemaining": 0, "comments": [
                {"externalId": "e1", "urlId": "p", "comment": "reply", "parentId": own},
                {"externalId": "e2", "urlId": "p", "comment": "top", "parentId": "0"}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// The 2021 PHP core keeps its cursor in whole seconds (`strtotime` of the last event's
/// `createdAt`). A comment written later in the same second as one it already received must
/// still reach it: the hub holds back a second that is still open from seconds cursors.
#[tokio::test]
async fn a_seconds_cursor_never_skips_a_comment_written_later_in_the_same_second() {
    use std::collections::HashSet;
    let second = 1_764_000_000_000;
    let (hub, clock) = TestHub::with_manual_clock(
        BACKEND,
        common::admin_config(),
        second + 100,
    )
    .await;
    let t = hub.tenant("Phpcore").await;
    let token = "php-core-seconds-cursor-0001";
    hub.connect(&t, token, true).await;
    let mut cursor = second / 1000 - 1;
    let mut seen = HashSet::new();
    let mut poll = async |cursor: &mut i64| {
        let (s, v) = hub
            .get(&format!(
                "/integrations/v1/events?token={token}&fromDateTime={cursor}"
            ))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for e in v["events"].as_array().unwrap() {
            let data: Value = serde_json::from_str(e["data"].as_str().unwrap()).unwrap();
            if let Some(text) = data["comment"]["comment"].as_str() {
                seen.insert(text.to_owned());
            }
            let at = fastcomments_protocol::Millis::parse(e["createdAt"].as_str().unwrap())
                .unwrap()
                .0;
            // strtotime: whole seconds.
            *cursor = (*cursor).max(at / 1000);
        }
    };
    hub.comment(&t, "post/1", "early in the second").await;
    poll(&mut cursor).await;
    clock.advance(300);
    hub.comment(&t, "post/1", "later in the same second").await;
    poll(&mut cursor).await;
    // Time moves on; the plugin keeps polling.
    clock.advance(2_000);
    poll(&mut cursor).await;
    poll(&mut cursor).await;
    assert_eq!(
        seen,
        HashSet::from([
            "early in the second".to_owned(),
            "later in the same second".to_owned()
        ])
    );
}

/// The FastComments Zapier app (`FastComments/fastcomments-zapier`, `src/utils/hooks.ts`)
/// subscribes one event of one domain, `{url, event: "comment-created", domain, method}`,
/// keeps `webhook.id`, reads `payloads` of `GET /api/v1/webhooks/sample-payloads?event=…&limit=10`
/// (each must pass its `isWebhookComment` check: string `id`, `urlId`, `commenterName`,
/// `comment`, `date`, boolean `approved`, and a `domain` to filter on), and unsubscribes with
/// `DELETE /api/v1/webhooks/{id}`. Each answer is `status: "success"` under 400.
#[tokio::test]
async fn the_zapier_apps_subscribe_samples_and_unsubscribe_calls_work() {
    let hub = TestHub::configured(
        BACKEND,
        fastcomments_hub::HubConfig {
            webhook_allow_private_targets: true,
            ..common::admin_config()
        },
    )
    .await;
    let t = hub.tenant("Zap").await;
    let rx = common::receiver::Receiver::with(|_, _| (200, "ok".into())).await;
    let target = format!("{}/hooks/catch/1/abc", rx.url);
    let mut ids = Vec::new();
    for (event, domain) in [("comment-created", "*"), ("comment-deleted", "zap.example")] {
        let (s, v) = hub
            .api(&t.key)
            .subscribe(json!({"url": target, "event": event, "domain": domain, "method": "POST"}))
            .await;
        assert!(s.as_u16() < 400, "{s}: {v}");
        assert_eq!(v["status"], "success", "{v}");
        let w = &v["webhook"];
        assert_eq!(
            (w["event"].as_str(), w["domain"].as_str()),
            (Some(event), Some(domain)),
            "{v}"
        );
        assert_eq!(
            (w["method"].as_str(), w["enabled"].as_bool()),
            (Some("POST"), Some(true))
        );
        ids.push(w["id"].as_str().unwrap().to_owned());
    }
    let subs = hub.reads().subscriptions(&t.id).await.unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(
        subs[0].kinds,
        vec![fastcomments_protocol::WebhookEventKind::Create]
    );

    // A new comment reaches the created-subscription by POST, as a bare WebhookComment.
    let c = hub.comment_on(&t, "zap.example", "for zapier").await;
    let got = rx.wait_for(1, 10).await;
    assert_eq!(got[0].method, Method::POST);
    assert_eq!(got[0].path, "/hooks/catch/1/abc");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["id"], c["_id"]);

    for event in ["comment-created", "comment-updated", "comment-deleted"] {
        let (s, v) = hub
            .api(&t.key)
            .sample_payloads(&format!("event={event}&limit=10"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["status"], "success");
        let payloads = v["payloads"].as_array().unwrap();
        assert!(!payloads.is_empty() && payloads.len() <= 10, "{v}");
        for p in payloads {
            for field in ["id", "urlId", "commenterName", "comment", "date"] {
                assert!(p[field].is_string(), "{event}: {field} in {p}");
            }
            assert!(p["approved"].is_boolean(), "{p}");
        }
        // The tenant's own comments are the samples, newest first.
        assert_eq!(payloads[0]["id"], c["_id"], "{v}");
        assert_eq!(payloads[0]["domain"], "zap.example");
    }
    let (s, v) = hub.api(&t.key).sample_payloads("event=comment-moved").await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
    let (s, v) = hub.api(&t.key).sample_payloads("limit=lots").await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
    // Another tenant's subscription id: not found, and it stays.
    let other = hub.tenant("Elsewhere").await;
    let (s, _) = hub
        .call(
            Method::DELETE,
            &format!("/api/v1/webhooks/{}", ids[0]),
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        hub.running
            .hub
            .reads()
            .subscriptions(&t.id)
            .await
            .unwrap()
            .len(),
        2
    );

    for id in &ids {
        let (s, v) = hub.api(&t.key).unsubscribe(id).await;
        assert_eq!(
            (s, v["status"].as_str()),
            (StatusCode::OK, Some("success")),
            "{v}"
        );
    }
    assert!(hub.reads()
        .subscriptions(&t.id)
        .await
        .unwrap()
        .is_empty());
}
