//! Steps 1–4 of generation B as the deployed clients drive them, with their request shapes:
//! the WordPress plugin (query-form token PUT with its full home URL, `Content-Type` on every
//! call, uploads of at most 100 comments with `countRemaining`, string numbers and
//! `Y-m-d H:i:s` dates, a cursor floored to whole seconds in milliseconds, downloads and id
//! mappings), the 2021 PHP core (a cursor in epoch seconds) and the Node core (the ISO
//! `createdAt` as cursor, the token acknowledged before its first PUT). Each client is written
//! here from what those plugins send and read; assertions are on content, not counts.

use super::BACKEND;
use crate::common;

use common::{items, Tenant, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How a client turns the last event's `createdAt` into its next `fromDateTime`.
#[derive(Debug, Clone, Copy)]
enum CursorStyle {
    /// WordPress: `strtotime(createdAt) * 1000` (milliseconds, floored to the second).
    FlooredMillis,
    /// The 2021 PHP core: `strtotime(createdAt)` (seconds).
    Seconds,
    /// The Node core: `createdAt` as it came.
    Iso,
}

/// A site comment as the plugin's database holds it.
#[derive(Debug, Clone, PartialEq)]
struct SiteComment {
    local_id: u64,
    post_id: u64,
    parent_local: Option<u64>,
    author: String,
    email: String,
    html: String,
    date_gmt: String,
    karma: i64,
    approved: bool,
    /// The hub's id, once known (from an upload answer, an event or a download).
    hub_id: Option<String>,
}

/// A plugin: its token, its cursor, its comments, and the calls it makes.
struct Plugin<'a> {
    hub: &'a TestHub,
    token: String,
    style: CursorStyle,
    cursor: String,
    comments: Vec<SiteComment>,
    last_sent: u64,
    sync_done: bool,
    seen_events: std::collections::HashSet<String>,
    /// Every request's status, to show nothing but 200 was answered.
    statuses: Vec<u16>,
}

impl<'a> Plugin<'a> {
    fn new(hub: &'a TestHub, token: &str, style: CursorStyle, comments: Vec<SiteComment>) -> Self {
        Plugin {
            hub,
            token: token.into(),
            style,
            cursor: "0".into(),
            comments,
            last_sent: 0,
            sync_done: false,
            seen_events: Default::default(),
            statuses: Vec::new(),
        }
    }

