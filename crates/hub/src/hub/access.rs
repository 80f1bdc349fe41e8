//! What a request's tenant API secret may act on: its tenant, and everything of it (the All
//! Domains secret) or one domain and its subdomains (issue 20 §4, docs/security.md). The API's
//! extractor makes a [`TenantAuth`] from the request; the admin pages make one for the signed-in
//! tenant; the hub's shared actions take it to check the scope.

use crate::error::{ApiError, ApiResult, Code};
use crate::ids::TenantId;

/// A tenant, and what of it the caller's secret may act on.
#[derive(Debug, Clone)]
pub struct TenantAuth {
    /// The tenant id.
    pub tenant_id: TenantId,
    /// What the secret may act on: everything of its tenant (the All Domains secret) or one
    /// domain (issue 20 §4, docs/security.md).
    pub scope: SecretScope,
}

/// What a tenant API secret may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretScope {
    /// The tenant's All Domains (`*`) secret: everything of the tenant.
    AllDomains,
    /// A domain's secret: that domain and its subdomains only (what its webhook receiver
    /// holds to check signatures, so it must not open the rest of the tenant).
    Domain(String),
}

impl SecretScope {
    /// The scope of a secret made for `domain` (`*` is All Domains).
    pub fn of(domain: &str) -> SecretScope {
        if domain == "*" {
            SecretScope::AllDomains
        } else {
            SecretScope::Domain(domain.to_owned())
        }
    }
}

/// `403 all-domains-secret-required`.
pub fn all_domains_required(what: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        Code::AllDomainsSecretRequired,
        format!("{what} needs the tenant's All Domains (*) API secret; this one is for one domain"),
    )
}

/// `403 outside-secret-domain`.
pub fn outside_domain(domain: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        Code::OutsideSecretDomain,
        format!("this API secret is for {domain} (and its subdomains) only"),
    )
}

impl TenantAuth {
    /// The All Domains secret; else `403 all-domains-secret-required` naming `what`.
    pub fn require_all_domains(&self, what: &str) -> ApiResult<()> {
        match self.scope {
            SecretScope::AllDomains => Ok(()),
            SecretScope::Domain(_) => Err(all_domains_required(what)),
        }
    }

    /// Whether the secret may act on an object of `domain` (`None`: an object of no domain,
    /// which only the All Domains secret reaches).
    pub fn reaches(&self, domain: Option<&str>) -> bool {
        match &self.scope {
            SecretScope::AllDomains => true,
            SecretScope::Domain(own) => domain.is_some_and(|d| {
                d == own
                    || d.strip_suffix(own.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }),
        }
    }

    /// `Ok` when the secret reaches `domain`, else `403 outside-secret-domain`.
    pub fn require_domain(&self, domain: Option<&str>) -> ApiResult<()> {
        match &self.scope {
            _ if self.reaches(domain) => Ok(()),
            SecretScope::Domain(own) => Err(outside_domain(own)),
            SecretScope::AllDomains => Ok(()),
        }
    }

    /// The domain of a domain secret.
    pub fn own_domain(&self) -> Option<&str> {
        match &self.scope {
            SecretScope::AllDomains => None,
            SecretScope::Domain(d) => Some(d),
        }
    }
}
