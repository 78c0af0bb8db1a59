//! Reading the GMF model out of a positioned document tree.
//!
//! `parse` turns a [`Node`] tree (from YAML or JSON) into an [`ast::Module`]. It checks
//! shapes and vocabularies — types of values, required fields, known state and condition
//! types, units, operators, distribution kinds — and reports each problem with the span of the
//! offending node, then goes on, so one run reports everything. Keys it does not know are
//! warnings (Synthea ignores them silently; we tell the author). Names of other states are
//! kept as [`StateRef`]s: resolving them is `validate`'s and `compile`'s job.

use crate::ast::*;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::source::Span;
use crate::syntax::{Entry, Node, Value};
use std::collections::HashMap;

/// The transition fields a state may carry (exactly one, except on Terminal).
pub const TRANSITION_KEYS: &[&str] = &[
    "direct_transition",
    "distributed_transition",
    "conditional_transition",
    "complex_transition",
    "lookup_table_transition",
    "type_of_care_transition",
];

/// Highest `gmf_version` understood.
pub const MAX_GMF_VERSION: f64 = 2.0;

/// Reads one module. `path` is its library-relative path without extension. Returns `None`
/// only when the document is not a module at all (not a mapping, no `states`).
pub fn parse_module(root: &Node, path: &str, dialect: Dialect, diags: &mut Diagnostics) -> Option<Module> {
    let mut cx = Cx { diags, dialect };
    let mut f = cx.fields(root, "module")?;
    let name_node = f.take("name");
    let name = match name_node {
        Some(n) => cx.str_value(n, "module `name`").unwrap_or_default(),
        None => {
            cx.push(
                Diagnostic::new(Kind::MissingField, start_of(root.span), "module has no `name`")
                    .label("a module needs a name")
                    .help("add `name: <Module Name>` at the top level"),
            );
            String::new()
        }
    };
    let name_span = name_node.map_or(start_of(root.span), |n| n.span);
    let description = cx.opt_string(&mut f, "description");
    let remarks = cx.remarks(&mut f);
    let sources = match f.take("sources") {
        Some(n) => cx.list(n, "`sources`", |cx, item| cx.str_value(item, "a source citation")),
        None => Vec::new(),
    };
    let tunable = match f.take("tunable") {
        Some(n) => cx.list(n, "`tunable`", |cx, item| cx.tunable(item)),
        None => Vec::new(),
    };
    let gmf_version = match f.take("gmf_version") {
        Some(n) => {
            let v = cx.num_value(n, "`gmf_version`").unwrap_or(1.0);
            if v > MAX_GMF_VERSION {
                cx.push(
                    Diagnostic::new(Kind::UnsupportedVersion, n.span, format!("`gmf_version` {v} is not supported"))
                        .label("newer than this ehrsim understands")
                        .help(format!("ehrsim reads GMF versions up to {MAX_GMF_VERSION}")),
                );
            }
            v
        }
        None => 1.0,
    };
    let specialty = cx.opt_string(&mut f, "specialty");
    let states = match f.take("states") {
        Some(node) => cx.states(node),
        None => {
            cx.push(
                Diagnostic::new(Kind::MissingField, start_of(root.span), "module has no `states`")
                    .label("a module needs states")
                    .help("add a `states` mapping with at least an `Initial` and a `Terminal` state"),
            );
            Vec::new()
        }
    };
    f.finish(&mut cx);
    Some(Module {
        path: path.to_owned(),
        file: root.span.file,
        dialect,
        name,
        name_span,
        description,
        remarks,
        sources,
        tunable,
        gmf_version,
        specialty,
        states,
        span: root.span,
    })
}

fn start_of(span: Span) -> Span {
    Span { end: span.start, ..span }
}

/// A mapping being read: remembers which keys were asked for, so the rest can be reported.
struct Fields<'n> {
    entries: &'n [Entry],
    used: Vec<bool>,
    asked: Vec<&'static str>,
    span: Span,
    what: String,
}

impl<'n> Fields<'n> {
    fn take(&mut self, key: &'static str) -> Option<&'n Node> {
        self.asked.push(key);
        let mut found = None;
        for (i, e) in self.entries.iter().enumerate() {
            if e.key == key {
                self.used[i] = true;
                found = Some(&e.value);
            }
        }
        found
    }

    /// The key's span, for labels that point at a field name.
    fn key_span(&self, key: &str) -> Option<Span> {
        self.entries.iter().rev().find(|e| e.key == key).map(|e| e.key_span)
    }

    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    /// The `quantity` of an `exact` that is text or a boolean rather than a number.
    fn get_exact_text(&self) -> Option<String> {
        let exact = self.entries.iter().rev().find(|e| e.key == "exact")?;
        match &exact.value.get("quantity")?.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Marks keys as read without using them (documentation fields).
    fn ignore(&mut self, key: &'static str) {
        let _ = self.take(key);
    }

    fn finish(self, cx: &mut Cx) {
        for (i, e) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let d = Diagnostic::new(Kind::UnknownKey, e.key_span, format!("unknown key `{}` in {}", e.key, self.what))
                .label("ignored")
                .suggest(&e.key, self.asked.iter().copied().filter(|k| !self.has(k)));
            cx.push(d);
        }
    }
}

struct Cx<'d> {
    diags: &'d mut Diagnostics,
    dialect: Dialect,
}

/// Describes the JSON/YAML type expected, for wrong-type messages.
fn wrong_type(node: &Node, expected: &str, what: &str) -> Diagnostic {
    Diagnostic::new(Kind::WrongType, node.span, format!("{what} must be {expected}, found {}", node.type_name()))
        .label(format!("expected {expected}"))
}

