//! SQLite's DDL vocabulary: five storage classes, rowid keys, no concurrent
//! index builds (one writer; indexes build inside the transaction).

use std::borrow::Cow;

use super::{FieldType, KeyDefault, Syntax};

pub(super) struct Sqlite;

impl Syntax for Sqlite {
    fn column_type(&self, ty: FieldType, _precision: Option<i64>) -> Cow<'static, str> {
        Cow::Borrowed(match ty {
            FieldType::Int | FieldType::BigInt | FieldType::Boolean => "INTEGER",
            FieldType::Float | FieldType::Decimal => "REAL",
            FieldType::String
            | FieldType::Text
            | FieldType::Uuid
            | FieldType::Timestamp
            | FieldType::Date
            | FieldType::Json
            | FieldType::File => "TEXT",
        })
    }

    fn pk_column(&self, name: &str, ty: FieldType, key: KeyDefault) -> String {
        match key {
            // Exactly this spelling makes the column SQLite's rowid (auto-assigned).
            KeyDefault::Identity | KeyDefault::BigIdentity => format!("{name} INTEGER PRIMARY KEY"),
            // No UUID function: the engine generates the key.
            KeyDefault::RandomUuid | KeyDefault::None => {
                format!("{name} {} PRIMARY KEY", self.column_type(ty, None))
            }
        }
    }

    fn bool_literal(&self, b: bool, _ty: FieldType) -> &'static str {
        if b {
            "1"
        } else {
            "0"
        }
    }

    fn columns_query(&self) -> &'static str {
        "SELECT name FROM pragma_table_info($1)"
    }

    fn concurrently(&self) -> Option<&'static str> {
        None
    }

    fn drop_index(&self, name: &str) -> String {
        format!("DROP INDEX IF EXISTS {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::render::{self, fixtures::*};
    use super::super::{ColumnSpec, FieldType, IndexSpec, JoinTableSpec, KeyDefault, Literal};
    use super::*;

    #[test]
    fn column_types() {
        let t = |ty, p| Sqlite.column_type(ty, p).into_owned();
        assert_eq!(t(FieldType::BigInt, None), "INTEGER");
        assert_eq!(t(FieldType::Boolean, None), "INTEGER");
        assert_eq!(t(FieldType::Decimal, Some(4)), "REAL");
        assert_eq!(t(FieldType::Uuid, None), "TEXT");
        assert_eq!(t(FieldType::Json, None), "TEXT");
        assert_eq!(FieldType::Float.column_type(crate::Dialect::Sqlite, None), "REAL");
    }

    #[test]
    fn new_table() {
        let plan = render::table(&Sqlite, &items(), None);
        assert_eq!(
            plan.statements,
            [
                "CREATE TABLE \"items\" (\"id\" TEXT PRIMARY KEY, \"title\" TEXT NOT NULL, \"active\" INTEGER DEFAULT 1 NOT NULL, \"code\" TEXT DEFAULT 'it''s', \"price\" REAL, \"deleted_at\" TEXT)",
                "CREATE UNIQUE INDEX IF NOT EXISTS \"idx_items_code\" ON \"items\"(\"code\")",
                "CREATE INDEX IF NOT EXISTS \"idx_items_price\" ON \"items\"(\"price\")",
                "CREATE INDEX IF NOT EXISTS \"idx_items_deleted_at\" ON \"items\"(\"deleted_at\") WHERE \"deleted_at\" IS NULL",
            ]
        );
        assert!(plan.deferred.is_empty());
    }

    #[test]
    fn existing_table_builds_indexes_in_the_transaction() {
        let have: Vec<String> = ["id", "title", "active", "code"].map(String::from).into();
        let plan = render::table(&Sqlite, &items(), Some(&have));
        assert_eq!(
            plan.statements,
            [
                "ALTER TABLE \"items\" ADD COLUMN \"price\" REAL",
                "ALTER TABLE \"items\" ADD COLUMN \"deleted_at\" TEXT",
                "CREATE UNIQUE INDEX IF NOT EXISTS \"idx_items_code\" ON \"items\"(\"code\")",
                "CREATE INDEX IF NOT EXISTS \"idx_items_price\" ON \"items\"(\"price\")",
                "CREATE INDEX IF NOT EXISTS \"idx_items_deleted_at\" ON \"items\"(\"deleted_at\") WHERE \"deleted_at\" IS NULL",
            ]
        );
        assert!(plan.deferred.is_empty());
    }

    #[test]
    fn keys_and_literals() {
        let pk = |k| Sqlite.pk_column("\"id\"", FieldType::BigInt, k);
        assert_eq!(pk(KeyDefault::Identity), "\"id\" INTEGER PRIMARY KEY");
        assert_eq!(pk(KeyDefault::BigIdentity), "\"id\" INTEGER PRIMARY KEY");
        assert_eq!(
            Sqlite.pk_column("\"id\"", FieldType::Uuid, KeyDefault::RandomUuid),
            "\"id\" TEXT PRIMARY KEY"
        );
        let mut spec = items();
        spec.key_default = KeyDefault::Identity;
        spec.columns = vec![
            col("id", FieldType::Int),
            ColumnSpec {
                default: Some(Literal::Bool(false)),
                ..col("flag", FieldType::String)
            },
            ColumnSpec {
                default: Some(Literal::Null),
                not_null: true,
                ..col("n", FieldType::Int)
            },
        ];
        spec.indexes.clear();
        assert_eq!(
            render::table(&Sqlite, &spec, None).statements,
            ["CREATE TABLE \"items\" (\"id\" INTEGER PRIMARY KEY, \"flag\" TEXT DEFAULT 0, \"n\" INTEGER DEFAULT NULL NOT NULL)"]
        );
    }

    #[test]
    fn join_table_and_foreign_key_index() {
        let spec = JoinTableSpec {
            name: "post_tags".into(),
            source_column: "post_id".into(),
            source_type: FieldType::Uuid,
            target_column: "tag_id".into(),
            target_type: FieldType::Int,
        };
        assert_eq!(
            render::join_table(&Sqlite, &spec),
            [
                "CREATE TABLE \"post_tags\" (\"post_id\" TEXT NOT NULL, \"tag_id\" INTEGER NOT NULL, PRIMARY KEY (\"post_id\", \"tag_id\"))",
                "CREATE INDEX IF NOT EXISTS \"idx_post_tags_tag_id\" ON \"post_tags\"(\"tag_id\")",
            ]
        );
        let fk = render::index_on_existing(&Sqlite, "comments", &IndexSpec::plain("post_id"));
        assert!(fk.deferred.is_empty());
        assert_eq!(
            fk.statements,
            ["CREATE INDEX IF NOT EXISTS \"idx_comments_post_id\" ON \"comments\"(\"post_id\")"]
        );
    }
}
