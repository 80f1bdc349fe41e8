//! Starting an import, for both doors it comes in by: the API (`POST /api/v1/imports`, the
//! file as the raw body) and the admin pages' Import form (the file as one part of a
//! `multipart/form-data` body). Each hands the file's bytes to [`receive`] as they arrive. Once
//! the file's first bytes say its format (the format asked for, or its first 4 KiB guessed),
//! the import's record is stored and its [`runner`](super::runner) starts reading the
//! [`spool`](super::spool) while the rest is still arriving; `receive` returns when the whole
//! file is in. An upload that stops short (the client gone, a body that breaks off, past the
//! size limit) ends its import `failed`, at the byte where it stopped.

use super::spool::{self, SpoolWriter};
use super::{runner, Format};
use crate::error::{ApiError, ApiResult, Code};
use crate::hub::Hub;
use crate::ids::{self, TenantId};
use crate::records::{ImportRecord, ImportState};
use axum::http::StatusCode;
use bytes::Bytes;
use fastcomments_protocol::Millis;
use futures_core::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Largest file one import takes, whichever door it came in by.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// What a file's format is guessed from, at most.
const HEAD: usize = 4096;

/// An import that has shown no progress for this long is taken as dead (its node stopped):
/// another may start.
const STALE: Duration = Duration::from_secs(600);

/// The format asked for by name (`None`: guess it from the file); an unknown name is refused
/// before any of the file is read.
pub fn asked_format(name: Option<&str>) -> ApiResult<Option<Format>> {
    match name.map(str::trim).filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(name) => Format::parse(name).map(Some).ok_or_else(|| {
            ApiError::invalid_query(format!("format must be disqus, wxr or jsonl, got {name:?}"))
        }),
    }
}

/// Refuses (`409`) while another import of `tenant` runs: one at a time, checked before the
/// upload is read so a second one is not written to disk for nothing.
pub async fn may_start(hub: &Hub, tenant: &TenantId) -> ApiResult<()> {
    let stale_before = fresh_since(hub).0;
    let recent = hub.reads().imports(tenant, 20).await?;
    match recent.iter().find(|r| r.runs_since(stale_before)) {
        Some(r) => Err(running(r)),
        None => Ok(()),
    }
}

/// Since when a running import's record must have changed for it to count as running.
fn fresh_since(hub: &Hub) -> Millis {
    Millis(hub.now().0 - STALE.as_millis() as i64)
}

/// The `409` for a start while `r` runs.
fn running(r: &ImportRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        Code::Conflict,
        format!("import {} is running; one at a time", r.id),
    )
}

fn not_written(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "an import could not be written to the temporary folder");
    ApiError::internal()
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::PayloadTooLarge,
        format!("an import takes at most {MAX_BYTES} bytes"),
    )
}

/// The next chunk of `body`, or why it broke off.
async fn next_chunk<E: std::fmt::Display>(
    body: &mut Pin<&mut impl Stream<Item = Result<Bytes, E>>>,
) -> Option<Result<Bytes, String>> {
    std::future::poll_fn(|cx| body.as_mut().poll_next(cx))
        .await
        .map(|chunk| chunk.map_err(|e| e.to_string()))
}

/// Receives the file `body` and imports it as it arrives, for `tenant` (format `asked`, or
/// guessed from the file's start). Answers once every byte arrived: the import's record as it
/// stands then (`running`, or already ended). Refused before any record is stored: an empty
/// file, one whose format cannot be guessed, a body that broke off before its first bytes.
pub async fn receive<E: std::fmt::Display>(
    hub: &Arc<Hub>,
    tenant: &TenantId,
    asked: Option<Format>,
    dry_run: bool,
    body: impl Stream<Item = Result<Bytes, E>>,
) -> ApiResult<ImportRecord> {
    let mut body = std::pin::pin!(body);
    let id = ids::object_id();
    let (mut writer, reader) = spool::create(&id).await.map_err(not_written)?;
    // The head: the first bytes when the format is named, else enough to guess it.
    let mut head: Vec<u8> = Vec::new();
    let mut whole = false;
    while head.is_empty() || (asked.is_none() && head.len() < HEAD) {
        let Some(chunk) = next_chunk(&mut body).await else {
            whole = true;
            break;
        };
        let data =
            chunk.map_err(|e| ApiError::invalid_body(format!("the upload broke off: {e}")))?;
        head.extend_from_slice(&data[..data.len().min(HEAD.saturating_sub(head.len()))]);
        writer.append(&data).await.map_err(not_written)?;
    }
    if writer.received() == 0 {
        return Err(ApiError::invalid_body(
            "the file is empty: choose a file to import",
        ));
    }
    let Some(format) = asked.or_else(|| Format::guess(&head)) else {
        // Read to its end (or the size limit), unwritten, so the client gets the answer
        // rather than a reset.
        drop(reader);
        let mut received = writer.received();
        while let Some(Ok(data)) = next_chunk(&mut body).await {
            received += data.len() as u64;
            if received > MAX_BYTES {
                break;
            }
        }
        return Err(ApiError::invalid_body(
            "the file is not one of the formats an import reads (a Disqus export, a \
             WordPress export, JSON lines); name its format if it is one",
        ));
    };
    let now = hub.now().0;
    let record = ImportRecord {
        id,
        tenant_id: tenant.clone(),
        format: format.as_str().to_owned(),
        state: ImportState::Running,
        dry_run,
        read: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        skipped: 0,
        problems: Vec::new(),
        problems_left_out: 0,
        created_at: now,
        updated_at: now,
    };
    // Checked again as the record is stored, atomically: uploads that all passed `may_start`
    // before any of them had a record would otherwise all run.
    if let Some(other) = hub.start_import(&record, fresh_since(hub)).await? {
        return Err(running(&other));
    }
    tokio::spawn(runner::run(hub.clone(), record.clone(), format, reader));
    if !whole {
        receive_rest(&mut body, &mut writer).await.inspect_err(|_| {
            tracing::info!(import = %record.id, bytes = writer.received(), "an import's upload stopped short");
        })?;
    }
    writer.finish();
    Ok(hub
        .reads()
        .import(tenant, &record.id)
        .await
        .ok()
        .flatten()
        .unwrap_or(record))
}

/// The upload past its head, into the spool while its import reads it.
async fn receive_rest<E: std::fmt::Display>(
    body: &mut Pin<&mut impl Stream<Item = Result<Bytes, E>>>,
    writer: &mut SpoolWriter,
) -> ApiResult<()> {
    // The error answered, and the reason the import is told (after "the upload ended after N
    // bytes: ").
    let (error, why) = loop {
        let data = match next_chunk(body).await {
            None => return Ok(()),
            Some(Ok(data)) => data,
            Some(Err(e)) => {
                break (
                    ApiError::invalid_body(format!("the upload broke off: {e}")),
                    format!("the body broke off ({e})"),
                )
            }
        };
        if writer.received() + data.len() as u64 > MAX_BYTES {
            break (
                too_large(),
                format!("the file is larger than the {MAX_BYTES} bytes an import takes"),
            );
        }
        if let Err(e) = writer.append(&data).await {
            let why = format!("it could not be written to the temporary folder ({e})");
            break (not_written(e), why);
        }
    };
    // Told here, not left to the writer's drop, so the import learns the reason.
    writer.cut(&why);
    Err(error)
}
