//! `ehrsim upload`: loading a FHIR server with a run's bundles (or NDJSON batches), and a
//! load-test report of how it went.
//!
//! The upload is a pipeline of four parts: [`input`] reads and checks everything before a
//! byte is sent and splits it into phases (the provider directory first); the main thread
//! hands items to a fixed pool of worker threads and records each outcome in the [`ledger`];
//! the workers post through [`http`], pacing themselves to `--rate` and retrying transient
//! failures with backoff; [`report`] turns what they saw into throughput and latency figures.
//!
//! Nothing lost, nothing twice: an item is marked `sent` in the ledger (fsynced) before a
//! worker gets it, and its outcome is recorded when it comes back. `--resume` skips what was
//! accepted, and checks an item in doubt (sent, then no answer proving it was not applied)
//! with a search for its Patient before posting it again. The same check runs between two
//! attempts when an answer was lost mid-request.
//!
//! Library code returns [`Error`]s; the CLI prints them.

pub mod http;
pub mod input;
pub mod ledger;
pub mod report;

use http::{Client, Headers, NetError, RetryPolicy, Sent, outcome_text, retryable};
use input::{Job, Plan, Reader, Source};
use ledger::{Event, Header, Ledger, Line, State};
use report::{Failure, Report, Stats};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How to upload.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's base URL (`http://127.0.0.1:8090`, `https://host/fhir`).
    pub server: String,
    pub source: Source,
    /// Worker threads, each with at most one request in flight.
    pub concurrency: usize,
    /// Items per second, over all workers (`None`: as fast as the server answers).
    pub rate: Option<f64>,
    /// Per request, connection to last byte.
    pub timeout: Duration,
    /// Sent with every request; never printed.
    pub headers: Headers,
    pub retry: RetryPolicy,
    /// Continue the upload the ledger records.
    pub resume: bool,
    /// Start over even though a ledger exists.
    pub restart: bool,
    /// The ledger file (default: in the uploaded directory).
    pub ledger: Option<PathBuf>,
    /// Resources per batch in NDJSON mode.
    pub batch_size: usize,
    pub progress: bool,
}

impl Config {
    pub fn new(server: &str, source: Source) -> Config {
        Config {
            server: server.to_owned(),
            source,
            concurrency: 4,
            rate: None,
            timeout: Duration::from_secs(60),
            headers: Headers::default(),
            retry: RetryPolicy::default(),
            resume: false,
            restart: false,
            ledger: None,
            batch_size: 500,
            progress: false,
        }
    }
}

/// Why an upload could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The options are wrong.
    Usage(String),
    /// The input directory is missing or malformed.
    Input(String),
    /// The server cannot be reached, is not a FHIR server, or refuses the credentials.
    Server(String),
    /// The ledger or report could not be written.
    Io(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(m) | Error::Input(m) | Error::Server(m) | Error::Io(m) => f.write_str(m),
        }
    }
}

/// The server URL checked and normalised, and the same without any credentials in it.
fn server_url(server: &str) -> Result<(String, String), Error> {
    let trimmed = server.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return Err(Error::Usage(format!(
            "invalid --server `{}`: expected http://HOST[:PORT][/PATH]",
            redact(trimmed)
        )));
    };
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.starts_with('/') {
        return Err(Error::Usage(format!(
            "invalid --server `{}`: expected http://HOST[:PORT][/PATH]",
            redact(trimmed)
        )));
    }
    Ok((trimmed.to_owned(), redact(trimmed)))
}

