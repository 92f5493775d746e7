//! Query string → [`ListQuery`]: field names resolved to indexes, operators
//! to [`Op`], values coerced to the field's type (400 on anything wrong).

use rocket_error::{Error, Result};
use rocket_store::sql::Op;
use rocket_store::{parse_date, parse_timestamp, Value};

use crate::{filter_op, Fields, Kind};

pub const DEFAULT_PER_PAGE: i64 = 25;
pub const MAX_PER_PAGE: i64 = 100;

#[derive(Debug, Clone)]
pub struct Filter {
    /// Index of a declared field.
    pub field: usize,
    pub op: Op,
    /// A [`Value::List`] for `in`/`not_in`, the raw pattern for `like`.
    pub value: Value,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filters: Vec<Filter>,
    /// (field index, descending).
    pub sort: Vec<(usize, bool)>,
    pub page: i64,
    pub per_page: i64,
    pub includes: Vec<String>,
}

/// Coerces a filter value to the field's type (400 INVALID_PAYLOAD on failure).
/// Only values the column can hold pass, so both stores answer alike: `int`
/// within i32, `bigint` within i64, finite floats, and no NUL (U+0000) in any
/// value (PostgreSQL text cannot hold it).
pub fn coerce<F: Fields + ?Sized>(entity: &F, field: usize, raw: &str) -> Result<Value> {
    let Some((name, kind)) = entity.field_at(field) else {
        return Err(Error::unknown_field("Unknown filter field"));
    };
    let bad = |what: &str| {
        Error::invalid_payload(format!("Invalid filter value for {name}: '{raw}' is not {what}"))
    };
    let range = |what: &str| {
        Error::invalid_payload(format!(
            "Invalid filter value for {name}: '{raw}' is out of range for {what}"
        ))
    };
    if raw.contains('\0') {
        return Err(nul(name));
    }
    let t = raw.trim();
    Ok(match kind {
        Kind::Int | Kind::BigInt => {
            let n: i128 = t.parse().map_err(|_| bad("an integer"))?;
            let (min, max, what) = if kind == Kind::Int {
                (i32::MIN.into(), i32::MAX.into(), "an int (32-bit)")
            } else {
                (i64::MIN, i64::MAX, "a bigint (64-bit)")
            };
            match i64::try_from(n) {
                Ok(i) if (min..=max).contains(&i) => Value::Int(i),
                _ => return Err(range(what)),
            }
        }
        Kind::Float => match t.parse::<f64>() {
            Ok(f) if f.is_finite() => Value::Float(f),
            Ok(_) => return Err(bad("a finite number")),
            Err(_) => return Err(bad("a number")),
        },
        Kind::Bool => Value::Bool(match t {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => return Err(bad("a boolean")),
        }),
        Kind::Uuid => Value::Text(uuid::Uuid::parse_str(t).map_err(|_| bad("a UUID"))?.to_string()),
        Kind::Timestamp => Value::Timestamp(parse_timestamp(raw).ok_or_else(|| bad("a timestamp"))?),
        Kind::Date => Value::Date(parse_date(raw).ok_or_else(|| bad("a date"))?),
        Kind::Text => Value::Text(raw.to_string()),
    })
}

fn nul(name: &str) -> Error {
    Error::invalid_payload(format!(
        "Invalid filter value for {name}: NUL character (U+0000) is not allowed"
    ))
}

fn int_param(v: Option<&str>, default: i64) -> i64 {
    match v.and_then(|s| s.trim().parse::<i64>().ok()) {
        Some(n) if n >= 1 => n,
        _ => default,
    }
}

/// Comma-separated, trimmed, empty items dropped.
fn items(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses the raw query string of a list (semantics.md §2).
pub fn parse<F: Fields + ?Sized>(entity: &F, raw: &str) -> Result<ListQuery> {
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
        let (name, op) = key.split_once('.').unwrap_or((key.as_str(), "eq"));
        let field = entity
            .field_index(name)
            .ok_or_else(|| Error::unknown_field(format!("Unknown filter field: {name}")))?;
        let op =
            filter_op(op).ok_or_else(|| Error::invalid_payload(format!("Unknown filter operator: {op}")))?;
        let value = match op {
            Op::In | Op::NotIn => Value::List(
                items(&value)
                    .map(|s| coerce(entity, field, s))
                    .collect::<Result<Vec<_>>>()?,
            ),
            Op::Like if value.contains('\0') => return Err(nul(name)),
            Op::Like => Value::Text(value),
            _ => coerce(entity, field, &value)?,
        };
        q.filters.push(Filter { field, op, value });
    }
    for part in sort.as_deref().map(items).into_iter().flatten() {
        let (name, desc) = match part.strip_prefix('-') {
            Some(n) => (n, true),
            None => (part.strip_prefix('+').unwrap_or(part), false),
        };
        let idx = entity
            .field_index(name)
            .ok_or_else(|| Error::unknown_field(format!("Unknown sort field: {name}")))?;
        q.sort.push((idx, desc));
    }
    q.page = int_param(page.as_deref(), 1);
    q.per_page = int_param(per_page.as_deref(), DEFAULT_PER_PAGE).min(MAX_PER_PAGE);
    q.includes = include
        .as_deref()
        .map(items)
        .into_iter()
        .flatten()
        .map(String::from)
        .collect();
    Ok(q)
}

