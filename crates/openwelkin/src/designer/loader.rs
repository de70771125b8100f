//! Reading designer folders.
//!
//! A **tenant folder** holds one tenant's designer, one subfolder per kind:
//!
//! ```text
//! demo/
//!   encounter-disposition.yaml   optional: the encounter disposition data type
//!   cdts/                        custom data types
//!   pdts/                        profile data types
//!   document-types/              document types
//!   assessments/
//!   programs/
//!   encounter-templates/
//!   goal-templates/
//!   dictionaries/                may carry seed `records: [{values: {...}}]`
//!   roles/
//!   security-policies/
//!   regions/
//!   webhooks/
//! ```
//!
//! Every file in a kind folder is `*.yaml`, `*.yml` or `*.json` and holds one object or a
//! list of objects of that kind; files are read in name order. Every folder is optional.
//! Names starting with `.` and `*.md` files are skipped; any other file or folder is an
//! error. A **root folder** holds one tenant folder per tenant, named after the tenant.
//!
//! Errors name the file (relative to the folder given, with `/`) and the JSON path inside
//! it: `$` is the file's top value, `$[1]` its second object when it holds a list, and so
//! on (`cdts/vitals.yaml: $.fields[2].type: unknown field type "number"; ...`). Syntax
//! errors are reported at `$` with the line and column in the reason. Everything is
//! checked before anything is returned: all errors of all files come back at once.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::data_type::DataType;
use super::objects::Section;
use super::{shape, Designer, DesignerError};

const DISPOSITION_FILE: &str = "encounter-disposition";
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Tenant names the server reserves for its own routes.
const RESERVED_TENANTS: &[&str] = &["auth", "docs", "healthz", "readyz", "openapi.json", "_emulator", "admin"];

fn skipped(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".md")
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The entries of a folder, sorted by name, without the skipped ones.
fn entries(dir: &Path, shown: &str, errors: &mut Vec<DesignerError>) -> Vec<(String, std::path::PathBuf, bool)> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) => {
            let file = if shown.is_empty() { dir.display().to_string() } else { shown.to_string() };
            errors.push(DesignerError::new("$", format!("cannot read the folder: {e}")).in_file(&file));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for entry in read.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if skipped(&name) {
            continue;
        }
        let path = entry.path();
        let is_dir = path.is_dir();
        out.push((name, path, is_dir));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Parses a YAML or JSON file into JSON. YAML anchors, aliases and `<<` merge keys work.
pub fn parse_file(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let json = path.extension().and_then(|e| e.to_str()) == Some("json");
    if json {
        return serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"));
    }
    let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| format!("invalid YAML: {e}"))?;
    yaml.apply_merge().map_err(|e| format!("invalid YAML: {e}"))?;
    serde_json::to_value(yaml).map_err(|e| format!("YAML that has no JSON equivalent: {e}"))
}

/// Where each object of the document came from: `cdts[3]` → (file, `$[1]`).
#[derive(Default)]
struct Origins(HashMap<String, (String, String)>);

impl Origins {
    /// Moves a document error to the file and in-file path of the object it is about.
    fn locate(&self, mut e: DesignerError) -> DesignerError {
        // The head names the object: `cdts[3]` in `cdts[3].fields[0]` or `cdts[3]["a b"]`,
        // `encounterDisposition` in `encounterDisposition.fields[0]`.
        let dot = e.path.find('.').unwrap_or(e.path.len());
        let bracket = e.path.find(']').map_or(e.path.len(), |i| i + 1);
        let (head, rest) = e.path.split_at(dot.min(bracket));
        if let Some((file, prefix)) = self.0.get(head) {
            e.path = format!("{prefix}{rest}");
            e.file = file.clone();
        }
        e
    }
}

impl Designer {
    /// Reads one tenant's designer folder (layout in the module documentation). Error
    /// files are relative to `dir`.
    pub fn load_dir(dir: &Path) -> Result<Designer, Vec<DesignerError>> {
        load_tenant(dir, "")
    }

