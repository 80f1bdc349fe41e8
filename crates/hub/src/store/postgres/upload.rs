//! One upload batch (SPEC §1.4) in one transaction. Rows the batch will change are locked as
//! they are read (in id order), so a concurrent batch touching the same comments waits and
//! then sees this one's result; two batches inserting the same new comment race on the plugin
//! id's unique index, and the loser runs again (`StoreError::Contended`). The token's
//! progress is an increment, so batches of one token run side by side.
//!
//! Stored children waiting for a parent are linked after the batch commits ([`link_late`]),
//! not inside it. Batches of one tenant run side by side, so a reply and its parent may sit in
//! two batches that commit at the same moment; inside their transactions, under READ
//! COMMITTED, neither would see the other's row. After its commit, the batch that committed
//! second sees both, whichever it was. A hub killed between the two leaves the plugin without
//! an answer, and its re-send links them.

use super::comments::{
    comments_where_in, ids_by_external, insert_new_comment_rows, upsert_comment_rows, CommentRow,
};
use super::portable::pages::ensure_pages;
use super::portable::timeline_log::reserve_positions;
use super::timeline::insert_entries;
use super::{enqueue_webhooks, load_webhook_targets, tokens, PostgresStore};
use crate::ids::TenantId;
use crate::records::{
    EntryKind, IntegrationToken, NewEntry, PageSeed, TimelineEntry, UploadBatch, UploadOutcome,
};
use crate::rules;
use crate::rules::upload::Prepared;
use crate::store::rows::StoreRow;
use crate::store::{Enqueued, StoreError, StoreResult};
use fastcomments_protocol::{Comment, EventType, Millis, WebhookEventKind};

/// Stores `batch` with `prepared` (see [`rules::upload::prepare_upload`]); with the outcome,
/// the plugin ids [`link_late`] must look at once this transaction has committed: the batch's
/// own ids (children elsewhere may wait for them) and the plugin parents it did not find.
pub(super) async fn upload(
    store: &PostgresStore,
    batch: &UploadBatch,
    prepared: &mut [Option<Prepared>],
    now: Millis,
) -> StoreResult<(UploadOutcome, Vec<String>)> {
    use EventType as E;
    let tenant = &batch.tenant_id;
    let token = &batch.token;
    let mut tx = store.pool.begin().await?;
    if tokens::token_exists(&mut tx, token).await?.is_none() {
        return Err(StoreError::NotFound("token"));
    }

    // 1. What the batch may touch: comments by hub id and by plugin id (locked), parents.
    let keys = rules::upload::BatchKeys::of(&batch.comments);
    let mut fetched = comments_where_in(&mut tx, tenant, "id", &keys.hub_ids, true).await?;
    fetched
        .extend(comments_where_in(&mut tx, tenant, "external_id", &keys.external_ids, true).await?);
    let parents = ids_by_external(&mut tx, tenant, &keys.outside_parents).await?;
    let context = rules::upload::UploadContext::found(fetched, parents);
    // A hub parent id must name a comment of this tenant, as in the comments API.
    let hub_parents = context.unknown_hub_parents(&batch.comments);
    if !hub_parents.is_empty() {
        let found: Vec<String> =
            sqlx::query_scalar("SELECT id FROM comments WHERE tenant_id = $1 AND id = ANY($2)")
                .bind(tenant.as_str())
                .bind(&hub_parents)
                .fetch_all(&mut *tx)
                .await?;
        if hub_parents.iter().any(|p| !found.iter().any(|f| f == p)) {
            return Err(StoreError::NotFound("parent comment"));
        }
    }

    // 2. The plan (domain rules). Stored children waiting for a parent that arrives here are
    //    linked by `link_late`, after the commit, where it sees every committed batch.
    let mut plan =
        rules::upload::plan_upload(&batch.comments, tenant, token, context, prepared, now);
    let mut late_keys: Vec<String> = plan.arrived().into_iter().map(str::to_owned).collect();

    // 3. Comment rows (new ones inserted, known ones replaced), then, with the clock taken,
    //    their events, each holding its comment's JSON.
    let mut docs = std::mem::take(&mut plan.docs);
    let writes = plan.writes(&[]);
    let (mut fresh, mut known_rows) = (Vec::new(), Vec::new());
    for w in &writes {
        let doc = match docs.remove(&w.comment.id) {
            Some(doc) => doc,
            None => serde_json::to_string(w.comment)?,
        };
        if w.comment.parent_id.is_none() {
            late_keys.extend(w.comment.external_parent_id.clone());
        }
        let row = CommentRow {
            comment: w.comment,
            upload_token: w.from_token.then_some(token.as_str()),
            doc,
        };
        // A comment new to the hub has a fresh id: a plain INSERT (no conflict check on the
        // id, no speculative insertion). A concurrent batch inserting the same plugin id still
        // fails on `comments_by_external`, and this one runs again.
        match w.event {
            Some(E::NewComment) => fresh.push((w.event, row)),
            _ => known_rows.push((w.event, row)),
        }
    }
    insert_new_comment_rows(&mut tx, fresh.iter().map(|(_, r)| r)).await?;
    let seeds = PageSeed::of_threads(fresh.iter().map(|(_, r)| r.comment));
    ensure_pages(&mut tx, tenant, &seeds, now).await?;
    upsert_comment_rows(&mut tx, known_rows.iter().map(|(_, r)| r)).await?;
    let mut events: Vec<(E, CommentRow<'_>)> = fresh
        .into_iter()
        .chain(known_rows)
        .filter_map(|(e, r)| e.map(|e| (e, r)))
        .collect();
    // Read before the clock is taken: the section that holds it stays short.
    let targets = if events.is_empty() {
        None
    } else {
        Some(load_webhook_targets(&mut tx, tenant).await?)
    };
    let positions = reserve_positions(&mut tx, tenant, events.len(), now).await?;
    let (mut new_entries, imported) = event_entries(&mut events, &positions, token);

    // 4. The token's progress (an increment: batches of one token may run side by side), and
    //    `SetSetupCompleted` when this batch finished the upload.
    let mut record =
        tokens::add_progress(&mut tx, token, plan.new_for_token, batch.finishes_upload).await?;
    if record.upload_finished && record.setup_completed_at.is_none() {
        let position = reserve_positions(&mut tx, tenant, 1, now)
            .await?
            .pop()
            .ok_or_else(|| StoreError::database("no position for SetSetupCompleted"))?;
        new_entries.push((position, NewEntry::setup_completed(token)));
        record.setup_completed_at = Some(position);
        tokens::write_token(&mut tx, &record).await?;
    }
    let entries = insert_entries(&mut tx, tenant, new_entries).await?;
    let mut queued = Enqueued::default();
    // A batch that changed nothing (a re-send) has nothing to fire and read no targets.
    if let Some(targets) = targets.filter(|t| t.fire_on_import()) {
        queued = enqueue_webhooks(&mut tx, tenant, &targets, &imported, true, now).await?;
    }
    tx.commit().await?;
    let outcome = UploadOutcome {
        comment_ids: plan.comment_ids,
        received: batch.comments.len() as u64,
        token: record,
        entries,
        deliveries: queued.deliveries,
    };
    Ok((outcome, late_keys))
}

/// A webhook an upload event fires: its kind, the comment, the event's position.
type Fired<'r> = (WebhookEventKind, &'r Comment, i64);

