//! Fault injection: rules that match requests by method and path pattern and add latency,
//! answer an error status (429, 500, 502, 503 or 504) for a share of them, or drop the
//! connection without an answer. A rule may apply only to its next `times` matches. The
//! rules live in memory; the middleware that applies them to requests is
//! `api::emulator::inject`, which never affects the emulator's own routes.

use super::bad_input;
use crate::services::error::ServiceResult;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// A rule as the emulator API takes and shows it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// A path pattern; `*` matches any run of characters, `/` included.
    pub path: String,
    /// Only requests of this method; any method when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Added before the request is handled (or the fault answered), at most 60 s.
    #[serde(default)]
    pub latency_ms: u64,
    /// The error to answer, with `errorRate` (default 1) of the matching requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Share of the matching requests whose connection is closed without an answer.
    #[serde(default)]
    pub drop_rate: f64,
    /// The rule applies to this many more matching requests, then goes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub id: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many requests it has affected so far.
    pub matched: u64,
}

const ERROR_STATUSES: &[u16] = &[429, 500, 502, 503, 504];

impl FaultSpec {
    fn check(&self) -> ServiceResult<()> {
        let bad = |m: &str| Err(bad_input(m.to_string()));
        if !self.path.starts_with('/') && !self.path.starts_with('*') {
            return bad("path must start with '/' or '*'");
        }
        if self.latency_ms > 60_000 {
            return bad("latencyMs is at most 60000");
        }
        if let Some(s) = self.status {
            if !ERROR_STATUSES.contains(&s) {
                return bad("status must be one of 429, 500, 502, 503, 504");
            }
        }
        if self.error_rate.is_some() && self.status.is_none() {
            return bad("errorRate needs a status");
        }
        let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
        if !rate_ok(self.error_rate.unwrap_or(1.0)) || !rate_ok(self.drop_rate) {
            return bad("errorRate and dropRate are between 0 and 1");
        }
        if self.status.is_none() && self.drop_rate == 0.0 && self.latency_ms == 0 {
            return bad("a fault needs latencyMs, status or dropRate");
        }
        if self.times == Some(0) {
            return bad("times is at least 1");
        }
        if let Some(m) = &self.method {
            if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&m.as_str()) {
                return bad("method must be an HTTP method in capitals");
            }
        }
        Ok(())
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The rules in force, shared by the middleware and the emulator routes.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    rules: Vec<Fault>,
}

/// What to do with one request.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub latency_ms: u64,
    /// The error status to answer instead of handling the request.
    pub status: Option<u16>,
    /// Close the connection without an answer.
    pub drop: bool,
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> ServiceResult<Fault> {
        spec.check()?;
        let fault = Fault { id: crate::ids::new_id(), spec, matched: 0 };
        self.inner.lock().expect("fault rules").rules.push(fault.clone());
        Ok(fault)
    }

    pub fn list(&self) -> Vec<Fault> {
        self.inner.lock().expect("fault rules").rules.clone()
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut inner = self.inner.lock().expect("fault rules");
        let before = inner.rules.len();
        inner.rules.retain(|f| f.id != id);
        inner.rules.len() != before
    }

    pub fn clear(&self) -> usize {
        std::mem::take(&mut self.inner.lock().expect("fault rules").rules).len()
    }

    /// The first rule matching the request decides; its `times` counts down.
    pub fn decide(&self, method: &str, path: &str) -> Option<Decision> {
        let mut inner = self.inner.lock().expect("fault rules");
        let index = inner
            .rules
            .iter()
            .position(|f| f.spec.method.as_deref().is_none_or(|m| m == method) && glob(&f.spec.path, path))?;
        let (roll_error, roll_drop): (f64, f64) = (rand::random(), rand::random());
        let rule = &mut inner.rules[index];
        rule.matched += 1;
        let spec = rule.spec.clone();
        if let Some(left) = rule.spec.times.as_mut() {
            *left -= 1;
            if *left == 0 {
                inner.rules.remove(index);
            }
        }
        // Rolls are in [0, 1): a share of 1 always hits, a share of 0 never does.
        let status = spec.status.filter(|_| roll_error < spec.error_rate.unwrap_or(1.0));
        Some(Decision { latency_ms: spec.latency_ms, status, drop: status.is_none() && roll_drop < spec.drop_rate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str) -> FaultSpec {
        FaultSpec {
            path: path.into(),
            method: None,
            latency_ms: 0,
            status: Some(503),
            error_rate: None,
            drop_rate: 0.0,
            times: None,
        }
    }

    #[test]
    fn patterns_match_whole_paths_with_stars_spanning_segments() {
        assert!(glob("/t/i/patients", "/t/i/patients"));
        assert!(glob("*/patients", "/t/i/patients"));
        assert!(glob("/t/*/patients/*", "/t/i/patients/42/cdts"));
        assert!(!glob("/t/*/patients", "/t/i/patients/42"));
        assert!(!glob("/t/i/users", "/t/i/patients"));
    }

    #[test]
    fn times_counts_down_and_removes_the_rule() {
        let f = Faults::default();
        f.add(FaultSpec { times: Some(2), method: Some("GET".into()), ..spec("*/patients") }).unwrap();
        assert_eq!(f.decide("POST", "/t/i/patients"), None, "another method");
        for _ in 0..2 {
            assert_eq!(f.decide("GET", "/t/i/patients").unwrap().status, Some(503));
        }
        assert_eq!(f.decide("GET", "/t/i/patients"), None);
        assert!(f.list().is_empty());
    }

    #[test]
    fn shares_of_zero_and_one_are_exact_and_a_half_is_about_half() {
        let f = Faults::default();
        f.add(FaultSpec { error_rate: Some(0.0), drop_rate: 1.0, ..spec("/never") }).unwrap();
        assert_eq!(f.decide("GET", "/never"), Some(Decision { latency_ms: 0, status: None, drop: true }));
        f.add(FaultSpec { error_rate: Some(0.5), ..spec("/half") }).unwrap();
        let hits = (0..2000).filter(|_| f.decide("GET", "/half").unwrap().status.is_some()).count();
        assert!((800..1200).contains(&hits), "{hits} of 2000");
    }

    #[test]
    fn bad_rules_are_refused() {
        let f = Faults::default();
        for bad in [
            FaultSpec { status: Some(404), ..spec("/x") },
            FaultSpec { error_rate: Some(1.5), ..spec("/x") },
            FaultSpec { status: None, ..spec("/x") },
            FaultSpec { times: Some(0), ..spec("/x") },
            spec("x"),
        ] {
            assert!(f.add(bad).is_err_and(|e| e.kind == crate::services::error::Kind::BadRequest));
        }
        assert!(f.list().is_empty());
    }
}
