//! API secrets: listed masked, created for one domain or for all (`*`), deleted. A new secret
//! is shown once, on the page right after it was made (then it is only ever masked).
//! Deleting the secret a tenant admin signed in with ends that session on its next request.

use super::session::{Flash, Principal};
use super::{redirect_with, render, when, Admin, Layout, PageState, TenantPage};
use crate::ids;
use crate::records::ApiSecret;
use crate::site_domain::normalize_domain;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

/// A secret as listed.
#[derive(Debug)]
pub struct Row {
    id: String,
    domain: String,
    masked: String,
    created: String,
    this_session: bool,
}

/// The secrets page.
#[derive(Template)]
#[template(path = "admin/secrets.html")]
struct SecretsPage {
    layout: Layout,
    rows: Vec<Row>,
    domains: Vec<String>,
    new_secret: Option<(String, String)>,
    domain: String,
    domain_error: Option<String>,
}

async fn page(
    state: &PageState,
    admin: &Admin,
    domain: String,
    domain_error: Option<String>,
    status: StatusCode,
) -> Response {
    let store = state.hub.reads();
    let (secrets, tenant) = match (
        store.list_secrets(&admin.tenant_id).await,
        store.tenant(&admin.tenant_id).await,
    ) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => return super::error_page(e.into()),
    };
    let signed_with = match &admin.session.principal {
        Principal::Tenant { secret_id, .. } => Some(secret_id.as_str()),
        _ => None,
    };
    let new_secret = match &admin.flash {
        Some(Flash::NewSecret { domain, secret }) => Some((domain.clone(), secret.clone())),
        _ => None,
    };
    let mut layout = Layout::new(admin, "secrets");
    if domain_error.is_some() {
        layout = layout.with_error("Not created: see the form.");
    }
    render(
        status,
        &SecretsPage {
            layout,
            rows: secrets
                .iter()
                .map(|s: &ApiSecret| Row {
                    id: s.id.clone(),
                    domain: s.domain.clone(),
                    masked: crate::redact::secret(&s.secret),
                    created: when(s.created_at),
                    this_session: signed_with == Some(s.id.as_str()),
                })
                .collect(),
            domains: tenant.map(|t| t.domains).unwrap_or_default(),
            new_secret,
            domain,
            domain_error,
        },
    )
}

/// `GET /admin/secrets`.
pub async fn show(TenantPage { state, admin }: TenantPage) -> Response {
    page(&state, &admin, "*".into(), None, StatusCode::OK).await
}

/// The posted create form.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    domain: String,
}

/// `POST /admin/secrets`: a new secret for one of the tenant's domains (or a subdomain), or
/// `*`.
pub async fn create(
    TenantPage { state, admin }: TenantPage,
    Form(form): Form<CreateForm>,
) -> Response {
    let typed = form.domain.trim();
    let refused = |why: String| {
        page(
            &state,
            &admin,
            form.domain.clone(),
            Some(why),
            StatusCode::BAD_REQUEST,
        )
    };
    let domain = match normalize_domain(if typed.is_empty() { "*" } else { typed }) {
        Some(d) => match state.hub.owns_domain(&admin.tenant_id, &d).await {
            Ok(true) => d,
            Ok(false) => {
                return refused(format!(
                    "{d} is not one of this tenant's domains (nor a subdomain of one)."
                ))
                .await
            }
            Err(e) => return super::error_page(e.into()),
        },
        None => {
            return refused("Give a domain such as example.com, or * for all domains.".into()).await
        }
    };
    let secret = ApiSecret {
        id: ids::object_id(),
        tenant_id: admin.tenant_id.clone(),
        domain: domain.clone(),
        secret: ids::api_secret(),
        created_at: state.hub.now().0,
    };
    if let Err(e) = state.hub.add_secret(&secret).await {
        return super::error_page(e.into());
    }
    tracing::info!(tenant = %admin.tenant_id, domain = %domain, "API secret created on the admin pages");
    redirect_with(
        &state,
        &admin,
        Flash::NewSecret {
            domain,
            secret: secret.secret,
        },
        "/admin/secrets",
    )
    .await
}

/// `POST /admin/secrets/{id}/delete`.
pub async fn delete(TenantPage { state, admin }: TenantPage, Path(id): Path<String>) -> Response {
    match state.hub.delete_secret(&admin.tenant_id, &id).await {
        Ok(Some(s)) => {
            redirect_with(
                &state,
                &admin,
                Flash::Done(format!(
                    "Deleted the secret {} of {}.",
                    crate::redact::secret(&s.secret),
                    s.domain
                )),
                "/admin/secrets",
            )
            .await
        }
        Ok(None) => super::error_page(crate::error::ApiError::not_found("API secret")),
        Err(e) => super::error_page(e.into()),
    }
}
