//! Designer as code: a tenant's configuration (data types, assessments, programs,
//! encounter templates, dictionaries, …) as one document. It is loaded from a folder of
//! YAML or JSON files, validated, and stored per instance as numbered formation versions;
//! the formation endpoints read it and the draft endpoints edit it.

pub mod data_type;

use data_type::{DataType, FIELD_TYPES};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One problem in a designer document: the file it came from (empty for API edits), the
/// JSON path inside it and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesignerError {
    pub file: String,
    pub path: String,
    pub reason: String,
}

impl DesignerError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        DesignerError { file: String::new(), path: path.into(), reason: reason.into() }
    }

    pub fn in_file(mut self, file: &str) -> Self {
        self.file = file.to_string();
        self
    }
}

impl std::fmt::Display for DesignerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}: {}", self.path, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.reason)
        }
    }
}

/// The kinds of designer objects the formation endpoints serve, by their path segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cdts,
    Pdts,
    DocumentTypes,
    Assessments,
    Programs,
    EncounterTemplates,
    GoalTemplates,
    Dictionaries,
}

impl Kind {
    pub fn from_segment(segment: &str) -> Option<Kind> {
        Some(match segment {
            "cdts" => Kind::Cdts,
            "pdts" => Kind::Pdts,
            "document-types" => Kind::DocumentTypes,
            "assessments" => Kind::Assessments,
            "programs" => Kind::Programs,
            "encounters" => Kind::EncounterTemplates,
            "goal-templates" => Kind::GoalTemplates,
            "dictionaries" => Kind::Dictionaries,
            _ => return None,
        })
    }

    /// The relation data types of this kind have when their file does not say.
    fn default_relation(self) -> &'static str {
        match self {
            Kind::DocumentTypes => "DOCUMENT_TYPE",
            Kind::Pdts => "PROFILE",
            _ => "COMMON",
        }
    }
}

/// A tenant's whole designer configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Designer {
    #[serde(default)]
    pub cdts: Vec<DataType>,
    #[serde(default)]
    pub pdts: Vec<DataType>,
    #[serde(default)]
    pub document_types: Vec<DataType>,
    #[serde(default)]
    pub encounter_disposition: Option<DataType>,
    #[serde(default)]
    pub assessments: Vec<Value>,
    #[serde(default)]
    pub programs: Vec<Value>,
    #[serde(default)]
    pub encounter_templates: Vec<Value>,
    #[serde(default)]
    pub goal_templates: Vec<Value>,
    #[serde(default)]
    pub dictionaries: Vec<Value>,
    #[serde(default)]
    pub roles: Vec<Value>,
    #[serde(default)]
    pub security_policies: Vec<Value>,
    #[serde(default)]
    pub regions: Vec<Value>,
    #[serde(default)]
    pub webhooks: Vec<Value>,
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or_default()
}

impl Designer {
    fn data_types(&self, kind: Kind) -> Option<&Vec<DataType>> {
        match kind {
            Kind::Cdts => Some(&self.cdts),
            Kind::Pdts => Some(&self.pdts),
            Kind::DocumentTypes => Some(&self.document_types),
            _ => None,
        }
    }

    fn data_types_mut(&mut self, kind: Kind) -> Option<&mut Vec<DataType>> {
        match kind {
            Kind::Cdts => Some(&mut self.cdts),
            Kind::Pdts => Some(&mut self.pdts),
            Kind::DocumentTypes => Some(&mut self.document_types),
            _ => None,
        }
    }

    fn objects(&self, kind: Kind) -> &Vec<Value> {
        match kind {
            Kind::Assessments => &self.assessments,
            Kind::Programs => &self.programs,
            Kind::EncounterTemplates => &self.encounter_templates,
            Kind::GoalTemplates => &self.goal_templates,
            Kind::Dictionaries => &self.dictionaries,
            Kind::Cdts | Kind::Pdts | Kind::DocumentTypes => unreachable!("data types are typed"),
        }
    }

    fn objects_mut(&mut self, kind: Kind) -> &mut Vec<Value> {
        match kind {
            Kind::Assessments => &mut self.assessments,
            Kind::Programs => &mut self.programs,
            Kind::EncounterTemplates => &mut self.encounter_templates,
            Kind::GoalTemplates => &mut self.goal_templates,
            Kind::Dictionaries => &mut self.dictionaries,
            Kind::Cdts | Kind::Pdts | Kind::DocumentTypes => unreachable!("data types are typed"),
        }
    }

