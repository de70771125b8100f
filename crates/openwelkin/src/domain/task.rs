//! Tasks: work items assigned to a user, optionally about a patient, with watchers and
//! comments. The body rules live here; the handler checks that the users and the patient
//! a body names exist before `apply` writes them into the task.

use super::fields::{self, reject_unknown};
use super::user::User;
use super::FieldError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const STATUSES: &[&str] = &["TODO", "IN_PROGRESS", "COMPLETED", "CANCELED"];
pub const PRIORITIES: &[&str] = &["LOW", "MEDIUM", "HIGH", "URGENT"];

/// How a task came to be (`createdType`): through the API, or from a goal template.
pub const CREATED_BY_API: &str = "API_CLIENT";
pub const CREATED_BY_CARE_PLAN: &str = "CARE_PLAN";

const CREATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "priority",
    "status",
    "dueDate",
    "assignee",
    "patient",
    "watchers",
    "comments",
    "templateName",
];
const UPDATE_FIELDS: &[&str] =
    &["name", "description", "priority", "status", "dueDate", "assignee", "patient", "templateName"];
const READ_ONLY: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdByName",
    "updatedByName",
    "author",
    "watchersType",
    "createdType",
    "goalId",
];
/// Keys a reference object (`assignee`, `patient`, a watcher) may carry: the `id` that
/// counts, and the display keys a task read back has, which are ignored.
const REF_KEYS: &[&str] = &["id", "name", "enabled"];

/// Sorting rank of a priority: LOW 1 … URGENT 4.
pub fn priority_rank(priority: &str) -> i64 {
    PRIORITIES.iter().position(|p| *p == priority).map(|i| i as i64 + 1).unwrap_or(0)
}

/// A checked create or PATCH body. `None` means "not given".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub template_name: Option<Option<String>>,
    /// The due time in the wire format, or `Some(None)` to clear it.
    pub due_date: Option<Option<String>>,
    pub status: Option<String>,
    pub priority: Option<String>,
    /// The assignee's user id.
    pub assignee: Option<String>,
    /// The patient's id, or `Some(None)` to unlink the task from its patient.
    pub patient: Option<Option<String>>,
    /// Watcher user ids (create only).
    pub watchers: Option<Vec<String>>,
    /// Comment texts (create only).
    pub comments: Vec<String>,
}

impl TaskChanges {
    /// Every user id the body names, with the field that names it.
    pub fn user_refs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(a) = &self.assignee {
            out.push(("assignee.id".to_string(), a.clone()));
        }
        for (i, w) in self.watchers.iter().flatten().enumerate() {
            out.push((format!("watchers[{i}].id"), w.clone()));
        }
        out
    }
}

/// The `id` of a reference object (`{"id": "…"}`), named `field` in errors.
pub fn ref_id(field: &str, value: &Value) -> Result<String, FieldError> {
    let obj = fields::object(field, value)?;
    reject_unknown(obj, REF_KEYS, &[]).map_err(|e| FieldError::new(format!("{field}.{}", e.field), e.reason))?;
    let id_field = format!("{field}.id");
    let id = obj.get("id").ok_or_else(|| FieldError::new(&id_field, "is required"))?;
    fields::opt_uuid(&id_field, id)?.ok_or_else(|| FieldError::new(id_field, "is required"))
}

fn comment_text(field: &str, value: &Value) -> Result<String, FieldError> {
    match value {
        Value::Object(obj) => {
            reject_unknown(obj, &["text"], &[])
                .map_err(|e| FieldError::new(format!("{field}.{}", e.field), e.reason))?;
            let text_field = format!("{field}.text");
            fields::text(&text_field, obj.get("text").unwrap_or(&Value::Null))
        }
        _ => Err(FieldError::new(field, "must be an object with a text")),
    }
}

/// Reads the body of a task comment (`{"text"}`).
pub fn comment_body(body: &Map<String, Value>) -> Result<String, FieldError> {
    reject_unknown(body, &["text"], &[])?;
    fields::text("text", body.get("text").unwrap_or(&Value::Null))
}

