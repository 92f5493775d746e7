//! The list query language (semantics.md §2): filters, sort, pagination,
//! include. Parsed into a plan of field indexes and typed values; SQL is then
//! built from metadata identifiers only, with every value bound.

use rocket_error::{Error, Result};
use rocket_meta::{Entity, FieldType};
use rocket_store::{parse_date, parse_timestamp, Dialect, Value};

pub const DEFAULT_PER_PAGE: i64 = 25;
pub const MAX_PER_PAGE: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    Like,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "like" => Op::Like,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub field: usize,
    pub op: Op,
    pub value: Value,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filters: Vec<Filter>,
    pub sort: Vec<(usize, bool)>,
    pub page: i64,
    pub per_page: i64,
    pub includes: Vec<String>,
}

/// Coerces a filter value to the field's type (400 INVALID_PAYLOAD on failure).
pub fn coerce(entity: &Entity, field: usize, raw: &str) -> Result<Value> {
    let f = &entity.fields[field];
    let bad = |why: &str| Error::invalid_payload(format!("Invalid filter value for {}: {why}", f.name));
    Ok(match f.ty {
        FieldType::Int | FieldType::BigInt => Value::Int(
            raw.trim()
                .parse()
                .map_err(|_| bad(&format!("'{raw}' is not an integer")))?,
        ),
        FieldType::Float | FieldType::Decimal => Value::Float(
            raw.trim()
                .parse()
                .map_err(|_| bad(&format!("'{raw}' is not a number")))?,
        ),
        FieldType::Boolean => Value::Bool(match raw.trim() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => return Err(bad(&format!("'{raw}' is not a boolean"))),
        }),
        FieldType::Uuid => Value::Text(
            uuid::Uuid::parse_str(raw.trim())
                .map_err(|_| bad(&format!("'{raw}' is not a UUID")))?
                .to_string(),
        ),
        FieldType::Timestamp => {
            Value::Timestamp(parse_timestamp(raw).ok_or_else(|| bad(&format!("'{raw}' is not a timestamp")))?)
        }
        FieldType::Date => {
            Value::Date(parse_date(raw).ok_or_else(|| bad(&format!("'{raw}' is not a date")))?)
        }
        _ => Value::Text(raw.to_string()),
    })
}

fn int_param(v: Option<&str>, default: i64) -> i64 {
    match v.and_then(|s| s.trim().parse::<i64>().ok()) {
        Some(n) if n >= 1 => n,
        _ => default,
    }
}

/// Parses a raw query string for a list (or, with `list = false`, a get,
/// where only `include` matters and unknown include tokens are ignored).
pub fn parse(entity: &Entity, raw: &str) -> Result<ListQuery> {
    let mut q = ListQuery::default();
    let mut filters: Vec<(String, String)> = Vec::new();
    let (mut sort, mut page, mut per_page, mut include) = (None, None, None, None);
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "sort" => sort = Some(v.into_owned()),
            "page" => page = Some(v.into_owned()),
            "per_page" => per_page = Some(v.into_owned()),
            "include" => include = Some(v.into_owned()),
            key => {
                if let Some(inner) = key.strip_prefix("filter[").and_then(|s| s.strip_suffix(']')) {
                    // Repeating a key keeps one value (the last).
                    filters.retain(|(k, _)| k != inner);
                    filters.push((inner.to_string(), v.into_owned()));
                }
            }
        }
    }
    for (key, value) in filters {
        let (name, op) = match key.split_once('.') {
            Some((n, o)) => (n, o),
            None => (key.as_str(), "eq"),
        };
        let field = entity
            .field_index(name)
            .ok_or_else(|| Error::unknown_field(format!("Unknown filter field: {name}")))?;
        let op =
            Op::parse(op).ok_or_else(|| Error::invalid_payload(format!("Unknown filter operator: {op}")))?;
        let value = match op {
            Op::In | Op::NotIn => Value::List(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| coerce(entity, field, s))
                    .collect::<Result<Vec<_>>>()?,
            ),
            Op::Like => Value::Text(value),
            _ => coerce(entity, field, &value)?,
        };
        q.filters.push(Filter { field, op, value });
    }
    if let Some(s) = sort {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, desc) = match part.strip_prefix('-') {
                Some(n) => (n, true),
                None => (part.strip_prefix('+').unwrap_or(part), false),
            };
            let idx = entity
                .field_index(name)
                .ok_or_else(|| Error::unknown_field(format!("Unknown sort field: {name}")))?;
            q.sort.push((idx, desc));
        }
    }
    q.page = int_param(page.as_deref(), 1);
    q.per_page = int_param(per_page.as_deref(), DEFAULT_PER_PAGE).min(MAX_PER_PAGE);
    if let Some(inc) = include {
        q.includes = inc
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
    }
    Ok(q)
}

/// `col IN list` per dialect, with the list bound as one parameter.
pub fn in_list(dialect: Dialect, col: &str, ph: &str, negate: bool) -> String {
    match (dialect, negate) {
        (Dialect::Postgres, false) => format!("{col} = ANY({ph})"),
        (Dialect::Postgres, true) => format!("{col} != ALL({ph})"),
        (Dialect::Sqlite, false) => format!("{col} IN (SELECT value FROM json_each({ph}))"),
        (Dialect::Sqlite, true) => format!("{col} NOT IN (SELECT value FROM json_each({ph}))"),
    }
}

/// WHERE clause (without the keyword) and its parameters.
pub fn where_clause(
    entity: &Entity,
    dialect: Dialect,
    filters: &[Filter],
    params: &mut Vec<Value>,
) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(filters.len() + 1);
    for f in filters {
        let field = &entity.fields[f.field];
        params.push(f.value.clone());
        let ph = format!("${}", params.len());
        let col = &field.quoted;
        parts.push(match f.op {
            Op::Eq => format!("{col} = {ph}"),
            Op::Neq => format!("{col} != {ph}"),
            Op::Gt => format!("{col} > {ph}"),
            Op::Gte => format!("{col} >= {ph}"),
            Op::Lt => format!("{col} < {ph}"),
            Op::Lte => format!("{col} <= {ph}"),
            Op::In => in_list(dialect, col, &ph, false),
            Op::NotIn => in_list(dialect, col, &ph, true),
            Op::Like if dialect == Dialect::Postgres && !field.ty.is_textual() => {
                format!("CAST({col} AS TEXT) LIKE {ph}")
            }
            Op::Like => format!("{col} LIKE {ph}"),
        });
    }
    if entity.soft_delete {
        parts.push("\"deleted_at\" IS NULL".into());
    }
    if parts.is_empty() {
        "TRUE".into()
    } else {
        parts.join(" AND ")
    }
}

/// ORDER BY with NULLs placed the same way on both stores and the primary key
/// as the final tiebreaker so pages are stable.
pub fn order_by(entity: &Entity, sort: &[(usize, bool)]) -> String {
    let mut parts: Vec<String> = sort
        .iter()
        .map(|(i, desc)| {
            let col = &entity.fields[*i].quoted;
            if *desc {
                format!("{col} DESC NULLS FIRST")
            } else {
                format!("{col} ASC NULLS LAST")
            }
        })
        .collect();
    if !sort.iter().any(|(i, _)| *i == entity.pk) {
        parts.push(format!("{} ASC", entity.pk_field().quoted));
    }
    parts.join(", ")
}
