//! `openwelkin designer validate`: the sample folder passes, and a broken folder reports
//! each problem as `file: path: reason` with exit code 1. No database is involved.

use std::path::Path;
use std::process::Command;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../designer");

/// Runs `openwelkin designer validate DIR` in `cwd`; returns the exit code and stdout.
fn validate(dir: &Path, cwd: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_openwelkin"))
        .args(["designer", "validate"])
        .arg(dir)
        .current_dir(cwd)
        .env_remove("OPENWELKIN_DATABASE_URL")
        .output()
        .expect("the binary runs");
    (out.status.code().expect("exit code"), String::from_utf8(out.stdout).expect("utf-8"))
}

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_sample_designer_is_valid_without_a_database() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, stdout) = validate(Path::new(SAMPLE), cwd.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("ok: 1 tenant, 5 cdts, 2 pdts, 2 document-types, 2 assessments, 2 programs"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0, "no database file is created");

    // The tenant folder itself is recognised as one tenant.
    let (code, stdout) = validate(&Path::new(SAMPLE).join("demo"), cwd.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("ok: 1 tenant,"), "{stdout}");
}

const BROKEN_CDTS: &str = "\
- name: cdt-vitals
  fields:
    - {name: cdtf-measured-on, type: date}
    - {name: cdtf-pulse, type: number}
- name: cdt-vitals
  colour: red
  fields: []
";

const BROKEN_TEMPLATE: &str = "\
name: etmp-visit
title: Visit
assessmentNames: [asm-intake]
";

#[test]
fn a_broken_folder_reports_each_error_with_its_file_and_path() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "acme/cdts/vitals.yaml", BROKEN_CDTS);
    write(root.path(), "acme/encounter-templates/visit.yaml", BROKEN_TEMPLATE);
    write(root.path(), "acme/assessments/intake.yaml", "name: asm-intake\nsections: [\n");
    write(root.path(), "acme/roles/roles.json", r#"[{"name": "nurse"}]"#);

    let (code, stdout) = validate(root.path(), root.path());
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let expected = [
        "acme/assessments/intake.yaml: $: invalid YAML",
        "acme/cdts/vitals.yaml: $[1].colour: unknown key \"colour\"",
        "acme/cdts/vitals.yaml: $[0].fields[1].type: unknown field type \"number\"",
        "acme/cdts/vitals.yaml: $[1].name: \"cdt-vitals\" is defined twice",
        "acme/encounter-templates/visit.yaml: $.assessmentNames[0]: no assessment named \"asm-intake\"",
    ];
    for want in expected {
        assert!(lines.iter().any(|l| l.starts_with(want)), "no line starting {want:?} in:\n{stdout}");
    }
    assert_eq!(lines.len(), expected.len() + 1, "{stdout}");
    assert_eq!(lines.last(), Some(&"5 errors"));

    // Given the tenant folder, the files are named relative to it.
    let (code, stdout) = validate(&root.path().join("acme"), root.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("\nencounter-templates/visit.yaml: $.assessmentNames[0]: no assessment"), "{stdout}");
}

#[test]
fn a_missing_folder_fails() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, _) = validate(&cwd.path().join("nowhere"), cwd.path());
    assert_eq!(code, 1);
}
