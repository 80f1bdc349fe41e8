//! `/integrations/v1/…`: the polling protocol of SPEC §1, both generations.

use super::extract::{parse_json, read_body, AppState, QueryParams};
use crate::error::{ApiError, ApiResult};
use crate::hub::{normalize_domain, revoked, Hub};
use crate::store::{
    EntryKind, EventPayload, TimelineEntry, TimelineQuery, TokenRecord, TokenState, UploadBatch,
};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fastcomments_protocol::{
    codes, is_valid_token, lenient, ApiSecretResponse, Command, CommandKind, CommandsResponse,
    CommentIdsRequest, CommentsPage, Cursor, EventType, Millis, Status, StreamCommand,
    TokenResponse, UploadRequest, UploadResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

// ---------- step 1: the token ----------

/// Query of `PUT /token`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenQuery {
    token: Option<String>,
    integration_type: Option<String>,
    domain: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    skip_initial_sync: Option<bool>,
}

/// `PUT /integrations/v1/token/{token}`.
pub async fn put_token_path(
    State(hub): State<AppState>,
    Path(token): Path<String>,
    QueryParams(q): QueryParams<TokenQuery>,
) -> ApiResult<Json<TokenResponse>> {
    register(&hub, &token, q).await
}

/// `PUT /integrations/v1/token?token=…`.
pub async fn put_token_query(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<TokenQuery>,
) -> ApiResult<Json<TokenResponse>> {
    let token = q.token.clone().ok_or_else(|| {
        ApiError::bad_request(
            codes::INVALID_TOKEN,
            "give the token as /token/{token} or ?token=",
        )
    })?;
    register(&hub, &token, q).await
}

async fn register(hub: &Hub, token: &str, q: TokenQuery) -> ApiResult<Json<TokenResponse>> {
    if !is_valid_token(token) {
        return Err(ApiError::bad_request(
            codes::INVALID_TOKEN,
            "token must be 8 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
        ));
    }
    let domain = match q.domain.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(d) => Some(normalize_domain(d).filter(|d| d != "*").ok_or_else(|| {
            ApiError::invalid_query(format!("domain is not a host name or URL: {d:?}"))
        })?),
        None => None,
    };
    let integration_type = q
        .integration_type
        .map(|t| t.chars().take(64).collect::<String>());
    let record = match hub.token_record(token).await? {
        // Acknowledged before the plugin's first call (a setup link, the official harness):
        // the plugin's first `PUT` tells what it is and where it runs.
        Some(r)
            if r.state != TokenState::Revoked
                && ((r.integration_type.is_none() && integration_type.is_some())
                    || (r.domain.is_none() && domain.is_some())) =>
        {
            hub.describe_token(token, integration_type.as_deref(), domain.as_deref())
                .await?
        }
        Some(r) => r,
        None => {
            let fresh = TokenRecord {
                integration_type,
                domain,
                skip_requested: q.skip_initial_sync.unwrap_or(false),
                ..TokenRecord::pending(token, hub.now_ms(), hub.config.initial_batch_size)
            };
            let stored = hub.register_token(&fresh).await?;
            tracing::info!(token = %crate::ids::redact(token), "integration token registered (pending)");
            stored
        }
    };
    match record.state {
        TokenState::Revoked => Err(revoked()),
        TokenState::Pending => Ok(Json(TokenResponse {
            status: Status::Success,
            is_token_validated: false,
            tenant_id: None,
        })),
        TokenState::Validated => Ok(Json(TokenResponse {
            status: Status::Success,
            is_token_validated: true,
            tenant_id: record.tenant_id,
        })),
    }
}

// ---------- generation A: the stream ----------

/// Query of `GET /stream`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamQuery {
    token: Option<String>,
    last_fetch_date: Option<String>,
}

/// A stream event with its stored JSON passed through untouched.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamEventOut<'a> {
    id: &'a str,
    created_at: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    url_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vote: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamOut<'a> {
    status: Status,
    commands: Vec<StreamCommand>,
    events: Vec<StreamEventOut<'a>>,
    has_more: bool,
    next_fetch_date: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gap_detected: bool,
}

fn required_token(token: Option<String>) -> ApiResult<String> {
    token.filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::bad_request(codes::INVALID_TOKEN, "the token query value is missing")
    })
}

