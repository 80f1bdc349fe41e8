//! Server-side sessions of the admin pages, kept in the store (so every node behind a load
//! balancer, and a restarted hub, knows them) and keyed by a random id that is the only thing
//! the browser keeps (cookie [`COOKIE`]: `HttpOnly; SameSite=Strict; Path=/admin`, and
//! `Secure` when the request came over HTTPS).
//!
//! A session starts anonymous (the sign-in form needs a CSRF token before anyone signed in);
//! signing in replaces it with a new one under a new id, so an id planted before sign-in is
//! worth nothing after. Sessions end on sign-out, after [`IDLE`] without a request, after
//! [`LIFETIME`] in all, or when the API secret they were opened with is deleted. At most
//! [`MAX_ANONYMOUS`] anonymous sessions are kept: visits that never sign in cannot fill the
//! database. Repeated failed sign-ins from one client address make it wait, longer each time
//! ([`Throttle`], per node).

use crate::ids::{self, TenantId};
use crate::records::SessionRecord;
use crate::store::{SessionStore, StoreResult};
use fastcomments_protocol::Millis;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "fc_admin";
/// A session unused this long ends.
pub const IDLE: i64 = 30 * 60 * 1000;
/// No session lives longer than this.
pub const LIFETIME: i64 = 12 * 60 * 60 * 1000;
/// The sign-in form's cookie value starts with this: a CSRF token for the form alone, kept in
/// no store (issue 20 §3: an anonymous visit stores nothing, so visits cannot fill the
/// database nor push a real visitor's form out). The form sends it back in its hidden field
/// (a double-submit check); a session id never starts with it.
pub const SIGN_IN_PREFIX: &str = "signin.";

/// The sign-in form's token if `cookie` holds one.
pub fn sign_in_token(cookie: &str) -> Option<&str> {
    cookie
        .strip_prefix(SIGN_IN_PREFIX)
        .filter(|t| t.len() >= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A fresh sign-in form token, and the `Set-Cookie` value carrying it (an hour, `Strict`).
pub fn new_sign_in_token(secure: bool) -> (String, String) {
    let token = ids::api_secret();
    let cookie = cookie::Cookie::build((COOKIE, format!("{SIGN_IN_PREFIX}{token}")))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/admin")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(3600))
        .build()
        .to_string();
    (token, cookie)
}

/// Most anonymous sessions kept; past it the least recently used are dropped.
pub const MAX_ANONYMOUS: u64 = 10_000;
/// A session's last use is written back at most this often (the idle limit is 30 minutes, so
/// a minute's lag does not matter, and reading a page costs no write).
const TOUCH_EVERY: i64 = 60 * 1000;

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Principal {
    /// Nobody yet: the sign-in form's session.
    Anonymous,
    /// A tenant admin, signed in with one of the tenant's API secrets.
    Tenant {
        /// The tenant.
        tenant_id: TenantId,
        /// The id (never the text) of the secret used; deleting it ends the session.
        secret_id: String,
    },
    /// The operator (the hub's admin token); acts on the tenant it opened, if any.
    Operator {
        /// The tenant whose pages the operator opened.
        acting_for: Option<TenantId>,
    },
}

/// A one-time message for the next page shown (after a redirect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn tenant(&self) -> Option<&TenantId> {
        match &self.principal {
            Principal::Tenant { tenant_id, .. } => Some(tenant_id),
            Principal::Operator { acting_for } => acting_for.as_ref(),
            Principal::Anonymous => None,
        }
    }
}

/// What the store keeps of a session besides its id and times.
#[derive(Serialize, Deserialize)]
struct Stored {
    csrf: String,
    principal: Principal,
    flash: Option<Flash>,
}

impl Session {
    fn record(&self) -> StoreResult<SessionRecord> {
        let doc = serde_json::to_string(&Stored {
            csrf: self.csrf.clone(),
            principal: self.principal.clone(),
            flash: self.flash.clone(),
        })?;
        Ok(SessionRecord {
            id: self.id.clone(),
            doc,
            anonymous: self.principal == Principal::Anonymous,
            created_at: self.created_at,
            seen_at: self.seen_at,
        })
    }

    fn from_record(r: SessionRecord) -> StoreResult<Session> {
        let stored: Stored = serde_json::from_str(&r.doc)?;
        Ok(Session {
            id: r.id,
            csrf: stored.csrf,
            principal: stored.principal,
            created_at: r.created_at,
            seen_at: r.seen_at,
            flash: stored.flash,
        })
    }
}

