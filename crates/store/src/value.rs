use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use postgres_types::{IsNull, ToSql, Type};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::BindError;

/// A SQL parameter or a decoded column value.
///
/// Parameters are converted to whatever type the database expects for the
/// placeholder at bind time, so callers can pass `Text` for a UUID column and
/// get a clear `InvalidValue` error instead of a type mismatch when it is bad.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Json(serde_json::Value),
    /// A whole JSON document for a `json` column: JSONB on PostgreSQL, JSON
    /// text on SQLite (where `Json` binds scalars as bare SQL values).
    Document(serde_json::Value),
    Uuid(Uuid),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
    TextList(Vec<String>),
    /// A list parameter for `= ANY($n)` (PostgreSQL array) or
    /// `IN (SELECT value FROM json_each(?n))` (SQLite JSON text).
    List(Vec<Value>),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Self {
        Value::Text(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn now() -> Self {
        Value::Timestamp(Utc::now())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Uuid> for Value {
    fn from(u: Uuid) -> Self {
        Value::Uuid(u)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Self {
        Value::Timestamp(t)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

/// Parses the timestamp spellings clients and both stores produce: RFC 3339,
/// `YYYY-MM-DD HH:MM:SS[.f]` (UTC) and a bare date (midnight UTC).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Parses a date; a full timestamp contributes its UTC date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_timestamp(s).map(|t| t.date_naive()))
}

/// RFC 3339 UTC with microseconds, the API's timestamp format.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Fixed-width text form stored in SQLite so text comparison orders correctly.
pub(crate) fn sqlite_timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn bind_err(v: &Value, ty: &Type) -> Box<dyn std::error::Error + Sync + Send> {
    let shown = match v {
        Value::Text(s) => format!("'{}'", s.chars().take(64).collect::<String>()),
        other => format!("{other:?}").chars().take(64).collect(),
    };
    Box::new(BindError(format!("invalid value {shown} for type {ty}")))
}

type BoxErr = Box<dyn std::error::Error + Sync + Send>;

fn int_to_sql(i: i64, ty: &Type, out: &mut BytesMut, v: &Value) -> Result<IsNull, BoxErr> {
    match *ty {
        Type::INT2 => i16::try_from(i).map_err(|_| bind_err(v, ty))?.to_sql(ty, out),
        Type::INT4 => i32::try_from(i).map_err(|_| bind_err(v, ty))?.to_sql(ty, out),
        Type::INT8 => i.to_sql(ty, out),
        Type::FLOAT4 => (i as f32).to_sql(ty, out),
        Type::FLOAT8 => (i as f64).to_sql(ty, out),
        Type::NUMERIC => Decimal::from(i).to_sql(ty, out),
        Type::BOOL => (i != 0).to_sql(ty, out),
        Type::JSON | Type::JSONB => serde_json::Value::from(i).to_sql(ty, out),
        _ => i.to_string().to_sql(ty, out),
    }
}

fn text_to_sql(s: &str, ty: &Type, out: &mut BytesMut, v: &Value) -> Result<IsNull, BoxErr> {
    let bad = || bind_err(v, ty);
    match *ty {
        Type::UUID => Uuid::parse_str(s.trim()).map_err(|_| bad())?.to_sql(ty, out),
        Type::TIMESTAMPTZ => parse_timestamp(s).ok_or_else(bad)?.to_sql(ty, out),
        Type::TIMESTAMP => parse_timestamp(s).ok_or_else(bad)?.naive_utc().to_sql(ty, out),
        Type::DATE => parse_date(s).ok_or_else(bad)?.to_sql(ty, out),
        Type::INT2 | Type::INT4 | Type::INT8 => {
            let i: i64 = s.trim().parse().map_err(|_| bad())?;
            int_to_sql(i, ty, out, v)
        }
        Type::FLOAT4 | Type::FLOAT8 => {
            let f: f64 = s.trim().parse().map_err(|_| bad())?;
            float_to_sql(f, ty, out, v)
        }
        Type::NUMERIC => s
            .trim()
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(s.trim()))
            .map_err(|_| bad())?
            .to_sql(ty, out),
        Type::BOOL => parse_bool(s.trim()).ok_or_else(bad)?.to_sql(ty, out),
        Type::JSON | Type::JSONB => serde_json::Value::String(s.to_string()).to_sql(ty, out),
        _ => s.to_sql(ty, out),
    }
}

fn float_to_sql(f: f64, ty: &Type, out: &mut BytesMut, v: &Value) -> Result<IsNull, BoxErr> {
    match *ty {
        Type::FLOAT8 => f.to_sql(ty, out),
        Type::FLOAT4 => (f as f32).to_sql(ty, out),
        Type::NUMERIC => Decimal::try_from(f).map_err(|_| bind_err(v, ty))?.to_sql(ty, out),
        Type::INT2 | Type::INT4 | Type::INT8 if f.fract() == 0.0 && f.abs() < 9.2e18 => {
            int_to_sql(f as i64, ty, out, v)
        }
        Type::INT2 | Type::INT4 | Type::INT8 | Type::BOOL | Type::UUID => Err(bind_err(v, ty)),
        Type::JSON | Type::JSONB => serde_json::Value::from(f).to_sql(ty, out),
        _ => f.to_string().to_sql(ty, out),
    }
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxErr> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT2 | Type::INT4 | Type::INT8 => int_to_sql(*b as i64, ty, out, self),
                Type::JSON | Type::JSONB => serde_json::Value::Bool(*b).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    b.to_string().to_sql(ty, out)
                }
                _ => Err(bind_err(self, ty)),
            },
            Value::Int(i) => int_to_sql(*i, ty, out, self),
            Value::Float(f) => float_to_sql(*f, ty, out, self),
            Value::Text(s) => text_to_sql(s, ty, out, self),
            Value::Document(j) => match *ty {
                Type::JSON | Type::JSONB => j.to_sql(ty, out),
                _ => j.to_string().to_sql(ty, out),
            },
            Value::Json(j) => match *ty {
                Type::JSON | Type::JSONB => j.to_sql(ty, out),
                Type::TEXT_ARRAY => {
                    let list: Vec<String> =
                        serde_json::from_value(j.clone()).map_err(|_| bind_err(self, ty))?;
                    list.to_sql(ty, out)
                }
                _ => match j {
                    serde_json::Value::String(s) => text_to_sql(s, ty, out, self),
                    serde_json::Value::Bool(b) => Value::Bool(*b).to_sql(ty, out),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => int_to_sql(i, ty, out, self),
                        None => float_to_sql(n.as_f64().unwrap_or(0.0), ty, out, self),
                    },
                    other => other.to_string().to_sql(ty, out),
                },
            },
            Value::Uuid(u) => match *ty {
                Type::UUID => u.to_sql(ty, out),
                _ => u.to_string().to_sql(ty, out),
            },
            Value::Timestamp(t) => match *ty {
                Type::TIMESTAMPTZ => t.to_sql(ty, out),
                Type::TIMESTAMP => t.naive_utc().to_sql(ty, out),
                Type::DATE => t.date_naive().to_sql(ty, out),
                _ => format_timestamp(t).to_sql(ty, out),
            },
            Value::Date(d) => match *ty {
                Type::DATE => d.to_sql(ty, out),
                Type::TIMESTAMPTZ => d
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc())
                    .ok_or_else(|| bind_err(self, ty))?
                    .to_sql(ty, out),
                _ => d.to_string().to_sql(ty, out),
            },
            Value::TextList(l) => match *ty {
                Type::JSON | Type::JSONB => serde_json::json!(l).to_sql(ty, out),
                Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => l.to_sql(ty, out),
                _ => serde_json::json!(l).to_string().to_sql(ty, out),
            },
            Value::List(items) => match ty.kind() {
                postgres_types::Kind::Array(member) => {
                    let len = i32::try_from(items.len()).map_err(|_| bind_err(self, ty))?;
                    let dims = [postgres_protocol::types::ArrayDimension { len, lower_bound: 1 }];
                    postgres_protocol::types::array_to_sql(
                        dims,
                        member.oid(),
                        items.iter(),
                        |e, w| match e.to_sql(member, w)? {
                            IsNull::No => Ok(postgres_protocol::IsNull::No),
                            IsNull::Yes => Ok(postgres_protocol::IsNull::Yes),
                        },
                        out,
                    )?;
                    Ok(IsNull::No)
                }
                _ => Err(bind_err(self, ty)),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres_types::to_sql_checked!();
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sv};
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(Sv::Null),
            Value::Bool(b) => ToSqlOutput::Owned(Sv::Integer(*b as i64)),
            Value::Int(i) => ToSqlOutput::Owned(Sv::Integer(*i)),
            Value::Float(f) => ToSqlOutput::Owned(Sv::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(s.as_bytes())),
            Value::Json(j) => match j {
                serde_json::Value::String(s) => {
                    ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(s.as_bytes()))
                }
                serde_json::Value::Bool(b) => ToSqlOutput::Owned(Sv::Integer(*b as i64)),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => ToSqlOutput::Owned(Sv::Integer(i)),
                    None => ToSqlOutput::Owned(Sv::Real(n.as_f64().unwrap_or(0.0))),
                },
                serde_json::Value::Null => ToSqlOutput::Owned(Sv::Null),
                other => ToSqlOutput::Owned(Sv::Text(other.to_string())),
            },
            Value::Document(j) => ToSqlOutput::Owned(Sv::Text(j.to_string())),
            Value::Uuid(u) => ToSqlOutput::Owned(Sv::Text(u.to_string())),
            Value::Timestamp(t) => ToSqlOutput::Owned(Sv::Text(sqlite_timestamp(t))),
            Value::Date(d) => ToSqlOutput::Owned(Sv::Text(d.to_string())),
            Value::TextList(l) => ToSqlOutput::Owned(Sv::Text(serde_json::json!(l).to_string())),
            Value::List(items) => ToSqlOutput::Owned(Sv::Text(sqlite_json_list(items))),
        })
    }
}

