//! Versioned system-table migrations, one SQL file per dialect and version:
//! `crates/store/migrations/<pg|sqlite>/<management|app>/V<n>__<name>.sql`,
//! embedded at build time (see `build.rs`). Each database records what it has
//! applied in `_schema_migrations`; [`apply`] runs the missing versions in
//! order, in one transaction, so a database is never left half-migrated.

use crate::{Db, Dialect, Result, Tx, Value};

/// Which set of system tables a database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// The platform's database: apps, platform users and their sessions.
    Management,
    /// One app's database: metadata, accounts, logs, files.
    App,
}

impl Schema {
    /// The name recorded in `_schema_migrations.schema_name`.
    pub fn name(self) -> &'static str {
        match self {
            Schema::Management => "management",
            Schema::App => "app",
        }
    }
}

/// One embedded migration file.
#[derive(Debug)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

mod embedded {
    use super::Migration;
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// The migrations of `schema` for `dialect`, in version order.
pub fn list(dialect: Dialect, schema: Schema) -> &'static [Migration] {
    match (dialect, schema) {
        (Dialect::Postgres, Schema::Management) => embedded::PG_MANAGEMENT,
        (Dialect::Postgres, Schema::App) => embedded::PG_APP,
        (Dialect::Sqlite, Schema::Management) => embedded::SQLITE_MANAGEMENT,
        (Dialect::Sqlite, Schema::App) => embedded::SQLITE_APP,
    }
}

/// Lock (where needed) and the `_schema_migrations` table itself.
fn ledger(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => include_str!("../migrations/pg/ledger.sql"),
        Dialect::Sqlite => include_str!("../migrations/sqlite/ledger.sql"),
    }
}

/// Brings `db` up to the newest version of `schema`; returns the versions it
/// applied (empty when the database was current). Versions the database has
/// but this build does not know (a newer node ran first) are left alone.
pub async fn apply(db: &Db, schema: Schema) -> Result<Vec<u32>> {
    let dialect = db.dialect();
    let mut tx = db.begin().await?;
    tx.batch(ledger(dialect)).await?;
    let done = applied(&mut tx, schema).await?;
    let mut ran = Vec::new();
    for m in list(dialect, schema) {
        if done.contains(&m.version) {
            continue;
        }
        tx.batch(m.sql).await.map_err(|mut e| {
            e.message = format!(
                "system migration {} V{}__{} failed: {}",
                schema.name(),
                m.version,
                m.name,
                e.message
            );
            e
        })?;
        tx.execute(
            "INSERT INTO _schema_migrations (schema_name, version, name) VALUES ($1, $2, $3)",
            &[
                Value::text(schema.name()),
                Value::Int(m.version.into()),
                Value::text(m.name),
            ],
        )
        .await?;
        ran.push(m.version);
    }
    tx.commit().await?;
    if !ran.is_empty() {
        tracing::info!(schema = schema.name(), versions = ?ran, "applied system-table migrations");
    }
    Ok(ran)
}

async fn applied(tx: &mut Tx, schema: Schema) -> Result<Vec<u32>> {
    let rows = tx
        .query(
            "SELECT version FROM _schema_migrations WHERE schema_name = $1",
            &[Value::text(schema.name())],
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.i64("version"))
        .filter_map(|v| u32::try_from(v).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_has_the_same_versions() {
        for schema in [Schema::Management, Schema::App] {
            let pg = list(Dialect::Postgres, schema);
            let lite = list(Dialect::Sqlite, schema);
            assert!(!pg.is_empty());
            let key = |m: &Migration| (m.version, m.name);
            assert_eq!(
                pg.iter().map(key).collect::<Vec<_>>(),
                lite.iter().map(key).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn v1_adopts_existing_tables() {
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            for s in [Schema::Management, Schema::App] {
                let v1 = list(d, s)[0].sql;
                for line in v1.lines().filter(|l| l.starts_with("CREATE")) {
                    assert!(line.contains("IF NOT EXISTS"), "{d:?} {s:?}: {line}");
                }
            }
        }
    }
}
