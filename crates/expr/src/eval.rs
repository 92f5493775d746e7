//! Evaluation over borrowed JSON: member access never copies the inputs.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

use crate::parse::{BinOp, Func, Lit, Node};
use crate::ExprError;

/// Variables visible to an expression.
pub trait Vars {
    fn get(&self, name: &str) -> Option<&Json>;
}

impl Vars for Map<String, Json> {
    fn get(&self, name: &str) -> Option<&Json> {
        Map::get(self, name)
    }
}

impl Vars for [(&str, &Json)] {
    fn get(&self, name: &str) -> Option<&Json> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

impl<const N: usize> Vars for [(&str, &Json); N] {
    fn get(&self, name: &str) -> Option<&Json> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

/// A runtime value; strings, arrays and objects borrow from the inputs.
#[derive(Debug, Clone)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    Time(DateTime<Utc>),
    /// A borrowed array or object.
    Json(&'a Json),
    Arr(Vec<V<'a>>),
}

impl<'a> V<'a> {
    fn from_json(j: &'a Json) -> V<'a> {
        match j {
            Json::Null => V::Null,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => V::Num(n.as_f64().unwrap_or(0.0)),
            Json::String(s) => V::Str(Cow::Borrowed(s)),
            other => V::Json(other),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            V::Null => "null",
            V::Bool(_) => "boolean",
            V::Num(_) => "number",
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
            V::Num(n) => num_json(n),
            V::Str(s) => Json::String(s.into_owned()),
            V::Time(t) => Json::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            V::Json(j) => j.clone(),
            V::Arr(a) => Json::Array(a.into_iter().map(V::into_json).collect()),
        }
    }

    /// JavaScript truthiness: null, false, 0, NaN and "" are false.
    fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Num(n) => *n != 0.0 && !n.is_nan(),
            V::Str(s) => !s.is_empty(),
            _ => true,
        }
    }
}

/// Integral results stay JSON integers (`2 + 3` is `5`, not `5.0`).
fn num_json(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.007e15 {
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
}

fn time_of(v: &V) -> Option<DateTime<Utc>> {
    match v {
        V::Time(t) => Some(*t),
        V::Str(s) => parse_time(s),
        _ => None,
    }
}

fn equal(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Null, _) | (_, V::Null) => false,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Num(x), V::Num(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        (V::Time(_), _) | (_, V::Time(_)) => match (time_of(a), time_of(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        (V::Json(_) | V::Arr(_), V::Json(_) | V::Arr(_)) => a.clone().into_json() == b.clone().into_json(),
        _ => false,
    }
}

/// Ordering of comparable values; None (→ comparison is false) otherwise,
/// which makes `null < x` false instead of an error.
fn order(a: &V, b: &V) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Time(_), _) | (_, V::Time(_)) => Some(time_of(a)?.cmp(&time_of(b)?)),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn member<'a>(obj: &V<'a>, key: &str) -> V<'a> {
    match obj {
        V::Json(Json::Object(m)) => m.get(key).map_or(V::Null, V::from_json),
        V::Json(Json::Array(a)) if key == "length" => V::Num(a.len() as f64),
        V::Str(s) if key == "length" => V::Num(s.chars().count() as f64),
        _ => V::Null,
    }
}

fn index<'a>(obj: &V<'a>, idx: &V<'a>) -> V<'a> {
    match (obj, idx) {
        (V::Json(Json::Array(a)), V::Num(n)) if *n >= 0.0 => a.get(*n as usize).map_or(V::Null, V::from_json),
        (V::Arr(a), V::Num(n)) if *n >= 0.0 => a.get(*n as usize).cloned().unwrap_or(V::Null),
        (_, V::Str(k)) => member(obj, k),
        _ => V::Null,
    }
}

fn contains(coll: &V, x: &V) -> bool {
    match coll {
        V::Json(Json::Array(a)) => a.iter().any(|i| equal(&V::from_json(i), x)),
        V::Arr(a) => a.iter().any(|i| equal(i, x)),
        V::Json(Json::Object(m)) => matches!(x, V::Str(k) if m.contains_key(k.as_ref())),
        V::Str(s) => matches!(x, V::Str(k) if s.contains(k.as_ref())),
        _ => false,
    }
}

fn to_text(v: &V) -> String {
    match v {
        V::Str(s) => s.to_string(),
        V::Null => "null".into(),
        other => match other.clone().into_json() {
            Json::String(s) => s,
            j => j.to_string(),
        },
    }
}

fn bad_operands(pos: usize, op: &str, a: &V, b: &V) -> ExprError {
    ExprError::new(
        pos,
        format!("invalid operands for '{op}': {} and {}", a.kind(), b.kind()),
    )
}

pub fn eval<'a>(n: &'a Node, vars: &'a dyn Vars) -> Result<V<'a>, ExprError> {
    Ok(match n {
        Node::Lit(l) => match l {
            Lit::Null => V::Null,
            Lit::Bool(b) => V::Bool(*b),
            Lit::Num(x) => V::Num(*x),
            Lit::Str(s) => V::Str(Cow::Borrowed(s)),
        },
        Node::Var(name) => vars.get(name).map_or(V::Null, V::from_json),
        Node::Field(obj, key) => member(&eval(obj, vars)?, key),
        Node::Index(obj, idx) => {
            let o = eval(obj, vars)?;
            let i = eval(idx, vars)?;
            index(&o, &i)
        }
        Node::Not(x) => V::Bool(!eval(x, vars)?.truthy()),
        Node::Neg(x, pos) => match eval(x, vars)? {
            V::Num(v) => V::Num(-v),
            other => return Err(ExprError::new(*pos, format!("cannot negate {}", other.kind()))),
        },
        Node::And(a, b) => V::Bool(eval(a, vars)?.truthy() && eval(b, vars)?.truthy()),
        Node::Or(a, b) => V::Bool(eval(a, vars)?.truthy() || eval(b, vars)?.truthy()),
        Node::Cond(c, a, b) => {
            if eval(c, vars)?.truthy() {
                eval(a, vars)?
            } else {
                eval(b, vars)?
            }
        }
        Node::Array(items) => V::Arr(items.iter().map(|i| eval(i, vars)).collect::<Result<_, _>>()?),
        Node::Bin(op, a, b, pos) => {
            let x = eval(a, vars)?;
            let y = eval(b, vars)?;
            binary(*op, x, y, *pos)?
        }
        Node::Call(f, args, pos) => call(*f, args, vars, *pos)?,
    })
}

fn binary<'a>(op: BinOp, x: V<'a>, y: V<'a>, pos: usize) -> Result<V<'a>, ExprError> {
    use std::cmp::Ordering::*;
    Ok(match op {
        BinOp::Eq => V::Bool(equal(&x, &y)),
        BinOp::Ne => V::Bool(!equal(&x, &y)),
        BinOp::Lt => V::Bool(order(&x, &y) == Some(Less)),
        BinOp::Le => V::Bool(matches!(order(&x, &y), Some(Less | Equal))),
        BinOp::Gt => V::Bool(order(&x, &y) == Some(Greater)),
        BinOp::Ge => V::Bool(matches!(order(&x, &y), Some(Greater | Equal))),
        BinOp::In => V::Bool(contains(&y, &x)),
        BinOp::NotIn => V::Bool(!contains(&y, &x)),
        BinOp::Add => match (&x, &y) {
            (V::Num(a), V::Num(b)) => V::Num(a + b),
            (V::Str(_), _) | (_, V::Str(_)) if !matches!(x, V::Null) && !matches!(y, V::Null) => {
                V::Str(Cow::Owned(to_text(&x) + &to_text(&y)))
            }
            _ => return Err(bad_operands(pos, "+", &x, &y)),
        },
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
            let (V::Num(a), V::Num(b)) = (&x, &y) else {
                let sym = match op {
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    _ => "%",
                };
                return Err(bad_operands(pos, sym, &x, &y));
            };
            match op {
                BinOp::Sub => V::Num(a - b),
                BinOp::Mul => V::Num(a * b),
                _ if *b == 0.0 => return Err(ExprError::new(pos, "division by zero")),
                BinOp::Div => V::Num(a / b),
                _ => V::Num(a % b),
            }
        }
    })
}

