//! `/integrations/v1/…`: the polling protocol of SPEC §1, both generations.

use super::doc::{RegisterErrors, TokenErrors, TooLarge};
use crate::error::{ApiError, ApiResult, Code};
use crate::extract::{parse_json, read_body, AppState, ClientAddr, QueryParams};
use crate::hub::{revoked, Hub};
use crate::ids::TenantId;
use crate::records::{
    EntryKind, EventPayload, IntegrationToken, TimelineEntry, TimelineQuery, TokenRecord,
    TokenState, UploadBatch,
};
use crate::site_domain::normalize_domain;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fastcomments_protocol::{
    is_valid_token, lenient, ApiSecretResponse, Command, CommandKind, CommandsResponse, Comment,
    CommentIdsRequest, CommentsPage, Cursor, EventType, Millis, Status, StreamCommand,
    TokenResponse, UploadRequest, UploadResponse, Vote,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

// ---------- step 1: the token ----------

/// Query of `PUT /token`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The integration token (`[A-Za-z0-9._-]{8,128}`), when not in the path.
    token: Option<String>,
    /// What the plugin is, e.g. `wordpress` (the first 64 characters are kept).
    integration_type: Option<String>,
    /// The site's host name or URL.
    domain: Option<String>,
    /// Ask to skip the initial upload (`true`/`false`, `1`/`0`).
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    skip_initial_sync: Option<bool>,
}

/// `PUT /integrations/v1/token/{token}`.
#[utoipa::path(
    put,
    path = "/token/{token}",
    tag = "integration",
    summary = "Register an integration token (pending until a tenant admin acknowledges it)",
    params(("token" = String, Path, description = "The integration token"), TokenQuery),
    responses((status = 200, description = "Registered or known", body = TokenResponse), RegisterErrors)
)]
pub async fn put_token_path(
    State(hub): State<AppState>,
    client: ClientAddr,
    Path(token): Path<IntegrationToken>,
    QueryParams(q): QueryParams<TokenQuery>,
) -> ApiResult<Json<TokenResponse>> {
    register(&hub, client, &token, q).await
}

/// `PUT /integrations/v1/token?token=…`.
#[utoipa::path(
    put,
    path = "/token",
    tag = "integration",
    summary = "Register an integration token given as ?token=",
    params(TokenQuery),
    responses((status = 200, description = "Registered or known", body = TokenResponse), RegisterErrors)
)]
pub async fn put_token_query(
    State(hub): State<AppState>,
    client: ClientAddr,
    QueryParams(q): QueryParams<TokenQuery>,
) -> ApiResult<Json<TokenResponse>> {
    let token = q.token.clone().map(IntegrationToken::from).ok_or_else(|| {
        ApiError::bad_request(
            Code::InvalidToken,
            "give the token as /token/{token} or ?token=",
        )
    })?;
    register(&hub, client, &token, q).await
}

async fn register(
    hub: &Hub,
    client: ClientAddr,
    token: &IntegrationToken,
    q: TokenQuery,
) -> ApiResult<Json<TokenResponse>> {
    if !is_valid_token(token.as_str()) {
        return Err(crate::hub::malformed_token());
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
                ..TokenRecord::pending(token, hub.now(), hub.config.initial_batch_size)
            };
            let from = crate::client_addr::AddressKey::of(client.0).to_string();
            let stored = hub.register_pending(&fresh, &from).await?;
            tracing::info!(token = %crate::ids::redact(token.as_str()), "integration token registered (pending)");
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
            tenant_id: record.tenant_id.map(TenantId::into_string),
        })),
    }
}

// ---------- generation A: the stream ----------

/// Query of `GET /stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The integration token.
    #[param(required = true)]
    token: Option<String>,
    /// The `nextFetchDate` of the last page applied: epoch ms, epoch seconds or ISO-8601;
    /// missing or `0` reads from the start of what is kept.
    last_fetch_date: Option<String>,
}

/// A stream event with its stored JSON passed through untouched.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StreamEvent)]
struct StreamEventOut<'a> {
    /// The timeline entry's id (the de-duplication key).
    id: &'a str,
    /// The entry's position, epoch ms.
    created_at: i64,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    kind: &'static str,
    /// The thread.
    url_id: &'a str,
    /// The comment, for comment events.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Comment>)]
    comment: Option<&'a RawValue>,
    /// The vote, for vote events.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vote>)]
    vote: Option<&'a RawValue>,
}

/// Answer to `GET /integrations/v1/stream`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StreamResponse)]
struct StreamOut<'a> {
    status: Status,
    /// Commands, in cursor order where they are timeline entries.
    commands: Vec<StreamCommand>,
    /// Events after `lastFetchDate`, ascending.
    events: Vec<StreamEventOut<'a>>,
    /// Another non-empty page exists.
    has_more: bool,
    /// The next `lastFetchDate`, to store once the events are applied.
    next_fetch_date: i64,
    /// The cursor was older than the oldest kept entry: events were lost, re-sync. Absent
    /// when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gap_detected: bool,
}

