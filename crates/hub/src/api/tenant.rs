//! `/api/v1/…`: the tenant's own API (SPEC §3), authenticated by an API secret in `x-api-key`.

use super::doc::TenantErrors;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppState, JsonBody, OptionalJson, QueryParams};
use crate::hub::access::TenantAuth;
use crate::ids;
use crate::records::{ApiSecret, Change, CommentPatch, IntegrationToken, TokenRecord};
use crate::rules::{self, NewCommentInput};
use crate::site_domain::normalize_domain;
use axum::extract::{Path, State};
use axum::Json;
use fastcomments_protocol::{lenient, Comment, Millis, Status, Vote, VoteDirection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// ---------- comments ----------

/// `{status, comment}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentOut {
    status: Status,
    comment: Comment,
}

/// `POST /api/v1/comments`.
#[utoipa::path(
    post,
    path = "/comments",
    tag = "tenant",
    summary = "Create a comment",
    request_body = crate::rules::NewCommentInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comment", body = CommentOut), TenantErrors)
)]
pub async fn create_comment(
    State(hub): State<AppState>,
    auth: TenantAuth,
    JsonBody(mut input): JsonBody<NewCommentInput>,
) -> ApiResult<Json<CommentOut>> {
    input.validate().map_err(ApiError::invalid_body)?;
    // A domain's secret writes comments of its domain: one that names none is of that domain.
    if input.domain.as_deref().is_none_or(|d| d.trim().is_empty()) {
        input.domain = auth.own_domain().map(str::to_owned);
    }
    // A comment's domain picks its webhook configuration and signing secret: only the
    // tenant's own domains (SPEC §2.2). An empty one is no domain.
    if let Some(d) = input.domain.as_deref().filter(|d| !d.trim().is_empty()) {
        let host = normalize_domain(d)
            .ok_or_else(|| ApiError::invalid_body(format!("not a domain: {d:?}")))?;
        hub.require_owned_domain(&auth.tenant_id, &host).await?;
        auth.require_domain(Some(&host))?;
    }
    let comment = input.into_comment(&auth.tenant_id, ids::object_id(), hub.now());
    let applied = hub
        .apply(&auth.tenant_id, Change::CreateComment(Box::new(comment)))
        .await?;
    let comment = applied.comment.ok_or_else(ApiError::internal)?;
    Ok(Json(CommentOut {
        status: Status::Success,
        comment,
    }))
}

/// Body of `PATCH /api/v1/comments/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchInput {
    #[serde(default)]
    comment: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    approved: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    is_spam: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    reviewed: Option<bool>,
    /// Replaces the comment's `meta` (an object; `null` or absent leaves it).
    #[serde(default, deserialize_with = "lenient::opt_object")]
    #[schema(value_type = Option<Object>)]
    meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PATCH /api/v1/comments/{id}`.
#[utoipa::path(
    patch,
    path = "/comments/{id}",
    tag = "tenant",
    summary = "Change a comment's text, flags or meta",
    params(("id" = String, Path, description = "The comment's hub id")),
    request_body = PatchInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comment as it is now", body = CommentOut), TenantErrors)
)]
pub async fn update_comment(
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<PatchInput>,
) -> ApiResult<Json<CommentOut>> {
    let patch = CommentPatch {
        comment: input.comment,
        approved: input.approved,
        is_spam: input.is_spam,
        reviewed: input.reviewed,
        meta: input.meta,
    };
    rules::validate_patch(&patch).map_err(ApiError::invalid_body)?;
    comment_in_scope(&hub, &auth, &id).await?;
    let applied = hub
        .apply(&auth.tenant_id, Change::UpdateComment { id, patch })
        .await?;
    let comment = applied.comment.ok_or_else(ApiError::internal)?;
    Ok(Json(CommentOut {
        status: Status::Success,
        comment,
    }))
}

/// What a deletion did, as the hosted API names it (the official SDK requires it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteAction {
    /// The comment is gone (the hub keeps no tombstone; its delete event carries it).
    HardRemoved,
}

/// `{status, action, comment}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedOut {
    status: Status,
    /// What was done: `hard-removed`.
    action: DeleteAction,
    /// The comment as it was.
    comment: Comment,
}

/// `DELETE /api/v1/comments/{id}`: answers `hard-removed` with the comment as it was.
#[utoipa::path(
    delete,
    path = "/comments/{id}",
    tag = "tenant",
    summary = "Delete a comment",
    params(("id" = String, Path, description = "The comment's hub id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "What was done, and the comment as it was", body = DeletedOut), TenantErrors)
)]
pub async fn delete_comment(
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<DeletedOut>> {
    comment_in_scope(&hub, &auth, &id).await?;
    let applied = hub
        .apply(&auth.tenant_id, Change::DeleteComment { id })
        .await?;
    let comment = applied.comment.ok_or_else(ApiError::internal)?;
    Ok(Json(DeletedOut {
        status: Status::Success,
        action: DeleteAction::HardRemoved,
        comment,
    }))
}

/// Query of `GET /api/v1/comments`, with the hosted API's paging parameters (as the official
/// SDKs send them).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The thread; without it, the whole tenant (newest first unless `direction` says).
    url_id: Option<String>,
    /// Page number, from 0: skips `page × limit` comments.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[param(value_type = Option<u64>)]
    page: Option<i64>,
    /// Comments per page: 100 unless given, at most 1,000.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[param(value_type = Option<u64>)]
    limit: Option<i64>,
    /// Comments skipped before the page (added to `page × limit`).
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[param(value_type = Option<u64>)]
    skip: Option<i64>,
    /// `OF` oldest first (a thread's default), `NF` newest first (the whole tenant's
    /// default); `MR` (most relevant) is taken as `NF`.
    direction: Option<String>,
    /// Sent by the SDKs beside the API key; the key names the tenant.
    #[serde(rename = "tenantId")]
    #[param(ignore)]
    _tenant_id: Option<String>,
}

