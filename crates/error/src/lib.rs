//! Types every layer above the store shares: the contract's error envelope.

mod error;

pub use error::{Detail, Error, ErrorCode, Result};
