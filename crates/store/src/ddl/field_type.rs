//! The logical field types of metadata.md §2.1. Their column type per dialect
//! is decided here and nowhere else (`rocket_meta::FieldType` re-exports this).

use crate::Dialect;

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

    /// The column type DDL gives this field (`precision` is a decimal's scale).
    pub fn column_type(self, dialect: Dialect, precision: Option<i64>) -> String {
        super::syntax(dialect).column_type(self, precision).into_owned()
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
