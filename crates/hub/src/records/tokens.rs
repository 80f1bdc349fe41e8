//! Integration tokens: a plugin's credential and where its setup is.

use crate::ids::TenantId;
use fastcomments_protocol::Millis;

/// An integration token's text: a plugin's credential. A type of its own so that a token
/// cannot be passed where a tenant id, a comment id or a domain is expected, nor one of those
/// as a token. It has no `Display`: a token is a credential, and logs name it through
/// [`crate::ids::redact`]. Serialized as the bare text (a notice to other nodes carries one).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct IntegrationToken(String);

crate::ids::text_newtype!(IntegrationToken);

/// Where an integration token is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Registered, waiting for a tenant admin.
    Pending,
    /// Bound to a tenant.
    Validated,
    /// Revoked by the tenant: reads return nothing, forever.
    Revoked,
}

impl TokenState {
    /// Storage text.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Pending => "pending",
            TokenState::Validated => "validated",
            TokenState::Revoked => "revoked",
        }
    }

    /// Inverse of [`TokenState::as_str`].
    pub fn parse(s: &str) -> Option<TokenState> {
        match s {
            "pending" => Some(TokenState::Pending),
            "validated" => Some(TokenState::Validated),
            "revoked" => Some(TokenState::Revoked),
            _ => None,
        }
    }
}

/// An integration token and its setup progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token text.
    pub token: IntegrationToken,
    /// The tenant, once acknowledged.
    pub tenant_id: Option<TenantId>,
    /// Life stage.
    pub state: TokenState,
    /// `wordpress`, … as the plugin said.
    pub integration_type: Option<String>,
    /// The plugin's site host.
    pub domain: Option<String>,
    /// The plugin asked to skip the initial upload.
    pub skip_requested: bool,
    /// First registration, epoch ms (pending tokens expire from here).
    pub created_at: i64,
    /// When a tenant admin acknowledged it.
    pub acknowledged_at: Option<i64>,
    /// Distinct comments received from this token (the next `start`).
    pub upload_received: i64,
    /// The initial upload is finished or skipped.
    pub upload_finished: bool,
    /// How many comments to ask for per batch (halved after a 413).
    pub batch_size: i64,
    /// Position of this token's `SetSetupCompleted` entry.
    pub setup_completed_at: Option<i64>,
    /// The acknowledging admin allowed this integration to read an API secret of its domain
    /// (`GET /integrations/v1/api-secret`; off unless they said so).
    pub api_secret_allowed: bool,
    /// The client address that registered it while pending (an IPv6 client's /64), for the
    /// per-address cap on pending tokens; `None` for tokens an admin made.
    pub registered_from: Option<String>,
}

impl TokenRecord {
    /// A token just registered: pending, no tenant, nothing uploaded.
    pub fn pending(token: &IntegrationToken, now: Millis, batch_size: i64) -> TokenRecord {
        TokenRecord {
            token: token.clone(),
            tenant_id: None,
            state: TokenState::Pending,
            integration_type: None,
            domain: None,
            skip_requested: false,
            created_at: now.0,
            acknowledged_at: None,
            upload_received: 0,
            upload_finished: false,
            batch_size,
            setup_completed_at: None,
            api_secret_allowed: false,
            registered_from: None,
        }
    }
}
