//! The dispatcher loop: claims due deliveries, runs their attempts, records the outcomes and
//! schedules retries (SPEC §2.2).
//!
//! In-flight attempts are limited four ways: `webhook_concurrency` for the whole hub, and
//! `webhook_per_host_concurrency` / `webhook_per_tenant_concurrency` /
//! `webhook_per_subscription_concurrency` per target host (`host:port`), per tenant and per
//! subscription. A receiver that accepts connections and never answers holds at most its
//! host's (and its subscription's) few slots until the attempt timeout, and a tenant with many
//! such hosts at most its tenant's share; everybody else's deliveries keep flowing, and one
//! tenant's other subscriptions keep most of its share. The outbox query is told which hosts,
//! tenants and subscriptions are full and gives a few rows per host, so it hands back work
//! that can start now and is not slowed by a stuck host's backlog.

use super::held::Held;
use super::sender::{send_once, Outgoing, Senders};
use crate::hub::Hub;
use crate::ids::TenantId;
use crate::records::{AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, DueQuery};
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use std::borrow::{Borrow, Cow};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinHandle};

/// What an attempt means for its delivery: done, failed for good, or retried after
/// `base × attempt` stretched by `Retry-After` and jittered ([`super::schedule`], SPEC §2.2).
pub fn outcome_of(
    hub: &Hub,
    delivery: &Delivery,
    sent: &super::Sent,
    attempt: DeliveryAttempt,
) -> AttemptOutcome {
    let max = if delivery.max_attempts > 0 {
        delivery.max_attempts
    } else {
        hub.config.webhook_max_attempts
    };
    let n = attempt.attempt;
    let now = hub.now().0;
    let status = match sent {
        s if s.is_success() => DeliveryStatus::Succeeded,
        super::Sent::Fatal(_) => DeliveryStatus::Failed,
        // The receiver unsubscribed (see `Hub::receiver_gone`).
        super::Sent::Answered { status: 410, .. } => DeliveryStatus::Failed,
        _ if n >= max => DeliveryStatus::Failed,
        _ => DeliveryStatus::Retrying,
    };
    let retry_after = match sent {
        super::Sent::Answered { retry_after, .. } => *retry_after,
        _ => None,
    };
    let delay = super::schedule::retry_delay(
        hub.config.webhook_retry_base,
        n,
        max,
        retry_after,
        super::schedule::jitter_seed(),
    );
    let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    AttemptOutcome {
        attempt,
        status,
        next_attempt_at: if status == DeliveryStatus::Retrying {
            now.saturating_add(delay)
        } else {
            now
        },
    }
}

/// The attempts running now, counted per host, per tenant and per subscription.
#[derive(Debug, Default)]
struct InFlight {
    /// Delivery id → (host, tenant, subscription; empty for the per-domain configurations).
    ids: HashMap<String, Keys>,
    hosts: HashMap<String, usize>,
    tenants: HashMap<TenantId, usize>,
    subscriptions: HashMap<String, usize>,
}

/// What an attempt in flight counts against.
#[derive(Debug, Clone)]
struct Keys {
    host: String,
    tenant: TenantId,
    subscription: String,
}

impl Keys {
    fn of(d: &Delivery) -> Keys {
        Keys {
            host: host_of(d).into_owned(),
            tenant: d.tenant_id.clone(),
            subscription: d.subscription_id.clone(),
        }
    }
}

/// The in-flight limits.
#[derive(Debug, Clone, Copy)]
struct Limits {
    per_host: usize,
    per_tenant: usize,
    per_subscription: usize,
}

impl Limits {
    /// The most one claim gives a host: two limits' worth (see [`claim`]).
    fn share(self) -> usize {
        2 * self.per_host
    }
}

/// Hosts, tenants and subscriptions with no free slot.
#[derive(Debug, Clone, Default)]
struct Full {
    hosts: Vec<String>,
    tenants: Vec<TenantId>,
    subscriptions: Vec<String>,
}

impl Full {
    /// Whether everything `earlier` left out is left out still: a claim now would find no
    /// more than one made then (new work aside, which wakes the loop).
    fn covers(&self, earlier: &Full) -> bool {
        earlier.hosts.iter().all(|h| self.hosts.contains(h))
            && earlier.tenants.iter().all(|t| self.tenants.contains(t))
            && earlier
                .subscriptions
                .iter()
                .all(|s| self.subscriptions.contains(s))
    }
}

