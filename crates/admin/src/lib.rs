//! The admin API's persistence and the one metadata change sequence.
//!
//! Owns: the `_admin/*` resources of an app (entities, relations, rules,
//! state machines, workflows, webhooks, permissions, UI configs), export and
//! import, and the OpenAPI documents generated from metadata. Every change
//! runs through [`change::apply`]: lock the app's metadata, validate, migrate
//! and write the rows in one transaction, rebuild the registry snapshot,
//! announce it to the other nodes.
//!
//! Must not: serve HTTP (routes in `http` are one-liners over this crate),
//! touch business rows outside import's sample data, or run the read/write
//! pipelines itself (it calls `engine`).

pub mod access;
pub mod change;
pub mod logic;
pub mod openapi;
mod rows;
pub mod schema;
pub mod transfer;
pub mod ui_configs;
