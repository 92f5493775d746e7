//! The engine: the read and write pipelines over one registry snapshot,
//! permissions, rules and state machines, and the effect seam.
//!
//! Owns: what a request means: permission decisions applied (`perm`), reads
//! with batched includes (`read`), the write pipeline with nested writes,
//! cascades, slugs, rules and state machines (`write`), the effect
//! seam that hands committed changes to registered handlers (`effects`), the
//! conversions between stored values and API JSON (`convert`), and
//! auto-migration as a translation of metadata into store's DDL specs.
//!
//! Must not: write SQL or branch on the dialect (the pipelines build plan
//! values, `rocket_store::sql`, from the snapshot and a parsed query,
//! `rocket_query`, re-exported as [`query`]; the store renders them); know
//! which side effects exist; write metadata rows (admin); or speak HTTP.

pub mod convert;
pub mod effects;
pub mod migrate;
pub mod perm;
pub mod read;
pub mod write;

/// The list query language lives in its own crate; kept here under its old path.
pub use rocket_query as query;