impl InFlight {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn has_room(&self, d: &Delivery, l: Limits) -> bool {
        running(&self.hosts, host_of(d).as_ref()) < l.per_host
            && running(&self.tenants, &d.tenant_id) < l.per_tenant
            // The per-domain configurations are one stream of the tenant, not a subscription.
            && (d.subscription_id.is_empty()
                || running(&self.subscriptions, d.subscription_id.as_str()) < l.per_subscription)
    }

    /// Counts `d` in flight if its host, tenant and subscription have room and the pool has
    /// a free slot; whether it did.
    ///
    /// The keys are copied only for one that fits: each turn of the loop asks this of every
    /// delivery held, and most wait.
    fn take_room(&mut self, d: &Delivery, l: Limits, concurrency: usize) -> bool {
        let fits = self.len() < concurrency && self.has_room(d, l);
        if fits {
            self.add(&d.id, Keys::of(d));
        }
        fits
    }

    fn add(&mut self, id: &str, k: Keys) {
        *self.hosts.entry(k.host.clone()).or_default() += 1;
        *self.tenants.entry(k.tenant.clone()).or_default() += 1;
        if !k.subscription.is_empty() {
            *self
                .subscriptions
                .entry(k.subscription.clone())
                .or_default() += 1;
        }
        self.ids.insert(id.to_owned(), k);
    }

    /// Ends the attempt of `id`; what it counted against.
    fn remove(&mut self, id: &str) -> Option<Keys> {
        let k = self.ids.remove(id)?;
        release(&mut self.hosts, &k.host);
        release(&mut self.tenants, &k.tenant);
        release(&mut self.subscriptions, &k.subscription);
        Some(k)
    }

    /// What a claim leaves out: the hosts, tenants and subscriptions whose attempts running
    /// and deliveries held (claimed, waiting for a slot) reach twice their limit, or three
    /// times for a [`Quick`] one. Work is claimed ahead: a slot that frees takes a held
    /// delivery at once, while the next claim is still on its way (on PostgreSQL a claim takes
    /// a few ms, about what a fast receiver takes to answer a host's share of attempts: with
    /// one limit ahead, a node's slots to one fast receiver ran empty while it waited, and it
    /// sent 8–10 % more with twice the limit, `nodes_delivery --per-host 64`). A key under its
    /// mark may get up to two limits' worth in one claim (see [`claim`]), so it may hold more
    /// a moment. A [`Slow`] one gets nothing ahead: it is left out once it holds its limit.
    fn full(&self, held: &Held, l: Limits, slow: &Slow, quick: &Quick) -> Full {
        let mut both = InFlight::default();
        for (id, k) in &self.ids {
            both.add(id, k.clone());
        }
        for d in held.items() {
            both.add(&d.id, Keys::of(d));
        }
        let mut full = Full {
            hosts: past_mark(&both.hosts, l.per_host, &quick.hosts),
            tenants: past_mark(&both.tenants, l.per_tenant, &quick.tenants),
            subscriptions: past_mark(
                &both.subscriptions,
                l.per_subscription,
                &quick.subscriptions,
            ),
        };
        add_slow(&mut full.hosts, &slow.hosts, &both.hosts, l.per_host);
        add_slow(
            &mut full.tenants,
            &slow.tenants,
            &both.tenants,
            l.per_tenant,
        );
        add_slow(
            &mut full.subscriptions,
            &slow.subscriptions,
            &both.subscriptions,
            l.per_subscription,
        );
        full
    }
}

/// The hosts, tenants and subscriptions a held delivery waited the whole hold bound for, with
/// no slot free: slow (a receiver that never answers keeps its slots until the attempt
/// timeout). Claimed ahead, its work was held that bound, given back and claimed again at
/// once, a claim and a write each second for nothing while it hung; now nothing is claimed
/// ahead for it ([`InFlight::full`]) until one of its attempts succeeds.
#[derive(Debug, Default)]
struct Slow {
    hosts: HashSet<String>,
    tenants: HashSet<TenantId>,
    subscriptions: HashSet<String>,
}

impl Slow {
    /// `expired` waited the whole bound: each of its keys that has no free slot is slow. A key
    /// with nothing running is forgotten (so the set stays as small as what runs): when its
    /// attempts' slots all free, its held work starts, and it is found slow again if it waits.
    fn note(&mut self, expired: &[Delivery], in_flight: &InFlight, l: Limits) {
        self.hosts.retain(|k| in_flight.hosts.contains_key(k));
        self.tenants.retain(|k| in_flight.tenants.contains_key(k));
        self.subscriptions
            .retain(|k| in_flight.subscriptions.contains_key(k));
        for d in expired {
            let k = Keys::of(d);
            if running(&in_flight.hosts, &k.host) >= l.per_host {
                self.hosts.insert(k.host.clone());
            }
            if running(&in_flight.tenants, &k.tenant) >= l.per_tenant {
                self.tenants.insert(k.tenant.clone());
            }
            if !k.subscription.is_empty()
                && running(&in_flight.subscriptions, &k.subscription) >= l.per_subscription
            {
                self.subscriptions.insert(k.subscription);
            }
        }
    }

