//! The SQL of the engine's read and write pipelines: plan values (`plan.rs`)
//! rendered to SQL text and parameters (`select.rs`, `write.rs` over the
//! writer in `render.rs`), with each dialect's differences side by side in
//! `pg.rs` and `sqlite.rs`.
//!
//! Placeholders are `$n` in every statement; the SQLite driver rewrites them
//! to `?n` when it prepares. Identifiers come from metadata and are quoted;
//! values are always parameters.

mod pg;
mod plan;
mod render;
mod select;
mod sqlite;
mod write;

pub use plan::{ByKey, Cond, Include, Insert, JoinTable, List, Op, SlugsTaken, Sort, Table, Update, Via};

use crate::{Dialect, Value};

/// A rendered statement: its text and the parameters in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

/// The pieces of SQL where the dialects differ.
struct Syntax {
    /// Around the placeholder of `col IN list` (the list is one parameter).
    in_list: (&'static str, &'static str),
    not_in_list: (&'static str, &'static str),
    /// LIKE on a non-text column compares its text form through a cast.
    like_casts: bool,
}

fn syntax(d: Dialect) -> &'static Syntax {
    match d {
        Dialect::Postgres => &pg::SYNTAX,
        Dialect::Sqlite => &sqlite::SYNTAX,
    }
}

#[cfg(test)]
mod tests;
