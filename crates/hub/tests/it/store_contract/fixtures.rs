//! Fresh stores of each backend, and the records the promises write.

use fastcomments_hub::ids;
use fastcomments_hub::records::*;
use fastcomments_hub::rules::NewCommentInput;
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::store::*;
use fastcomments_protocol::{
    Comment, EventType, Extra, HttpMethod, Millis, UploadComment, Vote, VoteDirection,
    WebhookEventKind,
};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A time the promises start at (epoch ms); positions are at or after the `now` given.
pub const T0: i64 = 1_700_000_000_000;

/// A fresh, empty store, and whatever must live as long as it (a temporary directory).
pub struct Opened {
    pub store: Arc<dyn Store>,
    _keep: Box<dyn Any + Send>,
}

impl Opened {
    pub fn new(store: Arc<dyn Store>, keep: impl Any + Send) -> Opened {
        Opened {
            store,
            _keep: Box::new(keep),
        }
    }
}

/// SQLite: a new file in a temporary directory.
pub async fn sqlite() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hub.db")).await.unwrap();
    Opened::new(Arc::new(store), dir)
}

/// PostgreSQL: a new database on the process's shared test cluster.
pub async fn postgres() -> Opened {
    let url = postgres_database().await;
    let store = fastcomments_hub::store::postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    Opened::new(Arc::new(store), ())
}

/// A new, empty database on the process's shared PostgreSQL test cluster (started on first
/// use; it fails, saying how to install PostgreSQL, where it is missing).
pub async fn postgres_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let cluster = testkit::PgCluster::shared().await.unwrap();
    let name = format!("contract_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    cluster.database(&name).await.unwrap()
}

/// A PostgreSQL store on a new database, with the database's URL (to open the store again)
/// and a pool of `connections` of its own to look at the database with (one, for a test that
/// waits until it is the database's only session).
pub async fn postgres_store_and_pool(
    connections: u32,
) -> (
    String,
    fastcomments_hub::store::postgres::PostgresStore,
    sqlx::PgPool,
) {
    let url = postgres_database().await;
    let store = fastcomments_hub::store::postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(&url)
        .await
        .unwrap();
    (url, store, db)
}

/// Creates tenant `id` (domain `<id>.example`, wildcard secret `secret-<id>`).
pub async fn tenant(store: &dyn Store, id: &str) -> TenantId {
    let tenant = Tenant {
        id: TenantId::from(id),
        name: format!("Tenant {id}"),
        domains: vec![format!("{id}.example")],
        created_at: T0,
    };
    let wildcard = ApiSecret {
        id: format!("s-{id}"),
        tenant_id: TenantId::from(id),
        domain: "*".into(),
        secret: format!("secret-{id}"),
        created_at: T0,
    };
    store.create_tenant(&tenant, &wildcard).await.unwrap();
    tenant.id
}

/// Registers `token` and acknowledges it for `tenant`, as the setup page does.
pub async fn validated_token(store: &dyn Store, tenant: &TenantId, token: &str) -> TokenRecord {
    let pending = store
        .register_token(&TokenRecord::pending(&token.into(), Millis(T0), 100))
        .await
        .unwrap();
    let mut record = pending;
    record.tenant_id = Some(tenant.clone());
    record.state = TokenState::Validated;
    record.acknowledged_at = Some(T0);
    store.save_token(&record, None, Millis(T0)).await.unwrap().0
}

/// The stored record of `token`, which must be there.
pub async fn stored_token(store: &dyn Store, token: &str) -> TokenRecord {
    store.token(&token.into()).await.unwrap().unwrap()
}

/// A comment as the comments API makes it (not stored).
pub fn new_comment(tenant: &TenantId, url_id: &str, text: &str) -> Comment {
    NewCommentInput {
        url_id: url_id.to_owned(),
        url: None,
        page_title: None,
        commenter_name: "Ann".into(),
        commenter_email: None,
        comment: text.to_owned(),
        parent_id: None,
        user_id: None,
        domain: None,
        meta: None,
        ..Default::default()
    }
    .into_comment(tenant, ids::object_id(), Millis(T0))
}

/// Creates a comment through `apply`; the stored comment.
pub async fn create(store: &dyn Store, tenant: &TenantId, url_id: &str, text: &str) -> Comment {
    store_new(store, tenant, new_comment(tenant, url_id, text)).await
}

