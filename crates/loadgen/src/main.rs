//! loadgen: a small, bounded HTTP load generator for the openwelkin server.
//!
//! It fetches a token, then runs `--concurrency` tokio tasks, each with its own HTTP/1.1
//! connection (`conn.rs`), against `--base-url` for `--warmup` + `--duration`, and
//! reports throughput, errors and latency percentiles of the measured window.

mod conn;
mod export;
mod request;
mod stats;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::{json, Value};
use tokio::time::{timeout_at, Instant};

use bytes::Bytes;
use conn::{Conn, Endpoint};
use request::{Draw, RequestSpec};
use stats::{Report, WorkerStats};

/// Patients created up front by the `read` scenario.
const READ_SEED_PATIENTS: usize = 200;
/// Pause after a transport error (e.g. connection refused) so a worker
/// doesn't busy-loop against a dead server.
const TRANSPORT_BACKOFF: Duration = Duration::from_millis(10);

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// POST new patients in a loop (success = 201).
    Create,
    /// Seed patients, then GET them by id in a loop (success = 200).
    Read,
    /// Page GET /export/{TYPE} to the end, quiet and then while --writers tasks create and
    /// update patients; checks that no record was skipped or repeated.
    Export,
    /// One request shape in a loop: --method, --path (after /{tenant}/{instance}), --body,
    /// `{n}` in the path from 1..=--ids (success = 200, and --expect-total when given).
    Request,
}

#[derive(Parser, Debug)]
#[command(version, about = "HTTP load generator for the openwelkin server")]
struct Args {
    /// Server base URL; the only host ever contacted.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long, default_value = "demo")]
    tenant: String,
    #[arg(long, default_value = "sandbox")]
    instance: String,
    /// API client name used to obtain a token.
    #[arg(long, default_value = "")]
    client: String,
    /// API client secret.
    #[arg(long, default_value = "")]
    secret: String,
    /// Send no token (for the benchmark's in-memory axum ceiling, which has no auth).
    #[arg(long)]
    no_auth: bool,
    #[arg(long, value_enum, default_value = "create")]
    scenario: Scenario,
    /// Number of concurrent worker tasks.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Measured duration, e.g. 10s, 500ms, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured warmup before the measured window.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Total requests per second over all workers (0: as fast as they go). Each worker then
    /// starts its requests on a fixed schedule, and a latency counts from the scheduled
    /// start, so a slow answer is not hidden by the requests it delayed.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// `export`: the type to export.
    #[arg(long, default_value = "PATIENT")]
    export_type: String,
    /// `export`: records per page.
    #[arg(long, default_value_t = 1000)]
    page_size: u32,
    /// `export`: tasks creating and updating patients during the second pass (0: none).
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// `request`: GET or POST.
    #[arg(long, default_value = "GET")]
    method: String,
    /// `request`: the path after /{tenant}/{instance}, query included; `{n}` is replaced.
    #[arg(long, default_value = "/patients")]
    path: String,
    /// `request`: a JSON body to send.
    #[arg(long)]
    body: Option<String>,
    /// `request`: `{n}` is drawn from 1..=ids, as twelve digits.
    #[arg(long, default_value_t = 0)]
    ids: u64,
    /// `request`: an answer succeeds only if its `totalElements` is this.
    #[arg(long)]
    expect_total: Option<i64>,
    /// Stop after this many requests over all workers, warmup included (0: only the
    /// duration bounds the run).
    #[arg(long, default_value_t = 0)]
    max_requests: u64,
}

/// Parse "10s", "500ms", "1.5s", "2m" or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("invalid duration {s:?} (try 10s, 500ms, 1m)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

/// Everything a worker needs, shared read-only between tasks.
struct Target {
    /// For setup only (the read scenario's patients).
    client: reqwest::Client,
    patients_url: String,
    /// The measured requests' server and headers.
    endpoint: Endpoint,
    /// `/{tenant}/{instance}/patients`.
    patients_path: String,
    auth: String,
    /// Patient ids for the `read` scenario (empty for `create`).
    ids: Vec<String>,
    /// The `request` scenario's request.
    request: Option<RequestSpec>,
    /// Requests still allowed over all workers (`--max-requests`; u64::MAX: no cap).
    budget: AtomicU64,
}

