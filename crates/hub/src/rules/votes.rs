//! Votes: how a vote changes its comment's counts.

use fastcomments_protocol::{Comment, Vote, VoteDirection};

/// Adds (`sign = 1`) or removes (`sign = -1`) a vote's weight on its comment.
pub fn count_vote(comment: &mut Comment, direction: VoteDirection, sign: i64) {
    match direction {
        VoteDirection::Up => comment.votes_up = (comment.votes_up + sign).max(0),
        VoteDirection::Down => comment.votes_down = (comment.votes_down + sign).max(0),
    }
    comment.votes = comment.votes_up - comment.votes_down;
}

/// The vote as stored for a comment, with the comment's external id filled in.
pub fn vote_for(mut vote: Vote, comment: &Comment) -> Vote {
    vote.comment_external_id = comment.external_id.clone();
    vote.url_id = comment.url_id.clone();
    vote
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_never_go_negative() {
        let up = fastcomments_protocol::UploadComment {
            url_id: Some("p".into()),
            ..Default::default()
        };
        let mut c = crate::rules::merge_upload(
            None,
            &up,
            &"t".into(),
            "i",
            fastcomments_protocol::Millis(1),
        );
        count_vote(&mut c, VoteDirection::Down, -1);
        assert_eq!((c.votes, c.votes_down), (0, 0));
        count_vote(&mut c, VoteDirection::Up, 1);
        count_vote(&mut c, VoteDirection::Down, 1);
        assert_eq!((c.votes, c.votes_up, c.votes_down), (0, 1, 1));
    }
}

/// What casting `new` does, given the voter's earlier vote on the same comment (a user has one
/// vote per comment; anonymous votes never replace each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteAction {
    /// The earlier vote points the same way: keep it, write nothing.
    KeepPrior,
    /// The earlier vote points the other way: remove it (`deleted-vote`), then add the new one.
    ReplacePrior,
    /// No earlier vote: add the new one.
    Add,
}

/// The key under which a vote's voter has one vote per comment: the user's id, or for an
/// anonymous visitor named by the hosted API's `anonUserId` (kept in the vote's `extra`)
/// `anon:` and that id. `None`: a vote nobody can cast again (it never replaces another).
pub fn voter(vote: &Vote) -> Option<String> {
    let anon = vote.extra.get(ANON_USER_ID).and_then(|v| v.as_str());
    voter_key(vote.user_id.as_deref(), anon)
}

/// The voter key of a user id, else of an anonymous id (see [`voter`]).
pub fn voter_key(user_id: Option<&str>, anon_user_id: Option<&str>) -> Option<String> {
    match user_id {
        Some(user) => Some(user.to_owned()),
        None => anon_user_id
            .filter(|v| !v.is_empty())
            .map(|anon| format!("anon:{anon}")),
    }
}

/// Where a vote keeps the hosted API's anonymous voter id.
pub const ANON_USER_ID: &str = "anonUserId";

/// Decides [`VoteAction`] for `new` against `prior`, the same voter's vote on the comment.
pub fn vote_action(prior: Option<&Vote>, new: &Vote) -> VoteAction {
    match prior {
        Some(p) if voter(new).is_some() && voter(p) == voter(new) => {
            if p.direction == new.direction {
                VoteAction::KeepPrior
            } else {
                VoteAction::ReplacePrior
            }
        }
        _ => VoteAction::Add,
    }
}
