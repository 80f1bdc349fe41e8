//! [`Integration`]: the state machine of steps 1–4, driven by [`Integration::tick`] or
//! [`Integration::run`].
//!
//! ```text
//! no token ──create (UUID v4)──▶ pending ──PUT token until acknowledged──▶ connected
//! connected ──poll──▶ upload on SendNextCommentsPayload / SendComments
//!           ──────▶ apply events, then move the cursor
//!           ──────▶ SetSetupCompleted / SetSyncDone: poll daily instead of every few seconds
//! ```
//!
//! Every state change is saved through the [`StateStore`] before the next network call that
//! depends on it, so a crash at any point resumes without losing or corrupting anything: the
//! cursor moves only after a page's events were applied, the upload cursor only over batches
//! the hub accepted.

use crate::config::{Config, Protocol};
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFn};
use crate::sink::{Change, EventSink, SyncEvent};
use crate::source::CommentSource;
use crate::state::{Durability, IntegrationState, StateStore};
use crate::transport::HubClient;
use crate::upload::{BatchSender, UploadCtx};
use async_trait::async_trait;
use fastcomments_protocol::{
    codes, CommandKind, Millis, StreamCommand, UploadRequest, UploadResponse,
};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Where the integration stands after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The token waits for a tenant admin's acknowledgement.
    AwaitingAcknowledgement,
    /// Connected; the initial sync is not complete yet.
    Syncing,
    /// `SetSetupCompleted` / `SetSyncDone` arrived: only events remain, polled daily.
    SetupCompleted,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickOutcome {
    /// Where the integration stands now.
    pub phase: Phase,
    /// Comments uploaded in this tick.
    pub uploaded: u64,
    /// Events applied in this tick.
    pub events_applied: u64,
}

/// A running integration: configuration, the hub client, the host's three parts and the state.
pub struct Integration {
    config: Config,
    client: HubClient,
    store: Arc<dyn StateStore>,
    source: Arc<dyn CommentSource>,
    sink: Arc<dyn EventSink>,
    state: IntegrationState,
    progress: ProgressFn,
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration")
            .field("config", &self.config)
            .field("state", &self.state)
            .finish()
    }
}

struct TokenSender<'a> {
    client: &'a HubClient,
    token: &'a str,
}

#[async_trait]
impl BatchSender for TokenSender<'_> {
    async fn send(&self, request: &UploadRequest) -> Result<UploadResponse> {
        self.client.upload(self.token, request).await
    }
}

fn now_ms() -> i64 {
    Millis::now().0
}

impl Integration {
    /// Loads the saved state (or starts fresh) and prepares the hub client.
    pub async fn new(
        config: Config,
        store: Arc<dyn StateStore>,
        source: Arc<dyn CommentSource>,
        sink: Arc<dyn EventSink>,
    ) -> Result<Integration> {
        let client = HubClient::new(&config.hub_url, config.retry.clone())?;
        let state = store
            .load()
            .await
            .map_err(Error::State)?
            .unwrap_or_default();
        Ok(Integration {
            config,
            client,
            store,
            source,
            sink,
            state,
            progress: Arc::new(|_| {}),
        })
    }

    /// Reports progress to `f` (also each HTTP retry).
    pub fn with_progress(mut self, f: ProgressFn) -> Integration {
        let hook = f.clone();
        self.client = self.client.on_retry(Arc::new(move |attempt, delay, why| {
            hook(&Progress::Retrying {
                attempt,
                delay,
                reason: why.to_owned(),
            })
        }));
        self.progress = f;
        self
    }