/// The timeline entries of upload events at their reserved `positions` (each takes its row's
/// JSON as payload, echo-suppressed for `token`), and the webhook each fires.
fn event_entries<'r>(
    events: &mut [(EventType, CommentRow<'r>)],
    positions: &[i64],
    token: &IntegrationToken,
) -> (Vec<(i64, NewEntry)>, Vec<Fired<'r>>) {
    let mut entries = Vec::with_capacity(events.len() + 1);
    let mut imported = Vec::with_capacity(events.len());
    for ((kind, row), position) in events.iter_mut().zip(positions) {
        entries.push((
            *position,
            NewEntry {
                kind: EntryKind::Event(*kind),
                url_id: row.comment.url_id.clone(),
                origin_token: Some(token.clone()),
                only_token: None,
                payload: Some(std::mem::take(&mut row.doc)),
            },
        ));
        let webhook = match kind {
            EventType::NewComment => WebhookEventKind::Create,
            _ => WebhookEventKind::Update,
        };
        imported.push((webhook, row.comment, *position));
    }
    (entries, imported)
}

/// Links the tenant's stored children still without a parent whose plugin parent is one of
/// `keys` and is now stored, each with an `updated-comment` entry (echo-suppressed for
/// `token`, as the upload's own links are) and, where imports fire, its webhook. Run after an
/// upload commits (see the module doc); finds nothing in the common case, at the cost of one
/// probe of the small `comments_waiting_for_parent` index. Two of these running at once lock
/// the same children in id order, and the second then finds them linked.
pub(super) async fn link_late(
    store: &PostgresStore,
    tenant: &TenantId,
    token: &IntegrationToken,
    keys: &[String],
    now: Millis,
) -> StoreResult<(Vec<TimelineEntry>, usize)> {
    if keys.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut tx = store.pool.begin().await?;
    let found = sqlx::query(
        "SELECT c.doc, p.id AS parent FROM comments c \
         JOIN comments p ON p.tenant_id = c.tenant_id AND p.external_id = c.external_parent_id \
         WHERE c.tenant_id = $1 AND c.parent_id IS NULL AND c.external_parent_id IS NOT NULL \
         AND c.external_parent_id = ANY($2) ORDER BY c.id FOR UPDATE OF c",
    )
    .bind(tenant.as_str())
    .bind(keys)
    .fetch_all(&mut *tx)
    .await?;
    if found.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut children = Vec::with_capacity(found.len());
    for r in &found {
        let mut child = Comment::from_json_lenient(&r.text("doc")?)?;
        child.parent_id = Some(r.text("parent")?);
        children.push(child);
    }
    let mut events = Vec::with_capacity(children.len());
    for c in &children {
        let doc = serde_json::to_string(c)?;
        events.push((
            EventType::UpdatedComment,
            CommentRow {
                comment: c,
                upload_token: None,
                doc,
            },
        ));
    }
    upsert_comment_rows(&mut tx, events.iter().map(|(_, r)| r)).await?;
    let targets = load_webhook_targets(&mut tx, tenant).await?;
    let positions = reserve_positions(&mut tx, tenant, events.len(), now).await?;
    let (new_entries, imported) = event_entries(&mut events, &positions, token);
    let entries = insert_entries(&mut tx, tenant, new_entries).await?;
    let mut deliveries = 0;
    if targets.fire_on_import() {
        deliveries = enqueue_webhooks(&mut tx, tenant, &targets, &imported, true, now)
            .await?
            .deliveries;
    }
    tx.commit().await?;
    Ok((entries, deliveries))
}
