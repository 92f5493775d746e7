//! Tree-walking evaluator over borrowed JSON. Member paths are resolved
//! against the caller's values in place; nothing is copied until
//! [`V::into_json`] builds the final result.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::parse::{BinOp, Func, Lit, Node, Seg};
use crate::time::parse_time;
use crate::value::{binary, finite, to_text, TWO_63, V};
use crate::{ExprError, Vars};

type R<'a> = Result<V<'a>, ExprError>;

/// Evaluates `n`. The recursion goes through this function once per tree
/// level, so it only dispatches: the work is in helpers, which keeps its
/// stack frame small.
pub fn eval<'a>(n: &'a Node, vars: &'a dyn Vars) -> R<'a> {
    match n {
        Node::Lit(l) => Ok(literal(l)),
        Node::Var(name) => Ok(vars.get(name).map_or(V::Null, V::from_json)),
        Node::Path(base, segs) => path(base, segs, vars),
        Node::Array(items) => array(items, vars),
        Node::Call(f, args, pos) => call_node(*f, args, *pos, vars),
        Node::Not(x) => not(x, vars),
        Node::Neg(x, pos) => negate(x, *pos, vars),
        Node::Plus(x, pos) => plus(x, *pos, vars),
        Node::Chain(first, rest) => chain(first, rest, vars),
        Node::And(items) => all(items, vars),
        Node::Or(items) => any(items, vars),
        Node::Coalesce(items) => coalesce(items, vars),
        Node::Cond(c) => cond(c, vars),
    }
}

fn array<'a>(items: &'a [Node], vars: &'a dyn Vars) -> R<'a> {
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        out.push(eval(i, vars)?);
    }
    Ok(V::Arr(out))
}

fn call_node<'a>(f: Func, args: &'a [Node], pos: usize, vars: &'a dyn Vars) -> R<'a> {
    let arg = match args.first() {
        Some(a) => eval(a, vars)?,
        None => V::Null,
    };
    call(f, args.is_empty(), arg, pos)
}

fn not<'a>(x: &'a Node, vars: &'a dyn Vars) -> R<'a> {
    Ok(V::Bool(!eval(x, vars)?.truthy()))
}

/// `a && b && …`: false at the first falsy operand, without evaluating the rest.
fn all<'a>(items: &'a [Node], vars: &'a dyn Vars) -> R<'a> {
    for i in items {
        if !eval(i, vars)?.truthy() {
            return Ok(V::Bool(false));
        }
    }
    Ok(V::Bool(true))
}

/// `a || b || …`: true at the first truthy operand, without evaluating the rest.
fn any<'a>(items: &'a [Node], vars: &'a dyn Vars) -> R<'a> {
    for i in items {
        if eval(i, vars)?.truthy() {
            return Ok(V::Bool(true));
        }
    }
    Ok(V::Bool(false))
}

/// `a ?? b ?? …`: the first operand that is not null.
fn coalesce<'a>(items: &'a [Node], vars: &'a dyn Vars) -> R<'a> {
    for i in items {
        let v = eval(i, vars)?;
        if !matches!(v, V::Null) {
            return Ok(v);
        }
    }
    Ok(V::Null)
}

fn cond<'a>(c: &'a (Node, Node, Node), vars: &'a dyn Vars) -> R<'a> {
    let (test, yes, no) = c;
    let branch = if eval(test, vars)?.truthy() { yes } else { no };
    eval(branch, vars)
}

fn literal(l: &Lit) -> V<'_> {
    match l {
        Lit::Null => V::Null,
        Lit::Bool(b) => V::Bool(*b),
        Lit::Int(i) => V::Int(*i),
        Lit::Float(f) => V::Float(*f),
        Lit::Str(s) => V::Str(Cow::Borrowed(s)),
    }
}

fn path<'a>(base: &'a Node, segs: &'a [Seg], vars: &'a dyn Vars) -> R<'a> {
    let mut cur = eval(base, vars)?;
    for seg in segs {
        if matches!(cur, V::Null) {
            // `null.x`, `null[i]` are null; the rest is skipped, as
            // JavaScript's optional chaining does.
            break;
        }
        cur = match seg {
            Seg::Field(k) => member(cur, k),
            Seg::Index(i) => {
                let i = eval(i, vars)?;
                index(cur, &i)
            }
        };
    }
    Ok(cur)
}

fn chain<'a>(first: &'a Node, rest: &'a [(BinOp, usize, Node)], vars: &'a dyn Vars) -> R<'a> {
    let mut acc = eval(first, vars)?;
    for (op, pos, rhs) in rest {
        acc = binary(*op, acc, eval(rhs, vars)?, *pos)?;
    }
    Ok(acc)
}

fn negate<'a>(x: &'a Node, pos: usize, vars: &'a dyn Vars) -> R<'a> {
    match eval(x, vars)? {
        V::Int(i) => i
            .checked_neg()
            .map_or_else(|| finite(-(i as f64), pos), |n| Ok(V::Int(n))),
        V::Float(f) => Ok(V::Float(-f)),
        other => Err(ExprError::new(pos, format!("cannot negate {}", other.kind()))),
    }
}

