//! Progress reports for the host's UI (a setup screen, a progress bar, logs).

use std::sync::Arc;
use std::time::Duration;

/// Something the host may want to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The token is registered and waits for a tenant admin: show them this URL.
    AwaitingAcknowledgement {
        /// `{hub}/auth/my-account/integrations/v1/setup?token=…`
        setup_url: String,
    },
    /// The token was acknowledged and is bound to this tenant.
    Connected {
        /// The tenant's id.
        tenant_id: String,
    },
    /// An upload session starts.
    UploadStarted {
        /// Comments the hub already accepted.
        sent: u64,
        /// `sent` plus what remains.
        total: u64,
    },
    /// A contiguous batch was accepted.
    Uploaded {
        /// Comments accepted so far.
        sent: u64,
        /// Estimated total.
        total: u64,
    },
    /// The hub accepted the last batch (`countRemaining: 0`).
    UploadFinished {
        /// Comments sent in all.
        sent: u64,
    },
    /// A page of events was applied and the cursor moved.
    EventsApplied {
        /// Events in the page (after de-duplication).
        applied: u64,
        /// The new cursor.
        cursor: i64,
    },
    /// The hub has nothing newer than the cursor.
    CaughtUp {
        /// The cursor.
        cursor: i64,
    },
    /// `SetSetupCompleted` / `SetSyncDone` arrived.
    SetupCompleted,
    /// The hub said events older than the oldest kept entry were lost; a re-sync follows.
    GapDetected {
        /// The cursor that was too old.
        cursor: i64,
    },
    /// A re-sync downloaded and applied the hub's comments.
    Resynced {
        /// How many comments the hub holds.
        comments: u64,
    },
    /// An HTTP call failed and will be tried again.
    Retrying {
        /// Attempt that failed (1 = first).
        attempt: u32,
        /// Wait before the next one.
        delay: Duration,
        /// What went wrong.
        reason: String,
    },
    /// A tick failed; the run loop tries again later.
    TickFailed {
        /// The error.
        error: String,
        /// When the next tick runs.
        retry_in: Duration,
    },
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;
