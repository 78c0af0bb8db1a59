//! The load-test report: throughput, latency percentiles, status codes, retries and failures
//! by cause, as text for the terminal and as JSON for `--report FILE`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One failed item, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub item: String,
    pub cause: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub message: String,
}

/// Counts that reconcile: `items = skipped + accepted + failed + not_sent`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Items {
    /// Items in the input.
    pub total: u64,
    /// Accepted by an earlier run (the ledger says so): not sent again.
    pub skipped: u64,
    /// Sent in this run (at least one attempt or a check on the server).
    pub sent: u64,
    pub accepted: u64,
    /// Of the accepted: found on the server by a search after an answer was lost, not posted again.
    pub confirmed_by_search: u64,
    pub failed: u64,
    /// Not sent because the upload stopped (bad credentials).
    pub not_sent: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Requests that got an HTTP answer.
    pub requests: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// What an upload did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub server: String,
    pub mode: String,
    pub concurrency: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_s: Option<f64>,
    pub elapsed_s: f64,
    /// Bundles (or NDJSON batches).
    pub items: Items,
    /// Resources in the items accepted in this run.
    pub resources_accepted: u64,
    /// Of them, resources the server says it created (201); the others matched a conditional
    /// create or were updates.
    pub resources_created: u64,
    pub items_per_s: f64,
    pub resources_per_s: f64,
    pub latency: Latency,
    /// HTTP status of every answer, or the cause of a request that got none.
    pub status_codes: BTreeMap<String, u64>,
    /// Attempts after the first, over all items.
    pub retries: u64,
    pub failures_by_cause: BTreeMap<String, u64>,
    /// The first failures, with the server's words.
    pub failures: Vec<Failure>,
    pub ledger: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the upload stopped before the end, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Collects figures while the upload runs.
#[derive(Debug, Default)]
pub struct Stats {
    latencies_us: Vec<u64>,
    pub status_codes: BTreeMap<String, u64>,
    pub retries: u64,
    pub failures_by_cause: BTreeMap<String, u64>,
    pub failures: Vec<Failure>,
    pub failed: u64,
}

/// Failures kept with their messages in the report.
const KEPT_FAILURES: usize = 50;

impl Stats {
    pub fn answer(&mut self, status: u16, latency: Duration) {
        self.latencies_us.push(latency.as_micros() as u64);
        *self.status_codes.entry(status.to_string()).or_default() += 1;
    }

    pub fn no_answer(&mut self, cause: &str) {
        *self.status_codes.entry(cause.to_owned()).or_default() += 1;
    }

    pub fn failure(&mut self, failure: Failure) {
        self.failed += 1;
        *self.failures_by_cause.entry(failure.cause.clone()).or_default() += 1;
        if self.failures.len() < KEPT_FAILURES {
            self.failures.push(failure);
        }
    }

    pub fn latency(&self) -> Latency {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let at = |q: f64| {
            if v.is_empty() {
                return 0.0;
            }
            // nearest rank
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            ms(v[rank - 1])
        };
        Latency {
            requests: v.len() as u64,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: v.last().map_or(0.0, |&m| ms(m)),
            mean_ms: if v.is_empty() { 0.0 } else { ms(v.iter().sum::<u64>() / v.len() as u64) },
        }
    }
}

impl Report {
    /// The text shown at the end of an upload.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let unit = if self.mode == "ndjson" { "batches" } else { "bundles" };
        let i = &self.items;
        let _ = writeln!(
            s,
            "uploaded to {} in {:.2} s ({} workers{})",
            self.server,
            self.elapsed_s,
            self.concurrency,
            self.rate_limit_per_s.map(|r| format!(", at most {r}/s")).unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "  {unit}: {} in input = {} accepted before + {} sent now + {} not sent; sent {} = {} accepted + {} failed",
            i.total, i.skipped, i.sent, i.not_sent, i.sent, i.accepted, i.failed
        );
        if i.confirmed_by_search > 0 {
            let _ = writeln!(
                s,
                "  {} accepted {unit} were found on the server by a search after their answer was lost (not posted again)",
                i.confirmed_by_search
            );
        }
        let _ = writeln!(
            s,
            "  throughput: {:.1} {unit}/s, {:.0} resources/s ({} resources accepted, {} created)",
            self.items_per_s, self.resources_per_s, self.resources_accepted, self.resources_created
        );
        let l = &self.latency;
        let _ = writeln!(
            s,
            "  latency: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} requests)",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.requests
        );
        let codes: Vec<String> = self.status_codes.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
        let _ = writeln!(
            s,
            "  answers: {}; retries {}",
            if codes.is_empty() { "none".into() } else { codes.join(", ") },
            self.retries
        );
        if !self.failures_by_cause.is_empty() {
            let causes: Vec<String> = self.failures_by_cause.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            let _ = writeln!(s, "  failures by cause: {}", causes.join(", "));
            for f in self.failures.iter().take(10) {
                let status = f.status.map(|c| format!("HTTP {c}: ")).unwrap_or_default();
                let _ = writeln!(s, "    {}: {status}{}", f.item, f.message);
            }
            if self.failures.len() > 10 || (self.items.failed as usize) > self.failures.len() {
                let _ = writeln!(s, "    … (all of them in the ledger)");
            }
        }
        let _ = writeln!(s, "  ledger: {}", self.ledger);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s = Stats::default();
        for ms in 1..=100 {
            s.answer(200, Duration::from_millis(ms));
        }
        s.answer(503, Duration::from_millis(1000));
        let l = s.latency();
        assert_eq!(l.requests, 101);
        assert_eq!(l.p50_ms, 51.0);
        assert_eq!(l.p90_ms, 91.0);
        assert_eq!(l.p99_ms, 100.0);
        assert_eq!(l.max_ms, 1000.0);
        assert_eq!(s.status_codes.get("200"), Some(&100));
        assert_eq!(s.status_codes.get("503"), Some(&1));
    }

    #[test]
    fn failures_are_counted_by_cause() {
        let mut s = Stats::default();
        for (i, cause) in ["http-422", "http-422", "timeout"].iter().enumerate() {
            let f = Failure { item: format!("b{i}"), cause: (*cause).into(), status: None, message: "m".into() };
            s.failure(f);
        }
        assert_eq!(s.failed, 3);
        assert_eq!(s.failures_by_cause.get("http-422"), Some(&2));
        assert_eq!(s.failures_by_cause.get("timeout"), Some(&1));
    }
}
