//! What the OpenAPI document says beyond the routes: its title, the ways a caller
//! authenticates, and the error answers the handlers share. Each route documents itself
//! (`#[utoipa::path]` beside its handler); [`super::api_routes`] mounts and documents it in one
//! call, and `GET /openapi.json` serves the result.

use fastcomments_protocol::Failure;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};

/// The tenant's API secret in the `x-api-key` header.
pub const TENANT_KEY: &str = "apiKey";
/// The same secret as `?API_KEY=` (with `?tenantId=`, which must name the key's owner).
pub const TENANT_QUERY_KEY: &str = "apiKeyQuery";
/// The operator's `Authorization: Bearer <FASTCOMMENTS_ADMIN_TOKEN>`.
pub const OPERATOR: &str = "operator";

/// The document's frame; the paths and their schemas come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "FastComments hub",
        description = "Integration protocol (both generations), comments API and operator API. \
            Generated from the hub's handlers and the types they read and write. Every failed \
            call answers `{\"status\":\"failed\",\"code\",\"reason\"}` (the `Failure` schema).",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "integration", description = "The polling protocol of site plugins (SPEC §1); \
            the integration token in `?token=` identifies the caller."),
        (name = "tenant", description = "The tenant's own API (SPEC §3)."),
        (name = "operator", description = "The operator API, behind FASTCOMMENTS_ADMIN_TOKEN."),
        (name = "pages", description = "HTML pages for people."),
        (name = "ops", description = "Probes, metrics and this document."),
    )
)]
pub struct ApiDoc;

/// Adds the security schemes the handlers' `security(...)` lists name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TENANT_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "One of the tenant's API secrets.",
            ))),
        );
        components.add_security_scheme(
            TENANT_QUERY_KEY,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "API_KEY",
                "The hosted API's query form `?tenantId=…&API_KEY=…`; a `tenantId` that is not \
                 the key's owner is refused. Read only when no `x-api-key` header is sent.",
            ))),
        );
        components.add_security_scheme(
            OPERATOR,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token the hub was started with (FASTCOMMENTS_ADMIN_TOKEN).",
                    ))
                    .build(),
            ),
        );
    }
}

// The error answers, one set per kind of caller. Each is documentation only (never built):
// the handlers answer with `ApiError`, whose body is `Failure`.

/// Errors of the calls a plugin makes with a registered token.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum TokenErrors {
    /// Malformed input.
    #[response(
        status = 400,
        description = "`invalid-token` (missing or not `[A-Za-z0-9._-]{8,128}`), \
            `invalid-query` (e.g. a cursor that is not a date), `invalid-body`"
    )]
    BadRequest(Failure),
    /// Unknown or unacknowledged token.
    #[response(
        status = 401,
        description = "`unknown-token` (PUT it first), `token-not-validated` (a tenant admin \
            has not acknowledged it yet)"
    )]
    Unauthorized(Failure),
    /// Revoked.
    #[response(status = 403, description = "`token-revoked`")]
    Forbidden(Failure),
    /// The hub failed.
    #[response(status = 500, description = "`internal-error`: retry later")]
    Internal(Failure),
    /// Contention.
    #[response(status = 503, description = "`busy`: concurrent writes; retry")]
    Busy(Failure),
}

/// Errors of `PUT /integrations/v1/token…`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum RegisterErrors {
    /// Malformed input.
    #[response(
        status = 400,
        description = "`invalid-token`, `invalid-query` (a domain that is not a host name)"
    )]
    BadRequest(Failure),
    /// Revoked.
    #[response(status = 403, description = "`token-revoked`")]
    Forbidden(Failure),
    /// The hub failed.
    #[response(status = 500, description = "`internal-error`: retry later")]
    Internal(Failure),
    /// Contention.
    #[response(status = 503, description = "`busy`: concurrent writes; retry")]
    Busy(Failure),
}

/// A body over the limit (uploads: the hub halves the token's batch size too).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum TooLarge {
    /// Over the limit.
    #[response(
        status = 413,
        description = "`payload-too-large`: send smaller batches"
    )]
    PayloadTooLarge(Failure),
}

/// Errors of the tenant API.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum TenantErrors {
    /// Malformed input.
    #[response(status = 400, description = "`invalid-body`, `invalid-query`")]
    BadRequest(Failure),
    /// No or a wrong API secret.
    #[response(status = 401, description = "`unauthorized`")]
    Unauthorized(Failure),
    /// Not the tenant's.
    #[response(
        status = 403,
        description = "`domain-not-owned` (a domain that is not the tenant's), `token-revoked`"
    )]
    Forbidden(Failure),
    /// No such object, or another tenant's.
    #[response(status = 404, description = "`not-found`")]
    NotFound(Failure),
    /// Refused by the store.
    #[response(status = 409, description = "`conflict`")]
    Conflict(Failure),
    /// Over the body limit.
    #[response(status = 413, description = "`payload-too-large`")]
    PayloadTooLarge(Failure),
    /// The hub failed.
    #[response(status = 500, description = "`internal-error`: retry later")]
    Internal(Failure),
    /// Contention.
    #[response(status = 503, description = "`busy`: concurrent writes; retry")]
    Busy(Failure),
}

/// Errors of the operator API.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum OperatorErrors {
    /// Malformed input.
    #[response(status = 400, description = "`invalid-body`")]
    BadRequest(Failure),
    /// A wrong or missing bearer token.
    #[response(status = 401, description = "`unauthorized`")]
    Unauthorized(Failure),
    /// The hub runs without an operator token.
    #[response(status = 403, description = "`operator-api-disabled`")]
    Disabled(Failure),
    /// Refused by the store.
    #[response(status = 409, description = "`conflict`")]
    Conflict(Failure),
    /// Over the body limit.
    #[response(status = 413, description = "`payload-too-large`")]
    PayloadTooLarge(Failure),
    /// The hub failed.
    #[response(status = 500, description = "`internal-error`: retry later")]
    Internal(Failure),
    /// Contention.
    #[response(status = 503, description = "`busy`: concurrent writes; retry")]
    Busy(Failure),
}

/// The one error of a call that reads nothing from outside the process.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum InternalError {
    /// The hub failed.
    #[response(status = 500, description = "`internal-error`")]
    Internal(Failure),
}
