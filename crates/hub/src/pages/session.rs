//! Server-side sessions of the admin pages, held in memory and keyed by a random id that is
//! the only thing the browser keeps (cookie [`COOKIE`]: `HttpOnly; SameSite=Strict;
//! Path=/admin`, and `Secure` when the request came over HTTPS).
//!
//! A session starts anonymous (the sign-in form needs a CSRF token before anyone signed in);
//! signing in replaces it with a new one under a new id, so an id planted before sign-in is
//! worth nothing after. Sessions end on sign-out, after [`IDLE`] without a request, after
//! [`LIFETIME`] in all, or when the API secret they were opened with is deleted. Repeated
//! failed sign-ins from one client address make it wait, longer each time ([`Throttle`]).
//! Everything is lost on restart, which only signs everyone out.

use crate::ids;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;

/// The session cookie's name.
pub const COOKIE: &str = "fc_admin";
/// A session unused this long ends.
pub const IDLE: i64 = 30 * 60 * 1000;
/// No session lives longer than this.
pub const LIFETIME: i64 = 12 * 60 * 60 * 1000;
/// Most sessions held at once; past it the ones closest to expiry are dropped.
const MAX_SESSIONS: usize = 10_000;

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Nobody yet: the sign-in form's session.
    Anonymous,
    /// A tenant admin, signed in with one of the tenant's API secrets.
    Tenant {
        /// The tenant.
        tenant_id: String,
        /// The id (never the text) of the secret used; deleting it ends the session.
        secret_id: String,
    },
    /// The operator (the hub's admin token); acts on the tenant it opened, if any.
    Operator {
        /// The tenant whose pages the operator opened.
        acting_for: Option<String>,
    },
}

/// A one-time message for the next page shown (after a redirect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    /// Something was done.
    Done(String),
    /// Something failed.
    Failed(String),
    /// A new API secret, shown once.
    NewSecret {
        /// Its domain.
        domain: String,
        /// The secret text.
        secret: String,
    },
}

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie value.
    pub id: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// Whose it is.
    pub principal: Principal,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last request, epoch ms.
    pub seen_at: i64,
    /// Shown by the next page, once.
    pub flash: Option<Flash>,
}

impl Session {
    fn expired(&self, now: i64) -> bool {
        now - self.seen_at > IDLE || now - self.created_at > LIFETIME
    }

    /// The tenant this session acts on, if any.
    pub fn tenant(&self) -> Option<&str> {
        match &self.principal {
            Principal::Tenant { tenant_id, .. } => Some(tenant_id),
            Principal::Operator { acting_for } => acting_for.as_deref(),
            Principal::Anonymous => None,
        }
    }
}

/// The sessions of one hub.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// Failed sign-ins per client address.
    pub throttle: Throttle,
}

impl Sessions {
    /// A new session for `principal`.
    pub fn start(&self, principal: Principal, now: i64) -> Session {
        let s = Session {
            id: ids::api_secret(),
            csrf: ids::api_secret(),
            principal,
            created_at: now,
            seen_at: now,
            flash: None,
        };
        let mut map = self.map.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, v| !v.expired(now));
            if map.len() >= MAX_SESSIONS {
                // Still full: drop the least recently used tenth.
                let mut seen: Vec<i64> = map.values().map(|v| v.seen_at).collect();
                seen.sort_unstable();
                let cut = seen[seen.len() / 10];
                map.retain(|_, v| v.seen_at > cut);
            }
        }
        map.insert(s.id.clone(), s.clone());
        s
    }

    /// The live session with this id; an expired one is removed. With `used`, it counts as
    /// used now. A page's own background polling passes `false`, so a tab left open does not
    /// keep its session alive.
    pub fn touch(&self, id: &str, now: i64, used: bool) -> Option<Session> {
        let mut map = self.map.lock();
        let s = map.get_mut(id)?;
        if s.expired(now) {
            map.remove(id);
            return None;
        }
        if used {
            s.seen_at = now;
        }
        Some(s.clone())
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.map.lock().remove(id);
    }

    /// Changes a live session in place.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.map.lock().get_mut(id) {
            f(s);
        }
    }

    /// Takes the session's one-time message.
    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.map.lock().get_mut(id).and_then(|s| s.flash.take())
    }
}

