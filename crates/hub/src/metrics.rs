//! Counters exposed at `/metrics` in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything the hub counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HTTP responses by class.
    pub responses_2xx: Counter,
    /// 4xx responses.
    pub responses_4xx: Counter,
    /// 5xx responses.
    pub responses_5xx: Counter,
    /// Stream / commands polls.
    pub polls: Counter,
    /// Polls answered from memory (nothing new).
    pub idle_polls: Counter,
    /// Events sent to integrations.
    pub events_served: Counter,
    /// Comments received by uploads.
    pub comments_uploaded: Counter,
    /// Uploads refused as too large.
    pub uploads_too_large: Counter,
    /// Timeline entries written.
    pub timeline_entries: Counter,
    /// Comment changes that matched none of their tenant's webhook configurations.
    pub webhooks_unmatched: Counter,
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, rows: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, v) in rows {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        counter(
            "fastcomments_http_responses_total",
            "HTTP responses by status class.",
            &[
                ("{class=\"2xx\"}", self.responses_2xx.get()),
                ("{class=\"4xx\"}", self.responses_4xx.get()),
                ("{class=\"5xx\"}", self.responses_5xx.get()),
            ],
        );
        counter(
            "fastcomments_polls_total",
            "Integration polls (stream and commands).",
            &[("", self.polls.get())],
        );
        counter(
            "fastcomments_idle_polls_total",
            "Polls answered from memory.",
            &[("", self.idle_polls.get())],
        );
        counter(
            "fastcomments_events_served_total",
            "Events sent to integrations.",
            &[("", self.events_served.get())],
        );
        counter(
            "fastcomments_comments_uploaded_total",
            "Comments received through uploads.",
            &[("", self.comments_uploaded.get())],
        );
        counter(
            "fastcomments_uploads_too_large_total",
            "Uploads refused with 413.",
            &[("", self.uploads_too_large.get())],
        );
        counter(
            "fastcomments_timeline_entries_total",
            "Timeline entries written by this process.",
            &[("", self.timeline_entries.get())],
        );
        counter(
            "fastcomments_webhooks_unmatched_total",
            "Comment changes of tenants with webhook configurations that matched none of them (no configuration for the comment's domain and no '*' one, or no target for the kind).",
            &[("", self.webhooks_unmatched.get())],
        );
        out
    }
}
