//! Designer as code: a tenant's configuration (data types, assessments, programs,
//! encounter templates, dictionaries, …) as one document. It is loaded from a folder of
//! YAML or JSON files, validated, and stored per instance as numbered formation versions;
//! the formation endpoints read it and the draft endpoints edit it.
//!
//! - `data_type`: CDTs, PDTs, document types and the encounter disposition (typed).
//! - `objects`: every other kind (kept as normalized JSON values, with typed views).
//! - `shape`: the structural checker behind both (keys, types, defaults, JSON paths).
//! - `loader`: reading a tenant's folder (the layout is documented there and in
//!   `docs/DESIGNER.md`).

pub mod data_type;
pub mod export;
pub mod loader;
mod object_rules;
pub mod object_shapes;
#[cfg(test)]
mod object_tests;
pub mod objects;
pub(crate) mod shape;
pub mod views;

use data_type::{DataType, FIELD_TYPES};
use objects::Section;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shape::is_machine_name;

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
        self.values(Section::of(kind))
    }

    /// The JSON-valued list of a section (any section but the data types).
    pub(crate) fn values(&self, section: Section) -> &Vec<Value> {
        match section {
            Section::Assessments => &self.assessments,
            Section::Programs => &self.programs,
            Section::EncounterTemplates => &self.encounter_templates,
            Section::GoalTemplates => &self.goal_templates,
            Section::Dictionaries => &self.dictionaries,
            Section::Roles => &self.roles,
            Section::SecurityPolicies => &self.security_policies,
            Section::Regions => &self.regions,
            Section::Webhooks => &self.webhooks,
            Section::Cdts | Section::Pdts | Section::DocumentTypes => unreachable!("data types are typed"),
        }
    }

    pub(crate) fn values_mut(&mut self, section: Section) -> &mut Vec<Value> {
        match section {
            Section::Assessments => &mut self.assessments,
            Section::Programs => &mut self.programs,
            Section::EncounterTemplates => &mut self.encounter_templates,
            Section::GoalTemplates => &mut self.goal_templates,
            Section::Dictionaries => &mut self.dictionaries,
            Section::Roles => &mut self.roles,
            Section::SecurityPolicies => &mut self.security_policies,
            Section::Regions => &mut self.regions,
            Section::Webhooks => &mut self.webhooks,
            Section::Cdts | Section::Pdts | Section::DocumentTypes => unreachable!("data types are typed"),
        }
    }

    /// How many objects a section holds.
    pub fn count(&self, section: Section) -> usize {
        match section {
            Section::Cdts => self.cdts.len(),
            Section::Pdts => self.pdts.len(),
            Section::DocumentTypes => self.document_types.len(),
            other => self.values(other).len(),
        }
    }

    fn typed<T: serde::de::DeserializeOwned>(&self, section: Section, name: &str) -> Option<T> {
        self.values(section).iter().find(|o| name_of(o) == name).and_then(|o| objects::typed(section, o))
    }

    fn all_typed<T: serde::de::DeserializeOwned>(&self, section: Section) -> Vec<T> {
        self.values(section).iter().filter_map(|o| objects::typed(section, o)).collect()
    }

    pub fn assessment(&self, name: &str) -> Option<views::Assessment> {
        self.typed(Section::Assessments, name)
    }

    pub fn program(&self, name: &str) -> Option<views::Program> {
        self.typed(Section::Programs, name)
    }

    /// Every program, in formation order.
    pub fn program_list(&self) -> Vec<views::Program> {
        self.all_typed(Section::Programs)
    }

    pub fn encounter_template(&self, name: &str) -> Option<views::EncounterTemplate> {
        self.typed(Section::EncounterTemplates, name)
    }

    pub fn goal_template(&self, name: &str) -> Option<views::GoalTemplate> {
        self.typed(Section::GoalTemplates, name)
    }

    /// A dictionary with its seed records.
    pub fn dictionary(&self, name: &str) -> Option<views::Dictionary> {
        self.typed(Section::Dictionaries, name)
    }

    pub fn role_list(&self) -> Vec<views::Named> {
        self.all_typed(Section::Roles)
    }

    pub fn security_policy_list(&self) -> Vec<views::Named> {
        self.all_typed(Section::SecurityPolicies)
    }

    pub fn region_list(&self) -> Vec<views::Region> {
        self.all_typed(Section::Regions)
    }

    pub fn webhook_list(&self) -> Vec<views::Webhook> {
        self.all_typed(Section::Webhooks)
    }

    /// The names of a section's objects, in order.
    pub fn names(&self, section: Section) -> Vec<String> {
        match section.data_kind().and_then(|kind| self.data_types(kind)) {
            Some(types) => types.iter().map(|d| d.name.clone()).collect(),
            None => self.values(section).iter().map(|o| name_of(o).to_string()).collect(),
        }
    }

    /// An object as a designer file holds it (what `upsert_in` takes back), by name.
    pub fn object(&self, section: Section, name: &str) -> Option<Value> {
        match section.data_kind().and_then(|kind| self.data_types(kind)) {
            Some(types) => types.iter().find(|d| d.name == name).map(data_type_file),
            None => self.values(section).iter().find(|o| name_of(o) == name).cloned(),
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
            None => self.objects(kind).iter().map(|o| self.render(kind, o, version)).collect(),
        }
    }

    pub fn get(&self, kind: Kind, name: &str, version: i64) -> Option<Value> {
        match self.data_types(kind) {
            Some(types) => types.iter().find(|d| d.name == name).map(|d| d.formation(kind.default_relation(), version)),
            None => self.objects(kind).iter().find(|o| name_of(o) == name).map(|o| self.render(kind, o, version)),
        }
    }

    /// The encounter disposition's data type: the designer's, or Welkin's standard one.
    pub fn disposition(&self) -> DataType {
        self.encounter_disposition.clone().unwrap_or_else(default_disposition)
    }

    /// Adds an object, or replaces the one of the same name; the result must validate.
    /// The object is normalized first (defaults filled, unknown keys rejected); on any
    /// error the designer is left as it was. Error paths are those of [`Designer::validate`]
    /// (`cdts[2].fields[0].type`), with the object at the index it has or would have.
    pub fn upsert(&mut self, kind: Kind, body: Value) -> Result<String, Vec<DesignerError>> {
        self.upsert_in(Section::of(kind), body)
    }

    /// [`Designer::upsert`] for any section, roles, security policies, regions and
    /// webhooks included (which the formation endpoints do not serve).
    pub fn upsert_in(&mut self, section: Section, body: Value) -> Result<String, Vec<DesignerError>> {
        let name = name_of(&body).to_string();
        let mut errors = Vec::new();
        if let Some(kind) = section.data_kind() {
            let types = self.data_types_mut(kind).expect("data type kind");
            let index = types.iter().position(|d| d.name == name).unwrap_or(types.len());
            let path = format!("{}[{index}]", section.label());
            let normalized = shape::normalize(&body, &object_shapes::DATA_TYPE, &path, &mut errors);
            if !errors.is_empty() {
                return Err(errors);
            }
            let dt: DataType =
                serde_json::from_value(normalized).map_err(|e| vec![DesignerError::new(path, e.to_string())])?;
            let previous = match types.get_mut(index) {
                Some(existing) => Some(std::mem::replace(existing, dt)),
                None => {
                    types.push(dt);
                    None
                }
            };
            let errors = self.validate();
            if errors.is_empty() {
                return Ok(name);
            }
            let types = self.data_types_mut(kind).expect("data type kind");
            match previous {
                Some(previous) => types[index] = previous,
                None => {
                    types.pop();
                }
            }
            return Err(errors);
        }
        let list = self.values_mut(section);
        let index = list.iter().position(|o| name_of(o) == name).unwrap_or(list.len());
        let normalized =
            objects::normalize_object(section, &body, &format!("{}[{index}]", section.label()), &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let previous = match list.get_mut(index) {
            Some(existing) => Some(std::mem::replace(existing, normalized)),
            None => {
                list.push(normalized);
                None
            }
        };
        let errors = self.validate();
        if errors.is_empty() {
            return Ok(name);
        }
        let list = self.values_mut(section);
        match previous {
            Some(previous) => list[index] = previous,
            None => {
                list.pop();
            }
        }
        Err(errors)
    }

    /// Removes an object by name; false when there was none.
    pub fn remove(&mut self, kind: Kind, name: &str) -> bool {
        self.remove_in(Section::of(kind), name)
    }

    /// [`Designer::remove`] for any section.
    pub fn remove_in(&mut self, section: Section, name: &str) -> bool {
        match section.data_kind().and_then(|kind| self.data_types_mut(kind)) {
            Some(types) => {
                let before = types.len();
                types.retain(|d| d.name != name);
                before != types.len()
            }
            None => {
                let list = self.values_mut(section);
                let before = list.len();
                list.retain(|o| name_of(o) != name);
                before != list.len()
            }
        }
    }

    /// Every problem of the document: shapes, names, field types, options and references.
    /// Paths start at the document (`assessments[1].sections[0].fields[2].refCdtName`).
    pub fn validate(&self) -> Vec<DesignerError> {
        let mut errors = Vec::new();
        let mut data_type_names = std::collections::HashMap::new();
        for (kind, label) in [(Kind::Cdts, "cdts"), (Kind::Pdts, "pdts"), (Kind::DocumentTypes, "documentTypes")] {
            let types = self.data_types(kind).expect("data type kind");
            check_unique(types.iter().map(|d| d.name.as_str()), label, &mut errors);
            for (i, dt) in types.iter().enumerate() {
                validate_data_type(dt, &format!("{label}[{i}]"), self, &mut errors);
                // Records name their type by name alone, so the three kinds share names.
                if let Some(other) = data_type_names.get(dt.name.as_str()) {
                    if *other != label {
                        errors.push(DesignerError::new(
                            format!("{label}[{i}].name"),
                            format!("{:?} is already the name of one of the {other}", dt.name),
                        ));
                    }
                } else {
                    data_type_names.insert(dt.name.as_str(), label);
                }
            }
        }
        if let Some(dt) = &self.encounter_disposition {
            validate_data_type(dt, "encounterDisposition", self, &mut errors);
        }
        object_rules::validate(self, &mut errors);
        errors
    }

    /// The formation object of a JSON-valued object: normalized (so every recorded key is
    /// there), with what it takes from the rest of the designer, and the version it is
    /// read in where the formation carries one.
    fn render(&self, kind: Kind, o: &Value, version: i64) -> Value {
        let mut o = objects::normalize_object(Section::of(kind), o, "$", &mut Vec::new());
        if let Some(map) = o.as_object_mut() {
            match kind {
                Kind::Assessments => {
                    map.insert("version".into(), json!(version));
                    objects::render_assessment(map, &self.cdts);
                }
                Kind::Dictionaries => {
                    map.remove("records");
                }
                _ => {}
            }
        }
        o
    }
}

