//! Votes: the hub's own calls (`POST /comments/{id}/votes` with a JSON body, `DELETE
//! /votes/{id}`) and the hosted API's, as its official SDKs call them (`POST /votes?commentId=
//! &direction=up|down&userId=|anonUserId=`, `GET /votes?urlId=`, `GET /votes/for-user`).

use super::comments::{comment_in_scope, given};
use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::hub::access::TenantAuth;
use crate::hub::Hub;
use crate::ids;
use crate::records::Change;
use crate::rules::votes::{voter_key, ANON_USER_ID};
use axum::extract::Path;
use axum::Json;
use fastcomments_protocol::{lenient, Millis, Status, Vote, VoteDirection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// ---------- the hub's own vote calls ----------

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
    TenantCall { hub, auth }: TenantCall,
    Path(comment_id): Path<String>,
    JsonBody(input): JsonBody<VoteInput>,
) -> ApiResult<Json<VoteOut>> {
    let user_id = input.user_id.filter(|u| !u.is_empty());
    let vote = cast(&hub, &auth, comment_id, input.direction, user_id, None).await?;
    Ok(Json(VoteOut {
        status: Status::Success,
        vote,
    }))
}

/// Casts a vote on a comment the credential reaches (a voter's earlier vote the same way is
/// kept and returned; the other way, replaced).
async fn cast(
    hub: &Hub,
    auth: &TenantAuth,
    comment_id: String,
    direction: VoteDirection,
    user_id: Option<String>,
    anon_user_id: Option<String>,
) -> ApiResult<Vote> {
    comment_in_scope(hub, auth, &comment_id).await?;
    let mut extra = fastcomments_protocol::Extra::new();
    if let Some(anon) = anon_user_id.filter(|_| user_id.is_none()) {
        extra.insert(ANON_USER_ID.to_owned(), anon.into());
    }
    let vote = Vote {
        id: ids::object_id(),
        comment_id,
        comment_external_id: None,
        tenant_id: auth.tenant_id.to_string(),
        url_id: String::new(),
        user_id,
        direction,
        created_at: hub.now(),
        extra,
    };
    let applied = hub
        .apply(&auth.tenant_id, Change::AddVote(Box::new(vote)))
        .await?;
    applied.vote.ok_or_else(ApiError::internal)
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
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<VoteOut>> {
    let vote = hub
        .reads()
        .vote(&auth.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("vote"))?;
    comment_in_scope(&hub, &auth, &vote.comment_id).await?;
    let applied = hub
        .apply(&auth.tenant_id, Change::DeleteVote { id })
        .await?;
    let vote = applied.vote.ok_or_else(ApiError::internal)?;
    Ok(Json(VoteOut {
        status: Status::Success,
        vote,
    }))
}

// ---------- the hosted API's vote calls ----------

/// Query of `POST /api/v1/votes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CastQuery {
    /// The comment voted on.
    comment_id: String,
    /// `up` or `down` (`1` and `-1` too).
    direction: String,
    /// The voter; one vote per user and comment.
    user_id: Option<String>,
    /// An anonymous voter's id, when there is no `userId`: one vote per id and comment too.
    anon_user_id: Option<String>,
}

/// `{status, voteId, isVerified}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CastOut {
    status: Status,
    vote_id: String,
    /// Always `true`: a vote made with an API secret needs no verification.
    is_verified: bool,
}

/// `POST /api/v1/votes?commentId=&direction=up|down[&userId=|&anonUserId=]`.
#[utoipa::path(
    post,
    path = "/votes",
    tag = "tenant",
    summary = "Vote on a comment (the hosted API's form)",
    params(CastQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The vote's id", body = CastOut), TenantErrors)
)]
pub async fn cast_vote(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<CastQuery>,
) -> ApiResult<Json<CastOut>> {
    let direction = match q.direction.trim().to_ascii_lowercase().as_str() {
        "up" | "1" | "+1" => VoteDirection::Up,
        "down" | "-1" => VoteDirection::Down,
        other => {
            return Err(ApiError::invalid_query(format!(
                "direction must be up or down, got {other:?}"
            )))
        }
    };
    let vote = cast(
        &hub,
        &auth,
        q.comment_id,
        direction,
        given(&q.user_id).map(str::to_owned),
        given(&q.anon_user_id).map(str::to_owned),
    )
    .await?;
    Ok(Json(CastOut {
        status: Status::Success,
        vote_id: vote.id,
        is_verified: true,
    }))
}

