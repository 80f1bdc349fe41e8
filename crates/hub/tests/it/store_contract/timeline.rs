//! The timeline (SPEC §1.2, ARCHITECTURE invariants): positions, payloads as of the event,
//! visibility, pruning.

use super::fixtures::*;
use fastcomments_hub::records::*;
use fastcomments_hub::store::*;
use fastcomments_protocol::{Millis, VoteDirection};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::task::JoinSet;

/// Many tasks write one tenant at once through `apply`, `upload` and `save_token` (on a
/// backend with a pool, over several connections), with a clock that stalls and steps back.
/// Every entry gets its own position, at or after its `now`; and a reader tailing the
/// timeline meanwhile, cursor = the last position it saw, misses and repeats nothing: one
/// tenant's entries commit in position order.
pub async fn positions_strictly_increase_under_concurrent_writers(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let mut finishers = Vec::new();
    for i in 0..4 {
        validated_token(&*store, &t, &format!("uploader-{i}")).await;
        finishers.push(validated_token(&*store, &t, &format!("finisher-{i}")).await);
    }

    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let (store, done, t) = (store.clone(), done.clone(), t.clone());
        async move {
            let mut seen: Vec<TimelineEntry> = Vec::new();
            let mut cursor = 0;
            loop {
                // Read before polling: a poll that starts after the last commit sees it.
                let finished = done.load(Ordering::SeqCst);
                let query = TimelineQuery {
                    after_ms: cursor,
                    limit: 7,
                    ..everything(&t, "reader")
                };
                let page = store.read_timeline(&query).await.unwrap();
                let empty = page.is_empty();
                if let Some(last) = page.last() {
                    cursor = last.created_at;
                }
                seen.extend(page);
                if finished && empty {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        }
    });

    // Each writer returns (now, entry) for every entry it wrote.
    let mut writers: JoinSet<Vec<(i64, TimelineEntry)>> = JoinSet::new();
    for w in 0..8i64 {
        let (store, t) = (store.clone(), t.clone());
        writers.spawn(async move {
            let mut out = Vec::new();
            for i in 0..12i64 {
                let now = T0 + (w + i) % 5; // stalls and steps back
                let c = new_comment(&t, &format!("/p{w}"), &format!("w{w} c{i}"));
                let applied = store
                    .apply(&t, Change::CreateComment(Box::new(c)), Millis(now))
                    .await
                    .unwrap();
                out.extend(applied.entries.into_iter().map(|e| (now, e)));
            }
            out
        });
    }
    for u in 0..4 {
        let (store, t) = (store.clone(), t.clone());
        writers.spawn(async move {
            let mut out = Vec::new();
            for b in 0..5 {
                let comments = (0..4)
                    .map(|i| upload(&format!("u{u}-b{b}-{i}"), "uploaded"))
                    .collect();
                let token = format!("uploader-{u}");
                let outcome = store
                    .upload(batch(&t, &token, comments), Millis(T0))
                    .await
                    .unwrap();
                assert_eq!(outcome.entries.len(), 4);
                out.extend(outcome.entries.into_iter().map(|e| (T0, e)));
            }
            out
        });
    }
    for record in finishers {
        let store = store.clone();
        writers.spawn(async move {
            let mut out = Vec::new();
            for i in 0..5 {
                let now = T0 + 2 - i;
                let entry = NewEntry::setup_completed(&record.token);
                let (_, written) = store
                    .save_token(&record, Some(entry), Millis(now))
                    .await
                    .unwrap();
                out.push((now, written.unwrap()));
            }
            out
        });
    }
    let mut written = Vec::new();
    while let Some(w) = writers.join_next().await {
        written.extend(w.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let tailed = reader.await.unwrap();

    assert_eq!(written.len(), 8 * 12 + 4 * 5 * 4 + 4 * 5);
    let positions: HashSet<i64> = written.iter().map(|(_, e)| e.created_at).collect();
    assert_eq!(
        positions.len(),
        written.len(),
        "two entries share a position"
    );
    for (now, e) in &written {
        assert!(
            e.created_at >= *now,
            "position {} before now {now}",
            e.created_at
        );
    }

    // What "reader" may see: everything but the finishers' token-only entries.
    let full = timeline(&*store, &t, "reader").await;
    assert!(full.windows(2).all(|w| w[0].created_at < w[1].created_at));
    let visible: HashSet<&str> = written
        .iter()
        .filter(|(_, e)| e.kind != EntryKind::SetupCompleted)
        .map(|(_, e)| e.id.as_str())
        .collect();
    let read: HashSet<&str> = full.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(read, visible);
    let tailed_ids: Vec<&str> = tailed.iter().map(|e| e.id.as_str()).collect();
    let full_ids: Vec<&str> = full.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        tailed_ids.len(),
        full_ids.len(),
        "the tailing reader skipped or repeated entries: an entry committed after a later position"
    );
    assert_eq!(tailed_ids, full_ids);
    let newest = positions.iter().copied().max().unwrap();
    assert_eq!(store.timeline_bounds(&t).await.unwrap().newest, newest);
}

/// Each tenant has its own clock: writes to one never move another's positions.
pub async fn positions_of_tenants_are_independent(store: Arc<dyn Store>) {
    let a = tenant(&*store, "a").await;
    let b = tenant(&*store, "b").await;
    let mut writers = JoinSet::new();
    for t in [&a, &b] {
        for i in 0..10 {
            let (store, t) = (store.clone(), t.clone());
            writers.spawn(async move {
                let c = new_comment(&t, "/p", &format!("{t} {i}"));
                store
                    .apply(&t, Change::CreateComment(Box::new(c)), Millis(T0))
                    .await
                    .unwrap();
            });
        }
    }
    while let Some(w) = writers.join_next().await {
        w.unwrap();
    }
    for t in [&a, &b] {
        let entries = timeline(&*store, t, "viewer").await;
        let positions: Vec<i64> = entries.iter().map(|e| e.created_at).collect();
        assert_eq!(positions, (T0..T0 + 10).collect::<Vec<_>>(), "tenant {t}");
        for e in &entries {
            assert_eq!(payload_comment(e).unwrap().tenant_id, t.as_str());
        }
        let bounds = store.timeline_bounds(t).await.unwrap();
        assert_eq!(bounds.newest, T0 + 9);
    }
    assert_eq!(
        store
            .timeline_bounds(&TenantId::from("nobody"))
            .await
            .unwrap(),
        TimelineBounds::default()
    );
}

/// `after_ms` is exclusive, `until_ms` inclusive, `limit` caps a read, `cap` a count.
pub async fn reads_honour_cursor_until_and_limit(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    for i in 0..10 {
        let c = new_comment(&t, "/p", &format!("c{i}"));
        store
            .apply(&t, Change::CreateComment(Box::new(c)), Millis(T0 + 10 * i))
            .await
            .unwrap();
    }
    let query = TimelineQuery {
        after_ms: T0 + 10,
        until_ms: Some(T0 + 50),
        limit: 3,
        ..everything(&t, "viewer")
    };
    let page = store.read_timeline(&query).await.unwrap();
    let positions: Vec<i64> = page.iter().map(|e| e.created_at).collect();
    assert_eq!(positions, vec![T0 + 20, T0 + 30, T0 + 40]);
    let until = TimelineQuery {
        limit: 100,
        ..query.clone()
    };
    assert_eq!(store.read_timeline(&until).await.unwrap().len(), 4);
    let open = TimelineQuery {
        until_ms: None,
        ..until
    };
    assert_eq!(store.count_timeline(&open, 100).await.unwrap(), 8);
    assert_eq!(store.count_timeline(&open, 5).await.unwrap(), 5);
    let past_the_end = TimelineQuery {
        after_ms: T0 + 90,
        ..open
    };
    assert!(store.read_timeline(&past_the_end).await.unwrap().is_empty());
}

/// An uploaded comment, changed afterwards by uploads, the API, votes and its delete: each
/// event still carries the comment as it was when that event happened.
pub async fn payload_is_the_uploaded_comment_as_of_the_event(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    let up = |text: &str| batch(&t, "up", vec![upload("a", text)]);
    let first = store.upload(up("hello"), Millis(T0)).await.unwrap();
    let id = first.comment_ids["a"].clone();
    let unchanged = store.upload(up("hello"), Millis(T0 + 1)).await.unwrap();
    assert!(
        unchanged.entries.is_empty(),
        "an unchanged re-upload is no event"
    );
    store
        .upload(up("edited by the plugin"), Millis(T0 + 2))
        .await
        .unwrap();
    edit(&*store, &t, &id, "edited through the API", T0 + 3).await;
    store
        .upload(up("the plugin again"), Millis(T0 + 4))
        .await
        .unwrap();
    let comment = store.comment(&t, &id).await.unwrap().unwrap();
    cast(
        &*store,
        &vote(&comment, Some("u1"), VoteDirection::Up),
        T0 + 5,
    )
    .await;
    let down = cast(
        &*store,
        &vote(&comment, Some("u1"), VoteDirection::Down),
        T0 + 6,
    )
    .await;
    let down_id = down.vote.unwrap().id;
    store
        .apply(&t, Change::DeleteVote { id: down_id }, Millis(T0 + 7))
        .await
        .unwrap();
    store
        .apply(&t, Change::DeleteComment { id: id.clone() }, Millis(T0 + 8))
        .await
        .unwrap();

    let entries = timeline(&*store, &t, "other").await;
    assert_eq!(
        kinds(&entries),
        vec![
            "new-comment",
            "updated-comment",
            "updated-comment",
            "updated-comment",
            "new-vote",
            "deleted-vote",
            "new-vote",
            "deleted-vote",
            "deleted-comment",
        ]
    );
    let as_of: Vec<(String, i64)> = entries
        .iter()
        .map(|e| {
            let c = payload_comment(e).unwrap_or_else(|| panic!("{e:?} has no comment"));
            assert_eq!(c.id, id);
            (c.comment, c.votes)
        })
        .collect();
    let again = "the plugin again".to_owned();
    assert_eq!(
        as_of,
        vec![
            ("hello".to_owned(), 0),
            ("edited by the plugin".to_owned(), 0),
            ("edited through the API".to_owned(), 0),
            (again.clone(), 0),
            (again.clone(), 1),
            (again.clone(), 0),
            (again.clone(), -1),
            (again.clone(), 0),
            (again, 0),
        ]
    );
}

/// The same for a comment made and changed through the API.
pub async fn payload_is_the_api_comment_as_of_the_event(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let c = create(&*store, &t, "/p", "one").await;
    edit(&*store, &t, &c.id, "two", T0 + 1).await;
    edit(&*store, &t, &c.id, "three", T0 + 2).await;
    let deleted = delete(&*store, &t, &c.id, T0 + 3).await;
    assert_eq!(deleted.comment.unwrap().comment, "three");
    let entries = timeline(&*store, &t, "viewer").await;
    let texts: Vec<(&str, String)> = entries
        .iter()
        .map(|e| (e.kind.as_str(), payload_comment(e).unwrap().comment))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("new-comment", "one".to_owned()),
            ("updated-comment", "two".to_owned()),
            ("updated-comment", "three".to_owned()),
            ("deleted-comment", "three".to_owned()),
        ]
    );
    assert!(entries.iter().all(|e| e.url_id == "/p"));
}

