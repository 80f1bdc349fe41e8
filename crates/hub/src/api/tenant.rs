//! `/api/v1/…`: the tenant's API secrets and integrations (comments and votes are in
//! [`super::comments`] and [`super::votes`]), authenticated by an API secret in `x-api-key`.

use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJson};
use crate::ids;
use crate::records::{ApiSecret, IntegrationToken, TokenRecord};
use crate::site_domain::normalize_domain;
use axum::extract::Path;
use axum::Json;
use fastcomments_protocol::{lenient, Millis, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------- API secrets ----------

/// An API secret as listed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretOut {
    id: String,
    domain: String,
    secret: String,
    created_at: Millis,
}

impl From<ApiSecret> for SecretOut {
    /// The secret in clear: only when it was just created or rotated.
    fn from(s: ApiSecret) -> Self {
        SecretOut {
            id: s.id,
            domain: s.domain,
            secret: s.secret,
            created_at: Millis(s.created_at),
        }
    }
}

impl SecretOut {
    /// The secret as lists show it: its last four characters only.
    pub fn masked(s: ApiSecret) -> Self {
        SecretOut {
            secret: crate::redact::secret(&s.secret),
            ..SecretOut::from(s)
        }
    }
}

/// `{status, apiSecrets}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsOut {
    status: Status,
    api_secrets: Vec<SecretOut>,
}

/// `GET /api/v1/api-secrets`.
#[utoipa::path(
    get,
    path = "/api-secrets",
    tag = "tenant",
    summary = "List the tenant's API secrets",
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The secrets", body = SecretsOut), TenantErrors)
)]
pub async fn list_secrets(TenantCall { hub, auth }: TenantCall) -> ApiResult<Json<SecretsOut>> {
    auth.require_all_domains("listing API secrets")?;
    let secrets = hub.reads().list_secrets(&auth.tenant_id).await?;
    // Shown in clear once, when created or rotated; listed masked.
    Ok(Json(SecretsOut {
        status: Status::Success,
        api_secrets: secrets.into_iter().map(SecretOut::masked).collect(),
    }))
}

/// Body of `POST /api/v1/api-secrets`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretInput {
    domain: String,
}

/// `{status, apiSecret}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretCreated {
    status: Status,
    api_secret: SecretOut,
}

/// `POST /api/v1/api-secrets {"domain"}` (`*` for all domains).
#[utoipa::path(
    post,
    path = "/api-secrets",
    tag = "tenant",
    summary = "Create an API secret for a domain (or * for all)",
    request_body = SecretInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The new secret", body = SecretCreated), TenantErrors)
)]
pub async fn create_secret(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<SecretInput>,
) -> ApiResult<Json<SecretCreated>> {
    auth.require_all_domains("creating API secrets")?;
    let domain = normalize_domain(&input.domain)
        .ok_or_else(|| ApiError::invalid_body(format!("not a domain: {:?}", input.domain)))?;
    // A secret for a domain the tenant does not own would sign nothing it may send; refused
    // here as on the admin page.
    hub.require_owned_domain(&auth.tenant_id, &domain).await?;
    let secret = ApiSecret {
        id: ids::object_id(),
        tenant_id: auth.tenant_id,
        domain,
        secret: ids::api_secret(),
        created_at: hub.now().0,
    };
    hub.add_secret(&secret).await?;
    Ok(Json(SecretCreated {
        status: Status::Success,
        api_secret: secret.into(),
    }))
}

/// `{status}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    status: Status,
}

/// `DELETE /api/v1/api-secrets/{id}`.
#[utoipa::path(
    delete,
    path = "/api-secrets/{id}",
    tag = "tenant",
    summary = "Revoke an API secret",
    params(("id" = String, Path, description = "The secret's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "Revoked", body = Done), TenantErrors)
)]
pub async fn delete_secret(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    auth.require_all_domains("removing API secrets")?;
    hub.delete_secret(&auth.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("API secret"))?;
    Ok(Json(Done {
        status: Status::Success,
    }))
}

// ---------- integrations ----------

/// A token as the tenant sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationOut {
    token: String,
    /// `pending`, `validated` or `revoked`.
    #[schema(value_type = String)]
    state: &'static str,
    integration_type: Option<String>,
    domain: Option<String>,
    created_at: Millis,
    acknowledged_at: Option<Millis>,
    comments_received: i64,
    upload_finished: bool,
    setup_completed_at: Option<Millis>,
    /// May read an API secret of its domain (`GET /integrations/v1/api-secret`).
    api_secret_allowed: bool,
}

