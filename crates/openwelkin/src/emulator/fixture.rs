//! Seeding from a fixture: a list of API requests replayed in-process through the same
//! router that serves HTTP, so seeded data is validated, stored, audited and shaped
//! exactly as if a client had sent it. A request may name its answer (`"id": "alice"`)
//! and later requests use its fields as `{{alice.id}}` in their path or body.
//!
//! ```json
//! {"requests": [
//!   {"id": "alice", "method": "POST", "path": "patients", "body": {"firstName": "Alice", "lastName": "Ng"}},
//!   {"method": "POST", "path": "patients/{{alice.id}}/cdts/cdt-vitals", "body": {"cdtf-systolic": 120}}
//! ]}
//! ```
//!
//! A path without a leading `/` is relative to `/{tenant}/{instance}/`; one with a leading
//! `/` is taken as is after replacing `{tenant}` and `{instance}`. Requests run as the
//! tenant's `openwelkin-emulator` API client. The seed is all or nothing: when a request
//! fails, the instance is restored to its state before the seed and the users it created
//! are removed.

use super::bad_input;
use super::data::{self, Target};
use super::generate::Plan;
use crate::app::AppState;
use crate::auth::policy::Policy;
use crate::services::error::{ServiceError, ServiceResult};
use crate::store::clients::{InstanceGrant, NewClient};
use crate::store::tenants::Tenant;
use axum::body::Body;
use axum::http::{header, Method, Request};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use tower::ServiceExt;

/// The API client seeded writes are made (and audited) as. Its secret is random and never
/// shown, so nobody can obtain a token for it over HTTP.
pub const SEED_CLIENT: &str = "openwelkin-emulator";

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub requests: Vec<FixtureRequest>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureRequest {
    /// Names the answer for later `{{id.field}}` references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl Fixture {
    pub fn parse(text: &str) -> ServiceResult<Fixture> {
        let fixture: Fixture = serde_json::from_str(text).map_err(|e| bad_input(format!("invalid fixture: {e}")))?;
        fixture.check()?;
        Ok(fixture)
    }

    /// Checks what can be checked before anything is written.
    pub fn check(&self) -> ServiceResult<()> {
        let mut named: Vec<&str> = Vec::new();
        let (mut fixed_ids, mut fixed_at): (Vec<String>, Vec<usize>) = (Vec::new(), Vec::new());
        for (n, r) in self.requests.iter().enumerate() {
            let at = |m: String| bad_input(format!("fixture request {n}: {m}"));
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&r.method.as_str()) {
                return Err(at(format!("method {:?} is not one of GET, POST, PUT, PATCH, DELETE", r.method)));
            }
            let mut used = Vec::new();
            references(&Value::String(r.path.clone()), &mut used);
            if let Some(b) = &r.body {
                references(b, &mut used);
            }
            if let Some(missing) = used.iter().find(|u| !named.contains(&u.split('.').next().unwrap_or_default())) {
                return Err(at(format!("{{{{{missing}}}}} refers to no earlier request id")));
            }
            if let Some(id) = &r.id {
                named.push(id);
            }
            if let Some(fixed) = fixed_id(r) {
                let fixed = fixed.map_err(at)?;
                if let Some(first) = fixed_ids.iter().position(|f| *f == fixed) {
                    return Err(at(format!("the id {fixed} is already fixed by request {}", fixed_at[first])));
                }
                fixed_ids.push(fixed);
                fixed_at.push(n);
            }
        }
        Ok(())
    }
}

/// The id a create request fixes for its record (`"id"` in a POST body), checked to be a
/// UUID: `None` when it fixes none; a reference (`{{…}}`) is checked once replaced.
fn fixed_id(r: &FixtureRequest) -> Option<Result<String, String>> {
    if r.method != "POST" {
        return None;
    }
    let value = r.body.as_ref()?.get("id")?;
    Some(match value.as_str() {
        Some(s) if s.contains("{{") => return None,
        Some(s) if crate::ids::is_uuid(s) => Ok(s.to_ascii_lowercase()),
        _ => Err(format!("\"id\" must be a UUID to fix the id of the record it creates, not {value}")),
    })
}

