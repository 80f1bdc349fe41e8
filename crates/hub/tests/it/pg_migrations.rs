//! A PostgreSQL database made by an older hub is brought up to date when a newer one connects:
//! its migrations run once, over the data already there.

use crate::common::postgres_database;
use fastcomments_hub::store::postgres::PostgresStore;
use fastcomments_hub::store::StoreReads;
use sqlx::postgres::PgPoolOptions;

/// Threads stored before pages existed (migration 7) get one page each, titled and counted.
#[tokio::test]
async fn threads_stored_before_pages_get_their_pages() {
    let url = postgres_database().await;
    PostgresStore::connect(&url).await.unwrap();
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    // As a hub from before pages left it: no pages table, migration 7 not applied.
    sqlx::raw_sql("DROP TABLE pages; DELETE FROM _sqlx_migrations WHERE version = 7;")
        .execute(&db)
        .await
        .unwrap();
    for (id, thread, parent, title) in [
        ("c1", "p", None, Some("Post")),
        ("c2", "p", Some("c1"), None),
        ("c3", "q", None, None),
    ] {
        let doc = serde_json::json!({
            "_id": id, "tenantId": "t1", "urlId": thread, "url": format!("https://blog.example/{thread}"),
            "pageTitle": title, "commenterName": "A", "comment": "hi", "commentHTML": "hi",
            "parentId": parent, "date": "2024-05-01T12:00:00.000Z",
        });
        sqlx::query(
            "INSERT INTO comments (id, tenant_id, url_id, parent_id, date_ms, doc) VALUES ($1, 't1', $2, $3, 5, $4)",
        )
        .bind(id)
        .bind(thread)
        .bind(parent)
        .bind(doc.to_string())
        .execute(&db)
        .await
        .unwrap();
    }
    db.close().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    let mut pages = store.pages(&"t1".into(), 10).await.unwrap();
    pages.sort_by(|a, b| a.url_id.cmp(&b.url_id));
    let summary: Vec<_> = pages
        .iter()
        .map(|p| {
            (
                p.url_id.as_str(),
                p.title.as_deref(),
                p.comment_count,
                p.root_comment_count,
            )
        })
        .collect();
    assert_eq!(summary, vec![("p", Some("Post"), 2, 1), ("q", None, 1, 1)]);
    assert_eq!(pages[0].url.as_deref(), Some("https://blog.example/p"));
    assert!(pages.iter().all(|p| p.id.len() == 24), "{pages:?}");
}
