//! What an upload posts: the bundle files of a run (`fhir/*.json`, `.json.gz`), or batches
//! made from its bulk NDJSON files (`ndjson/*.ndjson`), read and checked before anything is
//! sent, and split into phases that run one after the other.
//!
//! Bundles: phase 1 posts, one at a time, every bundle file that holds no Patient (Synthea's
//! `hospitalInformation`/`practitionerInformation` files) and then the *provider directory*:
//! one transaction of the distinct conditional creates (`ifNoneExist`) that the patient
//! bundles carry. Phase 2 posts the patient bundles concurrently; their conditional creates
//! then only find what exists, so two workers never race to create the same Organization (a
//! race that servers without a unique index lose by creating it twice).
//!
//! NDJSON: one phase per resource type, in the order of `export::fhir::NDJSON_TYPES`
//! (organizations first, provenance last), each line becoming a `PUT Type/id` entry of a
//! `batch` Bundle, so references always point at resources already loaded and posting a
//! batch twice changes nothing.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// What is uploaded, and from where.
#[derive(Debug, Clone)]
pub enum Source {
    /// Transaction bundles: a run's output directory (its `fhir/`) or a folder of bundles.
    Bundles(PathBuf),
    /// Bulk NDJSON: a run's output directory (its `ndjson/`) or a folder of `.ndjson` files.
    Ndjson(PathBuf),
}

/// One unit of work: a request body and how to check for it on the server.
#[derive(Debug)]
pub struct Job {
    /// Its name in the ledger.
    pub key: String,
    pub body: Vec<u8>,
    pub resources: u64,
    /// A search that finds the bundle's Patient when the server holds the bundle
    /// (`identifier=system|value`).
    pub probe: Option<String>,
    /// Posting it twice creates nothing new (conditional creates, PUTs).
    pub idempotent: bool,
    /// It is in doubt from an earlier run: check before posting.
    pub doubt: bool,
}

/// Where a job's body comes from.
#[derive(Debug, Clone)]
enum Body {
    File(PathBuf),
    Bytes(std::sync::Arc<Vec<u8>>),
    /// Lines `[first, first + count)` of an NDJSON file.
    Lines {
        file: PathBuf,
        first: usize,
        count: usize,
    },
}

/// A job before its body is read.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: String,
    body: Body,
    pub resources: u64,
    pub probe: Option<String>,
    pub idempotent: bool,
}

/// Items in phases: a phase starts when the one before it is finished.
#[derive(Debug)]
pub struct Phase {
    pub name: String,
    /// Post one at a time.
    pub serial: bool,
    pub items: Vec<Item>,
}

/// Everything to upload, checked.
#[derive(Debug)]
pub struct Plan {
    /// Where the ledger goes by default.
    pub root: PathBuf,
    pub mode: &'static str,
    pub phases: Vec<Phase>,
    pub batch_size: Option<usize>,
}

impl Plan {
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.phases.iter().flat_map(|p| &p.items)
    }
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// A file's bytes, gunzipped if its name ends in `.gz`.
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    if !is_gz(path) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 8);
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| format!("`{}` is not valid gzip: {e}", path.display()))?;
    Ok(out)
}

/// Files of `dir` whose names end in one of `suffixes`, sorted; hidden files (the `.partial`
/// files of an unfinished run) are left out.
fn files(dir: &Path, suffixes: &[&str]) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && suffixes.iter().any(|s| name.ends_with(s)) && p.is_file()
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The folder holding the files: `dir/sub` if it exists, else `dir` itself.
fn folder(dir: &Path, sub: &str) -> Result<PathBuf, String> {
    if !dir.is_dir() {
        return Err(format!("`{}` is not a directory", dir.display()));
    }
    let nested = dir.join(sub);
    Ok(if nested.is_dir() { nested } else { dir.to_path_buf() })
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// Reads and checks the input; nothing is sent.
pub fn plan(source: &Source, batch_size: usize) -> Result<Plan, String> {
    match source {
        Source::Bundles(dir) => plan_bundles(dir),
        Source::Ndjson(dir) => plan_ndjson(dir, batch_size.max(1)),
    }
}

#[derive(Deserialize)]
struct BundleScan<'a> {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, borrow)]
    entry: Vec<EntryScan<'a>>,
}

#[derive(Deserialize)]
struct EntryScan<'a> {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
    request: Option<RequestScan>,
}

#[derive(Deserialize)]
struct RequestScan {
    method: Option<String>,
    url: Option<String>,
    #[serde(rename = "ifNoneExist")]
    if_none_exist: Option<String>,
}

#[derive(Deserialize)]
struct ResourceHead {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    id: Option<String>,
    #[serde(default)]
    identifier: Vec<Identifier>,
}

#[derive(Deserialize)]
struct Identifier {
    system: Option<String>,
    value: Option<String>,
}

/// A provider-directory entry taken from the bundles.
struct DirectoryEntry {
    full_url: String,
    url: String,
    if_none_exist: String,
    resource: String,
}

