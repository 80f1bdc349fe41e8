//! Export: the whole tenant as JSON lines, one comment a line in the upload shape, which an
//! import reads back (issue 24 §2). Read from the store in keyset pages as the body is written,
//! so memory holds one page whatever the tenant's size.
//!
//! Each line is the stored comment with what a round trip needs: `_id` (importing into the same
//! tenant upserts on it), `externalId` (the site's id, else the hub id: importing into another
//! tenant keys on it), `externalParentId` (the parent's such id: a reply links to its parent
//! in the new tenant), and no `parentId` or `tenantId` (hub ids of this tenant).

use crate::hub::export_slots::ExportSlot;
use crate::hub::Hub;
use crate::ids::TenantId;
use crate::store::StoreResult;
use bytes::Bytes;
use fastcomments_protocol::{Comment, Millis};
use serde_json::Value;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Comments read per page.
pub const PAGE: u64 = 1000;

/// The source id a comment is exported under, in both formats: the site's, else the hub's.
pub(super) fn source_id(c: &Comment) -> String {
    c.external_id.clone().unwrap_or_else(|| c.id.clone())
}

/// One comment as an export line (with its new-line).
pub fn line(c: &Comment, parent_source: Option<String>) -> Result<String, serde_json::Error> {
    let mut v = serde_json::to_value(c)?;
    if let Value::Object(o) = &mut v {
        o.remove("parentId");
        o.remove("tenantId");
        o.insert("externalId".into(), Value::String(source_id(c)));
        o.insert(
            "externalParentId".into(),
            parent_source.map_or(Value::Null, Value::String),
        );
    }
    let mut text = serde_json::to_string(&v)?;
    text.push('\n');
    Ok(text)
}

/// The source ids of the comments of the last two pages written, by hub id: a reply usually
/// comes soon after its parent, so most parents are found here instead of one read each (a
/// quarter of the comments of a 1,000,000-comment export are replies; one read each made the
/// export three times slower than at 100,000).
#[derive(Default)]
struct RecentSources {
    this_page: HashMap<String, String>,
    last_page: HashMap<String, String>,
}

impl RecentSources {
    fn get(&self, id: &str) -> Option<&String> {
        self.this_page.get(id).or_else(|| self.last_page.get(id))
    }

    fn note(&mut self, c: &Comment) {
        self.this_page.insert(c.id.clone(), source_id(c));
    }

    fn next_page(&mut self) {
        self.last_page = std::mem::take(&mut self.this_page);
    }
}

/// The source id of `c`'s parent, as its export line names it.
async fn parent_source(
    hub: &Hub,
    tenant: &TenantId,
    c: &Comment,
    recent: &RecentSources,
) -> Option<String> {
    if let Some(ext) = &c.external_parent_id {
        return Some(ext.clone());
    }
    let parent = c.parent_id.as_deref()?;
    if let Some(source) = recent.get(parent) {
        return Some(source.clone());
    }
    match hub.reads().comment(tenant, parent).await {
        Ok(Some(p)) => Some(source_id(&p)),
        // A parent gone (deleted) or unreadable: its hub id still names it.
        _ => Some(parent.to_owned()),
    }
}

/// The body of an export: its text as it is read, and the export's slot
/// ([`crate::hub::export_slots`]) until the text ends or the body is dropped (its client gone).
pub struct Lines {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    slot: Option<ExportSlot>,
}

impl Lines {
    /// The body that `rx`'s sender writes.
    pub(super) fn new(rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Lines {
        Lines { rx, slot: None }
    }

    /// The body, holding `slot` for its life.
    pub fn holding(mut self, slot: ExportSlot) -> Lines {
        self.slot = Some(slot);
        self
    }
}

impl futures_core::Stream for Lines {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.rx.poll_recv(cx);
        if let Poll::Ready(None) = next {
            self.slot = None;
        }
        next
    }
}

/// Starts writing `tenant`'s export; its lines come out of the answer as they are read. A store
/// failure midway ends the body with an error, so the client sees a broken download, not a
/// short one that looks whole.
pub fn jsonl(hub: Arc<Hub>, tenant: TenantId) -> Lines {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    // The next page is read while this one is written: on PostgreSQL a page's query and
    // transfer took about as long as writing its lines.
    let (pages_tx, mut pages) = tokio::sync::mpsc::channel(1);
    tokio::spawn(read_pages(hub.clone(), tenant.clone(), pages_tx));
    tokio::spawn(async move {
        let mut recent = RecentSources::default();
        while let Some(page) = pages.recv().await {
            let page: Vec<Comment> = match page {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "an export stopped: the store failed");
                    let _ = tx
                        .send(Err(std::io::Error::other("the store failed")))
                        .await;
                    return;
                }
            };
            let mut chunk = String::new();
            recent.next_page();
            for c in &page {
                recent.note(c);
                let parent = parent_source(&hub, &tenant, c, &recent).await;
                match line(c, parent) {
                    Ok(l) => chunk.push_str(&l),
                    Err(e) => {
                        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                        return;
                    }
                }
            }
            if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return; // The client went away (dropping `pages` stops the reader).
            }
        }
    });
    Lines::new(rx)
}

/// Reads `tenant`'s comments a page at a time, by `(date, id)`, into `pages`, until the last
/// page, a store failure (sent, then the end), or the writer is gone.
async fn read_pages(
    hub: Arc<Hub>,
    tenant: TenantId,
    pages: tokio::sync::mpsc::Sender<StoreResult<Vec<Comment>>>,
) {
    let mut after: Option<(Millis, String)> = None;
    loop {
        let page = hub
            .reads()
            .comments_after(
                &tenant,
                after.as_ref().map(|(d, id)| (*d, id.as_str())),
                PAGE,
            )
            .await;
        let more = match &page {
            Ok(p) => match p.last() {
                Some(last) => {
                    after = Some((last.date, last.id.clone()));
                    p.len() as u64 == PAGE
                }
                None => return,
            },
            Err(_) => false,
        };
        if pages.send(page).await.is_err() || !more {
            return;
        }
    }
}