/// A vote as the hosted API lists it (`PublicVote`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicVote {
    id: String,
    url_id: String,
    comment_id: String,
    /// The voter: a user id, an anonymous id, or `""` for a vote nobody named.
    user_id: String,
    /// `up` or `down`.
    direction: &'static str,
    created_at: Millis,
}

impl From<Vote> for PublicVote {
    fn from(v: Vote) -> PublicVote {
        let anon = v.extra.get(ANON_USER_ID).and_then(|a| a.as_str());
        PublicVote {
            user_id: v
                .user_id
                .clone()
                .or(anon.map(str::to_owned))
                .unwrap_or_default(),
            id: v.id,
            url_id: v.url_id,
            comment_id: v.comment_id,
            direction: match v.direction {
                VoteDirection::Up => "up",
                VoteDirection::Down => "down",
            },
            created_at: v.created_at,
        }
    }
}

/// `{status, appliedAuthorizedVotes, appliedAnonymousVotes, pendingVotes}`: votes of named
/// users, votes of anonymous ids (or nobody), and `[]` (no vote waits for verification here).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadVotesOut {
    status: Status,
    applied_authorized_votes: Vec<PublicVote>,
    applied_anonymous_votes: Vec<PublicVote>,
    pending_votes: Vec<PublicVote>,
}

/// Most votes `GET /api/v1/votes` and `/votes/for-user` answer (the hosted API does not page
/// them): the oldest this many.
pub const THREAD_VOTES_MAX: u64 = 10_000;

/// Query of `GET /api/v1/votes` and `/votes/for-user`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ThreadVotesQuery {
    /// The thread.
    url_id: String,
    /// `for-user`: the voter.
    user_id: Option<String>,
    /// `for-user`: the anonymous voter, when there is no `userId`.
    anon_user_id: Option<String>,
}

async fn thread_votes(
    hub: &Hub,
    auth: &TenantAuth,
    url_id: &str,
    voter_key: Option<&str>,
) -> ApiResult<Json<ThreadVotesOut>> {
    let url_id = url_id.trim();
    if url_id.is_empty() {
        return Err(ApiError::invalid_query("urlId is required"));
    }
    let mut votes = hub
        .reads()
        .thread_votes(&auth.tenant_id, url_id, voter_key, THREAD_VOTES_MAX)
        .await?;
    if auth.own_domain().is_some() {
        // A domain's secret sees the votes of its domain's comments only.
        let mut reached = Vec::with_capacity(votes.len());
        for v in votes {
            if comment_in_scope(hub, auth, &v.comment_id).await.is_ok() {
                reached.push(v);
            }
        }
        votes = reached;
    }
    let (named, anonymous): (Vec<Vote>, Vec<Vote>) =
        votes.into_iter().partition(|v| v.user_id.is_some());
    Ok(Json(ThreadVotesOut {
        status: Status::Success,
        applied_authorized_votes: named.into_iter().map(PublicVote::from).collect(),
        applied_anonymous_votes: anonymous.into_iter().map(PublicVote::from).collect(),
        pending_votes: Vec::new(),
    }))
}

/// `GET /api/v1/votes?urlId=`: a thread's votes.
#[utoipa::path(
    get,
    path = "/votes",
    tag = "tenant",
    summary = "A thread's votes (the hosted API's form)",
    params(ThreadVotesQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The votes", body = ThreadVotesOut), TenantErrors)
)]
pub async fn list_votes(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<ThreadVotesQuery>,
) -> ApiResult<Json<ThreadVotesOut>> {
    thread_votes(&hub, &auth, &q.url_id, None).await
}

/// `GET /api/v1/votes/for-user?urlId=&userId=|anonUserId=`: one voter's votes in a thread.
#[utoipa::path(
    get,
    path = "/votes/for-user",
    tag = "tenant",
    summary = "One voter's votes in a thread (the hosted API's form)",
    params(ThreadVotesQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The votes", body = ThreadVotesOut), TenantErrors)
)]
pub async fn votes_for_user(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<ThreadVotesQuery>,
) -> ApiResult<Json<ThreadVotesOut>> {
    let user_id = given(&q.user_id).map(str::to_owned);
    let anon_user_id = given(&q.anon_user_id).map(str::to_owned);
    let key = voter_key(user_id.as_deref(), anon_user_id.as_deref())
        .ok_or_else(|| ApiError::invalid_query("give userId or anonUserId"))?;
    thread_votes(&hub, &auth, &q.url_id, Some(&key)).await
}
