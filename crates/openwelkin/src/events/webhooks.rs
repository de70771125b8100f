//! Webhook delivery. A worker in every serving node fans events out of the transactional
//! outbox into deliveries for the instance's active webhooks that subscribe to them, then
//! claims due deliveries (leased, so one node at a time) and POSTs them: at least once,
//! in order per record, retried with exponential backoff within a window (24 hours by
//! default), every attempt recorded for the webhook audit. Receivers check the
//! `X-Openwelkin-Signature` header (docs/WEBHOOKS.md). Sent over TLS with the server's
//! trust (`serve --ca-file`), only to public addresses unless `--allow-private-webhooks`
//! (`net::ssrf`).

use crate::clock::Clock;
use crate::designer::views::Webhook;
use crate::store::tenants::{Instance, Tenant};
use crate::store::webhooks::{insert_delivery, mark_fanned_out, Activation, Attempt, Delivery};
use crate::store::Db;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use std::collections::hash_map::{Entry, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Retry base delay; attempt n waits base × 2^(n-1), at most 6 hours.
    pub retry_base_ms: i64,
    /// Give up on a delivery this long after its event.
    pub retry_window_ms: i64,
    /// How long a node holds a claimed delivery before others may take it over.
    pub lease_ms: i64,
    /// Allow URLs that resolve to loopback or private addresses (tests, local receivers).
    pub allow_private: bool,
    pub timeout: Duration,
    /// The trust of https receivers (`serve --ca-file`).
    pub tls: crate::net::tls::ClientTls,
    /// The server's public base URL (`serve --public-url`, else its listening address):
    /// payloads' `url` links to the changed record under it.
    pub public_url: String,
    /// Emulator: the worker only fans out; deliveries wait for `deliver_now`.
    pub on_demand: Arc<AtomicBool>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry_base_ms: 10_000,
            retry_window_ms: 24 * 3600 * 1000,
            lease_ms: 60_000,
            allow_private: false,
            timeout: Duration::from_secs(10),
            tls: Default::default(),
            public_url: "http://127.0.0.1:8080".into(),
            on_demand: Arc::default(),
        }
    }
}

/// The per-webhook signing secret: derived from the server key, never stored.
pub fn secret(server_key: &[u8], instance_id: &str, webhook: &str, version: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(server_key).expect("any key length works");
    mac.update(format!("webhook:{instance_id}:{webhook}:{version}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length works");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The webhook as the audit's `record` shows it.
pub fn record_of(w: &Webhook, active: bool) -> Value {
    json!({"name": w.name, "title": w.title, "url": w.url, "headers": w.headers, "queryParameters": w.query_parameters,
           "payload": w.payload, "active": active, "enabled": true})
}

/// The payload's `url`: a link to the changed record, as a receiver reads it back (a
/// patient, a CDT record of a patient, a calendar event), else to the patient concerned,
/// else to the instance.
pub fn record_url(base: &str, tenant: &str, instance: &str, e: &crate::store::audit::OutboxEvent) -> String {
    let root = format!("{}/{tenant}/{instance}", base.trim_end_matches('/'));
    let source = &e.source_id;
    match (e.event_entity.as_str(), e.patient_id.as_deref(), e.source_name.as_deref()) {
        ("PATIENT", _, _) => format!("{root}/patients/{source}"),
        ("CDT", Some(p), Some(cdt)) => format!("{root}/patients/{p}/cdts/{cdt}/{source}"),
        ("CALENDAR", _, _) if e.event_subtype.starts_with("CALENDAR_EVENT") => {
            format!("{root}/calendar/events/{source}")
        }
        (_, Some(p), _) => format!("{root}/patients/{p}"),
        _ => root,
    }
}

/// The payload: the webhook's predefined fields (all of them when it names none) and its
/// custom fields.
pub fn payload(w: &Webhook, event: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    let all = w.payload.predefined_fields.is_empty();
    for (field, key) in [
        ("SOURCE_ID", "sourceId"),
        ("PATIENT_ID", "patientId"),
        ("SOURCE_NAME", "sourceName"),
        ("TENANT_NAME", "tenantName"),
        ("INSTANCE_NAME", "instanceName"),
        ("EVENT_ENTITY", "eventEntity"),
        ("EVENT_SUBTYPE", "eventSubtype"),
        ("URL", "url"),
    ] {
        if all || w.payload.predefined_fields.iter().any(|f| f == field) {
            out.insert(key.into(), event.get(key).cloned().unwrap_or(Value::Null));
        }
    }
    for c in &w.payload.custom_fields {
        out.insert(c.name.clone(), json!(c.value));
    }
    Value::Object(out)
}

/// Refuses URLs that are not http(s) or whose host is, or resolves to, a non-public
/// address (`net::ssrf`); deliveries check again where they connect.
pub use crate::net::ssrf::check_url;

fn status_name(code: u16) -> String {
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| r.to_ascii_uppercase().replace([' ', '-'], "_"))
        .unwrap_or_else(|| code.to_string())
}

/// The client of deliveries and test sends: TLS with the server's trust, no redirects, no
/// proxy, and (unless private addresses are allowed) only public addresses connected to.
pub fn http_client(settings: &WebhookSettings) -> reqwest::Client {
    crate::net::ssrf::client(&settings.tls, settings.allow_private, settings.timeout)
}

/// The URL if it may be sent to: http(s), and no non-public IP literal unless allowed.
/// A name is checked by the client's resolver when it connects.
pub fn sendable(url: &str, settings: &WebhookSettings) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    crate::net::ssrf::check_literal(&parsed, settings.allow_private)?;
    Ok(parsed)
}

