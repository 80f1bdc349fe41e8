//! What one hub node tells the others sharing its database.

use super::IntegrationToken;
use crate::ids::TenantId;

/// A commit another hub node may have made, told to every node sharing the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Notice {
    /// A tenant's timeline grew to `newest`.
    Timeline {
        /// The tenant.
        tenant: TenantId,
        /// Its newest position now.
        newest: i64,
    },
    /// A token's record changed.
    Token {
        /// The token.
        token: IntegrationToken,
    },
    /// Pending tokens expired (maintenance).
    TokensExpired,
    /// Old timeline entries were pruned (maintenance): cached prune marks are stale.
    Pruned,
    /// A tenant's API secrets changed.
    Secrets {
        /// The tenant.
        tenant: TenantId,
    },
    /// Webhook deliveries were queued or became due.
    Deliveries,
    /// Notices may have been lost (the listening connection dropped): forget what is cached.
    Lost,
}
