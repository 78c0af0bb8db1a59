//! The positioned document tree shared by YAML and JSON input.
//!
//! `syntax` turns text into a [`Node`] tree in which every value, key and collection keeps its
//! [`Span`]. It knows nothing about GMF: that is the job of `parse`, which reads this tree.
//! Reading never panics and never stops at the first problem it can recover from; syntax
//! errors become diagnostics and yield `None`.
//!
//! Architecture invariant: nothing outside this module knows which text format a node came
//! from.

mod json;
mod yaml;

use crate::diagnostic::Diagnostics;
use crate::source::{FileId, Sources, Span};

pub use json::parse_json;
pub use yaml::parse_yaml;

/// Deepest nesting of collections accepted; deeper documents are rejected with a diagnostic
/// rather than risking the stack.
pub const MAX_DEPTH: usize = 96;

/// Most nodes one document may hold (guards against alias bombs in YAML).
pub const MAX_NODES: usize = 4_000_000;

/// A value with the span of its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping. Keys are always text (numbers are kept as written).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    /// A short name of the value's type, for messages ("expected a number, found a string").
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Looks a key up in a mapping (the last occurrence wins, as in most JSON readers).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().rev().find(|e| e.key == key).map(|e| &e.value)
    }
}

/// Which reader a file needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// The format for a file name, by extension; YAML for anything that is not `.json`.
    pub fn from_path(path: &str) -> Format {
        if path.to_ascii_lowercase().ends_with(".json") { Format::Json } else { Format::Yaml }
    }
}

/// Parses a registered file into a tree; syntax errors go to `diags`.
pub fn parse(sources: &Sources, file: FileId, format: Format, diags: &mut Diagnostics) -> Option<Node> {
    let text = sources.text(file);
    match format {
        Format::Json => parse_json(text, file, diags),
        Format::Yaml => parse_yaml(text, file, diags),
    }
}

/// The tree as a JSON value (positions dropped), e.g. to validate it against a JSON Schema.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(entries.iter().map(|e| (e.key.clone(), to_json(&e.value))).collect()),
    }
}
