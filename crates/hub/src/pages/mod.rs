//! The admin pages at `/admin`: server-rendered HTML (askama templates under
//! `templates/admin/`, escaped by default) over the same [`Hub`] and store calls the JSON API
//! makes, so a change made here gets its timeline entry and webhook as one made through the
//! API does.
//!
//! Every request passes [`guard`]: it finds the session ([`session`]), refuses a `POST`
//! without the session's CSRF token ([`csrf`]) and adds headers that keep the pages from being
//! framed, cached or made to load anything from elsewhere. Pages, one file each: [`sign_in`]
//! (and the operator's tenant list), [`integrations`], [`comments`], [`webhooks`],
//! [`subscriptions`], [`deliveries`], [`secrets`], [`imports`]; [`assets`] serves the stylesheet
//! and the one small script.

pub mod assets;
pub mod comments;
pub mod csrf;
pub mod deliveries;
pub mod imports;
pub mod integrations;
pub mod recover;
pub mod secrets;
pub mod session;
pub mod sign_in;
pub mod subscriptions;
pub mod webhooks;

use crate::error::ApiError;
use crate::hub::Hub;
use crate::ids::TenantId;
use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use session::{Flash, Principal, Session, Sessions};
use std::net::IpAddr;
use std::sync::Arc;

/// Where the pages live (the session cookie's path).
pub const BASE: &str = "/admin";

/// State of the pages' router.
#[derive(Clone)]
pub struct PageState {
    /// The hub.
    pub hub: Arc<Hub>,
    /// Its admin sessions.
    pub sessions: Arc<Sessions>,
}

