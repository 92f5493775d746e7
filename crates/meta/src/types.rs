//! Field types and their column types per dialect (metadata.md §2.1).

use rocket_store::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Text,
    Int,
    BigInt,
    Float,
    Decimal,
    Boolean,
    Uuid,
    Timestamp,
    Date,
    Json,
    File,
}

impl FieldType {
    pub fn parse(s: &str) -> Option<FieldType> {
        Some(match s {
            "string" => FieldType::String,
            "text" => FieldType::Text,
            "int" | "integer" => FieldType::Int,
            "bigint" => FieldType::BigInt,
            "float" => FieldType::Float,
            "decimal" => FieldType::Decimal,
            "boolean" => FieldType::Boolean,
            "uuid" => FieldType::Uuid,
            "timestamp" => FieldType::Timestamp,
            "date" => FieldType::Date,
            "json" => FieldType::Json,
            "file" => FieldType::File,
            _ => return None,
        })
    }

    pub fn column_type(self, dialect: Dialect, precision: Option<i64>) -> String {
        let pg = dialect == Dialect::Postgres;
        match self {
            FieldType::String | FieldType::Text => "TEXT".into(),
            FieldType::Int => "INTEGER".into(),
            FieldType::BigInt => if pg { "BIGINT" } else { "INTEGER" }.into(),
            FieldType::Float => if pg { "DOUBLE PRECISION" } else { "REAL" }.into(),
            FieldType::Decimal if pg => match precision {
                Some(p) if p > 0 => format!("NUMERIC(18,{})", p.min(18)),
                _ => "NUMERIC".into(),
            },
            FieldType::Decimal => "REAL".into(),
            FieldType::Boolean => if pg { "BOOLEAN" } else { "INTEGER" }.into(),
            FieldType::Uuid => if pg { "UUID" } else { "TEXT" }.into(),
            FieldType::Timestamp => if pg { "TIMESTAMPTZ" } else { "TEXT" }.into(),
            FieldType::Date => if pg { "DATE" } else { "TEXT" }.into(),
            FieldType::Json | FieldType::File => if pg { "JSONB" } else { "TEXT" }.into(),
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int | FieldType::BigInt | FieldType::Float | FieldType::Decimal
        )
    }

    pub fn is_integer(self) -> bool {
        matches!(self, FieldType::Int | FieldType::BigInt)
    }

    pub fn is_textual(self) -> bool {
        matches!(self, FieldType::String | FieldType::Text)
    }
}

/// `^[a-z_][a-z0-9_]*$`, at most 63 bytes (PostgreSQL identifier limit).
pub fn valid_ident(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}
