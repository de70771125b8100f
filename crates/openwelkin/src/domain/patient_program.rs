//! Patient programs: a patient's enrolment in a designer program, its current phase and
//! the path it took. Phases change only along the program's `navigateTo` arrows; moving
//! into a phase with `autoFinishProgram` finishes the enrolment (a FINISH phase alone
//! does not: the recordings show `status: IN_PROGRESS` after moving to `finish`).

use super::fields::{self, reject_unknown};
use super::FieldError;
use crate::designer::views::{Phase, Program};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const FINISHED: &str = "FINISHED";
pub const STATUSES: &[&str] = &[IN_PROGRESS, FINISHED];

/// A patient program as the API returns it. Key order follows the recordings. Programs
/// the patient is not enrolled in are listed as stubs with `id: null, assigned: false`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatientProgram {
    pub id: Option<String>,
    pub created_by_name: Option<String>,
    pub created_at: Option<String>,
    pub updated_by_name: Option<String>,
    pub updated_at: Option<String>,
    pub program_name: String,
    pub program_title: String,
    pub program_description: String,
    pub assigned: bool,
    pub patient_id: Option<String>,
    pub current_phase: Option<PhaseEntry>,
    /// `IN_PROGRESS` or `FINISHED`; null for a stub.
    pub status: Option<String>,
    pub compatible_with_current_version: bool,
    /// Every phase entered, oldest first.
    pub path_history: Vec<PhaseEntry>,
}

/// One phase entered: when, by whom, and in which formation version.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PhaseEntry {
    pub timestamp: String,
    pub created_by: String,
    pub created_by_name: String,
    pub name: String,
    pub title: String,
    pub description: String,
    /// The formation version, as a string (`"92"`).
    pub current_version: String,
    /// True when the phase no longer exists in the current program.
    pub deleted: bool,
}

/// Body of `PATCH …/programs/{programName}` (documentation type).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PatientProgramWrite {
    /// `true` enrols the patient (in the START phase); `false` removes the enrolment.
    assigned: Option<bool>,
    /// `IN_PROGRESS`, or `FINISHED` to finish the enrolment where it is.
    status: Option<String>,
    /// The phase to move to; it must be reachable from the current phase.
    phase_name: Option<String>,
}

/// Body of `PATCH …/programs/{programName}/phases` (documentation type).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PhaseChangeWrite {
    phase_name: String,
}

/// Who changes an enrolment, and when.
pub struct Stamp<'a> {
    pub actor_id: &'a str,
    pub actor_name: &'a str,
    pub now: &'a str,
    /// The current formation version.
    pub version: i64,
}

/// A parsed PATCH body.
#[derive(Debug, Default, PartialEq)]
pub struct Change {
    pub assigned: Option<bool>,
    pub status: Option<String>,
    pub phase_name: Option<String>,
}

/// Reads a PATCH body; `phase_only` for the `/phases` path, which takes only `phaseName`.
pub fn parse_change(body: &Map<String, Value>, phase_only: bool) -> Result<Change, FieldError> {
    let allowed: &[&str] = if phase_only { &["phaseName"] } else { &["assigned", "status", "phaseName"] };
    reject_unknown(
        body,
        allowed,
        &["id", "createdAt", "updatedAt", "createdByName", "updatedByName", "currentPhase", "pathHistory"],
    )?;
    let get = |k: &str| body.get(k).filter(|v| !v.is_null());
    let change = Change {
        assigned: get("assigned").map(|v| fields::boolean("assigned", v)).transpose()?,
        status: get("status").map(|v| fields::one_of("status", v, STATUSES)).transpose()?,
        phase_name: get("phaseName").map(|v| fields::text("phaseName", v)).transpose()?,
    };
    if phase_only && change.phase_name.is_none() {
        return Err(FieldError::new("phaseName", "is required"));
    }
    if change.assigned == Some(false) && (change.status.is_some() || change.phase_name.is_some()) {
        return Err(FieldError::new("assigned", "false removes the enrolment; it takes no status or phaseName"));
    }
    Ok(change)
}

fn entry(phase: &Phase, stamp: &Stamp) -> PhaseEntry {
    PhaseEntry {
        timestamp: stamp.now.to_string(),
        created_by: stamp.actor_id.to_string(),
        created_by_name: stamp.actor_name.to_string(),
        name: phase.name.clone(),
        title: phase.title.clone(),
        description: phase.description.clone(),
        current_version: stamp.version.to_string(),
        deleted: false,
    }
}

