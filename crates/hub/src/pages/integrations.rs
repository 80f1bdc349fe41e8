//! Integrations: the tenant's plugin tokens with their state, last call and upload progress;
//! acknowledging a pending token (the setup page's job, for a signed-in admin), resync and
//! revoke. Resync and revoke call the API's own handlers, so both paths keep one set of rules.

use super::{after_action, redirect_with, render, when, Layout, PageState, TenantPage};
use crate::extract::QueryParams;
use crate::ids;
use crate::records::{IntegrationToken, TokenRecord, TokenState};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One token as listed.
#[derive(Debug)]
pub struct Row {
    token: String,
    short: String,
    kind: String,
    domain: String,
    state: &'static str,
    revoked: bool,
    acknowledged: String,
    last_seen: String,
    progress: Progress,
    /// Element id stem (tokens are `[A-Za-z0-9._-]`, valid in ids).
    key: String,
}

/// Upload progress of a token.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Progress {
    /// Comments received.
    received: i64,
    /// Comments expected in all, when the plugin said (or all received, once finished).
    expected: Option<i64>,
    /// The initial upload is over.
    finished: bool,
    /// It was skipped.
    skipped: bool,
}

impl Progress {
    fn of(hub: &crate::hub::Hub, r: &TokenRecord) -> Progress {
        let skipped = r.upload_finished && r.skip_requested && r.upload_received == 0;
        let expected = if r.upload_finished {
            Some(r.upload_received)
        } else {
            hub.upload_expected(&r.token)
        };
        Progress {
            received: r.upload_received,
            expected,
            finished: r.upload_finished,
            skipped,
        }
    }

    /// The text beside the bar.
    fn text(&self) -> String {
        match (self.skipped, self.finished, self.expected) {
            (true, _, _) => "skipped".into(),
            (_, true, _) => format!("{} of {} (done)", self.received, self.received),
            (_, false, Some(e)) => format!("{} of {e}", self.received),
            (_, false, None) => format!("{} received", self.received),
        }
    }
}

/// The integrations page.
#[derive(Template)]
#[template(path = "admin/integrations.html")]
struct IntegrationsPage {
    layout: Layout,
    rows: Vec<Row>,
    token: String,
    skip: bool,
    token_error: Option<String>,
}

fn rows(hub: &crate::hub::Hub, tokens: Vec<TokenRecord>) -> Vec<Row> {
    tokens
        .into_iter()
        .rev()
        .map(|r| {
            let progress = Progress::of(hub, &r);
            Row {
                short: ids::redact(r.token.as_str()),
                kind: r.integration_type.clone().unwrap_or_else(|| "—".into()),
                domain: r.domain.clone().unwrap_or_else(|| "—".into()),
                state: r.state.as_str(),
                revoked: r.state == TokenState::Revoked,
                acknowledged: r.acknowledged_at.map(when).unwrap_or_default(),
                last_seen: hub
                    .last_seen(&r.token)
                    .map(when)
                    .unwrap_or_else(|| "not since the hub started".into()),
                progress,
                key: r.token.as_str().to_owned(),
                token: r.token.into_string(),
            }
        })
        .collect()
}

/// Query of the page: `?token=` fills in the acknowledge form (the setup link's token).
#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    token: Option<String>,
}

async fn page(
    state: &PageState,
    layout: Layout,
    token: String,
    skip: bool,
    token_error: Option<String>,
    status: StatusCode,
) -> Response {
    let tokens = match state.hub.reads().list_tokens(&layout.tenant).await {
        Ok(t) => t,
        Err(e) => return super::error_page(e.into()),
    };
    render(
        status,
        &IntegrationsPage {
            rows: rows(&state.hub, tokens),
            layout,
            token,
            skip,
            token_error,
        },
    )
}

/// `GET /admin/integrations[?token=]`.
pub async fn show(
    TenantPage { state, admin }: TenantPage,
    QueryParams(q): QueryParams<ShowQuery>,
) -> Response {
    let layout = Layout::new(&admin, "integrations");
    let token = q.token.unwrap_or_default();
    page(&state, layout, token, false, None, StatusCode::OK).await
}

