//! A database made by an older hub is brought up to date when a newer one opens it: what the
//! newer schema adds is filled in once, over the data already there, on either backend.

use crate::common::postgres_database;
use fastcomments_hub::store::postgres::PostgresStore;
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::store::StoreReads;

/// Three comments of two threads as an older hub stored them (no pages), as SQL both
/// backends take.
fn old_threads() -> String {
    let mut sql = String::new();
    for (id, thread, parent, title) in [
        ("c1", "p", None, Some("Post")),
        ("c2", "p", Some("c1"), None),
        ("c3", "q", None, None),
    ] {
        let doc = serde_json::json!({
            "_id": id, "tenantId": "t1", "urlId": thread,
            "url": format!("https://blog.example/{thread}"), "pageTitle": title,
            "commenterName": "A", "comment": "hi", "commentHTML": "hi", "parentId": parent,
            "date": "2024-05-01T12:00:00.000Z",
        });
        let parent = parent.map_or("NULL".to_owned(), |p| format!("'{p}'"));
        let doc = doc.to_string().replace('\'', "''");
        sql.push_str(&format!(
            "INSERT INTO comments (id, tenant_id, url_id, parent_id, date_ms, doc) \
             VALUES ('{id}', 't1', '{thread}', {parent}, 5, '{doc}');"
        ));
    }
    sql
}

/// Each old thread got one page, titled from its comments and counted.
async fn assert_pages_made(store: &dyn StoreReads) -> Vec<String> {
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
    pages.into_iter().map(|p| p.id).collect()
}

/// Threads stored before pages existed get one page each, once (SQLite: a one-time repair).
#[tokio::test]
async fn sqlite_threads_stored_before_pages_get_their_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    let url = format!("sqlite://{}", path.display());
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();
    let undo = "DELETE FROM schema_migrations WHERE name = 'pages-for-existing-threads'; \
                DELETE FROM pages;";
    sqlx::raw_sql(&format!("{undo}{}", old_threads()))
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    let ids = assert_pages_made(&store).await;
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(assert_pages_made(&store).await, ids, "made once");
}

/// The same on PostgreSQL (migration 7).
#[tokio::test]
async fn postgres_threads_stored_before_pages_get_their_pages() {
    let url = postgres_database().await;
    PostgresStore::connect(&url).await.unwrap();
    let db = sqlx::PgPool::connect(&url).await.unwrap();
    // As a hub from before pages left it: no pages table, migration 7 not applied.
    let undo = "DROP TABLE pages; DELETE FROM _sqlx_migrations WHERE version = 7;";
    sqlx::raw_sql(&format!("{undo}{}", old_threads()))
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_pages_made(&store).await;
}
