//! The token steps only PostgreSQL's upload takes: its batches of one token run side by side,
//! so each adds its progress instead of writing the record whole. The rest of the token
//! queries are portable (`portable/tokens.rs`).

use super::notify::announce;
use crate::records::{IntegrationToken, Notice, TokenRecord};
use crate::store::rows::returned_token;
use crate::store::StoreResult;
use sqlx::postgres::PgConnection;

pub(super) use super::portable::tokens::write_token;

/// Whether the token exists (an upload's first check), without locking it.
pub(super) async fn token_exists(
    conn: &mut PgConnection,
    token: &IntegrationToken,
) -> StoreResult<Option<()>> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM integration_tokens WHERE token = $1")
            .bind(token.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.map(|_| ()))
}

/// Adds an upload batch's progress to a token (an increment: concurrent batches of one token
/// each add theirs) and marks the upload finished when `finishes`; returns the record after.
pub(super) async fn add_progress(
    conn: &mut PgConnection,
    token: &IntegrationToken,
    received: i64,
    finishes: bool,
) -> StoreResult<TokenRecord> {
    let row = sqlx::query(
        "UPDATE integration_tokens SET upload_received = upload_received + $1, \
         upload_finished = upload_finished OR $2 WHERE token = $3 RETURNING *",
    )
    .bind(received)
    .bind(finishes)
    .bind(token.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let record = returned_token(row.as_ref())?;
    announce(
        conn,
        &Notice::Token {
            token: token.to_owned(),
        },
    )
    .await?;
    Ok(record)
}
