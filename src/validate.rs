//! Semantic checks of parsed modules: everything that needs more than one node to decide.
//!
//! `validate` reads a [`ModuleSet`] and reports, each at the span of the offending name or
//! number: transitions to undefined states, a missing `Initial`, probabilities outside [0, 1]
//! or summing above 1 (below 1 is a warning: the remainder falls to the last option), missing
//! submodules and lookup tables, lookup tables whose columns do not match, references
//! (`target_encounter`, `condition_onset`, `medication_order`, `careplan`, `device`, `reason`,
//! PriorState names) that name no state of the right type, states unreachable from `Initial`,
//! and cycles that can spin without simulated time passing. It never stops at the first
//! problem. `compile` relies on a module set that passed with no errors.

use crate::ast::*;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::load::ModuleSet;
use crate::lookup::{RawTable, parse_age_range, parse_time_range};
use crate::source::Span;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeSet, HashMap};

/// Tolerance for sums of probabilities written with a few decimals.
const EPSILON: f64 = 1e-6;

/// Tolerance for a lookup-table row: published tables are rounded cell by cell, so a row of
/// fifteen four-decimal shares may sum to a little over 1 without meaning anything.
const TABLE_ROUNDING: f64 = 5e-3;

/// Attributes the clinical core sets, which modules may read without writing.
pub const CORE_ATTRIBUTES: &[&str] = &[
    "gender",
    "race",
    "ethnicity",
    "state",
    "city",
    "county",
    "income",
    "income_level",
    "education",
    "education_level",
    "poverty_ratio",
    "socioeconomic_category",
    "marital_status",
    "first_language",
    "address",
    "birth_country",
    "sexual_orientation",
    "smoker",
    "alcoholic",
    "quit smoking age",
    "RH_NEG",
    "bmi_percentile",
    "current_weight_length_percentile",
    "days_until_death",
    "probability_of_fall_injury",
    "food_insecurity",
    "severe_housing_cost_burden",
    "unemployed",
    "no_vehicle_access",
    "insurance_status",
    "mi_risk",
    "ihd_risk",
    "stroke_risk",
    "atrial_fibrillation_risk",
    "cardio_risk",
    "ascvd_risk",
    "veteran",
    "veteran_population_override",
];

/// Checks every module of the set against each other and against their lookup tables.
pub fn validate(set: &ModuleSet) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let assigned = assigned_attributes(set);
    let mut checked_tables = BTreeSet::new();
    for module in &set.modules {
        let errors_before = diags.errors();
        let parse_errors = set.diagnostics.iter().any(|d| {
            d.severity() == crate::diagnostic::Severity::Error && d.span.is_some_and(|s| s.file == module.file)
        });
        let mut v = ModuleCheck { set, module, diags: &mut diags, index: HashMap::new(), assigned: &assigned };
        v.run(&mut checked_tables);
        tunables(module, v.diags);
        // Reachability and cycles are only meaningful once the module's own errors are fixed:
        // a broken transition would make everything after it look unreachable.
        if !parse_errors && v.diags.errors() == errors_before {
            v.graph_checks();
        }
    }
    diags
}

/// A tunable names a state with distributed transitions (of the branch it names).
fn tunables(module: &Module, diags: &mut Diagnostics) {
    use crate::ast::{ComplexTarget, Transition};
    for t in &module.tunable {
        let Some(state) = module.state(&t.state) else {
            let names = module.states.iter().map(|s| s.name.as_str());
            diags.push(
                Diagnostic::new(
                    Kind::UndefinedState,
                    t.state_span,
                    format!("tunable state `{}` does not exist", t.state),
                )
                .label("no such state")
                .suggest(&t.state, names),
            );
            continue;
        };
        let ok = match (&state.transition, t.branch) {
            (Some(Transition::Distributed(_)), None) => true,
            (Some(Transition::Complex(options)), None) => {
                options.iter().any(|o| matches!(o.then, ComplexTarget::Distributed(_)))
            }
            (Some(Transition::Complex(options)), Some(b)) => {
                options.get(b).is_some_and(|o| matches!(o.then, ComplexTarget::Distributed(_)))
            }
            _ => false,
        };
        if !ok {
            diags.push(
                Diagnostic::new(
                    Kind::WrongStateKind,
                    t.state_span,
                    format!("state `{}` has no distributed transition to tune{}", t.state, match t.branch {
                        Some(b) => format!(" in branch {b}"),
                        None => String::new(),
                    }),
                )
                .label("not tunable")
                .help("a tunable names a state with `distributed_transition`, or a `complex_transition` branch (0-based) with `distributions`"),
            );
        }
    }
}