    /// A request as the plugin sends it: nothing URL-encoded, `Content-Type` always set.
    async fn call(&mut self, method: Method, path_and_query: &str, body: Option<String>) -> Value {
        let res = self
            .hub
            .client
            .request(
                method,
                format!("{}/integrations/v1{}", self.hub.base, path_and_query),
            )
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.unwrap_or_default())
            .send()
            .await
            .unwrap();
        self.statuses.push(res.status().as_u16());
        let text = res.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }

    /// Step 1/2: `PUT /token?…` until validated; returns the tenant id.
    async fn register(&mut self, domain: &str, kind: &str) -> Option<String> {
        let q = format!(
            "/token?token={}&integrationType={kind}&domain={domain}",
            self.token
        );
        let v = self.call(Method::PUT, &q, None).await;
        assert_eq!(v["status"], "success", "{v}");
        (v["isTokenValidated"] == true).then(|| v["tenantId"].as_str().unwrap().to_owned())
    }

    /// One tick of the cron: commands, then what they say.
    async fn tick(&mut self) {
        let q = format!(
            "/commands?token={}&fromDateTime={}",
            self.token, self.cursor
        );
        let v = self.call(Method::GET, &q, None).await;
        assert_eq!(v["status"], "success", "{v}");
        let names: Vec<String> = items(&v["commands"])
            .map(|c| c["command"].as_str().unwrap().to_owned())
            .collect();
        for name in names {
            match name.as_str() {
                "SendComments" => self.send_comments().await,
                "FetchEvents" => self.fetch_events().await,
                "SetSyncDone" => self.sync_done = true,
                other => panic!("unknown command {other}"),
            }
        }
    }

    /// The upload: one page of at most 100 comments after the last one sent.
    async fn send_comments(&mut self) {
        let page: Vec<SiteComment> = self
            .comments
            .iter()
            .filter(|c| c.local_id > self.last_sent)
            .take(100)
            .cloned()
            .collect();
        let remaining = self
            .comments
            .iter()
            .filter(|c| c.local_id > self.last_sent)
            .count();
        let count_remaining = remaining as i64 - page.len() as i64;
        let body: Vec<Value> = page.iter().map(|c| self.as_upload(c)).collect();
        let text = json!({"countRemaining": count_remaining, "comments": body})
            .to_string()
            // PHP's json_encode escapes slashes.
            .replace('/', "\\/");
        let v = self
            .call(
                Method::POST,
                &format!("/comments?token={}", self.token),
                Some(text),
            )
            .await;
        assert_eq!(v["status"], "success", "{v}");
        let ids = v["commentIds"]
            .as_object()
            .expect("commentIds is an object");
        for (local, hub_id) in ids {
            let local: u64 = local.parse().unwrap();
            if let Some(c) = self.comments.iter_mut().find(|c| c.local_id == local) {
                c.hub_id = Some(hub_id.as_str().unwrap().to_owned());
            }
        }
        if let Some(last) = page.last() {
            self.last_sent = last.local_id;
        }
    }

    /// What WordPress builds from a row of its comments table.
    fn as_upload(&self, c: &SiteComment) -> Value {
        let mut v = json!({
            "tenantId": "whatever-the-site-stored",
            "urlId": c.post_id.to_string(),
            "url": format!("https://blog.example.com/?p={}", c.post_id),
            "pageTitle": "Hello world!",
            "userId": null,
            "commenterName": c.author,
            "commenterEmail": c.email,
            "comment": c.html,
            "externalParentId": c.parent_local.map(|p| p.to_string()),
            "date": c.date_gmt,
            "votes": c.karma.to_string(),
            "votesUp": if c.karma > 0 { json!(c.karma.to_string()) } else { json!(0) },
            "votesDown": if c.karma < 0 { json!(-c.karma) } else { json!(0) },
            "verified": !c.email.is_empty(),
            "verifiedDate": null,
            "verificationId": null,
            "notificationSentForParent": true,
            "notificationSentForParentTenant": true,
            "isSpam": false,
            "externalId": c.local_id.to_string(),
            "avatarSrc": null,
            "hasImages": false,
            "hasLinks": false,
            "approved": c.approved,
        });
        if let Some(id) = &c.hub_id {
            v["_id"] = json!(id);
        }
        v
    }

    /// `/events` pages while `hasMore`, the cursor as this client makes it.
    async fn fetch_events(&mut self) {
        for _ in 0..100 {
            let q = format!("/events?token={}&fromDateTime={}", self.token, self.cursor);
            let v = self.call(Method::GET, &q, None).await;
            assert_eq!(v["status"], "success", "{v}");
            let events = v["events"]
                .as_array()
                .expect("events is always an array")
                .clone();
            for e in &events {
                let id = e["_id"].as_str().unwrap().to_owned();
                if !self.seen_events.insert(id) {
                    continue;
                }
                let data: Value =
                    serde_json::from_str(e["data"].as_str().expect("data is a JSON string"))
                        .unwrap();
                self.apply(&data);
            }
            if let Some(last) = events.last() {
                let created = last["createdAt"].as_str().unwrap();
                assert!(created.ends_with('Z'), "{created}");
                let ms = fastcomments_protocol::Millis::parse(created).unwrap().0;
                self.cursor = match self.style {
                    CursorStyle::FlooredMillis => (ms / 1000 * 1000).to_string(),
                    CursorStyle::Seconds => (ms / 1000).to_string(),
                    CursorStyle::Iso => created.to_owned(),
                };
            }
            if v["hasMore"] != true {
                return;
            }
        }
        panic!("the events never ended");
    }

    /// What the WordPress plugin does with an event (comments without `meta.wpPostId` are not
    /// from the WordPress widget and are skipped).
    fn apply(&mut self, data: &Value) {
        let c = &data["comment"];
        match data["type"].as_str().unwrap() {
            "new-comment" | "updated-comment" => {
                let Some(post) = c["meta"]["wpPostId"].as_u64() else {
                    return;
                };
                let hub_id = c["_id"].as_str().unwrap().to_owned();
                let html = c["commentHTML"].as_str().unwrap().to_owned();
                if let Some(existing) = self
                    .comments
                    .iter_mut()
                    .find(|x| x.hub_id.as_deref() == Some(&hub_id))
                {
                    existing.html = html;
                    return;
                }
                let local_id = self.comments.iter().map(|x| x.local_id).max().unwrap_or(0) + 1;
                self.comments.push(SiteComment {
                    local_id,
                    post_id: post,
                    parent_local: None,
                    author: c["commenterName"].as_str().unwrap().to_owned(),
                    email: c["commenterEmail"].as_str().unwrap_or("").to_owned(),
                    html,
                    date_gmt: c["date"].as_str().unwrap().to_owned(),
                    karma: c["votes"].as_i64().unwrap(),
                    approved: c["approved"] == true,
                    hub_id: Some(hub_id),
                });
                // Written locally: not to be uploaded again.
                self.last_sent = self.last_sent.max(local_id);
            }
            "deleted-comment" => {
                let hub_id = c["_id"].as_str().unwrap();
                self.comments
                    .retain(|x| x.hub_id.as_deref() != Some(hub_id));
            }
            "new-vote" | "deleted-vote" => {
                assert!(data["vote"]["commentId"].is_string(), "{data}");
                assert_eq!(data["comment"]["_id"], data["vote"]["commentId"]);
            }
            other => panic!("unknown event type {other}"),
        }
    }
}