    /// The state as last saved (or about to be).
    pub fn state(&self) -> &IntegrationState {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The page a tenant admin opens to acknowledge this integration (once a token exists).
    pub fn setup_url(&self) -> Option<String> {
        self.state
            .token
            .as_deref()
            .map(|t| self.client.setup_url(t))
    }

    /// Where the integration stands.
    pub fn phase(&self) -> Phase {
        if self.state.tenant_id.is_none() {
            Phase::AwaitingAcknowledgement
        } else if self.state.setup_completed {
            Phase::SetupCompleted
        } else {
            Phase::Syncing
        }
    }

    async fn save(&self, durability: Durability) -> Result<()> {
        self.store
            .save(&self.state, durability)
            .await
            .map_err(Error::State)
    }

    fn report(&self, p: Progress) {
        (self.progress)(&p);
    }

    /// Creates the token if there is none yet, and saves it durably.
    pub async fn ensure_token(&mut self) -> Result<String> {
        if let Some(t) = &self.state.token {
            return Ok(t.clone());
        }
        // UUID v4: 122 random bits from the OS CSPRNG.
        let token = uuid::Uuid::new_v4().to_string();
        self.state.token = Some(token.clone());
        self.save(Durability::Durable).await?;
        Ok(token)
    }

    /// Starts over with a new token (after [`Error::TokenRevoked`], or to connect to another
    /// tenant): the state is reset and saved; the next tick registers a fresh token. The
    /// host's comments and mirrored events are left as they are.
    pub async fn forget_token(&mut self) -> Result<()> {
        self.state = IntegrationState::default();
        self.save(Durability::Durable).await
    }

    /// Step 1: `PUT token`. Returns whether the token is acknowledged.
    async fn validate(&mut self, token: &str) -> Result<bool> {
        let r = self
            .client
            .register_token(
                token,
                self.config.integration_type.as_deref(),
                self.config.domain.as_deref(),
            )
            .await?;
        match (r.is_token_validated, r.tenant_id) {
            (true, Some(tenant)) => {
                self.state.tenant_id = Some(tenant.clone());
                self.save(Durability::Durable).await?;
                self.report(Progress::Connected { tenant_id: tenant });
                Ok(true)
            }
            _ => {
                self.report(Progress::AwaitingAcknowledgement {
                    setup_url: self.client.setup_url(token),
                });
                Ok(false)
            }
        }
    }

    /// One round of the state machine: register or validate the token, then (once connected)
    /// poll, upload what the hub asks for and apply every event up to the hub's present.
    /// For hosts with their own scheduler; [`Integration::run`] calls it on a cadence.
    pub async fn tick(&mut self) -> Result<TickOutcome> {
        let token = self.ensure_token().await?;
        let mut outcome = TickOutcome {
            phase: Phase::AwaitingAcknowledgement,
            uploaded: 0,
            events_applied: 0,
        };
        if self.state.tenant_id.is_none() && !self.validate(&token).await? {
            return Ok(outcome);
        }
        let polled = match self.config.protocol {
            Protocol::Stream => self.poll_stream(&token, &mut outcome).await,
            Protocol::Commands => self.poll_commands(&token, &mut outcome).await,
        };
        match polled {
            Ok(()) => {}
            Err(Error::Hub {
                status: 401, code, ..
            }) if code == codes::UNKNOWN_TOKEN || code == codes::TOKEN_NOT_VALIDATED => {
                // The hub no longer accepts the token: register it again. A hub that forgot it
                // entirely (e.g. restored from a backup) has no timeline our cursor points
                // into: start over from the beginning (applying and uploading are idempotent).
                tracing::warn!(%code, "the hub no longer accepts the token; registering it again");
                if code == codes::UNKNOWN_TOKEN {
                    self.state = IntegrationState {
                        token: Some(token.clone()),
                        ..IntegrationState::default()
                    };
                } else {
                    self.state.tenant_id = None;
                }
                self.save(Durability::Durable).await?;
                self.validate(&token).await?;
            }
            Err(e) => return Err(e),
        }
        if self.state.resync_pending {
            self.resync(&token).await?;
        }
        outcome.phase = self.phase();
        Ok(outcome)
    }

    /// Uploads on the hub's request; restarts from the first comment when the hub asks again
    /// for an upload we had finished (a tenant admin asked for a re-sync).
    async fn upload(&mut self, token: &str, max_batch: usize) -> Result<u64> {
        if self.state.upload.finished {
            tracing::info!("the hub asks for the upload again: starting over");
            self.state.upload = Default::default();
            self.save(Durability::Durable).await?;
        }
        let sender = TokenSender {
            client: &self.client,
            token,
        };
        let progress = self.progress.clone();
        let ctx = UploadCtx {
            sender: &sender,
            source: self.source.as_ref(),
            sink: self.sink.as_ref(),
            store: self.store.as_ref(),
            progress: progress.as_ref(),
            concurrency: self.config.upload_concurrency,
        };
        ctx.upload_all(
            &mut self.state,
            max_batch.clamp(1, self.config.max_batch.max(1)),
        )
        .await
    }

    /// Applies a page: de-duplicates, hands the rest to the sink, then moves the cursor.
    async fn apply_page(&mut self, events: Vec<SyncEvent>, cursor: i64) -> Result<u64> {
        let now = now_ms();
        let fresh: Vec<SyncEvent> = events
            .into_iter()
            .filter(|e| !self.state.seen.contains(&e.id))
            .collect();
        if !fresh.is_empty() {
            self.sink.apply_page(&fresh).await.map_err(Error::Sink)?;
        }
        for e in &fresh {
            self.state.seen.insert(&e.id, now);
        }
        self.state.seen.prune(
            now,
            self.config.dedup_ttl.as_millis() as i64,
            self.config.dedup_capacity,
        );
        let moved = cursor > self.state.cursor;
        self.state.cursor = self.state.cursor.max(cursor);
        if moved || !fresh.is_empty() {
            self.save(Durability::Progress).await?;
        }
        let n = fresh.len() as u64;
        self.report(Progress::EventsApplied {
            applied: n,
            cursor: self.state.cursor,
        });
        Ok(n)
    }

    async fn mark_setup_completed(&mut self) -> Result<()> {
        if !self.state.setup_completed {
            self.state.setup_completed = true;
            self.save(Durability::Durable).await?;
            self.report(Progress::SetupCompleted);
        }
        Ok(())
    }

    async fn note_gap(&mut self) -> Result<()> {
        if !self.state.resync_pending {
            self.report(Progress::GapDetected {
                cursor: self.state.cursor,
            });
            self.state.resync_pending = true;
            self.save(Durability::Durable).await?;
        }
        Ok(())
    }

    /// Generation A: `GET /stream` until `hasMore` is false. While a page is applied, the
    /// next one is already being fetched (its cursor is known from `nextFetchDate`); the saved
    /// cursor still only moves after the page was applied.
    async fn poll_stream(&mut self, token: &str, out: &mut TickOutcome) -> Result<()> {
        let client = self.client.clone();
        let mut uploaded_now = false;
        let mut page = client.stream(token, self.state.cursor).await?;
        loop {
            if page.gap_detected {
                self.note_gap().await?;
            }
            let mut setup_done = false;
            let mut upload_again = false;
            for cmd in &page.commands {
                match cmd {
                    StreamCommand::SendNextCommentsPayload { count, .. } => {
                        if !uploaded_now {
                            out.uploaded += self.upload(token, *count as usize).await?;
                            uploaded_now = true;
                            upload_again = true;
                        }
                    }
                    StreamCommand::SetSetupCompleted { .. } => setup_done = true,
                }
            }
            let events: Vec<SyncEvent> = page
                .events
                .into_iter()
                .filter_map(|e| {
                    let change = Change::from_parts(e.event_type, e.comment, e.vote)?;
                    Some(SyncEvent {
                        id: e.id,
                        created_at: e.created_at,
                        url_id: e.url_id,
                        change,
                    })
                })
                .collect();
            let cursor = page.next_fetch_date;
            // A hub that says "more" without moving the cursor would loop us forever.
            let more = page.has_more && cursor > self.state.cursor;
            let next = if more && !upload_again {
                let (applied, next) = tokio::join!(
                    self.apply_page(events, cursor),
                    client.stream(token, cursor)
                );
                out.events_applied += applied?;
                Some(next)
            } else {
                out.events_applied += self.apply_page(events, cursor).await?;
                None
            };
            if setup_done {
                self.mark_setup_completed().await?;
            }
            page = match next {
                Some(next) => next?,
                // After an upload the hub writes SetSetupCompleted: poll once more to receive it.
                None if upload_again => client.stream(token, self.state.cursor).await?,
                None => {
                    self.report(Progress::CaughtUp {
                        cursor: self.state.cursor,
                    });
                    return Ok(());
                }
            };
        }
    }

    /// Generation B: `GET /commands`, then `POST /comments` and `GET /events` as told.
    async fn poll_commands(&mut self, token: &str, out: &mut TickOutcome) -> Result<()> {
        let mut uploaded_now = false;
        for _ in 0..3 {
            let cmds = self.client.commands(token, self.state.cursor).await?;
            let wants = |k: CommandKind| cmds.commands.iter().any(|c| c.command == k);
            let mut again = false;
            if wants(CommandKind::SendComments) && !uploaded_now {
                out.uploaded += self.upload(token, self.config.max_batch).await?;
                uploaded_now = true;
                again = true;
            }
            if wants(CommandKind::SetSyncDone) {
                self.mark_setup_completed().await?;
            }
            if wants(CommandKind::FetchEvents) {
                out.events_applied += self.fetch_events(token).await?;
            }
            if !again {
                break;
            }
        }
        self.report(Progress::CaughtUp {
            cursor: self.state.cursor,
        });
        Ok(())
    }

    /// `GET /events` pages until `hasMore` is false, fetching the next page while the current
    /// one is applied.
    async fn fetch_events(&mut self, token: &str) -> Result<u64> {
        let client = self.client.clone();
        let mut applied = 0;
        let mut page = client.events(token, self.state.cursor).await?;
        loop {
            if page.gap_detected {
                self.note_gap().await?;
            }
            let mut last = self.state.cursor;
            let mut events = Vec::with_capacity(page.events.len());
            for e in &page.events {
                last = last.max(e.created_at.0);
                match e.decode() {
                    Ok(d) => {
                        if let Some(change) = Change::from_parts(d.event_type, d.comment, d.vote) {
                            events.push(SyncEvent {
                                id: e.id.clone(),
                                created_at: e.created_at,
                                url_id: e.url_id.clone(),
                                change,
                            });
                        }
                    }
                    Err(err) => {
                        tracing::warn!(id = %e.id, error = %err, "skipping an event whose data does not parse")
                    }
                }
            }
            if !page.has_more || page.events.is_empty() {
                applied += self.apply_page(events, last).await?;
                return Ok(applied);
            }
            let (n, next) = tokio::join!(self.apply_page(events, last), client.events(token, last));
            applied += n?;
            page = next?;
        }
    }

    /// After a gap: the events since the oldest kept entry were applied (the cursor is at the
    /// hub's present); now download every comment the hub has, apply each as it is, and let
    /// the sink drop the comments deleted during the gap.
    async fn resync(&mut self, token: &str) -> Result<()> {
        let as_of = Millis(self.state.cursor);
        let mut present = HashSet::new();
        let mut skip = 0u64;
        loop {
            let page = self.client.download(token, skip).await?;
            skip += page.comments.len() as u64;
            present.extend(page.comments.iter().map(|c| c.id.clone()));
            self.sink
                .resync_page(&page.comments, as_of)
                .await
                .map_err(Error::Sink)?;
            if !page.has_more || page.comments.is_empty() {
                break;
            }
        }
        self.sink
            .resync_finished(&present)
            .await
            .map_err(Error::Sink)?;
        self.state.resync_pending = false;
        self.save(Durability::Durable).await?;
        self.report(Progress::Resynced {
            comments: present.len() as u64,
        });
        Ok(())
    }

    /// Ticks until `shutdown` resolves: every `setup_poll_interval` until setup completes, then
    /// every `idle_poll_interval`. A failed tick is retried with backoff; fatal errors
    /// ([`Error::is_fatal`]) end the loop.
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            let result = tokio::select! {
                r = self.tick() => r,
                _ = &mut shutdown => return Ok(()),
            };
            let wait = match result {
                Ok(o) => {
                    failures = 0;
                    match o.phase {
                        Phase::SetupCompleted => self.config.idle_poll_interval,
                        _ => self.config.setup_poll_interval,
                    }
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    failures += 1;
                    let wait = crate::backoff::delay(
                        failures,
                        self.config.retry.base_delay.max(Duration::from_millis(100)),
                        self.config.setup_poll_interval.max(Duration::from_secs(60)),
                    );
                    tracing::warn!(error = %e, ?wait, "tick failed");
                    self.report(Progress::TickFailed {
                        error: e.to_string(),
                        retry_in: wait,
                    });
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown => return Ok(()),
            }
        }
    }
}
