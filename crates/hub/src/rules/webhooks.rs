//! Webhooks: the body a comment goes out as (SPEC §2.1).

use crate::ids::TenantId;
use fastcomments_protocol::{Comment, Extra};

/// The comment fields a webhook body carries under the same name and with the same value
/// (the comment's `_id` goes out as `id`).
pub const WEBHOOK_COMMENT_FIELDS: &[&str] = &[
    "urlId",
    "url",
    "userId",
    "commenterEmail",
    "commenterName",
    "comment",
    "commentHTML",
    "externalId",
    "parentId",
    "date",
    "votes",
    "votesUp",
    "votesDown",
    "verified",
    "reviewed",
    "avatarSrc",
    "isSpam",
    "aiDeterminedSpam",
    "hasImages",
    "approved",
    "locale",
    "mentions",
    "domain",
];

/// The webhook body for a comment (SPEC §2.1). Page numbers are not tracked by this hub and
/// are sent as 0.
pub fn webhook_comment(c: &Comment) -> fastcomments_protocol::WebhookComment {
    fastcomments_protocol::WebhookComment {
        id: c.id.clone(),
        url_id: c.url_id.clone(),
        url: c.url.clone(),
        user_id: c.user_id.clone(),
        commenter_email: c.commenter_email.clone(),
        commenter_name: c.commenter_name.clone(),
        comment: c.comment.clone(),
        comment_html: c.comment_html.clone(),
        external_id: c.external_id.clone(),
        parent_id: c.parent_id.clone(),
        date: c.date,
        votes: c.votes,
        votes_up: c.votes_up,
        votes_down: c.votes_down,
        verified: c.verified,
        verified_date: None,
        reviewed: c.reviewed,
        avatar_src: c.avatar_src.clone(),
        is_spam: c.is_spam,
        ai_determined_spam: c.ai_determined_spam,
        has_images: c.has_images,
        page_number: 0,
        page_number_of: 0,
        page_number_nf: 0,
        approved: c.approved,
        locale: c.locale.clone(),
        mentions: Some(c.mentions.clone()),
        domain: c.domain.clone(),
        moderation_group_ids: None,
        extra: Extra::new(),
    }
}

/// The webhook kind an API change fires: a vote changes its comment, so it is an update.
pub fn webhook_kind(change: &crate::records::Change) -> fastcomments_protocol::WebhookEventKind {
    use crate::records::Change;
    use fastcomments_protocol::WebhookEventKind as K;
    match change {
        Change::CreateComment(_) => K::Create,
        Change::DeleteComment { .. } | Change::DeleteThread { .. } => K::Delete,
        Change::UpdateComment { .. }
        | Change::MoveThread { .. }
        | Change::AddVote(_)
        | Change::DeleteVote { .. } => K::Update,
    }
}

/// The configuration for a comment's domain: its own, else the tenant's `*` one.
pub fn config_for<'a>(
    configs: &'a [crate::records::WebhookConfig],
    domain: Option<&str>,
) -> Option<&'a crate::records::WebhookConfig> {
    let host = domain.and_then(crate::site_domain::normalize_domain);
    host.and_then(|h| configs.iter().find(|c| c.domain == h))
        .or_else(|| configs.iter().find(|c| c.domain == "*"))
}

/// Where a comment change's webhook goes, or why it goes nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired<'a> {
    /// Queue a delivery to this target of this configuration.
    Send {
        /// The configuration that matched the comment's domain.
        config: &'a crate::records::WebhookConfig,
        /// Its target for the change's kind.
        target: &'a crate::records::WebhookTarget,
    },
    /// The tenant has configurations, but none for the comment's domain and no `*` one.
    NoConfigForDomain,
    /// The matching configuration has no target for this kind.
    NoTargetForKind,
    /// An imported comment, and the configuration does not fire on imports.
    ImportNotFired,
    /// The tenant has no webhook configuration at all.
    NotConfigured,
}

/// Decides where the webhook of a change of `kind` to `comment` goes (SPEC §2.1).
pub fn webhook_for<'a>(
    configs: &'a [crate::records::WebhookConfig],
    kind: fastcomments_protocol::WebhookEventKind,
    comment: &Comment,
    imported: bool,
) -> Fired<'a> {
    if configs.is_empty() {
        return Fired::NotConfigured;
    }
    let Some(config) = config_for(configs, comment.domain.as_deref()) else {
        return Fired::NoConfigForDomain;
    };
    if imported && !config.fire_on_import {
        return Fired::ImportNotFired;
    }
    match config.target(kind) {
        Some(target) => Fired::Send { config, target },
        None => Fired::NoTargetForKind,
    }
}

