//! Imports: one record per file a tenant imported, with what became of its records.

use crate::ids::TenantId;
use serde::{Deserialize, Serialize};

/// How far an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportState {
    /// Being read and stored.
    Running,
    /// Every record read (some may have had problems).
    Done,
    /// The file could not be read on, or storing failed; running it again converges.
    Failed,
}

/// A problem, at a line and column of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProblem {
    /// From 1.
    pub line: u64,
    /// From 1.
    pub column: u64,
    /// What was wrong.
    pub message: String,
}

/// Most problems an import keeps (the others are counted in `problems_left_out`).
pub const MAX_PROBLEMS: usize = 1000;

/// An import and what became of its records. Stored as JSON: its serde form is how it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRecord {
    /// Its id.
    pub id: String,
    /// Owner.
    pub tenant_id: TenantId,
    /// `disqus`, `wxr` or `jsonl`.
    pub format: String,
    /// How far it is.
    pub state: ImportState,
    /// Read and checked only: nothing stored.
    pub dry_run: bool,
    /// Records read (comments, problems and records left out).
    pub read: u64,
    /// Comments new to the hub.
    pub created: u64,
    /// Comments stored before, changed by this file.
    pub updated: u64,
    /// Comments stored before, as the file has them.
    pub unchanged: u64,
    /// Records left out on purpose (pingbacks, trackbacks).
    pub skipped: u64,
    /// The first [`MAX_PROBLEMS`] problems.
    pub problems: Vec<ImportProblem>,
    /// Problems past those kept.
    pub problems_left_out: u64,
    /// Started, epoch ms.
    pub created_at: i64,
    /// Last progress, epoch ms.
    pub updated_at: i64,
}

impl ImportRecord {
    /// Whether it runs still: `running`, and its record changed at or after `fresh_since`
    /// (one that stopped moving long ago lost its node).
    pub fn runs_since(&self, fresh_since: i64) -> bool {
        self.state == ImportState::Running && self.updated_at >= fresh_since
    }

    /// Notes a problem (kept while there are fewer than [`MAX_PROBLEMS`]).
    pub fn problem(&mut self, p: ImportProblem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.problems_left_out += 1;
        }
    }
}
