//! The SQL writer shared by the statement renderers (`select.rs`,
//! `write.rs`): text and parameters in one pass, conditions rendered with the
//! dialect's [`Syntax`] for the pieces that differ.

use std::fmt::Write;

use super::plan::{Cond, Op, Table};
use super::{Statement, Syntax};
use crate::Value;

/// The soft-delete column (declared or implicit, always this name).
pub(super) const DELETED_AT: &str = "\"deleted_at\"";
/// Table aliases of an include through a join table.
pub(super) const JOIN: &str = "j";
pub(super) const RELATED: &str = "r";

/// SQL text with its parameters, numbered `$n` in the order they are bound.
pub(super) struct Writer {
    pub(super) sql: String,
    pub(super) params: Vec<Value>,
}

impl Writer {
    pub(super) fn new() -> Writer {
        Writer {
            sql: String::with_capacity(256),
            params: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// Binds `v` as the next parameter and writes its placeholder.
    pub(super) fn bind(&mut self, v: Value) {
        self.params.push(v);
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "${}", self.params.len());
    }

    /// `, ` before every item of a list but the first.
    pub(super) fn comma(&mut self, i: usize) {
        if i > 0 {
            self.push(", ");
        }
    }

    pub(super) fn col(&mut self, alias: Option<&str>, col: &str) {
        if let Some(a) = alias {
            self.push(a);
            self.push(".");
        }
        self.push(col);
    }

    /// `SELECT <columns> FROM <table>`, columns qualified by `alias`.
    pub(super) fn select(&mut self, t: &Table, alias: Option<&str>) {
        self.push("SELECT ");
        self.columns(t, alias);
        self.push(" FROM ");
        self.push(&t.name);
    }

    pub(super) fn columns(&mut self, t: &Table, alias: Option<&str>) {
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
    pub(super) fn live(&mut self, t: &Table, alias: Option<&str>) {
        if t.soft_delete {
            self.push(" AND ");
            self.col(alias, DELETED_AT);
            self.push(" IS NULL");
        }
    }

    /// The conditions ANDed after whatever was written since `start`, then
    /// the live-row condition; `TRUE` when nothing applies.
    pub(super) fn filter(
        &mut self,
        syn: &Syntax,
        start: usize,
        conds: Vec<Cond<'_>>,
        t: &Table,
        alias: Option<&str>,
    ) {
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
    pub(super) fn where_key(&mut self, col: &str) {
        self.push(" WHERE ");
        self.push(col);
        self.push(" = $1");
    }

    pub(super) fn cond(&mut self, syn: &Syntax, c: Cond<'_>, alias: Option<&str>) {
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

    pub(super) fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}
