//! Records: what the hub keeps, one file per entity, with the small facts about them that need
//! nothing else (a token's state names, a delivery's states, a configuration's target for a
//! kind). They stand below everything: the rules (`crate::rules`), the store and the hub take
//! them; they take nothing of the hub but [`crate::site_domain`] and the ids of
//! [`crate::ids`] ([`TenantId`]). They are not wire types: the API and the pages show them
//! through their own.

pub mod comments;
pub mod deliveries;
pub mod imports;
pub mod notices;
pub mod pages;
pub mod sessions;
pub mod tenants;
pub mod timeline;
pub mod tokens;
pub mod webhooks;

pub use crate::ids::TenantId;
pub use comments::{Applied, Change, CommentPatch, CommentsQuery, UploadBatch, UploadOutcome};
pub use deliveries::{
    target_host, AttemptOutcome, Delivery, DeliveryAttempt, DeliveryCounts, DeliveryFilter,
    DeliveryStatus, DueQuery, RecoverTarget, Recovery, WebhookStats,
};
pub use imports::{ImportProblem, ImportRecord, ImportState};
pub use notices::Notice;
pub use pages::{Page, PageChange, PageSeed, PAGES_MAX};
pub use sessions::SessionRecord;
pub use tenants::{ApiSecret, SecretRetirement, Tenant};
pub use timeline::{
    EntryKind, EventPayload, NewEntry, TimelineBounds, TimelineEntry, TimelineQuery,
};
pub use tokens::{IntegrationToken, TokenRecord, TokenState};
pub use webhooks::{
    Subscription, WebhookConfig, WebhookTarget, WebhookTargets, MAX_SUBSCRIPTIONS,
    SUBSCRIPTION_DEFAULT_METHOD,
};