/// Attribute names any module writes (`assign_to_attribute`, `SetAttribute`, `Counter`).
fn assigned_attributes(set: &ModuleSet) -> BTreeSet<&str> {
    let mut out: BTreeSet<&str> = CORE_ATTRIBUTES.iter().copied().collect();
    for module in &set.modules {
        for state in &module.states {
            let name = match &state.kind {
                StateKind::SetAttribute { attribute, .. } | StateKind::Counter { attribute, .. } => Some(attribute),
                StateKind::ConditionOnset(o) | StateKind::AllergyOnset { onset: o, .. } => {
                    o.assign_to_attribute.as_ref()
                }
                StateKind::MedicationOrder { assign_to_attribute, .. }
                | StateKind::CarePlanStart { assign_to_attribute, .. }
                | StateKind::Procedure { assign_to_attribute, .. }
                | StateKind::Device { assign_to_attribute, .. } => assign_to_attribute.as_ref(),
                _ => None,
            };
            if let Some(n) = name {
                out.insert(n);
            }
        }
    }
    out
}

/// The state-to-state edges of a module (transitions and Physiology's fallback), as indices;
/// names that resolve to no state are skipped.
pub fn edges(module: &Module, index: &HashMap<&str, usize>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, state) in module.states.iter().enumerate() {
        let mut targets: Vec<&StateRef> = state.transition.as_ref().map(Transition::targets).unwrap_or_default();
        if let StateKind::Physiology { alt_direct_transition } = &state.kind {
            targets.push(alt_direct_transition);
        }
        for t in targets {
            if let Some(&j) = index.get(t.name.as_str()) {
                out.push((i, j));
            }
        }
    }
    out
}

struct ModuleCheck<'a, 'd> {
    set: &'a ModuleSet,
    module: &'a Module,
    diags: &'d mut Diagnostics,
    index: HashMap<&'a str, usize>,
    assigned: &'a BTreeSet<&'a str>,
}

