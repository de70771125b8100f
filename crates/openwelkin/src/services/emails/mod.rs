//! Email: a patient's emails, sent now or scheduled, listed, read, updated by their
//! status, deleted, and their attachments (`messages`); drafts, edited and sent
//! (`drafts`); received emails, the unmatched ones at the V8 and the docs site's paths,
//! and the local outbox (`inbound`); the files of emails and drafts (`files`). Here is
//! what they share, and what other use cases (templated sends) need: the parties of an
//! outbound email, a new outbound record, storing it with its audit row, due for
//! delivery, and the rules of an update. Delivery is `crate::delivery::email`. Writes
//! are audited as `EMAIL` and `EMAIL_DRAFT`.

pub mod drafts;
pub mod files;
pub mod inbound;
pub mod messages;

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::email::{self, Compose, Parties};
use crate::domain::patient::Patient;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::emails::{self as store, EmailFilter, EmailRow, Scope};
use crate::store::patients::PatientKey;
use crate::store::query::SortColumn;
use crate::store::Tx;
use serde_json::{json, Map, Value};

pub const COMPONENT: &str = "EMAIL";
/// The keys of an update: a send's plus `starred`.
const UPDATE_KEYS: &[&str] = &["subject", "body", "receiver", "sendNow", "secure", "scheduledAt", "sender", "starred"];

pub fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

pub fn not_found(patient_id: Option<&str>, id: &str) -> ServiceError {
    let details = match patient_id {
        Some(p) => json!({"patientId": p, "id": id}),
        None => json!({"id": id}),
    };
    ServiceError::not_found("EMAIL_NOT_FOUND", COMPONENT, "Email is not found", details)
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

/// One page of the emails `scope` and `filter` select, and how many they select.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    scope: Scope,
    filter: &EmailFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (rows, total) = state.db.emails(&ctx.instance.id, &scope, filter, sorts, offset, size).await?;
    Ok((rows.into_iter().map(|r| r.record).collect(), total))
}

/// The receiver of a send or update must be the patient of the path.
fn check_receiver(c: &Compose, patient_id: &str) -> ServiceResult<()> {
    match &c.receiver {
        Some(r) if r != patient_id => Err(invalid(FieldError::new("receiver", "must be the patient of the path"))),
        _ => Ok(()),
    }
}

/// Gives an inbound email to a patient (it then shows in that patient's emails).
fn assign(row: &mut EmailRow, p: &Patient, actor_id: &str) {
    row.patient_id = Some(p.id.clone());
    row.record["sender"] = json!(p.id);
    row.record["senderName"] = json!(p.full_name());
    row.record["patientInfo"] = json!(p.full_name());
    row.record["timezone"] = json!(p.timezone);
    if row.record["status"] == "UNRECOGNISED" {
        row.record["status"] = json!("DELIVERED");
    }
    if row.unmatched {
        row.resolved_by = Some(actor_id.to_string());
    }
}

/// Applies an update by the email's status (V8 rules). Returns the patient the email
/// belongs to afterwards and whether its delivery is now due.
async fn change(
    state: &AppState,
    ctx: &InstanceScope,
    row: &mut EmailRow,
    owner: Option<Patient>,
    body: &Map<String, Value>,
    now_ms: i64,
) -> ServiceResult<(Option<Patient>, bool)> {
    let c = email::parse_compose(body, UPDATE_KEYS).map_err(invalid)?;
    email::check_update(&row.record, &c, body).map_err(invalid)?;
    if let Some(s) = c.starred {
        row.record["starred"] = json!(s);
    }
    if row.record["direction"] == "IN" {
        let Some(pid) = &c.sender else { return Ok((owner, false)) };
        let p = state
            .db
            .patient(&ctx.instance.id, PatientKey::Id, pid)
            .await?
            .ok_or_else(|| invalid(FieldError::new("sender", format!("there is no patient {pid}"))))?;
        assign(row, &p, &ctx.actor().id);
        return Ok((Some(p), false));
    }
    if row.record["status"] != "SCHEDULED" {
        return Ok((owner, false));
    }
    let Some(p) = owner else { return Ok((None, false)) };
    check_receiver(&c, &p.id)?;
    if c.sender.is_some() {
        let parties = outbound_parties(state, ctx, &p, c.sender.as_deref()).await?;
        for (key, value) in [
            ("sender", json!(parties.sender)),
            ("senderName", json!(parties.sender_name)),
            ("careTeam", json!(parties.care_team)),
        ] {
            row.record[key] = value;
        }
    }
    let due = email::apply_scheduled(&mut row.record, &c, now_ms);
    if due {
        email::mark_accepted(&mut row.record, now_ms);
    }
    row.dispatch_at = dispatch_at(&row.record, now_ms);
    row.dispatch_key = Some(state.email.key.clone());
    Ok((Some(p), due))
}

/// Only scheduled and unrecognised emails can be deleted.
fn check_deletable(row: &EmailRow) -> ServiceResult<()> {
    let status = row.record["status"].as_str().unwrap_or_default();
    if matches!(status, "SCHEDULED" | "UNRECOGNISED") {
        Ok(())
    } else {
        Err(ServiceError::conflict(
            "EMAIL_CANNOT_BE_DELETED",
            COMPONENT,
            format!("An email in status {status} cannot be deleted; only SCHEDULED and UNRECOGNISED ones can"),
            json!({"id": row.record["id"], "status": status}),
        ))
    }
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