fn site_comments(n: u64) -> Vec<SiteComment> {
    (1..=n)
        .map(|i| SiteComment {
            local_id: i,
            post_id: 10 + i % 3,
            // Every fourth comment replies to the one before it.
            parent_local: (i % 4 == 0).then(|| i - 1),
            author: if i % 2 == 0 {
                "Zoë".into()
            } else {
                "A WordPress Commenter".into()
            },
            email: if i % 5 == 0 {
                String::new()
            } else {
                format!("c{i}@example.com")
            },
            html: format!("<p>Comment {i} with a <a href=\"https://example.com/{i}\">link</a></p>"),
            date_gmt: format!("2024-05-01 12:{:02}:{:02}", i / 60 % 60, i % 60),
            karma: (i % 3) as i64,
            approved: i % 7 != 0,
            hub_id: None,
        })
        .collect()
}

/// A comment written on the hub side for a post (the WordPress widget sets `meta.wpPostId`).
async fn widget_comment(hub: &TestHub, t: &Tenant, post: u64, text: &str) -> String {
    let (s, v) = hub
        .api(&t.key)
        .create_comment(
            json!({"urlId": post.to_string(), "commenterName": "Visitor", "comment": text,
                        "meta": {"wpPostId": post, "wpUserId": 0}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["comment"]["_id"].as_str().unwrap().to_owned()
}

/// The hub's comments of a tenant by plugin id.
async fn hub_comments(hub: &TestHub, t: &Tenant, posts: &[u64]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for p in posts {
        let (_, v) = hub.api(&t.key).comments(&format!("urlId={p}")).await;
        for c in v["comments"].as_array().unwrap() {
            if let Some(ext) = c["externalId"].as_str() {
                out.insert(ext.to_owned(), c.clone());
            }
        }
    }
    out
}

async fn run_steps(style: CursorStyle, acknowledge_first: bool, token: &str) {
    let hub = TestHub::start(BACKEND).await;
    let t = hub.tenant_owning("Blog", &["blog.example.com"]).await;
    // The site's SSO key: a secret of its domain, which the admin lets the plugin read.
    let (sso_key, _) = hub.api(&t.key).create_secret_for("blog.example.com").await;
    let allow = Some(json!({"allowApiSecret": true}));
    let mut site = Plugin::new(&hub, token, style, site_comments(230));

    // Steps 1–2: the token, acknowledged before or after the plugin's first PUT.
    if !acknowledge_first {
        assert_eq!(
            site.register("https://blog.example.com/blog", "wordpress")
                .await,
            None
        );
    }
    let (s, v) = hub.api(&t.key).acknowledge(token, allow.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let tenant = site
        .register("https://blog.example.com/blog", "wordpress")
        .await;
    assert_eq!(tenant.as_deref(), Some(t.id.as_str()));

    // Step 3: ticks until the hub stops asking for comments.
    for _ in 0..10 {
        site.tick().await;
        if site.sync_done {
            break;
        }
    }
    assert!(site.sync_done, "SetSyncDone after the last batch");
    assert!(
        site.comments.iter().all(|c| c.hub_id.is_some()),
        "every comment mapped"
    );
    let stored = hub_comments(&hub, &t, &[10, 11, 12]).await;
    assert_eq!(stored.len(), 230);
    for c in &site.comments {
        let h = &stored[&c.local_id.to_string()];
        assert_eq!(h["_id"].as_str(), c.hub_id.as_deref());
        assert_eq!(h["urlId"], c.post_id.to_string());
        assert_eq!(h["commenterName"], c.author.as_str());
        assert_eq!(h["comment"], c.html.as_str(), "slashes unescaped");
        // The tenant API writes epoch ms, as the official SDKs read it.
        let iso = format!("{}.000Z", c.date_gmt.replace(' ', "T"));
        assert_eq!(h["date"], common::iso_ms(&iso));
        assert_eq!(h["votes"], c.karma);
        assert_eq!(h["approved"], c.approved);
        assert_eq!(h["verified"], !c.email.is_empty());
        assert_eq!(h["notificationSentForParent"], true);
        let parent = c
            .parent_local
            .and_then(|p| site.comments.iter().find(|x| x.local_id == p))
            .and_then(|p| p.hub_id.clone());
        assert_eq!(h["parentId"].as_str(), parent.as_deref());
    }

    // Step 4: comments written on the hub come down as events, many within one second.
    let mut written = Vec::new();
    for i in 0..40 {
        written.push(widget_comment(&hub, &t, 10 + i % 3, &format!("From the widget {i}")).await);
    }
    let (s, v) = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/comments/{}", written[0]),
            Some(&t.key),
            Some(json!({"comment": "edited on the hub"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    hub.call(
        Method::DELETE,
        &format!("/api/v1/comments/{}", written[1]),
        Some(&t.key),
        None,
    )
    .await;
    hub.call(
        Method::POST,
        &format!("/api/v1/comments/{}/votes", written[2]),
        Some(&t.key),
        Some(json!({"direction": 1, "userId": "v"})),
    )
    .await;
    // A comment not from the widget: the plugin skips it.
    hub.comment(&t, "10", "no meta").await;
    for _ in 0..3 {
        site.tick().await;
    }
    let from_hub: BTreeMap<String, SiteComment> = site
        .comments
        .iter()
        .filter(|c| c.local_id > 230)
        .map(|c| (c.hub_id.clone().unwrap(), c.clone()))
        .collect();
    assert_eq!(
        from_hub.len(),
        39,
        "40 written, 1 deleted, the one without meta skipped"
    );
    assert!(!from_hub.contains_key(written[1].as_str()));
    assert_eq!(from_hub[written[0].as_str()].html, "edited on the hub");
    assert!(from_hub.values().all(|c| c.author == "Visitor"));
    // Caught up: an idle tick asks for nothing more than a floored cursor's repeat allows.
    site.tick().await;
    assert!(
        site.statuses.iter().all(|s| *s == 200),
        "{:?}",
        site.statuses
    );

    // The download ("sync to WordPress") and the id mappings it leads to.
    let mut got = Vec::new();
    let mut first = true;
    loop {
        let q = if first {
            format!("/comments?token={token}&includeCount=true")
        } else {
            format!("/comments?token={token}&skip={}", got.len())
        };
        let v = site.call(Method::GET, &q, None).await;
        assert_eq!(v["status"], "success");
        if first {
            assert_eq!(v["totalCount"], 230 + 39 + 1);
            first = false;
        }
        got.extend(v["comments"].as_array().unwrap().iter().cloned());
        if v["hasMore"] != true {
            break;
        }
    }
    assert_eq!(got.len(), 270);
    let mappings: Vec<Value> = site
        .comments
        .iter()
        .filter(|c| c.local_id > 230)
        .map(|c| json!({"fcId": c.hub_id, "wpId": c.local_id}))
        .collect();
    let v = site
        .call(
            Method::PATCH,
            &format!("/comment-ids?token={token}"),
            Some(json!({"mappings": mappings}).to_string()),
        )
        .await;
    assert_eq!(
        (v["status"].as_str(), v["updated"].as_u64()),
        (Some("success"), Some(39))
    );
    let c = &from_hub[written[5].as_str()];
    let (_, v) = hub
        .call(
            Method::GET,
            &format!("/api/v1/comments?urlId={}", c.post_id),
            Some(&t.key),
            None,
        )
        .await;
    let h = items(&v["comments"])
        .find(|x| x["_id"] == written[5].as_str())
        .unwrap();
    assert_eq!(h["meta"]["wpId"], c.local_id.to_string());
    // The tenant API writes WordPress' ids as text, as the official SDKs read them.
    assert_eq!(h["meta"]["wpPostId"], c.post_id.to_string());
    // The SSO key.
    let v = site
        .call(Method::GET, &format!("/api-secret?token={token}"), None)
        .await;
    assert_eq!(
        (v["status"].as_str(), v["secret"].as_str()),
        (Some("success"), Some(sso_key.as_str()))
    );
    assert!(
        site.statuses.iter().all(|s| *s == 200),
        "{:?}",
        site.statuses
    );
}

#[tokio::test]
async fn wordpress_with_a_floored_millisecond_cursor() {
    run_steps(CursorStyle::FlooredMillis, false, "65f1c2a3b4d5e6.12345678").await;
}

#[tokio::test]
async fn the_php_core_with_a_seconds_cursor() {
    run_steps(CursorStyle::Seconds, false, "5f0c8a1b2c3d4").await;
}

#[tokio::test]
async fn the_node_core_with_an_iso_cursor_acknowledged_before_its_first_put() {
    run_steps(
        CursorStyle::Iso,
        true,
        "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
    )
    .await;
}
