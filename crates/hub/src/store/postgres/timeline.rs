//! The tenant timeline on PostgreSQL: entries written with their payloads. Positions come
//! from the tenant's clock row (`dialect::take_positions`); the reads, bounds and pruning
//! are portable (`portable/timeline_log.rs`).

use crate::ids::TenantId;
use crate::records::Notice;
use crate::records::TimelineEntry;
use crate::records::{IntegrationToken, NewEntry};
use crate::store::postgres::announce;
use crate::store::StoreResult;
use sqlx::postgres::PgConnection;

/// Writes entries at their reserved positions (one statement over arrays) and announces the
/// newest position.
pub(super) async fn insert_entries(
    conn: &mut PgConnection,
    tenant: &TenantId,
    rows: Vec<(i64, NewEntry)>,
) -> StoreResult<Vec<TimelineEntry>> {
    let Some(newest) = rows.iter().map(|(p, _)| *p).max() else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = rows.iter().map(|_| crate::ids::object_id()).collect();
    let positions: Vec<i64> = rows.iter().map(|(p, _)| *p).collect();
    let kinds: Vec<&str> = rows.iter().map(|(_, e)| e.kind.as_str()).collect();
    let url_ids: Vec<&str> = rows.iter().map(|(_, e)| e.url_id.as_str()).collect();
    let origins: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, e)| e.origin_token.as_ref().map(IntegrationToken::as_str))
        .collect();
    let onlys: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, e)| e.only_token.as_ref().map(IntegrationToken::as_str))
        .collect();
    let payloads: Vec<Option<&str>> = rows.iter().map(|(_, e)| e.payload.as_deref()).collect();
    sqlx::query(
        "INSERT INTO timeline (tenant_id, created_at, id, kind, url_id, origin_token, only_token, payload) \
         SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])",
    )
    .bind(tenant.as_str())
    .bind(&positions)
    .bind(&ids)
    .bind(&kinds)
    .bind(&url_ids)
    .bind(&origins)
    .bind(&onlys)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    announce(
        conn,
        &Notice::Timeline {
            tenant: tenant.to_owned(),
            newest,
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .zip(ids)
        .map(|((position, e), id)| TimelineEntry {
            id,
            created_at: position,
            kind: e.kind,
            url_id: e.url_id,
            payload: e.payload,
        })
        .collect())
}
