//! Issue 14 §1: webhooks never reach the hub's own network unless the operator allows it, and a
//! tenant configures, tests and comments only for domains it owns (SPEC §2.2).

use super::BACKEND;
use crate::common;

use common::receiver::Receiver;
use common::{assert_refused, Tenant, TestHub};
use fastcomments_hub::HubConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// A hub as `fastcomments serve` runs it (private targets refused), with fast retries and a
/// short attempt timeout so an unrefused private address would fail quickly and visibly.
async fn guarded_hub() -> TestHub {
    TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_retry_base: Duration::from_millis(20),
            webhook_max_attempts: 2,
            webhook_timeout: Duration::from_millis(1500),
            ..common::admin_config()
        },
    )
    .await
}

const SECRET_PAGE: &str = "INTERNAL-ONLY-SECRET-PAGE";

async fn internal_service() -> Receiver {
    Receiver::with(|_, _| (200, SECRET_PAGE.into())).await
}

async fn deliveries(hub: &TestHub, t: &Tenant) -> Vec<Value> {
    let (_, v) = hub.api(&t.key).deliveries("").await;
    v["deliveries"].as_array().unwrap().clone()
}

/// Waits until every delivery of the tenant left the queue; returns them.
async fn settled(hub: &TestHub, t: &Tenant, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let list = deliveries(hub, t).await;
        if list.len() >= n
            && list
                .iter()
                .all(|d| d["status"] != "queued" && d["status"] != "retrying")
        {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deliveries never settled: {:?}", deliveries(hub, t).await);
}

#[tokio::test]
async fn the_reported_request_reaches_nothing_and_leaks_nothing() {
    let hub = guarded_hub().await;
    let internal = internal_service().await;
    let evil = hub.tenant_owning("Evil", &["evil.example.com"]).await;
    let url = format!("{}/internal-admin", internal.url);
    // Exactly the request of the issue: another tenant's (or nobody's) domain.
    let (s, v) = hub
        .api(&evil.key)
        .send_test(json!({"kind": "create", "domain": "localhost", "url": url}))
        .await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "domain-not-owned"), "");
    assert!(!v.to_string().contains(SECRET_PAGE), "{v}");
    // Its own domain, and no domain at all: the attempt is refused before any connection.
    for body in [
        json!({"kind": "create", "domain": "evil.example.com", "url": url}),
        json!({"kind": "update", "url": url}),
        json!({"kind": "delete", "url": url.replace("127.0.0.1", "localhost")}),
    ] {
        let (s, v) = hub.api(&evil.key).send_test(body.clone()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["ok"], false, "{v}");
        assert!(
            v["attempt"]["error"]
                .as_str()
                .unwrap()
                .starts_with("target-refused"),
            "{body}: {v}"
        );
        assert_eq!(v["attempt"]["statusCode"], Value::Null, "{v}");
        assert_eq!(v["attempt"]["responseBody"], Value::Null, "{v}");
        assert!(!v.to_string().contains(SECRET_PAGE), "{v}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(internal.all().is_empty(), "the loopback service was called");
}

#[tokio::test]
async fn webhook_config_and_comments_only_for_owned_domains() {
    let hub = guarded_hub().await;
    let evil = hub.tenant_owning("Evil", &["evil.example.com"]).await;
    let victim = hub.tenant_owning("Victim", &["victim.example"]).await;
    for domain in [
        "localhost",
        "victim.example",
        "example.com",
        "com",
        "evil.example.co",
    ] {
        let (s, v) = hub
            .api(&evil.key)
            .put_webhook_config(
                json!({"domain": domain, "create": {"url": "https://hooks.example.net/x"}}),
            )
            .await;
        assert_refused(s, &v, (StatusCode::FORBIDDEN, "domain-not-owned"), format_args!("{domain}"));
        let (s, v) = hub
            .api(&evil.key)
            .create_comment(
                json!({"urlId": "p", "commenterName": "x", "comment": "hi", "domain": domain}),
            )
            .await;
        assert_refused(s, &v, (StatusCode::FORBIDDEN, "domain-not-owned"), format_args!("{domain}"));
    }
    // Owned: the domain itself, a subdomain of it, `*`; a comment without a domain.
    for domain in ["evil.example.com", "blog.evil.example.com", "*"] {
        let (s, v) = hub
            .api(&evil.key)
            .put_webhook_config(
                json!({"domain": domain, "create": {"url": "https://hooks.example.net/x"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{domain}: {v}");
    }
    for domain in [
        json!("evil.example.com"),
        json!("https://Blog.Evil.Example.com/post"),
        Value::Null,
    ] {
        let (s, v) = hub
            .api(&evil.key)
            .create_comment(
                json!({"urlId": "p", "commenterName": "x", "comment": "hi", "domain": domain}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{domain}: {v}");
    }
    // The victim's own configuration is untouched by any of that.
    let (_, v) = hub.api(&victim.key).webhook_config("").await;
    assert_eq!(v["configs"], json!([]), "{v}");
}

#[tokio::test]
async fn an_owners_private_targets_are_refused_and_logged() {
    let hub = guarded_hub().await;
    let rx = internal_service().await;
    // Owning `localhost` opens nothing either.
    let t = hub
        .tenant_owning("Local", &["localhost", "blog.example"])
        .await;
    let port = rx.url.rsplit(':').next().unwrap().to_owned();
    // (target, the configuration's domain)
    let targets = [
        (rx.url.clone(), "localhost"),
        (format!("http://localhost:{port}/by-name"), "localhost"),
        ("http://10.0.0.1:9/internal".to_owned(), "localhost"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "localhost",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/mapped"),
            "blog.example",
        ),
        (format!("http://2130706433:{port}/decimal"), "blog.example"),
    ];
    for (i, (target, domain)) in targets.iter().enumerate() {
        let (s, v) = hub
            .api(&t.key)
            .put_webhook_config(json!({"domain": domain, "create": {"url": target}}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = hub.api(&t.key).create_comment(json!({"urlId": format!("p{i}"), "commenterName": "x", "comment": "hi", "domain": domain})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let list = settled(&hub, &t, targets.len()).await;
    assert_eq!(list.len(), targets.len());
    for d in &list {
        assert_eq!(d["status"], "failed", "{d}");
        assert!(
            d["lastError"]
                .as_str()
                .unwrap()
                .starts_with("target-refused"),
            "{d}"
        );
        let (_, v) = hub.api(&t.key).delivery(d["id"].as_str().unwrap()).await;
        let attempts = v["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "a refused target is not retried: {v}");
        assert_eq!(attempts[0]["statusCode"], Value::Null);
        assert_eq!(attempts[0]["responseBody"], Value::Null);
    }
    assert!(rx.all().is_empty(), "the loopback receiver was called");
}

#[tokio::test]
async fn with_the_operator_setting_redirects_are_still_not_followed() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_retry_base: Duration::from_secs(60),
            webhook_allow_private_targets: true,
            ..common::admin_config()
        },
    )
    .await;
    let second = internal_service().await;
    let location = format!("{}/after-redirect", second.url);
    let first = Receiver::with_headers(move |_, _| {
        (
            302,
            vec![("location".to_owned(), location.clone())],
            String::new(),
        )
    })
    .await;
    let t = hub.tenant_owning("Acme", &["acme.example"]).await;
    let v = hub.api(&t.key).send_test_to(&first.url).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["attempt"]["statusCode"], 302, "{v}");
    let (s, v) = hub
        .api(&t.key)
        .put_webhook_config(json!({"domain": "acme.example", "create": {"url": first.url}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    hub.comment_on(&t, "acme.example", "redirected?").await;
    first.wait_for(2, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(second.all().is_empty(), "a redirect was followed");
    let list = deliveries(&hub, &t).await;
    assert_eq!(list[0]["status"], "retrying", "{list:?}");
    assert_eq!(list[0]["lastError"], "http-302", "{list:?}");
}

/// Issue 20 §7: a name that resolves only to private addresses and a name that does not
/// resolve at all are refused in the same words, so a tenant cannot map the hub's internal
/// names by reading attempt logs.
#[tokio::test]
async fn a_refused_name_says_the_same_whatever_it_resolved_to() {
    let hub = guarded_hub().await;
    let t = hub.tenant_owning("Mapper", &["mapper.example.com"]).await;
    let mut errors = Vec::new();
    for host in ["localhost", "no-such-name.invalid"] {
        let v = hub
            .api(&t.key)
            .send_test_to(&format!("http://{host}:9/hook"))
            .await;
        let error = v["attempt"]["error"].as_str().unwrap().to_owned();
        errors.push(error.replace(host, "HOST"));
    }
    assert_eq!(errors[0], errors[1], "{errors:?}");
    assert!(errors[0].starts_with("target-refused"), "{errors:?}");
}
