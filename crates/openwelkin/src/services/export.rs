//! Bulk export: the pages of `GET /{tenant}/{instance}/export/{TYPE}` (`api/export.rs`,
//! Welkin's cursor paging `{data:[…], cursor:{start, end, pageSize, hasNext}}`) and of the
//! `openwelkin export` command (`cli/export.rs`): the export types, the cursors, reading a
//! page and rendering its records.
//!
//! Every page is read by a keyset on (change time, id): `start` is either an ISO-8601
//! time (records changed at or after it) or the opaque `cursor.end` of the page before
//! (records after that record), so that a page never depends on how many records came
//! before it. The records stream in ascending `updatedAt` order; none is skipped and no
//! version of a record is sent twice while writes go on. A record that changes after it
//! was sent moves behind the cursor and is sent again, in its new version, further on;
//! a consumer that keeps the largest `updatedAt` it has seen (or the last `cursor.end`)
//! can always resume from there. The CLI reads all its pages in one read transaction,
//! so a file holds every record of one moment exactly once.
//!
//! Records are the objects the resource's own GET returns, with `updatedAt` added where
//! that object has none. Each type is gated by the `export` family and by the read
//! permission of the type's own family. Adding a type whose GET returns the stored body
//! is one line in [`TYPES`].

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::auth::policy::Family;
use crate::designer::data_type::{stable_id, DataType};
use crate::designer::Kind;
use crate::domain::chat::Message;
use crate::domain::patient::Patient;
use crate::domain::patient_program::PatientProgram;
use crate::domain::user::User;
use crate::domain::{calendar as cal, records};
use crate::store::export::{ExportRow, Position, Scope, Source};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

const COMPONENT: &str = "EXPORT";

/// Records per page when the request names no size.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Marks a cursor (as opposed to an ISO-8601 time) in `start`.
const CURSOR_PREFIX: &str = "c1.";

/// How the stored rows of a type become the objects its GET returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Render {
    /// The stored JSON body as it is.
    Body,
    Patient,
    User,
    Cdt,
    Pdt,
    /// A record of one of Welkin's internal data types (encounter dispositions and
    /// assessment links): the CDT-style envelope.
    Internal,
    Encounter,
    DocumentSummary,
    DocumentTypeRecord,
    Task,
    CalendarEvent,
    WorkHours,
    Call,
    PatientProgram,
    ChatMessage,
    CommunicationId,
    Subscription,
    Invoice,
    Payment,
}

/// One export type: its name in the path, the family whose read permission it needs,
/// where its rows live and how they are rendered.
#[derive(Clone, Copy, Debug)]
pub struct ExportType {
    pub name: &'static str,
    pub family: Family,
    pub source: Source,
    pub render: Render,
}

const fn ty(name: &'static str, family: Family, source: Source, render: Render) -> ExportType {
    ExportType { name, family, source, render }
}

const fn table(name: &'static str) -> Source {
    Source::table(name)
}

const fn dt_records(filter: &'static str) -> Source {
    Source::table("dt_records").filter(filter).data_type()
}