/// The sessions of one hub, in its store.
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    /// Failed sign-ins per client address.
    pub throttle: Throttle,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions kept in `store`.
    pub fn new(store: Arc<dyn SessionStore>) -> Sessions {
        Sessions {
            store,
            throttle: Throttle::default(),
        }
    }

    /// A new session for `principal`. Expired sessions go at the same time: starting one is
    /// rare enough (a sign-in, a first visit) to carry the clean-up.
    pub async fn start(&self, principal: Principal, now: i64) -> StoreResult<Session> {
        let s = Session {
            id: ids::api_secret(),
            csrf: ids::api_secret(),
            principal,
            created_at: now,
            seen_at: now,
            flash: None,
        };
        self.store
            .delete_expired_sessions(Millis(now - IDLE), Millis(now - LIFETIME))
            .await?;
        self.store.save_session(&s.record()?, MAX_ANONYMOUS).await?;
        Ok(s)
    }

    /// The live session with this id; an expired one is removed. With `used`, it counts as
    /// used now. A page's own background polling passes `false`, so a tab left open does not
    /// keep its session alive.
    pub async fn touch(&self, id: &str, now: i64, used: bool) -> StoreResult<Option<Session>> {
        let Some(record) = self.store.session(id).await? else {
            return Ok(None);
        };
        let mut s = Session::from_record(record)?;
        if s.expired(now) {
            self.store.delete_session(id).await?;
            return Ok(None);
        }
        if used && now - s.seen_at >= TOUCH_EVERY {
            self.store.touch_session(id, Millis(now)).await?;
            s.seen_at = now;
        }
        Ok(Some(s))
    }

    /// Ends a session.
    pub async fn end(&self, id: &str) -> StoreResult<()> {
        self.store.delete_session(id).await
    }

    /// Changes a live session.
    pub async fn update(&self, id: &str, f: impl FnOnce(&mut Session)) -> StoreResult<()> {
        if let Some(record) = self.store.session(id).await? {
            let mut s = Session::from_record(record)?;
            f(&mut s);
            self.store.save_session(&s.record()?, MAX_ANONYMOUS).await?;
        }
        Ok(())
    }

    /// Takes the one-time message of `session` (as the request's guard read it): shown once,
    /// so it is written back without it; a session without one costs no store call.
    pub async fn take_flash(&self, session: &Session) -> StoreResult<Option<Flash>> {
        let Some(flash) = session.flash.clone() else {
            return Ok(None);
        };
        let shown = Session {
            flash: None,
            ..session.clone()
        };
        self.store
            .save_session(&shown.record()?, MAX_ANONYMOUS)
            .await?;
        Ok(Some(flash))
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

    /// A store of its own in a temporary directory.
    async fn sessions() -> (Sessions, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("hub.db"))
            .await
            .expect("open a store");
        (Sessions::new(Arc::new(store)), dir)
    }

    #[tokio::test]
    async fn sessions_expire_when_idle_or_old() {
        let (s, _dir) = sessions().await;
        let a = s.start(Principal::Anonymous, 0).await.unwrap();
        assert!(s.touch(&a.id, IDLE, true).await.unwrap().is_some());
        assert!(
            s.touch(&a.id, 2 * IDLE + 1, true).await.unwrap().is_none(),
            "idle too long"
        );
        let b = s.start(Principal::Anonymous, 0).await.unwrap();
        let mut now = 0;
        while now + IDLE / 2 <= LIFETIME {
            now += IDLE / 2;
            assert!(s.touch(&b.id, now, true).await.unwrap().is_some());
        }
        assert!(
            s.touch(&b.id, LIFETIME + 1, true).await.unwrap().is_none(),
            "too old"
        );
        let c = s.start(Principal::Anonymous, 0).await.unwrap();
        s.end(&c.id).await.unwrap();
        assert!(s.touch(&c.id, 0, true).await.unwrap().is_none());
        let d = s.start(Principal::Anonymous, 0).await.unwrap();
        assert!(
            s.touch(&d.id, IDLE, false).await.unwrap().is_some(),
            "polled, not used"
        );
        assert!(
            s.touch(&d.id, IDLE + 1, false).await.unwrap().is_none(),
            "polling kept nothing alive"
        );
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, a.id);
    }

    #[tokio::test]
    async fn a_session_keeps_its_principal_and_one_time_message_in_the_store() {
        let (s, _dir) = sessions().await;
        let signed = s
            .start(
                Principal::Tenant {
                    tenant_id: "t".into(),
                    secret_id: "k".into(),
                },
                0,
            )
            .await
            .unwrap();
        s.update(&signed.id, |x| x.flash = Some(Flash::Done("saved".into())))
            .await
            .unwrap();
        let back = s.touch(&signed.id, 1, true).await.unwrap().unwrap();
        assert_eq!(back.principal, signed.principal);
        assert_eq!(back.csrf, signed.csrf);
        assert_eq!(
            s.take_flash(&back).await.unwrap(),
            Some(Flash::Done("saved".into()))
        );
        let again = s.touch(&signed.id, 2, true).await.unwrap().unwrap();
        assert_eq!(s.take_flash(&again).await.unwrap(), None, "shown once");
    }

    #[tokio::test]
    async fn anonymous_sessions_are_capped_and_signed_in_ones_are_not() {
        let (s, _dir) = sessions().await;
        let signed = s
            .start(Principal::Operator { acting_for: None }, 0)
            .await
            .unwrap();
        let first = s.start(Principal::Anonymous, 1).await.unwrap();
        // The cap is MAX_ANONYMOUS; a smaller one shows the rule without 10,000 rows.
        for i in 0..5 {
            let extra = Session {
                id: format!("anon-{i}"),
                csrf: "x".into(),
                principal: Principal::Anonymous,
                created_at: 2 + i,
                seen_at: 2 + i,
                flash: None,
            };
            s.store
                .save_session(&extra.record().unwrap(), 3)
                .await
                .unwrap();
        }
        assert!(
            s.touch(&first.id, 10, false).await.unwrap().is_none(),
            "the oldest anonymous session went"
        );
        assert!(s.touch("anon-4", 10, false).await.unwrap().is_some());
        assert!(s.touch("anon-1", 10, false).await.unwrap().is_none());
        assert!(
            s.touch(&signed.id, 10, false).await.unwrap().is_some(),
            "a signed-in session is never dropped for the cap"
        );
    }
}
