//! The `request` scenario: one request shape, repeated. The scale benchmark uses it for
//! each of its lines (read by id, first page, `query=` search, by-filter, export page).
//!
//! `{n}` in the path becomes a number drawn per request from 1..=`--ids`, zero-padded to
//! twelve digits (the scale benchmark's patients are `00000000-0000-4000-8000-<n>`).
//! `--expect-total` makes an answer count as a success only when its `totalElements` is
//! that number, so a search that stops matching is an error, not a fast answer.

use crate::conn::{Conn, Endpoint};
use anyhow::{bail, Result};
use bytes::Bytes;
use serde_json::Value;

/// What to send, shared read-only between workers.
pub struct RequestSpec {
    pub method: hyper::Method,
    /// The path and query, `{n}` still in it.
    pub url: String,
    pub body: Option<Bytes>,
    pub ids: u64,
    pub expect_total: Option<i64>,
}

impl RequestSpec {
    pub fn new(method: &str, url: String, body: Option<String>, ids: u64, expect_total: Option<i64>) -> Result<Self> {
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => hyper::Method::GET,
            "POST" => hyper::Method::POST,
            other => bail!("--method {other}: only GET and POST are supported"),
        };
        if url.contains("{n}") && ids == 0 {
            bail!("the path has {{n}} in it: --ids must say how many there are");
        }
        if let Some(body) = &body {
            serde_json::from_str::<Value>(body).map_err(|e| anyhow::anyhow!("--body is not JSON: {e}"))?;
        }
        Ok(Self { method, url, body: body.map(Bytes::from), ids, expect_total })
    }

    /// The URL of one request, `{n}` replaced by a number `draw` picks.
    pub fn url_for(&self, draw: &mut Draw) -> String {
        if self.ids == 0 {
            return self.url.clone();
        }
        self.url.replace("{n}", &format!("{:012}", 1 + draw.next() % self.ids))
    }

    /// Sends one request: a success, or an error named by the status (`totalElements`
    /// when a 200 did not have the expected total).
    pub async fn send(&self, conn: &mut Conn, to: &Endpoint, draw: &mut Draw) -> Result<Result<(), String>> {
        let (status, bytes) = conn.send(to, self.method.clone(), &self.url_for(draw), self.body.clone()).await?;
        Ok(if status != 200 {
            Err(status.to_string())
        } else if self.expect_total.is_some_and(|want| total_of(&bytes) != Some(want)) {
            Err("totalElements".to_string())
        } else {
            Ok(())
        })
    }
}

fn total_of(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(body).ok()?.get("totalElements")?.as_i64()
}

/// A small deterministic sequence (xorshift64*) per worker: which ids are read matters
/// only in being spread out and the same from run to run.
pub struct Draw(u64);

impl Draw {
    pub fn seeded(worker: usize) -> Self {
        Self(0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fill_the_path_within_the_range() {
        let spec = RequestSpec::new("get", "http://h/p/{n}".into(), None, 3, None).unwrap();
        let mut draw = Draw::seeded(0);
        let urls: std::collections::BTreeSet<String> = (0..200).map(|_| spec.url_for(&mut draw)).collect();
        let want: std::collections::BTreeSet<String> =
            ["http://h/p/000000000001", "http://h/p/000000000002", "http://h/p/000000000003"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(urls, want);
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(RequestSpec::new("DELETE", "http://h/p".into(), None, 0, None).is_err());
        assert!(RequestSpec::new("GET", "http://h/p/{n}".into(), None, 0, None).is_err());
        assert!(RequestSpec::new("POST", "http://h/p".into(), Some("{nope".into()), 0, None).is_err());
    }

    #[test]
    fn totals_are_read_from_the_body() {
        assert_eq!(total_of(br#"{"content":[],"totalElements":5}"#), Some(5));
        assert_eq!(total_of(b"[]"), None);
    }
}