/// Every export type: Welkin's known names first, then every other resource stored.
pub const TYPES: &[ExportType] = &[
    ty("PATIENT", Family::Patients, table("patients").no_patient(), Render::Patient),
    ty("CDT_RECORD", Family::Cdts, dt_records("dt_kind = 'CDT'"), Render::Cdt),
    ty("PDT_RECORD", Family::Pdts, dt_records("dt_kind = 'PDT'"), Render::Pdt),
    ty("ASSESSMENT", Family::Assessments, table("assessment_records"), Render::Body),
    ty("CALENDAR_EVENT", Family::Calendar, table("calendar_events").no_patient(), Render::CalendarEvent),
    ty("EMAIL", Family::Email, table("emails"), Render::Body),
    ty("SMS", Family::Sms, table("sms_messages"), Render::Body),
    ty("ENCOUNTER", Family::Encounters, table("encounters"), Render::Encounter),
    ty("ENCOUNTER_COMMENT", Family::Encounters, table("encounter_comments").no_patient().immutable(), Render::Body),
    ty(
        "ENCOUNTER_DISPOSITION",
        Family::Encounters,
        dt_records("dt_kind = 'INTERNAL' AND dt_name = '__encounter_disposition__'"),
        Render::Internal,
    ),
    ty("TASK", Family::Tasks, table("tasks"), Render::Task),
    ty("VOICE_CALL", Family::Calls, table("calls"), Render::Call),
    ty("FAX", Family::Fax, table("faxes"), Render::Body),
    ty("PATIENT_PROGRAM", Family::Programs, table("patient_programs"), Render::PatientProgram),
    ty(
        "ENCOUNTER_ASSESSMENT",
        Family::Encounters,
        dt_records("dt_kind = 'INTERNAL' AND dt_name = '__encounter_assessment__'"),
        Render::Internal,
    ),
    ty("CARE_PLAN", Family::CarePlans, table("care_plans"), Render::Body),
    ty("GOAL", Family::CarePlans, table("care_plan_goals"), Render::Body),
    ty("GOAL_COMMENT", Family::CarePlans, table("care_plan_goal_comments").no_patient().immutable(), Render::Body),
    ty("CHAT_MESSAGE", Family::Chat, table("chat_messages").immutable().archived(), Render::ChatMessage),
    ty("CONTACT", Family::Contacts, table("contacts"), Render::Body),
    ty(
        "DOCUMENT_SUMMARY",
        Family::Documents,
        dt_records("dt_kind = 'DOCUMENT' AND dt_name = '_document_summary'"),
        Render::DocumentSummary,
    ),
    ty(
        "DOCUMENT_TYPE_RECORD",
        Family::Documents,
        dt_records("dt_kind = 'DOCUMENT' AND dt_name <> '_document_summary'"),
        Render::DocumentTypeRecord,
    ),
    ty("USER", Family::Users, table("users").by_tenant().no_patient(), Render::User),
    ty(
        "DICTIONARY_RECORD",
        Family::Dictionaries,
        table("dictionary_records").no_patient().filter("deleted = 0"),
        Render::Body,
    ),
    ty("WORK_HOURS", Family::Calendar, table("calendar_work_hours").no_patient(), Render::WorkHours),
    ty("EMAIL_DRAFT", Family::Email, table("email_drafts"), Render::Body),
    ty("COMMUNICATION_ID", Family::Communications, table("communication_ids").no_patient(), Render::CommunicationId),
    ty("MESSAGING_TEMPLATE", Family::Communications, table("messaging_templates").no_patient(), Render::Body),
    ty("COMMUNICATION", Family::Communications, table("communications"), Render::Body),
    ty("PAYMENT_METHOD", Family::Billing, table("billing_records").filter("kind = 'PAYMENT_METHOD'"), Render::Body),
    ty("SUBSCRIPTION", Family::Billing, table("billing_records").filter("kind = 'SUBSCRIPTION'"), Render::Subscription),
    ty("INVOICE", Family::Billing, table("billing_records").filter("kind = 'INVOICE'"), Render::Invoice),
    ty("PAYMENT", Family::Billing, table("billing_records").filter("kind = 'PAYMENT'"), Render::Payment),
];

/// The type of a name (case-insensitive).
pub fn export_type(name: &str) -> Option<&'static ExportType> {
    TYPES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

pub fn type_names() -> Vec<&'static str> {
    TYPES.iter().map(|t| t.name).collect()
}

/// The type of a name, or the 404 that lists the known ones.
pub fn type_named(name: &str) -> ServiceResult<&'static ExportType> {
    export_type(name).ok_or_else(|| {
        ServiceError::not_found(
            "EXPORT_TYPE_NOT_FOUND",
            COMPONENT,
            "Unknown export type",
            json!({"type": name, "types": type_names()}),
        )
    })
}

// ---------------------------------------------------------------------------------------
// Cursors
// ---------------------------------------------------------------------------------------

/// `cursor.end`: the position after the last record of a page, opaque to clients.
pub fn encode_cursor(p: &Position) -> String {
    format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(format!("{}:{}", p.changed_at, p.id)))
}

/// Reads `start`: a cursor this server wrote, or an ISO-8601 time (a date alone is its
/// midnight UTC), meaning the records changed at or after it.
pub fn parse_start(start: &str) -> Result<Position, String> {
    if let Some(token) = start.strip_prefix(CURSOR_PREFIX) {
        let bad = || "is not a cursor this server wrote".to_string();
        let text = URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
        let (ms, id) = text.split_once(':').ok_or_else(bad)?;
        let changed_at = ms.parse().map_err(|_| bad())?;
        return Ok(Position { changed_at, id: id.to_string() });
    }
    let t = crate::time::parse_datetime(start)
        .ok_or_else(|| "must be an ISO-8601 time or the cursor.end of the page before".to_string())?;
    Ok(Position { changed_at: t.timestamp_millis(), id: String::new() })
}

