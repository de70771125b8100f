//! Webhooks of an instance: the designer declares them; these use cases (and the CLI)
//! activate them — inactive by default — and send a test payload. Activation answers the
//! webhook's signing secret, which receivers use to check `X-Openwelkin-Signature`, and
//! is recorded as a security event. Delivery is `crate::events::webhooks`.

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::designer::views::Webhook;
use crate::domain::FieldError;
use crate::events::audit::SecurityEvent;
use crate::events::webhooks::{check_url, payload, record_of, secret, signature};
use serde_json::{json, Map, Value};

async fn webhook(state: &AppState, ctx: &InstanceScope, name: &str) -> ServiceResult<Webhook> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    f.designer.webhook_list().into_iter().find(|w| w.name == name).ok_or_else(|| {
        ServiceError::not_found(
            "WEBHOOK_NOT_FOUND",
            "WEBHOOK",
            "No such webhook in the designer",
            json!({"name": name}),
        )
    })
}

/// The webhook's URL must be one deliveries may go to (see `events::webhooks::check_url`).
async fn check_target(state: &AppState, w: &Webhook) -> ServiceResult<()> {
    check_url(&w.url, state.webhooks.allow_private)
        .await
        .map_err(|reason| ServiceError::invalid_field("WEBHOOK", FieldError::new("url", reason)))
}

/// The designer's webhooks with their state in this instance.
pub async fn list(state: &AppState, ctx: &InstanceScope) -> ServiceResult<Vec<Value>> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    let active = state.db.webhook_activations(&ctx.instance.id).await?;
    Ok(f.designer
        .webhook_list()
        .iter()
        .map(|w| {
            let mut r = record_of(w, active.iter().any(|a| a.webhook_name == w.name && a.active));
            r["events"] = json!(w.events);
            r
        })
        .collect())
}

/// Activates or deactivates the webhook `name` in this instance; an activation answers
/// its signing secret. Deactivation gives up pending deliveries.
pub async fn set_active(state: &AppState, ctx: &InstanceScope, name: &str, active: bool) -> ServiceResult<Value> {
    let w = webhook(state, ctx, name).await?;
    if active {
        check_target(state, &w).await?;
    }
    let now_ms = state.clock.now_ms();
    let version = state.db.set_webhook_active(&ctx.instance.id, name, active, now_ms).await?;
    let mut out = record_of(&w, active);
    if active {
        let key = state.db.signing_key(now_ms).await?;
        out["signingSecret"] = json!(secret(&key, &ctx.instance.id, name, version));
    }
    let subject = ctx.actor();
    let event = SecurityEvent {
        tenant_id: &ctx.tenant.id,
        subtype: if active { "WEBHOOK_ACTIVATED" } else { "WEBHOOK_DEACTIVATED" },
        subject: &subject,
        object: None,
        record: json!({"instance": ctx.instance.name, "webhook": name}),
    };
    state.db.record_security_event(&event, now_ms).await?;
    Ok(out)
}

/// Sends the webhook's test payload (placeholder values, as Welkin's test button does)
/// now and answers what the receiver said.
pub async fn test(state: &AppState, ctx: &InstanceScope, name: &str) -> ServiceResult<Value> {
    let w = webhook(state, ctx, name).await?;
    check_target(state, &w).await?;
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
    let http = crate::events::webhooks::http_client(&state.webhooks);
    let url = crate::events::webhooks::sendable(&w.url, &state.webhooks)
        .map_err(|reason| ServiceError::invalid_field("WEBHOOK", FieldError::new("url", reason)))?;
    let mut req = http
        .post(url)
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
    Ok(match req.send().await {
        Ok(resp) => {
            let code = resp.status();
            json!({"status": if code.is_success() { "DELIVERED" } else { "FAILED" }, "statusCode": code.as_u16(), "response": resp.text().await.unwrap_or_default()})
        }
        Err(e) => json!({"status": "FAILED", "statusCode": null, "response": crate::events::webhooks::failure(&e)}),
    })
}