    /// An attempt counted against `k` succeeded: its keys answer.
    fn answered(&mut self, k: &Keys) {
        self.hosts.remove(&k.host);
        self.tenants.remove(&k.tenant);
        self.subscriptions.remove(&k.subscription);
    }
}

/// The hosts, tenants and subscriptions whose last attempt was answered within a tenth of the
/// hold bound: each of their slots frees at least ten times within the bound, so two limits
/// held ahead start well before it ends, and a claim's round trip never leaves their slots
/// empty. A receiver taking about a second an attempt is never quick: what it cannot start
/// within the bound would be given back and claimed again, a claim and a write each second.
/// Each is kept with when it last answered, and forgotten a bound after that (so the maps stay
/// as small as what answers), not when its attempts stop running: a fast receiver's slots all
/// free at once, between two of the loop's turns, and a key forgotten then was claimed for
/// one limit ahead until its next answer, most of the time (one node drained at the same rate
/// as with no quick keys at all, eight rounds, against 1.11x held three limits ahead always).
#[derive(Debug, Default)]
struct Quick {
    hosts: HashMap<String, Instant>,
    tenants: HashMap<TenantId, Instant>,
    subscriptions: HashMap<String, Instant>,
}

impl Quick {
    /// The attempt counted against `k` was answered after `took`, at `now`.
    fn answered(&mut self, k: &Keys, took: Duration, bound: Duration, now: Instant) {
        let quick = took.saturating_mul(10) <= bound;
        note_answer(&mut self.hosts, &k.host, quick, now);
        note_answer(&mut self.tenants, &k.tenant, quick, now);
        if !k.subscription.is_empty() {
            note_answer(&mut self.subscriptions, &k.subscription, quick, now);
        }
    }

    /// Forgets the keys whose last quick answer came before `since`.
    fn forget_before(&mut self, since: Instant) {
        self.hosts.retain(|_, at| *at >= since);
        self.tenants.retain(|_, at| *at >= since);
        self.subscriptions.retain(|_, at| *at >= since);
    }
}

/// Keeps `k` in `quick` with the instant of its answer when it was quick, drops it otherwise.
fn note_answer<K: Clone + Hash + Eq>(
    quick: &mut HashMap<K, Instant>,
    k: &K,
    was_quick: bool,
    now: Instant,
) {
    if !was_quick {
        quick.remove(k);
    } else if let Some(at) = quick.get_mut(k) {
        *at = now;
    } else {
        quick.insert(k.clone(), now);
    }
}

/// The keys of `counts` at or past their mark: twice `limit`, three times for a quick one.
fn past_mark<K: Clone + Hash + Eq>(
    counts: &HashMap<K, usize>,
    limit: usize,
    quick: &HashMap<K, Instant>,
) -> Vec<K> {
    counts
        .iter()
        .filter(|(k, n)| **n >= limit * if quick.contains_key(*k) { 3 } else { 2 })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Adds to `full` each of `slow` that holds `limit` or more (`counts`).
fn add_slow<K: Clone + Hash + Eq>(
    full: &mut Vec<K>,
    slow: &HashSet<K>,
    counts: &HashMap<K, usize>,
    limit: usize,
) {
    for k in slow {
        if running(counts, k) >= limit && !full.contains(k) {
            full.push(k.clone());
        }
    }
}

/// How many attempts run for `key`.
fn running<K, Q>(counts: &HashMap<K, usize>, key: &Q) -> usize
where
    K: Borrow<Q> + Hash + Eq,
    Q: Hash + Eq + ?Sized,
{
    counts.get(key).copied().unwrap_or(0)
}

/// One attempt for `key` ended; a key with none left is dropped.
fn release<K: Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// The keys with `limit` attempts or more running.
fn at_limit<K: Clone>(counts: &HashMap<K, usize>, limit: usize) -> Vec<K> {
    counts
        .iter()
        .filter(|(_, n)| **n >= limit)
        .map(|(k, _)| k.clone())
        .collect()
}

/// The host key a delivery is limited by: the stored one, or for rows queued before that
/// column existed, the one its URL gives.
fn host_of(d: &Delivery) -> Cow<'_, str> {
    if d.target_host.is_empty() {
        Cow::Owned(crate::records::target_host(&d.url))
    } else {
        Cow::Borrowed(&d.target_host)
    }
}

