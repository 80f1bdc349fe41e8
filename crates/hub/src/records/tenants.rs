//! Tenants and their API secrets (and the secrets being retired after a rotation).

use crate::ids::TenantId;

/// A customer of the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// `t-…`.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Domains the tenant owns.
    pub domains: Vec<String>,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

/// An API secret: authenticates the tenant API and signs webhooks for its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSecret {
    /// Id for listing and revoking.
    pub id: String,
    /// Owner.
    pub tenant_id: TenantId,
    /// The domain it is for, or `*` for all domains.
    pub domain: String,
    /// The secret text.
    pub secret: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

/// An API secret being retired after a rotation: it still authenticates and signs until
/// `retires_at`, beside the secret that replaces it; then maintenance removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRetirement {
    /// The retiring secret.
    pub secret: ApiSecret,
    /// When it is removed, epoch ms.
    pub retires_at: i64,
}
