//! Data: what an integration wrote. Patients (search, paging), one patient with their
//! records, encounters, calendar, messages and documents, and the calendar of a user by
//! week. Read-only; the operator reads through the same use cases as the API.

use super::page::{self, Ctx};
use crate::app::AppState;
use crate::services::error::ServiceError;
use crate::services::scope::InstanceScope;
use crate::store::patients::PatientFilter;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/data", get(pick))
        .route("/console/data/{tenant}/{instance}/patients", get(patients))
        .route("/console/data/{tenant}/{instance}/patients/{id}", get(patient))
        .route("/console/data/{tenant}/{instance}/calendar", get(calendar))
}

const PAGE_SIZE: i64 = 20;
/// How many of each kind of a patient's items one page shows.
const ITEMS: i64 = 50;

async fn pick(State(state): State<AppState>, ctx: Ctx) -> Response {
    super::designer::instance_picker(&state, &ctx, "/console/data", "Data", "/patients").await
}

fn tabs(t: &str, i: &str) -> Markup {
    html! {
        p { a href=(format!("/console/data/{t}/{i}/patients")) { "Patients" } " · "
            a href=(format!("/console/data/{t}/{i}/calendar")) { "Calendar by user and week" } }
    }
}

async fn patients(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let q = page::query(&uri);
    let search = q.get("query").cloned();
    let page_no: i64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0).max(0);
    let loaded = async {
        let scope = ctx.signed.in_instance(&state, &t, &i).await?;
        let filter = PatientFilter { query: search.clone(), ..Default::default() };
        crate::services::patients::list(&state, &scope, &filter, &[], page_no * PAGE_SIZE, PAGE_SIZE).await
    }
    .await;
    let (found, total) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let base = format!("/console/data/{t}/{i}/patients");
    let body = html! {
        h1 { "Patients of " (t) " / " (i) }
        (tabs(&t, &i))
        form method="get" action=(base) role="search" {
            label for="query" { "Search (name, email, MRN, external id)" }
            input id="query" name="query" type="search" value=(search.clone().unwrap_or_default());
            button type="submit" { "Search" }
        }
        (page::pager(&base, &[("query", search.clone().unwrap_or_default())], page_no, PAGE_SIZE, total))
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Id" } th scope="col" { "External id" } th scope="col" { "Email" } th scope="col" { "Created" } } }
            tbody {
                @for p in &found {
                    tr {
                        td { a href=(format!("{base}/{}", p.id)) { (p.full_name()) } }
                        td { code { (p.id) } }
                        td { (p.external_id.clone().unwrap_or_default()) }
                        td { (p.email.clone().unwrap_or_default()) }
                        td { (p.created_at) }
                    }
                }
            }
        }
    };
    page::frame(&ctx, "/console/data", "Patients", body).into_response()
}

/// A titled list of JSON items, each opening to the whole item.
fn items(title: &str, total: i64, list: &[Value], summary_keys: &[&str]) -> Markup {
    html! {
        h2 { (title) " (" (total) ")" }
        @if list.is_empty() { p.hint { "None." } }
        @for item in list {
            details {
                summary {
                    @for key in summary_keys {
                        @if let Some(v) = item.get(*key).filter(|v| !v.is_null()) {
                            @match v.as_str() { Some(s) => { (s) " · " }, None => { (v.to_string()) " · " } }
                        }
                    }
                }
                (page::json_block(item))
            }
        }
    }
}

