//! What the comments API checks and keeps beside [`Hub::apply`]: flags (who flagged what,
//! counted per comment: the hosted API's flag and un-flag calls; a flag is not a change of the
//! comment, it adds no timeline entry and fires no webhook), and a new parent's place in its
//! thread.

use super::Hub;
use crate::error::{ApiError, ApiResult};
use crate::ids::TenantId;
use fastcomments_protocol::Comment;

/// Who flags: a site's user id, or an anonymous visitor's id. Kept apart by a prefix, so a
/// user id can never count as an anonymous id of the same text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flagger {
    /// `userId`.
    User(String),
    /// `anonUserId`.
    Anonymous(String),
}

impl Flagger {
    /// The flagger a request names: its `userId`, else its `anonUserId`; `None` when neither
    /// is given (a flag counts once per flagger, so one must be named).
    pub fn from_ids(user_id: Option<&str>, anon_user_id: Option<&str>) -> Option<Flagger> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        given(user_id)
            .map(Flagger::User)
            .or_else(|| given(anon_user_id).map(Flagger::Anonymous))
    }

    fn key(&self) -> String {
        match self {
            Flagger::User(id) => format!("u:{id}"),
            Flagger::Anonymous(id) => format!("a:{id}"),
        }
    }
}

impl Hub {
    /// Flags (`flagged`) or un-flags comment `id` for `flagger`; the comment's flag count
    /// after. `404` when the tenant has no such comment.
    pub async fn set_flag(
        &self,
        tenant: &TenantId,
        id: &str,
        flagger: &Flagger,
        flagged: bool,
    ) -> ApiResult<u64> {
        self.store
            .set_flag(tenant, id, &flagger.key(), flagged, self.now())
            .await?
            .ok_or_else(|| ApiError::not_found("comment"))
    }
}

/// How far up a thread [`Hub::check_new_parent`] looks for a loop: deeper threads are refused.
const MAX_DEPTH: usize = 1000;

impl Hub {
    /// Refuses to make `parent` the parent of comment `id`: `404` when the tenant has no such
    /// comment, `400` when it is `id` itself or one of its replies (a thread is a tree).
    pub async fn check_new_parent(
        &self,
        tenant: &TenantId,
        id: &str,
        parent: &str,
    ) -> ApiResult<()> {
        let mut at = parent.to_owned();
        for _ in 0..MAX_DEPTH {
            if at == id {
                return Err(ApiError::invalid_body(format!(
                    "parentId {parent:?} is this comment or one of its replies"
                )));
            }
            let c = self.store.comment(tenant, &at).await?;
            match c {
                None if at == parent => return Err(ApiError::not_found("parent comment")),
                Some(Comment {
                    parent_id: Some(up),
                    ..
                }) => at = up,
                _ => return Ok(()),
            }
        }
        Err(ApiError::invalid_body(format!(
            "the thread above parentId {parent:?} is deeper than {MAX_DEPTH}"
        )))
    }
}