/// Why a request failed, with the causes (a refused address, a certificate error).
pub fn failure(e: &reqwest::Error) -> String {
    format!("request failed: {}", crate::net::tls::describe(e))
}

/// Runs forever: fan out, deliver, sleep when idle.
pub async fn run(db: Db, clock: Clock, settings: WebhookSettings) {
    let node = crate::ids::new_id();
    let http = http_client(&settings);
    let key = match db.signing_key(clock.now_ms()).await {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "webhook worker cannot read the server key");
            return;
        }
    };
    loop {
        let fanned = match fan_out(&db, &clock, &settings.public_url).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "webhook fan-out failed");
                0
            }
        };
        let mut claimed = 0;
        if !settings.on_demand.load(Ordering::Relaxed) {
            match deliver_due(&db, &clock, &http, &key, &settings, &node).await {
                Ok(n) => claimed = n,
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        if let Some(pause) = pause_after(fanned, claimed) {
            tokio::time::sleep(pause).await;
        }
    }
}

/// Events one fan-out reads at most.
const FAN_OUT_BATCH: usize = 500;
/// Deliveries one round claims at most.
const DELIVERY_BATCH: usize = 16;

/// How long the worker rests after a round that fanned out `fanned` events and claimed
/// `claimed` deliveries: not at all after a full batch (there is more), a moment after a
/// partial one, 100 ms when there was nothing. The moment lets the next events gather:
/// going round again at once under a steady stream of creates fanned out one or two
/// events at a time, each round a transaction of its own (7 statements and a commit per
/// create on PostgreSQL, as many as the create itself).
fn pause_after(fanned: usize, claimed: usize) -> Option<Duration> {
    if fanned >= FAN_OUT_BATCH || claimed >= DELIVERY_BATCH {
        None
    } else if fanned > 0 || claimed > 0 {
        Some(Duration::from_millis(20))
    } else {
        Some(Duration::from_millis(100))
    }
}

