//! `/auth/my-account/integrations/v1/setup?token=…`: the page a tenant admin opens to
//! acknowledge a plugin's token (SPEC §1.1). The admin proves who they are with one of the
//! tenant's API secrets, and may skip the initial upload. It stands alone (a plugin links to
//! it, and the admin may have no session); the admin pages' integrations page does the same
//! for a signed-in admin, and this page links there.
//!
//! Rendered from `templates/setup.html` (escaped by default).

use crate::extract::{AppState, QueryParams};
use crate::records::IntegrationToken;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Where the setup page and its `/confirm` twin live.
pub const BASE: &str = "/auth/my-account/integrations/v1/";

/// Query of the page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SetupQuery {
    /// The integration token to fill in.
    token: Option<String>,
}

/// The page: the form, or the outcome of posting it.
#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    version: &'static str,
    title: &'static str,
    form_token: Option<String>,
    admin_href: String,
    connected_to: Option<String>,
    error: Option<String>,
}

impl SetupPage {
    fn new(title: &'static str) -> SetupPage {
        SetupPage {
            version: env!("CARGO_PKG_VERSION"),
            title,
            form_token: None,
            admin_href: "/admin/integrations".into(),
            connected_to: None,
            error: None,
        }
    }
}

fn render(status: StatusCode, page: &SetupPage) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the setup page failed");
            super::ApiError::internal().into_response()
        }
    }
}

/// `GET`: the form.
#[utoipa::path(
    get,
    path = "/auth/my-account/integrations/v1/setup",
    tag = "pages",
    summary = "The setup page where a tenant admin acknowledges a token",
    params(SetupQuery),
    responses(
        (status = 200, description = "The form", content_type = "text/html", body = String),
        (status = 400, description = "`invalid-query`", body = fastcomments_protocol::Failure)
    )
)]
pub async fn show(QueryParams(q): QueryParams<SetupQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    let mut page = SetupPage::new("Connect an integration");
    if !token.is_empty() {
        if let Ok(query) = serde_urlencoded::to_string([("token", token.as_str())]) {
            page.admin_href = format!("/admin/integrations?{query}");
        }
    }
    page.form_token = Some(token);
    render(StatusCode::OK, &page)
}

/// The posted form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupForm {
    /// The integration token.
    token: String,
    /// One of the tenant's API secrets.
    api_key: String,
    /// `true` or `on` skips the initial upload.
    #[serde(default)]
    skip_initial_sync: Option<String>,
    /// `true` or `on` lets the plugin read an API secret of its domain (its SSO key).
    #[serde(default)]
    allow_api_secret: Option<String>,
}

fn failed(status: StatusCode, reason: String) -> Response {
    let mut page = SetupPage::new("Not connected");
    page.error = Some(reason);
    render(status, &page)
}

/// `POST`: acknowledges the token.
#[utoipa::path(
    post,
    path = "/auth/my-account/integrations/v1/setup",
    tag = "pages",
    summary = "Acknowledge a token with one of the tenant's API secrets",
    request_body(content = SetupForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Connected", content_type = "text/html", body = String),
        (status = "4XX", description = "Not connected: the page says why (a wrong API secret, an unknown, revoked or expired token)", content_type = "text/html", body = String),
        (status = "5XX", description = "The hub failed", content_type = "text/html", body = String)
    )
)]
pub async fn submit(State(hub): State<AppState>, Form(form): Form<SetupForm>) -> Response {
    let owner = match hub.api_key_owner(form.api_key.trim()).await {
        Ok(o) => o,
        Err(e) => return failed(e.status, e.reason),
    };
    // A domain's secret connects only a plugin that registered for its domain.
    let auth = crate::hub::access::TenantAuth {
        tenant_id: owner.tenant_id.clone(),
        scope: crate::hub::access::SecretScope::of(&owner.domain),
    };
    let token = IntegrationToken::from(form.token.trim());
    if let Err(e) = hub.may_acknowledge(&auth, &token).await {
        return failed(e.status, e.reason);
    }
    let checked = |v: &Option<String>| v.as_deref().map(|v| v == "true" || v == "on");
    let skip = checked(&form.skip_initial_sync);
    // An unticked box is absent from the form: the permission is off.
    let allow = Some(checked(&form.allow_api_secret).unwrap_or(false));
    match hub
        .acknowledge_token(&owner.tenant_id, &token, skip, allow)
        .await
    {
        Ok(_) => {
            let mut page = SetupPage::new("Connected");
            page.connected_to = Some(owner.tenant_id.into_string());
            render(StatusCode::OK, &page)
        }
        Err(e) => failed(e.status, e.reason),
    }
}

/// `GET …/confirm`: the link the WordPress plugin shows its admins; the same form.
#[utoipa::path(
    get,
    path = "/auth/my-account/integrations/v1/confirm",
    tag = "pages",
    summary = "The setup page under the path the WordPress plugin links to",
    params(SetupQuery, ("hasAccount" = Option<bool>, Query, description = "Sent by the plugin; not read")),
    responses(
        (status = 200, description = "The form", content_type = "text/html", body = String),
        (status = 400, description = "`invalid-query`", body = fastcomments_protocol::Failure)
    )
)]
pub async fn show_confirm(query: QueryParams<SetupQuery>) -> Response {
    show(query).await
}

/// `POST …/confirm`: as [`submit`].
#[utoipa::path(
    post,
    path = "/auth/my-account/integrations/v1/confirm",
    tag = "pages",
    summary = "Acknowledge a token (the WordPress plugin's path)",
    request_body(content = SetupForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Connected", content_type = "text/html", body = String),
        (status = "4XX", description = "Not connected: the page says why (a wrong API secret, an unknown, revoked or expired token)", content_type = "text/html", body = String),
        (status = "5XX", description = "The hub failed", content_type = "text/html", body = String)
    )
)]
pub async fn submit_confirm(state: State<AppState>, form: Form<SetupForm>) -> Response {
    submit(state, form).await
}