    /// A data type by kind and name (for record validation).
    pub fn data_type(&self, kind: Kind, name: &str) -> Option<&DataType> {
        self.data_types(kind)?.iter().find(|d| d.name == name)
    }

    /// Every object of a kind, as the formation endpoints return them.
    pub fn list(&self, kind: Kind, version: i64) -> Vec<Value> {
        match self.data_types(kind) {
            Some(types) => types.iter().map(|d| d.formation(kind.default_relation(), version)).collect(),
            None => self.objects(kind).iter().map(|o| render(kind, o, version)).collect(),
        }
    }

    pub fn get(&self, kind: Kind, name: &str, version: i64) -> Option<Value> {
        match self.data_types(kind) {
            Some(types) => types.iter().find(|d| d.name == name).map(|d| d.formation(kind.default_relation(), version)),
            None => self.objects(kind).iter().find(|o| name_of(o) == name).map(|o| render(kind, o, version)),
        }
    }

    /// The encounter disposition's data type: the designer's, or Welkin's standard one.
    pub fn disposition(&self) -> DataType {
        self.encounter_disposition.clone().unwrap_or_else(default_disposition)
    }

    /// Adds an object, or replaces the one of the same name; the result must validate.
    pub fn upsert(&mut self, kind: Kind, body: Value) -> Result<String, Vec<DesignerError>> {
        let name = name_of(&body).to_string();
        if let Some(types) = self.data_types_mut(kind) {
            let dt: DataType =
                serde_json::from_value(body).map_err(|e| vec![DesignerError::new("$", e.to_string())])?;
            match types.iter_mut().find(|d| d.name == dt.name) {
                Some(existing) => *existing = dt,
                None => types.push(dt),
            }
        } else {
            if !body.is_object() {
                return Err(vec![DesignerError::new("$", "must be an object")]);
            }
            let list = self.objects_mut(kind);
            match list.iter_mut().find(|o| name_of(o) == name) {
                Some(existing) => *existing = body,
                None => list.push(body),
            }
        }
        let errors = self.validate();
        if errors.is_empty() {
            Ok(name)
        } else {
            Err(errors)
        }
    }

    /// Removes an object by name; false when there was none.
    pub fn remove(&mut self, kind: Kind, name: &str) -> bool {
        match self.data_types_mut(kind) {
            Some(types) => {
                let before = types.len();
                types.retain(|d| d.name != name);
                before != types.len()
            }
            None => {
                let list = self.objects_mut(kind);
                let before = list.len();
                list.retain(|o| name_of(o) != name);
                before != list.len()
            }
        }
    }

    /// Every problem of the document: names, field types, options and references.
    pub fn validate(&self) -> Vec<DesignerError> {
        let mut errors = Vec::new();
        for (kind, label) in [(Kind::Cdts, "cdts"), (Kind::Pdts, "pdts"), (Kind::DocumentTypes, "documentTypes")] {
            let types = self.data_types(kind).expect("data type kind");
            check_unique(types.iter().map(|d| d.name.as_str()), label, &mut errors);
            for (i, dt) in types.iter().enumerate() {
                validate_data_type(dt, &format!("{label}[{i}]"), self, &mut errors);
            }
        }
        if let Some(dt) = &self.encounter_disposition {
            validate_data_type(dt, "encounterDisposition", self, &mut errors);
        }
        for (kind, label) in [
            (Kind::Assessments, "assessments"),
            (Kind::Programs, "programs"),
            (Kind::EncounterTemplates, "encounterTemplates"),
            (Kind::GoalTemplates, "goalTemplates"),
            (Kind::Dictionaries, "dictionaries"),
        ] {
            let list = self.objects(kind);
            for (i, o) in list.iter().enumerate() {
                if name_of(o).is_empty() {
                    errors.push(DesignerError::new(format!("{label}[{i}].name"), "is required"));
                }
            }
            check_unique(list.iter().map(name_of).filter(|n| !n.is_empty()), label, &mut errors);
        }
        errors
    }
}

fn check_unique<'a>(names: impl Iterator<Item = &'a str>, label: &str, errors: &mut Vec<DesignerError>) {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            errors.push(DesignerError::new(label, format!("{name:?} is defined twice")));
        }
    }
}

