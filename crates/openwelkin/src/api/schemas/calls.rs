//! Call bodies (rules: domain/call.rs).

use utoipa::ToSchema;

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallDirection {
    Inbound,
    Outbound,
}

/// A recording, base64-encoded.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RecordingWrite {
    /// Base64.
    #[schema(content_encoding = "base64")]
    pub data: String,
    pub content_type: Option<String>,
    pub filename: Option<String>,
}

/// A provider's report of a call. `status` is one of QUEUED, RINGING, IN_PROGRESS,
/// COMPLETED, BUSY, NO_ANSWER, FAILED, CANCELED, MISSED, VOICEMAIL (Twilio's lower-case,
/// dashed spellings are accepted too).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "from": "+14155550123", "to": "+14155550100", "status": "COMPLETED", "direction": "INBOUND", "duration": 125
}))]
pub struct CallReport {
    /// E.164.
    #[schema(pattern = r"^\+[0-9]{7,15}$")]
    pub from: String,
    #[schema(pattern = r"^\+[0-9]{7,15}$")]
    pub to: String,
    pub status: String,
    #[schema(nullable = false)]
    pub direction: Option<CallDirection>,
    /// Seconds.
    #[schema(minimum = 0)]
    pub duration: Option<i64>,
    #[schema(format = DateTime)]
    pub called_at: Option<String>,
    pub external_id: Option<String>,
    #[schema(format = Uuid)]
    pub user_id: Option<String>,
    #[schema(format = Uuid)]
    pub patient_id: Option<String>,
    pub recording: Option<RecordingWrite>,
}
