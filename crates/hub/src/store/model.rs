//! Records as the store keeps them: separate from the wire types, which they only carry.

use fastcomments_protocol::{Comment, EventType, UploadComment, Vote};
use std::collections::BTreeMap;

/// A customer of the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// `t-…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Domains the tenant owns.
    pub domains: Vec<String>,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

/// An API secret: authenticates the tenant API and signs webhooks for its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSecret {
    /// Id for listing and revoking.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// The domain it is for, or `*` for all domains.
    pub domain: String,
    /// The secret text.
    pub secret: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

/// An API secret being retired after a rotation: it still authenticates and signs until
/// `retires_at`, beside the secret that replaces it; then maintenance removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRetirement {
    /// The retiring secret.
    pub secret: ApiSecret,
    /// When it is removed, epoch ms.
    pub retires_at: i64,
}

/// Where an integration token is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Registered, waiting for a tenant admin.
    Pending,
    /// Bound to a tenant.
    Validated,
    /// Revoked by the tenant: reads return nothing, forever.
    Revoked,
}

impl TokenState {
    /// Storage text.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Pending => "pending",
            TokenState::Validated => "validated",
            TokenState::Revoked => "revoked",
        }
    }

    /// Inverse of [`TokenState::as_str`].
    pub fn parse(s: &str) -> Option<TokenState> {
        match s {
            "pending" => Some(TokenState::Pending),
            "validated" => Some(TokenState::Validated),
            "revoked" => Some(TokenState::Revoked),
            _ => None,
        }
    }
}

/// An integration token and its setup progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token text.
    pub token: String,
    /// The tenant, once acknowledged.
    pub tenant_id: Option<String>,
    /// Life stage.
    pub state: TokenState,
    /// `wordpress`, … as the plugin said.
    pub integration_type: Option<String>,
    /// The plugin's site host.
    pub domain: Option<String>,
    /// The plugin asked to skip the initial upload.
    pub skip_requested: bool,
    /// First registration, epoch ms (pending tokens expire from here).
    pub created_at: i64,
    /// When a tenant admin acknowledged it.
    pub acknowledged_at: Option<i64>,
    /// Distinct comments received from this token (the next `start`).
    pub upload_received: i64,
    /// The initial upload is finished or skipped.
    pub upload_finished: bool,
    /// How many comments to ask for per batch (halved after a 413).
    pub batch_size: i64,
    /// Position of this token's `SetSetupCompleted` entry.
    pub setup_completed_at: Option<i64>,
    /// The acknowledging admin allowed this integration to read an API secret of its domain
    /// (`GET /integrations/v1/api-secret`; off unless they said so).
    pub api_secret_allowed: bool,
    /// The client address that registered it while pending (an IPv6 client's /64), for the
    /// per-address cap on pending tokens; `None` for tokens an admin made.
    pub registered_from: Option<String>,
}

impl TokenRecord {
    /// A token just registered: pending, no tenant, nothing uploaded.
    pub fn pending(token: &str, now_ms: i64, batch_size: i64) -> TokenRecord {
        TokenRecord {
            token: token.to_owned(),
            tenant_id: None,
            state: TokenState::Pending,
            integration_type: None,
            domain: None,
            skip_requested: false,
            created_at: now_ms,
            acknowledged_at: None,
            upload_received: 0,
            upload_finished: false,
            batch_size,
            setup_completed_at: None,
            api_secret_allowed: false,
            registered_from: None,
        }
    }
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A comment or vote event.
    Event(EventType),
    /// A token's initial sync finished (visible to that token only).
    SetupCompleted,
}

impl EntryKind {
    /// Storage text.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Event(e) => e.as_str(),
            EntryKind::SetupCompleted => "SetSetupCompleted",
        }
    }

    /// Inverse of [`EntryKind::as_str`].
    pub fn parse(s: &str) -> Option<EntryKind> {
        if s == "SetSetupCompleted" {
            return Some(EntryKind::SetupCompleted);
        }
        EventType::parse(s).map(EntryKind::Event)
    }
}

/// An entry to append; the store gives it its id and position.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// What happened.
    pub kind: EntryKind,
    /// The thread.
    pub url_id: String,
    /// The token whose upload caused it: hidden from that token (echo suppression).
    pub origin_token: Option<String>,
    /// Visible to this token only.
    pub only_token: Option<String>,
    /// The comment or vote JSON as of the event.
    pub payload: Option<String>,
}