/// `{progress: {token: …}, text: {element id: text}}` for the page's script.
#[derive(Debug, Serialize)]
pub struct ProgressOut {
    progress: BTreeMap<String, Progress>,
    text: BTreeMap<String, String>,
}

/// `GET /admin/integrations.json`: every token's upload progress, for the bars to move.
pub async fn progress(TenantPage { state, admin }: TenantPage) -> Response {
    let tokens = match state.hub.reads().list_tokens(&admin.tenant_id).await {
        Ok(t) => t,
        Err(e) => return super::error_page(e.into()),
    };
    let mut out = ProgressOut {
        progress: BTreeMap::new(),
        text: BTreeMap::new(),
    };
    for r in tokens {
        let p = Progress::of(&state.hub, &r);
        out.text.insert(format!("t-{}", r.token.as_str()), p.text());
        if let Some(at) = state.hub.last_seen(&r.token) {
            out.text
                .insert(format!("ls-{}", r.token.as_str()), when(at));
        }
        out.progress.insert(format!("p-{}", r.token.as_str()), p);
    }
    Json(out).into_response()
}

/// The posted acknowledge form.
#[derive(Debug, Deserialize)]
pub struct AcknowledgeForm {
    token: String,
    #[serde(default)]
    skip: Option<String>,
}

/// `POST /admin/integrations/acknowledge`: binds a pending (or not yet seen) token to the
/// tenant, as the setup page does.
pub async fn acknowledge(
    TenantPage { state, admin }: TenantPage,
    Form(form): Form<AcknowledgeForm>,
) -> Response {
    let token = IntegrationToken::from(form.token.trim());
    let skip = form
        .skip
        .as_deref()
        .is_some_and(|v| v == "on" || v == "true");
    let result = state
        .hub
        .acknowledge_token(&admin.tenant_id, &token, skip.then_some(true), None)
        .await;
    match result {
        Ok(saved) => {
            redirect_with(
                &state,
                &admin,
                super::session::Flash::Done(format!(
                    "Acknowledged {}{}. The plugin picks this up on its next poll.",
                    ids::redact(saved.token.as_str()),
                    if saved.skip_requested {
                        ", without the initial upload"
                    } else {
                        ""
                    }
                )),
                "/admin/integrations",
            )
            .await
        }
        // The error beside the field, with what was typed kept.
        Err(e) if e.status.is_client_error() => {
            let layout = Layout::new(&admin, "integrations");
            let reason = if e.status == StatusCode::NOT_FOUND {
                "This token cannot be acknowledged for this tenant (it is bound to another)."
                    .to_owned()
            } else {
                e.reason
            };
            page(&state, layout, form.token, skip, Some(reason), e.status).await
        }
        Err(e) => super::error_page(e),
    }
}

/// A posted token action.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    token: IntegrationToken,
}

/// `POST /admin/integrations/resync`: the plugin uploads everything again.
pub async fn resync(
    TenantPage { state, admin }: TenantPage,
    Form(form): Form<TokenForm>,
) -> Response {
    let auth = admin.tenant_auth();
    let done = state.hub.resync_integration(&auth, &form.token).await;
    after_action(&state, &admin, done, "/admin/integrations", |_| {
        format!(
            "{}: the upload starts over on the plugin's next poll.",
            ids::redact(form.token.as_str())
        )
    })
    .await
}

/// `POST /admin/integrations/revoke`: the token stops working for good.
pub async fn revoke(
    TenantPage { state, admin }: TenantPage,
    Form(form): Form<TokenForm>,
) -> Response {
    let auth = admin.tenant_auth();
    let done = state.hub.revoke_integration(&auth, &form.token).await;
    after_action(&state, &admin, done, "/admin/integrations", |_| {
        format!("{} revoked.", ids::redact(form.token.as_str()))
    })
    .await
}
