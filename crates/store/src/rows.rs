use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::value::{parse_timestamp, Value};

/// Result set of one statement. Column names are shared by all rows.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub columns: Arc<[String]>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl IntoIterator for Rows {
    type Item = Row;
    type IntoIter = Box<dyn Iterator<Item = Row>>;

    fn into_iter(self) -> Self::IntoIter {
        let cols = self.columns;
        Box::new(self.rows.into_iter().map(move |values| Row {
            columns: cols.clone(),
            values,
        }))
    }
}

/// One row with typed accessors that read either store's representation
/// (SQLite keeps booleans as 0/1, JSON and arrays as text, timestamps as text).
#[derive(Debug, Clone)]
pub struct Row {
    pub columns: Arc<[String]>,
    pub values: Vec<Value>,
}

impl Row {
    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn value(&self, name: &str) -> &Value {
        self.index(name)
            .and_then(|i| self.values.get(i))
            .unwrap_or(&Value::Null)
    }

    pub fn str(&self, name: &str) -> Option<String> {
        match self.value(name) {
            Value::Text(s) => Some(s.clone()),
            Value::Uuid(u) => Some(u.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Timestamp(t) => Some(crate::format_timestamp(t)),
            Value::Date(d) => Some(d.to_string()),
            Value::Json(j) | Value::Document(j) => Some(j.to_string()),
            Value::TextList(l) => Some(serde_json::json!(l).to_string()),
            Value::List(_) | Value::Null => None,
        }
    }

    pub fn string(&self, name: &str) -> String {
        self.str(name).unwrap_or_default()
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        match self.value(name) {
            Value::Int(i) => Some(*i),
            Value::Float(f) => Some(*f as i64),
            Value::Text(s) => s.parse().ok(),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// NULL reads as `None`; SQLite integers 0/1 as booleans.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.value(name) {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            Value::Text(s) => Some(matches!(s.as_str(), "1" | "t" | "true" | "TRUE")),
            _ => None,
        }
    }

    pub fn timestamp(&self, name: &str) -> Option<DateTime<Utc>> {
        match self.value(name) {
            Value::Timestamp(t) => Some(*t),
            Value::Text(s) => parse_timestamp(s),
            Value::Date(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            _ => None,
        }
    }

    /// JSON column: JSONB on PostgreSQL, JSON text on SQLite.
    pub fn json(&self, name: &str) -> serde_json::Value {
        match self.value(name) {
            Value::Json(j) | Value::Document(j) => j.clone(),
            Value::Text(s) => serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.clone())),
            Value::TextList(l) => serde_json::json!(l),
            Value::Null => serde_json::Value::Null,
            other => serde_json::Value::String(format!("{other:?}")),
        }
    }

    /// TEXT[] on PostgreSQL, a JSON array in text on SQLite.
    pub fn text_list(&self, name: &str) -> Vec<String> {
        match self.value(name) {
            Value::TextList(l) => l.clone(),
            Value::Text(s) => serde_json::from_str(s).unwrap_or_default(),
            Value::Json(j) | Value::Document(j) => serde_json::from_value(j.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}
