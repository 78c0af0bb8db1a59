//! `ehrsim upload` against small HTTP servers started in the test on 127.0.0.1: retries and
//! `Retry-After`, errors with OperationOutcome text, the ledger and `--resume`, answers lost
//! mid-request, and the messages for bad servers and bad input. (The real FHIR server is
//! exercised by `.ci/upload_check.sh`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// A request the fake server received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the fake server does with a request.
enum Reply {
    /// Status, extra headers, body.
    Http(u16, Vec<(&'static str, String)>, String),
    /// Close the connection without answering (after reading the request).
    Hang,
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 (a thread per connection); every request is logged and
/// numbered from 1 in arrival order.
struct Fake {
    url: String,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Fake {
    fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (handler, shared) = (Arc::clone(&handler), Arc::clone(&shared));
                std::thread::spawn(move || serve(stream, &handler, &shared));
            }
        });
        Fake { url, log }
    }

    fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    fn posts(&self) -> usize {
        self.requests().iter().filter(|r| r.method == "POST").count()
    }
}

fn serve(stream: TcpStream, handler: &Arc<Handler>, log: &Mutex<Vec<Request>>) {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request { method, target, headers, body };
        let n = {
            let mut log = log.lock().unwrap();
            log.push(request.clone());
            log.len()
        };
        match handler(&request, n) {
            Reply::Hang => return,
            Reply::Http(status, extra, body) => {
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).is_err() {
                    return;
                }
            }
        }
    }
}

const CAPABILITY: &str =
    r#"{"resourceType":"CapabilityStatement","status":"active","kind":"instance","fhirVersion":"4.0.1"}"#;

/// A transaction-response with one `201 Created` per entry of the posted bundle.
fn created(request: &Request) -> Reply {
    let bundle: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let n = bundle["entry"].as_array().map_or(0, Vec::len);
    let entries: Vec<String> = (0..n).map(|_| r#"{"response":{"status":"201 Created"}}"#.to_owned()).collect();
    Reply::Http(
        200,
        vec![],
        format!(r#"{{"resourceType":"Bundle","type":"transaction-response","entry":[{}]}}"#, entries.join(",")),
    )
}

fn outcome(status: u16, text: &str) -> Reply {
    Reply::Http(
        status,
        vec![],
        format!(
            r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"invalid","details":{{"text":"{text}"}}}}]}}"#
        ),
    )
}

