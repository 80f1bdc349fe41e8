//! Webhooks: per domain (each of the tenant's, and `*` for all), per event kind, the URL and
//! the method (create/update `POST|PUT`, default `PUT`; delete `DELETE|POST|PUT`, default
//! `DELETE`), and "Send Test Payload" per kind with the URL and method as chosen, before saving
//! (the page shows the request's headers as sent, values included). Saving and
//! testing are the actions the API calls for `PUT /api/v1/webhook-config` and `POST
//! /api/v1/webhook-test` ([`Hub::put_webhook_config`](crate::hub::Hub::put_webhook_config),
//! [`test_send`]), so the rules and the test's signed request and forged twin are the same.

use super::session::Flash;
use super::{redirect_with, render, when, Layout, PageState, TenantPage};
use crate::delivery::test_send::{self, TestReport, TestRequest};
use crate::error::ApiError;
use crate::hub::webhooks::{ConfigRequest, Field, TargetRequest};
use crate::ids::TenantId;
use crate::records::WebhookConfig;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use fastcomments_protocol::{HttpMethod, WebhookEventKind};
use serde::Deserialize;

const METHODS: [HttpMethod; 3] = [HttpMethod::Post, HttpMethod::Put, HttpMethod::Delete];

/// One kind's row of a domain's form.
#[derive(Debug)]
pub struct KindForm {
    kind: &'static str,
    label: &'static str,
    url: String,
    /// `(method, selected)` for the allowed methods.
    methods: Vec<(&'static str, bool)>,
    default_method: &'static str,
    error: Option<String>,
    test: Option<TestView>,
}

/// What a test payload sent and got back.
#[derive(Debug)]
pub struct TestView {
    ok: bool,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    status: String,
    body: String,
    duration_ms: i64,
    at: String,
    error: Option<String>,
    forged: Option<String>,
    warning: Option<String>,
}

/// One domain's form.
#[derive(Debug)]
pub struct DomainForm {
    domain: String,
    key: String,
    kinds: Vec<KindForm>,
    legacy: bool,
    import: bool,
    configured: bool,
    error: Option<String>,
}

/// The webhooks page.
#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    domains: Vec<DomainForm>,
}

fn label(kind: WebhookEventKind) -> &'static str {
    match kind {
        WebhookEventKind::Create => "Comment created",
        WebhookEventKind::Update => "Comment updated (votes too)",
        WebhookEventKind::Delete => "Comment deleted",
    }
}

fn kind_form(kind: WebhookEventKind, url: String, method: Option<HttpMethod>) -> KindForm {
    let chosen = method
        .filter(|m| kind.allows(*m))
        .unwrap_or_else(|| kind.default_method());
    KindForm {
        kind: kind.as_str(),
        label: label(kind),
        url,
        methods: METHODS
            .iter()
            .filter(|m| kind.allows(**m))
            .map(|m| (m.as_str(), *m == chosen))
            .collect(),
        default_method: kind.default_method().as_str(),
        error: None,
        test: None,
    }
}

fn key_of(domain: &str) -> String {
    if domain == "*" {
        "all".into()
    } else {
        domain.to_owned()
    }
}

fn from_config(domain: &str, c: Option<&WebhookConfig>) -> DomainForm {
    DomainForm {
        domain: domain.to_owned(),
        key: key_of(domain),
        kinds: WebhookEventKind::ALL
            .iter()
            .map(|k| {
                let t = c.and_then(|c| c.target(*k));
                kind_form(
                    *k,
                    t.map(|t| t.url.clone()).unwrap_or_default(),
                    t.map(|t| t.method),
                )
            })
            .collect(),
        legacy: c.is_some_and(|c| c.legacy_token_header),
        import: c.is_some_and(|c| c.fire_on_import),
        configured: c.is_some(),
        error: None,
    }
}

/// Every domain's form as stored: `*` first, then the tenant's domains, then any other
/// configured one (a subdomain).
async fn stored_forms(state: &PageState, tenant: &TenantId) -> Result<Vec<DomainForm>, ApiError> {
    let configs = state.hub.reads().webhook_configs(tenant).await?;
    let owned = state
        .hub
        .reads()
        .tenant(tenant)
        .await?
        .map(|t| t.domains)
        .unwrap_or_default();
    let mut names = vec!["*".to_owned()];
    names.extend(owned);
    for c in &configs {
        if !names.contains(&c.domain) {
            names.push(c.domain.clone());
        }
    }
    Ok(names
        .iter()
        .map(|d| from_config(d, configs.iter().find(|c| &c.domain == d)))
        .collect())
}

async fn page(
    state: &PageState,
    layout: Layout,
    replace: Option<DomainForm>,
    status: StatusCode,
) -> Response {
    let mut domains = match stored_forms(state, &layout.tenant).await {
        Ok(d) => d,
        Err(e) => return super::error_page(e),
    };
    if let Some(r) = replace {
        match domains.iter_mut().find(|d| d.domain == r.domain) {
            Some(slot) => *slot = r,
            None => domains.push(r),
        }
    }
    render(status, &WebhooksPage { layout, domains })
}

/// `GET /admin/webhooks`.
pub async fn show(TenantPage { state, admin }: TenantPage) -> Response {
    page(
        &state,
        Layout::new(&admin, "webhooks"),
        None,
        StatusCode::OK,
    )
    .await
}

/// A posted domain form (also the test's: `test` names the kind whose button was pressed).
#[derive(Debug, Deserialize)]
pub struct DomainInput {
    domain: String,
    #[serde(default)]
    create_url: String,
    #[serde(default)]
    create_method: Option<String>,
    #[serde(default)]
    update_url: String,
    #[serde(default)]
    update_method: Option<String>,
    #[serde(default)]
    delete_url: String,
    #[serde(default)]
    delete_method: Option<String>,
    #[serde(default)]
    legacy: Option<String>,
    #[serde(default)]
    import: Option<String>,
    #[serde(default)]
    test: Option<String>,
}

