//! Source files and positions.
//!
//! Every module, lookup table and reference file that ehrsim reads is registered in a
//! [`Sources`] map and gets a [`FileId`]. A [`Span`] is a byte range inside one file; it is the
//! only notion of position the rest of the crate knows. Line and column numbers are computed
//! from spans only when a diagnostic is rendered, so loading stays cheap.

use codespan_reporting::files::{self, Files, SimpleFile};
use std::ops::Range;

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        let start = u32::try_from(range.start).unwrap_or(u32::MAX);
        let end = u32::try_from(range.end).unwrap_or(u32::MAX).max(start);
        Span { file, start, end }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both (which must be in the same file).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// A 1-based line and column, for messages that are not rendered with a snippet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// All files read during one run, addressable by [`FileId`].
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SimpleFile<String, String>>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Registers a file under a display name (a path as the user wrote it) and its text.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 2^32 source files"));
        self.files.push(SimpleFile::new(name.into(), text.into()));
        id
    }

    pub fn name(&self, id: FileId) -> &str {
        self.files[id.0 as usize].name()
    }

    pub fn text(&self, id: FileId) -> &str {
        self.files[id.0 as usize].source()
    }

    /// The slice of source text a span covers (empty if the span is out of range).
    pub fn snippet(&self, span: Span) -> &str {
        self.text(span.file).get(span.range()).unwrap_or("")
    }

    /// Line and column (1-based, in characters) of a span's start.
    pub fn line_col(&self, span: Span) -> LineCol {
        match self.location(span.file, span.start as usize) {
            Ok(loc) => LineCol { line: loc.line_number, column: loc.column_number },
            Err(_) => LineCol { line: 1, column: 1 },
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl<'a> Files<'a> for Sources {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        self.files.get(id.0 as usize).map(|f| f.name().as_str()).ok_or(files::Error::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        self.files.get(id.0 as usize).map(|f| f.source().as_str()).ok_or(files::Error::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, files::Error> {
        self.files.get(id.0 as usize).ok_or(files::Error::FileMissing)?.line_index((), byte_index)
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, files::Error> {
        self.files.get(id.0 as usize).ok_or(files::Error::FileMissing)?.line_range((), line_index)
    }
}
