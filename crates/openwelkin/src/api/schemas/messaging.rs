//! SMS, email, chat, messaging-template and communication-ID bodies (rules:
//! domain/sms.rs, domain/email.rs, domain/chat.rs, domain/template.rs,
//! domain/communication_id.rs, services/chat.rs, services/chat_webhook.rs).

use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A new SMS to the patient: now, or at `scheduledAt` (in the future) when `sendNow` is
/// false.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"message": "Hi, this is a reminder of your visit tomorrow.", "sendNow": true}))]
pub struct SmsCreate {
    #[schema(min_length = 1, max_length = 1600)]
    pub message: String,
    #[schema(nullable = false)]
    pub send_now: Option<bool>,
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
    /// The patient's id (the one in the path).
    #[schema(format = Uuid, nullable = false)]
    pub receiver: Option<String>,
    /// An SMS communication ID's number (E.164).
    #[schema(nullable = false, pattern = r"^\+[0-9]{7,15}$")]
    pub from: Option<String>,
    #[schema(nullable = false)]
    pub starred: Option<bool>,
}

/// An SMS update: `starred` on any SMS; `sender` (a patient id) on an inbound one;
/// message, sendNow, scheduledAt, receiver, from on a SCHEDULED one.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"starred": true}))]
pub struct SmsUpdate {
    #[schema(min_length = 1, max_length = 1600, nullable = false)]
    pub message: Option<String>,
    #[schema(nullable = false)]
    pub send_now: Option<bool>,
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
    #[schema(format = Uuid, nullable = false)]
    pub receiver: Option<String>,
    #[schema(format = Uuid, nullable = false)]
    pub sender: Option<String>,
    #[schema(nullable = false, pattern = r"^\+[0-9]{7,15}$")]
    pub from: Option<String>,
    #[schema(nullable = false)]
    pub starred: Option<bool>,
}

/// An email update: `starred` on any email; `sender` (a patient id) on an inbound one;
/// the compose fields on a SCHEDULED one.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"starred": true}))]
pub struct EmailUpdate {
    #[schema(min_length = 1, nullable = false)]
    pub subject: Option<String>,
    #[schema(min_length = 1, nullable = false)]
    pub body: Option<String>,
    #[schema(format = Uuid)]
    pub receiver: Option<String>,
    #[schema(format = Uuid)]
    pub sender: Option<String>,
    pub send_now: Option<bool>,
    pub secure: Option<bool>,
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
    #[schema(nullable = false)]
    pub starred: Option<bool>,
}

/// A chat message's text.
#[derive(ToSchema)]
#[schema(example = json!({"message": "How are you feeling today?"}))]
pub struct ChatMessageBody {
    #[schema(min_length = 1, max_length = 10000)]
    pub message: String,
}

/// A chat message to a patient (docs-site form): `body` (or `message`, not both).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"body": "Your lab results are in."}))]
pub struct ChatSend {
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
    #[schema(format = Uuid)]
    pub attachment_id: Option<String>,
    /// A user's id (default: the caller).
    #[schema(format = Uuid)]
    pub sender_id: Option<String>,
}

/// A full-text search over chat messages.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"query": "lab results", "page": 0, "size": 20}))]
pub struct ChatSearch {
    #[schema(min_length = 1)]
    pub query: String,
    #[schema(format = Uuid)]
    pub patient_id: Option<String>,
    #[schema(minimum = 0, maximum = 1000000, nullable = false)]
    pub page: Option<i64>,
    #[schema(minimum = 1, nullable = false)]
    pub size: Option<i64>,
}

