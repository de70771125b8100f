//! Why a use case failed, in Welkin's terms but without HTTP: what kind of failure it is
//! (the HTTP layer picks the status from it), the error code, the component, the message
//! and the details a client sees. `api::error::ApiError` is made from it.

use crate::domain::FieldError;
use serde_json::{json, Value};

/// What kind of failure; each is one HTTP status in `api::error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request breaks a rule: a field, a parameter, a body (400).
    BadRequest,
    /// No valid credentials (401).
    Unauthorized,
    /// The caller's policy does not allow it (403).
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// The record is not in a state that allows it, or a unique key is taken (409).
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    TooManyRequests,
    HeaderFieldsTooLarge,
    /// A defect or a broken invariant; the detail is in the log (500).
    Internal,
    /// The database is not reachable; try again later (503).
    Unavailable,
    /// No space left for the write; nothing was changed (507).
    StorageFull,
}

impl Kind {
    /// A failure of the server (its HTTP status is a 5xx), not of the request.
    pub fn is_server_error(self) -> bool {
        matches!(self, Kind::Internal | Kind::Unavailable | Kind::StorageFull)
    }
}

/// What the client is told: Welkin's `{errorCode, componentType, message, details}`.
#[derive(Debug)]
pub struct Content {
    pub code: String,
    pub component: String,
    pub message: String,
    pub details: Value,
    /// False for the access errors, which Welkin sends without a `date`.
    pub dated: bool,
}

#[derive(Debug)]
pub struct ServiceError {
    pub kind: Kind,
    /// Boxed so that `Result<_, ServiceError>` stays small on the happy path.
    pub content: Box<Content>,
    /// The database connection broke before anything was committed: the whole request
    /// may be run again (`api::retry`).
    pub retryable: bool,
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn new(kind: Kind, code: &str, component: &str, message: impl Into<String>, details: Value) -> Self {
        ServiceError {
            kind,
            content: Box::new(Content {
                code: code.into(),
                component: component.into(),
                message: message.into(),
                details,
                dated: true,
            }),
            retryable: false,
        }
    }

    pub fn without_date(mut self) -> Self {
        self.content.dated = false;
        self
    }

    pub fn bad_request(component: &str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, "BAD_REQUEST", component, message, json!({}))
    }

    /// A body field that breaks the resource's rules; the message and details name it.
    pub fn invalid_field(component: &str, err: FieldError) -> Self {
        Self::new(
            Kind::BadRequest,
            "VALIDATION_ERROR",
            component,
            err.to_string(),
            json!({"field": err.field, "reason": err.reason}),
        )
    }

    pub fn invalid_param(name: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            Kind::BadRequest,
            "INVALID_PARAMETER",
            "REQUEST",
            format!("query parameter {name}: {reason}"),
            json!({"parameter": name, "reason": reason}),
        )
    }

    pub fn not_found(code: &str, component: &str, message: &str, details: Value) -> Self {
        Self::new(Kind::NotFound, code, component, message, details)
    }

    pub fn conflict(code: &str, component: &str, message: impl Into<String>, details: Value) -> Self {
        Self::new(Kind::Conflict, code, component, message, details)
    }

    /// The 401 the Python client refreshes its token on.
    pub fn invalid_token() -> Self {
        Self::new(Kind::Unauthorized, "NOT_VALID_JSON_WEB_TOKEN", "AUTH", "Not valid JWT", json!({}))
    }

    pub fn expired_token() -> Self {
        Self::new(Kind::Unauthorized, "TOKEN_EXPIRED", "AUTH", "JWT token is expired", json!({}))
    }

    /// A write refused because the database or the file store has no space left. Reads
    /// go on; the operator frees space and writes are accepted again.
    pub fn storage_full(detail: &dyn std::fmt::Display) -> Self {
        crate::store::errors::storage_full(detail);
        Self::new(
            Kind::StorageFull,
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
            Kind::Unavailable,
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

    /// A storage failure: the detail goes to the log, the client gets a reference.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        let reference = crate::ids::new_id();
        tracing::error!(error = %err, reference, "internal error");
        Self::new(
            Kind::Internal,
            "INTERNAL_ERROR",
            "SERVER",
            "The server could not complete the request",
            json!({"reference": reference}),
        )
    }
}

/// The message and any details, as a command line shows a failure (an internal error's
/// reference names its log line). The HTTP layer renders the content itself.
impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.content.message)?;
        match &self.content.details {
            Value::Object(o) if o.is_empty() => Ok(()),
            Value::Null => Ok(()),
            details => write!(f, " {details}"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<crate::store::sql::Error> for ServiceError {
    fn from(err: crate::store::sql::Error) -> Self {
        use crate::store::errors::{classify, Failure};
        match classify(&err) {
            Failure::StorageFull => ServiceError::storage_full(&err),
            Failure::Unavailable => {
                let mut e = ServiceError::database_unavailable(&err);
                e.retryable = err.retryable();
                e
            }
            // A write that refers to a row removed meanwhile (an instance reset elsewhere
            // while this node used its cached copy): run again (`retryable`), and a 409 if
            // it still finds the row gone after the retries.
            Failure::RemovedMeanwhile => {
                tracing::warn!(error = %err, "a write referred to a record removed meanwhile; the request runs again");
                let mut e = ServiceError::conflict(
                    "REFERENCED_RECORD_REMOVED",
                    "SERVER",
                    "A record this request refers to was removed meanwhile",
                    json!({}),
                );
                e.retryable = err.retryable();
                e
            }
            Failure::Other => ServiceError::internal(err),
        }
    }
}