/// Failed sign-ins per client address: after [`FREE_FAILURES`] the address must wait before
/// its next try, 1 s, then 2, 4, … up to [`MAX_WAIT_MS`]; a success forgets them.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, i64)>>,
}

/// Failures allowed before any wait.
pub const FREE_FAILURES: u32 = 3;
/// The longest wait.
pub const MAX_WAIT_MS: i64 = 5 * 60 * 1000;
/// Most addresses tracked; past it, the oldest are forgotten.
const MAX_ADDRESSES: usize = 10_000;

impl Throttle {
    /// How many ms `addr` must still wait before it may try again (0: it may).
    pub fn wait_ms(&self, addr: IpAddr, now: i64) -> i64 {
        match self.failures.lock().get(&addr) {
            Some(&(n, last)) => (last + wait_after(n) - now).max(0),
            None => 0,
        }
    }

    /// Records a failed sign-in from `addr`.
    pub fn failed(&self, addr: IpAddr, now: i64) {
        let mut map = self.failures.lock();
        if map.len() >= MAX_ADDRESSES {
            map.retain(|_, (_, last)| now - *last < MAX_WAIT_MS);
        }
        let e = map.entry(addr).or_insert((0, now));
        *e = (e.0.saturating_add(1), now);
    }

    /// Forgets `addr`'s failures (it signed in).
    pub fn succeeded(&self, addr: IpAddr) {
        self.failures.lock().remove(&addr);
    }
}

/// The wait after `n` failures.
fn wait_after(n: u32) -> i64 {
    if n < FREE_FAILURES {
        return 0;
    }
    let doublings = (n - FREE_FAILURES).min(20);
    (1000i64 << doublings).min(MAX_WAIT_MS)
}

/// The `Set-Cookie` value that hands the browser session `id` (`None`: clears it).
pub fn set_cookie(id: Option<&str>, secure: bool) -> String {
    let (value, age) = match id {
        Some(id) => (id.to_owned(), LIFETIME / 1000),
        None => (String::new(), 0),
    };
    cookie::Cookie::build((COOKIE, value))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/admin")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(age))
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_after_the_free_failures_and_reset_on_success() {
        let t = Throttle::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed(a, 0);
            assert_eq!(t.wait_ms(a, 0), 0);
        }
        t.failed(a, 0);
        assert_eq!(t.wait_ms(a, 0), 1000);
        t.failed(a, 1000);
        assert_eq!(t.wait_ms(a, 1000), 2000);
        assert_eq!(t.wait_ms(a, 2500), 500);
        assert_eq!(t.wait_ms(b, 1000), 0, "another address is not held up");
        for _ in 0..40 {
            t.failed(a, 5000);
        }
        assert_eq!(t.wait_ms(a, 5000), MAX_WAIT_MS);
        t.succeeded(a);
        assert_eq!(t.wait_ms(a, 5000), 0);
    }

    #[test]
    fn sessions_expire_when_idle_or_old() {
        let s = Sessions::default();
        let a = s.start(Principal::Anonymous, 0);
        assert!(s.touch(&a.id, IDLE, true).is_some());
        assert!(
            s.touch(&a.id, 2 * IDLE + 1, true).is_none(),
            "idle too long"
        );
        let b = s.start(Principal::Anonymous, 0);
        let mut now = 0;
        while now + IDLE / 2 <= LIFETIME {
            now += IDLE / 2;
            assert!(s.touch(&b.id, now, true).is_some());
        }
        assert!(s.touch(&b.id, LIFETIME + 1, true).is_none(), "too old");
        let c = s.start(Principal::Anonymous, 0);
        s.end(&c.id);
        assert!(s.touch(&c.id, 0, true).is_none());
        let d = s.start(Principal::Anonymous, 0);
        assert!(s.touch(&d.id, IDLE, false).is_some(), "polled, not used");
        assert!(
            s.touch(&d.id, IDLE + 1, false).is_none(),
            "polling kept nothing alive"
        );
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, a.id);
    }
}
