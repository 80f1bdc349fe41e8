//! The admin pages in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (`testkit::browser`), against a real hub on loopback and a real webhook receiver. Each step
//! checks what the store holds and what the receiver got, not only the page. One browser
//! session runs every scenario in turn, to keep the suite fast.
//!
//! With `ADMIN_SCREENSHOTS=<dir>` set, it also saves a screenshot of each page at 375 px and
//! at 1280 px wide there (how `docs/screenshots/` is made).

use crate::common;

use common::receiver::Receiver;
use common::TestHub;
use fastcomments_hub::records::{DeliveryStatus, TokenState};
use fastcomments_hub::{HubConfig, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::browser::fantoccini::{Client, Locator};
use testkit::browser::Browser;

/// A small Disqus export: a reply before its parent, and a post in a thread that is not there
/// (a problem on line 6).
const DISQUS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="10"><id>post-1</id><link>https://blog.example/1</link><title>One</title></thread>
<post dsq:id="101"><message>Before my parent</message><createdAt>2013-01-02T00:00:00Z</createdAt><author><name>Zoë</name></author><thread dsq:id="10"/><parent dsq:id="100"/></post>
<post dsq:id="100"><message>Parent</message><createdAt>2013-01-01T00:00:00Z</createdAt><author><name>Ana</name></author><thread dsq:id="10"/></post>
<post dsq:id="102"><message>Nowhere</message><createdAt>2013-01-03T00:00:00Z</createdAt><author><name>Lost</name></author><thread dsq:id="99"/></post>
</disqus>"#;

async fn fill(c: &Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// Waits until the element `css` exists and its text satisfies `ok` (a click that submits a
/// form may return before the next page is there); returns the text.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    eventually(&format!("{css} to show the expected text"), 10, || async {
        let el = c.find(Locator::Css(css)).await.ok()?;
        let text = el.text().await.ok()?;
        ok(&text).then_some(text)
    })
    .await
}

/// Waits until the browser is at `want`.
async fn wait_path(c: &Client, want: &str) {
    eventually(&format!("the browser to reach {want}"), 10, || async {
        (path(c).await == want).then_some(())
    })
    .await
}

/// Polls `check` until it returns `Some`, for at most `secs`.
async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks what every page promises (each field has a label, nothing wider than a 375 px
/// phone), then saves the page at both widths when `ADMIN_SCREENSHOTS` names a directory.
async fn screenshot(c: &Client, name: &str) {
    let unlabelled = c
        .execute(
            "return Array.from(document.querySelectorAll(
               'input:not([type=hidden]), select, textarea'))
               .filter(e => e.labels === null || e.labels.length === 0)
               .map(e => e.outerHTML)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "{name}: fields without a label");
    c.set_window_size(375, 900).await.unwrap();
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0,
        "{name}: wider than a 375 px screen by {overflow} px"
    );
    c.set_window_size(1280, 900).await.unwrap();
    let Ok(dir) = std::env::var("ADMIN_SCREENSHOTS") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    for (width, label) in [(375u32, "phone"), (1280, "desktop")] {
        c.set_window_size(width, 900).await.unwrap();
        c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
        // Tall enough for the whole page.
        let height: u64 = c
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(900);
        c.set_window_size(width, height.clamp(600, 4000) as u32)
            .await
            .unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}-{label}.png"), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

