//! Reports: `GET /{tenant}/{instance}/reports/patient-program-phase-distribution`, read
//! by Welkin's export connector as a plain array keyed by `title`. The use case is
//! `services::reports`.

use super::caller::InstanceCaller;
use super::error::{ApiResult, ErrorItem};
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::phase_distribution::ProgramRow;
use crate::services::reports as service;
use axum::extract::{Path, State};

/// How many of the instance's patients are in each phase of each program: one row per
/// program (`title` is its title), its phases in formation order with their counts
/// (zero included), then phases the formation no longer has that enrolments are still
/// in. A patient counts once per program, in the phase of their latest enrolment.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/reports/patient-program-phase-distribution", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Vec<ProgramRow>), (status = 401, body = Vec<ErrorItem>),
              (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn phase_distribution(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
) -> ApiResult<Json<Vec<ProgramRow>>> {
    ctx.require(Family::Programs, Op::Read)?;
    Ok(Json(service::phase_distribution(&state, &ctx).await?))
}
