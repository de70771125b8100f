//! Care plans: one per patient, holding the patient overview; goals made from the
//! designer's goal templates, with comments and (from the template's task templates)
//! tasks.

use super::fields::{self, reject_unknown};
use super::FieldError;
use crate::designer::views::GoalTemplate;
use serde_json::{json, Map, Value};

pub const GOAL_STATUSES: &[&str] = &["ACTIVE", "REMOVED", "COMPLETED"];
/// The priorities a goal template can carry.
pub const GOAL_PRIORITIES: &[&str] = &["LOW", "MEDIUM", "HIGH"];

/// The care plan of a patient that has none stored yet: the same id every time (derived
/// from instance and patient), the patient's creation as its own, no overview.
pub fn implicit(instance_id: &str, patient_id: &str, created_at: &str, created_by_name: &str) -> Value {
    json!({
        "id": plan_id(instance_id, patient_id),
        "createdByName": created_by_name, "createdAt": created_at,
        "updatedByName": created_by_name, "updatedAt": created_at,
        "patientId": patient_id, "patientOverview": null,
    })
}

/// The id of a patient's care plan (UUID v5, so that it is stable before it is stored).
pub fn plan_id(instance_id: &str, patient_id: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("openwelkin:care-plan:{instance_id}:{patient_id}").as_bytes(),
    )
    .to_string()
}

/// Reads an overview body (`{"overview": "…"}`); the text may be empty.
pub fn overview_body(body: &Map<String, Value>) -> Result<String, FieldError> {
    reject_unknown(body, &["overview"], &["createdAt", "updatedAt", "createdByName", "updatedByName"])?;
    match body.get("overview") {
        None => Err(FieldError::new("overview", "is required")),
        Some(Value::String(s)) if s.len() > 100_000 => Err(FieldError::new("overview", "is too long")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(FieldError::new("overview", "must be a string")),
    }
}

/// Sets the overview of `plan` (creating the overview object on first write) and stamps
/// both.
pub fn set_overview(plan: &mut Value, text: &str, now: &str, actor_name: &str) {
    if plan["patientOverview"].is_null() {
        plan["patientOverview"] = json!({"createdByName": actor_name, "createdAt": now});
    }
    let o = &mut plan["patientOverview"];
    o["updatedByName"] = json!(actor_name);
    o["updatedAt"] = json!(now);
    o["overview"] = json!(text);
    plan["updatedByName"] = json!(actor_name);
    plan["updatedAt"] = json!(now);
}

/// Reads a goal create body: `{"goalTemplateName"}`.
pub fn goal_create_body(body: &Map<String, Value>) -> Result<String, FieldError> {
    reject_unknown(body, &["goalTemplateName"], &["id", "name", "type", "priority", "status", "templateName"])?;
    fields::text("goalTemplateName", body.get("goalTemplateName").unwrap_or(&Value::Null))
}

/// A new goal from a template.
pub fn goal_from_template(id: &str, t: &GoalTemplate, now: &str, actor_name: &str) -> Value {
    json!({
        "id": id, "createdByName": actor_name, "createdAt": now, "updatedByName": actor_name, "updatedAt": now,
        "name": t.goal_name, "type": t.goal_type, "priority": t.priority, "status": "ACTIVE",
        "templateName": t.name,
    })
}

/// Applies a goal PATCH (`name`, `priority`, `status`).
pub fn apply_goal_patch(goal: &mut Value, body: &Map<String, Value>) -> Result<(), FieldError> {
    reject_unknown(
        body,
        &["name", "priority", "status"],
        &["id", "createdByName", "createdAt", "updatedByName", "updatedAt", "type", "templateName"],
    )?;
    let mut next = goal.clone();
    for (key, value) in body {
        let k = key.as_str();
        let v = match k {
            "name" => fields::text(k, value)?,
            "priority" => fields::one_of(k, value, GOAL_PRIORITIES)?,
            "status" => fields::one_of(k, value, GOAL_STATUSES)?,
            _ => unreachable!("reject_unknown admits only writable keys"),
        };
        next[k] = json!(v);
    }
    *goal = next;
    Ok(())
}

/// Reads a goal comment body (`{"text"}`).
pub fn goal_comment_body(body: &Map<String, Value>) -> Result<String, FieldError> {
    reject_unknown(body, &["text"], &["id", "createdByName", "createdAt", "updatedByName", "updatedAt"])?;
    fields::text("text", body.get("text").unwrap_or(&Value::Null))
}

pub fn goal_comment(id: &str, text: &str, now: &str, actor_name: &str) -> Value {
    json!({
        "id": id, "createdByName": actor_name, "createdAt": now, "updatedByName": actor_name, "updatedAt": now,
        "text": text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::designer::views::{SubjectConfig, TaskTemplate};

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn implicit_plans_keep_their_id() {
        let a = implicit("i", "p", "t", "n");
        assert_eq!(a["id"], implicit("i", "p", "t2", "m")["id"]);
        assert_ne!(a["id"], implicit("i", "q", "t", "n")["id"]);
        assert!(a["patientOverview"].is_null());
    }

    #[test]
    fn overviews_are_created_then_updated() {
        assert_eq!(overview_body(&obj(json!({}))).unwrap_err().field, "overview");
        assert_eq!(overview_body(&obj(json!({"overview": 3}))).unwrap_err().field, "overview");
        assert_eq!(overview_body(&obj(json!({"overview": "x", "id": "y"}))).unwrap_err().field, "id");
        let mut plan = implicit("i", "p", "t0", "n");
        set_overview(&mut plan, "first", "t1", "A");
        set_overview(&mut plan, "second", "t2", "B");
        let o = &plan["patientOverview"];
        assert_eq!(
            (o["createdAt"].as_str(), o["updatedAt"].as_str(), o["overview"].as_str()),
            (Some("t1"), Some("t2"), Some("second"))
        );
        assert_eq!((plan["updatedAt"].as_str(), plan["createdAt"].as_str()), (Some("t2"), Some("t0")));
    }

    #[test]
    fn goals_come_from_templates_and_patch_checks_values() {
        let t = GoalTemplate {
            name: "eat-fruit".into(),
            goal_name: "Eat Fruit".into(),
            goal_type: "dietary".into(),
            priority: "LOW".into(),
            task_templates: vec![TaskTemplate {
                name: "check-in".into(),
                subject_config: SubjectConfig { subject_type: "POINT_OF_CONTACT".into(), role_name: None },
            }],
        };
        let mut g = goal_from_template("g1", &t, "now", "A");
        assert_eq!(
            (g["name"].as_str(), g["status"].as_str(), g["templateName"].as_str()),
            (Some("Eat Fruit"), Some("ACTIVE"), Some("eat-fruit"))
        );
        let before = g.clone();
        let err = apply_goal_patch(&mut g, &obj(json!({"name": "New", "status": "PAUSED"}))).unwrap_err();
        assert_eq!(err.field, "status");
        assert_eq!(g, before, "a refused patch changes nothing");
        apply_goal_patch(&mut g, &obj(json!({"name": "New", "status": "completed", "priority": "HIGH"}))).unwrap();
        assert_eq!(
            (g["name"].as_str(), g["status"].as_str(), g["priority"].as_str()),
            (Some("New"), Some("COMPLETED"), Some("HIGH"))
        );
        assert_eq!(apply_goal_patch(&mut g, &obj(json!({"type": "x"}))).unwrap_err().field, "type");
        assert_eq!(goal_create_body(&obj(json!({}))).unwrap_err().field, "goalTemplateName");
        assert_eq!(goal_comment_body(&obj(json!({"text": ""}))).unwrap_err().field, "text");
    }
}
