//! Runtime values and the operators' semantics (see
//! docs/decisions/012-expression-language.md).
//!
//! Strings, arrays and objects borrow from the caller's JSON or from the
//! compiled expression; only values an operator produces (a concatenation, a
//! lower-cased string, an array literal) are allocated.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value as Json;

use crate::parse::BinOp;
use crate::time::parse_time;
use crate::ExprError;

#[derive(Debug, Clone)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// Always finite: operations that would produce NaN or ±∞ fail instead.
    Float(f64),
    Str(Cow<'a, str>),
    Time(DateTime<Utc>),
    /// A borrowed JSON array or object (never a scalar).
    Json(&'a Json),
    /// An array built by the expression (an array literal).
    Arr(Vec<V<'a>>),
}

/// Largest integer a float holds exactly (2^53).
const EXACT: f64 = 9_007_199_254_740_992.0;
/// 2^63: every float at or beyond ±2^63 is outside i64.
pub const TWO_63: f64 = 9_223_372_036_854_775_808.0;

impl<'a> V<'a> {
    pub fn from_json(j: &'a Json) -> V<'a> {
        match j {
            Json::Null => V::Null,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => V::Int(i),
                None => V::Float(n.as_f64().unwrap_or(0.0)),
            },
            Json::String(s) => V::Str(Cow::Borrowed(s)),
            other => V::Json(other),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            V::Null => "null",
            V::Bool(_) => "boolean",
            V::Int(_) | V::Float(_) => "number",
            V::Str(_) => "string",
            V::Time(_) => "date",
            V::Json(Json::Array(_)) | V::Arr(_) => "array",
            V::Json(_) => "object",
        }
    }

    pub fn into_json(self) -> Json {
        match self {
            V::Null => Json::Null,
            V::Bool(b) => Json::Bool(b),
            V::Int(i) => Json::from(i),
            // Integral floats within the exact range come out as integers
            // (`100.5 + 4.5` is `105`), as JavaScript would print them.
            V::Float(f) if f.fract() == 0.0 && f.abs() <= EXACT => Json::from(f as i64),
            V::Float(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
            V::Str(s) => Json::String(s.into_owned()),
            V::Time(t) => Json::String(format_time(&t)),
            V::Json(j) => j.clone(),
            V::Arr(a) => Json::Array(a.into_iter().map(V::into_json).collect()),
        }
    }

    /// JavaScript truthiness: null, false, 0 and "" are false; everything
    /// else (dates, arrays and objects, even empty ones) is true.
    pub fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            _ => true,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            _ => None,
        }
    }
}

pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Text of a value for `string(x)`: JavaScript's `String(x)` except that
/// arrays and objects are JSON and dates RFC 3339.
pub fn to_text(v: &V) -> String {
    match v {
        V::Null => "null".into(),
        V::Bool(b) => b.to_string(),
        V::Int(i) => i.to_string(),
        V::Float(f) => f.to_string(),
        V::Str(s) => s.to_string(),
        V::Time(t) => format_time(t),
        V::Json(j) => j.to_string(),
        V::Arr(_) => v.clone().into_json().to_string(),
    }
}

/// Numeric comparison that is exact for integers beyond 2^53.
fn num_cmp(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Int(i), V::Float(f)) => Some(int_float_cmp(*i, *f)),
        (V::Float(f), V::Int(i)) => Some(int_float_cmp(*i, *f).reverse()),
        (V::Float(x), V::Float(y)) => x.partial_cmp(y),
        _ => None,
    }
}

fn int_float_cmp(i: i64, f: f64) -> Ordering {
    // Every float at or beyond ±2^63 is outside i64; every float inside it
    // with a fraction has magnitude below 2^53, where i64 → f64 is exact.
    if f >= TWO_63 {
        Ordering::Less
    } else if f < -TWO_63 {
        Ordering::Greater
    } else if f.fract() == 0.0 {
        i.cmp(&(f as i64))
    } else {
        (i as f64).partial_cmp(&f).unwrap_or(Ordering::Equal)
    }
}

fn time_of(v: &V) -> Option<DateTime<Utc>> {
    match v {
        V::Time(t) => Some(*t),
        V::Str(s) => parse_time(s),
        _ => None,
    }
}

/// `==`: same type and value; numbers numerically; a date equals a date or a
/// string that parses to the same instant; arrays and objects deeply. Values
/// of different types are unequal (never an error); `null == null`.
pub fn equal(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(_) | V::Float(_), V::Int(_) | V::Float(_)) => num_cmp(a, b) == Some(Ordering::Equal),
        (V::Str(x), V::Str(y)) => x == y,
        (V::Time(_), V::Time(_) | V::Str(_)) | (V::Str(_), V::Time(_)) => {
            matches!((time_of(a), time_of(b)), (Some(x), Some(y)) if x == y)
        }
        (V::Json(x), V::Json(y)) => json_eq(x, y),
        (V::Arr(x), V::Arr(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (V::Arr(x), V::Json(Json::Array(y))) | (V::Json(Json::Array(y)), V::Arr(x)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, &V::from_json(q)))
        }
        _ => false,
    }
}

fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        (Json::Array(_) | Json::Object(_), _) | (_, Json::Array(_) | Json::Object(_)) => false,
        // Scalars: numbers numerically, dates parsed from strings never (both
        // sides are plain JSON here, so strings compare as strings).
        _ => equal(&V::from_json(a), &V::from_json(b)),
    }
}

/// Ordering for `< <= > >=`: numbers with numbers, strings with strings (by
/// code point), dates with dates or date strings. Anything else — null,
/// booleans, mixed types, unparseable date strings — has no order and the
/// comparison is false.
fn order(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Int(_) | V::Float(_), V::Int(_) | V::Float(_)) => num_cmp(a, b),
        (V::Str(x), V::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (V::Time(_), V::Time(_) | V::Str(_)) | (V::Str(_), V::Time(_)) => Some(time_of(a)?.cmp(&time_of(b)?)),
        _ => None,
    }
}

/// `x in coll`: element of an array, key of an object; null → false.
fn contains(coll: &V, x: &V, pos: usize) -> Result<bool, ExprError> {
    Ok(match coll {
        V::Null => false,
        V::Json(Json::Array(a)) => a.iter().any(|i| equal(&V::from_json(i), x)),
        V::Arr(a) => a.iter().any(|i| equal(i, x)),
        V::Json(Json::Object(m)) => matches!(x, V::Str(k) if m.contains_key(k.as_ref())),
        other => {
            return Err(ExprError::new(
                pos,
                format!("'in' needs an array or object on the right, got {}", other.kind()),
            ))
        }
    })
}

fn bad_operands(pos: usize, op: BinOp, a: &V, b: &V) -> ExprError {
    ExprError::new(
        pos,
        format!(
            "invalid operands for '{}': {} and {}",
            op.symbol(),
            a.kind(),
            b.kind()
        ),
    )
}

pub fn finite<'a>(f: f64, pos: usize) -> Result<V<'a>, ExprError> {
    if f.is_finite() {
        Ok(V::Float(f))
    } else {
        Err(ExprError::new(pos, "numeric overflow"))
    }
}

pub fn binary<'a>(op: BinOp, x: V<'a>, y: V<'a>, pos: usize) -> Result<V<'a>, ExprError> {
    use Ordering::*;
    let cmp = |want: &[Ordering]| V::Bool(order(&x, &y).is_some_and(|o| want.contains(&o)));
    Ok(match op {
        BinOp::Eq => V::Bool(equal(&x, &y)),
        BinOp::Ne => V::Bool(!equal(&x, &y)),
        BinOp::Lt => cmp(&[Less]),
        BinOp::Le => cmp(&[Less, Equal]),
        BinOp::Gt => cmp(&[Greater]),
        BinOp::Ge => cmp(&[Greater, Equal]),
        BinOp::In => V::Bool(contains(&y, &x, pos)?),
        BinOp::NotIn => V::Bool(!contains(&y, &x, pos)?),
        BinOp::Add => match (x, y) {
            (V::Str(a), V::Str(b)) => {
                let mut s = a.into_owned();
                s.push_str(&b);
                V::Str(Cow::Owned(s))
            }
            (V::Int(a), V::Int(b)) => a
                .checked_add(b)
                .map_or_else(|| finite(a as f64 + b as f64, pos), |n| Ok(V::Int(n)))?,
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(p), Some(q)) => finite(p + q, pos)?,
                _ => return Err(bad_operands(pos, op, &a, &b)),
            },
        },
        BinOp::Sub => match (&x, &y) {
            (V::Int(a), V::Int(b)) => a
                .checked_sub(*b)
                .map_or_else(|| finite(*a as f64 - *b as f64, pos), |n| Ok(V::Int(n)))?,
            // date − date = milliseconds between them, as in JavaScript.
            (V::Time(a), V::Time(b)) => V::Int((*a - *b).num_milliseconds()),
            _ => match (x.as_f64(), y.as_f64()) {
                (Some(p), Some(q)) => finite(p - q, pos)?,
                _ => return Err(bad_operands(pos, op, &x, &y)),
            },
        },
        BinOp::Mul => match (&x, &y) {
            (V::Int(a), V::Int(b)) => a
                .checked_mul(*b)
                .map_or_else(|| finite(*a as f64 * *b as f64, pos), |n| Ok(V::Int(n)))?,
            _ => match (x.as_f64(), y.as_f64()) {
                (Some(p), Some(q)) => finite(p * q, pos)?,
                _ => return Err(bad_operands(pos, op, &x, &y)),
            },
        },
        BinOp::Div | BinOp::Rem => {
            let (Some(p), Some(q)) = (x.as_f64(), y.as_f64()) else {
                return Err(bad_operands(pos, op, &x, &y));
            };
            if q == 0.0 {
                return Err(ExprError::new(pos, "division by zero"));
            }
            match (op, &x, &y) {
                // `/` is real division (`7 / 2` is 3.5), as in JavaScript and expr-lang.
                (BinOp::Div, _, _) => finite(p / q, pos)?,
                (_, V::Int(a), V::Int(b)) => V::Int(a.checked_rem(*b).unwrap_or(0)),
                _ => finite(p % q, pos)?,
            }
        }
    })
}
