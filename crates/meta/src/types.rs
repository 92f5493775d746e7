//! Field types (metadata.md §2.1) and identifier rules. The type enum lives
//! in the store, which alone decides each type's column per dialect.

pub use rocket_store::ddl::FieldType;

/// `^[a-z_][a-z0-9_]*$`, at most 63 bytes (PostgreSQL identifier limit).
pub fn valid_ident(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}
