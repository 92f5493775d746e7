//! Plan values to SQL text and parameters. The shapes are the same on both
//! stores; the pieces that differ come from the dialect's [`Syntax`].

use std::fmt::Write;

use super::plan::{ByKey, Cond, Include, Insert, JoinTable, List, Op, SlugsTaken, Table, Update, Via};
use super::{syntax, Statement, Syntax};
use crate::{Dialect, Value};

/// The soft-delete column (declared or implicit, always this name).
const DELETED_AT: &str = "\"deleted_at\"";
/// Table aliases of an include through a join table.
const JOIN: &str = "j";
const RELATED: &str = "r";

/// SQL text with its parameters, numbered `$n` in the order they are bound.
struct Writer {
    sql: String,
    params: Vec<Value>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            sql: String::with_capacity(256),
            params: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// Binds `v` as the next parameter and writes its placeholder.
    fn bind(&mut self, v: Value) {
        self.params.push(v);
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "${}", self.params.len());
    }

    /// `, ` before every item of a list but the first.
    fn comma(&mut self, i: usize) {
        if i > 0 {
            self.push(", ");
        }
    }

    fn col(&mut self, alias: Option<&str>, col: &str) {
        if let Some(a) = alias {
            self.push(a);
            self.push(".");
        }
        self.push(col);
    }

    /// `SELECT <columns> FROM <table>`, columns qualified by `alias`.
    fn select(&mut self, t: &Table, alias: Option<&str>) {
        self.push("SELECT ");
        self.columns(t, alias);
        self.push(" FROM ");
        self.push(&t.name);
    }

    fn columns(&mut self, t: &Table, alias: Option<&str>) {
        match alias {
            None => self.push(&t.select_list),
            Some(a) => {
                for (i, c) in t.columns.iter().enumerate() {
                    self.comma(i);
                    self.col(Some(a), c);
                }
            }
        }
    }

    /// ` AND "deleted_at" IS NULL` when the table soft-deletes.
    fn live(&mut self, t: &Table, alias: Option<&str>) {
        if t.soft_delete {
            self.push(" AND ");
            self.col(alias, DELETED_AT);
            self.push(" IS NULL");
        }
    }

    /// The conditions ANDed after whatever was written since `start`, then
    /// the live-row condition; `TRUE` when nothing applies.
    fn filter(&mut self, syn: &Syntax, start: usize, conds: Vec<Cond<'_>>, t: &Table, alias: Option<&str>) {
        for c in conds {
            if self.sql.len() > start {
                self.push(" AND ");
            }
            self.cond(syn, c, alias);
        }
        if self.sql.len() > start {
            self.live(t, alias);
        } else if t.soft_delete {
            self.col(alias, DELETED_AT);
            self.push(" IS NULL");
        } else {
            self.push("TRUE");
        }
    }

    /// ` WHERE <col> = $1`: statements by one key bind it first.
    fn where_key(&mut self, col: &str) {
        self.push(" WHERE ");
        self.push(col);
        self.push(" = $1");
    }

    fn cond(&mut self, syn: &Syntax, c: Cond<'_>, alias: Option<&str>) {
        match c {
            Cond::Cmp { col, op, text, value } => {
                let (before, infix, after) = match op {
                    Op::In => ("", syn.in_list.0, syn.in_list.1),
                    Op::NotIn => ("", syn.not_in_list.0, syn.not_in_list.1),
                    Op::Like if syn.like_casts && !text => ("CAST(", " AS TEXT) LIKE ", ""),
                    Op::Like => ("", " LIKE ", ""),
                    Op::Eq => ("", " = ", ""),
                    Op::Neq => ("", " != ", ""),
                    Op::Gt => ("", " > ", ""),
                    Op::Gte => ("", " >= ", ""),
                    Op::Lt => ("", " < ", ""),
                    Op::Lte => ("", " <= ", ""),
                };
                self.push(before);
                self.col(alias, col);
                self.push(infix);
                self.bind(value);
                self.push(after);
            }
            Cond::AnyOf(sets) if sets.is_empty() => self.push("FALSE"),
            Cond::AnyOf(sets) => {
                self.push("(");
                for (i, set) in sets.into_iter().enumerate() {
                    if i > 0 {
                        self.push(" OR ");
                    }
                    self.push("(");
                    let start = self.sql.len();
                    for c in set {
                        if self.sql.len() > start {
                            self.push(" AND ");
                        }
                        self.cond(syn, c, alias);
                    }
                    if self.sql.len() == start {
                        self.push("TRUE");
                    }
                    self.push(")");
                }
                self.push(")");
            }
            Cond::False => self.push("FALSE"),
        }
    }

    fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}

