//! One comments/votes API change, for both backends (compiled once in each: see
//! `portable/mod.rs`): the comment read (on PostgreSQL its row locked for the read-modify-write),
//! the votes, then the tenant's clock taken last (held for the shortest time), the entries and
//! the outbox rows.

use super::dialect::{read_comment, save_comment, sql, Conn};
use super::one_in;
use super::outbox::{enqueue_webhooks, load_webhook_targets};
use super::pages::ensure_pages;
use super::timeline_log::append_entries;
use crate::ids::TenantId;
use crate::records::{Applied, Change, NewEntry, PageSeed};
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
    // The comments a thread change changed, one entry each, in order.
    let mut many = Vec::new();
    let webhook_kind = rules::webhooks::webhook_kind(&change);
    let (comment, vote) = match change {
        Change::CreateComment(c) => {
            if let Some(parent) = &c.parent_id {
                if read_comment(tx, tenant, parent, false).await?.is_none() {
                    return Err(StoreError::NotFound("parent comment"));
                }
            }
            save_comment(tx, &c).await?;
            ensure_pages(tx, tenant, &[PageSeed::of(&c)], now).await?;
            entries.push(NewEntry::comment_event(E::NewComment, &c, None)?);
            (Some(*c), None)
        }
        Change::UpdateComment { id, patch } => {
            let mut c = read_comment(tx, tenant, &id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            let thread = c.url_id.clone();
            rules::apply_patch(&mut c, &patch);
            save_comment(tx, &c).await?;
            if c.url_id != thread {
                ensure_pages(tx, tenant, &[PageSeed::of(&c)], now).await?;
            }
            entries.push(NewEntry::comment_event(E::UpdatedComment, &c, None)?);
            (Some(c), None)
        }
        Change::MoveThread { from, to } => {
            if from != to {
                let taken: Option<String> = sqlx::query_scalar(&sql(
                    "SELECT id FROM pages WHERE tenant_id = ? AND url_id = ?",
                ))
                .bind(tenant.as_str())
                .bind(&to)
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "thread {to:?} has a page already"
                    )));
                }
                sqlx::query(&sql(
                    "UPDATE pages SET url_id = ? WHERE tenant_id = ? AND url_id = ?",
                ))
                .bind(&to)
                .bind(tenant.as_str())
                .bind(&from)
                .execute(&mut *tx)
                .await?;
            }
            for id in thread_ids(tx, tenant, &from).await? {
                let Some(mut c) = read_comment(tx, tenant, &id, true).await? else {
                    continue;
                };
                c.url_id = to.clone();
                c.url_id_raw = Some(to.clone());
                save_comment(tx, &c).await?;
                entries.push(NewEntry::comment_event(E::UpdatedComment, &c, None)?);
                many.push(c);
            }
            (None, None)
        }
        Change::DeleteThread { url_id } => {
            for id in thread_ids(tx, tenant, &url_id).await? {
                let Some(c) = read_comment(tx, tenant, &id, true).await? else {
                    continue;
                };
                delete_comment_rows(tx, tenant, &id).await?;
                entries.push(NewEntry::comment_event(E::DeletedComment, &c, None)?);
                many.push(c);
            }
            sqlx::query(&sql("DELETE FROM pages WHERE tenant_id = ? AND url_id = ?"))
                .bind(tenant.as_str())
                .bind(&url_id)
                .execute(&mut *tx)
                .await?;
            (None, None)
        }
        Change::DeleteComment { id } => {
            let c = read_comment(tx, tenant, &id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            delete_comment_rows(tx, tenant, &id).await?;
            entries.push(NewEntry::comment_event(E::DeletedComment, &c, None)?);
            (Some(c), None)
        }
        Change::AddVote(vote) => {
            // The comment's row lock also orders one user's concurrent votes on it.
            let mut c = read_comment(tx, tenant, &vote.comment_id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            let vote = rules::vote_for(*vote, &c);
            let voter = rules::votes::voter(&vote);
            let prior = match &voter {
                Some(user) => {
                    let select =
                        "SELECT doc FROM votes WHERE comment_id = ? AND user_id = ? AND tenant_id = ?";
                    one_in(tx, select, &[&c.id, user, tenant.as_str()], vote_from_row).await?
                }
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
            .bind(voter.as_deref())
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
            let delete = "DELETE FROM votes WHERE tenant_id = ? AND id = ? RETURNING doc";
            let vote = one_in(tx, delete, &[tenant.as_str(), &id], vote_from_row)
                .await?
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
    let changes: Vec<_> = match (comment.as_ref(), entries.last()) {
        (Some(c), Some(last)) => vec![(webhook_kind, c, last.created_at)],
        _ => many
            .iter()
            .zip(&entries)
            .map(|(c, e)| (webhook_kind, c, e.created_at))
            .collect(),
    };
    if !changes.is_empty() {
        let targets = load_webhook_targets(tx, tenant).await?;
        if !targets.is_empty() {
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

/// The ids of a thread's comments, oldest first.
async fn thread_ids(tx: &mut Conn, tenant: &TenantId, url_id: &str) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(&sql(
        "SELECT id FROM comments WHERE tenant_id = ? AND url_id = ? ORDER BY date_ms, id",
    ))
    .bind(tenant.as_str())
    .bind(url_id)
    .fetch_all(&mut *tx)
    .await?)
}

/// Deletes a comment's row with its votes and flags.
async fn delete_comment_rows(tx: &mut Conn, tenant: &TenantId, id: &str) -> StoreResult<()> {
    for table in ["comments", "votes", "comment_flags"] {
        let key = if table == "comments" {
            "id"
        } else {
            "comment_id"
        };
        let text = format!("DELETE FROM {table} WHERE tenant_id = ? AND {key} = ?");
        sqlx::query(&sql(&text))
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
