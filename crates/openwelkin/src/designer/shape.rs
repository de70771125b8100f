//! A small structural schema for designer objects. A [`Shape`] says which keys an object
//! may have, which are required, what type each value has and what an absent key
//! defaults to. [`normalize`] checks a value against a shape, reports *every* problem
//! with its JSON path, and returns the value with the defaults filled in (best effort
//! when there were problems: wrong values are replaced by their default or dropped).

use serde_json::{Map, Value};

use super::DesignerError;

/// What a value must look like.
pub(crate) enum Shape {
    /// Anything, kept as given.
    Any,
    /// A string, possibly empty.
    Str,
    /// A non-empty string.
    Text,
    /// A machine name: letters, digits, `-` or `_`.
    Name,
    Bool,
    Int,
    Num,
    /// A string, number or boolean.
    Scalar,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// `null`, or the inner shape.
    Nullable(&'static Shape),
    List(&'static Shape),
    /// An object with exactly these keys (unknown keys are errors).
    Obj(&'static [Key]),
    /// An object with any keys, each value of the inner shape.
    Map(&'static Shape),
}

/// One key of an object shape.
pub(crate) struct Key {
    pub name: &'static str,
    pub shape: Shape,
    pub default: Def,
}

/// What happens when a key is absent (or `null` where null is not allowed).
pub(crate) enum Def {
    /// The key must be given.
    Required,
    /// Left absent; code or serde fills it later.
    Omit,
    /// Accepted and removed: read-only keys of the formation output (`version`,
    /// `_containsPHI`), so a formation read can be written back.
    Drop,
    /// Filled with this value.
    Value(fn() -> Value),
}

pub(crate) const fn req(name: &'static str, shape: Shape) -> Key {
    Key { name, shape, default: Def::Required }
}

pub(crate) const fn opt(name: &'static str, shape: Shape, default: fn() -> Value) -> Key {
    Key { name, shape, default: Def::Value(default) }
}

pub(crate) const fn omit(name: &'static str, shape: Shape) -> Key {
    Key { name, shape, default: Def::Omit }
}

pub(crate) const fn drop(name: &'static str) -> Key {
    Key { name, shape: Shape::Any, default: Def::Drop }
}

pub(crate) fn null() -> Value {
    Value::Null
}
pub(crate) fn empty_str() -> Value {
    Value::String(String::new())
}
pub(crate) fn empty_list() -> Value {
    Value::Array(Vec::new())
}
pub(crate) fn no() -> Value {
    Value::Bool(false)
}
pub(crate) fn yes() -> Value {
    Value::Bool(true)
}

/// Letters, digits, `-` and `_`, at least one.
pub fn is_machine_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) const NAME_REASON: &str = "must be letters, digits, '-' or '_'";

/// `path.key`, or `path["key"]` when the key is not a plain word.
pub(crate) fn child(path: &str, key: &str) -> String {
    if is_machine_name(key) {
        format!("{path}.{key}")
    } else {
        format!("{path}[{key:?}]")
    }
}

fn err(errors: &mut Vec<DesignerError>, path: &str, reason: impl Into<String>) -> Value {
    errors.push(DesignerError::new(path, reason));
    Value::Null
}

fn allows_null(shape: &Shape) -> bool {
    matches!(shape, Shape::Any | Shape::Nullable(_))
}

/// Checks `value` against `shape`; every problem goes to `errors` with a path under `path`.
pub(crate) fn normalize(value: &Value, shape: &Shape, path: &str, errors: &mut Vec<DesignerError>) -> Value {
    match shape {
        Shape::Any => value.clone(),
        Shape::Str => match value {
            Value::String(_) => value.clone(),
            _ => err(errors, path, "must be a string"),
        },
        Shape::Text => match value.as_str() {
            Some(s) if !s.trim().is_empty() => value.clone(),
            Some(_) => err(errors, path, "must not be empty"),
            None => err(errors, path, "must be a string"),
        },
        Shape::Name => match value.as_str() {
            Some(s) if is_machine_name(s) => value.clone(),
            Some(_) => err(errors, path, NAME_REASON),
            None => err(errors, path, "must be a string"),
        },
        Shape::Bool => match value {
            Value::Bool(_) => value.clone(),
            _ => err(errors, path, "must be true or false"),
        },
        Shape::Int => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
            _ => err(errors, path, "must be an integer"),
        },
        Shape::Num => match value {
            Value::Number(_) => value.clone(),
            _ => err(errors, path, "must be a number"),
        },
        Shape::Scalar => match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => value.clone(),
            _ => err(errors, path, "must be a string, number or boolean"),
        },
        Shape::OneOf(options) => match value.as_str() {
            Some(s) if options.contains(&s) => value.clone(),
            _ => err(errors, path, format!("must be one of {}", options.join(", "))),
        },
        Shape::Nullable(inner) => match value {
            Value::Null => Value::Null,
            _ => normalize(value, inner, path, errors),
        },
        Shape::List(inner) => match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| normalize(item, inner, &format!("{path}[{i}]"), errors))
                    .collect(),
            ),
            _ => err(errors, path, "must be a list"),
        },
        Shape::Map(inner) => match value {
            Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| (k.clone(), normalize(v, inner, &child(path, k), errors))).collect(),
            ),
            _ => err(errors, path, "must be an object"),
        },
        Shape::Obj(keys) => {
            let Value::Object(map) = value else {
                return err(errors, path, "must be an object");
            };
            for k in map.keys() {
                if !keys.iter().any(|key| key.name == k) {
                    let known: Vec<&str> =
                        keys.iter().filter(|key| !matches!(key.default, Def::Drop)).map(|key| key.name).collect();
                    errors.push(DesignerError::new(
                        child(path, k),
                        format!("unknown key {k:?}; expected one of {}", known.join(", ")),
                    ));
                }
            }
            let mut out = Map::new();
            for key in keys.iter() {
                let given = map.get(key.name).filter(|v| !v.is_null() || allows_null(&key.shape));
                match (given, &key.default) {
                    (_, Def::Drop) => {}
                    (Some(v), default) => {
                        let before = errors.len();
                        let v = normalize(v, &key.shape, &child(path, key.name), errors);
                        if errors.len() == before {
                            out.insert(key.name.to_string(), v);
                        } else if let Def::Value(f) = default {
                            // Best effort: a wrong scalar gives way to its default, a list or
                            // object keeps what could be read of it.
                            let keep =
                                matches!(key.shape, Shape::List(_) | Shape::Obj(_) | Shape::Map(_)) && !v.is_null();
                            out.insert(key.name.to_string(), if keep { v } else { f() });
                        } else if !v.is_null() {
                            out.insert(key.name.to_string(), v);
                        }
                    }
                    (None, Def::Required) => {
                        errors.push(DesignerError::new(child(path, key.name), "is required"));
                    }
                    (None, Def::Omit) => {}
                    (None, Def::Value(f)) => {
                        out.insert(key.name.to_string(), f());
                    }
                }
            }
            Value::Object(out)
        }
    }
}

