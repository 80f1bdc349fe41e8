//! Comments, newest first and paged (all of them, or only the flagged ones, with how many users
//! flagged each): approve, mark spam, edit, delete. Each change is a
//! [`Change`] through [`crate::hub::Hub::apply`], the call the comments API makes, so it gets its
//! timeline entry and webhook delivery the same way.

use super::{after_action, render, when, Layout, PageState, TenantPage};
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::records::{Change, CommentPatch, CommentsQuery};
use crate::rules;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use fastcomments_protocol::Comment;
use serde::Deserialize;

/// Comments per page.
pub const PAGE_SIZE: u64 = 20;

/// One comment as listed.
#[derive(Debug)]
pub struct Row {
    id: String,
    author: String,
    date: String,
    url_id: String,
    domain: String,
    text: String,
    approved: bool,
    spam: bool,
    votes: i64,
    /// Users who flagged it.
    flags: u64,
    /// The edit form failed: what was typed, and why it was refused.
    edit_error: Option<(String, String)>,
}

impl Row {
    fn of(c: Comment) -> Row {
        Row {
            author: c.commenter_name,
            date: when(c.date.0),
            url_id: c.url_id,
            domain: c.domain.unwrap_or_default(),
            text: c.comment,
            approved: c.approved,
            spam: c.is_spam,
            votes: c.votes,
            flags: 0,
            edit_error: None,
            id: c.id,
        }
    }
}

/// The comments page.
#[derive(Template)]
#[template(path = "admin/comments.html")]
struct CommentsPage {
    layout: Layout,
    rows: Vec<Row>,
    page: u64,
    pages: u64,
    total: u64,
    /// Only flagged comments are listed.
    flagged: bool,
    /// How many comments are flagged.
    flagged_total: u64,
}

/// `?page=` (0 is the newest), `&flagged=1` for the flagged comments only.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default, deserialize_with = "fastcomments_protocol::lenient::opt_int")]
    page: Option<i64>,
    #[serde(
        default,
        deserialize_with = "fastcomments_protocol::lenient::opt_boolean"
    )]
    flagged: Option<bool>,
}

/// Which comments a page lists.
#[derive(Debug, Clone, Copy)]
struct Listing {
    /// Page 0 is the newest.
    page: u64,
    /// Only the flagged ones.
    flagged: bool,
}

impl Listing {
    /// Where an action on this listing comes back to.
    fn url(self) -> String {
        match (self.page, self.flagged) {
            (0, false) => "/admin/comments".to_owned(),
            (p, false) => format!("/admin/comments?page={p}"),
            (p, true) => format!("/admin/comments?flagged=1&page={p}"),
        }
    }
}

/// The window of page `page` (0 newest) among `total` comments kept oldest first.
fn window(total: u64, page: u64) -> (u64, u64) {
    let end = total.saturating_sub(page.saturating_mul(PAGE_SIZE));
    let start = end.saturating_sub(PAGE_SIZE);
    (start, end - start)
}

async fn page(
    state: &PageState,
    layout: Layout,
    listing: Listing,
    edit_error: Option<(String, String, String)>,
    status: StatusCode,
) -> Response {
    let store = state.hub.reads();
    let tenant = layout.tenant.clone();
    let counts = async {
        Ok::<_, crate::store::StoreError>((
            store.count_comments(&tenant).await?,
            store.count_flagged(&tenant).await?,
        ))
    };
    let (all, flagged_total) = match counts.await {
        Ok(n) => n,
        Err(e) => return super::error_page(e.into()),
    };
    let total = if listing.flagged { flagged_total } else { all };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = listing.page.min(pages - 1);
    let comments = if listing.flagged {
        let query = CommentsQuery {
            skip: page.saturating_mul(PAGE_SIZE),
            limit: PAGE_SIZE,
            newest_first: true,
            flagged_only: true,
            ..CommentsQuery::default()
        };
        store.list_comments(&tenant, &query).await
    } else {
        let (skip, limit) = window(total, page);
        store
            .comments_page(&tenant, skip, limit)
            .await
            .map(|c| c.into_iter().rev().collect())
    };
    let comments = match comments {
        Ok(c) => c,
        Err(e) => return super::error_page(e.into()),
    };
    let ids: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    let flags = match store.flag_counts(&tenant, &ids).await {
        Ok(f) => f,
        Err(e) => return super::error_page(e.into()),
    };
    let mut rows: Vec<Row> = comments.into_iter().map(Row::of).collect();
    for r in &mut rows {
        r.flags = flags.get(&r.id).copied().unwrap_or(0);
    }
    if let Some((id, typed, why)) = edit_error {
        if let Some(r) = rows.iter_mut().find(|r| r.id == id) {
            r.edit_error = Some((typed, why));
        }
    }
    render(
        status,
        &CommentsPage {
            layout,
            rows,
            page,
            pages,
            total,
            flagged: listing.flagged,
            flagged_total,
        },
    )
}