/// The admin pages, to be nested at [`BASE`].
pub fn router(hub: Arc<Hub>) -> Router<Arc<Hub>> {
    let state = PageState {
        hub: hub.clone(),
        sessions: Arc::new(Sessions::new(hub.session_store())),
    };
    Router::new()
        .route("/", get(sign_in::home))
        .route("/sign-in", get(sign_in::show).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/tenants", get(sign_in::tenants))
        .route("/tenants/open", post(sign_in::open_tenant))
        .route("/integrations", get(integrations::show))
        .route("/integrations.json", get(integrations::progress))
        .route("/integrations/acknowledge", post(integrations::acknowledge))
        .route("/integrations/resync", post(integrations::resync))
        .route("/integrations/revoke", post(integrations::revoke))
        .route("/comments", get(comments::show))
        .route("/comments/{id}/{action}", post(comments::act))
        .route("/webhooks", get(webhooks::show).post(webhooks::save))
        .route("/webhooks/test", post(webhooks::test))
        .route("/webhooks/recover", post(recover::config))
        .route(
            "/subscriptions",
            get(subscriptions::show).post(subscriptions::add),
        )
        .route("/subscriptions/{id}/recover", post(recover::subscription))
        .route("/subscriptions/{id}/{action}", post(subscriptions::act))
        .route("/deliveries", get(deliveries::list))
        .route("/deliveries/counts.json", get(deliveries::counts))
        .route("/deliveries/retry-failed", post(deliveries::retry_failed))
        .route("/deliveries/{id}", get(deliveries::show))
        .route("/deliveries/{id}/{action}", post(deliveries::act))
        .route("/secrets", get(secrets::show).post(secrets::create))
        .route("/secrets/{id}/delete", post(secrets::delete))
        .route("/imports", get(imports::list).post(imports::upload))
        .route("/imports/{id}", get(imports::show))
        .route("/assets/admin.css", get(assets::css))
        .route("/assets/admin.js", get(assets::js))
        .fallback(not_found_page)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

// ---------- the guard ----------

/// What [`guard`] learnt about the request, for the handlers.
#[derive(Debug, Clone)]
pub struct Current {
    /// The live session, if the cookie named one.
    pub session: Option<Session>,
    /// The sign-in form's token, if the cookie holds one instead of a session.
    pub sign_in_token: Option<String>,
    /// The request came over HTTPS (directly or, as a proxy says, `X-Forwarded-Proto`).
    pub secure: bool,
    /// The client's address (the peer; behind a proxy, the proxy's).
    pub client: IpAddr,
}

impl<S: Send + Sync> FromRequestParts<S> for Current {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Current, Response> {
        parts
            .extensions
            .get::<Current>()
            .cloned()
            .ok_or_else(|| ApiError::internal().into_response())
    }
}

/// Where the sign-in form is posted.
const SIGN_IN_PATH: &str = "/admin/sign-in";
/// Where the Import form is posted (its CSRF token in the URL, its body a file).
const UPLOAD_PATH: &str = "/admin/imports";

/// The session id the request's cookie names.
fn session_cookie(parts: &axum::http::HeaderMap) -> Option<String> {
    parts
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == session::COOKIE)
        .map(|c| c.value().to_owned())
}

/// Finds the session, checks the CSRF token of every `POST`, and adds the pages' headers.
async fn guard(State(state): State<PageState>, mut req: Request, next: Next) -> Response {
    let now = state.hub.now().0;
    // The pages' background polls (`*.json`) are not a person using the session.
    let used = !req.uri().path().ends_with(".json");
    let cookie = session_cookie(req.headers());
    // The sign-in form's own token (no session behind it, nothing stored).
    let sign_in_token = cookie
        .as_deref()
        .and_then(session::sign_in_token)
        .map(str::to_owned);
    let session = match cookie.filter(|_| sign_in_token.is_none()) {
        Some(id) => match state.sessions.touch(&id, now, used).await {
            Ok(s) => s,
            Err(e) => return with_page_headers(error_page(e.into())),
        },
        None => None,
    };
    let secure = req.uri().scheme_str() == Some("https")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    // Behind a trusted proxy, each client behind it is throttled on its own.
    let client = crate::client_addr::of_request(
        req.extensions(),
        req.headers(),
        &state.hub.config.connections.trusted_proxies,
    );
    if req.method() == Method::POST {
        // The sign-in form checks its own token; every other form its session's.
        let expected = match (&session, &sign_in_token) {
            (Some(s), _) => Some(s.csrf.as_str()),
            (None, Some(t)) if matches!(req.uri().path(), "/sign-in" | SIGN_IN_PATH) => {
                Some(t.as_str())
            }
            _ => None,
        };
        if matches!(req.uri().path(), "/imports" | UPLOAD_PATH) {
            // An upload's body may be gigabytes: its token is checked from the head alone,
            // and the body is left to the handler to stream to disk.
            if let Err(why) = csrf::verify_upload(req.headers(), req.uri().query(), expected) {
                return with_page_headers(refused(why));
            }
        } else {
            match csrf::verify(req, expected, state.hub.config.body_limit_bytes).await {
                Ok(checked) => req = checked,
                Err(why) => return with_page_headers(refused(why)),
            }
        }
    }
    req.extensions_mut().insert(Current {
        session,
        sign_in_token,
        secure,
        client,
    });
    with_page_headers(next.run(req).await)
}

/// Headers of every admin response: nothing framed, cached, sniffed or loaded from elsewhere.
fn with_page_headers(res: Response) -> Response {
    crate::page_headers::secure(res)
}

/// The 403 page of a refused `POST`.
fn refused(why: csrf::Refusal) -> Response {
    let text = match why {
        csrf::Refusal::NoSession => {
            "Your session has ended (or this browser never had one). Open the page again and repeat what you did."
        }
        csrf::Refusal::BadToken => {
            "This form did not come from a page of this session, so it was not carried out. Open the page again and repeat what you did."
        }
        csrf::Refusal::BadBody => "The form could not be read.",
        csrf::Refusal::CrossSite => {
            "This form was sent from another site, so it was not carried out. Open the page again and repeat what you did."
        }
    };
    message_page(StatusCode::FORBIDDEN, "Refused", text)
}

// ---------- who is signed in ----------

/// A signed-in admin acting on a tenant (a tenant page gets one in its [`TenantPage`]).
#[derive(Debug, Clone)]
pub struct Admin {
    /// The session.
    pub session: Session,
    /// The tenant whose pages these are.
    pub tenant_id: TenantId,
    /// The one-time message for this page.
    pub flash: Option<Flash>,
}

impl Admin {
    /// The API's proof of tenant, for calling an API handler on this admin's behalf. Admin
    /// sessions are signed in with the All Domains secret (or by the operator), so they act
    /// on the whole tenant.
    pub fn tenant_auth(&self) -> crate::hub::access::TenantAuth {
        crate::hub::access::TenantAuth {
            tenant_id: self.tenant_id.clone(),
            scope: crate::hub::access::SecretScope::AllDomains,
        }
    }
}

/// What every tenant page's handler takes: the pages' state and the signed-in admin, which
/// its helpers ([`redirect_with`], [`after_action`], …) take together too. Without a session
/// it redirects to the sign-in page; an operator who opened no tenant goes to the tenant list.
pub struct TenantPage {
    /// The pages' state.
    pub state: PageState,
    /// Who is signed in, and the tenant the page is for.
    pub admin: Admin,
}

impl FromRequestParts<PageState> for TenantPage {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &PageState,
    ) -> Result<TenantPage, Response> {
        let current = Current::from_request_parts(parts, state).await?;
        let session = signed_in(state, current.session).await?;
        let tenant_id = match session.tenant() {
            Some(t) => t.clone(),
            None => return Err(Redirect::to("/admin/tenants").into_response()),
        };
        // A page's background poll must not swallow the message meant for the next page.
        let flash = if parts.uri.path().ends_with(".json") {
            None
        } else {
            state
                .sessions
                .take_flash(&session)
                .await
                .map_err(|e| error_page(e.into()))?
        };
        Ok(TenantPage {
            state: state.clone(),
            admin: Admin {
                session,
                tenant_id,
                flash,
            },
        })
    }
}

