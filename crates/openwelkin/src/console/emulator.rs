//! Emulator (served with `--emulator`): an instance's outboxes (SMS, email, chat), its
//! webhook deliveries with their attempts and payloads and "retry now", reset, seed,
//! snapshots and restore, the fault rules and the clock. It calls the emulator's own
//! functions (`emulator/`), as the `/_emulator/` routes do, with the operator as actor.

use super::forms::Fields;
use super::page::{self, button, csrf, Ctx};
use crate::app::AppState;
use crate::emulator::data::Target;
use crate::emulator::faults::FaultSpec;
use crate::emulator::outbox::{self, Kind};
use crate::services::error::{ServiceError, ServiceResult};
use crate::store::tenants::{Instance, Tenant};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/emulator", get(pick))
        .route("/console/emulator/{tenant}/{instance}", get(overview))
        .route("/console/emulator/{tenant}/{instance}/reset", post(reset))
        .route("/console/emulator/{tenant}/{instance}/seed", post(seed))
        .route("/console/emulator/{tenant}/{instance}/snapshots/{action}", post(snapshot))
        .route("/console/emulator/{tenant}/{instance}/outbox/{kind}/clear", post(clear_outbox))
        .route("/console/emulator/{tenant}/{instance}/webhooks/{id}/retry", post(retry_webhook))
        .route("/console/emulator/{tenant}/{instance}/faults", post(add_fault))
        .route("/console/emulator/{tenant}/{instance}/faults/{id}/delete", post(remove_fault))
        .route("/console/emulator/{tenant}/{instance}/clock", post(clock))
}

fn disabled() -> ServiceError {
    ServiceError::not_found(
        "EMULATOR_DISABLED",
        "EMULATOR",
        "The emulator is not enabled: start the server with --emulator",
        json!({}),
    )
}

fn controls(state: &AppState) -> ServiceResult<&crate::emulator::admin::Emulator> {
    state.emulator.as_deref().ok_or_else(disabled)
}

fn target(state: &AppState, ctx: &Ctx) -> Target {
    Target { db: state.db.clone(), clock: state.clock.clone(), files: state.files.clone(), actor: ctx.signed.actor() }
}

async fn located(state: &AppState, t: &str, i: &str) -> ServiceResult<(Tenant, Instance)> {
    controls(state)?;
    let tenant = crate::emulator::data::tenant(&state.db, t).await?;
    let instance = crate::emulator::data::instance(&state.db, &tenant, i).await?;
    Ok((tenant, instance))
}

async fn pick(State(state): State<AppState>, ctx: Ctx) -> Response {
    if state.emulator.is_none() {
        return page::service_error(&disabled());
    }
    super::designer::instance_picker(&state, &ctx, "/console/emulator", "Emulator", "").await
}

fn base(t: &str, i: &str) -> String {
    format!("/console/emulator/{t}/{i}")
}

fn outbox_section(ctx: &Ctx, b: &str, kind: Kind, title: &str, items: &[Value], keys: &[&str]) -> Markup {
    html! {
        section id=(format!("outbox-{}", kind.name())) {
            h2 { (title) " (" (items.len()) ")" }
            @if items.is_empty() { p.hint { "Empty." } }
            table {
                @if !items.is_empty() {
                    thead { tr { @for k in keys { th scope="col" { (k) } } } }
                }
                tbody {
                    @for item in items {
                        tr { @for k in keys { td { @match &item[*k] { Value::String(s) => { (s) }, Value::Null => {}, other => { code { (other.to_string()) } } } } } }
                    }
                }
            }
            @if !items.is_empty() { (button(ctx, &format!("{b}/outbox/{}/clear", kind.name()), &format!("Empty the {title} outbox"))) }
        }
    }
}