/// The JSON Schema (OpenAPI 3.1) of what `normalize` accepts, so that the API document
/// states exactly the rules the designer enforces. An optional key also takes `null`
/// (`normalize` reads it as absent); read-only keys (`Def::Drop`) are listed as accepted.
pub(crate) fn json_schema(shape: &Shape) -> Value {
    use serde_json::json;
    match shape {
        Shape::Any => any(),
        Shape::Str => json!({"type": "string"}),
        Shape::Text => json!({"type": "string", "minLength": 1, "pattern": "\\S"}),
        Shape::Name => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
        Shape::Bool => json!({"type": "boolean"}),
        Shape::Int => json!({"type": "integer"}),
        Shape::Num => json!({"type": "number"}),
        Shape::Scalar => json!({"type": ["string", "number", "boolean"]}),
        Shape::OneOf(options) => json!({"type": "string", "enum": options}),
        Shape::Nullable(inner) => nullable(json_schema(inner)),
        Shape::List(inner) => json!({"type": "array", "items": json_schema(inner)}),
        Shape::Map(Shape::Any) => json!({"type": "object", "additionalProperties": true}),
        Shape::Map(inner) => json!({"type": "object", "additionalProperties": json_schema(inner)}),
        Shape::Obj(keys) => {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for key in keys.iter() {
                let schema = match key.default {
                    Def::Required => {
                        required.push(Value::String(key.name.to_string()));
                        json_schema(&key.shape)
                    }
                    Def::Drop => {
                        let mut schema = any();
                        schema["description"] = json!("read-only: accepted and ignored");
                        schema
                    }
                    Def::Omit | Def::Value(_) => nullable(json_schema(&key.shape)),
                };
                properties.insert(key.name.to_string(), schema);
            }
            let mut schema = json!({"type": "object", "properties": properties, "additionalProperties": false});
            if !required.is_empty() {
                schema["required"] = Value::Array(required);
            }
            schema
        }
    }
}

