//! Writes of the webhook outbox that no cache holds: the dispatcher's (claiming due deliveries
//! for a lease, giving back claims it has no room for, recording attempts) and a tenant's
//! cancelling of a delivery. They are here so that the store stays private to the hub.

use super::Hub;
use crate::ids::TenantId;
use crate::records::{AttemptOutcome, Delivery, DueQuery};
use crate::store::StoreResult;

impl Hub {
    /// Claims the deliveries due now, for the query's lease (see [`Store::due_deliveries`](crate::store::Store::due_deliveries)).
    pub async fn claim_due_deliveries(&self, q: &DueQuery<'_>) -> StoreResult<Vec<Delivery>> {
        self.store.due_deliveries(q).await
    }

    /// Ends the claims of deliveries that were claimed but not sent.
    pub async fn release_claims(&self, ids: &[String]) -> StoreResult<()> {
        self.store.release_claims(ids).await
    }

    /// Records attempts and what they mean for their deliveries, ending their claims; whether
    /// another delivery became ready by it.
    pub async fn record_attempts(&self, outcomes: &[AttemptOutcome]) -> StoreResult<bool> {
        self.store.record_attempts(outcomes, self.now()).await
    }

    /// Cancels one of the tenant's waiting deliveries.
    pub async fn cancel_delivery(&self, tenant: &TenantId, id: &str) -> StoreResult<Delivery> {
        self.store.cancel_delivery(tenant, id, self.now()).await
    }
}