/// Where new chat messages are posted.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"url": "https://example.com/welkin/chat", "active": true}))]
pub struct ChatWebhookWrite {
    #[schema(format = "uri")]
    pub url: String,
    pub api_key: Option<String>,
    /// Write-only: stored encrypted, never answered.
    pub api_secret: Option<String>,
    #[schema(nullable = false)]
    pub active: Option<bool>,
    /// Base of `patientUrl` (default: the host the message was sent to).
    #[schema(format = "uri")]
    pub public_base_url: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateChannel {
    Sms,
    Email,
    Chat,
}

/// A new messaging template; `body` may hold `{{variable}}` placeholders, `subject` is
/// for EMAIL templates only.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "name": "appointment-reminder", "channel": "SMS",
    "body": "Hi {{patientFirstName}}, see you on {{appointmentDate}}.", "label": "Appointment reminder"
}))]
pub struct TemplateCreate {
    #[schema(min_length = 1)]
    pub name: String,
    pub channel: TemplateChannel,
    #[schema(min_length = 1)]
    pub body: String,
    pub subject: Option<String>,
    pub label: Option<String>,
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// A template replaced by name (the path's); `name`, when given, must be the same.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"channel": "SMS", "body": "Hi {{patientFirstName}}, see you soon."}))]
pub struct TemplateUpdate {
    #[schema(min_length = 1, nullable = false)]
    pub name: Option<String>,
    pub channel: TemplateChannel,
    #[schema(min_length = 1)]
    pub body: String,
    pub subject: Option<String>,
    pub label: Option<String>,
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// A template's text for one patient.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "patientId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "templateVariables": {"appointmentDate": "May 3"}
}))]
pub struct TemplateResolve {
    #[schema(format = Uuid)]
    pub patient_id: String,
    /// Values by variable name (letters, digits, `_` and `.`).
    pub template_variables: Option<BTreeMap<String, String>>,
    #[schema(format = Uuid)]
    pub sender_id: Option<String>,
}

/// A templated send to a patient.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "patientId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "channel": "SMS", "templateName": "appointment-reminder",
    "senderId": "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "templateVariables": {"appointmentDate": "May 3"}
}))]
pub struct TemplatedSend {
    #[schema(format = Uuid)]
    pub patient_id: String,
    pub channel: TemplateChannel,
    #[schema(min_length = 1)]
    pub template_name: String,
    #[schema(format = Uuid)]
    pub sender_id: String,
    pub template_variables: Option<BTreeMap<String, String>>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommunicationChannel {
    Sms,
    Email,
}

/// A new sending line: an E.164 number (SMS) or an e-mail address (EMAIL).
#[derive(ToSchema)]
#[schema(example = json!({"channel": "SMS", "value": "+14155550100", "label": "Main line", "default": false}))]
pub struct CommunicationIdCreate {
    pub channel: CommunicationChannel,
    pub value: String,
    pub label: Option<String>,
    #[schema(nullable = false)]
    pub default: Option<bool>,
}

/// A sending line's label or default flag (channel and value are fixed).
#[derive(ToSchema)]
#[schema(example = json!({"label": "Front desk", "default": true}))]
pub struct CommunicationIdUpdate {
    pub label: Option<String>,
    #[schema(nullable = false)]
    pub default: Option<bool>,
}

/// A new email to the patient (JSON form; the multipart form has the same fields plus
/// `attachmentsAsFiles` file parts). Sent now, or at `scheduledAt` when `sendNow` is
/// false.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "subject": "Your visit", "body": "<p>See you on Monday.</p>", "sendNow": true, "secure": false
}))]
pub struct EmailCompose {
    #[schema(min_length = 1)]
    pub subject: String,
    #[schema(min_length = 1, max_length = 200000)]
    pub body: String,
    /// The patient's id (the one in the path).
    #[schema(format = Uuid)]
    pub receiver: Option<String>,
    /// A user's id (default: the patient's point of contact).
    #[schema(format = Uuid)]
    pub sender: Option<String>,
    pub send_now: Option<bool>,
    pub secure: Option<bool>,
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
}

/// A draft's fields (JSON form; multipart adds `attachmentsAsFiles` file parts). All are
/// optional; a draft needs its subject only when it is sent.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"subject": "Lab results", "body": "<p>Draft text</p>"}))]
pub struct EmailDraftWrite {
    #[schema(min_length = 1, nullable = false)]
    pub subject: Option<String>,
    #[schema(min_length = 1, max_length = 200000, nullable = false)]
    pub body: Option<String>,
    #[schema(format = Uuid)]
    pub receiver: Option<String>,
    #[schema(format = Uuid)]
    pub sender: Option<String>,
    pub secure: Option<bool>,
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
}