/// `SELECT <columns> FROM <table> WHERE <col> = $1` over live rows.
pub(super) fn select_by(t: &Table, col: &str) -> String {
    let mut w = Writer::new();
    w.select(t, None);
    w.where_key(col);
    w.live(t, None);
    w.sql
}

fn key_in<'a>(col: &'a str, keys: Vec<Value>) -> Cond<'a> {
    Cond::Cmp {
        col,
        op: Op::In,
        text: false,
        value: Value::List(keys),
    }
}

impl List<'_> {
    /// The page statement and the count statement (same WHERE clause).
    pub fn render(self, dialect: Dialect) -> (Statement, Statement) {
        let t = self.table;
        let mut w = Writer::new();
        w.filter(syntax(dialect), 0, self.filter, t, None);
        let Statement { sql: wh, params } = w.finish();

        let mut count = Writer::new();
        count.push("SELECT COUNT(*) AS n FROM ");
        count.push(&t.name);
        count.push(" WHERE ");
        count.push(&wh);
        count.params = params;

        let mut page = Writer::new();
        page.params = count.params.clone();
        page.select(t, None);
        page.push(" WHERE ");
        page.push(&wh);
        page.push(" ORDER BY ");
        for (i, s) in self.sort.iter().enumerate() {
            page.comma(i);
            page.push(s.col);
            page.push(if s.desc {
                " DESC NULLS FIRST"
            } else {
                " ASC NULLS LAST"
            });
        }
        if !self.sort.iter().any(|s| s.col == t.pk) {
            if !self.sort.is_empty() {
                page.push(", ");
            }
            page.push(&t.pk);
            page.push(" ASC");
        }
        page.push(" LIMIT ");
        page.bind(Value::Int(self.limit));
        page.push(" OFFSET ");
        page.bind(Value::Int(self.offset));
        (page.finish(), count.finish())
    }
}

impl Include<'_> {
    pub fn render(self, dialect: Dialect) -> Statement {
        let (syn, t) = (syntax(dialect), self.table);
        let mut w = Writer::new();
        match self.via {
            Via::Column(col) => {
                w.select(t, None);
                w.push(" WHERE ");
                let start = w.sql.len();
                w.cond(syn, key_in(col, self.keys), None);
                w.filter(syn, start, self.filter, t, None);
            }
            Via::Join { join, reverse, on } => {
                let (key, other) = join_keys(join, reverse);
                w.push("SELECT ");
                w.col(Some(JOIN), key);
                w.push(", ");
                w.columns(t, Some(RELATED));
                w.push(" FROM ");
                w.push(&join.name);
                w.push(" j JOIN ");
                w.push(&t.name);
                w.push(" r ON ");
                w.col(Some(RELATED), on);
                w.push(" = ");
                w.col(Some(JOIN), other);
                w.push(" WHERE ");
                let start = w.sql.len();
                w.cond(syn, key_in(key, self.keys), Some(JOIN));
                w.filter(syn, start, self.filter, t, Some(RELATED));
            }
        }
        w.finish()
    }
}

/// (column matched against the key list, column joined to the related table).
fn join_keys(join: &JoinTable, reverse: bool) -> (&str, &str) {
    if reverse {
        (&join.target, &join.source)
    } else {
        (&join.source, &join.target)
    }
}

