//! The one error type of the HTTP surface, and its mapping to status and JSON body.

use serde_json::json;

use crate::auth::rate_limit::Scope;
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
    /// A field of the body is missing or wrong; `field` names it.
    #[error("{message}")]
    Invalid {
        /// Path of the field, such as `config.limits.ipPerMinute`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No credentials, or credentials that prove nothing; `code` says which.
    #[error("{message}")]
    Unauthorized {
        /// Stable code: `unauthorized`, `invalid_key`, `wrong_key_kind`, `invalid_token`,
        /// `token_expired`, `identity_required` or `identity_invalid`.
        code: &'static str,
        /// What to do about it.
        message: String,
    },
    /// Valid credentials that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The page's origin is not in the agent's allowed origins (or the browser sent none).
    #[error("This website is not allowed to use this chat. The site owner can add its address to the agent's allowed origins.")]
    OriginNotAllowed,
    /// Too many requests; retry after the given seconds.
    #[error("Too many requests for this {}. Please wait {retry_after_secs} seconds and try again.", scope.as_str())]
    RateLimited {
        /// What ran out.
        scope: Scope,
        /// Seconds to wait.
        retry_after_secs: u32,
    },
    /// The id is taken.
    #[error("{0}")]
    Conflict(String),
    /// An update named a version that is no longer current.
    #[error("This agent was changed since you loaded it. Reload it and apply your edit again.")]
    Stale,
    /// An update must name the version it changes (`If-Match`).
    #[error("Send the version you are changing: the If-Match header with the ETag of the agent you loaded (or expectedUpdatedAt in the body).")]
    PreconditionRequired,
    /// No such thing (or not yours, which looks the same).
    #[error("{0} not found.")]
    NotFound(&'static str),
    /// No agent the caller may call has this id (the OpenAI-compatible `model`).
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    /// The model provider failed a request that streams nothing (the text is for the caller).
    #[error("{0}")]
    ModelFailed(String),
    /// A spend cap of the tenant or the agent is reached and no cheaper model is configured.
    #[error("This assistant has reached its monthly usage limit. Please try again later.")]
    SpendCapReached,
    /// The thing exists but is switched off (503: it cannot serve now, which is no permission
    /// problem; the same request works once it is back on).
    #[error("{0}")]
    Unavailable(String),
    /// No route answers this path.
    #[error("No endpoint at {0}.")]
    NoRoute(String),
    /// The route exists but not for this method.
    #[error("This endpoint does not accept {0}.")]
    MethodNotAllowed(String),
    /// The endpoint is a WebSocket and the request is no upgrade.
    #[error("This endpoint is a WebSocket: connect with Upgrade: websocket.")]
    UpgradeRequired,
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
            ApiError::BadRequest(_) | ApiError::Invalid { .. } => 400,
            ApiError::Unauthorized { .. } => 401,
            ApiError::Forbidden(_) | ApiError::OriginNotAllowed => 403,
            ApiError::Conflict(_) => 409,
            ApiError::Stale => 412,
            ApiError::PreconditionRequired => 428,
            ApiError::RateLimited { .. } | ApiError::SpendCapReached => 429,
            ApiError::NotFound(_) | ApiError::NoRoute(_) | ApiError::ModelNotFound(_) => 404,
            ApiError::ModelFailed(_) => 502,
            ApiError::Unavailable(_) => 503,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::UpgradeRequired => 426,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Internal(_) => 500,
            ApiError::NotConfigured(_) | ApiError::Store(_) => 503,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Unauthorized { code, .. } => code,
            ApiError::Forbidden(_) => "forbidden",
            ApiError::OriginNotAllowed => "origin_not_allowed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::SpendCapReached => "spend_cap_reached",
            ApiError::Conflict(_) => "conflict",
            ApiError::Stale => "stale",
            ApiError::PreconditionRequired => "precondition_required",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::NotFound(_) | ApiError::NoRoute(_) => "not_found",
            ApiError::ModelNotFound(_) => "model_not_found",
            ApiError::ModelFailed(_) => "model_error",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::UpgradeRequired => "upgrade_required",
            ApiError::NotConfigured(_) => "not_configured",
            ApiError::Store(_) => "store_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// `{"error":{"code","message"}}`, plus `field` for invalid fields.
    pub fn body(&self) -> String {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let ApiError::Invalid { field, .. } = self {
            error["field"] = json!(field);
        }
        json!({ "error": error }).to_string()
    }

    /// The body in OpenAI's error shape, as the OpenAI-compatible API answers:
    /// `{"error":{"message","type","code","param"}}`.
    pub fn openai_body(&self) -> String {
        let kind = match self.status() {
            401 => "authentication_error",
            403 => "permission_error",
            404 | 405 => "invalid_request_error",
            429 if *self == ApiError::SpendCapReached => "insufficient_quota",
            429 => "rate_limit_error",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        };
        let code = match self {
            ApiError::Unauthorized {
                code: "unauthorized" | "invalid_key",
                ..
            } => "invalid_api_key",
            ApiError::RateLimited { .. } => "rate_limit_exceeded",
            ApiError::SpendCapReached => "insufficient_quota",
            ApiError::PayloadTooLarge(_) => "request_too_large",
            ApiError::Invalid { .. } => "invalid_value",
            ApiError::NoRoute(_) => "unknown_url",
            other => other.code(),
        };
        let param = match self {
            ApiError::Invalid { field, .. } => json!(field),
            ApiError::ModelNotFound(_) => json!("model"),
            _ => json!(null),
        };
        json!({ "error": {
            "message": self.to_string(), "type": kind, "code": code, "param": param,
        } })
        .to_string()
    }

    /// Whether a client should not retry the request as it is (OpenAI SDKs read
    /// `x-should-retry`): a spend cap stays reached until the month ends.
    pub fn never_retry(&self) -> bool {
        *self == ApiError::SpendCapReached
    }

    /// Seconds for a `Retry-After` header.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// A 401 with a code and message.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code,
            message: message.into(),
        }
    }

    /// A 400 naming a field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
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
    fn invalid_fields_and_rate_limits() {
        let e = ApiError::invalid("config.name", "The name must have 1 to 100 characters.");
        assert_eq!(
            e.body(),
            r#"{"error":{"code":"invalid","field":"config.name","message":"The name must have 1 to 100 characters."}}"#
        );
        let e = ApiError::RateLimited {
            scope: Scope::Visitor,
            retry_after_secs: 12,
        };
        assert_eq!((e.status(), e.retry_after()), (429, Some(12)));
        assert!(e.to_string().contains("12 seconds"));
    }

    #[test]
    fn openai_shaped_bodies() {
        let body = |e: ApiError| -> serde_json::Value {
            serde_json::from_str(&e.openai_body()).expect("json")
        };
        assert_eq!(
            body(ApiError::ModelNotFound("ghost".into())),
            json!({"error": {"message": "The model `ghost` does not exist or you do not have access to it.",
                "type": "invalid_request_error", "code": "model_not_found", "param": "model"}})
        );
        let invalid = body(ApiError::invalid("messages[0].role", "Unknown role."));
        assert_eq!(invalid["error"]["param"], "messages[0].role");
        assert_eq!(invalid["error"]["code"], "invalid_value");
        let key = body(ApiError::unauthorized(
            "invalid_key",
            "The key is not valid.",
        ));
        assert_eq!(
            (key["error"]["type"].as_str(), key["error"]["code"].as_str()),
            (Some("authentication_error"), Some("invalid_api_key"))
        );
        let limited = ApiError::RateLimited {
            scope: Scope::Key,
            retry_after_secs: 3,
        };
        assert_eq!(body(limited.clone())["error"]["type"], "rate_limit_error");
        assert!(!limited.never_retry());
        let capped = ApiError::SpendCapReached;
        assert_eq!((capped.status(), capped.never_retry()), (429, true));
        assert_eq!(body(capped)["error"]["type"], "insufficient_quota");
        let store = body(ApiError::Store(StoreError::Unavailable(
            "D1_ERROR: x".into(),
        )));
        assert_eq!(store["error"]["type"], "server_error");
        assert!(!store.to_string().contains("D1_ERROR"));
        assert_eq!(ApiError::ModelFailed("down".into()).status(), 502);
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
