//! Pages: a thread's page made and changed through the API. Moving a page to another `urlId`
//! and deleting it are comment changes ([`Change::MoveThread`], [`Change::DeleteThread`]),
//! applied through [`Hub::apply`] so they are events and webhooks like any other.

use super::Hub;
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::ids::TenantId;
use crate::records::{Change, Page, PageChange};

/// A page the API is asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPage {
    /// The thread.
    pub url_id: String,
    /// The page's URL.
    pub url: Option<String>,
    /// The page's title.
    pub title: Option<String>,
}

impl Hub {
    /// Makes the page of thread `url_id` (`409` when it has one); the page as stored.
    pub async fn add_page(&self, tenant: &TenantId, new: NewPage) -> ApiResult<Page> {
        let page = Page {
            id: ids::object_id(),
            tenant_id: tenant.clone(),
            url_id: new.url_id,
            url: new.url,
            title: new.title,
            is_closed: false,
            created_at: self.now().0,
            comment_count: 0,
            root_comment_count: 0,
        };
        self.store.add_page(&page).await?;
        self.reads()
            .page(tenant, &page.id)
            .await?
            .ok_or_else(ApiError::internal)
    }

    /// Changes page `id`: its own fields, then, for a new `url_id`, moves its comments there
    /// (one update event and webhook each). The page after, and how many comments moved.
    pub async fn change_page(
        &self,
        tenant: &TenantId,
        id: &str,
        change: &PageChange,
        url_id: Option<String>,
    ) -> ApiResult<(Page, usize)> {
        let page = self
            .reads()
            .page(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("page"))?;
        if *change != PageChange::default() && !self.store.change_page(tenant, id, change).await? {
            return Err(ApiError::not_found("page"));
        }
        let mut moved = 0;
        if let Some(to) = url_id.filter(|to| *to != page.url_id) {
            let from = page.url_id.clone();
            moved = self
                .apply(tenant, Change::MoveThread { from, to })
                .await?
                .entries
                .len();
        }
        let page = self
            .reads()
            .page(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("page"))?;
        Ok((page, moved))
    }

    /// Deletes page `id` with every comment of its thread (one delete event and webhook each);
    /// how many comments went.
    pub async fn delete_page(&self, tenant: &TenantId, id: &str) -> ApiResult<usize> {
        let page = self
            .reads()
            .page(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("page"))?;
        let applied = self
            .apply(
                tenant,
                Change::DeleteThread {
                    url_id: page.url_id,
                },
            )
            .await?;
        Ok(applied.entries.len())
    }
}
