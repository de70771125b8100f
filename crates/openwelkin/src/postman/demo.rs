//! What the collection needs to run top to bottom against `serve --demo`: the demo
//! designer's names (designer/demo), bodies that fit its data types, the collection
//! variables that carry a record from the request that makes it to those that use it,
//! and the order in which a folder's requests must run.
//!
//! The schemas' examples (api/schemas/) stay generic; what is specific to the demo lives
//! here, keyed by method and OpenAPI path.

/// Collection variables with a fixed default: names from the demo designer, for path
/// parameters that name configuration rather than records.
pub const NAMED_DEFAULTS: [(&str, &str); 11] = [
    ("cdtName", "cdt-vitals"),
    ("pdtName", "pdt-insurance"),
    ("programName", "prog-diabetes"),
    ("dictionaryName", "cpt"),
    ("documentTypeName", "doc-type-others"),
    // The draft: reads work on every version, writes only on the draft.
    ("version", "draft"),
    ("kind", "document-types"),
    // The objects the Formations folder adds to the draft, then reads, replaces, removes.
    ("name", "doc-type-referral"),
    ("v8ObjectName", "doc-type-consent"),
    ("webhookName", "wh-patient-changes"),
    ("exportType", "PATIENT"),
];

/// Where one path parameter name stands for several kinds of record, the collection
/// variable of each kind: (a fragment of the OpenAPI path, the parameter, the variable).
/// The first fragment the path contains wins.
pub const VARIABLE_ALIASES: [(&str, &str, &str); 14] = [
    // A watcher is a user: the one the Users folder creates.
    ("/watchers/{watcherId}", "watcherId", "userId"),
    ("/dictionaries/{dictionaryName}/{recordId}", "recordId", "dictionaryRecordId"),
    ("/assessment-records/{recordId}", "recordId", "assessmentRecordId"),
    ("/cdts/{cdtName}/{recordId}", "recordId", "cdtRecordId"),
    ("/patients/{patientId}/pdts/{pdtName}/{recordId}", "recordId", "pdtRecordId"),
    ("/{instance}/pdts/{pdtName}/{recordId}", "recordId", "profileRecordId"),
    ("/tasks/{taskId}/comments/{commentId}", "commentId", "taskCommentId"),
    ("/communication-ids/{communicationId}", "communicationId", "communicationIdentifierId"),
    ("/unrecognized-emails/{emailId}", "emailId", "unmatchedEmailId"),
    ("/unrecognized-patients/emails/{emailId}", "emailId", "unmatchedEmailId"),
    ("/unrecognized-patients/sms/{smsId}", "smsId", "unmatchedSmsId"),
    ("/unrecognized-sms/{smsId}", "smsId", "unmatchedSmsId"),
    ("/formation/{version}/{kind}/{name}", "name", "v8ObjectName"),
    ("/webhooks/{name}", "name", "webhookName"),
];