/// Checks a create (`creating`) or PATCH body field by field.
pub fn parse(body: &Map<String, Value>, creating: bool) -> Result<TaskChanges, FieldError> {
    if !creating {
        for key in ["watchers", "comments"] {
            if body.contains_key(key) {
                return Err(FieldError::new(key, format!("cannot be changed here: use /tasks/{{taskId}}/{key}")));
            }
        }
    }
    reject_unknown(body, if creating { CREATE_FIELDS } else { UPDATE_FIELDS }, READ_ONLY)?;
    let mut ch = TaskChanges::default();
    for (key, value) in body {
        let k = key.as_str();
        match k {
            "name" => ch.name = Some(fields::text(k, value)?),
            "description" => ch.description = Some(fields::opt_text(k, value)?.unwrap_or_default()),
            "templateName" => ch.template_name = Some(fields::opt_text(k, value)?),
            "dueDate" => {
                ch.due_date = Some(match fields::opt_text(k, value)? {
                    None => None,
                    Some(text) => Some(
                        crate::time::parse_datetime(&text)
                            .map(crate::time::format)
                            .ok_or_else(|| FieldError::new(k, format!("{text:?} is not an ISO-8601 datetime")))?,
                    ),
                })
            }
            "status" => ch.status = Some(fields::one_of(k, value, STATUSES)?),
            "priority" => ch.priority = Some(fields::one_of(k, value, PRIORITIES)?),
            "assignee" => {
                if value.is_null() {
                    return Err(FieldError::new(k, "must not be null"));
                }
                ch.assignee = Some(ref_id(k, value)?);
            }
            "patient" => ch.patient = Some(if value.is_null() { None } else { Some(ref_id(k, value)?) }),
            "watchers" => {
                let mut ids: Vec<String> = Vec::new();
                for (i, w) in fields::array(k, value)?.iter().enumerate() {
                    let id = ref_id(&format!("watchers[{i}]"), w)?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                ch.watchers = Some(ids);
            }
            "comments" => {
                ch.comments = fields::array(k, value)?
                    .iter()
                    .enumerate()
                    .map(|(i, c)| comment_text(&format!("comments[{i}]"), c))
                    .collect::<Result<_, _>>()?
            }
            _ => unreachable!("reject_unknown admits only writable keys"),
        }
    }
    if creating {
        for (field, given) in [
            ("name", ch.name.is_some()),
            ("status", ch.status.is_some()),
            ("priority", ch.priority.is_some()),
            ("assignee", ch.assignee.is_some()),
        ] {
            if !given {
                return Err(FieldError::new(field, "is required"));
            }
        }
    }
    Ok(ch)
}

/// A user as tasks show one: `{id, name, enabled}`.
pub fn user_ref(u: &User) -> Value {
    let full = [u.first_name.as_deref(), u.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    json!({"id": u.id, "name": if full.is_empty() { u.username.clone() } else { full }, "enabled": u.enabled})
}

/// Who wrote a task or comment: `{id, name}`.
pub fn author_ref(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name})
}

/// A new task with every key present; `apply` then fills it from a body.
pub fn blank(id: &str, now: &str, author: &Value, created_type: &str) -> Value {
    let author_id = author["id"].clone();
    let author_name = author["name"].clone();
    json!({
        "id": id, "createdAt": now, "updatedAt": now,
        "createdBy": author_id, "updatedBy": author_id, "createdByName": author_name, "updatedByName": author_name,
        "name": null, "templateName": null, "description": "", "dueDate": null,
        "status": "TODO", "priority": "MEDIUM",
        "patient": null, "assignee": null, "author": author,
        "watchers": [], "watchersType": null, "createdType": created_type, "comments": [],
    })
}

pub fn new_comment(id: &str, now: &str, author: &Value, text: &str) -> Value {
    json!({
        "id": id, "createdAt": now, "updatedAt": now,
        "createdByName": author["name"], "updatedByName": author["name"],
        "author": author, "text": text,
    })
}

/// Writes checked changes into `task`. `users` holds every user the changes name
/// (`{id, name, enabled}` by id) and `patient` the patient they name (`{id, name}`).
pub fn apply(task: &mut Value, ch: &TaskChanges, users: &BTreeMap<String, Value>, patient: Option<Value>) {
    let t = task.as_object_mut().expect("tasks are objects");
    let user =
        |id: &String| users.get(id).cloned().unwrap_or_else(|| json!({"id": id, "name": null, "enabled": false}));
    if let Some(v) = &ch.name {
        t.insert("name".into(), json!(v));
    }
    if let Some(v) = &ch.description {
        t.insert("description".into(), json!(v));
    }
    if let Some(v) = &ch.template_name {
        t.insert("templateName".into(), json!(v));
    }
    if let Some(v) = &ch.due_date {
        t.insert("dueDate".into(), json!(v));
    }
    if let Some(v) = &ch.status {
        t.insert("status".into(), json!(v));
    }
    if let Some(v) = &ch.priority {
        t.insert("priority".into(), json!(v));
    }
    if let Some(id) = &ch.assignee {
        t.insert("assignee".into(), user(id));
    }
    if let Some(p) = &ch.patient {
        t.insert("patient".into(), if p.is_some() { patient.unwrap_or(Value::Null) } else { Value::Null });
    }
    if let Some(ids) = &ch.watchers {
        t.insert("watchers".into(), Value::Array(ids.iter().map(user).collect()));
    }
}

/// Stamps an update by `author` at `now`.
pub fn touch(task: &mut Value, now: &str, author: &Value) {
    task["updatedAt"] = json!(now);
    task["updatedBy"] = author["id"].clone();
    task["updatedByName"] = author["name"].clone();
}

