//! Many rows into one system table in one transaction, the fastest way each
//! dialect has: binary COPY on PostgreSQL, with `synchronous_commit = off`
//! for that transaction only (the rows are fire-and-forget: a crash of the
//! database server may lose the last few milliseconds of them, never a
//! crash of ours, and the write waits for no WAL flush); multi-row prepared
//! INSERTs on SQLite, chunked under its bound-parameter limit.
//!
//! The table and its columns are static descriptions owned by the crate that
//! writes them, so every identifier here comes from code, never a request.

use postgres_types::Type;

use crate::{quote_ident, Db, Result, StoreError, Value};

/// A column's SQL type, as binary COPY needs it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Uuid,
    Text,
    Float8,
    Int4,
    Int8,
    Bool,
    Timestamptz,
    /// JSONB on PostgreSQL, JSON text on SQLite; bind `Value::Document`.
    Jsonb,
}

impl ColumnType {
    fn pg(self) -> Type {
        match self {
            ColumnType::Uuid => Type::UUID,
            ColumnType::Text => Type::TEXT,
            ColumnType::Float8 => Type::FLOAT8,
            ColumnType::Int4 => Type::INT4,
            ColumnType::Int8 => Type::INT8,
            ColumnType::Bool => Type::BOOL,
            ColumnType::Timestamptz => Type::TIMESTAMPTZ,
            ColumnType::Jsonb => Type::JSONB,
        }
    }
}

/// A table that takes rows in bulk: its name and its columns, in row order.
#[derive(Debug)]
pub struct BulkTable {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColumnType)],
}

/// SQLite binds at most 32766 parameters per statement; stay well below.
const SQLITE_MAX_PARAMS: usize = 8000;
const SQLITE_MAX_ROWS: usize = 500;

impl BulkTable {
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(c, _)| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(crate) fn copy_sql(&self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            quote_ident(self.name),
            self.column_list()
        )
    }

    pub(crate) fn pg_types(&self) -> Vec<Type> {
        self.columns.iter().map(|(_, t)| t.pg()).collect()
    }

    /// Rows per SQLite INSERT statement.
    pub(crate) fn sqlite_chunk(&self) -> usize {
        (SQLITE_MAX_PARAMS / self.columns.len().max(1)).clamp(1, SQLITE_MAX_ROWS)
    }

    /// `INSERT INTO t (..) VALUES (?1, ..), (..)` for `rows` rows.
    pub(crate) fn sqlite_insert(&self, rows: usize) -> String {
        let n = self.columns.len();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            quote_ident(self.name),
            self.column_list()
        );
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..n {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('?');
                sql.push_str(&(r * n + c + 1).to_string());
            }
            sql.push(')');
        }
        sql
    }

    fn check(&self, rows: &[Vec<Value>]) -> Result<()> {
        match rows.iter().find(|r| r.len() != self.columns.len()) {
            Some(r) => Err(StoreError::other(format!(
                "bulk row for {} has {} values, the table takes {}",
                self.name,
                r.len(),
                self.columns.len()
            ))),
            None => Ok(()),
        }
    }
}

impl Db {
    /// Writes `rows` into `table` in one transaction; all or nothing.
    pub async fn insert_many(&self, table: &BulkTable, rows: &[Vec<Value>]) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        table.check(rows)?;
        match self {
            Db::Pg(db) => db.copy_in(table, rows).await,
            Db::Sqlite(db) => db.insert_many(table, rows.to_vec()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: BulkTable = BulkTable {
        name: "_things",
        columns: &[("id", ColumnType::Uuid), ("n", ColumnType::Int8)],
    };

    #[test]
    fn statements() {
        assert_eq!(
            T.copy_sql(),
            r#"COPY "_things" ("id", "n") FROM STDIN (FORMAT binary)"#
        );
        assert_eq!(
            T.sqlite_insert(2),
            r#"INSERT INTO "_things" ("id", "n") VALUES (?1, ?2), (?3, ?4)"#
        );
        assert_eq!(T.sqlite_chunk(), 500);
    }
}
