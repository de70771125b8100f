//! Patients: the record Welkin returns, the fields a client may write, and their rules.

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub const GENDERS: &[&str] = &["MALE", "FEMALE", "OTHER", "UNKNOWN"];
/// HL7 marital status codes; `UKN` is Welkin's default.
pub const MARITAL_STATUSES: &[&str] = &["UKN", "A", "D", "I", "L", "M", "P", "S", "T", "U", "W"];

/// A patient as the API returns it. Field order follows the recordings.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub id: String,
    pub external_guid: Option<String>,
    pub external_id: Option<String>,
    pub mrn: Option<String>,
    pub nric: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    pub created_by_name: String,
    pub updated_by_name: String,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    /// Midnight UTC: `2022-08-09T00:00:00.000Z`.
    pub birth_date: Option<String>,
    pub gender: String,
    pub marital_status: String,
    pub primary_language: String,
    pub secondary_language: Option<String>,
    pub email: Option<String>,
    pub secondary_email: Option<String>,
    pub phone: Option<String>,
    pub primary_phone_capabilities: Vec<String>,
    pub secondary_phone: Option<String>,
    pub secondary_phone_capabilities: Vec<String>,
    pub preferable_instance_phone_id: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub timezone: Option<String>,
    pub access_code: Option<String>,
    pub patient_territories: Vec<PatientTerritory>,
    pub care_team_members: Vec<CareTeamMember>,
    /// Filled from program enrolments when read.
    #[schema(value_type = Vec<Object>)]
    pub patient_programs: Vec<Value>,
    /// The care team members with their user details, filled when read.
    pub care_team: Vec<CareTeamUser>,
    #[schema(value_type = Vec<Object>)]
    pub cadence: Vec<Value>,
    pub patient_region: Option<String>,
    pub patient_region_title: Option<String>,
    pub patient_territory: Option<String>,
    pub point_of_contact: Option<CareTeamMember>,
    /// Users whose territories cover the patient; only with `expand=true`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub territorial_team: Option<Vec<CareTeamUser>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PatientTerritory {
    pub name: String,
    pub territories: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CareTeamMember {
    pub id: String,
    pub point_of_contact: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CareTeamUser {
    pub id: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub roles: Vec<CareTeamRole>,
    pub point_of_contact: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CareTeamRole {
    pub name: String,
    pub primary_role: bool,
}

/// The body of a patient create or update (documentation type; bodies are checked field
/// by field so that errors can name the field).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"firstName": "Ann", "lastName": "Example", "birthDate": "1980-04-12", "timezone": "America/New_York"}))]
#[allow(dead_code)]
pub struct PatientWrite {
    first_name: Option<String>,
    last_name: Option<String>,
    middle_name: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
    marital_status: Option<String>,
    primary_language: Option<String>,
    secondary_language: Option<String>,
    email: Option<String>,
    secondary_email: Option<String>,
    phone: Option<String>,
    secondary_phone: Option<String>,
    preferable_instance_phone_id: Option<String>,
    country: Option<String>,
    state: Option<String>,
    city: Option<String>,
    zip: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    timezone: Option<String>,
    external_id: Option<String>,
    external_guid: Option<String>,
    mrn: Option<String>,
    nric: Option<String>,
    access_code: Option<String>,
    patient_territories: Option<Vec<PatientTerritory>>,
    care_team: Option<Vec<CareTeamMember>>,
}

const WRITABLE: &[&str] = &[
    "firstName",
    "lastName",
    "middleName",
    "birthDate",
    "gender",
    "maritalStatus",
    "primaryLanguage",
    "secondaryLanguage",
    "email",
    "secondaryEmail",
    "phone",
    "secondaryPhone",
    "preferableInstancePhoneId",
    "country",
    "state",
    "city",
    "zip",
    "addressLine1",
    "addressLine2",
    "timezone",
    "externalId",
    "externalGuid",
    "mrn",
    "nric",
    "accessCode",
    "patientTerritories",
    "careTeam",
];

const READ_ONLY: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdByName",
    "updatedByName",
    "primaryPhoneCapabilities",
    "secondaryPhoneCapabilities",
    "careTeamMembers",
    "patientPrograms",
    "cadence",
    "patientRegion",
    "patientRegionTitle",
    "patientTerritory",
    "pointOfContact",
    "territorialTeam",
];

impl Patient {
    /// A new patient with Welkin's defaults, before the client's fields are applied.
    pub fn blank(id: String, now: &str, actor_id: &str, actor_name: &str) -> Self {
        Patient {
            id,
            external_guid: None,
            external_id: None,
            mrn: None,
            nric: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            created_by: actor_id.to_string(),
            updated_by: actor_id.to_string(),
            created_by_name: actor_name.to_string(),
            updated_by_name: actor_name.to_string(),
            first_name: String::new(),
            last_name: String::new(),
            middle_name: None,
            birth_date: None,
            gender: "UNKNOWN".into(),
            marital_status: "UKN".into(),
            primary_language: "ENGLISH".into(),
            secondary_language: None,
            email: None,
            secondary_email: None,
            phone: None,
            primary_phone_capabilities: vec![],
            secondary_phone: None,
            secondary_phone_capabilities: vec![],
            preferable_instance_phone_id: None,
            country: None,
            state: None,
            city: None,
            zip: None,
            address_line1: None,
            address_line2: None,
            timezone: None,
            access_code: None,
            patient_territories: vec![],
            care_team_members: vec![],
            patient_programs: vec![],
            care_team: vec![],
            cadence: vec![],
            patient_region: None,
            patient_region_title: None,
            patient_territory: None,
            point_of_contact: None,
            territorial_team: None,
        }
    }

    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// Applies a create or PATCH body. On update, omitted fields keep their values and an
    /// `id` equal to the patient's own is tolerated (Welkin's examples send it).
    pub fn apply(&mut self, body: &Map<String, Value>, creating: bool) -> Result<(), FieldError> {
        let mut body = body.clone();
        if !creating {
            if let Some(id) = body.remove("id") {
                if id.as_str() != Some(self.id.as_str()) {
                    return Err(FieldError::new("id", "does not match the patient in the path"));
                }
            }
        }
        reject_unknown(&body, WRITABLE, READ_ONLY)?;
        if creating {
            for required in ["firstName", "lastName"] {
                if !body.contains_key(required) {
                    return Err(FieldError::new(required, "is required"));
                }
            }
        }
        for (key, value) in &body {
            let k = key.as_str();
            match k {
                "firstName" => self.first_name = fields::text(k, value)?,
                "lastName" => self.last_name = fields::text(k, value)?,
                "middleName" => self.middle_name = fields::opt_text(k, value)?,
                "birthDate" => self.birth_date = birth_date(value)?,
                "gender" => {
                    self.gender = if value.is_null() { "UNKNOWN".into() } else { fields::one_of(k, value, GENDERS)? }
                }
                "maritalStatus" => {
                    self.marital_status =
                        if value.is_null() { "UKN".into() } else { fields::one_of(k, value, MARITAL_STATUSES)? }
                }
                "primaryLanguage" => {
                    self.primary_language = if value.is_null() { "ENGLISH".into() } else { language(k, value)? }
                }
                "secondaryLanguage" => {
                    self.secondary_language = if value.is_null() { None } else { Some(language(k, value)?) }
                }
                "email" => self.email = fields::opt_email(k, value)?,
                "secondaryEmail" => self.secondary_email = fields::opt_email(k, value)?,
                "phone" => self.phone = fields::opt_phone(k, value)?,
                "secondaryPhone" => self.secondary_phone = fields::opt_phone(k, value)?,
                "preferableInstancePhoneId" => self.preferable_instance_phone_id = fields::opt_text(k, value)?,
                "country" => self.country = fields::opt_text(k, value)?,
                "state" => self.state = fields::opt_text(k, value)?,
                "city" => self.city = fields::opt_text(k, value)?,
                "zip" => self.zip = fields::opt_text(k, value)?,
                "addressLine1" => self.address_line1 = fields::opt_text(k, value)?,
                "addressLine2" => self.address_line2 = fields::opt_text(k, value)?,
                "timezone" => self.timezone = fields::opt_timezone(k, value)?,
                "externalId" => self.external_id = fields::opt_text(k, value)?,
                "externalGuid" => self.external_guid = fields::opt_uuid(k, value)?,
                "mrn" => self.mrn = fields::opt_text(k, value)?,
                "nric" => self.nric = fields::opt_text(k, value)?,
                "accessCode" => self.access_code = fields::opt_text(k, value)?,
                "patientTerritories" => self.set_territories(territories(value)?),
                "careTeam" => self.set_care_team(care_team(value)?),
                _ => unreachable!("reject_unknown admits only writable keys"),
            }
        }
        Ok(())
    }

    fn set_territories(&mut self, territories: Vec<PatientTerritory>) {
        self.patient_region = territories.first().map(|t| t.name.clone());
        self.patient_territory = territories.first().and_then(|t| t.territories.first().cloned());
        self.patient_territories = territories;
    }

    /// If no member is flagged as point of contact, the first one becomes it.
    fn set_care_team(&mut self, mut members: Vec<CareTeamMember>) {
        if !members.is_empty() && !members.iter().any(|m| m.point_of_contact) {
            members[0].point_of_contact = true;
        }
        self.point_of_contact = members.iter().find(|m| m.point_of_contact).cloned();
        self.care_team_members = members;
    }

    /// Territory names the list filter matches on.
    pub fn territory_names(&self) -> Vec<String> {
        self.patient_territories.iter().flat_map(|t| t.territories.iter().cloned()).collect()
    }
}

fn birth_date(value: &Value) -> Result<Option<String>, FieldError> {
    let Some(text) = fields::opt_text("birthDate", value)? else {
        return Ok(None);
    };
    let date = crate::time::parse_date(&text).ok_or_else(|| {
        FieldError::new("birthDate", format!("{text:?} is not a date (YYYY-MM-DD or YYYY-MM-DDT00:00:00.000Z)"))
    })?;
    if date > chrono::Utc::now().date_naive() {
        return Err(FieldError::new("birthDate", "must not be in the future"));
    }
    Ok(Some(crate::time::format_date_as_midnight(date)))
}

fn language(field: &str, value: &Value) -> Result<String, FieldError> {
    let s = fields::text(field, value)?;
    if !s.chars().all(|c| c.is_ascii_alphabetic() || c == '_' || c == ' ') {
        return Err(FieldError::new(field, "must be a language name such as ENGLISH"));
    }
    Ok(s.to_uppercase().replace(' ', "_"))
}

fn territories(value: &Value) -> Result<Vec<PatientTerritory>, FieldError> {
    let list = fields::array("patientTerritories", value)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("patientTerritories[{i}]");
        let obj = fields::object(&path, item)?;
        reject_unknown(obj, &["name", "territories"], &[])
            .map_err(|e| FieldError::new(format!("{path}.{}", e.field), e.reason))?;
        let name = fields::text(&format!("{path}.name"), obj.get("name").unwrap_or(&Value::Null))?;
        let names = match obj.get("territories") {
            None | Some(Value::Null) => vec![],
            Some(v) => fields::string_list(&format!("{path}.territories"), v)?,
        };
        out.push(PatientTerritory { name, territories: names });
    }
    Ok(out)
}

