//! [`Hub`]: the shared state behind every handler — the store, the clock, the settings and
//! the in-memory caches that let an idle poll answer without touching the disk.
//!
//! Caches are written only after the store committed, and only ever move forward (a tenant's
//! newest position is a `max`), so a reader never sees a position whose entry is not durable.
//! Entries live until this hub changes what they hold, or for `HubConfig::cache_ttl` when other
//! hub nodes may change it behind this one's back.

pub mod access;
pub mod comments;
pub mod export_slots;
pub mod imports;
mod outbox;
pub mod pages;
mod progress;
pub mod recover;
mod tenant_tokens;
pub mod throttle;
pub mod webhooks;
mod writes;

use crate::clock::Clock;
use crate::config::HubConfig;
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{self, TenantId};
use crate::metrics::Metrics;
use crate::records::{
    ApiSecret, Applied, Change, IntegrationToken, Notice, Tenant, TimelineBounds, TimelineEntry,
    TokenRecord, TokenState,
};
use crate::site_domain::{domain_is_owned, normalize_domain};
use crate::store::{SessionStore, Store, StoreReads, StoreResult};
use axum::http::StatusCode;
use fastcomments_protocol::Millis;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The cache lifetime of a hub whose store other nodes share, when the settings name none.
pub const SHARED_STORE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// A value read from the store, and when.
#[derive(Debug, Clone)]
struct Cached<T> {
    value: T,
    loaded: Instant,
}

impl<T> Cached<T> {
    fn new(value: T) -> Cached<T> {
        Cached {
            value,
            loaded: Instant::now(),
        }
    }
}

/// Shared state of a running hub.
pub struct Hub {
    /// Persistence. Private: handlers and pages read through [`Hub::reads`] and write through
    /// the hub's methods, so no write whose result a cache holds can miss the cache.
    store: Arc<dyn Store>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: HubConfig,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Wakes the webhook dispatcher when a commit queued deliveries.
    pub webhook_wake: Arc<tokio::sync::Notify>,
    /// Failed credential checks per client address (see [`throttle`]).
    pub throttle: throttle::CredentialThrottle,
    /// Exports streaming now (see [`export_slots`]).
    pub export_slots: export_slots::ExportSlots,
    /// New pending tokens this node registered (when to check the overall cap).
    pending_registrations: AtomicU64,
    tokens: RwLock<HashMap<IntegrationToken, Cached<TokenRecord>>>,
    token_generation: AtomicU64,
    tenant_secrets: RwLock<HashMap<TenantId, Cached<Vec<ApiSecret>>>>,
    secrets: RwLock<HashMap<String, Cached<ApiSecret>>>,
    bounds: RwLock<HashMap<TenantId, Cached<TimelineBounds>>>,
    /// Per token, how many comments its running upload will have sent in all (see `progress`).
    upload_expected: RwLock<HashMap<IntegrationToken, i64>>,
    /// Per token, when its plugin last called (see `progress`).
    last_seen: RwLock<HashMap<IntegrationToken, std::sync::atomic::AtomicI64>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub over `store`. A store shared with other hub nodes (one that sends
    /// [`Notice`]s) gets a cache lifetime even when `config` sets none: notices raise the
    /// caches at once, and the lifetime bounds what a lost notice could leave stale.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, mut config: HubConfig) -> Hub {
        if config.cache_ttl.is_none() && store.notices().is_some() {
            config.cache_ttl = Some(SHARED_STORE_CACHE_TTL);
        }
        let throttle = throttle::CredentialThrottle::new(config.credential_failures);
        Hub {
            store,
            clock,
            config,
            metrics: Metrics::default(),
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            throttle,
            export_slots: export_slots::ExportSlots::default(),
            pending_registrations: AtomicU64::new(0),
            tokens: RwLock::new(HashMap::new()),
            token_generation: AtomicU64::new(0),
            tenant_secrets: RwLock::new(HashMap::new()),
            secrets: RwLock::new(HashMap::new()),
            bounds: RwLock::new(HashMap::new()),
            upload_expected: RwLock::new(HashMap::new()),
            last_seen: RwLock::new(HashMap::new()),
        }
    }