impl DomainInput {
    fn target(&self, kind: WebhookEventKind) -> (&str, Option<&str>) {
        match kind {
            WebhookEventKind::Create => (&self.create_url, self.create_method.as_deref()),
            WebhookEventKind::Update => (&self.update_url, self.update_method.as_deref()),
            WebhookEventKind::Delete => (&self.delete_url, self.delete_method.as_deref()),
        }
    }

    /// The form as typed, to show again.
    fn as_typed(&self) -> DomainForm {
        DomainForm {
            domain: self.domain.clone(),
            key: key_of(&self.domain),
            kinds: WebhookEventKind::ALL
                .iter()
                .map(|k| {
                    let (url, method) = self.target(*k);
                    kind_form(*k, url.to_owned(), method.and_then(HttpMethod::parse))
                })
                .collect(),
            legacy: self.legacy.is_some(),
            import: self.import.is_some(),
            configured: true,
            error: None,
        }
    }

    /// The configuration as the form gives it.
    fn config_request(&self) -> ConfigRequest {
        let target = |kind| {
            let (url, method) = self.target(kind);
            (!url.trim().is_empty()).then(|| TargetRequest {
                url: url.trim().to_owned(),
                method: method.map(str::to_owned),
            })
        };
        ConfigRequest {
            domain: self.domain.clone(),
            create: target(WebhookEventKind::Create),
            update: target(WebhookEventKind::Update),
            delete: target(WebhookEventKind::Delete),
            legacy_token_header: self.legacy.is_some(),
            fire_on_import: self.import.is_some(),
        }
    }
}

/// `POST /admin/webhooks`: saves one domain's configuration.
pub async fn save(
    TenantPage { state, admin }: TenantPage,
    Form(input): Form<DomainInput>,
) -> Response {
    let saved = state
        .hub
        .put_webhook_config(&admin.tenant_auth(), input.config_request())
        .await;
    match saved {
        Ok(_) => {
            redirect_with(
                &state,
                &admin,
                Flash::Done(format!("Saved the webhooks of {}.", shown(&input.domain))),
                &format!("/admin/webhooks#d-{}", key_of(&input.domain)),
            )
            .await
        }
        Err(r) if r.error.status.is_client_error() => {
            // A kind's URL or method goes beside that kind's field; anything else above the
            // form. What was typed stays.
            let mut form = input.as_typed();
            let reason = r.error.reason;
            let slot = match r.field {
                Field::Target(kind) => form.kinds.iter_mut().find(|f| f.kind == kind.as_str()),
                _ => None,
            };
            match slot {
                Some(f) => f.error = Some(reason),
                None => form.error = Some(reason),
            }
            let layout = Layout::new(&admin, "webhooks").with_error(format!(
                "Not saved: see the form of {}.",
                shown(&input.domain)
            ));
            page(&state, layout, Some(form), r.error.status).await
        }
        Err(r) => super::error_page(r.error),
    }
}

fn shown(domain: &str) -> String {
    if domain == "*" {
        "all domains".into()
    } else {
        domain.to_owned()
    }
}

/// `POST /admin/webhooks/test`: sends one kind's test payload to the URL as typed, and shows
/// the form again (unsaved, as typed) with what was sent and what came back.
pub async fn test(
    TenantPage { state, admin }: TenantPage,
    Form(input): Form<DomainInput>,
) -> Response {
    let Some(kind) = input.test.as_deref().and_then(WebhookEventKind::parse) else {
        return super::error_page(ApiError::invalid_body("no event kind to test"));
    };
    let (url, method) = input.target(kind);
    let request = TestRequest {
        kind: kind.as_str().to_owned(),
        domain: (input.domain != "*").then(|| input.domain.clone()),
        url: Some(url.trim())
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
        // The method and legacy header as chosen in the form, saved or not.
        method: method
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        legacy_token_header: Some(input.legacy.is_some()),
    };
    let mut form = input.as_typed();
    let layout = Layout::new(&admin, "webhooks");
    let sent = test_send::send_test(&state.hub, &admin.tenant_auth(), request).await;
    let Some(slot) = form.kinds.iter_mut().find(|f| f.kind == kind.as_str()) else {
        return super::error_page(ApiError::internal());
    };
    match sent {
        Ok(report) => slot.test = Some(view(report)),
        Err(e) if e.status.is_client_error() => slot.error = Some(e.reason),
        Err(e) => return super::error_page(e),
    }
    page(&state, layout, Some(form), StatusCode::OK).await
}

/// The page's view of a test's report.
fn view(report: TestReport) -> TestView {
    let warning = report.warning().map(str::to_owned);
    let status =
        |code: Option<i64>, none: &str| code.map_or_else(|| none.to_owned(), |s| s.to_string());
    let forged = report.forged.map(|(attempt, accepted)| {
        format!(
            "A second request signed with a wrong secret was answered {}: {}",
            status(attempt.status_code, "with no status"),
            if accepted {
                "accepted — the receiver does not verify signatures"
            } else {
                "refused, as a receiver that verifies signatures does"
            }
        )
    });
    let a = report.attempt;
    TestView {
        ok: report.ok,
        method: a.method,
        url: a.url,
        // As sent, values included: the signatures and ids a receiver's log can be matched with.
        headers: report.headers,
        status: status(a.status_code, "no answer"),
        body: a.response_body.unwrap_or_default(),
        duration_ms: a.duration_ms,
        at: when(a.at),
        error: a.error,
        forged,
        warning,
    }
}