/// A FHIR server that accepts everything.
fn accepting(r: &Request, _: usize) -> Reply {
    if r.target.starts_with("/metadata") {
        return Reply::Http(200, vec![], CAPABILITY.into());
    }
    if r.target.starts_with("/Patient?") {
        return Reply::Http(200, vec![], r#"{"resourceType":"Bundle","type":"searchset","total":0}"#.into());
    }
    created(r)
}

fn ehrsim(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ehrsim"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A fresh run of `patients` patients as FHIR bundles.
fn bundles(name: &str, patients: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ehrsim-upload-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let p = patients.to_string();
    let o = run(ehrsim(&["-p", &p, "-s", "3", "-r", "2024-06-30", "--format", "fhir", "-q", "-o"]).arg(&dir));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    dir
}

fn bundle_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("fhir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn upload(dir: &Path, server: &str, extra: &[&str]) -> Output {
    let mut cmd = ehrsim(&["upload", "--server", server, "-q"]);
    cmd.arg(dir).args(extra);
    run(&mut cmd)
}

fn ledger_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("upload-ledger.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_bundle_is_posted_once_provider_directory_first_and_reconciled() {
    let dir = bundles("all", 3);
    let server = Fake::start(accepting);
    let json = dir.join("report.json");
    let o = upload(&dir, &server.url, &["--report", json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let posts: Vec<Request> = server.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 4, "3 patients and the provider directory");
    let first: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap();
    let entries = first["entry"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e["request"]["ifNoneExist"].is_string() && e["resource"]["resourceType"] != "Patient"),
        "the directory goes first and holds only conditional creates"
    );
    let r = report(&json);
    assert_eq!(r["items"]["total"], 4);
    assert_eq!(r["items"]["accepted"], 4);
    assert_eq!(r["items"]["failed"], 0);
    assert_eq!(r["status_codes"]["200"], 4);
    assert!(r["resources_accepted"].as_u64().unwrap() > 4);
    assert!(r["latency"]["p50_ms"].as_f64().unwrap() <= r["latency"]["max_ms"].as_f64().unwrap());
    let accepted = ledger_lines(&dir).iter().filter(|l| l["event"] == "accepted").count();
    assert_eq!(accepted, 4);
    // Resuming a finished upload sends nothing.
    let o = upload(&dir, &server.url, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(server.posts(), 4);
    assert!(text(&o).contains("4 accepted before + 0 sent now"), "{}", text(&o));
}

#[test]
fn transient_failures_are_retried_and_retry_after_is_honoured() {
    let dir = bundles("retry", 2);
    // The first post (request 2) gets a 503, its retry a 429 with Retry-After.
    let server = Fake::start(|r, n| match n {
        2 => outcome(503, "busy"),
        3 => Reply::Http(429, vec![("retry-after", "1".into())], String::new()),
        _ => accepting(r, n),
    });
    let json = dir.join("report.json");
    let started = std::time::Instant::now();
    let o = upload(&dir, &server.url, &["-c", "1", "--report", json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "Retry-After: 1 was waited for");
    let r = report(&json);
    assert_eq!(r["items"]["accepted"], 3);
    assert_eq!(r["retries"], 2);
    assert_eq!(r["status_codes"]["503"], 1);
    assert_eq!(r["status_codes"]["429"], 1);
    assert_eq!(server.posts(), 5);
}

#[test]
fn a_rejected_bundle_is_recorded_with_the_server_words_and_the_rest_goes_on() {
    let dir = bundles("reject", 3);
    let victim = bundle_files(&dir)[1].clone();
    let probe = victim.clone();
    let reject = Arc::new(Mutex::new(true));
    let rejecting = Arc::clone(&reject);
    let server = Fake::start(move |r, n| {
        let body = String::from_utf8_lossy(&r.body);
        let id = probe.trim_end_matches(".json").rsplit('_').next().unwrap_or("").to_owned();
        if r.method == "POST" && *rejecting.lock().unwrap() && body.contains(&format!("urn:uuid:{id}")) {
            return outcome(422, "Patient.gender: invalid code");
        }
        accepting(r, n)
    });
    let json = dir.join("report.json");
    let o = upload(&dir, &server.url, &["--report", json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("HTTP 422: Patient.gender: invalid code"), "{out}");
    assert!(out.contains("1 of 4 bundles failed"), "{out}");
    let r = report(&json);
    assert_eq!(r["items"]["accepted"], 3);
    assert_eq!(r["items"]["failed"], 1);
    assert_eq!(r["failures_by_cause"]["http-422"], 1);
    assert_eq!(r["retries"], 0, "a 422 is not retried");
    let failed: Vec<serde_json::Value> = ledger_lines(&dir).into_iter().filter(|l| l["event"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["item"], format!("fhir/{victim}"));
    assert_eq!(failed[0]["message"], "Patient.gender: invalid code");
    // Once the server takes it, --resume posts that one bundle and nothing else.
    *reject.lock().unwrap() = false;
    let before = server.posts();
    let o = upload(&dir, &server.url, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(server.posts(), before + 1);
}

#[test]
fn an_answer_lost_mid_request_is_checked_on_the_server_before_posting_again() {
    let dir = bundles("lost", 1);
    // The patient bundle (request 3) is applied, but the connection drops before the answer;
    // the search then finds its Patient, so it is not posted again.
    let server = Fake::start(|r, n| {
        if n == 3 {
            return Reply::Hang;
        }
        if r.target.starts_with("/Patient?") {
            return Reply::Http(200, vec![], r#"{"resourceType":"Bundle","type":"searchset","total":1}"#.into());
        }
        accepting(r, n)
    });
    let json = dir.join("report.json");
    let o = upload(&dir, &server.url, &["--report", json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|r| r.method == "POST").count(), 2, "directory + the bundle, once");
    let search = requests.iter().find(|r| r.target.starts_with("/Patient?")).expect("a search");
    assert!(search.target.contains("identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Aoid%3A2.25."), "{}", search.target);
    let r = report(&json);
    assert_eq!(r["items"]["confirmed_by_search"], 1);
    assert_eq!(r["items"]["accepted"], 2);
}

#[test]
fn resume_checks_bundles_in_doubt_and_posts_the_ones_the_server_lacks() {
    let dir = bundles("doubt", 2);
    let names = bundle_files(&dir);
    // A ledger as a crash leaves it: the directory accepted, both bundles sent, one answer
    // recorded, and a torn last line.
    let ledger = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{{\"item\":\"fhir/{}\",\"ev",
        serde_json::json!({"ledger":"ehrsim-upload-ledger","version":1,"server":"SERVER","mode":"bundles"}),
        r#"{"item":"@provider-directory","event":"sent"}"#,
        r#"{"item":"@provider-directory","event":"accepted"}"#,
        serde_json::json!({"item": format!("fhir/{}", names[0]), "event": "sent"}),
        serde_json::json!({"item": format!("fhir/{}", names[1]), "event": "sent"}),
        serde_json::json!({"item": format!("fhir/{}", names[1]), "event": "accepted"}),
        names[0],
    );
    // The server holds no Patient: the bundle in doubt is posted again.
    let server = Fake::start(accepting);
    std::fs::write(dir.join("upload-ledger.jsonl"), ledger.replace("SERVER", &server.url)).unwrap();
    let o = upload(&dir, &server.url, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("last line was cut short"), "{out}");
    assert!(out.contains("2 accepted before + 1 sent now"), "{out}");
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|r| r.target.starts_with("/Patient?")).count(), 1, "one check");
    assert_eq!(requests.iter().filter(|r| r.method == "POST").count(), 1, "one post");
    // The ledger stays readable after the torn line was cut.
    let lines = ledger_lines(&dir);
    assert_eq!(lines.last().unwrap()["event"], "accepted");
}

#[test]
fn a_resume_against_another_server_is_refused() {
    let dir = bundles("other", 1);
    let a = Fake::start(accepting);
    assert_eq!(upload(&dir, &a.url, &[]).status.code(), Some(0));
    let b = Fake::start(accepting);
    let o = upload(&dir, &b.url, &["--resume"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("records an upload to"), "{}", text(&o));
    assert_eq!(b.posts(), 0);
}

#[test]
fn bad_servers_get_clear_messages_and_non_zero_exits() {
    let dir = bundles("bad", 1);
    // Nothing listens on a port that was just released.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = upload(&dir, &format!("http://127.0.0.1:{closed}"), &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("error: cannot reach `http://127.0.0.1:"), "{}", text(&o));

    let html = Fake::start(|_, _| Reply::Http(200, vec![], "<html><body>It works!</body></html>".into()));
    let o = upload(&dir, &html.url, &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("is not a FHIR server: GET /metadata answered 200"), "{}", text(&o));

    let notfound = Fake::start(|_, _| Reply::Http(404, vec![], r#"{"error":"no route"}"#.into()));
    let o = upload(&dir, &notfound.url, &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("answered 404"), "{}", text(&o));

    let locked = Fake::start(|r, n| match r.header("authorization") {
        Some("Bearer right-token") => accepting(r, n),
        _ => outcome(401, "invalid token"),
    });
    let o = run(ehrsim(&["upload", "--server", &locked.url, "-q", "--bearer-env", "EHRSIM_T"])
        .arg(&dir)
        .env("EHRSIM_T", "wrong-token"));
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("refused the credentials") && text(&o).contains("invalid token"), "{}", text(&o));
    assert!(!text(&o).contains("wrong-token"), "the token is never printed");
    let o = run(ehrsim(&["upload", "--server", &locked.url, "-q", "--bearer-env", "EHRSIM_T", "--restart"])
        .arg(&dir)
        .env("EHRSIM_T", "right-token"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("right-token"));
    let o = run(ehrsim(&["upload", "--server", &locked.url, "-q", "--bearer-env", "EHRSIM_UNSET_VAR"]).arg(&dir));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("`EHRSIM_UNSET_VAR` is not set"), "{}", text(&o));
}

#[test]
fn credentials_refused_mid_upload_stop_it() {
    let dir = bundles("stop", 3);
    let server =
        Fake::start(|r, n| if r.method == "POST" && n >= 3 { outcome(403, "forbidden") } else { accepting(r, n) });
    let o = upload(&dir, &server.url, &["-c", "1"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("the upload stopped: the server refused the credentials (HTTP 403"), "{}", text(&o));
    assert_eq!(server.posts(), 2, "no bundle after the refusal");
}

#[test]
fn malformed_input_is_refused_before_anything_is_sent() {
    let server = Fake::start(accepting);
    let root = std::env::temp_dir().join(format!("ehrsim-upload-malformed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("fhir")).unwrap();
    std::fs::write(root.join("fhir/a.json"), r#"{"resourceType":"Patient","id":"x"}"#).unwrap();
    let o = upload(&root, &server.url, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not a FHIR transaction bundle: its resourceType is Patient"), "{}", text(&o));
    std::fs::write(root.join("fhir/a.json"), r#"{"resourceType":"Bundle","type":"transaction","entry":[{"#).unwrap();
    let o = upload(&root, &server.url, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not a FHIR transaction bundle"), "{}", text(&o));
    std::fs::write(root.join("fhir/a.json.gz"), b"not gzip").unwrap();
    std::fs::remove_file(root.join("fhir/a.json")).unwrap();
    let o = upload(&root, &server.url, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not valid gzip"), "{}", text(&o));
    let o = upload(&root.join("missing"), &server.url, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not a directory"), "{}", text(&o));
    std::fs::create_dir_all(root.join("ndjson")).unwrap();
    std::fs::write(root.join("ndjson/Patient.ndjson"), "{\"resourceType\":\"Patient\"}\n").unwrap();
    let o = run(ehrsim(&["upload", "--server", &server.url, "-q", "--ndjson"]).arg(&root));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("line 1: a resource needs `resourceType` and `id`"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"));
    assert_eq!(server.requests().len(), 0, "nothing was sent");
}

#[test]
fn gzip_bundles_and_ndjson_batches_are_uploaded() {
    let dir = std::env::temp_dir().join(format!("ehrsim-upload-gz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o =
        run(ehrsim(&["-p", "3", "-s", "4", "-r", "2024-06-30", "--format", "fhir,ndjson", "--gzip", "-q", "-o"])
            .arg(&dir));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let server = Fake::start(accepting);
    assert_eq!(upload(&dir, &server.url, &[]).status.code(), Some(0));
    assert_eq!(server.posts(), 4);
    let bulk = Fake::start(|r, _| {
        if r.target.starts_with("/metadata") {
            return Reply::Http(200, vec![], CAPABILITY.into());
        }
        let bundle: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let entries: Vec<String> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let url = format!(
                    "{}/{}",
                    e["resource"]["resourceType"].as_str().unwrap(),
                    e["resource"]["id"].as_str().unwrap()
                );
                assert_eq!(e["request"]["method"], "PUT");
                assert_eq!(e["request"]["url"], url.as_str());
                r#"{"response":{"status":"201"}}"#.to_owned()
            })
            .collect();
        Reply::Http(
            200,
            vec![],
            format!(r#"{{"resourceType":"Bundle","type":"batch-response","entry":[{}]}}"#, entries.join(",")),
        )
    });
    let json = dir.join("bulk.json");
    let o = run(ehrsim(&[
        "upload",
        "--server",
        &bulk.url,
        "-q",
        "--batch-size",
        "7",
        "--report",
        json.to_str().unwrap(),
        "--ndjson",
    ])
    .arg(&dir));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let posts: Vec<Request> = bulk.requests().into_iter().filter(|r| r.method == "POST").collect();
    let first: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(first["type"], "batch");
    assert_eq!(first["entry"][0]["resource"]["resourceType"], "Organization", "the directory first");
    let lines: usize = std::fs::read_dir(dir.join("ndjson"))
        .unwrap()
        .map(|e| {
            let mut s = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(e.unwrap().path()).unwrap())
                .read_to_string(&mut s)
                .unwrap();
            s.lines().filter(|l| !l.trim().is_empty()).count()
        })
        .sum();
    let r = report(&json);
    assert_eq!(r["resources_accepted"].as_u64().unwrap() as usize, lines);
    assert!(
        posts.iter().all(|p| serde_json::from_slice::<serde_json::Value>(&p.body).unwrap()["entry"]
            .as_array()
            .unwrap()
            .len()
            <= 7)
    );
}

#[test]
fn generate_upload_posts_the_run_it_wrote() {
    let server = Fake::start(accepting);
    let dir = std::env::temp_dir().join(format!("ehrsim-upload-generate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = run(ehrsim(&[
        "-p",
        "2",
        "-s",
        "5",
        "-r",
        "2024-06-30",
        "--format",
        "fhir",
        "-q",
        "--upload",
        &server.url,
        "-o",
    ])
    .arg(&dir));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("generated 2 patients"), "{}", text(&o));
    assert_eq!(server.posts(), 3);
    assert!(dir.join("upload-ledger.jsonl").exists());
    let o = run(ehrsim(&["-p", "2", "--format", "csv", "-q", "--upload", &server.url, "-o"]).arg(&dir));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("add `fhir` to --format"), "{}", text(&o));
}
