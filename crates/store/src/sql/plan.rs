//! Dialect-neutral plan values. Identifiers in them are quoted metadata names
//! (a [`Table`]'s own, or a field's precomputed `quoted`); values are bound
//! parameters, never text in the SQL.

use crate::dialect::quote_ident;
use crate::Value;

/// The comparison set of a WHERE clause: what client filters and permission
/// conditions compile to (their names live in the query crate's one table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    /// The value is a [`Value::List`], bound as one parameter.
    In,
    NotIn,
    /// The value is the client's pattern (`%`, `_` are theirs).
    Like,
}

/// One table's quoted names and the statements that depend on nothing else,
/// built once per metadata snapshot.
#[derive(Debug, Clone)]
pub struct Table {
    pub(super) name: String,
    /// Select columns: declared fields, then an implicit `deleted_at`.
    pub(super) columns: Vec<String>,
    pub(super) select_list: String,
    pub(super) pk: String,
    pub(super) soft_delete: bool,
    by_pk: String,
}

impl Table {
    /// `columns` are the select columns in row order (raw names; quoted here).
    pub fn new<'c>(
        name: &str,
        columns: impl IntoIterator<Item = &'c str>,
        pk: &str,
        soft_delete: bool,
    ) -> Table {
        let columns: Vec<String> = columns.into_iter().map(quote_ident).collect();
        let mut t = Table {
            name: quote_ident(name),
            select_list: columns.join(", "),
            columns,
            pk: quote_ident(pk),
            soft_delete,
            by_pk: String::new(),
        };
        t.by_pk = t.select_by(&t.pk);
        t
    }

    /// The quoted table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `SELECT <columns> FROM <table> WHERE <pk> = $1`, live rows only.
    pub fn by_pk(&self) -> &str {
        &self.by_pk
    }

    /// `SELECT <columns> FROM <table> WHERE <col> = $1`, live rows only;
    /// `col` is a quoted column of this table.
    pub fn select_by(&self, col: &str) -> String {
        super::select::select_by(self, col)
    }
}

/// A many-to-many join table with its three statements, built once.
#[derive(Debug, Clone)]
pub struct JoinTable {
    pub(super) name: String,
    /// Column holding the source row's key.
    pub(super) source: String,
    /// Column holding the target row's key.
    pub(super) target: String,
    link: String,
    unlink: String,
    clear: String,
}

impl JoinTable {
    pub fn new(name: &str, source_key: &str, target_key: &str) -> JoinTable {
        let (name, source, target) = (
            quote_ident(name),
            quote_ident(source_key),
            quote_ident(target_key),
        );
        let link = [
            "INSERT INTO ",
            &name,
            " (",
            &source,
            ", ",
            &target,
            ") VALUES ($1, $2) ON CONFLICT DO NOTHING",
        ]
        .concat();
        let unlink = [
            "DELETE FROM ",
            &name,
            " WHERE ",
            &source,
            " = $1 AND ",
            &target,
            " = $2",
        ]
        .concat();
        let clear = ["DELETE FROM ", &name, " WHERE ", &source, " = $1"].concat();
        JoinTable {
            name,
            source,
            target,
            link,
            unlink,
            clear,
        }
    }

    /// Links ($1 source key, $2 target key); an existing link is kept.
    pub fn link(&self) -> &str {
        &self.link
    }

    /// Removes one link ($1 source key, $2 target key).
    pub fn unlink(&self) -> &str {
        &self.unlink
    }

    /// Removes every link of one source row ($1).
    pub fn clear(&self) -> &str {
        &self.clear
    }
}

/// One condition of a WHERE clause (conditions of a list are ANDed).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond<'a> {
    /// `col op $n`. `text` tells whether the column is textual (LIKE on
    /// another type needs a cast on PostgreSQL).
    Cmp {
        col: &'a str,
        op: Op,
        text: bool,
        value: Value,
    },
    /// Any set fully holds: a row-level permission decision (OR of ANDs).
    AnyOf(Vec<Vec<Cond<'a>>>),
    /// Holds for no row (a condition that cannot apply to this table).
    False,
}

/// One ORDER BY term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<'a> {
    pub col: &'a str,
    pub desc: bool,
}

/// A page of live rows and their total: `SELECT` with LIMIT/OFFSET plus
/// `COUNT(*) AS n` over the same WHERE clause.
#[derive(Debug, Clone)]
pub struct List<'a> {
    pub table: &'a Table,
    pub filter: Vec<Cond<'a>>,
    /// NULLs sort last ascending, first descending, on both stores; the
    /// primary key is appended as a tiebreaker so pages are stable.
    pub sort: Vec<Sort<'a>>,
    pub limit: i64,
    pub offset: i64,
}

/// How an include reaches the related rows from the parents' key list.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// The related table's `col` is in the key list.
    Column(&'a str),
    /// Through a join table whose source (or, `reverse`, target) column is in
    /// the key list, joined to the related table on its column `on`. The
    /// matched join key comes first in each row.
    Join {
        join: &'a JoinTable,
        reverse: bool,
        on: &'a str,
    },
}

/// The live related rows of a batch of parents (one query per include).
#[derive(Debug, Clone)]
pub struct Include<'a> {
    pub table: &'a Table,
    pub via: Via<'a>,
    /// The parents' distinct key values, bound as one list parameter.
    pub keys: Vec<Value>,
    /// Extra conditions on the related table (its read policy).
    pub filter: Vec<Cond<'a>>,
}

/// `INSERT … RETURNING <columns>`; no values means DEFAULT VALUES.
#[derive(Debug, Clone)]
pub struct Insert<'a> {
    pub table: &'a Table,
    pub values: Vec<(&'a str, Value)>,
}

/// `UPDATE … SET … WHERE <pk> = $1 RETURNING <columns>` on the live row with
/// `key`; with nothing to set it reads that row instead.
#[derive(Debug, Clone)]
pub struct Update<'a> {
    pub table: &'a Table,
    pub key: Value,
    pub sets: Vec<(&'a str, Value)>,
}

/// Statements over the rows of `table` whose `col` equals `key`.
#[derive(Debug, Clone)]
pub struct ByKey<'a> {
    pub table: &'a Table,
    pub col: &'a str,
    pub key: Value,
}

/// The stored values of a slug column that are `base` or `base-…`, counting
/// soft-deleted rows too (the unique index does), except the row `exclude`.
#[derive(Debug, Clone)]
pub struct SlugsTaken<'a> {
    pub table: &'a Table,
    pub col: &'a str,
    pub base: &'a str,
    pub exclude: Option<Value>,
}
