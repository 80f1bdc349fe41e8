//! The tenant API, the operator API and the operational endpoints over real HTTP.

use super::BACKEND;
use crate::common;

use common::{assert_refused, code, items, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn operator_api_guards_tenant_creation() {
    let hub = TestHub::start(BACKEND).await;
    let url = format!("{}/admin/v1/tenants", hub.base);
    let bad_domain = json!({"name": "x", "domains": ["not a domain"]});
    for (token, body, refused) in [
        (None, json!({"name": "x"}), StatusCode::UNAUTHORIZED),
        (Some("wrong"), json!({"name": "x"}), StatusCode::UNAUTHORIZED),
        (Some("admin-secret"), json!({"name": ""}), StatusCode::BAD_REQUEST),
        (Some("admin-secret"), bad_domain, StatusCode::BAD_REQUEST),
    ] {
        let mut req = hub.client.post(&url).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), refused, "{token:?} {body}");
    }
    let t = hub.tenant("Acme").await;
    assert!(t.id.as_str().starts_with("t-"));
    assert_eq!(t.key.len(), 64);

    let off = TestHub::configured(
        BACKEND,
        Default::default(),
    )
    .await;
    let res = off
        .client
        .post(format!("{}/admin/v1/tenants", off.base))
        .bearer_auth("anything")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn comments_crud_threads_and_votes() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    let root = hub
        .comment(
            &t,
            "thread-1",
            "first <b>bold</b>\nline two https://example.com/a",
        )
        .await;
    assert_eq!(
        root["commentHTML"],
        "first &lt;b&gt;bold&lt;/b&gt;<br>line two https://example.com/a"
    );
    assert_eq!(root["hasLinks"], true);
    assert_eq!(root["approved"], true);
    let id = root["_id"].as_str().unwrap();
    let (s, reply) = hub.api(&t.key).create_comment(json!({"urlId": "thread-1", "commenterName": "Боб", "comment": "reply", "parentId": id, "userId": 7})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(reply["comment"]["parentId"], id);
    assert_eq!(reply["comment"]["userId"], "7");
    let (s, v) = hub.api(&t.key).create_comment(json!({"urlId": "thread-1", "commenterName": "x", "comment": "orphan", "parentId": "nope"})).await;
    assert_refused(s, &v, (StatusCode::NOT_FOUND, "not-found"), "");

    let (_, v) = hub.api(&t.key).comments("urlId=thread-1").await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 2);
    // Without a thread: the whole tenant, newest first (issue 20 §6; it was a 400).
    let (s, v) = hub.api(&t.key).comments("").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["comments"].as_array().unwrap().len() >= 2, "{v}");

    let (s, v) = hub
        .api(&t.key)
        .update_comment(id, json!({"approved": false, "reviewed": "true"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            v["comment"]["approved"].clone(),
            v["comment"]["reviewed"].clone()
        ),
        (json!(false), json!(true))
    );
    let (s, v) = hub.api(&t.key).update_comment(id, json!({})).await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
    let (s, v) = hub
        .api(&t.key)
        .update_comment(id, json!({"approvd": true}))
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "unknown fields are refused");

    // Votes: up from two users, one changes its mind, one is removed.
    let vote = |dir: i64, user: &str| {
        let hub = &hub;
        let key = t.key.clone();
        let user = user.to_owned();
        async move {
            hub.api(&key)
                .vote(id, json!({"direction": dir, "userId": user}))
                .await
        }
    };
    let (_, v1) = vote(1, "u1").await;
    let (_, _) = vote(1, "u2").await;
    let (_, again) = vote(1, "u2").await;
    let (_, flipped) = vote(-1, "u2").await;
    assert_ne!(again["vote"]["_id"], flipped["vote"]["_id"]);
    let (s, v) = vote(2, "u3").await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
    // The root comment's (votes, votesUp, votesDown) as the thread lists it.
    let counts = || async {
        let (_, v) = hub.api(&t.key).comments("urlId=thread-1").await;
        let comments = v["comments"].as_array().unwrap();
        let c = comments.iter().find(|c| c["_id"] == id).unwrap();
        (c["votes"].clone(), c["votesUp"].clone(), c["votesDown"].clone())
    };
    assert_eq!(counts().await, (json!(0), json!(1), json!(1)));
    let vid = v1["vote"]["_id"].as_str().unwrap();
    let (s, _) = hub.api(&t.key).delete_vote(vid).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = hub.api(&t.key).delete_vote(vid).await;
    assert_refused(s, &v, (StatusCode::NOT_FOUND, "not-found"), "");
    assert_eq!(counts().await, (json!(-1), json!(0), json!(1)));

    let (s, v) = hub.api(&t.key).delete_comment(id).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["comment"]["votesDown"], 1,
        "delete answers with the comment as it was"
    );
    // What the official SDK reads of a deletion (its DeleteCommentResult requires `action`).
    assert_eq!(v["action"], "hard-removed", "{v}");
    let (s, _) = hub.api(&t.key).delete_comment(id).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The official SDK sends `?tenantId=` beside the `x-api-key` header on every call: the