impl NewEntry {
    /// `SetSetupCompleted` for `token`: the end of its setup, visible to it alone.
    pub fn setup_completed(token: &str) -> NewEntry {
        NewEntry {
            kind: EntryKind::SetupCompleted,
            url_id: String::new(),
            origin_token: None,
            only_token: Some(token.to_owned()),
            payload: None,
        }
    }

    /// A comment event carrying the comment as of the event, hidden from `origin` (the token
    /// whose upload caused it).
    pub fn comment_event(
        kind: fastcomments_protocol::EventType,
        comment: &Comment,
        origin: Option<&str>,
    ) -> Result<NewEntry, serde_json::Error> {
        Ok(NewEntry {
            kind: EntryKind::Event(kind),
            url_id: comment.url_id.clone(),
            origin_token: origin.map(str::to_owned),
            only_token: None,
            payload: Some(serde_json::to_string(comment)?),
        })
    }

    /// A vote event. Its payload carries the vote and the voted comment as of the event
    /// (`{"vote":…,"comment":…}`): plugins read `vote.commentId`, the official examples read
    /// `comment._id`. Entries written before this carried the bare vote; [`EventPayload`]
    /// reads both.
    pub fn vote_event(
        kind: fastcomments_protocol::EventType,
        vote: &Vote,
        comment: Option<&Comment>,
    ) -> Result<NewEntry, serde_json::Error> {
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            vote: &'a Vote,
            #[serde(skip_serializing_if = "Option::is_none")]
            comment: Option<&'a Comment>,
        }
        Ok(NewEntry {
            kind: EntryKind::Event(kind),
            url_id: vote.url_id.clone(),
            origin_token: None,
            only_token: None,
            payload: Some(serde_json::to_string(&Envelope { vote, comment })?),
        })
    }
}

/// An event's payload split into what goes out as `comment` and as `vote`, borrowing the
/// stored JSON (no copy, no re-serialisation).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventPayload<'a> {
    /// The comment (comment events; vote events written since votes carry it).
    pub comment: Option<&'a serde_json::value::RawValue>,
    /// The vote (vote events).
    pub vote: Option<&'a serde_json::value::RawValue>,
}

impl<'a> EventPayload<'a> {
    /// Splits `payload` of an event of `kind`.
    pub fn split(
        kind: fastcomments_protocol::EventType,
        payload: Option<&'a str>,
    ) -> Result<EventPayload<'a>, serde_json::Error> {
        use serde_json::value::RawValue;
        let Some(text) = payload else {
            return Ok(EventPayload::default());
        };
        if !kind.is_vote() {
            return Ok(EventPayload {
                comment: Some(serde_json::from_str::<&RawValue>(text)?),
                vote: None,
            });
        }
        #[derive(serde::Deserialize)]
        struct Envelope<'b> {
            #[serde(borrow)]
            vote: &'b RawValue,
            #[serde(borrow, default)]
            comment: Option<&'b RawValue>,
        }
        match serde_json::from_str::<Envelope<'a>>(text) {
            Ok(e) => Ok(EventPayload {
                comment: e.comment,
                vote: Some(e.vote),
            }),
            // A bare vote (entries written before votes carried their comment).
            Err(_) => Ok(EventPayload {
                comment: None,
                vote: Some(serde_json::from_str::<&RawValue>(text)?),
            }),
        }
    }
}

/// A stored timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// The entry's id (event id).
    pub id: String,
    /// Position: per-tenant strictly increasing epoch ms.
    pub created_at: i64,
    /// What happened.
    pub kind: EntryKind,
    /// The thread.
    pub url_id: String,
    /// The comment or vote JSON.
    pub payload: Option<String>,
}

/// A read of one tenant's timeline on behalf of one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineQuery {
    /// Whose timeline.
    pub tenant_id: String,
    /// The reader (echo suppression and token-only entries).
    pub viewer_token: String,
    /// Entries with `created_at > after_ms`.
    pub after_ms: i64,
    /// And `created_at <= until_ms`, when set.
    pub until_ms: Option<i64>,
    /// At most this many.
    pub limit: u64,
    /// Include `SetSetupCompleted` entries (the stream protocol does; commands/events does not).
    pub include_setup: bool,
}

/// The ends of a tenant's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimelineBounds {
    /// The newest position (0 when empty).
    pub newest: i64,
    /// Every entry at or before this position may have been pruned (0: none pruned).
    pub pruned_through: i64,
}

