//! Posted forms (`application/x-www-form-urlencoded`), read once by the session guard:
//! repeated names are kept (checkbox groups), NUL characters refused.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The largest form the console accepts (a YAML object in the editor is the biggest).
const LIMIT: usize = 1024 * 1024;

#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub async fn read(body: axum::body::Body) -> Result<Fields, Response> {
        let bytes = axum::body::to_bytes(body, LIMIT)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response())?;
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err((StatusCode::BAD_REQUEST, "The form holds a NUL character.").into_response());
        }
        Ok(Fields(pairs))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed, or "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_string()
    }

    /// Every value of `name` (a checkbox group).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Fields {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Response> {
        parts.extensions.get::<Fields>().cloned().ok_or_else(|| {
            (StatusCode::INTERNAL_SERVER_ERROR, "the form was not read by the session guard").into_response()
        })
    }
}