/// Entries caused by token T's upload are hidden from T and shown to every other token;
/// `SetSetupCompleted` shows to its token only, and only to reads that include setup entries.
/// Counts agree with reads.
pub async fn echo_suppression_and_token_only_entries(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    validated_token(&*store, &t, "up").await;
    let other = validated_token(&*store, &t, "other").await;
    let mut finishing = batch(&t, "up", vec![upload("a", "A"), upload("b", "B")]);
    finishing.finishes_upload = true;
    store.upload(finishing, Millis(T0)).await.unwrap();
    create(&*store, &t, "/p", "from the API").await;
    let (_, entry) = store
        .save_token(
            &other,
            Some(NewEntry::setup_completed(&"other".into())),
            Millis(T0),
        )
        .await
        .unwrap();
    assert_eq!(entry.unwrap().kind, EntryKind::SetupCompleted);

    let seen = |viewer: &'static str, include_setup: bool| {
        let store = store.clone();
        let t = t.clone();
        async move {
            let q = TimelineQuery {
                include_setup,
                ..everything(&t, viewer)
            };
            let entries = store.read_timeline(&q).await.unwrap();
            assert_eq!(
                store.count_timeline(&q, 1000).await.unwrap(),
                entries.len() as u64
            );
            entries
                .iter()
                .map(|e| match payload_comment(e) {
                    Some(c) => c.comment,
                    None => e.kind.as_str().to_owned(),
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        seen("up", true).await,
        vec!["SetSetupCompleted", "from the API"]
    );
    assert_eq!(seen("up", false).await, vec!["from the API"]);
    assert_eq!(
        seen("other", true).await,
        vec!["A", "B", "from the API", "SetSetupCompleted"]
    );
    assert_eq!(seen("other", false).await, vec!["A", "B", "from the API"]);
    assert_eq!(seen("third", true).await, vec!["A", "B", "from the API"]);
}

/// Pruning removes old entries of every tenant and records, per tenant, the newest position
/// it removed (never lowered); the clock goes on past pruned positions.
pub async fn pruning_records_how_far_it_went(store: Arc<dyn Store>) {
    let a = tenant(&*store, "a").await;
    let b = tenant(&*store, "b").await;
    for now in [T0, T0 + 100, T0 + 200] {
        let c = new_comment(&a, "/p", "a");
        store
            .apply(&a, Change::CreateComment(Box::new(c)), Millis(now))
            .await
            .unwrap();
    }
    let c = new_comment(&b, "/p", "b");
    store
        .apply(&b, Change::CreateComment(Box::new(c)), Millis(T0 + 500))
        .await
        .unwrap();
    assert_eq!(store.timeline_bounds(&a).await.unwrap().pruned_through, 0);

    assert_eq!(store.prune_timeline(Millis(T0 + 150)).await.unwrap(), 2);
    let bounds = store.timeline_bounds(&a).await.unwrap();
    assert_eq!(
        bounds,
        TimelineBounds {
            newest: T0 + 200,
            pruned_through: T0 + 100
        }
    );
    assert_eq!(store.timeline_bounds(&b).await.unwrap().pruned_through, 0);
    let kept: Vec<i64> = timeline(&*store, &a, "v")
        .await
        .iter()
        .map(|e| e.created_at)
        .collect();
    assert_eq!(kept, vec![T0 + 200]);

    assert_eq!(store.prune_timeline(Millis(T0 + 150)).await.unwrap(), 0);
    assert_eq!(store.prune_timeline(Millis(T0 + 50)).await.unwrap(), 0);
    assert_eq!(
        store.timeline_bounds(&a).await.unwrap().pruned_through,
        T0 + 100,
        "pruning less must not lower the mark"
    );

    // The clock does not go back to pruned positions.
    let c = new_comment(&a, "/p", "after the prune");
    let applied = store
        .apply(&a, Change::CreateComment(Box::new(c)), Millis(T0))
        .await
        .unwrap();
    assert_eq!(applied.entries[0].created_at, T0 + 201);

    assert_eq!(store.prune_timeline(Millis(T0 + 1000)).await.unwrap(), 3);
    assert_eq!(
        store.timeline_bounds(&a).await.unwrap().pruned_through,
        T0 + 201
    );
    assert_eq!(
        store.timeline_bounds(&b).await.unwrap(),
        TimelineBounds {
            newest: T0 + 500,
            pruned_through: T0 + 500
        }
    );
    assert!(timeline(&*store, &a, "v").await.is_empty());
}
