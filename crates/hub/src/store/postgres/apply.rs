//! One comments/votes API change, in one transaction: the comment's row locked for the
//! read-modify-write, the tenant's clock taken last (held for the shortest time), then the
//! entries, the outbox rows and the notices.

use super::*;

/// Applies `change` to `tenant`'s data.
pub(super) async fn apply(
    store: &PostgresStore,
    tenant: &str,
    change: Change,
    now_ms: i64,
) -> StoreResult<Applied> {
    use fastcomments_protocol::EventType as E;
    let mut tx = store.pool.begin().await?;
    let mut entries = Vec::new();
    let webhook_kind = rules::webhooks::webhook_kind(&change);
    let (comment, vote) = match change {
        Change::CreateComment(c) => {
            if let Some(parent) = &c.parent_id {
                if load_comment(&mut tx, tenant, parent, false)
                    .await?
                    .is_none()
                {
                    return Err(StoreError::NotFound("parent comment"));
                }
            }
            upsert_comments(&mut tx, &[&c]).await?;
            entries.push(NewEntry::comment_event(E::NewComment, &c, None)?);
            (Some(*c), None)
        }
        Change::UpdateComment { id, patch } => {
            let mut c = load_comment(&mut tx, tenant, &id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            rules::apply_patch(&mut c, &patch);
            upsert_comments(&mut tx, &[&c]).await?;
            entries.push(NewEntry::comment_event(E::UpdatedComment, &c, None)?);
            (Some(c), None)
        }
        Change::DeleteComment { id } => {
            let c = load_comment(&mut tx, tenant, &id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            sqlx::query("DELETE FROM comments WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM votes WHERE tenant_id = $1 AND comment_id = $2")
                .bind(tenant)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            entries.push(NewEntry::comment_event(E::DeletedComment, &c, None)?);
            (Some(c), None)
        }
        Change::AddVote(vote) => {
            // The comment's row lock also orders one user's concurrent votes on it.
            let mut c = load_comment(&mut tx, tenant, &vote.comment_id, true)
                .await?
                .ok_or(StoreError::NotFound("comment"))?;
            let vote = rules::vote_for(*vote, &c);
            let prior = match &vote.user_id {
                Some(user) => sqlx::query(
                    "SELECT doc FROM votes WHERE comment_id = $1 AND user_id = $2 AND tenant_id = $3",
                )
                .bind(&c.id)
                .bind(user)
                .bind(tenant)
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
                    sqlx::query("DELETE FROM votes WHERE id = $1")
                        .bind(&prior.id)
                        .execute(&mut *tx)
                        .await?;
                    rules::count_vote(&mut c, prior.direction, -1);
                    entries.push(NewEntry::vote_event(E::DeletedVote, &prior, Some(&c))?);
                }
                _ => {}
            }
            sqlx::query(
                "INSERT INTO votes (id, tenant_id, comment_id, user_id, direction, created_at, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&vote.id)
            .bind(tenant)
            .bind(&vote.comment_id)
            .bind(vote.user_id.as_deref())
            .bind(vote.direction.as_i64())
            .bind(vote.created_at.0)
            .bind(serde_json::to_string(&vote)?)
            .execute(&mut *tx)
            .await?;
            rules::count_vote(&mut c, vote.direction, 1);
            upsert_comments(&mut tx, &[&c]).await?;
            entries.push(NewEntry::vote_event(E::NewVote, &vote, Some(&c))?);
            (Some(c), Some(vote))
        }
        Change::DeleteVote { id } => {
            let row =
                sqlx::query("DELETE FROM votes WHERE tenant_id = $1 AND id = $2 RETURNING doc")
                    .bind(tenant)
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let vote = row
                .as_ref()
                .map(vote_from_row)
                .transpose()?
                .ok_or(StoreError::NotFound("vote"))?;
            let mut comment = load_comment(&mut tx, tenant, &vote.comment_id, true).await?;
            if let Some(c) = comment.as_mut() {
                rules::count_vote(c, vote.direction, -1);
                upsert_comments(&mut tx, &[c]).await?;
            }
            entries.push(NewEntry::vote_event(
                E::DeletedVote,
                &vote,
                comment.as_ref(),
            )?);
            (comment, Some(vote))
        }
    };
    let entries = append_entries(&mut tx, tenant, entries, now_ms).await?;
    let mut queued = Enqueued::default();
    if let (Some(c), Some(last)) = (comment.as_ref(), entries.last()) {
        let targets = load_webhook_targets(&mut tx, tenant).await?;
        if !targets.is_empty() {
            let changes = [(webhook_kind, c, last.created_at)];
            queued = enqueue_webhooks(&mut tx, tenant, &targets, &changes, false, now_ms).await?;
        }
    }
    tx.commit().await?;
    Ok(Applied {
        comment,
        vote,
        entries,
        deliveries: queued.deliveries,
        webhooks_unmatched: queued.unmatched,
    })
}
