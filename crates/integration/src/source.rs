//! The host's local comments, read for the upload (step 3) through keyset pages.

use crate::error::HostError;
use async_trait::async_trait;
use fastcomments_protocol::UploadComment;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Mutex;

/// The host's own id of a comment: an opaque key, ordered by the [`CommentSource`] that hands
/// it out. The core only stores it and gives it back; it never compares or parses it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalId(pub String);

impl fmt::Display for LocalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for LocalId {
    fn from(s: &str) -> LocalId {
        LocalId(s.to_owned())
    }
}

/// One local comment to upload.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalComment {
    /// The keyset key.
    pub id: LocalId,
    /// The comment as sent. When `external_id` is `None`, the core sends the local id there:
    /// the hub upserts on it, which makes a re-sent batch harmless.
    pub comment: UploadComment,
}

/// The host's comments in a stable order (e.g. ascending primary key).
///
/// Pages are keyset pages, never offsets or dates: comments added or removed while an upload
/// runs can not shift what a saved cursor means.
#[async_trait]
pub trait CommentSource: Send + Sync {
    /// How many comments come strictly after `after` (all of them for `None`).
    async fn count_after(&self, after: Option<&LocalId>) -> Result<u64, HostError>;
    /// Up to `limit` comments strictly after `after`, in the source's order.
    async fn page(
        &self,
        after: Option<&LocalId>,
        limit: usize,
    ) -> Result<Vec<LocalComment>, HostError>;
}

/// A [`CommentSource`] over a vector kept sorted by id (tests, small hosts).
#[derive(Debug, Default)]
pub struct MemorySource {
    comments: Mutex<Vec<LocalComment>>,
}

impl MemorySource {
    /// A source holding `comments` (sorted by id here).
    pub fn new(mut comments: Vec<LocalComment>) -> MemorySource {
        comments.sort_by(|a, b| a.id.cmp(&b.id));
        comments.dedup_by(|a, b| a.id == b.id);
        MemorySource {
            comments: Mutex::new(comments),
        }
    }

    /// Adds or replaces a comment.
    pub fn insert(&self, c: LocalComment) {
        if let Ok(mut v) = self.comments.lock() {
            match v.binary_search_by(|x| x.id.cmp(&c.id)) {
                Ok(i) => v[i] = c,
                Err(i) => v.insert(i, c),
            }
        }
    }

    fn start(v: &[LocalComment], after: Option<&LocalId>) -> usize {
        match after {
            None => 0,
            Some(a) => v.partition_point(|c| &c.id <= a),
        }
    }
}

#[async_trait]
impl CommentSource for MemorySource {
    async fn count_after(&self, after: Option<&LocalId>) -> Result<u64, HostError> {
        let v = self
            .comments
            .lock()
            .map_err(|_| HostError::from("poisoned"))?;
        Ok((v.len() - MemorySource::start(&v, after)) as u64)
    }

    async fn page(
        &self,
        after: Option<&LocalId>,
        limit: usize,
    ) -> Result<Vec<LocalComment>, HostError> {
        let v = self
            .comments
            .lock()
            .map_err(|_| HostError::from("poisoned"))?;
        let s = MemorySource::start(&v, after);
        Ok(v[s..].iter().take(limit).cloned().collect())
    }
}