fn parse_cursor(text: Option<&str>, name: &str) -> ApiResult<Cursor> {
    Cursor::parse(text.unwrap_or("")).map_err(|e| ApiError::invalid_query(format!("{name}: {e}")))
}

/// `GET /integrations/v1/stream?token&lastFetchDate`.
pub async fn stream(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<StreamQuery>,
) -> ApiResult<Response> {
    let token = required_token(q.token)?;
    let cursor = parse_cursor(q.last_fetch_date.as_deref(), "lastFetchDate")?;
    let (record, tenant) = hub.validated_token(&token).await?;
    hub.metrics.polls.inc();
    let after = cursor.after_ms();
    let bounds = hub.bounds(&tenant).await?;
    let gap_detected = cursor != Cursor::Start && after < bounds.pruned_through;
    let mut commands = Vec::new();
    if !record.upload_finished {
        commands.push(StreamCommand::SendNextCommentsPayload {
            id: format!("send-{}", record.upload_received),
            start: record.upload_received.max(0) as u64,
            count: record.batch_size.max(1) as u64,
        });
    }
    let page = hub.config.page_size;
    let mut entries = Vec::new();
    let mut has_more = false;
    if after < bounds.newest {
        entries = hub
            .store
            .read_timeline(&TimelineQuery {
                tenant_id: tenant.clone(),
                viewer_token: token.clone(),
                after_ms: after,
                until_ms: None,
                limit: page + 1,
                include_setup: true,
            })
            .await?;
        has_more = entries.len() as u64 > page;
        entries.truncate(page as usize);
    } else {
        hub.metrics.idle_polls.inc();
    }
    let last = entries.last().map(|e| e.created_at);
    let next_fetch_date = match (has_more, last) {
        (true, Some(l)) => l,
        // Every visible entry up to the newest position (read before the query) was returned.
        _ => after.max(last.unwrap_or(0)).max(bounds.newest),
    };
    let mut events = Vec::with_capacity(entries.len());
    for e in &entries {
        match e.kind {
            EntryKind::SetupCompleted => commands.push(StreamCommand::SetSetupCompleted {
                id: e.id.clone(),
                created_at: Millis(e.created_at),
            }),
            EntryKind::Event(kind) => {
                let parts = payload_parts(kind, e)?;
                events.push(StreamEventOut {
                    id: &e.id,
                    created_at: e.created_at,
                    kind: kind.as_str(),
                    url_id: &e.url_id,
                    comment: parts.comment,
                    vote: parts.vote,
                })
            }
        }
    }
    hub.metrics.events_served.add(events.len() as u64);
    let out = StreamOut {
        status: Status::Success,
        commands,
        events,
        has_more,
        next_fetch_date,
        gap_detected,
    };
    Ok(json_response(&out))
}

/// An event's stored payload as its `comment` and `vote`.
fn payload_parts(kind: EventType, e: &TimelineEntry) -> ApiResult<EventPayload<'_>> {
    EventPayload::split(kind, e.payload.as_deref()).map_err(|err| {
        tracing::error!(entry = %e.id, error = %err, "stored timeline payload is not JSON");
        ApiError::internal()
    })
}

fn json_response<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            ApiError::internal().into_response()
        }
    }
}

// ---------- generation B: commands and events ----------

/// Query of `GET /commands` and `GET /events`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandsQuery {
    token: Option<String>,
    from_date_time: Option<String>,
}

