//! The upload ledger: what happened to each bundle, kept so that an interrupted upload can be
//! resumed without losing or repeating anything.
//!
//! The ledger is a JSON-lines file in the uploaded directory. Its first line names the server
//! and the mode; every later line is one event of one item (a bundle file, the provider
//! directory, a batch of NDJSON lines): `sent` before the item is handed to a worker, then
//! `accepted` or `failed`. Lines are only ever appended, and each group of lines is flushed
//! and fsynced before the upload goes on, so a crash loses at most a torn last line, which
//! [`Ledger::open`] cuts off.
//!
//! On resume an item is in one of four states ([`State`]): accepted (skipped), rejected by the
//! server (posted again), never sent (posted), or *in doubt*: sent, and then no answer that
//! proves the server did not apply it (a crash, a timeout, a reset connection). An item in
//! doubt is checked on the server before it is posted again.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &str = "ehrsim-upload-ledger";

/// The first line: what the ledger is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub ledger: String,
    pub version: u32,
    /// The server's base URL (without credentials).
    pub server: String,
    /// `bundles` or `ndjson`.
    pub mode: String,
    /// Resources per batch in `ndjson` mode (items are numbered by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

impl Header {
    pub fn new(server: &str, mode: &str, batch_size: Option<usize>) -> Header {
        Header { ledger: MAGIC.into(), version: 1, server: server.into(), mode: mode.into(), batch_size }
    }
}

/// What happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// Handed to a worker: from now on the server may hold it.
    Sent,
    /// The server applied it (or a search proved it holds it).
    Accepted,
    /// It failed; `doubt` says whether the server may have applied it all the same.
    Failed,
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub item: String,
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub doubt: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub resources: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn is_zero64(n: &u64) -> bool {
    *n == 0
}

impl Line {
    pub fn sent(item: &str) -> Line {
        Line {
            item: item.into(),
            event: Event::Sent,
            status: None,
            cause: None,
            message: None,
            doubt: false,
            attempts: 0,
            resources: 0,
        }
    }
}

/// An item's state, from the lines read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Accepted,
    /// Rejected by the server: it holds none of it.
    Rejected,
    /// Sent, and nothing proves the server did not apply it.
    InDoubt,
}

/// An open ledger, positioned for appending.
#[derive(Debug)]
pub struct Ledger {
    file: File,
    path: PathBuf,
    buffer: Vec<u8>,
}

/// What an existing ledger held.
#[derive(Debug, Default)]
pub struct Past {
    pub states: BTreeMap<String, State>,
    /// Bytes of a torn last line that were cut off.
    pub torn: usize,
    pub lines: usize,
}

impl Ledger {
    /// Creates a new ledger (replacing any old one) with its header.
    pub fn create(path: &Path, header: &Header) -> Result<Ledger, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("cannot create the ledger `{}`: {e}", path.display()))?;
        lock(&file, path)?;
        file.set_len(0).map_err(|e| format!("cannot create the ledger `{}`: {e}", path.display()))?;
        let mut ledger = Ledger { file, path: path.to_path_buf(), buffer: Vec::new() };
        let text = serde_json::to_string(header).map_err(|e| e.to_string())?;
        ledger.buffer.extend_from_slice(text.as_bytes());
        ledger.buffer.push(b'\n');
        ledger.flush()?;
        Ok(ledger)
    }

    /// Opens an existing ledger to resume: checks its header against `expected`, reads every
    /// item's state and cuts off a torn last line.
    pub fn open(path: &Path, expected: &Header) -> Result<(Ledger, Past), String> {
        let what = |e: std::io::Error| format!("cannot read the ledger `{}`: {e}", path.display());
        let mut file = OpenOptions::new().read(true).write(true).open(path).map_err(what)?;
        lock(&file, path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(what)?;
        let (past, header, good) = read(&bytes).map_err(|e| format!("the ledger `{}` {e}", path.display()))?;
        let Some(header) = header else {
            return Err(format!("the ledger `{}` is empty; remove it to start over", path.display()));
        };
        if header.ledger != MAGIC || header.version != 1 {
            return Err(format!("`{}` is not an ehrsim upload ledger", path.display()));
        }
        if header.server != expected.server {
            return Err(format!(
                "the ledger `{}` records an upload to `{}`, not `{}`; resume against the same server, or pass --restart",
                path.display(),
                header.server,
                expected.server
            ));
        }
        if header.mode != expected.mode || header.batch_size != expected.batch_size {
            return Err(format!(
                "the ledger `{}` records a `{}` upload{}; resume it with the same options, or pass --restart",
                path.display(),
                header.mode,
                header.batch_size.map(|b| format!(" with --batch-size {b}")).unwrap_or_default()
            ));
        }
        if good < bytes.len() {
            file.set_len(good as u64).map_err(what)?;
            file.sync_data().map_err(what)?;
        }
        file.seek(SeekFrom::End(0)).map_err(what)?;
        Ok((Ledger { file, path: path.to_path_buf(), buffer: Vec::new() }, past))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a line to the next flush.
    pub fn push(&mut self, line: &Line) {
        if let Ok(text) = serde_json::to_string(line) {
            self.buffer.extend_from_slice(text.as_bytes());
            self.buffer.push(b'\n');
        }
    }

    /// Writes the pushed lines and waits until they are on disk.
    pub fn flush(&mut self) -> Result<(), String> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buffer).and_then(|()| self.file.sync_data());
        self.buffer.clear();
        result.map_err(|e| format!("cannot write the ledger `{}`: {e}", self.path.display()))
    }
}

