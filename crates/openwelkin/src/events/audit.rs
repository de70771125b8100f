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
    pub record: &'a Value,
    /// The event name when it is not `<ENTITY>_<CREATED|UPDATED|DELETED>`, e.g.
    /// `CALENDAR_EVENT_CREATED` (entity `CALENDAR`) or `ASSESSMENT_COMPLETED`.
    pub subtype: Option<&'a str>,
}

impl DataEvent<'_> {
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