/// tenant it names must be the key's, as with the query form of the key.
#[tokio::test]
async fn a_tenant_id_beside_the_header_key_must_be_the_keys_tenant() {
    let hub = TestHub::start(BACKEND).await;
    let a = hub.tenant("Alpha").await;
    let b = hub.tenant("Beta").await;
    let own = format!("/api/v1/comments?tenantId={}", a.id);
    let (s, v) = hub.call(Method::GET, &own, Some(&a.key), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let other = format!("/api/v1/comments?tenantId={}", b.id);
    let (s, v) = hub.call(Method::GET, &other, Some(&a.key), None).await;
    assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "unauthorized"), "");
    let (s, v) = hub
        .call(
            Method::POST,
            &other,
            Some(&a.key),
            Some(json!({"urlId": "t", "commenterName": "x", "comment": "y"})),
        )
        .await;
    assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "unauthorized"), "");
    // Each refusal is a failed credential check: a flood of them from one address is
    // throttled like any other (429 before the key is even read).
    let mut limited = None;
    for _ in 0..100 {
        let (s, v) = hub.call(Method::GET, &other, Some(&a.key), None).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(v);
            break;
        }
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    }
    let limited = limited.expect("a flood of mismatched tenantIds was throttled");
    assert_eq!(code(&limited), "rate-limited", "{limited}");
}