/// A delivery to queue for a comment change, decided before it is written.
#[derive(Debug, Clone)]
pub struct PlannedDelivery<'a> {
    /// Its id (`X-FastComments-Delivery`).
    pub id: String,
    /// The comment.
    pub comment: &'a Comment,
    /// The change's timeline position (per-comment order).
    pub position: i64,
    /// Create, update or delete.
    pub kind: fastcomments_protocol::WebhookEventKind,
    /// Where.
    pub url: String,
    /// How.
    pub method: fastcomments_protocol::HttpMethod,
    /// The configuration's domain, or the subscription's matching domain entry.
    pub config_domain: String,
    /// Send the legacy `token` header (configurations only).
    pub legacy_token: bool,
    /// The subscription, or empty for a configuration.
    pub subscription_id: String,
    /// `Queued`, or `Paused` for a disabled subscription (kept for when it is enabled).
    pub status: crate::records::DeliveryStatus,
    /// The exact body bytes.
    pub body: std::sync::Arc<str>,
}

/// The deliveries a batch of comment changes queues (`(kind, comment, position)` each): the
/// matching configuration's target, and one per matching subscription (fan-out); and how
/// many changes matched nothing while the tenant has configurations; the latter are logged at
/// debug, as a user will ask why nothing fired.
pub fn plan_deliveries<'a>(
    tenant: &TenantId,
    targets: &crate::records::WebhookTargets,
    changes: &[(fastcomments_protocol::WebhookEventKind, &'a Comment, i64)],
    imported: bool,
) -> Result<(Vec<PlannedDelivery<'a>>, usize), serde_json::Error> {
    use crate::records::DeliveryStatus;
    let mut planned = Vec::new();
    let mut unmatched = 0;
    for (kind, comment, position) in changes {
        let body: std::sync::Arc<str> = serde_json::to_string(&webhook_comment(comment))?.into();
        let mut fired = false;
        let mut queue =
            |url: &str, method, config_domain: &str, legacy_token, sub: &str, status| {
                planned.push(PlannedDelivery {
                    id: crate::ids::object_id(),
                    comment,
                    position: *position,
                    kind: *kind,
                    url: url.to_owned(),
                    method,
                    config_domain: config_domain.to_owned(),
                    legacy_token,
                    subscription_id: sub.to_owned(),
                    status,
                    body: body.clone(),
                });
            };
        let from_config = webhook_for(&targets.configs, *kind, comment, imported);
        if let Fired::Send { config, target } = from_config {
            fired = true;
            queue(
                &target.url,
                target.method,
                &config.domain,
                config.legacy_token_header,
                "",
                DeliveryStatus::Queued,
            );
        }
        for sub in &targets.subscriptions {
            if !sub.kinds.contains(kind) || (imported && !sub.fire_on_import) {
                continue;
            }
            let Some(matched) = sub.matching_domain(comment.domain.as_deref()) else {
                continue;
            };
            fired = true;
            let status = if sub.disabled_at.is_some() {
                DeliveryStatus::Paused
            } else {
                DeliveryStatus::Queued
            };
            queue(&sub.url, sub.method(), matched, false, &sub.id, status);
        }
        if !fired
            && matches!(
                from_config,
                Fired::NoConfigForDomain | Fired::NoTargetForKind
            )
        {
            tracing::debug!(tenant = tenant.as_str(), comment = %comment.id, domain = ?comment.domain, kind = kind.as_str(), "no webhook configuration or subscription matches this change");
            unmatched += 1;
        }
    }
    Ok((planned, unmatched))
}

/// `text` as an `http://` or `https://` URL with a host (what a webhook may be sent to).
pub fn http_url(text: &str) -> Option<url::Url> {
    url::Url::parse(text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// `text` as a method every one of `kinds` may be sent with, or why not.
pub fn method_for_kinds(
    text: &str,
    kinds: &[fastcomments_protocol::WebhookEventKind],
) -> Result<fastcomments_protocol::HttpMethod, String> {
    let method = fastcomments_protocol::HttpMethod::parse(text)
        .ok_or_else(|| format!("unknown method {text:?}"))?;
    match kinds.iter().find(|k| !k.allows(method)) {
        Some(k) => Err(format!(
            "{} webhooks cannot be sent with {}",
            k.as_str(),
            method.as_str()
        )),
        None => Ok(method),
    }
}