/// Starts the dispatcher; it stops (after finishing what is in flight) when `stop` turns true.
pub fn spawn(hub: Arc<Hub>, senders: Senders, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(hub, senders, stop))
}

/// How long a finished attempt may wait for others to share its log write or its refill.
const LINGER: Duration = Duration::from_millis(2);

/// How long a claim that stopped short of its limit spares the store the next ones (see
/// `found_all` in [`run`]).
const FOUND_ALL_FOR: Duration = Duration::from_secs(1);

/// What woke the loop.
enum Event {
    Wake,
    Done(AttemptOutcome),
    Claimed(Result<Claimed, JoinError>),
    Recorded(
        Vec<String>,
        Result<(Vec<AttemptOutcome>, StoreResult<bool>), JoinError>,
    ),
    Due,
    Linger,
    Stop(bool),
}

/// A claim being made by a task of its own: while the store answers, finished attempts
/// free their slots and held deliveries start, instead of the whole loop waiting a round
/// trip (on PostgreSQL a claim takes a few ms, and a loop that waited for each one sent
/// about one claim's rows per claim's time).
type Claiming = JoinHandle<Claimed>;

/// A claim's answer, with what it left out and the most it could hand out.
type Claimed = (Full, usize, StoreResult<Vec<Delivery>>);

/// Attempt logs being written by a task of their own, so that sending goes on meanwhile.
type Recording = (
    Vec<String>,
    JoinHandle<(Vec<AttemptOutcome>, StoreResult<bool>)>,
);

