//! Formations: the designer configuration of an instance, read by version (`current`,
//! `draft` or a number) as bare arrays or single objects, exactly as Welkin returns them;
//! the draft is edited through the draft routes and published as a new version.
//! Welkin writes both `/formations/…` and `/formation/…`; both are served.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::error::{ApiError, ApiResult, ErrorItem};
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::{DesignerError, Kind};
use crate::events::audit::Operation;
use crate::store::formations::{self, Formation};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "FORMATION";

fn not_found(kind: &str, name: &str) -> ApiError {
    ApiError::not_found(
        "FORMATION_NOT_FOUND",
        COMPONENT,
        "Formation object not found",
        json!({"kind": kind, "name": name}),
    )
}

fn kind_of(segment: &str) -> ApiResult<Kind> {
    Kind::from_segment(segment).ok_or_else(|| {
        ApiError::not_found("FORMATION_NOT_FOUND", COMPONENT, "No such formation kind", json!({"kind": segment}))
    })
}

/// Resolves `current`, `draft` or a version number; draft objects carry the version they
/// will have once published.
pub async fn resolve(state: &AppState, ctx: &InstanceCaller, version: &str) -> ApiResult<Formation> {
    match version {
        "current" => Ok(state.db.current_formation(&ctx.instance.id).await?),
        "draft" => {
            let mut f = state.db.draft_formation(&ctx.instance.id).await?;
            f.version += 1;
            Ok(f)
        }
        n => {
            let number: i64 = n
                .parse()
                .map_err(|_| ApiError::invalid_param("version", "must be current, draft or a version number"))?;
            state.db.formation(&ctx.instance.id, number).await?.ok_or_else(|| {
                ApiError::not_found(
                    "FORMATION_VERSION_NOT_FOUND",
                    COMPONENT,
                    "No such formation version",
                    json!({"version": number}),
                )
            })
        }
    }
}

/// List the objects of a kind (`cdts`, `pdts`, `document-types`, `assessments`, `programs`,
/// `encounters`, `goal-templates`, `dictionaries`) as a bare array.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formations/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("version" = String, Path, description = "current, draft or a version number"),
           ("kind" = String, Path, description = "cdts, pdts, document-types, assessments, programs, encounters, goal-templates or dictionaries")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Formations, Op::Read)?;
    let kind = kind_of(&path.3)?;
    let f = resolve(&state, &ctx, &path.2).await?;
    Ok(Json(f.designer.list(kind, f.version)))
}

/// The same, at Welkin's singular `formation` spelling.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    list(state, ctx, path).await
}

/// One object of a kind, by name.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formations/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    let kind = kind_of(&path.3)?;
    let f = resolve(&state, &ctx, &path.2).await?;
    f.designer.get(kind, &path.4, f.version).map(Json).ok_or_else(|| not_found(&path.3, &path.4))
}

/// The same, at the singular spelling.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    read(state, ctx, path).await
}

/// The data type behind an assessment (its CDT), by the CDT's name.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/{version}/assessments/cdt/{cdtName}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("cdtName" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assessment_cdt(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    let f = resolve(&state, &ctx, &path.2).await?;
    // `_<assessmentName>` is the answers data type Welkin makes for each assessment.
    if let Some(a) = path.3.strip_prefix('_').and_then(|name| f.designer.assessment(name)) {
        let dt = crate::domain::assessment_record::answers_data_type(&f.designer, &a);
        return Ok(Json(dt.formation("ASSESSMENT", f.version)));
    }
    let referenced = f.designer.assessments.iter().any(|a| assessment_cdts(a).any(|name| name == path.3));
    let mut cdt = f
        .designer
        .get(Kind::Cdts, &path.3, f.version)
        .filter(|_| referenced)
        .ok_or_else(|| not_found("assessments/cdt", &path.3))?;
    cdt["relation"] = json!("ASSESSMENT");
    Ok(Json(cdt))
}