#[tokio::test]
async fn bad_requests_get_json_errors_not_500s() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    let (s, v) = hub
        .call(Method::GET, "/api/v1/comments?urlId=x", None, None)
        .await;
    assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "unauthorized"), "");
    let (s, v) = hub.api("not-a-key").comments("urlId=x").await;
    assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "unauthorized"), "");
    for body in [
        json!({}),
        json!({"urlId": "x", "commenterName": "n"}),
        json!({"urlId": "", "commenterName": "n", "comment": "c"}),
        json!({"urlId": "x", "commenterName": "n", "comment": "x".repeat(70_000)}),
        json!({"urlId": "x", "commenterName": "n", "comment": "c", "extra": 1}),
        json!("string"),
    ] {
        let (s, v) = hub.api(&t.key).create_comment(body.clone()).await;
        assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), format_args!("{body}"));
    }
    let res = hub
        .client
        .post(format!("{}/api/v1/comments", hub.base))
        .header("x-api-key", &t.key)
        .body(vec![b'{'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (s, v) = hub.get("/no/such/route").await;
    assert_refused(s, &v, (StatusCode::NOT_FOUND, "not-found"), "");
    let (s, v) = hub
        .call(Method::DELETE, "/integrations/v1/stream", None, None)
        .await;
    assert_refused(s, &v, (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"), "");
    let (s, v) = hub
        .get("/integrations/v1/stream?token=abcdefgh123&lastFetchDate=-3")
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
    let (s, v) = hub.get("/integrations/v1/stream").await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-token"), "");
    let (s, v) = hub
        .get("/integrations/v1/comments?token=abcdefgh123&skip=lots")
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
}

#[tokio::test]
async fn api_secrets_are_listed_created_and_revoked() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    let (_, v) = hub.api(&t.key).secrets().await;
    assert_eq!(v["apiSecrets"].as_array().unwrap().len(), 1);
    assert_eq!(v["apiSecrets"][0]["domain"], "*");
    let (s, v) = hub
        .api(&t.key)
        .create_secret(json!({"domain": "blog.acme.example"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let new_key = v["apiSecret"]["secret"].as_str().unwrap().to_owned();
    let new_id = v["apiSecret"]["id"].as_str().unwrap().to_owned();
    // A domain the tenant does not own is refused, as on the admin page (SPEC §2.2), and
    // nothing is stored.
    for foreign in ["other.example", "localhost", "notacme.example"] {
        let (s, v) = hub
            .api(&t.key)
            .create_secret(json!({"domain": foreign}))
            .await;
        assert_refused(s, &v, (StatusCode::FORBIDDEN, "domain-not-owned"), format_args!("{foreign}"));
    }
    let (_, v) = hub.api(&t.key).secrets().await;
    assert_eq!(v["apiSecrets"].as_array().unwrap().len(), 2);
    // The new secret authenticates too (for what a domain's secret may read).
    let (s, _) = hub.api(&new_key).webhook_config("").await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = hub
        .api(&t.key)
        .create_secret(json!({"domain": "a b"}))
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
    let (s, _) = hub.api(&t.key).delete_secret(&new_id).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = hub.api(&new_key).secrets().await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a revoked secret stops working at once"
    );
    let other = hub.tenant("Other").await;
    let (_, v) = hub.api(&other.key).secrets().await;
    let other_id = v["apiSecrets"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = hub.api(&t.key).delete_secret(&other_id).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let hub = TestHub::start(BACKEND).await;
    let (s, v) = hub.get("/healthz").await;
    assert_eq!((s, v), (StatusCode::OK, json!({"status": "success"})));
    let text = hub.get_text("/metrics").await;
    assert!(
        text.contains("# TYPE fastcomments_polls counter")
            && text.contains("\nfastcomments_polls_total "),
        "{text}"
    );
    assert!(text.contains("fastcomments_http_responses_total{class=\"2xx\"}"));
    let (s, doc) = hub.get("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/integrations/v1/token/{token}", "put"),
        ("/integrations/v1/stream", "get"),
        ("/integrations/v1/commands", "get"),
        ("/integrations/v1/events", "get"),
        ("/integrations/v1/comments", "post"),
        ("/integrations/v1/comments", "get"),
        ("/integrations/v1/comment-ids", "patch"),
        ("/integrations/v1/api-secret", "get"),
        ("/admin/v1/tenants", "post"),
        ("/api/v1/comments/{id}/votes", "post"),
        ("/api/v1/integrations/{token}/acknowledge", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
}

#[tokio::test]
async fn setup_page_acknowledges_a_token() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Acme").await;
    let token = "page-token-123456";
    hub.register_token(token).await;
    let page = hub
        .get_text(&format!(
            "/auth/my-account/integrations/v1/setup?token={token}"
        ))
        .await;
    assert!(page.contains(&format!("value=\"{token}\"")), "{page}");
    let setup = format!("{}/auth/my-account/integrations/v1/setup", hub.base);
    let submit = |form: &[(&str, &str)]| hub.client.post(&setup).form(form).send();
    let res = submit(&[("token", token), ("apiKey", "wrong")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let key = t.key.as_str();
    let res = submit(&[("token", token), ("apiKey", key), ("skipInitialSync", "true")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("connected"));
    let (_, v): (_, Value) = hub.register_token(token).await;
    assert_eq!(v["isTokenValidated"], true);
    let (_, v) = hub
        .get(&format!("/integrations/v1/stream?token={token}"))
        .await;
    assert_eq!(
        v["commands"][0]["command"], "SetSetupCompleted",
        "skip chosen on the page: {v}"
    );
}

#[tokio::test]
async fn concurrent_writes_share_commits_and_a_failing_one_fails_alone() {
    let hub = std::sync::Arc::new(TestHub::start(BACKEND).await);
    let t = std::sync::Arc::new(hub.tenant("Acme").await);
    hub.connect(&t, "concurrent-reader", true).await;
    let mut tasks = Vec::new();
    for i in 0..80 {
        let (hub, t) = (hub.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let parent = if i % 10 == 0 { Some("missing-parent") } else { None };
            hub.api(&t.key).create_comment(json!({"urlId": "busy", "commenterName": "n", "comment": format!("c{i}"), "parentId": parent})).await
        }));
    }
    let mut created = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (s, v) = task.await.unwrap();
        if i % 10 == 0 {
            assert_refused(s, &v, (StatusCode::NOT_FOUND, "not-found"), "");
        } else {
            assert_eq!(s, StatusCode::OK, "{v}");
            created.push(v["comment"]["_id"].as_str().unwrap().to_owned());
        }
    }
    let (_, v) = hub.api(&t.key).comments("urlId=busy").await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 72);
    let (events, _, _) = hub.drain_stream("concurrent-reader", 0).await;
    let mut streamed: Vec<String> = events
        .iter()
        .map(|e| e["comment"]["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        streamed.len(),
        72,
        "one event per stored comment, none for the refused ones"
    );
    streamed.sort();
    created.sort();
    assert_eq!(streamed, created);
}

/// Issue 14 §4: a domain belongs to one tenant; creating a second tenant for it is a conflict
/// naming the owner, not a silent second tenant.
#[tokio::test]
async fn a_domain_belongs_to_one_tenant() {
    let hub = TestHub::start(BACKEND).await;
    let create = |domains: Value| hub.create_tenant(json!({"name": "My blog", "domains": domains}));
    let (s, first) = create(json!(["blog.example.com"])).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let owner = first["tenantId"].as_str().unwrap();
    for again in [
        json!(["blog.example.com"]),
        json!(["other.example", "https://Blog.Example.com/x"]),
    ] {
        let (s, v) = create(again).await;
        assert_refused(s, &v, (StatusCode::CONFLICT, "conflict"), "");
        assert!(v["reason"].as_str().unwrap().contains(owner), "{v}");
    }
    // Nothing half-made: other.example is still free.
    let (s, v) = create(json!(["other.example"])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = create(json!(["*"])).await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
}

/// Issue 14 §4: a comment change that matches none of the tenant's webhook configurations is
/// counted (and logged at debug), so "why did nothing fire?" has an answer.
#[tokio::test]
async fn a_change_that_matches_no_webhook_configuration_is_counted() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let unmatched = || async {
        let text = hub.get_text("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix("fastcomments_webhooks_unmatched_total "))
            .map(|v| v.trim().parse::<u64>().unwrap())
    };
    // No configuration at all: nothing to explain.
    hub.comment(&t, "p", "before any config").await;
    assert_eq!(unmatched().await, Some(0));
    let (s, v) = hub
        .api(&t.key)
        .put_webhook_config(
            json!({"domain": "blog.example", "create": {"url": "https://hooks.blog.example/in"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A comment without a domain matches no configuration (there is no `*` one).
    hub.comment(&t, "p", "no domain").await;
    assert_eq!(unmatched().await, Some(1));
}

/// Issue 20 §4: the secret made for `a.example` (what that domain's webhook receiver holds)
/// acts on `a.example` only. It cannot list, create or remove secrets, manage subscriptions,
/// or touch `b.example`'s comments, configuration, deliveries and integrations; the All Domains
/// secret keeps every right; secrets are listed masked and shown in clear only when made.
#[tokio::test]
async fn a_domain_secret_acts_on_its_domain_only() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub
        .tenant_owning("Scoped", &["a.example", "b.example"])
        .await;
    let (a_key, _) = hub.api(&t.key).create_secret_for("a.example").await;
    assert!(!a_key.contains('•'), "shown in clear when made");
    let b_comment = hub.comment_on(&t, "b.example", "B's").await;
    let b_id = b_comment["_id"].as_str().unwrap().to_owned();

    // Secrets and subscriptions: the All Domains secret only.
    for (method, path, body) in [
        (Method::GET, "/api/v1/api-secrets".to_owned(), None),
        (
            Method::POST,
            "/api/v1/api-secrets".to_owned(),
            Some(json!({"domain": "*"})),
        ),
        (
            Method::POST,
            "/api/v1/api-secrets".to_owned(),
            Some(json!({"domain": "a.example"})),
        ),
        (Method::GET, "/api/v1/webhooks".to_owned(), None),
        (
            Method::POST,
            "/api/v1/webhooks".to_owned(),
            Some(json!({"url": "https://hooks.example/x"})),
        ),
        (
            Method::POST,
            "/api/v1/webhook-deliveries/retry-failed".to_owned(),
            Some(json!({"since": 0})),
        ),
    ] {
        let (s, v) = hub.call(method.clone(), &path, Some(&a_key), body).await;
        assert_refused(s, &v, (StatusCode::FORBIDDEN, "all-domains-secret-required"), format_args!("{method} {path}"));
    }

    // Another domain's comments are not found; its domain is refused for writes.
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/api/v1/comments/{b_id}"),
            Some(json!({"comment": "taken over"})),
        ),
        (Method::DELETE, format!("/api/v1/comments/{b_id}"), None),
        (
            Method::POST,
            format!("/api/v1/comments/{b_id}/votes"),
            Some(json!({"direction": 1})),
        ),
    ] {
        let (s, v) = hub.call(method.clone(), &path, Some(&a_key), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {v}");
    }
    let target = json!({"url": "https://hooks.example/b"});
    for (path, body) in [
        (
            "/api/v1/comments",
            json!({"urlId": "p", "commenterName": "M", "comment": "x", "domain": "b.example"}),
        ),
        (
            "/api/v1/webhook-test",
            json!({"kind": "create", "domain": "b.example"}),
        ),
    ] {
        let (s, v) = hub.call(Method::POST, path, Some(&a_key), Some(body)).await;
        assert_refused(s, &v, (StatusCode::FORBIDDEN, "outside-secret-domain"), format_args!("{path}"));
    }
    for domain in ["b.example", "*"] {
        let (s, v) = hub
            .api(&a_key)
            .put_webhook_config(
                json!({"domain": domain, "create": target, "update": target, "delete": target}),
            )
            .await;
        assert_refused(s, &v, (StatusCode::FORBIDDEN, "outside-secret-domain"), format_args!("{domain}"));
    }
    // B's comment is untouched.
    let (_, v) = hub.api(&t.key).comments("urlId=post/1").await;
    assert_eq!(v["comments"][0]["comment"], "B's", "{v}");
    // Its own listing leaves B's comment out.
    let (s, v) = hub.api(&a_key).comments("urlId=post/1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["comments"].as_array().unwrap().len(), 0, "{v}");

    // On its own domain it works: a comment (its domain by default), a configuration.
    let (s, v) = hub
        .api(&a_key)
        .create_comment(json!({"urlId": "post/1", "commenterName": "A", "comment": "A's"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["comment"]["domain"], "a.example");
    let a_id = v["comment"]["_id"].as_str().unwrap().to_owned();
    let (s, v) = hub
        .api(&a_key)
        .update_comment(&a_id, json!({"comment": "edited"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = hub
        .api(&a_key)
        .put_webhook_config(
            json!({"domain": "a.example", "create": target, "update": target, "delete": target}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = hub.api(&a_key).webhook_config("").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        items(&v["configs"])
            .all(|c| c["domain"] == "a.example"),
        "{v}"
    );

    // The All Domains secret lists every secret, masked.
    let (s, v) = hub.api(&t.key).secrets().await;
    assert_eq!(s, StatusCode::OK);
    let listed = v["apiSecrets"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for secret in listed {
        let text = secret["secret"].as_str().unwrap();
        assert!(
            text.starts_with('•') && text != a_key && text != t.key,
            "{secret}"
        );
    }
}

/// Issue 20 §6: every comment list is paged with the hosted API's parameters (`page`, `limit`,
/// `skip`, `direction`, and `tenantId` beside the key as the SDKs send it); without `urlId` it
/// lists the whole tenant, newest first; bad values are a 400, another tenant's comments never
/// appear.
#[tokio::test]
async fn comment_lists_are_paged() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Paged").await;
    let other = hub.tenant("Elsewhere").await;
    hub.comment(&other, "thread", "not yours").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let c = hub.comment(&t, "thread", &format!("c{i}")).await;
        ids.push(c["_id"].as_str().unwrap().to_owned());
    }
    hub.comment(&t, "another-thread", "elsewhere").await;
    let list = |q: String| {
        let hub = &hub;
        let key = t.key.clone();
        async move {
            let (s, v) = hub.api(&key).comments(&q.to_string()).await;
            (s, v)
        }
    };
    let texts = |v: &Value| -> Vec<String> {
        items(&v["comments"])
            .map(|c| c["comment"].as_str().unwrap().to_owned())
            .collect()
    };
    let (s, v) = list(format!("urlId=thread&limit=3&tenantId={}", t.id)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(texts(&v), ["c0", "c1", "c2"]);
    let (_, v) = list("urlId=thread&limit=3&page=2".into()).await;
    assert_eq!(texts(&v), ["c6"]);
    let (_, v) = list("urlId=thread&limit=2&page=1&skip=1".into()).await;
    assert_eq!(texts(&v), ["c3", "c4"]);
    let (_, v) = list("urlId=thread&limit=2&direction=NF".into()).await;
    assert_eq!(texts(&v), ["c6", "c5"]);
    let (_, v) = list("limit=2".into()).await;
    assert_eq!(
        texts(&v),
        ["elsewhere", "c6"],
        "the whole tenant, newest first"
    );
    let (_, v) = list("limit=1000&direction=OF".into()).await;
    assert_eq!(
        v["comments"].as_array().unwrap().len(),
        8,
        "only this tenant's"
    );
    for bad in ["limit=-1", "page=x", "direction=sideways", "skip=-5"] {
        let (s, v) = list(bad.into()).await;
        assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), format_args!("{bad}"));
    }
    // An oversized limit is clamped, not refused.
    let (s, _) = list("urlId=thread&limit=100000000".into()).await;
    assert_eq!(s, StatusCode::OK);
}

/// Issue 20 §2/§4: a domain's secret cannot acknowledge (or grant `api-secret` to) a plugin
/// registered for another domain of its tenant; the All Domains secret can.
#[tokio::test]
async fn a_domain_secret_cannot_acknowledge_another_domains_plugin() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant_owning("Two", &["a.example", "b.example"]).await;
    let (_, v) = hub
        .api(&t.key)
        .create_secret(json!({"domain": "a.example"}))
        .await;
    let a_key = v["apiSecret"]["secret"].as_str().unwrap().to_owned();
    let (s, _) = hub
        .call(
            Method::PUT,
            "/integrations/v1/token?token=b-plugin-token-01&domain=b.example",
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = hub
        .api(&a_key)
        .acknowledge("b-plugin-token-01", Some(json!({"allowApiSecret": true})))
        .await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "outside-secret-domain"), "");
    let (s, v) = hub
        .get("/integrations/v1/api-secret?token=b-plugin-token-01")
        .await;
    assert_refused(s, &v, (StatusCode::UNAUTHORIZED, "token-not-validated"), "still pending");
    let (s, v) = hub
        .api(&t.key)
        .acknowledge("b-plugin-token-01", Some(json!({"allowApiSecret": true})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// What the official SDK's `save_comment` sends: always `locale` beside the four fields, and
/// any of the hosted API's other optional fields, some as `null`. All are accepted; the hub
/// keeps the locale and the avatar and dates, counts and moderates the comment itself. A field
/// the hosted API does not have is still refused.
#[tokio::test]
async fn a_comment_as_the_sdk_sends_it_is_accepted() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Alpha").await;
    let api = hub.api(&t.key);
    let smallest = json!({"commenterName": "n", "comment": "c", "url": "https://example.com/p", "urlId": "p", "locale": "en_us"});
    let (s, v) = api.create_comment(smallest).await;
    assert!(s.is_success(), "{v}");
    assert_eq!(v["comment"]["locale"], "en_us", "{v}");
    let full = json!({
        "commenterName": "n", "comment": "c", "url": "https://example.com/p", "urlId": "p",
        "locale": "de_de", "date": 1_700_000_000_000_i64, "localDateString": "x",
        "localDateHours": 3, "commenterEmail": null, "commenterLink": null, "userId": null,
        "avatarSrc": "https://example.com/a.png", "parentId": null, "productId": 1,
        "mentions": [], "hashTags": [{"tag": "x", "url": null}], "pageTitle": "P", "botId": "b",
        "ip": "127.0.0.1", "isFromMyAccountPage": false, "fromOfflineRestore": false,
        "tos": true, "approved": false, "isPinned": true, "reviewed": true, "verified": true,
        "meta": {"k": "v"}, "moderationGroupIds": [], "feedbackIds": [], "rating": 4.5,
        "autoplayDelayMS": 0, "questionValues": {}, "votes": 5, "votesDown": 1, "votesUp": 6
    });
    let (s, v) = api.create_comment(full).await;
    assert!(s.is_success(), "{v}");
    let c = &v["comment"];
    assert_eq!(
        (&c["locale"], &c["avatarSrc"], &c["pageTitle"], &c["meta"]["k"]),
        (&json!("de_de"), &json!("https://example.com/a.png"), &json!("P"), &json!("v")),
        "{v}"
    );
    // Dated, counted and moderated by the hub, not by what was sent.
    assert_eq!((&c["votes"], &c["approved"], &c["verified"]), (&json!(0), &json!(true), &json!(false)), "{v}");
    assert_ne!(c["date"], json!(1_700_000_000_000_i64));
    let (s, v) = api
        .create_comment(json!({"commenterName": "n", "comment": "c", "urlId": "p", "notAField": 1}))
        .await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
}