/// Claims up to 16 due deliveries and sends them; returns how many it claimed.
async fn deliver_due(
    db: &Db,
    clock: &Clock,
    http: &reqwest::Client,
    key: &[u8],
    settings: &WebhookSettings,
    node: &str,
) -> anyhow::Result<usize> {
    if !db.deliveries_due(clock.now_ms()).await? {
        return Ok(0);
    }
    // The time is read again after that check, which may have waited for a connection:
    // the lease must run from the claim, or a slow check would shorten it and another
    // node could claim the delivery again while this one still sends it.
    let now = clock.now_ms();
    let batch = db.claim_deliveries(node, now, now + settings.lease_ms, DELIVERY_BATCH as i64).await?;
    let claimed = batch.len();
    let mut sends = tokio::task::JoinSet::new();
    for d in batch {
        let (db, clock, http, key, settings) =
            (db.clone(), clock.clone(), http.clone(), key.to_vec(), settings.clone());
        sends.spawn(async move { deliver(&db, &clock, &http, &key, &settings, d).await });
    }
    while sends.join_next().await.is_some() {}
    Ok(claimed)
}

/// Emulator: fans out and sends every delivery due now, whatever the mode; returns how
/// many deliveries were attempted. Failed ones are rescheduled as usual.
pub async fn deliver_now(db: &Db, clock: &Clock, settings: &WebhookSettings) -> anyhow::Result<usize> {
    while fan_out(db, clock, &settings.public_url).await? > 0 {}
    let (node, http) = (crate::ids::new_id(), http_client(settings));
    let key = db.signing_key(clock.now_ms()).await?;
    let mut attempted = 0;
    loop {
        let n = deliver_due(db, clock, &http, &key, settings, &node).await?;
        if n == 0 {
            return Ok(attempted);
        }
        attempted += n;
    }
}

/// Turns new outbox events into deliveries and marks them, in one transaction (on
/// PostgreSQL nodes lock disjoint events).
pub async fn fan_out(db: &Db, clock: &Clock, public_url: &str) -> anyhow::Result<usize> {
    if !db.outbox_has_pending().await? {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let events = crate::store::audit::outbox_pending(&mut tx, db.backend(), FAN_OUT_BATCH as i64).await?;
    if events.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let now = clock.now_ms();
    let mut made = 0;
    // A batch's events mostly come from a few instances: each is looked up once.
    let mut targets: HashMap<(String, String), Option<Target>> = HashMap::new();
    for e in &events {
        let Some(instance_name) = &e.instance else { continue };
        let key = (e.tenant_id.clone(), instance_name.clone());
        let target = match targets.entry(key) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(Target::find(db, &e.tenant_id, instance_name).await?),
        };
        let Some(Target { tenant, instance, activations, webhooks }) = target else { continue };
        // Only webhooks active since before the event was written.
        let active: Vec<&str> = activations
            .iter()
            .filter(|a| a.active && a.updated_at <= e.created_at)
            .map(|a| a.webhook_name.as_str())
            .collect();
        if active.is_empty() {
            continue;
        }
        for w in webhooks.iter().filter(|w| active.contains(&w.name.as_str()) && w.events.contains(&e.event_subtype)) {
            let mut event = Map::new();
            event.insert("sourceId".into(), json!(e.source_id));
            event.insert("patientId".into(), json!(e.patient_id));
            event.insert("sourceName".into(), json!(e.source_name));
            event.insert("tenantName".into(), json!(tenant.name));
            event.insert("instanceName".into(), json!(instance.name));
            event.insert("eventEntity".into(), json!(e.event_entity));
            event.insert("eventSubtype".into(), json!(e.event_subtype));
            event.insert("url".into(), json!(record_url(public_url, &tenant.name, &instance.name, e)));
            let body = json!({"event": event, "payload": payload(w, &event)});
            insert_delivery(&mut tx, &e.tenant_id, &instance.id, &w.name, e.seq, &e.source_id, &body, now).await?;
            made += 1;
        }
    }
    mark_fanned_out(&mut tx, &events.iter().map(|e| e.seq).collect::<Vec<_>>()).await?;
    tx.commit().await?;
    Ok(made.max(events.len()))
}