/// The session if someone signed in with it (and, for a tenant admin, the secret used still
/// exists); else a redirect to the sign-in page.
async fn signed_in(state: &PageState, session: Option<Session>) -> Result<Session, Response> {
    let to_sign_in = || Redirect::to("/admin/sign-in").into_response();
    let session = session.ok_or_else(to_sign_in)?;
    match &session.principal {
        Principal::Anonymous => Err(to_sign_in()),
        Principal::Operator { .. } => Ok(session),
        Principal::Tenant {
            tenant_id,
            secret_id,
        } => {
            let secrets = state
                .hub
                .reads()
                .list_secrets(tenant_id)
                .await
                .map_err(|e| error_page(e.into()))?;
            if secrets.iter().any(|s| &s.id == secret_id) {
                Ok(session)
            } else {
                // The secret was deleted: whoever held it has no business here any more.
                state
                    .sessions
                    .end(&session.id)
                    .await
                    .map_err(|e| error_page(e.into()))?;
                Err(to_sign_in())
            }
        }
    }
}

/// The bar on top of every signed-in page.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The session's CSRF token, for the sign-out form and every other form.
    pub csrf: String,
    /// Which page is shown (its nav entry is marked).
    pub active: &'static str,
    /// The tenant the pages act on.
    pub tenant: TenantId,
    /// Signed in as the operator.
    pub operator: bool,
    /// A message from the last action.
    pub notice: Option<Notice>,
    /// The hub's version.
    pub version: &'static str,
}

/// A message shown on top of a page.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Whether it reports success.
    pub ok: bool,
    /// The text.
    pub text: String,
}

impl Layout {
    /// The layout of `admin`'s page `active`, with the message left for it.
    pub fn new(admin: &Admin, active: &'static str) -> Layout {
        let notice = match &admin.flash {
            Some(Flash::Done(t)) => Some(Notice {
                ok: true,
                text: t.clone(),
            }),
            Some(Flash::Failed(t)) => Some(Notice {
                ok: false,
                text: t.clone(),
            }),
            _ => None,
        };
        Layout {
            csrf: admin.session.csrf.clone(),
            active,
            tenant: admin.tenant_id.clone(),
            operator: matches!(admin.session.principal, Principal::Operator { .. }),
            notice,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// Shows an error message on this page (a form that failed without a redirect).
    pub fn with_error(mut self, text: impl Into<String>) -> Layout {
        self.notice = Some(Notice {
            ok: false,
            text: text.into(),
        });
        self
    }
}

/// Leaves a message for the next page and redirects there (after a `POST`).
pub async fn redirect_with(state: &PageState, admin: &Admin, flash: Flash, to: &str) -> Response {
    match state
        .sessions
        .update(&admin.session.id, |s| s.flash = Some(flash))
        .await
    {
        Ok(()) => Redirect::to(to).into_response(),
        Err(e) => error_page(e.into()),
    }
}

/// Where an action's POST ends: back to `back` with the notice `done` makes of what the action
/// answered, or what [`after_error`] makes of its refusal.
pub async fn after_action<T, E: Into<ApiError>>(
    state: &PageState,
    admin: &Admin,
    result: Result<T, E>,
    back: &str,
    done: impl FnOnce(T) -> String,
) -> Response {
    match result {
        Ok(value) => redirect_with(state, admin, Flash::Done(done(value)), back).await,
        Err(e) => after_error(state, admin, e.into(), back).await,
    }
}

/// What an action's error becomes: "not found" is the 404 page (another tenant's id looks
/// like no id at all); anything else a message on the page the action came from.
pub async fn after_error(state: &PageState, admin: &Admin, e: ApiError, back: &str) -> Response {
    if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
        return error_page(e);
    }
    redirect_with(state, admin, Flash::Failed(e.reason), back).await
}

// ---------- rendering ----------

/// Renders a template as a page with `status`.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering an admin page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A page with a heading and one paragraph (errors, refusals).
#[derive(Template)]
#[template(path = "admin/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
    version: &'static str,
}

/// A page with a heading and one paragraph.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            title,
            text,
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

/// The page of an error from the hub: its status and reason (a 5xx says nothing more).
pub fn error_page(e: ApiError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Refused",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    message_page(e.status, title, &e.reason)
}

async fn not_found_page() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no admin page at this address.",
    )
}

/// An instant for people: `2026-12-02 00:47:06 UTC`.
pub fn when(ms: i64) -> String {
    let iso = fastcomments_protocol::Millis(ms).to_iso();
    // `2026-12-02T00:47:06.123Z` → `2026-12-02 00:47:06 UTC`
    match iso.get(..19) {
        Some(head) => format!("{} UTC", head.replacen('T', " ", 1)),
        None => iso,
    }
}