// ---------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------

/// One page of records, rendered.
pub struct Page {
    pub data: Vec<Value>,
    /// The position after the last record, when the page has any.
    pub last: Option<Position>,
    pub has_next: bool,
}

/// Reads and renders the page of `ty` after `after`: from the reader pool, or from
/// `snapshot` (a read transaction the caller keeps open across pages).
pub async fn fetch(
    state: &AppState,
    ctx: &InstanceScope,
    ty: &ExportType,
    after: Option<&Position>,
    size: i64,
    snapshot: Option<&mut crate::store::sql::Conn>,
) -> ServiceResult<Page> {
    let scope_id = match ty.source.scope {
        Scope::Instance => ctx.instance.id.as_str(),
        Scope::Tenant => ctx.tenant.id.as_str(),
    };
    // One more than asked tells whether another page follows.
    let mut rows = match snapshot {
        Some(conn) => crate::store::export::page(conn, &ty.source, scope_id, after, size + 1).await?,
        None => state.db.export_page(&ty.source, scope_id, after, size + 1).await?,
    };
    let has_next = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let last = rows.last().map(ExportRow::position);
    let data = render(state, ctx, ty, &rows).await?;
    Ok(Page { data, last, has_next })
}

// ---------------------------------------------------------------------------------------
// Rendering: the objects each resource's GET returns
// ---------------------------------------------------------------------------------------

fn parse<T: DeserializeOwned>(r: &ExportRow) -> ServiceResult<T> {
    serde_json::from_str(&r.body)
        .map_err(|e| ServiceError::internal(format!("stored record {} does not parse: {e}", r.id)))
}

fn to_value<T: Serialize>(v: &T) -> ServiceResult<Value> {
    serde_json::to_value(v).map_err(ServiceError::internal)
}

/// A data type the current formation no longer has: its records still export, with the
/// identifiers derived from the name alone.
fn missing_type(name: &str) -> DataType {
    serde_json::from_value(json!({"name": name, "fields": []})).expect("a name and no fields is a data type")
}

