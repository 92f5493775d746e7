//! The expression language of rules, state-machine guards, webhook
//! conditions and workflow conditions (semantics.md §8): the common subset of
//! expr-lang (the Go reference) and JavaScript (the Express reference),
//! including the JavaScript spellings real schemas use (`===`, `!==`,
//! `new Date(x)`, `undefined`, `?.`).
//!
//! Compile once with [`Expr::compile`] when metadata changes; evaluate many
//! times with [`Expr::eval`] / [`Expr::eval_bool`] against borrowed JSON
//! variables ([`Vars`]). The semantics (null safety, coercions, dates) are
//! recorded in `docs/decisions/012-expression-language.md`.
//!
//! This crate owns parsing and evaluation only. It must not know about
//! entities, stores or HTTP, and it is safe by construction: no loops, no
//! assignment, no access to anything but the given variables and the clock,
//! source text limited to [`MAX_SOURCE_LEN`] bytes and nesting to
//! [`MAX_DEPTH`] levels, so neither compiling nor evaluating can exhaust the
//! stack. Every error carries the byte offset in the source it is about.
//!
//! ```
//! use rocket_expr::Expr;
//! use serde_json::json;
//!
//! let e = Expr::compile(r#"record.amount > 10000 && record.status == "approved""#).unwrap();
//! let vars = json!({"record": {"amount": 25000, "status": "approved"}});
//! assert!(e.eval_bool(&vars).unwrap());
//! ```

mod eval;
mod lex;
mod parse;
mod time;
mod value;
mod vars;

use std::fmt;
use std::sync::Arc;

pub use vars::{Vars, VarsSlice};

/// Longest accepted source text, in bytes.
pub const MAX_SOURCE_LEN: usize = 4096;
/// Deepest accepted nesting of parentheses, brackets, call arguments,
/// conditional branches and unary operators.
pub const MAX_DEPTH: usize = 64;

/// A compile or evaluation error. Displays as `"{message} at position {pos}"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {pos}")]
pub struct ExprError {
    /// Byte offset in the source.
    pub pos: usize,
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(pos: usize, message: impl Into<String>) -> Self {
        ExprError {
            pos,
            message: message.into(),
        }
    }
}

/// A compiled expression: immutable, cheap to clone, shareable between
/// threads.
#[derive(Clone)]
pub struct Expr {
    src: Arc<str>,
    root: Arc<parse::Node>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.src).finish()
    }
}

impl Expr {
    /// Parses `src`; syntax errors, unknown functions, wrong argument counts
    /// and the size and depth limits are reported here, never at evaluation.
    pub fn compile(src: &str) -> Result<Expr, ExprError> {
        if src.len() > MAX_SOURCE_LEN {
            return Err(ExprError::new(
                MAX_SOURCE_LEN,
                format!("expression longer than {MAX_SOURCE_LEN} bytes"),
            ));
        }
        let root = parse::parse(src)?;
        Ok(Expr {
            src: src.into(),
            root: Arc::new(root),
        })
    }

    /// The source text this expression was compiled from.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Evaluates to a JSON value. Dates become RFC 3339 strings (UTC, `Z`);
    /// integral numbers come out as JSON integers.
    pub fn eval(&self, vars: &dyn Vars) -> Result<serde_json::Value, ExprError> {
        Ok(eval::eval(&self.root, vars)?.into_json())
    }

    /// Evaluates a condition. A result that is not a boolean is an error
    /// (position 0: it concerns the whole expression).
    pub fn eval_bool(&self, vars: &dyn Vars) -> Result<bool, ExprError> {
        match eval::eval(&self.root, vars)? {
            value::V::Bool(b) => Ok(b),
            other => Err(ExprError::new(
                0,
                format!("expression must evaluate to a boolean, got {}", other.kind()),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