/// Everything of one patient the console shows: (title, total, items, summary keys).
async fn patient_sections(
    state: &AppState,
    scope: &InstanceScope,
    p: &crate::domain::patient::Patient,
) -> Result<Vec<(String, i64, Vec<Value>, &'static [&'static str])>, ServiceError> {
    let mut out = Vec::new();
    let formation = state.db.current_formation(&scope.instance.id).await?;
    for dt in &formation.designer.cdts {
        let q = crate::services::records::cdts::RecordQuery {
            sorts: vec![],
            projection: None,
            filters: vec![],
            from: None,
            to: None,
        };
        let (list, total) = crate::services::records::cdts::list(state, scope, p, dt, &q, 0, ITEMS).await?;
        if total > 0 {
            out.push((format!("Records of {}", dt.name), total, list, &["id", "updatedAt"][..]));
        }
    }
    let listing = crate::services::encounters::listing::Listing {
        statuses: None,
        only_with_calendar_event: false,
        sorts: vec![],
        offset: 0,
        size: ITEMS,
    };
    let (list, total) = crate::services::encounters::listing::list(state, scope, p, &listing).await?;
    out.push(("Encounters".into(), total, list, &["id", "status", "title", "start"][..]));
    let events = crate::store::calendar::EventFilter {
        any_participant: Some(vec![p.id.clone()]),
        include_cancelled: true,
        ..Default::default()
    };
    let (list, total) =
        crate::services::calendar::events::find(state, scope, &events, &[], 0, ITEMS, None, false).await?;
    out.push(("Calendar events".into(), total, list, &["id", "eventType", "start", "end"][..]));
    let (list, total) = crate::services::sms::list(
        state,
        scope,
        crate::store::sms::SmsScope::Patient(p.id.clone()),
        &Default::default(),
        &[],
        0,
        ITEMS,
    )
    .await?;
    out.push(("SMS".into(), total, list, &["direction", "createdAt", "text", "message"][..]));
    let (list, total) = crate::services::emails::list(
        state,
        scope,
        crate::store::emails::Scope::Patient(p.id.clone()),
        &Default::default(),
        &[],
        0,
        ITEMS,
    )
    .await?;
    out.push(("Email".into(), total, list, &["direction", "createdAt", "subject"][..]));
    let (list, total) = crate::services::chat::messages(state, scope, p, None, 0, ITEMS).await?;
    out.push(("Chat".into(), total, list, &["senderType", "createdAt", "message"][..]));
    let (list, total) = crate::services::documents::summaries::list(state, scope, p, None, &[], 0, ITEMS).await?;
    out.push(("Documents".into(), total, list, &["id", "documentType", "createdAt"][..]));
    Ok(out)
}

async fn patient(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, id)): Path<(String, String, String)>,
) -> Response {
    let loaded = async {
        let scope = ctx.signed.in_instance(&state, &t, &i).await?;
        let p = crate::services::patients::by_id(&state, &scope, &id).await?;
        let sections = patient_sections(&state, &scope, &p).await?;
        Ok::<_, ServiceError>((p, sections))
    }
    .await;
    let (p, sections) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let body = html! {
        h1 { (p.full_name()) }
        (tabs(&t, &i))
        p { "Patient " code { (p.id) } " of " (t) " / " (i) "." }
        details { summary { "The patient record" } (page::json_block(&serde_json::to_value(&p).unwrap_or_default())) }
        @for (title, total, list, keys) in &sections { (items(title, *total, list, keys)) }
    };
    page::frame(&ctx, "/console/data", &p.full_name(), body).into_response()
}

/// The Monday of the week holding `day`.
fn week_start(day: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike;
    day - chrono::Duration::days(day.weekday().num_days_from_monday() as i64)
}

async fn calendar(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let q = page::query(&uri);
    let user = q.get("user").cloned();
    let day = q
        .get("week")
        .and_then(|w| chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())
        .unwrap_or_else(|| state.clock.now().date_naive());
    let monday = week_start(day);
    let loaded = async {
        let scope = ctx.signed.in_instance(&state, &t, &i).await?;
        let users = crate::services::users::list(&state, &scope, &Default::default(), &[], 0, 500).await?.0;
        let events = match &user {
            Some(u) => {
                let from = monday.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis();
                let filter = crate::store::calendar::EventFilter {
                    any_participant: Some(vec![u.clone()]),
                    from: Some(from),
                    to: Some(from + 7 * 86_400_000),
                    include_cancelled: true,
                    ..Default::default()
                };
                crate::services::calendar::events::find(&state, &scope, &filter, &[], 0, 500, None, false).await?.0
            }
            None => vec![],
        };
        Ok::<_, ServiceError>((users, events))
    }
    .await;
    let (users, events) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let base = format!("/console/data/{t}/{i}/calendar");
    let week = |d: chrono::NaiveDate| format!("{base}?user={}&week={d}", user.clone().unwrap_or_default());
    let body = html! {
        h1 { "Calendar of " (t) " / " (i) }
        (tabs(&t, &i))
        form method="get" action=(base) {
            p { label for="user" { "User" }
                select id="user" name="user" {
                    @for u in &users {
                        option value=(u.id) selected[user.as_deref() == Some(u.id.as_str())] {
                            (u.username) " (" (u.first_name.clone().unwrap_or_default()) " " (u.last_name.clone().unwrap_or_default()) ")"
                        }
                    }
                }
            }
            p { label for="week" { "Week of" } input id="week" name="week" type="date" value=(monday.to_string()); }
            button type="submit" { "Show" }
        }
        @if user.is_some() {
            p { a href=(week(monday - chrono::Duration::days(7))) { "Previous week" } " · " a href=(week(monday + chrono::Duration::days(7))) { "Next week" } }
            (items(&format!("Events in the week of {monday}"), events.len() as i64, &events, &["id", "eventType", "start", "end", "patientId"]))
        }
        @if users.is_empty() { p.hint { "The tenant has no users." } }
    };
    page::frame(&ctx, "/console/data", "Calendar", body).into_response()
}
