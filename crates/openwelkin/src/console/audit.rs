//! Audit: a tenant's data audit, security audit and webhook delivery attempts, each with
//! the filters of its API endpoint, newest first, paged.

use super::page::{self, Ctx};
use crate::app::AppState;
use crate::services::error::ServiceError;
use crate::store::audit::{DataAuditFilter, SecurityFilter};
use crate::store::webhooks::AttemptFilter;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new().route("/console/audit", get(pick)).route("/console/audit/{tenant}", get(audit))
}

const PAGE_SIZE: i64 = 25;

/// The tenants (each with its data, security and webhook audits) and the server-wide
/// audit of operators (CLI changes, sign-ins and sign-outs), paged.
async fn pick(State(state): State<AppState>, ctx: Ctx, OriginalUri(uri): OriginalUri) -> Response {
    let page_no: i64 = page::query(&uri).get("page").and_then(|p| p.parse().ok()).unwrap_or(0).max(0);
    let loaded = async {
        let list = crate::services::tenants::list(&state.db).await?;
        let operators = crate::services::operators::audit_page(&state.db, page_no * PAGE_SIZE, PAGE_SIZE).await?;
        Ok::<_, ServiceError>((list, operators))
    }
    .await;
    let (list, (events, total)) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let body = html! {
        h1 { "Audit" }
        h2 { "Tenants" }
        ul { @for (t, _) in &list { li { a href=(format!("/console/audit/{}", t.name)) { (t.name) } } } }
        section id="operators" {
            h2 { "Operators" }
            p.hint { "Changes to console operators (" code { "openwelkin operators" } ") and console sign-ins, server-wide." }
            table {
                thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Operator" }
                             th scope="col" { "By" } th scope="col" { "Address" } th scope="col" { "Detail" } } }
                tbody {
                    @for e in &events {
                        tr { td { (page::time(e.occurred_at)) } td { (e.event) } td { (e.operator_name) }
                             td { (e.actor) } td { (e.address.as_deref().unwrap_or("")) } td { code { (e.detail) } } }
                    }
                }
            }
            (page::pager("/console/audit", &[], page_no, PAGE_SIZE, total))
        }
    };
    page::frame(&ctx, "/console/audit", "Audit", body).into_response()
}

/// A date (`2026-01-31`) or date-time from a filter field, as epoch milliseconds.
fn instant(text: Option<&String>, end_of_day: bool) -> Option<i64> {
    let text = text?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let time = if end_of_day { day.and_hms_milli_opt(23, 59, 59, 999)? } else { day.and_hms_opt(0, 0, 0)? };
    Some(time.and_utc().timestamp_millis())
}

/// A labelled text input of the filter form, filled with the current value.
fn filter_input(q: &HashMap<String, String>, name: &str, label: &str) -> Markup {
    html! {
        p { label for=(format!("f-{name}")) { (label) }
            input id=(format!("f-{name}")) name=(name) value=(q.get(name).cloned().unwrap_or_default()); }
    }
}

