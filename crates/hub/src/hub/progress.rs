//! How far a plugin's initial upload has come, for the integrations page's progress bar, and
//! when each plugin last called.
//!
//! The store keeps how many comments a token sent (`upload_received`); how many it will send
//! in all is only said by the plugin, batch by batch (`countRemaining`). That estimate is kept
//! in memory: it matters only while an upload runs, and a restart merely shows the bar without
//! a total until the next batch.

use super::Hub;
use crate::records::IntegrationToken;
use std::sync::atomic::{AtomicI64, Ordering};

impl Hub {
    /// Records that `token`'s upload has `received` comments stored and, as its plugin said,
    /// `remaining` still to send (`None`: it did not say).
    pub fn note_upload_remaining(
        &self,
        token: &IntegrationToken,
        received: u64,
        remaining: Option<i64>,
    ) {
        let mut map = self.upload_expected.write();
        match remaining {
            Some(r) if r > 0 => {
                let total = i64::try_from(received)
                    .unwrap_or(i64::MAX)
                    .saturating_add(r);
                map.insert(token.clone(), total);
            }
            // Finished (or no estimate): the stored count is the whole story.
            _ => {
                map.remove(token);
            }
        }
    }

    /// The expected total of `token`'s running upload, if its plugin said.
    pub fn upload_expected(&self, token: &IntegrationToken) -> Option<i64> {
        self.upload_expected.read().get(token).copied()
    }
}

impl Hub {
    /// Records that `token`'s plugin called the hub now (for "last poll" on the pages). Kept
    /// in memory: an atomic store under a read lock on every call after the first.
    pub fn note_seen(&self, token: &IntegrationToken) {
        let now = self.now().0;
        if let Some(at) = self.last_seen.read().get(token) {
            at.store(now, Ordering::Relaxed);
            return;
        }
        self.last_seen
            .write()
            .entry(token.clone())
            .or_insert_with(|| AtomicI64::new(now))
            .store(now, Ordering::Relaxed);
    }

    /// When `token`'s plugin last called this hub since it started, epoch ms.
    pub fn last_seen(&self, token: &IntegrationToken) -> Option<i64> {
        self.last_seen
            .read()
            .get(token)
            .map(|at| at.load(Ordering::Relaxed))
    }
}