/// Takes the ledger for this process: two uploads appending to one ledger would post the same
/// bundles. The lock goes with the process, so a crash leaves none behind.
fn lock(file: &File, path: &Path) -> Result<(), String> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(format!("another upload is using the ledger `{}`; wait for it to finish", path.display()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock the ledger `{}`: {e}", path.display())),
    }
}

/// Reads a ledger's bytes: the states, the header, and how many bytes are whole lines.
fn read(bytes: &[u8]) -> Result<(Past, Option<Header>, usize), String> {
    let mut past = Past::default();
    let mut header = None;
    let mut good = 0;
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        let (end, complete) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (start + i, true),
            None => (bytes.len(), false),
        };
        number += 1;
        let text = &bytes[start..end];
        let next = if complete { end + 1 } else { end };
        if text.iter().all(u8::is_ascii_whitespace) {
            start = next;
            good = next;
            continue;
        }
        let parsed = if header.is_none() {
            serde_json::from_slice::<Header>(text).map(Parsed::Header)
        } else {
            serde_json::from_slice::<Line>(text).map(Parsed::Line)
        };
        match parsed {
            Ok(p) if complete => {
                match p {
                    Parsed::Header(h) => header = Some(h),
                    Parsed::Line(l) => apply(&mut past.states, l),
                }
                past.lines += 1;
                good = next;
            }
            // A last line without its newline, or one that does not parse, is a write the
            // crash interrupted: it never counted.
            _ if next >= bytes.len() => {
                past.torn = bytes.len() - start;
                break;
            }
            Ok(_) => break, // cannot happen: only the last line can lack its newline
            Err(e) => return Err(format!("is damaged at line {number}: {e}")),
        }
        start = next;
    }
    Ok((past, header, good))
}

enum Parsed {
    Header(Header),
    Line(Line),
}

/// Folds one line into the states. `accepted` is final.
fn apply(states: &mut BTreeMap<String, State>, line: Line) {
    let state = states.get(&line.item).copied();
    if state == Some(State::Accepted) {
        return;
    }
    let new = match line.event {
        Event::Sent => State::InDoubt,
        Event::Accepted => State::Accepted,
        Event::Failed if line.doubt => State::InDoubt,
        Event::Failed => State::Rejected,
    };
    states.insert(line.item, new);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ehrsim-ledger-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("ledger.jsonl")
    }

    fn line(item: &str, event: Event, doubt: bool) -> Line {
        Line { event, doubt, ..Line::sent(item) }
    }

    #[test]
    fn states_follow_the_last_line_and_accepted_is_final() {
        let path = temp("states");
        let header = Header::new("http://127.0.0.1:1", "bundles", None);
        let mut l = Ledger::create(&path, &header).unwrap();
        for x in [
            line("a", Event::Sent, false),
            line("a", Event::Accepted, false),
            line("a", Event::Sent, false),
            line("b", Event::Sent, false),
            line("b", Event::Failed, false),
            line("c", Event::Sent, false),
            line("d", Event::Sent, false),
            line("d", Event::Failed, true),
        ] {
            l.push(&x);
        }
        l.flush().unwrap();
        drop(l);
        let (_, past) = Ledger::open(&path, &header).unwrap();
        assert_eq!(past.states.get("a"), Some(&State::Accepted));
        assert_eq!(past.states.get("b"), Some(&State::Rejected));
        assert_eq!(past.states.get("c"), Some(&State::InDoubt));
        assert_eq!(past.states.get("d"), Some(&State::InDoubt));
        assert_eq!(past.torn, 0);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_appending_goes_on_cleanly() {
        let path = temp("torn");
        let header = Header::new("http://127.0.0.1:1", "bundles", None);
        let mut l = Ledger::create(&path, &header).unwrap();
        l.push(&line("a", Event::Accepted, false));
        l.flush().unwrap();
        drop(l);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"item":"b","event":"acc"#).unwrap();
        drop(f);
        let (mut l, past) = Ledger::open(&path, &header).unwrap();
        assert!(past.torn > 0);
        assert_eq!(past.states.get("b"), None);
        l.push(&line("b", Event::Accepted, false));
        l.flush().unwrap();
        drop(l);
        let (_, past) = Ledger::open(&path, &header).unwrap();
        assert_eq!(past.torn, 0);
        assert_eq!(past.states.get("a"), Some(&State::Accepted));
        assert_eq!(past.states.get("b"), Some(&State::Accepted));
    }

    #[test]
    fn a_ledger_in_use_cannot_be_opened_twice() {
        let path = temp("locked");
        let header = Header::new("http://127.0.0.1:1", "bundles", None);
        let first = Ledger::create(&path, &header).unwrap();
        let e = Ledger::open(&path, &header).unwrap_err();
        assert!(e.contains("another upload is using the ledger"), "{e}");
        drop(first);
        assert!(Ledger::open(&path, &header).is_ok());
    }

    #[test]
    fn damage_before_the_last_line_and_another_server_are_errors() {
        let path = temp("damaged");
        let header = Header::new("http://127.0.0.1:1", "bundles", None);
        drop(Ledger::create(&path, &header).unwrap());
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"garbage\n{\"item\":\"a\",\"event\":\"sent\"}\n").unwrap();
        drop(f);
        let e = Ledger::open(&path, &header).unwrap_err();
        assert!(e.contains("is damaged at line 2"), "{e}");
        let path = temp("server");
        drop(Ledger::create(&path, &header).unwrap());
        let other = Header::new("http://127.0.0.1:2", "bundles", None);
        let e = Ledger::open(&path, &other).unwrap_err();
        assert!(e.contains("records an upload to `http://127.0.0.1:1`"), "{e}");
    }
}