/// A URL without `user:password@`.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let path = if path.is_empty() { String::new() } else { format!("/{path}") };
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Uploads everything the source holds and reports how it went. An upload that ran but had
/// failures returns `Ok` with them in the report (and `stopped` set if it stopped early).
pub fn upload(config: &Config) -> Result<Report, Error> {
    let (base, shown) = server_url(&config.server)?;
    if config.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    if config.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(Error::Usage("--rate must be a positive number of bundles per second".into()));
    }
    if config.resume && config.restart {
        return Err(Error::Usage("--resume and --restart exclude each other".into()));
    }
    let plan = input::plan(&config.source, config.batch_size).map_err(Error::Input)?;
    let ledger_path = config.ledger.clone().unwrap_or_else(|| {
        plan.root.join(if plan.mode == "ndjson" { "upload-ndjson-ledger.jsonl" } else { "upload-ledger.jsonl" })
    });
    let header = Header::new(&shown, plan.mode, plan.batch_size);
    let exists = ledger_path.exists();
    if exists && !config.resume && !config.restart {
        return Err(Error::Usage(format!(
            "`{}` records an earlier upload: pass --resume to post only what the server lacks, or --restart to post everything again",
            ledger_path.display()
        )));
    }
    let client = Client::new(&base, config.headers.clone(), config.timeout, config.concurrency);
    let mut warnings = preflight(&client, &shown, &config.retry)?;
    let (mut ledger, past) = if exists && config.resume {
        Ledger::open(&ledger_path, &header).map_err(Error::Input)?
    } else {
        if config.resume {
            warnings.push(format!("no ledger at `{}`: nothing to resume, uploading everything", ledger_path.display()));
        }
        (Ledger::create(&ledger_path, &header).map_err(Error::Io)?, ledger::Past::default())
    };
    if past.torn > 0 {
        warnings.push(format!("the ledger's last line was cut short by a crash ({} bytes); it was dropped", past.torn));
    }
    let mut report = run(config, &client, &plan, &mut ledger, &past.states)?;
    report.server = shown;
    report.mode = plan.mode.into();
    report.ledger = ledger.path().display().to_string();
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    Ok(report)
}

/// `GET [base]/metadata` must answer a CapabilityStatement.
fn preflight(client: &Client, shown: &str, policy: &RetryPolicy) -> Result<Vec<String>, Error> {
    let mut attempt = 0;
    let started = Instant::now();
    let mut random = seed(0);
    loop {
        attempt += 1;
        let (wait, why) = match client.get("metadata", &[]) {
            Ok(reply) if matches!(reply.status, 401 | 403) => {
                return Err(Error::Server(format!(
                    "`{shown}` refused the credentials: GET /metadata answered {} ({}); pass a token with --bearer-env VAR or a header with --header",
                    reply.status,
                    outcome_text(&reply.body)
                )));
            }
            Ok(reply) if retryable(reply.status) => {
                (reply.retry_after, format!("GET /metadata answered {}", reply.status))
            }
            Ok(reply) => return capability(shown, &reply),
            // An unreachable server is reported quickly: three tries.
            Err(e) if attempt >= 3 => return Err(Error::Server(format!("cannot reach `{shown}`: {}", e.message))),
            Err(e) => (None, e.message),
        };
        random = crate::sim::person::splitmix(random);
        let wait = policy.backoff(attempt, wait, random);
        if attempt >= policy.max_attempts || started.elapsed() + wait > policy.max_elapsed {
            return Err(Error::Server(format!("`{shown}` is not ready: {why} (after {attempt} attempts)")));
        }
        std::thread::sleep(wait);
    }
}

fn capability(shown: &str, reply: &http::Reply) -> Result<Vec<String>, Error> {
    let content_type = reply.content_type.split(';').next().unwrap_or("").trim().to_owned();
    let json: Option<serde_json::Value> = serde_json::from_slice(&reply.body).ok();
    let kind = json.as_ref().and_then(|j| j.get("resourceType")).and_then(|t| t.as_str());
    if (200..300).contains(&reply.status) && kind == Some("CapabilityStatement") {
        let version = json.as_ref().and_then(|j| j.get("fhirVersion")).and_then(|v| v.as_str()).unwrap_or("");
        let mut warnings = Vec::new();
        if !version.starts_with("4.") {
            warnings.push(format!("`{shown}` declares FHIR version `{version}`; ehrsim writes FHIR R4 (4.0.1)"));
        }
        return Ok(warnings);
    }
    let what = match (kind, json.is_some()) {
        (Some(k), _) => format!("a {k}"),
        (None, true) => "JSON that is not a FHIR resource".to_owned(),
        (None, false) if reply.body.is_empty() => "an empty body".to_owned(),
        (None, false) => format!("`{}`", outcome_text(&reply.body).chars().take(60).collect::<String>()),
    };
    let content_type = if content_type.is_empty() { String::new() } else { format!(" {content_type}") };
    Err(Error::Server(format!(
        "`{shown}` is not a FHIR server: GET /metadata answered {}{content_type} with {what}, not a CapabilityStatement",
        reply.status
    )))
}

