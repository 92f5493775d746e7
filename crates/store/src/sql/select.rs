//! Reads: a list page with its count, includes, select by one column.

use super::plan::{Cond, Include, JoinTable, List, Op, Table, Via};
use super::render::{Writer, JOIN, RELATED};
use super::{syntax, Statement};
use crate::{Dialect, Value};

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
