//! Uploads (SPEC §1.4): merging an uploaded comment over what is stored, and parents.

use super::{blank_comment, has_links};
use crate::ids::TenantId;
use crate::records::IntegrationToken;
use fastcomments_protocol::{Comment, EventType, Millis, UploadComment};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The hub parent id an uploaded comment names, if any (`""` and `"0"`, which plugins send
/// for "no parent", are none). It must be a comment of the uploader's tenant.
pub fn upload_parent_id(up: &UploadComment) -> Option<&str> {
    up.parent_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "0")
}

/// Merges an uploaded comment over the stored one (or a fresh one): fields the upload carries
/// win, the rest is kept. `parent_id` is resolved by the caller.
pub fn merge_upload(
    existing: Option<Comment>,
    up: &UploadComment,
    tenant_id: &TenantId,
    id: &str,
    now: Millis,
) -> Comment {
    let is_new = existing.is_none();
    let mut c = existing.unwrap_or_else(|| blank_comment(tenant_id, id, now));
    let url_id = up
        .url_id
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .or(up.url.as_deref())
        .map(|u| u.trim().to_owned());
    if let Some(u) = url_id {
        if c.url_id_raw.is_none() || is_new {
            c.url_id_raw = up.url_id.clone().or_else(|| Some(u.clone()));
        }
        c.url_id = u;
    }
    set_opt(&mut c.url, &up.url);
    set_opt(&mut c.page_title, &up.page_title);
    set_opt(&mut c.user_id, &up.user_id);
    if let Some(n) = &up.commenter_name {
        c.commenter_name = n.clone();
    }
    set_opt(&mut c.commenter_email, &up.commenter_email);
    if is_new || !up.comment.is_empty() {
        c.comment = up.comment.clone();
        c.comment_html = up
            .comment_html
            .clone()
            .unwrap_or_else(|| up.comment.clone());
        c.has_links = has_links(&c.comment_html);
        c.has_images = c.comment_html.contains("<img");
    }
    if up.external_id.is_some() {
        c.external_id = up.external_id.clone();
    }
    c.external_parent_id = up
        .external_parent_id
        .clone()
        .filter(|p| !p.is_empty() && p != "0");
    if let Some(d) = up.date {
        c.date = d;
    }
    // Vote counts are the site's history when the comment arrives; from then on the hub
    // keeps them (votes cast through the hub change them), so a re-upload does not reset them.
    if is_new {
        if let Some(v) = up.votes_up {
            c.votes_up = v.max(0);
        }
        if let Some(v) = up.votes_down {
            c.votes_down = v.max(0);
        }
        c.votes = match (up.votes, up.votes_up.is_some() || up.votes_down.is_some()) {
            (_, true) => c.votes_up - c.votes_down,
            (Some(v), false) => v,
            (None, false) => c.votes_up - c.votes_down,
        };
    }
    for (field, value) in [
        (&mut c.verified, up.verified),
        (&mut c.reviewed, up.reviewed),
        (&mut c.approved, up.approved),
        (&mut c.is_spam, up.is_spam),
        (&mut c.ai_determined_spam, up.ai_determined_spam),
        (&mut c.has_images, up.has_images),
        (&mut c.has_links, up.has_links),
        (&mut c.is_by_admin, up.is_by_admin),
        (&mut c.is_by_moderator, up.is_by_moderator),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    set_opt(&mut c.url_id_raw, &up.url_id_raw);
    set_opt(&mut c.avatar_src, &up.avatar_src);
    set_opt(&mut c.locale, &up.locale);
    set_opt(&mut c.domain, &up.domain);
    if let Some(mentions) = &up.mentions {
        c.mentions.clone_from(mentions);
    }
    if let Some(meta) = &up.meta {
        let target = c.meta.get_or_insert_with(Default::default);
        for (k, v) in meta {
            target.insert(k.clone(), v.clone());
        }
    }
    // Unknown fields are kept; a key that names a comment field is that field's business
    // (the typed fields above), never a second copy.
    for (k, v) in &up.extra {
        if !Comment::is_field(k) {
            c.extra.insert(k.clone(), v.clone());
        }
    }
    c
}

fn set_opt(target: &mut Option<String>, value: &Option<String>) {
    if value.is_some() {
        target.clone_from(value);
    }
}

/// A stored comment with the token that last uploaded it (`None`: written by the API, or by a
/// token that started over).
#[derive(Debug, Clone)]
pub struct StoredComment {
    /// The comment.
    pub comment: Comment,
    /// The token that last uploaded it.
    pub upload_token: Option<String>,
}

impl StoredComment {
    /// From a stored document and the token that last uploaded it.
    pub fn from_doc(
        doc: &str,
        upload_token: Option<String>,
    ) -> Result<StoredComment, serde_json::Error> {
        Ok(StoredComment {
            comment: Comment::from_json_lenient(doc)?,
            upload_token,
        })
    }
}

/// Links an uploaded comment to its parent: the hub id the plugin gave, else the hub id of its
/// plugin parent when that is known (`ext_to_id`), else none yet.
pub fn set_upload_parent(c: &mut Comment, up: &UploadComment, ext_to_id: &HashMap<String, String>) {
    if let Some(p) = upload_parent_id(up) {
        c.parent_id = Some(p.to_owned());
    } else if let Some(ext_parent) = &c.external_parent_id {
        c.parent_id = ext_to_id.get(ext_parent).cloned();
    }
}

/// An uploaded comment made ready as if it were new (a fresh id, the merged document and its
/// JSON), before the store's transaction, so the serial part of a write does less: the plan
/// uses it when the comment is new and its parent is as prepared, and drops it otherwise.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The comment as if new.
    pub comment: Comment,
    /// Its JSON.
    pub doc: String,
}

