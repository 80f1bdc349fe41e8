//! Starting an import, for both doors it comes in by: the API (`POST /api/v1/imports`, the
//! file as the raw body) and the admin pages' Import form (the file as one part of a
//! `multipart/form-data` body). Each hands the file's bytes to a [`Spool`] as they arrive (memory
//! stays flat whatever the size), then [`Spool::start`] stores the import's record and hands
//! the file to the [`runner`](super::runner).

use super::{runner, Format};
use crate::error::{ApiError, ApiResult, Code};
use crate::hub::Hub;
use crate::ids::{self, TenantId};
use crate::records::{ImportRecord, ImportState};
use axum::http::StatusCode;
use bytes::Bytes;
use futures_core::Stream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest file one import takes, whichever door it came in by.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024 * 1024;

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
    let stale_before = hub.now().0 - STALE.as_millis() as i64;
    let recent = hub.reads().imports(tenant, 20).await?;
    match recent
        .iter()
        .find(|r| r.state == ImportState::Running && r.updated_at >= stale_before)
    {
        Some(r) => Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::Conflict,
            format!("import {} is running; one at a time", r.id),
        )),
        None => Ok(()),
    }
}

fn not_written(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "an import could not be written to the temporary folder");
    ApiError::internal()
}

/// An upload being written to a new file of the system's temporary folder. The file is
/// removed when the spool is dropped unless [`Spool::start`] handed it to the runner, so an
/// upload that breaks off, is refused or whose client goes away leaves nothing behind.
pub struct Spool {
    id: String,
    path: PathBuf,
    file: tokio::fs::File,
    size: u64,
    handed_on: bool,
}

impl Spool {
    /// A new, empty spool file.
    pub async fn create() -> ApiResult<Spool> {
        let id = ids::object_id();
        let path = std::env::temp_dir().join(format!("fastcomments-import-{id}"));
        let file = tokio::fs::File::create(&path).await.map_err(not_written)?;
        Ok(Spool {
            id,
            path,
            file,
            size: 0,
            handed_on: false,
        })
    }

    /// How many bytes it holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends every chunk of `body` as it arrives; `413` past [`MAX_BYTES`] in all.
    pub async fn write<E: std::fmt::Display>(
        &mut self,
        body: impl Stream<Item = Result<Bytes, E>>,
    ) -> ApiResult<()> {
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
            let data =
                chunk.map_err(|e| ApiError::invalid_body(format!("the upload broke off: {e}")))?;
            self.size += data.len() as u64;
            if self.size > MAX_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Code::PayloadTooLarge,
                    format!("an import takes at most {MAX_BYTES} bytes"),
                ));
            }
            self.file.write_all(&data).await.map_err(not_written)?;
        }
        Ok(())
    }

    /// The format asked for, or the one the file's start says.
    async fn format(&self, asked: Option<Format>) -> ApiResult<Format> {
        if let Some(f) = asked {
            return Ok(f);
        }
        let mut head = vec![0u8; 4096];
        let n = match tokio::fs::File::open(&self.path).await {
            Ok(mut f) => f.read(&mut head).await.unwrap_or(0),
            Err(_) => 0,
        };
        Format::guess(&head[..n]).ok_or_else(|| {
            ApiError::invalid_body(
                "the file is not one of the formats an import reads (a Disqus export, a \
                 WordPress export, JSON lines); name its format if it is one",
            )
        })
    }

    /// Stores the import's record (`running`) and starts reading the file in the background;
    /// the record as stored.
    pub async fn start(
        mut self,
        hub: &Arc<Hub>,
        tenant: &TenantId,
        asked: Option<Format>,
        dry_run: bool,
    ) -> ApiResult<ImportRecord> {
        self.file.sync_all().await.map_err(not_written)?;
        let format = self.format(asked).await?;
        let now = hub.now().0;
        let record = ImportRecord {
            id: self.id.clone(),
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
        hub.save_import(&record).await?;
        // From here the runner owns the file (it removes it once read).
        self.handed_on = true;
        tokio::spawn(runner::run(
            hub.clone(),
            record.clone(),
            format,
            self.path.clone(),
        ));
        Ok(record)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.handed_on {
            // One unlink; blocking, but short, and the only way a dropped upload cleans up.
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(error = %e, file = %self.path.display(), "an import's spooled file was left behind");
            }
        }
    }
}