/// The encounter disposition's data type.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formations/{version}/encounter-disposition", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Object)),
    security(("bearer" = []))
)]
pub async fn disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    let f = resolve(&state, &ctx, &path.2).await?;
    Ok(Json(f.designer.disposition().formation("ENCOUNTER_DISPOSITION", f.version)))
}

/// Profile data types of the current version (the docs site's form, without a version).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/pdts", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Vec<Object>)),
    security(("bearer" = []))
)]
pub async fn pdts(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Formations, Op::Read)?;
    let f = state.db.current_formation(&ctx.instance.id).await?;
    Ok(Json(f.designer.list(Kind::Pdts, f.version)))
}

/// One profile data type of the current version.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/pdts/{pdtName}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn pdt(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    let f = state.db.current_formation(&ctx.instance.id).await?;
    f.designer.get(Kind::Pdts, &path.2, f.version).map(Json).ok_or_else(|| not_found("pdts", &path.2))
}

fn only_draft(version: &str) -> ApiResult<()> {
    if version == "draft" {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "FORMATION_READ_ONLY",
            COMPONENT,
            "Only the draft formation can be changed; publish it to make a new version",
            json!({"version": version}),
        ))
    }
}

fn invalid(errors: Vec<DesignerError>) -> ApiError {
    let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
    let all: Vec<Value> = errors.iter().map(|e| json!({"path": e.path, "reason": e.reason})).collect();
    ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", COMPONENT, first, json!({"errors": all}))
}

/// The draft as it is now, with the instance's formation locked in `tx` until it ends
/// (so concurrent edits and publishes of the draft run one after the other): its stored
/// row, else the current version (read after the lock, so no publish is in between).
async fn locked_draft(
    state: &AppState,
    ctx: &InstanceCaller,
    tx: &mut crate::store::Tx,
) -> ApiResult<(i64, crate::designer::Designer)> {
    Ok(match formations::draft_for_update(tx, &ctx.instance.id).await? {
        Some(draft) => draft,
        None => {
            let current = state.db.current_formation(&ctx.instance.id).await?;
            (current.version, (*current.designer).clone())
        }
    })
}

/// Applies `edit` to the draft inside one transaction, audited.
async fn edit_draft(
    state: &AppState,
    ctx: &InstanceCaller,
    operation: Operation,
    record_id: &str,
    edit: impl FnOnce(&mut crate::designer::Designer) -> ApiResult<Value>,
) -> ApiResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let (base, mut designer) = locked_draft(state, ctx, &mut tx).await?;
    let result = edit(&mut designer)?;
    formations::save_draft(&mut tx, &ctx.instance.id, base, &designer, now_ms).await?;
    ctx.record(
        &mut tx,
        Write {
            entity: "FORMATION",
            operation,
            record_id,
            patient: None,
            cdt_name: None,
            record: &result,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(result)
}

/// Add an object to the draft (assessments, programs, encounter templates, document
/// types, dictionaries, and the other kinds).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/formations/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path, description = "draft"), ("kind" = String, Path)),
    request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Formations, Op::Create)?;
    only_draft(&path.2)?;
    let kind = kind_of(&path.3)?;
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let created = edit_draft(&state, &ctx, Operation::Create, &name, |designer| {
        if designer.get(kind, &name, 0).is_some() {
            return Err(ApiError::conflict(
                "FORMATION_ALREADY_EXISTS",
                COMPONENT,
                format!("{name:?} already exists"),
                json!({"name": name}),
            ));
        }
        designer.upsert(kind, Value::Object(body)).map_err(invalid)?;
        Ok(designer.get(kind, &name, 0).unwrap_or(Value::Null))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(draft_version(&state, &ctx, created).await?)))
}

/// The same, at the singular spelling.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/formation/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path)),
    request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(state, ctx, path, body).await
}

