//! The Import page: a form that uploads a Disqus export, a WordPress export (WXR) or a
//! JSON-lines file, the tenant's past imports, and each import's page with its progress (it
//! reloads itself while the import runs) and its result, problems with their place in the file.
//!
//! The upload is started as the API starts one ([`crate::import::start`]: the file spooled to
//! disk and parsed as it arrives, one import at a time per tenant, the same size limit), so the
//! two doors cannot drift apart. The form's fields come before its file (a browser sends them
//! in the form's order): the import starts with the file's first bytes, so parts after the file
//! are read past, unused. Its CSRF token is checked from the request's head by the guard
//! ([`super::csrf::verify_upload`]) before this handler reads a byte of the body.

use super::{after_error, render, when, Admin, Layout, PageState, TenantPage};
use crate::error::{ApiError, ApiResult, Code};
use crate::import::start::{self, MAX_BYTES};
use crate::records::{ImportRecord, ImportState};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

/// Where the form and the list are.
const BACK: &str = "/admin/imports";

/// Imports listed, newest first.
const LISTED: u64 = 100;

fn state_name(s: ImportState) -> &'static str {
    match s {
        ImportState::Running => "running",
        ImportState::Done => "done",
        ImportState::Failed => "failed",
    }
}

/// An import as listed.
#[derive(Debug)]
pub struct Row {
    id: String,
    started: String,
    format: String,
    state: &'static str,
    dry_run: bool,
    read: u64,
    created: u64,
    updated: u64,
    problems: u64,
}

/// The form and the list.
#[derive(Template)]
#[template(path = "admin/imports.html")]
struct ImportsPage {
    layout: Layout,
    rows: Vec<Row>,
    max_gib: u64,
}

/// `GET /admin/imports`.
pub async fn list(TenantPage { state, admin }: TenantPage) -> Response {
    let records = match state.hub.reads().imports(&admin.tenant_id, LISTED).await {
        Ok(r) => r,
        Err(e) => return super::error_page(e.into()),
    };
    let rows = records
        .into_iter()
        .map(|r| Row {
            started: when(r.created_at),
            state: state_name(r.state),
            problems: r.problems.len() as u64 + r.problems_left_out,
            id: r.id,
            format: r.format,
            dry_run: r.dry_run,
            read: r.read,
            created: r.created,
            updated: r.updated,
        })
        .collect();
    render(
        StatusCode::OK,
        &ImportsPage {
            layout: Layout::new(&admin, "imports"),
            rows,
            max_gib: MAX_BYTES >> 30,
        },
    )
}

/// A problem as shown: where, then what.
#[derive(Debug)]
pub struct ProblemRow {
    place: String,
    message: String,
}

/// One import.
#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    layout: Layout,
    record: ImportRecord,
    state: &'static str,
    started: String,
    updated: String,
    problems: Vec<ProblemRow>,
}

/// `GET /admin/imports/{id}`: another tenant's import, like an unknown id, is not found.
pub async fn show(TenantPage { state, admin }: TenantPage, Path(id): Path<String>) -> Response {
    let record = match state.hub.reads().import(&admin.tenant_id, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => return super::error_page(ApiError::not_found("import")),
        Err(e) => return super::error_page(e.into()),
    };
    let problems = record
        .problems
        .iter()
        .map(|p| ProblemRow {
            // A batch the store refused is of no one place in the file (line 0).
            place: if p.line == 0 {
                "while storing".to_owned()
            } else {
                format!("line {}, column {}", p.line, p.column)
            },
            message: p.message.clone(),
        })
        .collect();
    render(
        StatusCode::OK,
        &ImportPage {
            layout: Layout::new(&admin, "imports"),
            state: state_name(record.state),
            started: when(record.created_at),
            updated: when(record.updated_at),
            problems,
            record,
        },
    )
}

/// `POST /admin/imports?csrf=…`: the Import form (`multipart/form-data`: `format`, `dryRun`,
/// then `file`), or a script's raw file with `format` and `dryRun` in the query. Answers with
/// a redirect (to the import, or back to the form with what went wrong; a server fault is an
/// error page), so the URL holding the token does not stay in the address bar.
pub async fn upload(
    TenantPage { state, admin }: TenantPage,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(&state, &admin, query.as_deref(), &headers, body).await {
        Ok(record) => Redirect::to(&format!("{BACK}/{}", record.id)).into_response(),
        Err(e) => after_error(&state, &admin, e, BACK).await,
    }
}

/// A checkbox or a query flag: present and not saying no.
fn flag(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "off" | "no"
    )
}

fn unreadable(e: multer::Error) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::PayloadTooLarge,
            format!("an import takes at most {MAX_BYTES} bytes"),
        ),
        e => ApiError::invalid_body(format!("the form could not be read: {e}")),
    }
}

/// Receives the upload and runs its import as it arrives.
async fn receive(
    state: &PageState,
    admin: &Admin,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<ImportRecord> {
    // Before a byte of the file is written: one import at a time.
    start::may_start(&state.hub, &admin.tenant_id).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .get(..19)
        .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
    {
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let format = start::asked_format(field("format"))?;
        let dry_run = field("dryRun").is_some_and(flag);
        return start::receive(
            &state.hub,
            &admin.tenant_id,
            format,
            dry_run,
            body.into_data_stream(),
        )
        .await;
    }
    let boundary = multer::parse_boundary(content_type).map_err(unreadable)?;
    let constraints = multer::Constraints::new()
        .allowed_fields(vec!["format", "dryRun", "file"])
        .size_limit(
            multer::SizeLimit::new()
                // The file and the two small fields' framing.
                .whole_stream(MAX_BYTES + 64 * 1024)
                .for_field("format", 64)
                .for_field("dryRun", 64),
        );
    let mut parts =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let (mut format, mut dry_run) = (None, false);
    while let Some(part) = parts.next_field().await.map_err(unreadable)? {
        match part.name() {
            // A form lists its fields before the file: a bad format is refused before the
            // file is read.
            Some("format") => {
                format = start::asked_format(Some(&part.text().await.map_err(unreadable)?))?
            }
            Some("dryRun") => dry_run = flag(&part.text().await.map_err(unreadable)?),
            Some("file") => {
                let record =
                    start::receive(&state.hub, &admin.tenant_id, format, dry_run, part).await?;
                // The closing boundary, and whatever a form put after its file: read, unused.
                while let Ok(Some(_)) = parts.next_field().await {}
                return Ok(record);
            }
            _ => return Err(ApiError::invalid_body("the form holds one file only")),
        }
    }
    Err(ApiError::invalid_body("Choose a file to import."))
}
