//! Pages: the hub's threads as objects (the hosted API's pages). A thread exists through its
//! comments' `urlId`; its page is the row that gives it a stable id, a title and a URL. One is
//! made when a thread's first comment is stored (by the API or an upload) or through the API.

/// A thread's page, with its comments counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Stable, whatever its `url_id` becomes.
    pub id: String,
    /// Owner.
    pub tenant_id: crate::ids::TenantId,
    /// The thread: the `urlId` of its comments.
    pub url_id: String,
    /// The page's URL.
    pub url: Option<String>,
    /// The page's title.
    pub title: Option<String>,
    /// Marked closed (the hub keeps the mark; it refuses no comment for it).
    pub is_closed: bool,
    /// Made, epoch ms.
    pub created_at: i64,
    /// Comments in the thread.
    pub comment_count: u64,
    /// Of them, those that reply to none.
    pub root_comment_count: u64,
}

/// What a thread's first comment tells of its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSeed<'a> {
    /// The thread.
    pub url_id: &'a str,
    /// The comment's page URL.
    pub url: Option<&'a str>,
    /// The comment's page title.
    pub title: Option<&'a str>,
}

impl<'a> PageSeed<'a> {
    /// What `c` tells of its thread's page.
    pub fn of(c: &'a fastcomments_protocol::Comment) -> PageSeed<'a> {
        PageSeed {
            url_id: &c.url_id,
            url: c.url.as_deref(),
            title: c.page_title.as_deref(),
        }
    }

    /// One seed per thread of `comments` (the first comment's), ordered by thread, so that
    /// writers making the same pages take their row locks in one order.
    pub fn of_threads(
        comments: impl IntoIterator<Item = &'a fastcomments_protocol::Comment>,
    ) -> Vec<PageSeed<'a>> {
        let mut seeds: std::collections::BTreeMap<&str, PageSeed<'a>> = Default::default();
        for c in comments {
            seeds
                .entry(c.url_id.as_str())
                .or_insert_with(|| PageSeed::of(c));
        }
        seeds.into_values().collect()
    }
}

/// Changes to a page's own fields (a new `urlId` moves its comments: see
/// [`crate::records::Change::MoveThread`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageChange {
    /// New title.
    pub title: Option<String>,
    /// New URL.
    pub url: Option<String>,
    /// Open or closed.
    pub is_closed: Option<bool>,
}

/// Most pages `StoreReads::pages` answers (the hosted API's list is not paged).
pub const PAGES_MAX: u64 = 10_000;
