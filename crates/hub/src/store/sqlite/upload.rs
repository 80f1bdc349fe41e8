//! One upload batch (SPEC §1.4) inside the group-commit writer's transaction.

use super::*;

/// Stores one upload batch inside the caller's transaction (the group-commit writer's).
pub(super) async fn upload_in(
    tx: &mut SqliteConnection,
    batch: &UploadBatch,
    prepared: &mut [Option<Prepared>],
    now_ms: i64,
) -> StoreResult<UploadOutcome> {
    use fastcomments_protocol::EventType as E;
    let tenant = batch.tenant_id.as_str();
    let token = batch.token.as_str();
    let mut record = read_token(tx, token)
        .await?
        .ok_or(StoreError::NotFound("token"))?;

    // 1. Prefetch what the batch may touch: comments by hub id, by plugin id, and parents.
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
    let parent_keys: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(|c| c.external_parent_id.as_deref())
        .collect();
    let mut known: HashMap<String, Existing> = HashMap::new();
    let mut ext_to_id: HashMap<String, String> = HashMap::new();
    let mut fetched = comments_where_in(tx, tenant, "id", "", &by_id_keys).await?;
    // Parents are only linked to: their hub ids are enough (no documents to read and parse).
    let batch_exts: HashSet<&str> = ext_keys.iter().copied().collect();
    let outside: Vec<&str> = parent_keys
        .iter()
        .copied()
        .filter(|p| !batch_exts.contains(p))
        .collect();
    let (by_ext, parent_ids) =
        on_own_handle(tx, |db| lookup_by_external(db, tenant, &ext_keys, &outside)).await?;
    fetched.extend(by_ext);
    for e in fetched {
        if let Some(ext) = &e.comment.external_id {
            ext_to_id.insert(ext.clone(), e.comment.id.clone());
        }
        known.insert(e.comment.id.clone(), e);
    }
    for (ext, id) in parent_ids {
        ext_to_id.entry(ext).or_insert(id);
    }
    // A hub parent id must name a comment of this tenant, as in the comments API: another
    // tenant's id (or an unknown one) refuses the batch instead of storing a dangling parent.
    let hub_parents: Vec<&str> = batch
        .comments
        .iter()
        .filter_map(domain::upload_parent_id)
        .filter(|p| !known.contains_key(*p))
        .collect();
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

    // 2. Merge each uploaded comment over what is stored, in batch order.
    let now = Millis(now_ms);
    let mut order: Vec<String> = Vec::new();
    let mut merged: HashMap<String, (Comment, bool)> = HashMap::new(); // id → (comment, is_new)
    let mut before: HashMap<String, Comment> = HashMap::new();
    let mut new_for_token = 0i64;
    let mut comment_ids = BTreeMap::new();
    let mut counted: HashSet<String> = HashSet::new();
    // JSON made before the writer ran, by id: valid while the comment is as it was prepared.
    let mut docs: HashMap<String, String> = HashMap::new();
    for (i, up) in batch.comments.iter().enumerate() {
        let target = up
            .id
            .as_deref()
            .filter(|id| known.contains_key(*id) || merged.contains_key(*id))
            .map(str::to_owned)
            .or_else(|| {
                up.external_id
                    .as_ref()
                    .and_then(|e| ext_to_id.get(e).cloned())
            });
        let (existing, id, is_new, fresh) = match target {
            Some(id) => {
                let current = merged
                    .get(&id)
                    .map(|(c, _)| c.clone())
                    .or_else(|| known.get(&id).map(|e| e.comment.clone()));
                let is_new = merged.get(&id).map(|(_, n)| *n).unwrap_or(false);
                docs.remove(&id);
                (current, id, is_new, None)
            }
            None => match prepared.get_mut(i).and_then(Option::take) {
                Some(p) => (None, p.comment.id.clone(), true, Some(p)),
                None => (None, ids::object_id(), true, None),
            },
        };
        if let Some(old) = known.get(&id) {
            before
                .entry(id.clone())
                .or_insert_with(|| old.comment.clone());
        }
        let (mut c, mut ready) = match fresh {
            Some(p) => (p.comment, Some(p.doc)),
            None => (domain::merge_upload(existing, up, tenant, &id, now), None),
        };
        let prepared_parent = c.parent_id.clone();
        set_upload_parent(&mut c, up, &ext_to_id);
        if c.parent_id != prepared_parent {
            ready = None;
        }
        if let Some(doc) = ready {
            docs.insert(id.clone(), doc);
        }
        if let Some(ext) = &c.external_id {
            ext_to_id.insert(ext.clone(), id.clone());
            comment_ids.insert(ext.clone(), id.clone());
        }
        let previously_from_token =
            known.get(&id).and_then(|e| e.upload_token.as_deref()) == Some(token);
        if !previously_from_token && counted.insert(id.clone()) {
            new_for_token += 1;
        }
        if !merged.contains_key(&id) {
            order.push(id.clone());
        }
        merged.insert(id, (c, is_new));
    }
    // Children of this batch that came before their parent in the same batch.
    for id in &order {
        let Some((c, _)) = merged.get(id) else {
            continue;
        };
        if c.parent_id.is_none() {
            if let Some(pid) = c
                .external_parent_id
                .as_ref()
                .and_then(|e| ext_to_id.get(e))
                .cloned()
            {
                if let Some((c, _)) = merged.get_mut(id) {
                    c.parent_id = Some(pid);
                    docs.remove(id);
                }
            }
        }
    }

    // 3. Stored children that were waiting for a parent that arrived now.
    let arrived: Vec<&str> = order
        .iter()
        .filter_map(|id| merged.get(id).and_then(|(c, _)| c.external_id.as_deref()))
        .collect();
    let waiting = comments_where_in(
        &mut *tx,
        tenant,
        "external_parent_id",
        "AND parent_id IS NULL",
        &arrived,
    )
    .await?;
    let mut linked: Vec<Comment> = Vec::new();
    for w in waiting {
        if merged.contains_key(&w.comment.id) {
            continue;
        }
        let mut child = w.comment;
        child.parent_id = child
            .external_parent_id
            .as_ref()
            .and_then(|e| ext_to_id.get(e))
            .cloned();
        if child.parent_id.is_some() {
            linked.push(child);
        }
    }

    // 4. Write comments, their events and the token's progress. Each comment is serialised
    //    once: its event refers to the stored document instead of holding a second copy.
    let mut writes: Vec<(&Comment, Option<&str>, Option<E>)> =
        Vec::with_capacity(order.len() + linked.len());
    for id in &order {
        if let Some((c, is_new)) = merged.get(id) {
            let kind = if *is_new && !before.contains_key(id) {
                Some(E::NewComment)
            } else if before.get(id) != Some(c) {
                Some(E::UpdatedComment)
            } else {
                None
            };
            writes.push((c, Some(token), kind));
        }
    }
    for c in &linked {
        writes.push((c, None, Some(E::UpdatedComment)));
    }
    record.upload_received += new_for_token;
    if batch.finishes_upload && !record.upload_finished {
        record.upload_finished = true;
    }
    let wants_setup_entry = record.upload_finished && record.setup_completed_at.is_none();
    let events = writes.iter().filter(|w| w.2.is_some()).count();
    let mut positions =
        reserve_positions(tx, tenant, events + usize::from(wants_setup_entry), now_ms)
            .await?
            .into_iter();
    let mut rows = Vec::with_capacity(writes.len());
    let mut entries = Vec::with_capacity(events + 1);
    let mut imported = Vec::new();
    for (c, upload_token, kind) in writes {
        let event_pos = match kind {
            Some(kind) => {
                let position = positions.next().ok_or_else(|| {
                    StoreError::Database("fewer timeline positions than events".into())
                })?;
                entries.push(EntryRow {
                    position,
                    entry: NewEntry {
                        kind: EntryKind::Event(kind),
                        url_id: c.url_id.clone(),
                        origin_token: Some(token.to_owned()),
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
        let position = positions.next().ok_or_else(|| {
            StoreError::Database("no timeline position for SetSetupCompleted".into())
        })?;
        entries.push(EntryRow {
            position,
            entry: NewEntry {
                kind: EntryKind::SetupCompleted,
                url_id: String::new(),
                origin_token: None,
                only_token: Some(token.to_owned()),
                payload: None,
            },
            doc_of: None,
        });
        record.setup_completed_at = Some(position);
    }
    upsert_comment_docs(tx, &rows).await?;
    let entries = insert_entries(tx, tenant, entries).await?;
    let mut queued = Enqueued::default();
    let configs = load_webhook_configs(tx, tenant).await?;
    if configs.iter().any(|c| c.fire_on_import) {
        queued = enqueue_webhooks(tx, tenant, &configs, &imported, true, now_ms).await?;
    }
    write_token(tx, &record).await?;
    Ok(UploadOutcome {
        comment_ids,
        received: batch.comments.len() as u64,
        token: record,
        entries,
        deliveries: queued.deliveries,
    })
}

/// Links an uploaded comment to its parent: the hub id the plugin gave, else the hub id of its
/// plugin parent when that is known (`ext_to_id`), else none yet.
pub(super) fn set_upload_parent(
    c: &mut Comment,
    up: &fastcomments_protocol::UploadComment,
    ext_to_id: &HashMap<String, String>,
) {
    if let Some(p) = domain::upload_parent_id(up) {
        c.parent_id = Some(p.to_owned());
    } else if let Some(ext_parent) = &c.external_parent_id {
        c.parent_id = ext_to_id.get(ext_parent).cloned();
    }
}

/// An uploaded comment made ready as if it were new (a fresh id, the merged document and its
/// JSON) by the uploading request's task, so the single writer does less: the writer uses it
/// when the comment is new and its parent is as prepared, and drops it otherwise.
pub(super) struct Prepared {
    pub(super) comment: Comment,
    pub(super) doc: String,
}

/// [`Prepared`] comments of a batch, in batch order.
pub(super) fn prepare_upload(
    batch: &UploadBatch,
    now_ms: i64,
) -> StoreResult<Vec<Option<Prepared>>> {
    let none = HashMap::new();
    batch
        .comments
        .iter()
        .map(|up| {
            let id = ids::object_id();
            let mut comment = domain::merge_upload(None, up, &batch.tenant_id, &id, Millis(now_ms));
            set_upload_parent(&mut comment, up, &none);
            let doc = serde_json::to_string(&comment)?;
            Ok(Some(Prepared { comment, doc }))
        })
        .collect()
}
