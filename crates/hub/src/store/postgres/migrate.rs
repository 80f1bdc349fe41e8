//! Migrations, embedded in the binary and applied on start by sqlx's migrator (which takes a
//! PostgreSQL advisory lock, so several nodes starting at once apply each exactly once, and
//! refuses a database whose applied migrations were changed since).

use crate::store::StoreError;
use crate::store::StoreResult;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::PgPool;

/// The migrations, in order. Never edit one that has shipped: add the next.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "schema", include_str!("0001_schema.sql")),
    (
        2,
        "webhook operations",
        include_str!("0002_webhook_operations.sql"),
    ),
    (
        3,
        "claim by target",
        include_str!("0003_claim_by_target.sql"),
    ),
    (4, "admin sessions", include_str!("0004_admin_sessions.sql")),
    (
        5,
        "api secret permission, pending token caps",
        include_str!("0005_integration_tokens.sql"),
    ),
    (6, "comment flags", include_str!("0006_comment_flags.sql")),
    (7, "pages", include_str!("0007_pages.sql")),
    (8, "ready heads", include_str!("0008_ready_heads.sql")),
    (9, "imports", include_str!("0009_imports.sql")),
    (10, "next due index", include_str!("0010_next_due.sql")),
    (11, "recover", include_str!("0011_recover.sql")),
    (
        12,
        "thread keyset index",
        include_str!("0012_thread_keyset.sql"),
    ),
    (13, "stream index", include_str!("0013_stream_index.sql")),
    (
        14,
        "claims in place",
        include_str!("0014_claims_in_place.sql"),
    ),
    (
        15,
        "no subscription index",
        include_str!("0015_no_subscription_index.sql"),
    ),
    (
        16,
        "target index over an expression",
        include_str!("0016_target_index.sql"),
    ),
    (
        17,
        "next-due index apart from the claim",
        include_str!("0017_next_due_apart.sql"),
    ),
    (
        18,
        "open deliveries index",
        include_str!("0018_open_index.sql"),
    ),
    (
        19,
        "finished deliveries by when they finished",
        include_str!("0019_finished_at.sql"),
    ),
    (
        20,
        "deliveries by state and tenant",
        include_str!("0020_by_state.sql"),
    ),
    (
        21,
        "a stream's unsent deliveries",
        include_str!("0021_unsent_stream_index.sql"),
    ),
];

/// [`MIGRATIONS`] as sqlx's migration source.
#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>>
                + Send
                + 's,
        >,
    > {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        *version,
                        (*name).into(),
                        MigrationType::Simple,
                        (*sql).into(),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies the migrations `pool`'s database lacks.
pub(super) async fn run(pool: &PgPool) -> StoreResult<()> {
    let migrator = Migrator::new(Embedded)
        .await
        .map_err(|e| StoreError::database(format!("reading the migrations: {e}")))?;
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::database(format!("migrating the PostgreSQL schema: {e}")))
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use sqlx::migrate::{Migration, MigrationType};

    /// The first 16 hex digits of each migration's checksum, as sqlx records it in
    /// `_sqlx_migrations` when it applies one. A database keeps what it applied, and a node
    /// whose migration of the same version reads differently (even a comment changed) refuses
    /// to start: a migration on main is never edited; a change is a new migration, whose
    /// checksum is added here.
    const APPLIED: [(i64, &str); 21] = [
        (1, "8e712098abb6054f"),
        (2, "b911428e53db50d6"),
        (3, "75dca98250e7c08f"),
        (4, "8e1b46d0ca7887fd"),
        (5, "23e133fa9e6dd2ec"),
        (6, "47b9d0557eb4021b"),
        (7, "5b0aca29950017e9"),
        (8, "08b453ac25d5db22"),
        (9, "01ae4202a7e88fc1"),
        (10, "38d10e1561ef96fa"),
        (11, "6497f54c8feb2cfa"),
        (12, "46684c17abbf8244"),
        (13, "e0f8f7772c7cbe5e"),
        (14, "9ebbd3537cfe3913"),
        (15, "376d99e42ea85a5f"),
        (16, "df8fdf78b6e8400e"),
        (17, "e995ef0a7f156a2e"),
        (18, "fe850aeceee534ee"),
        (19, "38342dafd5144f79"),
        (20, "556ec886ca3902f9"),
        (21, "ffba21cd8d810eb7"),
    ];

    #[test]
    fn migrations_on_main_are_never_edited() {
        let now: Vec<(i64, String)> = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                let m = Migration::new(
                    *version,
                    (*name).into(),
                    MigrationType::Simple,
                    (*sql).into(),
                    false,
                );
                let hex = m.checksum.iter().take(8).map(|b| format!("{b:02x}"));
                (*version, hex.collect())
            })
            .collect();
        let pinned: Vec<(i64, String)> =
            APPLIED.iter().map(|(v, c)| (*v, (*c).to_owned())).collect();
        assert_eq!(
            now, pinned,
            "a migration changed or was added: edit none that is on main, and pin a new one's \
             checksum in APPLIED"
        );
    }
}
