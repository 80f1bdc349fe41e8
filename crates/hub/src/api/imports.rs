//! `/api/v1/imports…`: a tenant imports a Disqus export, a WordPress export (WXR) or a JSON-lines
//! file. The body is written to disk as it arrives and parsed as it is written (memory stays
//! flat whatever its size; [`crate::import::start`], shared with the admin pages' Import
//! form); once the whole body is in, the import is answered `202` with its record, and it goes
//! on in the background ([`crate::import`]); its record shows its progress and problems.

use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::import::start;
use crate::records::{ImportProblem, ImportRecord, ImportState};
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use fastcomments_protocol::{lenient, Millis, Status};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A problem of an import, where in the file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemOut {
    line: u64,
    column: u64,
    message: String,
}

/// An import as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportOut {
    id: String,
    format: String,
    /// `running`, `done` or `failed`.
    #[schema(value_type = String)]
    state: ImportState,
    dry_run: bool,
    read: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    skipped: u64,
    problems: Vec<ProblemOut>,
    /// Problems past the first 1,000, counted only.
    problems_left_out: u64,
    created_at: Millis,
    updated_at: Millis,
}

impl From<ImportRecord> for ImportOut {
    fn from(r: ImportRecord) -> ImportOut {
        ImportOut {
            id: r.id,
            format: r.format,
            state: r.state,
            dry_run: r.dry_run,
            read: r.read,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            skipped: r.skipped,
            problems: r
                .problems
                .into_iter()
                .map(
                    |ImportProblem {
                         line,
                         column,
                         message,
                     }| ProblemOut {
                        line,
                        column,
                        message,
                    },
                )
                .collect(),
            problems_left_out: r.problems_left_out,
            created_at: Millis(r.created_at),
            updated_at: Millis(r.updated_at),
        }
    }
}

/// Query of `POST /api/v1/imports`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// `disqus`, `wxr` or `jsonl`; guessed from the file's start when not given.
    format: Option<String>,
    /// Read and check only: store nothing.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    dry_run: Option<bool>,
}

/// `{status, import}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    status: Status,
    import: ImportOut,
}

/// `POST /api/v1/imports?format=disqus|wxr|jsonl[&dryRun=true]`, the file as the body.
#[utoipa::path(
    post,
    path = "/imports",
    tag = "tenant",
    summary = "Import a Disqus export, a WordPress export or JSON lines",
    params(StartQuery),
    request_body(content = String, description = "The file", content_type = "application/octet-stream"),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 202, description = "The whole file was received and its import runs (its first batches may be stored already)", body = ImportResult), TenantErrors)
)]
pub async fn start(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<StartQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
    // Imported comments are of no one domain: the tenant's whole secret imports.
    auth.require_all_domains("importing comments")?;
    let format = start::asked_format(q.format.as_deref())?;
    start::may_start(&hub, &auth.tenant_id).await?;
    let record = start::receive(
        &hub,
        &auth.tenant_id,
        format,
        q.dry_run.unwrap_or(false),
        body.into_data_stream(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ImportResult {
            status: Status::Success,
            import: record.into(),
        }),
    ))
}

/// `GET /api/v1/imports/{id}`.
#[utoipa::path(
    get,
    path = "/imports/{id}",
    tag = "tenant",
    summary = "An import's progress and problems",
    params(("id" = String, Path, description = "The import's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The import", body = ImportResult), TenantErrors)
)]
pub async fn get(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<ImportResult>> {
    auth.require_all_domains("imports")?;
    let record = hub
        .reads()
        .import(&auth.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("import"))?;
    Ok(Json(ImportResult {
        status: Status::Success,
        import: record.into(),
    }))
}

/// `{status, imports}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportsOut {
    status: Status,
    imports: Vec<ImportOut>,
}

/// `GET /api/v1/imports`: the newest 100.
#[utoipa::path(
    get,
    path = "/imports",
    tag = "tenant",
    summary = "The tenant's imports, newest first",
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The imports", body = ImportsOut), TenantErrors)
)]
pub async fn list(TenantCall { hub, auth }: TenantCall) -> ApiResult<Json<ImportsOut>> {
    auth.require_all_domains("imports")?;
    let records = hub.reads().imports(&auth.tenant_id, 100).await?;
    Ok(Json(ImportsOut {
        status: Status::Success,
        imports: records.into_iter().map(ImportOut::from).collect(),
    }))
}
