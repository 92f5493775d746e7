//! Statements whose shape both dialects share; the differences come from the
//! dialect's [`Syntax`]. Every identifier is quoted; DEFAULT literals are the
//! only values written into the text.

use super::{ColumnSpec, DeferredIndex, IndexSpec, JoinTableSpec, Literal, Syntax, TableSpec};
use crate::quote_ident;

/// Statements to run in the transaction, in order, and builds for after commit.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    pub statements: Vec<String>,
    pub deferred: Vec<DeferredIndex>,
}

impl Plan {
    /// Unique indexes always build in the transaction: a duplicate must fail
    /// the change. Plain ones are deferred when `concurrently` is given.
    fn index(&mut self, table: &str, idx: &IndexSpec, concurrently: Option<&'static str>) {
        match concurrently {
            Some(kw) if !idx.unique => self.deferred.push(index(table, idx, kw)),
            _ => self.statements.push(index(table, idx, "").sql),
        }
    }
}

/// `existing` lists the table's columns, `None` when the table is missing.
pub(super) fn table(sx: &dyn Syntax, spec: &TableSpec, existing: Option<&[String]>) -> Plan {
    let mut plan = Plan::default();
    let table = quote_ident(&spec.name);
    match existing {
        None => {
            let cols: Vec<String> = spec
                .columns
                .iter()
                .map(|c| {
                    if c.name == spec.primary_key {
                        sx.pk_column(&quote_ident(&c.name), c.ty, spec.key_default)
                    } else {
                        column_def(sx, c, true)
                    }
                })
                .collect();
            plan.statements
                .push(format!("CREATE TABLE {table} ({})", cols.join(", ")));
        }
        Some(have) => {
            for c in spec.columns.iter().filter(|c| !have.contains(&c.name)) {
                plan.statements.push(format!(
                    "ALTER TABLE {table} ADD COLUMN {}",
                    column_def(sx, c, false)
                ));
            }
        }
    }
    // A new table is empty: nothing to gain from building after commit.
    let concurrently = existing.and(sx.concurrently());
    for idx in &spec.indexes {
        plan.index(&spec.name, idx, concurrently);
    }
    plan
}

/// An index on a table that already exists (and may hold rows).
pub(super) fn index_on_existing(sx: &dyn Syntax, table: &str, idx: &IndexSpec) -> Plan {
    let mut plan = Plan::default();
    plan.index(table, idx, sx.concurrently());
    plan
}

/// CREATE TABLE for a join table, then the index on its second key (the
/// primary key already covers lookups by the first).
pub(super) fn join_table(sx: &dyn Syntax, spec: &JoinTableSpec) -> Vec<String> {
    let (s, t) = (quote_ident(&spec.source_column), quote_ident(&spec.target_column));
    let create = format!(
        "CREATE TABLE {} ({s} {} NOT NULL, {t} {} NOT NULL, PRIMARY KEY ({s}, {t}))",
        quote_ident(&spec.name),
        sx.column_type(spec.source_type, None),
        sx.column_type(spec.target_type, None),
    );
    let idx = index(&spec.name, &IndexSpec::plain(&spec.target_column), "");
    vec![create, idx.sql]
}

fn index(table: &str, idx: &IndexSpec, concurrently: &str) -> DeferredIndex {
    let name = format!("idx_{table}_{}", idx.column);
    let column = quote_ident(&idx.column);
    let partial = if idx.only_null {
        format!(" WHERE {column} IS NULL")
    } else {
        String::new()
    };
    let sql = format!(
        "CREATE {}INDEX {concurrently}IF NOT EXISTS {} ON {}({column}){partial}",
        if idx.unique { "UNIQUE " } else { "" },
        quote_ident(&name),
        quote_ident(table),
    );
    DeferredIndex { name, sql }
}

fn column_def(sx: &dyn Syntax, c: &ColumnSpec, new_table: bool) -> String {
    let mut s = format!("{} {}", quote_ident(&c.name), sx.column_type(c.ty, c.precision));
    match (&c.default, new_table) {
        (Some(d), _) => {
            s.push_str(" DEFAULT ");
            s.push_str(&literal(sx, d, c));
            if c.not_null {
                s.push_str(" NOT NULL");
            }
        }
        // A column added to a table with rows stays nullable: there is no
        // value to give the existing rows.
        (None, true) if c.not_null => s.push_str(" NOT NULL"),
        _ => {}
    }
    s
}

fn literal(sx: &dyn Syntax, v: &Literal, c: &ColumnSpec) -> String {
    match v {
        Literal::Null => "NULL".into(),
        Literal::Bool(b) => sx.bool_literal(*b, c.ty).into(),
        Literal::Number(n) => n.to_string(),
        Literal::Text(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// Fixtures the per-dialect tests share.
#[cfg(test)]
pub(super) mod fixtures {
    use super::super::{ColumnSpec, FieldType, IndexSpec, KeyDefault, Literal, TableSpec};

    pub fn col(name: &str, ty: FieldType) -> ColumnSpec {
        ColumnSpec {
            name: name.into(),
            ty,
            precision: None,
            not_null: false,
            default: None,
        }
    }

    /// `items`: uuid key, a required title, a flag with a default, a unique
    /// code, an indexed price, soft delete.
    pub fn items() -> TableSpec {
        TableSpec {
            name: "items".into(),
            primary_key: "id".into(),
            key_default: KeyDefault::RandomUuid,
            columns: vec![
                col("id", FieldType::Uuid),
                ColumnSpec {
                    not_null: true,
                    ..col("title", FieldType::String)
                },
                ColumnSpec {
                    not_null: true,
                    default: Some(Literal::Bool(true)),
                    ..col("active", FieldType::Boolean)
                },
                ColumnSpec {
                    default: Some(Literal::Text("it's".into())),
                    ..col("code", FieldType::String)
                },
                ColumnSpec {
                    precision: Some(2),
                    ..col("price", FieldType::Decimal)
                },
                col("deleted_at", FieldType::Timestamp),
            ],
            indexes: vec![
                IndexSpec::unique("code"),
                IndexSpec::plain("price"),
                IndexSpec {
                    only_null: true,
                    ..IndexSpec::plain("deleted_at")
                },
            ],
        }
    }
}
