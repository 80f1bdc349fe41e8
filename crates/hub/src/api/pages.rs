//! `/api/v1/pages…`: the tenant's threads as the hosted API's pages, as its official SDKs call
//! them. A thread's page is made with its first comment (or here); moving a page to another
//! `urlId` moves its comments, and deleting it deletes them, with the events and webhooks each
//! change fires. A page may hold comments of several domains: every call needs the All Domains
//! secret.

use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::hub::pages::NewPage;
use crate::records::{Page, PageChange, PAGES_MAX};
use crate::rules;
use axum::extract::Path;
use axum::Json;
use fastcomments_protocol::{lenient, Millis, Status};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A page as the hosted API has it (`APIPage`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageOut {
    id: String,
    url_id: String,
    /// `""` when no one gave one.
    title: String,
    url: Option<String>,
    comment_count: u64,
    root_comment_count: u64,
    created_at: Millis,
    is_closed: bool,
}

impl From<Page> for PageOut {
    fn from(p: Page) -> PageOut {
        PageOut {
            id: p.id,
            url_id: p.url_id,
            title: p.title.unwrap_or_default(),
            url: p.url,
            comment_count: p.comment_count,
            root_comment_count: p.root_comment_count,
            created_at: Millis(p.created_at),
            is_closed: p.is_closed,
        }
    }
}

/// A non-empty thread id, trimmed.
fn thread(url_id: &str) -> ApiResult<String> {
    let url_id = url_id.trim();
    if url_id.is_empty() {
        return Err(ApiError::invalid_body("urlId must not be empty"));
    }
    rules::check_short("urlId", url_id).map_err(ApiError::invalid_body)?;
    Ok(url_id.to_owned())
}

/// Body of `POST /api/v1/pages` (`CreateAPIPageData`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageInput {
    /// The thread.
    #[serde(deserialize_with = "lenient::string")]
    url_id: String,
    /// The page's URL.
    #[serde(default)]
    url: Option<String>,
    /// The page's title.
    #[serde(default)]
    title: Option<String>,
    /// Accepted and left aside: the hub has no user groups.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    accessible_by_group_ids: Option<IgnoredAny>,
    /// Accepted and left aside: the hub counts a page's comments itself.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    comment_count: Option<IgnoredAny>,
    /// Accepted and left aside, as `commentCount`.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    root_comment_count: Option<IgnoredAny>,
}

/// `{status, page}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageResult {
    status: Status,
    page: PageOut,
}

/// `POST /api/v1/pages`: a thread's page before its first comment (`409` if it has one).
#[utoipa::path(
    post,
    path = "/pages",
    tag = "tenant",
    summary = "Make a thread's page",
    request_body = PageInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The page", body = PageResult), TenantErrors)
)]
pub async fn add(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<PageInput>,
) -> ApiResult<Json<PageResult>> {
    auth.require_all_domains("pages")?;
    let url_id = thread(&input.url_id)?;
    for (name, v) in [("url", &input.url), ("title", &input.title)] {
        rules::check_opt(name, v).map_err(ApiError::invalid_body)?;
    }
    let _ = (
        input.accessible_by_group_ids,
        input.comment_count,
        input.root_comment_count,
    );
    let new = NewPage {
        url_id,
        url: input.url.filter(|u| !u.trim().is_empty()),
        title: input.title.filter(|t| !t.trim().is_empty()),
    };
    let page = hub.add_page(&auth.tenant_id, new).await?;
    Ok(Json(PageResult {
        status: Status::Success,
        page: page.into(),
    }))
}

/// `{status, pages}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PagesOut {
    status: Status,
    pages: Vec<PageOut>,
}