async fn run(hub: Arc<Hub>, senders: Senders, mut stop: watch::Receiver<bool>) {
    let concurrency = hub.config.webhook_concurrency.max(1);
    let per_host = hub.config.webhook_per_host_concurrency.max(1);
    let limits = Limits {
        per_host,
        per_tenant: hub.config.webhook_per_tenant_concurrency.max(1),
        per_subscription: hub.config.webhook_per_subscription_concurrency.max(1),
    };
    // Attempt logs are written, and freed slots refilled, a batch at a time: a write and a
    // query per attempt would cost more than the attempt. A batch is a quarter of the pool or
    // half a host's share, whichever is less, and waits at most `LINGER`.
    let batch = (per_host / 2).min(concurrency / 4).max(1);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<AttemptOutcome>();
    // Attempts running; a finished one leaves at once, so its host's slot is free again
    // while its log is still being written.
    let mut in_flight = InFlight::default();
    // Finished attempts whose log is not committed yet: their deliveries are still pending
    // in the store and must not be offered again meanwhile.
    let mut unrecorded: HashSet<String> = HashSet::new();
    let mut finished: Vec<AttemptOutcome> = Vec::new();
    let mut finished_since: Option<Instant> = None;
    let mut recording: Option<Recording> = None;
    let mut claiming: Option<Claiming> = None;
    // After a claim that stopped short of its limit: what it left out with the hosts it handed
    // out for, and when. While
    // all of that is still full, a slot freeing asks for no claim (it would find nothing new).
    // New or newly ready work wakes the loop; what nothing announces (a lease of a node that
    // died running out) is claimed within a second, when that memory is dropped.
    let mut found_all: Option<(Full, Instant)> = None;
    let (mut freed, mut freed_since) = (0usize, None::<Instant>);
    // New work may be due: a commit woke us, a retry came due, or this is the first turn.
    let mut kick = true;
    let mut stopping = *stop.borrow();
    // The earliest future retry known, and when the store was last asked for it: asking on
    // every turn of a busy loop would be one more query per attempt.
    let (mut next_due, mut next_due_asked): (Option<i64>, i64) = (None, i64::MIN);
    let mut store_down = StoreBackoff::default();
    let mut held: Held = Held::new(hub.config.webhook_claim_lease);
    let mut slow = Slow::default();
    let mut quick = Quick::default();
    loop {
        let lingered = |since: Option<Instant>| since.is_some_and(|t| t.elapsed() >= LINGER);
        // A retry known to be due now is claimed now. `Event::Due` says so only when the sleep
        // ran out; a record landing after its retry's instant (a short schedule, a slow store)
        // does not, and the look below forgets past instants (it asks for future ones).
        if next_due.is_some_and(|t| t <= hub.now().0) {
            kick = true;
        }
        if recording.is_none()
            && !finished.is_empty()
            && (stopping
                || kick
                || finished.len() >= batch
                || in_flight.len() == 0
                || lingered(finished_since))
        {
            let outcomes = std::mem::take(&mut finished);
            finished_since = None;
            let ids = outcomes
                .iter()
                .map(|o| o.attempt.delivery_id.clone())
                .collect();
            let hub = hub.clone();
            recording = Some((
                ids,
                tokio::spawn(async move {
                    let result = hub.record_attempts(&outcomes).await;
                    (outcomes, result)
                }),
            ));
        }
        // Held deliveries start first when they fit, and go back once held too long (all of
        // them when stopping, so another node can take them at once).
        let expired = held.take_expired(stopping);
        if !stopping {
            slow.note(&expired, &in_flight, limits);
        }
        give_back(&hub, expired.into_iter().map(|d| d.id).collect()).await;
        if !stopping {
            for d in held.take_fitting(|d| in_flight.take_room(d, limits, concurrency)) {
                start(hub.clone(), senders.clone(), done_tx.clone(), d);
            }
        }
        if stopping {
            if in_flight.len() == 0
                && finished.is_empty()
                && recording.is_none()
                && claiming.is_none()
            {
                break;
            }
        } else if claiming.is_none()
            && in_flight.len() < concurrency
            && (kick
                || (freed > 0 && (freed >= batch || in_flight.len() == 0 || lingered(freed_since))))
            && store_down.may_ask()
        {
            // Here, not at every turn: the map holds every key that answered within the
            // bound, and a busy loop turns thousands of times a second.
            if let Some(since) = Instant::now().checked_sub(held.bound()) {
                quick.forget_before(since);
            }
            let full = in_flight.full(&held, limits, &slow, &quick);
            let nothing_new = found_all
                .as_ref()
                .is_some_and(|(f, at)| at.elapsed() < FOUND_ALL_FOR && full.covers(f));
            if kick || !nothing_new {
                let limit = concurrency.saturating_sub(in_flight.len());
                claiming = Some(claim(
                    &hub,
                    &in_flight,
                    &held,
                    &unrecorded,
                    full,
                    limit,
                    limits,
                ));
            }
            (kick, freed, freed_since) = (false, 0, None);
        }

        // Sleep until something happens. New deliveries come with a commit's wake-up and
        // retries this loop scheduled are in `next_due`; the store is asked again when that
        // came due or every 250 ms (a retry by hand, or another writer). Not at every turn
        // while it knows of none: on a busy outbox everything is due already, and that was
        // one more query for every few attempts.
        let now = hub.now().0;
        let ask = next_due.is_some_and(|t| t <= now) || now.saturating_sub(next_due_asked) >= 250;
        if ask && store_down.may_ask() {
            let due = hub.reads().next_due_at(Millis(now)).await.ok().flatten();
            next_due = due.map(|t| t.0);
            next_due_asked = now;
        }
        let until_due = until_due(now, next_due, store_down.remaining())
            .min(held.next_expiry().unwrap_or(Duration::MAX));
        let linger_from = [
            freed_since.filter(|_| !stopping),
            finished_since.filter(|_| recording.is_none()),
        ]
        .into_iter()
        .flatten()
        .min();
        let until_linger = linger_from.map(|t| {
            LINGER
                .saturating_sub(t.elapsed())
                .max(Duration::from_micros(100))
        });
        let event = tokio::select! {
            _ = hub.webhook_wake.notified(), if !stopping => Event::Wake,
            Some(o) = done_rx.recv() => Event::Done(o),
            r = async {
                match &mut recording {
                    Some((_, task)) => task.await,
                    None => std::future::pending().await,
                }
            }, if recording.is_some() => {
                let ids = recording.take().map(|(ids, _)| ids).unwrap_or_default();
                Event::Recorded(ids, r)
            }
            r = async {
                match &mut claiming {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            }, if claiming.is_some() => {
                claiming = None;
                Event::Claimed(r)
            }
            _ = tokio::time::sleep(until_due), if !stopping => Event::Due,
            _ = tokio::time::sleep(until_linger.unwrap_or(until_due)), if until_linger.is_some() => Event::Linger,
            // A dropped sender stops the dispatcher too (its hub is gone).
            r = stop.changed(), if !stopping => Event::Stop(r.is_err()),
        };
        match event {
            Event::Wake | Event::Due => kick = true,
            Event::Done(o) => {
                let now = Instant::now();
                let mut next = Some(o);
                while let Some(o) = next {
                    if let Some(k) = in_flight.remove(&o.attempt.delivery_id) {
                        if o.status == DeliveryStatus::Succeeded {
                            slow.answered(&k);
                        }
                        let took = Duration::from_millis(o.attempt.duration_ms.max(0) as u64);
                        quick.answered(&k, took, held.bound(), now);
                    }
                    unrecorded.insert(o.attempt.delivery_id.clone());
                    finished.push(o);
                    freed += 1;
                    next = done_rx.try_recv().ok();
                }
                finished_since.get_or_insert(now);
                freed_since.get_or_insert(now);
            }
            Event::Recorded(ids, Ok((outcomes, Ok(readied)))) => {
                store_down.after(true);
                for o in &outcomes {
                    if o.status == DeliveryStatus::Retrying {
                        next_due =
                            Some(next_due.map_or(o.next_attempt_at, |t| t.min(o.next_attempt_at)));
                    }
                }
                for id in ids {
                    unrecorded.remove(&id);
                }
                // A recorded attempt may have ended its stream's head (the comment's earlier
                // change): the next one is ready now. Without looking again, it would wait
                // for a freed slot or the next tick, up to a second, whenever other attempts
                // (a slow host's) keep the pool from running empty. Only then: a claim after
                // every record, most often for nothing, was half of a busy node's claims.
                kick |= readied;
            }
            Event::Recorded(_, Ok((outcomes, Err(e)))) => {
                tracing::warn!(error = %e, "recording webhook attempts failed; will retry");
                finished.extend(outcomes);
                finished_since.get_or_insert(Instant::now());
                // Left alone a while, as after a failed claim: while PostgreSQL does not answer,
                // a record fails at once (the store's bound knows), and trying again every few
                // ms would only log the same failure.
                store_down.after(false);
                let pause = store_down.remaining().unwrap_or(StoreBackoff::FIRST);
                tokio::time::sleep(pause).await;
            }
            Event::Recorded(ids, Err(e)) => {
                // The logs are lost, the deliveries still pending: they go out again.
                tracing::error!(error = %e, "the task recording webhook attempts failed");
                for id in ids {
                    unrecorded.remove(&id);
                }
            }
            Event::Claimed(Ok((mut without, limit, Ok(due)))) => {
                store_down.after(true);
                // A claim that stopped short of its limit handed out all there was but for
                // what it left out, and for what a host's share cut: a host handed its whole
                // share may have more. Once those are full too, the next claim would find
                // nothing. A host handed less than its share had no more: a slot of it
                // freeing is no reason to ask (it was, and every second claim of a
                // delivery at a time found nothing).
                found_all = (due.len() < limit).then(|| {
                    for host in cut_by_share(&due, limits.share()) {
                        if !without.hosts.contains(&host) {
                            without.hosts.push(host);
                        }
                    }
                    (without, Instant::now())
                });
                // Started at the loop's top as room allows, held until a slot frees, or given
                // back (see `held`).
                for d in due {
                    held.hold(d);
                }
            }
            Event::Claimed(Ok((_, _, Err(e)))) => {
                tracing::warn!(error = %e, "reading due webhook deliveries failed");
                store_down.after(false);
            }
            Event::Claimed(Err(e)) => {
                // Whatever it claimed waits for its lease to end.
                tracing::error!(error = %e, "the task claiming webhook deliveries failed");
                store_down.after(false);
            }
            Event::Linger => {}
            Event::Stop(gone) => stopping = gone || *stop.borrow(),
        }
    }
    tracing::info!("webhook dispatcher stopped");
}

/// How long the loop sleeps unless something happens: until the next due retry, at most a
/// second (the store is looked at again then); while the store is left alone after a failed
/// claim, until that pause ends, since nothing due can be claimed before.
fn until_due(now: i64, next_due: Option<i64>, store_pause: Option<Duration>) -> Duration {
    let due = next_due
        .map_or(Duration::from_secs(1), |at| {
            Duration::from_millis(at.saturating_sub(now).max(1) as u64)
        })
        .min(Duration::from_secs(1));
    match store_pause.filter(|p| !p.is_zero()) {
        Some(pause) => pause,
        None => due,
    }
}

/// How long the dispatcher leaves the store alone after a claim failed: while the database is
/// gone each claim waits out the pool's timeout and fails, and asking again at once would only
/// log the same failure in a loop. Doubles from 100 ms to 5 s; one claim that works resets it.
#[derive(Default)]
struct StoreBackoff {
    delay: Duration,
    until: Option<Instant>,
}

impl StoreBackoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_secs(5);

    fn may_ask(&self) -> bool {
        self.until.is_none_or(|t| Instant::now() >= t)
    }

    /// What is left of the pause, if one runs.
    fn remaining(&self) -> Option<Duration> {
        self.until
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    fn after(&mut self, worked: bool) {
        if worked {
            *self = StoreBackoff::default();
        } else {
            self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MOST);
            self.until = Some(Instant::now() + self.delay);
        }
    }
}