fn plus<'a>(x: &'a Node, pos: usize, vars: &'a dyn Vars) -> R<'a> {
    match eval(x, vars)? {
        v @ (V::Int(_) | V::Float(_)) => Ok(v),
        other => Err(ExprError::new(
            pos,
            format!("unary '+' needs a number, got {}", other.kind()),
        )),
    }
}

/// `obj.key`: a key of an object, or `length` of an array or string;
/// anything else is null.
fn member<'a>(obj: V<'a>, key: &str) -> V<'a> {
    match obj {
        V::Json(Json::Object(m)) => m.get(key).map_or(V::Null, V::from_json),
        V::Json(Json::Array(a)) if key == "length" => V::Int(a.len() as i64),
        V::Arr(a) if key == "length" => V::Int(a.len() as i64),
        V::Str(s) if key == "length" => V::Int(s.chars().count() as i64),
        _ => V::Null,
    }
}

/// Array position for an index value; negative counts from the end
/// (expr-lang); out of range or not an integer → None.
fn position(len: usize, idx: &V) -> Option<usize> {
    let i = match idx {
        V::Int(i) => *i,
        V::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => *f as i64,
        _ => return None,
    };
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// `obj[idx]`: array element, character of a string, or member by name.
fn index<'a>(obj: V<'a>, idx: &V) -> V<'a> {
    match (obj, idx) {
        (obj, V::Str(k)) => member(obj, k),
        (V::Json(Json::Array(a)), i) => position(a.len(), i).map_or(V::Null, |i| V::from_json(&a[i])),
        (V::Arr(mut a), i) => position(a.len(), i).map_or(V::Null, |i| a.swap_remove(i)),
        (V::Str(s), i) => position(s.chars().count(), i)
            .and_then(|i| s.chars().nth(i))
            .map_or(V::Null, |c| V::Str(Cow::Owned(c.to_string()))),
        _ => V::Null,
    }
}

/// A built-in function applied to its (only) argument, already evaluated;
/// `no_args` tells `Date()` from `Date(null)`.
fn call(f: Func, no_args: bool, arg: V<'_>, pos: usize) -> R<'_> {
    let wrong =
        |v: &V, want: &str| ExprError::new(pos, format!("{}() expects {want}, got {}", f.name(), v.kind()));
    Ok(match f {
        Func::Now => V::Time(Utc::now()),
        Func::Len => V::Int(match &arg {
            V::Str(s) => s.chars().count(),
            V::Json(Json::Array(a)) => a.len(),
            V::Json(Json::Object(m)) => m.len(),
            V::Arr(a) => a.len(),
            V::Null => 0,
            other => return Err(wrong(other, "a string, array or object")),
        } as i64),
        Func::Date if no_args => V::Time(Utc::now()),
        // Invalid dates are null, so every comparison with them is false.
        Func::Date => match arg {
            V::Time(t) => V::Time(t),
            V::Str(s) => parse_time(&s).map_or(V::Null, V::Time),
            // A number is milliseconds since the epoch, as in JavaScript.
            V::Int(ms) => DateTime::from_timestamp_millis(ms).map_or(V::Null, V::Time),
            V::Float(ms) => DateTime::from_timestamp_millis(ms as i64).map_or(V::Null, V::Time),
            _ => V::Null,
        },
        Func::Lower | Func::Upper | Func::Trim => match arg {
            V::Str(s) => V::Str(match f {
                Func::Lower => Cow::Owned(s.to_lowercase()),
                Func::Upper => Cow::Owned(s.to_uppercase()),
                _ => match s {
                    Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                    Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
                },
            }),
            V::Null => V::Null,
            other => return Err(wrong(&other, "a string")),
        },
        Func::String => V::Str(Cow::Owned(to_text(&arg))),
        Func::Int => match arg {
            V::Null => V::Null,
            V::Int(i) => V::Int(i),
            V::Float(x) => float_to_int(x).ok_or_else(|| wrong(&arg, "a number in range"))?,
            V::Str(ref s) => {
                let t = s.trim();
                match t.parse::<i64>() {
                    Ok(i) => V::Int(i),
                    Err(_) => t
                        .parse::<f64>()
                        .ok()
                        .and_then(float_to_int)
                        .ok_or_else(|| not_numeric(pos, f, t))?,
                }
            }
            other => return Err(wrong(&other, "a number or numeric string")),
        },
        Func::Float => match arg {
            V::Null => V::Null,
            V::Int(i) => V::Float(i as f64),
            V::Float(x) => V::Float(x),
            V::Str(ref s) => {
                let t = s.trim();
                t.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(V::Float)
                    .ok_or_else(|| not_numeric(pos, f, t))?
            }
            other => return Err(wrong(&other, "a number or numeric string")),
        },
    })
}

fn float_to_int<'a>(x: f64) -> Option<V<'a>> {
    let t = x.trunc();
    // i64 spans [-2^63, 2^63); both bounds are exact floats.
    (-TWO_63..TWO_63).contains(&t).then_some(V::Int(t as i64))
}

fn not_numeric(pos: usize, f: Func, s: &str) -> ExprError {
    let shown: String = s.chars().take(40).collect();
    ExprError::new(
        pos,
        format!("{}() cannot convert {shown:?} to a number", f.name()),
    )
}
