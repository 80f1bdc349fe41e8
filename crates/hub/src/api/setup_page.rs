//! `/auth/my-account/integrations/v1/setup?token=…`: the page a tenant admin opens to
//! acknowledge a plugin's token (SPEC §1.1). The admin proves who they are with one of the
//! tenant's API secrets, and may skip the initial upload.

use super::extract::{AppState, QueryParams};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use axum::Form;
use serde::Deserialize;

/// Query of the page.
#[derive(Debug, Deserialize)]
pub struct SetupQuery {
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
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupForm {
    token: String,
    api_key: String,
    #[serde(default)]
    skip_initial_sync: Option<String>,
}

/// `POST`: acknowledges the token.
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
