//! `GET /api/v1/export?format=jsonl|wxr`: the whole tenant as JSON lines
//! ([`crate::import::export`]) or as a WordPress export ([`crate::import::export_wxr`]),
//! streamed as it is read; an import reads either back.

use super::doc::TenantErrors;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppState, QueryParams};
use crate::hub::access::TenantAuth;
use crate::import::{export, export_wxr};
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
    /// `jsonl` (the default) or `wxr`.
    format: Option<String>,
}

/// `GET /api/v1/export[?format=jsonl|wxr]`.
#[utoipa::path(
    get,
    path = "/export",
    tag = "tenant",
    summary = "Every comment of the tenant, as JSON lines or a WordPress export (WXR)",
    params(ExportQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses(
        (status = 200, description = "The comments: one a line in the upload shape (`jsonl`), or a WXR file, one item per thread (`wxr`)", content((String = "application/x-ndjson"), (String = "application/xml"))),
        TenantErrors
    )
)]
pub async fn export(
    State(hub): State<AppState>,
    auth: TenantAuth,
    QueryParams(q): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    auth.require_all_domains("exporting comments")?;
    let hub = hub.clone();
    let tenant = auth.tenant_id.clone();
    let (body, content_type, name) = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("jsonl") => (
            Body::from_stream(export::jsonl(hub, tenant)),
            "application/x-ndjson",
            "comments.jsonl",
        ),
        Some("wxr") => (
            Body::from_stream(export_wxr::wxr(hub, tenant)),
            "application/xml; charset=utf-8",
            "comments.wxr.xml",
        ),
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "format must be jsonl or wxr, got {other:?}"
            )))
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