/// Starts a claim of what is due, as a task: the query leaves out full hosts, tenants and
/// subscriptions, and what is in flight, finished but not recorded, or held, and gives at
/// most twice `per_host` rows per host: a claim costs PostgreSQL about as much for one row as
/// for sixty (it is planned at each call, see `store/postgres/webhooks.rs`), so a draining
/// host is claimed for half as often as with one share (a 60,000-delivery backlog: 1,881
/// claims of 32 before, 942 of 64). What comes back starts if it has room when it arrives,
/// and is held otherwise (see `Event::Claimed`).
fn claim(
    hub: &Arc<Hub>,
    in_flight: &InFlight,
    held: &Held,
    unrecorded: &HashSet<String>,
    full: Full,
    free: usize,
    limits: Limits,
) -> Claiming {
    let exclude: Vec<String> = in_flight
        .ids
        .keys()
        .chain(unrecorded.iter())
        .chain(held.ids())
        .cloned()
        .collect();
    let hub = hub.clone();
    tokio::spawn(async move {
        let query = DueQuery {
            now: hub.now(),
            limit: free as u64,
            per_host: limits.share() as u64,
            exclude: &exclude,
            skip_hosts: &full.hosts,
            skip_tenants: &full.tenants,
            skip_subscriptions: &full.subscriptions,
            lease_ms: hub.config.webhook_claim_lease.as_millis() as i64,
        };
        let asked = Instant::now();
        let claimed = hub.claim_due_deliveries(&query).await;
        hub.metrics.webhook_claim_seconds.add(asked.elapsed());
        hub.metrics.webhook_claims.inc();
        if let Ok(rows) = &claimed {
            hub.metrics.webhook_claimed.add(rows.len() as u64);
        }
        (full, free, claimed)
    })
}

