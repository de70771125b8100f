//! Messaging templates (`{{variable}}` placeholders) and templated communications: the
//! template record and its rules, the placeholder syntax, the variables the server
//! knows how to fill, and rendering, which never leaves a hole: a variable that is
//! neither given nor known (unknown) or known but without data (unresolved) is
//! reported.

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const CHANNELS: &[&str] = &["SMS", "EMAIL", "CHAT"];
pub const MAX_BODY: usize = 10_000;
pub const MAX_NAME: usize = 100;

/// The variables the server fills, by source.
pub const PATIENT_VARIABLES: &[&str] = &[
    "patientFirstName",
    "patientLastName",
    "patientFullName",
    "patientMiddleName",
    "patientEmail",
    "patientPhone",
    "patientBirthDate",
    "patientExternalId",
    "patientMrn",
];
pub const PROGRAM_VARIABLES: &[&str] = &["programName", "phaseLabel", "phaseName"];
pub const CALENDAR_VARIABLES: &[&str] = &["appointmentDate", "appointmentTime", "appointmentTimezone"];
pub const PROVIDER_VARIABLES: &[&str] =
    &["providerName", "providerFirstName", "providerLastName", "providerEmail", "providerPhone"];
pub const SENDER_VARIABLES: &[&str] = &["senderName", "senderFirstName", "senderLastName"];

pub fn is_known(name: &str) -> bool {
    [PATIENT_VARIABLES, PROGRAM_VARIABLES, CALENDAR_VARIABLES, PROVIDER_VARIABLES, SENDER_VARIABLES]
        .iter()
        .any(|group| group.contains(&name))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && name.len() <= MAX_NAME
}

/// One piece of a template text.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| "has a {{ without a closing }}".to_string())?;
        let name = after[..close].trim();
        if !is_variable_name(name) {
            return Err(format!("{{{{{}}}}} is not a variable name (letters, digits, _ and .)", &after[..close]));
        }
        out.push(Piece::Var(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// The variables of a text, in order of first use.
pub fn variables(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for p in pieces(text)? {
        if let Piece::Var(v) = p {
            if !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
    }
    Ok(out)
}

/// The text with the given values put in; a variable without one stays as `{{name}}`.
pub fn render(text: &str, values: &BTreeMap<String, String>) -> String {
    let Ok(pieces) = pieces(text) else { return text.to_string() };
    pieces
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t.to_string(),
            Piece::Var(v) => values.get(v).cloned().unwrap_or_else(|| format!("{{{{{v}}}}}")),
        })
        .collect()
}

const WRITABLE: &[&str] = &["name", "label", "channel", "subject", "body", "active", "description"];
const READ_ONLY: &[&str] =
    &["id", "variables", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName"];

fn checked_text(field: &str, value: &Value) -> Result<String, FieldError> {
    let s = match value {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        Value::String(_) => return Err(FieldError::new(field, "must not be blank")),
        Value::Null => return Err(FieldError::new(field, "must not be null")),
        _ => return Err(FieldError::new(field, "must be a string")),
    };
    if s.chars().count() > MAX_BODY {
        return Err(FieldError::new(field, format!("must be at most {MAX_BODY} characters")));
    }
    variables(&s).map_err(|reason| FieldError::new(field, reason))?;
    Ok(s)
}

pub fn check_name(field: &str, value: &Value) -> Result<String, FieldError> {
    let name = fields::text(field, value)?;
    let ok = name.len() <= MAX_NAME
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(FieldError::new(field, format!("must be 1-{MAX_NAME} of letters, digits, -, _ and .")));
    }
    Ok(name)
}

/// A template from a create (`name` required) or a PUT of `name` (the whole template:
/// what the body omits takes its default). `stamp` is `(id, createdAt, createdBy,
/// createdByName)` of the template, kept on a PUT.
pub fn build(
    body: &Map<String, Value>,
    path_name: Option<&str>,
    stamp: (&str, &str, &str, &str),
    now: &str,
    actor: (&str, &str),
) -> Result<Value, FieldError> {
    reject_unknown(body, WRITABLE, READ_ONLY)?;
    let name = match (path_name, body.get("name")) {
        (Some(path), None) => path.to_string(),
        (Some(path), Some(v)) => {
            let n = check_name("name", v)?;
            if n != path {
                return Err(FieldError::new("name", "cannot be changed"));
            }
            n
        }
        (None, Some(v)) => check_name("name", v)?,
        (None, None) => return Err(FieldError::new("name", "is required")),
    };
    let channel = fields::one_of(
        "channel",
        body.get("channel").ok_or_else(|| FieldError::new("channel", "is required"))?,
        CHANNELS,
    )?;
    let text = checked_text("body", body.get("body").ok_or_else(|| FieldError::new("body", "is required"))?)?;
    let subject = match body.get("subject") {
        None | Some(Value::Null) => None,
        Some(_) if channel != "EMAIL" => return Err(FieldError::new("subject", "only EMAIL templates have a subject")),
        Some(v) => Some(checked_text("subject", v)?),
    };
    let label = match body.get("label") {
        None | Some(Value::Null) => name.clone(),
        Some(v) => fields::text("label", v)?,
    };
    let description = fields::opt_text("description", body.get("description").unwrap_or(&Value::Null))?;
    let active = match body.get("active") {
        None => true,
        Some(v) => fields::boolean("active", v)?,
    };
    let mut vars = subject.as_deref().map(variables).transpose().unwrap_or_default().unwrap_or_default();
    for v in variables(&text).unwrap_or_default() {
        if !vars.contains(&v) {
            vars.push(v);
        }
    }
    let (id, created_at, created_by, created_by_name) = stamp;
    Ok(json!({
        "id": id,
        "name": name,
        "label": label,
        "description": description,
        "channel": channel,
        "subject": subject,
        "body": text,
        "variables": vars,
        "active": active,
        "createdAt": created_at,
        "updatedAt": now,
        "createdBy": created_by,
        "updatedBy": actor.0,
        "createdByName": created_by_name,
        "updatedByName": actor.1,
    }))
}

/// `templateVariables`: an object of strings (numbers and booleans are taken as text).
pub fn supplied_variables(value: Option<&Value>) -> Result<BTreeMap<String, String>, FieldError> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(BTreeMap::new()) };
    let map = fields::object("templateVariables", value)?;
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let field = format!("templateVariables.{k}");
        if !is_variable_name(k) {
            return Err(FieldError::new(field, "is not a variable name (letters, digits, _ and .)"));
        }
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(FieldError::new(field, "must be a string")),
        };
        if s.chars().count() > MAX_BODY {
            return Err(FieldError::new(field, format!("must be at most {MAX_BODY} characters")));
        }
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// A template filled in for one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub text: String,
    pub subject: Option<String>,
    /// The value of every variable that has one.
    pub values: BTreeMap<String, String>,
    /// Neither given nor known to the server.
    pub unknown: Vec<String>,
    /// Known, but without data for this patient (e.g. no upcoming appointment).
    pub unresolved: Vec<String>,
}