/// `GET /admin/comments[?page=][&flagged=1]`.
pub async fn show(
    TenantPage { state, admin }: TenantPage,
    QueryParams(q): QueryParams<PageQuery>,
) -> Response {
    let listing = Listing {
        page: u64::try_from(q.page.unwrap_or(0)).unwrap_or(0),
        flagged: q.flagged.unwrap_or(false),
    };
    page(
        &state,
        Layout::new(&admin, "comments"),
        listing,
        None,
        StatusCode::OK,
    )
    .await
}

/// A posted comment action (`text` for an edit, `page` to come back to).
#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    page: Option<u64>,
    /// The listing was of the flagged comments.
    #[serde(default)]
    flagged: Option<String>,
}

/// `POST /admin/comments/{id}/{approve|unapprove|spam|not-spam|edit|delete}`.
pub async fn act(
    TenantPage { state, admin }: TenantPage,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActForm>,
) -> Response {
    let listing = Listing {
        page: form.page.unwrap_or(0),
        flagged: form.flagged.as_deref() == Some("1"),
    };
    let back = listing.url();
    let patch = |p: CommentPatch| Change::UpdateComment {
        id: id.clone(),
        patch: Box::new(p),
    };
    let (change, done) = match action.as_str() {
        "approve" => (
            patch(CommentPatch {
                approved: Some(true),
                reviewed: Some(true),
                ..Default::default()
            }),
            "approved",
        ),
        "unapprove" => (
            patch(CommentPatch {
                approved: Some(false),
                ..Default::default()
            }),
            "hidden (not approved)",
        ),
        "spam" => (
            patch(CommentPatch {
                is_spam: Some(true),
                approved: Some(false),
                reviewed: Some(true),
                ..Default::default()
            }),
            "marked as spam",
        ),
        "not-spam" => (
            patch(CommentPatch {
                is_spam: Some(false),
                ..Default::default()
            }),
            "marked as not spam",
        ),
        "edit" => {
            let text = form.text.clone().unwrap_or_default();
            let p = CommentPatch {
                comment: Some(text.clone()),
                ..Default::default()
            };
            if let Err(why) = rules::validate_patch(&p) {
                let layout = Layout::new(&admin, "comments");
                return page(
                    &state,
                    layout,
                    listing,
                    Some((id, text, why)),
                    StatusCode::BAD_REQUEST,
                )
                .await;
            }
            (patch(p), "edited")
        }
        "delete" => (Change::DeleteComment { id: id.clone() }, "deleted"),
        _ => return super::error_page(ApiError::not_found("action")),
    };
    let applied = state.hub.apply(&admin.tenant_id, change).await;
    after_action(&state, &admin, applied, &back, |_| {
        format!("Comment {id} {done}.")
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::{window, PAGE_SIZE};

    #[test]
    fn pages_count_from_the_newest() {
        assert_eq!(window(0, 0), (0, 0));
        assert_eq!(window(5, 0), (0, 5));
        assert_eq!(window(PAGE_SIZE + 5, 0), (5, PAGE_SIZE));
        assert_eq!(window(PAGE_SIZE + 5, 1), (0, 5));
        assert_eq!(window(PAGE_SIZE + 5, 9), (0, 0));
    }
}