impl Insert<'_> {
    pub fn render(self) -> Statement {
        let t = self.table;
        let mut w = Writer::new();
        w.push("INSERT INTO ");
        w.push(&t.name);
        if self.values.is_empty() {
            w.push(" DEFAULT VALUES");
        } else {
            w.push(" (");
            for (i, (col, _)) in self.values.iter().enumerate() {
                w.comma(i);
                w.push(col);
            }
            w.push(") VALUES (");
            for (i, (_, v)) in self.values.into_iter().enumerate() {
                w.comma(i);
                w.bind(v);
            }
            w.push(")");
        }
        w.push(" RETURNING ");
        w.push(&t.select_list);
        w.finish()
    }
}

impl Update<'_> {
    pub fn render(self) -> Statement {
        let t = self.table;
        let mut w = Writer::new();
        w.params.push(self.key); // $1
        if self.sets.is_empty() {
            w.push(t.by_pk());
            return w.finish();
        }
        w.push("UPDATE ");
        w.push(&t.name);
        w.push(" SET ");
        for (i, (col, v)) in self.sets.into_iter().enumerate() {
            w.comma(i);
            w.push(col);
            w.push(" = ");
            w.bind(v);
        }
        w.where_key(&t.pk);
        w.live(t, None);
        w.push(" RETURNING ");
        w.push(&t.select_list);
        w.finish()
    }
}

impl ByKey<'_> {
    /// A writer with the key bound as `$1`.
    fn writer(key: Value) -> Writer {
        let mut w = Writer::new();
        w.params.push(key);
        w
    }

    /// `SELECT <what> FROM <table> WHERE <col> = $1` over live rows.
    fn select_live(self, what: &str) -> Statement {
        let mut w = Self::writer(self.key);
        w.push("SELECT ");
        w.push(what);
        w.push(" FROM ");
        w.push(&self.table.name);
        w.where_key(self.col);
        w.live(self.table, None);
        w.finish()
    }

    /// `COUNT(*) AS n` of the live rows.
    pub fn count(self) -> Statement {
        self.select_live("COUNT(*) AS n")
    }

    /// The primary keys of the live rows.
    pub fn keys(self) -> Statement {
        let t = self.table;
        self.select_live(&t.pk)
    }

    /// Soft-deletes the live rows (stamping `deleted_at`) when the table
    /// soft-deletes, else deletes them.
    pub fn delete(self) -> Statement {
        let t = self.table;
        let mut w = Self::writer(self.key);
        if t.soft_delete {
            w.push("UPDATE ");
            w.push(&t.name);
            w.push(" SET ");
            w.push(DELETED_AT);
            w.push(" = ");
            w.bind(Value::now());
            w.where_key(self.col);
            w.live(t, None);
        } else {
            w.push("DELETE FROM ");
            w.push(&t.name);
            w.where_key(self.col);
        }
        w.finish()
    }

    /// Sets `col` to NULL in every row that has the key.
    pub fn set_null(self) -> Statement {
        let mut w = Self::writer(self.key);
        w.push("UPDATE ");
        w.push(&self.table.name);
        w.push(" SET ");
        w.push(self.col);
        w.push(" = NULL");
        w.where_key(self.col);
        w.finish()
    }
}

impl SlugsTaken<'_> {
    pub fn render(self) -> Statement {
        let (t, col) = (self.table, self.col);
        // `base-<anything>`, with LIKE's own characters in `base` escaped.
        let mut pattern = self
            .base
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        pattern.push_str("-%");
        let mut w = Writer::new();
        w.push("SELECT ");
        w.push(col);
        w.push(" AS s FROM ");
        w.push(&t.name);
        w.push(" WHERE (");
        w.push(col);
        w.push(" = ");
        w.bind(Value::text(self.base));
        w.push(" OR ");
        w.push(col);
        w.push(" LIKE ");
        w.bind(Value::Text(pattern));
        w.push(" ESCAPE '\\')");
        if let Some(k) = self.exclude {
            w.push(" AND ");
            w.push(&t.pk);
            w.push(" != ");
            w.bind(k);
        }
        w.finish()
    }
}