impl<'a> ModuleCheck<'a, '_> {
    fn run(&mut self, checked_tables: &mut BTreeSet<String>) {
        let module = self.module;
        self.index = module.states.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        if !self.index.contains_key("Initial") {
            let d = Diagnostic::new(
                Kind::MissingInitial,
                module.name_span,
                format!("module `{}` has no `Initial` state", module.name),
            )
            .label("the module cannot start")
            .help("add a state named `Initial` (its type is usually `Initial`)");
            let d = match self.module.states.iter().find(|s| matches!(s.kind, StateKind::Initial)) {
                Some(s) => {
                    d.secondary(s.name_span, "this state has type `Initial`, but the start state is found by its name")
                }
                None => d,
            };
            self.diags.push(d);
        }
        for state in &module.states {
            if let Some(t) = &state.transition {
                self.transition(t, checked_tables);
            }
            self.state(state);
        }
    }

    fn state_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.module.states.iter().map(|s| s.name.as_str())
    }

    /// Reports a name that is not a state of this module; returns the state if it is one.
    fn resolve(&mut self, r: &StateRef, what: &str) -> Option<&'a State> {
        self.resolve_as(r, what, false)
    }

    /// As `resolve`; a `tolerated` dangling name is only a warning in Synthea's dialect.
    fn resolve_as(&mut self, r: &StateRef, what: &str, tolerated: bool) -> Option<&'a State> {
        match self.index.get(r.name.as_str()) {
            Some(&i) => Some(&self.module.states[i]),
            None => {
                let d = Diagnostic::new(
                    Kind::UndefinedState,
                    r.span,
                    format!("{what} `{}` is not a state of this module", r.name),
                )
                .label("undefined state")
                .suggest(&r.name, self.state_names());
                self.diags.push(if tolerated { d.lenient(self.module.dialect) } else { d });
                None
            }
        }
    }

    /// Reports a reference to a state that is missing or of the wrong type. Synthea ignores
    /// such references at run time (the state ends nothing), so they are tolerated in its
    /// dialect.
    fn resolve_kind(&mut self, r: &StateRef, field: &str, expected: &[&str]) {
        let Some(state) = self.resolve_as(r, &format!("`{field}`"), true) else {
            return;
        };
        let ty = state.kind.type_name();
        if !expected.contains(&ty) {
            let wanted = expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(" or ");
            let candidates: Vec<&str> = self
                .module
                .states
                .iter()
                .filter(|s| expected.contains(&s.kind.type_name()))
                .map(|s| s.name.as_str())
                .collect();
            let d = Diagnostic::new(
                Kind::WrongStateKind,
                r.span,
                format!("`{field}` must name a {wanted} state, but `{}` is a `{ty}` state", r.name),
            )
            .label(format!("not a {wanted} state"))
            .secondary(state.type_span, "its type");
            let d = match candidates.as_slice() {
                [] => d,
                [one] => d.help(format!("did you mean `{one}`?")),
                many => d.note(format!(
                    "{wanted} states here: {}",
                    many.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                )),
            };
            self.diags.push(d.lenient(self.module.dialect));
        }
    }

    fn transition(&mut self, t: &'a Transition, checked_tables: &mut BTreeSet<String>) {
        for target in t.targets() {
            self.resolve(target, "transition target");
        }
        match t {
            Transition::Distributed(options) => self.weights(options),
            Transition::Complex(options) => {
                for o in options {
                    if let ComplexTarget::Distributed(ws) = &o.then {
                        self.weights(ws);
                    }
                    if let Some(c) = &o.condition {
                        self.logic(c);
                    }
                }
            }
            Transition::Conditional(options) => {
                for o in options {
                    if let Some(c) = &o.condition {
                        self.logic(c);
                    }
                }
            }
            Transition::LookupTable(lt) => self.lookup(lt, checked_tables),
            Transition::Direct(_) | Transition::TypeOfCare { .. } => {}
        }
    }

    /// Reports a probability outside [0, 1].
    fn probability(&mut self, p: &Param) {
        if !(-EPSILON..=1.0 + EPSILON).contains(&p.value) {
            self.diags.push(
                Diagnostic::new(Kind::WeightOutOfRange, p.span, format!("probability {} is outside [0, 1]", p.value))
                    .label("not a probability")
                    .help("write probabilities as fractions: 0.25 for 25 %"),
            );
        }
    }

    fn weights(&mut self, options: &[Weighted]) {
        let mut sum = 0.0;
        let mut all_fixed = true;
        let mut crossing: Option<Span> = None;
        for o in options {
            let p = match &o.weight {
                Weight::Fixed(p) => p,
                Weight::Attribute { default, .. } => {
                    all_fixed = false;
                    default
                }
            };
            self.probability(p);
            sum += p.value;
            if sum > 1.0 + EPSILON && crossing.is_none() {
                crossing = Some(p.span);
            }
        }
        let (Some(first), Some(last)) = (options.first(), options.last()) else {
            return;
        };
        if !all_fixed {
            return;
        }
        let whole = first.span.to(last.span);
        if sum > 1.0 + EPSILON {
            let span = crossing.unwrap_or(whole);
            let d = Diagnostic::new(Kind::WeightsAboveOne, span, format!("probabilities sum to {}", round(sum)))
                .label("the cumulative probability passes 1 here")
                .help("options after the cumulative 1.0 can never be chosen; make the probabilities sum to 1");
            self.diags.push(d.lenient(self.module.dialect));
        } else if sum < 1.0 - EPSILON {
            self.diags.push(
                Diagnostic::new(Kind::WeightsBelowOne, whole, format!("probabilities sum to {}", round(sum)))
                    .label("these options")
                    .help(format!(
                        "the remaining {} falls to the last option, `{}`; say so explicitly to silence this",
                        round(1.0 - sum),
                        last.to.name
                    )),
            );
        }
    }

    fn lookup(&mut self, lt: &LookupTransition, checked_tables: &mut BTreeSet<String>) {
        for o in &lt.options {
            self.probability(&o.default_probability);
        }
        let Some(table) = self.set.tables.get(&lt.table.name) else {
            let names: Vec<&str> = self.set.tables.keys().map(String::as_str).collect();
            self.diags.push(
                Diagnostic::new(
                    Kind::MissingLookupTable,
                    lt.table.span,
                    format!("lookup table `{}` does not exist", lt.table.name),
                )
                .label("no such file")
                .suggest(&lt.table.name, names)
                .help(format!("put `{}` in the `lookup_tables` folder beside the modules", lt.table.name)),
            );
            return;
        };
        let n = lt.options.len();
        if table.header.len() < n {
            self.diags.push(
                Diagnostic::new(
                    Kind::LookupTableMismatch,
                    lt.table.span,
                    format!(
                        "lookup table `{}` has {} columns but the transition has {n} states",
                        table.name,
                        table.header.len()
                    ),
                )
                .label("too few columns"),
            );
            return;
        }
        let outcome = &table.header[table.header.len() - n..];
        let header_span = table.header[0].span.to(table.header[table.header.len() - 1].span);
        for o in &lt.options {
            if !outcome.iter().any(|c| c.text == o.to.name) {
                let d = Diagnostic::new(
                    Kind::LookupTableMismatch,
                    o.to.span,
                    format!("state `{}` is not one of the last {n} columns of `{}`", o.to.name, table.name),
                )
                .label("no column for this state")
                .secondary(header_span, "the table's columns")
                .suggest(&o.to.name, outcome.iter().map(|c| c.text.as_str()))
                .note("the last N columns of a lookup table are the N states of the transition, by name");
                self.diags.push(d);
            }
        }
        let options_matched = lt.options.iter().all(|o| outcome.iter().any(|c| c.text == o.to.name));
        for c in outcome.iter().filter(|_| options_matched) {
            if !lt.options.iter().any(|o| o.to.name == c.text) {
                self.diags.push(
                    Diagnostic::new(
                        Kind::LookupTableMismatch,
                        c.span,
                        format!("column `{}` of `{}` names no state of the transition", c.text, table.name),
                    )
                    .label("no option goes to this state")
                    .secondary(lt.table.span, "the table is used here"),
                );
            }
        }
        if checked_tables.insert(format!("{}#{n}", table.name)) {
            self.table_cells(table, n);
        }
    }

    fn table_cells(&mut self, table: &RawTable, n: usize) {
        let keys = table.header.len() - n;
        for row in &table.rows {
            let mut sum = 0.0;
            for (i, cell) in row.iter().enumerate() {
                let column = table.header[i].text.as_str();
                let bad = if i >= keys {
                    match cell.text.parse::<f64>() {
                        Ok(p) if (-EPSILON..=1.0 + EPSILON).contains(&p) => {
                            sum += p;
                            None
                        }
                        _ => Some("expected a probability between 0 and 1"),
                    }
                } else if column == "age" {
                    parse_age_range(&cell.text).is_none().then_some("expected an age range such as `18-64`")
                } else if column == "time" {
                    parse_time_range(&cell.text)
                        .is_none()
                        .then_some("expected a time range such as `2000-01-01-2009-12-31`")
                } else {
                    None
                };
                if let Some(label) = bad {
                    self.diags.push(
                        Diagnostic::new(
                            Kind::BadLookupTable,
                            cell.span,
                            format!("invalid `{column}` cell `{}`", cell.text),
                        )
                        .label(label),
                    );
                }
            }
            if sum > 1.0 + TABLE_ROUNDING {
                let span = row[keys].span.to(row[row.len() - 1].span);
                let d = Diagnostic::new(
                    Kind::WeightsAboveOne,
                    span,
                    format!("probabilities in this row sum to {}", round(sum)),
                )
                .label("above 1");
                self.diags.push(d.lenient(self.module.dialect));
            }
        }
    }

    /// A `target_encounter` names the Encounter state whose visit records the diagnosis. In a
    /// submodule that is often an Encounter of the calling module, or of a sibling submodule
    /// that opened the visit, so any Encounter state of the library will do there.
    fn target_encounter(&mut self, t: &StateRef) {
        if self.index.contains_key(t.name.as_str()) || !self.module.path.contains('/') {
            self.resolve_kind(t, "target_encounter", &["Encounter"]);
            return;
        }
        let elsewhere = self
            .set
            .modules
            .iter()
            .any(|m| m.states.iter().any(|s| s.name == t.name && matches!(s.kind, StateKind::Encounter { .. })));
        if !elsewhere {
            self.resolve_kind(t, "target_encounter", &["Encounter"]);
        }
    }

    fn reason(&mut self, reason: &Option<StateRef>) {
        let Some(r) = reason else { return };
        let elsewhere = || self.set.modules.iter().any(|m| m.states.iter().any(|s| s.name == r.name));
        if self.index.contains_key(r.name.as_str()) || self.assigned.contains(r.name.as_str()) || elsewhere() {
            return;
        }
        let d = Diagnostic::new(Kind::UnresolvedReason, r.span, format!("`reason` `{}` names no state and no attribute", r.name))
            .label("the record will carry no reason")
            .suggest(&r.name, self.state_names())
            .note("a reason is a state of this module (usually a ConditionOnset) or an attribute set with `assign_to_attribute`");
        self.diags.push(d.lenient(self.module.dialect));
    }

    fn target(&mut self, target: &Target, field: &str, expected: &[&str]) {
        if let Target::State(r) = target {
            self.resolve_kind(r, field, expected);
        }
    }

    fn state(&mut self, state: &'a State) {
        match &state.kind {
            StateKind::Guard { allow } => self.logic(allow),
            StateKind::CallSubmodule { submodule } if self.set.module(&submodule.name).is_none() => {
                let paths: Vec<&str> = self.set.modules.iter().map(|m| m.path.as_str()).collect();
                self.diags.push(
                    Diagnostic::new(
                        Kind::MissingSubmodule,
                        submodule.span,
                        format!("submodule `{}` does not exist", submodule.name),
                    )
                    .label("no module at this path")
                    .suggest(&submodule.name, paths)
                    .help("submodules are named by their path below the library root, without extension"),
                );
            }
            StateKind::Encounter { reason, .. }
            | StateKind::MedicationOrder { reason, .. }
            | StateKind::CarePlanStart { reason, .. }
            | StateKind::Procedure { reason, .. } => self.reason(reason),
            StateKind::ConditionOnset(o) | StateKind::AllergyOnset { onset: o, .. } => {
                if let Some(t) = &o.target_encounter {
                    self.target_encounter(t);
                }
            }
            StateKind::ConditionEnd(t) => self.target(t, "condition_onset", &["ConditionOnset"]),
            StateKind::AllergyEnd(t) => self.target(t, "allergy_onset", &["AllergyOnset"]),
            StateKind::MedicationEnd(t) => self.target(t, "medication_order", &["MedicationOrder"]),
            StateKind::CarePlanEnd(t) => self.target(t, "careplan", &["CarePlanStart"]),
            StateKind::DeviceEnd(t) => self.target(t, "device", &["Device"]),
            StateKind::Death { cause: Some(t), .. } => {
                self.target(t, "condition_onset", &["ConditionOnset", "AllergyOnset"])
            }
            _ => {}
        }
    }

    fn logic(&mut self, logic: &Logic) {
        match &logic.kind {
            LogicKind::And(cs) | LogicKind::Or(cs) => cs.iter().for_each(|c| self.logic(c)),
            LogicKind::AtLeast { conditions, .. } | LogicKind::AtMost { conditions, .. } => {
                conditions.iter().for_each(|c| self.logic(c));
            }
            LogicKind::Not(c) => self.logic(c),
            LogicKind::PriorState { name, since, .. } => {
                self.resolve(name, "PriorState `name`");
                if let Some(s) = since {
                    self.resolve(s, "PriorState `since`");
                }
            }
            _ => {}
        }
    }

    fn graph_checks(&mut self) {
        let module = self.module;
        let n = module.states.len();
        let edges = edges(module, &self.index);
        if let Some(&start) = self.index.get("Initial") {
            let mut seen = vec![false; n];
            let mut stack = vec![start];
            seen[start] = true;
            let mut adjacency = vec![Vec::new(); n];
            for &(a, b) in &edges {
                adjacency[a].push(b);
            }
            while let Some(i) = stack.pop() {
                for &j in &adjacency[i] {
                    if !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            for (i, state) in module.states.iter().enumerate() {
                if !seen[i] {
                    self.diags.push(
                        Diagnostic::new(
                            Kind::UnreachableState,
                            state.name_span,
                            format!("state `{}` is unreachable from `Initial`", state.name),
                        )
                        .label("no transition leads here")
                        .help("remove the state, or add a transition to it"),
                    );
                }
            }
        }
        // Cycles made only of states in which no time can pass.
        let mut graph: DiGraph<usize, ()> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..n).map(|i| graph.add_node(i)).collect();
        for &(a, b) in &edges {
            if !module.states[a].kind.can_wait() && !module.states[b].kind.can_wait() {
                graph.add_edge(nodes[a], nodes[b], ());
            }
        }
        for scc in petgraph::algo::tarjan_scc(&graph) {
            let looped = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
            if !looped {
                continue;
            }
            let mut members: Vec<usize> = scc.iter().map(|&ni| graph[ni]).collect();
            members.sort_unstable();
            let first = &module.states[members[0]];
            let names = members.iter().map(|&i| format!("`{}`", module.states[i].name)).collect::<Vec<_>>().join(" → ");
            let mut d = Diagnostic::new(
                Kind::ZeroTimeCycle,
                first.name_span,
                format!("states {names} form a cycle in which no time passes"),
            )
            .label("the cycle starts here")
            .help("add a `Delay` or a `Guard` to the cycle, or make sure a condition always leaves it");
            for &i in members.iter().skip(1).take(3) {
                d = d.secondary(module.states[i].name_span, "part of the cycle");
            }
            self.diags.push(d);
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
