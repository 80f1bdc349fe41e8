//! The webhook queue and its logs: deliveries filtered by state, kind, comment and domain,
//! newest first, paged; one delivery with every attempt and its next try; cancel, retry, and
//! retry every failed one since a time. The counts by state refresh themselves (the page's
//! script polls `counts.json`).

use super::{after_action, render, when, Layout, PageState, TenantPage};
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::records::{Delivery, DeliveryAttempt, DeliveryCounts, DeliveryFilter, DeliveryStatus};
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use fastcomments_protocol::{Millis, WebhookEventKind};
use serde::Deserialize;

/// Deliveries per page.
pub const PAGE_SIZE: u64 = 25;

const STATES: [DeliveryStatus; 6] = [
    DeliveryStatus::Queued,
    DeliveryStatus::Retrying,
    DeliveryStatus::Paused,
    DeliveryStatus::Succeeded,
    DeliveryStatus::Failed,
    DeliveryStatus::Cancelled,
];

/// A delivery as shown.
#[derive(Debug)]
pub struct Row {
    id: String,
    created: String,
    kind: &'static str,
    comment_id: String,
    domain: String,
    method: &'static str,
    url: String,
    state: &'static str,
    attempts: i64,
    next_try: String,
    last_error: String,
    can_cancel: bool,
    can_retry: bool,
    body: String,
    /// A recover's copy: the delivery it copies (empty otherwise).
    recovered_from: String,
}

impl Row {
    fn of(d: Delivery) -> Row {
        Row {
            created: when(d.created_at),
            kind: d.kind.as_str(),
            domain: d.domain.clone().unwrap_or_else(|| d.config_domain.clone()),
            method: d.method.as_str(),
            state: d.status.as_str(),
            attempts: d.attempts,
            next_try: if d.status.is_pending() {
                when(d.next_attempt_at)
            } else {
                String::new()
            },
            last_error: d.last_error.unwrap_or_default(),
            recovered_from: d.recovered_from.unwrap_or_default(),
            can_cancel: d.status.is_pending(),
            can_retry: matches!(d.status, DeliveryStatus::Failed | DeliveryStatus::Cancelled),
            url: d.url,
            comment_id: d.comment_id,
            body: d.body,
            id: d.id,
        }
    }
}

/// An attempt as shown.
#[derive(Debug)]
pub struct AttemptRow {
    attempt: i64,
    at: String,
    status: String,
    body: String,
    duration_ms: i64,
    error: String,
}

impl From<DeliveryAttempt> for AttemptRow {
    fn from(a: DeliveryAttempt) -> AttemptRow {
        AttemptRow {
            attempt: a.attempt,
            at: when(a.at),
            status: a
                .status_code
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
            body: a.response_body.unwrap_or_default(),
            duration_ms: a.duration_ms,
            error: a.error.unwrap_or_default(),
        }
    }
}

/// The filters as typed (kept in the form and the paging links).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    domain: String,
    #[serde(default, deserialize_with = "fastcomments_protocol::lenient::opt_int")]
    page: Option<i64>,
}

impl ListQuery {
    /// The query string of these filters on page `page`.
    fn href(&self, page: u64) -> String {
        let pairs = [
            ("state", self.state.as_str()),
            ("kind", self.kind.as_str()),
            ("comment", self.comment.as_str()),
            ("domain", self.domain.as_str()),
        ];
        let mut q: Vec<(&str, String)> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        if page > 0 {
            q.push(("page", page.to_string()));
        }
        match serde_urlencoded::to_string(&q) {
            Ok(s) if !s.is_empty() => format!("/admin/deliveries?{s}"),
            _ => "/admin/deliveries".into(),
        }
    }
}

