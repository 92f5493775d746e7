//! Databases on a PostgreSQL server (one per app). CREATE/DROP DATABASE
//! cannot run in a transaction, so these take a plain client connected to
//! a maintenance database rather than a pool.

use crate::{quote_ident, Result, StoreError};

/// Checked before the name reaches DDL (it is quoted as well).
fn checked(name: &str) -> Result<String> {
    if name.is_empty() || name.contains('\0') {
        return Err(StoreError::other("invalid database name"));
    }
    Ok(quote_ident(name))
}

pub async fn pg_database_exists(client: &tokio_postgres::Client, name: &str) -> Result<bool> {
    let rows = client
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?;
    Ok(!rows.is_empty())
}

/// CREATE DATABASE; an existing one fails with `StoreErrorKind::AlreadyExists`.
pub async fn pg_create_database(client: &tokio_postgres::Client, name: &str) -> Result<()> {
    let sql = format!("CREATE DATABASE {}", checked(name)?);
    Ok(client.batch_execute(&sql).await?)
}

/// Drops the database even while clients are connected (`WITH (FORCE)`).
pub async fn pg_drop_database(client: &tokio_postgres::Client, name: &str) -> Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", checked(name)?);
    Ok(client.batch_execute(&sql).await?)
}

/// Whether the database `client` is connected to holds a table outside the
/// system ones (every system table starts with `_`): data someone made.
pub async fn pg_has_business_tables(client: &tokio_postgres::Client) -> Result<bool> {
    let rows = client
        .query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND left(table_name, 1) <> '_' LIMIT 1",
            &[],
        )
        .await?;
    Ok(!rows.is_empty())
}