    /// The store's reads (nothing among them changes what a cache holds).
    pub fn reads(&self) -> &dyn StoreReads {
        &*self.store
    }

    /// The admin pages' sessions (no cache holds them).
    pub fn session_store(&self) -> Arc<dyn SessionStore> {
        self.store.clone()
    }

    /// Claims the store for this hub before it serves (see [`Store::claim_for_serving`]).
    pub fn claim_store_for_serving(&self) -> StoreResult<()> {
        self.store.claim_for_serving()
    }

    /// Whether the store reads, and writes if writes were failing: the reason when not.
    pub async fn readiness(&self) -> Result<(), String> {
        if let Err(e) = self.store.tenant(&TenantId::from("readyz-probe")).await {
            tracing::error!(error = %e, "readiness check: the store failed");
            return Err("the store does not answer queries".into());
        }
        if let Some(failing) = self.store.write_fault() {
            if let Err(e) = self.store.probe_write().await {
                tracing::error!(error = %e, last = %failing, "readiness check: writes still fail");
                return Err(match e.fault().or(failing.fault()) {
                    Some(crate::store::FaultKind::Full) => {
                        "writes fail: the disk is full (disk-full)".into()
                    }
                    Some(other) => format!("writes fail: the storage failed ({})", other.as_str()),
                    None => "writes fail: the storage failed (error)".into(),
                });
            }
        }
        Ok(())
    }

    /// Now.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The cached value if it may still be trusted (see `HubConfig::cache_ttl`).
    fn fresh<T: Clone>(&self, cached: Option<&Cached<T>>) -> Option<T> {
        let c = cached?;
        let trusted = self
            .config
            .cache_ttl
            .is_none_or(|ttl| c.loaded.elapsed() < ttl);
        trusted.then(|| c.value.clone())
    }

    // ---------- tokens ----------

    /// A token's record, from memory when possible.
    ///
    /// The cache is filled only by reads and emptied by every write ([`Hub::token_changed`]);
    /// a read that raced with a write does not fill it (the generation moved), so the cache
    /// never holds a state older than the store's.
    pub async fn token_record(&self, token: &IntegrationToken) -> StoreResult<Option<TokenRecord>> {
        if let Some(r) = self.fresh(self.tokens.read().get(token)) {
            return Ok(Some(r));
        }
        let generation = self.token_generation.load(Ordering::Acquire);
        let found = self.store.token(token).await?;
        if let Some(r) = &found {
            let mut tokens = self.tokens.write();
            if self.token_generation.load(Ordering::Acquire) == generation {
                tokens.insert(r.token.clone(), Cached::new(r.clone()));
            }
        }
        Ok(found)
    }

    /// Call after any committed change of a token: drops it from the cache.
    pub fn token_changed(&self, token: &IntegrationToken) {
        let mut tokens = self.tokens.write();
        self.token_generation.fetch_add(1, Ordering::AcqRel);
        tokens.remove(token);
    }

