//! Data types (CDTs, PDTs, document types, the encounter disposition): their designer
//! definition and the formation object Welkin returns for them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `MULTI_RECORD` (any number of records per patient) or `SINGLE_RECORD` (at most one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Cardinality {
    #[default]
    MultiRecord,
    SingleRecord,
}

/// A data type as written in the designer folder. Only `name` and the fields' `name` and
/// `type` are required; everything else has Welkin's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataType {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default = "yes")]
    pub readable: bool,
    #[serde(default = "yes")]
    pub updatable: bool,
    #[serde(default, rename = "type")]
    pub cardinality: Cardinality,
    /// `COMMON`, `DOCUMENT_TYPE`, `ENCOUNTER_DISPOSITION`, `ASSESSMENT`, `PROFILE`; filled from
    /// the folder the file is in when omitted.
    #[serde(default)]
    pub relation: Option<String>,
    pub fields: Vec<Field>,
}

fn yes() -> bool {
    true
}

/// Field types the record validator understands (the UI types Welkin reports).
pub const FIELD_TYPES: &[&str] =
    &["text", "textarea", "select", "integer", "decimal", "date", "datetime", "phone", "email", "checkbox"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default)]
    pub formula: Option<String>,
    /// A dictionary whose record values the field takes.
    #[serde(default)]
    pub dictionary: Option<String>,
    #[serde(default)]
    pub profile_data_type: Option<String>,
    #[serde(default = "yes")]
    pub editable: bool,
    #[serde(default)]
    pub searchable: bool,
    #[serde(default)]
    pub bulk_edit: bool,
    #[serde(default)]
    pub phi: bool,
    #[serde(default)]
    pub disable: bool,
    #[serde(default)]
    pub meta: FieldMeta,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FieldMeta {
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<FieldOption>>,
    /// A select that takes a list of values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple: Option<bool>,
    /// Bounds of an integer or decimal field (Welkin writes them as strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldOption {
    pub label: String,
    pub value: Value,
    #[serde(default)]
    pub ref_cdt_name: Option<String>,
}

/// The system fields every record's `jsonBody` carries, in the order Welkin lists them.
pub const SYSTEM_FIELDS: &[(&str, &str)] = &[
    ("id", "text"),
    ("created_at", "datetime"),
    ("created_by", "text"),
    ("created_by_name", "text"),
    ("updated_at", "datetime"),
    ("updated_by", "text"),
    ("updated_by_name", "text"),
    ("source_name", "text"),
    ("source_type", "text"),
    ("source_id", "text"),
    ("external_id", "text"),
    ("external_guid", "text"),
];

impl DataType {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A stable id for the type: the same name gives the same id in every version.
    pub fn id(&self, relation: &str) -> String {
        stable_id(&format!("{relation}:{}", self.name))
    }

    pub fn relation_or(&self, default: &str) -> String {
        self.relation.clone().unwrap_or_else(|| default.to_string())
    }

    /// The formation object, as `GET /formations/{version}/cdts/{name}` returns it.
    pub fn formation(&self, default_relation: &str, version: i64) -> Value {
        let relation = self.relation_or(default_relation);
        let mut fields: Vec<Value> = self.fields.iter().map(Field::formation).collect();
        for (name, kind) in SYSTEM_FIELDS {
            if self.field(name).is_none() {
                fields.push(system_field(name, kind));
            }
        }
        json!({
            "id": self.id(&relation),
            "name": self.name,
            "title": self.title,
            "label": self.label,
            "version": version,
            "internal": self.internal,
            "readable": self.readable,
            "updatable": self.updatable,
            "type": self.cardinality,
            "relation": relation,
            "fields": fields,
            "_containsPHI": self.fields.iter().any(|f| f.phi),
        })
    }
}

impl Field {
    fn display_and_value_type(&self) -> (Value, Value) {
        match self.field_type.as_str() {
            "select" => {
                let integers =
                    self.meta.options.as_ref().is_some_and(|o| !o.is_empty() && o.iter().all(|opt| opt.value.is_i64()));
                (json!("SELECT"), json!(if integers { "INTEGER" } else { "STRING" }))
            }
            "checkbox" => (json!("CHECKBOX"), Value::Null),
            _ => (Value::Null, Value::Null),
        }
    }

    pub fn formation(&self) -> Value {
        let (display, value) = self.display_and_value_type();
        let mut meta = serde_json::to_value(&self.meta).expect("meta serializes");
        if let (Some(m), true) = (meta.as_object_mut(), self.field_type == "select") {
            m.entry("multiple").or_insert(json!(false));
        }
        json!({
            "name": self.name,
            "type": self.field_type,
            "formula": self.formula,
            "dictionary": self.dictionary,
            "profileDataType": self.profile_data_type,
            "editable": self.editable,
            "searchable": self.searchable,
            "bulkEdit": self.bulk_edit,
            "phi": self.phi,
            "disable": self.disable,
            "injectedSource": false,
            "displayType": display,
            "valueType": value,
            "meta": meta,
        })
    }
}

fn system_field(name: &str, kind: &str) -> Value {
    let mut m = Map::new();
    m.insert("required".into(), json!(false));
    // Clients may set a record's external keys; the other system fields are the server's.
    let editable = matches!(name, "external_id" | "external_guid");
    json!({
        "name": name, "type": kind, "formula": null, "dictionary": null, "profileDataType": null,
        "editable": editable, "searchable": false, "bulkEdit": false, "phi": false, "disable": false,
        "injectedSource": false, "displayType": null, "valueType": null, "meta": m,
    })
}

/// A UUID derived from a name, so designer objects keep their id across versions.
pub fn stable_id(key: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formation_has_the_recorded_shape_and_system_fields() {
        let dt: DataType = serde_json::from_value(json!({
            "name": "allergies",
            "fields": [{"name": "allergy", "type": "text"},
                       {"name": "severity", "type": "select", "meta": {"options": [{"label": "Mild", "value": "Mild"}]}}]
        }))
        .unwrap();
        let f = dt.formation("COMMON", 75);
        assert_eq!(f["type"], "MULTI_RECORD");
        assert_eq!(f["version"], 75);
        assert_eq!(f["relation"], "COMMON");
        assert_eq!(f["_containsPHI"], false);
        let names: Vec<&str> = f["fields"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
        assert_eq!(&names[..3], ["allergy", "severity", "id"]);
        assert_eq!(names.len(), 2 + SYSTEM_FIELDS.len());
        assert_eq!(f["fields"][1]["displayType"], "SELECT");
        assert_eq!(f["fields"][1]["valueType"], "STRING");
        assert_eq!(f["fields"][1]["meta"]["options"][0], json!({"label": "Mild", "value": "Mild", "refCdtName": null}));
        assert_eq!(f["fields"][1]["meta"]["multiple"], false);
        assert_eq!(f["id"], dt.formation("COMMON", 76)["id"], "ids are stable across versions");
    }
}
