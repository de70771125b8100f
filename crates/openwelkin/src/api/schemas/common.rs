//! Shapes shared by several bodies.

use serde_json::Value;
use utoipa::ToSchema;

/// A reference to another record by its id (`{"id": "…"}`); display keys a record read
/// back carries (`name`, `enabled`) are accepted and ignored.
#[derive(ToSchema)]
#[schema(example = json!({"id": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab"}))]
pub struct IdRef {
    #[schema(format = Uuid)]
    pub id: String,
}

/// A comment or note: `{"text"}` (not blank).
#[derive(ToSchema)]
#[schema(example = json!({"text": "Called the patient back, all good."}))]
pub struct TextBody {
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
}

/// Field values of a data-type record (CDT, PDT, document type, encounter disposition),
/// keyed by the field names the designer formation declares; each value is checked
/// against its field's type, and required fields must be present on create.
#[derive(ToSchema)]
#[schema(example = json!({"notes": "Doing well"}))]
pub struct FieldValues(pub std::collections::BTreeMap<String, Value>);

/// Assignment of an unrecognized inbound message or call to a patient.
#[derive(ToSchema)]
#[schema(example = json!({"patientId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "status": "RESOLVED"}))]
#[schema(rename_all = "camelCase")]
pub struct Resolution {
    #[schema(format = Uuid)]
    pub patient_id: String,
    pub status: ResolvedStatus,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResolvedStatus {
    Resolved,
}

/// Who sent an unrecognized inbound message (`sender`, a patient id), and its star.
#[derive(ToSchema)]
#[schema(example = json!({"sender": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "starred": true}))]
pub struct InboundAssign {
    #[schema(format = Uuid, nullable = false)]
    pub sender: Option<String>,
    #[schema(nullable = false)]
    pub starred: Option<bool>,
}