impl From<TokenRecord> for IntegrationOut {
    fn from(r: TokenRecord) -> Self {
        IntegrationOut {
            token: r.token.into_string(),
            state: r.state.as_str(),
            integration_type: r.integration_type,
            domain: r.domain,
            created_at: Millis(r.created_at),
            acknowledged_at: r.acknowledged_at.map(Millis),
            comments_received: r.upload_received,
            upload_finished: r.upload_finished,
            setup_completed_at: r.setup_completed_at.map(Millis),
            api_secret_allowed: r.api_secret_allowed,
        }
    }
}

/// `{status, integrations}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationsOut {
    status: Status,
    integrations: Vec<IntegrationOut>,
}

/// `GET /api/v1/integrations`.
#[utoipa::path(
    get,
    path = "/integrations",
    tag = "tenant",
    summary = "List the tenant's integration tokens",
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The tokens", body = IntegrationsOut), TenantErrors)
)]
pub async fn list_integrations(
    TenantCall { hub, auth }: TenantCall,
) -> ApiResult<Json<IntegrationsOut>> {
    let tokens = hub.tenant_tokens(&auth).await?;
    Ok(Json(IntegrationsOut {
        status: Status::Success,
        integrations: tokens.into_iter().map(IntegrationOut::from).collect(),
    }))
}

/// `{status, integration}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationResult {
    status: Status,
    integration: IntegrationOut,
}

/// Body of the acknowledge call.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcknowledgeInput {
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    skip_initial_sync: Option<bool>,
    /// Let the integration read an API secret of its domain (`GET /integrations/v1/api-secret`,
    /// the WordPress plugin's SSO key); off unless given. On an acknowledged token, changes
    /// only this.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    allow_api_secret: Option<bool>,
}

/// `POST /api/v1/integrations/{token}/acknowledge {"skipInitialSync?","allowApiSecret?"}`.
#[utoipa::path(
    post,
    path = "/integrations/{token}/acknowledge",
    tag = "tenant",
    summary = "Bind a pending token to the tenant",
    params(("token" = String, Path, description = "The integration token")),
    request_body(content = AcknowledgeInput, description = "Optional: an empty body is `{}`"),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses(
        (status = 200, description = "The token", body = IntegrationResult),
        (status = 410, description = "`token-expired`: the plugin must register again", body = fastcomments_protocol::Failure),
        TenantErrors
    )
)]
pub async fn acknowledge(
    TenantCall { hub, auth }: TenantCall,
    Path(token): Path<IntegrationToken>,
    OptionalJson(input): OptionalJson<AcknowledgeInput>,
) -> ApiResult<Json<IntegrationResult>> {
    hub.may_acknowledge(&auth, &token).await?;
    let saved = hub
        .acknowledge_token(
            &auth.tenant_id,
            &token,
            input.skip_initial_sync,
            input.allow_api_secret,
        )
        .await?;
    Ok(Json(IntegrationResult {
        status: Status::Success,
        integration: saved.into(),
    }))
}

/// `POST /api/v1/integrations/{token}/resync`: the upload starts over.
#[utoipa::path(
    post,
    path = "/integrations/{token}/resync",
    tag = "tenant",
    summary = "Start the token's upload over",
    params(("token" = String, Path, description = "The integration token")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The token", body = IntegrationResult), TenantErrors)
)]
pub async fn resync(
    TenantCall { hub, auth }: TenantCall,
    Path(token): Path<IntegrationToken>,
) -> ApiResult<Json<IntegrationResult>> {
    let saved = hub.resync_integration(&auth, &token).await?;
    Ok(Json(IntegrationResult {
        status: Status::Success,
        integration: saved.into(),
    }))
}

/// `DELETE /api/v1/integrations/{token}`: revokes the token for good.
#[utoipa::path(
    delete,
    path = "/integrations/{token}",
    tag = "tenant",
    summary = "Revoke a token for good",
    params(("token" = String, Path, description = "The integration token")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The token", body = IntegrationResult), TenantErrors)
)]
pub async fn revoke(
    TenantCall { hub, auth }: TenantCall,
    Path(token): Path<IntegrationToken>,
) -> ApiResult<Json<IntegrationResult>> {
    let saved = hub.revoke_integration(&auth, &token).await?;
    Ok(Json(IntegrationResult {
        status: Status::Success,
        integration: saved.into(),
    }))
}
