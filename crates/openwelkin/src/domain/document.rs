//! Documents: a patient's document summaries (records of Welkin's system data type
//! `_document_summary`, with a document `type` and the `files` uploaded to it) and the
//! rules for uploaded files (JPEG, PNG or PDF, judged by their content, not their name or
//! declared type).

use super::fields;
use super::FieldError;
use crate::designer::data_type::SYSTEM_FIELDS;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// The system data type document summaries are records of.
pub const SUMMARY_CDT: &str = "_document_summary";

/// `source_type` / `source_name` of a document-type record.
pub const SOURCE: &str = "DOCUMENT_SUMMARY";

/// Largest accepted file.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// The content types a file may have, from its first bytes; `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// One uploaded file as listed in a summary's `files` and answered by the upload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentFile {
    pub id: String,
    pub original_name: String,
    pub size: i64,
    pub content_type: String,
    pub storage_key: String,
}

/// The request body of a summary create or update (documentation only).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DocumentSummaryWrite {
    /// A document type of the current formation, e.g. `doc-type-others`.
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    pub external_id: Option<String>,
    pub external_guid: Option<String>,
    /// On update only: the files to keep (by `id`); the others are deleted. Files are
    /// added by uploading them.
    #[schema(value_type = Option<Vec<Object>>)]
    pub files: Option<Value>,
}

/// A fresh summary `jsonBody` (`files` null until something is uploaded).
pub fn blank_summary(id: &str, now: &str, actor_id: &str, actor_name: &str) -> Map<String, Value> {
    let mut body = Map::new();
    for (name, _) in SYSTEM_FIELDS {
        body.insert((*name).into(), Value::Null);
    }
    body.insert("type".into(), Value::Null);
    body.insert("files".into(), Value::Null);
    body.insert("id".into(), json!(id));
    for key in ["created_at", "updated_at"] {
        body.insert(key.into(), json!(now));
    }
    for key in ["created_by", "updated_by"] {
        body.insert(key.into(), json!(actor_id));
    }
    for key in ["created_by_name", "updated_by_name"] {
        body.insert(key.into(), json!(actor_name));
    }
    body
}

/// The files listed in a summary body.
pub fn files_of(body: &Map<String, Value>) -> Vec<DocumentFile> {
    body.get("files").and_then(|f| serde_json::from_value(f.clone()).ok()).unwrap_or_default()
}

/// Sets a summary's file list (`null` when empty, as Welkin shows a summary without files).
pub fn set_files(body: &mut Map<String, Value>, files: &[DocumentFile]) {
    let v = if files.is_empty() { Value::Null } else { json!(files) };
    body.insert("files".into(), v);
}

/// Applies a create or update body to a summary. `doc_types` are the document types of
/// the current formation. On update, `files` may list the files to keep (by id); the ids
/// of the files it drops are returned.
pub fn apply_summary(
    body: &mut Map<String, Value>,
    input: &Map<String, Value>,
    creating: bool,
    doc_types: &[String],
) -> Result<Vec<String>, FieldError> {
    let mut dropped = Vec::new();
    for (key, value) in input {
        let k = key.as_str();
        match k {
            "type" => {
                let t = value.as_str().map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
                    FieldError::new(k, "must be the name of a document type, e.g. \"doc-type-others\"")
                })?;
                if !doc_types.iter().any(|d| d == t) {
                    let known = doc_types.join(", ");
                    return Err(FieldError::new(k, format!("{t:?} is not a document type (known: {known})")));
                }
                body.insert(key.clone(), json!(t));
            }
            "external_id" => {
                body.insert(key.clone(), fields::opt_text(k, value)?.map(Value::String).unwrap_or(Value::Null));
            }
            "external_guid" => {
                body.insert(key.clone(), fields::opt_uuid(k, value)?.map(Value::String).unwrap_or(Value::Null));
            }
            "cdtName" if value.as_str() == Some(SUMMARY_CDT) => {}
            "files" if creating => {
                if !value.is_null() {
                    return Err(FieldError::new(k, "files are added by uploading them to …/files"));
                }
            }
            "files" => {
                let current = files_of(body);
                let keep = keep_ids(value)?;
                if let Some(unknown) = keep.iter().find(|id| !current.iter().any(|f| &f.id == *id)) {
                    return Err(FieldError::new(
                        k,
                        format!("{unknown:?} is not a file of this summary; files are added by uploading them"),
                    ));
                }
                let (kept, gone): (Vec<_>, Vec<_>) = current.into_iter().partition(|f| keep.contains(&f.id));
                dropped = gone.into_iter().map(|f| f.id).collect();
                set_files(body, &kept);
            }
            _ if SYSTEM_FIELDS.iter().any(|(name, _)| *name == k) => {
                // A body read back and sent again carries the system fields unchanged.
                if creating || body.get(k) != Some(value) {
                    return Err(FieldError::new(k, "is a system field and cannot be set"));
                }
            }
            _ => {
                return Err(FieldError::new(
                    k,
                    "is not a field of a document summary (type, files, external_id, external_guid)",
                ))
            }
        }
    }
    if creating && body.get("type").is_none_or(Value::is_null) {
        return Err(FieldError::new("type", "is required"));
    }
    Ok(dropped)
}

