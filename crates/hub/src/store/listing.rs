//! What the admin pages ask of the store beyond the API's reads: the operator's tenant list,
//! deliveries filtered and paged, counts by state, and retrying every failed delivery since a
//! time.

use super::DeliveryStatus;
use fastcomments_protocol::WebhookEventKind;

/// Which of a tenant's deliveries to list ([`super::Store::find_deliveries`]), newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter<'a> {
    /// Only this state.
    pub status: Option<DeliveryStatus>,
    /// Only this event kind.
    pub kind: Option<WebhookEventKind>,
    /// Only this comment's.
    pub comment_id: Option<&'a str>,
    /// Only those whose comment's domain, or whose configuration's domain, is this.
    pub domain: Option<&'a str>,
    /// Skip this many (paging).
    pub offset: u64,
    /// At most this many.
    pub limit: u64,
}

/// How many of a tenant's deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCounts {
    /// Waiting for a first attempt.
    pub queued: u64,
    /// Waiting for a retry.
    pub retrying: u64,
    /// Delivered.
    pub succeeded: u64,
    /// Given up.
    pub failed: u64,
    /// Cancelled by the tenant.
    pub cancelled: u64,
    /// Waiting for their disabled subscription to be enabled again.
    pub paused: u64,
}

impl DeliveryCounts {
    /// Adds `n` to the count of `status`.
    pub fn add(&mut self, status: DeliveryStatus, n: u64) {
        let slot = match status {
            DeliveryStatus::Queued => &mut self.queued,
            DeliveryStatus::Retrying => &mut self.retrying,
            DeliveryStatus::Succeeded => &mut self.succeeded,
            DeliveryStatus::Failed => &mut self.failed,
            DeliveryStatus::Cancelled => &mut self.cancelled,
            DeliveryStatus::Paused => &mut self.paused,
        };
        *slot += n;
    }
}
