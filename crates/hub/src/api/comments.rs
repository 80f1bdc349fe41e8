//! `/api/v1/comments…`: the tenant's comments as the hosted API and its official SDKs have
//! them: create (one or in bulk), read one or a page, change, delete, flag and un-flag. Every
//! comment answered is a [`CommentView`].

use super::comment_view::CommentView;
use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::{ApiError, ApiResult, Code};
use crate::extract::{JsonBody, QueryParams};
use crate::hub::access::TenantAuth;
use crate::hub::comments::Flagger;
use crate::hub::Hub;
use crate::ids;
use crate::ids::TenantId;
use crate::records::{Change, CommentsQuery};
use crate::rules::{CommentUpdateInput, NewCommentInput};
use crate::site_domain::normalize_domain;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use fastcomments_protocol::{lenient, Comment, Status};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// `v` trimmed, unless empty.
pub(super) fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|u| !u.is_empty())
}

/// The views of `comments`, with their flag counts.
pub(super) async fn views(
    hub: &Hub,
    tenant: &TenantId,
    comments: Vec<Comment>,
) -> ApiResult<Vec<CommentView>> {
    let ids: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    let counts = hub.reads().flag_counts(tenant, &ids).await?;
    Ok(comments
        .into_iter()
        .map(|c| {
            let n = counts.get(&c.id).copied().unwrap_or(0);
            CommentView::new(c, i64::try_from(n).unwrap_or(i64::MAX))
        })
        .collect())
}

async fn view(hub: &Hub, tenant: &TenantId, comment: Comment) -> ApiResult<CommentView> {
    views(hub, tenant, vec![comment])
        .await?
        .pop()
        .ok_or_else(ApiError::internal)
}

/// Comment `id` when the credential reaches it: another tenant's, and for a domain's secret
/// another domain's, is "not found" alike.
pub(super) async fn comment_in_scope(hub: &Hub, auth: &TenantAuth, id: &str) -> ApiResult<Comment> {
    match hub.reads().comment(&auth.tenant_id, id).await? {
        Some(c) if auth.reaches(c.domain.as_deref()) => Ok(c),
        _ => Err(ApiError::not_found("comment")),
    }
}

// ---------- create ----------

/// `{status, comment, user}` (`user` is always `null`: the hub has no user sessions).
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedOut {
    status: Status,
    comment: CommentView,
    #[schema(value_type = Option<Object>)]
    user: Option<Value>,
}

/// Checks and stores one new comment.
async fn create_one(
    hub: &Hub,
    auth: &TenantAuth,
    mut input: NewCommentInput,
) -> ApiResult<CommentView> {
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
    view(hub, &auth.tenant_id, comment).await
}

/// `POST /api/v1/comments`.
#[utoipa::path(
    post,
    path = "/comments",
    tag = "tenant",
    summary = "Create a comment",
    request_body = NewCommentInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comment", body = SavedOut), TenantErrors)
)]
pub async fn create_comment(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<NewCommentInput>,
) -> ApiResult<Json<SavedOut>> {
    let comment = create_one(&hub, &auth, input).await?;
    Ok(Json(SavedOut {
        status: Status::Success,
        comment,
        user: None,
    }))
}

/// Most comments in one `POST /api/v1/comments/bulk`.
pub const BULK_MAX: usize = 500;

/// One item of the bulk answer: `{status:"success", comment}` or `{status:"failed", code,
/// reason}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItemOut {
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<CommentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The bulk answer: a JSON array, one [`BulkItemOut`] per comment sent, in order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct BulkOut(Vec<BulkItemOut>);

