//! The Welkin error format: always a JSON array of
//! `{errorCode, componentType, message, details, date}`.

use crate::domain::FieldError;
use crate::services::error::{Kind, ServiceError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
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
        ServiceError::bad_request(component, message).into()
    }

    /// A body field that breaks the resource's rules; the message and details name it.
    pub fn invalid_field(component: &str, err: FieldError) -> Self {
        ServiceError::invalid_field(component, err).into()
    }

    pub fn invalid_param(name: &str, reason: impl Into<String>) -> Self {
        ServiceError::invalid_param(name, reason).into()
    }

    pub fn not_found(code: &str, component: &str, message: &str, details: Value) -> Self {
        ServiceError::not_found(code, component, message, details).into()
    }

    pub fn conflict(code: &str, component: &str, message: impl Into<String>, details: Value) -> Self {
        ServiceError::conflict(code, component, message, details).into()
    }

    /// The 401 the Python client refreshes its token on.
    pub fn invalid_token() -> Self {
        ServiceError::invalid_token().into()
    }

    pub fn expired_token() -> Self {
        ServiceError::expired_token().into()
    }

    /// A write refused for lack of space (`507 INSUFFICIENT_STORAGE`).
    pub fn storage_full(detail: &dyn std::fmt::Display) -> Self {
        ServiceError::storage_full(detail).into()
    }

    /// The database cannot be reached (`503 DATABASE_UNAVAILABLE`).
    pub fn database_unavailable(detail: &dyn std::fmt::Display) -> Self {
        ServiceError::database_unavailable(detail).into()
    }

    /// A file store failure: a full disk is a 507, anything else an internal error.
    pub fn from_io(err: std::io::Error) -> Self {
        ServiceError::from_io(err).into()
    }

    /// A storage failure: the detail goes to the log, the client gets a request id.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        ServiceError::internal(err).into()
    }
}

/// The HTTP status of each kind of use-case failure.
fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::BadRequest => StatusCode::BAD_REQUEST,
        Kind::Unauthorized => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UriTooLong => StatusCode::URI_TOO_LONG,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        Kind::HeaderFieldsTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let c = *err.content;
        let api = ApiError::new(status_of(err.kind), &c.code, &c.component, c.message, c.details);
        let api = if c.dated { api } else { api.without_date() };
        ApiError { retryable: err.retryable, ..api }
    }
}

impl From<crate::store::sql::Error> for ApiError {
    fn from(err: crate::store::sql::Error) -> Self {
        ServiceError::from(err).into()
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
