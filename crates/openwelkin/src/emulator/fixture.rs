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

use super::data::{self, Target};
use super::EmulatorError;
use crate::api::AppState;
use crate::auth::policy::Policy;
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
    pub fn parse(text: &str) -> Result<Fixture, EmulatorError> {
        let fixture: Fixture =
            serde_json::from_str(text).map_err(|e| EmulatorError::BadInput(format!("invalid fixture: {e}")))?;
        fixture.check()?;
        Ok(fixture)
    }

    /// Checks what can be checked before anything is written.
    pub fn check(&self) -> Result<(), EmulatorError> {
        let mut named: Vec<&str> = Vec::new();
        for (n, r) in self.requests.iter().enumerate() {
            let at = |m: String| EmulatorError::BadInput(format!("fixture request {n}: {m}"));
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
        }
        Ok(())
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
async fn seed_token(state: &AppState, tenant: &Tenant) -> Result<String, EmulatorError> {
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
                .ok_or_else(|| anyhow::anyhow!("the seeding client vanished"))?
        }
    };
    if !client.enabled {
        return Err(EmulatorError::BadInput(format!("the API client {SEED_CLIENT} is disabled in this tenant")));
    }
    Ok(state.signer.issue(&client.id, &tenant.id, &client.name, client.secret_version, now / 1000).0)
}

/// What a seed did.
#[derive(Debug, Default)]
pub struct Seeded {
    pub requests: usize,
    pub created: usize,
}

/// Replays `fixture` into the instance. With `webhooks` false the writes queue no
/// webhook events (they are audited all the same).
pub async fn seed(
    state: &AppState,
    tenant_name: &str,
    instance_name: &str,
    fixture: &Fixture,
    webhooks: bool,
) -> Result<Seeded, EmulatorError> {
    fixture.check()?;
    let tenant = data::tenant(&state.db, tenant_name).await?;
    data::instance(&state.db, &tenant, instance_name).await?;
    let token = seed_token(state, &tenant).await?;
    let target = Target { db: state.db.clone(), clock: state.clock.clone(), files: state.files.clone() };
    let rollback = format!("_seed-rollback-{}", crate::ids::new_id());
    data::save(&target, tenant_name, instance_name, &rollback).await?;
    let router = crate::api::router(state.clone());
    let run = replay(&router, &tenant, instance_name, &token, fixture);
    let (outcome, users) = if webhooks { run.await } else { crate::events::without_webhooks(run).await };
    if outcome.is_err() {
        data::restore(&target, tenant_name, instance_name, &rollback).await?;
        for id in users {
            let path = format!("/{}/admin/users/{id}?type=ID", tenant.name);
            let _ = call(&router, &token, Method::DELETE, &path, None).await;
        }
    }
    data::delete(&target, tenant_name, instance_name, &rollback).await?;
    outcome
}

async fn replay(
    router: &axum::Router,
    tenant: &Tenant,
    instance: &str,
    token: &str,
    fixture: &Fixture,
) -> (Result<Seeded, EmulatorError>, Vec<String>) {
    let mut answers: HashMap<String, Value> = HashMap::new();
    let mut users = Vec::new();
    let mut seeded = Seeded::default();
    for (n, r) in fixture.requests.iter().enumerate() {
        let fail = |m: String| EmulatorError::BadInput(format!("fixture request {n} ({} {}): {m}", r.method, r.path));
        let path = match substitute(&Value::String(r.path.clone()), &answers) {
            Ok(Value::String(p)) => p,
            Ok(other) => other.to_string(),
            Err(m) => return (Err(fail(m)), users),
        };
        let path = match path.strip_prefix('/') {
            Some(abs) => format!("/{}", abs.replace("{tenant}", &tenant.name).replace("{instance}", instance)),
            None => format!("/{}/{instance}/{path}", tenant.name),
        };
        let body = match r.body.as_ref().map(|b| substitute(b, &answers)).transpose() {
            Ok(b) => b,
            Err(m) => return (Err(fail(m)), users),
        };
        let method = Method::from_bytes(r.method.as_bytes()).unwrap_or(Method::GET);
        let (status, answer) = match call(router, token, method.clone(), &path, body).await {
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
    (Ok(seeded), users)
}

async fn call(
    router: &axum::Router,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(axum::http::StatusCode, Value), EmulatorError> {
    let mut req = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let req = req.body(body).map_err(|e| EmulatorError::BadInput(format!("invalid request path {path:?}: {e}")))?;
    let resp = router.clone().oneshot(req).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    Ok((status, value))
}