/// A data type as a designer file writes it: its fields without the unset (null) ones.
pub fn data_type_file(dt: &DataType) -> Value {
    fn strip(v: Value) -> Value {
        match v {
            Value::Object(map) => {
                Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
            other => other,
        }
    }
    strip(serde_json::to_value(dt).expect("a data type serializes"))
}

/// Reports the second and later uses of a name, at that object's `name`.
pub(crate) fn check_unique<'a>(names: impl Iterator<Item = &'a str>, label: &str, errors: &mut Vec<DesignerError>) {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in names.enumerate() {
        if !name.is_empty() && !seen.insert(name) {
            errors.push(DesignerError::new(format!("{label}[{i}].name"), format!("{name:?} is defined twice")));
        }
    }
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
                format!("unknown field type {:?}; must be one of {}", f.field_type, FIELD_TYPES.join(", ")),
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
        if let Some(pdt) = &f.profile_data_type {
            if !designer.pdts.iter().any(|d| &d.name == pdt) {
                errors.push(DesignerError::new(format!("{fpath}.profileDataType"), format!("no PDT named {pdt:?}")));
            }
        }
        for (k, option) in f.meta.options.iter().flatten().enumerate() {
            if let Some(cdt) = &option.ref_cdt_name {
                if !designer.cdts.iter().any(|d| &d.name == cdt) {
                    errors.push(DesignerError::new(
                        format!("{fpath}.meta.options[{k}].refCdtName"),
                        format!("no CDT named {cdt:?}"),
                    ));
                }
            }
        }
    }
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