    /// Reads a root folder holding one tenant folder per tenant, in name order. Error files
    /// start with the tenant folder's name (`demo/cdts/vitals.yaml`).
    pub fn load_root(dir: &Path) -> Result<Vec<(String, Designer)>, Vec<DesignerError>> {
        if Designer::is_tenant_dir(dir) {
            let reason = "this is a tenant folder (it has kind folders); a root folder holds one folder per tenant";
            return Err(vec![DesignerError::new("$", reason).in_file(&dir.display().to_string())]);
        }
        let mut errors = Vec::new();
        let mut tenants = Vec::new();
        for (name, path, is_dir) in entries(dir, "", &mut errors) {
            if !is_dir {
                errors.push(DesignerError::new("$", "a root designer folder holds only tenant folders").in_file(&name));
                continue;
            }
            let valid = name.len() <= 63 && shape::is_machine_name(&name) && !RESERVED_TENANTS.contains(&name.as_str());
            if !valid {
                errors.push(
                    DesignerError::new(
                        "$",
                        format!(
                            "tenant name {name:?} must be 1-63 letters, digits, '-' or '_', and not one of {}",
                            RESERVED_TENANTS.join(", ")
                        ),
                    )
                    .in_file(&name),
                );
                continue;
            }
            match load_tenant(&path, &name) {
                Ok(designer) => tenants.push((name, designer)),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(tenants)
        } else {
            Err(errors)
        }
    }

    /// Whether `dir` looks like a tenant folder: it has a kind subfolder or an
    /// encounter disposition file.
    pub fn is_tenant_dir(dir: &Path) -> bool {
        Section::ALL.iter().any(|s| dir.join(s.folder()).is_dir())
            || EXTENSIONS.iter().any(|ext| dir.join(format!("{DISPOSITION_FILE}.{ext}")).is_file())
    }
}

fn load_tenant(dir: &Path, prefix: &str) -> Result<Designer, Vec<DesignerError>> {
    let mut errors = Vec::new();
    let mut designer = Designer::default();
    let mut origins = Origins::default();
    let mut disposition_file: Option<String> = None;
    let folders: Vec<&str> = Section::ALL.iter().map(|s| s.folder()).collect();
    for (name, path, is_dir) in entries(dir, prefix, &mut errors) {
        let shown = join(prefix, &name);
        if is_dir {
            match Section::from_folder(&name) {
                Some(section) => load_section(&mut designer, &mut origins, section, &path, &shown, &mut errors),
                None => errors.push(
                    DesignerError::new("$", format!("unknown folder; expected {}", folders.join(", "))).in_file(&shown),
                ),
            }
            continue;
        }
        let stem_ext = name.rsplit_once('.');
        let is_disposition = stem_ext.is_some_and(|(stem, ext)| stem == DISPOSITION_FILE && EXTENSIONS.contains(&ext));
        if !is_disposition {
            errors.push(
                DesignerError::new(
                    "$",
                    format!("unknown file; a tenant folder holds the kind folders and {DISPOSITION_FILE}.yaml"),
                )
                .in_file(&shown),
            );
            continue;
        }
        if let Some(first) = &disposition_file {
            errors.push(
                DesignerError::new("$", format!("the encounter disposition is already in {first}")).in_file(&shown),
            );
            continue;
        }
        disposition_file = Some(shown.clone());
        match parse_file(&path) {
            Err(reason) => errors.push(DesignerError::new("$", reason).in_file(&shown)),
            Ok(value) => {
                if let Some(dt) = read_data_type(&value, "$", &shown, &mut errors) {
                    designer.encounter_disposition = Some(dt);
                    origins.0.insert("encounterDisposition".into(), (shown.clone(), "$".into()));
                }
            }
        }
    }
    errors.extend(designer.validate().into_iter().map(|e| origins.locate(e)));
    if !errors.is_empty() {
        return Err(errors);
    }
    // Store every object in its normalized form, as `upsert` does.
    for section in Section::OBJECTS {
        let label = section.label();
        for (i, o) in designer.values_mut(section).iter_mut().enumerate() {
            *o = super::objects::normalize_object(section, o, &format!("{label}[{i}]"), &mut Vec::new());
        }
    }
    Ok(designer)
}

fn load_section(
    designer: &mut Designer,
    origins: &mut Origins,
    section: Section,
    dir: &Path,
    shown_dir: &str,
    errors: &mut Vec<DesignerError>,
) {
    for (name, path, is_dir) in entries(dir, shown_dir, errors) {
        let shown = format!("{shown_dir}/{name}");
        if is_dir {
            errors.push(DesignerError::new("$", "unexpected folder; kind folders hold files only").in_file(&shown));
            continue;
        }
        let ext = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or_default();
        if !EXTENSIONS.contains(&ext) {
            errors.push(DesignerError::new("$", "not a .yaml, .yml or .json file").in_file(&shown));
            continue;
        }
        let value = match parse_file(&path) {
            Ok(value) => value,
            Err(reason) => {
                errors.push(DesignerError::new("$", reason).in_file(&shown));
                continue;
            }
        };
        let items: Vec<(String, Value)> = match value {
            Value::Null => Vec::new(),
            Value::Array(items) => items.into_iter().enumerate().map(|(i, v)| (format!("$[{i}]"), v)).collect(),
            Value::Object(_) => vec![("$".to_string(), value)],
            _ => {
                errors.push(DesignerError::new("$", "must be an object or a list of objects").in_file(&shown));
                continue;
            }
        };
        for (at, item) in items {
            let label = section.label();
            if section.is_data_type() {
                let Some(dt) = read_data_type(&item, &at, &shown, errors) else { continue };
                let list = match section {
                    Section::Cdts => &mut designer.cdts,
                    Section::Pdts => &mut designer.pdts,
                    _ => &mut designer.document_types,
                };
                origins.0.insert(format!("{label}[{}]", list.len()), (shown.clone(), at));
                list.push(dt);
            } else {
                // Objects are checked (shape and references) by `Designer::validate`.
                let list = designer.values_mut(section);
                origins.0.insert(format!("{label}[{}]", list.len()), (shown.clone(), at));
                list.push(item);
            }
        }
    }
}

/// A data type from a file: its shape errors are reported here (under `at`); the type is
/// still returned when it can be read, so references to it do not fail as well.
fn read_data_type(value: &Value, at: &str, file: &str, errors: &mut Vec<DesignerError>) -> Option<DataType> {
    let mut found = Vec::new();
    let normalized = shape::normalize(value, &super::object_shapes::DATA_TYPE, at, &mut found);
    errors.extend(found.into_iter().map(|e| e.in_file(file)));
    serde_json::from_value(normalized).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::designer::Kind;

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn lines(errors: &[DesignerError]) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    const CDT: &str =
        "name: cdt-a\nfields:\n  - {name: q, type: select, meta: {options: [{label: Yes, value: 'Yes'}]}}\n";

    #[test]
    fn loads_yaml_and_json_files_with_one_object_or_a_list() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cdts/a.yaml", CDT);
        write(dir.path(), "cdts/b.json", r#"[{"name": "cdt-b", "fields": []}, {"name": "cdt-c", "fields": []}]"#);
        write(dir.path(), "roles/roles.yml", "- name: nurse\n- {name: coach, title: Coach}\n");
        write(dir.path(), "encounter-disposition.yaml", "name: __encounter_disposition__\nfields: []\n");
        write(dir.path(), ".hidden", "ignored");
        write(dir.path(), "README.md", "ignored");
        let d = Designer::load_dir(dir.path()).unwrap();
        assert_eq!(d.cdts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["cdt-a", "cdt-b", "cdt-c"]);
        assert_eq!(
            d.roles,
            [
                serde_json::json!({"name": "nurse", "title": "nurse"}),
                serde_json::json!({"name": "coach", "title": "Coach"})
            ]
        );
        assert!(d.encounter_disposition.is_some());
        assert!(d.get(Kind::Cdts, "cdt-a", 1).is_some());
    }

    #[test]
    fn errors_name_the_file_and_the_path_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cdts/a.yaml", CDT);
        write(
            dir.path(),
            "cdts/b.yaml",
            "- name: cdt-b\n  fields: []\n- name: cdt-c\n  fields: [{name: x, type: blob}]\n  colour: red\n",
        );
        write(dir.path(), "encounter-templates/e.yaml", "name: etmp-a\ntitle: A\nassessmentNames: [asm-missing]\n");
        write(dir.path(), "programs/broken.yaml", "name: [unclosed\n");
        write(dir.path(), "cdts/notes.txt", "");
        write(dir.path(), "widgets/w.yaml", "name: w\n");
        write(dir.path(), "extra.yaml", "{}");
        let errors = lines(&Designer::load_dir(dir.path()).unwrap_err());
        let has = |line: &str| errors.iter().any(|e| e.starts_with(line));
        assert!(has("cdts/b.yaml: $[1].colour: unknown key"), "{errors:#?}");
        assert!(has("cdts/b.yaml: $[1].fields[0].type: unknown field type \"blob\""), "{errors:#?}");
        assert!(
            has("encounter-templates/e.yaml: $.assessmentNames[0]: no assessment named \"asm-missing\""),
            "{errors:#?}"
        );
        assert!(has("programs/broken.yaml: $: invalid YAML"), "{errors:#?}");
        assert!(has("cdts/notes.txt: $: not a .yaml, .yml or .json file"), "{errors:#?}");
        assert!(has("widgets: $: unknown folder"), "{errors:#?}");
        assert!(has("extra.yaml: $: unknown file"), "{errors:#?}");
        assert_eq!(errors.len(), 7, "{errors:#?}");
    }