fn required_token(token: Option<String>) -> ApiResult<IntegrationToken> {
    token
        .filter(|t| !t.is_empty())
        .map(IntegrationToken::from)
        .ok_or_else(|| {
            ApiError::bad_request(Code::InvalidToken, "the token query value is missing")
        })
}

fn parse_cursor(text: Option<&str>, name: &str) -> ApiResult<Cursor> {
    Cursor::parse(text.unwrap_or("")).map_err(|e| ApiError::invalid_query(format!("{name}: {e}")))
}

/// `GET /integrations/v1/stream?token&lastFetchDate`.
#[utoipa::path(
    get,
    path = "/stream",
    tag = "integration",
    summary = "Generation A: commands and events after lastFetchDate",
    params(StreamQuery),
    responses((status = 200, description = "A page", body = StreamOut), TokenErrors)
)]
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
            .reads()
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
                let Some(parts) = payload_parts(&hub, kind, e) else {
                    continue;
                };
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

/// An event's stored payload as its `comment` and `vote`; `None` (logged and counted) when
/// the stored payload cannot be read. Such an entry is left out of the poll rather than
/// failing it: one damaged row must not stop every plugin of the tenant at a 500 (the cursor
/// still moves past it, as past an entry meant for another token).
fn payload_parts<'e>(hub: &Hub, kind: EventType, e: &'e TimelineEntry) -> Option<EventPayload<'e>> {
    match EventPayload::split(kind, e.payload.as_deref()) {
        Ok(parts) => Some(parts),
        Err(err) => {
            tracing::error!(entry = %e.id, position = e.created_at, error = %err, "left out a timeline entry whose stored payload is not JSON");
            hub.metrics.unreadable_entries.inc();
            None
        }
    }
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
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CommandsQuery {
    /// The integration token.
    #[param(required = true)]
    token: Option<String>,
    /// Where the plugin has read up to: epoch ms, epoch seconds (floored cursors are fine) or
    /// ISO-8601; missing or `0` is the start.
    from_date_time: Option<String>,
}

/// `GET /integrations/v1/commands?token&fromDateTime`.
#[utoipa::path(
    get,
    path = "/commands",
    tag = "integration",
    summary = "Generation B: what the plugin should do now",
    params(CommandsQuery),
    responses((status = 200, description = "The commands", body = CommandsResponse), TokenErrors)
)]
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
        let n = hub.reads().count_timeline(&query, 100_000).await?;
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

/// One event of generation B; its payload is JSON text.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EncodedEvent)]
struct EncodedEventOut<'a> {
    /// The timeline entry's id.
    #[serde(rename = "_id")]
    id: &'a str,
    /// Its position as ISO-8601 text with milliseconds.
    #[schema(format = DateTime)]
    created_at: String,
    /// The thread.
    url_id: &'a str,
    /// The `EventData` schema, serialized to JSON text.
    data: String,
}

/// The schemas of generation B that are no answer's own: what an event's `data` text holds.
/// [`api_routes`](super::api_routes) merges them into the document.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(EventDataOut)))]
pub struct EncodedSchemas;

/// What an event's `data` text holds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EventData)]
pub(crate) struct EventDataOut<'a> {
    /// What happened.
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    kind: &'static str,
    /// The event's id (the entry's `_id`).
    broadcast_id: &'a str,
    /// The entry's position, epoch ms.
    timestamp: i64,
    /// The comment, for comment events.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Comment>)]
    comment: Option<&'a RawValue>,
    /// The vote, for vote events.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vote>)]
    vote: Option<&'a RawValue>,
}

/// Answer to `GET /integrations/v1/events`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EventsResponse)]
struct EventsOut<'a> {
    status: Status,
    /// Always present, possibly empty; a page never ends inside a wall-clock second.
    events: Vec<EncodedEventOut<'a>>,
    /// Another non-empty page exists.
    has_more: bool,
    /// The cursor was older than the oldest kept entry: events were lost, re-sync. Absent
    /// when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gap_detected: bool,
}

/// How long after a second ends its entries are served to a seconds cursor: commits that took
/// a position in that second have landed by then (and nodes' clocks agree to within it).
const SECOND_SETTLE_MS: i64 = 500;

