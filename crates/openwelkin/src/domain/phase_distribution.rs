//! `GET /reports/patient-program-phase-distribution`: how many of the instance's patients
//! are in each phase of each program. Welkin's only known reader (an export connector)
//! takes the answer as a plain array keyed by `title`, so there is one row per program,
//! titled with the program's title. Each row lists the program's phases in formation
//! order with their patient counts (zero included), then any phase the current formation
//! no longer has but enrolments are still in.

use crate::designer::views::Program;
use serde::Serialize;
use utoipa::ToSchema;

/// How many patients are in one phase of one program, as stored (`phase` is `None` for
/// enrolments in no phase).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseCount {
    pub program_name: String,
    pub phase: Option<String>,
    pub patients: i64,
}

/// One program's row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgramRow {
    /// The program's title (its name when the current formation no longer has it).
    pub title: String,
    pub program_name: String,
    /// Patients enrolled in the program (each counted once, in the phase of their latest
    /// enrolment).
    pub patients: i64,
    pub phases: Vec<PhaseRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRow {
    /// The phase's name; null for enrolments in no phase.
    pub name: Option<String>,
    pub title: Option<String>,
    /// False when the current formation no longer has this phase.
    pub current: bool,
    pub patients: i64,
}

/// The report from the current formation's programs and the stored counts.
pub fn rows(programs: &[Program], counts: &[PhaseCount]) -> Vec<ProgramRow> {
    let count_of = |program: &str, phase: Option<&str>| {
        counts.iter().find(|c| c.program_name == program && c.phase.as_deref() == phase).map_or(0, |c| c.patients)
    };
    let mut out: Vec<ProgramRow> = programs
        .iter()
        .map(|p| ProgramRow {
            title: p.title.clone(),
            program_name: p.name.clone(),
            patients: 0,
            phases: p
                .phases
                .iter()
                .map(|ph| PhaseRow {
                    name: Some(ph.name.clone()),
                    title: Some(ph.title.clone()),
                    current: true,
                    patients: count_of(&p.name, Some(&ph.name)),
                })
                .collect(),
        })
        .collect();
    // Counts of phases (or programs) the formation no longer has.
    for c in counts {
        let known = programs.iter().find(|p| p.name == c.program_name);
        if known.is_some_and(|p| p.phases.iter().any(|ph| Some(&ph.name) == c.phase.as_ref())) {
            continue;
        }
        let row = match out.iter().position(|r| r.program_name == c.program_name) {
            Some(i) => &mut out[i],
            None => {
                out.push(ProgramRow {
                    title: c.program_name.clone(),
                    program_name: c.program_name.clone(),
                    patients: 0,
                    phases: vec![],
                });
                out.last_mut().expect("just pushed")
            }
        };
        row.phases.push(PhaseRow {
            name: c.phase.clone(),
            title: c.phase.clone(),
            current: false,
            patients: c.patients,
        });
    }
    for row in &mut out {
        row.patients = row.phases.iter().map(|p| p.patients).sum();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn program() -> Program {
        serde_json::from_value(json!({
            "name": "diabetes", "title": "Diabetes care", "description": "", "nodes": null,
            "phases": [
                {"name": "start", "title": "Start", "type": "START", "description": "", "autoFinishProgram": false, "navigateTo": []},
                {"name": "coaching", "title": "Coaching", "type": "REGULAR", "description": "", "autoFinishProgram": false, "navigateTo": []},
                {"name": "finish", "title": "Finish", "type": "FINISH", "description": "", "autoFinishProgram": true, "navigateTo": []}
            ]
        }))
        .unwrap()
    }

    fn count(program: &str, phase: Option<&str>, patients: i64) -> PhaseCount {
        PhaseCount { program_name: program.into(), phase: phase.map(String::from), patients }
    }

    #[test]
    fn every_phase_is_listed_in_formation_order_with_its_count() {
        let rows = rows(&[program()], &[count("diabetes", Some("coaching"), 3), count("diabetes", Some("start"), 1)]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].title.as_str(), rows[0].patients), ("Diabetes care", 4));
        let phases: Vec<(Option<&str>, i64)> = rows[0].phases.iter().map(|p| (p.name.as_deref(), p.patients)).collect();
        assert_eq!(phases, [(Some("start"), 1), (Some("coaching"), 3), (Some("finish"), 0)]);
    }

    #[test]
    fn phases_and_programs_gone_from_the_formation_still_count() {
        let rows = rows(&[program()], &[count("diabetes", Some("retired"), 2), count("old-program", None, 5)]);
        assert_eq!(rows.len(), 2);
        let retired = rows[0].phases.last().unwrap();
        assert_eq!((retired.name.as_deref(), retired.current, retired.patients), (Some("retired"), false, 2));
        assert_eq!(rows[0].patients, 2);
        assert_eq!(
            (rows[1].title.as_str(), rows[1].patients, rows[1].phases[0].name.as_deref()),
            ("old-program", 5, None)
        );
    }
}
