//! What other use cases need of email: the parties of an outbound email, a new
//! outbound record, and storing it with its audit row, due for delivery. Used by the
//! email routes, drafts and templated sends.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::email::{self, Compose, Parties};
use crate::domain::patient::Patient;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::emails::{self as store, EmailRow};
use crate::store::Tx;
use serde_json::Value;

pub const COMPONENT: &str = "EMAIL";

pub fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

pub fn user_name(u: &User) -> String {
    let full = [u.first_name.as_deref(), u.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if full.trim().is_empty() {
        u.username.clone()
    } else {
        full
    }
}

/// Sender and receiver of an email to `p`: the user named by `sender`, else the patient's
/// point of contact (an error when there is none), from the configured address to the
/// patient's email.
pub async fn outbound_parties(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    sender: Option<&str>,
) -> ServiceResult<Parties> {
    let to = p.email.clone().ok_or_else(|| invalid(FieldError::new("receiver", "the patient has no email address")))?;
    let sender_id =
        sender.map(String::from).or_else(|| p.point_of_contact.as_ref().map(|m| m.id.clone())).ok_or_else(|| {
            invalid(FieldError::new(
                "sender",
                "the patient has no point of contact; give sender, the id of the user who sends the email",
            ))
        })?;
    let user = state
        .db
        .user(&ctx.tenant.id, &sender_id, true)
        .await?
        .ok_or_else(|| invalid(FieldError::new("sender", format!("there is no user {sender_id}"))))?;
    let name = user_name(&user);
    Ok(Parties {
        sender: Some(user.id.clone()),
        sender_name: Some(name.clone()),
        from: state.email.from.clone(),
        receiver: Some(p.id.clone()),
        receiver_name: Some(p.full_name()),
        to,
        care_team: Some(name),
        patient_info: Some(p.full_name()),
        timezone: p.timezone.clone(),
    })
}

/// The provider's message id: a UUID for secure sends (as Paubox), else a Mailgun-style
/// `<time>.1.<hex>@<sender domain>`.
pub fn external_id(secure: bool, from: &str, now_ms: i64) -> String {
    let id = uuid::Uuid::new_v4();
    if secure {
        return id.to_string();
    }
    let stamp = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default().format("%Y%m%d%H%M%S");
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("openwelkin.local");
    format!("{stamp}.1.{}@{domain}", &id.simple().to_string()[..16].to_uppercase())
}

/// When an email's delivery is next due: now for an accepted send, its time for a
/// scheduled one.
pub fn dispatch_at(record: &Value, now_ms: i64) -> Option<i64> {
    match record["status"].as_str() {
        Some("ACCEPTED") => Some(now_ms),
        Some("SCHEDULED") => Some(email::scheduled_ms(record).unwrap_or(now_ms)),
        _ => None,
    }
}

/// A new outbound email (see `email::outbound`) with its provider id and files.
pub fn outbound_record(parties: &Parties, c: &Compose, id: &str, attachments: Value, now_ms: i64) -> Value {
    let secure = c.secure.unwrap_or(false);
    let mut record = email::outbound(id, parties, c, &external_id(secure, &parties.from, now_ms), now_ms);
    record["attachments"] = attachments;
    record
}

/// Stores a new outbound email to `p` (in `tx`) with its audit row, due for delivery
/// now or at its scheduled time.
pub async fn create_outbound(
    state: &AppState,
    tx: &mut Tx,
    ctx: &InstanceScope,
    p: &Patient,
    record: Value,
    now_ms: i64,
) -> ServiceResult<EmailRow> {
    let id = record["id"].as_str().unwrap_or_default().to_string();
    let row = EmailRow {
        dispatch_at: dispatch_at(&record, now_ms),
        dispatch_key: Some(state.email.key.clone()),
        record,
        tenant_id: ctx.tenant.id.clone(),
        instance_id: ctx.instance.id.clone(),
        patient_id: Some(p.id.clone()),
        unmatched: false,
        resolved_by: None,
        attempts: 0,
    };
    store::insert(tx, &row, now_ms).await?;
    ctx.record(tx, Write { patient: Some(p), ..Write::new("EMAIL", Operation::Create, &id, &row.record) }, now_ms)
        .await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    #[test]
    fn external_ids_look_like_the_providers() {
        let id = super::external_id(false, "n.snow@dev.welkincloud.io", 1620158904427);
        assert!(id.starts_with("20210504200824.1."), "{id}");
        assert!(id.ends_with("@dev.welkincloud.io"), "{id}");
        assert!(uuid::Uuid::parse_str(&super::external_id(true, "a@b.c", 0)).is_ok());
    }
}
