//! `/admin/v1/…`: the operator API, behind `FASTCOMMENTS_ADMIN_TOKEN`.

use super::doc::OperatorErrors;
use crate::error::ApiResult;
use crate::extract::{AppState, JsonBody, OperatorAuth};
use axum::extract::State;
use axum::Json;
use fastcomments_protocol::Status;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /admin/v1/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    /// The tenant's name.
    name: String,
    /// The domains it owns (webhook configurations and comments may name only these).
    #[serde(default)]
    domains: Vec<String>,
}

/// `{status, tenantId, apiSecret}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantCreated {
    status: Status,
    tenant_id: String,
    api_secret: String,
}

/// `POST /admin/v1/tenants {"name","domains"}`.
#[utoipa::path(
    post,
    path = "/admin/v1/tenants",
    tag = "operator",
    summary = "Create a tenant with a wildcard API secret",
    request_body = TenantInput,
    security(("operator" = [])),
    responses((status = 200, description = "The tenant and its secret", body = TenantCreated), OperatorErrors)
)]
pub async fn create_tenant(
    State(hub): State<AppState>,
    _: OperatorAuth,
    JsonBody(input): JsonBody<TenantInput>,
) -> ApiResult<Json<TenantCreated>> {
    let (tenant, secret) = hub.create_tenant(&input.name, input.domains).await?;
    Ok(Json(TenantCreated {
        status: Status::Success,
        tenant_id: tenant.id.into_string(),
        api_secret: secret.secret,
    }))
}
