use std::fmt;

/// What kind of failure a statement hit; the HTTP layer maps kinds to codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// Unique or primary-key violation.
    UniqueViolation,
    /// NOT NULL violation.
    NotNull,
    /// A parameter could not be converted to the column's type (bad UUID, date...).
    InvalidValue,
    /// No pooled connection became free within the checkout timeout.
    PoolTimeout,
    /// The pool was closed (app deleted, shutting down).
    Closed,
    /// Object already exists (CREATE DATABASE of an existing name).
    AlreadyExists,
    /// Everything else: connection loss, syntax errors, bugs.
    Other,
}

#[derive(Debug)]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
    /// Constraint or column the database named, when it did.
    pub constraint: Option<String>,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            constraint: None,
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Other, message)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// Error raised while binding a parameter; recognised again when it comes back
/// wrapped inside a driver error.
#[derive(Debug)]
pub(crate) struct BindError(pub String);

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindError {}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(s) = src {
            if let Some(b) = s.downcast_ref::<BindError>() {
                return StoreError::new(StoreErrorKind::InvalidValue, b.0.clone());
            }
            src = s.source();
        }
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            let kind = if *code == SqlState::UNIQUE_VIOLATION {
                StoreErrorKind::UniqueViolation
            } else if *code == SqlState::NOT_NULL_VIOLATION {
                StoreErrorKind::NotNull
            } else if *code == SqlState::DUPLICATE_DATABASE || *code == SqlState::DUPLICATE_TABLE {
                StoreErrorKind::AlreadyExists
            } else if *code == SqlState::INVALID_TEXT_REPRESENTATION
                || *code == SqlState::INVALID_DATETIME_FORMAT
                || *code == SqlState::NUMERIC_VALUE_OUT_OF_RANGE
                || *code == SqlState::DATETIME_FIELD_OVERFLOW
            {
                StoreErrorKind::InvalidValue
            } else {
                StoreErrorKind::Other
            };
            let constraint = db
                .constraint()
                .map(str::to_string)
                .or_else(|| db.column().map(str::to_string));
            return StoreError {
                kind,
                message: db.message().to_string(),
                constraint,
            };
        }
        if e.is_closed() {
            return StoreError::new(StoreErrorKind::Closed, e.to_string());
        }
        StoreError::other(e.to_string())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        if let rusqlite::Error::ToSqlConversionFailure(inner) = &e {
            return StoreError::new(StoreErrorKind::InvalidValue, inner.to_string());
        }
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            let message = msg.clone().unwrap_or_else(|| e.to_string());
            let kind = match (f.code, f.extended_code) {
                (ErrorCode::ConstraintViolation, 2067) | (ErrorCode::ConstraintViolation, 1555) => {
                    StoreErrorKind::UniqueViolation
                }
                (ErrorCode::ConstraintViolation, 1299) => StoreErrorKind::NotNull,
                _ => StoreErrorKind::Other,
            };
            // "UNIQUE constraint failed: products.sku" names the column.
            let constraint = message.split_once("failed: ").map(|(_, c)| c.trim().to_string());
            return StoreError {
                kind,
                message,
                constraint,
            };
        }
        StoreError::other(e.to_string())
    }
}

/// Default mapping of storage failures; callers that know better (e.g. which
/// field a unique index guards) map before this.
impl From<StoreError> for rocket_error::Error {
    fn from(e: StoreError) -> Self {
        match e.kind {
            StoreErrorKind::UniqueViolation => {
                rocket_error::Error::conflict("A record with this value already exists")
            }
            StoreErrorKind::PoolTimeout => rocket_error::Error::overloaded("Database is busy, retry shortly"),
            StoreErrorKind::InvalidValue => {
                rocket_error::Error::validation_details(vec![rocket_error::Detail {
                    field: e.constraint.clone(),
                    rule: Some("type".into()),
                    message: e.message.clone(),
                }])
            }
            StoreErrorKind::NotNull => rocket_error::Error::validation_details(vec![rocket_error::Detail {
                field: e.constraint.clone(),
                rule: Some("required".into()),
                message: e.message.clone(),
            }]),
            StoreErrorKind::Closed => rocket_error::Error::overloaded("Database is unavailable"),
            StoreErrorKind::AlreadyExists => rocket_error::Error::conflict(e.message),
            StoreErrorKind::Other => rocket_error::Error::internal(e),
        }
    }
}

#[cfg(test)]
mod contract_tests {
    use super::*;
    use rocket_error::ErrorCode;

    #[test]
    fn store_errors_map_to_contract_codes() {
        let e: rocket_error::Error = StoreError::new(StoreErrorKind::UniqueViolation, "dup").into();
        assert_eq!(e.code, ErrorCode::Conflict);
        let e: rocket_error::Error = StoreError::new(StoreErrorKind::PoolTimeout, "t").into();
        assert_eq!((e.status(), e.retry_after), (503, Some(1)));
    }
}