/// [`Prepared`] comments of a batch, in batch order.
pub fn prepare_upload(
    comments: &[UploadComment],
    tenant: &TenantId,
    now: Millis,
) -> Result<Vec<Option<Prepared>>, serde_json::Error> {
    let none = HashMap::new();
    comments
        .iter()
        .map(|up| {
            let id = crate::ids::object_id();
            let mut comment = merge_upload(None, up, tenant, &id, now);
            set_upload_parent(&mut comment, up, &none);
            let doc = serde_json::to_string(&comment)?;
            Ok(Some(Prepared { comment, doc }))
        })
        .collect()
}

/// What the store read before planning an upload batch.
#[derive(Debug, Default)]
pub struct UploadContext {
    /// Stored comments the batch names, by hub id (through `_id` or `externalId`).
    pub known: HashMap<String, StoredComment>,
    /// Plugin id → hub id, for the batch's comments and their parents.
    pub ext_to_id: HashMap<String, String>,
}

impl UploadContext {
    /// What the store found: the stored comments the batch names, and the hub ids of plugin
    /// parents outside the batch (`parents`, plugin id → hub id; a stored comment's own plugin
    /// id wins).
    pub fn found(
        stored: Vec<StoredComment>,
        parents: impl IntoIterator<Item = (String, String)>,
    ) -> UploadContext {
        let mut context = UploadContext::default();
        for e in stored {
            if let Some(ext) = &e.comment.external_id {
                context.ext_to_id.insert(ext.clone(), e.comment.id.clone());
            }
            context.known.insert(e.comment.id.clone(), e);
        }
        for (ext, id) in parents {
            context.ext_to_id.entry(ext).or_insert(id);
        }
        context
    }

    /// The hub parent ids of `comments` that name no known comment: the store checks that
    /// each names a comment of the tenant, as the comments API does.
    pub fn unknown_hub_parents<'b>(&self, comments: &'b [UploadComment]) -> Vec<&'b str> {
        comments
            .iter()
            .filter_map(upload_parent_id)
            .filter(|p| !self.known.contains_key(*p))
            .collect()
    }
}

/// The ids an upload batch names, which the store looks up before planning it.
#[derive(Debug)]
pub struct BatchKeys<'b> {
    /// The hub ids (`_id`) the batch's comments give.
    pub hub_ids: Vec<&'b str>,
    /// The plugin ids (`externalId`) of the batch's comments.
    pub external_ids: Vec<&'b str>,
    /// The plugin parent ids (`externalParentId`) that name no comment of the batch.
    pub outside_parents: Vec<&'b str>,
}