async fn overview(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>) -> Response {
    let loaded = async {
        let (tenant, instance) = located(&state, &t, &i).await?;
        let sms = outbox::list(&state.db, &instance, Kind::Sms).await?;
        let email = outbox::list(&state.db, &instance, Kind::Email).await?;
        let chat = outbox::list(&state.db, &instance, Kind::Chat).await?;
        let webhooks = outbox::list(&state.db, &instance, Kind::Webhooks).await?;
        let attempts_filter = crate::store::webhooks::AttemptFilter { instance: Some(i.clone()), ..Default::default() };
        let attempts = crate::services::audit::webhooks(&state.db, &tenant, &attempts_filter, 0, 200).await?.0;
        let snapshots = crate::emulator::data::list(&target(&state, &ctx), &t, &i).await?;
        Ok::<_, ServiceError>((sms, email, chat, webhooks, attempts, snapshots))
    }
    .await;
    let (sms, email, chat, webhooks, attempts, snapshots) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let emulator = controls(&state).expect("checked by located");
    let b = base(&t, &i);
    let now = state.clock.now();
    let body = html! {
        h1 { "Emulator: " (t) " / " (i) }
        nav aria-label="On this page" {
            ul {
                li { a href="#outbox-sms" { "SMS" } } li { a href="#outbox-email" { "Email" } } li { a href="#outbox-chat" { "Chat" } }
                li { a href="#webhooks" { "Webhook deliveries" } } li { a href="#data" { "Reset, seed, snapshots" } }
                li { a href="#faults" { "Faults" } } li { a href="#clock" { "Clock" } }
            }
        }
        (outbox_section(&ctx, &b, Kind::Sms, "SMS", &sms, &["queuedAt", "from", "to", "message", "smsId"]))
        (outbox_section(&ctx, &b, Kind::Email, "Email", &email, &["queuedAt", "to", "emailId", "message"]))
        (outbox_section(&ctx, &b, Kind::Chat, "Chat", &chat, &["sentAt", "patientId", "senderType", "message"]))
        section id="webhooks" {
            h2 { "Webhook deliveries (" (webhooks.len()) ")" }
            @if webhooks.is_empty() { p.hint { "None." } }
            @for d in &webhooks {
                @let id = d["id"].as_str().unwrap_or_default();
                details {
                    summary { (d["webhookName"].as_str().unwrap_or_default()) " · " (d["status"].as_str().unwrap_or_default())
                        " · " (d["attempts"]) " attempts · next " (d["nextAttemptAt"].as_str().unwrap_or_default()) }
                    h3 { "Payload" }
                    (page::json_block(&d["body"]))
                    @if d["status"].as_str() != Some("DELIVERED") { (button(&ctx, &format!("{b}/webhooks/{id}/retry"), "Retry now")) }
                }
            }
            h3 { "Attempts (newest first)" }
            table {
                thead { tr { th scope="col" { "Sent" } th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "HTTP" } } }
                tbody {
                    @for a in &attempts {
                        tr { td { (a["sentAt"].as_str().unwrap_or_default()) } td { (a["eventSubtype"].as_str().unwrap_or_default()) }
                             td { (a["status"].as_str().unwrap_or_default()) } td { (a["statusCode"].as_str().unwrap_or_default()) } }
                    }
                }
            }
            @if !webhooks.is_empty() { (button(&ctx, &format!("{b}/outbox/webhooks/clear"), "Drop every webhook delivery")) }
        }
        section id="data" {
            h2 { "Reset, seed, snapshots" }
            form method="post" action=(format!("{b}/reset")) {
                (csrf(&ctx))
                p { "Deletes every record of " (i) " (configuration, clients and audits stay)." }
                button.danger type="submit" { "Reset the instance" }
            }
            form method="post" action=(format!("{b}/seed")) {
                (csrf(&ctx))
                p { label for="seed-count" { "Patients to generate" } input id="seed-count" name="count" type="number" min="1" max=(crate::emulator::generate::MAX_GENERATED) value="10" required; }
                p { label for="seed-seed" { "Seed (same seed, same data)" } input id="seed-seed" name="seed" type="number" min="0" value="1"; }
                button type="submit" { "Seed generated data" }
            }
            form method="post" action=(format!("{b}/snapshots/save")) {
                (csrf(&ctx))
                p { label for="snapshot-name" { "Snapshot name" } input id="snapshot-name" name="name" required; }
                button type="submit" { "Save a snapshot" }
            }
            table {
                caption { "Snapshots" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Details" } th scope="col" { "Actions" } } }
                tbody {
                    @for s in snapshots["snapshots"].as_array().into_iter().flatten() {
                        @let name = s["name"].as_str().unwrap_or_default();
                        tr {
                            td { (name) } td { code { (s.to_string()) } }
                            td {
                                form.inline method="post" action=(format!("{b}/snapshots/restore")) {
                                    (csrf(&ctx)) input type="hidden" name="name" value=(name);
                                    button type="submit" aria-label=(format!("Restore {name}")) { "Restore" }
                                }
                                form.inline method="post" action=(format!("{b}/snapshots/delete")) {
                                    (csrf(&ctx)) input type="hidden" name="name" value=(name);
                                    button.danger type="submit" aria-label=(format!("Delete {name}")) { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section id="faults" {
            h2 { "Faults" }
            p.hint { "Fault rules are the whole server's: they apply to every tenant's requests that match." }
            table {
                thead { tr { th scope="col" { "Rule" } th scope="col" { "Matched" } th scope="col" { "Remove" } } }
                tbody {
                    @for f in emulator.faults.list() {
                        tr { td { code { (serde_json::to_string(&f.spec).unwrap_or_default()) } } td { (f.matched) }
                             td { (button(&ctx, &format!("{b}/faults/{}/delete", f.id), "Remove")) } }
                    }
                }
            }
            form method="post" action=(format!("{b}/faults")) {
                (csrf(&ctx))
                p { label for="fault-path" { "Path pattern" } input id="fault-path" name="path" required placeholder="/*/patients*"; }
                p { label for="fault-method" { "Method (any when empty)" } input id="fault-method" name="method"; }
                p { label for="fault-status" { "Error status" }
                    select id="fault-status" name="status" { option value="" { "none" } @for s in [429, 500, 502, 503, 504] { option { (s) } } } }
                p { label for="fault-rate" { "Error rate (0-1)" } input id="fault-rate" name="errorRate" inputmode="decimal"; }
                p { label for="fault-latency" { "Latency (ms)" } input id="fault-latency" name="latencyMs" type="number" min="0" max="60000"; }
                p { label for="fault-drop" { "Drop rate (0-1)" } input id="fault-drop" name="dropRate" inputmode="decimal"; }
                p { label for="fault-times" { "Times (always when empty)" } input id="fault-times" name="times" type="number" min="1"; }
                button type="submit" { "Add the fault" }
            }
        }
        section id="clock" {
            h2 { "Clock" }
            p { "Now: " strong { (now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)) } @if state.clock.is_frozen() { " (frozen)" } }
            form method="post" action=(format!("{b}/clock")) {
                (csrf(&ctx))
                p { label for="clock-set" { "Set to (RFC 3339)" } input id="clock-set" name="time" placeholder="2026-01-31T09:00:00Z"; }
                p { label for="clock-advance" { "Advance by (hours)" } input id="clock-advance" name="hours" type="number"; }
                p.checks {
                    input type="radio" id="clock-keep" name="mode" value="keep" checked; label for="clock-keep" { "Keep running or frozen as it is" }
                    input type="radio" id="clock-freeze" name="mode" value="freeze"; label for="clock-freeze" { "Freeze" }
                    input type="radio" id="clock-unfreeze" name="mode" value="unfreeze"; label for="clock-unfreeze" { "Unfreeze" }
                    input type="radio" id="clock-reset" name="mode" value="reset"; label for="clock-reset" { "Back to the real time" }
                }
                button type="submit" { "Apply to the clock" }
            }
        }
    };
    page::frame(&ctx, "/console/emulator", "Emulator", body).into_response()
}

/// Records a change to the process-wide controls (faults, clock) in the tenant's
/// security audit, with the operator as actor.
async fn audit_control(
    state: &AppState,
    ctx: &Ctx,
    tenant: &Tenant,
    subtype: &'static str,
    record: Value,
) -> ServiceResult<()> {
    let actor = ctx.signed.actor();
    let event =
        crate::events::audit::SecurityEvent { tenant_id: &tenant.id, subtype, subject: &actor, object: None, record };
    state.db.record_security_event(&event, state.clock.now_ms()).await?;
    Ok(())
}

fn finish(b: &str, result: ServiceResult<String>) -> Response {
    match result {
        Ok(notice) => page::done(b, &notice),
        Err(e) => page::failed(b, &e),
    }
}

async fn reset(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>) -> Response {
    let result = async {
        located(&state, &t, &i).await?;
        let target = target(&state, &ctx);
        crate::emulator::data::reset(&target, &t, Some(&i)).await?;
        crate::emulator::data::spawn_sweep(target);
        Ok(format!("{i} was reset: it holds no records."))
    }
    .await;
    finish(&base(&t, &i), result)
}

async fn seed(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>, f: Fields) -> Response {
    let result = async {
        let (tenant, _) = located(&state, &t, &i).await?;
        let count: usize = f.text("count").parse().map_err(|_| crate::emulator::bad_input("count is a number"))?;
        if !(1..=crate::emulator::generate::MAX_GENERATED).contains(&count) {
            return Err(crate::emulator::bad_input(format!(
                "count is 1 to {}",
                crate::emulator::generate::MAX_GENERATED
            )));
        }
        let seed: u64 = f.text("seed").parse().unwrap_or(1);
        let spec = crate::emulator::generate::Spec { count, seed, start_day: state.clock.now().date_naive() };
        let plan = crate::emulator::generate::for_instance(&state.db, &t, &i, &spec).await?;
        // The seed replays its care team through the routes this server serves, as the
        // `/_emulator/` seed does.
        let router = crate::api::router(state.clone());
        let done = crate::emulator::fixture::seed_plan(&state, &router, &t, &i, &plan, false).await?;
        let record = json!({"instance": i, "count": count, "seed": seed, "created": done.created});
        audit_control(&state, &ctx, &tenant, "EMULATOR_SEEDED", record).await?;
        Ok(format!("Seeded: {} records created.", done.created))
    }
    .await;
    finish(&base(&t, &i), result)
}

/// Saves, restores or deletes the snapshot the form names (`action`: save, restore, delete).
async fn snapshot(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, action)): Path<(String, String, String)>,
    f: Fields,
) -> Response {
    let result = async {
        located(&state, &t, &i).await?;
        let name = f.text("name");
        let target = target(&state, &ctx);
        let done = match action.as_str() {
            "save" => crate::emulator::data::save(&target, &t, &i, &name).await.map(|_| "saved"),
            "restore" => crate::emulator::data::restore(&target, &t, &i, &name).await.map(|_| "restored"),
            "delete" => crate::emulator::data::delete(&target, &t, &i, &name).await.map(|_| "deleted"),
            other => Err(crate::emulator::not_found(format!("no snapshot action {other:?}"))),
        }?;
        if action == "restore" {
            // Records the restore replaced are deleted in the background, as after a reset.
            crate::emulator::data::spawn_sweep(target);
        }
        Ok(format!("Snapshot {name} {done}."))
    }
    .await;
    finish(&base(&t, &i), result)
}

async fn clear_outbox(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, kind)): Path<(String, String, String)>,
) -> Response {
    let result = async {
        let (_, instance) = located(&state, &t, &i).await?;
        let kind = Kind::parse(&kind)?;
        let n = outbox::clear(&state.db, &instance, kind, &ctx.signed.actor(), state.clock.now_ms()).await?;
        Ok(format!("{n} removed from the {} outbox.", kind.name()))
    }
    .await;
    finish(&base(&t, &i), result)
}

async fn retry_webhook(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, id)): Path<(String, String, String)>,
) -> Response {
    let result = async {
        let (_, instance) = located(&state, &t, &i).await?;
        outbox::retry_webhook(&state.db, &instance, &id, &ctx.signed.actor(), state.clock.now_ms()).await?;
        // Sent now rather than on the worker's next pass; the page does not wait for it.
        let (db, clock, settings) = (state.db.clone(), state.clock.clone(), state.webhooks.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::events::webhooks::deliver_now(&db, &clock, &settings).await {
                tracing::warn!(error = %e, "retry now: delivery failed");
            }
        });
        Ok("The delivery is due now; reload to see its attempt.".to_string())
    }
    .await;
    finish(&format!("{}#webhooks", base(&t, &i)), result)
}

