//! Patient search body (rules: api/patients.rs `filter_from_body`).

use utoipa::ToSchema;

/// A patient filter (`{}` for all). List keys take an array or a comma-separated text.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"lastName": "Example"}))]
pub struct PatientFilter {
    pub query: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub mrn: Option<String>,
    pub external_id: Option<String>,
    pub timezone: Option<String>,
    pub territories: Option<Vec<String>>,
    pub cadence: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
}
