//! What other use cases need of chat: the users a message names, writing a care-team
//! message with its audit row, and announcing it to the instance's chat webhook after the
//! commit (in the background; a failed delivery never fails the request).

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::chat::{self, Message};
use crate::domain::patient::Patient;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::chat::{self as store, ChatWebhook};
use serde_json::{json, Value};
use std::time::Duration;

/// A user's display name: "First Last", else the username.
pub fn display_name(u: &User) -> String {
    let name = [u.first_name.as_deref(), u.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        u.username.clone()
    } else {
        name
    }
}

/// The user `field` names, checked to exist in the tenant.
pub async fn user_named_by(
    state: &AppState,
    ctx: &InstanceScope,
    component: &str,
    field: &str,
    id: &str,
) -> ServiceResult<User> {
    let found = state.db.users_by_ids(&ctx.tenant.id, &[id.to_string()]).await?;
    found.into_iter().next().ok_or_else(|| {
        ServiceError::invalid_field(component, FieldError::new(field, format!("user {id} does not exist")))
    })
}

/// A care-team message to `p`, from a user or (without one) the calling API client.
pub fn care_team_message(
    ctx: &InstanceScope,
    p: &Patient,
    sender: Option<&User>,
    text: String,
    attachment_id: Option<String>,
    now_ms: i64,
) -> Message {
    let (sender_type, sender_id, sender_name) = match sender {
        Some(u) => (chat::USER, u.id.clone(), display_name(u)),
        None => (chat::API_CLIENT, ctx.client.id.clone(), ctx.actor().full_name()),
    };
    Message {
        id: crate::ids::new_id(),
        external_id: chat::new_external_id(),
        patient_id: p.id.clone(),
        sender_type: sender_type.into(),
        sender_id,
        sender_name: Some(sender_name),
        message: text,
        attachment_id,
        created_at_ms: now_ms,
        archived: false,
    }
}

/// Writes a care-team message in `tx` (with its audit row); the caller commits and then
/// calls [`announce`].
pub async fn insert_care_team_message(
    ctx: &InstanceScope,
    tx: &mut crate::store::Tx,
    p: &Patient,
    m: &Message,
    now_ms: i64,
) -> ServiceResult<()> {
    store::insert(tx, &ctx.tenant.id, &ctx.instance.id, m).await?;
    let record = m.audit_record();
    ctx.record(tx, Write { patient: Some(p), ..Write::new("CHAT_MESSAGE", Operation::Create, &m.id, &record) }, now_ms)
        .await?;
    Ok(())
}

/// Attempts per delivery, and the time each may take.
const DELIVERY_ATTEMPTS: u32 = 3;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client without TLS builds")
    })
}

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
    tokio::spawn(deliver(hook, body));
}

async fn deliver(hook: ChatWebhook, body: Value) {
    for attempt in 1..=DELIVERY_ATTEMPTS {
        let sent = http()
            .post(&hook.url)
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
            Err(e) => tracing::warn!(url = %hook.url, error = %e, attempt, "chat webhook failed"),
        }
        if attempt < DELIVERY_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }
}

#[cfg(test)]
mod tests {
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