/// `POST /api/v1/comments/bulk`: a JSON array of new comments; each is stored on its own (one
/// failing does not undo the others) and answered in the same place of the answer's array.
#[utoipa::path(
    post,
    path = "/comments/bulk",
    tag = "tenant",
    summary = "Create several comments",
    request_body(content = Vec<NewCommentInput>, description = "At most 500 comments"),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "One result per comment, in order", body = BulkOut), TenantErrors)
)]
pub async fn create_bulk(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(items): JsonBody<Vec<Value>>,
) -> ApiResult<Json<BulkOut>> {
    if items.len() > BULK_MAX {
        return Err(ApiError::invalid_body(format!(
            "{} comments in one call; at most {BULK_MAX}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    // The storage failure that stopped the call, if one did.
    let mut stopped: Option<(usize, ApiError)> = None;
    for (n, item) in items.into_iter().enumerate() {
        if let Some((at, e)) = &stopped {
            let reason = format!("not tried: comment {at} met a storage failure first");
            out.push(BulkItemOut::failed(e.code, reason));
            continue;
        }
        let created = match serde_json::from_value::<NewCommentInput>(item) {
            Ok(input) => create_one(&hub, &auth, input).await,
            Err(e) => Err(ApiError::invalid_body(format!("comment {n}: {e}"))),
        };
        out.push(match created {
            Ok(comment) => BulkItemOut {
                status: Status::Success,
                comment: Some(comment),
                code: None,
                reason: None,
            },
            // A store that cannot write would fail the rest the same way: they are not tried.
            // Before anything was stored, the whole call is refused with the store's status
            // (and `Retry-After`), so sending it again is safe. After, it must say which
            // comments are stored: a refusal of the whole call would have the caller send the
            // stored ones again, and store them twice.
            Err(e) if e.status.is_server_error() => {
                if !out.iter().any(BulkItemOut::stored) {
                    return Err(e);
                }
                let item = BulkItemOut::failed(e.code, e.reason.clone());
                stopped = Some((n, e));
                item
            }
            Err(e) => BulkItemOut::failed(e.code, e.reason),
        });
    }
    Ok(Json(BulkOut(out)))
}

impl BulkItemOut {
    fn failed(code: &str, reason: String) -> BulkItemOut {
        BulkItemOut {
            status: Status::Failed,
            comment: None,
            code: Some(code.to_owned()),
            reason: Some(reason),
        }
    }

    fn stored(&self) -> bool {
        self.status == Status::Success
    }
}

// ---------- read ----------

/// `{status, comment}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentOut {
    status: Status,
    comment: CommentView,
}

/// `GET /api/v1/comments/{id}`.
#[utoipa::path(
    get,
    path = "/comments/{id}",
    tag = "tenant",
    summary = "One comment",
    params(("id" = String, Path, description = "The comment's hub id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comment", body = CommentOut), TenantErrors)
)]
pub async fn get_comment(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<CommentOut>> {
    let comment = comment_in_scope(&hub, &auth, &id).await?;
    Ok(Json(CommentOut {
        status: Status::Success,
        comment: view(&hub, &auth.tenant_id, comment).await?,
    }))
}

/// Query of `GET /api/v1/comments`, with the hosted API's paging parameters and filters (as
/// the official SDKs send them).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The thread; without it, the whole tenant (newest first unless `direction` says).
    url_id: Option<String>,
    /// Only the replies to this comment.
    parent_id: Option<String>,
    /// Only comments written at or after this instant (epoch ms).
    #[serde(default, deserialize_with = "lenient::opt_int")]
    from_date: Option<i64>,
    /// Only comments written at or before this instant (epoch ms).
    #[serde(default, deserialize_with = "lenient::opt_int")]
    to_date: Option<i64>,
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
    /// Not supported (the hub keeps no index by author): `400` rather than an unfiltered page.
    user_id: Option<String>,
    /// Not supported, as `userId`.
    anon_user_id: Option<String>,
    /// Not supported, as `userId`.
    hash_tag: Option<String>,
}

/// Default comments per page of `GET /api/v1/comments`.
pub const COMMENTS_PAGE_DEFAULT: u64 = 100;
/// Most comments per page of `GET /api/v1/comments`.
pub const COMMENTS_PAGE_MAX: u64 = 1000;

/// `{status, comments}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentsOut {
    status: Status,
    comments: Vec<CommentView>,
}

/// `GET /api/v1/comments[?urlId=][&parentId=][&fromDate=&toDate=][&page=&limit=&skip=&direction=]`.
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
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<CommentsOut>> {
    for (name, given) in [
        ("userId", &q.user_id),
        ("anonUserId", &q.anon_user_id),
        ("hashTag", &q.hash_tag),
    ] {
        if given.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::invalid_query(format!(
                "{name} is not a filter this hub supports: filter by urlId, parentId, \
                 fromDate or toDate"
            )));
        }
    }
    let url_id = given(&q.url_id);
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
    let query = CommentsQuery {
        url_id,
        parent_id: given(&q.parent_id),
        from_ms: q.from_date,
        to_ms: q.to_date,
        skip,
        limit,
        newest_first,
        flagged_only: false,
    };
    let mut comments = hub.reads().list_comments(&auth.tenant_id, &query).await?;
    comments.retain(|c| auth.reaches(c.domain.as_deref()));
    Ok(Json(CommentsOut {
        status: Status::Success,
        comments: views(&hub, &auth.tenant_id, comments).await?,
    }))
}