fn plan_bundles(dir: &Path) -> Result<Plan, String> {
    let folder = folder(dir, "fhir")?;
    let paths = files(&folder, &[".json", ".json.gz"])?;
    if paths.is_empty() {
        return Err(format!(
            "no FHIR bundles in `{}`: expected `fhir/*.json` (from `ehrsim generate --format fhir`) or `*.json` files",
            dir.display()
        ));
    }
    let mut first = Vec::new();
    let mut patients = Vec::new();
    let mut directory: BTreeMap<(String, String), DirectoryEntry> = BTreeMap::new();
    for path in &paths {
        let key = relative(dir, path);
        let bytes = read_file(path)?;
        let bad = |why: String| format!("`{}` is not a FHIR transaction bundle: {why}", path.display());
        let scan: BundleScan = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if scan.resource_type.as_deref() != Some("Bundle") {
            return Err(bad(format!("its resourceType is {}", scan.resource_type.as_deref().unwrap_or("missing"))));
        }
        let kind = scan.kind.as_deref().unwrap_or("");
        if kind != "transaction" && kind != "batch" {
            return Err(bad(format!("its type is `{kind}`, not `transaction` or `batch`")));
        }
        if scan.entry.is_empty() {
            return Err(bad("it has no entries".into()));
        }
        let mut probe = None;
        let mut idempotent = true;
        let mut has_patient = false;
        for (i, entry) in scan.entry.iter().enumerate() {
            let (Some(resource), Some(request)) = (entry.resource, entry.request.as_ref()) else {
                return Err(bad(format!("entry {i} has no resource or no request")));
            };
            let head: ResourceHead =
                serde_json::from_str(resource.get()).map_err(|e| bad(format!("entry {i}: {e}")))?;
            let method = request.method.as_deref().unwrap_or("");
            if method.is_empty() || request.url.is_none() {
                return Err(bad(format!("entry {i} has no request method or url")));
            }
            let conditional = request.if_none_exist.is_some();
            if !(conditional || method == "PUT" || method == "GET") {
                idempotent = false;
            }
            if head.resource_type.as_deref() == Some("Patient") {
                has_patient = true;
                if probe.is_none() {
                    probe = head
                        .identifier
                        .iter()
                        .find_map(|id| Some(format!("{}|{}", id.system.as_deref()?, id.value.as_deref()?)));
                }
            }
            if let (Some(cond), Some(url), Some(full_url), "POST") =
                (&request.if_none_exist, &request.url, &entry.full_url, method)
            {
                directory.entry((url.clone(), cond.clone())).or_insert_with(|| DirectoryEntry {
                    full_url: full_url.clone(),
                    url: url.clone(),
                    if_none_exist: cond.clone(),
                    resource: resource.get().to_owned(),
                });
            }
        }
        let item = Item {
            key,
            body: Body::File(path.clone()),
            resources: scan.entry.len() as u64,
            probe: if idempotent { None } else { probe },
            idempotent,
        };
        if has_patient { patients.push(item) } else { first.push(item) }
    }
    if !patients.is_empty()
        && let Some(item) = directory_item(directory)
    {
        first.push(item);
    }
    let mut phases = Vec::new();
    if !first.is_empty() {
        phases.push(Phase { name: "provider directory".into(), serial: true, items: first });
    }
    if !patients.is_empty() {
        phases.push(Phase { name: "patient bundles".into(), serial: false, items: patients });
    }
    Ok(Plan { root: dir.to_path_buf(), mode: "bundles", phases, batch_size: None })
}

/// Every `urn:uuid:` reference in a JSON text.
fn urn_references(text: &str, out: &mut Vec<String>) {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("reference", serde_json::Value::String(s)) if s.starts_with("urn:uuid:") => {
                            out.push(s.clone())
                        }
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        walk(&v, out);
    }
}

