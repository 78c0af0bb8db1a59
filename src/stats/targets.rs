//! Targets files: published figures to compare a population with (and, for `calibrate`, to
//! fit it to). Read from the positioned tree, so every problem has a file:line:col.
//!
//! ```yaml
//! name: CDC diagnosed diabetes, 2017-2020
//! date: 2025-01-01                  # optional: the run's reference date by default
//! targets:
//!   - id: diabetes-by-sex
//!     measure: prevalence           # prevalence | share | mean | quality
//!     codes: ["44054006"]
//!     population: { age: 18+ }
//!     tolerance: 1                  # percentage points (default 2)
//!     source: CDC National Diabetes Statistics Report, Table 1a
//!     strata:
//!       - { sex: M, value: 12.6 }
//!       - { sex: F, value: 10.2 }
//! ```
//! The schema is `schemas/targets.schema.json`.

use super::{CodeSet, Compare, Criterion, Day, Dim, Kind, Measure, Population, Target, quality_measures};
use crate::ast::Sex;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind as DKind};
use crate::sim::time::Date;
use crate::source::{FileId, Sources, Span};
use crate::syntax::{Node, Value};

/// A parsed targets file.
#[derive(Debug, Clone, Default)]
pub struct TargetsFile {
    pub name: String,
    pub date: Option<Date>,
    pub age_bands: Option<Vec<u32>>,
    pub measures: Vec<Measure>,
    /// Parameters to fit (read by `calibrate`), as written.
    pub parameters: Option<Node>,
}

const RACES: [&str; 6] = ["white", "black", "asian", "native", "hawaiian", "other"];

/// Reads a targets file; problems go to `diags` (nothing is returned when there are errors).
pub fn parse(sources: &Sources, file: FileId, diags: &mut Diagnostics) -> Option<TargetsFile> {
    let format = crate::syntax::Format::from_path(sources.name(file));
    let root = crate::syntax::parse(sources, file, format, diags)?;
    let before = diags.errors();
    let mut p = Parser { diags };
    let out = p.file(&root);
    if p.diags.errors() > before { None } else { out }
}

struct Parser<'d> {
    diags: &'d mut Diagnostics,
}