impl Cx<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn fields<'n>(&mut self, node: &'n Node, what: impl Into<String>) -> Option<Fields<'n>> {
        let what = what.into();
        let Value::Map(entries) = &node.value else {
            self.push(wrong_type(node, "a mapping", &what));
            return None;
        };
        if entries.len() > 1 {
            let mut seen: HashMap<&str, Span> = HashMap::with_capacity(entries.len());
            for e in entries {
                if let Some(first) = seen.insert(&e.key, e.key_span) {
                    self.push(
                        Diagnostic::new(Kind::DuplicateKey, e.key_span, format!("duplicate key `{}` in {what}", e.key))
                            .label("this value wins")
                            .secondary(first, "first given here")
                            .help("remove one of the two"),
                    );
                }
            }
        }
        Some(Fields { entries, used: vec![false; entries.len()], asked: Vec::new(), span: node.span, what })
    }

    fn missing(&mut self, f: &Fields, key: &str, help: &str) {
        let d = Diagnostic::new(Kind::MissingField, f.span, format!("{} has no `{key}`", f.what))
            .label(format!("`{key}` is required here"));
        self.push(if help.is_empty() { d } else { d.help(help) });
    }

    // ---- scalars -------------------------------------------------------------------------

    fn str_value(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.push(wrong_type(node, "a string", what));
                None
            }
        }
    }

    fn num_value(&mut self, node: &Node, what: &str) -> Option<f64> {
        match node.as_f64() {
            Some(v) if v.is_finite() => Some(v),
            Some(_) => {
                self.push(
                    Diagnostic::new(Kind::ValueOutOfRange, node.span, format!("{what} must be a finite number"))
                        .label("too large or not a number"),
                );
                None
            }
            None => {
                self.push(wrong_type(node, "a number", what));
                None
            }
        }
    }

    fn bool_value(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.push(wrong_type(node, "`true` or `false`", what));
                None
            }
        }
    }

    fn uint_value(&mut self, node: &Node, what: &str) -> Option<u32> {
        let v = self.num_value(node, what)?;
        if v < 0.0 || v.fract() != 0.0 || v > f64::from(u32::MAX) {
            self.push(
                Diagnostic::new(Kind::ValueOutOfRange, node.span, format!("{what} must be a whole number ≥ 0"))
                    .label("not a count"),
            );
            return None;
        }
        Some(v as u32)
    }

    fn opt_string(&mut self, f: &mut Fields, key: &'static str) -> Option<String> {
        let node = f.take(key)?;
        let what = format!("`{key}`");
        self.str_value(node, &what)
    }

    fn req_string(&mut self, f: &mut Fields, key: &'static str, help: &str) -> Option<String> {
        if !f.has(key) {
            self.missing(f, key, help);
            return None;
        }
        self.opt_string(f, key)
    }

    fn opt_number(&mut self, f: &mut Fields, key: &'static str) -> Option<f64> {
        let node = f.take(key)?;
        self.num_value(node, &format!("`{key}`"))
    }

    fn req_number(&mut self, f: &mut Fields, key: &'static str) -> Option<f64> {
        if !f.has(key) {
            self.missing(f, key, "");
            return None;
        }
        self.opt_number(f, key)
    }

    fn opt_bool(&mut self, f: &mut Fields, key: &'static str) -> Option<bool> {
        let node = f.take(key)?;
        self.bool_value(node, &format!("`{key}`"))
    }

    fn opt_uint(&mut self, f: &mut Fields, key: &'static str) -> Option<u32> {
        let node = f.take(key)?;
        self.uint_value(node, &format!("`{key}`"))
    }

    fn param(&mut self, node: &Node, what: &str) -> Option<Param> {
        if let Value::Map(_) = node.value {
            // ehrsim extension: `{value: 0.3, tunable: {min: 0.1, max: 0.5}}`
            let mut f = self.fields(node, what.to_owned())?;
            let value = self.req_number(&mut f, "value");
            let tunable = match f.take("tunable") {
                Some(t) => {
                    let mut tf = self.fields(t, "`tunable` bounds")?;
                    let min = self.req_number(&mut tf, "min");
                    let max = self.req_number(&mut tf, "max");
                    tf.finish(self);
                    match (min, max) {
                        (Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
                        (Some(_), Some(_)) => {
                            self.push(
                                Diagnostic::new(Kind::ValueOutOfRange, t.span, "`tunable.min` is above `tunable.max`")
                                    .label("empty range"),
                            );
                            None
                        }
                        _ => None,
                    }
                }
                None => None,
            };
            f.finish(self);
            return Some(Param { value: value?, span: node.span, tunable });
        }
        let value = self.num_value(node, what)?;
        Some(Param { value, span: node.span, tunable: None })
    }

    fn req_param(&mut self, f: &mut Fields, key: &'static str) -> Option<Param> {
        match f.take(key) {
            Some(n) => self.param(n, &format!("`{key}`")),
            None => {
                self.missing(f, key, "");
                None
            }
        }
    }

    fn list<T>(&mut self, node: &Node, what: &str, mut item: impl FnMut(&mut Self, &Node) -> Option<T>) -> Vec<T> {
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(|n| item(self, n)).collect(),
            _ => {
                self.push(wrong_type(node, "a list", what));
                Vec::new()
            }
        }
    }

    fn remarks(&mut self, f: &mut Fields) -> Vec<String> {
        match f.take("remarks") {
            // Remarks are documentation: strings or a list of strings, anything else is ignored.
            Some(Node { value: Value::Str(s), .. }) => vec![s.clone()],
            Some(Node { value: Value::Seq(items), .. }) => {
                items.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        }
    }

    fn vocab<T>(
        &mut self,
        node: &Node,
        what: &str,
        kind: Kind,
        names: &[&'static str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let text = self.str_value(node, what)?;
        match parse(&text) {
            Some(v) => Some(v),
            None => {
                let listed = if names.len() <= 10 {
                    format!("expected one of {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
                } else {
                    format!("see the {} known values in the GMF reference", names.len())
                };
                self.push(
                    Diagnostic::new(kind, node.span, format!("unknown {what} `{text}`"))
                        .label(format!("not a known {what}"))
                        .suggest(&text, names.iter().copied())
                        .note(listed),
                );
                None
            }
        }
    }

    fn time_unit(&mut self, node: &Node) -> Option<TimeUnit> {
        self.vocab(node, "time unit", Kind::UnknownUnit, TimeUnit::NAMES, TimeUnit::parse)
    }

    fn operator(&mut self, f: &mut Fields) -> Option<Operator> {
        match f.take("operator") {
            Some(n) => self.vocab(n, "operator", Kind::UnknownOperator, Operator::NAMES, Operator::parse),
            None => {
                self.missing(f, "operator", "use one of `<`, `<=`, `==`, `>=`, `>`, `!=`, `is nil`, `is not nil`");
                None
            }
        }
    }

    fn vital_sign(&mut self, node: &Node) -> Option<VitalSign> {
        self.vocab(node, "vital sign", Kind::UnknownVitalSign, VitalSign::NAMES, VitalSign::parse)
    }

    fn literal(&mut self, node: &Node) -> Literal {
        match &node.value {
            Value::Null => Literal::Null,
            Value::Bool(b) => Literal::Bool(*b),
            Value::Int(i) => Literal::Number(*i as f64),
            Value::Float(x) => Literal::Number(*x),
            Value::Str(s) => Literal::Str(s.clone()),
            Value::Seq(_) | Value::Map(_) => {
                self.push(wrong_type(node, "a string, number or boolean", "`value`"));
                Literal::Null
            }
        }
    }

    fn state_ref(&mut self, node: &Node, what: &str) -> Option<StateRef> {
        let name = self.str_value(node, what)?;
        Some(StateRef { name, span: node.span })
    }

    fn opt_state_ref(&mut self, f: &mut Fields, key: &'static str) -> Option<StateRef> {
        let node = f.take(key)?;
        match &node.value {
            // An empty reference means "none", as Synthea treats it.
            Value::Str(s) if s.is_empty() => None,
            Value::Null => None,
            _ => self.state_ref(node, &format!("`{key}`")),
        }
    }

    fn opt_attribute_name(&mut self, f: &mut Fields, key: &'static str) -> Option<String> {
        self.opt_string(f, key).filter(|s| !s.is_empty())
    }

    // ---- codes ---------------------------------------------------------------------------

    fn tunable(&mut self, node: &Node) -> Option<crate::ast::Tunable> {
        let mut f = self.fields(node, "tunable parameter")?;
        let state_node = f.take("state");
        let state = match state_node {
            Some(n) => self.str_value(n, "`state`"),
            None => {
                self.missing(&f, "state", "name the state whose distributed transition is tunable");
                None
            }
        };
        let branch = self.opt_number(&mut f, "branch").map(|b| b.max(0.0) as usize);
        let options = f.take("options").map(|n| {
            self.list(n, "`options`", |cx, i| cx.num_value(i, "an option index").map(|x| x.max(0.0) as usize))
        });
        let min = self.opt_number(&mut f, "min").unwrap_or(0.25);
        let max = self.opt_number(&mut f, "max").unwrap_or(4.0);
        if !(min > 0.0 && min <= 1.0 && max >= 1.0) {
            self.push(
                Diagnostic::new(
                    Kind::ValueOutOfRange,
                    node.span,
                    format!("tunable bounds [{min}, {max}] must include 1"),
                )
                .label("a factor range")
                .help("`min` is a factor in (0, 1] and `max` a factor of at least 1"),
            );
        }
        let id = self.opt_string(&mut f, "id");
        f.ignore("note");
        f.finish(self);
        let state = state?;
        let id = id.unwrap_or_else(|| match branch {
            Some(b) => format!("{state}[{b}]"),
            None => state.clone(),
        });
        Some(crate::ast::Tunable {
            id,
            state,
            state_span: state_node.map_or(node.span, |n| n.span),
            branch,
            options,
            min,
            max,
        })
    }

    fn code(&mut self, node: &Node) -> Option<Code> {
        let mut f = self.fields(node, "code")?;
        let system = self.req_string(&mut f, "system", "for example `SNOMED-CT`, `LOINC`, `RxNorm`");
        let code = match f.take("code") {
            Some(n) => match &n.value {
                Value::Str(s) => Some(s.clone()),
                Value::Int(i) => Some(i.to_string()),
                _ => {
                    self.push(wrong_type(n, "a string or number", "`code`"));
                    None
                }
            },
            None => {
                self.missing(&f, "code", "");
                None
            }
        };
        let display = self.req_string(&mut f, "display", "add the code's display text");
        f.ignore("version");
        f.ignore("value_set");
        f.finish(self);
        Some(Code { system: system?, code: code?, display: display? })
    }

    fn codes(&mut self, node: &Node) -> Vec<Code> {
        self.list(node, "`codes`", |cx, n| cx.code(n))
    }

    fn req_codes(&mut self, f: &mut Fields, key: &'static str) -> Vec<Code> {
        match f.take(key) {
            Some(n) => {
                let codes = self.codes(n);
                if codes.is_empty() && n.as_seq().is_some_and(<[Node]>::is_empty) {
                    self.push(
                        Diagnostic::new(Kind::MissingField, n.span, format!("`{key}` is empty"))
                            .label("at least one code is needed"),
                    );
                }
                codes
            }
            None => {
                self.missing(f, key, "add a list of codes: `- {system: SNOMED-CT, code: \"…\", display: \"…\"}`");
                Vec::new()
            }
        }
    }

    fn req_code(&mut self, f: &mut Fields, key: &'static str) -> Option<Code> {
        match f.take(key) {
            Some(n) => self.code(n),
            None => {
                self.missing(f, key, "");
                None
            }
        }
    }

    // ---- numbers that vary -----------------------------------------------------------------

    fn distribution(&mut self, node: &Node) -> Option<Distribution> {
        let mut f = self.fields(node, "`distribution`")?;
        let kind = match f.take("kind") {
            Some(n) => self.vocab(
                n,
                "distribution kind",
                Kind::UnknownDistribution,
                DistributionKind::NAMES,
                DistributionKind::parse,
            ),
            None => {
                self.missing(&f, "kind", "one of `EXACT`, `UNIFORM`, `GAUSSIAN`, `EXPONENTIAL`, `TRIANGULAR`");
                None
            }
        };
        let round = self.opt_bool(&mut f, "round").unwrap_or(false);
        let params_node = f.take("parameters");
        f.finish(self);
        let kind = kind?;
        let Some(params_node) = params_node else {
            self.push(
                Diagnostic::new(Kind::MissingField, node.span, "`distribution` has no `parameters`")
                    .label("parameters are required"),
            );
            return None;
        };
        let mut p = self.fields(params_node, format!("`{}` parameters", kind.as_str()))?;
        let params = match kind {
            DistributionKind::Exact => DistributionParams::Exact { value: self.req_param(&mut p, "value")? },
            DistributionKind::Uniform => {
                let low = self.req_param(&mut p, "low");
                let high = self.req_param(&mut p, "high");
                DistributionParams::Uniform { low: low?, high: high? }
            }
            DistributionKind::Gaussian => {
                let mean = self.req_param(&mut p, "mean");
                let sd = self.req_param(&mut p, "standardDeviation");
                let min = self.opt_number(&mut p, "min");
                let max = self.opt_number(&mut p, "max");
                DistributionParams::Gaussian { mean: mean?, sd: sd?, min, max }
            }
            DistributionKind::Exponential => DistributionParams::Exponential { mean: self.req_param(&mut p, "mean")? },
            DistributionKind::Triangular => {
                let min = self.req_param(&mut p, "min");
                let mode = self.req_param(&mut p, "mode");
                let max = self.req_param(&mut p, "max");
                DistributionParams::Triangular { min: min?, mode: mode?, max: max? }
            }
        };
        p.finish(self);
        self.check_distribution(&params, params_node.span);
        Some(Distribution { params, round, span: node.span })
    }

    fn check_distribution(&mut self, params: &DistributionParams, span: Span) {
        let bad = match params {
            DistributionParams::Uniform { low, high } if low.value > high.value => Some("`low` is above `high`"),
            DistributionParams::Gaussian { sd, .. } if sd.value < 0.0 => Some("`standardDeviation` is negative"),
            DistributionParams::Exponential { mean } if mean.value <= 0.0 => Some("`mean` must be positive"),
            DistributionParams::Triangular { min, mode, max }
                if !(min.value <= mode.value && mode.value <= max.value) =>
            {
                Some("`min` ≤ `mode` ≤ `max` does not hold")
            }
            _ => None,
        };
        if let Some(msg) = bad {
            let d = Diagnostic::new(Kind::ValueOutOfRange, span, format!("invalid distribution: {msg}")).label("here");
            self.push(d.lenient(self.dialect));
        }
    }

    /// `{low, high}` with `low ≤ high` (and an optional `decimals`).
    fn low_high(&mut self, f: &mut Fields) -> Option<(f64, f64)> {
        let low = self.req_number(f, "low");
        let high = self.req_number(f, "high");
        let (low, high) = (low?, high?);
        if low > high {
            let d = Diagnostic::new(Kind::ValueOutOfRange, f.span, "`low` is above `high`")
                .label("inverted range")
                .help("swap the two values");
            self.push(d.lenient(self.dialect));
        }
        Some((low, high))
    }

    /// Reads a GMF 1 `exact`/`range` or GMF 2 `distribution` amount from a state or child.
    /// With `time`, a unit is read too: inside `exact`/`range`, beside `distribution`.
    /// Reads a GMF 1 `exact`/`range` or GMF 2 `distribution` amount from a state or child.
    /// With `time`, a unit is read too: inside `exact`/`range`, beside `distribution`.
    /// `None`: no amount is given; `Some(None)`: one is given but invalid (already reported).
    #[allow(clippy::option_option)]
    fn amount(&mut self, f: &mut Fields, time: bool) -> Option<Option<(Amount, Option<TimeUnit>, Span)>> {
        if let Some(node) = f.take("exact") {
            let Some(mut e) = self.fields(node, "`exact`") else { return Some(None) };
            let q = self.req_number(&mut e, "quantity");
            let unit = if time { self.req_time_unit(&mut e) } else { None };
            e.finish(self);
            let ok = q.is_some() && (!time || unit.is_some());
            return Some(q.filter(|_| ok).map(|q| (Amount::Exact(q), unit, node.span)));
        }
        if let Some(node) = f.take("range") {
            let Some(mut r) = self.fields(node, "`range`") else { return Some(None) };
            let lh = self.low_high(&mut r);
            let decimals = self.opt_uint(&mut r, "decimals");
            let unit = if time { self.req_time_unit(&mut r) } else { None };
            r.finish(self);
            let ok = !time || unit.is_some();
            return Some(lh.filter(|_| ok).map(|(low, high)| (Amount::Range { low, high, decimals }, unit, node.span)));
        }
        if let Some(node) = f.take("distribution") {
            let d = self.distribution(node);
            let unit = if time {
                match f.take("unit") {
                    Some(u) => self.time_unit(u),
                    None => {
                        self.missing(f, "unit", "a `distribution` of time needs a `unit` beside it, e.g. `unit: days`");
                        None
                    }
                }
            } else {
                None
            };
            let ok = !time || unit.is_some();
            return Some(d.filter(|_| ok).map(|d| (Amount::Distribution(d), unit, node.span)));
        }
        None
    }

    fn req_time_unit(&mut self, f: &mut Fields) -> Option<TimeUnit> {
        match f.take("unit") {
            Some(u) => self.time_unit(u),
            None => {
                self.missing(f, "unit", "for example `unit: days`");
                None
            }
        }
    }

    fn duration(&mut self, f: &mut Fields, help: &str) -> Option<Duration> {
        match self.amount(f, true) {
            Some(Some((amount, Some(unit), span))) => Some(Duration { amount, unit, span }),
            Some(_) => None,
            None => {
                self.push(
                    Diagnostic::new(Kind::MissingField, f.span, format!("{} has no duration", f.what))
                        .label("expected `exact`, `range` or `distribution`")
                        .help(help.to_owned()),
                );
                None
            }
        }
    }

    // ---- states ----------------------------------------------------------------------------

    fn states(&mut self, node: &Node) -> Vec<State> {
        let Value::Map(entries) = &node.value else {
            self.push(wrong_type(node, "a mapping of state names to states", "`states`"));
            return Vec::new();
        };
        // Duplicate state names are an error: the first definition would silently vanish.
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(entries.len());
        let mut states = Vec::with_capacity(entries.len());
        for e in entries {
            if let Some(first) = seen.insert(&e.key, e.key_span) {
                self.push(
                    Diagnostic::new(Kind::ConflictingFields, e.key_span, format!("state `{}` is defined twice", e.key))
                        .label("second definition")
                        .secondary(first, "first defined here")
                        .help("rename one of the states"),
                );
                continue;
            }
            if let Some(s) = self.state(&e.key, e.key_span, &e.value) {
                states.push(s);
            }
        }
        states
    }

    fn state(&mut self, name: &str, name_span: Span, node: &Node) -> Option<State> {
        let mut f = self.fields(node, format!("state `{name}`"))?;
        let Some(type_node) = f.take("type") else {
            self.push(
                Diagnostic::new(Kind::MissingField, name_span, format!("state `{name}` has no `type`"))
                    .label("the state type is missing")
                    .help("add `type: Simple` (or another state type)"),
            );
            return None;
        };
        let type_name = self.str_value(type_node, "state `type`")?;
        f.ignore("remarks");
        let known = STATE_TYPES.contains(&type_name.as_str());
        if !known {
            self.push(
                Diagnostic::new(Kind::UnknownStateType, type_node.span, format!("unknown state type `{type_name}`"))
                    .label("not a state type")
                    .suggest(&type_name, STATE_TYPES.iter().copied())
                    .note(format!("state types are {}", STATE_TYPES.join(", "))),
            );
        }
        f.what = format!("`{type_name}` state `{name}`");
        let declared = STATE_TYPES.iter().copied().find(|t| *t == type_name);
        let kind = match declared {
            Some(_) => self.state_kind(&type_name, &mut f).unwrap_or(StateKind::Broken(declared)),
            None => StateKind::Broken(None),
        };
        let transition = self.transition(&mut f, &type_name, name_span);
        // A state with errors stopped reading its fields early: its other keys are not unknown.
        if !matches!(kind, StateKind::Broken(_)) {
            f.finish(self);
        }
        Some(State { name: name.to_owned(), name_span, span: node.span, type_span: type_node.span, kind, transition })
    }

    fn transition(&mut self, f: &mut Fields, type_name: &str, name_span: Span) -> Option<Transition> {
        let present: Vec<&'static str> = TRANSITION_KEYS.iter().copied().filter(|k| f.has(k)).collect();
        if type_name == "Terminal" {
            for key in &present {
                let node = f.take(key)?;
                self.push(
                    Diagnostic::new(
                        Kind::UnusedValue,
                        f.key_span(key).unwrap_or(node.span),
                        "a `Terminal` state has no transition",
                    )
                    .label("ignored: the module ends here")
                    .help("remove the transition, or use a `Simple` state"),
                );
            }
            return None;
        }
        if present.len() > 1 {
            let spans: Vec<Span> = present.iter().filter_map(|k| f.key_span(k)).collect();
            let mut d = Diagnostic::new(
                Kind::MultipleTransitions,
                spans[1],
                format!("{} has {} transitions", f.what, present.len()),
            )
            .label("second transition")
            .secondary(spans[0], "first transition")
            .help("a state has exactly one transition; merge them, e.g. into a `complex_transition`");
            for s in spans.iter().skip(2) {
                d = d.secondary(*s, "another transition");
            }
            self.push(d);
        }
        let Some(key) = present.first() else {
            if f.has("alt_direct_transition") {
                return None; // Physiology: read by its own fields
            }
            self.push(
                Diagnostic::new(Kind::MissingTransition, name_span, format!("{} has no transition", f.what))
                    .label("the module would stop here forever")
                    .help("add `direct_transition: <next state>`, or make it a `Terminal` state"),
            );
            for k in TRANSITION_KEYS {
                f.asked.push(k);
            }
            return None;
        };
        for k in &present[1..] {
            f.ignore(k);
        }
        let node = f.take(key)?;
        match *key {
            "direct_transition" => self.state_ref(node, "`direct_transition`").map(Transition::Direct),
            "distributed_transition" => {
                let options = self.weighted_list(node, "`distributed_transition`");
                (!options.is_empty()).then_some(Transition::Distributed(options))
            }
            "conditional_transition" => {
                let options = self.list(node, "`conditional_transition`", |cx, item| {
                    let mut o = cx.fields(item, "conditional option")?;
                    o.ignore("remarks");
                    let condition = o.take("condition").and_then(|c| cx.logic(c));
                    let to = match o.take("transition") {
                        Some(t) => cx.state_ref(t, "`transition`"),
                        None => {
                            cx.missing(&o, "transition", "");
                            None
                        }
                    };
                    o.finish(cx);
                    Some(Conditional { condition, to: to? })
                });
                (!options.is_empty()).then_some(Transition::Conditional(options))
            }
            "complex_transition" => {
                let options = self.list(node, "`complex_transition`", |cx, item| {
                    let mut o = cx.fields(item, "complex option")?;
                    o.ignore("remarks");
                    let condition = o.take("condition").and_then(|c| cx.logic(c));
                    let then = if let Some(t) = o.take("transition") {
                        if let Some(d) = o.take("distributions")
                            && d.as_seq().is_none_or(|items| !items.is_empty())
                        {
                            cx.push(
                                Diagnostic::new(
                                    Kind::UnusedValue,
                                    d.span,
                                    "`distributions` is ignored when `transition` is given",
                                )
                                .label("never used")
                                .help("keep one of the two"),
                            );
                        }
                        cx.state_ref(t, "`transition`").map(ComplexTarget::Direct)
                    } else if let Some(d) = o.take("distributions") {
                        Some(ComplexTarget::Distributed(cx.weighted_list(d, "`distributions`")))
                    } else {
                        cx.missing(&o, "transition", "give `transition: <state>` or `distributions: [...]`");
                        None
                    };
                    o.finish(cx);
                    Some(ComplexOption { condition, then: then? })
                });
                (!options.is_empty()).then_some(Transition::Complex(options))
            }
            "lookup_table_transition" => self.lookup_transition(node).map(Transition::LookupTable),
            "type_of_care_transition" => {
                let mut o = self.fields(node, "`type_of_care_transition`")?;
                let mut get = |cx: &mut Self, key: &'static str| match o.take(key) {
                    Some(n) => cx.state_ref(n, &format!("`{key}`")),
                    None => {
                        cx.missing(&o, key, "");
                        None
                    }
                };
                let ambulatory = get(self, "ambulatory");
                let emergency = get(self, "emergency");
                let telemedicine = get(self, "telemedicine");
                o.finish(self);
                Some(Transition::TypeOfCare {
                    ambulatory: ambulatory?,
                    emergency: emergency?,
                    telemedicine: telemedicine?,
                })
            }
            _ => None,
        }
    }

    fn weighted_list(&mut self, node: &Node, what: &str) -> Vec<Weighted> {
        self.list(node, what, |cx, item| {
            let mut o = cx.fields(item, "distributed option")?;
            o.ignore("remarks");
            let weight = match o.take("distribution") {
                Some(d) if d.as_map().is_some_and(|m| m.iter().any(|e| e.key == "attribute")) => {
                    let mut nf = cx.fields(d, "named distribution")?;
                    let attribute = cx.req_string(&mut nf, "attribute", "");
                    let default = cx.req_param(&mut nf, "default");
                    nf.finish(cx);
                    Some(Weight::Attribute { attribute: attribute?, default: default? })
                }
                Some(d) => cx.param(d, "`distribution`").map(Weight::Fixed),
                None => {
                    cx.missing(&o, "distribution", "give the option's probability, e.g. `distribution: 0.25`");
                    None
                }
            };
            let to = match o.take("transition") {
                Some(t) => cx.state_ref(t, "`transition`"),
                None => {
                    cx.missing(&o, "transition", "");
                    None
                }
            };
            o.finish(cx);
            Some(Weighted { weight: weight?, to: to?, span: item.span })
        })
    }

    fn lookup_transition(&mut self, node: &Node) -> Option<LookupTransition> {
        let mut table: Option<StateRef> = None;
        let options = self.list(node, "`lookup_table_transition`", |cx, item| {
            let mut o = cx.fields(item, "lookup-table option")?;
            let to = match o.take("transition") {
                Some(t) => cx.state_ref(t, "`transition`"),
                None => {
                    cx.missing(&o, "transition", "");
                    None
                }
            };
            let default_probability = cx.req_param(&mut o, "default_probability");
            let name = match o.take("lookup_table_name") {
                Some(n) => cx.state_ref(n, "`lookup_table_name`"),
                None => {
                    cx.missing(&o, "lookup_table_name", "name the CSV file in `lookup_tables/`");
                    None
                }
            };
            if table.is_none() {
                table = name;
            }
            o.finish(cx);
            Some(LookupOption { to: to?, default_probability: default_probability? })
        });
        Some(LookupTransition { table: table?, options })
    }

    fn state_kind(&mut self, type_name: &str, f: &mut Fields) -> Option<StateKind> {
        Some(match type_name {
            "Initial" => StateKind::Initial,
            "Terminal" => StateKind::Terminal,
            "Simple" => StateKind::Simple,
            "Guard" => match f.take("allow") {
                Some(n) => StateKind::Guard { allow: self.logic(n)? },
                None => {
                    self.missing(f, "allow", "a Guard waits until its `allow` condition holds");
                    return None;
                }
            },
            "Delay" => {
                StateKind::Delay { duration: self.duration(f, "for example `exact: {quantity: 3, unit: days}`")? }
            }
            "SetAttribute" => self.set_attribute(f)?,
            "Counter" => {
                let attribute = self.req_string(f, "attribute", "");
                let action = self.req_string(f, "action", "`increment` or `decrement`");
                let amount = self.opt_number(f, "amount").unwrap_or(1.0);
                if let (Some(a), Some(span)) = (&action, f.key_span("action"))
                    && a != "increment"
                    && a != "decrement"
                {
                    self.push(
                        Diagnostic::new(Kind::UnknownValue, span, format!("unknown counter action `{a}`"))
                            .label("expected `increment` or `decrement`")
                            .suggest(a, ["increment", "decrement"]),
                    );
                }
                StateKind::Counter { attribute: attribute?, increment: action? == "increment", amount }
            }
            "CallSubmodule" => match f.take("submodule") {
                Some(n) => StateKind::CallSubmodule { submodule: self.state_ref(n, "`submodule`")? },
                None => {
                    self.missing(f, "submodule", "the submodule's path, e.g. `medications/statin`");
                    return None;
                }
            },
            "Encounter" => {
                let wellness = self.opt_bool(f, "wellness").unwrap_or(false);
                let class = match f.take("encounter_class") {
                    Some(n) => self.vocab(
                        n,
                        "encounter class",
                        Kind::UnknownValue,
                        EncounterClass::NAMES,
                        EncounterClass::parse,
                    ),
                    None if !wellness => {
                        self.missing(f, "encounter_class", "for example `encounter_class: ambulatory`");
                        None
                    }
                    None => None,
                };
                let codes = if wellness {
                    f.take("codes").map(|n| self.codes(n)).unwrap_or_default()
                } else {
                    self.req_codes(f, "codes")
                };
                let reason = self.opt_state_ref(f, "reason");
                let telemedicine = match f.take("telemedicine_possibility") {
                    Some(n) => self
                        .vocab(
                            n,
                            "telemedicine possibility",
                            Kind::UnknownValue,
                            Telemedicine::NAMES,
                            Telemedicine::parse,
                        )
                        .unwrap_or(Telemedicine::None),
                    None => Telemedicine::None,
                };
                StateKind::Encounter { wellness, class, codes, reason, telemedicine }
            }
            "EncounterEnd" => StateKind::EncounterEnd {
                discharge_disposition: f.take("discharge_disposition").and_then(|n| self.code(n)),
            },
            "ConditionOnset" => StateKind::ConditionOnset(self.onset(f)),
            "AllergyOnset" => {
                let onset = self.onset(f);
                let allergy_type = match f.take("allergy_type") {
                    Some(n) => {
                        self.vocab(n, "allergy type", Kind::UnknownValue, AllergyType::NAMES, AllergyType::parse)
                    }
                    None => Some(AllergyType::Allergy),
                };
                let category = self.opt_string(f, "category").unwrap_or_else(|| "medication".to_owned());
                let reactions = match f.take("reactions") {
                    Some(n) => self.list(n, "`reactions`", |cx, r| cx.reaction(r)),
                    None => Vec::new(),
                };
                StateKind::AllergyOnset { onset, allergy_type: allergy_type?, category, reactions }
            }
            "ConditionEnd" => StateKind::ConditionEnd(self.end_target(f, "condition_onset")?),
            "AllergyEnd" => StateKind::AllergyEnd(self.end_target(f, "allergy_onset")?),
            "MedicationEnd" => StateKind::MedicationEnd(self.end_target(f, "medication_order")?),
            "CarePlanEnd" => StateKind::CarePlanEnd(self.end_target(f, "careplan")?),
            "DeviceEnd" => StateKind::DeviceEnd(self.end_target(f, "device")?),
            "MedicationOrder" => {
                let codes = self.req_codes(f, "codes");
                let reason = self.opt_state_ref(f, "reason");
                let prescription = f.take("prescription").and_then(|n| self.prescription(n));
                let administration = self.opt_bool(f, "administration").unwrap_or(false);
                let chronic = self.opt_bool(f, "chronic").unwrap_or(false);
                let assign_to_attribute = self.opt_attribute_name(f, "assign_to_attribute");
                StateKind::MedicationOrder { codes, reason, prescription, administration, chronic, assign_to_attribute }
            }
            "CarePlanStart" => {
                let codes = self.req_codes(f, "codes");
                let activities = f.take("activities").map(|n| self.codes(n)).unwrap_or_default();
                let goals = match f.take("goals") {
                    Some(n) => self.list(n, "`goals`", |cx, g| cx.goal(g)),
                    None => Vec::new(),
                };
                let reason = self.opt_state_ref(f, "reason");
                let assign_to_attribute = self.opt_attribute_name(f, "assign_to_attribute");
                StateKind::CarePlanStart { codes, activities, goals, reason, assign_to_attribute }
            }
            "Procedure" => {
                let codes = self.req_codes(f, "codes");
                let reason = self.opt_state_ref(f, "reason");
                let duration = if let Some(node) = f.take("duration") {
                    let mut d = self.fields(node, "`duration`")?;
                    let lh = self.low_high(&mut d);
                    let unit = self.req_time_unit(&mut d);
                    d.finish(self);
                    let (low, high) = lh?;
                    Some(Duration { amount: Amount::Range { low, high, decimals: None }, unit: unit?, span: node.span })
                } else if f.has("distribution") {
                    self.duration(f, "")
                } else {
                    None
                };
                let assign_to_attribute = self.opt_attribute_name(f, "assign_to_attribute");
                f.ignore("unit");
                StateKind::Procedure { codes, reason, duration, assign_to_attribute }
            }
            "VitalSign" => {
                let vital_sign = match f.take("vital_sign") {
                    Some(n) => self.vital_sign(n),
                    None => {
                        self.missing(f, "vital_sign", "for example `vital_sign: Systolic Blood Pressure`");
                        None
                    }
                };
                let unit = self.opt_string(f, "unit").unwrap_or_default();
                let amount = match self.amount(f, false) {
                    Some(Some((a, _, _))) => a,
                    Some(None) => return None,
                    None => {
                        self.push(
                            Diagnostic::new(Kind::MissingField, f.span, format!("{} has no value", f.what))
                                .label("expected `exact`, `range` or `distribution`"),
                        );
                        return None;
                    }
                };
                StateKind::VitalSign { vital_sign: vital_sign?, unit, amount }
            }
            "Observation" => StateKind::Observation(self.observation_fields(f)),
            "MultiObservation" => {
                let codes = self.req_codes(f, "codes");
                let category = self.opt_string(f, "category");
                let observations = self.child_observations(f);
                StateKind::MultiObservation { codes, category, observations }
            }
            "DiagnosticReport" => {
                let codes = self.req_codes(f, "codes");
                let observations = self.child_observations(f);
                StateKind::DiagnosticReport { codes, observations }
            }
            "ImagingStudy" => {
                let procedure_code = self.req_code(f, "procedure_code");
                let series = match f.take("series") {
                    Some(n) => self.list(n, "`series`", |cx, s| cx.series(s)),
                    None => {
                        self.missing(f, "series", "");
                        Vec::new()
                    }
                };
                let min_series = self.opt_uint(f, "min_number_series");
                let max_series = self.opt_uint(f, "max_number_series");
                StateKind::ImagingStudy { procedure_code: procedure_code?, series, min_series, max_series }
            }
            "Device" => {
                let code = self.req_code(f, "code");
                let manufacturer = self.opt_string(f, "manufacturer");
                let model = self.opt_string(f, "model");
                let assign_to_attribute = self.opt_attribute_name(f, "assign_to_attribute");
                StateKind::Device { code: code?, manufacturer, model, assign_to_attribute }
            }
            "SupplyList" => {
                let supplies = match f.take("supplies") {
                    Some(n) => self.list(n, "`supplies`", |cx, s| {
                        let mut sf = cx.fields(s, "supply")?;
                        let quantity = match sf.take("quantity") {
                            Some(q) => cx.uint_value(q, "`quantity`"),
                            None => Some(1),
                        };
                        let code = cx.req_code(&mut sf, "code");
                        sf.finish(cx);
                        Some((code?, quantity?))
                    }),
                    None => {
                        self.missing(f, "supplies", "");
                        Vec::new()
                    }
                };
                StateKind::SupplyList { supplies }
            }
            "Symptom" => {
                let symptom = self.req_string(f, "symptom", "the symptom's name, e.g. `Cough`");
                let cause = self.opt_string(f, "cause");
                let probability = match f.take("probability") {
                    Some(n) => {
                        let p = self.num_value(n, "`probability`");
                        if let Some(p) = p
                            && !(0.0..=1.0).contains(&p)
                        {
                            self.push(
                                Diagnostic::new(
                                    Kind::ValueOutOfRange,
                                    n.span,
                                    format!("`probability` {p} is outside [0, 1]"),
                                )
                                .label("not a probability"),
                            );
                        }
                        p?
                    }
                    None => 1.0,
                };
                let amount = match self.amount(f, false) {
                    Some(Some((a, _, _))) => a,
                    Some(None) => return None,
                    None => {
                        self.push(
                            Diagnostic::new(Kind::MissingField, f.span, format!("{} has no severity", f.what))
                                .label("expected `exact`, `range` or `distribution`")
                                .help("for example `range: {low: 20, high: 60}`"),
                        );
                        return None;
                    }
                };
                StateKind::Symptom { symptom: symptom?, cause, probability, amount }
            }
            "Death" => {
                let cause = self.opt_target(f, "condition_onset");
                let delay =
                    if f.has("exact") || f.has("range") || f.has("distribution") { self.duration(f, "") } else { None };
                StateKind::Death { cause, delay }
            }
            "Vaccine" => {
                let codes = self.req_codes(f, "codes");
                let series = self.opt_uint(f, "series").unwrap_or(1);
                StateKind::Vaccine { codes, series }
            }
            "Physiology" => {
                for key in ["model", "solver", "step_size", "sim_duration", "lead_time", "inputs", "outputs"] {
                    f.ignore(key);
                }
                match f.take("alt_direct_transition") {
                    Some(n) => {
                        StateKind::Physiology { alt_direct_transition: self.state_ref(n, "`alt_direct_transition`")? }
                    }
                    None => {
                        self.missing(
                            f,
                            "alt_direct_transition",
                            "physiology models are not simulated; the state follows this transition",
                        );
                        return None;
                    }
                }
            }
            _ => return None,
        })
    }

    fn set_attribute(&mut self, f: &mut Fields) -> Option<StateKind> {
        let attribute = self.req_string(f, "attribute", "the attribute to set");
        let sources = ["expression", "range", "series_data", "distribution", "value_code", "value_attribute", "value"];
        let value = if let Some(n) = f.take("expression") {
            self.push(
                Diagnostic::new(Kind::UnknownValue, n.span, "CQL `expression` values are not supported")
                    .label("not evaluated")
                    .help("use `value`, `range` or `distribution`"),
            );
            SetValue::Remove
        } else if let Some(n) = f.take("range") {
            let mut r = self.fields(n, "`range`")?;
            let lh = self.low_high(&mut r);
            let decimals = self.opt_uint(&mut r, "decimals");
            r.finish(self);
            let (low, high) = lh?;
            SetValue::Range { low, high, decimals }
        } else if let Some(n) = f.take("series_data") {
            let text = self.str_value(n, "`series_data`")?;
            let values = text.split_whitespace().filter_map(|v| v.parse::<f64>().ok()).collect();
            let period = self.opt_number(f, "period").unwrap_or(1.0);
            SetValue::Series { values, period }
        } else if let Some(n) = f.take("distribution") {
            SetValue::Distribution(self.distribution(n)?)
        } else if let Some(n) = f.take("value_code") {
            SetValue::Code(self.code(n)?)
        } else if let Some(n) = f.take("value_attribute") {
            SetValue::CopyAttribute(self.str_value(n, "`value_attribute`")?)
        } else if let Some(n) = f.take("value") {
            match self.literal(n) {
                Literal::Null => SetValue::Remove,
                lit => SetValue::Literal(lit),
            }
        } else {
            SetValue::Remove
        };
        self.unused_alternatives(f, &sources);
        Some(StateKind::SetAttribute { attribute: attribute?, value })
    }

    fn onset(&mut self, f: &mut Fields) -> Onset {
        Onset {
            codes: self.req_codes(f, "codes"),
            target_encounter: self.opt_state_ref(f, "target_encounter"),
            assign_to_attribute: self.opt_attribute_name(f, "assign_to_attribute"),
        }
    }

    fn opt_target(&mut self, f: &mut Fields, state_key: &'static str) -> Option<Target> {
        let target = if let Some(r) = self.opt_state_ref(f, state_key) {
            Some(Target::State(r))
        } else if let Some(a) = self.opt_attribute_name(f, "referenced_by_attribute") {
            Some(Target::Attribute(a))
        } else {
            f.take("codes").map(|n| Target::Codes(self.codes(n)))
        };
        if target.is_some() {
            let keys: [&'static str; 3] = [state_key, "referenced_by_attribute", "codes"];
            self.unused_alternatives(f, &keys);
        }
        target
    }

    /// Warns about alternative fields left over once the first present one was used.
    fn unused_alternatives(&mut self, f: &mut Fields, keys: &[&'static str]) {
        let mut chosen: Option<&str> = None;
        for &key in keys {
            let Some(span) = f.key_span(key) else {
                continue;
            };
            match chosen {
                None => chosen = Some(key),
                Some(used) => {
                    f.ignore(key);
                    self.push(
                        Diagnostic::new(
                            Kind::UnusedValue,
                            span,
                            format!("`{key}` is ignored because `{used}` is given"),
                        )
                        .label("never used")
                        .help("keep one of the two"),
                    );
                }
            }
        }
    }

    fn end_target(&mut self, f: &mut Fields, state_key: &'static str) -> Option<Target> {
        let target = self.opt_target(f, state_key);
        if target.is_none() {
            self.push(
                Diagnostic::new(Kind::MissingField, f.span, format!("{} does not say what it ends", f.what))
                    .label(format!("expected `{state_key}`, `referenced_by_attribute` or `codes`")),
            );
        }
        target
    }

    fn reaction(&mut self, node: &Node) -> Option<Reaction> {
        let mut f = self.fields(node, "reaction")?;
        let reaction = self.req_code(&mut f, "reaction");
        let severities = match f.take("possible_severities") {
            Some(n) => self.list(n, "`possible_severities`", |cx, s| {
                let mut sf = cx.fields(s, "severity")?;
                let level = match sf.take("level") {
                    Some(l) => cx.vocab(l, "severity level", Kind::UnknownValue, Severity::NAMES, Severity::parse),
                    None => {
                        cx.missing(&sf, "level", "");
                        None
                    }
                };
                let value = cx.req_number(&mut sf, "value");
                sf.finish(cx);
                Some((level?, value?))
            }),
            None => Vec::new(),
        };
        f.finish(self);
        Some(Reaction { reaction: reaction?, severities })
    }

    fn prescription(&mut self, node: &Node) -> Option<Prescription> {
        let mut f = self.fields(node, "`prescription`")?;
        let as_needed = self.opt_bool(&mut f, "as_needed").unwrap_or(false);
        let refills = self.opt_uint(&mut f, "refills").unwrap_or(0);
        let dosage = match f.take("dosage") {
            Some(n) => {
                let mut d = self.fields(n, "`dosage`")?;
                let amount = self.req_number(&mut d, "amount");
                let frequency = self.req_number(&mut d, "frequency");
                let period = self.req_number(&mut d, "period");
                let unit = self.req_time_unit(&mut d);
                d.finish(self);
                Some(Dosage { amount: amount?, frequency: frequency?, period: period?, unit: unit? })
            }
            None => None,
        };
        let duration = match f.take("duration") {
            Some(n) => {
                let mut d = self.fields(n, "prescription `duration`")?;
                let q = self.req_number(&mut d, "quantity");
                let unit = self.req_time_unit(&mut d);
                d.finish(self);
                Some((q?, unit?))
            }
            None => None,
        };
        let instructions = f.take("instructions").map(|n| self.codes(n)).unwrap_or_default();
        f.finish(self);
        Some(Prescription { as_needed, refills, dosage, duration, instructions })
    }

    fn goal(&mut self, node: &Node) -> Option<Goal> {
        let mut f = self.fields(node, "goal")?;
        let addresses = match f.take("addresses") {
            Some(n) => self.list(n, "`addresses`", |cx, a| cx.str_value(a, "an addressed condition")),
            None => Vec::new(),
        };
        let text = self.opt_string(&mut f, "text");
        let observation = match f.take("observation") {
            Some(n) => {
                let mut o = self.fields(n, "goal `observation`")?;
                let codes = self.req_codes(&mut o, "codes");
                let operator = self.operator(&mut o);
                let value = self.req_number(&mut o, "value");
                o.finish(self);
                Some((codes, operator?, value?))
            }
            None => None,
        };
        f.finish(self);
        Some(Goal { addresses, text, observation })
    }

    fn series(&mut self, node: &Node) -> Option<Series> {
        let mut f = self.fields(node, "imaging series")?;
        let body_site = self.req_code(&mut f, "body_site");
        let modality = self.req_code(&mut f, "modality");
        let instances = match f.take("instances") {
            Some(n) => self.list(n, "`instances`", |cx, i| {
                let mut inf = cx.fields(i, "imaging instance")?;
                let title = cx.opt_string(&mut inf, "title").unwrap_or_default();
                let sop_class = cx.req_code(&mut inf, "sop_class");
                inf.finish(cx);
                Some(Instance { title, sop_class: sop_class? })
            }),
            None => {
                self.missing(&f, "instances", "");
                Vec::new()
            }
        };
        let min_instances = self.opt_uint(&mut f, "min_number_instances");
        let max_instances = self.opt_uint(&mut f, "max_number_instances");
        f.finish(self);
        Some(Series { body_site: body_site?, modality: modality?, instances, min_instances, max_instances })
    }

    fn child_observations(&mut self, f: &mut Fields) -> Vec<ObservationSpec> {
        match f.take("observations") {
            Some(n) => self.list(n, "`observations`", |cx, o| {
                let mut of = cx.fields(o, "child observation")?;
                of.ignore("remarks");
                of.ignore("type");
                let spec = cx.observation_fields(&mut of);
                of.finish(cx);
                Some(spec)
            }),
            None => {
                self.missing(f, "observations", "");
                Vec::new()
            }
        }
    }

    fn observation_fields(&mut self, f: &mut Fields) -> ObservationSpec {
        let codes = self.req_codes(f, "codes");
        let category = self.opt_string(f, "category");
        let unit = self.opt_string(f, "unit");
        // An Observation may record a fixed text or boolean: `exact: {quantity: "No"}`.
        let text_value = f.get_exact_text();
        let source = if let Some(text) = text_value {
            f.ignore("exact");
            ObservationSource::Text(text)
        } else if let Some(found) = self.amount(f, false) {
            let Some((amount, _, span)) = found else {
                return ObservationSpec { codes, category, unit, source: ObservationSource::Nothing };
            };
            if unit.is_none() && !matches!(amount, Amount::Distribution(_)) {
                self.push(
                    Diagnostic::new(Kind::MissingField, span, "a numeric observation needs a `unit`")
                        .label("value without a unit")
                        .help("add a UCUM unit, e.g. `unit: mg/dL` (`{score}` for unitless scores)"),
                );
            }
            ObservationSource::Amount(amount)
        } else if let Some(a) = self.opt_string(f, "attribute") {
            ObservationSource::Attribute(a)
        } else if let Some(n) = f.take("vital_sign") {
            self.vital_sign(n).map_or(ObservationSource::Nothing, ObservationSource::VitalSign)
        } else if let Some(n) = f.take("value_code") {
            self.code(n).map_or(ObservationSource::Nothing, ObservationSource::Code)
        } else if let Some(n) = f.take("sampled_data") {
            let attrs = match self.fields(n, "`sampled_data`") {
                Some(mut sf) => {
                    let list = match sf.take("attributes") {
                        Some(a) => self.list(a, "`attributes`", |cx, x| cx.str_value(x, "an attribute name")),
                        None => Vec::new(),
                    };
                    for k in ["origin_value", "factor", "decimal_format", "lower_limit", "upper_limit"] {
                        sf.ignore(k);
                    }
                    sf.finish(self);
                    list
                }
                None => Vec::new(),
            };
            ObservationSource::SampledData(attrs)
        } else if f.take("attachment").is_some() {
            ObservationSource::Attachment
        } else {
            ObservationSource::Nothing
        };
        ObservationSpec { codes, category, unit, source }
    }

    // ---- logic -----------------------------------------------------------------------------

    fn logic(&mut self, node: &Node) -> Option<Logic> {
        let mut f = self.fields(node, "condition")?;
        let Some(type_node) = f.take("condition_type") else {
            self.push(
                Diagnostic::new(Kind::MissingField, node.span, "condition has no `condition_type`")
                    .label("what kind of condition is this?")
                    .note(format!("condition types are {}", CONDITION_TYPES.join(", "))),
            );
            return None;
        };
        let ty = self.str_value(type_node, "`condition_type`")?;
        // Synthea matches condition types with all whitespace removed.
        let squashed: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(&canonical) = CONDITION_TYPES.iter().find(|c| c.replace(' ', "") == squashed) else {
            self.push(
                Diagnostic::new(Kind::UnknownConditionType, type_node.span, format!("unknown condition type `{ty}`"))
                    .label("not a condition type")
                    .suggest(&ty, CONDITION_TYPES.iter().copied())
                    .note(format!("condition types are {}", CONDITION_TYPES.join(", "))),
            );
            return None;
        };
        f.what = format!("`{canonical}` condition");
        f.ignore("remarks");
        let kind = self.logic_kind(canonical, &mut f, node);
        f.finish(self);
        Some(Logic { span: node.span, kind: kind? })
    }

    fn sub_conditions(&mut self, f: &mut Fields) -> Vec<Logic> {
        match f.take("conditions") {
            Some(n) => self.list(n, "`conditions`", |cx, c| cx.logic(c)),
            None => {
                self.missing(f, "conditions", "");
                Vec::new()
            }
        }
    }

    fn target(&mut self, f: &mut Fields) -> Option<Target> {
        if let Some(a) = self.opt_attribute_name(f, "referenced_by_attribute") {
            return Some(Target::Attribute(a));
        }
        match f.take("codes") {
            Some(n) => Some(Target::Codes(self.codes(n))),
            None => {
                self.push(
                    Diagnostic::new(
                        Kind::MissingField,
                        f.span,
                        format!("{} has neither `codes` nor `referenced_by_attribute`", f.what),
                    )
                    .label("what should be checked?"),
                );
                None
            }
        }
    }

    fn logic_kind(&mut self, ty: &str, f: &mut Fields, node: &Node) -> Option<LogicKind> {
        Some(match ty {
            "And" => LogicKind::And(self.sub_conditions(f)),
            "Or" => LogicKind::Or(self.sub_conditions(f)),
            "Not" => match f.take("condition") {
                Some(n) => LogicKind::Not(Box::new(self.logic(n)?)),
                None => {
                    self.missing(f, "condition", "");
                    return None;
                }
            },
            "At Least" => {
                let minimum = match f.take("minimum") {
                    Some(n) => self.uint_value(n, "`minimum`"),
                    None => {
                        self.missing(f, "minimum", "");
                        None
                    }
                };
                let conditions = self.sub_conditions(f);
                LogicKind::AtLeast { minimum: minimum?, conditions }
            }
            "At Most" => {
                let maximum = match f.take("maximum") {
                    Some(n) => self.uint_value(n, "`maximum`"),
                    None => {
                        self.missing(f, "maximum", "");
                        None
                    }
                };
                let conditions = self.sub_conditions(f);
                LogicKind::AtMost { maximum: maximum?, conditions }
            }
            "True" => LogicKind::True,
            "False" => LogicKind::False,
            "Gender" => match f.take("gender") {
                Some(n) => LogicKind::Gender(self.vocab(n, "gender", Kind::UnknownValue, Sex::NAMES, Sex::parse)?),
                None => {
                    self.missing(f, "gender", "`M` or `F`");
                    return None;
                }
            },
            "Age" => {
                let operator = self.operator(f);
                let quantity = self.req_number(f, "quantity");
                let unit = match f.take("unit") {
                    Some(u) => match self.time_unit(u) {
                        Some(unit @ (TimeUnit::Years | TimeUnit::Months)) => Some(unit),
                        Some(other) => {
                            self.push(
                                Diagnostic::new(
                                    Kind::UnknownUnit,
                                    u.span,
                                    format!("`Age` conditions cannot use `{}`", other.as_str()),
                                )
                                .label("expected `years` or `months`"),
                            );
                            None
                        }
                        None => None,
                    },
                    None => {
                        self.missing(f, "unit", "`years` or `months`");
                        None
                    }
                };
                LogicKind::Age { operator: operator?, quantity: quantity?, unit: unit? }
            }
            "Date" => {
                let operator = self.operator(f);
                let date = if let Some(n) = f.take("year") {
                    let y = self.num_value(n, "`year`")?;
                    DateSpec::Year(y as i32)
                } else if let Some(n) = f.take("month") {
                    let m = self.uint_value(n, "`month`")?;
                    if !(1..=12).contains(&m) {
                        self.push(
                            Diagnostic::new(Kind::ValueOutOfRange, n.span, format!("month {m} does not exist"))
                                .label("expected 1 to 12"),
                        );
                        return None;
                    }
                    DateSpec::Month(m)
                } else if let Some(n) = f.take("date") {
                    DateSpec::Instant(self.instant(n)?)
                } else {
                    self.push(
                        Diagnostic::new(Kind::MissingField, node.span, "`Date` condition has no date")
                            .label("expected `year`, `month` or `date`"),
                    );
                    return None;
                };
                LogicKind::Date { operator: operator?, date }
            }
            "Socioeconomic Status" => match f.take("category") {
                Some(n) => LogicKind::SocioeconomicStatus(self.vocab(
                    n,
                    "socioeconomic category",
                    Kind::UnknownValue,
                    SesCategory::NAMES,
                    SesCategory::parse,
                )?),
                None => {
                    self.missing(f, "category", "`High`, `Middle` or `Low`");
                    return None;
                }
            },
            "Race" => LogicKind::Race(self.req_string(f, "race", "")?),
            "Symptom" => {
                let symptom = self.req_string(f, "symptom", "");
                let operator = self.operator(f);
                let value = self.req_number(f, "value");
                LogicKind::Symptom { symptom: symptom?, operator: operator?, value: value? }
            }
            "Observation" => {
                let target = self.target(f);
                let operator = self.operator(f);
                let value = if let Some(n) = f.take("value_code") {
                    Some(ObservationValue::Code(self.code(n)?))
                } else {
                    f.take("value").map(|n| ObservationValue::Literal(self.literal(n)))
                };
                if value.is_none() && !matches!(operator, Some(Operator::IsNil | Operator::IsNotNil) | None) {
                    self.missing(f, "value", "compare against `value` or `value_code`");
                }
                LogicKind::Observation { target: target?, operator: operator?, value }
            }
            "Vital Sign" => {
                let vital_sign = match f.take("vital_sign") {
                    Some(n) => self.vital_sign(n),
                    None => {
                        self.missing(f, "vital_sign", "");
                        None
                    }
                };
                let operator = self.operator(f);
                let value = self.req_number(f, "value");
                LogicKind::VitalSign { vital_sign: vital_sign?, operator: operator?, value: value? }
            }
            "Active Condition" => LogicKind::ActiveCondition(self.target(f)?),
            "Active Medication" => LogicKind::ActiveMedication(self.target(f)?),
            "Active CarePlan" => LogicKind::ActiveCarePlan(self.target(f)?),
            "Active Allergy" => LogicKind::ActiveAllergy(self.target(f)?),
            "PriorState" => {
                let name = match f.take("name") {
                    Some(n) => self.state_ref(n, "`name`"),
                    None => {
                        self.missing(f, "name", "the state that must have been visited");
                        None
                    }
                };
                let since = self.opt_state_ref(f, "since");
                let within = match f.take("within") {
                    Some(n) => {
                        let mut w = self.fields(n, "`within`")?;
                        let q = self.req_number(&mut w, "quantity");
                        let unit = self.req_time_unit(&mut w);
                        w.finish(self);
                        Some((q?, unit?))
                    }
                    None => None,
                };
                LogicKind::PriorState { name: name?, since, within }
            }
            "Attribute" => {
                let attribute = self.req_string(f, "attribute", "");
                let operator = self.operator(f);
                let value = match f.take("value") {
                    Some(n) => self.literal(n),
                    None => Literal::Null,
                };
                if value == Literal::Null && !matches!(operator, Some(Operator::IsNil | Operator::IsNotNil) | None) {
                    self.missing(f, "value", "compare against a `value`, or use `is nil` / `is not nil`");
                }
                LogicKind::Attribute { attribute: attribute?, operator: operator?, value }
            }
            _ => return None,
        })
    }

    fn instant(&mut self, node: &Node) -> Option<i64> {
        let mut f = self.fields(node, "`date`")?;
        let year = self.req_number(&mut f, "year");
        let mut part = |cx: &mut Self, key: &'static str, default: u32| match f.take(key) {
            Some(n) => cx.uint_value(n, &format!("`{key}`")),
            None => Some(default),
        };
        let month = part(self, "month", 1);
        let day = part(self, "day", 1);
        let hour = part(self, "hour", 0);
        let minute = part(self, "minute", 0);
        let second = part(self, "second", 0);
        let milli = part(self, "millisecond", 0);
        f.finish(self);
        let date = chrono::NaiveDate::from_ymd_opt(year? as i32, month?, day?)
            .and_then(|d| d.and_hms_milli_opt(hour?, minute?, second?, milli?));
        match date {
            Some(dt) => Some(dt.and_utc().timestamp_millis()),
            None => {
                self.push(
                    Diagnostic::new(Kind::ValueOutOfRange, node.span, "this date does not exist").label("invalid date"),
                );
                None
            }
        }
    }
}