/// Takes the fixed id out of a create's body (the API itself refuses a client-chosen
/// id) and checks it: a UUID that no record uses. Rows of instances a reset retired are
/// swept first, so that a reset followed by the same seed fixes the same ids again.
async fn take_fixed_id(state: &AppState, body: &mut Option<Value>) -> Result<Option<String>, String> {
    let Some(Value::Object(map)) = body else { return Ok(None) };
    let Some(value) = map.remove("id") else { return Ok(None) };
    let id = match value.as_str() {
        Some(s) if crate::ids::is_uuid(s) => s.to_ascii_lowercase(),
        _ => return Err(format!("\"id\" must be a UUID to fix the id of the record it creates, not {value}")),
    };
    let mut uses = state.db.id_in_use(&id).await.map_err(|e| e.to_string())?;
    if !uses.is_empty() && uses.iter().all(|(_, retired)| *retired) {
        let target = Target {
            db: state.db.clone(),
            clock: state.clock.clone(),
            files: state.files.clone(),
            actor: crate::events::audit::Actor::system(),
        };
        data::sweep(&target).await.map_err(|e| e.to_string())?;
        uses = state.db.id_in_use(&id).await.map_err(|e| e.to_string())?;
    }
    match uses.first() {
        None => Ok(Some(id)),
        Some((table, _)) => Err(format!("the id {id} is already used by a record ({table})")),
    }
}

/// Every `{{ref}}` in the strings of `v`.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(end) = rest[start..].find("}}") else { break };
                out.push(rest[start + 2..start + end].trim().to_string());
                rest = &rest[start + end + 2..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        Value::Object(o) => o.values().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn lookup<'a>(answers: &'a HashMap<String, Value>, reference: &str) -> Option<&'a Value> {
    let mut parts = reference.split('.');
    let mut v = answers.get(parts.next()?)?;
    for p in parts {
        v = match v {
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            other => other.get(p)?,
        };
    }
    Some(v)
}

