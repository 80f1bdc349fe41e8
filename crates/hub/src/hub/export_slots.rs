//! How many exports stream at once. An export reads the whole tenant from the store and holds
//! a connection for as long as its client takes to read it, so a valid key asking for many at
//! once could keep the store busy for everyone. Each export holds a slot for its stream's whole
//! life: at most [`PER_TENANT`] per tenant and [`IN_ALL`] per hub process; one more is refused
//! (`429 rate-limited` with `Retry-After`) until one ends. Slots are per process: on several
//! nodes each node keeps its own count (as the credential throttle does).

use crate::ids::TenantId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Exports of one tenant streaming at once.
pub const PER_TENANT: usize = 2;

/// Exports streaming at once on one hub process, all tenants together.
pub const IN_ALL: usize = 8;

/// What a refused export is told to wait, in seconds: a large export takes a while.
pub const RETRY_AFTER_SECS: u64 = 10;

/// Which limit a refused export met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The tenant's [`PER_TENANT`].
    Tenant,
    /// The hub's [`IN_ALL`].
    Hub,
}

/// Exports streaming now, per tenant and in all.
#[derive(Debug, Default)]
struct Held {
    per_tenant: HashMap<TenantId, usize>,
    in_all: usize,
}

/// The hub's export slots.
#[derive(Debug, Default)]
pub struct ExportSlots(Arc<Mutex<Held>>);

impl ExportSlots {
    /// A slot for an export of `tenant`, or the limit it meets.
    pub fn take(&self, tenant: &TenantId) -> Result<ExportSlot, Full> {
        let mut held = self.0.lock();
        let of_tenant = held.per_tenant.get(tenant).copied().unwrap_or(0);
        if of_tenant >= PER_TENANT {
            return Err(Full::Tenant);
        }
        if held.in_all >= IN_ALL {
            return Err(Full::Hub);
        }
        held.in_all += 1;
        held.per_tenant.insert(tenant.clone(), of_tenant + 1);
        Ok(ExportSlot {
            held: self.0.clone(),
            tenant: tenant.clone(),
        })
    }
}

/// One export's slot, given back when dropped.
#[derive(Debug)]
pub struct ExportSlot {
    held: Arc<Mutex<Held>>,
    tenant: TenantId,
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock();
        held.in_all = held.in_all.saturating_sub(1);
        if let Some(n) = held.per_tenant.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.per_tenant.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_tenant_and_in_all_and_given_back_when_dropped() {
        let slots = ExportSlots::default();
        let tenant = |i: usize| TenantId::from(format!("t{i}"));
        let first: Vec<ExportSlot> = (0..PER_TENANT)
            .map(|_| slots.take(&tenant(0)).unwrap())
            .collect();
        assert_eq!(slots.take(&tenant(0)).unwrap_err(), Full::Tenant);
        let mut others: Vec<ExportSlot> = (PER_TENANT..IN_ALL)
            .map(|i| slots.take(&tenant(i)).unwrap())
            .collect();
        assert_eq!(slots.take(&tenant(IN_ALL)).unwrap_err(), Full::Hub);
        // The tenant's own limit is said first: waiting for the hub would not help it.
        assert_eq!(slots.take(&tenant(0)).unwrap_err(), Full::Tenant);
        others.pop();
        let _again = slots.take(&tenant(IN_ALL)).unwrap();
        assert_eq!(slots.take(&tenant(IN_ALL + 1)).unwrap_err(), Full::Hub);
        drop(first);
        assert_eq!(slots.0.lock().per_tenant.get(&tenant(0)), None);
        assert_eq!(slots.0.lock().in_all, IN_ALL - PER_TENANT);
        assert!(slots.take(&tenant(0)).is_ok());
    }
}
