//! The rules that check the designer objects of `objects.rs` against each other and
//! against the rest of the designer: shapes, unique names, references between sections
//! (an assessment's data types and programs, a program's phases, templates' roles, …) and
//! the formats of colours, URLs and header names. `Designer::validate` runs them.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::data_type::FIELD_TYPES;
use super::object_shapes::is_webhook_event;
use super::objects::*;
use super::views::*;
use super::{Designer, DesignerError};

struct Views {
    assessments: Vec<Option<Assessment>>,
    programs: Vec<Option<Program>>,
    encounter_templates: Vec<Option<EncounterTemplate>>,
    goal_templates: Vec<Option<GoalTemplate>>,
    dictionaries: Vec<Option<Dictionary>>,
    regions: Vec<Option<Region>>,
    webhooks: Vec<Option<Webhook>>,
}

fn err(errors: &mut Vec<DesignerError>, path: impl Into<String>, reason: impl Into<String>) {
    errors.push(DesignerError::new(path, reason));
}

/// Checks every object of the JSON-valued sections: shape, unique names, and references.
pub(crate) fn validate(d: &Designer, errors: &mut Vec<DesignerError>) {
    let mut clean: HashMap<Section, Vec<Option<Value>>> = HashMap::new();
    for section in Section::OBJECTS {
        let label = section.label();
        let list = d.values(section);
        let mut views = Vec::with_capacity(list.len());
        for (i, o) in list.iter().enumerate() {
            let before = errors.len();
            let v = normalize_object(section, o, &format!("{label}[{i}]"), errors);
            views.push((errors.len() == before).then_some(v));
        }
        super::check_unique(list.iter().map(super::name_of), label, errors);
        clean.insert(section, views);
    }
    fn parse<T: DeserializeOwned>(clean: &HashMap<Section, Vec<Option<Value>>>, s: Section) -> Vec<Option<T>> {
        clean[&s].iter().map(|v| v.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok())).collect()
    }
    let views = Views {
        assessments: parse(&clean, Section::Assessments),
        programs: parse(&clean, Section::Programs),
        encounter_templates: parse(&clean, Section::EncounterTemplates),
        goal_templates: parse(&clean, Section::GoalTemplates),
        dictionaries: parse(&clean, Section::Dictionaries),
        regions: parse(&clean, Section::Regions),
        webhooks: parse(&clean, Section::Webhooks),
    };
    for (i, a) in views.assessments.iter().enumerate() {
        if let Some(a) = a {
            check_assessment(a, &format!("assessments[{i}]"), d, &views, errors);
        }
    }
    for (i, p) in views.programs.iter().enumerate() {
        if let Some(p) = p {
            check_program(p, &format!("programs[{i}]"), errors);
        }
    }
    let assessment_names: HashSet<&str> = d.assessments.iter().map(super::name_of).collect();
    for (i, t) in views.encounter_templates.iter().enumerate() {
        if let Some(t) = t {
            check_encounter_template(t, &format!("encounterTemplates[{i}]"), &assessment_names, errors);
        }
    }
    let roles: HashSet<&str> = d.roles.iter().map(super::name_of).collect();
    for (i, g) in views.goal_templates.iter().enumerate() {
        if let Some(g) = g {
            check_goal_template(g, &format!("goalTemplates[{i}]"), &roles, errors);
        }
    }
    for (i, dict) in views.dictionaries.iter().enumerate() {
        if let Some(dict) = dict {
            check_dictionary(dict, &format!("dictionaries[{i}]"), errors);
        }
    }
    for (i, r) in views.regions.iter().enumerate() {
        if let Some(r) = r {
            check_region(r, &format!("regions[{i}]"), errors);
        }
    }
    for (i, w) in views.webhooks.iter().enumerate() {
        if let Some(w) = w {
            check_webhook(w, &format!("webhooks[{i}]"), errors);
        }
    }
}

/// Reports the second and later uses of each name in `names` (given with their paths).
fn unique<'a>(items: impl Iterator<Item = (String, &'a str)>, what: &str, errors: &mut Vec<DesignerError>) {
    let mut seen = HashSet::new();
    for (path, name) in items {
        if !name.is_empty() && !seen.insert(name) {
            err(errors, path, format!("{what} {name:?} is used twice"));
        }
    }
}