/// Replaces references: a string that is one whole reference takes the referenced value
/// (of any type); references inside longer strings are replaced by their text.
fn substitute(v: &Value, answers: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1 {
                let r = t[2..t.len() - 2].trim();
                return lookup(answers, r).cloned().ok_or_else(|| format!("{{{{{r}}}}} is not in that answer"));
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(end) = rest[start..].find("}}") else { break };
                let r = rest[start + 2..start + end].trim();
                let value = lookup(answers, r).ok_or_else(|| format!("{{{{{r}}}}} is not in that answer"))?;
                out.push_str(&rest[..start]);
                out.push_str(&value.as_str().map(String::from).unwrap_or_else(|| value.to_string()));
                rest = &rest[start + end + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, answers)).collect::<Result<_, _>>()?),
        Value::Object(o) => Value::Object(
            o.iter().map(|(k, x)| Ok((k.clone(), substitute(x, answers)?))).collect::<Result<Map<_, _>, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A token for the tenant's seeding client, created on first use.
async fn seed_token(state: &AppState, tenant: &Tenant) -> ServiceResult<String> {
    let now = state.clock.now_ms();
    let client = match state.db.client_by_name(&tenant.id, SEED_CLIENT).await? {
        Some(c) => c,
        None => {
            let new = NewClient {
                id: crate::ids::new_id(),
                tenant_id: &tenant.id,
                name: SEED_CLIENT,
                secret_hash: crate::auth::secrets::hash(&crate::auth::secrets::generate()),
                policy: &Policy::all_access(),
                instances: &InstanceGrant::All,
            };
            // Two seeds racing to create it: the loser reads the winner's.
            if let Err(e) = state.db.create_client(new, now).await {
                if !crate::store::is_unique_violation(&e) {
                    return Err(e.into());
                }
            }
            state
                .db
                .client_by_name(&tenant.id, SEED_CLIENT)
                .await?
                .ok_or_else(|| ServiceError::internal("the seeding client vanished"))?
        }
    };
    if !client.enabled {
        return Err(bad_input(format!("the API client {SEED_CLIENT} is disabled in this tenant")));
    }
    Ok(state.signer.issue(&client.id, &tenant.id, &client.name, client.secret_version, now / 1000).0)
}

/// What a seed did.
#[derive(Debug, Default)]
pub struct Seeded {
    pub requests: usize,
    pub created: usize,
}

/// Replays `fixture` into the instance through `router` (the server's, as
/// `api::router` builds it). With `webhooks` false the writes queue no webhook events
/// (they are audited all the same).
pub async fn seed(
    state: &AppState,
    router: &axum::Router,
    tenant_name: &str,
    instance_name: &str,
    fixture: &Fixture,
    webhooks: bool,
) -> ServiceResult<Seeded> {
    fixture.check()?;
    let tenant = data::tenant(&state.db, tenant_name).await?;
    data::instance(&state.db, &tenant, instance_name).await?;
    let token = seed_token(state, &tenant).await?;
    let target = Target {
        db: state.db.clone(),
        clock: state.clock.clone(),
        files: state.files.clone(),
        actor: crate::events::audit::Actor::system(),
    };
    let rollback = format!("_seed-rollback-{}", crate::ids::new_id());
    data::save(&target, tenant_name, instance_name, &rollback).await?;
    let run = replay(state, router, &tenant, instance_name, &token, fixture);
    let (outcome, users) = if webhooks { run.await } else { crate::events::without_webhooks(run).await };
    let outcome = outcome.map(|(seeded, _)| seeded);
    if outcome.is_err() {
        data::restore(&target, tenant_name, instance_name, &rollback).await?;
        for id in users {
            let path = format!("/{}/admin/users/{id}?type=ID", tenant.name);
            let _ = call(router, &token, Method::DELETE, &path, None).await;
        }
    }
    data::delete(&target, tenant_name, instance_name, &rollback).await?;
    outcome
}

async fn replay(
    state: &AppState,
    router: &axum::Router,
    tenant: &Tenant,
    instance: &str,
    token: &str,
    fixture: &Fixture,
) -> (ServiceResult<(Seeded, HashMap<String, Value>)>, Vec<String>) {
    let mut answers: HashMap<String, Value> = HashMap::new();
    let mut users = Vec::new();
    let mut seeded = Seeded::default();
    for (n, r) in fixture.requests.iter().enumerate() {
        let fail = |m: String| bad_input(format!("fixture request {n} ({} {}): {m}", r.method, r.path));
        let path = match substitute(&Value::String(r.path.clone()), &answers) {
            Ok(Value::String(p)) => p,
            Ok(other) => other.to_string(),
            Err(m) => return (Err(fail(m)), users),
        };
        let path = match path.strip_prefix('/') {
            Some(abs) => format!("/{}", abs.replace("{tenant}", &tenant.name).replace("{instance}", instance)),
            None => format!("/{}/{instance}/{path}", tenant.name),
        };
        let mut body = match r.body.as_ref().map(|b| substitute(b, &answers)).transpose() {
            Ok(b) => b,
            Err(m) => return (Err(fail(m)), users),
        };
        let method = Method::from_bytes(r.method.as_bytes()).unwrap_or(Method::GET);
        let fixed = match method {
            Method::POST => match take_fixed_id(state, &mut body).await {
                Ok(f) => f,
                Err(m) => return (Err(fail(m)), users),
            },
            _ => None,
        };
        let outcome = match &fixed {
            None => call(router, token, method.clone(), &path, body).await,
            Some(id) => {
                let (outcome, taken) =
                    crate::ids::with_fixed_id(id.clone(), call(router, token, method.clone(), &path, body)).await;
                match outcome {
                    Ok((status, _)) if status.is_success() && !taken => {
                        return (
                            Err(fail(format!("creates no record whose id a fixture can fix (\"id\": {id})"))),
                            users,
                        )
                    }
                    other => other,
                }
            }
        };
        let (status, answer) = match outcome {
            Ok(x) => x,
            Err(e) => return (Err(e), users),
        };
        if !status.is_success() {
            // Welkin errors are an array of {message, …}; their messages say it best.
            let said = answer
                .as_array()
                .map(|errors| errors.iter().filter_map(|e| e["message"].as_str()).collect::<Vec<_>>().join("; "))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| answer.to_string());
            return (Err(fail(format!("answered {}: {said}", status.as_u16()))), users);
        }
        seeded.requests += 1;
        if method == Method::POST {
            seeded.created += 1;
            if path.ends_with("/admin/users") {
                if let Some(id) = answer.get("id").and_then(Value::as_str) {
                    users.push(id.to_string());
                }
            }
        }
        if let Some(id) = &r.id {
            answers.insert(id.clone(), answer);
        }
    }
    (Ok((seeded, answers)), users)
}

