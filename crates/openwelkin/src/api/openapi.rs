//! The OpenAPI 3.1 document: its frame here, every path from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "openwelkin",
        description = "The Welkin Health care-management REST API, served by openwelkin. \
                       Data routes live under /{tenant}/{instance}, tenant administration under /{tenant}/admin. \
                       Errors are always a JSON array of {errorCode, componentType, message, details, date}."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "Auth", description = "Bearer tokens for API clients"),
        (name = "Patients"),
        (name = "Users", description = "Care-team members (tenant level)"),
        (name = "User access", description = "Users' application access, roles and policies, regions and territories"),
        (name = "Patient programs", description = "Enrolments in programs and their phases"),
        (name = "CDT records", description = "Patient records of custom data types"),
        (name = "Profiles (PDT)", description = "Profile data type records"),
        (name = "Contacts", description = "People around a patient"),
        (name = "Dictionaries", description = "Value lists"),
        (name = "Assessment records", description = "Patients' answers to assessments"),
        (name = "Calendar", description = "Events, users' schedules and work hours"),
        (name = "Encounters", description = "Visits with patients, their assessments, disposition and comments"),
        (name = "Tasks", description = "Work items for users, with watchers and comments"),
        (name = "Care plans", description = "Patient overview, goals, goal comments and goal tasks"),
        (name = "Billing", description = "Payment methods, subscriptions, invoices and payments"),
        (name = "Documents", description = "Document summaries, their uploaded files and document-type records"),
        (name = "Email", description = "Emails with patients: sends, drafts, attachments, inbound and unmatched emails"),
        (name = "SMS", description = "Text messages with patients: sends, scheduled sends, inbound and unmatched SMS, delivery"),
        (name = "Communication IDs", description = "An instance's sending lines (openwelkin extension)"),
        (name = "Chat", description = "In-app messages between patients and the care team, and the chat webhook"),
        (name = "Calls", description = "Voice calls, their recordings, and unrecognized inbound calls"),
        (name = "Fax", description = "Faxes sent and received, with status and pages (openwelkin's design: Welkin publishes no paths)"),
        (name = "Messaging templates", description = "Message texts with {{variable}} placeholders"),
        (name = "Communications", description = "Templated sends to patients"),
        (name = "Formations", description = "Designer configuration by version"),
        (name = "Webhooks", description = "Activation and test sends of the designer's webhooks"),
        (name = "Audit", description = "Append-only audit trails"),
        (name = "Export", description = "Bulk export of every resource with cursor paging"),
        (name = "Operations", description = "Health probes"),
    )
)]
struct Frame;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = Frame::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The whole document, as served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    super::api_router().into_openapi()
}