impl Parser<'_> {
    fn error(&mut self, kind: DKind, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(kind, span, message));
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [crate::syntax::Entry]> {
        let m = node.as_map();
        if m.is_none() {
            self.error(DKind::WrongType, node.span, format!("{what} must be a mapping, found {}", node.type_name()));
        }
        m
    }

    fn keys(&mut self, node: &Node, allowed: &[&str], what: &str) {
        for e in node.as_map().unwrap_or(&[]) {
            if !allowed.contains(&e.key.as_str()) {
                let d = Diagnostic::new(DKind::UnknownKey, e.key_span, format!("unknown key `{}` in {what}", e.key))
                    .suggest(&e.key, allowed.iter().copied());
                self.diags.push(d);
            }
        }
    }

    fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        let v = node.as_f64();
        if v.is_none() {
            self.error(DKind::WrongType, node.span, format!("{what} must be a number, found {}", node.type_name()));
        }
        v
    }

    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => {
                self.error(DKind::WrongType, node.span, format!("{what} must be text, found {}", node.type_name()));
                None
            }
        }
    }

    fn file(&mut self, root: &Node) -> Option<TargetsFile> {
        self.map(root, "a targets file")?;
        self.keys(root, &["name", "description", "date", "age_bands", "targets", "parameters"], "the targets file");
        let mut out = TargetsFile {
            name: root.get("name").and_then(|n| self.text(n, "`name`")).unwrap_or_default(),
            parameters: root.get("parameters").cloned(),
            ..TargetsFile::default()
        };
        if let Some(d) = root.get("date") {
            out.date = self.date(d);
        }
        if let Some(b) = root.get("age_bands") {
            out.age_bands = self.age_bands(b);
        }
        let Some(targets) = root.get("targets") else {
            self.error(DKind::MissingField, root.span, "a targets file needs a `targets:` list");
            return None;
        };
        let Some(list) = targets.as_seq() else {
            self.error(
                DKind::WrongType,
                targets.span,
                format!("`targets` must be a list, found {}", targets.type_name()),
            );
            return None;
        };
        for (i, t) in list.iter().enumerate() {
            self.target(t, i, &mut out.measures);
        }
        let mut seen = std::collections::HashSet::new();
        for m in &out.measures {
            if !seen.insert(m.id.clone()) {
                self.error(DKind::ConflictingFields, targets.span, format!("two targets have the id `{}`", m.id));
            }
        }
        Some(out)
    }

    fn date(&mut self, node: &Node) -> Option<Date> {
        let t = self.text(node, "`date`")?;
        let d = Date::parse(&t);
        if d.is_none() {
            self.error(DKind::ValueOutOfRange, node.span, format!("`{t}` is not a date: write YYYY-MM-DD"));
        }
        d
    }

    fn age_bands(&mut self, node: &Node) -> Option<Vec<u32>> {
        let Some(seq) = node.as_seq() else {
            self.error(DKind::WrongType, node.span, "`age_bands` must be a list of lower bounds, e.g. [0, 18, 45, 65]");
            return None;
        };
        let mut v = Vec::new();
        for n in seq {
            let x = self.number(n, "an age band bound")?;
            v.push(x.max(0.0) as u32);
        }
        if v.first() != Some(&0) {
            v.insert(0, 0);
        }
        if v.windows(2).any(|w| w[0] >= w[1]) {
            self.error(DKind::ValueOutOfRange, node.span, "`age_bands` must be strictly ascending");
            return None;
        }
        Some(v)
    }

    fn target(&mut self, node: &Node, index: usize, out: &mut Vec<Measure>) {
        if self.map(node, "a target").is_none() {
            return;
        }
        const KEYS: [&str; 14] = [
            "id",
            "label",
            "measure",
            "codes",
            "numerator",
            "observation",
            "population",
            "by",
            "value",
            "interval",
            "tolerance",
            "weight",
            "source",
            "strata",
        ];
        self.keys(node, &KEYS, "a target");
        let id = node.get("id").and_then(|n| self.text(n, "`id`")).unwrap_or_else(|| format!("target-{}", index + 1));
        let Some(measure) = node.get("measure") else {
            self.error(
                DKind::MissingField,
                node.span,
                format!("target `{id}` needs `measure:` (prevalence, share, mean or quality)"),
            );
            return;
        };
        let Some(measure_name) = self.text(measure, "`measure`") else { return };
        let mut base_population = Population::default();
        let kind = match measure_name.as_str() {
            "prevalence" => {
                let Some(codes) = node.get("codes") else {
                    self.error(DKind::MissingField, node.span, format!("prevalence target `{id}` needs `codes:`"));
                    return;
                };
                let Some(codes) = self.codes(codes) else { return };
                Kind::Share(Criterion::Condition(codes))
            }
            "share" => {
                let Some(n) = node.get("numerator") else {
                    self.error(DKind::MissingField, node.span, format!("share target `{id}` needs `numerator:`"));
                    return;
                };
                let Some(c) = self.criterion(n) else { return };
                Kind::Share(c)
            }
            "mean" => {
                let Some(o) = node.get("observation") else {
                    self.error(DKind::MissingField, node.span, format!("mean target `{id}` needs `observation:`"));
                    return;
                };
                let Some((codes, days, _)) = self.observation(o) else { return };
                Kind::Mean { codes, days }
            }
            "quality" | "bp-control" | "a1c-control" | "crc-screening" => {
                let q = if measure_name == "quality" { id.clone() } else { measure_name.clone() };
                let builtins = quality_measures();
                let Some(b) = builtins.into_iter().find(|m| m.id == q) else {
                    let d = Diagnostic::new(
                        DKind::UnknownValue,
                        node.get("id").map_or(measure.span, |n| n.span),
                        format!("there is no built-in quality measure `{q}`"),
                    )
                    .help("the built-in quality measures are bp-control, a1c-control and crc-screening");
                    self.diags.push(d);
                    return;
                };
                base_population = b.population;
                b.kind
            }
            other => {
                let d = Diagnostic::new(DKind::UnknownValue, measure.span, format!("unknown measure `{other}`"))
                    .suggest(other, ["prevalence", "share", "mean", "quality"])
                    .help("measures: prevalence (of condition codes), share (meeting a criterion), mean (of an observation), quality (a built-in quality measure)");
                self.diags.push(d);
                return;
            }
        };
        let population = match node.get("population") {
            Some(p) => match self.population(p, base_population) {
                Some(p) => p,
                None => return,
            },
            None => base_population,
        };
        let by = match node.get("by") {
            Some(b) => self.dims(b),
            None => Vec::new(),
        };
        let target = self.target_value(node, &id);
        let label = node.get("label").and_then(|n| self.text(n, "`label`")).unwrap_or_else(|| id.clone());
        let measure = Measure { id: id.clone(), label, kind, population, by, target };
        match node.get("strata") {
            None => {
                if measure.target.is_none() && node.get("by").is_none() {
                    self.error(
                        DKind::MissingField,
                        node.span,
                        format!("target `{id}` needs a `value:` (or `strata:`)"),
                    );
                }
                out.push(measure);
            }
            Some(strata) => {
                let Some(seq) = strata.as_seq() else {
                    self.error(DKind::WrongType, strata.span, "`strata` must be a list");
                    return;
                };
                for s in seq {
                    if self.map(s, "a stratum").is_none() {
                        continue;
                    }
                    let mut keys: Vec<&str> = vec!["value", "interval", "tolerance", "weight", "source", "id", "label"];
                    keys.extend(POPULATION_KEYS);
                    self.keys(s, &keys, "a stratum");
                    let Some(pop) = self.population(s, measure.population.clone()) else { continue };
                    let suffix = describe(&pop, &measure.population);
                    let mut m = measure.clone();
                    m.id = s.get("id").and_then(|n| self.text(n, "`id`")).unwrap_or_else(|| format!("{id}[{suffix}]"));
                    m.label = s
                        .get("label")
                        .and_then(|n| self.text(n, "`label`"))
                        .unwrap_or_else(|| format!("{}, {suffix}", measure.label));
                    m.population = pop;
                    let mut t = self.target_value(s, &m.id).or_else(|| {
                        self.error(DKind::MissingField, s.span, "a stratum needs a `value:`");
                        None
                    });
                    if let Some(t) = &mut t {
                        // A stratum inherits what it does not say from its target.
                        if s.get("tolerance").is_none()
                            && let Some(x) = node.get("tolerance").and_then(Node::as_f64)
                        {
                            t.tolerance = x;
                        }
                        if s.get("weight").is_none()
                            && let Some(x) = node.get("weight").and_then(Node::as_f64)
                        {
                            t.weight = x;
                        }
                        if s.get("source").is_none()
                            && let Some(x) = node.get("source").and_then(Node::as_str)
                        {
                            t.source = x.to_owned();
                        }
                    }
                    m.target = t;
                    out.push(m);
                }
            }
        }
    }

    /// `value`, `interval`, `tolerance`, `weight`, `source` of a target or stratum.
    fn target_value(&mut self, node: &Node, id: &str) -> Option<Target> {
        let tolerance = node.get("tolerance").and_then(|n| self.number(n, "`tolerance`"));
        let weight = node.get("weight").and_then(|n| self.number(n, "`weight`"));
        let source = node.get("source").and_then(|n| self.text(n, "`source`")).unwrap_or_default();
        let value_node = node.get("value")?;
        let value = self.number(value_node, "`value`")?;
        let interval = match node.get("interval") {
            Some(i) => match i.as_seq() {
                Some([lo, hi]) => match (lo.as_f64(), hi.as_f64()) {
                    (Some(a), Some(b)) if a <= value && value <= b => Some((a, b)),
                    _ => {
                        self.error(
                            DKind::ValueOutOfRange,
                            i.span,
                            format!("the interval of `{id}` must be [low, high] numbers around the value {value}"),
                        );
                        None
                    }
                },
                _ => {
                    self.error(DKind::WrongType, i.span, "`interval` must be a list of two numbers: [low, high]");
                    None
                }
            },
            None => None,
        };
        if let Some(t) = tolerance
            && t < 0.0
        {
            self.error(DKind::ValueOutOfRange, node.span, "`tolerance` cannot be negative");
        }
        Some(Target { value, interval, tolerance: tolerance.unwrap_or(2.0), weight: weight.unwrap_or(1.0), source })
    }

    fn dims(&mut self, node: &Node) -> Vec<Dim> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(s) => s.iter().collect(),
            _ => vec![node],
        };
        let mut out = Vec::new();
        for n in items {
            let Some(t) = self.text(n, "a `by` dimension") else { continue };
            match Dim::parse(&t) {
                Some(d) => out.push(d),
                None => {
                    let d = Diagnostic::new(DKind::UnknownValue, n.span, format!("cannot break down by `{t}`"))
                        .suggest(&t, ["age", "sex", "race", "ethnicity"]);
                    self.diags.push(d);
                }
            }
        }
        out
    }

    fn population(&mut self, node: &Node, mut p: Population) -> Option<Population> {
        self.map(node, "a population")?;
        let errors = self.diags.errors();
        for e in node.as_map().unwrap_or(&[]) {
            let v = &e.value;
            match e.key.as_str() {
                "age" => p.age = self.age_range(v),
                "sex" | "gender" => match self.text(v, "`sex`").as_deref().map(str::to_ascii_uppercase).as_deref() {
                    Some("M" | "MALE") => p.sex = Some(Sex::Male),
                    Some("F" | "FEMALE") => p.sex = Some(Sex::Female),
                    Some(other) => {
                        self.error(DKind::UnknownValue, v.span, format!("unknown sex `{other}`: write M or F"))
                    }
                    None => {}
                },
                "race" => {
                    let items: Vec<&Node> = v.as_seq().map_or_else(|| vec![v], |s| s.iter().collect());
                    p.race.clear();
                    for n in items {
                        let Some(r) = self.text(n, "`race`") else { continue };
                        let r = r.to_ascii_lowercase();
                        if RACES.contains(&r.as_str()) {
                            p.race.push(r);
                        } else {
                            let d = Diagnostic::new(DKind::UnknownValue, n.span, format!("unknown race `{r}`"))
                                .suggest(&r, RACES)
                                .help("races (as in patients.csv): white, black, asian, native, hawaiian, other");
                            self.diags.push(d);
                        }
                    }
                }
                "ethnicity" => match self.text(v, "`ethnicity`").as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("hispanic") => p.hispanic = Some(true),
                    Some("nonhispanic" | "non-hispanic") => p.hispanic = Some(false),
                    Some(other) => self.error(
                        DKind::UnknownValue,
                        v.span,
                        format!("unknown ethnicity `{other}`: write hispanic or nonhispanic"),
                    ),
                    None => {}
                },
                "having" => {
                    let c = self.criterion(v)?;
                    p.having = Some(match p.having.take() {
                        Some(old) => Criterion::All(vec![old, c]),
                        None => c,
                    });
                }
                // Keys of a stratum that are not population filters.
                "value" | "interval" | "tolerance" | "weight" | "source" | "id" | "label" => {}
                other => {
                    let d =
                        Diagnostic::new(DKind::UnknownKey, e.key_span, format!("unknown population filter `{other}`"))
                            .suggest(other, POPULATION_KEYS);
                    self.diags.push(d);
                }
            }
        }
        if self.diags.errors() > errors { None } else { Some(p) }
    }

    /// `18-44`, `65+`, `[18, 44]` or a single age.
    fn age_range(&mut self, node: &Node) -> Option<(u32, u32)> {
        let bad = |s: &mut Self| {
            s.error(
                DKind::WrongType,
                node.span,
                "an age range is written 18-44, 65+ or [18, 44] (whole years, inclusive)",
            );
            None
        };
        match &node.value {
            Value::Int(i) if *i >= 0 => Some((*i as u32, *i as u32)),
            Value::Seq(s) => match s.as_slice() {
                [a, b] => match (a.as_f64(), b.as_f64()) {
                    (Some(a), Some(b)) if a >= 0.0 && a <= b => Some((a as u32, b as u32)),
                    _ => bad(self),
                },
                _ => bad(self),
            },
            Value::Str(t) => {
                let t = t.trim();
                if let Some(lo) = t.strip_suffix('+') {
                    return match lo.trim().parse::<u32>() {
                        Ok(lo) => Some((lo, 150)),
                        Err(_) => bad(self),
                    };
                }
                match t.split_once('-').map(|(a, b)| (a.trim().parse::<u32>(), b.trim().parse::<u32>())) {
                    Some((Ok(a), Ok(b))) if a <= b => Some((a, b)),
                    _ => bad(self),
                }
            }
            _ => bad(self),
        }
    }

    fn codes(&mut self, node: &Node) -> Option<CodeSet> {
        let items: Vec<&Node> = node.as_seq().map_or_else(|| vec![node], |s| s.iter().collect());
        let mut out = Vec::new();
        for n in items {
            // `SNOMED-CT 44054006`, `SNOMED-CT:44054006` or just the code.
            let t = self.text(n, "a code")?;
            let code = t.rsplit([' ', ':', '|']).next().unwrap_or(&t).trim().to_owned();
            if code.is_empty() {
                self.error(DKind::WrongType, n.span, "empty code");
                return None;
            }
            out.push(code);
        }
        if out.is_empty() {
            self.error(DKind::MissingField, node.span, "at least one code is needed");
            return None;
        }
        Some(CodeSet::new(out))
    }

    fn within(&mut self, node: &Node, default_years: f64) -> Day {
        let years = node.get("within_years").and_then(|n| self.number(n, "`within_years`")).unwrap_or(default_years);
        (years * 365.25).round().max(1.0) as Day
    }

    /// `{codes, within_years, below|at_most|at_least|above}`.
    fn observation(&mut self, node: &Node) -> Option<(CodeSet, Day, Option<Compare>)> {
        self.map(node, "an observation criterion")?;
        self.keys(
            node,
            &["codes", "within_years", "below", "at_most", "at_least", "above"],
            "an observation criterion",
        );
        let Some(c) = node.get("codes") else {
            self.error(DKind::MissingField, node.span, "an observation criterion needs `codes:`");
            return None;
        };
        let codes = self.codes(c)?;
        let days = self.within(node, 1.0);
        let mut compare = None;
        for (key, make) in [
            ("below", Compare::Below as fn(f64) -> Compare),
            ("at_most", Compare::AtMost),
            ("at_least", Compare::AtLeast),
            ("above", Compare::Above),
        ] {
            if let Some(n) = node.get(key) {
                let v = self.number(n, &format!("`{key}`"))?;
                if compare.is_some() {
                    self.error(DKind::ConflictingFields, n.span, "give one of below, at_most, at_least, above");
                }
                compare = Some(make(v));
            }
        }
        Some((codes, days, compare))
    }

    fn criterion(&mut self, node: &Node) -> Option<Criterion> {
        let entries = self.map(node, "a criterion")?;
        let [entry] = entries else {
            self.error(
                DKind::WrongType,
                node.span,
                "a criterion has exactly one key: condition, onset, medication, procedure, immunization, observation, all, any or not",
            );
            return None;
        };
        let v = &entry.value;
        let with_codes = |s: &mut Self, default_years: f64| -> Option<(CodeSet, Day)> {
            if v.as_map().is_some() {
                s.keys(v, &["codes", "within_years"], &format!("a `{}` criterion", entry.key));
                let Some(c) = v.get("codes") else {
                    s.error(DKind::MissingField, v.span, format!("`{}` needs `codes:`", entry.key));
                    return None;
                };
                let codes = s.codes(c)?;
                Some((codes, s.within(v, default_years)))
            } else {
                Some((s.codes(v)?, (default_years * 365.25) as Day))
            }
        };
        Some(match entry.key.as_str() {
            "condition" => Criterion::Condition(with_codes(self, 0.0)?.0),
            "medication" => Criterion::Medication(with_codes(self, 0.0)?.0),
            "onset" => {
                let (codes, days) = with_codes(self, 1.0)?;
                Criterion::Onset { codes, days }
            }
            "procedure" => {
                let (codes, days) = with_codes(self, 1.0)?;
                Criterion::Procedure { codes, days }
            }
            "immunization" => {
                let (codes, days) = with_codes(self, 1.0)?;
                Criterion::Immunization { codes, days }
            }
            "observation" => {
                let (codes, days, compare) = self.observation(v)?;
                Criterion::Observation { codes, days, compare }
            }
            "all" | "any" => {
                let Some(seq) = v.as_seq() else {
                    self.error(DKind::WrongType, v.span, format!("`{}` takes a list of criteria", entry.key));
                    return None;
                };
                let list: Option<Vec<Criterion>> = seq.iter().map(|n| self.criterion(n)).collect();
                if entry.key == "all" { Criterion::All(list?) } else { Criterion::Any(list?) }
            }
            "not" => Criterion::Not(Box::new(self.criterion(v)?)),
            other => {
                let d = Diagnostic::new(DKind::UnknownKey, entry.key_span, format!("unknown criterion `{other}`"))
                    .suggest(
                        other,
                        [
                            "condition",
                            "onset",
                            "medication",
                            "procedure",
                            "immunization",
                            "observation",
                            "all",
                            "any",
                            "not",
                        ],
                    );
                self.diags.push(d);
                return None;
            }
        })
    }
}

const POPULATION_KEYS: [&str; 6] = ["age", "sex", "gender", "race", "ethnicity", "having"];

/// What a stratum adds to its base population, for its id and label (`sex=M,age=18-44`).
fn describe(p: &Population, base: &Population) -> String {
    let mut parts = Vec::new();
    if p.age != base.age
        && let Some((lo, hi)) = p.age
    {
        parts.push(if hi >= 150 { format!("age={lo}+") } else { format!("age={lo}-{hi}") });
    }
    if p.sex != base.sex
        && let Some(s) = p.sex
    {
        parts.push(format!("sex={}", if s == Sex::Male { "M" } else { "F" }));
    }
    if p.race != base.race {
        parts.push(format!("race={}", p.race.join("|")));
    }
    if p.hispanic != base.hispanic
        && let Some(h) = p.hispanic
    {
        parts.push(format!("ethnicity={}", if h { "hispanic" } else { "nonhispanic" }));
    }
    if parts.is_empty() { "all".into() } else { parts.join(",") }
}