/// The ids of the task's watchers.
pub fn watcher_ids(task: &Value) -> Vec<String> {
    task["watchers"].as_array().into_iter().flatten().filter_map(|w| w["id"].as_str().map(String::from)).collect()
}

/// A task title from a task template name: `ttmp-check-in` → `Check in`.
pub fn title_of_template(name: &str) -> String {
    let base = name.strip_prefix("ttmp-").unwrap_or(name);
    let words: Vec<&str> = base.split(['-', '_']).filter(|w| !w.is_empty()).collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const U1: &str = "0b7c2f9e-6f0a-4c55-9a8e-111111111111";
    const U2: &str = "0b7c2f9e-6f0a-4c55-9a8e-222222222222";

    #[test]
    fn creates_need_name_status_priority_and_assignee() {
        let full = json!({"name": "Call", "status": "todo", "priority": "HIGH", "assignee": {"id": U1}});
        let ch = parse(&obj(full.clone()), true).unwrap();
        assert_eq!(ch.status.as_deref(), Some("TODO"));
        for missing in ["name", "status", "priority", "assignee"] {
            let mut body = obj(full.clone());
            body.remove(missing);
            assert_eq!(parse(&body, true).unwrap_err().field, missing);
        }
        assert!(parse(&obj(json!({})), false).is_ok(), "a PATCH needs nothing");
    }

    #[test]
    fn values_are_checked_and_named() {
        let bad = |body: Value, creating: bool| parse(&obj(body), creating).unwrap_err().field;
        assert_eq!(bad(json!({"status": "DONE"}), false), "status");
        assert_eq!(bad(json!({"priority": "CRITICAL"}), false), "priority");
        assert_eq!(bad(json!({"dueDate": "tomorrow"}), false), "dueDate");
        assert_eq!(bad(json!({"assignee": {"id": "nope"}}), false), "assignee.id");
        assert_eq!(bad(json!({"assignee": {}}), false), "assignee.id");
        assert_eq!(bad(json!({"assignee": null}), false), "assignee");
        assert_eq!(bad(json!({"assignee": {"id": U1, "role": "x"}}), false), "assignee.role");
        assert_eq!(bad(json!({"watchers": [{"id": U1}]}), false), "watchers");
        assert_eq!(bad(json!({"comments": [{"text": "x"}]}), false), "comments");
        assert_eq!(bad(json!({"author": {"id": U1}}), false), "author");
        assert_eq!(bad(json!({"colour": "red"}), false), "colour");
        assert_eq!(bad(json!({"watchers": [{"id": U1}, {}]}), true), "watchers[1].id");
        assert_eq!(bad(json!({"comments": [{"text": " "}]}), true), "comments[0].text");
    }

    #[test]
    fn apply_fills_references_and_dedupes_watchers() {
        let body = json!({
            "name": "Call", "status": "TODO", "priority": "LOW", "assignee": {"id": U1, "name": "old", "enabled": true},
            "watchers": [{"id": U2}, {"id": U2}], "dueDate": "2024-01-02", "patient": {"id": U1},
        });
        let ch = parse(&obj(body), true).unwrap();
        assert_eq!(ch.watchers.as_deref(), Some(&[U2.to_string()][..]));
        assert_eq!(ch.user_refs().len(), 2);
        let mut users = BTreeMap::new();
        users.insert(U1.to_string(), json!({"id": U1, "name": "Ann", "enabled": true}));
        users.insert(U2.to_string(), json!({"id": U2, "name": "Bob", "enabled": true}));
        let mut t = blank("t1", "now", &author_ref("c", "API_CLIENT:C"), CREATED_BY_API);
        apply(&mut t, &ch, &users, Some(json!({"id": U1, "name": "Pat"})));
        assert_eq!(t["assignee"]["name"], "Ann");
        assert_eq!(t["watchers"][0]["name"], "Bob");
        assert_eq!(t["dueDate"], "2024-01-02T00:00:00.000Z");
        assert_eq!(t["patient"]["name"], "Pat");
        assert_eq!(watcher_ids(&t), vec![U2.to_string()]);
        let unlink = parse(&obj(json!({"patient": null, "dueDate": null})), false).unwrap();
        apply(&mut t, &unlink, &users, None);
        assert_eq!((t["patient"].clone(), t["dueDate"].clone()), (Value::Null, Value::Null));
    }

    #[test]
    fn priorities_rank_by_urgency_and_templates_give_titles() {
        assert!(priority_rank("URGENT") > priority_rank("HIGH") && priority_rank("LOW") == 1);
        assert_eq!(title_of_template("check-in-on-goal-progress"), "Check in on goal progress");
        assert_eq!(title_of_template("ttmp-call_back"), "Call back");
    }
}
