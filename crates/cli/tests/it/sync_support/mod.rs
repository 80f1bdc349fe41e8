//! A real hub on 127.0.0.1:0 (temporary SQLite file) for the integration end-to-end tests, and
//! the comparison "the mirror equals the hub on every field both hold".
#![allow(dead_code)]

use fastcomments_hub::ids::TenantId;
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::{Clock, HubConfig, ManualClock, RunningHub, SystemClock};
use fastcomments_integration::{MirrorComment, Origin, SqliteMirror};
use fastcomments_protocol::{Comment, UploadComment};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub struct TestHub {
    pub running: RunningHub,
    pub base: String,
    pub http: reqwest::Client,
    pub tenant_id: TenantId,
    pub key: String,
    pub dir: tempfile::TempDir,
}

impl TestHub {
    pub async fn start(config: HubConfig) -> TestHub {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn start_manual(config: HubConfig, start_ms: i64) -> (TestHub, ManualClock) {
        let clock = ManualClock::new(start_ms);
        (
            Self::start_with_clock(config, Arc::new(clock.clone())).await,
            clock,
        )
    }

    pub async fn start_with_clock(config: HubConfig, clock: Arc<dyn Clock>) -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hub.db")).await.unwrap();
        let running = RunningHub::bind_with_clock(
            "127.0.0.1:0",
            Arc::new(store),
            clock,
            config,
            std::future::pending(),
        )
        .await
        .unwrap();
        let (tenant, secret) = running
            .hub
            .create_tenant("Blog", vec!["blog.example".into()])
            .await
            .unwrap();
        TestHub {
            base: running.url(),
            running,
            http: reqwest::Client::new(),
            tenant_id: tenant.id,
            key: secret.secret,
            dir,
        }
    }

