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

/// Every enrolment of a patient (finished ones included), for the patient's
/// `patientPrograms`.
pub async fn of_patient(state: &AppState, ctx: &InstanceScope, patient_id: &str) -> ServiceResult<Vec<Value>> {
    let enrolments = state.db.patient_programs(&ctx.instance.id, patient_id).await?;
    render_all(state, ctx, enrolments).await
}

/// Enrolments already read, rendered against the current formation (read only when
/// there is one to render).
pub async fn render_all(
    state: &AppState,
    ctx: &InstanceScope,
    enrolments: Vec<PatientProgram>,
) -> ServiceResult<Vec<Value>> {
    if enrolments.is_empty() {
        return Ok(vec![]);
    }
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    enrolments
        .into_iter()
        .map(|pp| serde_json::to_value(rendered(pp, &formation.designer)).map_err(ServiceError::internal))
        .collect()
}
