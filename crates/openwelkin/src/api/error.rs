//! The Welkin error format: always a JSON array of
//! `{errorCode, componentType, message, details, date}`.

use crate::domain::FieldError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// One item of an error response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorItem {
    pub error_code: String,
    pub component_type: Option<String>,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
    /// Absent on access errors, as recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed so that `Result<_, ApiError>` stays small on the happy path.
    pub item: Box<ErrorItem>,
    /// The database connection broke before anything was committed: the request may be
    /// run again as a whole (`api::retry`).
    pub retryable: bool,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &str, component: &str, message: impl Into<String>, details: Value) -> Self {
        ApiError {
            status,
            item: Box::new(ErrorItem {
                error_code: code.into(),
                component_type: Some(component.into()),
                message: message.into(),
                details,
                date: Some(crate::time::format(chrono::Utc::now())),
            }),
            retryable: false,
        }
    }

    pub fn without_date(mut self) -> Self {
        self.item.date = None;
        self
    }

    pub fn bad_request(component: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", component, message, json!({}))
    }

    /// A body field that breaks the resource's rules; the message and details name it.
    pub fn invalid_field(component: &str, err: FieldError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            component,
            err.to_string(),
            json!({"field": err.field, "reason": err.reason}),
        )
    }

    pub fn invalid_param(name: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            "REQUEST",
            format!("query parameter {name}: {reason}"),
            json!({"parameter": name, "reason": reason}),
        )
    }

    pub fn not_found(code: &str, component: &str, message: &str, details: Value) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, component, message, details)
    }

    pub fn conflict(code: &str, component: &str, message: impl Into<String>, details: Value) -> Self {
        Self::new(StatusCode::CONFLICT, code, component, message, details)
    }

    /// The 401 the Python client refreshes its token on.
    pub fn invalid_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "NOT_VALID_JSON_WEB_TOKEN", "AUTH", "Not valid JWT", json!({}))
    }

    pub fn expired_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED", "AUTH", "JWT token is expired", json!({}))
    }

    /// A write refused because the database or the file store has no space left. Reads
    /// go on; the operator frees space and writes are accepted again.
    pub fn storage_full(detail: &dyn std::fmt::Display) -> Self {
        crate::store::errors::storage_full(detail);
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "INSUFFICIENT_STORAGE",
            "SERVER",
            "The server has no storage space left for this write; nothing was changed",
            json!({}),
        )
    }

    /// The database cannot be reached within the configured wait (`serve --db-timeout`).
    pub fn database_unavailable(detail: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "database unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            "SERVER",
            "The database is not reachable; try again later",
            json!({}),
        )
    }

    /// A file store failure: a full disk is a 507, anything else an internal error.
    pub fn from_io(err: std::io::Error) -> Self {
        if crate::store::errors::is_storage_full(&err) {
            Self::storage_full(&err)
        } else {
            Self::internal(err)
        }
    }

    /// A storage failure: the detail goes to the log, the client gets a request id.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        let reference = crate::ids::new_id();
        tracing::error!(error = %err, reference, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "SERVER",
            "The server could not complete the request",
            json!({"reference": reference}),
        )
    }
}

impl From<crate::store::sql::Error> for ApiError {
    fn from(err: crate::store::sql::Error) -> Self {
        use crate::store::errors::{classify, Failure};
        match classify(&err) {
            Failure::StorageFull => ApiError::storage_full(&err),
            Failure::Unavailable => {
                let mut api = ApiError::database_unavailable(&err);
                api.retryable = err.retryable();
                api
            }
            Failure::Other => ApiError::internal(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json([self.item])).into_response();
        if self.retryable {
            response.extensions_mut().insert(super::retry::RetryableFailure);
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read: tell the client not to reuse the
            // connection, or its next request races the close.
            response
                .headers_mut()
                .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
        }
        response
    }
}
