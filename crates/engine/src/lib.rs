//! The engine: the read and write pipelines over one registry snapshot,
//! permissions, rules and state machines, and the effect seam.
//!
//! Owns: read (permission filter → typed query → plan → execute → includes),
//! write (plan → rules → one transaction → effects before/after commit),
//! auto-migration as a translation of metadata into store's DDL specs.
//! Must not: know which side effects exist (handlers register through
//! [`effects`]), write metadata rows (admin), build SQL text or branch on the
//! dialect (store), or speak HTTP.

pub mod convert;
pub mod effects;
pub mod migrate;
pub mod perm;
pub mod query;
pub mod read;
pub mod rules;
pub mod write;
