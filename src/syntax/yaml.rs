//! YAML reader: saphyr-parser events folded into a positioned [`Node`] tree.
//!
//! Plain scalars are resolved with the YAML 1.2 core schema (so `yes` stays a string and `1.0`
//! is a number); quoted scalars are always strings. Anchors and aliases are expanded, with a
//! bound on the total size so that a small file cannot expand into gigabytes. The tree is
//! built with an explicit stack: nesting depth never touches the call stack.

use super::{Entry, MAX_DEPTH, MAX_NODES, Node, Value};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::source::{FileId, Span};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

enum Frame {
    Seq { start: usize, anchor: usize, items: Vec<Node> },
    Map { start: usize, anchor: usize, entries: Vec<Entry>, key: Option<(String, Span)> },
}

/// Maps saphyr's character indices to byte offsets (identity for ASCII text).
struct Offsets {
    table: Option<Vec<u32>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let table = (!text.is_ascii()).then(|| {
            let mut t: Vec<u32> = text.char_indices().map(|(b, _)| b as u32).collect();
            t.push(text.len() as u32);
            t
        });
        Offsets { table, len: text.len() }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).map_or(self.len, |&b| b as usize),
        }
    }
}

/// Parses one YAML document. Returns `None` after reporting a syntax error.
pub fn parse_yaml(text: &str, file: FileId, diags: &mut Diagnostics) -> Option<Node> {
    let text_no_bom = text.strip_prefix('\u{feff}');
    let bom = if text_no_bom.is_some() { 3 } else { 0 };
    let body = text_no_bom.unwrap_or(text);
    let offsets = Offsets::new(body);
    let span = |start: usize, end: usize| Span::new(file, bom + offsets.byte(start)..bom + offsets.byte(end));

    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut documents = 0usize;

    for item in Parser::new_from_str(body) {
        let (event, ev_span) = match item {
            Ok(pair) => pair,
            Err(e) => {
                let m = e.marker();
                let at = span(m.index(), m.index() + 1);
                diags.push(Diagnostic::new(Kind::Syntax, at, format!("invalid YAML: {}", e.info())).label("here"));
                return None;
            }
        };
        let (s, e) = (ev_span.start.index(), ev_span.end.index());
        let completed: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    diags.push(
                        Diagnostic::new(Kind::Syntax, span(s, e.max(s + 1)), "a module file holds one YAML document")
                            .label("a second document starts here")
                            .help("split the documents into separate files"),
                    );
                    return None;
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => {
                    nodes += count_nodes(node);
                    let mut node = node.clone();
                    node.span = span(s, e);
                    Some((node, 0))
                }
                None => {
                    diags.push(Diagnostic::new(Kind::Syntax, span(s, e), "invalid YAML: unknown alias"));
                    return None;
                }
            },
            Event::Scalar(value, style, anchor, tag) => {
                if let Some(Frame::Map { key: key @ None, .. }) = stack.last_mut() {
                    *key = Some((value.into_owned(), span(s, e)));
                    continue;
                }
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let v = if style == ScalarStyle::Plain && !forced_str {
                    resolve_plain(&value)
                } else {
                    Value::Str(value.into_owned())
                };
                Some((Node { value: v, span: span(s, e) }, anchor))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    diags.push(
                        Diagnostic::new(Kind::Syntax, span(s, e.max(s + 1)), "a mapping key must be a plain value")
                            .label("complex key")
                            .help("use a string as the key"),
                    );
                    return None;
                }
                if stack.len() >= MAX_DEPTH {
                    diags.push(
                        Diagnostic::new(
                            Kind::TooDeep,
                            span(s, e.max(s + 1)),
                            format!("nesting deeper than {MAX_DEPTH} levels"),
                        )
                        .label("too deeply nested"),
                    );
                    return None;
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq { start: s, anchor, items: Vec::new() }
                } else {
                    Frame::Map { start: s, anchor, entries: Vec::new(), key: None }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { start, anchor, items }) => {
                    Some((Node { value: Value::Seq(items), span: span(start, e) }, anchor))
                }
                Some(Frame::Map { start, anchor, entries, .. }) => {
                    Some((Node { value: Value::Map(entries), span: span(start, e) }, anchor))
                }
                None => None,
            },
        };
        let Some((node, anchor)) = completed else {
            continue;
        };
        nodes += 1;
        if nodes > MAX_NODES {
            diags.push(
                Diagnostic::new(Kind::TooDeep, node.span, format!("document expands to more than {MAX_NODES} values"))
                    .label("expansion limit reached here")
                    .help("aliases that refer to aliases multiply in size; write the values out"),
            );
            return None;
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => {
                if let Some((key, key_span)) = key.take() {
                    entries.push(Entry { key, key_span, value: node });
                }
            }
        }
    }
    match root {
        Some(node) => Some(node),
        None => {
            diags.push(
                Diagnostic::new(Kind::Syntax, Span::new(file, 0..0), "the file is empty")
                    .label("expected a module")
                    .help("a module is a mapping with at least `name` and `states`"),
            );
            None
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    let mut n = 1;
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match &node.value {
            Value::Seq(items) => {
                n += items.len();
                stack.extend(items);
            }
            Value::Map(entries) => {
                n += entries.len();
                stack.extend(entries.iter().map(|e| &e.value));
            }
            _ => {}
        }
        if n > MAX_NODES {
            break;
        }
    }
    n
}

/// YAML 1.2 core-schema resolution of a plain scalar.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map_or_else(|_| Value::Float(s.parse().unwrap_or(f64::NAN)), Value::Int);
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    if is_float(unsigned)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_owned())
}

fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits_ok = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits_ok(int) && digits_ok(frac) && !(int.is_empty() && frac.is_empty()),
        None => !mantissa.is_empty() && digits_ok(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits_ok(e)
    });
    mantissa_ok && exponent_ok
}
