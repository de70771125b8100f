//! Reports over an instance's records: the patient program phase distribution.

use super::error::ServiceResult;
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::domain::phase_distribution::{self, ProgramRow};

/// Patients per program phase: the current formation's programs and phases, each with
/// how many patients are in it (`domain::phase_distribution`).
pub async fn phase_distribution(state: &AppState, ctx: &InstanceScope) -> ServiceResult<Vec<ProgramRow>> {
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let counts = state.db.phase_distribution(&ctx.instance.id).await?;
    Ok(phase_distribution::rows(&formation.designer.program_list(), &counts))
}
