//! How far a plugin's initial upload has come, for the integrations page's progress bar.
//!
//! The store keeps how many comments a token sent (`upload_received`); how many it will send
//! in all is only said by the plugin, batch by batch (`countRemaining`). That estimate is kept
//! in memory: it matters only while an upload runs, and a restart merely shows the bar without
//! a total until the next batch.

use super::Hub;

impl Hub {
    /// Records that `token`'s upload has `received` comments stored and, as its plugin said,
    /// `remaining` still to send (`None`: it did not say).
    pub fn note_upload_remaining(&self, token: &str, received: u64, remaining: Option<i64>) {
        let mut map = self.upload_expected.write();
        match remaining {
            Some(r) if r > 0 => {
                let total = i64::try_from(received)
                    .unwrap_or(i64::MAX)
                    .saturating_add(r);
                map.insert(token.to_owned(), total);
            }
            // Finished (or no estimate): the stored count is the whole story.
            _ => {
                map.remove(token);
            }
        }
    }

    /// The expected total of `token`'s running upload, if its plugin said.
    pub fn upload_expected(&self, token: &str) -> Option<i64> {
        self.upload_expected.read().get(token).copied()
    }
}
