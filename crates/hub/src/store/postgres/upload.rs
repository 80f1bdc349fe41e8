//! One upload batch (SPEC §1.4) in one transaction. Rows the batch will change are locked as
//! they are read (in id order), so a concurrent batch touching the same comments waits and
//! then sees this one's result; two batches inserting the same new comment race on the plugin
//! id's unique index, and the loser runs again (`StoreError::Contended`). The token's
//! progress is an increment, so batches of one token run side by side.

use super::*;

/// Stores `batch` with `prepared` (see [`domain::upload::prepare_upload`]).
pub(super) async fn upload(
    store: &PostgresStore,
    batch: &UploadBatch,
    prepared: &mut [Option<Prepared>],
    now_ms: i64,
) -> StoreResult<UploadOutcome> {
    use fastcomments_protocol::EventType as E;
    use fastcomments_protocol::WebhookEventKind;
    let tenant = batch.tenant_id.as_str();
    let token = batch.token.as_str();
    let mut tx = store.pool.begin().await?;
    if tokens::token_exists(&mut tx, token).await?.is_none() {
        return Err(StoreError::NotFound("token"));
    }

    // 1. What the batch may touch: comments by hub id and by plugin id (locked), parents.
    let by_id_keys: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(|c| c.id.as_deref())
        .collect();
    let ext_keys: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(|c| c.external_id.as_deref())
        .collect();
    let mut known: HashMap<String, StoredComment> = HashMap::new();
    let mut ext_to_id: HashMap<String, String> = HashMap::new();
    let mut fetched = comments_where_in(&mut tx, tenant, "id", "", &by_id_keys, true).await?;
    fetched.extend(comments_where_in(&mut tx, tenant, "external_id", "", &ext_keys, true).await?);
    for e in fetched {
        if let Some(ext) = &e.comment.external_id {
            ext_to_id.insert(ext.clone(), e.comment.id.clone());
        }
        known.insert(e.comment.id.clone(), e);
    }
    let batch_exts: HashSet<&str> = ext_keys.iter().copied().collect();
    let outside_parents: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(|c| c.external_parent_id.as_deref())
        .filter(|p| !batch_exts.contains(p))
        .collect();
    for (ext, id) in ids_by_external(&mut tx, tenant, &outside_parents).await? {
        ext_to_id.entry(ext).or_insert(id);
    }
    // A hub parent id must name a comment of this tenant, as in the comments API.
    let hub_parents: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(domain::upload_parent_id)
        .filter(|p| !known.contains_key(*p))
        .collect();
    if !hub_parents.is_empty() {
        let found: Vec<String> =
            sqlx::query_scalar("SELECT id FROM comments WHERE tenant_id = $1 AND id = ANY($2)")
                .bind(tenant)
                .bind(&hub_parents)
                .fetch_all(&mut *tx)
                .await?;
        if hub_parents.iter().any(|p| !found.iter().any(|f| f == p)) {
            return Err(StoreError::NotFound("parent comment"));
        }
    }

    // 2. The plan (domain rules), then stored children waiting for a parent that arrived.
    let mut plan = domain::upload::plan_upload(
        &batch.comments,
        tenant,
        token,
        domain::upload::UploadContext { known, ext_to_id },
        prepared,
        now_ms,
    );
    let waiting = comments_where_in(
        &mut tx,
        tenant,
        "external_parent_id",
        "AND parent_id IS NULL",
        &plan.arrived(),
        true,
    )
    .await?;
    let linked = plan.link_waiting(waiting);

    // 3. Comment rows, then (clock taken) their events, each holding its comment's JSON.
    let mut docs = std::mem::take(&mut plan.docs);
    let writes = plan.writes(&linked);
    let mut rows = Vec::with_capacity(writes.len());
    for w in &writes {
        let doc = match docs.remove(&w.comment.id) {
            Some(doc) => doc,
            None => serde_json::to_string(w.comment)?,
        };
        rows.push(CommentRow {
            comment: w.comment,
            upload_token: w.from_token.then_some(token),
            doc,
        });
    }
    upsert_comment_rows(&mut tx, &rows).await?;
    let events: Vec<(E, &CommentRow<'_>)> = writes
        .iter()
        .zip(&rows)
        .filter_map(|(w, r)| w.event.map(|e| (e, r)))
        .collect();
    let positions = reserve_positions(&mut tx, tenant, events.len(), now_ms).await?;
    let mut new_entries = Vec::with_capacity(events.len() + 1);
    let mut imported = Vec::with_capacity(events.len());
    for ((kind, row), position) in events.iter().zip(&positions) {
        new_entries.push((
            *position,
            NewEntry {
                kind: EntryKind::Event(*kind),
                url_id: row.comment.url_id.clone(),
                origin_token: Some(token.to_owned()),
                only_token: None,
                payload: Some(row.doc.clone()),
            },
        ));
        let webhook = match kind {
            E::NewComment => WebhookEventKind::Create,
            _ => WebhookEventKind::Update,
        };
        imported.push((webhook, row.comment, *position));
    }

    // 4. The token's progress (an increment: batches of one token may run side by side), and
    //    `SetSetupCompleted` when this batch finished the upload.
    let mut record =
        tokens::add_progress(&mut tx, token, plan.new_for_token, batch.finishes_upload).await?;
    if record.upload_finished && record.setup_completed_at.is_none() {
        let position = reserve_positions(&mut tx, tenant, 1, now_ms)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Database("no position for SetSetupCompleted".into()))?;
        new_entries.push((position, NewEntry::setup_completed(token)));
        record.setup_completed_at = Some(position);
        tokens::write_token(&mut tx, &record).await?;
    }
    let entries = insert_entries(&mut tx, tenant, new_entries).await?;
    let mut queued = Enqueued::default();
    // A batch that changed nothing (a re-send) has nothing to fire: no need to read targets.
    if !imported.is_empty() {
        let targets = load_webhook_targets(&mut tx, tenant).await?;
        if targets.fire_on_import() {
            queued = enqueue_webhooks(&mut tx, tenant, &targets, &imported, true, now_ms).await?;
        }
    }
    tx.commit().await?;
    Ok(UploadOutcome {
        comment_ids: plan.comment_ids,
        received: batch.comments.len() as u64,
        token: record,
        entries,
        deliveries: queued.deliveries,
    })
}