/// A change through the comments API.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Store a new comment (its parent, if any, must exist in the tenant).
    CreateComment(Box<Comment>),
    /// Change fields of a comment.
    UpdateComment {
        /// The comment's id.
        id: String,
        /// What to change.
        patch: CommentPatch,
    },
    /// Delete a comment (and its votes).
    DeleteComment {
        /// The comment's id.
        id: String,
    },
    /// Cast a vote; when the same user already voted on the comment, that vote is replaced
    /// (or kept, if it points the same way).
    AddVote(Box<Vote>),
    /// Remove a vote.
    DeleteVote {
        /// The vote's id.
        id: String,
    },
}

/// Which page of comments [`super::Store::list_comments`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentsQuery<'a> {
    /// One thread, or the whole tenant.
    pub url_id: Option<&'a str>,
    /// Comments passed over first.
    pub skip: u64,
    /// Most comments returned.
    pub limit: u64,
    /// Newest first (else oldest first).
    pub newest_first: bool,
}

impl CommentsQuery<'_> {
    /// The statement, with `?` placeholders in the order tenant, url id (when given), limit,
    /// skip. Built from the flags only: no input reaches the text.
    pub fn sql(&self) -> String {
        let order = if self.newest_first { "DESC" } else { "ASC" };
        let thread = if self.url_id.is_some() {
            " AND url_id = ?"
        } else {
            ""
        };
        format!(
            "SELECT id, doc FROM comments WHERE tenant_id = ?{thread} \
             ORDER BY date_ms {order}, id {order} LIMIT ? OFFSET ?"
        )
    }
}

/// Fields the comments API may change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommentPatch {
    /// New text (re-rendered to HTML).
    pub comment: Option<String>,
    /// Visibility.
    pub approved: Option<bool>,
    /// Spam flag.
    pub is_spam: Option<bool>,
    /// Reviewed flag.
    pub reviewed: Option<bool>,
    /// Replaces the comment's `meta` object.
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What [`Change`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The comment after the change (before it, for a delete).
    pub comment: Option<Comment>,
    /// The vote cast or removed.
    pub vote: Option<Vote>,
    /// The entries appended, in order.
    pub entries: Vec<TimelineEntry>,
    /// Webhook deliveries queued by the change.
    pub deliveries: usize,
    /// Changes that matched none of the tenant's webhook configurations (it has some).
    pub webhooks_unmatched: usize,
}

/// An upload batch (SPEC §1.4).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadBatch {
    /// The token's tenant.
    pub tenant_id: String,
    /// The uploading token.
    pub token: String,
    /// The comments, already validated.
    pub comments: Vec<UploadComment>,
    /// This is the last batch of the initial upload.
    pub finishes_upload: bool,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadOutcome {
    /// Plugin id → hub id.
    pub comment_ids: BTreeMap<String, String>,
    /// Comments stored.
    pub received: u64,
    /// The token's record after the batch.
    pub token: TokenRecord,
    /// Entries appended.
    pub entries: Vec<TimelineEntry>,
    /// Webhook deliveries queued (imports fire only where the tenant turned that on).
    pub deliveries: usize,
}

/// Where one kind of webhook goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct WebhookTarget {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The HTTP method.
    pub method: fastcomments_protocol::HttpMethod,
}

/// A tenant's webhook configuration for one domain (`*`: any domain without its own).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    /// The domain (one of the tenant's, or `*` for all).
    pub domain: String,
    /// Comment created.
    #[serde(default)]
    pub create: Option<WebhookTarget>,
    /// Comment updated (votes included).
    #[serde(default)]
    pub update: Option<WebhookTarget>,
    /// Comment deleted.
    #[serde(default)]
    pub delete: Option<WebhookTarget>,
    /// Also send the API secret in clear in a `token` header (legacy receivers).
    #[serde(default)]
    pub legacy_token_header: bool,
    /// Fire for comments imported by integration uploads too.
    #[serde(default)]
    pub fire_on_import: bool,
}

impl WebhookConfig {
    /// The target for one kind.
    pub fn target(&self, kind: fastcomments_protocol::WebhookEventKind) -> Option<&WebhookTarget> {
        use fastcomments_protocol::WebhookEventKind as K;
        match kind {
            K::Create => self.create.as_ref(),
            K::Update => self.update.as_ref(),
            K::Delete => self.delete.as_ref(),
        }
    }
}