fn seed(worker: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    crate::sim::person::splitmix(nanos ^ worker.wrapping_mul(0x9E37_79B9))
}

/// Spaces requests `1/rate` seconds apart over all workers.
#[derive(Debug)]
struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    fn wait(&self) {
        let Some(interval) = self.interval else { return };
        let now = Instant::now();
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let slot = (*next).max(now);
            *next = slot + interval;
            slot
        };
        std::thread::sleep(slot.saturating_duration_since(now));
    }
}

/// How an item ended.
#[derive(Debug)]
enum Outcome {
    Accepted {
        created: u64,
        by_search: bool,
    },
    Failed {
        cause: String,
        status: Option<u16>,
        message: String,
        doubt: bool,
    },
    /// 401/403: the whole upload stops.
    Refused {
        status: u16,
        message: String,
    },
    /// The upload stopped before this item was tried.
    NotSent,
}

/// A worker's answer for one item.
#[derive(Debug)]
struct Done {
    key: String,
    resources: u64,
    attempts: u32,
    outcome: Outcome,
    /// Each request: its status (or why it got none) and, if answered, its latency.
    answers: Vec<(Result<u16, &'static str>, Duration)>,
}

struct Shared<'a> {
    client: &'a Client,
    policy: RetryPolicy,
    pacer: Pacer,
    stop: AtomicBool,
}

