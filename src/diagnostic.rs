//! Diagnostics: what is wrong with an input, where, and how to fix it.
//!
//! Every stage that reads user input (syntax, parse, validate, compile) pushes
//! [`Diagnostic`]s into a [`Diagnostics`] list instead of returning early, so one `ehrsim check`
//! reports every problem at once. A diagnostic carries a [`Kind`] (stable, kebab-case, counted in
//! summaries), a primary [`Span`] and optional secondary labels and help notes. Rendering to the
//! rustc-like text form happens only at the edge, in [`render`].

use crate::source::{Sources, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! kinds {
    ($($variant:ident => $name:literal, $severity:ident;)*) => {
        /// The class of a diagnostic. Its name is stable and appears in the rendered text as
        /// `error[name]`, so users can search for it and tests can count it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($variant,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            /// The severity a diagnostic of this kind has.
            pub fn severity(self) -> Severity {
                match self { $(Kind::$variant => Severity::$severity,)* }
            }
        }
    };
}

kinds! {
    Io => "io", Error;
    Syntax => "syntax", Error;
    TooDeep => "too-deep", Error;
    WrongType => "wrong-type", Error;
    MissingField => "missing-field", Error;
    ConflictingFields => "conflicting-fields", Error;
    UnknownStateType => "unknown-state-type", Error;
    UnknownConditionType => "unknown-condition-type", Error;
    UnknownDistribution => "unknown-distribution", Error;
    UnknownUnit => "unknown-unit", Error;
    UnknownOperator => "unknown-operator", Error;
    UnknownVitalSign => "unknown-vital-sign", Error;
    UnknownValue => "unknown-value", Error;
    ValueOutOfRange => "value-out-of-range", Error;
    UndefinedState => "undefined-state", Error;
    MissingInitial => "missing-initial", Error;
    MissingTransition => "missing-transition", Error;
    MultipleTransitions => "multiple-transitions", Error;
    WeightOutOfRange => "weight-out-of-range", Error;
    WeightsAboveOne => "weights-above-one", Error;
    MissingSubmodule => "missing-submodule", Error;
    MissingLookupTable => "missing-lookup-table", Error;
    LookupTableMismatch => "lookup-table-mismatch", Error;
    BadLookupTable => "bad-lookup-table", Error;
    WrongStateKind => "wrong-state-kind", Error;
    UnsupportedVersion => "unsupported-version", Error;
    DuplicateModule => "duplicate-module", Error;
    UnknownKey => "unknown-key", Warning;
    DuplicateKey => "duplicate-key", Warning;
    WeightsBelowOne => "weights-below-one", Warning;
    UnreachableState => "unreachable-state", Warning;
    ZeroTimeCycle => "zero-time-cycle", Warning;
    UnresolvedReason => "unresolved-reason", Error;
    UnusedValue => "unused-value", Warning;
    NoTerminal => "no-terminal", Warning;
}

