//! Data and security audit entries, in the shape Welkin's audit endpoints return.

use serde_json::Value;

/// Who did something. API clients appear as `API_CLIENT:<name>` in every audit field.
#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: &'static str,
    pub id: String,
    pub username: String,
}

impl Actor {
    pub fn api_client(id: &str, name: &str) -> Self {
        Actor { kind: "API_CLIENT", id: id.to_string(), username: name.to_string() }
    }

    /// A person signed in to the web console (`/console/`).
    pub fn operator(id: &str, name: &str) -> Self {
        Actor { kind: "CONSOLE_OPERATOR", id: id.to_string(), username: name.to_string() }
    }

    /// Changes made from the command line or by the demo seeder.
    pub fn system() -> Self {
        Actor {
            kind: "CS_TOOL_CLIENT",
            id: "00000000-0000-0000-0000-000000000000".into(),
            username: "openwelkin".into(),
        }
    }

    pub fn full_name(&self) -> String {
        format!("{}:{}", self.kind, self.username)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }

    fn past_tense(self) -> &'static str {
        match self {
            Operation::Create => "CREATED",
            Operation::Update => "UPDATED",
            Operation::Delete => "DELETED",
        }
    }
}

/// One data audit entry: `record` is the record after the change (before, for a delete).
pub struct DataEvent<'a> {
    pub tenant_id: &'a str,
    pub instance: Option<&'a str>,
    /// `PATIENT`, `USER`, `CDT`, …
    pub entity: &'static str,
    pub operation: Operation,
    pub actor: &'a Actor,
    pub record_id: &'a str,
    pub patient_id: Option<&'a str>,
    pub patient_full_name: Option<String>,
    pub cdt_name: Option<&'a str>,
    /// The relation of that data type (`cdtRelation` in the audit).
    pub cdt_relation: Option<&'a str>,
    pub record: AuditRecord<'a>,
    /// The event name when it is not `<ENTITY>_<CREATED|UPDATED|DELETED>`, e.g.
    /// `CALENDAR_EVENT_CREATED` (entity `CALENDAR`) or `ASSESSMENT_COMPLETED`.
    pub subtype: Option<&'a str>,
}

/// The record an audit entry shows: a JSON value, or the JSON text of one when the write
/// already has it (a patient's stored body is what its audit entry shows), which spares
/// building a `Value` of the record and writing it out again (about a tenth of the CPU of
/// a patient create).
#[derive(Clone, Copy, Debug)]
pub enum AuditRecord<'a> {
    Value(&'a Value),
    Text(&'a str),
}

impl AuditRecord<'_> {
    /// The JSON text stored in the audit row.
    pub fn to_text(self) -> String {
        match self {
            // `to_string` on a `Value` goes through `Display` and its formatter, a call per
            // fragment; `serde_json::to_string` writes into one buffer.
            AuditRecord::Value(v) => serde_json::to_string(v).expect("a JSON value serializes"),
            AuditRecord::Text(t) => t.to_string(),
        }
    }

    /// A top-level string field of the record (read for a calendar event's type).
    fn str_field(self, key: &str) -> Option<String> {
        match self {
            AuditRecord::Value(v) => v.get(key).and_then(Value::as_str).map(str::to_string),
            AuditRecord::Text(t) => serde_json::from_str::<Value>(t)
                .ok()
                .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_string)),
        }
    }
}

impl<'a> From<&'a Value> for AuditRecord<'a> {
    fn from(v: &'a Value) -> Self {
        AuditRecord::Value(v)
    }
}

impl DataEvent<'_> {
    /// The webhook payload's `sourceName`: a calendar event's type (`ENCOUNTER`), the
    /// data type of a CDT-backed record, else the patient's name.
    pub fn source_name(&self) -> Option<String> {
        let event_type = if self.entity == "CALENDAR" { self.record.str_field("eventType") } else { None };
        match event_type {
            Some(t) => Some(t),
            None => self.cdt_name.map(String::from).or_else(|| self.patient_full_name.clone()),
        }
    }

    /// `PATIENT_CREATED`, `USER_UPDATED`, …
    pub fn subtype(&self) -> String {
        match self.subtype {
            Some(s) => s.to_string(),
            None => format!("{}_{}", self.entity, self.operation.past_tense()),
        }
    }
}

/// One security audit entry: tokens issued or refused, access changes.
pub struct SecurityEvent<'a> {
    pub tenant_id: &'a str,
    pub subtype: &'static str,
    pub subject: &'a Actor,
    pub object: Option<&'a Actor>,
    pub record: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event<'a>(
        entity: &'static str,
        cdt_name: Option<&'a str>,
        record: &'a Value,
        actor: &'a Actor,
    ) -> DataEvent<'a> {
        DataEvent {
            tenant_id: "t1",
            instance: Some("sandbox"),
            entity,
            operation: Operation::Create,
            actor,
            record_id: "r1",
            patient_id: Some("p1"),
            patient_full_name: Some("Ann Lee".into()),
            cdt_name,
            cdt_relation: None,
            record: record.into(),
            subtype: None,
        }
    }

    #[test]
    fn source_names_are_the_event_type_the_data_type_or_the_patient() {
        let actor = Actor::system();
        let calendar = json!({"eventType": "ENCOUNTER"});
        assert_eq!(event("CALENDAR", None, &calendar, &actor).source_name().as_deref(), Some("ENCOUNTER"));
        let hours = json!({"details": []});
        assert_eq!(event("CALENDAR", None, &hours, &actor).source_name().as_deref(), Some("Ann Lee"));
        let record = json!({});
        assert_eq!(event("CDT", Some("cdt-vitals"), &record, &actor).source_name().as_deref(), Some("cdt-vitals"));
        assert_eq!(event("PATIENT", None, &record, &actor).source_name().as_deref(), Some("Ann Lee"));
    }
}
