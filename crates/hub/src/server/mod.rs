//! Running the hub: open the store, bind, serve until told to stop, then drain.

use crate::clock::{Clock, SystemClock};
use crate::config::HubConfig;
use crate::hub::Hub;
use crate::store::postgres::{PostgresStore, DEFAULT_STORE_TIMEOUT};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};
use crate::{api, pages};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod accept;

/// Every route of the hub: the API and the admin pages side by side (neither mounts the
/// other), under the layers every answer goes through.
pub fn router(hub: Arc<Hub>) -> axum::Router {
    let routes = api::routes().nest(pages::BASE, pages::router(hub.clone()));
    api::layers(routes, hub)
}

/// Opens the store a `--database-url` names: `sqlite://path`, or `postgres://…` for a
/// database several hub nodes share; none means `hub.db` in `data_dir`.
pub async fn open_store(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    open_store_within(database_url, data_dir, DEFAULT_STORE_TIMEOUT).await
}

/// [`open_store`], with `timeout` as the longest a request waits for PostgreSQL to give it a
/// connection (see [`PostgresStore::connect_within`]). SQLite is a file beside the hub and has
/// no such wait.
pub async fn open_store_within(
    database_url: Option<&str>,
    data_dir: &Path,
    timeout: Duration,
) -> Result<Arc<dyn Store>, StoreError> {
    match database_url {
        None => Ok(Arc::new(SqliteStore::open(&data_dir.join("hub.db")).await?)),
        Some(url) if url.starts_with("sqlite:") => Ok(Arc::new(SqliteStore::open_url(url).await?)),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect_within(url, timeout).await?))
        }
        Some(other) => Err(StoreError::Invalid(format!(
            "unsupported database URL {other:?}: expected sqlite://PATH or postgres://…"
        ))),
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped_signal(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// A hub serving on a socket.
pub struct RunningHub {
    /// The address it listens on (the real port when bound to port 0).
    pub addr: SocketAddr,
    /// The shared state (tests reach the store and clock through it).
    pub hub: Arc<Hub>,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    maintenance: JoinHandle<()>,
    dispatcher: JoinHandle<()>,
}

impl RunningHub {
    /// Serves `hub` on `listener` until [`RunningHub::shutdown`] or `signal` completes.
    pub fn start(
        hub: Arc<Hub>,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<RunningHub> {
        hub.claim_store_for_serving()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let app = router(hub.clone());
        let gate = accept::Gate::new(hub.config.connections.clone());
        let mut stopped_for_signal = stopped.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                tokio::select! {
                    _ = signal => {}
                    _ = stopped_signal(&mut stopped_for_signal) => {}
                }
            };
            // The peer address (`ConnectInfo`) feeds the rate limits and the sign-in throttle.
            accept::serve(listener, app, gate, shutdown).await
        });
        let senders = crate::delivery::Senders::new(hub.config.webhook_timeout)
            .map_err(std::io::Error::other)?;
        let dispatcher = crate::delivery::spawn(hub.clone(), senders, stopped.clone());
        let notice_hub = hub.clone();
        let notice_stop = stopped.clone();
        tokio::spawn(async move { notice_hub.follow_notices(notice_stop).await });
        let maint_hub = hub.clone();
        let maintenance = tokio::spawn(async move {
            let mut tick = tokio::time::interval(maint_hub.config.maintenance_interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = maint_hub.run_maintenance().await {
                            tracing::warn!(error = %e, "maintenance failed; will retry");
                        }
                    }
                    _ = stopped_signal(&mut stopped) => break,
                }
            }
        });
        Ok(RunningHub {
            addr,
            hub,
            stop,
            task,
            maintenance,
            dispatcher,
        })
    }

    /// Binds `addr` and serves a hub over `store` with the system clock.
    pub async fn bind(
        addr: &str,
        store: Arc<dyn Store>,
        config: HubConfig,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<RunningHub> {
        Self::bind_with_clock(addr, store, Arc::new(SystemClock), config, signal).await
    }

    /// As [`RunningHub::bind`], with a clock of the caller's (tests).
    pub async fn bind_with_clock(
        addr: &str,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: HubConfig,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<RunningHub> {
        let listener = TcpListener::bind(addr).await?;
        RunningHub::start(Arc::new(Hub::new(store, clock, config)), listener, signal)
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server stopped (after its signal fired).
    pub async fn wait(self) -> std::io::Result<()> {
        let result = match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        let _ = self.stop.send(true);
        let _ = self.maintenance.await;
        // In-flight deliveries finish (bounded by the webhook timeout) and are recorded; the
        // rest stay queued in the store for the next start.
        let _ = self.dispatcher.await;
        result
    }
}
