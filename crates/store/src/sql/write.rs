//! Writes: insert, update, statements by one key (cascades, children), and
//! the slug-candidate lookup.

use super::plan::{ByKey, Insert, SlugsTaken, Update};
use super::render::{Writer, DELETED_AT};
use super::Statement;
use crate::Value;

impl Insert<'_> {
    pub fn render(self) -> Statement {
        self.render_with(false)
    }

    /// As `render`, but a row whose key or unique value exists already is
    /// left alone (`ON CONFLICT DO NOTHING`, on both dialects): no row returns.
    pub fn render_keep_existing(self) -> Statement {
        self.render_with(true)
    }

    fn render_with(self, keep_existing: bool) -> Statement {
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
        if keep_existing {
            w.push(" ON CONFLICT DO NOTHING");
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