/// The option values of a select, as text, for comparing with scoring answers.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_assessment(a: &Assessment, path: &str, d: &Designer, views: &Views, errors: &mut Vec<DesignerError>) {
    let cdt = |name: &str| d.cdts.iter().find(|c| c.name == name);
    unique(
        a.sections.iter().enumerate().map(|(i, s)| (format!("{path}.sections[{i}].name"), s.name.as_str())),
        "section name",
        errors,
    );
    let mut questions: HashMap<(&str, &str), &str> = HashMap::new();
    for (i, section) in a.sections.iter().enumerate() {
        for (j, f) in section.fields.iter().enumerate() {
            let fpath = format!("{path}.sections[{i}].fields[{j}]");
            if f.view_type == "readOnly" {
                if !f.ref_cdt_name.is_empty() || !f.ref_cdt_field_name.is_empty() {
                    err(errors, format!("{fpath}.refCdtName"), "a readOnly field references no CDT field");
                }
                if f.label.trim().is_empty() {
                    err(errors, format!("{fpath}.label"), "a readOnly field needs a label");
                }
                continue;
            }
            if f.ref_cdt_name.is_empty() {
                err(errors, format!("{fpath}.refCdtName"), "a question needs refCdtName");
            }
            if f.ref_cdt_field_name.is_empty() {
                err(errors, format!("{fpath}.refCdtFieldName"), "a question needs refCdtFieldName");
            }
            if f.ref_cdt_name.is_empty() || f.ref_cdt_field_name.is_empty() {
                continue;
            }
            if questions.insert((&f.ref_cdt_name, &f.ref_cdt_field_name), &f.meta.field_type).is_some() {
                err(
                    errors,
                    format!("{fpath}.refCdtFieldName"),
                    format!("{}.{} is asked twice in this assessment", f.ref_cdt_name, f.ref_cdt_field_name),
                );
            }
            match cdt(&f.ref_cdt_name) {
                None => err(errors, format!("{fpath}.refCdtName"), format!("no CDT named {:?}", f.ref_cdt_name)),
                Some(c) => match c.field(&f.ref_cdt_field_name) {
                    None => err(
                        errors,
                        format!("{fpath}.refCdtFieldName"),
                        format!("CDT {:?} has no field {:?}", c.name, f.ref_cdt_field_name),
                    ),
                    Some(field) if !f.meta.field_type.is_empty() && f.meta.field_type != field.field_type => err(
                        errors,
                        format!("{fpath}.meta.type"),
                        format!("is {:?} but {}.{} is {:?}", f.meta.field_type, c.name, field.name, field.field_type),
                    ),
                    Some(_) => {}
                },
            }
            if let Some(p) = &f.pre_populated_value {
                let ppath = format!("{fpath}.prePopulatedValue");
                match (p.kind.as_str(), &p.default_value) {
                    ("DEFAULT_VALUE", None | Some(Value::Null)) => {
                        err(errors, format!("{ppath}.defaultValue"), "DEFAULT_VALUE needs a defaultValue")
                    }
                    ("PREVIOUS_ASSESSMENT", Some(_)) => {
                        err(errors, format!("{ppath}.defaultValue"), "only DEFAULT_VALUE takes a defaultValue")
                    }
                    _ => {}
                }
            }
        }
    }
    unique(
        a.scoring.groups.iter().enumerate().map(|(i, g)| (format!("{path}.scoring.groups[{i}].name"), g.name.as_str())),
        "scoring group",
        errors,
    );
    for (i, g) in a.scoring.groups.iter().enumerate() {
        for (j, f) in g.fields.iter().enumerate() {
            let fpath = format!("{path}.scoring.groups[{i}].fields[{j}]");
            let key = (f.ref_cdt_name.as_str(), f.ref_cdt_field_name.as_str());
            if !questions.contains_key(&key) {
                err(
                    errors,
                    format!("{fpath}.refCdtFieldName"),
                    format!("{}.{} is not a question of this assessment", f.ref_cdt_name, f.ref_cdt_field_name),
                );
                continue;
            }
            let Some(field) = cdt(key.0).and_then(|c| c.field(key.1)) else { continue };
            if !f.field_type.is_empty() && f.field_type != field.field_type {
                err(
                    errors,
                    format!("{fpath}.type"),
                    format!("is {:?} but {}.{} is {:?}", f.field_type, key.0, key.1, field.field_type),
                );
            }
            let options: Option<Vec<String>> =
                field.meta.options.as_ref().map(|o| o.iter().map(|opt| scalar_text(&opt.value)).collect());
            let mut answers = HashSet::new();
            for (k, s) in f.scores.iter().enumerate() {
                let answer = scalar_text(&s.answer);
                let spath = format!("{fpath}.scores[{k}].answer");
                if let Some(options) = options.as_ref().filter(|o| !o.is_empty()) {
                    if !options.contains(&answer) {
                        err(errors, &spath, format!("{answer:?} is not an option of {}.{}", key.0, key.1));
                    }
                }
                if !answers.insert(answer.clone()) {
                    err(errors, &spath, format!("{answer:?} is scored twice"));
                }
            }
        }
    }
    for (i, ap) in a.programs.iter().enumerate() {
        let ppath = format!("{path}.programs[{i}]");
        let program = d.programs.iter().position(|p| super::name_of(p) == ap.program);
        match program {
            None => err(errors, format!("{ppath}.program"), format!("no program named {:?}", ap.program)),
            Some(idx) => {
                if let Some(program) = &views.programs[idx] {
                    for (j, phase) in ap.phases.iter().enumerate() {
                        if program.phase(phase).is_none() {
                            err(
                                errors,
                                format!("{ppath}.phases[{j}]"),
                                format!("program {:?} has no phase {phase:?}", program.name),
                            );
                        }
                    }
                }
            }
        }
    }
    if let Some(cs) = &a.condition_settings {
        for (i, element) in cs.elements.iter().enumerate() {
            for (j, c) in element["conditions"].as_array().into_iter().flatten().enumerate() {
                let (Some(cdt), Some(field)) = (c["refCdtName"].as_str(), c["refCdtFieldName"].as_str()) else {
                    continue;
                };
                if !cdt.is_empty() && !questions.contains_key(&(cdt, field)) {
                    err(
                        errors,
                        format!("{path}.conditionSettings.elements[{i}].conditions[{j}].refCdtFieldName"),
                        format!("{cdt}.{field} is not a question of this assessment"),
                    );
                }
            }
        }
    }
}

