//! Rows to records, for every backend: the column names of each table are the same in all of
//! them, so one mapping serves all (through [`StoreRow`], which each backend's row type
//! implements). And [`RecoverCopy`], the one row each backend writes its own way from parts,
//! and [`unsent_position`], the expression over the outbox's columns that each backend's walks
//! of a comment's stream name.

use super::*;
use fastcomments_protocol::{HttpMethod, WebhookEventKind};

/// Typed column reads, the few kinds the schema uses.
pub(crate) trait StoreRow {
    /// A `TEXT NOT NULL` column.
    fn text(&self, column: &str) -> StoreResult<String>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    /// A `BIGINT`/`INTEGER NOT NULL` column.
    fn int(&self, column: &str) -> StoreResult<i64>;
    /// A nullable integer column.
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    /// A boolean column (SQLite stores 0/1).
    fn flag(&self, column: &str) -> StoreResult<bool>;
}

macro_rules! store_row {
    ($row:ty) => {
        impl StoreRow for $row {
            fn text(&self, column: &str) -> StoreResult<String> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int(&self, column: &str) -> StoreResult<i64> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn flag(&self, column: &str) -> StoreResult<bool> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
        }
    };
}

store_row!(sqlx::sqlite::SqliteRow);
store_row!(sqlx::postgres::PgRow);

/// Every row as a record, in order (`from_row`: one of the `*_from_row` functions here).
pub(crate) fn records<R: StoreRow, T>(
    rows: &[R],
    from_row: fn(&R) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(from_row).collect()
}

/// The token row a statement returned, or `NotFound` when it matched no token.
pub(crate) fn returned_token<R: StoreRow>(row: Option<&R>) -> StoreResult<TokenRecord> {
    row.map(token_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("token"))
}

pub(crate) fn session_from_row<R: StoreRow>(row: &R) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: row.text("id")?,
        doc: row.text("doc")?,
        anonymous: row.flag("anonymous")?,
        created_at: row.int("created_at")?,
        seen_at: row.int("seen_at")?,
    })
}

pub(crate) fn tenant_from_row<R: StoreRow>(row: &R) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: row.text("id")?.into(),
        name: row.text("name")?,
        domains: serde_json::from_str(&row.text("domains")?)?,
        created_at: row.int("created_at")?,
    })
}

pub(crate) fn secret_from_row<R: StoreRow>(row: &R) -> StoreResult<ApiSecret> {
    Ok(ApiSecret {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?.into(),
        domain: row.text("domain")?,
        secret: row.text("secret")?,
        created_at: row.int("created_at")?,
    })
}

pub(crate) fn token_from_row<R: StoreRow>(row: &R) -> StoreResult<TokenRecord> {
    let state = row.text("state")?;
    Ok(TokenRecord {
        token: row.text("token")?.into(),
        tenant_id: row.opt_text("tenant_id")?.map(TenantId::from),
        state: TokenState::parse(&state)
            .ok_or_else(|| StoreError::database(format!("unknown token state {state:?}")))?,
        integration_type: row.opt_text("integration_type")?,
        domain: row.opt_text("domain")?,
        skip_requested: row.flag("skip_requested")?,
        created_at: row.int("created_at")?,
        acknowledged_at: row.opt_int("acknowledged_at")?,
        upload_received: row.int("upload_received")?,
        upload_finished: row.flag("upload_finished")?,
        batch_size: row.int("batch_size")?,
        setup_completed_at: row.opt_int("setup_completed_at")?,
        api_secret_allowed: row.flag("api_secret_allowed")?,
        registered_from: row.opt_text("registered_from")?,
    })
}

pub(crate) fn comment_from_row<R: StoreRow>(row: &R) -> StoreResult<Comment> {
    Ok(Comment::from_json_lenient(&row.text("doc")?)?)
}

/// The comments of `rows`, leaving out (and logging) any whose document cannot be read: one
/// bad document must not turn a whole page into an error. Documents are checked when they are
/// written, so this is for damage done outside the hub.
pub(crate) fn readable_comments<R: StoreRow>(rows: &[R]) -> StoreResult<Vec<Comment>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match comment_from_row(row) {
            Ok(c) => out.push(c),
            Err(StoreError::Database { message: e, .. }) => {
                let id = row.opt_text("id").ok().flatten();
                tracing::error!(comment = ?id, error = %e, "left out a stored comment that cannot be read");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub(crate) fn vote_from_row<R: StoreRow>(row: &R) -> StoreResult<Vote> {
    Ok(serde_json::from_str(&row.text("doc")?)?)
}

pub(crate) fn entry_from_row<R: StoreRow>(row: &R) -> StoreResult<TimelineEntry> {
    let kind = row.text("kind")?;
    Ok(TimelineEntry {
        id: row.text("id")?,
        created_at: row.int("created_at")?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::database(format!("unknown entry kind {kind:?}")))?,
        url_id: row.text("url_id")?,
        payload: row.opt_text("payload")?,
    })
}

/// A delivery's `kind` column.
pub(crate) fn webhook_kind<R: StoreRow>(row: &R) -> StoreResult<WebhookEventKind> {
    let kind = row.text("kind")?;
    WebhookEventKind::parse(&kind)
        .ok_or_else(|| StoreError::database(format!("unknown webhook kind {kind:?}")))
}

pub(crate) fn delivery_from_row<R: StoreRow>(row: &R) -> StoreResult<Delivery> {
    let method = row.text("method")?;
    let status = row.text("status")?;
    Ok(Delivery {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?.into(),
        comment_id: row.text("comment_id")?,
        position: row.int("position")?,
        kind: webhook_kind(row)?,
        domain: row.opt_text("domain")?,
        config_domain: row.text("config_domain")?,
        subscription_id: row.text("subscription_id")?,
        url: row.text("url")?,
        target_host: row.text("target_host")?,
        method: HttpMethod::parse(&method)
            .ok_or_else(|| StoreError::database(format!("unknown method {method:?}")))?,
        legacy_token: row.flag("legacy_token")?,
        body: row.text("body")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::database(format!("unknown delivery status {status:?}")))?,
        ready: row.flag("ready")?,
        attempts: row.int("attempts")?,
        max_attempts: row.int("max_attempts")?,
        next_attempt_at: row.int("next_attempt_at")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        last_error: row.opt_text("last_error")?,
        recovered_from: row.opt_text("recovered_from")?,
    })
}