impl Resolution {
    pub fn complete(&self) -> bool {
        self.unknown.is_empty() && self.unresolved.is_empty()
    }

    /// The first variable that leaves a hole, for the error.
    pub fn first_hole(&self) -> Option<(&str, &'static str)> {
        self.unknown
            .first()
            .map(|v| (v.as_str(), "is not a known variable and was not given in templateVariables"))
            .or_else(|| self.unresolved.first().map(|v| (v.as_str(), "has no value for this patient")))
    }
}

/// Fills `template`: given values first, then the server's (`known`: every known
/// variable the template uses, `None` when there is no data).
pub fn resolve(
    template: &Value,
    given: &BTreeMap<String, String>,
    known: &BTreeMap<String, Option<String>>,
) -> Resolution {
    let mut values = BTreeMap::new();
    let (mut unknown, mut unresolved) = (Vec::new(), Vec::new());
    for v in template["variables"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if let Some(x) = given.get(v) {
            values.insert(v.to_string(), x.clone());
        } else if !is_known(v) {
            unknown.push(v.to_string());
        } else if let Some(Some(x)) = known.get(v) {
            values.insert(v.to_string(), x.clone());
        } else {
            unresolved.push(v.to_string());
        }
    }
    Resolution {
        text: render(template["body"].as_str().unwrap_or_default(), &values),
        subject: template["subject"].as_str().map(|s| render(s, &values)),
        values,
        unknown,
        unresolved,
    }
}

pub const QUEUED: &str = "QUEUED";
pub const SENDING: &str = "SENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";
pub const BOUNCED: &str = "BOUNCED";
pub const STATUSES: &[&str] = &[QUEUED, SENDING, DELIVERED, FAILED, BOUNCED];

/// `POST /communications`.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub patient_id: String,
    pub channel: String,
    pub template_name: String,
    pub variables: BTreeMap<String, String>,
    pub sender_id: String,
}

