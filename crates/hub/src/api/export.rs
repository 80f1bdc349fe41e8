//! `GET /api/v1/export?format=jsonl|wxr`: the whole tenant as JSON lines
//! ([`crate::import::export`]) or as a WordPress export ([`crate::import::export_wxr`]),
//! streamed as it is read; an import reads either back. Each export holds one of the hub's
//! export slots while it streams ([`crate::hub::export_slots`]: a few per tenant, a few more
//! per hub); one past them is `429` with `Retry-After`.

use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::{ApiError, ApiResult, Code};
use crate::extract::QueryParams;
use crate::hub::export_slots::{Full, IN_ALL, PER_TENANT, RETRY_AFTER_SECS};
use crate::import::{export, export_wxr};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use fastcomments_protocol::Failure;
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
        (status = 429, description = "`rate-limited`: as many exports of this tenant (2), or of this hub (8), are streaming as it takes at once; try again after `Retry-After` seconds", body = Failure),
        TenantErrors
    )
)]
pub async fn export(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    auth.require_all_domains("exporting comments")?;
    let wxr = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("jsonl") => false,
        Some("wxr") => true,
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "format must be jsonl or wxr, got {other:?}"
            )))
        }
    };
    let slot = hub.export_slots.take(&auth.tenant_id).map_err(refused)?;
    let hub = hub.clone();
    let tenant = auth.tenant_id.clone();
    let (body, content_type, name) = if wxr {
        (
            Body::from_stream(export_wxr::wxr(hub, tenant).holding(slot)),
            "application/xml; charset=utf-8",
            "comments.wxr.xml",
        )
    } else {
        (
            Body::from_stream(export::jsonl(hub, tenant).holding(slot)),
            "application/x-ndjson",
            "comments.jsonl",
        )
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

/// The answer to an export past a limit.
fn refused(full: Full) -> ApiError {
    let reason = match full {
        Full::Tenant => format!(
            "{PER_TENANT} exports of this tenant are streaming; at most {PER_TENANT} at once, \
             try again when one ends"
        ),
        Full::Hub => format!(
            "{IN_ALL} exports are streaming on this hub; at most {IN_ALL} at once, try again \
             when one ends"
        ),
    };
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, Code::RateLimited, reason)
        .retry_after(RETRY_AFTER_SECS)
}