/// The hosts a claim handed `share` deliveries or more (a claim gives a host at most its
/// share, [`claim`]): what the share may have cut.
fn cut_by_share(due: &[Delivery], share: usize) -> Vec<String> {
    let mut per_host: HashMap<String, usize> = HashMap::new();
    for d in due {
        *per_host.entry(host_of(d).into_owned()).or_default() += 1;
    }
    at_limit(&per_host, share)
}

/// Gives back claims this node will not use now, so that any node may take them.
async fn give_back(hub: &Hub, ids: Vec<String>) {
    if ids.is_empty() {
        return;
    }
    if let Err(e) = hub.release_claims(&ids).await {
        tracing::warn!(error = %e, "giving back unused webhook claims failed; they wait for their lease");
    }
}

fn start(
    hub: Arc<Hub>,
    senders: Senders,
    done: mpsc::UnboundedSender<AttemptOutcome>,
    d: Delivery,
) {
    tokio::spawn(async move {
        let out = Outgoing {
            delivery_id: &d.id,
            message_id: d.message_id(),
            tenant_id: &d.tenant_id,
            domain: d.domain.as_deref(),
            url: &d.url,
            method: d.method,
            kind: d.kind,
            legacy_token: d.legacy_token,
            body: d.body.as_bytes(),
            attempt: d.attempts + 1,
            secret_override: None,
        };
        let (sent, attempt) = send_once(&hub, &senders, &out).await;
        hub.metrics.attempt(super::sender::metric_outcome(&sent));
        if sent.is_success() {
            hub.metrics
                .delivered_after(hub.now().0.saturating_sub(d.created_at));
        }
        if let super::Sent::Fatal(reason) | super::Sent::Transient(reason) = &sent {
            tracing::info!(delivery = %d.id, attempt = out.attempt, reason, "webhook attempt failed");
        }
        let outcome = outcome_of(&hub, &d, &sent, attempt);
        if matches!(sent, super::Sent::Answered { status: 410, .. }) {
            if let Err(e) = hub.receiver_gone(&d).await {
                tracing::warn!(delivery = %d.id, error = %e, "unsubscribing after 410 Gone failed");
            }
        }
        let _ = done.send(outcome);
    });
}