/// The ids a `files` update keeps: `null`, or a list of file objects (or ids).
fn keep_ids(value: &Value) -> Result<Vec<String>, FieldError> {
    let Some(list) = value.as_array() else {
        return if value.is_null() { Ok(vec![]) } else { Err(FieldError::new("files", "must be a list of files")) };
    };
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            f.get("id")
                .and_then(Value::as_str)
                .or_else(|| f.as_str())
                .map(String::from)
                .ok_or_else(|| FieldError::new(format!("files[{i}].id"), "is required"))
        })
        .collect()
}

/// The last path component of a client's file name, without control characters, at most
/// 255 characters.
pub fn clean_name(name: Option<&str>) -> String {
    let name = name.unwrap_or_default();
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "file".into()
    } else {
        clean.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<String> {
        vec!["doc-type-others".into(), "doc-type-docusign".into()]
    }

    fn file(id: &str) -> DocumentFile {
        DocumentFile {
            id: id.into(),
            original_name: format!("{id}.pdf"),
            size: 3,
            content_type: "application/pdf".into(),
            storage_key: format!("t/i/patients/p/documents/{id}"),
        }
    }

    #[test]
    fn content_decides_the_type() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        for other in [&b""[..], b"GIF89a", b"hello", b"PK\x03\x04", b"\x89PN", b"%PD"] {
            assert_eq!(sniff(other), None, "{other:?}");
        }
    }

    #[test]
    fn a_summary_needs_a_known_type() {
        let mut body = blank_summary("s1", "2022-10-25T18:22:10.266Z", "u", "API_CLIENT:X");
        let ok = json!({"type": "doc-type-others"});
        apply_summary(&mut body, ok.as_object().unwrap(), true, &types()).unwrap();
        assert_eq!(body["type"], "doc-type-others");
        assert_eq!(body["files"], Value::Null);
        for (input, field) in [
            (json!({}), "type"),
            (json!({"type": "doc-type-x"}), "type"),
            (json!({"type": 3}), "type"),
            (json!({"type": "doc-type-others", "files": []}), "files"),
            (json!({"type": "doc-type-others", "notes": "n"}), "notes"),
            (json!({"type": "doc-type-others", "created_at": "x"}), "created_at"),
            (json!({"type": "doc-type-others", "cdtName": "other"}), "cdtName"),
        ] {
            let mut b = blank_summary("s1", "t", "u", "n");
            assert_eq!(apply_summary(&mut b, input.as_object().unwrap(), true, &types()).unwrap_err().field, field);
        }
    }

    #[test]
    fn an_update_keeps_the_listed_files_and_reports_the_rest() {
        let mut body = blank_summary("s1", "t", "u", "n");
        body.insert("type".into(), json!("doc-type-others"));
        set_files(&mut body, &[file("a"), file("b")]);
        let echo = Value::Object(body.clone());
        let mut input = echo.as_object().unwrap().clone();
        input.insert("files".into(), json!([{"id": "b"}]));
        input.insert("type".into(), json!("doc-type-docusign"));
        let dropped = apply_summary(&mut body, &input, false, &types()).unwrap();
        assert_eq!(dropped, ["a"]);
        assert_eq!(files_of(&body), [file("b")]);
        assert_eq!(body["type"], "doc-type-docusign");
        let none = json!({"files": null});
        assert_eq!(apply_summary(&mut body, none.as_object().unwrap(), false, &types()).unwrap(), ["b"]);
        assert_eq!(body["files"], Value::Null);
        let unknown = json!({"files": [{"id": "zzz"}]});
        assert_eq!(apply_summary(&mut body, unknown.as_object().unwrap(), false, &types()).unwrap_err().field, "files");
        let changed = json!({"created_at": "2000-01-01T00:00:00.000Z"});
        assert_eq!(
            apply_summary(&mut body, changed.as_object().unwrap(), false, &types()).unwrap_err().field,
            "created_at"
        );
    }

    #[test]
    fn client_file_names_are_cleaned() {
        assert_eq!(clean_name(Some("C:\\Users\\me\\HandOut.pdf")), "HandOut.pdf");
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("a\u{0}b\n.png")), "ab.png");
        assert_eq!(clean_name(None), "file");
        assert_eq!(clean_name(Some("  ")), "file");
    }
}
