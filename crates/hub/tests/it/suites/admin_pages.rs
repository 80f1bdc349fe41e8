//! The admin pages over plain HTTP (no browser): sessions and their cookie, CSRF, the sign-in
//! throttle, tenant isolation, escaping, and that each action reaches the store through the
//! same path as the API. `admin_browser.rs` drives the same pages in Chromium.

use super::BACKEND;
use crate::common;

use common::receiver::Receiver;
use common::{items, Tenant, TestHub};
use fastcomments_hub::records::{DeliveryStatus, TenantId};
use fastcomments_protocol::Millis;
use fastcomments_hub::HubConfig;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// A browser stand-in: keeps the session cookie, reads the CSRF token off pages (also used by
/// `import_page.rs`).
pub(super) struct Client {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) cookie: Option<String>,
    pub(super) csrf: String,
    forwarded_https: bool,
}

pub(super) struct Page {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) text: String,
}

impl Page {
    pub(super) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

impl Client {
    pub(super) fn new(hub: &TestHub) -> Client {
        Client {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: hub.base.clone(),
            cookie: None,
            csrf: String::new(),
            forwarded_https: false,
        }
    }

    fn keep(&mut self, headers: &HeaderMap, text: &str) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let value = pair.strip_prefix("fc_admin=").unwrap();
            self.cookie = (!value.is_empty()).then(|| value.to_owned());
        }
        if let Some(t) = csrf_of(text) {
            self.csrf = t;
        }
    }

    pub(super) async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req;
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("fc_admin={c}"));
        }
        if self.forwarded_https {
            req = req.header("x-forwarded-proto", "https");
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        self.keep(&headers, &text);
        Page {
            status,
            headers,
            text,
        }
    }

    pub(super) async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// Posts `fields` with the session's CSRF token.
    pub(super) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.clone())];
        all.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        self.post_raw(path, &all).await
    }

    async fn post_raw(&mut self, path: &str, fields: &[(&str, String)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(fields);
        self.send(req).await
    }

    async fn sign_in(&mut self, secret: &str) -> Page {
        let form = self.get("/admin/sign-in").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.text);
        self.post("/admin/sign-in", &[("secret", secret)]).await
    }
}

pub(super) async fn signed_in(hub: &TestHub, t: &Tenant) -> Client {
    let mut c = Client::new(hub);
    let res = c.sign_in(&t.key).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    c.get("/admin/integrations").await;
    c
}

/// The cookie is `HttpOnly; SameSite=Strict; Path=/admin`, `Secure` only over HTTPS; signing
/// in gives a new session id (the one from before is dead), and the secret is in no answer.
#[tokio::test]
async fn sign_in_rotates_a_strict_cookie_and_never_shows_the_secret() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let mut c = Client::new(&hub);
    let form = c.get("/admin/sign-in").await;
    let cookie = form.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        form.text.contains("<label for=\"secret\">"),
        "{}",
        form.text
    );
    let anonymous = c.cookie.clone().unwrap();

    let res = c
        .post("/admin/sign-in", &[("secret", t.key.as_str())])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/admin");
    let session = c.cookie.clone().unwrap();
    assert_ne!(session, anonymous, "a new id after sign-in");
    assert!(!res.location().contains(&t.key));
    let page = c.get("/admin/integrations").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains(&t.key), "the secret is never on a page");
    let secrets = c.get("/admin/secrets").await;
    assert!(!secrets.text.contains(&t.key), "masked: {}", secrets.text);
    assert!(secrets.text.contains(&t.key[t.key.len() - 4..]));

    // The session id from before sign-in is worth nothing now.
    c.cookie = Some(anonymous);
    let res = c.get("/admin/integrations").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/admin/sign-in");

    // Behind an HTTPS proxy the cookie is Secure.
    let mut behind_proxy = Client::new(&hub);
    behind_proxy.forwarded_https = true;
    let form = behind_proxy.get("/admin/sign-in").await;
    let cookie = form.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");

    // Sign-out ends the session for good.
    c.cookie = Some(session.clone());
    let out = c.post("/admin/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    c.cookie = Some(session);
    let res = c.get("/admin/comments").await;
    assert_eq!(res.location(), "/admin/sign-in");
}