/// A webhook subscription (issue 13 §1, the hosted API's form): one URL that receives the
/// chosen kinds of the chosen domains' comment changes, with its own deliveries, order and
/// health. A tenant has at most [`MAX_SUBSCRIPTIONS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// `http://` or `https://` URL.
    pub url: String,
    /// The method of every kind; `None`: [`SUBSCRIPTION_DEFAULT_METHOD`].
    pub method: Option<fastcomments_protocol::HttpMethod>,
    /// The kinds it wants, sorted, without repeats.
    pub kinds: Vec<fastcomments_protocol::WebhookEventKind>,
    /// The domains it wants (normalised, sorted; `*` for every domain).
    pub domains: Vec<String>,
    /// Also fire for comments imported by integration uploads.
    pub fire_on_import: bool,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Since when every attempt failed (none succeeded since), epoch ms.
    pub failing_since: Option<i64>,
    /// When it was disabled; its deliveries wait as `paused` meanwhile.
    pub disabled_at: Option<i64>,
    /// Why.
    pub disabled_reason: Option<String>,
}

/// The method of a subscription made without one, for every kind: `POST`, the hosted API's
/// default for API subscriptions (its Zapier app's source says so). The per-domain
/// configuration keeps the guide's per-kind defaults (`PUT`, `PUT`, `DELETE`).
pub const SUBSCRIPTION_DEFAULT_METHOD: fastcomments_protocol::HttpMethod =
    fastcomments_protocol::HttpMethod::Post;

/// The most subscriptions a tenant may have.
pub const MAX_SUBSCRIPTIONS: usize = 50;

impl Subscription {
    /// The method its changes are sent with: its own, else [`SUBSCRIPTION_DEFAULT_METHOD`].
    pub fn method(&self) -> fastcomments_protocol::HttpMethod {
        self.method.unwrap_or(SUBSCRIPTION_DEFAULT_METHOD)
    }

    /// The entry of [`Subscription::domains`] a comment of `domain` matches (its normalised
    /// host, else `*`), if any.
    pub fn matching_domain(&self, domain: Option<&str>) -> Option<&str> {
        let host = domain.and_then(crate::hub::normalize_domain);
        host.and_then(|h| self.domains.iter().find(|d| **d == h))
            .or_else(|| self.domains.iter().find(|d| *d == "*"))
            .map(String::as_str)
    }
}

/// Where a tenant's comment changes go: its per-domain configurations and its subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookTargets {
    /// Per-domain configurations (each kind's target is one subscription, in effect).
    pub configs: Vec<WebhookConfig>,
    /// Subscriptions.
    pub subscriptions: Vec<Subscription>,
}

impl WebhookTargets {
    /// Nothing would fire.
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty() && self.subscriptions.is_empty()
    }

    /// Some target also wants comments imported by integration uploads.
    pub fn fire_on_import(&self) -> bool {
        self.configs.iter().any(|c| c.fire_on_import)
            || self.subscriptions.iter().any(|s| s.fire_on_import)
    }
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Queued,
    /// Failed at least once; waits for `next_attempt_at`.
    Retrying,
    /// A 2xx answer was received.
    Succeeded,
    /// Gave up (attempts exhausted, no secret, or a refused target).
    Failed,
    /// Cancelled by the tenant.
    Cancelled,
    /// Waiting for its subscription to be enabled again (it was disabled for failing too
    /// long); queued again, in order, when it is.
    Paused,
}

impl DeliveryStatus {
    /// Storage and API text.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
            DeliveryStatus::Paused => "paused",
        }
    }

    /// Inverse of [`DeliveryStatus::as_str`].
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        Some(match s {
            "queued" => DeliveryStatus::Queued,
            "retrying" => DeliveryStatus::Retrying,
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            "cancelled" => DeliveryStatus::Cancelled,
            "paused" => DeliveryStatus::Paused,
            _ => return None,
        })
    }

    /// Still to be sent.
    pub fn is_pending(self) -> bool {
        matches!(self, DeliveryStatus::Queued | DeliveryStatus::Retrying)
    }
}