/// Default comments per page of `GET /api/v1/comments`.
pub const COMMENTS_PAGE_DEFAULT: u64 = 100;
/// Most comments per page of `GET /api/v1/comments`.
pub const COMMENTS_PAGE_MAX: u64 = 1000;

/// `{status, comments}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentsOut {
    status: Status,
    comments: Vec<Comment>,
}

/// `GET /api/v1/comments[?urlId=][&page=&limit=&skip=&direction=]`.
#[utoipa::path(
    get,
    path = "/comments",
    tag = "tenant",
    summary = "A page of a thread's comments, or of the whole tenant's",
    params(ListQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comments", body = CommentsOut), TenantErrors)
)]
pub async fn list_comments(
    State(hub): State<AppState>,
    auth: TenantAuth,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<CommentsOut>> {
    let url_id = q.url_id.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let number = |v: Option<i64>, name: &str| -> ApiResult<Option<u64>> {
        v.map(|n| {
            u64::try_from(n)
                .map_err(|_| ApiError::invalid_query(format!("{name} must be 0 or more")))
        })
        .transpose()
    };
    let limit = number(q.limit, "limit")?
        .unwrap_or(COMMENTS_PAGE_DEFAULT)
        .clamp(1, COMMENTS_PAGE_MAX);
    let skip = number(q.page, "page")?
        .unwrap_or(0)
        .saturating_mul(limit)
        .saturating_add(number(q.skip, "skip")?.unwrap_or(0));
    let newest_first = match q.direction.as_deref().map(str::trim) {
        None | Some("") => url_id.is_none(),
        Some(d) if d.eq_ignore_ascii_case("OF") => false,
        Some(d) if d.eq_ignore_ascii_case("NF") || d.eq_ignore_ascii_case("MR") => true,
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "direction must be OF, NF or MR, got {other:?}"
            )))
        }
    };
    let query = crate::records::CommentsQuery {
        url_id,
        skip,
        limit,
        newest_first,
    };
    let mut comments = hub.reads().list_comments(&auth.tenant_id, &query).await?;
    comments.retain(|c| auth.reaches(c.domain.as_deref()));
    Ok(Json(CommentsOut {
        status: Status::Success,
        comments,
    }))
}

// ---------- votes ----------

/// Body of `POST /api/v1/comments/{id}/votes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoteInput {
    direction: VoteDirection,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    user_id: Option<String>,
}

/// `{status, vote}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoteOut {
    status: Status,
    vote: Vote,
}

/// `POST /api/v1/comments/{id}/votes`.
#[utoipa::path(
    post,
    path = "/comments/{id}/votes",
    tag = "tenant",
    summary = "Vote on a comment",
    params(("id" = String, Path, description = "The comment's hub id")),
    request_body = VoteInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The vote", body = VoteOut), TenantErrors)
)]
pub async fn vote(
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(comment_id): Path<String>,
    JsonBody(input): JsonBody<VoteInput>,
) -> ApiResult<Json<VoteOut>> {
    comment_in_scope(&hub, &auth, &comment_id).await?;
    let vote = Vote {
        id: ids::object_id(),
        comment_id,
        comment_external_id: None,
        tenant_id: auth.tenant_id.to_string(),
        url_id: String::new(),
        user_id: input.user_id.filter(|u| !u.is_empty()),
        direction: input.direction,
        created_at: hub.now(),
        extra: Default::default(),
    };
    let applied = hub
        .apply(&auth.tenant_id, Change::AddVote(Box::new(vote)))
        .await?;
    let vote = applied.vote.ok_or_else(ApiError::internal)?;
    Ok(Json(VoteOut {
        status: Status::Success,
        vote,
    }))
}

/// `DELETE /api/v1/votes/{voteId}`.
#[utoipa::path(
    delete,
    path = "/votes/{id}",
    tag = "tenant",
    summary = "Remove a vote",
    params(("id" = String, Path, description = "The vote's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The vote as it was", body = VoteOut), TenantErrors)
)]
pub async fn delete_vote(
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<VoteOut>> {
    if auth.own_domain().is_some() {
        let vote = hub
            .reads()
            .vote(&auth.tenant_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("vote"))?;
        comment_in_scope(&hub, &auth, &vote.comment_id).await?;
    }
    let applied = hub
        .apply(&auth.tenant_id, Change::DeleteVote { id })
        .await?;
    let vote = applied.vote.ok_or_else(ApiError::internal)?;
    Ok(Json(VoteOut {
        status: Status::Success,
        vote,
    }))
}

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

/// `Ok` when a domain's secret may act on comment `id` (one of its domain); another domain's
/// comment is "not found", as another tenant's is. The All Domains secret reads nothing here.
async fn comment_in_scope(hub: &crate::hub::Hub, auth: &TenantAuth, id: &str) -> ApiResult<()> {
    if auth.own_domain().is_none() {
        return Ok(());
    }
    let comment = hub.reads().comment(&auth.tenant_id, id).await?;
    match comment {
        Some(c) if auth.reaches(c.domain.as_deref()) => Ok(()),
        _ => Err(ApiError::not_found("comment")),
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
pub async fn list_secrets(
    State(hub): State<AppState>,
    auth: TenantAuth,
) -> ApiResult<Json<SecretsOut>> {
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(token): Path<IntegrationToken>,
) -> ApiResult<Json<IntegrationResult>> {
    let saved = hub.revoke_integration(&auth, &token).await?;
    Ok(Json(IntegrationResult {
        status: Status::Success,
        integration: saved.into(),
    }))
}