/// The deliveries a claim took, in the order they are served: earliest due first, then by
/// position in their stream.
pub(crate) fn claimed_in_order<R: StoreRow>(rows: &[R]) -> StoreResult<Vec<Delivery>> {
    let mut out = records(rows, delivery_from_row)?;
    out.sort_by_key(|d| (d.next_attempt_at, d.position));
    Ok(out)
}

pub(crate) fn attempt_from_row<R: StoreRow>(row: &R) -> StoreResult<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        delivery_id: row.text("delivery_id")?,
        attempt: row.int("attempt")?,
        at: row.int("at")?,
        url: row.text("url")?,
        method: row.text("method")?,
        status_code: row.opt_int("status_code")?,
        response_body: row.opt_text("response_body")?,
        duration_ms: row.int("duration_ms")?,
        error: row.opt_text("error")?,
    })
}

pub(crate) fn subscription_from_row<R: StoreRow>(row: &R) -> StoreResult<Subscription> {
    let method = row.opt_text("method")?;
    let kinds: Vec<String> = serde_json::from_str(&row.text("kinds")?)?;
    Ok(Subscription {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?.into(),
        url: row.text("url")?,
        method: match method.as_deref() {
            None | Some("") => None,
            Some(m) => Some(
                HttpMethod::parse(m)
                    .ok_or_else(|| StoreError::database(format!("unknown method {m:?}")))?,
            ),
        },
        kinds: kinds
            .iter()
            .map(|k| {
                WebhookEventKind::parse(k)
                    .ok_or_else(|| StoreError::database(format!("unknown webhook kind {k:?}")))
            })
            .collect::<StoreResult<_>>()?,
        domains: serde_json::from_str(&row.text("domains")?)?,
        fire_on_import: row.flag("fire_on_import")?,
        created_at: row.int("created_at")?,
        failing_since: row.opt_int("failing_since")?,
        disabled_at: row.opt_int("disabled_at")?,
        disabled_reason: row.opt_text("disabled_reason")?,
    })
}

/// A recover's copy of a delivery as the backends' `insert_copies` write it: its own id,
/// where it goes now and its flags, beside the id of the delivery it copies. The rest (tenant,
/// comment, position, kind, domains, body) each backend takes from the copied row in one
/// `INSERT … SELECT`, so a page's bodies never travel to the hub and back. Its stream
/// (comment, subscription, position) is carried for the `ready` flags set before the insert.
#[derive(Debug)]
pub(crate) struct RecoverCopy<'a> {
    pub id: String,
    pub original: &'a str,
    pub comment_id: &'a str,
    pub subscription_id: &'a str,
    pub position: i64,
    pub url: &'a str,
    pub target_host: String,
    pub method: HttpMethod,
    pub legacy_token: bool,
    pub status: DeliveryStatus,
    pub ready: bool,
}

/// Delivery `alias`'s position while it is not sent (waiting, paused, failed for good,
/// cancelled), null once it is: the expression PostgreSQL's
/// `webhook_deliveries_unsent_by_stream` ends with, spelled as in its migration (21). The
/// statements that walk what is left in a comment's stream (locking the streams a write ends,
/// settling their heads, a new delivery's head check) name it, `IS NOT NULL`, and so read
/// that stream's unsent deliveries only: over the stream's every delivery they stepped
/// through its sent history for each one's state, and a comment voted on for a month, or
/// recovered again, made each of its records walk all of it.
///
/// SQLite has no such index and walks `webhook_deliveries_by_stream`, history included: the
/// same index there, partial on the expression, cost ten subscriptions' fan-out 6 % of its
/// rate (10 / 1 0.85× against 0.96×, BENCHMARKS.md), and its streams are one node's, without
/// PostgreSQL's locks. A stream's history still costs its SQLite records.
pub(crate) fn unsent_position(alias: &str) -> String {
    format!("(CASE WHEN {alias}.status <> 'succeeded' THEN {alias}.position END)")
}