/// `GET /integrations/v1/commands?token&fromDateTime`.
pub async fn commands(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<CommandsQuery>,
) -> ApiResult<Json<CommandsResponse>> {
    let token = required_token(q.token)?;
    let cursor = parse_cursor(q.from_date_time.as_deref(), "fromDateTime")?;
    let (record, tenant) = hub.validated_token(&token).await?;
    hub.metrics.polls.inc();
    let after = cursor.after_ms();
    let bounds = hub.bounds(&tenant).await?;
    let mut commands = Vec::new();
    if after < bounds.newest {
        let query = TimelineQuery {
            tenant_id: tenant,
            viewer_token: token,
            after_ms: after,
            until_ms: None,
            limit: 0,
            include_setup: false,
        };
        let n = hub.store.count_timeline(&query, 100_000).await?;
        if n > 0 {
            commands.push(Command {
                id: None,
                command: CommandKind::FetchEvents,
                event_count: Some(n),
            });
        }
    } else {
        hub.metrics.idle_polls.inc();
    }
    if !record.upload_finished {
        commands.push(Command {
            id: None,
            command: CommandKind::SendComments,
            event_count: None,
        });
    }
    if let Some(done_at) = record.setup_completed_at {
        if after < done_at || cursor == Cursor::Start {
            commands.push(Command {
                id: None,
                command: CommandKind::SetSyncDone,
                event_count: None,
            });
        }
    }
    Ok(Json(CommandsResponse {
        status: Status::Success,
        commands,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EncodedEventOut<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    created_at: String,
    url_id: &'a str,
    data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventDataOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    broadcast_id: &'a str,
    timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vote: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventsOut<'a> {
    status: Status,
    events: Vec<EncodedEventOut<'a>>,
    has_more: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gap_detected: bool,
}

/// The page of generation B: at most a page, then extended so it never ends inside a
/// wall-clock second, and always past the cursor's own second when more exists — so a plugin
/// that floors its cursor to whole seconds neither skips nor loops.
async fn second_aligned_page(
    hub: &Hub,
    base: TimelineQuery,
) -> ApiResult<(Vec<TimelineEntry>, bool)> {
    let page = hub.config.page_size;
    let mut entries = hub
        .store
        .read_timeline(&TimelineQuery {
            limit: page + 1,
            ..base.clone()
        })
        .await?;
    if (entries.len() as u64) <= page {
        return Ok((entries, false));
    }
    entries.truncate(page as usize);
    let cursor_second = base.after_ms.div_euclid(1000);
    for _ in 0..2 {
        let Some(last) = entries.last().map(|e| e.created_at) else {
            break;
        };
        let second_end = last.div_euclid(1000) * 1000 + 999;
        let rest = hub
            .store
            .read_timeline(&TimelineQuery {
                after_ms: last,
                until_ms: Some(second_end),
                limit: hub.config.max_second_extension,
                ..base.clone()
            })
            .await?;
        entries.extend(rest);
        let last_second = entries
            .last()
            .map_or(cursor_second, |e| e.created_at.div_euclid(1000));
        if last_second > cursor_second {
            break;
        }
        // Everything so far lies in the cursor's own second: take the next second too.
        let next = hub
            .store
            .read_timeline(&TimelineQuery {
                after_ms: second_end,
                limit: 1,
                ..base.clone()
            })
            .await?;
        entries.extend(next);
    }
    let last = entries.last().map_or(base.after_ms, |e| e.created_at);
    let more = hub
        .store
        .read_timeline(&TimelineQuery {
            after_ms: last,
            limit: 1,
            ..base
        })
        .await?;
    Ok((entries, !more.is_empty()))
}

/// `GET /integrations/v1/events?token&fromDateTime`.
pub async fn events(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<CommandsQuery>,
) -> ApiResult<Response> {
    let token = required_token(q.token)?;
    let cursor = parse_cursor(q.from_date_time.as_deref(), "fromDateTime")?;
    let (_, tenant) = hub.validated_token(&token).await?;
    let after = cursor.after_ms();
    let bounds = hub.bounds(&tenant).await?;
    let gap_detected = cursor != Cursor::Start && after < bounds.pruned_through;
    let (entries, has_more) = if after < bounds.newest {
        second_aligned_page(
            &hub,
            TimelineQuery {
                tenant_id: tenant,
                viewer_token: token,
                after_ms: after,
                until_ms: None,
                limit: 0,
                include_setup: false,
            },
        )
        .await?
    } else {
        (Vec::new(), false)
    };
    let mut events = Vec::with_capacity(entries.len());
    for e in &entries {
        let EntryKind::Event(kind) = e.kind else {
            continue;
        };
        let parts = payload_parts(kind, e)?;
        let data = EventDataOut {
            kind: kind.as_str(),
            broadcast_id: &e.id,
            timestamp: e.created_at,
            comment: parts.comment,
            vote: parts.vote,
        };
        let data = serde_json::to_string(&data).map_err(|_| ApiError::internal())?;
        events.push(EncodedEventOut {
            id: &e.id,
            created_at: Millis(e.created_at).to_iso(),
            url_id: &e.url_id,
            data,
        });
    }
    hub.metrics.events_served.add(events.len() as u64);
    Ok(json_response(&EventsOut {
        status: Status::Success,
        events,
        has_more,
        gap_detected,
    }))
}

// ---------- step 3: upload ----------

/// Query holding only the token.
#[derive(Debug, Deserialize)]
pub struct TokenOnly {
    token: Option<String>,
}

/// `POST /integrations/v1/comments?token`.
pub async fn upload(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<TokenOnly>,
    body: Body,
) -> ApiResult<Json<UploadResponse>> {
    let token = required_token(q.token)?;
    let (record, tenant) = hub.validated_token(&token).await?;
    let bytes = match read_body(body, hub.config.upload_limit_bytes).await {
        Ok(b) => b,
        Err(e) => {
            hub.metrics.uploads_too_large.inc();
            // Only the batch size changes: the record read above may be stale by now.
            hub.halve_batch_size(&record.token).await?;
            return Err(e);
        }
    };
    let request: UploadRequest = parse_json(&bytes)?;
    for c in &request.comments {
        crate::domain::validate_upload(c).map_err(ApiError::invalid_body)?;
    }
    let finishes_upload = request.is_last();
    let remaining = request.count_remaining;
    let outcome = hub
        .upload(UploadBatch {
            tenant_id: tenant,
            token,
            comments: request.comments,
            finishes_upload,
        })
        .await?;
    // The admin pages' progress bar: received of expected.
    let received = u64::try_from(outcome.token.upload_received).unwrap_or(0);
    hub.note_upload_remaining(&outcome.token.token, received, remaining);
    Ok(Json(UploadResponse {
        status: Status::Success,
        comment_ids: outcome.comment_ids,
        received: outcome.received,
    }))
}

// ---------- generation B: download, id mapping, secret ----------

/// Query of `GET /comments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadQuery {
    token: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    skip: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    include_count: Option<bool>,
}

/// `GET /integrations/v1/comments?token&skip&includeCount`.
pub async fn download(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<DownloadQuery>,
) -> ApiResult<Json<CommentsPage>> {
    let token = required_token(q.token)?;
    let (_, tenant) = hub.validated_token(&token).await?;
    let skip = q.skip.unwrap_or(0);
    if skip < 0 {
        return Err(ApiError::invalid_query("skip must not be negative"));
    }
    let limit = hub.config.download_page_size;
    let mut comments = hub
        .store
        .comments_page(&tenant, skip as u64, limit + 1)
        .await?;
    let has_more = comments.len() as u64 > limit;
    comments.truncate(limit as usize);
    let total_count = match q.include_count {
        Some(true) => Some(hub.store.count_comments(&tenant).await?),
        _ => None,
    };
    Ok(Json(CommentsPage {
        status: Status::Success,
        comments,
        has_more,
        total_count,
    }))
}

/// Answer of `PATCH /comment-ids`.
#[derive(Debug, Serialize)]
pub struct MappingsOut {
    status: Status,
    updated: u64,
}

/// `PATCH /integrations/v1/comment-ids?token`.
pub async fn comment_ids(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<TokenOnly>,
    body: Body,
) -> ApiResult<Json<MappingsOut>> {
    let token = required_token(q.token)?;
    let (_, tenant) = hub.validated_token(&token).await?;
    let bytes = read_body(body, hub.config.body_limit_bytes).await?;
    let request: CommentIdsRequest = parse_json(&bytes)?;
    if request.mappings.len() > CommentIdsRequest::MAX {
        return Err(ApiError::invalid_body(format!(
            "at most {} mappings per call, got {}",
            CommentIdsRequest::MAX,
            request.mappings.len()
        )));
    }
    let updated = hub.store.set_local_ids(&tenant, &request.mappings).await?;
    Ok(Json(MappingsOut {
        status: Status::Success,
        updated,
    }))
}

/// `GET /integrations/v1/api-secret?token`.
pub async fn api_secret(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<TokenOnly>,
) -> ApiResult<Json<ApiSecretResponse>> {
    let token = required_token(q.token)?;
    let (record, tenant) = hub.validated_token(&token).await?;
    let secret = hub
        .secret_for_domain(&tenant, record.domain.as_deref())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                codes::NO_API_SECRET,
                "the tenant has no API secret for this domain",
            )
        })?;
    Ok(Json(ApiSecretResponse {
        status: Status::Success,
        secret: secret.secret,
    }))
}
