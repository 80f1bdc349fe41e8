//! A typed client of the hub's tenant API for the tests, in the manner of svix's test client:
//! one method per route, named for what it does, so a test reads `api.delete_comment(id)`
//! rather than building the method, path, key and body by hand. Each method answers the
//! status and the JSON body: tests assert on refusals as much as on successes.

use super::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// What every call answers: the status and the JSON body.
pub type Answer = (StatusCode, Value);

/// The tenant API of `hub` with one API secret.
#[derive(Clone, Copy)]
pub struct TenantApi<'h> {
    hub: &'h TestHub,
    key: &'h str,
}

impl TestHub {
    /// The tenant API as the holder of `key` calls it.
    pub fn api<'h>(&'h self, key: &'h str) -> TenantApi<'h> {
        TenantApi { hub: self, key }
    }
}

/// `path`, with `?query` when the query is not empty.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

impl TenantApi<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.hub.call(method, path, Some(self.key), body).await
    }

    // ---------- comments and votes ----------

    /// `POST /api/v1/comments`.
    pub async fn create_comment(&self, body: Value) -> Answer {
        self.send(Method::POST, "/api/v1/comments", Some(body))
            .await
    }

    /// `GET /api/v1/comments?query`.
    pub async fn comments(&self, query: &str) -> Answer {
        let path = with_query("/api/v1/comments", query);
        self.send(Method::GET, &path, None).await
    }

    /// `PATCH /api/v1/comments/{id}`.
    pub async fn update_comment(&self, id: &str, body: Value) -> Answer {
        let path = format!("/api/v1/comments/{id}");
        self.send(Method::PATCH, &path, Some(body)).await
    }

    /// `DELETE /api/v1/comments/{id}`.
    pub async fn delete_comment(&self, id: &str) -> Answer {
        let path = format!("/api/v1/comments/{id}");
        self.send(Method::DELETE, &path, None).await
    }

    /// `POST /api/v1/comments/{id}/votes`.
    pub async fn vote(&self, id: &str, body: Value) -> Answer {
        let path = format!("/api/v1/comments/{id}/votes");
        self.send(Method::POST, &path, Some(body)).await
    }

    /// `DELETE /api/v1/votes/{id}`.
    pub async fn delete_vote(&self, id: &str) -> Answer {
        let path = format!("/api/v1/votes/{id}");
        self.send(Method::DELETE, &path, None).await
    }

    // ---------- API secrets ----------

    /// `GET /api/v1/api-secrets`.
    pub async fn secrets(&self) -> Answer {
        self.send(Method::GET, "/api/v1/api-secrets", None).await
    }

    /// `POST /api/v1/api-secrets`.
    pub async fn create_secret(&self, body: Value) -> Answer {
        self.send(Method::POST, "/api/v1/api-secrets", Some(body))
            .await
    }

    /// `POST /api/v1/api-secrets` for `domain`, which must succeed: the new secret in clear,
    /// and its id.
    pub async fn create_secret_for(&self, domain: &str) -> (String, String) {
        let (s, v) = self.create_secret(json!({ "domain": domain })).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let secret = &v["apiSecret"];
        (
            secret["secret"].as_str().unwrap().to_owned(),
            secret["id"].as_str().unwrap().to_owned(),
        )
    }

    /// `DELETE /api/v1/api-secrets/{id}`.
    pub async fn delete_secret(&self, id: &str) -> Answer {
        let path = format!("/api/v1/api-secrets/{id}");
        self.send(Method::DELETE, &path, None).await
    }

    /// `POST /api/v1/api-secrets/{id}/rotate`.
    pub async fn rotate_secret(&self, id: &str, body: Value) -> Answer {
        let path = format!("/api/v1/api-secrets/{id}/rotate");
        self.send(Method::POST, &path, Some(body)).await
    }

    /// `GET /api/v1/api-secrets/rotations`.
    pub async fn rotations(&self) -> Answer {
        self.send(Method::GET, "/api/v1/api-secrets/rotations", None)
            .await
    }

    // ---------- integration tokens ----------

    /// `GET /api/v1/integrations`.
    pub async fn integrations(&self) -> Answer {
        self.send(Method::GET, "/api/v1/integrations", None).await
    }

    /// `POST /api/v1/integrations/{token}/acknowledge`, with a body or none.
    pub async fn acknowledge(&self, token: &str, body: Option<Value>) -> Answer {
        let path = format!("/api/v1/integrations/{token}/acknowledge");
        self.send(Method::POST, &path, body).await
    }

    /// `POST /api/v1/integrations/{token}/resync`.
    pub async fn resync(&self, token: &str) -> Answer {
        let path = format!("/api/v1/integrations/{token}/resync");
        self.send(Method::POST, &path, None).await
    }

    /// `DELETE /api/v1/integrations/{token}`.
    pub async fn revoke(&self, token: &str) -> Answer {
        let path = format!("/api/v1/integrations/{token}");
        self.send(Method::DELETE, &path, None).await
    }

    // ---------- webhooks ----------

    /// `GET /api/v1/webhook-config?query`.
    pub async fn webhook_config(&self, query: &str) -> Answer {
        let path = with_query("/api/v1/webhook-config", query);
        self.send(Method::GET, &path, None).await
    }

    /// `PUT /api/v1/webhook-config`.
    pub async fn put_webhook_config(&self, body: Value) -> Answer {
        self.send(Method::PUT, "/api/v1/webhook-config", Some(body))
            .await
    }

    /// `POST /api/v1/webhook-test`.
    pub async fn send_test(&self, body: Value) -> Answer {
        self.send(Method::POST, "/api/v1/webhook-test", Some(body))
            .await
    }

    /// `POST /api/v1/webhook-test` of `kind` for `domain`, which must answer 200: the report
    /// of the test payload and its forged twin.
    pub async fn send_test_ok(&self, kind: &str, domain: &str) -> Value {
        let (s, v) = self
            .send_test(json!({ "kind": kind, "domain": domain }))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// `POST /api/v1/webhook-test` of a `create` payload to `url`, which must answer 200: the
    /// report.
    pub async fn send_test_to(&self, url: &str) -> Value {
        let (s, v) = self
            .send_test(json!({ "kind": "create", "url": url }))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// `GET /api/v1/webhook-deliveries?query`.
    pub async fn deliveries(&self, query: &str) -> Answer {
        let path = with_query("/api/v1/webhook-deliveries", query);
        self.send(Method::GET, &path, None).await
    }

    /// `GET /api/v1/webhook-deliveries/{id}`.
    pub async fn delivery(&self, id: &str) -> Answer {
        let path = format!("/api/v1/webhook-deliveries/{id}");
        self.send(Method::GET, &path, None).await
    }

    /// `POST /api/v1/webhook-deliveries/{id}/cancel`.
    pub async fn cancel_delivery(&self, id: &str) -> Answer {
        let path = format!("/api/v1/webhook-deliveries/{id}/cancel");
        self.send(Method::POST, &path, None).await
    }

    /// `POST /api/v1/webhook-deliveries/{id}/retry`.
    pub async fn retry_delivery(&self, id: &str) -> Answer {
        let path = format!("/api/v1/webhook-deliveries/{id}/retry");
        self.send(Method::POST, &path, None).await
    }

    /// `POST /api/v1/webhook-deliveries/retry-failed`.
    pub async fn retry_failed(&self, body: Value) -> Answer {
        let path = "/api/v1/webhook-deliveries/retry-failed";
        self.send(Method::POST, path, Some(body)).await
    }

    /// `POST /api/v1/webhooks`.
    pub async fn subscribe(&self, body: Value) -> Answer {
        self.send(Method::POST, "/api/v1/webhooks", Some(body))
            .await
    }

    /// `GET /api/v1/webhooks`.
    pub async fn subscriptions(&self) -> Answer {
        self.send(Method::GET, "/api/v1/webhooks", None).await
    }

    /// `DELETE /api/v1/webhooks/{id}`.
    pub async fn unsubscribe(&self, id: &str) -> Answer {
        let path = format!("/api/v1/webhooks/{id}");
        self.send(Method::DELETE, &path, None).await
    }

    /// `POST /api/v1/webhooks/{id}/enable`.
    pub async fn enable_subscription(&self, id: &str) -> Answer {
        let path = format!("/api/v1/webhooks/{id}/enable");
        self.send(Method::POST, &path, None).await
    }

    /// `POST /api/v1/webhooks/{id}/disable`.
    pub async fn disable_subscription(&self, id: &str) -> Answer {
        let path = format!("/api/v1/webhooks/{id}/disable");
        self.send(Method::POST, &path, None).await
    }

    /// `GET /api/v1/webhooks/sample-payloads?query`.
    pub async fn sample_payloads(&self, query: &str) -> Answer {
        let path = with_query("/api/v1/webhooks/sample-payloads", query);
        self.send(Method::GET, &path, None).await
    }

    // ---------- imports ----------

    /// `POST /api/v1/imports?query` with `file` as the body.
    pub async fn start_import(&self, query: &str, file: &str) -> Answer {
        let res = self
            .hub
            .client
            .post(format!(
                "{}{}",
                self.hub.base,
                with_query("/api/v1/imports", query)
            ))
            .header("x-api-key", self.key)
            .body(file.to_owned())
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap())
    }

    /// `GET /api/v1/imports/{id}`.
    pub async fn import(&self, id: &str) -> Answer {
        self.send(Method::GET, &format!("/api/v1/imports/{id}"), None)
            .await
    }

    /// `GET /api/v1/imports`.
    pub async fn imports(&self) -> Answer {
        self.send(Method::GET, "/api/v1/imports", None).await
    }

    /// `GET /api/v1/export?query`: the status, the content type and the body as text.
    pub async fn export(&self, query: &str) -> (StatusCode, String, String) {
        let res = self
            .hub
            .client
            .get(format!(
                "{}{}",
                self.hub.base,
                with_query("/api/v1/export", query)
            ))
            .header("x-api-key", self.key)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let kind = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, kind, res.text().await.unwrap())
    }

    /// Starts an import and waits for its end; the import's record.
    pub async fn run_import(&self, query: &str, file: &str) -> Value {
        let (s, v) = self.start_import(query, file).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let id = v["import"]["id"].as_str().unwrap().to_owned();
        for _ in 0..400 {
            let (s, v) = self.import(&id).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            if v["import"]["state"] != "running" {
                return v["import"].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("import {id} never ended");
    }
}
