//! `/auth/my-account/integrations/v1/create-testing-events?token=…`: makes a handful of real
//! changes in the token's tenant so a plugin under test has events to apply (the official
//! integration harness calls it between its upload and download steps). Every change goes
//! through the comments API's own path (timeline events, webhooks), and nothing is faked.
//!
//! Allowed for the token's own tenant (its API secret, in `x-api-key` or `?tenantId&API_KEY`)
//! or the operator; another tenant's token is "not found".

use crate::error::{ApiError, ApiResult, Code};
use crate::extract::{AppState, OperatorAuth, QueryParams};
use crate::hub::access::TenantAuth;
use crate::ids::{self, TenantId};
use crate::records::{Change, CommentPatch, IntegrationToken, TokenState};
use crate::rules::NewCommentInput;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use fastcomments_protocol::{Status, Vote, VoteDirection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The thread the test comments are written in.
pub const TEST_URL_ID: &str = "fastcomments-integration-test";

/// Who may make test events: a tenant (its own tokens only) or the operator (any token).
#[derive(Debug, Clone)]
pub enum TenantOrOperator {
    /// A tenant's API secret.
    Tenant(TenantId),
    /// The operator token.
    Operator,
}

impl FromRequestParts<AppState> for TenantOrOperator {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &AppState) -> Result<Self, ApiError> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            OperatorAuth::from_request_parts(parts, hub).await?;
            return Ok(TenantOrOperator::Operator);
        }
        let auth = TenantAuth::from_request_parts(parts, hub).await?;
        auth.require_all_domains("making test events")?;
        Ok(TenantOrOperator::Tenant(auth.tenant_id))
    }
}

/// Query: the token whose tenant gets the events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TestingEventsQuery {
    /// The integration token (acknowledged) whose tenant gets the events.
    #[param(required = true)]
    token: Option<String>,
}

/// What was made.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestingEventsOut {
    status: Status,
    tenant_id: String,
    /// Comments created (the last one was deleted again).
    created: Vec<String>,
    /// The comment edited.
    updated: String,
    /// The comment deleted.
    deleted: String,
    /// Timeline events written.
    events: usize,
}

/// `GET|POST …/create-testing-events?token=…`: three new comments, one edited, one deleted,
/// a vote cast and taken back — nine events the token sees, two new comments net.
#[utoipa::path(
    method(get, post),
    path = "/auth/my-account/integrations/v1/create-testing-events",
    tag = "integration",
    summary = "Make real test changes in the token's tenant (the official integration harness)",
    params(TestingEventsQuery),
    security(("apiKey" = []), ("apiKeyQuery" = []), ("operator" = [])),
    responses(
        (status = 200, description = "What was made", body = TestingEventsOut),
        (status = 400, description = "`invalid-query` (no token), `token-not-validated`", body = fastcomments_protocol::Failure),
        (status = 401, description = "`unauthorized`", body = fastcomments_protocol::Failure),
        (status = 403, description = "`token-revoked`, `operator-api-disabled`", body = fastcomments_protocol::Failure),
        (status = 404, description = "`not-found`: no such token, or another tenant's", body = fastcomments_protocol::Failure),
        (status = 500, description = "`internal-error`", body = fastcomments_protocol::Failure),
        (status = 503, description = "`busy`", body = fastcomments_protocol::Failure)
    )
)]
pub async fn create(
    State(hub): State<AppState>,
    who: TenantOrOperator,
    QueryParams(q): QueryParams<TestingEventsQuery>,
) -> ApiResult<Json<TestingEventsOut>> {
    let token = q
        .token
        .filter(|t| !t.is_empty())
        .map(IntegrationToken::from)
        .ok_or_else(|| ApiError::invalid_query("give the integration token as ?token="))?;
    let record = hub
        .token_record(&token)
        .await?
        .filter(|r| match &who {
            TenantOrOperator::Tenant(t) => r.tenant_id.as_ref() == Some(t),
            TenantOrOperator::Operator => true,
        })
        .ok_or_else(|| ApiError::not_found("integration token"))?;
    let tenant = match (record.state, record.tenant_id) {
        (TokenState::Validated, Some(t)) => t,
        (TokenState::Revoked, _) => return Err(crate::hub::revoked()),
        _ => {
            return Err(ApiError::bad_request(
                Code::TokenNotValidated,
                "acknowledge this token first; test events go to the token's tenant",
            ))
        }
    };
    let mut created = Vec::new();
    let mut events = 0;
    for n in 1..=3 {
        let input = NewCommentInput {
            url_id: TEST_URL_ID.into(),
            url: Some(format!("https://example.com/{TEST_URL_ID}")),
            page_title: Some("Integration test".into()),
            commenter_name: "FastComments Test".into(),
            comment: format!("Test comment {n} from create-testing-events"),
            ..Default::default()
        };
        let comment = input.into_comment(&tenant, ids::object_id(), hub.now());
        let applied = hub
            .apply(&tenant, Change::CreateComment(Box::new(comment)))
            .await?;
        events += applied.entries.len();
        created.push(applied.comment.ok_or_else(ApiError::internal)?.id);
    }
    let [first, second, third] = [&created[0], &created[1], &created[2]].map(String::clone);
    let edit = CommentPatch {
        comment: Some("Test comment 1, edited by create-testing-events".into()),
        ..CommentPatch::default()
    };
    events += hub
        .apply(
            &tenant,
            Change::UpdateComment {
                id: first.clone(),
                patch: Box::new(edit),
            },
        )
        .await?
        .entries
        .len();
    let vote = Vote {
        id: ids::object_id(),
        comment_id: second.clone(),
        comment_external_id: None,
        tenant_id: tenant.to_string(),
        url_id: String::new(),
        user_id: Some("fastcomments-test-voter".into()),
        direction: VoteDirection::Up,
        created_at: hub.now(),
        extra: Default::default(),
    };
    let cast = hub.apply(&tenant, Change::AddVote(Box::new(vote))).await?;
    events += cast.entries.len();
    let vote_id = cast.vote.ok_or_else(ApiError::internal)?.id;
    events += hub
        .apply(&tenant, Change::DeleteVote { id: vote_id })
        .await?
        .entries
        .len();
    events += hub
        .apply(&tenant, Change::DeleteComment { id: third.clone() })
        .await?
        .entries
        .len();
    tracing::info!(
        tenant = tenant.as_str(),
        events,
        "made integration test events"
    );
    Ok(Json(TestingEventsOut {
        status: Status::Success,
        tenant_id: tenant.into_string(),
        created,
        updated: first,
        deleted: third,
        events,
    }))
}