/// A form posted without the session's CSRF token, or with another, is refused with 403
/// before anything happens; so is one from a browser without a session.
#[tokio::test]
async fn posts_without_the_csrf_token_are_refused() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let comment = hub.comment(&t, "post/1", "keep me").await;
    let id = comment["_id"].as_str().unwrap();
    let mut c = signed_in(&hub, &t).await;
    let path = format!("/admin/comments/{id}/delete");
    let missing = c.post_raw(&path, &[]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.text);
    assert!(missing.text.contains("Refused"));
    let wrong = c.post_raw(&path, &[("csrf", "0".repeat(64))]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let mut stranger = Client::new(&hub);
    stranger.csrf = c.csrf.clone();
    let no_session = stranger.post(&path, &[]).await;
    assert_eq!(no_session.status, StatusCode::FORBIDDEN);
    let stored = hub.reads().comment(&t.id, id).await.unwrap();
    assert!(stored.is_some(), "nothing was deleted");

    let ok = c.post(&path, &[]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let stored = hub.reads().comment(&t.id, id).await.unwrap();
    assert!(stored.is_none());
}

/// After three failed sign-ins an address waits 1 s, then 2 s, …, even with the right secret;
/// the wait over, the right secret works and clears the count.
#[tokio::test]
async fn failed_sign_ins_make_the_address_wait_longer_each_time() {
    let (hub, clock) = TestHub::with_manual_clock(
        BACKEND,
        common::admin_config(),
        1_700_000_000_000,
    )
    .await;
    let t = hub.tenant("Blog").await;
    let mut c = Client::new(&hub);
    c.get("/admin/sign-in").await;
    for _ in 0..3 {
        let res = c.post("/admin/sign-in", &[("secret", "wrong")]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.text.contains("id=\"secret-error\""), "{}", res.text);
        assert!(!res.text.contains("value=\"wrong\""), "never echoed");
    }
    let held = c
        .post("/admin/sign-in", &[("secret", t.key.as_str())])
        .await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(held.headers["retry-after"], "1");
    clock.advance(1000);
    let res = c.post("/admin/sign-in", &[("secret", "wrong")]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    clock.advance(1000);
    let held = c
        .post("/admin/sign-in", &[("secret", t.key.as_str())])
        .await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "now 2 s");
    assert_eq!(held.headers["retry-after"], "1");
    clock.advance(1000);
    let ok = c
        .post("/admin/sign-in", &[("secret", t.key.as_str())])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

/// Sessions end after 30 idle minutes, and when the secret they signed in with is deleted.
#[tokio::test]
async fn sessions_expire_and_end_with_their_secret() {
    let (hub, clock) = TestHub::with_manual_clock(
        BACKEND,
        common::admin_config(),
        1_700_000_000_000,
    )
    .await;
    let t = hub.tenant("Blog").await;
    let mut c = signed_in(&hub, &t).await;
    clock.advance(29 * 60 * 1000);
    assert_eq!(c.get("/admin/comments").await.status, StatusCode::OK);
    clock.advance(31 * 60 * 1000);
    let res = c.get("/admin/comments").await;
    assert_eq!(res.location(), "/admin/sign-in", "idle too long");

    // A page's background polling is not use: it does not keep the session alive.
    let mut c = signed_in(&hub, &t).await;
    clock.advance(29 * 60 * 1000);
    let poll = c.get("/admin/deliveries/counts.json").await;
    assert_eq!(poll.status, StatusCode::OK);
    clock.advance(2 * 60 * 1000);
    let res = c.get("/admin/deliveries/counts.json").await;
    assert_eq!(res.location(), "/admin/sign-in", "polled, yet idle");

    let mut c = signed_in(&hub, &t).await;
    let (_, v) = hub.api(&t.key).create_secret(json!({"domain": "*"})).await;
    let other = v["apiSecret"]["secret"].as_str().unwrap().to_owned();
    let secrets = hub.reads().list_secrets(&t.id).await.unwrap();
    let first = secrets.iter().find(|s| s.secret == t.key).unwrap();
    let res = c
        .post(&format!("/admin/secrets/{}/delete", first.id), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = c.get("/admin/secrets").await;
    assert_eq!(res.location(), "/admin/sign-in", "its secret is gone");
    let mut again = Client::new(&hub);
    assert_eq!(again.sign_in(&other).await.status, StatusCode::SEE_OTHER);
}

/// Two hubs of one database, as several nodes behind a load balancer: on PostgreSQL each with
/// its own connection pool, on SQLite (one serving process per file) sharing the store.
async fn two_nodes() -> (TestHub, TestHub) {
    use fastcomments_hub::store::Store;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let (a, b): (Arc<dyn Store>, Arc<dyn Store>) = if BACKEND.is_postgres() {
        let url = common::postgres_database().await;
        let open = || fastcomments_hub::store::postgres::PostgresStore::connect(&url);
        (
            Arc::new(open().await.unwrap()),
            Arc::new(open().await.unwrap()),
        )
    } else {
        let s = common::fresh_store(BACKEND, &dir).await;
        (s.clone(), s)
    };
    let config = common::admin_config();
    let clock = || Arc::new(fastcomments_hub::clock::SystemClock);
    let one = TestHub::over_store(a, config.clone(), clock(), dir).await;
    let two = TestHub::over_store(b, config, clock(), tempfile::tempdir().unwrap()).await;
    (one, two)
}

/// Sessions live in the store, not in one hub's memory: the sign-in form from one node is
/// accepted by another, a session opened on one is signed in on the other with the same form
/// token, a one-time message left by one shows on the other, a hub started later (a restart)
/// knows it, and signing out on one ends it on both. (Before, each node knew only its own sessions, and several nodes needed sticky
/// `/admin` routing.)
#[tokio::test]
async fn a_session_is_known_to_every_node_of_one_database() {
    let (one, two) = two_nodes().await;
    let t = one.tenant("Blog").await;
    let mut c = Client::new(&one);
    let form = c.get("/admin/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    c.base = two.base.clone();
    let res = c.post("/admin/sign-in", &[("secret", &t.key)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    c.base = one.base.clone();
    let page = c.get("/admin/secrets").await;
    assert_eq!(page.status, StatusCode::OK, "signed in on the other node");
    c.base = two.base.clone();
    let res = c.post("/admin/secrets", &[("domain", "*")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    c.base = one.base.clone();
    let shown = c.get("/admin/secrets").await;
    assert!(
        shown.text.contains("Copy it now"),
        "the new secret's one-time message shows on the other node: {}",
        shown.text
    );
    // A hub started after the sign-in (a restarted node) knows the session too.
    let later = TestHub::over_store(
        one.store.clone(),
        HubConfig::default(),
        std::sync::Arc::new(fastcomments_hub::clock::SystemClock),
        tempfile::tempdir().unwrap(),
    )
    .await;
    c.base = later.base.clone();
    assert_eq!(c.get("/admin/comments").await.status, StatusCode::OK);

    c.base = two.base.clone();
    let res = c.post("/admin/sign-out", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let mut old = Client::new(&one);
    old.cookie = Some(c.cookie.clone().unwrap_or_default());
    let res = old.get("/admin/secrets").await;
    assert_eq!(res.location(), "/admin/sign-in", "signed out on both nodes");
}

async fn failing_delivery(hub: &TestHub, t: &Tenant, receiver: &Receiver) -> String {
    let (s, v) = hub
        .api(&t.key)
        .put_webhook_config(
            json!({"domain": "*", "create": {"url": format!("{}/hook", receiver.url)}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    hub.comment(t, "post/1", "hello").await;
    receiver.wait_for(1, 10).await;
    // The receiver has answered; the attempt is recorded a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = hub.reads()
            .deliveries(&t.id, None, None, 10)
            .await
            .unwrap();
        if list[0].attempts >= 1 {
            return list[0].id.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the attempt was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A hub on the system clock that may send to loopback receivers, with hour-long retries.
async fn private_hub(max_attempts: i64) -> TestHub {
    TestHub::configured(
        BACKEND,
        private_hub_config(max_attempts),
    )
    .await
}

fn private_hub_config(max_attempts: i64) -> HubConfig {
    HubConfig {
        webhook_allow_private_targets: true,
        webhook_retry_base: Duration::from_secs(3600),
        webhook_max_attempts: max_attempts,
        ..common::admin_config()
    }
}

/// Another tenant's delivery id is "not found", on its page and for cancel and retry, and
/// nothing changes; the same tenant's own delivery is shown with its attempts.
#[tokio::test]
async fn another_tenants_delivery_is_not_found() {
    let hub = private_hub(5).await;
    let a = hub.tenant("Alpha").await;
    let b = hub.tenant("Beta").await;
    let receiver = Receiver::with(|_, _| (500, "down".into())).await;
    let id = failing_delivery(&hub, &a, &receiver).await;
    let mut owner = signed_in(&hub, &a).await;
    let page = owner.get(&format!("/admin/deliveries/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("down"), "the attempt's response body");
    let mut other = signed_in(&hub, &b).await;
    let page = other.get(&format!("/admin/deliveries/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    for action in ["cancel", "retry"] {
        let res = other
            .post(&format!("/admin/deliveries/{id}/{action}"), &[])
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{action}");
    }
    let (d, _) = hub.reads()
        .delivery(&a.id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, DeliveryStatus::Retrying, "untouched");
    let list = other.get("/admin/deliveries").await;
    assert!(!list.text.contains(&id));
}

/// A comment's text is shown as text: `<script>` is escaped, never markup.
#[tokio::test]
async fn a_script_in_a_comment_renders_as_text() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    hub.comment(&t, "post/1", "<script>alert('x')</script> & <b>bold</b>")
        .await;
    let mut c = signed_in(&hub, &t).await;
    let page = c.get("/admin/comments").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("<script>alert"), "{}", page.text);
    assert!(!page.text.contains("<b>bold"), "{}", page.text);
    assert!(
        page.text.contains("&#60;script&#62;") || page.text.contains("&lt;script&gt;"),
        "{}",
        page.text
    );
}

/// Moderation goes through the API's path: the store changes, a timeline entry and a webhook
/// delivery follow.
#[tokio::test]
async fn moderating_a_comment_changes_the_store_and_queues_a_webhook() {
    let hub = private_hub(5).await;
    let t = hub.tenant("Blog").await;
    let receiver = Receiver::ok().await;
    let (s, _) = hub.api(&t.key).put_webhook_config(json!({"domain": "*", "update": {"url": format!("{}/u", receiver.url), "method": "POST"}})).await;
    assert_eq!(s, StatusCode::OK);
    let comment = hub.comment(&t, "post/1", "first text").await;
    let id = comment["_id"].as_str().unwrap();
    let mut c = signed_in(&hub, &t).await;
    let res = c.post(&format!("/admin/comments/{id}/spam"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let stored = hub.reads()
        .comment(&t.id, id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_spam && !stored.approved);
    let got = receiver.wait_for(1, 10).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        (body["id"].as_str(), body["isSpam"].as_bool()),
        (Some(id), Some(true))
    );

    // An empty edit is refused beside the field, keeping what was typed… (nothing here)
    let bad = c
        .post(&format!("/admin/comments/{id}/edit"), &[("text", "")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.text.contains(&format!("id=\"err-{id}\"")),
        "{}",
        bad.text
    );
    let res = c
        .post(
            &format!("/admin/comments/{id}/edit"),
            &[("text", "second text")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let stored = hub.reads()
        .comment(&t.id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.comment, "second text");
    let got = receiver.wait_for(2, 10).await;
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["comment"], "second text");

    for action in ["not-spam", "approve"] {
        let res = c.post(&format!("/admin/comments/{id}/{action}"), &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{action}");
    }
    let stored = hub.reads()
        .comment(&t.id, id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.is_spam && stored.approved && stored.reviewed);
    let got = receiver.wait_for(4, 10).await;
    let body: Value = serde_json::from_slice(&got[3].body).unwrap();
    assert_eq!(body["approved"], true);
}

/// The operator signs in with the operator token, sees every tenant and opens one's pages;
/// a tenant admin has no tenant list.
#[tokio::test]
async fn the_operator_sees_the_tenants_and_opens_one() {
    let hub = TestHub::start(BACKEND).await;
    let a = hub.tenant("Alpha").await;
    hub.tenant("Beta").await;
    let mut op = Client::new(&hub);
    let res = op.sign_in("admin-secret").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let home = op.get("/admin").await;
    assert_eq!(home.location(), "/admin/tenants");
    let list = op.get("/admin/tenants").await;
    assert!(
        list.text.contains("Alpha") && list.text.contains("Beta"),
        "{}",
        list.text
    );
    assert!(!list.text.contains("admin-secret"));
    let open = op
        .post("/admin/tenants/open", &[("tenant", a.id.as_str())])
        .await;
    assert_eq!(open.location(), "/admin/integrations");
    let page = op.get("/admin/integrations").await;
    assert!(page.text.contains(a.id.as_str()), "{}", page.text);

    let mut tenant_admin = signed_in(&hub, &a).await;
    assert_eq!(
        tenant_admin.get("/admin/tenants").await.status,
        StatusCode::NOT_FOUND
    );
}

/// `POST /api/v1/webhook-deliveries/retry-failed` and the page's form queue again the failed
/// deliveries since the time given, and the receiver gets them.
#[tokio::test]
async fn failed_deliveries_since_a_time_are_retried() {
    let hub = private_hub(1).await;
    let t = hub.tenant("Blog").await;
    let receiver = Receiver::with(|_, earlier| {
        if earlier.len() < 2 {
            (500, "down".into())
        } else {
            (200, "ok".into())
        }
    })
    .await;
    let id = failing_delivery(&hub, &t, &receiver).await;
    hub.comment(&t, "post/2", "second").await;
    receiver.wait_for(2, 10).await;
    let store = hub.reads();
    for _ in 0..200 {
        let c = store.delivery_counts(&t.id, 10).await.unwrap();
        if c.failed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.delivery_counts(&t.id, 10).await.unwrap().failed, 2);
    let (s, v) = hub
        .api(&t.key)
        .retry_failed(json!({"since": "2999-01-01T00:00:00Z"}))
        .await;
    assert_eq!((s, v["retried"].as_u64()), (StatusCode::OK, Some(0)), "{v}");

    let mut c = signed_in(&hub, &t).await;
    let bad = c
        .post("/admin/deliveries/retry-failed", &[("since", "yesterday")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("value=\"yesterday\""), "kept as typed");
    let res = c
        .post(
            "/admin/deliveries/retry-failed",
            &[("since", "2000-01-01T00:00")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // A background poll in between does not take the message meant for the page.
    assert_eq!(
        c.get("/admin/deliveries/counts.json").await.status,
        StatusCode::OK
    );
    let page = c.get("/admin/deliveries").await;
    assert!(page.text.contains("2 failed deliveries"), "{}", page.text);
    receiver.wait_for(4, 10).await;
    for _ in 0..200 {
        if store.delivery_counts(&t.id, 10).await.unwrap().succeeded == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (d, attempts) = store.delivery(&t.id, &id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    assert_eq!(attempts.len(), 2);
    let counts = c.get("/admin/deliveries/counts.json").await;
    let v: Value = serde_json::from_str(&counts.text).unwrap();
    assert_eq!(v["text"]["count-succeeded"], "2");
}

/// The setup page keeps its form and now links to the admin pages with the token; a token
/// that is markup stays text. Unknown admin paths are an HTML 404, not the API's JSON.
#[tokio::test]
async fn the_setup_page_links_to_the_admin_pages_and_escapes() {
    let hub = TestHub::start(BACKEND).await;
    let mut c = Client::new(&hub);
    let page = c
        .get("/auth/my-account/integrations/v1/setup?token=%22%3E%3Cscript%3Ex%3C/script%3E")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("<script>x"), "{}", page.text);
    assert!(page.text.contains("for=\"apiKey\""), "{}", page.text);
    assert!(
        page.text
            .contains("href=\"/admin/integrations?token=%22%3E%3Cscript%3Ex%3C%2Fscript%3E\""),
        "{}",
        page.text
    );
    let missing = c.get("/admin/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

/// The API route retries the tenant's failed deliveries since the time given, and only its
/// own: another tenant's failure stays failed.
#[tokio::test]
async fn the_retry_failed_route_requeues_the_tenants_failures() {
    let hub = private_hub(1).await;
    let t = hub.tenant("Blog").await;
    let other = hub.tenant("Other").await;
    let receiver = Receiver::with(|_, _| (500, "down".into())).await;
    let mine = failing_delivery(&hub, &t, &receiver).await;
    let theirs = failing_delivery(&hub, &other, &receiver).await;
    let store = hub.reads();
    let status = |tenant: TenantId, id: String| async move {
        store.delivery(&tenant, &id).await.unwrap().unwrap()
    };
    for _ in 0..500 {
        let a = status(t.id.clone(), mine.clone()).await.0.status;
        let b = status(other.id.clone(), theirs.clone()).await.0.status;
        if a == DeliveryStatus::Failed && b == DeliveryStatus::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (s, v) = hub
        .api(&t.key)
        .retry_failed(json!({"since": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!((s, v["retried"].as_u64()), (StatusCode::OK, Some(1)), "{v}");
    receiver.wait_for(3, 10).await;
    for _ in 0..500 {
        let (d, attempts) = status(t.id.clone(), mine.clone()).await;
        if attempts.len() == 2 && d.status == DeliveryStatus::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (d, attempts) = status(t.id.clone(), mine.clone()).await;
    assert_eq!((d.status, attempts.len()), (DeliveryStatus::Failed, 2));
    let (d, attempts) = status(other.id.clone(), theirs.clone()).await;
    assert_eq!((d.status, attempts.len()), (DeliveryStatus::Failed, 1));
    let (s, _) = hub
        .api(&t.key)
        .retry_failed(json!({"since": "not a date"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// The webhooks form: a test payload goes to the URL as typed and shows the receiver's
/// answer, and says when it used the saved method rather than the one typed; a bad URL is
/// refused beside its field, what was typed kept; a good form is saved as the API saves it.
#[tokio::test]
async fn the_webhooks_form_tests_then_saves() {
    let hub = private_hub(5).await;
    let t = hub.tenant("Blog").await;
    let receiver = Receiver::with(|r, _| (202, format!("got {}", r.method))).await;
    let url = format!("{}/hook", receiver.url);
    let mut c = signed_in(&hub, &t).await;
    let page = c.get("/admin/webhooks").await;
    assert!(page.text.contains("id=\"all-create-url\""), "{}", page.text);
    assert!(page.text.contains("<label for=\"all-create-method\">"));

    let form = |method: &str| {
        vec![
            ("domain", "*".to_owned()),
            ("create_url", url.clone()),
            ("create_method", method.to_owned()),
            ("delete_url", "ftp://x".to_owned()),
        ]
    };
    let mut fields = form("POST");
    fields.push(("test", "create".to_owned()));
    let csrf = c.csrf.clone();
    let mut with_csrf = vec![("csrf", csrf.clone())];
    with_csrf.extend(fields);
    with_csrf.push(("legacy", "on".to_owned()));
    let tested = c.post_raw("/admin/webhooks/test", &with_csrf).await;
    assert_eq!(tested.status, StatusCode::OK);
    // Tested with the method and legacy header as chosen, not yet saved.
    assert!(tested.text.contains("got POST"), "{}", tested.text);
    assert!(tested.text.contains("202"));
    let got = &receiver.all()[0];
    assert_eq!(got.method, Method::POST);
    // The page shows each header with the value the receiver got (both signature schemes),
    // except the legacy header's secret.
    for name in [
        "X-FastComments-Signature",
        "X-FastComments-Timestamp",
        "X-FastComments-Delivery",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ] {
        let value = got.header(name).unwrap();
        assert!(
            tested
                .text
                .contains(&format!("<code>{name}: {value}</code>")),
            "{name}: {value} not on the page: {}",
            tested.text
        );
    }
    assert_eq!(got.header("token").as_deref(), Some(t.key.as_str()));
    assert!(
        tested
            .text
            .contains("<code>token: &#60;the API secret, in clear: not shown&#62;</code>"),
        "{}",
        tested.text
    );
    assert!(
        !tested.text.contains(&t.key),
        "the secret is never on a page"
    );

    let mut with_csrf = vec![("csrf", csrf.clone())];
    with_csrf.extend(form("POST"));
    let refused = c.post_raw("/admin/webhooks", &with_csrf).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.text.contains("id=\"all-delete-err\""),
        "{}",
        refused.text
    );
    assert!(refused.text.contains("value=\"ftp://x\""), "kept as typed");
    assert!(refused.text.contains(&format!("value=\"{url}\"")));
    assert!(hub.reads()
        .webhook_configs(&t.id)
        .await
        .unwrap()
        .is_empty());

    let mut with_csrf = vec![("csrf", csrf)];
    with_csrf.extend(form("POST").into_iter().filter(|(k, _)| *k != "delete_url"));
    let saved = c.post_raw("/admin/webhooks", &with_csrf).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let configs = hub.reads()
        .webhook_configs(&t.id)
        .await
        .unwrap();
    let create = configs[0].create.clone().unwrap();
    assert_eq!(
        (create.url.as_str(), create.method.as_str()),
        (url.as_str(), "POST")
    );
}

/// Resync and revoke from the integrations page act on the store as the API does; another
/// tenant's token is not found and stays as it was; acknowledging a token bound elsewhere is
/// refused beside the field with the token kept.
#[tokio::test]
async fn integrations_resync_and_revoke_through_the_page() {
    let hub = TestHub::start(BACKEND).await;
    let token = "page-resync-token-01";
    let foreign = "page-foreign-token-01";
    let t = hub.connected_tenant("Blog", token, true).await;
    hub.connected_tenant("Other", foreign, false).await;
    let store = hub.reads();
    assert!(store.token(&token.into()).await.unwrap().unwrap().upload_finished);
    let mut c = signed_in(&hub, &t).await;
    let page = c.get("/admin/integrations").await;
    assert!(page.text.contains("skipped"), "{}", page.text);
    assert!(!page.text.contains(foreign), "only the tenant's tokens");

    let res = c
        .post("/admin/integrations/resync", &[("token", token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let r = store.token(&token.into()).await.unwrap().unwrap();
    assert!(
        !r.upload_finished && r.setup_completed_at.is_none(),
        "{r:?}"
    );

    for action in ["resync", "revoke"] {
        let res = c
            .post(
                &format!("/admin/integrations/{action}"),
                &[("token", foreign)],
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{action}");
    }
    let f = store.token(&foreign.into()).await.unwrap().unwrap();
    assert_eq!(f.state, fastcomments_hub::records::TokenState::Validated);

    let taken = c
        .post("/admin/integrations/acknowledge", &[("token", foreign)])
        .await;
    assert_eq!(taken.status, StatusCode::NOT_FOUND);
    assert!(taken.text.contains("id=\"token-error\""), "{}", taken.text);
    assert!(taken.text.contains(&format!("value=\"{foreign}\"")));

    let res = c
        .post("/admin/integrations/revoke", &[("token", token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let r = store.token(&token.into()).await.unwrap().unwrap();
    assert_eq!(r.state, fastcomments_hub::records::TokenState::Revoked);
    let (s, v) = hub.register_token(token).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "token-revoked");
}

/// The subscriptions page adds, disables, enables and deletes subscriptions through the API's
/// rules: a comment reaches every subscribed URL, a disabled one waits (paused) and resumes,
/// bad input is shown beside its field with what was typed kept, and another tenant's
/// subscription is not found and stays as it was.
#[tokio::test]
async fn subscriptions_are_added_disabled_and_deleted_through_the_page() {
    let hub = private_hub(5).await;
    let t = hub.tenant("Blog").await;
    let other = hub.tenant("Other").await;
    let store = hub.store.clone();
    let first = Receiver::with(|_, _| (200, "one".into())).await;
    let second = Receiver::with(|_, _| (200, "two".into())).await;
    let mut c = signed_in(&hub, &t).await;
    let page = c.get("/admin/subscriptions").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("<label for=\"sub-url\">"),
        "{}",
        page.text
    );
    assert!(page.text.contains("No subscriptions yet."));

    for (rx, method) in [(&first, "POST"), (&second, "")] {
        let url = format!("{}/hook", rx.url);
        let res = c
            .post(
                "/admin/subscriptions",
                &[
                    ("url", url.as_str()),
                    ("method", method),
                    ("create", "on"),
                    ("update", "on"),
                    ("domains", "blog.example"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    }
    let subs = store.subscriptions(&t.id).await.unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].kinds.len(), 2, "create and update only");
    assert_eq!(subs[0].domains, vec!["blog.example".to_owned()]);
    assert_eq!(subs[0].method.map(|m| m.as_str()), Some("POST"));
    assert_eq!(subs[1].method, None, "the default");
    let listed = c.get("/admin/subscriptions").await;
    for s in &subs {
        assert!(listed.text.contains(&format!("id=\"s-{}\"", s.id)));
        assert!(listed.text.contains(&s.url));
    }

    // A comment on the domain goes to both.
    hub.comment_on(&t, "blog.example", "hello").await;
    first.wait_for(1, 10).await;
    second.wait_for(1, 10).await;
    assert_eq!(first.all()[0].method, Method::POST);
    assert_eq!(
        second.all()[0].method,
        Method::POST,
        "the hosted API's default"
    );

    // Disabled: the next comment waits for it, paused; enabled: it goes out.
    let id = subs[1].id.clone();
    let res = c
        .post(&format!("/admin/subscriptions/{id}/disable"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(store.subscriptions(&t.id).await.unwrap()[1]
        .disabled_at
        .is_some());
    let listed = c.get("/admin/subscriptions").await;
    assert!(
        listed.text.contains("disabled by the tenant"),
        "{}",
        listed.text
    );
    hub.comment_on(&t, "blog.example", "second").await;
    first.wait_for(2, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(second.all().len(), 1, "paused while disabled");
    let res = c
        .post(&format!("/admin/subscriptions/{id}/enable"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    second.wait_for(2, 10).await;

    // Another tenant's admin: not found, and nothing changes.
    let mut stranger = signed_in(&hub, &other).await;
    for action in ["disable", "enable", "delete"] {
        let res = stranger
            .post(&format!("/admin/subscriptions/{id}/{action}"), &[])
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{action}");
    }
    let theirs = stranger.get("/admin/subscriptions").await;
    assert!(!theirs.text.contains(&id));
    let after = store.subscriptions(&t.id).await.unwrap();
    assert_eq!(after.len(), 2);
    assert!(after[1].disabled_at.is_none(), "untouched");

    // Bad input: beside its field, what was typed kept, nothing stored.
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("url", "ftp://x"), ("create", "on")], "sub-url-err"),
        (
            &[
                ("url", "https://example.com/h"),
                ("method", "DELETE"),
                ("create", "on"),
            ],
            "sub-method-err",
        ),
        (&[("url", "https://example.com/h")], "sub-events-err"),
        (
            &[
                ("url", "https://example.com/h"),
                ("create", "on"),
                ("domains", "other.example"),
            ],
            "sub-domains-err",
        ),
    ];
    for (fields, err) in cases {
        let res = c.post("/admin/subscriptions", fields).await;
        assert!(res.status.is_client_error(), "{err}: {}", res.status);
        assert!(
            res.text.contains(&format!("id=\"{err}\"")),
            "{err}: {}",
            res.text
        );
        let typed = fields[0].1;
        assert!(
            res.text.contains(&format!("value=\"{typed}\"")),
            "kept: {typed}"
        );
    }
    assert_eq!(store.subscriptions(&t.id).await.unwrap().len(), 2);

    // Deleted: gone from the store and the page.
    let res = c
        .post(&format!("/admin/subscriptions/{id}/delete"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(store.subscriptions(&t.id).await.unwrap().len(), 1);
    assert!(!c.get("/admin/subscriptions").await.text.contains(&id));
    // Without the CSRF token: refused, nothing added.
    let res = c
        .post_raw(
            "/admin/subscriptions",
            &[
                ("url", "https://example.com/x".to_owned()),
                ("create", "on".to_owned()),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(store.subscriptions(&t.id).await.unwrap().len(), 1);
}

/// A tenant admin can act only on their own tenant: another tenant's comment (every action),
/// API secret and domains are "not found" or refused, nothing of theirs changes, and a
/// tenant session cannot open another tenant as the operator does.
#[tokio::test]
async fn another_tenants_comments_secrets_and_domains_are_out_of_reach() {
    let hub = private_hub(5).await;
    let a = hub.tenant("Alpha").await;
    let b = hub.tenant("Beta").await;
    let store = hub.store.clone();
    let theirs = hub.comment(&a, "post/1", "alpha's words").await;
    let comment_id = theirs["_id"].as_str().unwrap().to_owned();
    let before = store.comment(&a.id, &comment_id).await.unwrap().unwrap();
    let alpha_secret = store.list_secrets(&a.id).await.unwrap()[0].clone();
    let mut stranger = signed_in(&hub, &b).await;

    for action in ["approve", "unapprove", "spam", "not-spam", "edit", "delete"] {
        let res = stranger
            .post(
                &format!("/admin/comments/{comment_id}/{action}"),
                &[("text", "defaced")],
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{action}: {}", res.text);
    }
    let after = store.comment(&a.id, &comment_id).await.unwrap().unwrap();
    assert_eq!(
        (after.comment.as_str(), after.approved, after.is_spam),
        (before.comment.as_str(), before.approved, before.is_spam),
        "untouched"
    );
    assert!(!stranger
        .get("/admin/comments")
        .await
        .text
        .contains("alpha&#39;s words"));

    let res = stranger
        .post(&format!("/admin/secrets/{}/delete", alpha_secret.id), &[])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(store
        .list_secrets(&a.id)
        .await
        .unwrap()
        .iter()
        .any(|s| s.id == alpha_secret.id));

    // Alpha's domain (or nobody's) in Beta's webhook form, its test, or a secret: refused.
    let receiver = Receiver::with(|_, _| (200, "ok".into())).await;
    let hook = format!("{}/hook", receiver.url);
    for domain in ["alpha.example", "blog.alpha.example", "nobody.example"] {
        let saved = stranger
            .post(
                "/admin/webhooks",
                &[("domain", domain), ("create_url", hook.as_str())],
            )
            .await;
        assert_eq!(saved.status, StatusCode::FORBIDDEN, "save {domain}");
        let tested = stranger
            .post(
                "/admin/webhooks/test",
                &[
                    ("domain", domain),
                    ("create_url", hook.as_str()),
                    ("test", "create"),
                ],
            )
            .await;
        assert!(
            tested
                .text
                .contains("is not one of this tenant&#39;s domains"),
            "test {domain}: {}",
            tested.text
        );
        let secret = stranger.post("/admin/secrets", &[("domain", domain)]).await;
        assert_eq!(secret.status, StatusCode::BAD_REQUEST, "secret {domain}");
    }
    assert!(store.webhook_configs(&b.id).await.unwrap().is_empty());
    assert!(receiver.all().is_empty(), "no test payload was sent");
    assert_eq!(store.list_secrets(&b.id).await.unwrap().len(), 1);

    // Only the operator opens tenants.
    let res = stranger
        .post("/admin/tenants/open", &[("tenant", a.id.as_str())])
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    let page = stranger.get("/admin/integrations").await;
    assert!(page.text.contains(b.id.as_str()) && !page.text.contains(a.id.as_str()));
}

/// Issue 20 §7: the setup page and `/confirm` ask for an API secret, so they are sent with the
/// admin pages' headers (no framing, no caching), whatever they answer.
#[tokio::test]
async fn the_setup_page_cannot_be_framed_or_cached() {
    let hub = TestHub::start(BACKEND).await;
    let mut c = Client::new(&hub);
    for path in [
        "/auth/my-account/integrations/v1/setup?token=abcdefgh1234",
        "/auth/my-account/integrations/v1/confirm?token=abcdefgh1234&hasAccount=true",
    ] {
        let page = c.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(page.headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
    }
}

/// Issue 20 §4: only the All Domains secret signs in to the admin pages; a domain's secret
/// (what one domain's webhook receiver holds) is refused and gets no session.
#[tokio::test]
async fn a_domain_secret_cannot_sign_in() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant_owning("Two", &["a.example", "b.example"]).await;
    let (s, v) = hub
        .call(
            reqwest::Method::POST,
            "/api/v1/api-secrets",
            Some(&t.key),
            Some(serde_json::json!({"domain": "a.example"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a_key = v["apiSecret"]["secret"].as_str().unwrap().to_owned();
    let mut c = Client::new(&hub);
    let res = c.sign_in(&a_key).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert!(res.text.contains("All Domains"), "{}", res.text);
    let after = c.get("/admin/integrations").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "not signed in");
}

/// Issue 20 §7: a CR/LF in a delivery action's `back` field sends the admin to the delivery's
/// page instead of answering 500 after the action ran.
#[tokio::test]
async fn a_broken_back_field_returns_to_the_default_page() {
    let hub = private_hub(1).await;
    let t = hub.tenant("Back").await;
    let receiver = Receiver::with(|_, _| (500, "down".into())).await;
    let id = failing_delivery(&hub, &t, &receiver).await;
    let mut c = signed_in(&hub, &t).await;
    let page = c.get(&format!("/admin/deliveries/{id}")).await;
    if let Some(token) = csrf_of(&page.text) {
        c.csrf = token;
    }
    let res = c
        .post(
            &format!("/admin/deliveries/{id}/retry"),
            &[("back", "/admin/deliveries\r\nX-Injected: yes")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(res.location(), format!("/admin/deliveries/{id}"));
    assert!(!res.headers.contains_key("x-injected"));
}

/// Issue 20 §2: the setup page says whether the plugin may read an API secret of its domain;
/// the box is off unless ticked.
#[tokio::test]
async fn the_setup_page_asks_whether_the_plugin_may_read_a_secret() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant_owning("Sso", &["sso.example"]).await;
    let mut c = Client::new(&hub);
    let page = c
        .get("/auth/my-account/integrations/v1/setup?token=sso-plugin-token-1")
        .await;
    assert!(
        page.text.contains("name=\"allowApiSecret\""),
        "{}",
        page.text
    );
    for (token, fields, allowed) in [
        ("sso-plugin-token-1", vec![], false),
        ("sso-plugin-token-2", vec![("allowApiSecret", "true")], true),
    ] {
        let mut all = vec![("token", token.to_owned()), ("apiKey", t.key.clone())];
        all.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let res = c
            .post_raw("/auth/my-account/integrations/v1/setup", &all)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let (_, v) = hub.api(&t.key).integrations().await;
        let listed = items(&v["integrations"])
            .find(|i| i["token"] == token)
            .cloned()
            .unwrap();
        assert_eq!(listed["apiSecretAllowed"], allowed, "{listed}");
    }
}

/// Issue 20 §3: showing the sign-in form stores nothing (its CSRF token lives in its cookie
/// and the form), so a flood of anonymous visits neither grows the database nor pushes a real
/// visitor's form out: their sign-in still works afterwards.
#[tokio::test]
async fn anonymous_visits_store_nothing_and_cannot_push_a_visitor_out() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Flooded").await;
    let mut visitor = Client::new(&hub);
    let form = visitor.get("/admin/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    let flood = reqwest::Client::new();
    for _ in 0..2_000 {
        let r = flood
            .get(format!("{}/admin/sign-in", hub.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let store = hub.running.hub.session_store();
    let stored = store
        .delete_expired_sessions(Millis(i64::MAX), Millis(i64::MAX))
        .await
        .unwrap();
    assert_eq!(stored, 0, "anonymous visits stored sessions");
    let res = visitor
        .post("/admin/sign-in", &[("secret", t.key.as_str())])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = visitor.get("/admin/integrations").await;
    assert_eq!(page.status, StatusCode::OK);
    // A form token is no session: it opens no page.
    let mut stranger = Client::new(&hub);
    stranger.get("/admin/sign-in").await;
    let res = stranger.get("/admin/integrations").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

/// Flags from the API show on the Comments page, which can list the flagged comments only; an
/// action there comes back to that listing.
#[tokio::test]
async fn flagged_comments_are_shown_and_filtered() {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant("Blog").await;
    let flagged = hub.comment(&t, "post/1", "flag me").await;
    let id = flagged["_id"].as_str().unwrap();
    hub.comment(&t, "post/1", "leave me alone").await;
    for user in ["u1", "u2", "u2"] {
        let (s, v) = hub
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/comments/{id}/flag?userId={user}"),
                Some(&t.key),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let mut c = signed_in(&hub, &t).await;
    let all = c.get("/admin/comments").await;
    assert!(all.text.contains("flagged by 2 users"), "{}", all.text);
    assert!(all.text.contains("leave me alone"));
    assert!(all.text.contains("Flagged only (1)"), "{}", all.text);
    let only = c.get("/admin/comments?flagged=1").await;
    assert_eq!(only.status, StatusCode::OK);
    assert!(only.text.contains("flag me"), "{}", only.text);
    assert!(!only.text.contains("leave me alone"), "{}", only.text);
    let res = c
        .post(&format!("/admin/comments/{id}/spam"), &[("page", "0"), ("flagged", "1")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/admin/comments?flagged=1&page=0");
}
