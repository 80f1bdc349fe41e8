//! `GET /api/v1/export?format=jsonl`: the whole tenant as JSON lines, streamed as it is read
//! ([`crate::import::export`]); an import reads it back.

use super::doc::TenantErrors;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppState, QueryParams};
use crate::hub::access::TenantAuth;
use crate::import::export;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

/// Query of `GET /api/v1/export`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `jsonl` (the default; the only format so far).
    format: Option<String>,
}

/// `GET /api/v1/export[?format=jsonl]`.
#[utoipa::path(
    get,
    path = "/export",
    tag = "tenant",
    summary = "Every comment of the tenant, one JSON line each",
    params(ExportQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The comments, one a line, in the upload shape", body = String, content_type = "application/x-ndjson"), TenantErrors)
)]
pub async fn export(
    State(hub): State<AppState>,
    auth: TenantAuth,
    QueryParams(q): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    auth.require_all_domains("exporting comments")?;
    match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("jsonl") => {}
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "format must be jsonl, got {other:?}"
            )))
        }
    }
    let body = Body::from_stream(export::jsonl(hub.clone(), auth.tenant_id.clone()));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"comments.jsonl\"",
            ),
        ],
        body,
    )
        .into_response())
}
