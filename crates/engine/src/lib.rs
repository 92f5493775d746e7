//! The engine: auto-migration, metadata administration, and the read and
//! write pipelines over the registry snapshot.

pub mod convert;
pub mod logic;
pub mod logic_admin;
pub mod migrate;
pub mod openapi;
pub mod perm;
pub mod policy_admin;
pub mod read;
pub mod rules;
pub mod schema_admin;
pub mod transfer;
pub mod ui_configs;
pub mod write;

/// The list query language lives in its own crate; kept here under its old path.
pub use rocket_query as query;
