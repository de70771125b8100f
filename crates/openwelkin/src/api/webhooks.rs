//! Webhooks of an instance: the designer declares them, these routes (and the CLI)
//! activate them — inactive by default — and send a test payload. Activation answers the
//! webhook's signing secret, which receivers use to check `X-Openwelkin-Signature`. All
//! openwelkin extensions: Welkin configures webhooks in its admin UI.

use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use crate::app::AppState;
use crate::auth::policy::AdminFlag;
use crate::designer::objects::Webhook;
use crate::events::webhooks::{check_url, payload, record_of, secret, signature};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

async fn webhook(state: &AppState, ctx: &InstanceCaller, name: &str) -> ApiResult<Webhook> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    f.designer.webhook_list().into_iter().find(|w| w.name == name).ok_or_else(|| {
        ApiError::not_found("WEBHOOK_NOT_FOUND", "WEBHOOK", "No such webhook in the designer", json!({"name": name}))
    })
}

/// The designer's webhooks with their state in this instance.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/webhooks", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<Json<Vec<Value>>> {
    ctx.require_flag(AdminFlag::Webhooks)?;
    let f = state.db.current_formation(&ctx.instance.id).await?;
    let active = state.db.webhook_activations(&ctx.instance.id).await?;
    Ok(Json(
        f.designer
            .webhook_list()
            .iter()
            .map(|w| {
                let mut r = record_of(w, active.iter().any(|a| a.webhook_name == w.name && a.active));
                r["events"] = json!(w.events);
                r
            })
            .collect(),
    ))
}

async fn set(state: &AppState, ctx: &InstanceCaller, name: &str, active: bool) -> ApiResult<Value> {
    ctx.require_flag(AdminFlag::Webhooks)?;
    let w = webhook(state, ctx, name).await?;
    if active {
        check_url(&w.url, state.webhooks.allow_private)
            .await
            .map_err(|reason| ApiError::invalid_field("WEBHOOK", crate::domain::FieldError::new("url", reason)))?;
    }
    let now_ms = state.clock.now_ms();
    let version = state.db.set_webhook_active(&ctx.instance.id, name, active, now_ms).await?;
    let mut out = record_of(&w, active);
    if active {
        let key = state.db.signing_key(now_ms).await?;
        out["signingSecret"] = json!(secret(&key, &ctx.instance.id, name, version));
    }
    let subject = ctx.actor();
    let event = crate::events::audit::SecurityEvent {
        tenant_id: &ctx.tenant.id,
        subtype: if active { "WEBHOOK_ACTIVATED" } else { "WEBHOOK_DEACTIVATED" },
        subject: &subject,
        object: None,
        record: json!({"instance": ctx.instance.name, "webhook": name}),
    };
    state.db.record_security_event(&event, now_ms).await?;
    Ok(out)
}

/// Activate a webhook in this instance; answers its signing secret.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/webhooks/{name}/activate", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn activate(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(set(&state, &ctx, &path.2, true).await?))
}

/// Deactivate a webhook in this instance; pending deliveries are given up.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/webhooks/{name}/deactivate", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn deactivate(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(set(&state, &ctx, &path.2, false).await?))
}

/// Send the test payload (placeholder values, as Welkin's test button does) now and
/// answer what the receiver said.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/webhooks/{name}/test", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn test(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require_flag(AdminFlag::Webhooks)?;
    let w = webhook(&state, &ctx, &path.2).await?;
    check_url(&w.url, state.webhooks.allow_private)
        .await
        .map_err(|reason| ApiError::invalid_field("WEBHOOK", crate::domain::FieldError::new("url", reason)))?;
    let mut event = Map::new();
    for (k, v) in [
        ("sourceId", "SOURCE_ID"),
        ("patientId", "PATIENT_ID"),
        ("sourceName", "SOURCE_NAME"),
        ("eventEntity", "EVENT_ENTITY"),
        ("eventSubtype", "EVENT_SUBTYPE"),
        ("url", "URL"),
    ] {
        event.insert(k.into(), json!(v));
    }
    event.insert("tenantName".into(), json!(ctx.tenant.name));
    event.insert("instanceName".into(), json!(ctx.instance.name));
    let body = payload(&w, &event).to_string();
    let now_ms = state.clock.now_ms();
    let key = state.db.signing_key(now_ms).await?;
    let version = state
        .db
        .webhook_activations(&ctx.instance.id)
        .await?
        .into_iter()
        .find(|a| a.webhook_name == w.name)
        .map(|a| a.secret_version)
        .unwrap_or(1);
    let http = reqwest::Client::builder()
        .timeout(state.webhooks.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ApiError::internal)?;
    let mut req = http
        .post(&w.url)
        .query(&w.query_parameters.iter().map(|q| (q.name.clone(), q.value.clone())).collect::<Vec<_>>())
        .header("content-type", "application/json")
        .header(
            "x-openwelkin-signature",
            signature(&secret(&key, &ctx.instance.id, &w.name, version), now_ms / 1000, &body),
        )
        .body(body);
    for h in &w.headers {
        req = req.header(h.name.as_str(), h.value.as_str());
    }
    Ok(Json(match req.send().await {
        Ok(resp) => {
            let code = resp.status();
            json!({"status": if code.is_success() { "DELIVERED" } else { "FAILED" }, "statusCode": code.as_u16(), "response": resp.text().await.unwrap_or_default()})
        }
        Err(e) => json!({"status": "FAILED", "statusCode": null, "response": format!("request failed: {e}")}),
    }))
}