fn call<'a>(f: Func, args: &'a [Node], vars: &'a dyn Vars, pos: usize) -> Result<V<'a>, ExprError> {
    let arg = |i: usize| -> Result<V<'a>, ExprError> { args.get(i).map_or(Ok(V::Null), |a| eval(a, vars)) };
    Ok(match f {
        Func::Now => V::Time(Utc::now()),
        Func::Len => match arg(0)? {
            V::Str(s) => V::Num(s.chars().count() as f64),
            V::Json(Json::Array(a)) => V::Num(a.len() as f64),
            V::Json(Json::Object(m)) => V::Num(m.len() as f64),
            V::Arr(a) => V::Num(a.len() as f64),
            V::Null => V::Num(0.0),
            other => return Err(ExprError::new(pos, format!("len() of {}", other.kind()))),
        },
        Func::Date => {
            if args.is_empty() {
                return Ok(V::Time(Utc::now()));
            }
            match arg(0)? {
                V::Time(t) => V::Time(t),
                V::Str(s) => parse_time(&s).map_or(V::Null, V::Time),
                V::Num(ms) => DateTime::from_timestamp_millis(ms as i64).map_or(V::Null, V::Time),
                _ => V::Null,
            }
        }
        Func::Lower | Func::Upper => match arg(0)? {
            V::Str(s) => V::Str(Cow::Owned(if f == Func::Lower {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            })),
            V::Null => V::Null,
            other => {
                return Err(ExprError::new(
                    pos,
                    format!("expected a string, got {}", other.kind()),
                ))
            }
        },
    })
}