    /// A tenant-API call that must succeed.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .header("x-api-key", &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let v: Value = res.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    pub async fn acknowledge(&self, token: &str, skip: bool) {
        self.api(
            Method::POST,
            &format!("/api/v1/integrations/{token}/acknowledge"),
            Some(json!({ "skipInitialSync": skip })),
        )
        .await;
    }

    /// Acknowledges a token a child process registers: it may not have reached the hub yet.
    pub async fn acknowledge_when_registered(&self, token: &str, skip: bool) {
        let url = format!("{}/api/v1/integrations/{token}/acknowledge", self.base);
        for _ in 0..2_000 {
            let res = self
                .http
                .post(&url)
                .header("x-api-key", &self.key)
                .json(&json!({ "skipInitialSync": skip }))
                .send()
                .await
                .unwrap();
            if res.status().is_success() {
                return;
            }
            assert_eq!(res.status(), reqwest::StatusCode::NOT_FOUND);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("token {token} never registered");
    }

    pub async fn integrations(&self) -> Vec<Value> {
        let v = self.api(Method::GET, "/api/v1/integrations", None).await;
        v["integrations"].as_array().unwrap().clone()
    }

    pub async fn create_comment(&self, url_id: &str, text: &str, parent: Option<&str>) -> Comment {
        let mut body = json!({"urlId": url_id, "commenterName": "Ünal Δ", "comment": text});
        if let Some(p) = parent {
            body["parentId"] = json!(p);
        }
        let v = self.api(Method::POST, "/api/v1/comments", Some(body)).await;
        serde_json::from_value(v["comment"].clone()).unwrap()
    }

    pub async fn edit_comment(&self, id: &str, text: &str) {
        self.api(
            Method::PATCH,
            &format!("/api/v1/comments/{id}"),
            Some(json!({ "comment": text })),
        )
        .await;
    }

    pub async fn delete_comment(&self, id: &str) {
        self.api(Method::DELETE, &format!("/api/v1/comments/{id}"), None)
            .await;
    }

    /// Returns the vote id.
    pub async fn vote(&self, comment_id: &str, direction: i64, user: &str) -> String {
        let v = self
            .api(
                Method::POST,
                &format!("/api/v1/comments/{comment_id}/votes"),
                Some(json!({"direction": direction, "userId": user})),
            )
            .await;
        v["vote"]["_id"].as_str().unwrap().to_owned()
    }

    pub async fn delete_vote(&self, vote_id: &str) {
        self.api(Method::DELETE, &format!("/api/v1/votes/{vote_id}"), None)
            .await;
    }

    /// Every comment of the tenant, straight from the hub's store.
    pub async fn comments(&self) -> Vec<Comment> {
        self.running
            .hub
            .reads()
            .comments_page(&self.tenant_id, 0, 10_000_000)
            .await
            .unwrap()
    }

    /// Registers and acknowledges another integration token (a second site) and uploads
    /// `comments` with it: every one is an event for the token under test.
    pub async fn upload_as_other_site(&self, token: &str, comments: &[UploadComment]) {
        let url = format!("{}/integrations/v1/token?token={token}", self.base);
        assert!(self
            .http
            .put(&url)
            .send()
            .await
            .unwrap()
            .status()
            .is_success());
        self.acknowledge(token, false).await;
        let res = self
            .http
            .post(format!(
                "{}/integrations/v1/comments?token={token}",
                self.base
            ))
            .json(&json!({"countRemaining": 1, "comments": comments}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }
}

/// Local comments for step 3: a reply before its parent (keyset order), equal dates,
/// non-ASCII text, numbers as strings, plus `filler` plain ones.
pub fn local_comments(filler: usize) -> Vec<UploadComment> {
    let mut v: Vec<UploadComment> = vec![
        serde_json::from_value(json!({
            "externalId": "reply-1", "externalParentId": "root-1", "urlId": "post/1",
            "commenterName": "Jürgen", "commenterEmail": "j@example.com",
            "comment": "Antwort zuerst — 返信 🙂", "date": "2024-02-01 10:00:00"
        }))
        .unwrap(),
        serde_json::from_value(json!({
            "externalId": "root-1", "urlId": "post/1", "commenterName": "Ада",
            "comment": "<p>Корень, «кавычки» &amp; emoji 🌍</p>", "date": "2024-02-01 10:00:00",
            "votes": "2", "votesUp": "3", "votesDown": 1
        }))
        .unwrap(),
        serde_json::from_value(json!({
            "externalId": "same-date", "urlId": "post/1", "commenterName": "Ζωή",
            "comment": "same second as the others", "date": "2024-02-01T10:00:00Z"
        }))
        .unwrap(),
    ];
    for i in 0..filler {
        v.push(UploadComment {
            external_id: Some(format!("f-{i}")),
            url_id: Some(format!("post/{}", 2 + i % 7)),
            commenter_name: Some(format!("Reader {i}")),
            comment: format!("filler comment {i} — ñ"),
            date: Some(fastcomments_protocol::Millis(
                1_700_000_000_000 + (i as i64 / 3) * 1000,
            )),
            ..Default::default()
        });
    }
    v
}

fn check_opt<T: PartialEq + std::fmt::Debug>(what: &str, id: &str, mirror: &Option<T>, hub: &T) {
    if let Some(m) = mirror {
        assert_eq!(m, hub, "{what} of {id}");
    }
}

/// Every hub comment is in the mirror once, equal on every field both hold; the mirror holds
/// nothing else.
pub async fn assert_mirror_equals_hub(mirror: &SqliteMirror, hub: &TestHub) {
    let hub_comments = hub.comments().await;
    let rows = mirror.comments().await.unwrap();
    let mut by_hub: HashMap<&str, &MirrorComment> = HashMap::new();
    for r in &rows {
        let id = r
            .hub_id
            .as_deref()
            .unwrap_or_else(|| panic!("mirror row without a hub id: {r:?}"));
        assert!(
            by_hub.insert(id, r).is_none(),
            "hub id {id} twice in the mirror"
        );
    }
    assert_eq!(
        rows.len(),
        hub_comments.len(),
        "mirror and hub hold different comments"
    );
    for h in &hub_comments {
        let m = by_hub
            .get(h.id.as_str())
            .unwrap_or_else(|| panic!("hub comment {} missing from the mirror", h.id));
        let id = h.id.as_str();
        assert_eq!(m.url_id, h.url_id, "urlId of {id}");
        assert_eq!(m.commenter_name, h.commenter_name, "name of {id}");
        assert_eq!(m.comment, h.comment, "text of {id}");
        assert_eq!(m.parent_hub_id, h.parent_id, "parent of {id}");
        check_opt("html", id, &m.comment_html, &h.comment_html);
        check_opt("date", id, &m.date, &h.date);
        check_opt("votes", id, &m.votes, &h.votes);
        check_opt("votesUp", id, &m.votes_up, &h.votes_up);
        check_opt("votesDown", id, &m.votes_down, &h.votes_down);
        check_opt("approved", id, &m.approved, &h.approved);
        check_opt("reviewed", id, &m.reviewed, &h.reviewed);
        check_opt("isSpam", id, &m.is_spam, &h.is_spam);
        if m.external_id.is_some() || m.origin == Origin::Hub {
            assert_eq!(m.external_id, h.external_id, "externalId of {id}");
        }
        match m.origin {
            Origin::Hub => {
                assert_eq!(m.commenter_email, h.commenter_email, "email of {id}");
                // The raw snapshot is the hub's comment; counts move with vote events since.
                let mut raw: Comment = serde_json::from_value(m.raw.clone()).unwrap();
                raw.votes = h.votes;
                raw.votes_up = h.votes_up;
                raw.votes_down = h.votes_down;
                assert_eq!(&raw, h, "raw snapshot of {id}");
            }
            Origin::Local => {
                if m.commenter_email.is_some() {
                    assert_eq!(m.commenter_email, h.commenter_email, "email of {id}");
                }
                // Votes not given at import are 0 on the hub (the mirror holds none).
                if m.votes.is_none() {
                    assert_eq!(
                        (h.votes, h.votes_up, h.votes_down),
                        (0, 0, 0),
                        "votes of {id}"
                    );
                }
            }
        }
    }
}