impl<'b> BatchKeys<'b> {
    /// The ids `comments` name, in batch order.
    pub fn of(comments: &'b [UploadComment]) -> BatchKeys<'b> {
        let hub_ids = comments.iter().filter_map(|c| c.id.as_deref()).collect();
        let external_ids: Vec<&str> = comments
            .iter()
            .filter_map(|c| c.external_id.as_deref())
            .collect();
        let in_batch: HashSet<&str> = external_ids.iter().copied().collect();
        let outside_parents = comments
            .iter()
            .filter_map(|c| c.external_parent_id.as_deref())
            .filter(|p| !in_batch.contains(p))
            .collect();
        BatchKeys {
            hub_ids,
            external_ids,
            outside_parents,
        }
    }
}

/// A comment of the batch as the plan leaves it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The comment to store.
    pub comment: Comment,
    /// Not stored before this batch.
    pub is_new: bool,
}

/// An upload batch merged over what is stored (SPEC §1.4), before any of it is written.
#[derive(Debug, Default)]
pub struct UploadPlan {
    /// Hub ids in batch order (each once).
    pub order: Vec<String>,
    /// The merged comments by hub id.
    pub merged: HashMap<String, Planned>,
    /// Stored comments as they were before the batch, by hub id.
    pub before: HashMap<String, Comment>,
    /// Comments this token had not uploaded before (its progress, the next `start`).
    pub new_for_token: i64,
    /// Plugin id → hub id (the answer's `commentIds`).
    pub comment_ids: BTreeMap<String, String>,
    /// Prepared JSON still valid for its comment, by hub id.
    pub docs: HashMap<String, String>,
    /// Plugin id → hub id after the batch.
    pub ext_to_id: HashMap<String, String>,
}

/// One comment row an upload writes, and the event it makes.
#[derive(Debug, Clone, Copy)]
pub struct UploadWrite<'a> {
    /// The comment.
    pub comment: &'a Comment,
    /// Uploaded by the batch's token (else a stored child linked to a parent that arrived).
    pub from_token: bool,
    /// `new-comment`, `updated-comment`, or none when nothing changed.
    pub event: Option<EventType>,
}

/// Merges each uploaded comment over what is stored, in batch order: upserts on `_id` when it
/// names a stored comment, else on the plugin id; new comments take a prepared id. Children
/// whose parent comes later in the same batch are linked to it.
pub fn plan_upload(
    comments: &[UploadComment],
    tenant: &TenantId,
    token: &IntegrationToken,
    context: UploadContext,
    prepared: &mut [Option<Prepared>],
    now: Millis,
) -> UploadPlan {
    let UploadContext {
        known,
        mut ext_to_id,
    } = context;
    let mut plan = UploadPlan::default();
    let mut counted: HashSet<String> = HashSet::new();
    for (i, up) in comments.iter().enumerate() {
        let target = up
            .id
            .as_deref()
            .filter(|id| known.contains_key(*id) || plan.merged.contains_key(*id))
            .map(str::to_owned)
            .or_else(|| {
                up.external_id
                    .as_ref()
                    .and_then(|e| ext_to_id.get(e).cloned())
            });
        let (existing, id, is_new, fresh) = match target {
            Some(id) => {
                let current = plan
                    .merged
                    .get(&id)
                    .map(|p| p.comment.clone())
                    .or_else(|| known.get(&id).map(|e| e.comment.clone()));
                let is_new = plan.merged.get(&id).is_some_and(|p| p.is_new);
                plan.docs.remove(&id);
                (current, id, is_new, None)
            }
            None => match prepared.get_mut(i).and_then(Option::take) {
                Some(p) => (None, p.comment.id.clone(), true, Some(p)),
                None => (None, crate::ids::object_id(), true, None),
            },
        };
        if let Some(old) = known.get(&id) {
            plan.before
                .entry(id.clone())
                .or_insert_with(|| old.comment.clone());
        }
        let (mut c, mut ready) = match fresh {
            Some(p) => (p.comment, Some(p.doc)),
            None => (merge_upload(existing, up, tenant, &id, now), None),
        };
        let prepared_parent = c.parent_id.clone();
        set_upload_parent(&mut c, up, &ext_to_id);
        if c.parent_id != prepared_parent {
            ready = None;
        }
        if let Some(doc) = ready {
            plan.docs.insert(id.clone(), doc);
        }
        if let Some(ext) = &c.external_id {
            ext_to_id.insert(ext.clone(), id.clone());
            plan.comment_ids.insert(ext.clone(), id.clone());
        }
        let previously_from_token =
            known.get(&id).and_then(|e| e.upload_token.as_deref()) == Some(token.as_str());
        if !previously_from_token && counted.insert(id.clone()) {
            plan.new_for_token += 1;
        }
        if !plan.merged.contains_key(&id) {
            plan.order.push(id.clone());
        }
        plan.merged.insert(id, Planned { comment: c, is_new });
    }
    // Children of this batch that came before their parent in the same batch.
    for id in &plan.order {
        let Some(p) = plan.merged.get_mut(id) else {
            continue;
        };
        if p.comment.parent_id.is_none() {
            if let Some(pid) = p
                .comment
                .external_parent_id
                .as_ref()
                .and_then(|e| ext_to_id.get(e))
            {
                p.comment.parent_id = Some(pid.clone());
                plan.docs.remove(id);
            }
        }
    }
    plan.ext_to_id = ext_to_id;
    plan
}