fn care_team(value: &Value) -> Result<Vec<CareTeamMember>, FieldError> {
    let list = fields::array("careTeam", value)?;
    let mut out: Vec<CareTeamMember> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("careTeam[{i}]");
        let obj = fields::object(&path, item)?;
        reject_unknown(obj, &["id", "pointOfContact"], &[])
            .map_err(|e| FieldError::new(format!("{path}.{}", e.field), e.reason))?;
        let id = fields::opt_uuid(&format!("{path}.id"), obj.get("id").unwrap_or(&Value::Null))?
            .ok_or_else(|| FieldError::new(format!("{path}.id"), "is required"))?;
        let poc = match obj.get("pointOfContact") {
            None | Some(Value::Null) => false,
            Some(v) => fields::boolean(&format!("{path}.pointOfContact"), v)?,
        };
        if out.iter().any(|m| m.id == id) {
            return Err(FieldError::new(format!("{path}.id"), "appears twice in the care team"));
        }
        out.push(CareTeamMember { id, point_of_contact: poc });
    }
    if out.iter().filter(|m| m.point_of_contact).count() > 1 {
        return Err(FieldError::new("careTeam", "only one member can be the point of contact"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(body: Value, creating: bool) -> Result<Patient, FieldError> {
        let mut p = Patient::blank("p1".into(), "2022-01-01T00:00:00.000Z", "u", "API_CLIENT:X");
        p.apply(body.as_object().unwrap(), creating)?;
        Ok(p)
    }

    #[test]
    fn create_needs_names_and_fills_defaults() {
        assert_eq!(apply(json!({"firstName": "a"}), true).unwrap_err().field, "lastName");
        let p =
            apply(json!({"firstName": "a", "lastName": "b", "birthDate": "2022-08-09T00:00:00.000Z"}), true).unwrap();
        assert_eq!(
            (p.gender.as_str(), p.marital_status.as_str(), p.primary_language.as_str()),
            ("UNKNOWN", "UKN", "ENGLISH")
        );
        assert_eq!(p.birth_date.as_deref(), Some("2022-08-09T00:00:00.000Z"));
    }

    #[test]
    fn care_team_gets_a_point_of_contact() {
        let id = "20eb246e-8099-4c7c-854c-5e0f9a366ddb";
        let p = apply(json!({"firstName": "a", "lastName": "b", "careTeam": [{"id": id}]}), true).unwrap();
        assert_eq!(p.point_of_contact.unwrap().id, id);
        let two = json!([{"id": id, "pointOfContact": true}, {"id": "03a87f5b-3a04-4be8-b0ad-7a34a5b2892d", "pointOfContact": true}]);
        assert_eq!(
            apply(json!({"firstName": "a", "lastName": "b", "careTeam": two}), true).unwrap_err().field,
            "careTeam"
        );
    }

    #[test]
    fn update_tolerates_own_id_only() {
        assert!(apply(json!({"id": "p1", "firstName": "z"}), false).is_ok());
        assert_eq!(apply(json!({"id": "p2"}), false).unwrap_err().field, "id");
        assert_eq!(apply(json!({"id": "p1", "firstName": "a", "lastName": "b"}), true).unwrap_err().field, "id");
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(apply(json!({"gender": "X"}), false).unwrap_err().field, "gender");
        assert_eq!(apply(json!({"birthDate": "3000-01-01"}), false).unwrap_err().field, "birthDate");
        assert_eq!(apply(json!({"externalGuid": "nope"}), false).unwrap_err().field, "externalGuid");
        assert_eq!(
            apply(json!({"patientTerritories": [{"name": "r", "x": 1}]}), false).unwrap_err().field,
            "patientTerritories[0].x"
        );
    }
}
