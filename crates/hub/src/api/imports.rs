//! `/api/v1/imports…`: a tenant imports a Disqus export, a WordPress export (WXR) or a JSON-lines
//! file. The body is written to disk as it arrives (memory stays flat whatever its size), the
//! import is answered `202` with its id, and it goes on in the background ([`crate::import`]);
//! its record shows its progress and problems.

use super::doc::TenantErrors;
use crate::error::{ApiError, ApiResult, Code};
use crate::extract::{AppState, QueryParams};
use crate::hub::access::TenantAuth;
use crate::ids;
use crate::import::{runner, Format};
use crate::records::{ImportProblem, ImportRecord, ImportState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fastcomments_protocol::{lenient, Millis, Status};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use utoipa::{IntoParams, ToSchema};

/// Largest file one import takes.
pub const IMPORT_MAX_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// An import that has shown no progress for this long is taken as dead (its node stopped):
/// another may start.
const STALE: Duration = Duration::from_secs(600);

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

/// Writes the body to a new file of the system's temporary folder; its size.
async fn spool(body: Body, file: &std::path::Path) -> ApiResult<u64> {
    let mut out = tokio::fs::File::create(file).await.map_err(|e| {
        tracing::error!(error = %e, "an import could not be written to the temporary folder");
        ApiError::internal()
    })?;
    let mut body = body;
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::invalid_body(format!("the upload broke off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size > IMPORT_MAX_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::PayloadTooLarge,
                format!("an import takes at most {IMPORT_MAX_BYTES} bytes"),
            ));
        }
        out.write_all(&data).await.map_err(|e| {
            tracing::error!(error = %e, "an import could not be written to the temporary folder");
            ApiError::internal()
        })?;
    }
    out.sync_all().await.map_err(|_| ApiError::internal())?;
    Ok(size)
}

/// The format of the spooled file, as asked or as its start says.
async fn format_of(asked: Option<&str>, file: &std::path::Path) -> ApiResult<Format> {
    if let Some(name) = asked.filter(|f| !f.trim().is_empty()) {
        return Format::parse(name).ok_or_else(|| {
            ApiError::invalid_query(format!("format must be disqus, wxr or jsonl, got {name:?}"))
        });
    }
    let mut head = vec![0u8; 4096];
    let n = match tokio::fs::File::open(file).await {
        Ok(mut f) => f.read(&mut head).await.unwrap_or(0),
        Err(_) => 0,
    };
    Format::guess(&head[..n]).ok_or_else(|| {
        ApiError::invalid_body(
            "the file is not one of the formats an import reads (a Disqus export, a WordPress \
             export, JSON lines); name it with ?format= if it is",
        )
    })
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
    responses((status = 202, description = "Started", body = ImportResult), TenantErrors)
)]
pub async fn start(
    State(hub): State<AppState>,
    auth: TenantAuth,
    QueryParams(q): QueryParams<StartQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
    // Imported comments are of no one domain: the tenant's whole secret imports.
    auth.require_all_domains("importing comments")?;
    if let Some(name) = q.format.as_deref().filter(|f| !f.trim().is_empty()) {
        Format::parse(name).ok_or_else(|| {
            ApiError::invalid_query(format!("format must be disqus, wxr or jsonl, got {name:?}"))
        })?;
    }
    let now = hub.now();
    let running = hub.reads().imports(&auth.tenant_id, 20).await?;
    let stale_before = now.0 - STALE.as_millis() as i64;
    if let Some(r) = running
        .iter()
        .find(|r| r.state == ImportState::Running && r.updated_at >= stale_before)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::Conflict,
            format!("import {} is running; one at a time", r.id),
        ));
    }
    let id = ids::object_id();
    let file = std::env::temp_dir().join(format!("fastcomments-import-{id}"));
    let spooled = spool(body, &file).await;
    let format = match spooled {
        Ok(_) => format_of(q.format.as_deref(), &file).await,
        Err(e) => Err(e),
    };
    let format = match format {
        Ok(f) => f,
        Err(e) => {
            let _ = tokio::fs::remove_file(&file).await;
            return Err(e);
        }
    };
    let record = ImportRecord {
        id,
        tenant_id: auth.tenant_id.clone(),
        format: format.as_str().to_owned(),
        state: ImportState::Running,
        dry_run: q.dry_run.unwrap_or(false),
        read: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        skipped: 0,
        problems: Vec::new(),
        problems_left_out: 0,
        created_at: now.0,
        updated_at: now.0,
    };
    if let Err(e) = hub.save_import(&record).await {
        let _ = tokio::fs::remove_file(&file).await;
        return Err(e.into());
    }
    tokio::spawn(runner::run(hub.clone(), record.clone(), format, file));
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
pub async fn list(State(hub): State<AppState>, auth: TenantAuth) -> ApiResult<Json<ImportsOut>> {
    auth.require_all_domains("imports")?;
    let records = hub.reads().imports(&auth.tenant_id, 100).await?;
    Ok(Json(ImportsOut {
        status: Status::Success,
        imports: records.into_iter().map(ImportOut::from).collect(),
    }))
}
