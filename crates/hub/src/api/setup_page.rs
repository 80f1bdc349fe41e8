//! `/auth/my-account/integrations/v1/setup?token=…`: the page a tenant admin opens to
//! acknowledge a plugin's token (SPEC §1.1). The admin proves who they are with one of the
//! tenant's API secrets, and may skip the initial upload.

use super::extract::{AppState, QueryParams};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use axum::Form;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Query of the page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SetupQuery {
    /// The integration token to fill in.
    token: Option<String>,
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    crate::domain::render_html(s).replace("<br>", " ")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:1rem 0 .3rem}}input[type=text],input[type=password]{{width:100%;padding:.4rem}}\
         button{{margin-top:1.2rem;padding:.5rem 1.2rem}}.ok{{color:#075}}.err{{color:#a00}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    ))
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
pub async fn show(QueryParams(q): QueryParams<SetupQuery>) -> Html<String> {
    let token = q.token.unwrap_or_default();
    page(
        "Connect an integration",
        &format!(
            "<p>A site plugin asks to mirror this tenant's comments. Confirm with one of the tenant's API secrets.</p>\
             <form method=\"post\"><label for=\"token\">Integration token</label>\
             <input type=\"text\" id=\"token\" name=\"token\" value=\"{}\" required>\
             <label for=\"apiKey\">API secret</label><input type=\"password\" id=\"apiKey\" name=\"apiKey\" required>\
             <label><input type=\"checkbox\" name=\"skipInitialSync\" value=\"true\"> Skip the initial upload of the site's existing comments</label>\
             <button type=\"submit\">Connect</button></form>",
            esc(&token)
        ),
    )
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
pub async fn submit(
    State(hub): State<AppState>,
    Form(form): Form<SetupForm>,
) -> (StatusCode, Html<String>) {
    let owner = match hub.api_key_owner(form.api_key.trim()).await {
        Ok(o) => o,
        Err(e) => {
            return (
                e.status,
                page(
                    "Not connected",
                    &format!("<p class=\"err\">{}</p>", esc(&e.reason)),
                ),
            )
        }
    };
    let skip = form
        .skip_initial_sync
        .as_deref()
        .map(|v| v == "true" || v == "on");
    match hub
        .acknowledge_token(&owner.tenant_id, form.token.trim(), skip)
        .await
    {
        Ok(_) => (
            StatusCode::OK,
            page(
                "Connected",
                &format!(
                    "<p class=\"ok\">The integration is connected to tenant <code>{}</code>. The plugin picks this up on its next poll.</p>",
                    esc(&owner.tenant_id)
                ),
            ),
        ),
        Err(e) => (e.status, page("Not connected", &format!("<p class=\"err\">{}</p>", esc(&e.reason)))),
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
pub async fn show_confirm(query: QueryParams<SetupQuery>) -> Html<String> {
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
pub async fn submit_confirm(
    state: State<AppState>,
    form: Form<SetupForm>,
) -> (StatusCode, Html<String>) {
    submit(state, form).await
}
