//! Query strings as Welkin clients send them: repeated keys, comma-separated lists,
//! booleans as `true`/`false` or `True`/`False`.

use super::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        // No NUL (`%00`) in a name or a value: the store cannot hold it, and a search for it
        // would match everything.
        if let Some((name, _)) = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(super::body::nul_field(name.as_str()));
        }
        Ok(Params(pairs))
    }
}

impl Params {
    /// The last value given for `name` (a repeated scalar takes the last, as Spring does).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A non-empty value, trimmed.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|s| !s.is_empty()).map(String::from)
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => parse_bool(v).map(Some).ok_or_else(|| ApiError::invalid_param(name, "must be true or false")),
        }
    }

    /// A comma-separated list; `Some(vec![])` when the parameter is present but empty,
    /// which Welkin reads as "has none".
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
    }

    /// The docs site's `status` of the unrecognized SMS and emails, in any case:
    /// `PENDING` (not assigned to a patient: false) or `RESOLVED` (assigned: true).
    pub fn resolution(&self) -> Result<Option<bool>, ApiError> {
        match self.text("status").map(|s| s.to_uppercase()).as_deref() {
            None => Ok(None),
            Some("PENDING") => Ok(Some(false)),
            Some("RESOLVED") => Ok(Some(true)),
            Some(_) => Err(ApiError::invalid_param("status", "must be PENDING or RESOLVED")),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ApiError::invalid_param(name, "must be a whole number")),
        }
    }
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}