/// One webhook to deliver (the outbox row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The delivery id (`X-FastComments-Delivery`, stable across retries).
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// The comment.
    pub comment_id: String,
    /// The change's timeline position; deliveries of one comment go out in this order.
    pub position: i64,
    /// Create, update or delete.
    pub kind: fastcomments_protocol::WebhookEventKind,
    /// The comment's domain (picks the signing secret).
    pub domain: Option<String>,
    /// The domain of the configuration that queued it (for a subscription, the entry of its
    /// domains that matched).
    pub config_domain: String,
    /// The subscription that queued it; empty for the per-domain configurations. Deliveries
    /// of one comment go out in order per subscription (the configurations count as one).
    pub subscription_id: String,
    /// Target URL.
    pub url: String,
    /// [`target_host`] of the URL: the dispatcher's per-host limit counts by it. Empty for
    /// deliveries queued before it was stored.
    pub target_host: String,
    /// Target method.
    pub method: fastcomments_protocol::HttpMethod,
    /// Send the legacy `token` header.
    pub legacy_token: bool,
    /// The exact body bytes (compact JSON).
    pub body: String,
    /// Life stage.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i64,
    /// Attempt limit; 0 means the hub's default.
    pub max_attempts: i64,
    /// When the next attempt is due, epoch ms.
    pub next_attempt_at: i64,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// The host a webhook URL is sent to, as `host:port` with the scheme's port when none is given
/// (`https://Hooks.Example.com/x` → `hooks.example.com:443`); the URL itself when it does not
/// parse. One receiver's deliveries share it, so one slow receiver is limited as one.
pub fn target_host(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{}:{p}", h.to_ascii_lowercase()),
            (Some(h), None) => h.to_ascii_lowercase(),
            _ => url.to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// What the dispatcher asks [`super::Store::due_deliveries`] for.
#[derive(Debug, Clone, Copy)]
pub struct DueQuery<'a> {
    /// Due at or before this instant, epoch ms.
    pub now_ms: i64,
    /// At most this many in all.
    pub limit: u64,
    /// At most this many per target host.
    pub per_host: u64,
    /// Delivery ids to leave out (in flight).
    pub exclude: &'a [String],
    /// Target hosts to leave out.
    pub skip_hosts: &'a [String],
    /// Tenants to leave out.
    pub skip_tenants: &'a [String],
    /// Subscriptions to leave out (those at their in-flight limit; the per-domain
    /// configurations, with an empty id, are never left out by this).
    pub skip_subscriptions: &'a [String],
    /// How long what is handed out stays claimed if its attempt is never recorded; longer
    /// than any attempt.
    pub lease_ms: i64,
}

/// Totals of the webhook outbox, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Deliveries by state (states with none may be missing).
    pub by_status: Vec<(DeliveryStatus, u64)>,
    /// When the oldest pending delivery was queued, epoch ms.
    pub oldest_pending_at: Option<i64>,
    /// Subscriptions disabled for failing too long.
    pub disabled_subscriptions: u64,
}

/// The log of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The delivery.
    pub delivery_id: String,
    /// 1, 2, 3 …
    pub attempt: i64,
    /// When it started, epoch ms.
    pub at: i64,
    /// URL called.
    pub url: String,
    /// Method used.
    pub method: String,
    /// HTTP status, when an answer came.
    pub status_code: Option<i64>,
    /// The answer's first 4 KiB.
    pub response_body: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// An attempt and what it means for its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The log row.
    pub attempt: DeliveryAttempt,
    /// The delivery's status after it.
    pub status: DeliveryStatus,
    /// When the next attempt is due (for `Retrying`).
    pub next_attempt_at: i64,
}

/// A commit another hub node may have made, told to every node sharing the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Notice {
    /// A tenant's timeline grew to `newest`.
    Timeline {
        /// The tenant.
        tenant: String,
        /// Its newest position now.
        newest: i64,
    },
    /// A token's record changed.
    Token {
        /// The token.
        token: String,
    },
    /// Pending tokens expired (maintenance).
    TokensExpired,
    /// Old timeline entries were pruned (maintenance): cached prune marks are stale.
    Pruned,
    /// A tenant's API secrets changed.
    Secrets {
        /// The tenant.
        tenant: String,
    },
    /// Webhook deliveries were queued or became due.
    Deliveries,
    /// Notices may have been lost (the listening connection dropped): forget what is cached.
    Lost,
}

/// What queuing a change's webhooks did (inside a backend's transaction).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Enqueued {
    /// Deliveries queued.
    pub(crate) deliveries: usize,
    /// Changes that matched no configuration of a tenant that has some.
    pub(crate) unmatched: usize,
}

/// An admin page session as stored, so that every node behind a load balancer knows it. The
/// pages own what `doc` holds (who signed in, the form token, a one-time message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The random id the browser's cookie holds.
    pub id: String,
    /// The session as the pages serialise it.
    pub doc: String,
    /// Nobody signed in yet (the sign-in form's session): these are capped in number.
    pub anonymous: bool,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last used, epoch ms.
    pub seen_at: i64,
}
