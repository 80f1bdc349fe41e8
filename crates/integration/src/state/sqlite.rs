//! [`SqliteStateStore`]: the record as one row of a SQLite table.

use super::{Durability, IntegrationState, StateStore};
use crate::error::HostError;
use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use sqlx::Row;

/// Keeps the state as JSON in the single row of `integration_state` (replaced in one statement,
/// so atomic). It can share the pool of a [`crate::SqliteMirror`].
#[derive(Debug, Clone)]
pub struct SqliteStateStore {
    pool: SqlitePool,
}

impl SqliteStateStore {
    /// Uses `pool`, creating the table if needed.
    pub async fn new(pool: SqlitePool) -> Result<SqliteStateStore, HostError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS integration_state \
             (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)",
        )
        .execute(&pool)
        .await?;
        Ok(SqliteStateStore { pool })
    }
}

#[async_trait]
impl StateStore for SqliteStateStore {
    async fn load(&self) -> Result<Option<IntegrationState>, HostError> {
        let row = sqlx::query("SELECT body FROM integration_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => {
                let body: String = r.try_get("body")?;
                Ok(Some(serde_json::from_str(&body)?))
            }
            None => Ok(None),
        }
    }

    async fn save(&self, state: &IntegrationState, _: Durability) -> Result<(), HostError> {
        let body = serde_json::to_string(state)?;
        sqlx::query(
            "INSERT INTO integration_state (id, body) VALUES (1, ?) \
             ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        )
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let store = SqliteStateStore::new(pool).await.unwrap();
        assert_eq!(store.load().await.unwrap(), None);
        let s = IntegrationState {
            token: Some("tok-123456".into()),
            tenant_id: Some("t1".into()),
            cursor: 7,
            ..Default::default()
        };
        store.save(&s, Durability::Durable).await.unwrap();
        store.save(&s, Durability::Durable).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(s));
    }
}
