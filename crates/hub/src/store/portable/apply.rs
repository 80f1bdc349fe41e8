//! One comments/votes API change, for both backends (compiled once in each: see
//! `portable/mod.rs`): the comment read (on PostgreSQL its row locked for the read-modify-write),
//! the votes, then the tenant's clock taken last (held for the shortest time), the entries and
//! the outbox rows.

use super::dialect::{read_comment, save_comment, sql, Conn};
use super::outbox::{enqueue_webhooks, load_webhook_targets};
use super::timeline::append_entries;
use crate::ids::TenantId;
use crate::records::{Applied, Change, NewEntry};
use crate::rules;
use crate::store::rows::vote_from_row;
use crate::store::{Enqueued, StoreError, StoreResult};
use fastcomments_protocol::Millis;

/// Applies one API change inside the caller's transaction (on SQLite the group-commit
/// writer's, on PostgreSQL its own).
pub(in crate::store) async fn apply_in(
    tx: &mut Conn,
    tenant: &TenantId,
    change: Change,
    now: Millis,
) -> StoreResult<Applied> {
    use fastcomments_protocol::EventType as E;
    let mut entries = Vec::new();
    let webhook_kind = rules::webhooks::webhook_kind(&change);
    let (comment, vote) = match change {
        Change::CreateComment(c) => {
            if let Some(parent) = &c.parent_id {
                if read_comment(tx, tenant, parent, false).await?.is_none() {
                    return Err(StoreError::NotFound("parent comment"));
                }
            }
            save_comment(tx, &c).await?;
            entries.push(NewEntry::comment_event(E::NewComment, &c, None)?);
            (Some(*c), None)
        }
        Change::UpdateComment { id, patch } => {
            let mut c = read_comment(tx, tenant, &id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            rules::apply_patch(&mut c, &patch);
            save_comment(tx, &c).await?;
            entries.push(NewEntry::comment_event(E::UpdatedComment, &c, None)?);
            (Some(c), None)
        }
        Change::DeleteComment { id } => {
            let c = read_comment(tx, tenant, &id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            sqlx::query(&sql("DELETE FROM comments WHERE tenant_id = ? AND id = ?"))
                .bind(tenant.as_str())
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&sql(
                "DELETE FROM votes WHERE tenant_id = ? AND comment_id = ?",
            ))
            .bind(tenant.as_str())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            entries.push(NewEntry::comment_event(E::DeletedComment, &c, None)?);
            (Some(c), None)
        }
        Change::AddVote(vote) => {
            // The comment's row lock also orders one user's concurrent votes on it.
            let mut c = read_comment(tx, tenant, &vote.comment_id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            let vote = rules::vote_for(*vote, &c);
            let prior = match &vote.user_id {
                Some(user) => sqlx::query(&sql(
                    "SELECT doc FROM votes WHERE comment_id = ? AND user_id = ? AND tenant_id = ?",
                ))
                .bind(&c.id)
                .bind(user)
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(vote_from_row)
                .transpose()?,
                None => None,
            };
            match (rules::votes::vote_action(prior.as_ref(), &vote), prior) {
                (rules::votes::VoteAction::KeepPrior, prior) => {
                    return Ok(Applied {
                        comment: Some(c),
                        vote: prior,
                        entries: Vec::new(),
                        deliveries: 0,
                        webhooks_unmatched: 0,
                    });
                }
                (rules::votes::VoteAction::ReplacePrior, Some(prior)) => {
                    sqlx::query(&sql("DELETE FROM votes WHERE id = ?"))
                        .bind(&prior.id)
                        .execute(&mut *tx)
                        .await?;
                    rules::count_vote(&mut c, prior.direction, -1);
                    entries.push(NewEntry::vote_event(E::DeletedVote, &prior, Some(&c))?);
                }
                _ => {}
            }
            sqlx::query(&sql("INSERT INTO votes (id, tenant_id, comment_id, user_id, direction, created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)"))
            .bind(&vote.id)
            .bind(tenant.as_str())
            .bind(&vote.comment_id)
            .bind(vote.user_id.as_deref())
            .bind(vote.direction.as_i64())
            .bind(vote.created_at.0)
            .bind(serde_json::to_string(&vote)?)
            .execute(&mut *tx)
            .await?;
            rules::count_vote(&mut c, vote.direction, 1);
            save_comment(tx, &c).await?;
            entries.push(NewEntry::vote_event(E::NewVote, &vote, Some(&c))?);
            (Some(c), Some(vote))
        }
        Change::DeleteVote { id } => {
            let row = sqlx::query(&sql(
                "DELETE FROM votes WHERE tenant_id = ? AND id = ? RETURNING doc",
            ))
            .bind(tenant.as_str())
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
            let vote = row
                .as_ref()
                .map(vote_from_row)
                .transpose()?
                .ok_or(StoreError::NotFound("vote"))?;
            let mut comment = read_comment(tx, tenant, &vote.comment_id, true).await?;
            if let Some(c) = comment.as_mut() {
                rules::count_vote(c, vote.direction, -1);
                save_comment(tx, c).await?;
            }
            entries.push(NewEntry::vote_event(
                E::DeletedVote,
                &vote,
                comment.as_ref(),
            )?);
            (comment, Some(vote))
        }
    };
    let entries = append_entries(tx, tenant, entries, now).await?;
    let mut queued = Enqueued::default();
    if let (Some(c), Some(last)) = (comment.as_ref(), entries.last()) {
        let targets = load_webhook_targets(tx, tenant).await?;
        if !targets.is_empty() {
            let changes = [(webhook_kind, c, last.created_at)];
            queued = enqueue_webhooks(tx, tenant, &targets, &changes, false, now).await?;
        }
    }
    Ok(Applied {
        comment,
        vote,
        entries,
        deliveries: queued.deliveries,
        webhooks_unmatched: queued.unmatched,
    })
}