fn check_program(p: &Program, path: &str, errors: &mut Vec<DesignerError>) {
    if p.phases.is_empty() {
        err(errors, format!("{path}.phases"), "a program needs a START and a FINISH phase");
        return;
    }
    unique(
        p.phases.iter().enumerate().map(|(i, ph)| (format!("{path}.phases[{i}].name"), ph.name.as_str())),
        "phase name",
        errors,
    );
    let starts = p.phases.iter().filter(|ph| ph.phase_type == "START").count();
    if starts != 1 {
        err(errors, format!("{path}.phases"), format!("a program needs exactly one START phase, not {starts}"));
    }
    if !p.phases.iter().any(|ph| ph.phase_type == "FINISH") {
        err(errors, format!("{path}.phases"), "a program needs at least one FINISH phase");
    }
    for (i, ph) in p.phases.iter().enumerate() {
        let mut seen = HashSet::new();
        for (j, to) in ph.navigate_to.iter().enumerate() {
            let tpath = format!("{path}.phases[{i}].navigateTo[{j}].name");
            if to.name == ph.name {
                err(errors, &tpath, "a phase cannot navigate to itself");
            } else if p.phase(&to.name).is_none() {
                err(errors, &tpath, format!("no phase named {:?} in this program", to.name));
            } else if p.phase(&to.name).is_some_and(|t| t.phase_type == "START") {
                err(errors, &tpath, "no phase can navigate to the START phase");
            }
            if !seen.insert(&to.name) {
                err(errors, &tpath, format!("{:?} is listed twice", to.name));
            }
        }
    }
}

