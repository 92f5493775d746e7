//! Running the rendered DDL: inside the caller's transaction, so a refused
//! statement leaves the old schema (and whatever else the transaction wrote).

use std::fmt;

use super::{render, syntax, DeferredIndex, IndexSpec, JoinTableSpec, Syntax, TableSpec};
use crate::{quote_ident, Db, StoreError, StoreErrorKind, Tx, Value};

#[derive(Debug)]
pub enum DdlError {
    /// The database could not be asked (pool timeout, closed pool, lost
    /// connection): not the spec's fault.
    Store(StoreError),
    /// The database refused a statement, e.g. a unique index over duplicate
    /// values; the message is the database's.
    Rejected(StoreError),
}

impl fmt::Display for DdlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DdlError::Store(e) | DdlError::Rejected(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DdlError {}

/// Creates `spec.name` or adds its missing columns, then its indexes. Unique
/// indexes build in the transaction (a duplicate fails the change); plain ones
/// on an existing PostgreSQL table are returned for [`build_deferred`].
pub async fn sync_table(tx: &mut Tx, spec: &TableSpec) -> Result<Vec<DeferredIndex>, DdlError> {
    let sx = syntax(tx.dialect());
    let existing = existing_columns(tx, sx, &spec.name).await?;
    let plan = render::table(sx, spec, existing.as_deref());
    run(tx, &plan.statements).await?;
    Ok(plan.deferred)
}

/// Creates a join table and the index on its second key when it is missing;
/// an existing one is left as it is.
pub async fn sync_join_table(tx: &mut Tx, spec: &JoinTableSpec) -> Result<(), DdlError> {
    let sx = syntax(tx.dialect());
    if existing_columns(tx, sx, &spec.name).await?.is_none() {
        run(tx, &render::join_table(sx, spec)).await?;
    }
    Ok(())
}

/// An index on an existing table (a foreign key's): built now on SQLite,
/// returned for a concurrent build after commit on PostgreSQL.
pub async fn sync_index(tx: &mut Tx, table: &str, index: &IndexSpec) -> Result<Vec<DeferredIndex>, DdlError> {
    let plan = render::index_on_existing(syntax(tx.dialect()), table, index);
    run(tx, &plan.statements).await?;
    Ok(plan.deferred)
}

/// Builds deferred indexes after commit. A failed concurrent build leaves an
/// invalid index behind; it is dropped so a later change can retry it.
pub async fn build_deferred(db: &Db, indexes: impl IntoIterator<Item = DeferredIndex>) {
    let sx = syntax(db.dialect());
    for DeferredIndex { name, sql } in indexes {
        if let Err(e) = db.batch(&sql).await {
            tracing::warn!(index = %name, error = %e, "index build failed");
            let _ = db.batch(&sx.drop_index(&quote_ident(&name))).await;
        }
    }
}

async fn existing_columns(
    tx: &mut Tx,
    sx: &dyn Syntax,
    table: &str,
) -> Result<Option<Vec<String>>, DdlError> {
    let rows = tx
        .query(sx.columns_query(), &[Value::text(table)])
        .await
        .map_err(DdlError::Store)?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(rows.into_iter().map(|r| r.string("name")).collect()))
}

async fn run(tx: &mut Tx, statements: &[String]) -> Result<(), DdlError> {
    for sql in statements {
        tx.batch(sql).await.map_err(|e| match e.kind {
            StoreErrorKind::PoolTimeout | StoreErrorKind::Closed => DdlError::Store(e),
            _ => DdlError::Rejected(e),
        })?;
    }
    Ok(())
}