impl Target {
    /// Create one patient; returns the response status and body.
    async fn create_patient(&self, last_name: &str) -> reqwest::Result<(u16, Vec<u8>)> {
        let resp = self
            .client
            .post(&self.patients_url)
            .header("Authorization", &self.auth)
            .json(&json!({"firstName": "Load", "lastName": last_name}))
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.bytes().await?.to_vec()))
    }

    /// A measured create, on the worker's connection.
    async fn create_on(&self, conn: &mut Conn, last_name: &str) -> Result<u16> {
        let body = serde_json::to_vec(&json!({"firstName": "Load", "lastName": last_name}))?;
        let (status, _) =
            conn.send(&self.endpoint, hyper::Method::POST, &self.patients_path, Some(Bytes::from(body))).await?;
        Ok(status)
    }

    /// A measured read, on the worker's connection.
    async fn read_on(&self, conn: &mut Conn, id: &str) -> Result<u16> {
        let path = format!("{}/{id}", self.patients_path);
        Ok(conn.send(&self.endpoint, hyper::Method::GET, &path, None).await?.0)
    }
}

async fn get_token(client: &reqwest::Client, base: &str, args: &Args) -> Result<String> {
    let url = format!("{base}/{}/admin/api_clients/{}", args.tenant, args.client);
    let resp =
        client.post(&url).json(&json!({"secret": args.secret})).send().await.with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if status.as_u16() != 200 && status.as_u16() != 201 {
        bail!("token request POST {url} returned {status}: {body}");
    }
    let v: Value = serde_json::from_str(&body).context("token response is not JSON")?;
    match v.get("token").and_then(Value::as_str) {
        Some(t) => Ok(t.to_string()),
        None => bail!("token response has no string \"token\": {body}"),
    }
}

/// Pull a patient id out of a create response: `id` at top level or under `data`.
fn patient_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let id = v.get("id").or_else(|| v.get("data")?.get("id"))?;
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn seed_patients(target: &Target, n: usize) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let (status, body) = target.create_patient(&format!("Seed-{i}")).await.context("seeding patients")?;
        if status != 201 {
            bail!("seeding patient {i}: expected 201, got {status}");
        }
        let id = patient_id(&body).with_context(|| format!("seeding patient {i}: no id in response"))?;
        ids.push(id);
    }
    Ok(ids)
}

/// A success when the status is the one wanted, else an error named by the status.
fn expect(status: u16, want: u16) -> Result<(), String> {
    if status == want {
        Ok(())
    } else {
        Err(status.to_string())
    }
}

/// When a worker starts its requests: as soon as the previous one is answered, or on a
/// fixed schedule (`--rate`).
#[derive(Clone, Copy)]
struct Pace {
    /// The first scheduled start.
    first: Instant,
    /// Between two scheduled starts of one worker.
    every: Duration,
}

impl Pace {
    /// The schedule of worker `w` of `workers` sharing `rate` requests per second, staggered.
    fn of(rate: f64, workers: usize, w: usize, start: Instant) -> Option<Pace> {
        if rate <= 0.0 {
            return None;
        }
        let every = Duration::from_secs_f64(workers as f64 / rate);
        Some(Pace { first: start + every.mul_f64(w as f64 / workers as f64), every })
    }
}

