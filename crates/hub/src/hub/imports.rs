//! What an import needs of the hub: its record kept, and a token of its own to upload with (an
//! import enters comments the way a plugin's upload does, so it is one; revoked when it ends).

use super::Hub;
use crate::error::ApiResult;
use crate::ids::TenantId;
use crate::records::{ImportRecord, IntegrationToken, TokenRecord};
use crate::store::StoreResult;
use fastcomments_protocol::Millis;

/// The `integrationType` of an import's token.
pub const IMPORT_INTEGRATION: &str = "import";

impl Hub {
    /// Stores an import's record as it is now.
    pub async fn save_import(&self, record: &ImportRecord) -> StoreResult<()> {
        self.store.save_import(record).await
    }

    /// Stores a new import's record unless another import of the tenant runs (its record
    /// changed at or after `fresh_since`), which it answers instead.
    pub async fn start_import(
        &self,
        record: &ImportRecord,
        fresh_since: Millis,
    ) -> StoreResult<Option<ImportRecord>> {
        self.store.start_import(record, fresh_since).await
    }

    /// A validated token of `tenant` for one import: its uploads are the import's batches.
    pub async fn import_token(&self, tenant: &TenantId) -> ApiResult<IntegrationToken> {
        let token = IntegrationToken::from(uuid::Uuid::new_v4().to_string());
        let mut record = TokenRecord::pending(&token, self.now(), self.config.initial_batch_size);
        record.integration_type = Some(IMPORT_INTEGRATION.to_owned());
        self.register_token(&record).await?;
        // Acknowledged as skipping the initial sync: an import is no plugin with a site to
        // upload; its batches are uploads all the same.
        self.acknowledge_token(tenant, &token, Some(true), None)
            .await?;
        Ok(token)
    }
}
