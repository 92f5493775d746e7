//! The engine: auto-migration, metadata administration, and the read and
//! write pipelines over the registry snapshot.
//!
//! Owns: what a request means: permission decisions applied (`perm`), reads
//! with batched includes (`read`), the write pipeline with nested writes,
//! cascades and slugs (`write`), and the conversions between stored values
//! and API JSON (`convert`).
//!
//! Must not: write SQL or branch on the dialect in those pipelines. They build
//! plan values (`rocket_store::sql`) from the registry snapshot and a parsed
//! query (`rocket_query`, re-exported as [`query`]); the store renders them.

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