/// Stores `c` as a new comment through `apply` at [`T0`]; the stored comment.
pub async fn store_new(store: &dyn Store, tenant: &TenantId, c: Comment) -> Comment {
    store
        .apply(tenant, Change::CreateComment(Box::new(c)), Millis(T0))
        .await
        .unwrap()
        .comment
        .unwrap()
}

/// Edits a comment's text through `apply`.
pub async fn edit(store: &dyn Store, tenant: &TenantId, id: &str, text: &str, now: i64) -> Applied {
    let patch = CommentPatch {
        comment: Some(text.to_owned()),
        ..Default::default()
    };
    store
        .apply(
            tenant,
            Change::UpdateComment {
                id: id.to_owned(),
                patch: Box::new(patch),
            },
            Millis(now),
        )
        .await
        .unwrap()
}

/// A comment as a plugin uploads it, on thread `/page`.
pub fn upload(external_id: &str, text: &str) -> UploadComment {
    UploadComment {
        external_id: Some(external_id.to_owned()),
        url_id: Some("/page".into()),
        commenter_name: Some("Bob".into()),
        comment: text.to_owned(),
        date: Some(Millis(T0 - 86_400_000)),
        ..Default::default()
    }
}

pub fn batch(tenant: &TenantId, token: &str, comments: Vec<UploadComment>) -> UploadBatch {
    UploadBatch {
        tenant_id: tenant.clone(),
        token: token.into(),
        comments,
        finishes_upload: false,
    }
}

/// The whole timeline of `tenant` as `viewer` sees it, setup entries included.
pub fn everything(tenant: &TenantId, viewer: &str) -> TimelineQuery {
    TimelineQuery {
        tenant_id: tenant.clone(),
        viewer_token: viewer.into(),
        after_ms: 0,
        until_ms: None,
        limit: 100_000,
        include_setup: true,
    }
}

pub async fn timeline(store: &dyn Store, tenant: &TenantId, viewer: &str) -> Vec<TimelineEntry> {
    store
        .read_timeline(&everything(tenant, viewer))
        .await
        .unwrap()
}

/// Entry kinds, as stored text.
pub fn kinds(entries: &[TimelineEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.kind.as_str()).collect()
}

/// The comment an entry's payload carries (comment events, and vote events with their
/// comment).
pub fn payload_comment(entry: &TimelineEntry) -> Option<Comment> {
    let EntryKind::Event(kind) = entry.kind else {
        return None;
    };
    let split = EventPayload::split(kind, entry.payload.as_deref()).unwrap();
    split
        .comment
        .map(|raw| serde_json::from_str(raw.get()).unwrap())
}

/// The vote a vote event's payload carries.
pub fn payload_vote(entry: &TimelineEntry) -> Option<Vote> {
    let EntryKind::Event(kind) = entry.kind else {
        return None;
    };
    assert!(matches!(kind, EventType::NewVote | EventType::DeletedVote));
    let split = EventPayload::split(kind, entry.payload.as_deref()).unwrap();
    split
        .vote
        .map(|raw| serde_json::from_str(raw.get()).unwrap())
}

/// A vote on `comment` (not stored).
pub fn vote(comment: &Comment, user: Option<&str>, direction: VoteDirection) -> Vote {
    Vote {
        id: ids::object_id(),
        comment_id: comment.id.clone(),
        comment_external_id: None,
        tenant_id: comment.tenant_id.clone(),
        url_id: comment.url_id.clone(),
        user_id: user.map(str::to_owned),
        direction,
        created_at: Millis(T0),
        extra: Extra::new(),
    }
}

/// Casts a vote through `apply`.
pub async fn cast(store: &dyn Store, vote: &Vote, now: i64) -> Applied {
    store
        .apply(
            &TenantId::from(vote.tenant_id.as_str()),
            Change::AddVote(Box::new(vote.clone())),
            Millis(now),
        )
        .await
        .unwrap()
}

/// A configuration with a target for every kind, at `<base>/create|update|delete`.
pub fn hooks(domain: &str, base: &str, fire_on_import: bool) -> WebhookConfig {
    let target = |kind: &str, method| {
        Some(WebhookTarget {
            url: format!("{base}/{kind}"),
            method,
        })
    };
    WebhookConfig {
        domain: domain.to_owned(),
        create: target("create", HttpMethod::Put),
        update: target("update", HttpMethod::Put),
        delete: target("delete", HttpMethod::Delete),
        legacy_token_header: false,
        fire_on_import,
    }
}