// ---------- change, delete ----------

/// `PATCH /api/v1/comments/{id}`: the fields given change, the others keep their values.
#[utoipa::path(
    patch,
    path = "/comments/{id}",
    tag = "tenant",
    summary = "Change a comment's fields",
    params(("id" = String, Path, description = "The comment's hub id")),
    request_body = CommentUpdateInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comment as it is now", body = CommentOut), TenantErrors)
)]
pub async fn update_comment(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<CommentUpdateInput>,
) -> ApiResult<Json<CommentOut>> {
    let patch = input.into_patch().map_err(ApiError::invalid_body)?;
    comment_in_scope(&hub, &auth, &id).await?;
    if let Some(Some(parent)) = &patch.parent_id {
        hub.check_new_parent(&auth.tenant_id, &id, parent).await?;
    }
    if let Some(external) = &patch.external_id {
        let holder = hub
            .reads()
            .comment_by_external_id(&auth.tenant_id, external)
            .await?;
        if holder.is_some_and(|c| c.id != id) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                Code::Conflict,
                format!("another comment has externalId {external:?}"),
            ));
        }
    }
    let applied = hub
        .apply(
            &auth.tenant_id,
            Change::UpdateComment {
                id,
                patch: Box::new(patch),
            },
        )
        .await?;
    let comment = applied.comment.ok_or_else(ApiError::internal)?;
    Ok(Json(CommentOut {
        status: Status::Success,
        comment: view(&hub, &auth.tenant_id, comment).await?,
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
    comment: CommentView,
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
    TenantCall { hub, auth }: TenantCall,
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
        // Its flags went with it.
        comment: CommentView::new(comment, 0),
    }))
}

// ---------- flags ----------

/// Query of the flag calls: who flags.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct FlagQuery {
    /// The flagging user (a flag counts once per user).
    user_id: Option<String>,
    /// An anonymous flagger's id, when there is no `userId`.
    anon_user_id: Option<String>,
}

/// `{status, flagCount}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagOut {
    status: Status,
    /// How many users flag the comment now.
    flag_count: u64,
}

async fn set_flag(
    hub: &Hub,
    auth: &TenantAuth,
    id: &str,
    q: &FlagQuery,
    flagged: bool,
) -> ApiResult<Json<FlagOut>> {
    let flagger =
        Flagger::from_ids(q.user_id.as_deref(), q.anon_user_id.as_deref()).ok_or_else(|| {
            ApiError::invalid_query("give userId or anonUserId: a flag counts once per user")
        })?;
    comment_in_scope(hub, auth, id).await?;
    let flag_count = hub.set_flag(&auth.tenant_id, id, &flagger, flagged).await?;
    Ok(Json(FlagOut {
        status: Status::Success,
        flag_count,
    }))
}

/// `POST /api/v1/comments/{id}/flag?userId=|anonUserId=`: flagging twice counts once.
#[utoipa::path(
    post,
    path = "/comments/{id}/flag",
    tag = "tenant",
    summary = "Flag a comment",
    params(("id" = String, Path, description = "The comment's hub id"), FlagQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comment's flag count", body = FlagOut), TenantErrors)
)]
pub async fn flag(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<FlagQuery>,
) -> ApiResult<Json<FlagOut>> {
    set_flag(&hub, &auth, &id, &q, true).await
}

/// `POST /api/v1/comments/{id}/un-flag?userId=|anonUserId=`: takes that user's flag back.
#[utoipa::path(
    post,
    path = "/comments/{id}/un-flag",
    tag = "tenant",
    summary = "Take a flag back",
    params(("id" = String, Path, description = "The comment's hub id"), FlagQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comment's flag count", body = FlagOut), TenantErrors)
)]
pub async fn un_flag(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<FlagQuery>,
) -> ApiResult<Json<FlagOut>> {
    set_flag(&hub, &auth, &id, &q, false).await
}