#[cfg(test)]
mod tests {
    use super::{until_due, Held, InFlight, Keys, Limits, Quick, Slow, StoreBackoff};
    use crate::ids::TenantId;
    use std::time::Duration;

    fn keys(host: &str) -> Keys {
        Keys {
            host: host.into(),
            tenant: TenantId::from(format!("t-{host}")),
            subscription: String::new(),
        }
    }

    /// A host is left out of claims at twice its limit running and held, or three times once
    /// its last attempt came back within a tenth of the hold bound; one slower than that (a
    /// receiver taking about a second) is back to twice. A quick key is remembered a hold
    /// bound after its last answer, whether or not its attempts still run.
    #[test]
    fn a_quick_host_is_claimed_further_ahead() {
        let l = Limits {
            per_host: 4,
            per_tenant: 100,
            per_subscription: 100,
        };
        let held = Held::new(Duration::from_secs(60));
        assert_eq!(held.bound(), Duration::from_secs(1));
        let mut in_flight = InFlight::default();
        for i in 0..9 {
            in_flight.add(&format!("f{i}"), keys("fast"));
            in_flight.add(&format!("s{i}"), keys("slow"));
        }
        let (slow, mut quick) = (Slow::default(), Quick::default());
        let t0 = std::time::Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let full = |in_flight: &InFlight, quick: &Quick| {
            let mut hosts = in_flight.full(&held, l, &slow, quick).hosts;
            hosts.sort();
            hosts
        };
        assert_eq!(full(&in_flight, &quick), ["fast", "slow"]);
        let answer = |quick: &mut Quick, host, took_ms, at_ms| {
            let took = Duration::from_millis(took_ms);
            quick.answered(&keys(host), took, held.bound(), at(at_ms));
        };
        answer(&mut quick, "fast", 100, 0);
        answer(&mut quick, "slow", 101, 0);
        assert_eq!(full(&in_flight, &quick), ["slow"]);
        for i in 9..12 {
            in_flight.add(&format!("f{i}"), keys("fast"));
        }
        assert_eq!(full(&in_flight, &quick), ["fast", "slow"]);
        answer(&mut quick, "fast", 900, 10);
        assert!(quick.hosts.is_empty(), "{quick:?}");
        answer(&mut quick, "fast", 0, 20);
        // Every attempt of the host ended at once: it is still quick for the next claim.
        for i in 0..12 {
            in_flight.remove(&format!("f{i}"));
        }
        quick.forget_before(at(20));
        assert!(quick.hosts.contains_key("fast"), "{quick:?}");
        quick.forget_before(at(21));
        assert!(
            quick.hosts.is_empty() && quick.tenants.is_empty(),
            "{quick:?}"
        );
    }

    /// A retry already due while the store is paused (it failed a claim) waits for the pause's
    /// end, not a millisecond at a time: the loop woke a thousand times a second during an
    /// outage. Otherwise: until the next retry, at most a second.
    #[test]
    fn the_loop_sleeps_until_the_next_retry_or_the_end_of_a_store_pause() {
        let ms = Duration::from_millis;
        assert_eq!(until_due(1_000, Some(1_040), None), ms(40));
        assert_eq!(until_due(1_000, Some(9_000), None), ms(1_000));
        assert_eq!(until_due(1_000, None, None), ms(1_000));
        assert_eq!(until_due(1_000, Some(900), None), ms(1));
        assert_eq!(until_due(1_000, Some(900), Some(ms(800))), ms(800));
        assert_eq!(until_due(1_000, None, Some(ms(300))), ms(300));
        assert_eq!(until_due(1_000, Some(1_040), Some(ms(300))), ms(300));
        // A pause that just ended: the store may be asked at once.
        assert_eq!(until_due(1_000, Some(900), Some(Duration::ZERO)), ms(1));
    }

    /// While claims fail the pauses double from 100 ms up to 5 s; one claim that works ends
    /// the pause at once.
    #[test]
    fn failed_claims_back_off_and_one_success_resets() {
        let mut b = StoreBackoff::default();
        assert!(b.may_ask());
        let mut pauses = Vec::new();
        for _ in 0..8 {
            b.after(false);
            assert!(!b.may_ask(), "asked again right after a failure");
            pauses.push(b.delay);
        }
        let ms: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert!(b.remaining().is_some_and(|r| r <= Duration::from_secs(5)));
        b.after(true);
        assert!(b.may_ask());
        assert_eq!(b.remaining(), None);
    }
}