pub fn parse_send(body: &Map<String, Value>) -> Result<Send, FieldError> {
    reject_unknown(
        body,
        &["patientId", "channel", "templateName", "templateVariables", "senderId"],
        &["communicationId", "status", "scheduledAt"],
    )?;
    let req = |k: &str| body.get(k).ok_or_else(|| FieldError::new(k, "is required"));
    let uuid = |k: &str| fields::opt_uuid(k, req(k)?)?.ok_or_else(|| FieldError::new(k, "is required"));
    Ok(Send {
        patient_id: uuid("patientId")?,
        channel: fields::one_of("channel", req("channel")?, CHANNELS)?,
        template_name: fields::text("templateName", req("templateName")?)?,
        variables: supplied_variables(body.get("templateVariables"))?,
        sender_id: uuid("senderId")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(body: Value) -> Result<Value, FieldError> {
        build(body.as_object().unwrap(), None, ("t1", "now", "c", "C"), "now", ("c", "C"))
    }

    #[test]
    fn placeholders_are_parsed_strictly() {
        assert_eq!(
            variables("Hi {{patientFirstName}}, see {{ providerName }} {{patientFirstName}}").unwrap(),
            ["patientFirstName", "providerName"]
        );
        assert!(variables("Hi {{patientFirstName").is_err());
        assert!(variables("Hi {{first name}}").is_err());
        assert!(variables("Hi {{}}").is_err());
        assert_eq!(variables("no variables } { here }}").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn templates_are_checked_field_by_field() {
        let t = template(json!({"name": "appt", "channel": "sms", "body": "Hi {{patientFirstName}} {{x}}"})).unwrap();
        assert_eq!(
            (t["channel"].as_str(), t["label"].as_str(), t["active"].as_bool()),
            (Some("SMS"), Some("appt"), Some(true))
        );
        assert_eq!(t["variables"], json!(["patientFirstName", "x"]));
        let e = template(json!({"name": "e", "channel": "EMAIL", "subject": "{{programName}}", "body": "{{patientFirstName}} {{programName}}"})).unwrap();
        assert_eq!(e["variables"], json!(["programName", "patientFirstName"]));
        for (body, field) in [
            (json!({"channel": "SMS", "body": "x"}), "name"),
            (json!({"name": "bad name", "channel": "SMS", "body": "x"}), "name"),
            (json!({"name": "a", "channel": "FAX", "body": "x"}), "channel"),
            (json!({"name": "a", "channel": "SMS"}), "body"),
            (json!({"name": "a", "channel": "SMS", "body": "{{oops"}), "body"),
            (json!({"name": "a", "channel": "SMS", "body": "x", "subject": "s"}), "subject"),
            (json!({"name": "a", "channel": "SMS", "body": "x", "variables": []}), "variables"),
            (json!({"name": "a", "channel": "SMS", "body": "x", "active": "yes"}), "active"),
        ] {
            assert_eq!(template(body).unwrap_err().field, field);
        }
        let renamed = build(
            json!({"name": "b", "channel": "SMS", "body": "x"}).as_object().unwrap(),
            Some("a"),
            ("t1", "n", "c", "C"),
            "n",
            ("c", "C"),
        );
        assert_eq!(renamed.unwrap_err().field, "name");
    }

    #[test]
    fn resolution_reports_every_hole() {
        let t = template(json!({"name": "a", "channel": "SMS", "body": "Hi {{patientFirstName}}, {{appointmentDate}} {{clinic}} {{custom}}"})).unwrap();
        let given = BTreeMap::from([("custom".to_string(), "C".to_string())]);
        let known = BTreeMap::from([
            ("patientFirstName".to_string(), Some("Ann".to_string())),
            ("appointmentDate".to_string(), None),
        ]);
        let r = resolve(&t, &given, &known);
        assert_eq!(r.text, "Hi Ann, {{appointmentDate}} {{clinic}} C");
        assert_eq!(
            (r.unknown.clone(), r.unresolved.clone()),
            (vec!["clinic".to_string()], vec!["appointmentDate".to_string()])
        );
        assert!(!r.complete());
        assert_eq!(r.first_hole().unwrap().0, "clinic");
        let given = BTreeMap::from([
            ("clinic".to_string(), "North".to_string()),
            ("appointmentDate".to_string(), "tomorrow".to_string()),
            ("custom".to_string(), "C".to_string()),
        ]);
        let r = resolve(&t, &given, &known);
        assert!(r.complete());
        assert_eq!(r.text, "Hi Ann, tomorrow North C");
    }

    #[test]
    fn sends_name_their_fields() {
        let p = "0b5e3d5e-6f1b-4f39-9d5e-7f4c2d1a9b10";
        let ok = json!({"patientId": p, "channel": "chat", "templateName": "a", "senderId": p, "templateVariables": {"n": 3}});
        let s = parse_send(ok.as_object().unwrap()).unwrap();
        assert_eq!((s.channel.as_str(), s.variables["n"].as_str()), ("CHAT", "3"));
        for (body, field) in [
            (json!({"channel": "SMS", "templateName": "a", "senderId": p}), "patientId"),
            (json!({"patientId": p, "templateName": "a", "senderId": p}), "channel"),
            (json!({"patientId": p, "channel": "SMS", "senderId": p}), "templateName"),
            (json!({"patientId": p, "channel": "SMS", "templateName": "a"}), "senderId"),
            (
                json!({"patientId": p, "channel": "SMS", "templateName": "a", "senderId": p, "templateVariables": {"x": {}}}),
                "templateVariables.x",
            ),
            (
                json!({"patientId": p, "channel": "SMS", "templateName": "a", "senderId": p, "templateVariables": []}),
                "templateVariables",
            ),
        ] {
            assert_eq!(parse_send(body.as_object().unwrap()).unwrap_err().field, field);
        }
    }
}
