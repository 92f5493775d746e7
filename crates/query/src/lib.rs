//! The list query language (semantics.md §2) as typed values.
//!
//! Owns: parsing a list request into a [`ListQuery`] (filters with a typed
//! [`Op`], sort, page/per_page, includes) and the one operator table that
//! client filters and permission conditions share ([`filter_op`],
//! [`condition_op`]).
//!
//! Must not: build SQL (the plan goes to `rocket_store::sql`), or depend on
//! the metadata crate. Entities are seen through [`Fields`] (the way
//! PocketBase's filter resolver sees collections), which `rocket_meta::Entity`
//! implements, so `meta` can compile permission conditions with this table.

mod ops;
mod parse;

pub use ops::{condition_op, condition_op_names, filter_op, op_name};
pub use parse::{coerce, includes, parse, Filter, ListQuery, DEFAULT_PER_PAGE, MAX_PER_PAGE};
pub use rocket_store::sql::Op;

/// How a filter value is coerced for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 32-bit (`int`).
    Int,
    /// 64-bit (`bigint`).
    BigInt,
    Float,
    Bool,
    Uuid,
    Timestamp,
    Date,
    /// Bound as the string given.
    Text,
}

/// The fields of an entity, as the parser needs them.
pub trait Fields {
    /// Index of a declared field.
    fn field_index(&self, name: &str) -> Option<usize>;
    /// Name and value kind of the field at `index`.
    fn field_at(&self, index: usize) -> Option<(&str, Kind)>;
}
