//! The designer objects other than data types: assessments, programs, encounter
//! templates, goal templates, dictionaries, roles, security policies, regions and
//! webhooks. Each has a [`Shape`] (keys, types, defaults; in `object_shapes.rs`), a
//! normalization here that fills the keys the formation endpoints return, a typed view for
//! code that needs the contents (`views.rs`), and rules (`object_rules.rs`) that check it
//! against the rest of the designer.
//!
//! The [`Designer`](super::Designer) keeps these objects as JSON values in their normalized form; the typed
//! views are read from them ([`Designer::assessment`](super::Designer::assessment), [`Designer::program`](super::Designer::program), …).

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::data_type::{stable_id, DataType};
use super::object_shapes::{
    sum, ASSESSMENT, DATA_TYPE, DICTIONARY, ENCOUNTER_TEMPLATE, GOAL_TEMPLATE, NAMED, PROGRAM, REGION, WEBHOOK,
};
use super::shape::{normalize, Shape};
use super::{DesignerError, Kind};

/// Every list of a designer document, with its folder name and its name in JSON paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    Cdts,
    Pdts,
    DocumentTypes,
    Assessments,
    Programs,
    EncounterTemplates,
    GoalTemplates,
    Dictionaries,
    Roles,
    SecurityPolicies,
    Regions,
    Webhooks,
}

impl Section {
    pub const ALL: [Section; 12] = [
        Section::Cdts,
        Section::Pdts,
        Section::DocumentTypes,
        Section::Assessments,
        Section::Programs,
        Section::EncounterTemplates,
        Section::GoalTemplates,
        Section::Dictionaries,
        Section::Roles,
        Section::SecurityPolicies,
        Section::Regions,
        Section::Webhooks,
    ];

    /// The sections held as JSON values (everything but the data types).
    pub const OBJECTS: [Section; 9] = [
        Section::Assessments,
        Section::Programs,
        Section::EncounterTemplates,
        Section::GoalTemplates,
        Section::Dictionaries,
        Section::Roles,
        Section::SecurityPolicies,
        Section::Regions,
        Section::Webhooks,
    ];

    /// The folder of a designer directory that holds this section's files.
    pub fn folder(self) -> &'static str {
        match self {
            Section::Cdts => "cdts",
            Section::Pdts => "pdts",
            Section::DocumentTypes => "document-types",
            Section::Assessments => "assessments",
            Section::Programs => "programs",
            Section::EncounterTemplates => "encounter-templates",
            Section::GoalTemplates => "goal-templates",
            Section::Dictionaries => "dictionaries",
            Section::Roles => "roles",
            Section::SecurityPolicies => "security-policies",
            Section::Regions => "regions",
            Section::Webhooks => "webhooks",
        }
    }

    /// The section's name in the JSON paths of errors (the `Designer` field, camelCase).
    pub fn label(self) -> &'static str {
        match self {
            Section::Cdts => "cdts",
            Section::Pdts => "pdts",
            Section::DocumentTypes => "documentTypes",
            Section::Assessments => "assessments",
            Section::Programs => "programs",
            Section::EncounterTemplates => "encounterTemplates",
            Section::GoalTemplates => "goalTemplates",
            Section::Dictionaries => "dictionaries",
            Section::Roles => "roles",
            Section::SecurityPolicies => "securityPolicies",
            Section::Regions => "regions",
            Section::Webhooks => "webhooks",
        }
    }

    pub fn from_folder(folder: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.folder() == folder)
    }

    pub fn of(kind: Kind) -> Section {
        match kind {
            Kind::Cdts => Section::Cdts,
            Kind::Pdts => Section::Pdts,
            Kind::DocumentTypes => Section::DocumentTypes,
            Kind::Assessments => Section::Assessments,
            Kind::Programs => Section::Programs,
            Kind::EncounterTemplates => Section::EncounterTemplates,
            Kind::GoalTemplates => Section::GoalTemplates,
            Kind::Dictionaries => Section::Dictionaries,
        }
    }

    /// The formation kind of a data type section (`None` for the JSON-valued ones).
    pub fn data_kind(self) -> Option<Kind> {
        match self {
            Section::Cdts => Some(Kind::Cdts),
            Section::Pdts => Some(Kind::Pdts),
            Section::DocumentTypes => Some(Kind::DocumentTypes),
            _ => None,
        }
    }

    pub fn is_data_type(self) -> bool {
        matches!(self, Section::Cdts | Section::Pdts | Section::DocumentTypes)
    }

    fn shape(self) -> &'static Shape {
        match self {
            Section::Cdts | Section::Pdts | Section::DocumentTypes => &DATA_TYPE,
            Section::Assessments => &ASSESSMENT,
            Section::Programs => &PROGRAM,
            Section::EncounterTemplates => &ENCOUNTER_TEMPLATE,
            Section::GoalTemplates => &GOAL_TEMPLATE,
            Section::Dictionaries => &DICTIONARY,
            Section::Roles | Section::SecurityPolicies => &NAMED,
            Section::Regions => &REGION,
            Section::Webhooks => &WEBHOOK,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Normalization

/// Checks one object of a section against its shape (errors under `path`) and returns it
/// with every key the formation endpoints return filled in.
pub(crate) fn normalize_object(section: Section, value: &Value, path: &str, errors: &mut Vec<DesignerError>) -> Value {
    let mut v = normalize(value, section.shape(), path, errors);
    let Some(o) = v.as_object_mut() else { return v };
    let name = o.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    // Every kind with a title defaults it to the name; goal templates have `goalName`.
    if !section.is_data_type() && section != Section::GoalTemplates && !o.contains_key("title") {
        o.insert("title".into(), json!(name));
    }
    match section {
        Section::Assessments => finish_assessment(o, &name),
        Section::EncounterTemplates => {
            o.entry("id").or_insert_with(|| json!(stable_id(&format!("encounter-template:{name}"))));
        }
        Section::Programs => finish_program(o),
        _ => {}
    }
    v
}

fn finish_assessment(o: &mut Map<String, Value>, name: &str) {
    o.entry("id").or_insert_with(|| json!(stable_id(&format!("assessment:{name}"))));
    if let Some(sections) = o.get_mut("sections").and_then(Value::as_array_mut) {
        for (i, section) in sections.iter_mut().enumerate() {
            let Some(s) = section.as_object_mut() else { continue };
            s.entry("name").or_insert_with(|| json!(format!("section-{}", i + 1)));
            s.entry("order").or_insert_with(|| json!(i));
            for (j, field) in s.get_mut("fields").and_then(Value::as_array_mut).into_iter().flatten().enumerate() {
                if let Some(f) = field.as_object_mut() {
                    f.entry("order").or_insert_with(|| json!(j));
                }
            }
        }
    }
    if let Some(scoring) = o.get_mut("scoring").and_then(Value::as_object_mut) {
        let formula = scoring.get("formula").cloned().unwrap_or_else(sum);
        for group in scoring.get_mut("groups").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(g) = group.as_object_mut() {
                let title = g.get("name").cloned().unwrap_or_default();
                g.entry("title").or_insert(title);
                g.entry("formula").or_insert_with(|| formula.clone());
            }
        }
    }
}