async fn audit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let q = page::query(&uri);
    let kind = q.get("kind").map(String::as_str).unwrap_or("data").to_string();
    let page_no: i64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0).max(0);
    let g = |k: &str| q.get(k).cloned();
    let from = instant(q.get("from"), false);
    let to = instant(q.get("to"), true);
    let offset = page_no * PAGE_SIZE;
    let loaded = async {
        let t = crate::services::tenants::tenant(&state.db, &tenant).await?;
        let db = &state.db;
        Ok::<_, ServiceError>(match kind.as_str() {
            "security" => {
                let f = SecurityFilter {
                    subject_username: g("subject"),
                    object_username: g("object"),
                    event_subtype: g("subtype"),
                    from,
                    to,
                    ..Default::default()
                };
                let (rows, total) = crate::services::audit::security(db, &t, &f, offset, PAGE_SIZE).await?;
                (rows, total)
            }
            "webhook" => {
                let f = AttemptFilter {
                    instance: g("instance"),
                    event_subtype: g("subtype"),
                    entity: g("entity"),
                    status: g("status").map(|s| vec![s]),
                    patient_id: g("patient"),
                    from,
                    to,
                };
                crate::services::audit::webhooks(db, &t, &f, offset, PAGE_SIZE).await?
            }
            _ => {
                let f = DataAuditFilter {
                    entity: g("entity"),
                    event_subtype: g("subtype"),
                    operation: g("operation"),
                    cdt_name: g("cdt"),
                    subject_username: g("subject"),
                    instance: g("instance"),
                    patient_id: g("patient"),
                    search: g("search"),
                    date_start: from,
                    date_end: to,
                    ..Default::default()
                };
                let (rows, total) = crate::services::audit::data(db, &t, &f, offset, PAGE_SIZE).await?;
                let rows = rows
                    .into_iter()
                    .map(|r| {
                        serde_json::json!({
                            "sentAt": page::time(r.sent_at), "instance": r.instance, "entity": r.event_entity,
                            "subtype": r.event_subtype, "operation": r.operation,
                            "actor": format!("{}:{}", r.subject_actor, r.subject_username),
                            "patientId": r.patient_id, "cdtName": r.cdt_name,
                            "record": serde_json::from_str::<serde_json::Value>(&r.record).unwrap_or_default(),
                        })
                    })
                    .collect();
                (rows, total)
            }
        })
    }
    .await;
    let (rows, total) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let base = format!("/console/audit/{tenant}");
    let fields: &[(&str, &str)] = match kind.as_str() {
        "security" => {
            &[("subject", "Subject (username)"), ("object", "Object (username)"), ("subtype", "Event subtype")]
        }
        "webhook" => &[
            ("instance", "Instance"),
            ("entity", "Entity"),
            ("subtype", "Event subtype"),
            ("status", "Status"),
            ("patient", "Patient id"),
        ],
        _ => &[
            ("instance", "Instance"),
            ("entity", "Entity"),
            ("subtype", "Event subtype"),
            ("operation", "Operation"),
            ("cdt", "CDT name"),
            ("subject", "Actor (username)"),
            ("patient", "Patient id"),
            ("search", "Search"),
        ],
    };
    let mut keep: Vec<(&str, String)> = vec![("kind", kind.clone())];
    for (name, _) in fields.iter().chain([("from", ""), ("to", "")].iter()) {
        if let Some(v) = q.get(*name) {
            keep.push((name, v.clone()));
        }
    }
    let body = html! {
        h1 { "Audit of " (tenant) }
        nav aria-label="Audits" {
            ul {
                li { a href=(format!("{base}?kind=data")) aria-current=[(kind == "data").then_some("page")] { "Data audit" } }
                li { a href=(format!("{base}?kind=security")) aria-current=[(kind == "security").then_some("page")] { "Security audit" } }
                li { a href=(format!("{base}?kind=webhook")) aria-current=[(kind == "webhook").then_some("page")] { "Webhook audit" } }
            }
        }
        form method="get" action=(base) {
            input type="hidden" name="kind" value=(kind);
            fieldset {
                legend { "Filters" }
                @for (name, label) in fields { (filter_input(&q, name, label)) }
                (filter_input(&q, "from", "From (date)"))
                (filter_input(&q, "to", "To (date)"))
                button type="submit" { "Filter" }
            }
        }
        (page::pager(&base, &keep, page_no, PAGE_SIZE, total))
        @for row in &rows {
            details {
                summary {
                    @for key in ["sentAt", "instance", "instanceName", "subtype", "eventSubtype", "actor", "subjectFullName", "objectFullName", "status", "webhookName"] {
                        @if let Some(v) = row.get(key).and_then(|v| v.as_str()) { (v) " · " }
                    }
                }
                (page::json_block(row))
            }
        }
        @if rows.is_empty() { p { "No entry matches." } }
    };
    page::frame(&ctx, "/console/audit", "Audit", body).into_response()
}