/// Where one instance's events go: its tenant and instance, which of its webhooks are
/// switched on (and since when), and the webhooks its current formation defines (read
/// only when some are on).
struct Target {
    tenant: Tenant,
    instance: Instance,
    activations: Vec<Activation>,
    webhooks: Vec<Webhook>,
}

impl Target {
    async fn find(db: &Db, tenant_id: &str, instance_name: &str) -> anyhow::Result<Option<Target>> {
        let Some(tenant) = db.tenant_by_id(tenant_id).await? else { return Ok(None) };
        let Some(instance) = db.instance_by_name(tenant_id, instance_name).await? else { return Ok(None) };
        let activations = db.webhook_activations(&instance.id).await?;
        let webhooks = if activations.iter().any(|a| a.active) {
            db.current_formation(&instance.id).await?.designer.webhook_list()
        } else {
            Vec::new()
        };
        Ok(Some(Target { tenant, instance, activations, webhooks }))
    }
}

async fn deliver(db: &Db, clock: &Clock, http: &reqwest::Client, key: &[u8], settings: &WebhookSettings, d: Delivery) {
    if let Err(e) = try_deliver(db, clock, http, key, settings, &d).await {
        tracing::warn!(error = %e, delivery = %d.id, "webhook delivery could not be recorded");
    }
}

async fn try_deliver(
    db: &Db,
    clock: &Clock,
    http: &reqwest::Client,
    key: &[u8],
    settings: &WebhookSettings,
    d: &Delivery,
) -> anyhow::Result<()> {
    let formation = db.current_formation(&d.instance_id).await?;
    let activation =
        db.webhook_activations(&d.instance_id).await?.into_iter().find(|a| a.webhook_name == d.webhook_name);
    let webhook = formation.designer.webhook_list().into_iter().find(|w| w.name == d.webhook_name);
    let event = &d.payload["event"];
    let text = |k: &str| event[k].as_str().map(String::from);
    let (entity, subtype, patient, instance) = (
        text("eventEntity").unwrap_or_default(),
        text("eventSubtype").unwrap_or_default(),
        text("patientId"),
        text("instanceName").unwrap_or_default(),
    );
    let now = clock.now_ms();
    let (Some(w), Some(a)) = (webhook, activation.filter(|a| a.active)) else {
        let attempt = Attempt {
            tenant_id: &d.tenant_id,
            instance_name: &instance,
            delivery_id: &d.id,
            webhook_name: &d.webhook_name,
            event_entity: &entity,
            event_subtype: &subtype,
            patient_id: patient.as_deref(),
            status: "FAILED",
            status_code: None,
            response: Some("the webhook is no longer active"),
            record: &Value::Null,
        };
        db.finish_attempt(&attempt, false, None, now).await?;
        counted(false, true);
        return Ok(());
    };
    let record = record_of(&w, true);
    let body = d.payload["payload"].to_string();
    let (delivered, code, response) = match sendable(&w.url, settings) {
        Err(refused) => (false, None, refused),
        Ok(url) => {
            let secret = secret(key, &d.instance_id, &w.name, a.secret_version);
            let mut req = http
                .post(url)
                .query(&w.query_parameters.iter().map(|q| (q.name.clone(), q.value.clone())).collect::<Vec<_>>())
                .header("content-type", "application/json")
                .header("x-openwelkin-signature", signature(&secret, now / 1000, &body))
                .header("x-openwelkin-delivery", &d.id)
                .body(body.clone());
            for h in &w.headers {
                req = req.header(h.name.as_str(), h.value.as_str());
            }
            let sending = std::time::Instant::now();
            let answered = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let text: String = resp.text().await.unwrap_or_default().chars().take(4000).collect();
                    (status.is_success(), Some(status_name(status.as_u16())), text)
                }
                Err(e) => (false, None, failure(&e)),
            };
            metrics::histogram!(crate::telemetry::names::WEBHOOK_ATTEMPT_DURATION).record(sending.elapsed());
            answered
        }
    };
    let retry_at = (!delivered)
        .then(|| now + (settings.retry_base_ms.saturating_mul(1 << d.attempts.min(20))).min(6 * 3600 * 1000))
        .filter(|at| *at - d.created_at <= settings.retry_window_ms);
    let attempt = Attempt {
        tenant_id: &d.tenant_id,
        instance_name: &instance,
        delivery_id: &d.id,
        webhook_name: &w.name,
        event_entity: &entity,
        event_subtype: &subtype,
        patient_id: patient.as_deref(),
        status: if delivered { "DELIVERED" } else { "FAILED" },
        status_code: code.as_deref(),
        response: Some(&response),
        record: &record,
    };
    db.finish_attempt(&attempt, delivered, retry_at, clock.now_ms()).await?;
    counted(delivered, !delivered && retry_at.is_none());
    Ok(())
}

