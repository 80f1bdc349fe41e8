//! Test payloads (`POST /api/v1/webhook-test` and the webhooks page's "Send Test Payload"):
//! one signed request now, to the configured target or a URL and method as typed, and when the
//! receiver accepted it the same payload signed with a wrong secret, to tell whether it
//! verifies signatures. Nothing is queued or logged in the store: the report is the answer.

use super::sender::{send_once, send_once_showing, Outgoing, Senders};
use crate::error::{ApiError, ApiResult};
use crate::hub::access::TenantAuth;
use crate::hub::Hub;
use crate::ids::{self, TenantId};
use crate::records::DeliveryAttempt;
use crate::rules::webhooks::method_for_kinds;
use crate::site_domain::normalize_domain;
use fastcomments_protocol::{DeleteTestPayload, Millis, WebhookComment, WebhookEventKind};

/// A test as asked for.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    /// `create`, `update` or `delete` (any accepted spelling).
    pub kind: String,
    /// The domain whose configuration is tested; `None`: a domain secret's own, else `*`'s.
    pub domain: Option<String>,
    /// Send here instead of the configured URL.
    pub url: Option<String>,
    /// Send with this method (one the kind allows) instead of the configured one.
    pub method: Option<String>,
    /// Send the legacy `token` header; `None`: as configured.
    pub legacy_token_header: Option<bool>,
}

/// What a test sent and got back.
#[derive(Debug)]
pub struct TestReport {
    /// The signed request's attempt.
    pub attempt: DeliveryAttempt,
    /// Its headers as sent (empty when it was never sent: no secret, a bad or refused URL).
    pub headers: Vec<(String, String)>,
    /// The receiver answered 2xx.
    pub ok: bool,
    /// The forged request's attempt and whether it was accepted (2xx); `None` when the first
    /// request was not accepted, so none was sent.
    pub forged: Option<(DeliveryAttempt, bool)>,
}

impl TestReport {
    /// The warning shown when the receiver accepted the forged request.
    pub fn warning(&self) -> Option<&'static str> {
        matches!(self.forged, Some((_, true))).then_some(
            "the receiver answered 2xx to a request signed with a wrong secret: it does not \
             verify the X-FastComments-Signature header, so anyone can send it webhooks",
        )
    }
}

/// A dummy comment for create/update test payloads.
pub fn dummy_comment(domain: Option<&str>) -> WebhookComment {
    let c = crate::rules::NewCommentInput {
        url_id: "fastcomments-webhook-test".into(),
        url: Some("https://example.com/webhook-test".into()),
        page_title: Some("Webhook test".into()),
        commenter_name: "Webhook Test".into(),
        commenter_email: None,
        // ASCII only: receivers that verify over re-serialised JSON (the old guide's Python
        // and PHP examples) then still pass, so a test says whether the key and URL are right.
        // Real comments are not ASCII; docs/webhooks.md says how to verify those.
        comment: "This is a test payload from FastComments.".into(),
        parent_id: None,
        user_id: None,
        domain: domain.map(str::to_owned),
        meta: None,
        ..Default::default()
    }
    .into_comment(&TenantId::from("test"), ids::object_id(), Millis::now());
    crate::rules::webhook_comment(&c)
}

/// Sends the test of `input` for the caller's tenant, within its secret's reach.
pub async fn send_test(hub: &Hub, auth: &TenantAuth, input: TestRequest) -> ApiResult<TestReport> {
    let kind = WebhookEventKind::parse(&input.kind).ok_or_else(|| {
        ApiError::invalid_body(format!(
            "kind must be create, update or delete, got {:?}",
            input.kind
        ))
    })?;
    let domain = match input.domain.as_deref() {
        Some(d) => Some(
            normalize_domain(d)
                .ok_or_else(|| ApiError::invalid_body(format!("not a domain: {d:?}")))?,
        ),
        // A domain's secret tests its own domain.
        None => auth.own_domain().map(str::to_owned),
    };
    if let Some(d) = &domain {
        hub.require_owned_domain(&auth.tenant_id, d).await?;
        auth.require_domain(Some(d))?;
    }
    let configs = hub.webhook_configs(&auth.tenant_id).await?;
    let config = match &domain {
        Some(d) => configs.iter().find(|c| &c.domain == d),
        None => None,
    }
    .or_else(|| configs.iter().find(|c| c.domain == "*"))
    .or_else(|| {
        if domain.is_none() {
            configs.first()
        } else {
            None
        }
    });
    let configured = config.and_then(|c| c.target(kind));
    let url = match (input.url, configured) {
        (Some(u), _) => u,
        (None, Some(t)) => t.url.clone(),
        (None, None) => {
            return Err(ApiError::invalid_body(
                "no URL given and none configured for this kind and domain",
            ))
        }
    };
    let method = match input.method.as_deref() {
        Some(m) => method_for_kinds(m, &[kind]).map_err(ApiError::invalid_body)?,
        None => configured
            .map(|t| t.method)
            .unwrap_or_else(|| kind.default_method()),
    };
    let body = match kind {
        WebhookEventKind::Delete => serde_json::to_vec(&DeleteTestPayload {
            id: ids::object_id(),
        }),
        _ => serde_json::to_vec(&dummy_comment(domain.as_deref())),
    }
    .map_err(|_| ApiError::internal())?;
    let senders = Senders::new(hub.config.webhook_timeout).map_err(|_| ApiError::internal())?;
    let delivery_id = format!("test-{}", ids::object_id());
    let out = Outgoing {
        delivery_id: &delivery_id,
        message_id: &delivery_id,
        tenant_id: &auth.tenant_id,
        domain: domain.as_deref(),
        url: &url,
        method,
        kind,
        legacy_token: input
            .legacy_token_header
            .unwrap_or_else(|| config.is_some_and(|c| c.legacy_token_header)),
        body: &body,
        attempt: 1,
        secret_override: None,
    };
    let (sent, attempt, headers) = send_once_showing(hub, &senders, &out).await;
    let ok = sent.is_success();
    let mut forged = None;
    if ok {
        let wrong = ids::api_secret();
        let forged_id = format!("{delivery_id}-forged");
        let forged_out = Outgoing {
            delivery_id: &forged_id,
            message_id: &forged_id,
            secret_override: Some(&wrong),
            ..out
        };
        let (sent, attempt) = send_once(hub, &senders, &forged_out).await;
        forged = Some((attempt, sent.is_success()));
    }
    Ok(TestReport {
        attempt,
        headers,
        ok,
        forged,
    })
}
