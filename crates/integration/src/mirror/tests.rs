use super::*;
use fastcomments_protocol::{Vote, VoteDirection};

fn hub_comment(id: &str, text: &str) -> Comment {
    serde_json::from_value(serde_json::json!({
        "_id": id, "tenantId": "t", "urlId": "page-1", "commenterName": "Zoë",
        "comment": text, "commentHTML": text, "date": "2025-01-02T03:04:05.006Z",
        "votes": 0, "votesUp": 0, "votesDown": 0, "approved": true, "newField": [1, 2]
    }))
    .unwrap()
}

fn vote(id: &str, comment: &str, dir: VoteDirection) -> Vote {
    Vote {
        id: id.into(),
        comment_id: comment.into(),
        comment_external_id: None,
        tenant_id: "t".into(),
        url_id: "page-1".into(),
        user_id: None,
        direction: dir,
        created_at: Millis(1),
        extra: Default::default(),
    }
}

fn ev(id: &str, at: i64, change: Change) -> SyncEvent {
    SyncEvent {
        id: id.into(),
        created_at: Millis(at),
        url_id: "page-1".into(),
        change,
    }
}

#[tokio::test]
async fn events_apply_once_even_when_replayed() {
    let m = SqliteMirror::in_memory().await.unwrap();
    let events = vec![
        ev("e1", 10, Change::NewComment(hub_comment("h1", "first"))),
        ev(
            "e2",
            11,
            Change::UpdatedComment(hub_comment("h1", "edited ✓")),
        ),
        ev(
            "e3",
            12,
            Change::NewVote(vote("v1", "h1", VoteDirection::Up)),
        ),
        ev(
            "e4",
            13,
            Change::NewVote(vote("v2", "h1", VoteDirection::Down)),
        ),
        ev(
            "e5",
            14,
            Change::DeletedVote(vote("v2", "h1", VoteDirection::Down)),
        ),
        ev("e6", 15, Change::NewComment(hub_comment("h2", "gone soon"))),
        ev(
            "e7",
            16,
            Change::DeletedComment(hub_comment("h2", "gone soon")),
        ),
    ];
    m.apply_page(&events).await.unwrap();
    let once = m.comments().await.unwrap();
    // Replay every suffix, as after crashes at any point.
    for k in 0..events.len() {
        m.apply_page(&events[k..]).await.unwrap();
        assert_eq!(m.comments().await.unwrap(), once, "replay from {k}");
    }
    assert_eq!(once.len(), 1);
    let c = &once[0];
    assert_eq!(c.comment, "edited ✓");
    assert_eq!(
        (c.votes, c.votes_up, c.votes_down),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(
        c.raw["newField"],
        serde_json::json!([1, 2]),
        "unknown fields kept"
    );
}

#[tokio::test]
async fn import_is_idempotent_and_pages_by_keyset() {
    let m = SqliteMirror::in_memory().await.unwrap();
    let mk = |ext: &str| UploadComment {
        external_id: Some(ext.into()),
        url_id: Some("p".into()),
        comment: format!("text {ext}"),
        ..Default::default()
    };
    assert_eq!(m.import(vec![mk("a"), mk("b"), mk("c")]).await.unwrap(), 3);
    assert_eq!(m.import(vec![mk("a"), mk("d")]).await.unwrap(), 1);
    assert_eq!(m.count_after(None).await.unwrap(), 4);
    let p1 = m.page(None, 2).await.unwrap();
    assert_eq!(p1.len(), 2);
    let after = p1.last().map(|c| c.id.clone());
    assert_eq!(m.count_after(after.as_ref()).await.unwrap(), 2);
    let p2 = m.page(after.as_ref(), 10).await.unwrap();
    let exts: Vec<_> = p1
        .iter()
        .chain(p2.iter())
        .map(|c| c.comment.external_id.clone().unwrap())
        .collect();
    assert_eq!(exts, ["a", "b", "c", "d"]);
    assert!(m.page(Some(&LocalId("x".into())), 1).await.is_err());
}

#[tokio::test]
async fn mapping_links_uploaded_rows_and_merges_early_event_rows() {
    let m = SqliteMirror::in_memory().await.unwrap();
    m.import(vec![
        UploadComment {
            external_id: Some("child".into()),
            external_parent_id: Some("parent".into()),
            comment: "reply".into(),
            ..Default::default()
        },
        UploadComment {
            external_id: Some("parent".into()),
            comment: "root".into(),
            ..Default::default()
        },
    ])
    .await
    .unwrap();
    // An event about the parent arrived before its mapping was saved.
    let mut parent = hub_comment("H2", "root, edited");
    parent.external_id = Some("parent".into());
    m.apply_page(&[ev("e1", 5, Change::UpdatedComment(parent))])
        .await
        .unwrap();
    m.map_ids(&[
        (LocalId("1".into()), "H1".into()),
        (LocalId("2".into()), "H2".into()),
    ])
    .await
    .unwrap();
    let rows = m.comments().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].hub_id.as_deref(), Some("H1"));
    assert_eq!(rows[0].parent_hub_id.as_deref(), Some("H2"));
    assert_eq!(rows[1].local_id, 2);
    assert_eq!(rows[1].comment, "root, edited");
}

