//! A tenant's actions on its plugins' integration tokens, one path for the API
//! (`/api/v1/integrations/…`, the setup page) and the integrations page: which tokens a secret
//! reaches, acknowledging, starting an upload over, revoking. The writes themselves, which
//! the caches hold, are in `writes.rs`.

use super::access::{outside_domain, TenantAuth};
use super::{revoked, Hub};
use crate::error::{ApiError, ApiResult};
use crate::records::{IntegrationToken, TokenRecord, TokenState};
use crate::site_domain::normalize_domain;

/// Whether the secret reaches a token: the All Domains secret every one, a domain's secret
/// those the plugin registered for its domain.
pub fn token_in_scope(auth: &TenantAuth, t: &TokenRecord) -> bool {
    auth.own_domain().is_none()
        || auth.reaches(t.domain.as_deref().and_then(normalize_domain).as_deref())
}

impl Hub {
    /// `Ok` when the secret may acknowledge `token`: the All Domains secret any, a domain's
    /// secret only one a plugin registered for its domain (the acknowledge call and the setup
    /// page).
    pub async fn may_acknowledge(
        &self,
        auth: &TenantAuth,
        token: &IntegrationToken,
    ) -> ApiResult<()> {
        let Some(own) = auth.own_domain() else {
            return Ok(());
        };
        let registered = self.token_record(token).await?;
        if registered.is_some_and(|r| token_in_scope(auth, &r)) {
            Ok(())
        } else {
            Err(outside_domain(own))
        }
    }

    /// The tenant's tokens the secret reaches.
    pub async fn tenant_tokens(&self, auth: &TenantAuth) -> ApiResult<Vec<TokenRecord>> {
        let mut tokens = self.store.list_tokens(&auth.tenant_id).await?;
        tokens.retain(|t| token_in_scope(auth, t));
        Ok(tokens)
    }

    /// `token` when it is the tenant's and the secret reaches it; else `404`, as no token.
    pub async fn tenant_token(
        &self,
        auth: &TenantAuth,
        token: &IntegrationToken,
    ) -> ApiResult<TokenRecord> {
        self.token_record(token)
            .await?
            .filter(|r| r.tenant_id.as_ref() == Some(&auth.tenant_id))
            .filter(|r| token_in_scope(auth, r))
            .ok_or_else(|| ApiError::not_found("integration token"))
    }

    /// The token's upload starts over on the plugin's next poll; a revoked token is refused.
    pub async fn resync_integration(
        &self,
        auth: &TenantAuth,
        token: &IntegrationToken,
    ) -> ApiResult<TokenRecord> {
        let record = self.tenant_token(auth, token).await?;
        if record.state == TokenState::Revoked {
            return Err(revoked());
        }
        Ok(self.restart_upload(&record).await?)
    }

    /// The token stops working for good.
    pub async fn revoke_integration(
        &self,
        auth: &TenantAuth,
        token: &IntegrationToken,
    ) -> ApiResult<TokenRecord> {
        self.tenant_token(auth, token).await?;
        Ok(self.revoke_token(token).await?)
    }
}
