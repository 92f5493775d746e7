//! The contract's error envelope (`{"error": {"code", "message", "details"}}`)
//! and its codes, shared by every layer.
//!
//! A leaf: it must not depend on any crate of ours (the store maps its own
//! errors into this type), so `ai` and `storage` do not pull in a database.

mod error;

pub use error::{Detail, Error, ErrorCode, Result};
