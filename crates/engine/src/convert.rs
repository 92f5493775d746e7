//! Conversions between stored values and API JSON, by field type.

use rocket_error::Detail;
use rocket_meta::{Entity, FieldType};
use rocket_store::{format_timestamp, parse_date, parse_timestamp, Value};
use serde_json::{Map, Number, Value as Json};

/// A stored or client record: field name to API JSON, in field order.
pub type Record = Map<String, Json>;

/// A stored column value as the API shows it (booleans as booleans on SQLite,
/// JSON columns as JSON, timestamps RFC 3339 UTC, dates `YYYY-MM-DD`).
pub fn to_json(v: Value, ty: FieldType) -> Json {
    match (v, ty) {
        (Value::Null, _) => Json::Null,
        (Value::Bool(b), _) => Json::Bool(b),
        (Value::Int(i), FieldType::Boolean) => Json::Bool(i != 0),
        (Value::Int(i), _) => Json::from(i),
        (Value::Float(f), FieldType::Int | FieldType::BigInt) if f.fract() == 0.0 => Json::from(f as i64),
        (Value::Float(f), _) => Number::from_f64(f).map_or(Json::Null, Json::Number),
        (Value::Timestamp(t), FieldType::Date) => Json::String(t.date_naive().to_string()),
        (Value::Timestamp(t), _) => Json::String(format_timestamp(&t)),
        (Value::Date(d), _) => Json::String(d.to_string()),
        (Value::Uuid(u), _) => Json::String(u.to_string()),
        (Value::Json(j) | Value::Document(j), _) => j,
        (Value::TextList(l), _) => Json::from(l),
        (Value::List(_), _) => Json::Null,
        (Value::Text(s), ty) => text_to_json(s, ty),
    }
}

fn text_to_json(s: String, ty: FieldType) -> Json {
    match ty {
        FieldType::Json | FieldType::File => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        FieldType::Timestamp => match parse_timestamp(&s) {
            Some(t) => Json::String(format_timestamp(&t)),
            None => Json::String(s),
        },
        FieldType::Date => match parse_date(&s) {
            Some(d) => Json::String(d.to_string()),
            None => Json::String(s),
        },
        FieldType::Boolean => Json::Bool(matches!(s.as_str(), "1" | "true" | "t" | "TRUE")),
        FieldType::Int | FieldType::BigInt => s.parse::<i64>().map_or(Json::String(s), Json::from),
        FieldType::Float | FieldType::Decimal => s
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Json::Null, Json::Number),
        _ => Json::String(s),
    }
}

/// One row of the entity's select list as a JSON object.
pub fn row_to_object(entity: &Entity, values: Vec<Value>) -> Record {
    let mut out = Map::with_capacity(values.len());
    let mut it = values.into_iter();
    for f in &entity.fields {
        let v = it.next().unwrap_or(Value::Null);
        out.insert(f.name.clone(), to_json(v, f.ty));
    }
    if entity.implicit_deleted_at {
        let v = it.next().unwrap_or(Value::Null);
        out.insert("deleted_at".into(), to_json(v, FieldType::Timestamp));
    }
    out
}

fn type_err(field: &str, ty: &str) -> Detail {
    Detail::new(field, "type", format!("{field} must be {ty}"))
}

