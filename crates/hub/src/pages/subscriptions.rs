//! Subscriptions: the tenant's webhook subscriptions (`/api/v1/webhooks`: a URL, a method,
//! the kinds and domains it wants), several per kind where the per-domain form of
//! [`super::webhooks`] holds one. Listed with their state (sending, failing since, disabled and
//! why), added, disabled, enabled again (paused deliveries resume in order) and deleted. Each
//! action is the one the API calls ([`Hub::subscribe`](crate::hub::Hub::subscribe) and its
//! neighbours in [`crate::hub::webhooks`]), so the rules are the same.

use super::session::Flash;
use super::{after_error, redirect_with, render, when, Layout, PageState, TenantPage};
use crate::error::ApiError;
use crate::hub::webhooks::{Field, SubscriptionRequest};
use crate::records::{Subscription, MAX_SUBSCRIPTIONS, SUBSCRIPTION_DEFAULT_METHOD};
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use fastcomments_protocol::{HttpMethod, WebhookEventKind};
use serde::Deserialize;

/// A subscription as listed.
#[derive(Debug)]
pub struct Row {
    id: String,
    url: String,
    method: String,
    events: String,
    domains: String,
    import: bool,
    created: String,
    enabled: bool,
    /// "disabled since … (why)" or "failing since …".
    state_note: Option<String>,
}

impl From<&Subscription> for Row {
    fn from(s: &Subscription) -> Row {
        let state_note = match (s.disabled_at, s.failing_since) {
            (Some(at), _) => Some(format!(
                "disabled {}{}",
                when(at),
                s.disabled_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            (None, Some(since)) => Some(format!("every attempt failed since {}", when(since))),
            (None, None) => None,
        };
        Row {
            id: s.id.clone(),
            url: s.url.clone(),
            method: s
                .method
                .map(|m| m.as_str().to_owned())
                .unwrap_or_else(|| format!("{} (default)", SUBSCRIPTION_DEFAULT_METHOD.as_str())),
            events: s
                .kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            domains: s
                .domains
                .iter()
                .map(|d| if d == "*" { "all" } else { d.as_str() })
                .collect::<Vec<_>>()
                .join(", "),
            import: s.fire_on_import,
            created: when(s.created_at),
            enabled: s.disabled_at.is_none(),
            state_note,
        }
    }
}

/// The add form, as typed, with an error beside the field it is about.
#[derive(Debug, Default)]
pub struct AddForm {
    url: String,
    method: String,
    create: bool,
    update: bool,
    delete: bool,
    domains: String,
    import: bool,
    url_error: Option<String>,
    method_error: Option<String>,
    events_error: Option<String>,
    domains_error: Option<String>,
}

impl AddForm {
    fn blank() -> AddForm {
        AddForm {
            create: true,
            update: true,
            delete: true,
            domains: "*".into(),
            ..AddForm::default()
        }
    }
}

/// The subscriptions page.
#[derive(Template)]
#[template(path = "admin/subscriptions.html")]
struct SubscriptionsPage {
    layout: Layout,
    rows: Vec<Row>,
    max: usize,
    methods: Vec<&'static str>,
    owned: Vec<String>,
    form: AddForm,
}

async fn page(state: &PageState, layout: Layout, form: AddForm, status: StatusCode) -> Response {
    let store = state.hub.reads();
    let (subs, tenant) = match (
        store.subscriptions(&layout.tenant).await,
        store.tenant(&layout.tenant).await,
    ) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => return super::error_page(e.into()),
    };
    render(
        status,
        &SubscriptionsPage {
            layout,
            rows: subs.iter().map(Row::from).collect(),
            max: MAX_SUBSCRIPTIONS,
            methods: [HttpMethod::Put, HttpMethod::Delete]
                .iter()
                .map(|m| m.as_str())
                .collect(),
            owned: tenant.map(|t| t.domains).unwrap_or_default(),
            form,
        },
    )
}

/// `GET /admin/subscriptions`.
pub async fn show(TenantPage { state, admin }: TenantPage) -> Response {
    page(
        &state,
        Layout::new(&admin, "subscriptions"),
        AddForm::blank(),
        StatusCode::OK,
    )
    .await
}

/// The posted add form (checkboxes are present only when ticked).
#[derive(Debug, Deserialize)]
pub struct AddInput {
    #[serde(default)]
    url: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    create: Option<String>,
    #[serde(default)]
    update: Option<String>,
    #[serde(default)]
    delete: Option<String>,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    import: Option<String>,
}

impl AddInput {
    fn as_typed(&self) -> AddForm {
        AddForm {
            url: self.url.clone(),
            method: self.method.clone(),
            create: self.create.is_some(),
            update: self.update.is_some(),
            delete: self.delete.is_some(),
            domains: self.domains.clone(),
            import: self.import.is_some(),
            ..AddForm::default()
        }
    }