/// One worker: loop until `end`, recording only requests started after `measure_from`.
/// Requests still in flight at `end` are abandoned and not counted, so the run is bounded.
async fn worker(
    target: Arc<Target>,
    scenario: Scenario,
    worker_id: usize,
    measure_from: Instant,
    end: Instant,
    pace: Option<Pace>,
) -> WorkerStats {
    let mut stats = WorkerStats::default();
    // Spread readers over the id list so they don't all hit the same patient.
    let mut n: usize = if target.ids.is_empty() { 0 } else { worker_id * 7919 % target.ids.len() };
    let mut scheduled = pace.map(|p| p.first);
    let mut draw = Draw::seeded(worker_id);
    let mut conn = Conn::new();
    loop {
        let started = match (scheduled.as_mut(), pace) {
            (Some(at), Some(p)) => {
                let this = *at;
                *at += p.every;
                tokio::time::sleep_until(this.min(end)).await;
                this
            }
            _ => Instant::now(),
        };
        if started >= end {
            break;
        }
        let allowed = target.budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(1));
        if allowed.is_err() {
            break;
        }
        let request = async {
            match scenario {
                Scenario::Create => {
                    target.create_on(&mut conn, &format!("Gen{worker_id}-{n}")).await.map(|status| expect(status, 201))
                }
                Scenario::Read => {
                    target.read_on(&mut conn, &target.ids[n % target.ids.len()]).await.map(|status| expect(status, 200))
                }
                Scenario::Request => {
                    let spec = target.request.as_ref().expect("the request scenario has its request");
                    spec.send(&mut conn, &target.endpoint, &mut draw).await
                }
                Scenario::Export => unreachable!("export runs on its own"),
            }
        };
        let result = match timeout_at(end, request).await {
            Ok(r) => r,
            Err(_) => break, // deadline hit mid-request
        };
        let latency = started.elapsed();
        n = n.wrapping_add(1);
        let transport_error = result.is_err();
        if started >= measure_from {
            match result {
                Ok(outcome) => stats.record(Some(latency), outcome),
                Err(_) => stats.record(None, Err("transport".to_string())),
            }
        }
        if transport_error {
            // Don't spin on a dead server; still stop at `end`.
            tokio::time::sleep_until((Instant::now() + TRANSPORT_BACKOFF).min(end)).await;
        }
    }
    stats
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("loadgen: no request succeeded");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Run the benchmark and print the report; Ok(false) if nothing succeeded.
async fn run(args: Args) -> Result<bool> {
    let base = args.base_url.trim_end_matches('/').to_string();
    let concurrency = args.concurrency as usize;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(args.timeout)
        .build()
        .context("building HTTP client")?;

    let token = if args.no_auth { String::new() } else { get_token(&client, &base, &args).await? };
    if let Scenario::Export = args.scenario {
        let options = export::ExportOptions {
            base: base.clone(),
            tenant: args.tenant.clone(),
            instance: args.instance.clone(),
            export_type: args.export_type.clone(),
            page_size: args.page_size,
            writers: args.writers,
        };
        return export::run(client, format!("Bearer {token}"), options, args.json).await;
    }
    let auth = if args.no_auth { String::new() } else { format!("Bearer {token}") };
    let mut target = Target {
        client,
        patients_url: format!("{base}/{}/{}/patients", args.tenant, args.instance),
        endpoint: Endpoint::new(&base, &auth, args.timeout)?,
        patients_path: format!("/{}/{}/patients", args.tenant, args.instance),
        auth: format!("Bearer {token}"),
        ids: Vec::new(),
        request: None,
        budget: AtomicU64::new(if args.max_requests == 0 { u64::MAX } else { args.max_requests }),
    };
    if let Scenario::Request = args.scenario {
        let url = format!("/{}/{}{}", args.tenant, args.instance, args.path);
        target.request = Some(RequestSpec::new(&args.method, url, args.body.clone(), args.ids, args.expect_total)?);
    }
    if let Scenario::Read = args.scenario {
        target.ids = seed_patients(&target, READ_SEED_PATIENTS).await?;
    }
    let target = Arc::new(target);

    let start = Instant::now();
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    let handles: Vec<_> = (0..concurrency)
        .map(|w| {
            let pace = Pace::of(args.rate, concurrency, w, start);
            tokio::spawn(worker(target.clone(), args.scenario, w, measure_from, end, pace))
        })
        .collect();

    let mut total = WorkerStats::default();
    for h in handles {
        total.merge(h.await.context("worker task panicked")?);
    }

    let scenario = format!("{:?}", args.scenario).to_lowercase();
    let report = Report::new(&scenario, concurrency, args.duration, total);
    if args.json {
        println!("{}", report.to_json());
    } else {
        report.print_text();
    }
    Ok(report.successes > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn ids_from_bodies() {
        assert_eq!(patient_id(br#"{"id":"abc"}"#).as_deref(), Some("abc"));
        assert_eq!(patient_id(br#"{"data":{"id":7}}"#).as_deref(), Some("7"));
        assert_eq!(patient_id(b"{}"), None);
    }
}
