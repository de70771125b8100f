//! The instance's chat webhook: its configuration (read, set, remove; an openwelkin
//! extension) and the announcement of each care-team message to it after the commit, in
//! the background, so that a failed delivery never fails the request. Sent as designer
//! webhooks are (`net::ssrf`): TLS with the server's trust, public addresses only unless
//! `serve --allow-private-webhooks`.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::chat::{self as store, ChatWebhook};
use serde_json::{json, Map, Value};
use std::time::Duration;

const COMPONENT: &str = "CHAT";

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

fn webhook_not_found(instance: &str) -> ServiceError {
    ServiceError::not_found(
        "CHAT_WEBHOOK_NOT_FOUND",
        COMPONENT,
        "No chat webhook is configured",
        json!({"instanceName": instance}),
    )
}

/// The instance's chat webhook, without its secret.
pub async fn read_webhook(state: &AppState, ctx: &InstanceScope) -> ServiceResult<Value> {
    let hook = state.db.chat_webhook(&ctx.instance.id).await?.ok_or_else(|| webhook_not_found(&ctx.instance.name))?;
    Ok(store::webhook_view(&hook))
}

/// Sets the instance's chat webhook; answers it without its secret.
pub async fn put_webhook(state: &AppState, ctx: &InstanceScope, body: &Map<String, Value>) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let hook =
        parse_webhook(body, crate::time::format_ms(now_ms), actor.id.clone(), actor.full_name()).map_err(invalid)?;
    let view = store::webhook_view(&hook);
    let mut tx = state.db.begin().await?;
    store::put_webhook(&mut tx, &ctx.tenant.id, &ctx.instance.id, &hook, now_ms).await?;
    ctx.record(&mut tx, Write::new("CHAT_WEBHOOK", Operation::Update, &ctx.instance.id, &view), now_ms).await?;
    tx.commit().await?;
    Ok(view)
}

/// Removes the instance's chat webhook.
pub async fn delete_webhook(state: &AppState, ctx: &InstanceScope) -> ServiceResult<()> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let hook =
        store::delete_webhook(&mut tx, &ctx.instance.id).await?.ok_or_else(|| webhook_not_found(&ctx.instance.name))?;
    let view = store::webhook_view(&hook);
    ctx.record(&mut tx, Write::new("CHAT_WEBHOOK", Operation::Delete, &ctx.instance.id, &view), now_ms).await?;
    tx.commit().await?;
    Ok(())
}

fn http_url(field: &str, value: &Value) -> Result<String, FieldError> {
    let url = crate::domain::fields::text(field, value)?;
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) || url.chars().any(char::is_whitespace) {
        return Err(FieldError::new(field, format!("{url:?} is not an http(s) URL")));
    }
    Ok(url)
}

fn parse_webhook(
    body: &serde_json::Map<String, Value>,
    now: String,
    actor_id: String,
    actor_name: String,
) -> Result<ChatWebhook, FieldError> {
    use crate::domain::fields;
    fields::reject_unknown(
        body,
        &["url", "apiKey", "apiSecret", "active", "publicBaseUrl"],
        &["apiSecretSet", "updatedAt", "updatedBy", "updatedByName"],
    )?;
    let url = http_url("url", body.get("url").ok_or_else(|| FieldError::new("url", "is required"))?)?;
    let opt = |k: &str| fields::opt_text(k, body.get(k).unwrap_or(&Value::Null));
    let public_base_url = match body.get("publicBaseUrl") {
        None | Some(Value::Null) => None,
        Some(v) => Some(http_url("publicBaseUrl", v)?.trim_end_matches('/').to_string()),
    };
    Ok(ChatWebhook {
        url,
        api_key: opt("apiKey")?.unwrap_or_default(),
        api_secret: opt("apiSecret")?.unwrap_or_default(),
        active: match body.get("active") {
            None => true,
            Some(v) => fields::boolean("active", v)?,
        },
        public_base_url,
        updated_at: now,
        updated_by: actor_id,
        updated_by_name: actor_name,
    })
}

/// Attempts per delivery, and the time each may take.
const DELIVERY_ATTEMPTS: u32 = 3;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The chat webhook payload, as Welkin sends it.
pub fn payload(base: &str, tenant: &str, instance: &str, patient_id: &str, message: &str) -> Value {
    json!({
        "patientId": patient_id,
        "patientUrl": format!("{}/{tenant}/{instance}/patients/{patient_id}", base.trim_end_matches('/')),
        "tenantName": tenant,
        "instanceName": instance,
        "message": message,
    })
}

/// Announces a care-team message to the instance's active chat webhook, if any. Called
/// after the commit; the delivery runs in the background (a few attempts, each bounded
/// by a timeout) and never fails the request. `request_base` (`scheme://host` the request
/// came to) makes `patientUrl` when the webhook has no public base URL.
pub async fn announce(state: &AppState, ctx: &InstanceScope, request_base: &str, p: &Patient, message: &str) {
    let hook = match state.db.chat_webhook(&ctx.instance.id).await {
        Ok(Some(h)) if h.active => h,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "chat webhook configuration could not be read");
            return;
        }
    };
    let base = hook.public_base_url.clone().unwrap_or_else(|| request_base.to_string());
    let body = payload(&base, &ctx.tenant.name, &ctx.instance.name, &p.id, message);
    // As designer webhooks: TLS with the server's trust, and only public addresses unless
    // `serve --allow-private-webhooks` (checked here for an IP literal, by the client's
    // resolver for a name).
    let settings = &state.webhooks;
    let url = match reqwest::Url::parse(&hook.url)
        .map_err(|e| e.to_string())
        .and_then(|u| crate::net::ssrf::check_literal(&u, settings.allow_private).map(|()| u))
    {
        Ok(url) => url,
        Err(refused) => {
            tracing::warn!(url = %hook.url, reason = %refused, "chat webhook not sent");
            return;
        }
    };
    let http = crate::net::ssrf::client(&settings.tls, settings.allow_private, DELIVERY_TIMEOUT);
    tokio::spawn(deliver(http, url, hook, body));
}

async fn deliver(http: reqwest::Client, url: reqwest::Url, hook: ChatWebhook, body: Value) {
    for attempt in 1..=DELIVERY_ATTEMPTS {
        let sent = http
            .post(url.clone())
            .header("X-WEBHOOK-API-KEY", &hook.api_key)
            .header("X-WEBHOOK-API-SECRET", &hook.api_secret)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                tracing::info!(url = %hook.url, status = %r.status(), "chat webhook delivered");
                return;
            }
            Ok(r) => tracing::warn!(url = %hook.url, status = %r.status(), attempt, "chat webhook refused"),
            Err(e) => {
                tracing::warn!(url = %hook.url, error = %crate::net::tls::describe(&e), attempt, "chat webhook failed")
            }
        }
        if attempt < DELIVERY_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn webhook_urls() {
        use super::http_url;
        use serde_json::json;
        assert!(http_url("url", &json!("https://x.org/hook")).is_ok());
        assert_eq!(http_url("url", &json!("ftp://x.org")).unwrap_err().field, "url");
        assert_eq!(http_url("url", &json!("http://")).unwrap_err().field, "url");
    }

    #[test]
    fn payloads() {
        let p = super::payload("http://h:1/", "t", "i", "p1", "hi");
        assert_eq!(p["patientUrl"], "http://h:1/t/i/patients/p1");
        assert_eq!(
            p.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["instanceName", "message", "patientId", "patientUrl", "tenantName"]
        );
    }
}
