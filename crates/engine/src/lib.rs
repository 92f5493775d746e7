//! The engine: auto-migration, metadata administration, and the read and
//! write pipelines over the registry snapshot.

pub mod convert;
pub mod effects;
pub mod migrate;
pub mod perm;
pub mod query;
pub mod read;
pub mod rules;
pub mod write;