    fn to_request(&self) -> SubscriptionRequest {
        let ticked = [
            (WebhookEventKind::Create, &self.create),
            (WebhookEventKind::Update, &self.update),
            (WebhookEventKind::Delete, &self.delete),
        ];
        let domains: Vec<String> = self
            .domains
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect();
        SubscriptionRequest {
            url: self.url.clone(),
            method: Some(self.method.trim())
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            kinds: ticked
                .iter()
                .filter(|(_, on)| on.is_some())
                .map(|(k, _)| k.as_str().to_owned())
                .collect(),
            // An empty field means every domain, as the API's default does.
            domains: if domains.is_empty() {
                vec!["*".to_owned()]
            } else {
                domains
            },
            fire_on_import: self.import.is_some(),
        }
    }
}

/// `POST /admin/subscriptions`: adds one (the same one twice: the first is kept).
pub async fn add(TenantPage { state, admin }: TenantPage, Form(input): Form<AddInput>) -> Response {
    match state
        .hub
        .subscribe(&admin.tenant_id, input.to_request())
        .await
    {
        Ok((s, created)) => {
            let text = if created {
                format!("Subscribed {}.", s.url)
            } else {
                format!("{} was already subscribed so: nothing changed.", s.url)
            };
            redirect_with(
                &state,
                &admin,
                Flash::Done(text),
                &format!("/admin/subscriptions#s-{}", s.id),
            )
            .await
        }
        Err(r) if r.error.status.is_client_error() => {
            let mut form = input.as_typed();
            let reason = r.error.reason;
            let mut layout = Layout::new(&admin, "subscriptions");
            match r.field {
                Field::Url => form.url_error = Some(reason),
                Field::Method => form.method_error = Some(reason),
                Field::Events => form.events_error = Some(reason),
                Field::Domains => form.domains_error = Some(reason),
                Field::Target(_) | Field::Whole => layout = layout.with_error(reason),
            }
            if layout.notice.is_none() {
                layout = layout.with_error("Not added: see the form.");
            }
            page(&state, layout, form, r.error.status).await
        }
        Err(r) => super::error_page(r.error),
    }
}

/// `POST /admin/subscriptions/{id}/{action}`: `disable`, `enable` or `delete`. Another
/// tenant's id is not found, as no id at all.
pub async fn act(
    TenantPage { state, admin }: TenantPage,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let (hub, tenant) = (&state.hub, &admin.tenant_id);
    let (done, result) = match action.as_str() {
        "disable" | "enable" => {
            let enabled = action == "enable";
            let done = if enabled {
                "Enabled: its paused deliveries go out first, in their order."
            } else {
                "Disabled: its deliveries wait, paused, until it is enabled again."
            };
            let result = hub
                .set_subscription_enabled(tenant, &id, enabled)
                .await
                .map(|_| ())
                .map_err(ApiError::from);
            (done, result)
        }
        "delete" => (
            "Deleted: its waiting deliveries were cancelled.",
            hub.unsubscribe(tenant, &id).await.map(|_| ()),
        ),
        _ => return super::error_page(ApiError::not_found("action")),
    };
    match result {
        Ok(()) => {
            redirect_with(
                &state,
                &admin,
                Flash::Done(done.to_owned()),
                "/admin/subscriptions",
            )
            .await
        }
        Err(e) => after_error(&state, &admin, e, "/admin/subscriptions").await,
    }
}
