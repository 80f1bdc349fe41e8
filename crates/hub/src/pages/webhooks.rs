//! Webhooks: per domain (each of the tenant's, and `*` for all), per event kind, the URL and
//! the method (create/update `POST|PUT`, default `PUT`; delete `DELETE|POST|PUT`, default
//! `DELETE`), and "Send Test Payload" per kind with the URL and method as chosen, before saving
//! (the page shows the request's headers as sent, values included). Saving and
//! testing call the API's own handlers (`PUT /api/v1/webhook-config`, `POST
//! /api/v1/webhook-test`), so the rules and the test's signed request and forged twin are
//! theirs.

use super::session::Flash;
use super::{redirect_with, render, when, Admin, Layout, PageState};
use crate::api::extract::JsonBody;
use crate::api::webhooks as api;
use crate::error::ApiError;
use crate::store::WebhookConfig;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use fastcomments_protocol::{HttpMethod, WebhookEventKind};
use serde::Deserialize;
use serde_json::{json, Value};

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
async fn stored_forms(state: &PageState, tenant: &str) -> Result<Vec<DomainForm>, ApiError> {
    let configs = state.hub.store.webhook_configs(tenant).await?;
    let owned = state
        .hub
        .store
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
pub async fn show(State(state): State<PageState>, admin: Admin) -> Response {
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

    /// The API's body for `PUT /api/v1/webhook-config`.
    fn config_json(&self) -> Value {
        let mut body = json!({
            "domain": self.domain,
            "legacyTokenHeader": self.legacy.is_some(),
            "fireOnImport": self.import.is_some(),
        });
        for kind in WebhookEventKind::ALL {
            let (url, method) = self.target(kind);
            if !url.trim().is_empty() {
                body[kind.as_str()] = json!({ "url": url.trim(), "method": method });
            }
        }
        body
    }
}

/// `POST /admin/webhooks`: saves one domain's configuration.
pub async fn save(
    State(state): State<PageState>,
    admin: Admin,
    Form(input): Form<DomainInput>,
) -> Response {
    let body = match serde_json::from_value(input.config_json()) {
        Ok(b) => b,
        Err(e) => return super::error_page(ApiError::invalid_body(e.to_string())),
    };
    match api::put_config(
        State(state.hub.clone()),
        admin.tenant_auth(),
        JsonBody(body),
    )
    .await
    {
        Ok(_) => {
            redirect_with(
                &state,
                &admin,
                Flash::Done(format!("Saved the webhooks of {}.", shown(&input.domain))),
                &format!("/admin/webhooks#d-{}", key_of(&input.domain)),
            )
            .await
        }
        Err(e) if e.status.is_client_error() => {
            // The API names the kind first ("create: not an http(s) URL …"): the error goes
            // beside that field; anything else above the form. What was typed stays.
            let mut form = input.as_typed();
            let kind = WebhookEventKind::ALL
                .into_iter()
                .find(|k| e.reason.starts_with(&format!("{}:", k.as_str())));
            match kind.and_then(|k| form.kinds.iter_mut().find(|f| f.kind == k.as_str())) {
                Some(f) => f.error = Some(e.reason),
                None => form.error = Some(e.reason),
            }
            let layout = Layout::new(&admin, "webhooks").with_error(format!(
                "Not saved: see the form of {}.",
                shown(&input.domain)
            ));
            page(&state, layout, Some(form), e.status).await
        }
        Err(e) => super::error_page(e),
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
    State(state): State<PageState>,
    admin: Admin,
    Form(input): Form<DomainInput>,
) -> Response {
    let Some(kind) = input.test.as_deref().and_then(WebhookEventKind::parse) else {
        return super::error_page(ApiError::invalid_body("no event kind to test"));
    };
    let (url, _) = input.target(kind);
    let mut body = json!({ "kind": kind.as_str() });
    if input.domain != "*" {
        body["domain"] = json!(input.domain);
    }
    if !url.trim().is_empty() {
        body["url"] = json!(url.trim());
    }
    // The method and legacy header as chosen in the form, saved or not.
    if let Some(m) = input.target(kind).1.filter(|m| !m.trim().is_empty()) {
        body["method"] = json!(m.trim());
    }
    body["legacyTokenHeader"] = json!(input.legacy.is_some());
    let mut form = input.as_typed();
    let layout = Layout::new(&admin, "webhooks");
    let body = match serde_json::from_value(body) {
        Ok(b) => b,
        Err(e) => return super::error_page(ApiError::invalid_body(e.to_string())),
    };
    let sent = api::send_test(
        State(state.hub.clone()),
        admin.tenant_auth(),
        JsonBody(body),
    )
    .await;
    let Some(slot) = form.kinds.iter_mut().find(|f| f.kind == kind.as_str()) else {
        return super::error_page(ApiError::internal());
    };
    match sent {
        Ok(out) => {
            let v = serde_json::to_value(&out.0).unwrap_or(Value::Null);
            slot.test = Some(view(&v));
        }
        Err(e) if e.status.is_client_error() => slot.error = Some(e.reason),
        Err(e) => return super::error_page(e),
    }
    page(&state, layout, Some(form), StatusCode::OK).await
}

/// The page's view of the API's test answer.
fn view(v: &Value) -> TestView {
    let a = &v["attempt"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let at_ms = a["at"]
        .as_str()
        .and_then(|s| fastcomments_protocol::Millis::parse(s).ok())
        .map(|m| m.0)
        .unwrap_or(0);
    // As sent, values included: the signatures and ids a receiver's log can be matched with.
    let sent = a_headers(&v["headers"]);
    let forged = match (&v["forged"], v["forgedAccepted"].as_bool()) {
        (f, Some(accepted)) if f.is_object() => Some(format!(
            "A second request signed with a wrong secret was answered {}: {}",
            f["attempt"]["statusCode"]
                .as_i64()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "with no status".into()),
            if accepted {
                "accepted — the receiver does not verify signatures"
            } else {
                "refused, as a receiver that verifies signatures does"
            }
        )),
        _ => None,
    };
    TestView {
        ok: v["ok"].as_bool().unwrap_or(false),
        method: text(&a["method"]),
        url: text(&a["url"]),
        headers: sent,
        status: a["statusCode"]
            .as_i64()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no answer".into()),
        body: text(&a["responseBody"]),
        duration_ms: a["durationMs"].as_i64().unwrap_or(0),
        at: when(at_ms),
        error: a["error"].as_str().map(str::to_owned),
        forged,
        warning: v["warning"].as_str().map(str::to_owned),
    }
}

/// The `headers` of a test answer as `(name, value)` pairs.
fn a_headers(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|all| {
            all.iter()
                .map(|h| {
                    let text = |k: &str| h[k].as_str().unwrap_or_default().to_owned();
                    (text("name"), text("value"))
                })
                .collect()
        })
        .unwrap_or_default()
}