/// The rule a submitted fault form describes.
fn fault_of(f: &Fields) -> ServiceResult<FaultSpec> {
    let mut spec = serde_json::Map::new();
    spec.insert("path".into(), json!(f.text("path")));
    let number = |name: &str| -> ServiceResult<Option<Value>> {
        let text = f.text(name);
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<f64>()
            .map(|n| {
                Some(if n.fract() == 0.0 && name != "errorRate" && name != "dropRate" {
                    json!(n as i64)
                } else {
                    json!(n)
                })
            })
            .map_err(|_| crate::emulator::bad_input(format!("{name} is a number")))
    };
    if !f.text("method").is_empty() {
        spec.insert("method".into(), json!(f.text("method").to_uppercase()));
    }
    for name in ["status", "errorRate", "latencyMs", "dropRate", "times"] {
        if let Some(v) = number(name)? {
            spec.insert(name.into(), v);
        }
    }
    serde_json::from_value(Value::Object(spec)).map_err(|e| crate::emulator::bad_input(e.to_string()))
}

async fn add_fault(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let result = async {
        let (tenant, _) = located(&state, &t, &i).await?;
        let spec = fault_of(&f)?;
        let fault = controls(&state)?.faults.add(spec)?;
        audit_control(&state, &ctx, &tenant, "EMULATOR_FAULT_ADDED", serde_json::to_value(&fault).unwrap_or_default())
            .await?;
        Ok(format!("Fault {} added.", fault.id))
    }
    .await;
    finish(&format!("{}#faults", base(&t, &i)), result)
}