async fn render(
    state: &AppState,
    ctx: &InstanceScope,
    ty: &ExportType,
    rows: &[ExportRow],
) -> ServiceResult<Vec<Value>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut out = match ty.render {
        Render::Body => rows.iter().map(parse).collect::<ServiceResult<Vec<Value>>>()?,
        Render::Patient => patients(state, ctx, rows).await?,
        Render::User => rows.iter().map(|r| to_value(&parse::<User>(r)?)).collect::<ServiceResult<_>>()?,
        Render::Cdt | Render::Pdt | Render::DocumentTypeRecord | Render::PatientProgram => {
            let designer = state.db.current_formation(&ctx.instance.id).await?.designer;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let name = r.dt_name.as_deref().unwrap_or_default();
                out.push(match ty.render {
                    Render::Cdt => {
                        let cdt_id = designer
                            .data_type(Kind::Cdts, name)
                            .map(|dt| dt.id(&dt.relation_or("COMMON")))
                            .unwrap_or_else(|| stable_id(&format!("COMMON:{name}")));
                        records::envelope(&r.id, r.patient_id.as_deref(), &cdt_id, r.version, &parse(r)?, name)
                    }
                    Render::Pdt => {
                        let dt = designer.data_type(Kind::Pdts, name).cloned().unwrap_or_else(|| missing_type(name));
                        records::profile(&dt, &r.id, r.created_at, r.changed_at, &parse(r)?)
                    }
                    Render::DocumentTypeRecord => {
                        let cdt_id = designer
                            .data_type(Kind::DocumentTypes, name)
                            .map(|dt| dt.id(&dt.relation_or("DOCUMENT_TYPE")))
                            .unwrap_or_else(|| stable_id(&format!("DOCUMENT_TYPE:{name}")));
                        records::envelope(&r.id, r.patient_id.as_deref(), &cdt_id, r.version, &parse(r)?, name)
                    }
                    _ => {
                        let mut pp: PatientProgram = parse(r)?;
                        pp.refresh(designer.program(&pp.program_name).as_ref());
                        to_value(&pp)?
                    }
                });
            }
            out
        }
        Render::Internal | Render::DocumentSummary => rows
            .iter()
            .map(|r| {
                let name = r.dt_name.as_deref().unwrap_or_default();
                let cdt_id = match ty.render {
                    Render::Internal => stable_id(&format!("INTERNAL:{name}")),
                    _ => stable_id(&format!("SYSTEM:{name}")),
                };
                Ok(records::envelope(&r.id, r.patient_id.as_deref(), &cdt_id, r.version, &parse(r)?, name))
            })
            .collect::<ServiceResult<_>>()?,
        Render::Encounter => rows
            .iter()
            .map(|r| {
                // Stored as {version, jsonBody} (store/encounters.rs).
                let stored: Value = parse(r)?;
                let body = stored["jsonBody"].as_object().cloned().unwrap_or_default();
                let name = crate::domain::encounter::ENCOUNTER;
                Ok(records::envelope(
                    &r.id,
                    r.patient_id.as_deref(),
                    &stable_id(&format!("INTERNAL:{name}")),
                    stored["version"].as_i64().unwrap_or(0),
                    &body,
                    name,
                ))
            })
            .collect::<ServiceResult<_>>()?,
        Render::Task => {
            let mut tasks = rows.iter().map(parse).collect::<ServiceResult<Vec<Value>>>()?;
            crate::services::tasks::render(state, ctx, &mut tasks).await?;
            tasks
        }
        Render::CalendarEvent => {
            let events = rows.iter().map(parse).collect::<ServiceResult<Vec<Value>>>()?;
            crate::services::calendar::render_events(state, ctx, &events, None).await?
        }
        Render::WorkHours => work_hours(state, ctx, rows).await?,
        Render::Call => rows.iter().map(|r| Ok(crate::domain::call::full(&parse(r)?))).collect::<ServiceResult<_>>()?,
        Render::ChatMessage => rows
            .iter()
            .map(|r| {
                let mut m: Message = parse(r)?;
                m.archived = r.archived;
                Ok(m.docs())
            })
            .collect::<ServiceResult<_>>()?,
        Render::CommunicationId => communication_ids(state, ctx, rows).await?,
        Render::Subscription => {
            let today = state.clock.now().date_naive();
            rows.iter()
                .map(|r| Ok(crate::domain::billing::render_subscription(&parse(r)?, today)))
                .collect::<ServiceResult<_>>()?
        }
        Render::Invoice => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(super::billing::invoices::rendered(state, ctx, &parse(r)?).await?);
            }
            out
        }
        Render::Payment => {
            rows.iter().map(|r| Ok(crate::domain::billing::render_payment(&parse(r)?))).collect::<ServiceResult<_>>()?
        }
    };
    for (v, r) in out.iter_mut().zip(rows) {
        if let Some(o) = v.as_object_mut() {
            o.entry("id").or_insert_with(|| json!(r.id));
            o.entry("updatedAt").or_insert_with(|| json!(crate::time::format_ms(r.changed_at)));
        }
    }
    Ok(out)
}

/// Patients as `GET /patients/{id}` renders them (care team details from the users,
/// enrolments from the patient programs), a page at a time instead of one by one.
async fn patients(state: &AppState, ctx: &InstanceScope, rows: &[ExportRow]) -> ServiceResult<Vec<Value>> {
    let mut list = rows.iter().map(parse::<Patient>).collect::<ServiceResult<Vec<_>>>()?;
    let member_ids: BTreeSet<String> =
        list.iter().flat_map(|p| p.care_team_members.iter().map(|m| m.id.clone())).collect();
    let users = state.db.users_by_ids(&ctx.tenant.id, &member_ids.into_iter().collect::<Vec<_>>()).await?;
    let users: HashMap<&str, &User> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let ids: Vec<String> = list.iter().map(|p| p.id.clone()).collect();
    let enrolments = state.db.patient_programs_of(&ctx.instance.id, &ids).await?;
    let mut programs: HashMap<String, Vec<Value>> = HashMap::new();
    if !enrolments.is_empty() {
        let designer = state.db.current_formation(&ctx.instance.id).await?.designer;
        for (patient_id, list) in enrolments {
            programs.insert(patient_id, super::patient_programs::render_against(&designer, list)?);
        }
    }
    let mut out = Vec::with_capacity(list.len());
    for p in list.iter_mut() {
        if !p.care_team_members.is_empty() {
            p.care_team = p
                .care_team_members
                .iter()
                .filter_map(|m| {
                    users.get(m.id.as_str()).map(|u| crate::services::patients::care_team_user(u, m.point_of_contact))
                })
                .collect();
        }
        p.patient_programs = programs.remove(&p.id).unwrap_or_default();
        out.push(to_value(p)?);
    }
    Ok(out)
}