/// Request bodies (raw JSON, with collection variables) where the schema's example does
/// not fit the demo designer or names a record the collection makes.
pub const BODIES: &[(&str, &str, &str)] = &[
    ("post", "/auth/token", r#"{"tenant": "{{tenant}}", "apiClient": "{{clientName}}", "secret": "{{clientSecret}}"}"#),
    ("post", "/{tenant}/auth/token", r#"{"apiClient": "{{clientName}}", "secret": "{{clientSecret}}"}"#),
    // A phone and an email, so that SMS, email and templates reach the patient; neither is
    // the sender of the unmatched inbound examples.
    (
        "post",
        "/{tenant}/{instance}/patients",
        r#"{"firstName": "Ann", "lastName": "Example", "birthDate": "1980-04-12", "timezone": "America/New_York",
            "phone": "+14155550142", "email": "ann.example@example.com"}"#,
    ),
    (
        "patch",
        "/{tenant}/{instance}/patients/{patientId}/programs/{programName}",
        r#"{"assigned": true, "status": "IN_PROGRESS"}"#,
    ),
    (
        "patch",
        "/{tenant}/{instance}/patients/{patientId}/programs/{programName}/phases",
        r#"{"phaseName": "education"}"#,
    ),
    (
        "post",
        "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}",
        r#"{"cdtf-measured-on": "2030-01-15", "cdtf-systolic": 128, "cdtf-diastolic": 82, "cdtf-blood-glucose": 110}"#,
    ),
    ("patch", "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordId}", r#"{"cdtf-weight-kg": 82.5}"#),
    (
        "patch",
        "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}",
        r#"{"rows": [{"id": "{{cdtRecordId}}", "jsonBody": {"cdtf-heart-rate": 72}}]}"#,
    ),
    (
        "post",
        "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}",
        r#"{"pdtf-provider": "Acme Health", "pdtf-member-id": "AH-123456"}"#,
    ),
    (
        "patch",
        "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}/{recordId}",
        r#"{"pdtf-group-number": "G-42"}"#,
    ),
    (
        "post",
        "/{tenant}/{instance}/pdts/{pdtName}",
        r#"{"pdtf-provider": "Acme Health", "pdtf-member-id": "AH-654321"}"#,
    ),
    ("post", "/{tenant}/{instance}/dictionaries/{dictionaryName}", r#"{"records": [{"values": {"value": "99215"}}]}"#),
    (
        "put",
        "/{tenant}/{instance}/dictionaries/{dictionaryName}",
        r#"{"records": [{"values": {"value": "99213"}}, {"values": {"value": "99214"}}, {"values": {"value": "99215"}}]}"#,
    ),
    (
        "patch",
        "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}",
        r#"{"assessmentRecordId": "{{assessmentRecordId}}"}"#,
    ),
    (
        "patch",
        "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/disposition",
        r#"{"disposition-code": "Completed", "note": "Reviewed the readings."}"#,
    ),
    (
        "post",
        "/{tenant}/{instance}/tasks",
        r#"{"name": "Call the patient", "description": "Follow up on the lab results", "dueDate": "2030-01-15T10:00:00.000Z",
            "priority": "MEDIUM", "status": "TODO", "assignee": {"id": "{{userId}}"}, "patient": {"id": "{{patientId}}"}}"#,
    ),
    ("patch", "/{tenant}/{instance}/tasks", r#"{"taskIds": ["{{taskId}}"], "status": "IN_PROGRESS"}"#),
    ("patch", "/{tenant}/{instance}/tasks/{taskId}/watchers", r#"{"id": "{{userId}}"}"#),
    (
        "post",
        "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}/tasks",
        r#"{"name": "Book a nutrition class", "dueDate": "2030-02-01T10:00:00.000Z", "priority": "MEDIUM", "status": "TODO",
            "assignee": {"id": "{{userId}}"}}"#,
    ),
    // A new invoice is PENDING: its due date is fixed, its status may still go back to DRAFT… or on.
    ("patch", "/{tenant}/{instance}/invoices/{invoiceId}", r#"{"status": "PENDING"}"#),
    ("post", "/{tenant}/{instance}/patients/{patientId}/document-summary", r#"{"type": "doc-type-others"}"#),
    (
        "put",
        "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}",
        r#"{"type": "doc-type-others", "external_id": "scan-0001"}"#,
    ),
    // Scheduled, so that it can still be deleted in the clean-up.
    (
        "post",
        "/{tenant}/{instance}/patients/{patientId}/emails",
        r#"{"subject": "Your visit", "body": "<p>See you on Monday.</p>", "sender": "{{userId}}", "sendNow": false,
            "scheduledAt": "2030-01-14T09:00:00.000Z"}"#,
    ),
    (
        "post",
        "/{tenant}/{instance}/patients/{patientId}/email-drafts",
        r#"{"subject": "Lab results", "body": "<p>Your lab results are in.</p>", "sender": "{{userId}}"}"#,
    ),
    // With a short recording (a WAV file, base64), so that its download has something to answer.
    (
        "post",
        "/{tenant}/{instance}/providers/calls/inbound",
        r#"{"from": "+14155550123", "to": "+14155550100", "status": "COMPLETED", "direction": "INBOUND", "duration": 125,
            "recording": {"data": "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==",
                          "contentType": "audio/wav", "filename": "call.wav"}}"#,
    ),
    ("post", "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", r#"{"starred": true}"#),
    ("put", "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", r#"{"starred": false}"#),
    ("post", "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", r#"{"starred": true}"#),
    ("put", "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", r#"{"starred": false}"#),
    (
        "post",
        "/{tenant}/{instance}/providers/sms/status",
        r#"{"MessageSid": "{{smsMessageSid}}", "MessageStatus": "delivered"}"#,
    ),
    (
        "post",
        "/{tenant}/{instance}/faxes",
        r#"{"type": "OUTBOUND", "receiver": "+14155550199", "subject": "Referral", "notes": "Please see the attached referral.",
            "patientId": "{{patientId}}", "pages": 2, "send": false}"#,
    ),
    ("patch", "/{tenant}/{instance}/faxes/{faxId}", r#"{"subject": "Referral (corrected)"}"#),
    (
        "post",
        "/{tenant}/{instance}/formations/{version}/{kind}",
        r#"{"name": "doc-type-referral", "title": "Referral", "label": "Referral", "fields": [{"name": "dtf-notes", "type": "textarea"}]}"#,
    ),
    (
        "post",
        "/{tenant}/{instance}/formation/{version}/{kind}",
        r#"{"name": "doc-type-consent", "title": "Consent", "label": "Consent", "fields": [{"name": "dtf-signed-on", "type": "date"}]}"#,
    ),
    (
        "put",
        "/{tenant}/{instance}/formations/{version}/{kind}/{name}",
        r#"{"title": "Referral letter", "label": "Referral letter", "fields": [{"name": "dtf-notes", "type": "textarea"}]}"#,
    ),
    (
        "put",
        "/{tenant}/{instance}/formation/{version}/{kind}/{name}",
        r#"{"title": "Consent form", "label": "Consent form", "fields": [{"name": "dtf-signed-on", "type": "date"}]}"#,
    ),
    // The demo's disposition data type (designer/demo/encounter-disposition.yaml) with one more follow-up option.
    (
        "put",
        "/{tenant}/{instance}/formations/{version}/encounter-disposition",
        r#"{"name": "__encounter_disposition__", "internal": true, "relation": "ENCOUNTER_DISPOSITION", "fields": [
            {"name": "disposition-code", "type": "select", "meta": {"required": true, "options": [
                {"label": "Completed", "value": "Completed"}, {"label": "Rescheduled", "value": "Rescheduled"},
                {"label": "No Show", "value": "No Show"}, {"label": "Referred Out", "value": "Referred Out"},
                {"label": "Not Eligible", "value": "Not Eligible"}]}},
            {"name": "cpt", "type": "select", "dictionary": "cpt"},
            {"name": "note", "type": "textarea"},
            {"name": "uicedf-follow-up", "type": "select", "meta": {"label": "Follow-up", "options": [
                {"label": "1 week", "value": "1 week"}, {"label": "2 weeks", "value": "2 weeks"},
                {"label": "1 month", "value": "1 month"}, {"label": "3 months", "value": "3 months"},
                {"label": "6 months", "value": "6 months"}, {"label": "None", "value": "None"}]}}]}"#,
    ),
];

/// Query parameters sent (enabled) with a value: (method, path, name, value).
pub const QUERIES: &[(&str, &str, &str, &str)] = &[
    ("get", "/{tenant}/{instance}/calendar/psm-event-summary", "from", "2030-01-01T00:00:00.000Z"),
    ("get", "/{tenant}/{instance}/calendar/psm-event-summary", "to", "2030-02-01T00:00:00.000Z"),
    ("get", "/{tenant}/{instance}/communications", "patientId", "{{patientId}}"),
    ("get", "/{tenant}/{instance}/patients/{patientId}/chat/search", "query", "feeling"),
    ("get", "/{tenant}/{instance}/patient/{patientId}/chat/search", "query", "feeling"),
];

/// Values kept from an answer for later requests: (method, path, variable, a JavaScript
/// expression of the answer `body`). Creates whose record has a path of its own
/// (`POST /things` and `/things/{thingId}`) store their `id` without being listed here.
pub const STORES: &[(&str, &str, &str, &str)] = &[
    ("patch", "/{tenant}/{instance}/patients/{patientId}/programs/{programName}", "patientProgramId", "body.id"),
    (
        "post",
        "/{tenant}/{instance}/dictionaries/{dictionaryName}",
        "dictionaryRecordId",
        "body.records[body.records.length - 1].id",
    ),
    (
        "put",
        "/{tenant}/{instance}/dictionaries/{dictionaryName}",
        "dictionaryRecordId",
        "body.records[body.records.length - 1].id",
    ),
    ("post", "/{tenant}/{instance}/calendar/work-hours", "workHoursId", "body.details[0].workHoursId"),
    ("post", "/{tenant}/{instance}/invoices/{invoiceId}/payments", "paymentId", "body.id"),
    (
        "patch",
        "/{tenant}/{instance}/tasks/{taskId}/comments",
        "taskCommentId",
        "body.comments[body.comments.length - 1].id",
    ),
    (
        "post",
        "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/files",
        "fileId",
        "body[0].id",
    ),
    ("post", "/{tenant}/{instance}/providers/email/inbound", "unmatchedEmailId", "body.id"),
    ("get", "/{tenant}/{instance}/unrecognized-patients/sms", "unmatchedSmsId", "body.content[0].id"),
    ("get", "/{tenant}/{instance}/outbox/sms", "smsMessageSid", "body.content[0].externalId"),
    // An unrecognised call, once assigned, is the patient's call.
    ("post", "/{tenant}/{instance}/providers/calls/inbound", "callId", "body.id"),
    ("post", "/{tenant}/{instance}/communications", "communicationId", "body.communicationId"),
];

/// Where a request must run earlier (negative) or later (positive) than its folder's
/// default order: creates (rank 0), then the rest (rank 1), each in document order.
pub const RANKS: &[(&str, &str, i32)] = &[
    // Enrol before reading the enrolment.
    ("patch", "/{tenant}/{instance}/patients/{patientId}/programs/{programName}", -1),
    ("patch", "/{tenant}/{instance}/patients/{patientId}/programs/{programName}/phases", 0),
    // Bulk update after the record exists; a dictionary's full replacement after its one-record requests.
    ("put", "/{tenant}/{instance}/dictionaries/{dictionaryName}", 2),
    // Tasks: the bulk status change after the task exists.
    ("patch", "/{tenant}/{instance}/tasks/{taskId}/comments", 0),
    // Provider callbacks before the records they make are read.
    ("post", "/{tenant}/{instance}/providers/sms/inbound", -1),
    ("post", "/{tenant}/{instance}/providers/sms/status", 2),
    ("post", "/{tenant}/{instance}/providers/calls/inbound", -1),
    // An unmatched message or call is starred, then assigned; once assigned it is the patient's.
    ("patch", "/{tenant}/{instance}/unrecognized-emails/{emailId}", 2),
    ("patch", "/{tenant}/{instance}/unrecognized-sms/{smsId}", 2),
    ("patch", "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", 2),
    ("patch", "/{tenant}/{instance}/unrecognized-calls/{callId}", 2),
    ("get", "/{tenant}/{instance}/patients/{patientId}/calls/{callId}", 3),
    ("get", "/{tenant}/{instance}/patients/{patientId}/calls/{callId}/recording", 3),
    // The chat webhook: set before it is read.
    ("put", "/{tenant}/{instance}/integrations/chat-webhook", -1),
    // Messaging templates: sent after they exist.
    ("post", "/{tenant}/{instance}/communications", 0),
    // Formations: publish after the draft's changes; the disposition read before its write.
    ("post", "/{tenant}/{instance}/formations/draft/publish", 3),
    // A summary's document-type record: made before it is read.
    ("post", "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/{documentTypeName}", 0),
    // Webhooks: deactivate after activating and testing.
    ("post", "/{tenant}/{instance}/webhooks/{name}/deactivate", 2),
];

/// Folders that run before the others (after the token): the SMS communication ID that
/// SMS are sent from.
pub const EARLY_FOLDERS: [&str; 1] = ["Communication IDs"];

/// A minimal PDF, sent as the text of a `files` part: uploads are judged by content.
pub const SAMPLE_PDF: &str = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn find<T: Copy>(table: &[(&str, &str, T)], method: &str, path: &str) -> Option<T> {
    table.iter().find(|(m, p, _)| *m == method && *p == path).map(|(_, _, v)| *v)
}

/// The demo body of `method path`, if the schema's example does not do.
pub fn body(method: &str, path: &str) -> Option<&'static str> {
    find(BODIES, method, path)
}

/// Where `method path` runs in its folder.
pub fn rank(method: &str, path: &str, creates: bool) -> i32 {
    find(RANKS, method, path).unwrap_or(if creates { 0 } else { 1 })
}

/// The collection variable behind the path parameter `param` of `path`.
pub fn variable_for(path: &str, param: &str) -> String {
    VARIABLE_ALIASES
        .iter()
        .find(|(fragment, p, _)| *p == param && path.contains(fragment))
        .map(|(_, _, v)| (*v).to_owned())
        .unwrap_or_else(|| param.to_owned())
}

/// The query parameters `method path` sends, with their values.
pub fn queries<'a>(method: &'a str, path: &'a str) -> impl Iterator<Item = (&'static str, &'static str)> + 'a {
    QUERIES.iter().filter(move |(m, p, _, _)| *m == method && *p == path).map(|(_, _, k, v)| (*k, *v))
}

/// The values `method path` keeps from its answer: (variable, expression).
pub fn stores<'a>(method: &'a str, path: &'a str) -> impl Iterator<Item = (&'static str, &'static str)> + 'a {
    STORES.iter().filter(move |(m, p, _, _)| *m == method && *p == path).map(|(_, _, k, v)| (*k, *v))
}