/// A client value for `field` as a bind parameter, or a `type` detail.
pub fn to_value(field: &str, ty: FieldType, v: &Json) -> Result<Value, Detail> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        FieldType::String | FieldType::Text => match v {
            Json::String(s) => Ok(Value::Text(s.clone())),
            Json::Number(n) => Ok(Value::Text(n.to_string())),
            Json::Bool(b) => Ok(Value::Text(b.to_string())),
            _ => Err(type_err(field, "a string")),
        },
        FieldType::Int | FieldType::BigInt => {
            let n = match v {
                Json::Number(n) => n
                    .as_i64()
                    .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                Json::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match n {
                Some(i) if ty == FieldType::Int && i32::try_from(i).is_err() => Err(Detail::new(
                    field,
                    "type",
                    format!("{field} is out of range for an integer"),
                )),
                Some(i) => Ok(Value::Int(i)),
                None => Err(type_err(field, "an integer")),
            }
        }
        FieldType::Float | FieldType::Decimal => match v {
            Json::Number(n) => n
                .as_f64()
                .map(Value::Float)
                .ok_or_else(|| type_err(field, "a number")),
            Json::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Float)
                .ok_or_else(|| type_err(field, "a number")),
            _ => Err(type_err(field, "a number")),
        },
        FieldType::Boolean => match v {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(Value::Bool(n.as_i64() == Some(1)))
            }
            Json::String(s) => match s.as_str() {
                "true" | "1" | "t" | "TRUE" | "True" => Ok(Value::Bool(true)),
                "false" | "0" | "f" | "FALSE" | "False" => Ok(Value::Bool(false)),
                _ => Err(type_err(field, "a boolean")),
            },
            _ => Err(type_err(field, "a boolean")),
        },
        FieldType::Uuid => match v {
            Json::String(s) => uuid::Uuid::parse_str(s.trim())
                .map(|u| Value::Text(u.to_string()))
                .map_err(|_| type_err(field, "a UUID")),
            _ => Err(type_err(field, "a UUID")),
        },
        FieldType::Timestamp => match v {
            Json::String(s) => parse_timestamp(s)
                .map(Value::Timestamp)
                .ok_or_else(|| type_err(field, "an RFC 3339 timestamp")),
            _ => Err(type_err(field, "an RFC 3339 timestamp")),
        },
        FieldType::Date => match v {
            Json::String(s) => parse_date(s)
                .map(Value::Date)
                .ok_or_else(|| type_err(field, "a date (YYYY-MM-DD)")),
            _ => Err(type_err(field, "a date (YYYY-MM-DD)")),
        },
        FieldType::Json | FieldType::File => Ok(Value::Document(v.clone())),
    }
}

/// String form used for enum checks and child matching.
pub fn json_string(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Where the first NUL character (U+0000) sits in a decoded JSON document
/// (a key or a string value, at any depth), as a path such as `items[2].title`;
/// `None` when there is none. PostgreSQL text and JSONB cannot hold NUL, so
/// input is refused with it on both stores (docs/decisions/014-input-rules.md).
/// The recursion is bounded by serde_json's nesting limit (128).
pub fn nul_path(v: &Json) -> Option<String> {
    fn walk(v: &Json, path: &mut String) -> bool {
        match v {
            Json::String(s) => s.contains('\0'),
            Json::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Json::Object(map) => map.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                if k.contains('\0') {
                    path.push_str(&k.replace('\0', "\\u0000"));
                    return true;
                }
                path.push_str(k);
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).then_some(path)
}

/// The 400 for a document [`nul_path`] found a NUL in.
pub fn nul_error(path: &str) -> rocket_error::Error {
    let at = if path.is_empty() { "the body" } else { path };
    rocket_error::Error::invalid_payload(format!(
        "Invalid JSON body: NUL character (U+0000) in {at} is not allowed"
    ))
}

/// A decoded JSON body, refused (400 INVALID_PAYLOAD) when it holds a NUL.
pub fn reject_nul(v: Json) -> Result<Json, rocket_error::Error> {
    match nul_path(&v) {
        Some(p) => Err(nul_error(&p)),
        None => Ok(v),
    }
}

#[cfg(test)]
mod nul_tests {
    use super::nul_path;
    use serde_json::json;

    #[test]
    fn finds_nul_in_keys_and_values_at_depth() {
        assert_eq!(nul_path(&json!({"a": 1, "b": ["x", {"c": "y"}]})), None);
        assert_eq!(nul_path(&json!("a\u{0}")).as_deref(), Some(""));
        assert_eq!(nul_path(&json!({"t": "a\u{0}b"})).as_deref(), Some("t"));
        assert_eq!(
            nul_path(&json!({"items": [{"q": 1}, {"q": "\u{0}"}]})).as_deref(),
            Some("items[1].q")
        );
        assert_eq!(
            nul_path(&json!({"meta": {"k\u{0}": 1}})).as_deref(),
            Some("meta.k\\u0000")
        );
    }
}
