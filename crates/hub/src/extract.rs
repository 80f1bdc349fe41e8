//! Extractors that turn bad input into the SPEC's JSON errors instead of axum's plain text, and
//! the credentials of a request ([`TenantAuth`] from an API secret, [`OperatorAuth`]). The API
//! and the admin pages both use them; neither imports the other.

use crate::error::{ApiError, Code};
use crate::hub::access::{SecretScope, TenantAuth};
use crate::hub::Hub;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Shared state of the router.
pub type AppState = Arc<Hub>;

/// Query parameters, URL-decoded; a malformed query is `400 invalid-query`.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        // Straight from the request's query text: no URI is rebuilt on the idle-poll path.
        serde_urlencoded::from_str(query)
            .map(QueryParams)
            .map_err(|e| ApiError::invalid_query(format!("invalid query: {e}")))
    }
}

/// Reads a body of at most `limit` bytes; over the limit is `413 payload-too-large`.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            Code::PayloadTooLarge,
            format!("the body is over the limit of {limit} bytes; send smaller batches"),
        )
    })
}

/// Parses JSON, naming where it went wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::invalid_body(
            "the body is empty; a JSON object is expected",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_body(format!("invalid JSON body: {e}")))
}

/// A JSON body within the hub's general body limit; errors are `400 invalid-body` / `413`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body(), state.config.body_limit_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A JSON body that may be absent (an empty body is `T::default()`).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body(), state.config.body_limit_bytes).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// The query form of tenant authentication.
#[derive(Debug, Default, serde::Deserialize)]
struct QueryKey {
    #[serde(rename = "API_KEY")]
    api_key: Option<String>,
    #[serde(rename = "tenantId")]
    tenant_id: Option<String>,
}

/// The client's address as limits count it (`client_addr`): the socket's peer, or behind a
/// trusted proxy the client it forwards for. Unspecified when served without a socket.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &AppState) -> Result<Self, ApiError> {
        let proxies = &hub.config.connections.trusted_proxies;
        Ok(ClientAddr(crate::client_addr::of_request(
            &parts.extensions,
            &parts.headers,
            proxies,
        )))
    }
}

/// The tenant whose API secret came with the request: in the `x-api-key` header, or in the
/// hosted API's query form `?tenantId=…&API_KEY=…` (the Drupal module's). With the query form,
/// a `tenantId` that is not the key's owner is refused.
impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty());
        // The query is read when it may hold the key or a `tenantId` (the official SDKs send
        // one beside the header on every call), so a plain header request parses nothing.
        let query_text = parts.uri.query().unwrap_or("");
        let query: QueryKey = if header.is_none() || query_text.contains("tenantId=") {
            serde_urlencoded::from_str(query_text).unwrap_or_default()
        } else {
            QueryKey::default()
        };
        let key = header
            .or_else(|| query.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "send the tenant's API secret in the x-api-key header (or as ?tenantId=…&API_KEY=…)",
                )
            })?;
        let owner = hub.api_key_owner(key).await?;
        // A `tenantId` must name the key's tenant, however the key came.
        match query.tenant_id.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() && t != owner.tenant_id.as_str() => {
                Err(ApiError::unauthorized(
                    "the API secret is not a secret of the tenant named by tenantId",
                ))
            }
            _ => Ok(TenantAuth {
                scope: SecretScope::of(&owner.domain),
                tenant_id: owner.tenant_id,
            }),
        }
    }
}

/// The operator, authenticated by `Authorization: Bearer <FASTCOMMENTS_ADMIN_TOKEN>`.
#[derive(Debug, Clone, Copy)]
pub struct OperatorAuth;

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = hub.config.admin_token.as_deref() else {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                Code::OperatorApiDisabled,
                "the operator API is off: start the hub with FASTCOMMENTS_ADMIN_TOKEN set",
            ));
        };
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        use subtle::ConstantTimeEq;
        if given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        {
            Ok(OperatorAuth)
        } else {
            Err(ApiError::unauthorized(
                "send Authorization: Bearer <admin token>",
            ))
        }
    }
}