    /// The token's record if it may read and write its tenant's data; else the SPEC's error.
    pub async fn validated_token(
        &self,
        token: &IntegrationToken,
    ) -> ApiResult<(TokenRecord, TenantId)> {
        if !fastcomments_protocol::is_valid_token(token.as_str()) {
            return Err(malformed_token());
        }
        let record = self.token_record(token).await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                Code::UnknownToken,
                "this token is not registered; PUT it first",
            )
        })?;
        match (record.state, record.tenant_id.clone()) {
            (TokenState::Revoked, _) => Err(revoked()),
            (TokenState::Validated, Some(tenant)) => {
                self.note_seen(token);
                Ok((record, tenant))
            }
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                Code::TokenNotValidated,
                "a tenant admin has not acknowledged this token yet",
            )),
        }
    }

    /// Forgets expired pending tokens and pruned timeline bounds (after maintenance).
    pub fn forget_after_maintenance(&self) {
        self.tokens
            .write()
            .retain(|_, r| r.value.state != TokenState::Pending);
        self.bounds.write().clear();
    }

    // ---------- tenants and secrets ----------

    /// Creates a tenant with a wildcard API secret.
    pub async fn create_tenant(
        &self,
        name: &str,
        domains: Vec<String>,
    ) -> ApiResult<(Tenant, ApiSecret)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ApiError::invalid_body("name must be 1 to 200 characters"));
        }
        let mut clean = Vec::new();
        for d in domains {
            clean.push(
                normalize_domain(&d)
                    .filter(|d| d != "*")
                    .ok_or_else(|| ApiError::invalid_body(format!("not a domain: {d:?}")))?,
            );
        }
        clean.sort();
        clean.dedup();
        let now = self.now().0;
        let tenant = Tenant {
            id: ids::tenant_id(),
            name: name.to_owned(),
            domains: clean,
            created_at: now,
        };
        let secret = ApiSecret {
            id: ids::object_id(),
            tenant_id: tenant.id.clone(),
            domain: "*".into(),
            secret: ids::api_secret(),
            created_at: now,
        };
        self.store.create_tenant(&tenant, &secret).await?;
        tracing::info!(tenant = %tenant.id, "tenant created");
        Ok((tenant, secret))
    }

    /// The secret record for an `x-api-key` value.
    pub async fn api_key_owner(&self, key: &str) -> ApiResult<ApiSecret> {
        if let Some(s) = self.fresh(self.secrets.read().get(key)) {
            return Ok(s);
        }
        let found = self
            .store
            .secret_by_value(key)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the x-api-key is not a valid API secret"))?;
        self.secrets
            .write()
            .insert(key.to_owned(), Cached::new(found.clone()));
        Ok(found)
    }

    /// Forgets a revoked secret.
    pub fn forget_secret(&self, secret: &ApiSecret) {
        self.secrets.write().remove(&secret.secret);
        self.tenant_secrets.write().remove(&secret.tenant_id);
    }

    /// Whether the tenant may name `domain` (normalised) in a secret, a webhook, a test payload
    /// or a comment: `*`, one of its domains, or a subdomain of one (SPEC §2.2).
    pub async fn owns_domain(&self, tenant: &TenantId, domain: &str) -> StoreResult<bool> {
        if domain == "*" {
            return Ok(true);
        }
        Ok(domain_is_owned(&self.owned_domains(tenant).await?, domain))
    }

    /// The tenant's own domains, for a caller checking several names against one read
    /// (see [`domain_is_owned`]).
    pub async fn owned_domains(&self, tenant: &TenantId) -> StoreResult<Vec<String>> {
        Ok(self
            .store
            .tenant(tenant)
            .await?
            .map(|t| t.domains)
            .unwrap_or_default())
    }

    /// Adds a secret and refreshes the caches.
    pub async fn add_secret(&self, secret: &ApiSecret) -> StoreResult<()> {
        self.store.add_secret(secret).await?;
        self.tenant_secrets.write().remove(&secret.tenant_id);
        Ok(())
    }

    /// The secret for `domain`, else the tenant's wildcard secret (cached per tenant).
    pub async fn secret_for_domain(
        &self,
        tenant: &TenantId,
        domain: Option<&str>,
    ) -> StoreResult<Option<ApiSecret>> {
        Ok(self
            .signing_secrets(tenant, domain)
            .await?
            .into_iter()
            .next())
    }

    /// Every secret that signs webhooks of `domain`, oldest first: the domain's own, else the
    /// tenant's wildcard ones. The first signs the FastComments header (during a rotation,
    /// the one being retired, which receivers still know); all of them sign the Standard
    /// Webhooks header (one `v1,` entry each), so a receiver knowing any one verifies.
    pub async fn signing_secrets(
        &self,
        tenant: &TenantId,
        domain: Option<&str>,
    ) -> StoreResult<Vec<ApiSecret>> {
        let cached = self.fresh(self.tenant_secrets.read().get(tenant));
        let secrets = match cached {
            Some(s) => s,
            None => {
                let s = self.store.list_secrets(tenant).await?;
                self.tenant_secrets
                    .write()
                    .insert(tenant.clone(), Cached::new(s.clone()));
                s
            }
        };
        // `list_secrets` gives them oldest first.
        let host = domain.and_then(normalize_domain);
        let of = |d: &str| -> Vec<ApiSecret> {
            secrets.iter().filter(|s| s.domain == d).cloned().collect()
        };
        let specific = host.map(|h| of(&h)).unwrap_or_default();
        Ok(if specific.is_empty() {
            of("*")
        } else {
            specific
        })
    }

    // ---------- the timeline ----------

    /// A tenant's newest position and prune mark, from memory when possible.
    pub async fn bounds(&self, tenant: &TenantId) -> StoreResult<TimelineBounds> {
        if let Some(b) = self.fresh(self.bounds.read().get(tenant)) {
            return Ok(b);
        }
        let b = self.store.timeline_bounds(tenant).await?;
        let mut map = self.bounds.write();
        let entry = map.entry(tenant.clone()).or_insert_with(|| Cached::new(b));
        entry.value.newest = entry.value.newest.max(b.newest);
        entry.value.pruned_through = entry.value.pruned_through.max(b.pruned_through);
        entry.loaded = Instant::now();
        Ok(entry.value)
    }

    /// Records committed entries so idle polls see them.
    pub fn note_entries(&self, tenant: &TenantId, entries: &[TimelineEntry]) {
        let Some(newest) = entries.iter().map(|e| e.created_at).max() else {
            return;
        };
        self.metrics.timeline_entries.add(entries.len() as u64);
        self.note_newest(tenant, newest);
    }

    /// Raises a tenant's cached newest position (never lowers it).
    fn note_newest(&self, tenant: &TenantId, newest: i64) {
        let mut map = self.bounds.write();
        if let Some(b) = map.get_mut(tenant) {
            b.value.newest = b.value.newest.max(newest);
        }
        // A tenant not cached yet is loaded from the store on its next read.
    }

    /// Acts on what another node sharing the store committed (see [`Store::notices`]).
    pub fn apply_notice(&self, notice: Notice) {
        match notice {
            Notice::Timeline { tenant, newest } => self.note_newest(&tenant, newest),
            Notice::Token { token } => self.token_changed(&token),
            Notice::TokensExpired => self.forget_after_maintenance(),
            Notice::Secrets { tenant } => {
                self.tenant_secrets.write().remove(&tenant);
                self.secrets
                    .write()
                    .retain(|_, s| s.value.tenant_id != tenant);
            }
            Notice::Deliveries => self.webhook_wake.notify_one(),
            Notice::Pruned => self.bounds.write().clear(),
            Notice::Lost => {
                // What was missed is unknown: everything is read again.
                let mut tokens = self.tokens.write();
                self.token_generation.fetch_add(1, Ordering::AcqRel);
                tokens.clear();
                drop(tokens);
                self.tenant_secrets.write().clear();
                self.secrets.write().clear();
                self.bounds.write().clear();
                self.webhook_wake.notify_one();
            }
        }
    }

    /// Applies notices from other nodes until `stop` turns true (a no-op for a store that
    /// one hub serves alone).
    pub async fn follow_notices(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(mut notices) = self.store.notices() else {
            return;
        };
        loop {
            tokio::select! {
                n = notices.recv() => match n {
                    Ok(notice) => self.apply_notice(notice),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "fell behind the store's notices; forgetting caches");
                        self.apply_notice(Notice::Lost);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Applies an API change and records its entries.
    pub async fn apply(&self, tenant: &TenantId, change: Change) -> ApiResult<Applied> {
        let applied = self.store.apply(tenant, change, self.now()).await?;
        self.note_entries(tenant, &applied.entries);
        self.metrics
            .webhooks_unmatched
            .add(applied.webhooks_unmatched as u64);
        if applied.deliveries > 0 {
            self.webhook_wake.notify_one();
        }
        Ok(applied)
    }

    /// Removes expired pending tokens and timeline entries past retention.
    pub async fn run_maintenance(&self) -> StoreResult<(u64, u64)> {
        // Addresses whose failed-credential budget is full again are forgotten, so the
        // throttle's memory follows the recent guessers, not every address ever seen.
        self.throttle.forget_idle();
        let now = self.now();
        let ttl = self.config.pending_token_ttl.as_millis() as i64;
        let keep = self.config.retention.as_millis() as i64;
        let tokens = self
            .store
            .delete_expired_pending(Millis(now.0 - ttl))
            .await?;
        let entries = self.store.prune_timeline(Millis(now.0 - keep)).await?;
        let deliveries = self.prune_deliveries(now).await?;
        self.disable_failing_subscriptions(now).await?;
        self.retire_due_secrets().await?;
        // Only what maintenance removed can make a cache stale: a run that removed no token
        // and no timeline entry (pruned bounds move only with a deletion) keeps the caches,
        // so idle polls stay off the store after every hourly run.
        if tokens + entries > 0 {
            self.forget_after_maintenance();
        }
        if tokens + entries + deliveries > 0 {
            tracing::info!(
                tokens,
                entries,
                deliveries,
                "maintenance removed expired tokens, timeline entries and finished webhook deliveries"
            );
        }
        Ok((tokens, entries))
    }

    /// Removes the rotated secrets whose overlap has ended (and forgets them). Maintenance
    /// calls it, and so does the timer a rotation sets for its own end, so an overlap ends on
    /// time rather than at the next maintenance run.
    pub async fn retire_due_secrets(&self) -> StoreResult<()> {
        for retired in self.store.retire_secrets(self.now()).await? {
            tracing::info!(tenant = %retired.tenant_id, secret = %retired.id, domain = %retired.domain, "a rotated API secret was retired");
            self.forget_secret(&retired);
        }
        Ok(())
    }

    /// Disables the subscriptions that failed for longer than `webhook_disable_after`
    /// (issue 13 §2), each logged and counted.
    pub async fn disable_failing_subscriptions(&self, now: Millis) -> StoreResult<usize> {
        let after =
            i64::try_from(self.config.webhook_disable_after.as_millis()).unwrap_or(i64::MAX);
        let disabled = self
            .store
            .disable_failing_subscriptions(Millis(now.0.saturating_sub(after)), now)
            .await?;
        for s in &disabled {
            tracing::warn!(tenant = %s.tenant_id, subscription = %s.id, url = %crate::redact::url(&s.url), reason = ?s.disabled_reason, "webhook subscription disabled: its receiver failed for too long; its deliveries wait until it is enabled again");
            self.metrics.subscriptions_disabled_here.inc();
        }
        Ok(disabled.len())
    }

    /// Removes succeeded and cancelled deliveries older than the retention, a batch per
    /// transaction, yielding between batches so the writer serves API changes in between.
    /// Returns how many it removed.
    pub async fn prune_deliveries(&self, now: Millis) -> StoreResult<u64> {
        let keep =
            i64::try_from(self.config.webhook_delivery_retention.as_millis()).unwrap_or(i64::MAX);
        let batch = self.config.webhook_prune_batch.max(1);
        let mut removed = 0;
        loop {
            let n = self
                .store
                .prune_deliveries(Millis(now.0.saturating_sub(keep)), batch)
                .await?;
            removed += n;
            self.metrics.deliveries_pruned.add(n);
            if n < batch {
                return Ok(removed);
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// `400 invalid-token`: not a token the protocol allows.
pub fn malformed_token() -> ApiError {
    ApiError::bad_request(
        Code::InvalidToken,
        "token must be 8 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
    )
}

/// `403 token-revoked`.
pub fn revoked() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        Code::TokenRevoked,
        "this token was revoked by the tenant",
    )
}
