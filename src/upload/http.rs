//! HTTP for the uploader: one blocking `ureq` agent shared by the worker threads, the retry
//! policy (exponential backoff with jitter, `Retry-After`), and what a failure means.
//!
//! The distinction that matters for "nothing twice" is whether a failed request may have
//! reached the server: a refused connection or a connect timeout did not ([`Sent::No`]); a
//! timeout or a reset after the request went out may have ([`Sent::Maybe`]), so the caller
//! checks before posting a non-idempotent bundle again.

use std::time::{Duration, Instant};

/// Retries: how many attempts, how long in all, and the backoff between them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per item, the first included.
    pub max_attempts: u32,
    /// No retry starts after this much time spent on one item.
    pub max_elapsed: Duration,
    /// The first backoff; it doubles with each attempt.
    pub base: Duration,
    /// The longest wait between two attempts (also caps `Retry-After`).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            max_elapsed: Duration::from_secs(300),
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (after `attempt` failures, ≥ 1): exponential,
    /// capped, with "equal jitter" (a uniformly random half of it), so that workers that
    /// failed together do not come back together. `Retry-After` replaces it when given.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>, random: u64) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.cap);
        }
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let full = exp.min(self.cap);
        let half = full / 2;
        let jitter = (random % 1_000_000) as f64 / 1_000_000.0;
        half + half.mul_f64(jitter)
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a status is worth retrying.
pub fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// Whether a failed request may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    No,
    Maybe,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone)]
pub struct NetError {
    /// `connection`, `timeout`, `tls`, `dns`, `protocol`, `url`.
    pub cause: &'static str,
    pub message: String,
    pub sent: Sent,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
    pub latency: Duration,
}

/// Headers sent with every request. Their values (tokens) never appear in `Debug` output.
#[derive(Clone, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(name, _)| format!("{name}: …"))).finish()
    }
}

/// The shared client: base URL, headers, agent.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    headers: Headers,
}

/// Largest response body read (a transaction response repeats every resource it created).
const MAX_BODY: u64 = 1 << 30;

impl Client {
    /// `headers` are sent with every request (authorization among them); they are never
    /// printed.
    pub fn new(base: &str, headers: Headers, timeout: Duration, pool: usize) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .max_idle_connections_per_host(pool.max(1))
            .max_idle_connections(pool.max(1) * 2)
            .user_agent(format!("ehrsim/{}", env!("CARGO_PKG_VERSION")))
            .build();
        Client { agent: config.into(), base: base.trim_end_matches('/').to_owned(), headers }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET [base]/path` with query parameters.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Reply, NetError> {
        let mut request = self.agent.get(format!("{}/{path}", self.base)).header("accept", "application/fhir+json");
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        for (k, v) in &self.headers.0 {
            request = request.header(k.as_str(), v.as_str());
        }
        let started = Instant::now();
        finish(request.call(), started)
    }

    /// `POST [base]` with a FHIR JSON body.
    pub fn post(&self, body: &[u8]) -> Result<Reply, NetError> {
        let mut request = self
            .agent
            .post(self.base.as_str())
            .header("content-type", "application/fhir+json")
            .header("accept", "application/fhir+json");
        for (k, v) in &self.headers.0 {
            request = request.header(k.as_str(), v.as_str());
        }
        let started = Instant::now();
        finish(request.send(body), started)
    }
}

fn finish(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>, started: Instant) -> Result<Reply, NetError> {
    let mut response = result.map_err(net_error)?;
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = header("content-type").unwrap_or_default();
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, std::time::SystemTime::now()));
    let body = response.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(net_error)?;
    Ok(Reply { status, content_type, retry_after, body, latency: started.elapsed() })
}

fn net_error(e: ureq::Error) -> NetError {
    use std::io::ErrorKind;
    use ureq::{Error, Timeout};
    let message = e.to_string();
    let (cause, sent) = match &e {
        Error::Timeout(Timeout::Resolve | Timeout::Connect) => ("timeout", Sent::No),
        Error::Timeout(_) => ("timeout", Sent::Maybe),
        Error::HostNotFound => ("dns", Sent::No),
        Error::ConnectionFailed => ("connection", Sent::No),
        Error::BadUri(_) | Error::Http(_) => ("url", Sent::No),
        Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable | ErrorKind::NotFound => {
                ("connection", Sent::No)
            }
            ErrorKind::TimedOut | ErrorKind::WouldBlock => ("timeout", Sent::Maybe),
            _ => ("connection", Sent::Maybe),
        },
        Error::Tls(_) | Error::Rustls(_) | Error::Pem(_) => ("tls", Sent::No),
        _ => ("protocol", Sent::Maybe),
    };
    NetError { cause, message, sent }
}

/// The human text of an error answer: an OperationOutcome's issues, or the start of the body.
pub fn outcome_text(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.get("resourceType").and_then(|t| t.as_str()) == Some("OperationOutcome") => {
            let issues: Vec<String> = v
                .get("issue")
                .and_then(|i| i.as_array())
                .map(|issues| {
                    issues
                        .iter()
                        .filter_map(|i| {
                            let text = i.pointer("/details/text").and_then(|t| t.as_str());
                            let diagnostics = i.get("diagnostics").and_then(|t| t.as_str());
                            let code = i.get("code").and_then(|t| t.as_str());
                            let expr = i
                                .get("expression")
                                .and_then(|e| e.as_array())
                                .and_then(|e| e.first())
                                .and_then(|e| e.as_str());
                            let words = text.or(diagnostics).or(code)?;
                            Some(match expr {
                                Some(at) => format!("{words} (at {at})"),
                                None => words.to_owned(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            issues.join("; ")
        }
        _ => String::from_utf8_lossy(&body[..body.len().min(300)]).split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let mut text = text;
    if text.chars().count() > 300 {
        text = text.chars().take(300).collect::<String>() + "…";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jitters_within_half() {
        let p = RetryPolicy {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(60),
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
            let full = Duration::from_millis(full);
            for random in [0, 499_999, 999_999, 12_345_678_901] {
                let d = p.backoff(attempt, None, random);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} outside [{:?}, {full:?}]", full / 2);
            }
        }
        assert_eq!(p.backoff(1, Some(Duration::from_secs(3)), 0), Duration::from_secs(1), "capped");
        assert_eq!(p.backoff(9, Some(Duration::from_millis(20)), 0), Duration::from_millis(20), "honoured");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn outcome_text_prefers_issue_details() {
        let body = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid",
            "details":{"text":"Invalid gender"},"expression":["Patient.gender"]},{"code":"processing","diagnostics":"more"}]}"#;
        assert_eq!(outcome_text(body), "Invalid gender (at Patient.gender); more");
        assert_eq!(outcome_text(b"<html>\n<b>Not   Found</b></html>"), "<html> <b>Not Found</b></html>");
    }

    #[test]
    fn header_values_never_show_in_debug_output() {
        let h = Headers(vec![("authorization".into(), "Bearer s3cret".into())]);
        let client = Client::new("http://127.0.0.1:1", h, Duration::from_secs(1), 1);
        let shown = format!("{client:?}");
        assert!(shown.contains("authorization") && !shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for s in [408, 429, 502, 503, 504] {
            assert!(retryable(s), "{s}");
        }
        for s in [200, 201, 400, 401, 403, 404, 409, 412, 422, 500] {
            assert!(!retryable(s), "{s}");
        }
    }
}