/// Saves `config` for `tenant` at [`T0`].
pub async fn configure(store: &dyn Store, tenant: &TenantId, config: &WebhookConfig) {
    store
        .put_webhook_config(tenant, config, Millis(T0))
        .await
        .unwrap();
}

/// Creates tenant `id` (as [`tenant`]) with the `*` configuration at `https://hooks.example`
/// (as [`hooks`]): its deliveries are of the stream `""`.
pub async fn with_hooks(store: &dyn Store, id: &str) -> TenantId {
    let t = tenant(store, id).await;
    configure(store, &t, &hooks("*", "https://hooks.example", false)).await;
    t
}

/// A subscription of `tenant` to every kind on every domain, enabled (not stored).
pub fn subscription(id: &str, tenant: &TenantId, url: &str) -> Subscription {
    Subscription {
        id: id.to_owned(),
        tenant_id: tenant.to_owned(),
        url: url.to_owned(),
        method: None,
        kinds: WebhookEventKind::ALL.to_vec(),
        domains: vec!["*".to_owned()],
        fire_on_import: false,
        created_at: T0,
        failing_since: None,
        disabled_at: None,
        disabled_reason: None,
    }
}

/// Deletes a comment through `apply`.
pub async fn delete(store: &dyn Store, tenant: &TenantId, id: &str, now: i64) -> Applied {
    store
        .apply(
            tenant,
            Change::DeleteComment { id: id.to_owned() },
            Millis(now),
        )
        .await
        .unwrap()
}

/// A claim at `now` of at most 100, at most 100 per host, nothing skipped, a one-minute lease.
pub fn claim(now: i64) -> DueQuery<'static> {
    DueQuery {
        now: Millis(now),
        limit: 100,
        per_host: 100,
        exclude: &[],
        skip_hosts: &[],
        skip_tenants: &[],
        skip_subscriptions: &[],
        lease_ms: 60_000,
    }
}

/// The ids of what a claim hands out, in its order.
pub async fn claimed_ids(store: &dyn Store, q: &DueQuery<'_>) -> Vec<String> {
    let due = store.due_deliveries(q).await.unwrap();
    due.into_iter().map(|d| d.id).collect()
}

/// What the dispatcher records after attempt `n` of `delivery`.
pub fn outcome(
    delivery: &Delivery,
    n: i64,
    status: DeliveryStatus,
    next_attempt_at: i64,
) -> AttemptOutcome {
    AttemptOutcome {
        attempt: DeliveryAttempt {
            delivery_id: delivery.id.clone(),
            attempt: n,
            at: T0 + n,
            url: delivery.url.clone(),
            method: delivery.method.as_str().to_owned(),
            status_code: Some(if status == DeliveryStatus::Succeeded {
                200
            } else {
                500
            }),
            response_body: Some(format!("answer {n}")),
            duration_ms: 3,
            error: (status != DeliveryStatus::Succeeded).then(|| "status 500".to_owned()),
        },
        status,
        next_attempt_at,
    }
}

/// Cancels delivery `id` at `now`; the delivery as it is then.
pub async fn cancel(store: &dyn Store, tenant: &TenantId, id: &str, now: i64) -> Delivery {
    store
        .cancel_delivery(tenant, id, Millis(now))
        .await
        .unwrap()
}

/// The newest delivery of comment `comment_id`.
pub async fn newest_delivery_of(
    store: &dyn Store,
    tenant: &TenantId,
    comment_id: &str,
) -> Delivery {
    store
        .deliveries(tenant, None, Some(comment_id), 1)
        .await
        .unwrap()
        .remove(0)
}

/// Records the attempts' outcomes at `now`, as the dispatcher does.
pub async fn record(store: &dyn Store, outcomes: &[AttemptOutcome], now: i64) {
    store.record_attempts(outcomes, Millis(now)).await.unwrap();
}

/// A tenant's deliveries, oldest first.
pub async fn deliveries_oldest_first(store: &dyn Store, tenant: &TenantId) -> Vec<Delivery> {
    let mut all = store.deliveries(tenant, None, None, 10_000).await.unwrap();
    all.reverse();
    all
}