/// One problem found in the input.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub kind: Kind,
    /// Usually `kind.severity()`; lowered to a warning for problems Synthea's engine
    /// tolerates when they occur in a module written in its JSON dialect.
    pub severity: Severity,
    pub message: String,
    /// Where the problem is; `None` only for problems without a location (an unreadable path).
    pub span: Option<Span>,
    /// Text shown under the primary caret.
    pub label: String,
    pub secondary: Vec<(Span, String)>,
    /// `help:` lines: how to fix it.
    pub help: Vec<String>,
    /// `note:` lines: background the author may need.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(kind: Kind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            kind,
            severity: kind.severity(),
            message: message.into(),
            span: Some(span),
            label: String::new(),
            secondary: Vec::new(),
            help: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A diagnostic that points at no source text (for example a file that cannot be read).
    pub fn unlocated(kind: Kind, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            kind,
            severity: kind.severity(),
            message: message.into(),
            span: None,
            label: String::new(),
            secondary: Vec::new(),
            help: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// In Synthea's JSON dialect, a problem Synthea's engine tolerates is only a warning.
    pub fn lenient(mut self, dialect: crate::ast::Dialect) -> Diagnostic {
        if dialect == crate::ast::Dialect::Synthea && self.severity == Severity::Error {
            self.severity = Severity::Warning;
            self.notes.push("Synthea's engine tolerates this in JSON modules; in YAML modules it is an error".into());
        }
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help.push(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Adds a "did you mean" help if one of `candidates` is close to `got`.
    pub fn suggest<'a>(self, got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Diagnostic {
        match did_you_mean(got, candidates) {
            Some(best) => self.help(format!("did you mean `{best}`?")),
            None => self,
        }
    }
}

/// The candidate closest to `got`, if it is close enough to be a likely typo: at most one
/// edit (insertion, deletion, substitution or transposition) per six characters, ignoring case.
pub fn did_you_mean<'a>(got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let got_lower = got.to_lowercase();
    let allowed = (got.chars().count() / 6).max(1);
    let sorted = |s: &str| {
        let mut chars: Vec<char> = s.chars().collect();
        chars.sort_unstable();
        chars
    };
    let got_sorted = sorted(&got_lower);
    // Ties go to the candidate of the same length, then to one with the same letters.
    let mut best: Option<((usize, usize, bool), &str)> = None;
    for candidate in candidates {
        if candidate == got {
            continue;
        }
        let lower = candidate.to_lowercase();
        let distance = strsim::damerau_levenshtein(&got_lower, &lower);
        let key = (distance, got_lower.len().abs_diff(lower.len()), sorted(&lower) != got_sorted);
        if distance <= allowed && best.is_none_or(|(k, _)| key < k) {
            best = Some((key, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The diagnostics of one run, in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.list.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.list.extend(other.list);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn errors(&self) -> usize {
        self.list.iter().filter(|d| d.severity() == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.list.iter().filter(|d| d.severity() == Severity::Warning).count()
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity() == Severity::Error)
    }

    /// Sorts by file and position, so output does not depend on the order checks ran in.
    pub fn sort(&mut self) {
        self.list.sort_by_key(|d| (d.span.map(|s| (s.file, s.start)), d.severity(), d.kind));
    }

    /// Counts per severity and kind, errors first, then in kind order.
    pub fn counts(&self) -> Vec<(Severity, Kind, usize)> {
        let mut out = Vec::new();
        for severity in [Severity::Error, Severity::Warning] {
            for &k in Kind::ALL {
                let n = self.list.iter().filter(|d| d.kind == k && d.severity == severity).count();
                if n > 0 {
                    out.push((severity, k, n));
                }
            }
        }
        out
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }
}

/// How to render diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// rustc-like, with source snippets and carets.
    Rich,
    /// One line per diagnostic: `file:line:col: severity[kind]: message`.
    Short,
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<crate::source::FileId> {
    let base = match d.severity() {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let mut labels = Vec::new();
    if let Some(span) = d.span {
        labels.push(cs::Label::primary(span.file, span.range()).with_message(&d.label));
    }
    for (span, label) in &d.secondary {
        labels.push(cs::Label::secondary(span.file, span.range()).with_message(label));
    }
    let notes =
        d.help.iter().map(|h| format!("help: {h}")).chain(d.notes.iter().map(|n| format!("note: {n}"))).collect();
    base.with_code(d.kind.name()).with_message(&d.message).with_labels(labels).with_notes(notes)
}

/// Renders one diagnostic as plain text (no colour).
pub fn render(sources: &Sources, d: &Diagnostic, style: Style) -> String {
    match style {
        Style::Short => {
            let severity = match d.severity() {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut out = String::new();
            if let Some(span) = d.span {
                let lc = sources.line_col(span);
                let _ = write!(out, "{}:{}:{}: ", sources.name(span.file), lc.line, lc.column);
            }
            let _ = writeln!(out, "{severity}[{}]: {}", d.kind.name(), d.message);
            out
        }
        Style::Rich => {
            let config = term::Config::default();
            term::emit_into_string(&config, sources, &to_codespan(d))
                .unwrap_or_else(|_| render(sources, d, Style::Short))
        }
    }
}

/// Writes diagnostics to standard error, in colour when it is a terminal.
pub fn emit_to_stderr(sources: &Sources, diagnostics: &Diagnostics, style: Style, color: bool) {
    use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
    use std::io::Write as _;
    if style == Style::Short || !color {
        let stderr = std::io::stderr();
        let mut lock = stderr.lock();
        for d in diagnostics.iter() {
            let _ = lock.write_all(render(sources, d, style).as_bytes());
        }
        return;
    }
    let stream = StandardStream::stderr(ColorChoice::Auto);
    let mut lock = stream.lock();
    let config = term::Config::default();
    for d in diagnostics.iter() {
        let _ = term::emit_to_write_style(&mut lock, &config, sources, &to_codespan(d));
    }
}
