use serde::Serialize;

/// The contract's error codes (http-api.md §5) plus our overload codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidPayload,
    UnknownField,
    Unauthorized,
    Forbidden,
    NotFound,
    UnknownEntity,
    AppNotFound,
    Conflict,
    FileTooLarge,
    PayloadTooLarge,
    ValidationFailed,
    /// `VALIDATION_FAILED` answered with 400, as the reference does for
    /// accept-invite on an accepted or expired invite.
    ValidationFailedBadRequest,
    RateLimited,
    AiRequestFailed,
    AiNotConfigured,
    /// A sync webhook could not be reached (network error, timeout, open
    /// circuit): 502.
    WebhookFailed,
    Overloaded,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPayload => "INVALID_PAYLOAD",
            ErrorCode::UnknownField => "UNKNOWN_FIELD",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::UnknownEntity => "UNKNOWN_ENTITY",
            ErrorCode::AppNotFound => "APP_NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::FileTooLarge => "FILE_TOO_LARGE",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::ValidationFailed | ErrorCode::ValidationFailedBadRequest => "VALIDATION_FAILED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::AiRequestFailed => "AI_REQUEST_FAILED",
            ErrorCode::AiNotConfigured => "AI_NOT_CONFIGURED",
            ErrorCode::WebhookFailed => "WEBHOOK_FAILED",
            ErrorCode::Overloaded => "OVERLOADED",
            ErrorCode::Internal => "INTERNAL_ERROR",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidPayload | ErrorCode::UnknownField | ErrorCode::ValidationFailedBadRequest => {
                400
            }
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound | ErrorCode::UnknownEntity | ErrorCode::AppNotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::FileTooLarge | ErrorCode::PayloadTooLarge => 413,
            ErrorCode::ValidationFailed => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::AiRequestFailed | ErrorCode::WebhookFailed => 502,
            ErrorCode::Overloaded | ErrorCode::AiNotConfigured => 503,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Detail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub message: String,
}

impl Detail {
    pub fn new(field: impl Into<String>, rule: impl Into<String>, message: impl Into<String>) -> Self {
        Detail {
            field: Some(field.into()),
            rule: Some(rule.into()),
            message: message.into(),
        }
    }
}

/// An error as the client will see it: `{"error": {code, message, details?}}`.
#[derive(Debug, Clone)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub details: Vec<Detail>,
    /// Seconds for a `Retry-After` header (429/503).
    pub retry_after: Option<u32>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Vec<Detail>) -> Self {
        self.details = details;
        self
    }

    pub fn invalid_payload(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidPayload, m)
    }
    pub fn invalid_json() -> Self {
        Self::new(ErrorCode::InvalidPayload, "Invalid JSON body")
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, m)
    }
    pub fn validation(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, m)
    }
    /// 422 "Validation failed" with per-field details.
    pub fn validation_details(details: Vec<Detail>) -> Self {
        Self::new(ErrorCode::ValidationFailed, "Validation failed").with_details(details)
    }
    pub fn unknown_field(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnknownField, m)
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "Internal server error")
    }
    pub fn overloaded(m: impl Into<String>) -> Self {
        Error {
            retry_after: Some(1),
            ..Self::new(ErrorCode::Overloaded, m)
        }
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body of the envelope.
    pub fn body(&self) -> serde_json::Value {
        let mut inner = serde_json::json!({"code": self.code.as_str(), "message": self.message});
        if !self.details.is_empty() {
            inner["details"] = serde_json::json!(self.details);
        }
        serde_json::json!({ "error": inner })
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_omits_empty_details() {
        let e = Error::not_found("App not found");
        assert_eq!(
            e.body(),
            serde_json::json!({"error": {"code": "NOT_FOUND", "message": "App not found"}})
        );
        let e = Error::validation_details(vec![Detail::new("qty", "min", "qty must be at least 1")]);
        assert_eq!(e.body()["error"]["details"][0]["field"], "qty");
        assert_eq!(e.status(), 422);
    }
}