/// The provider directory as one transaction of conditional creates. A resource whose
/// `urn:uuid:` references point outside the directory is left to its patient bundles.
fn directory_item(directory: BTreeMap<(String, String), DirectoryEntry>) -> Option<Item> {
    let mut entries: Vec<DirectoryEntry> = directory.into_values().collect();
    loop {
        let urls: BTreeSet<&str> = entries.iter().map(|e| e.full_url.as_str()).collect();
        let keep: Vec<bool> = entries
            .iter()
            .map(|e| {
                let mut refs = Vec::new();
                urn_references(&e.resource, &mut refs);
                refs.iter().all(|r| urls.contains(r.as_str()))
            })
            .collect();
        if keep.iter().all(|&k| k) {
            break;
        }
        let mut i = 0;
        entries.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
    if entries.is_empty() {
        return None;
    }
    let mut body = String::from(r#"{"resourceType":"Bundle","type":"transaction","entry":["#);
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let request = serde_json::json!({ "method": "POST", "url": e.url, "ifNoneExist": e.if_none_exist });
        body.push_str(&format!(
            r#"{{"fullUrl":{},"resource":{},"request":{}}}"#,
            serde_json::Value::String(e.full_url.clone()),
            e.resource,
            request
        ));
    }
    body.push_str("]}");
    Some(Item {
        key: "@provider-directory".into(),
        body: Body::Bytes(std::sync::Arc::new(body.into_bytes())),
        resources: entries.len() as u64,
        probe: None,
        idempotent: true,
    })
}

fn plan_ndjson(dir: &Path, batch_size: usize) -> Result<Plan, String> {
    let folder = folder(dir, "ndjson")?;
    let mut paths = files(&folder, &[".ndjson", ".ndjson.gz"])?;
    if paths.is_empty() {
        return Err(format!(
            "no NDJSON files in `{}`: expected `ndjson/*.ndjson` (from `ehrsim generate --format ndjson`) or `*.ndjson` files",
            dir.display()
        ));
    }
    let type_of = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.split('.').next().unwrap_or("").to_owned()
    };
    let order = |p: &PathBuf| {
        let t = type_of(p);
        (crate::export::fhir::NDJSON_TYPES.iter().position(|k| *k == t).unwrap_or(usize::MAX), t)
    };
    paths.sort_by_key(order);
    let mut phases = Vec::new();
    for path in &paths {
        let mut lines = 0usize;
        for (n, line) in open_lines(path)?.enumerate() {
            let line = line.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let head: ResourceHead = serde_json::from_str(&line)
                .map_err(|e| format!("`{}` line {}: not a FHIR resource: {e}", path.display(), n + 1))?;
            if head.resource_type.is_none() || head.id.as_deref().is_none_or(str::is_empty) {
                return Err(format!(
                    "`{}` line {}: a resource needs `resourceType` and `id` to be loaded by PUT",
                    path.display(),
                    n + 1
                ));
            }
            lines += 1;
        }
        let key = relative(dir, path);
        let items: Vec<Item> = (0..lines)
            .step_by(batch_size)
            .map(|first| {
                let count = batch_size.min(lines - first);
                Item {
                    key: format!("{key}#{}-{}", first + 1, first + count),
                    body: Body::Lines { file: path.clone(), first, count },
                    resources: count as u64,
                    probe: None,
                    idempotent: true,
                }
            })
            .collect();
        if !items.is_empty() {
            phases.push(Phase { name: type_of(path), serial: false, items });
        }
    }
    Ok(Plan { root: dir.to_path_buf(), mode: "ndjson", phases, batch_size: Some(batch_size) })
}

/// The lines of a (possibly gzipped) text file, streamed.
fn open_lines(path: &Path) -> Result<std::io::Lines<Box<dyn BufRead>>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let reader: Box<dyn BufRead> = if is_gz(path) {
        Box::new(std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(std::io::BufReader::new(f))
    };
    Ok(reader.lines())
}

/// Reads items' bodies in order; an NDJSON file is read once for all its batches.
#[derive(Default)]
pub struct Reader {
    open: Option<OpenFile>,
}

/// An NDJSON file being read, and how many resource lines have been read from it.
struct OpenFile {
    path: PathBuf,
    lines: std::io::Lines<Box<dyn BufRead>>,
    at: usize,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("file", &self.open.as_ref().map(|o| &o.path)).finish()
    }
}

impl Reader {
    pub fn job(&mut self, item: &Item, doubt: bool) -> Result<Job, String> {
        let body = match &item.body {
            Body::File(path) => read_file(path)?,
            Body::Bytes(bytes) => bytes.as_ref().clone(),
            Body::Lines { file, first, count } => self.batch(file, *first, *count)?,
        };
        Ok(Job {
            key: item.key.clone(),
            body,
            resources: item.resources,
            probe: item.probe.clone(),
            idempotent: item.idempotent,
            doubt,
        })
    }

    /// A `batch` Bundle of `PUT Type/id` entries for resource lines `[first, first+count)`
    /// (blank lines not counted).
    fn batch(&mut self, file: &Path, first: usize, count: usize) -> Result<Vec<u8>, String> {
        let reopen = match &self.open {
            Some(open) => open.path != file || open.at > first,
            None => true,
        };
        if reopen {
            self.open = Some(OpenFile { path: file.to_path_buf(), lines: open_lines(file)?, at: 0 });
        }
        let Some(OpenFile { lines, at, .. }) = self.open.as_mut() else { return Err("no file open".into()) };
        let mut body = String::from(r#"{"resourceType":"Bundle","type":"batch","entry":["#);
        let mut taken = 0;
        while taken < count {
            let Some(line) = lines.next() else {
                return Err(format!("`{}` changed while it was being uploaded", file.display()));
            };
            let line = line.map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            *at += 1;
            if *at <= first {
                continue;
            }
            let head: ResourceHead = serde_json::from_str(&line)
                .map_err(|e| format!("`{}` changed while it was being uploaded: {e}", file.display()))?;
            let url = format!("{}/{}", head.resource_type.unwrap_or_default(), head.id.unwrap_or_default());
            if taken > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"resource":{},"request":{{"method":"PUT","url":{}}}}}"#,
                line.trim(),
                serde_json::Value::String(url)
            ));
            taken += 1;
        }
        body.push_str("]}");
        Ok(body.into_bytes())
    }
}
