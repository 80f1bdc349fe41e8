//! A damaged stored row (issue 10 §1: "a stored document that cannot be read must never turn a
//! whole page or poll into a 500"): the database file is changed behind the running hub's back,
//! as disk damage or a hand edit would, and every read path keeps answering for the rest.
//!
//! SQLite only: the test edits the hub's database file directly. The code that reads the
//! entries back (`api/integration.rs`, `store/rows.rs`) is the same for both backends.

use crate::common;

use common::TestHub;
use fastcomments_hub::HubConfig;
use reqwest::StatusCode;

const TOKEN: &str = "damaged-rows-token";

fn damage(hub: &TestHub, sql: &str) {
    let db = rusqlite::Connection::open(hub.dir.path().join("hub.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(db.execute(sql, []).unwrap(), 1, "{sql}");
}

/// A timeline entry whose payload is not JSON is left out of `/stream` and `/events` (and
/// logged); the polls answer 200 with every other event, and the cursor moves past it.
#[tokio::test]
async fn a_timeline_entry_that_is_not_json_is_skipped_not_a_500() {
    let hub = TestHub::start_with(
        common::Backend::Sqlite,
        HubConfig {
            page_size: 2,
            ..common::admin_config()
        },
        std::sync::Arc::new(fastcomments_hub::SystemClock),
    )
    .await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, TOKEN, true).await;
    let mut ids = Vec::new();
    for text in ["first", "second", "third"] {
        ids.push(
            hub.comment(&t, "post/1", text).await["_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    damage(
        &hub,
        "UPDATE timeline SET payload = 'not json {', doc_ref = NULL WHERE rowid = \
         (SELECT rowid FROM timeline WHERE kind = 'new-comment' ORDER BY created_at LIMIT 1 OFFSET 1)",
    );

    let (events, _, _) = hub.drain_stream(TOKEN, 0).await;
    let seen: Vec<&str> = events
        .iter()
        .filter_map(|e| e["comment"]["_id"].as_str())
        .collect();
    assert_eq!(seen, [ids[0].as_str(), ids[2].as_str()], "{events:?}");

    let got = hub.drain_events(TOKEN, false).await;
    assert_eq!(got, [ids[0].clone(), ids[2].clone()]);
    let metrics = hub.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("fastcomments_unreadable_entries_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );

    // A comment document that is no comment: the thread and the download answer with the rest.
    damage(
        &hub,
        &format!(
            "UPDATE comments SET doc = '{{\"not\":\"a comment\"}}' WHERE id = '{}'",
            ids[1]
        ),
    );
    let (s, v) = hub
        .call(
            reqwest::Method::GET,
            "/api/v1/comments?urlId=post/1",
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["comments"].as_array().unwrap().len(), 2, "{v}");
    let (s, v) = hub
        .get(&format!(
            "/integrations/v1/comments?token={TOKEN}&includeCount=true"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}
