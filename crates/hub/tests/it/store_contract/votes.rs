//! Votes (SPEC §1.2, README decisions): one vote per user and comment, replaced when it
//! turns, counts kept on the comment.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{Comment, Millis, VoteDirection};
use std::sync::Arc;

fn counts(c: &Comment) -> (i64, i64, i64) {
    (c.votes_up, c.votes_down, c.votes)
}

async fn stored(store: &dyn Store, c: &Comment) -> Comment {
    store
        .comment(&TenantId::from(c.tenant_id.as_str()), &c.id)
        .await
        .unwrap()
        .unwrap()
}

/// The same user voting the same way again keeps the earlier vote: no new vote, no event, no
/// webhook, counts unchanged.
pub async fn same_direction_keeps_the_earlier_vote(store: Arc<dyn Store>) {
    let t = with_hooks(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "votable").await;
    let first = vote(&c, Some("u1"), VoteDirection::Up);
    let applied = cast(&*store, &first, T0 + 1).await;
    assert_eq!(kinds_of(&applied), vec!["new-vote"]);
    assert_eq!(counts(&applied.comment.unwrap()), (1, 0, 1));
    let again = vote(&c, Some("u1"), VoteDirection::Up);
    let kept = cast(&*store, &again, T0 + 2).await;
    assert_eq!(kept.vote.unwrap().id, first.id);
    assert!(kept.entries.is_empty());
    assert_eq!(kept.deliveries, 0);
    assert_eq!(counts(&stored(&*store, &c).await), (1, 0, 1));
    assert!(store.vote(&t, &again.id).await.unwrap().is_none());
    assert!(store.vote(&t, &first.id).await.unwrap().is_some());
    assert_eq!(timeline(&*store, &t, "v").await.len(), 2);
}

fn kinds_of(applied: &Applied) -> Vec<&'static str> {
    applied.entries.iter().map(|e| e.kind.as_str()).collect()
}

/// Voting the other way replaces the vote: `deleted-vote` (the old one) then `new-vote`,
/// counts moved; other users' votes and anonymous ones count separately.
pub async fn other_direction_replaces_the_vote(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "votable").await;
    let up = vote(&c, Some("u1"), VoteDirection::Up);
    cast(&*store, &up, T0 + 1).await;
    let down = vote(&c, Some("u1"), VoteDirection::Down);
    let applied = cast(&*store, &down, T0 + 2).await;
    assert_eq!(kinds_of(&applied), vec!["deleted-vote", "new-vote"]);
    let events: Vec<(String, VoteDirection)> = applied
        .entries
        .iter()
        .map(|e| {
            let v = payload_vote(e).unwrap();
            (v.id, v.direction)
        })
        .collect();
    assert_eq!(
        events,
        vec![
            (up.id.clone(), VoteDirection::Up),
            (down.id.clone(), VoteDirection::Down)
        ]
    );
    assert_eq!(counts(&applied.comment.unwrap()), (0, 1, -1));
    assert_eq!(counts(&stored(&*store, &c).await), (0, 1, -1));
    assert!(store.vote(&t, &up.id).await.unwrap().is_none());
    let kept = store.vote(&t, &down.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.direction, kept.user_id.as_deref()),
        (VoteDirection::Down, Some("u1"))
    );
    assert_eq!(kept.comment_id, c.id);

    cast(&*store, &vote(&c, Some("u2"), VoteDirection::Up), T0 + 3).await;
    assert_eq!(counts(&stored(&*store, &c).await), (1, 1, 0));
    for i in 0..2 {
        cast(&*store, &vote(&c, None, VoteDirection::Up), T0 + 4 + i).await;
    }
    assert_eq!(counts(&stored(&*store, &c).await), (3, 1, 2));
}

/// Removing a vote takes its weight off the comment with a `deleted-vote`; it is gone after.
/// Deleting a comment deletes its votes; nothing votes on a deleted comment.
pub async fn deleting_votes_and_their_comment(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "votable").await;
    let v = vote(&c, Some("u1"), VoteDirection::Up);
    cast(&*store, &v, T0 + 1).await;
    let removed = store
        .apply(&t, Change::DeleteVote { id: v.id.clone() }, Millis(T0 + 2))
        .await
        .unwrap();
    assert_eq!(kinds_of(&removed), vec!["deleted-vote"]);
    assert_eq!(removed.vote.unwrap().id, v.id);
    assert_eq!(counts(&stored(&*store, &c).await), (0, 0, 0));
    let again = store
        .apply(&t, Change::DeleteVote { id: v.id.clone() }, Millis(T0 + 3))
        .await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");

    let other = vote(&c, Some("u2"), VoteDirection::Down);
    cast(&*store, &other, T0 + 4).await;
    delete(&*store, &t, &c.id, T0 + 5).await;
    assert!(store.vote(&t, &other.id).await.unwrap().is_none());
    let late = vote(&c, Some("u3"), VoteDirection::Up);
    let late = store
        .apply(&t, Change::AddVote(Box::new(late)), Millis(T0 + 6))
        .await;
    assert!(matches!(late, Err(StoreError::NotFound(_))), "{late:?}");
}
