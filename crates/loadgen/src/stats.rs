//! Per-worker measurement buffers and the merged report.
//!
//! Latencies are kept as raw microsecond samples and sorted once at the end:
//! exact percentiles, no extra dependency, and a few MB even for ~1M requests.

use std::collections::BTreeMap;
use std::time::Duration;

/// What one worker recorded during the measured window.
#[derive(Default)]
pub struct WorkerStats {
    /// Latency (µs) of every request that got an HTTP response (any status).
    /// Transport errors are counted but not timed: a refused connection
    /// returns in microseconds and would only drag the percentiles down.
    pub latencies_us: Vec<u64>,
    pub successes: u64,
    /// Error counts keyed by HTTP status ("500") or "transport".
    pub errors: BTreeMap<String, u64>,
}

impl WorkerStats {
    pub fn record(&mut self, latency: Option<Duration>, outcome: Result<(), String>) {
        if let Some(l) = latency {
            self.latencies_us.push(l.as_micros() as u64);
        }
        match outcome {
            Ok(()) => self.successes += 1,
            Err(key) => *self.errors.entry(key).or_default() += 1,
        }
    }

    pub fn merge(&mut self, other: WorkerStats) {
        self.latencies_us.extend(other.latencies_us);
        self.successes += other.successes;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

/// Final numbers, printed as text or JSON.
pub struct Report {
    pub scenario: String,
    pub concurrency: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub successes: u64,
    pub errors: u64,
    pub errors_by_status: BTreeMap<String, u64>,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Report {
    pub fn new(scenario: &str, concurrency: usize, window: Duration, mut s: WorkerStats) -> Self {
        s.latencies_us.sort_unstable();
        let errors: u64 = s.errors.values().sum();
        let requests = s.successes + errors;
        let secs = window.as_secs_f64();
        let pct = |p: f64| percentile_ms(&s.latencies_us, p);
        Report {
            scenario: scenario.to_string(),
            concurrency,
            duration_s: secs,
            requests,
            successes: s.successes,
            errors,
            errors_by_status: s.errors.clone(),
            rps: if secs > 0.0 { requests as f64 / secs } else { 0.0 },
            p50_ms: pct(50.0),
            p90_ms: pct(90.0),
            p99_ms: pct(99.0),
            max_ms: pct(100.0),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "duration_s": self.duration_s,
            "requests": self.requests,
            "successes": self.successes,
            "errors": self.errors,
            "errors_by_status": self.errors_by_status,
            "rps": round2(self.rps),
            "latency_ms": {
                "p50": round3(self.p50_ms),
                "p90": round3(self.p90_ms),
                "p99": round3(self.p99_ms),
                "max": round3(self.max_ms),
            },
        })
    }

    pub fn print_text(&self) {
        println!("scenario     {} (concurrency {}, {:.1}s measured)", self.scenario, self.concurrency, self.duration_s);
        println!("requests/s   {:.1}", self.rps);
        println!("requests     {}", self.requests);
        if self.errors_by_status.is_empty() {
            println!("errors       0");
        } else {
            let detail: Vec<String> = self.errors_by_status.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            println!("errors       {} ({})", self.errors, detail.join(", "));
        }
        println!(
            "latency ms   p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        );
    }
}

/// Nearest-rank percentile of sorted µs samples, in ms (0 when empty).
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[idx] as f64 / 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn merge_and_report() {
        let mut a = WorkerStats::default();
        a.record(Some(Duration::from_millis(2)), Ok(()));
        let mut b = WorkerStats::default();
        b.record(Some(Duration::from_millis(6)), Err("500".into()));
        b.record(None, Err("transport".into()));
        a.merge(b);
        let r = Report::new("create", 2, Duration::from_secs(2), a);
        assert_eq!(r.requests, 3);
        assert_eq!(r.successes, 1);
        assert_eq!(r.errors, 2);
        assert_eq!(r.rps, 1.5);
        assert_eq!(r.max_ms, 6.0);
        assert_eq!(r.to_json()["errors_by_status"]["500"], 1);
    }
}
