//! Reset, seed and snapshots of an instance (or, for reset, a whole tenant).

use super::{authorize, body};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::emulator::data::{self as ops, Target};
use crate::emulator::fixture::{self, Fixture, FixtureRequest};
use crate::emulator::generate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

fn target(state: &AppState) -> Target {
    Target {
        db: state.db.clone(),
        clock: state.clock.clone(),
        files: state.files.clone(),
        actor: crate::events::audit::Actor::system(),
    }
}

pub async fn reset_tenant(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let done = ops::reset(&target(&state), &tenant, None).await?;
    ops::spawn_sweep(target(&state));
    Ok(Json(done))
}

pub async fn reset_instance(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let done = ops::reset(&target(&state), &tenant, Some(&instance)).await?;
    ops::spawn_sweep(target(&state));
    Ok(Json(done))
}

/// Either a fixture (`requests`) or a generator (`count`, `seed`); `webhooks: true` lets
/// the seeded writes queue webhook events.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedBody {
    #[serde(default)]
    requests: Option<Vec<FixtureRequest>>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    webhooks: bool,
}

use generate::MAX_GENERATED;

/// What a seed body asks for: a fixture to replay, or a generated plan to write in
/// batches.
pub enum Source {
    Fixture(Fixture),
    Plan(generate::Plan),
}

/// The fixture or plan a seed body asks for.
pub async fn fixture_of(
    state: &AppState,
    tenant: &str,
    instance: &str,
    requests: Option<Vec<FixtureRequest>>,
    count: Option<usize>,
    seed: Option<u64>,
) -> Result<Source, ApiError> {
    match (requests, count) {
        (Some(requests), None) if seed.is_none() => {
            let f = Fixture { requests };
            f.check()?;
            Ok(Source::Fixture(f))
        }
        (None, Some(count)) if (1..=MAX_GENERATED).contains(&count) => {
            let spec = generate::Spec { count, seed: seed.unwrap_or(1), start_day: state.clock.now().date_naive() };
            Ok(Source::Plan(generate::for_instance(&state.db, tenant, instance, &spec).await?))
        }
        (None, Some(_)) => Err(ApiError::bad_request("EMULATOR", format!("count is 1 to {MAX_GENERATED}"))),
        _ => Err(ApiError::bad_request("EMULATOR", "give either requests (a fixture) or count and seed (a generator)")),
    }
}

pub async fn seed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance)): Path<(String, String)>,
    b: Result<Json<SeedBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorize(&state, &headers)?;
    let b = body(b)?;
    let source = fixture_of(&state, &tenant, &instance, b.requests, b.count, b.seed).await?;
    // The seed replays its requests through the same routes this server serves.
    let router = crate::api::router(state.clone());
    let done = match source {
        Source::Fixture(fixture) => fixture::seed(&state, &router, &tenant, &instance, &fixture, b.webhooks).await?,
        Source::Plan(plan) => fixture::seed_plan(&state, &router, &tenant, &instance, &plan, b.webhooks).await?,
    };
    Ok((StatusCode::CREATED, Json(json!({"requests": done.requests, "created": done.created}))))
}

pub async fn list_snapshots(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    Ok(Json(ops::list(&target(&state), &tenant, &instance).await?))
}

pub async fn save_snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance, name)): Path<(String, String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorize(&state, &headers)?;
    Ok((StatusCode::CREATED, Json(ops::save(&target(&state), &tenant, &instance, &name).await?)))
}

pub async fn restore_snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    Ok(Json(ops::restore(&target(&state), &tenant, &instance, &name).await?))
}

pub async fn delete_snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&state, &headers)?;
    ops::delete(&target(&state), &tenant, &instance, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