impl UploadPlan {
    /// The plugin ids of the batch's comments: stored children waiting for one of these
    /// parents are linked now (see [`UploadPlan::link_waiting`]).
    pub fn arrived(&self) -> Vec<&str> {
        self.order
            .iter()
            .filter_map(|id| {
                self.merged
                    .get(id)
                    .and_then(|p| p.comment.external_id.as_deref())
            })
            .collect()
    }

    /// Stored children (with no parent yet) whose plugin parent arrived in this batch, linked
    /// to it. Children that are themselves in the batch were linked by the plan.
    pub fn link_waiting(&self, waiting: Vec<StoredComment>) -> Vec<Comment> {
        waiting
            .into_iter()
            .filter(|w| !self.merged.contains_key(&w.comment.id))
            .filter_map(|w| {
                let mut child = w.comment;
                child.parent_id = child
                    .external_parent_id
                    .as_ref()
                    .and_then(|e| self.ext_to_id.get(e))
                    .cloned();
                child.parent_id.is_some().then_some(child)
            })
            .collect()
    }

    /// The rows to write, in order, with the event each makes: `new-comment` for a comment
    /// new to the hub, `updated-comment` for one that changed, none for an identical re-send;
    /// linked children are updates.
    pub fn writes<'a>(&'a self, linked: &'a [Comment]) -> Vec<UploadWrite<'a>> {
        let mut out = Vec::with_capacity(self.order.len() + linked.len());
        for id in &self.order {
            if let Some(p) = self.merged.get(id) {
                let event = if p.is_new && !self.before.contains_key(id) {
                    Some(EventType::NewComment)
                } else if self.before.get(id) != Some(&p.comment) {
                    Some(EventType::UpdatedComment)
                } else {
                    None
                };
                out.push(UploadWrite {
                    comment: &p.comment,
                    from_token: true,
                    event,
                });
            }
        }
        for c in linked {
            out.push(UploadWrite {
                comment: c,
                from_token: false,
                event: Some(EventType::UpdatedComment),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_merge_keeps_what_the_upload_lacks() {
        let up: UploadComment = serde_json::from_str(
            r#"{"externalId":7,"urlId":"p1","comment":"<p>hi</p>","date":"2024-03-05 14:22:11",
                "approved":"1","votesUp":"3","votesDown":"1","custom":true}"#,
        )
        .unwrap();
        let c = merge_upload(None, &up, &"t".into(), "id1", Millis(5));
        assert_eq!(c.external_id.as_deref(), Some("7"));
        assert_eq!(c.comment_html, "<p>hi</p>");
        assert_eq!((c.votes, c.votes_up, c.votes_down), (2, 3, 1));
        assert_eq!(c.date, Millis::parse("2024-03-05T14:22:11Z").unwrap());
        assert_eq!(c.extra.get("custom"), Some(&serde_json::Value::Bool(true)));
        let again: UploadComment =
            serde_json::from_str(r#"{"externalId":"7","urlId":"p1","comment":""}"#).unwrap();
        let c2 = merge_upload(Some(c.clone()), &again, &"t".into(), "ignored", Millis(9));
        assert_eq!(c2.comment, c.comment);
        assert_eq!(c2.date, c.date);
        assert_eq!(c2.id, "id1");
    }
}