#[tokio::test]
async fn resync_replaces_and_drops_missing() {
    let m = SqliteMirror::in_memory().await.unwrap();
    m.apply_page(&[
        ev("e1", 5, Change::NewComment(hub_comment("h1", "a"))),
        ev("e2", 6, Change::NewComment(hub_comment("h2", "b"))),
    ])
    .await
    .unwrap();
    let mut now = hub_comment("h1", "a2");
    now.votes = 3;
    now.votes_up = 3;
    m.resync_page(&[now], Millis(6)).await.unwrap();
    m.resync_finished(&HashSet::from(["h1".to_owned()]))
        .await
        .unwrap();
    let rows = m.comments().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].comment.as_str(), rows[0].votes), ("a2", Some(3)));
}

mod replay {
    use super::*;
    use proptest::prelude::*;

    /// One step of a random history over a few comments.
    #[derive(Debug, Clone)]
    enum Step {
        Create(u8),
        Edit(u8, u8),
        Delete(u8),
        Vote(u8, bool),
        Unvote(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..4).prop_map(Step::Create),
            (0u8..4, any::<u8>()).prop_map(|(c, t)| Step::Edit(c, t)),
            (0u8..4).prop_map(Step::Delete),
            (0u8..4, any::<bool>()).prop_map(|(c, up)| Step::Vote(c, up)),
            (0u8..4).prop_map(Step::Unvote),
        ]
    }

    /// The events a hub would write for `steps` (positions strictly increasing).
    fn events(steps: &[Step]) -> Vec<SyncEvent> {
        let mut out = Vec::new();
        let mut alive = [false; 4];
        let mut votes: Vec<Vec<(String, VoteDirection)>> = vec![Vec::new(); 4];
        for (i, s) in steps.iter().enumerate() {
            let pos = 100 + i as i64;
            let id = format!("e{i}");
            let change = match s {
                Step::Create(c) if !alive[*c as usize] => {
                    alive[*c as usize] = true;
                    Change::NewComment(hub_comment(&format!("h{c}"), "new"))
                }
                Step::Edit(c, t) if alive[*c as usize] => {
                    let mut hc = hub_comment(&format!("h{c}"), &format!("text {t} ü"));
                    let (up, down) = votes[*c as usize].iter().fold((0, 0), |(u, d), (_, v)| {
                        if *v == VoteDirection::Up {
                            (u + 1, d)
                        } else {
                            (u, d + 1)
                        }
                    });
                    (hc.votes_up, hc.votes_down, hc.votes) = (up, down, up - down);
                    Change::UpdatedComment(hc)
                }
                Step::Delete(c) if alive[*c as usize] => {
                    alive[*c as usize] = false;
                    votes[*c as usize].clear();
                    Change::DeletedComment(hub_comment(&format!("h{c}"), "gone"))
                }
                Step::Vote(c, up) if alive[*c as usize] => {
                    let dir = if *up {
                        VoteDirection::Up
                    } else {
                        VoteDirection::Down
                    };
                    votes[*c as usize].push((format!("v{i}"), dir));
                    Change::NewVote(vote(&format!("v{i}"), &format!("h{c}"), dir))
                }
                Step::Unvote(c) if !votes[*c as usize].is_empty() => {
                    let (vid, dir) = votes[*c as usize].remove(0);
                    Change::DeletedVote(vote(&vid, &format!("h{c}"), dir))
                }
                _ => continue,
            };
            out.push(ev(&id, pos, change));
        }
        out
    }

    async fn state_after(
        pages: &[&[SyncEvent]],
    ) -> Vec<(
        Option<String>,
        String,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    )> {
        let m = SqliteMirror::in_memory().await.unwrap();
        for p in pages {
            m.apply_page(p).await.unwrap();
        }
        m.comments()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.hub_id, c.comment, c.votes, c.votes_up, c.votes_down))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        /// A crash after any page, followed by a replay from any earlier saved cursor, ends in
        /// the state of applying every event once.
        #[test]
        fn replaying_any_suffix_converges(
            steps in proptest::collection::vec(step(), 0..40),
            cut in 0usize..40,
            back in 0usize..40,
        ) {
            let evs = events(&steps);
            let cut = cut.min(evs.len());
            let resume = cut.saturating_sub(back);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let once = rt.block_on(state_after(&[&evs]));
            let replayed = rt.block_on(state_after(&[&evs[..cut], &evs[resume..]]));
            prop_assert_eq!(once, replayed);
        }
    }
}
