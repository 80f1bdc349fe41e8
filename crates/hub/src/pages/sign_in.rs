//! Signing in and out, and the operator's tenant list.
//!
//! One field takes either one of a tenant's API secrets (a tenant session) or the hub's
//! operator token (an operator session, which first sees the tenants and opens one). What was
//! typed is never echoed back, put in a URL or logged.

use super::session::{self, Principal, Session};
use super::{error_page, message_page, render, Current, PageState};
use crate::ids::TenantId;
use crate::records::Tenant;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The sign-in form.
#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage {
    csrf: String,
    error: Option<String>,
    operator_enabled: bool,
}

fn with_cookie(mut res: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn is_signed_in(s: &Session) -> bool {
    !matches!(s.principal, Principal::Anonymous)
}

/// `GET /admin`: the first page of whoever is signed in, else the sign-in form.
pub async fn home(current: Current) -> Response {
    match current.session.as_ref().map(|s| &s.principal) {
        Some(Principal::Tenant { .. })
        | Some(Principal::Operator {
            acting_for: Some(_),
        }) => Redirect::to("/admin/integrations").into_response(),
        Some(Principal::Operator { acting_for: None }) => {
            Redirect::to("/admin/tenants").into_response()
        }
        _ => Redirect::to("/admin/sign-in").into_response(),
    }
}

/// `GET /admin/sign-in`: the form. Its CSRF token lives in the cookie and the form alone
/// (`session::SIGN_IN_PREFIX`): showing it stores nothing.
pub async fn show(State(state): State<PageState>, current: Current) -> Response {
    if current.session.as_ref().is_some_and(is_signed_in) {
        return Redirect::to("/admin").into_response();
    }
    let (token, cookie) = match (&current.session, &current.sign_in_token) {
        // A session from before (anonymous ones of earlier versions) keeps its own token.
        (Some(s), _) => (s.csrf.clone(), None),
        (None, Some(t)) => (t.clone(), None),
        (None, None) => {
            let (t, c) = session::new_sign_in_token(current.secure);
            (t, Some(c))
        }
    };
    let page = SignInPage {
        csrf: token,
        error: None,
        operator_enabled: state.hub.config.admin_token.is_some(),
    };
    let res = render(StatusCode::OK, &page);
    match cookie {
        Some(c) => with_cookie(res, &c),
        None => res,
    }
}

/// The posted sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    secret: String,
}

// Not `Debug`: the field holds a secret.
impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInForm { .. }")
    }
}

