//! Formations: the designer configuration of an instance, read by version (`current`,
//! `draft` or a number) as bare arrays or single objects, exactly as Welkin returns them;
//! the draft is edited (the designer draft endpoints) and published as a new version.
//! Every change of the draft and every publish is audited as `FORMATION`.

use super::error::{Kind as ErrorKind, ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::designer::{Designer, DesignerError, Kind};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::formations::{self as store, Formation};
use crate::store::Tx;
use serde_json::{json, Map, Value};

const COMPONENT: &str = "FORMATION";

fn not_found(kind: &str, name: &str) -> ServiceError {
    ServiceError::not_found(
        "FORMATION_NOT_FOUND",
        COMPONENT,
        "Formation object not found",
        json!({"kind": kind, "name": name}),
    )
}

/// The kind a path segment names (`cdts`, `document-types`, …).
fn kind_of(segment: &str) -> ServiceResult<Kind> {
    Kind::from_segment(segment).ok_or_else(|| {
        ServiceError::not_found("FORMATION_NOT_FOUND", COMPONENT, "No such formation kind", json!({"kind": segment}))
    })
}

/// Resolves `current`, `draft` or a version number; draft objects carry the version they
/// will have once published.
pub async fn resolve(state: &AppState, ctx: &InstanceScope, version: &str) -> ServiceResult<Formation> {
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
                .map_err(|_| ServiceError::invalid_param("version", "must be current, draft or a version number"))?;
            state.db.formation(&ctx.instance.id, number).await?.ok_or_else(|| {
                ServiceError::not_found(
                    "FORMATION_VERSION_NOT_FOUND",
                    COMPONENT,
                    "No such formation version",
                    json!({"version": number}),
                )
            })
        }
    }
}

/// The objects of the kind `kind` (a path segment) in the formation `version`.
pub async fn list(state: &AppState, ctx: &InstanceScope, version: &str, kind: &str) -> ServiceResult<Vec<Value>> {
    let kind = kind_of(kind)?;
    let f = resolve(state, ctx, version).await?;
    Ok(f.designer.list(kind, f.version))
}

/// The object `name` of the kind `kind` (a path segment) in the formation `version`.
pub async fn read(
    state: &AppState,
    ctx: &InstanceScope,
    version: &str,
    kind: &str,
    name: &str,
) -> ServiceResult<Value> {
    let k = kind_of(kind)?;
    let f = resolve(state, ctx, version).await?;
    f.designer.get(k, name, f.version).ok_or_else(|| not_found(kind, name))
}

/// The data type behind an assessment (its CDT), by the CDT's name.
pub async fn assessment_cdt(
    state: &AppState,
    ctx: &InstanceScope,
    version: &str,
    cdt_name: &str,
) -> ServiceResult<Value> {
    let f = resolve(state, ctx, version).await?;
    // `_<assessmentName>` is the answers data type Welkin makes for each assessment.
    if let Some(a) = cdt_name.strip_prefix('_').and_then(|name| f.designer.assessment(name)) {
        let dt = crate::domain::assessment_record::answers_data_type(&f.designer, &a);
        return Ok(dt.formation("ASSESSMENT", f.version));
    }
    let referenced = f.designer.assessments.iter().any(|a| assessment_cdts(a).any(|name| name == cdt_name));
    let mut cdt = f
        .designer
        .get(Kind::Cdts, cdt_name, f.version)
        .filter(|_| referenced)
        .ok_or_else(|| not_found("assessments/cdt", cdt_name))?;
    cdt["relation"] = json!("ASSESSMENT");
    Ok(cdt)
}

/// The encounter disposition's data type in the formation `version`.
pub async fn disposition(state: &AppState, ctx: &InstanceScope, version: &str) -> ServiceResult<Value> {
    let f = resolve(state, ctx, version).await?;
    Ok(f.designer.disposition().formation("ENCOUNTER_DISPOSITION", f.version))
}

/// The profile data types of the current version.
pub async fn current_pdts(state: &AppState, ctx: &InstanceScope) -> ServiceResult<Vec<Value>> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    Ok(f.designer.list(Kind::Pdts, f.version))
}

/// One profile data type of the current version.
pub async fn current_pdt(state: &AppState, ctx: &InstanceScope, name: &str) -> ServiceResult<Value> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    f.designer.get(Kind::Pdts, name, f.version).ok_or_else(|| not_found("pdts", name))
}

fn only_draft(version: &str) -> ServiceResult<()> {
    if version == "draft" {
        Ok(())
    } else {
        Err(ServiceError::new(
            ErrorKind::BadRequest,
            "FORMATION_READ_ONLY",
            COMPONENT,
            "Only the draft formation can be changed; publish it to make a new version",
            json!({"version": version}),
        ))
    }
}