/// Work-hours rules as the work-hours GET details them, in their user's time zone, with
/// the user (`psmId`) kept on each.
async fn work_hours(state: &AppState, ctx: &InstanceScope, rows: &[ExportRow]) -> ServiceResult<Vec<Value>> {
    let rules = rows.iter().map(parse).collect::<ServiceResult<Vec<Value>>>()?;
    let psm_ids: BTreeSet<String> = rules.iter().filter_map(|h| h["psmId"].as_str().map(String::from)).collect();
    let zones: HashMap<String, Option<chrono_tz::Tz>> = state
        .db
        .users_by_ids(&ctx.tenant.id, &psm_ids.into_iter().collect::<Vec<_>>())
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), cal::parse_tz(u.timezone.as_deref())))
        .collect();
    Ok(rules
        .iter()
        .map(|h| {
            let tz = h["psmId"].as_str().and_then(|id| zones.get(id).copied().flatten());
            let mut out = cal::render_hours(h, tz);
            out["psmId"] = h["psmId"].clone();
            out
        })
        .collect())
}

/// Communication IDs, each marked with whether it is its channel's effective default.
async fn communication_ids(state: &AppState, ctx: &InstanceScope, rows: &[ExportRow]) -> ServiceResult<Vec<Value>> {
    let mut items = rows.iter().map(parse).collect::<ServiceResult<Vec<Value>>>()?;
    let channels: BTreeSet<String> = items.iter().filter_map(|c| c["channel"].as_str().map(String::from)).collect();
    for channel in channels {
        let default = state.db.default_communication_id(&ctx.instance.id, &channel).await?;
        let default_id = default.as_ref().and_then(|d| d["id"].as_str()).map(String::from);
        for c in items.iter_mut().filter(|c| c["channel"] == channel.as_str()) {
            c["default"] = json!(c["id"].as_str() == default_id.as_deref());
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_times_start_at_their_millisecond() {
        let p = Position { changed_at: 1_656_611_987_790, id: "68f8c7ce-0000-4000-8000-000000000001".into() };
        let token = encode_cursor(&p);
        assert!(token.starts_with(CURSOR_PREFIX));
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{token}");
        assert_eq!(parse_start(&token).unwrap(), p);
        let t = parse_start("2022-06-30T17:59:47.790Z").unwrap();
        assert_eq!(t, Position { changed_at: 1_656_611_987_790, id: String::new() });
        assert_eq!(parse_start("2022-06-30").unwrap().changed_at, 1_656_547_200_000);
        assert!(parse_start("yesterday").is_err());
        assert!(parse_start("c1.!!!").is_err());
        assert!(parse_start(&format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode("x:y"))).is_err());
    }

    #[test]
    fn type_names_are_unique_and_found_in_any_case() {
        let names = type_names();
        let unique: BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert_eq!(export_type("cdt_record").unwrap().name, "CDT_RECORD");
        assert!(export_type("SPACESHIP").is_none());
        for known in [
            "PATIENT",
            "CDT_RECORD",
            "PDT_RECORD",
            "ASSESSMENT",
            "CALENDAR_EVENT",
            "EMAIL",
            "SMS",
            "ENCOUNTER",
            "ENCOUNTER_COMMENT",
            "ENCOUNTER_DISPOSITION",
            "TASK",
            "VOICE_CALL",
        ] {
            assert!(export_type(known).is_some(), "{known}");
        }
    }

    #[test]
    fn filters_name_the_data_types_the_resources_use() {
        let filter = |n: &str| export_type(n).unwrap().source.filter;
        assert!(filter("ENCOUNTER_DISPOSITION").contains(&format!("'{}'", crate::domain::encounter::DISPOSITION)));
        assert!(filter("ENCOUNTER_ASSESSMENT").contains(&format!("'{}'", crate::domain::encounter::LINK)));
        assert!(filter("DOCUMENT_SUMMARY").contains(&format!("'{}'", crate::domain::document::SUMMARY_CDT)));
    }
}