/// The list page.
#[derive(Template)]
#[template(path = "admin/deliveries.html")]
struct ListPage {
    layout: Layout,
    counts: Vec<(&'static str, String)>,
    states: Vec<(&'static str, bool)>,
    kinds: Vec<(&'static str, bool)>,
    q: ListQuery,
    filter_error: Option<String>,
    rows: Vec<Row>,
    page: u64,
    prev: Option<String>,
    next: Option<String>,
    since: String,
    since_error: Option<String>,
    here: String,
}

/// How many sent deliveries the counts show before they say "more than": the store keeps
/// them for the retention period, and the counts are asked for every 2 s while the page is
/// open, so each poll reads at most this many of them, not the tenant's whole history.
pub const SENT_SHOWN_UP_TO: u64 = 10_000;

/// Each state's count as shown: the sent ones beyond [`SENT_SHOWN_UP_TO`] as `10000+`.
fn count_list(c: DeliveryCounts) -> Vec<(&'static str, String)> {
    let sent = if c.succeeded > SENT_SHOWN_UP_TO {
        format!("{SENT_SHOWN_UP_TO}+")
    } else {
        c.succeeded.to_string()
    };
    vec![
        ("queued", c.queued.to_string()),
        ("retrying", c.retrying.to_string()),
        ("paused", c.paused.to_string()),
        ("succeeded", sent),
        ("failed", c.failed.to_string()),
        ("cancelled", c.cancelled.to_string()),
    ]
}

/// One filter box of the list: `None` when it is empty, or when it names no `what` (then
/// `error` says so).
fn filter_by<T>(
    text: &str,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    error: &mut Option<String>,
) -> Option<T> {
    if text.is_empty() {
        return None;
    }
    let parsed = parse(text);
    if parsed.is_none() {
        *error = Some(format!("No such {what}: {text:?}."));
    }
    parsed
}

async fn list_page(
    state: &PageState,
    layout: Layout,
    q: ListQuery,
    since: String,
    since_error: Option<String>,
    status: StatusCode,
) -> Response {
    let store = state.hub.reads();
    let tenant = layout.tenant.clone();
    let mut filter_error = None;
    let status_filter = filter_by(&q.state, "state", DeliveryStatus::parse, &mut filter_error);
    let kind = filter_by(&q.kind, "kind", WebhookEventKind::parse, &mut filter_error);
    let page = u64::try_from(q.page.unwrap_or(0)).unwrap_or(0);
    let comment = q.comment.trim();
    let domain = q.domain.trim().to_ascii_lowercase();
    let filter = DeliveryFilter {
        status: status_filter,
        kind,
        comment_id: (!comment.is_empty()).then_some(comment),
        domain: (!domain.is_empty()).then_some(domain.as_str()),
        offset: page.saturating_mul(PAGE_SIZE),
        // One more than shown: whether there is a next page.
        limit: PAGE_SIZE + 1,
        ..DeliveryFilter::default()
    };
    let (found, counts) = match (
        store.find_deliveries(&tenant, &filter).await,
        store.delivery_counts(&tenant, SENT_SHOWN_UP_TO).await,
    ) {
        (Ok(f), Ok(c)) => (f, c),
        (Err(e), _) | (_, Err(e)) => return super::error_page(e.into()),
    };
    let more = found.len() as u64 > PAGE_SIZE;
    let rows = found
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(Row::of)
        .collect();
    let status = if filter_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    let page_view = ListPage {
        counts: count_list(counts),
        states: STATES
            .iter()
            .map(|s| (s.as_str(), s.as_str() == q.state))
            .collect(),
        kinds: WebhookEventKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.as_str() == q.kind))
            .collect(),
        prev: (page > 0).then(|| q.href(page - 1)),
        next: more.then(|| q.href(page + 1)),
        here: q.href(page),
        page,
        rows,
        filter_error,
        since,
        since_error,
        layout,
        q,
    };
    render(status, &page_view)
}

/// `GET /admin/deliveries?state=&kind=&comment=&domain=&page=`.
pub async fn list(
    TenantPage { state, admin }: TenantPage,
    QueryParams(q): QueryParams<ListQuery>,
) -> Response {
    let layout = Layout::new(&admin, "deliveries");
    list_page(&state, layout, q, String::new(), None, StatusCode::OK).await
}

/// `GET /admin/deliveries/counts.json`: `{queued, retrying, paused, succeeded, failed, cancelled}`
/// (sent ones up to [`SENT_SHOWN_UP_TO`], then `10000+`).
pub async fn counts(TenantPage { state, admin }: TenantPage) -> Response {
    match state
        .hub
        .reads()
        .delivery_counts(&admin.tenant_id, SENT_SHOWN_UP_TO)
        .await
    {
        Ok(c) => {
            let text: std::collections::BTreeMap<String, String> = count_list(c)
                .into_iter()
                .map(|(k, n)| (format!("count-{k}"), n))
                .collect();
            Json(serde_json::json!({ "text": text })).into_response()
        }
        Err(e) => super::error_page(e.into()),
    }
}

/// One delivery's page.
#[derive(Template)]
#[template(path = "admin/delivery.html")]
struct DetailPage {
    layout: Layout,
    d: Row,
    attempts: Vec<AttemptRow>,
}

/// `GET /admin/deliveries/{id}`: another tenant's id is not found.
pub async fn show(TenantPage { state, admin }: TenantPage, Path(id): Path<String>) -> Response {
    match state.hub.reads().delivery(&admin.tenant_id, &id).await {
        Ok(Some((d, attempts))) => render(
            StatusCode::OK,
            &DetailPage {
                layout: Layout::new(&admin, "deliveries"),
                d: Row::of(d),
                attempts: attempts.into_iter().map(AttemptRow::from).collect(),
            },
        ),
        Ok(None) => super::error_page(ApiError::not_found("webhook delivery")),
        Err(e) => super::error_page(e.into()),
    }
}

/// A posted delivery action: where to come back to.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    back: Option<String>,
}

