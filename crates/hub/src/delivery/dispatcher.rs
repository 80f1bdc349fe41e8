//! The dispatcher loop: claims due deliveries, runs their attempts, records the outcomes and
//! schedules retries (SPEC §2.2).

use super::sender::{send_once, Outgoing, Senders};
use crate::hub::Hub;
use crate::store::{AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What an attempt means for its delivery: done, failed for good, or retried after
/// `base × attempt` (SPEC §2.2).
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
    let now = hub.now_ms();
    let status = match sent {
        s if s.is_success() => DeliveryStatus::Succeeded,
        super::Sent::Fatal(_) => DeliveryStatus::Failed,
        _ if n >= max => DeliveryStatus::Failed,
        _ => DeliveryStatus::Retrying,
    };
    let delay = hub.config.webhook_retry_base.as_millis() as i64 * n.max(1);
    AttemptOutcome {
        attempt,
        status,
        next_attempt_at: if status == DeliveryStatus::Retrying {
            now + delay
        } else {
            now
        },
    }
}

/// Starts the dispatcher; it stops (after finishing what is in flight) when `stop` turns true.
pub fn spawn(hub: Arc<Hub>, senders: Senders, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(hub, senders, stop))
}

async fn run(hub: Arc<Hub>, senders: Senders, mut stop: watch::Receiver<bool>) {
    let concurrency = hub.config.webhook_concurrency.max(1);
    let mut in_flight: HashSet<String> = HashSet::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<AttemptOutcome>();
    let mut finished: Vec<AttemptOutcome> = Vec::new();
    let mut stopping = *stop.borrow();
    loop {
        while let Ok(o) = done_rx.try_recv() {
            finished.push(o);
        }
        if !finished.is_empty() {
            match hub.store.record_attempts(&finished, hub.now_ms()).await {
                Ok(()) => {
                    for o in finished.drain(..) {
                        in_flight.remove(&o.attempt.delivery_id);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "recording webhook attempts failed; will retry");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        if stopping {
            if in_flight.is_empty() {
                break;
            }
            if let Some(o) = done_rx.recv().await {
                finished.push(o);
            }
            continue;
        }
        let free = concurrency.saturating_sub(in_flight.len());
        // Claim in batches: a query per freed slot would re-read the outbox far too often.
        if free > 0 && (in_flight.is_empty() || free >= (concurrency / 4).max(1)) {
            let exclude: Vec<String> = in_flight.iter().cloned().collect();
            match hub
                .store
                .due_deliveries(hub.now_ms(), free as u64, &exclude)
                .await
            {
                Ok(due) => {
                    for d in due {
                        in_flight.insert(d.id.clone());
                        start(hub.clone(), senders.clone(), done_tx.clone(), d);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading due webhook deliveries failed"),
            }
        }
        // Sleep until woken by a commit, a finished attempt, the next retry, or the stop flag.
        let now = hub.now_ms();
        let wait = match hub.store.next_due_at(now).await {
            Ok(Some(at)) => Duration::from_millis(at.saturating_sub(now).max(1) as u64),
            _ => Duration::from_secs(1),
        }
        .min(Duration::from_secs(1));
        tokio::select! {
            _ = hub.webhook_wake.notified() => {}
            Some(o) = done_rx.recv() => finished.push(o),
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => stopping = *stop.borrow(),
        }
    }
    tracing::info!("webhook dispatcher stopped");
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
        if let super::Sent::Fatal(reason) | super::Sent::Transient(reason) = &sent {
            tracing::info!(delivery = %d.id, attempt = out.attempt, reason, "webhook attempt failed");
        }
        let _ = done.send(outcome_of(&hub, &d, &sent, attempt));
    });
}