/// Replace an object of the draft (its name comes from the path).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/formations/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    JsonObject(mut body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Update)?;
    only_draft(&path.2)?;
    let kind = kind_of(&path.3)?;
    let name = path.4.clone();
    match body.get("name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(ApiError::invalid_field(
                COMPONENT,
                crate::domain::FieldError::new("name", "does not match the name in the path"),
            ))
        }
        _ => {
            body.insert("name".into(), json!(name));
        }
    }
    let replaced = edit_draft(&state, &ctx, Operation::Update, &name, |designer| {
        if designer.get(kind, &name, 0).is_none() {
            return Err(not_found(&path.3, &name));
        }
        designer.upsert(kind, Value::Object(body)).map_err(invalid)?;
        Ok(designer.get(kind, &name, 0).unwrap_or(Value::Null))
    })
    .await?;
    Ok(Json(draft_version(&state, &ctx, replaced).await?))
}

/// The same, at the singular spelling.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/formation/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    replace(state, ctx, path, body).await
}

/// Remove an object from the draft. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/formations/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "Removed; empty body"), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Formations, Op::Delete)?;
    only_draft(&path.2)?;
    let kind = kind_of(&path.3)?;
    let name = path.4.clone();
    edit_draft(&state, &ctx, Operation::Delete, &name, |designer| {
        let before = designer.get(kind, &name, 0).ok_or_else(|| not_found(&path.3, &name))?;
        designer.remove(kind, &name);
        let errors = designer.validate();
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(before)
    })
    .await?;
    Ok(StatusCode::OK)
}

/// The same, at the singular spelling.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/formation/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "Removed; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn remove_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    remove(state, ctx, path).await
}

/// Replace the encounter disposition's data type in the draft.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/formations/{version}/encounter-disposition", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(mut body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Update)?;
    only_draft(&path.2)?;
    body.entry("name").or_insert(json!("__encounter_disposition__"));
    body.entry("relation").or_insert(json!("ENCOUNTER_DISPOSITION"));
    let updated = edit_draft(&state, &ctx, Operation::Update, "__encounter_disposition__", |designer| {
        let dt = serde_json::from_value(Value::Object(body))
            .map_err(|e| invalid(vec![DesignerError::new("$", e.to_string())]))?;
        designer.encounter_disposition = Some(dt);
        let errors = designer.validate();
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(designer.disposition().formation("ENCOUNTER_DISPOSITION", 0))
    })
    .await?;
    Ok(Json(draft_version(&state, &ctx, updated).await?))
}

/// Sets the version a draft object will have once published.
async fn draft_version(state: &AppState, ctx: &InstanceCaller, mut object: Value) -> ApiResult<Value> {
    if let Some(v) = object.get_mut("version") {
        *v = json!(state.db.draft_formation(&ctx.instance.id).await?.version + 1);
    }
    Ok(object)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub version: i64,
    pub published_at: String,
}

/// Publish the draft as the next version, which becomes `current` (an openwelkin extension).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/formations/draft/publish", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 201, body = Published), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn publish(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<(StatusCode, Json<Published>)> {
    ctx.require(Family::Formations, Op::Update)?;
    let now_ms = state.clock.now_ms();
    // The draft is read under the lock: an edit committed meanwhile is published, not
    // dropped with the draft row.
    let mut tx = state.db.begin().await?;
    let (_, draft) = locked_draft(&state, &ctx, &mut tx).await?;
    let errors = draft.validate();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let version = formations::publish(&mut tx, &ctx.instance.id, &draft, &ctx.actor().full_name(), now_ms).await?;
    ctx.record(
        &mut tx,
        Write {
            entity: "FORMATION",
            operation: Operation::Create,
            record_id: &version.to_string(),
            patient: None,
            cdt_name: None,
            record: &json!({"version": version}),
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(Published { version, published_at: crate::time::format_ms(now_ms) })))
}

/// The CDT names an assessment's questions write to (`sections[].fields[].refCdtName`).
fn assessment_cdts(assessment: &Value) -> impl Iterator<Item = &str> {
    assessment["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|section| section["fields"].as_array().into_iter().flatten())
        .filter_map(|field| field["refCdtName"].as_str())
}