async fn remove_fault(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, id)): Path<(String, String, String)>,
) -> Response {
    let result = async {
        let (tenant, _) = located(&state, &t, &i).await?;
        if !controls(&state)?.faults.remove(&id) {
            return Err(crate::emulator::not_found(format!("no fault {id:?}")));
        }
        audit_control(&state, &ctx, &tenant, "EMULATOR_FAULT_REMOVED", json!({"id": id})).await?;
        Ok(format!("Fault {id} removed."))
    }
    .await;
    finish(&format!("{}#faults", base(&t, &i)), result)
}

async fn clock(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>, f: Fields) -> Response {
    let result = async {
        let (tenant, _) = located(&state, &t, &i).await?;
        let clock = &state.clock;
        match f.get("mode") {
            Some("freeze") => clock.freeze(),
            Some("unfreeze") => clock.unfreeze(),
            Some("reset") => clock.reset(),
            _ => {}
        }
        let time = f.text("time");
        if !time.is_empty() {
            let to = chrono::DateTime::parse_from_rfc3339(&time)
                .map_err(|_| crate::emulator::bad_input("the time is an RFC 3339 date-time"))?;
            clock.set(to.with_timezone(&chrono::Utc));
        }
        let hours = f.text("hours");
        if !hours.is_empty() {
            let h: i64 = hours.parse().map_err(|_| crate::emulator::bad_input("hours is a whole number"))?;
            if h.abs() > 10 * 366 * 24 {
                return Err(crate::emulator::bad_input("the clock moves at most ten years at a time"));
            }
            clock.advance(chrono::Duration::hours(h));
        }
        let now = clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        audit_control(
            &state,
            &ctx,
            &tenant,
            "EMULATOR_CLOCK_CHANGED",
            json!({"now": now, "frozen": clock.is_frozen()}),
        )
        .await?;
        Ok(format!("The clock reads {now}."))
    }
    .await;
    finish(&format!("{}#clock", base(&t, &i)), result)
}
