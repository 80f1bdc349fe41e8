//! The "Recover" forms of the subscriptions and webhooks pages (issue 23 §3): every change
//! since a time (a `datetime-local` field, read as UTC, as on the deliveries page) sent to the
//! target again, through the same [`Hub::recover`](crate::hub::Hub::recover) as the API.

use super::deliveries::parse_since;
use super::session::Flash;
use super::{after_error, redirect_with, when, Admin, PageState, TenantPage};
use crate::error::ApiError;
use crate::records::{RecoverTarget, Recovery};
use axum::extract::Path;
use axum::response::Response;
use axum::Form;
use fastcomments_protocol::Millis;
use serde::Deserialize;

/// The form: since when (and, on the webhooks page, which domain's configuration).
#[derive(Debug, Deserialize)]
pub struct RecoverForm {
    since: String,
    #[serde(default)]
    domain: String,
}

/// `POST /admin/subscriptions/{id}/recover`.
pub async fn subscription(
    TenantPage { state, admin }: TenantPage,
    Path(id): Path<String>,
    Form(form): Form<RecoverForm>,
) -> Response {
    let target = RecoverTarget::Subscription(id);
    recover(state, admin, target, &form.since, "/admin/subscriptions").await
}

/// `POST /admin/webhooks/recover`.
pub async fn config(
    TenantPage { state, admin }: TenantPage,
    Form(form): Form<RecoverForm>,
) -> Response {
    let target = RecoverTarget::Config(form.domain);
    recover(state, admin, target, &form.since, "/admin/webhooks").await
}

async fn recover(
    state: PageState,
    admin: Admin,
    target: RecoverTarget,
    since: &str,
    back: &str,
) -> Response {
    let Some(since) = parse_since(since) else {
        let why = ApiError::invalid_body("Give a date and time (UTC), e.g. 2026-12-02T09:30.");
        return after_error(&state, &admin, why, back).await;
    };
    match state
        .hub
        .recover(&admin.tenant_auth(), target, Millis(since))
        .await
    {
        Ok(r) => redirect_with(&state, &admin, Flash::Done(started(&r)), back).await,
        Err(e) => after_error(&state, &admin, e, back).await,
    }
}

fn started(r: &Recovery) -> String {
    format!(
        "Recover started: every change since {} is being queued again, in each comment's order; \
         the copies are marked \"recovered\" in the deliveries list.",
        when(r.since)
    )
}
