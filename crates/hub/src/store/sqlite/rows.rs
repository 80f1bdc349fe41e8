//! Rows to records: the only place that knows the SQLite column layout of each table.

use super::*;

pub(super) fn tenant_from_row(row: &SqliteRow) -> StoreResult<Tenant> {
    let domains: String = row.try_get("domains")?;
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        domains: serde_json::from_str(&domains)?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn secret_from_row(row: &SqliteRow) -> StoreResult<ApiSecret> {
    Ok(ApiSecret {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        domain: row.try_get("domain")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn token_from_row(row: &SqliteRow) -> StoreResult<TokenRecord> {
    let state: String = row.try_get("state")?;
    Ok(TokenRecord {
        token: row.try_get("token")?,
        tenant_id: row.try_get("tenant_id")?,
        state: TokenState::parse(&state)
            .ok_or_else(|| StoreError::Database(format!("unknown token state {state:?}")))?,
        integration_type: row.try_get("integration_type")?,
        domain: row.try_get("domain")?,
        skip_requested: row.try_get("skip_requested")?,
        created_at: row.try_get("created_at")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        upload_received: row.try_get("upload_received")?,
        upload_finished: row.try_get("upload_finished")?,
        batch_size: row.try_get("batch_size")?,
        setup_completed_at: row.try_get("setup_completed_at")?,
    })
}

pub(super) fn comment_from_row(row: &SqliteRow) -> StoreResult<Comment> {
    let doc: String = row.try_get("doc")?;
    Ok(Comment::from_json_lenient(&doc)?)
}

/// The comments of `rows`, leaving out (and logging) any whose document cannot be read: one
/// bad document must not turn a whole page into an error. Documents are checked when they are
/// written, so this is for damage done outside the hub.
pub(super) fn readable_comments(rows: &[SqliteRow]) -> StoreResult<Vec<Comment>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match comment_from_row(row) {
            Ok(c) => out.push(c),
            Err(StoreError::Database(e)) => {
                let id: Option<String> = row.try_get("id").ok();
                tracing::error!(comment = ?id, error = %e, "left out a stored comment that cannot be read");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub(super) fn vote_from_row(row: &SqliteRow) -> StoreResult<Vote> {
    let doc: String = row.try_get("doc")?;
    Ok(serde_json::from_str(&doc)?)
}

pub(super) fn entry_from_row(row: &SqliteRow) -> StoreResult<TimelineEntry> {
    let kind: String = row.try_get("kind")?;
    Ok(TimelineEntry {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::Database(format!("unknown entry kind {kind:?}")))?,
        url_id: row.try_get("url_id")?,
        payload: row.try_get("payload")?,
    })
}

pub(super) fn delivery_from_row(row: &SqliteRow) -> StoreResult<Delivery> {
    let kind: String = row.try_get("kind")?;
    let method: String = row.try_get("method")?;
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        comment_id: row.try_get("comment_id")?,
        position: row.try_get("position")?,
        kind: WebhookEventKind::parse(&kind)
            .ok_or_else(|| StoreError::Database(format!("unknown webhook kind {kind:?}")))?,
        domain: row.try_get("domain")?,
        config_domain: row.try_get("config_domain")?,
        url: row.try_get("url")?,
        method: HttpMethod::parse(&method)
            .ok_or_else(|| StoreError::Database(format!("unknown method {method:?}")))?,
        legacy_token: row.try_get("legacy_token")?,
        body: row.try_get("body")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("unknown delivery status {status:?}")))?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_error: row.try_get("last_error")?,
    })
}

pub(super) fn attempt_from_row(row: &SqliteRow) -> StoreResult<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        delivery_id: row.try_get("delivery_id")?,
        attempt: row.try_get("attempt")?,
        at: row.try_get("at")?,
        url: row.try_get("url")?,
        method: row.try_get("method")?,
        status_code: row.try_get("status_code")?,
        response_body: row.try_get("response_body")?,
        duration_ms: row.try_get("duration_ms")?,
        error: row.try_get("error")?,
    })
}
