//! The one error type of the HTTP surface, and its mapping to status and JSON body.

use serde_json::json;

use crate::store::StoreError;

/// An error a request can end with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or breaks a rule; the text says which.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than allowed.
    #[error("The request body is larger than {0} bytes.")]
    PayloadTooLarge(usize),
    /// No such thing (or not yours, which looks the same).
    #[error("{0} not found.")]
    NotFound(&'static str),
    /// The thing exists but is switched off.
    #[error("{0}")]
    Unavailable(String),
    /// No route answers this path.
    #[error("No endpoint at {0}.")]
    NoRoute(String),
    /// The route exists but not for this method.
    #[error("This endpoint does not accept {0}.")]
    MethodNotAllowed(String),
    /// A required server setting is missing.
    #[error("{0}")]
    NotConfigured(String),
    /// The store failed.
    #[error("The service's storage is unavailable. Please try again.")]
    Store(#[from] StoreError),
    /// Anything else that went wrong inside.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(String),
}

impl ApiError {
    /// HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => 404,
            ApiError::Unavailable(_) => 403,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Internal(_) => 500,
            ApiError::NotConfigured(_) | ApiError::Store(_) => 503,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::NotFound(_) | ApiError::NoRoute(_) => "not_found",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::NotConfigured(_) => "not_configured",
            ApiError::Store(_) => "store_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// `{"error":{"code","message"}}`.
    pub fn body(&self) -> String {
        json!({ "error": { "code": self.code(), "message": self.to_string() } }).to_string()
    }

    /// Detail for the log line; never sent to clients.
    pub fn log_detail(&self) -> Option<String> {
        match self {
            ApiError::Store(e) => Some(e.to_string()),
            ApiError::Internal(detail) => Some(detail.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_code_and_message() {
        let e = ApiError::NotFound("Agent");
        assert_eq!(e.status(), 404);
        assert_eq!(
            e.body(),
            r#"{"error":{"code":"not_found","message":"Agent not found."}}"#
        );
    }

    #[test]
    fn internal_details_stay_in_logs() {
        let e = ApiError::Store(StoreError::Unavailable(
            "D1_ERROR: secret table detail".into(),
        ));
        assert!(!e.body().contains("D1_ERROR"));
        assert!(e.log_detail().is_some_and(|d| d.contains("D1_ERROR")));
        assert_eq!(e.status(), 503);
    }
}