/// `GET /api/v1/pages`: the tenant's pages, oldest first (the first 10,000).
#[utoipa::path(
    get,
    path = "/pages",
    tag = "tenant",
    summary = "The tenant's pages",
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The pages", body = PagesOut), TenantErrors)
)]
pub async fn list(TenantCall { hub, auth }: TenantCall) -> ApiResult<Json<PagesOut>> {
    auth.require_all_domains("pages")?;
    let pages = hub.reads().pages(&auth.tenant_id, PAGES_MAX).await?;
    Ok(Json(PagesOut {
        status: Status::Success,
        pages: pages.into_iter().map(PageOut::from).collect(),
    }))
}

/// Query of `GET /api/v1/pages/by-url-id`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ByUrlIdQuery {
    /// The thread.
    url_id: String,
}

/// `GET /api/v1/pages/by-url-id?urlId=`.
#[utoipa::path(
    get,
    path = "/pages/by-url-id",
    tag = "tenant",
    summary = "A thread's page",
    params(ByUrlIdQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The page", body = PageResult), TenantErrors)
)]
pub async fn by_url_id(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<ByUrlIdQuery>,
) -> ApiResult<Json<PageResult>> {
    auth.require_all_domains("pages")?;
    let page = hub
        .reads()
        .page_by_url_id(&auth.tenant_id, q.url_id.trim())
        .await?
        .ok_or_else(|| ApiError::not_found("page"))?;
    Ok(Json(PageResult {
        status: Status::Success,
        page: page.into(),
    }))
}

/// Body of `PATCH /api/v1/pages/{id}` (`UpdateAPIPageData`): what is given changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PagePatch {
    /// Moves the page and its comments to this thread (`409` if it has a page).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    url_id: Option<String>,
    /// New URL.
    #[serde(default)]
    url: Option<String>,
    /// New title.
    #[serde(default)]
    title: Option<String>,
    /// Open or closed (a mark the hub keeps; it refuses no comment for it).
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    is_closed: Option<bool>,
    /// Accepted and left aside: the hub has no user groups.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    accessible_by_group_ids: Option<IgnoredAny>,
}

/// `{status, page, commentsUpdated}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageChanged {
    status: Status,
    page: PageOut,
    /// Comments moved to the new `urlId`.
    comments_updated: usize,
}

/// `PATCH /api/v1/pages/{id}`.
#[utoipa::path(
    patch,
    path = "/pages/{id}",
    tag = "tenant",
    summary = "Change a page (a new urlId moves its comments)",
    params(("id" = String, Path, description = "The page's id")),
    request_body = PagePatch,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The page", body = PageChanged), TenantErrors)
)]
pub async fn change(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<PagePatch>,
) -> ApiResult<Json<PageChanged>> {
    auth.require_all_domains("pages")?;
    let _ = input.accessible_by_group_ids;
    let url_id = input.url_id.as_deref().map(thread).transpose()?;
    for (name, v) in [("url", &input.url), ("title", &input.title)] {
        rules::check_opt(name, v).map_err(ApiError::invalid_body)?;
    }
    let change = PageChange {
        title: input.title,
        url: input.url,
        is_closed: input.is_closed,
    };
    let (page, moved) = hub
        .change_page(&auth.tenant_id, &id, &change, url_id)
        .await?;
    Ok(Json(PageChanged {
        status: Status::Success,
        page: page.into(),
        comments_updated: moved,
    }))
}

/// `{status, commentsDeleted}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageDeleted {
    status: Status,
    /// The thread's comments deleted with it.
    comments_deleted: usize,
}

/// `DELETE /api/v1/pages/{id}`: the page and every comment of its thread.
#[utoipa::path(
    delete,
    path = "/pages/{id}",
    tag = "tenant",
    summary = "Delete a page with its comments",
    params(("id" = String, Path, description = "The page's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "Deleted", body = PageDeleted), TenantErrors)
)]
pub async fn remove(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<PageDeleted>> {
    auth.require_all_domains("pages")?;
    let comments_deleted = hub.delete_page(&auth.tenant_id, &id).await?;
    Ok(Json(PageDeleted {
        status: Status::Success,
        comments_deleted,
    }))
}
