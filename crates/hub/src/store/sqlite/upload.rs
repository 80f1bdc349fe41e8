//! One upload batch (SPEC §1.4) inside the group-commit writer's transaction.

use crate::records::EntryKind;
use crate::records::NewEntry;
use crate::records::PageSeed;
use crate::records::UploadBatch;
use crate::records::UploadOutcome;
use crate::rules;
use crate::rules::upload::Prepared;
use crate::store::sqlite::comment_rows_where_in;
use crate::store::sqlite::comments_where_in;
use crate::store::sqlite::enqueue_webhooks;
use crate::store::sqlite::ensure_pages;
use crate::store::sqlite::insert_entries;
use crate::store::sqlite::load_webhook_targets;
use crate::store::sqlite::lookup_by_external;
use crate::store::sqlite::on_own_handle;
use crate::store::sqlite::read_token;
use crate::store::sqlite::reserve_positions;
use crate::store::sqlite::upsert_comment_docs;
use crate::store::sqlite::write_token;
use crate::store::sqlite::CommentRow;
use crate::store::sqlite::EntryRow;
use crate::store::Enqueued;
use crate::store::StoreError;
use crate::store::StoreResult;
use fastcomments_protocol::{Millis, WebhookEventKind};
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;
use std::collections::HashSet;

/// Stores one upload batch inside the caller's transaction (the group-commit writer's).
pub(super) async fn upload_in(
    tx: &mut SqliteConnection,
    batch: &UploadBatch,
    prepared: &mut [Option<Prepared>],
    now: Millis,
) -> StoreResult<UploadOutcome> {
    use fastcomments_protocol::EventType as E;
    let tenant = &batch.tenant_id;
    let token = &batch.token;
    let mut record = read_token(tx, token)
        .await?
        .ok_or(StoreError::NotFound("token"))?;

    // 1. Prefetch what the batch may touch: comments by hub id, by plugin id, and parents.
    let keys = rules::upload::BatchKeys::of(&batch.comments);
    let mut fetched = comments_where_in(tx, tenant, "id", "", &keys.hub_ids).await?;
    // Parents are only linked to: their hub ids are enough (no documents to read and parse).
    let (by_ext, parent_ids) = on_own_handle(tx, |db| {
        lookup_by_external(db, tenant, &keys.external_ids, &keys.outside_parents)
    })
    .await?;
    fetched.extend(by_ext);
    let context = rules::upload::UploadContext::found(fetched, parent_ids);
    // A hub parent id must name a comment of this tenant, as in the comments API: another
    // tenant's id (or an unknown one) refuses the batch instead of storing a dangling parent.
    let hub_parents = context.unknown_hub_parents(&batch.comments);
    if !hub_parents.is_empty() {
        let rows = comment_rows_where_in(tx, "id", tenant, "id", "", &hub_parents).await?;
        let found: HashSet<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        if hub_parents.iter().any(|p| !found.contains(*p)) {
            return Err(StoreError::NotFound("parent comment"));
        }
    }

    // 2. Merge each uploaded comment over what is stored, in batch order (domain rules).
    let mut plan =
        rules::upload::plan_upload(&batch.comments, tenant, token, context, prepared, now);

    // 3. Stored children that were waiting for a parent that arrived now.
    let waiting = comments_where_in(
        &mut *tx,
        tenant,
        "external_parent_id",
        "AND parent_id IS NULL",
        &plan.arrived(),
    )
    .await?;
    let linked = plan.link_waiting(waiting);

    // 4. Write comments, their events and the token's progress. Each comment is serialised
    //    once: its event refers to the stored document instead of holding a second copy.
    let mut docs = std::mem::take(&mut plan.docs);
    let writes = plan.writes(&linked);
    record.upload_received += plan.new_for_token;
    if batch.finishes_upload && !record.upload_finished {
        record.upload_finished = true;
    }
    let wants_setup_entry = record.upload_finished && record.setup_completed_at.is_none();
    let events = writes.iter().filter(|w| w.event.is_some()).count();
    let mut positions = reserve_positions(tx, tenant, events + usize::from(wants_setup_entry), now)
        .await?
        .into_iter();
    let mut rows = Vec::with_capacity(writes.len());
    let mut entries = Vec::with_capacity(events + 1);
    let mut imported = Vec::new();
    for w in writes {
        let (c, kind) = (w.comment, w.event);
        let upload_token = w.from_token.then_some(token.as_str());
        let event_pos = match kind {
            Some(kind) => {
                let position = positions
                    .next()
                    .ok_or_else(|| StoreError::database("fewer timeline positions than events"))?;
                entries.push(EntryRow {
                    position,
                    entry: NewEntry {
                        kind: EntryKind::Event(kind),
                        url_id: c.url_id.clone(),
                        origin_token: Some(token.clone()),
                        only_token: None,
                        payload: None,
                    },
                    doc_of: Some(c.id.clone()),
                });
                let webhook = match kind {
                    E::NewComment => WebhookEventKind::Create,
                    _ => WebhookEventKind::Update,
                };
                imported.push((webhook, c, position));
                Some(position)
            }
            None => None,
        };
        let doc = match docs.remove(&c.id) {
            Some(doc) => doc,
            None => serde_json::to_string(c)?,
        };
        debug_assert_eq!(
            doc,
            serde_json::to_string(c)?,
            "a prepared document went stale"
        );
        rows.push(CommentRow {
            comment: c,
            upload_token,
            doc,
            event_pos,
            is_new: kind == Some(E::NewComment),
        });
    }
    if wants_setup_entry {
        let position = positions
            .next()
            .ok_or_else(|| StoreError::database("no timeline position for SetSetupCompleted"))?;
        entries.push(EntryRow {
            position,
            entry: NewEntry::setup_completed(token),
            doc_of: None,
        });
        record.setup_completed_at = Some(position);
    }
    upsert_comment_docs(tx, &rows).await?;
    let seeds = PageSeed::of_threads(rows.iter().filter(|r| r.is_new).map(|r| r.comment));
    ensure_pages(tx, tenant, &seeds, now).await?;
    let entries = insert_entries(tx, tenant, entries).await?;
    let mut queued = Enqueued::default();
    // A batch that changed nothing (a re-send) has nothing to fire: no need to read targets.
    if !imported.is_empty() {
        let targets = load_webhook_targets(tx, tenant).await?;
        if targets.fire_on_import() {
            queued = enqueue_webhooks(tx, tenant, &targets, &imported, true, now).await?;
        }
    }
    write_token(tx, &record).await?;
    Ok(UploadOutcome {
        comment_ids: plan.comment_ids,
        received: batch.comments.len() as u64,
        token: record,
        entries,
        deliveries: queued.deliveries,
    })
}
