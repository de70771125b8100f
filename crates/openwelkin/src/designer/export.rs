//! Writing a designer back out as a tenant folder (the layout `loader` reads): one YAML
//! file per object, named with its position so that the folder loads in the same order
//! (`cdts/0001-vitals.yaml`), and `encounter-disposition.yaml` when the designer has one.
//! Loading the files again gives an equal `Designer`.

use super::objects::Section;
use super::{data_type_file, Designer};
use serde_json::Value;

/// `(path inside the tenant folder, YAML text)`, in folder order.
pub fn files(designer: &Designer) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(dt) = &designer.encounter_disposition {
        out.push(("encounter-disposition.yaml".to_string(), yaml(&data_type_file(dt))));
    }
    for section in Section::ALL {
        for (i, name) in designer.names(section).iter().enumerate() {
            if let Some(object) = designer.object(section, name) {
                out.push((format!("{}/{:04}-{}.yaml", section.folder(), i + 1, file_safe(name)), yaml(&object)));
            }
        }
    }
    out
}

fn yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).expect("JSON values serialize as YAML")
}

/// Object names are machine names already; anything else becomes `_` in the file name.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_folder_loads_back_equal() {
        let designer =
            Designer::load_dir(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/designer")))
                .expect("the test designer loads");
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files(&designer) {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let again = Designer::load_dir(dir.path()).expect("the written folder loads");
        assert_eq!(again, designer);
    }
}