fn is_color(s: &str) -> bool {
    s.strip_prefix('#').is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_encounter_template(
    t: &EncounterTemplate,
    path: &str,
    assessments: &HashSet<&str>,
    errors: &mut Vec<DesignerError>,
) {
    if !is_color(&t.encounter_color) {
        err(errors, format!("{path}.encounterColor"), "must be a color like #e67b2d");
    }
    if t.default_duration <= 0 {
        err(errors, format!("{path}.defaultDuration"), "must be a positive number of minutes");
    }
    let mut seen = HashSet::new();
    for (i, name) in t.assessment_names.iter().enumerate() {
        let apath = format!("{path}.assessmentNames[{i}]");
        if !assessments.contains(name.as_str()) {
            err(errors, &apath, format!("no assessment named {name:?}"));
        }
        if !seen.insert(name) {
            err(errors, &apath, format!("{name:?} is listed twice"));
        }
    }
}

fn check_goal_template(g: &GoalTemplate, path: &str, roles: &HashSet<&str>, errors: &mut Vec<DesignerError>) {
    unique(
        g.task_templates.iter().enumerate().map(|(i, t)| (format!("{path}.taskTemplates[{i}].name"), t.name.as_str())),
        "task template",
        errors,
    );
    for (i, t) in g.task_templates.iter().enumerate() {
        let spath = format!("{path}.taskTemplates[{i}].subjectConfig");
        match (t.subject_config.subject_type.as_str(), &t.subject_config.role_name) {
            ("ROLE", None) => err(errors, format!("{spath}.roleName"), "a ROLE subject needs a roleName"),
            ("ROLE", Some(role)) if !roles.contains(role.as_str()) => {
                err(errors, format!("{spath}.roleName"), format!("no role named {role:?}"))
            }
            ("POINT_OF_CONTACT", Some(_)) => {
                err(errors, format!("{spath}.roleName"), "only a ROLE subject takes a roleName")
            }
            _ => {}
        }
    }
}

fn check_dictionary(dict: &Dictionary, path: &str, errors: &mut Vec<DesignerError>) {
    if dict.fields.is_empty() {
        err(errors, format!("{path}.fields"), "a dictionary needs at least one field");
    }
    unique(
        dict.fields.iter().enumerate().map(|(i, f)| (format!("{path}.fields[{i}].name"), f.name.as_str())),
        "field name",
        errors,
    );
    for (i, f) in dict.fields.iter().enumerate() {
        if !FIELD_TYPES.contains(&f.field_type.as_str()) {
            err(errors, format!("{path}.fields[{i}].type"), format!("must be one of {}", FIELD_TYPES.join(", ")));
        }
    }
    let mut seen = HashSet::new();
    for (i, r) in dict.records.iter().enumerate() {
        let rpath = format!("{path}.records[{i}].values");
        if r.values.is_empty() {
            err(errors, &rpath, "a record needs at least one value");
        }
        for key in r.values.keys() {
            if !dict.fields.iter().any(|f| &f.name == key) {
                err(
                    errors,
                    super::shape::child(&rpath, key),
                    format!("dictionary {:?} has no field {key:?}", dict.name),
                );
            }
        }
        if !seen.insert(Value::Object(r.values.clone()).to_string()) {
            err(errors, &rpath, "the same record is listed twice");
        }
    }
}

fn check_region(r: &Region, path: &str, errors: &mut Vec<DesignerError>) {
    if r.territories.is_empty() {
        err(errors, format!("{path}.territories"), "a region needs at least one territory");
    }
    unique(
        r.territories.iter().enumerate().map(|(i, t)| (format!("{path}.territories[{i}]"), t.as_str())),
        "territory",
        errors,
    );
}

fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_webhook(w: &Webhook, path: &str, errors: &mut Vec<DesignerError>) {
    if w.events.is_empty() {
        err(errors, format!("{path}.events"), "a webhook needs at least one event");
    }
    let mut seen = HashSet::new();
    for (i, e) in w.events.iter().enumerate() {
        let epath = format!("{path}.events[{i}]");
        if !is_webhook_event(e) {
            err(
                errors,
                &epath,
                format!(
                    "{e:?} is not an event subtype (<ENTITY>_<ACTION>, e.g. PATIENT_CREATED, ASSESSMENT_COMPLETED)"
                ),
            );
        }
        if !seen.insert(e) {
            err(errors, &epath, format!("{e:?} is listed twice"));
        }
    }
    if !is_http_url(&w.url) {
        err(errors, format!("{path}.url"), "must be an http:// or https:// URL");
    }
    for (i, h) in w.headers.iter().enumerate() {
        if !is_header_name(&h.name) {
            err(errors, format!("{path}.headers[{i}].name"), "must be an HTTP header name");
        }
    }
    unique(
        w.payload
            .predefined_fields
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("{path}.payload.predefinedFields[{i}]"), f.as_str())),
        "field",
        errors,
    );
}
