//! Recover (issue 23 §3): a receiver that lost what it had, or was down past the retries, gets
//! every change since a time again. One path for the API and the admin pages: the checks, the
//! start (refused while the target has one running), and the queuing, a page at a time on a
//! task of its own so that a long recover holds neither the request nor one transaction.

use super::access::TenantAuth;
use super::Hub;
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::records::{RecoverTarget, Recovery};
use crate::site_domain::normalize_domain;
use fastcomments_protocol::Millis;
use std::sync::Arc;
use std::time::Duration;

/// Deliveries copied per transaction: short enough that the tenant's changes, which wait for
/// a page's commit (on PostgreSQL), are held for a few milliseconds at most.
pub const RECOVER_PAGE: u64 = 500;

/// How long a recover's queuing is held without a page: a node that stops mid-way leaves the
/// target free to recover again once it passed.
const RECOVER_LEASE: Duration = Duration::from_secs(60);

impl Hub {
    /// Starts a recover of `target` from `since` (epoch ms, a change's position) to the
    /// tenant's latest change, for
    /// the All Domains secret only: checks the time and the target (another tenant's is not
    /// found, a disabled subscription is refused), starts it (`409` while one runs for the
    /// target) and queues it in the background, page by page. Returns it as started.
    pub async fn recover(
        self: &Arc<Self>,
        auth: &TenantAuth,
        target: RecoverTarget,
        since: Millis,
    ) -> ApiResult<Recovery> {
        auth.require_all_domains("recovering a webhook target's deliveries")?;
        let now = self.now();
        if since.0 > now.0 {
            return Err(ApiError::invalid_body(format!(
                "since ({}) is in the future; it is the time of the first change to send again, epoch ms",
                since.0
            )));
        }
        let tenant = &auth.tenant_id;
        let target = match target {
            RecoverTarget::Subscription(id) => {
                let subs = self.reads().subscriptions(tenant).await?;
                let s = subs
                    .into_iter()
                    .find(|s| s.id == id)
                    .ok_or_else(|| ApiError::not_found("webhook subscription"))?;
                if s.disabled_at.is_some() {
                    return Err(ApiError::from(crate::store::StoreError::Conflict(
                        "this subscription is disabled: enable it first (its paused deliveries are sent then)".into(),
                    )));
                }
                RecoverTarget::Subscription(s.id)
            }
            RecoverTarget::Config(domain) => {
                let domain = normalize_domain(&domain)
                    .ok_or_else(|| ApiError::invalid_body(format!("not a domain: {domain:?}")))?;
                let configs = self.webhook_configs(tenant).await?;
                let c = configs
                    .into_iter()
                    .find(|c| c.domain == domain)
                    .ok_or_else(|| ApiError::not_found("webhook config"))?;
                RecoverTarget::Config(c.domain)
            }
        };
        // Positions are epoch ms, but an upload numbers a batch's changes ahead of the clock:
        // the range ends at the tenant's latest change, so that a recover right after an
        // upload has all of it.
        let newest = self.reads().timeline_bounds(tenant).await?.newest;
        let r = Recovery {
            id: ids::object_id(),
            tenant_id: tenant.to_owned(),
            target,
            since: since.0,
            until: now.0.max(newest),
            cursor: (since.0, String::new()),
            queued: 0,
            started_at: now.0,
            finished_at: None,
        };
        self.store
            .begin_recovery(&r, now, Millis(now.0 + lease_ms()))
            .await?;
        tracing::info!(tenant = %tenant, target = %r.target.key(), since = since.0, recovery = %r.id, "webhook recover started");
        let hub = self.clone();
        let started = r.clone();
        tokio::spawn(async move { hub.queue_recovery(started).await });
        Ok(r)
    }

    /// Queues `r` page by page until it is finished; each page wakes the dispatcher, so the
    /// first copies go out while the rest are queued. A store error ends it (logged): its
    /// lease runs out and the target may be recovered again.
    async fn queue_recovery(&self, mut r: Recovery) {
        while r.finished_at.is_none() {
            let now = self.now();
            match self
                .store
                .recover_page(&r, RECOVER_PAGE, now, Millis(now.0 + lease_ms()))
                .await
            {
                Ok(next) => {
                    if next.queued > r.queued {
                        self.webhook_wake.notify_one();
                    }
                    r = next;
                }
                Err(e) => {
                    tracing::error!(tenant = %r.tenant_id, recovery = %r.id, error = %e, "webhook recover stopped");
                    return;
                }
            }
        }
        tracing::info!(tenant = %r.tenant_id, target = %r.target.key(), recovery = %r.id, queued = r.queued, "webhook recover queued");
    }
}

fn lease_ms() -> i64 {
    RECOVER_LEASE.as_millis() as i64
}