/// The include tokens of a get-by-id query string (the last `include` wins).
pub fn includes(raw: &str) -> Vec<String> {
    form_urlencoded::parse(raw.as_bytes())
        .filter(|(k, _)| k == "include")
        .last()
        .map(|(_, v)| items(&v).map(String::from).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// name, qty (int), at (timestamp), on (date), ok (bool), id (uuid), r (float)
    struct Item;

    const FIELDS: [(&str, Kind); 7] = [
        ("name", Kind::Text),
        ("qty", Kind::Int),
        ("at", Kind::Timestamp),
        ("on", Kind::Date),
        ("ok", Kind::Bool),
        ("id", Kind::Uuid),
        ("r", Kind::Float),
    ];

    impl Fields for Item {
        fn field_index(&self, name: &str) -> Option<usize> {
            FIELDS.iter().position(|(n, _)| *n == name)
        }
        fn field_at(&self, index: usize) -> Option<(&str, Kind)> {
            FIELDS.get(index).copied()
        }
    }

    fn one(raw: &str) -> Filter {
        let mut q = parse(&Item, raw).expect(raw);
        assert_eq!(q.filters.len(), 1, "{raw}");
        q.filters.remove(0)
    }

    #[test]
    fn filters_resolve_fields_operators_and_types() {
        let f = one("filter[qty]=3");
        assert_eq!((f.field, f.op, f.value), (1, Op::Eq, Value::Int(3)));
        let f = one("filter[qty.not_in]=1, 2,,");
        assert_eq!(
            (f.op, f.value),
            (Op::NotIn, Value::List(vec![Value::Int(1), Value::Int(2)]))
        );
        let f = one("filter[qty.like]=1%25");
        assert_eq!((f.op, f.value), (Op::Like, Value::text("1%")));
        let f = one("filter[ok.neq]=T");
        assert_eq!(f.value, Value::Bool(true));
        let f = one("filter[r.gte]=1.5");
        assert_eq!(f.value, Value::Float(1.5));
        let f = one("filter[id]=6F9619FF-8B86-D011-B42D-00C04FC964FF");
        assert_eq!(f.value, Value::text("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
        assert!(matches!(
            one("filter[at.lt]=2026-01-02").value,
            Value::Timestamp(_)
        ));
        assert!(matches!(
            one("filter[on]=2026-01-02T10:00:00Z").value,
            Value::Date(_)
        ));
        // The key splits at the first dot; the last repeat wins.
        assert_eq!(
            one("filter[name.eq]=a.b&filter[name.eq]=c").value,
            Value::text("c")
        );
    }

    #[test]
    fn bad_input_is_a_400_naming_what() {
        let msg = |raw| parse(&Item, raw).err().map(|e| e.message).unwrap_or_default();
        assert_eq!(msg("filter[nope]=1"), "Unknown filter field: nope");
        assert_eq!(msg("filter[qty.approx]=1"), "Unknown filter operator: approx");
        assert_eq!(
            msg("filter[qty]=x"),
            "Invalid filter value for qty: 'x' is not an integer"
        );
        assert_eq!(
            msg("filter[qty.in]=1,x"),
            "Invalid filter value for qty: 'x' is not an integer"
        );
        assert_eq!(msg("sort=-nope"), "Unknown sort field: nope");
        assert!(coerce(&Item, 99, "1").is_err());
    }

    #[test]
    fn sort_pages_and_includes() {
        let q = parse(&Item, "sort=-qty,+name, at&page=2&per_page=500&include=a, b").expect("parses");
        assert_eq!(q.sort, [(1, true), (0, false), (2, false)]);
        assert_eq!((q.page, q.per_page), (2, MAX_PER_PAGE));
        assert_eq!(q.includes, ["a", "b"]);
        assert_eq!(includes("include=x&include=y,,z"), ["y", "z"]);
        assert!(includes("page=1").is_empty());
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    /// n (int), b (bigint), r (float), s (text)
    struct Row;

    const FIELDS: [(&str, Kind); 4] = [
        ("n", Kind::Int),
        ("b", Kind::BigInt),
        ("r", Kind::Float),
        ("s", Kind::Text),
    ];

    impl Fields for Row {
        fn field_index(&self, name: &str) -> Option<usize> {
            FIELDS.iter().position(|(n, _)| *n == name)
        }
        fn field_at(&self, index: usize) -> Option<(&str, Kind)> {
            FIELDS.get(index).copied()
        }
    }

    #[test]
    fn values_the_column_cannot_hold_are_400s_naming_the_field() {
        for ok in [
            "filter[n]=2147483647",
            "filter[n]=-2147483648",
            "filter[b]=9223372036854775807",
            "filter[b.lt]=-9223372036854775808",
            "filter[r]=1e-400",
            "filter[r]=1e300",
            "filter[s]=%F0%9F%9A%80",
        ] {
            assert!(parse(&Row, ok).is_ok(), "{ok}");
        }
        for (bad, field) in [
            ("filter[n]=2147483648", "n"),
            ("filter[n.in]=1,-2147483649", "n"),
            ("filter[b]=9223372036854775808", "b"),
            ("filter[r]=NaN", "r"),
            ("filter[r.gt]=inf", "r"),
            ("filter[r]=1e400", "r"),
            ("filter[s]=a%00", "s"),
            ("filter[s.like]=%25%00", "s"),
            ("filter[n]=%00", "n"),
        ] {
            let e = parse(&Row, bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert_eq!(e.code, rocket_error::ErrorCode::InvalidPayload, "{bad}");
            assert!(
                e.message
                    .starts_with(&format!("Invalid filter value for {field}: ")),
                "{bad}: {}",
                e.message
            );
        }
    }
}