async fn call(
    router: &axum::Router,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> ServiceResult<(axum::http::StatusCode, Value)> {
    let mut req = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let req = req.body(body).map_err(|e| bad_input(format!("invalid request path {path:?}: {e}")))?;
    let resp = router.clone().oneshot(req).await.map_err(ServiceError::internal)?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.map_err(ServiceError::internal)?;
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    Ok((status, value))
}

/// Patients written per transaction by `seed_plan`: with their records and audit rows
/// about 1,000 to 2,000 rows, so a transaction holds the writer for a fraction of a second.
const PATIENTS_PER_BATCH: usize = 250;

/// Seeds a generated plan: the care team through the router (as `seed` does), then the
/// patients and their records written directly, `PATIENTS_PER_BATCH` patients a
/// transaction, each record with its data audit row (and outbox event, with `webhooks`)
/// in the same transaction. The records are built by the same domain code as the API
/// handlers, so they read back exactly as if they had been posted. All or nothing, like
/// `seed`: a failure restores the instance and removes the users the seed created.
pub async fn seed_plan(
    state: &AppState,
    router: &axum::Router,
    tenant_name: &str,
    instance_name: &str,
    plan: &Plan,
    webhooks: bool,
) -> ServiceResult<Seeded> {
    let tenant = data::tenant(&state.db, tenant_name).await?;
    data::instance(&state.db, &tenant, instance_name).await?;
    let token = seed_token(state, &tenant).await?;
    let target = Target {
        db: state.db.clone(),
        clock: state.clock.clone(),
        files: state.files.clone(),
        actor: crate::events::audit::Actor::system(),
    };
    let rollback = format!("_seed-rollback-{}", crate::ids::new_id());
    data::save(&target, tenant_name, instance_name, &rollback).await?;
    let run = async {
        let (team, users) = replay(state, router, &tenant, instance_name, &token, &plan.team_fixture()).await;
        let outcome = match team {
            Ok((mut seeded, _)) => {
                write_patients(state, &tenant, instance_name, plan).await.map(|(requests, created)| {
                    seeded.requests += requests;
                    seeded.created += created;
                    seeded
                })
            }
            Err(e) => Err(e),
        };
        (outcome, users)
    };
    let (outcome, users) = if webhooks { run.await } else { crate::events::without_webhooks(run).await };
    if outcome.is_err() {
        data::restore(&target, tenant_name, instance_name, &rollback).await?;
        for id in users {
            let path = format!("/{}/admin/users/{id}?type=ID", tenant.name);
            let _ = call(router, &token, Method::DELETE, &path, None).await;
        }
    }
    data::delete(&target, tenant_name, instance_name, &rollback).await?;
    outcome
}

/// One write waiting for its audit row.
struct Audited {
    entity: &'static str,
    subtype: Option<&'static str>,
    record_id: String,
    patient: usize,
    cdt_name: Option<String>,
    cdt_relation: Option<String>,
    record: Value,
    now_ms: i64,
}

/// A care-team member as the patients' records refer to them.
struct Owner {
    id: String,
    name: String,
}

/// Writes the plan's patients in batches; answers (requests, records created) as the
/// replay would count them.
async fn write_patients(
    state: &AppState,
    tenant: &Tenant,
    instance_name: &str,
    plan: &Plan,
) -> ServiceResult<(usize, usize)> {
    use crate::designer::data_type::stable_id;
    use crate::domain::calendar as cal;
    use crate::domain::chat::{self, Message};
    use crate::domain::patient::Patient;
    use crate::domain::records;
    use crate::events::audit::{Actor, DataEvent, Operation};
    use crate::store::records::{DtKind, Scope};

    let db = &state.db;
    let instance = data::instance(db, tenant, instance_name).await?;
    let client = db
        .client_by_name(&tenant.id, SEED_CLIENT)
        .await?
        .ok_or_else(|| ServiceError::internal("the seeding client vanished"))?;
    let actor = Actor::api_client(&client.id, &client.name);
    let actor_name = actor.full_name();
    let mut owners = Vec::new();
    for m in &plan.team {
        let u = db
            .user(&tenant.id, &m.username, false)
            .await?
            .ok_or_else(|| bad_input(format!("the care-team user {} was not created", m.username)))?;
        let name = match (&u.first_name, &u.last_name) {
            (None, None) => u.username.clone(),
            (f, l) => {
                format!("{} {}", f.as_deref().unwrap_or_default(), l.as_deref().unwrap_or_default()).trim().to_string()
            }
        };
        owners.push(Owner { id: u.id, name });
    }
    let formation = db.current_formation(&instance.id).await?;
    let designer = &formation.designer;
    let bad =
        |what: &str, i: usize, e: crate::domain::FieldError| bad_input(format!("generated {what} of patient {i}: {e}"));
    let cdt = match &plan.cdt {
        Some(name) => Some(
            designer
                .data_type(crate::designer::Kind::Cdts, name)
                .cloned()
                .ok_or_else(|| bad_input(format!("the formation has no CDT {name:?}")))?,
        ),
        None => None,
    };
    let template = match &plan.template {
        Some(name) => Some(
            designer
                .encounter_template(name)
                .ok_or_else(|| bad_input(format!("the formation has no encounter template {name:?}")))?,
        ),
        None => None,
    };
    let disposition_type = designer.disposition();
    // Every encounter links its template's assessments by name and title: the titles are
    // looked up once (a lookup normalizes and parses the assessment).
    let assessment_links: Vec<(String, String)> = template
        .iter()
        .flat_map(|t| &t.assessment_names)
        .map(|name| (name.clone(), designer.assessment(name).map(|a| a.title).unwrap_or_default()))
        .collect();
    let owned = |id: &str, encounter_id: &str, now: &str, fields: Map<String, Value>| {
        crate::domain::encounter::owned_body(id, encounter_id, now, &actor.id, &actor_name, fields)
    };
    let (mut requests, mut created) = (0usize, 0usize);
    for (batch_no, batch) in plan.patients.chunks(PATIENTS_PER_BATCH).enumerate() {
        let first = batch_no * PATIENTS_PER_BATCH;
        let mut tx = db.begin_bulk().await?;
        // On PostgreSQL the batch's rows go out with its COMMIT, pipelined: one round trip
        // for about 1,500 statements instead of one each.
        tx.defer_executes();
        let mut patients: Vec<Patient> = Vec::with_capacity(batch.len());
        let mut audited: Vec<Audited> = Vec::new();
        for (k, planned) in batch.iter().enumerate() {
            let i = first + k;
            let owner = &owners[planned.owner];
            let now_ms = state.clock.now_ms();
            let now = crate::time::format_ms(now_ms);
            let body = planned.body.as_object().cloned().unwrap_or_default();
            let mut p = Patient::blank(crate::ids::new_id(), &now, &actor.id, &actor_name);
            p.apply(&body, true).map_err(|e| bad("patient", i, e))?;
            crate::store::patients::insert(
                &mut tx,
                &tenant.id,
                &instance.id,
                &p,
                &crate::store::patients::stored_body(&p),
                now_ms,
                crate::store::patients::Send::Now,
            )
            .await
            .map_err(|e| taken_or(e, first, batch))?;
            let pk = patients.len();
            audited.push(Audited {
                entity: "PATIENT",
                subtype: None,
                record_id: p.id.clone(),
                patient: pk,
                cdt_name: None,
                cdt_relation: None,
                record: serde_json::to_value(&p).map_err(ServiceError::internal)?,
                now_ms,
            });
            (requests, created) = (requests + 1, created + 1);
            if let (Some(dt), Some(input)) = (&cdt, &planned.cdt_record) {
                let id = crate::ids::new_id();
                let mut body = records::blank_body(dt, &id, &now, &actor.id, &actor_name);
                let input = input.as_object().cloned().unwrap_or_default();
                records::apply(dt, &mut body, &input, true, &[("cdtName", &dt.name)], &Default::default())
                    .map_err(|e| bad("CDT record", i, e))?;
                let scope = Scope {
                    tenant_id: &tenant.id,
                    instance_id: &instance.id,
                    kind: DtKind::Cdt,
                    dt_name: &dt.name,
                    patient_id: Some(Some(&p.id)),
                };
                crate::store::records::insert(&mut tx, &scope, &id, formation.version, &body, now_ms).await?;
                let record = records::envelope(
                    &id,
                    Some(&p.id),
                    &dt.id(&dt.relation_or("COMMON")),
                    formation.version,
                    &body,
                    &dt.name,
                );
                audited.push(Audited {
                    entity: "CDT",
                    subtype: None,
                    record_id: id,
                    patient: pk,
                    cdt_name: Some(dt.name.clone()),
                    cdt_relation: Some(dt.relation_or("COMMON")),
                    record,
                    now_ms,
                });
                (requests, created) = (requests + 1, created + 1);
            }
            if let (Some(template), Some(title)) = (&template, &planned.encounter_title) {
                use crate::domain::encounter::{DISPOSITION, ENCOUNTER, LINK};
                let id = crate::ids::new_id();
                let disposition_id = crate::ids::new_id();
                let local = crate::time::format_local_ms(now_ms, p.timezone.as_deref());
                let fields = crate::domain::encounter::draft_fields(
                    template,
                    crate::domain::encounter::Draft {
                        title: json!(title),
                        description: Value::Null,
                        notes: Value::Null,
                        disposition_id: &disposition_id,
                        owner_id: Some(&owner.id),
                        owner_name: Some(&owner.name),
                        local_now: &local,
                    },
                );
                let mut encounter_body = owned(&id, &id, &now, fields);
                for k in ["source_type", "source_name", "source_id"] {
                    encounter_body.insert(k.into(), Value::Null);
                }
                let encounter = crate::store::encounters::StoredEncounter {
                    id: id.clone(),
                    patient_id: p.id.clone(),
                    version: formation.version,
                    body: encounter_body,
                };
                let mut disposition = owned(&disposition_id, &id, &now, Map::new());
                for f in &disposition_type.fields {
                    disposition.insert(f.name.clone(), Value::Null);
                }
                let scope_of = |name| Scope {
                    tenant_id: &tenant.id,
                    instance_id: &instance.id,
                    kind: DtKind::Internal,
                    dt_name: name,
                    patient_id: Some(Some(&p.id)),
                };
                crate::store::encounters::insert(&mut tx, &tenant.id, &instance.id, &encounter, now_ms).await?;
                crate::store::records::insert(
                    &mut tx,
                    &scope_of(DISPOSITION),
                    &disposition_id,
                    formation.version,
                    &disposition,
                    now_ms,
                )
                .await?;
                for (name, title) in &assessment_links {
                    let link = crate::domain::encounter::link_fields(name, title.clone(), None, true);
                    let link_id = crate::ids::new_id();
                    let link_body = owned(&link_id, &id, &now, link);
                    crate::store::records::insert(
                        &mut tx,
                        &scope_of(LINK),
                        &link_id,
                        formation.version,
                        &link_body,
                        now_ms,
                    )
                    .await?;
                }
                let record = records::envelope(
                    &id,
                    Some(&p.id),
                    &stable_id(&format!("INTERNAL:{ENCOUNTER}")),
                    formation.version,
                    &encounter.body,
                    ENCOUNTER,
                );
                audited.push(Audited {
                    entity: "ENCOUNTER",
                    subtype: None,
                    record_id: id,
                    patient: pk,
                    cdt_name: Some(ENCOUNTER.into()),
                    cdt_relation: Some("ENCOUNTER".into()),
                    record,
                    now_ms,
                });
                (requests, created) = (requests + 1, created + 1);
            }
            if let Some(line) = planned.chat {
                let text = chat::parse_inbound(&json!({"message": line}).as_object().cloned().unwrap_or_default())
                    .map_err(|e| bad("chat message", i, e))?;
                let m = Message::from_patient(&p.id, text, now_ms);
                crate::store::chat::insert(&mut tx, &tenant.id, &instance.id, &m).await?;
                audited.push(Audited {
                    entity: "CHAT_MESSAGE",
                    subtype: None,
                    record_id: m.id.clone(),
                    patient: pk,
                    cdt_name: None,
                    cdt_relation: None,
                    record: m.audit_record(),
                    now_ms,
                });
                (requests, created) = (requests + 1, created + 1);
            }
            if let Some((start, end)) = planned.visit {
                let body = super::generate::visit_body(start, end, &owner.id, &p.id);
                let body = body.as_object().cloned().unwrap_or_default();
                let mut event = cal::blank_event(&crate::ids::new_id(), &now, &actor.id);
                cal::apply_event(&mut event, &body, true, &now, &mut crate::ids::new_id)
                    .map_err(|e| bad("calendar visit", i, e))?;
                crate::store::calendar::insert_event(&mut tx, &tenant.id, &instance.id, &event, now_ms).await?;
                let id = event["id"].as_str().unwrap_or_default().to_string();
                audited.push(Audited {
                    entity: "CALENDAR",
                    subtype: Some("CALENDAR_EVENT_CREATED"),
                    record_id: id,
                    patient: pk,
                    cdt_name: None,
                    cdt_relation: None,
                    record: event,
                    now_ms,
                });
                (requests, created) = (requests + 1, created + 1);
            }
            patients.push(p);
        }
        let names: Vec<String> = patients.iter().map(Patient::full_name).collect();
        let events: Vec<(DataEvent<'_>, i64)> = audited
            .iter()
            .map(|a| {
                (
                    DataEvent {
                        tenant_id: &tenant.id,
                        instance: Some(&instance.name),
                        entity: a.entity,
                        operation: Operation::Create,
                        actor: &actor,
                        record_id: &a.record_id,
                        patient_id: Some(&patients[a.patient].id),
                        patient_full_name: Some(names[a.patient].clone()),
                        cdt_name: a.cdt_name.as_deref(),
                        cdt_relation: a.cdt_relation.as_deref(),
                        record: (&a.record).into(),
                        subtype: a.subtype,
                    },
                    a.now_ms,
                )
            })
            .collect();
        crate::store::audit::record_writes(&mut tx, &events).await?;
        tx.commit().await.map_err(|e| taken_or(e, first, batch))?;
    }
    Ok((requests, created))
}

/// A unique key the generated patients of `batch` (from number `first`) collide on: their
/// externalIds are `seed-<seed>-<n>`, so seeding an instance twice with the same seed
/// number does. Answered clearly, naming the externalIds; any other error as it is. With
/// the rows deferred to the commit on PostgreSQL, only the batch is known, not the row.
fn taken_or(e: crate::store::sql::Error, first: usize, batch: &[super::generate::PlannedPatient]) -> ServiceError {
    if !crate::store::is_unique_violation(&e) {
        return e.into();
    }
    let external_id = |p: Option<&super::generate::PlannedPatient>| {
        p.and_then(|p| p.body["externalId"].as_str()).unwrap_or_default().to_string()
    };
    bad_input(format!(
        "fixture requests for generated patients {first} to {} (POST patients, externalIds {} to {}): answered 409: \
         another patient of the instance already has one of these externalIds; seed with another seed number or \
         reset the instance first",
        first + batch.len().saturating_sub(1),
        external_id(batch.first()),
        external_id(batch.last()),
    ))
}
