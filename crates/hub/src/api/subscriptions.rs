//! Issue 13's tenant API: secret rotation with overlap (`/api/v1/api-secrets/{id}/rotate`,
//! `/api/v1/api-secrets/rotations`); webhook subscriptions follow.

use super::extract::{AppState, OptionalJson, TenantAuth};
use super::tenant::SecretOut;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};
use axum::Json;
use fastcomments_protocol::{Millis, Status};
use serde::{Deserialize, Serialize};
use std::time::Duration;

// ---------- secret rotation ----------

/// How long an old secret keeps signing and authenticating after a rotation, unless told.
pub const DEFAULT_ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// The longest overlap a rotation may ask for.
pub const MAX_ROTATION_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// Body of `POST /api/v1/api-secrets/{id}/rotate` (may be empty).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateInput {
    /// Seconds the old secret stays valid beside the new one (default a day, at most 30 days).
    #[serde(default)]
    overlap_seconds: Option<u64>,
}

/// A secret being retired.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetiringOut {
    id: String,
    domain: String,
    retires_at: Millis,
}

/// `{status, apiSecret, retiring}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotated {
    status: Status,
    /// The new secret.
    api_secret: SecretOut,
    /// The old one and when it goes.
    retiring: RetiringOut,
}

/// `POST /api/v1/api-secrets/{id}/rotate {"overlapSeconds"?}`: a new secret for the same
/// domain now; the old one keeps authenticating and signing until `retiring.retiresAt`
/// (webhooks carry a Standard Webhooks signature by each meanwhile, and the FastComments
/// header is signed by the old one), then maintenance removes it. `DELETE
/// /api/v1/api-secrets/{id}` retires it earlier.
pub async fn rotate_secret(
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    OptionalJson(input): OptionalJson<RotateInput>,
) -> ApiResult<Json<Rotated>> {
    let overlap = input
        .overlap_seconds
        .map_or(DEFAULT_ROTATION_OVERLAP, Duration::from_secs);
    if overlap > MAX_ROTATION_OVERLAP {
        return Err(ApiError::invalid_body(format!(
            "overlapSeconds is at most {}",
            MAX_ROTATION_OVERLAP.as_secs()
        )));
    }
    let (old, new, retires_at) = hub.rotate_secret(&auth.tenant_id, &id, overlap).await?;
    Ok(Json(Rotated {
        status: Status::Success,
        api_secret: new.into(),
        retiring: RetiringOut {
            id: old.id,
            domain: old.domain,
            retires_at: Millis(retires_at),
        },
    }))
}

/// `{status, retiring}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationsOut {
    status: Status,
    retiring: Vec<RetiringOut>,
}

/// `GET /api/v1/api-secrets/rotations`: the tenant's secrets being retired, soonest first.
pub async fn list_rotations(
    State(hub): State<AppState>,
    auth: TenantAuth,
) -> ApiResult<Json<RotationsOut>> {
    let retiring = hub.store.secret_retirements(&auth.tenant_id).await?;
    Ok(Json(RotationsOut {
        status: Status::Success,
        retiring: retiring
            .into_iter()
            .map(|r| RetiringOut {
                id: r.secret.id,
                domain: r.secret.domain,
                retires_at: Millis(r.retires_at),
            })
            .collect(),
    }))
}