/// The last position a client whose cursor is whole epoch seconds may be given at `now`:
/// the end of the newest second that ended at least [`SECOND_SETTLE_MS`] ago. Such a client
/// resumes after the whole second it last saw, so a page holding part of a second that can
/// still get entries (the clock is in it, or a commit holding a position in it is in flight)
/// would make it skip the rest; that second is held back until it is settled.
fn settled_seconds_end(now: Millis) -> i64 {
    (now.0 - SECOND_SETTLE_MS).div_euclid(1000) * 1000 - 1
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
        .reads()
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
            .reads()
            .read_timeline(&TimelineQuery {
                after_ms: last,
                until_ms: Some(base.until_ms.map_or(second_end, |u| u.min(second_end))),
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
            .reads()
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
        .reads()
        .read_timeline(&TimelineQuery {
            after_ms: last,
            limit: 1,
            ..base
        })
        .await?;
    Ok((entries, !more.is_empty()))
}

/// `GET /integrations/v1/events?token&fromDateTime`.
#[utoipa::path(
    get,
    path = "/events",
    tag = "integration",
    summary = "Generation B: events after fromDateTime, each payload as a JSON string",
    params(CommandsQuery),
    responses(
        (status = 200, description = "A page of events", body = EventsOut, example = json!({
            "status": "success", "hasMore": false, "events": [{"_id": "e1",
            "createdAt": "2024-05-01T12:00:00.000Z", "urlId": "post-1",
            "data": "{\"type\":\"new-vote\",\"broadcastId\":\"e1\",\"timestamp\":1714564800000,\"vote\":{}}"}]
        })),
        TokenErrors
    )
)]
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
    let until_ms = match cursor {
        Cursor::Seconds(_) => Some(settled_seconds_end(hub.now())),
        _ => None,
    };
    let (entries, has_more) = if after < bounds.newest && until_ms.is_none_or(|u| after < u) {
        second_aligned_page(
            &hub,
            TimelineQuery {
                tenant_id: tenant,
                viewer_token: token,
                after_ms: after,
                until_ms,
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
        let Some(parts) = payload_parts(&hub, kind, e) else {
            continue;
        };
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenOnly {
    /// The integration token.
    #[param(required = true)]
    token: Option<String>,
}

/// `POST /integrations/v1/comments?token`.
#[utoipa::path(
    post,
    path = "/comments",
    tag = "integration",
    summary = "Upload a batch of the site's comments (idempotent upsert)",
    params(TokenOnly),
    request_body = UploadRequest,
    responses(
        (status = 200, description = "Stored", body = UploadResponse),
        TokenErrors,
        TooLarge
    )
)]
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
        crate::rules::validate_upload(c).map_err(ApiError::invalid_body)?;
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
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// The integration token.
    #[param(required = true)]
    token: Option<String>,
    /// How many comments to skip (oldest first).
    #[serde(default, deserialize_with = "lenient::opt_int")]
    skip: Option<i64>,
    /// Also count all the tenant's comments (`totalCount`).
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    include_count: Option<bool>,
}

/// `GET /integrations/v1/comments?token&skip&includeCount`.
#[utoipa::path(
    get,
    path = "/comments",
    tag = "integration",
    summary = "Download the tenant's comments, oldest first",
    params(DownloadQuery),
    responses((status = 200, description = "A page of comments", body = CommentsPage), TokenErrors)
)]
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
        .reads()
        .comments_page(&tenant, skip as u64, limit + 1)
        .await?;
    let has_more = comments.len() as u64 > limit;
    comments.truncate(limit as usize);
    let total_count = match q.include_count {
        Some(true) => Some(hub.reads().count_comments(&tenant).await?),
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
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingsOut {
    status: Status,
    /// How many comments got their local id.
    updated: u64,
}

/// `PATCH /integrations/v1/comment-ids?token`.
#[utoipa::path(
    patch,
    path = "/comment-ids",
    tag = "integration",
    summary = "Store the plugin's local ids (meta.wpId), at most 500 per call",
    params(TokenOnly),
    request_body = CommentIdsRequest,
    responses(
        (status = 200, description = "Stored", body = MappingsOut),
        TokenErrors,
        TooLarge
    )
)]
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
    let updated = hub.set_local_ids(&tenant, &request.mappings).await?;
    Ok(Json(MappingsOut {
        status: Status::Success,
        updated,
    }))
}

/// `GET /integrations/v1/api-secret?token`: only for a token whose acknowledging admin allowed
/// it, and only a secret of the token's domain.
#[utoipa::path(
    get,
    path = "/api-secret",
    tag = "integration",
    summary = "An API secret of the token's domain, if the acknowledging admin allowed it (never the All Domains one)",
    params(TokenOnly),
    responses(
        (status = 200, description = "The secret", body = ApiSecretResponse),
        (status = 403, description = "`api-secret-not-allowed`: the admin did not allow it", body = fastcomments_protocol::Failure),
        (status = 404, description = "`no-api-secret`: no secret for the token's domain", body = fastcomments_protocol::Failure),
        TokenErrors
    )
)]
pub async fn api_secret(
    State(hub): State<AppState>,
    QueryParams(q): QueryParams<TokenOnly>,
) -> ApiResult<Json<ApiSecretResponse>> {
    let token = required_token(q.token)?;
    let (record, tenant) = hub.validated_token(&token).await?;
    if !record.api_secret_allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            Code::ApiSecretNotAllowed,
            "the tenant admin did not allow this integration to read an API secret; \
             they can allow it when acknowledging it (the setup page's box, or \
             allowApiSecret on the acknowledge call)",
        ));
    }
    // A secret of the integration's own domain, never the All Domains one: what a plugin
    // holds must not open the rest of the tenant (issue 20 §2).
    let secret = hub
        .signing_secrets(&tenant, record.domain.as_deref())
        .await?
        .into_iter()
        .find(|s| s.domain != "*")
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                Code::NoApiSecret,
                "the tenant has no API secret for this integration's domain; an admin creates one",
            )
        })?;
    Ok(Json(ApiSecretResponse {
        status: Status::Success,
        secret: secret.secret,
    }))
}