fn names(phases: &[&Phase]) -> String {
    if phases.is_empty() {
        "none".to_string()
    } else {
        phases.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl PatientProgram {
    /// A program the patient is not enrolled in, as the list shows it.
    pub fn stub(program: &Program) -> Self {
        PatientProgram {
            id: None,
            created_by_name: None,
            created_at: None,
            updated_by_name: None,
            updated_at: None,
            program_name: program.name.clone(),
            program_title: program.title.clone(),
            program_description: program.description.clone(),
            assigned: false,
            patient_id: None,
            current_phase: None,
            status: None,
            compatible_with_current_version: false,
            path_history: vec![],
        }
    }

    /// A new enrolment in the program's START phase.
    pub fn enrol(id: String, patient_id: &str, program: &Program, stamp: &Stamp) -> Result<Self, FieldError> {
        let start = program
            .start()
            .ok_or_else(|| FieldError::new("programName", format!("program {:?} has no START phase", program.name)))?;
        let first = entry(start, stamp);
        Ok(PatientProgram {
            id: Some(id),
            created_by_name: Some(stamp.actor_name.to_string()),
            created_at: Some(stamp.now.to_string()),
            updated_by_name: Some(stamp.actor_name.to_string()),
            updated_at: Some(stamp.now.to_string()),
            program_name: program.name.clone(),
            program_title: program.title.clone(),
            program_description: program.description.clone(),
            assigned: true,
            patient_id: Some(patient_id.to_string()),
            current_phase: Some(first.clone()),
            status: Some(IN_PROGRESS.to_string()),
            compatible_with_current_version: true,
            path_history: vec![first],
        })
    }

    pub fn is_finished(&self) -> bool {
        self.status.as_deref() == Some(FINISHED)
    }

    /// The phases the enrolment may move to now: the current phase's `navigateTo`. When the
    /// current phase was removed from the program, any phase but START (so that the
    /// enrolment is not stuck).
    fn reachable<'a>(&self, program: &'a Program) -> Vec<&'a Phase> {
        let current = self.current_phase.as_ref().map(|c| c.name.as_str());
        match current.and_then(|c| program.phase(c)) {
            Some(phase) => phase.navigate_to.iter().filter_map(|to| program.phase(&to.name)).collect(),
            None if current.is_some() => program.phases.iter().filter(|p| p.phase_type != "START").collect(),
            None => program.start().into_iter().collect(),
        }
    }

    /// Moves to `phase_name` along the program's arrows. Moving to the current phase
    /// changes nothing (returns false). Entering a phase with `autoFinishProgram`
    /// finishes the enrolment.
    pub fn move_to(&mut self, program: &Program, phase_name: &str, stamp: &Stamp) -> Result<bool, FieldError> {
        if self.is_finished() {
            return Err(FieldError::new("phaseName", "the enrolment is finished; its phase can no longer change"));
        }
        let target = program.phase(phase_name).ok_or_else(|| {
            FieldError::new(
                "phaseName",
                format!("program {:?} has no phase {phase_name:?} (phases: {})", program.name, {
                    let all: Vec<&Phase> = program.phases.iter().collect();
                    names(&all)
                }),
            )
        })?;
        if self.current_phase.as_ref().is_some_and(|c| c.name == phase_name) {
            return Ok(false);
        }
        let reachable = self.reachable(program);
        if !reachable.iter().any(|p| p.name == target.name) {
            let from = self.current_phase.as_ref().map(|c| c.name.as_str()).unwrap_or("(no phase)");
            return Err(FieldError::new(
                "phaseName",
                format!("cannot move from phase {from:?} to {phase_name:?}; reachable: {}", names(&reachable)),
            ));
        }
        let next = entry(target, stamp);
        self.current_phase = Some(next.clone());
        self.path_history.push(next);
        if target.auto_finish_program {
            self.status = Some(FINISHED.to_string());
        }
        self.touch(stamp);
        Ok(true)
    }

    /// Finishes the enrolment in its current phase. False when it already was.
    pub fn finish(&mut self, stamp: &Stamp) -> bool {
        if self.is_finished() {
            return false;
        }
        self.status = Some(FINISHED.to_string());
        self.touch(stamp);
        true
    }

    fn touch(&mut self, stamp: &Stamp) {
        self.updated_at = Some(stamp.now.to_string());
        self.updated_by_name = Some(stamp.actor_name.to_string());
    }

    /// Fills what depends on the current formation: program title and description,
    /// whether each phase still exists, and whether the enrolment is compatible with it.
    pub fn refresh(&mut self, current: Option<&Program>) {
        let Some(program) = current else {
            self.compatible_with_current_version = false;
            return;
        };
        self.program_title = program.title.clone();
        self.program_description = program.description.clone();
        for e in self.path_history.iter_mut().chain(self.current_phase.iter_mut()) {
            e.deleted = program.phase(&e.name).is_none();
        }
        self.compatible_with_current_version = self.current_phase.as_ref().is_none_or(|c| !c.deleted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn program() -> Program {
        serde_json::from_value(json!({
            "name": "prog", "title": "Prog", "description": "d", "nodes": null,
            "phases": [
                {"name": "start", "title": "Start", "type": "START", "description": "", "autoFinishProgram": false,
                 "navigateTo": [{"name": "intake"}, {"name": "finish"}]},
                {"name": "intake", "title": "Intake", "type": "REGULAR", "description": "", "autoFinishProgram": false,
                 "navigateTo": [{"name": "graduated"}]},
                {"name": "graduated", "title": "Graduated", "type": "REGULAR", "description": "", "autoFinishProgram": true,
                 "navigateTo": []},
                {"name": "finish", "title": "Finish", "type": "FINISH", "description": "", "autoFinishProgram": false,
                 "navigateTo": []}]
        }))
        .unwrap()
    }

    fn stamp(now: &str) -> Stamp<'_> {
        Stamp { actor_id: "a", actor_name: "API_CLIENT:X", now, version: 3 }
    }

    #[test]
    fn enrolment_starts_in_start_and_follows_arrows() {
        let p = program();
        let mut pp = PatientProgram::enrol("id".into(), "pat", &p, &stamp("t0")).unwrap();
        assert_eq!(pp.current_phase.as_ref().unwrap().name, "start");
        assert_eq!(pp.current_phase.as_ref().unwrap().current_version, "3");
        assert_eq!(pp.move_to(&p, "graduated", &stamp("t1")).unwrap_err().field, "phaseName");
        assert_eq!(pp.path_history.len(), 1, "a refused move changes nothing");
        assert!(!pp.move_to(&p, "start", &stamp("t1")).unwrap(), "the current phase is a no-op");
        assert!(pp.move_to(&p, "intake", &stamp("t1")).unwrap());
        assert_eq!(pp.status.as_deref(), Some(IN_PROGRESS));
        assert!(pp.move_to(&p, "graduated", &stamp("t2")).unwrap());
        assert_eq!(pp.status.as_deref(), Some(FINISHED), "autoFinishProgram finishes");
        assert_eq!(
            pp.path_history.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["start", "intake", "graduated"]
        );
        assert_eq!(pp.updated_at.as_deref(), Some("t2"));
        assert!(pp.move_to(&p, "finish", &stamp("t3")).is_err());
    }

    #[test]
    fn finish_phase_alone_keeps_the_enrolment_in_progress() {
        let p = program();
        let mut pp = PatientProgram::enrol("id".into(), "pat", &p, &stamp("t0")).unwrap();
        pp.move_to(&p, "finish", &stamp("t1")).unwrap();
        assert_eq!(pp.status.as_deref(), Some(IN_PROGRESS));
        assert!(pp.finish(&stamp("t2")));
        assert!(!pp.finish(&stamp("t3")));
    }

    #[test]
    fn refresh_marks_removed_phases() {
        let mut p = program();
        let mut pp = PatientProgram::enrol("id".into(), "pat", &p, &stamp("t0")).unwrap();
        pp.move_to(&p, "intake", &stamp("t1")).unwrap();
        p.phases.retain(|ph| ph.name != "intake");
        p.title = "Renamed".into();
        pp.refresh(Some(&p));
        assert!(pp.current_phase.as_ref().unwrap().deleted);
        assert!(!pp.compatible_with_current_version);
        assert_eq!(pp.program_title, "Renamed");
        assert!(pp.move_to(&p, "graduated", &stamp("t2")).unwrap(), "a removed phase does not strand the enrolment");
        pp.refresh(None);
        assert!(!pp.compatible_with_current_version);
    }

    #[test]
    fn patch_bodies_are_checked() {
        let body = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            parse_change(&body(json!({"assigned": true, "phaseName": "start"})), false).unwrap(),
            Change { assigned: Some(true), status: None, phase_name: Some("start".into()) }
        );
        assert_eq!(parse_change(&body(json!({"status": "PAUSED"})), false).unwrap_err().field, "status");
        assert_eq!(parse_change(&body(json!({"assigned": true})), true).unwrap_err().field, "assigned");
        assert_eq!(parse_change(&body(json!({})), true).unwrap_err().field, "phaseName");
        assert_eq!(parse_change(&body(json!({"colour": 1})), false).unwrap_err().field, "colour");
    }
}
