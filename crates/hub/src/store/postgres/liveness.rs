//! A bound on every store call while PostgreSQL stops answering (issue 23 §4).
//!
//! The pool's acquire timeout covers a server that is gone: its connections break, new ones are
//! refused, and a request waits for a connection at most `--store-timeout-ms`. It does not cover
//! a server that stops answering with its connections open (a frozen process, a network that
//! drops packets silently): a statement already sent waits until the connection breaks, which
//! may be many minutes, and so does every request behind it. sqlx has no bound per statement,
//! and a bound per request would cut a slow client's upload or an import's body.
//!
//! So every trait method runs in [`bounded`]: once it has waited half the store timeout, the
//! server is asked whether it answers at all, on a connection of its own (`SELECT 1`, within
//! the other half). A server that answers is left to finish the call, however long it takes
//! (a whole thread moved, a large page): a slow statement on a live database is not a fault. A
//! server that does not is a fault: the call ends `Unavailable` (`503` with `Retry-After`), a
//! store timeout or so after it began. Dropping the call ends its transaction without a commit,
//! unless the COMMIT itself was on its way, which `503` allows (it never says "stored"). Probes
//! are made one at a time; calls that asked while one ran take its answer. A "no" makes the
//! calls of the next half timeout fail at once instead of each waiting to find out again.

use crate::store::{FaultKind, StoreError, StoreResult};
use parking_lot::Mutex;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use std::future::Future;
use std::time::{Duration, Instant};

/// Whether the server answers, asked by calls that waited half the store timeout.
#[derive(Debug)]
pub(super) struct Liveness {
    options: PgConnectOptions,
    /// The store timeout: a call that waits half of it makes the server be asked, and the
    /// question gets the other half.
    timeout: Duration,
    /// The last answer and when it came.
    last: Mutex<Option<(Instant, bool)>>,
    /// Held while a probe runs, so that concurrent calls wait for its answer.
    probing: tokio::sync::Mutex<()>,
}

impl Liveness {
    pub(super) fn new(options: PgConnectOptions, timeout: Duration) -> Liveness {
        Liveness {
            options,
            timeout,
            last: Mutex::new(None),
            probing: tokio::sync::Mutex::new(()),
        }
    }

    fn half(&self) -> Duration {
        (self.timeout / 2).max(Duration::from_millis(1))
    }

    /// The last answer, while it is fresh.
    fn recent(&self) -> Option<bool> {
        let half = self.half();
        self.last
            .lock()
            .filter(|(at, _)| at.elapsed() < half)
            .map(|(_, alive)| alive)
    }

    /// Whether the server answers a fresh connection's `SELECT 1` within half the timeout.
    /// Asked now: an answer from before is not taken (the server may have stopped since, and
    /// a call would then wait half a timeout more), but one that came while this call waited
    /// for its turn is.
    pub(super) async fn answers(&self) -> bool {
        let asked = Instant::now();
        let _one = self.probing.lock().await;
        if let Some((at, alive)) = *self.last.lock() {
            if at >= asked {
                return alive;
            }
        }
        let probe = async {
            let mut conn = PgConnection::connect_with(&self.options).await?;
            conn.ping().await?;
            conn.close().await
        };
        let alive = matches!(tokio::time::timeout(self.half(), probe).await, Ok(Ok(())));
        *self.last.lock() = Some((Instant::now(), alive));
        alive
    }

    /// Runs `call` to its end while the server answers; ends it `Unavailable` once the server
    /// does not (see the module's doc).
    pub(super) async fn bounded<T>(
        &self,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        // While a fresh answer says the server is not there, calls fail at once instead of each
        // waiting to find out again.
        if self.recent() == Some(false) {
            return Err(self.fault());
        }
        let mut call = std::pin::pin!(call);
        loop {
            if let Ok(done) = tokio::time::timeout(self.half(), &mut call).await {
                return done;
            }
            tokio::select! {
                done = &mut call => return done,
                alive = self.answers() => if !alive {
                    return Err(self.fault());
                },
            }
        }
    }

    fn fault(&self) -> StoreError {
        StoreError::unavailable(
            FaultKind::Unreachable,
            format!(
                "PostgreSQL did not answer within {} ms",
                self.timeout.as_millis()
            ),
        )
    }
}
