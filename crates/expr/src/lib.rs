//! The expression language of rules, guards, webhook conditions and workflow
//! conditions (semantics.md §8): the expr-lang subset plus the JavaScript
//! spellings found in real schemas (`===`, `!==`, `new Date(x)`, `undefined`).
//!
//! Parse once with [`Expr::compile`], evaluate many times with [`Expr::eval`]
//! against borrowed JSON variables. Safe by construction: no loops, no
//! assignment, no access to anything but the given variables, bounded source
//! size and nesting depth.

mod eval;
mod lex;
mod parse;

use std::sync::Arc;

pub use eval::Vars;

/// Longest accepted source text, in bytes.
pub const MAX_SOURCE_LEN: usize = 4096;
/// Deepest accepted nesting (parentheses, unary chains, operator trees).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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

/// A compiled expression; cheap to clone and share between threads.
#[derive(Debug, Clone)]
pub struct Expr {
    src: Arc<str>,
    root: Arc<parse::Node>,
}

impl Expr {
    pub fn compile(src: &str) -> Result<Expr, ExprError> {
        if src.len() > MAX_SOURCE_LEN {
            return Err(ExprError::new(
                MAX_SOURCE_LEN,
                format!("expression longer than {MAX_SOURCE_LEN} bytes"),
            ));
        }
        let tokens = lex::lex(src)?;
        let root = parse::parse(&tokens, src.len())?;
        Ok(Expr {
            src: src.into(),
            root: Arc::new(root),
        })
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    /// Evaluates to a JSON value (timestamps become RFC 3339 strings).
    pub fn eval(&self, vars: &dyn Vars) -> Result<serde_json::Value, ExprError> {
        Ok(eval::eval(&self.root, vars)?.into_json())
    }

    /// Evaluates a condition; a non-boolean result is an error.
    pub fn eval_bool(&self, vars: &dyn Vars) -> Result<bool, ExprError> {
        match eval::eval(&self.root, vars)? {
            eval::V::Bool(b) => Ok(b),
            other => Err(ExprError::new(
                0,
                format!("expression must evaluate to a boolean, got {}", other.kind()),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