/// A list as JSON text for `json_each`, each item in its stored SQLite form.
fn sqlite_json_list(items: &[Value]) -> String {
    let arr: Vec<serde_json::Value> = items
        .iter()
        .map(|v| match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::from(*b as i64),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Value::from(*f),
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Json(j) => j.clone(),
            // Stored as JSON text, so matched as that text.
            Value::Document(j) => serde_json::Value::String(j.to_string()),
            Value::Uuid(u) => serde_json::Value::String(u.to_string()),
            Value::Timestamp(t) => serde_json::Value::String(sqlite_timestamp(t)),
            Value::Date(d) => serde_json::Value::String(d.to_string()),
            Value::TextList(l) => serde_json::Value::String(serde_json::json!(l).to_string()),
            Value::List(_) => serde_json::Value::Null,
        })
        .collect();
    serde_json::Value::Array(arr).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timestamp_spellings() {
        let want = "2026-03-01T09:15:04Z";
        for s in [
            "2026-03-01T09:15:04Z",
            "2026-03-01 09:15:04",
            "2026-03-01T09:15:04.000Z",
            "2026-03-01T10:15:04+01:00",
        ] {
            let t = parse_timestamp(s).expect(s);
            assert_eq!(t.to_rfc3339_opts(SecondsFormat::Secs, true), want, "{s}");
        }
        assert!(parse_timestamp("yesterday").is_none());
        assert_eq!(
            parse_date("2026-03-01T23:00:00Z").unwrap().to_string(),
            "2026-03-01"
        );
    }

    #[test]
    fn sqlite_timestamps_are_fixed_width() {
        let t = parse_timestamp("2026-03-01T09:15:04Z").unwrap();
        assert_eq!(sqlite_timestamp(&t), "2026-03-01T09:15:04.000000Z");
    }

    #[test]
    fn documents_in_a_list_match_their_stored_text() {
        let doc = serde_json::json!({"a": "b"});
        let list = sqlite_json_list(&[Value::Document(doc.clone()), Value::Json("x".into())]);
        assert_eq!(list, r#"["{\"a\":\"b\"}","x"]"#);
    }
}