fn invalid(errors: Vec<DesignerError>) -> ServiceError {
    let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
    let all: Vec<Value> = errors.iter().map(|e| json!({"path": e.path, "reason": e.reason})).collect();
    ServiceError::new(ErrorKind::BadRequest, "VALIDATION_ERROR", COMPONENT, first, json!({"errors": all}))
}

/// The draft as it is now, with the instance's formation locked in `tx` until it ends
/// (so concurrent edits and publishes of the draft run one after the other): its stored
/// row, else the current version (read after the lock, so no publish is in between).
async fn locked_draft(state: &AppState, ctx: &InstanceScope, tx: &mut Tx) -> ServiceResult<(i64, Designer)> {
    Ok(match store::draft_for_update(tx, &ctx.instance.id).await? {
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
    ctx: &InstanceScope,
    operation: Operation,
    record_id: &str,
    edit: impl FnOnce(&mut Designer) -> ServiceResult<Value>,
) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let (base, mut designer) = locked_draft(state, ctx, &mut tx).await?;
    let result = edit(&mut designer)?;
    store::save_draft(&mut tx, &ctx.instance.id, base, &designer, now_ms).await?;
    ctx.record(&mut tx, Write::new("FORMATION", operation, record_id, &result), now_ms).await?;
    tx.commit().await?;
    Ok(result)
}

/// Sets the version a draft object will have once published.
async fn draft_version(state: &AppState, ctx: &InstanceScope, mut object: Value) -> ServiceResult<Value> {
    if let Some(v) = object.get_mut("version") {
        *v = json!(state.db.draft_formation(&ctx.instance.id).await?.version + 1);
    }
    Ok(object)
}

/// Adds an object of the kind `kind` (a path segment) to the draft; `version` must be
/// `draft`.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    version: &str,
    kind: &str,
    body: Map<String, Value>,
) -> ServiceResult<Value> {
    only_draft(version)?;
    let kind = kind_of(kind)?;
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let created = edit_draft(state, ctx, Operation::Create, &name, |designer| {
        if designer.get(kind, &name, 0).is_some() {
            return Err(ServiceError::conflict(
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
    draft_version(state, ctx, created).await
}

/// Replaces the object `name` of the kind `kind` (a path segment) in the draft; the
/// body's name, if any, must be `name`.
pub async fn replace(
    state: &AppState,
    ctx: &InstanceScope,
    version: &str,
    kind: &str,
    name: &str,
    mut body: Map<String, Value>,
) -> ServiceResult<Value> {
    only_draft(version)?;
    let k = kind_of(kind)?;
    match body.get("name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(ServiceError::invalid_field(
                COMPONENT,
                FieldError::new("name", "does not match the name in the path"),
            ))
        }
        _ => {
            body.insert("name".into(), json!(name));
        }
    }
    let replaced = edit_draft(state, ctx, Operation::Update, name, |designer| {
        if designer.get(k, name, 0).is_none() {
            return Err(not_found(kind, name));
        }
        designer.upsert(k, Value::Object(body)).map_err(invalid)?;
        Ok(designer.get(k, name, 0).unwrap_or(Value::Null))
    })
    .await?;
    draft_version(state, ctx, replaced).await
}

/// Removes the object `name` of the kind `kind` (a path segment) from the draft, unless
/// the draft would no longer be valid without it.
pub async fn remove(state: &AppState, ctx: &InstanceScope, version: &str, kind: &str, name: &str) -> ServiceResult<()> {
    only_draft(version)?;
    let k = kind_of(kind)?;
    let before = |d: &Designer| d.get(k, name, 0);
    remove_in(state, ctx, crate::designer::objects::Section::of(k), before, kind, name).await
}

/// Removes `name` from a section of the draft unless the draft would no longer be valid
/// without it. The audit records the object as `before` renders it; `shown` is the kind
/// as the caller named it (in the not-found error).
async fn remove_in(
    state: &AppState,
    ctx: &InstanceScope,
    section: crate::designer::objects::Section,
    before: impl FnOnce(&Designer) -> Option<Value>,
    shown: &str,
    name: &str,
) -> ServiceResult<()> {
    edit_draft(state, ctx, Operation::Delete, name, |designer| {
        let before = before(designer).ok_or_else(|| not_found(shown, name))?;
        designer.remove_in(section, name);
        let errors = designer.validate();
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(before)
    })
    .await?;
    Ok(())
}

/// Replaces the encounter disposition's data type in the draft.
pub async fn replace_disposition(
    state: &AppState,
    ctx: &InstanceScope,
    version: &str,
    mut body: Map<String, Value>,
) -> ServiceResult<Value> {
    only_draft(version)?;
    body.entry("name").or_insert(json!("__encounter_disposition__"));
    body.entry("relation").or_insert(json!("ENCOUNTER_DISPOSITION"));
    let updated = edit_draft(state, ctx, Operation::Update, "__encounter_disposition__", |designer| {
        // The same structural check as every data type (unknown keys, types), each
        // problem with its path, before serde reads it.
        let mut errors = Vec::new();
        let body = crate::designer::object_shapes::normalize_data_type(
            &Value::Object(body),
            "encounterDisposition",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        let dt = serde_json::from_value(body).map_err(|e| invalid(vec![DesignerError::new("$", e.to_string())]))?;
        designer.encounter_disposition = Some(dt);
        let errors = designer.validate();
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(designer.disposition().formation("ENCOUNTER_DISPOSITION", 0))
    })
    .await?;
    draft_version(state, ctx, updated).await
}

/// Publishes the draft as the next version, which becomes `current`; answers that
/// version and when it was published (epoch ms).
pub async fn publish(state: &AppState, ctx: &InstanceScope) -> ServiceResult<(i64, i64)> {
    let now_ms = state.clock.now_ms();
    // The draft is read under the lock: an edit committed meanwhile is published, not
    // dropped with the draft row.
    let mut tx = state.db.begin().await?;
    let (_, draft) = locked_draft(state, ctx, &mut tx).await?;
    let errors = draft.validate();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let version = store::publish(&mut tx, &ctx.instance.id, &draft, &ctx.actor().full_name(), now_ms).await?;
    let record = json!({"version": version});
    ctx.record(&mut tx, Write::new("FORMATION", Operation::Create, &version.to_string(), &record), now_ms).await?;
    tx.commit().await?;
    Ok((version, now_ms))
}

/// Throws the draft's edits away: the draft is the current version again. Audited (as a
/// `FORMATION` delete of the draft, recording the version it falls back to) only when
/// there were edits; answers whether there were.
pub async fn discard_draft(state: &AppState, ctx: &InstanceScope) -> ServiceResult<bool> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Under the formation's lock, so an edit or publish running meanwhile goes first.
    if store::draft_for_update(&mut tx, &ctx.instance.id).await?.is_none() {
        return Ok(false);
    }
    store::discard_draft(&mut tx, &ctx.instance.id).await?;
    let current = state.db.current_formation(&ctx.instance.id).await?;
    let record = json!({"draft": "discarded", "version": current.version});
    ctx.record(&mut tx, Write::new("FORMATION", Operation::Delete, "draft", &record), now_ms).await?;
    tx.commit().await?;
    Ok(true)
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

/// The published versions of the instance, newest first: (version, published at, by whom).
pub async fn versions(state: &AppState, ctx: &InstanceScope) -> ServiceResult<Vec<(i64, i64, String)>> {
    Ok(state.db.formation_versions(&ctx.instance.id).await?)
}

/// Adds or replaces an object of any section in the draft (the console's forms and YAML
/// editor; roles, security policies, regions and webhooks included), audited. With
/// `replacing`, the object of that name must exist and the body keeps that name.
pub async fn put_object(
    state: &AppState,
    ctx: &InstanceScope,
    section: crate::designer::objects::Section,
    replacing: Option<&str>,
    body: Value,
) -> ServiceResult<Value> {
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(old) = replacing {
        if old != name {
            return Err(ServiceError::invalid_field(
                COMPONENT,
                FieldError::new("name", "an object keeps its name; create a new one to rename"),
            ));
        }
    }
    let operation = if replacing.is_some() { Operation::Update } else { Operation::Create };
    edit_draft(state, ctx, operation, &name.clone(), |designer| {
        let exists = designer.object(section, &name).is_some();
        if replacing.is_some() && !exists {
            return Err(not_found(section.folder(), &name));
        }
        if replacing.is_none() && exists {
            return Err(ServiceError::conflict(
                "FORMATION_ALREADY_EXISTS",
                COMPONENT,
                format!("{name:?} already exists"),
                json!({"name": name}),
            ));
        }
        designer.upsert_in(section, body).map_err(invalid)?;
        Ok(designer.object(section, &name).unwrap_or(Value::Null))
    })
    .await
}

/// Removes an object of any section from the draft, unless the draft would no longer be
/// valid without it; audited.
pub async fn remove_object(
    state: &AppState,
    ctx: &InstanceScope,
    section: crate::designer::objects::Section,
    name: &str,
) -> ServiceResult<()> {
    remove_in(state, ctx, section, |d: &Designer| d.object(section, name), section.folder(), name).await
}