/// Only our own pages are returned to, and only by a path that is a valid `Location` (no
/// control characters or spaces: a CR/LF would be a 500 after the action ran); anything else
/// returns to the delivery's page.
fn back_to(back: Option<String>, id: &str) -> String {
    back.filter(|b| {
        b.starts_with("/admin/deliveries")
            && !b.contains("//")
            && b.bytes().all(|c| c.is_ascii_graphic())
    })
    .unwrap_or_else(|| format!("/admin/deliveries/{id}"))
}

/// `POST /admin/deliveries/{id}/{cancel|retry}`.
pub async fn act(
    TenantPage { state, admin }: TenantPage,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActForm>,
) -> Response {
    let back = back_to(form.back, &id);
    let hub = &state.hub;
    let done = match action.as_str() {
        "cancel" => hub
            .cancel_delivery(&admin.tenant_id, &id)
            .await
            .map(|_| "cancelled"),
        "retry" => hub
            .retry_delivery(&admin.tenant_id, &id)
            .await
            .map(|_| "queued again"),
        _ => return super::error_page(ApiError::not_found("action")),
    };
    after_action(&state, &admin, done, &back, |what| {
        format!("Delivery {id} {what}.")
    })
    .await
}

/// The posted "retry all failed since" form.
#[derive(Debug, Deserialize)]
pub struct RetryFailedForm {
    since: String,
}

/// `2026-12-02T00:47` (a `datetime-local` field, read as UTC) or any date the API takes.
pub(super) fn parse_since(text: &str) -> Option<i64> {
    let t = text.trim();
    let with_seconds = if t.len() == 16 {
        format!("{t}:00Z")
    } else {
        t.to_owned()
    };
    Millis::parse(&with_seconds)
        .or_else(|_| Millis::parse(t))
        .ok()
        .map(|m| m.0)
}

/// `POST /admin/deliveries/retry-failed`.
pub async fn retry_failed(
    TenantPage { state, admin }: TenantPage,
    Form(form): Form<RetryFailedForm>,
) -> Response {
    let Some(since) = parse_since(&form.since) else {
        let layout = Layout::new(&admin, "deliveries");
        let why = "Give a date and time (UTC), e.g. 2026-12-02T09:30.".to_owned();
        return list_page(
            &state,
            layout,
            ListQuery::default(),
            form.since,
            Some(why),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let retried = state
        .hub
        .retry_failed_since(&admin.tenant_id, Millis(since))
        .await;
    after_action(&state, &admin, retried, "/admin/deliveries", |n| {
        format!(
            "{n} failed deliver{} since {} queued again.",
            if n == 1 { "y" } else { "ies" },
            when(since)
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::{back_to, count_list, parse_since, DeliveryCounts, SENT_SHOWN_UP_TO};

    #[test]
    fn sent_counts_past_the_bound_show_as_more() {
        let shown = count_list(DeliveryCounts {
            queued: 25_000,
            succeeded: SENT_SHOWN_UP_TO + 1,
            cancelled: SENT_SHOWN_UP_TO + 5,
            ..DeliveryCounts::default()
        });
        let of = |state: &str| {
            shown
                .iter()
                .find(|(s, _)| *s == state)
                .map(|(_, n)| n.as_str())
        };
        assert_eq!(of("queued"), Some("25000"), "open ones are counted whole");
        assert_eq!(of("succeeded"), Some("10000+"));
        assert_eq!(of("cancelled"), Some("10005"), "cancelled ones too");
    }

    #[test]
    fn back_takes_only_our_pages_as_clean_paths() {
        let back = |b: &str| back_to(Some(b.to_owned()), "d1");
        assert_eq!(
            back("/admin/deliveries?status=failed"),
            "/admin/deliveries?status=failed"
        );
        assert_eq!(
            back("/admin/deliveries\r\nX-Injected: 1"),
            "/admin/deliveries/d1"
        );
        assert_eq!(back("/admin/deliveries x"), "/admin/deliveries/d1");
        assert_eq!(back("https://evil.example/"), "/admin/deliveries/d1");
        assert_eq!(
            back("/admin/deliveries//evil.example"),
            "/admin/deliveries/d1"
        );
    }

    #[test]
    fn since_takes_a_datetime_local_field_as_utc() {
        assert_eq!(parse_since("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_since("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_since("yesterday"), None);
        assert_eq!(parse_since(""), None);
    }
}