fn run(
    config: &Config,
    client: &Client,
    plan: &Plan,
    ledger: &mut Ledger,
    past: &BTreeMap<String, State>,
) -> Result<Report, Error> {
    let mut report = Report { concurrency: config.concurrency, rate_limit_per_s: config.rate, ..Report::default() };
    report.items.total = plan.items().count() as u64;
    let todo: u64 = plan.items().filter(|i| past.get(&i.key) != Some(&State::Accepted)).count() as u64;
    report.items.skipped = report.items.total - todo;
    let in_doubt = plan.items().filter(|i| past.get(&i.key) == Some(&State::InDoubt)).count();
    let unprovable = plan
        .items()
        .filter(|i| past.get(&i.key) == Some(&State::InDoubt) && i.probe.is_none() && !i.idempotent)
        .count();
    if unprovable > 0 {
        report.warnings.push(format!(
            "{unprovable} of the {in_doubt} items in doubt have no Patient identifier to look for; they are posted again"
        ));
    }
    let bar = progress_bar(config.progress, todo);
    let shared = Shared {
        client,
        policy: config.retry,
        pacer: Pacer {
            interval: config.rate.map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(Instant::now()),
        },
        stop: AtomicBool::new(false),
    };
    let mut stats = Stats::default();
    let started = Instant::now();
    let mut reader = Reader::default();
    let mut io_error = None;
    let mut silent = 0usize;
    let give_up_after = (config.concurrency * 2).max(4);
    for phase in &plan.phases {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let workers = if phase.serial { 1 } else { config.concurrency };
        let window = workers * 2;
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(window);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        std::thread::scope(|scope| {
            for w in 0..workers {
                let (rx, tx, shared) = (Arc::clone(&job_rx), done_tx.clone(), &shared);
                scope.spawn(move || worker(shared, &rx, &tx, seed(w as u64 + 1)));
            }
            drop(done_tx);
            let mut items = phase.items.iter().filter(|i| past.get(&i.key) != Some(&State::Accepted));
            let mut in_flight = 0usize;
            let mut exhausted = false;
            loop {
                // Refill: mark a group `sent` (one fsync), then hand it out.
                if !exhausted && !shared.stop.load(Ordering::Relaxed) && in_flight < window {
                    let mut group = Vec::new();
                    while in_flight + group.len() < window {
                        let Some(item) = items.next() else {
                            exhausted = true;
                            break;
                        };
                        match reader.job(item, past.get(&item.key) == Some(&State::InDoubt)) {
                            Ok(job) => group.push(job),
                            Err(e) => {
                                io_error = Some(Error::Input(e));
                                shared.stop.store(true, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                    for job in &group {
                        ledger.push(&Line::sent(&job.key));
                    }
                    if let Err(e) = ledger.flush() {
                        io_error = Some(Error::Io(e));
                        shared.stop.store(true, Ordering::Relaxed);
                        group.clear();
                    }
                    for job in group {
                        in_flight += 1;
                        if job_tx.send(job).is_err() {
                            in_flight -= 1;
                        }
                    }
                }
                if in_flight == 0 && (exhausted || shared.stop.load(Ordering::Relaxed)) {
                    break;
                }
                // Collect what came back, then record it (one fsync per group).
                let Ok(first) = done_rx.recv_timeout(Duration::from_millis(250)) else {
                    if in_flight == 0 {
                        continue;
                    }
                    if let Some(b) = &bar {
                        b.tick();
                    }
                    continue;
                };
                let mut batch = vec![first];
                batch.extend(done_rx.try_iter());
                for done in batch {
                    in_flight -= 1;
                    let unanswered = matches!(&done.outcome, Outcome::Failed { status: None, .. });
                    silent = if unanswered { silent + 1 } else { 0 };
                    record(done, ledger, &mut stats, &mut report, &shared.stop, bar.as_ref());
                    // A server that stopped answering altogether: stop rather than fail every
                    // remaining item; `--resume` continues when it is back.
                    if silent >= give_up_after && !shared.stop.swap(true, Ordering::Relaxed) {
                        report.stopped = Some(format!(
                            "the server stopped answering ({silent} bundles in a row got no answer); run again with --resume when it is back"
                        ));
                    }
                }
                if let Err(e) = ledger.flush() {
                    io_error = Some(Error::Io(e));
                    shared.stop.store(true, Ordering::Relaxed);
                }
            }
            drop(job_tx);
        });
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(e) = io_error {
        return Err(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let i = &mut report.items;
    i.not_sent = i.total - i.skipped - i.sent;
    report.elapsed_s = elapsed;
    report.items_per_s = report.items.accepted as f64 / elapsed.max(1e-9);
    report.resources_per_s = report.resources_accepted as f64 / elapsed.max(1e-9);
    report.latency = stats.latency();
    report.status_codes = std::mem::take(&mut stats.status_codes);
    report.retries = stats.retries;
    report.failures_by_cause = std::mem::take(&mut stats.failures_by_cause);
    report.failures = std::mem::take(&mut stats.failures);
    Ok(report)
}

/// Folds a worker's answer into the ledger, the figures and the bar.
fn record(
    done: Done,
    ledger: &mut Ledger,
    stats: &mut Stats,
    report: &mut Report,
    stop: &AtomicBool,
    bar: Option<&indicatif::ProgressBar>,
) {
    for (answer, latency) in &done.answers {
        match answer {
            Ok(status) => stats.answer(*status, *latency),
            Err(cause) => stats.no_answer(cause),
        }
    }
    stats.retries += u64::from(done.attempts.saturating_sub(1));
    let mut line = Line { attempts: done.attempts, resources: done.resources, ..Line::sent(&done.key) };
    match done.outcome {
        Outcome::NotSent => return,
        Outcome::Accepted { created, by_search } => {
            line.event = Event::Accepted;
            report.items.accepted += 1;
            report.items.confirmed_by_search += u64::from(by_search);
            report.resources_accepted += done.resources;
            report.resources_created += created;
        }
        Outcome::Failed { cause, status, message, doubt } => {
            line.event = Event::Failed;
            line.status = status;
            line.cause = Some(cause.clone());
            line.message = Some(message.clone());
            line.doubt = doubt;
            report.items.failed += 1;
            stats.failure(Failure { item: done.key.clone(), cause, status, message });
        }
        Outcome::Refused { status, message } => {
            line.event = Event::Failed;
            line.status = Some(status);
            line.cause = Some(format!("http-{status}"));
            line.message = Some(message.clone());
            report.items.failed += 1;
            stop.store(true, Ordering::Relaxed);
            if report.stopped.is_none() {
                report.stopped = Some(format!(
                    "the server refused the credentials (HTTP {status}: {message}); pass a token with --bearer-env VAR or a header with --header"
                ));
            }
            stats.failure(Failure {
                item: done.key.clone(),
                cause: format!("http-{status}"),
                status: Some(status),
                message,
            });
        }
    }
    report.items.sent += 1;
    ledger.push(&line);
    if let Some(b) = bar {
        b.set_message(format!(
            "{} accepted, {} failed, {} retries",
            report.items.accepted, report.items.failed, stats.retries
        ));
        b.inc(1);
    }
}

fn worker(shared: &Shared, jobs: &Mutex<mpsc::Receiver<Job>>, done: &mpsc::Sender<Done>, mut random: u64) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            rx.recv()
        };
        let Ok(job) = job else { return };
        random = crate::sim::person::splitmix(random);
        let result = attempt(shared, &job, random);
        if matches!(result.outcome, Outcome::Refused { .. }) {
            // Stop at once: this worker would otherwise take the next item before the main
            // thread has seen the refusal.
            shared.stop.store(true, Ordering::Relaxed);
        }
        if done.send(result).is_err() {
            return;
        }
    }
}

/// Sleeps, waking early if the upload stops.
fn pause(stop: &AtomicBool, wait: Duration) {
    let until = Instant::now() + wait;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// Posts one item until it is accepted, fails for good, or the retry budget is spent.
fn attempt(shared: &Shared, job: &Job, mut random: u64) -> Done {
    let policy = shared.policy;
    let started = Instant::now();
    let mut done = Done {
        key: job.key.clone(),
        resources: job.resources,
        attempts: 0,
        outcome: Outcome::NotSent,
        answers: Vec::new(),
    };
    let mut doubt = job.doubt && !job.idempotent;
    let mut retry_after = None;
    let mut last: Option<(String, Option<u16>, String)> = None;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if done.attempts >= policy.max_attempts {
            break;
        }
        if done.attempts > 0 {
            random = crate::sim::person::splitmix(random);
            let wait = policy.backoff(done.attempts, retry_after.take(), random);
            if started.elapsed() + wait > policy.max_elapsed {
                break;
            }
            pause(&shared.stop, wait);
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        done.attempts += 1;
        if doubt && let Some(probe) = &job.probe {
            match search(shared.client, probe) {
                Ok((reply, found)) => {
                    done.answers.push((Ok(reply.status), reply.latency));
                    if matches!(reply.status, 401 | 403) {
                        done.outcome = Outcome::Refused { status: reply.status, message: outcome_text(&reply.body) };
                        return done;
                    }
                    match found {
                        Some(true) => {
                            done.outcome = Outcome::Accepted { created: 0, by_search: true };
                            return done;
                        }
                        Some(false) => doubt = false,
                        None => {
                            retry_after = reply.retry_after;
                            let message = format!("the search for the bundle's Patient answered {}", reply.status);
                            last = Some((format!("http-{}", reply.status), Some(reply.status), message));
                            continue;
                        }
                    }
                }
                Err(e) => {
                    done.answers.push((Err(e.cause), Duration::ZERO));
                    last = Some((e.cause.to_owned(), None, e.message));
                    continue;
                }
            }
        }
        shared.pacer.wait();
        match shared.client.post(&job.body) {
            Ok(reply) => {
                done.answers.push((Ok(reply.status), reply.latency));
                let status = reply.status;
                if (200..300).contains(&status) {
                    done.outcome = accepted(&reply.body, status);
                    return done;
                }
                let message = outcome_text(&reply.body);
                if matches!(status, 401 | 403) {
                    done.outcome = Outcome::Refused { status, message };
                    return done;
                }
                if retryable(status) {
                    retry_after = reply.retry_after;
                    last = Some((format!("http-{status}"), Some(status), message));
                    continue;
                }
                // A transaction the server refused is not applied; a 5xx may be half-applied.
                let doubt = status >= 500 && !job.idempotent;
                done.outcome =
                    Outcome::Failed { cause: format!("http-{status}"), status: Some(status), message, doubt };
                return done;
            }
            Err(NetError { cause, message, sent }) => {
                done.answers.push((Err(cause), Duration::ZERO));
                if sent == Sent::Maybe && !job.idempotent {
                    doubt = true;
                }
                last = Some((cause.to_owned(), None, message));
            }
        }
    }
    if let Some((cause, status, message)) = last {
        let spent =
            format!("{message} (gave up after {} attempts in {:.1} s)", done.attempts, started.elapsed().as_secs_f64());
        done.outcome = Outcome::Failed { cause, status, message: spent, doubt };
    }
    done
}

/// `GET [base]/Patient?identifier=…&_summary=count`: whether the server holds the Patient
/// (`None` when the answer does not say).
fn search(client: &Client, identifier: &str) -> Result<(http::Reply, Option<bool>), NetError> {
    let reply = client.get("Patient", &[("identifier", identifier), ("_summary", "count")])?;
    let found = if reply.status == 200 {
        serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("total").and_then(serde_json::Value::as_u64))
            .map(|n| n > 0)
    } else {
        None
    };
    Ok((reply, found))
}

/// A 2xx answer: a transaction applied whole, or a batch whose entries may have failed one by
/// one.
fn accepted(body: &[u8], status: u16) -> Outcome {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        entry: Vec<AnswerEntry>,
    }
    #[derive(serde::Deserialize)]
    struct AnswerEntry {
        response: Option<AnswerResponse>,
    }
    #[derive(serde::Deserialize)]
    struct AnswerResponse {
        status: Option<String>,
        outcome: Option<serde_json::Value>,
    }
    let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
        return Outcome::Accepted { created: 0, by_search: false };
    };
    let mut created = 0;
    let mut failed = Vec::new();
    for e in &answer.entry {
        let code = e.response.as_ref().and_then(|r| r.status.as_deref()).unwrap_or("");
        if code.starts_with("201") {
            created += 1;
        } else if !code.starts_with('2') {
            failed.push(e);
        }
    }
    if let Some(first) = failed.first() {
        let code = first.response.as_ref().and_then(|r| r.status.as_deref()).unwrap_or("?");
        let words = first
            .response
            .as_ref()
            .and_then(|r| r.outcome.as_ref())
            .map(|o| outcome_text(o.to_string().as_bytes()))
            .unwrap_or_default();
        return Outcome::Failed {
            cause: "entries-rejected".into(),
            status: Some(status),
            message: format!("{} of {} entries failed; the first: {code} {words}", failed.len(), answer.entry.len()),
            doubt: false,
        };
    }
    Outcome::Accepted { created, by_search: false }
}

fn progress_bar(enabled: bool, total: u64) -> Option<indicatif::ProgressBar> {
    if !enabled || total == 0 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {per_sec}, eta {eta} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    Some(bar)
}

/// Writes the report as JSON.
pub fn write_report(report: &Report, path: &std::path::Path) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(report).map_err(|e| Error::Io(e.to_string()))?;
    crate::atomic::write(path, format!("{text}\n").as_bytes())
        .map_err(|e| Error::Io(format!("cannot write the report `{}`: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked_and_credentials_never_shown() {
        assert_eq!(server_url("http://127.0.0.1:8090/").unwrap().0, "http://127.0.0.1:8090");
        let (url, shown) = server_url("https://user:secret@host/fhir").unwrap();
        assert_eq!(url, "https://user:secret@host/fhir");
        assert_eq!(shown, "https://host/fhir");
        for bad in ["127.0.0.1:8090", "ftp://host", "http://", "http:///x"] {
            assert!(matches!(server_url(bad), Err(Error::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn a_transaction_answer_counts_created_entries_and_a_batch_its_failures() {
        let ok = br#"{"resourceType":"Bundle","type":"transaction-response","entry":[
            {"response":{"status":"201 Created"}},{"response":{"status":"200 OK"}},{"response":{"status":"201"}}]}"#;
        assert!(matches!(accepted(ok, 200), Outcome::Accepted { created: 2, by_search: false }));
        let partial = br#"{"resourceType":"Bundle","type":"batch-response","entry":[
            {"response":{"status":"200"}},{"response":{"status":"400","outcome":{"resourceType":"OperationOutcome",
            "issue":[{"code":"invalid","details":{"text":"bad gender"}}]}}}]}"#;
        match accepted(partial, 200) {
            Outcome::Failed { cause, message, doubt, .. } => {
                assert_eq!(cause, "entries-rejected");
                assert!(message.contains("1 of 2 entries failed") && message.contains("bad gender"), "{message}");
                assert!(!doubt);
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn the_pacer_spaces_requests() {
        let pacer = Pacer { interval: Some(Duration::from_millis(20)), next: Mutex::new(Instant::now()) };
        let started = Instant::now();
        for _ in 0..6 {
            pacer.wait();
        }
        // Six requests at 50/s take at least five intervals (a lower bound cannot flake).
        assert!(started.elapsed() >= Duration::from_millis(100), "{:?}", started.elapsed());
    }
}
