//! What other use cases need of patient programs: an enrolment rendered against the
//! current formation, and a patient's enrolments for its `patientPrograms`.

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::designer::Designer;
use crate::domain::patient_program::PatientProgram;
use serde_json::Value;

/// An enrolment with what depends on the current formation filled in.
pub fn rendered(mut pp: PatientProgram, designer: &Designer) -> PatientProgram {
    let program = designer.program(&pp.program_name);
    pp.refresh(program.as_ref());
    pp
}

/// A patient's enrolments (finished ones included) as its `patientPrograms` shows them,
/// rendered against the current formation (read only when there is one to render).
pub async fn render_all(
    state: &AppState,
    ctx: &InstanceScope,
    enrolments: Vec<PatientProgram>,
) -> ServiceResult<Vec<Value>> {
    if enrolments.is_empty() {
        return Ok(vec![]);
    }
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    render_against(&formation.designer, enrolments)
}

/// As `render_all`, with the current formation's designer already read (a page of
/// patients reads it once).
pub fn render_against(designer: &Designer, enrolments: Vec<PatientProgram>) -> ServiceResult<Vec<Value>> {
    enrolments
        .into_iter()
        .map(|pp| serde_json::to_value(rendered(pp, designer)).map_err(ServiceError::internal))
        .collect()
}
