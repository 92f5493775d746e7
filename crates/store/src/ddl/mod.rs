//! DDL for entity tables: dialect-neutral specs in, statements per dialect out.
//!
//! The layers above describe a table ([`TableSpec`]: columns, primary key,
//! indexes) from their metadata; [`sync_table`] brings the database in line
//! inside the caller's transaction. It only ever adds: tables, columns,
//! indexes. It never drops, renames or retypes. What differs per dialect (column
//! types, key generation, boolean literals, concurrent index builds, catalog
//! queries) lives in `pg.rs` and `sqlite.rs` side by side; `render.rs` builds
//! the statements common to both.

mod database;
mod field_type;
mod pg;
mod render;
mod sqlite;
mod sync;

use std::borrow::Cow;

pub use database::{pg_create_database, pg_database_exists, pg_drop_database, pg_has_business_tables};
pub use field_type::FieldType;
pub use sync::{build_deferred, sync_index, sync_join_table, sync_table, DdlError};

use crate::Dialect;

/// One table as metadata wants it. Columns are in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub name: String,
    /// Name of the primary-key column (one of `columns`).
    pub primary_key: String,
    pub key_default: KeyDefault,
    pub columns: Vec<ColumnSpec>,
    pub indexes: Vec<IndexSpec>,
}

/// How the database fills the primary key when an insert leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDefault {
    /// The caller always supplies it.
    None,
    /// A random UUID (PostgreSQL; on SQLite the caller supplies it).
    RandomUuid,
    /// An auto-assigned integer (identity on PostgreSQL, rowid on SQLite).
    Identity,
    /// An auto-assigned 64-bit integer.
    BigIdentity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: FieldType,
    /// A decimal's scale.
    pub precision: Option<i64>,
    /// NOT NULL on a new table; on an added column only with a default (the
    /// existing rows have no other value to take).
    pub not_null: bool,
    pub default: Option<Literal>,
}

/// A DEFAULT value; the one place values are written into DDL as literals
/// (strings quoted with `'` doubled, numbers as JSON wrote them).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
}

impl Literal {
    /// A JSON default as metadata declares it; arrays and objects become
    /// their JSON text.
    pub fn from_json(v: &serde_json::Value) -> Literal {
        use serde_json::Value as J;
        match v {
            J::Null => Literal::Null,
            J::Bool(b) => Literal::Bool(*b),
            J::Number(n) => Literal::Number(n.clone()),
            J::String(s) => Literal::Text(s.clone()),
            other => Literal::Text(other.to_string()),
        }
    }
}

/// A single-column index named `idx_<table>_<column>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub column: String,
    pub unique: bool,
    /// Partial index over the rows where `column IS NULL` (live rows of a
    /// soft-deleting table).
    pub only_null: bool,
}

impl IndexSpec {
    pub fn plain(column: impl Into<String>) -> Self {
        IndexSpec {
            column: column.into(),
            unique: false,
            only_null: false,
        }
    }

    pub fn unique(column: impl Into<String>) -> Self {
        IndexSpec {
            unique: true,
            ..IndexSpec::plain(column)
        }
    }
}

/// A many-to-many join table: two key columns forming the primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTableSpec {
    pub name: String,
    pub source_column: String,
    pub source_type: FieldType,
    pub target_column: String,
    pub target_type: FieldType,
}

/// An index build left for after commit (PostgreSQL `CONCURRENTLY`, which
/// cannot run in a transaction), so a big table is not locked while it builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredIndex {
    pub name: String,
    pub sql: String,
}

/// What one dialect says differently; everything else is `render.rs`.
trait Syntax: Sync {
    fn column_type(&self, ty: FieldType, precision: Option<i64>) -> Cow<'static, str>;
    /// The primary-key column of a new table; `name` is already quoted.
    fn pk_column(&self, name: &str, ty: FieldType, key: KeyDefault) -> String;
    /// A boolean DEFAULT for a column of type `ty`.
    fn bool_literal(&self, b: bool, ty: FieldType) -> &'static str;
    /// One row per column (`name`) of table `$1`; no rows when it is missing.
    fn columns_query(&self) -> &'static str;
    /// `Some(keyword)` when plain indexes on a table that may hold rows are
    /// built after commit with that keyword instead of inside the transaction.
    fn concurrently(&self) -> Option<&'static str>;
    /// Drops an index a failed deferred build left behind (`name` quoted).
    fn drop_index(&self, name: &str) -> String;
}

fn syntax(dialect: Dialect) -> &'static dyn Syntax {
    match dialect {
        Dialect::Postgres => &pg::Pg,
        Dialect::Sqlite => &sqlite::Sqlite,
    }
}