    #[test]
    fn duplicates_across_files_point_at_the_second() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cdts/a.yaml", CDT);
        write(dir.path(), "cdts/b.yaml", CDT);
        let errors = lines(&Designer::load_dir(dir.path()).unwrap_err());
        assert_eq!(errors, ["cdts/b.yaml: $.name: \"cdt-a\" is defined twice"]);
    }

    #[test]
    fn yaml_anchors_and_merge_keys_work() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "cdts/a.yaml",
            "name: cdt-a\nfields:\n  - &yes-no {name: a, type: select, meta: {options: [{label: Yes, value: 'Yes'}, {label: No, value: 'No'}]}}\n  - {<<: *yes-no, name: b}\n",
        );
        let d = Designer::load_dir(dir.path()).unwrap();
        assert_eq!(d.cdts[0].fields[1].name, "b");
        assert_eq!(d.cdts[0].fields[1].meta.options.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn a_root_holds_tenant_folders() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "t1/cdts/a.yaml", CDT);
        write(dir.path(), "t2/roles/r.yaml", "name: nurse\n");
        write(dir.path(), "README.md", "ignored");
        let tenants = Designer::load_root(dir.path()).unwrap();
        assert_eq!(tenants.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["t1", "t2"]);
        assert!(Designer::is_tenant_dir(&dir.path().join("t1")));
        assert!(!Designer::is_tenant_dir(dir.path()));
        write(dir.path(), "t2/roles/bad.yaml", "name: bad name\n");
        write(dir.path(), "admin/roles/r.yaml", "name: nurse\n");
        let errors = lines(&Designer::load_root(dir.path()).unwrap_err());
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].starts_with("admin: $: tenant name \"admin\""), "{errors:#?}");
        assert_eq!(errors[1], "t2/roles/bad.yaml: $.name: must be letters, digits, '-' or '_'");
        let errors = lines(&Designer::load_root(&dir.path().join("t1")).unwrap_err());
        assert!(errors[0].contains("this is a tenant folder"), "{errors:#?}");
    }
}
