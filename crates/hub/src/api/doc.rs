//! What the OpenAPI document says beyond the routes: its title, the ways a caller
//! authenticates, and the error answers the handlers share. Each route documents itself
//! (`#[utoipa::path]` beside its handler); [`super::api_routes`] mounts and documents it in one
//! call, and `GET /openapi.json` serves the result.

use std::collections::BTreeMap;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
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

/// The answers `statuses` name, each with its description and a `Failure` body.
fn failures(statuses: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    let body = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Failure")))
            .build()
    };
    statuses
        .iter()
        .map(|&(status, description)| {
            let answer = ResponseBuilder::new()
                .description(description)
                .content("application/json", body())
                .build();
            (status.to_string(), RefOr::T(answer))
        })
        .collect()
}

/// Declares a set of error answers: a type a route's `responses(...)` names, and its table of
/// statuses and descriptions.
macro_rules! failure_set {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $description:expr,)+ }) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                failures(&[$(($status, $description)),+])
            }
        }
    };
}

/// The hub failed (the answer of every kind of caller).
const INTERNAL: &str = "`internal-error`: retry later";
/// Contention (likewise).
const BUSY: &str = "`busy`: concurrent writes; retry";

failure_set! {
    /// Errors of the calls a plugin makes with a registered token.
    TokenErrors {
        400 => "`invalid-token` (missing or not `[A-Za-z0-9._-]{8,128}`), \
            `invalid-query` (e.g. a cursor that is not a date), `invalid-body`",
        401 => "`unknown-token` (PUT it first), `token-not-validated` (a tenant admin \
            has not acknowledged it yet)",
        403 => "`token-revoked`",
        500 => INTERNAL,
        503 => BUSY,
    }
}

failure_set! {
    /// Errors of `PUT /integrations/v1/token…`.
    RegisterErrors {
        400 => "`invalid-token`, `invalid-query` (a domain that is not a host name)",
        403 => "`token-revoked`",
        500 => INTERNAL,
        503 => BUSY,
    }
}

failure_set! {
    /// A body over the limit (uploads: the hub halves the token's batch size too).
    TooLarge {
        413 => "`payload-too-large`: send smaller batches",
    }
}

failure_set! {
    /// Errors of the tenant API.
    TenantErrors {
        400 => "`invalid-body`, `invalid-query`",
        401 => "`unauthorized`",
        403 => "`domain-not-owned` (a domain that is not the tenant's), `token-revoked`",
        404 => "`not-found`",
        409 => "`conflict`",
        413 => "`payload-too-large`",
        500 => INTERNAL,
        503 => BUSY,
    }
}

failure_set! {
    /// Errors of the operator API.
    OperatorErrors {
        400 => "`invalid-body`",
        401 => "`unauthorized`",
        403 => "`operator-api-disabled`",
        409 => "`conflict`",
        413 => "`payload-too-large`",
        500 => INTERNAL,
        503 => BUSY,
    }
}

failure_set! {
    /// The one error of a call that reads nothing from outside the process.
    InternalError {
        500 => "`internal-error`",
    }
}