/// Any JSON value, spelled out: the OpenAPI tooling in use reads `{}` as no schema.
fn any() -> Value {
    serde_json::json!({"type": ["string", "number", "boolean", "array", "object", "null"]})
}

/// `schema`, or `null`.
fn nullable(mut schema: Value) -> Value {
    match schema.get("type").cloned() {
        Some(Value::String(t)) => schema["type"] = serde_json::json!([t, "null"]),
        Some(Value::Array(mut types)) => {
            if !types.contains(&Value::from("null")) {
                types.push(Value::from("null"));
            }
            schema["type"] = Value::Array(types);
        }
        _ => {}
    }
    if let Some(Value::Array(options)) = schema.get_mut("enum") {
        options.push(Value::Null);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ITEM: Shape = Shape::Obj(&[req("name", Shape::Name), opt("count", Shape::Int, || json!(1))]);
    const DOC: Shape = Shape::Obj(&[
        req("name", Shape::Name),
        opt("title", Shape::Str, empty_str),
        opt("items", Shape::List(&ITEM), empty_list),
        omit("note", Shape::Nullable(&Shape::Text)),
        drop("version"),
    ]);

    fn run(v: Value) -> (Value, Vec<String>) {
        let mut errors = Vec::new();
        let out = normalize(&v, &DOC, "$", &mut errors);
        (out, errors.iter().map(|e| format!("{}: {}", e.path, e.reason)).collect())
    }

    #[test]
    fn fills_defaults_and_drops_read_only_keys() {
        let (out, errors) = run(json!({"name": "a", "items": [{"name": "x"}], "version": 7}));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out, json!({"name": "a", "title": "", "items": [{"name": "x", "count": 1}]}));
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let (_, errors) = run(json!({"title": 3, "items": [{"name": "bad name"}, {"count": "x"}], "colour": 1}));
        assert_eq!(
            errors,
            [
                "$.colour: unknown key \"colour\"; expected one of name, title, items, note",
                "$.name: is required",
                "$.title: must be a string",
                "$.items[0].name: must be letters, digits, '-' or '_'",
                "$.items[1].name: is required",
                "$.items[1].count: must be an integer",
            ]
        );
    }

    #[test]
    fn null_means_default_unless_the_shape_allows_null() {
        let (out, errors) = run(json!({"name": "a", "items": null, "note": null}));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out["items"], json!([]));
        assert_eq!(out["note"], Value::Null);
        let (_, errors) = run(json!({"name": null}));
        assert_eq!(errors, ["$.name: is required"]);
    }

    #[test]
    fn keys_that_are_not_words_are_quoted() {
        assert_eq!(child("$", "a b"), "$[\"a b\"]");
        assert_eq!(child("$", "_containsPHI"), "$._containsPHI");
    }
}