/// Whether `r` verifies with `key`, over its raw body.
fn signed_with(r: &common::receiver::Received, key: &str) -> bool {
    let pairs: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    fastcomments_webhooks::verify(&pairs, &r.body, &[key], now, 300).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_runs_the_guide_in_a_browser() {
    let browser = Browser::start(1280, 900)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let c = browser.client.clone();
    let hub = TestHub::start_with(
        common::Backend::Sqlite,
        HubConfig {
            // The receiver is on loopback: only the operator may allow that.
            webhook_allow_private_targets: true,
            webhook_retry_base: Duration::from_millis(300),
            webhook_max_attempts: 50,
            ..common::admin_config()
        },
        Arc::new(SystemClock),
    )
    .await;
    let store = hub.store.clone();
    let t = hub.tenant_owning("Blog", &["blog.example"]).await;
    let other = hub.tenant_owning("Other", &["other.example"]).await;
    let answer = Arc::new(AtomicU16::new(200));
    // A receiver as the guide asks for: it verifies the signature with the tenant's secret.
    let receiver = {
        let answer = answer.clone();
        let key = t.key.clone();
        Receiver::with(move |r, _| {
            if !signed_with(r, &key) {
                return (401, "bad signature".into());
            }
            let code = answer.load(Ordering::SeqCst);
            (code, format!("receiver says {code}"))
        })
        .await
    };

    // ---- sign in ----
    c.goto(&format!("{}/admin/integrations", hub.base))
        .await
        .unwrap();
    assert_eq!(
        path(&c).await,
        "/admin/sign-in",
        "signed out: to the sign-in page"
    );
    screenshot(&c, "sign-in").await;
    fill(&c, "#secret", "not-a-secret").await;
    click(&c, "form button[type=submit]").await;
    wait_text(&c, "#secret-error", |t| t.contains("not one of")).await;
    fill(&c, "#secret", &t.key).await;
    click(&c, "form button[type=submit]").await;
    wait_path(&c, "/admin/integrations").await;
    let cookies = c.get_all_cookies().await.unwrap();
    let session = cookies.iter().find(|k| k.name() == "fc_admin").unwrap();
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.path(), Some("/admin"));
    assert!(!c.source().await.unwrap().contains(&t.key));

    // ---- acknowledge a pending token; the progress bar moves as the plugin uploads ----
    let token = "browser-test-token-0001";
    let (s, v) = hub
        .call(
            Method::PUT,
            &format!(
                "/integrations/v1/token/{token}?integrationType=wordpress&domain=blog.example"
            ),
            None,
            None,
        )
        .await;
    assert_eq!((s, &v["isTokenValidated"]), (StatusCode::OK, &json!(false)));
    fill(&c, "#token", token).await;
    click(&c, "form[action='/admin/integrations/acknowledge'] button").await;
    wait_text(&c, ".notice.ok", |t| t.contains("Acknowledged")).await;
    let record = store.token(&token.into()).await.unwrap().unwrap();
    assert_eq!(record.state, TokenState::Validated);
    assert_eq!(record.tenant_id.as_ref(), Some(&t.id));
    let (_, v) = hub.register_token(token).await;
    assert_eq!(v["isTokenValidated"], true, "the plugin sees it: {v}");
    let bar = format!("#p-{}", token.replace('.', "\\."));
    let batch: Vec<Value> = (0..3)
        .map(|i| json!({"externalId": format!("wp-{i}"), "urlId": "post/9", "comment": format!("imported {i}"), "commenterName": "Wp"}))
        .collect();
    let (s, v) = hub
        .call(
            Method::POST,
            &format!("/integrations/v1/comments?token={token}"),
            None,
            Some(json!({"start": 0, "hasMore": true, "countRemaining": 5, "comments": batch})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // No reload: the page's script polls and moves the bar.
    eventually("the progress bar to show 3 of 8", 10, || async {
        let el = c.find(Locator::Css(&bar)).await.ok()?;
        let value = el.attr("value").await.ok()??;
        let max = el.attr("max").await.ok()??;
        (value == "3" && max == "8").then_some(())
    })
    .await;
    assert!(text_of(&c, &format!("#t-{token}")).await.contains("3 of 8"));
    eventually("the last poll to show", 10, || async {
        let seen = text_of(&c, &format!("#ls-{token}")).await;
        seen.ends_with("UTC").then_some(())
    })
    .await;
    screenshot(&c, "integrations").await;

    // ---- webhooks: test payload before saving, then save ----
    c.goto(&format!("{}/admin/webhooks", hub.base))
        .await
        .unwrap();
    let hook = format!("{}/hook", receiver.url);
    fill(&c, "#all-create-url", &hook).await;
    fill(&c, "#all-update-url", &hook).await;
    click(&c, "#d-all button[name=test][value=create]").await;
    let result = wait_text(&c, "#d-all .test-result", |_| true).await;
    assert!(result.contains("accepted"), "{result}");
    assert!(
        result.contains("200") && result.contains("receiver says 200"),
        "{result}"
    );
    assert!(result.contains("X-FastComments-Signature"), "{result}");
    screenshot(&c, "webhook-test").await;
    assert!(
        store.webhook_configs(&t.id).await.unwrap().is_empty(),
        "not saved yet"
    );
    let got = receiver.wait_for(2, 10).await;
    assert_eq!(got[0].method, Method::PUT, "create defaults to PUT");
    assert_eq!(
        got[0].header("x-fastcomments-event").as_deref(),
        Some("comment.created")
    );
    assert!(
        signed_with(&got[0], &t.key),
        "signed with the tenant's secret"
    );
    assert!(!signed_with(&got[1], &t.key), "the forged twin");
    for name in [
        "X-FastComments-Signature",
        "webhook-signature",
        "webhook-id",
    ] {
        let value = got[0].header(name).unwrap_or_default();
        assert!(
            result.contains(&format!("{name}: {value}")),
            "the page shows {name} as the receiver got it: {result}"
        );
    }
    assert!(
        result.contains("refused, as a receiver that verifies signatures does"),
        "{result}"
    );
    assert_eq!(
        c.find(Locator::Css("#all-create-url"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(hook.as_str()),
        "what was typed is kept"
    );
    // A bad URL is refused beside its field, keeping what was typed.
    fill(&c, "#all-delete-url", "ftp://nowhere").await;
    click(&c, "#d-all form > button[type=submit]:last-of-type").await;
    wait_text(&c, "#all-delete-err", |t| t.contains("not an http(s) URL")).await;
    fill(&c, "#all-delete-url", "").await;
    click(&c, "#d-all form > button[type=submit]:last-of-type").await;
    wait_text(&c, ".notice.ok", |t| t.contains("Saved")).await;
    let configs = store.webhook_configs(&t.id).await.unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(
        configs[0].create.as_ref().map(|t| t.url.as_str()),
        Some(hook.as_str())
    );
    assert!(configs[0].delete.is_none());
    screenshot(&c, "webhooks").await;

    // ---- the receiver breaks: the delivery retries, is cancelled, retried, delivered ----
    answer.store(503, Ordering::SeqCst);
    let comment = hub
        .comment(&t, "post/1", "hello from the browser test")
        .await;
    let comment_id = comment["_id"].as_str().unwrap().to_owned();
    c.goto(&format!("{}/admin/deliveries", hub.base))
        .await
        .unwrap();
    // The counts change without a reload.
    eventually("the retrying count to reach 1", 15, || async {
        let n = text_of(&c, "#count-retrying").await;
        (n == "1").then_some(())
    })
    .await;
    let delivery = store
        .deliveries(&t.id, None, Some(&comment_id), 10)
        .await
        .unwrap()[0]
        .clone();
    eventually("a second failed attempt", 15, || async {
        let (d, a) = store.delivery(&t.id, &delivery.id).await.unwrap()?;
        (a.len() >= 2 && d.status == DeliveryStatus::Retrying).then_some(())
    })
    .await;
    screenshot(&c, "deliveries").await;
    c.goto(&format!("{}/admin/deliveries/{}", hub.base, delivery.id))
        .await
        .unwrap();
    let attempts = text_of(&c, "table.attempts").await;
    assert!(
        attempts.contains("503") && attempts.contains("receiver says 503"),
        "{attempts}"
    );
    click(&c, "form[action$='/cancel'] button").await;
    wait_text(&c, "#delivery-state", |t| t == "cancelled").await;
    let (d, _) = store.delivery(&t.id, &delivery.id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Cancelled);
    let before = receiver.all().len();
    answer.store(200, Ordering::SeqCst);
    click(&c, "form[action$='/retry'] button").await;
    let got = eventually("the retried delivery to arrive", 15, || async {
        let all = receiver.all();
        (all.len() > before).then(|| all[before].clone())
    })
    .await;
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["id"].as_str(), Some(comment_id.as_str()));
    assert_eq!(
        got.header("x-fastcomments-delivery").as_deref(),
        Some(delivery.id.as_str())
    );
    eventually("the delivery to succeed", 15, || async {
        let (d, _) = store.delivery(&t.id, &delivery.id).await.unwrap()?;
        (d.status == DeliveryStatus::Succeeded).then_some(())
    })
    .await;
    c.refresh().await.unwrap();
    assert_eq!(text_of(&c, "#delivery-state").await, "succeeded");
    screenshot(&c, "delivery").await;

    // ---- moderate a comment; a <script> in it is only text ----
    let nasty = "<script>document.title='owned'</script> look";
    let evil = hub.comment(&t, "post/1", nasty).await;
    let evil_id = evil["_id"].as_str().unwrap().to_owned();
    let updates_before = receiver.all().len();
    c.goto(&format!("{}/admin/comments", hub.base))
        .await
        .unwrap();
    let shown = text_of(&c, &format!("#c-{evil_id} .text")).await;
    assert_eq!(shown, nasty, "shown as typed");
    let title = c.title().await.unwrap();
    assert!(!title.contains("owned"), "the script did not run: {title}");
    click(&c, &format!("#c-{evil_id} form[action$='/spam'] button")).await;
    wait_text(&c, ".notice.ok", |t| t.contains("spam")).await;
    let stored = store.comment(&t.id, &evil_id).await.unwrap().unwrap();
    assert!(stored.is_spam && !stored.approved);
    let update = eventually("the update webhook", 15, || async {
        receiver
            .all()
            .into_iter()
            .skip(updates_before)
            .find(|r| r.header("x-fastcomments-event").as_deref() == Some("comment.updated"))
    })
    .await;
    let body: Value = serde_json::from_slice(&update.body).unwrap();
    assert_eq!(
        (body["id"].as_str(), body["isSpam"].as_bool()),
        (Some(evil_id.as_str()), Some(true))
    );
    screenshot(&c, "comments").await;

    // ---- subscriptions: a second URL for new comments, then disabled ----
    let fanout = Receiver::with(|_, _| (200, "fan-out ok".into())).await;
    c.goto(&format!("{}/admin/subscriptions", hub.base))
        .await
        .unwrap();
    let fan_url = format!("{}/fan", fanout.url);
    fill(&c, "#sub-url", &fan_url).await;
    click(&c, "#sub-delete").await; // untick: created and updated only
    click(
        &c,
        "form[action='/admin/subscriptions'] button[type=submit]",
    )
    .await;
    wait_text(&c, ".notice.ok", |t| t.contains("Subscribed")).await;
    let subs = store.subscriptions(&t.id).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].url, fan_url);
    assert_eq!(subs[0].kinds.len(), 2, "delete was unticked");
    let row = text_of(&c, &format!("#s-{}", subs[0].id)).await;
    assert!(
        row.contains("sending") && row.contains("create, update"),
        "{row}"
    );
    screenshot(&c, "subscriptions").await;
    let both = hub.comment(&t, "post/1", "to both receivers").await;
    let both_id = both["_id"].as_str().unwrap().to_owned();
    let fanned = fanout.wait_for(1, 15).await;
    let body: Value = serde_json::from_slice(&fanned[0].body).unwrap();
    assert_eq!(body["id"].as_str(), Some(both_id.as_str()));
    assert!(signed_with(&fanned[0], &t.key));
    eventually("the per-domain target to get it too", 15, || async {
        receiver
            .all()
            .iter()
            .any(|r| {
                serde_json::from_slice::<Value>(&r.body)
                    .is_ok_and(|b| b["id"].as_str() == Some(both_id.as_str()))
            })
            .then_some(())
    })
    .await;

    // ---- recover: the subscription's changes since ten minutes ago go out again ----
    let sub = subs[0].id.clone();
    c.find(Locator::XPath(&format!(
        "//tr[@id='s-{sub}']//details[.//form[contains(@action, '/recover')]]/summary"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    // A `datetime-local` field takes typed keys in the browser's locale's order: its value is
    // set as the form submits it, in UTC as the label says.
    let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
    let since = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        since.year(),
        u8::from(since.month()),
        since.day(),
        since.hour(),
        since.minute()
    );
    c.execute(
        "document.getElementById(arguments[0]).value = arguments[1];",
        vec![json!(format!("rs-{sub}")), json!(since)],
    )
    .await
    .unwrap();
    click(&c, &format!("#s-{sub} form[action$='/recover'] button")).await;
    wait_text(&c, ".notice.ok", |t| t.contains("Recover started")).await;
    screenshot(&c, "recover").await;
    let again = fanout.wait_for(2, 15).await;
    let copy: Value = serde_json::from_slice(&again[1].body).unwrap();
    assert_eq!(copy["id"].as_str(), Some(both_id.as_str()));
    assert_eq!(
        again[1].header("webhook-id"),
        again[0].header("webhook-id"),
        "a copy carries its original's webhook-id"
    );
    assert!(signed_with(&again[1], &t.key));
    // The deliveries page marks the copy.
    c.goto(&format!("{}/admin/deliveries", hub.base))
        .await
        .unwrap();
    wait_text(&c, "main", |t| t.contains("recovered")).await;
    c.goto(&format!("{}/admin/subscriptions", hub.base))
        .await
        .unwrap();
    click(
        &c,
        &format!("#s-{} form[action$='/disable'] button", subs[0].id),
    )
    .await;
    wait_text(&c, ".notice.ok", |t| t.contains("Disabled")).await;
    assert!(store.subscriptions(&t.id).await.unwrap()[0]
        .disabled_at
        .is_some());
    assert!(text_of(&c, &format!("#s-{}", subs[0].id))
        .await
        .contains("disabled"));

    // ---- rotate the API secret: a new one shown once, the old one deleted ----
    c.goto(&format!("{}/admin/secrets", hub.base))
        .await
        .unwrap();
    fill(&c, "#domain", "*").await;
    click(&c, "form[action='/admin/secrets'] button").await;
    let fresh = wait_text(&c, "#new-secret", |_| true).await;
    assert_eq!(fresh.len(), 64, "{fresh}");
    screenshot(&c, "secrets").await;
    let secrets = store.list_secrets(&t.id).await.unwrap();
    assert!(secrets.iter().any(|s| s.secret == fresh && s.domain == "*"));
    let old = secrets.iter().find(|s| s.secret == t.key).unwrap().clone();
    c.refresh().await.unwrap();
    assert!(
        c.find(Locator::Css("#new-secret")).await.is_err(),
        "shown once"
    );
    assert!(!c.source().await.unwrap().contains(&fresh));
    // Open the confirmation and delete.
    let row = c
        .find(Locator::XPath(&format!(
            "//form[@action='/admin/secrets/{}/delete']/ancestor::details/summary",
            old.id
        )))
        .await
        .unwrap();
    row.click().await.unwrap();
    click(
        &c,
        &format!("form[action='/admin/secrets/{}/delete'] button", old.id),
    )
    .await;
    // It was this session's secret: signed out.
    wait_path(&c, "/admin/sign-in").await;
    let secrets = store.list_secrets(&t.id).await.unwrap();
    assert!(secrets.iter().all(|s| s.secret != t.key));
    let (s, _) = hub.api(&t.key).integrations().await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old secret is dead");
    fill(&c, "#secret", &fresh).await;
    click(&c, "form button[type=submit]").await;
    wait_path(&c, "/admin/integrations").await;

    // ---- a form without the CSRF token is refused ----
    c.execute(
        "const f = document.createElement('form'); f.method = 'post';
         f.action = '/admin/comments/' + arguments[0] + '/delete';
         document.body.appendChild(f); f.submit();",
        vec![json!(evil_id)],
    )
    .await
    .unwrap();
    eventually("the refusal page", 10, || async {
        let t = c.find(Locator::Css("h1")).await.ok()?.text().await.ok()?;
        (t == "Refused").then_some(())
    })
    .await;
    assert!(
        store.comment(&t.id, &evil_id).await.unwrap().is_some(),
        "not deleted"
    );

    // ---- another tenant's delivery id in the URL is not found ----
    let (s, _) = hub
        .api(&other.key)
        .put_webhook_config(json!({"domain": "*", "create": {"url": hook}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    hub.comment(&other, "p", "theirs").await;
    let theirs = store.deliveries(&other.id, None, None, 1).await.unwrap()[0]
        .id
        .clone();
    c.goto(&format!("{}/admin/deliveries/{theirs}", hub.base))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, "Not found");
    assert!(
        !c.source().await.unwrap().contains("theirs"),
        "nothing of theirs is shown"
    );

    // ---- import a Disqus export through the form: its page shows the counts ----
    let file = hub.dir.path().join("disqus-export.xml");
    std::fs::write(&file, DISQUS).unwrap();
    c.goto(&format!("{}/admin/imports", hub.base))
        .await
        .unwrap();
    screenshot(&c, "imports").await;
    c.find(Locator::Css("#import-file"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    click(&c, "#import-form button[type=submit]").await;
    // The page reloads itself while the import runs.
    wait_text(&c, "#import-state", |s| s == "done").await;
    assert!(path(&c).await.starts_with("/admin/imports/"));
    for (count, want) in [("read", "3"), ("created", "2"), ("skipped", "0")] {
        assert_eq!(
            text_of(&c, &format!("#import-{count}")).await,
            want,
            "{count}"
        );
    }
    assert!(text_of(&c, "#import-problems")
        .await
        .contains("line 6, column"));
    screenshot(&c, "import").await;
    let imports = store.imports(&t.id, 10).await.unwrap();
    assert_eq!((imports.len(), imports[0].created), (1, 2), "{imports:?}");
    let (_, v) = hub.api(&fresh).comments("urlId=post-1").await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 2, "{v}");

    // ---- keyboard: the sign-out button is reachable with Tab and works with Enter ----
    c.goto(&format!("{}/admin/integrations", hub.base))
        .await
        .unwrap();
    let skip = c.find(Locator::Css("a.skip")).await.unwrap();
    assert_eq!(skip.attr("href").await.unwrap().as_deref(), Some("#main"));
    let signout = c
        .find(Locator::Css("form[action='/admin/sign-out'] button"))
        .await
        .unwrap();
    signout.send_keys("\u{E007}").await.unwrap();
    eventually("signed out by keyboard", 10, || async {
        (path(&c).await == "/admin/sign-in").then_some(())
    })
    .await;

    browser.close().await;
}