/// Counts a recorded attempt (`openwelkin_webhook_attempts_total`) and a delivery given up.
fn counted(delivered: bool, abandoned: bool) {
    use crate::telemetry::names::{WEBHOOK_ABANDONED, WEBHOOK_ATTEMPTS};
    let outcome = if delivered { "delivered" } else { "failed" };
    metrics::counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
    if abandoned {
        metrics::counter!(WEBHOOK_ABANDONED).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_time_and_body() {
        let s = signature("secret", 1700000000, "{}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_ne!(s, signature("secret", 1700000001, "{}"));
        assert_ne!(s, signature("secret", 1700000000, "{ }"));
        assert_ne!(secret(b"k", "i", "w", 1), secret(b"k", "i", "w", 2));
    }

    #[test]
    fn payload_urls_link_to_the_changed_record() {
        let event =
            |entity: &str, subtype: &str, patient: Option<&str>, name: Option<&str>| crate::store::audit::OutboxEvent {
                seq: 1,
                created_at: 0,
                tenant_id: "t1".into(),
                source_name: name.map(String::from),
                instance: Some("sandbox".into()),
                event_entity: entity.into(),
                event_subtype: subtype.into(),
                source_id: "s1".into(),
                patient_id: patient.map(String::from),
            };
        let url = |e| record_url("https://api.example.org/", "acme", "sandbox", &e);
        let root = "https://api.example.org/acme/sandbox";
        assert_eq!(
            url(event("PATIENT", "PATIENT_CREATED", Some("s1"), Some("Ann Lee"))),
            format!("{root}/patients/s1")
        );
        assert_eq!(
            url(event("CDT", "CDT_UPDATED", Some("p1"), Some("cdt-vitals"))),
            format!("{root}/patients/p1/cdts/cdt-vitals/s1")
        );
        assert_eq!(
            url(event("CALENDAR", "CALENDAR_EVENT_CREATED", None, Some("ENCOUNTER"))),
            format!("{root}/calendar/events/s1")
        );
        assert_eq!(url(event("TASK", "TASK_CREATED", Some("p1"), None)), format!("{root}/patients/p1"));
        assert_eq!(url(event("USER", "USER_CREATED", None, None)), root);
    }

    #[test]
    fn the_worker_rests_a_moment_after_a_partial_round_and_not_after_a_full_one() {
        assert_eq!(pause_after(FAN_OUT_BATCH, 0), None);
        assert_eq!(pause_after(3, DELIVERY_BATCH), None);
        assert_eq!(pause_after(3, 0), Some(Duration::from_millis(20)));
        assert_eq!(pause_after(0, 2), Some(Duration::from_millis(20)));
        assert_eq!(pause_after(0, 0), Some(Duration::from_millis(100)));
    }

    #[test]
    fn status_names() {
        assert_eq!(status_name(500), "INTERNAL_SERVER_ERROR");
        assert_eq!(status_name(200), "OK");
    }
}