/// `POST /admin/sign-in`.
pub async fn submit(
    State(state): State<PageState>,
    current: Current,
    Form(form): Form<SignInForm>,
) -> Response {
    // The guard let the POST through, so the form's token matched its cookie's (or an
    // earlier session's).
    let csrf = match (&current.session, &current.sign_in_token) {
        (Some(s), _) => s.csrf.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => return message_page(StatusCode::FORBIDDEN, "Refused", "No session."),
    };
    let hub = &state.hub;
    let now = hub.now().0;
    let form_again = |status: StatusCode, error: String| {
        render(
            status,
            &SignInPage {
                csrf: csrf.clone(),
                error: Some(error),
                operator_enabled: hub.config.admin_token.is_some(),
            },
        )
    };
    let wait = state.sessions.throttle.wait_ms(current.client, now);
    if wait > 0 {
        let secs = (wait + 999) / 1000;
        let mut res = form_again(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins from this address: wait {secs} s, then try again."),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    let given = form.secret.trim();
    let operator = hub.config.admin_token.as_deref().is_some_and(|expected| {
        !given.is_empty()
            && given.len() == expected.len()
            && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    });
    let principal = if operator {
        Some(Principal::Operator { acting_for: None })
    } else if given.is_empty() {
        None
    } else {
        // Only the All Domains secret signs in: the pages act on the whole tenant, and a
        // domain's secret (its webhook receiver's) must not open the rest of it.
        match hub.api_key_owner(given).await {
            Ok(s) if s.domain != "*" => return form_again(
                StatusCode::FORBIDDEN,
                "That secret is for one domain only: sign in with the tenant's All Domains secret."
                    .into(),
            ),
            Ok(s) => Some(Principal::Tenant {
                tenant_id: s.tenant_id,
                secret_id: s.id,
            }),
            Err(_) => None,
        }
    };
    let Some(principal) = principal else {
        state.sessions.throttle.failed(current.client, now);
        tracing::warn!(client = %current.client, "failed admin sign-in");
        return form_again(
            StatusCode::UNAUTHORIZED,
            "That is not one of this hub's API secrets (nor its operator token).".into(),
        );
    };
    state.sessions.throttle.succeeded(current.client);
    match &principal {
        Principal::Tenant { tenant_id, .. } => {
            tracing::info!(tenant = %tenant_id, "tenant admin signed in")
        }
        _ => tracing::info!("operator signed in to the admin pages"),
    }
    // A new id: one known before sign-in (planted, or seen) is worth nothing after.
    let ended = match &current.session {
        Some(before) => state.sessions.end(&before.id).await,
        None => Ok(()),
    };
    let started = match ended {
        Ok(()) => state.sessions.start(principal, now).await,
        Err(e) => Err(e),
    };
    let session = match started {
        Ok(s) => s,
        Err(e) => return error_page(e.into()),
    };
    with_cookie(
        Redirect::to("/admin").into_response(),
        &session::set_cookie(Some(&session.id), current.secure),
    )
}

/// `POST /admin/sign-out`.
pub async fn sign_out(State(state): State<PageState>, current: Current) -> Response {
    if let Some(s) = &current.session {
        if let Err(e) = state.sessions.end(&s.id).await {
            return error_page(e.into());
        }
    }
    with_cookie(
        Redirect::to("/admin/sign-in").into_response(),
        &session::set_cookie(None, current.secure),
    )
}

/// The operator's tenant list.
#[derive(Template)]
#[template(path = "admin/tenants.html")]
struct TenantsPage {
    csrf: String,
    tenants: Vec<Tenant>,
    acting_for: Option<String>,
}

/// The operator's session, else a redirect to the sign-in page (a tenant admin gets 404:
/// there is nothing of theirs here).
async fn operator(state: &PageState, current: Current) -> Result<Session, Response> {
    let session = super::signed_in(state, current.session).await?;
    match session.principal {
        Principal::Operator { .. } => Ok(session),
        _ => Err(message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no admin page at this address.",
        )),
    }
}

/// `GET /admin/tenants` (operator).
pub async fn tenants(State(state): State<PageState>, current: Current) -> Response {
    let session = match operator(&state, current).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tenants = match state.hub.reads().list_tenants().await {
        Ok(t) => t,
        Err(e) => return super::error_page(e.into()),
    };
    let acting_for = session.tenant().map(TenantId::to_string);
    render(
        StatusCode::OK,
        &TenantsPage {
            csrf: session.csrf,
            tenants,
            acting_for,
        },
    )
}

/// The posted choice of tenant.
#[derive(Debug, Deserialize)]
pub struct OpenForm {
    tenant: TenantId,
}

/// `POST /admin/tenants/open` (operator): the tenant pages now act on that tenant.
pub async fn open_tenant(
    State(state): State<PageState>,
    current: Current,
    Form(form): Form<OpenForm>,
) -> Response {
    let session = match operator(&state, current).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    match state.hub.reads().tenant(&form.tenant).await {
        Ok(Some(t)) => {
            let opened = state
                .sessions
                .update(&session.id, |s| {
                    s.principal = Principal::Operator {
                        acting_for: Some(t.id.clone()),
                    }
                })
                .await;
            if let Err(e) = opened {
                return error_page(e.into());
            }
            tracing::info!(tenant = %t.id, "operator opened a tenant's admin pages");
            Redirect::to("/admin/integrations").into_response()
        }
        Ok(None) => message_page(StatusCode::NOT_FOUND, "Not found", "No such tenant."),
        Err(e) => super::error_page(e.into()),
    }
}