fn finish_program(o: &mut Map<String, Value>) {
    let Some(phases) = o.get_mut("phases").and_then(Value::as_array_mut) else { return };
    for phase in phases.iter_mut() {
        let Some(p) = phase.as_object_mut() else { continue };
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        p.entry("title").or_insert_with(|| json!(name));
        p.entry("type").or_insert_with(|| {
            json!(match name.as_str() {
                "start" => "START",
                "finish" => "FINISH",
                _ => "REGULAR",
            })
        });
    }
    if o.contains_key("nodes") {
        return;
    }
    let mut nodes = Vec::new();
    let phases = o["phases"].as_array().cloned().unwrap_or_default();
    for (i, p) in phases.iter().enumerate() {
        nodes.push(json!({
            "id": p["name"], "data": {"label": p["title"], "type": p["type"]}, "type": "graphNode",
            "position": {"x": 20 + 300 * i, "y": 20},
        }));
    }
    for p in &phases {
        let from = p["name"].as_str().unwrap_or_default();
        for to in p["navigateTo"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()) {
            nodes.push(json!({
                "id": format!("edge-{from}-{to}"), "type": "smoothstep", "source": from, "target": to,
                "animated": true, "sourceHandle": format!("HandleSrcRight_{from}"),
                "targetHandle": format!("HandleTargetLeft_{to}"), "arrowHeadType": "arrowclosed",
            }));
        }
    }
    o.insert("nodes".into(), Value::Array(nodes));
}

/// The typed view of a stored object, or None when it does not normalize cleanly.
pub(crate) fn typed<T: DeserializeOwned>(section: Section, value: &Value) -> Option<T> {
    let mut errors = Vec::new();
    let v = normalize_object(section, value, "$", &mut errors);
    if errors.is_empty() {
        serde_json::from_value(v).ok()
    } else {
        None
    }
}

/// Fills what the formation output of an assessment takes from the designer: each
/// question's `meta.type` and each scored field's `type` when the file left them empty,
/// and `_containsPHI` (whether any question stores a PHI field).
pub(crate) fn render_assessment(o: &mut Map<String, Value>, cdts: &[DataType]) {
    let field = |cdt: &Value, name: &Value| {
        let (cdt, name) = (cdt.as_str()?, name.as_str()?);
        cdts.iter().find(|c| c.name == cdt)?.field(name)
    };
    let mut phi = false;
    for section in o.get_mut("sections").and_then(Value::as_array_mut).into_iter().flatten() {
        for f in section.get_mut("fields").and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(cdt_field) = field(&f["refCdtName"], &f["refCdtFieldName"]) else { continue };
            phi |= cdt_field.phi;
            if f["meta"]["type"].as_str() == Some("") {
                f["meta"]["type"] = json!(cdt_field.field_type);
            }
        }
    }
    if let Some(groups) = o.get_mut("scoring").and_then(|s| s.get_mut("groups")).and_then(Value::as_array_mut) {
        for f in groups.iter_mut().flat_map(|g| g.get_mut("fields").and_then(Value::as_array_mut).into_iter().flatten())
        {
            if f["type"].as_str() == Some("") {
                if let Some(cdt_field) = field(&f["refCdtName"], &f["refCdtFieldName"]) {
                    f["type"] = json!(cdt_field.field_type);
                }
            }
        }
    }
    o.insert("_containsPHI".into(), json!(phi));
}
