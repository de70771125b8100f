//! The `export` scenario: pages `GET /{tenant}/{instance}/export/{TYPE}` to the end as the
//! Welkin clients do (`pageSize`, then `start=<cursor.end>` until `hasNext` is false),
//! first on a quiet server, then again while `--writers` tasks create and update
//! patients, and checks that the second pass returned every record of the first: none
//! skipped, none repeated unless it changed during the pass.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

pub struct ExportOptions {
    pub base: String,
    pub tenant: String,
    pub instance: String,
    pub export_type: String,
    pub page_size: u32,
    pub writers: usize,
}

/// One pass: the records in order, and the time it took.
struct Pass {
    records: Vec<(String, String)>,
    pages: u64,
    elapsed: Duration,
}

async fn pass(client: &reqwest::Client, auth: &str, o: &ExportOptions) -> Result<Pass> {
    let url = format!("{}/{}/{}/export/{}", o.base, o.tenant, o.instance, o.export_type);
    let started = Instant::now();
    let mut records = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0u64;
    loop {
        let mut query = vec![("pageSize", o.page_size.to_string())];
        if let Some(s) = &start {
            query.push(("start", s.clone()));
        }
        let resp = client.get(&url).header("Authorization", auth).query(&query).send().await.context("GET export")?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {url} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let page: Value = serde_json::from_slice(&body).context("export page is not JSON")?;
        pages += 1;
        for r in page["data"].as_array().context("no data array")? {
            let id = r["id"].as_str().context("record without id")?.to_string();
            let updated = r["updatedAt"].as_str().unwrap_or_default().to_string();
            records.push((id, updated));
        }
        if page["cursor"]["hasNext"] != true {
            return Ok(Pass { records, pages, elapsed: started.elapsed() });
        }
        start = Some(page["cursor"]["end"].as_str().context("no cursor.end")?.to_string());
    }
}

/// Creates and updates patients until `stop`; returns the ids it updated.
async fn writer(
    client: reqwest::Client,
    auth: String,
    patients_url: String,
    targets: Arc<Vec<String>>,
    seed: usize,
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicU64>,
) -> HashSet<String> {
    let mut updated = HashSet::new();
    let mut n = seed;
    while !stop.load(Ordering::Relaxed) {
        let created = client
            .post(&patients_url)
            .header("Authorization", &auth)
            .json(&json!({"firstName": "During", "lastName": format!("Export{n}")}))
            .send()
            .await;
        if let Ok(r) = created {
            let _ = r.bytes().await;
            writes.fetch_add(1, Ordering::Relaxed);
        }
        // Updates spread over the whole export order, ahead of and behind the cursor.
        let target = &targets[(n.wrapping_mul(7919)) % targets.len()];
        let resp = client
            .patch(format!("{patients_url}/{target}"))
            .header("Authorization", &auth)
            .json(&json!({"lastName": format!("Changed{n}")}))
            .send()
            .await;
        if let Ok(r) = resp {
            if r.status().is_success() {
                updated.insert(target.clone());
                writes.fetch_add(1, Ordering::Relaxed);
            }
            let _ = r.bytes().await;
        }
        n += 1;
    }
    updated
}

pub async fn run(client: reqwest::Client, auth: String, o: ExportOptions, json_out: bool) -> Result<bool> {
    let quiet = pass(&client, &auth, &o).await?;
    let quiet_rate = quiet.records.len() as f64 / quiet.elapsed.as_secs_f64();
    let ids: Vec<String> = quiet.records.iter().map(|(id, _)| id.clone()).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    if unique.len() != ids.len() {
        bail!("a quiet export repeated records");
    }
    let mut report = json!({
        "scenario": "export",
        "type": o.export_type,
        "pageSize": o.page_size,
        "quiet": {"records": ids.len(), "pages": quiet.pages, "seconds": quiet.elapsed.as_secs_f64(), "recordsPerSecond": quiet_rate.round()},
    });

    let mut ok = true;
    if o.writers > 0 && !ids.is_empty() {
        if o.export_type != "PATIENT" {
            bail!("--writers changes patients; use --export-type PATIENT");
        }
        let patients_url = format!("{}/{}/{}/patients", o.base, o.tenant, o.instance);
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicU64::new(0));
        let targets = Arc::new(ids.clone());
        let tasks: Vec<_> = (0..o.writers)
            .map(|w| {
                tokio::spawn(writer(
                    client.clone(),
                    auth.clone(),
                    patients_url.clone(),
                    targets.clone(),
                    w * 1_000_003,
                    stop.clone(),
                    writes.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let busy = pass(&client, &auth, &o).await?;
        stop.store(true, Ordering::Relaxed);
        let mut updated = HashSet::new();
        for t in tasks {
            updated.extend(t.await.context("writer panicked")?);
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (id, _) in &busy.records {
            *seen.entry(id.as_str()).or_default() += 1;
        }
        let skipped = ids.iter().filter(|id| !seen.contains_key(id.as_str())).count();
        let repeated_unchanged =
            ids.iter().filter(|id| seen.get(id.as_str()).copied().unwrap_or(0) > 1 && !updated.contains(*id)).count();
        let repeated_changed = ids.iter().filter(|id| seen.get(id.as_str()).copied().unwrap_or(0) > 1).count();
        let versions: HashSet<&(String, String)> = busy.records.iter().collect();
        let ordered = busy.records.windows(2).all(|w| w[0].1 <= w[1].1);
        ok = skipped == 0 && repeated_unchanged == 0 && versions.len() == busy.records.len() && ordered;
        report["whileWriting"] = json!({
            "records": busy.records.len(),
            "pages": busy.pages,
            "seconds": busy.elapsed.as_secs_f64(),
            "recordsPerSecond": (busy.records.len() as f64 / busy.elapsed.as_secs_f64()).round(),
            "writers": o.writers,
            "writes": writes.load(Ordering::Relaxed),
            "existingAtStart": ids.len(),
            "existingReturned": ids.len() - skipped,
            "skipped": skipped,
            "updatedDuringExport": updated.len(),
            "sentAgainAfterAChange": repeated_changed,
            "repeatedWithoutAChange": repeated_unchanged,
            "versionsSentTwice": busy.records.len() - versions.len(),
            "inUpdatedAtOrder": ordered,
        });
    }
    if json_out {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if !ok {
        eprintln!("loadgen: the export under writes skipped or repeated records");
    }
    Ok(ok && !ids.is_empty())
}
