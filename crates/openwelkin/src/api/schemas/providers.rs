//! Bodies that SMS and email providers post (rules: services/sms/provider.rs,
//! services/emails/inbound.rs). Form-encoded as the providers send them; JSON with the
//! same names is accepted too.

use utoipa::ToSchema;

/// An inbound SMS in Twilio's webhook form.
#[derive(ToSchema)]
#[schema(rename_all = "PascalCase", example = json!({
    "From": "+14155550123", "To": "+14155550100", "Body": "Running late", "MessageSid": "SM0123456789abcdef0123456789abcdef"
}))]
pub struct TwilioInboundSms {
    /// E.164 (`from` is accepted too).
    pub from: String,
    /// E.164: one of the instance's SMS lines (`to` is accepted too).
    pub to: String,
    pub body: Option<String>,
    /// Twilio's id (`SmsSid` is accepted too).
    pub message_sid: Option<String>,
}

/// A delivery report in Twilio's status-callback form.
#[derive(ToSchema)]
#[schema(rename_all = "PascalCase", example = json!({
    "MessageSid": "SM0123456789abcdef0123456789abcdef", "MessageStatus": "delivered"
}))]
pub struct TwilioStatusReport {
    /// `SmsSid` is accepted too.
    pub message_sid: String,
    /// `sent`, `delivered`, `undelivered`, `failed` change the SMS; others are
    /// acknowledged (`SmsStatus` is accepted too).
    pub message_status: String,
}

/// An inbound email (Mailgun's route form; `sender` is accepted for `from`).
#[derive(ToSchema)]
#[schema(example = json!({
    "from": "ann@example.com", "to": "care@example.org", "subject": "Question", "body": "When is my next visit?"
}))]
pub struct InboundEmail {
    pub from: String,
    pub to: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// Mailgun's signature fields, needed when there is no bearer token.
    pub timestamp: Option<String>,
    pub token: Option<String>,
    pub signature: Option<String>,
}