fn is_machine_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_data_type(dt: &DataType, path: &str, designer: &Designer, errors: &mut Vec<DesignerError>) {
    if !is_machine_name(&dt.name) {
        errors.push(DesignerError::new(format!("{path}.name"), "must be letters, digits, '-' or '_'"));
    }
    check_unique(dt.fields.iter().map(|f| f.name.as_str()), &format!("{path}.fields"), errors);
    for (j, f) in dt.fields.iter().enumerate() {
        let fpath = format!("{path}.fields[{j}]");
        if !is_machine_name(&f.name) {
            errors.push(DesignerError::new(format!("{fpath}.name"), "must be letters, digits, '-' or '_'"));
        }
        if data_type::SYSTEM_FIELDS.iter().any(|(n, _)| *n == f.name) {
            errors.push(DesignerError::new(format!("{fpath}.name"), format!("{:?} is a system field", f.name)));
        }
        if !FIELD_TYPES.contains(&f.field_type.as_str()) {
            errors.push(DesignerError::new(
                format!("{fpath}.type"),
                format!("must be one of {}", FIELD_TYPES.join(", ")),
            ));
        }
        let has_options = f.meta.options.as_ref().is_some_and(|o| !o.is_empty());
        if f.field_type == "select" && !has_options && f.dictionary.is_none() {
            errors.push(DesignerError::new(format!("{fpath}.meta.options"), "a select needs options or a dictionary"));
        }
        if let Some(dict) = &f.dictionary {
            if !designer.dictionaries.iter().any(|d| name_of(d) == dict) {
                errors.push(DesignerError::new(format!("{fpath}.dictionary"), format!("no dictionary named {dict:?}")));
            }
        }
    }
}

/// Objects other than data types are stored as given (already checked); those that carry
/// a formation version get the one they are read in.
fn render(kind: Kind, o: &Value, version: i64) -> Value {
    let mut o = o.clone();
    if let (Kind::Assessments, Some(map)) = (kind, o.as_object_mut()) {
        map.insert("version".into(), json!(version));
    }
    o
}

/// Welkin's standard encounter disposition, used when the designer does not define one.
pub fn default_disposition() -> DataType {
    serde_json::from_value(json!({
        "name": "__encounter_disposition__",
        "internal": true,
        "relation": "ENCOUNTER_DISPOSITION",
        "fields": [
            {"name": "disposition-code", "type": "select", "meta": {"required": true, "options": [
                {"label": "Completed", "value": "Completed"}, {"label": "Rescheduled", "value": "Rescheduled"},
                {"label": "No Show", "value": "No Show"}, {"label": "Referred Out", "value": "Referred Out"},
                {"label": "Not Eligible", "value": "Not Eligible"}]}},
            {"name": "note", "type": "textarea"}
        ]
    }))
    .expect("the standard disposition parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdt(name: &str) -> Value {
        json!({"name": name, "fields": [{"name": "a", "type": "text"}]})
    }

    #[test]
    fn upsert_replaces_by_name_and_remove_deletes() {
        let mut d = Designer::default();
        d.upsert(Kind::Cdts, cdt("one")).unwrap();
        d.upsert(Kind::Cdts, json!({"name": "one", "fields": [{"name": "b", "type": "integer"}]})).unwrap();
        assert_eq!(d.cdts.len(), 1);
        assert_eq!(d.get(Kind::Cdts, "one", 3).unwrap()["fields"][0]["name"], "b");
        assert!(d.remove(Kind::Cdts, "one"));
        assert!(!d.remove(Kind::Cdts, "one"));
    }

    #[test]
    fn validation_names_the_path() {
        let mut d = Designer::default();
        let errs = d
            .upsert(
                Kind::Cdts,
                json!({"name": "x", "fields": [{"name": "s", "type": "select"}, {"name": "t", "type": "blob"}]}),
            )
            .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["cdts[0].fields[0].meta.options", "cdts[0].fields[1].type"]);
        let errs = Designer::default().upsert(Kind::Cdts, json!({"name": "x", "fields": [], "colour": 1})).unwrap_err();
        assert!(errs[0].reason.contains("colour"));
    }

    #[test]
    fn the_standard_disposition_matches_the_recording() {
        let f = default_disposition().formation("ENCOUNTER_DISPOSITION", 1);
        assert_eq!(f["name"], "__encounter_disposition__");
        assert_eq!(f["fields"][0]["meta"]["required"], true);
    }
}
