//! Compilation: a validated [`ModuleSet`] becomes a [`compiled::Library`].
//!
//! `compile` first runs `validate`; only a set without errors is lowered. Lowering resolves
//! every state name to a graph node, every submodule path to a module id, interns attribute,
//! symptom and code names, and reorders lookup-table columns to match each transition. The
//! result holds no spans and no strings that the simulator would have to look up at run time.

use crate::ast;
use crate::compiled::*;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::load::ModuleSet;
use crate::lookup::{parse_age_range, parse_time_range};
use crate::validate::validate;
use petgraph::graph::{Graph, NodeIndex};
use std::collections::HashMap;

/// The outcome of compiling: the library if there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Compilation {
    pub library: Option<Library>,
    pub diagnostics: Diagnostics,
}

/// Validates the set and, if it holds no errors, compiles it.
pub fn compile(set: &ModuleSet) -> Compilation {
    let mut diagnostics = set.diagnostics.clone();
    diagnostics.extend(validate(set));
    diagnostics.sort();
    if diagnostics.has_errors() {
        return Compilation { library: None, diagnostics };
    }
    let mut lowering = Lowering { set, lib: Library::default(), code_ids: HashMap::new(), table_ids: HashMap::new() };
    match lowering.library() {
        Ok(()) => Compilation { library: Some(lowering.lib), diagnostics },
        Err(Internal(d)) => {
            diagnostics.push(*d);
            Compilation { library: None, diagnostics }
        }
    }
}

/// A failure of lowering after validation passed: a bug, reported as a diagnostic.
#[derive(Debug)]
struct Internal(Box<Diagnostic>);

impl From<Diagnostic> for Internal {
    fn from(d: Diagnostic) -> Internal {
        Internal(Box::new(d))
    }
}

type Result<T> = std::result::Result<T, Internal>;

struct Lowering<'a> {
    set: &'a ModuleSet,
    lib: Library,
    code_ids: HashMap<(String, String, String), CodeId>,
    table_ids: HashMap<(String, Vec<String>), TableId>,
}

/// Names of one module's states, resolved to graph nodes.
struct Scope<'a> {
    states: HashMap<&'a str, StateId>,
}

impl Scope<'_> {
    fn state(&self, r: &ast::StateRef) -> Result<StateId> {
        match self.states.get(r.name.as_str()) {
            Some(&id) => Ok(id),
            None => Err(Diagnostic::new(
                Kind::UndefinedState,
                r.span,
                format!("internal: unresolved state `{}` after validation", r.name),
            )
            .into()),
        }
    }
}

impl<'a> Lowering<'a> {
    fn library(&mut self) -> Result<()> {
        for module in &self.set.modules {
            let compiled = self.module(module)?;
            self.lib.modules.push(compiled);
        }
        Ok(())
    }

    fn module(&mut self, m: &'a ast::Module) -> Result<Module> {
        let scope =
            Scope { states: m.states.iter().enumerate().map(|(i, s)| (s.name.as_str(), NodeIndex::new(i))).collect() };
        let mut graph: Graph<State, EdgeLabel, petgraph::Directed, u32> =
            Graph::with_capacity(m.states.len(), m.states.len());
        let mut edges = Vec::new();
        for (i, s) in m.states.iter().enumerate() {
            let kind = self.state_kind(&m.name, &s.name, &s.kind, &scope)?;
            let transition = match &s.transition {
                Some(t) => self.transition(t, &scope)?,
                None => match &kind {
                    StateKind::Physiology { fallback } => Transition::Direct(*fallback),
                    _ => Transition::None,
                },
            };
            if let StateKind::Physiology { fallback } = &kind {
                edges.push((i, *fallback, EdgeLabel::Fallback));
            }
            if let Some(t) = &s.transition {
                for (target, label) in edge_labels(t) {
                    edges.push((i, scope.state(target)?, label));
                }
            }
            graph.add_node(State { name: s.name.clone(), kind, transition });
        }
        for (from, to, label) in edges {
            graph.add_edge(NodeIndex::new(from), to, label);
        }
        let initial = scope.states.get("Initial").copied().ok_or_else(|| {
            Diagnostic::new(Kind::MissingInitial, m.name_span, "internal: no `Initial` after validation")
        })?;
        Ok(Module {
            path: m.path.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
            tunable: m.tunable.clone(),
            top_level: !m.path.contains('/'),
            specialty: m.specialty.clone(),
            graph,
            initial,
        })
    }

    fn code(&mut self, c: &ast::Code) -> CodeId {
        let key = (c.system.clone(), c.code.clone(), c.display.clone());
        if let Some(&id) = self.code_ids.get(&key) {
            return id;
        }
        let id = CodeId(self.lib.codes.len() as u32);
        let code_key = self.lib.code_keys.intern(&c.code);
        self.lib.codes.push(CodeEntry {
            system: c.system.clone(),
            code: c.code.clone(),
            display: c.display.clone(),
            key: code_key,
        });
        self.code_ids.insert(key, id);
        id
    }

    fn codes(&mut self, cs: &[ast::Code]) -> Vec<CodeId> {
        cs.iter().map(|c| self.code(c)).collect()
    }

    fn attr(&mut self, name: &str) -> Symbol {
        self.lib.attributes.intern(name)
    }

    fn lit(&mut self, l: &ast::Literal) -> Lit {
        match l {
            ast::Literal::Null => Lit::Null,
            ast::Literal::Bool(b) => Lit::Bool(*b),
            ast::Literal::Number(n) => Lit::Num(*n),
            ast::Literal::Str(s) => Lit::Str(self.lib.strings.intern(s)),
        }
    }

    fn opt_attr(&mut self, name: &Option<String>) -> Option<Symbol> {
        name.as_deref().map(|n| self.attr(n))
    }

    fn prob(&mut self, w: &ast::Weight) -> Prob {
        match w {
            ast::Weight::Fixed(p) => Prob::Fixed(p.value),
            ast::Weight::Attribute { attribute, default } => {
                Prob::Attribute { attribute: self.attr(attribute), default: default.value }
            }
        }
    }

    fn weighted(&mut self, ws: &[ast::Weighted], scope: &Scope) -> Result<Vec<(Prob, StateId)>> {
        ws.iter().map(|w| Ok((self.prob(&w.weight), scope.state(&w.to)?))).collect()
    }

    fn transition(&mut self, t: &ast::Transition, scope: &Scope) -> Result<Transition> {
        Ok(match t {
            ast::Transition::Direct(to) => Transition::Direct(scope.state(to)?),
            ast::Transition::Distributed(ws) => Transition::Distributed(self.weighted(ws, scope)?),
            ast::Transition::Conditional(options) => Transition::Conditional(
                options
                    .iter()
                    .map(|o| Ok((o.condition.as_ref().map(|c| self.cond(c, scope)).transpose()?, scope.state(&o.to)?)))
                    .collect::<Result<_>>()?,
            ),
            ast::Transition::Complex(options) => Transition::Complex(
                options
                    .iter()
                    .map(|o| {
                        let cond = o.condition.as_ref().map(|c| self.cond(c, scope)).transpose()?;
                        let then = match &o.then {
                            ast::ComplexTarget::Direct(to) => ComplexThen::Direct(scope.state(to)?),
                            ast::ComplexTarget::Distributed(ws) => ComplexThen::Distributed(self.weighted(ws, scope)?),
                        };
                        Ok((cond, then))
                    })
                    .collect::<Result<_>>()?,
            ),
            ast::Transition::LookupTable(lt) => {
                let options = lt.options.iter().map(|o| scope.state(&o.to)).collect::<Result<Vec<_>>>()?;
                let defaults = lt.options.iter().map(|o| o.default_probability.value).collect();
                let table = self.table(lt)?;
                Transition::Lookup { table, options, defaults }
            }
            ast::Transition::TypeOfCare { ambulatory, emergency, telemedicine } => Transition::TypeOfCare {
                ambulatory: scope.state(ambulatory)?,
                emergency: scope.state(emergency)?,
                telemedicine: scope.state(telemedicine)?,
            },
        })
    }

    fn table(&mut self, lt: &ast::LookupTransition) -> Result<TableId> {
        let names: Vec<String> = lt.options.iter().map(|o| o.to.name.clone()).collect();
        let cache_key = (lt.table.name.clone(), names.clone());
        if let Some(&id) = self.table_ids.get(&cache_key) {
            return Ok(id);
        }
        let raw = self.set.tables.get(&lt.table.name).ok_or_else(|| {
            Diagnostic::new(Kind::MissingLookupTable, lt.table.span, "internal: missing lookup table after validation")
        })?;
        let keys = raw.header.len() - names.len();
        let columns: Vec<KeyColumn> = raw.header[..keys]
            .iter()
            .map(|c| match c.text.as_str() {
                "age" => KeyColumn::Age,
                "time" => KeyColumn::Time,
                other => KeyColumn::Attribute(self.attr(other)),
            })
            .collect();
        let order: Vec<usize> =
            names.iter().map(|n| raw.header.iter().rposition(|c| &c.text == n).unwrap_or(keys)).collect();
        let mut rows = Vec::with_capacity(raw.rows.len());
        for row in &raw.rows {
            let key_cells = row[..keys]
                .iter()
                .zip(&columns)
                .map(|(cell, col)| match col {
                    KeyColumn::Age => parse_age_range(&cell.text).map(|(low, high)| Key::Age { low, high }),
                    KeyColumn::Time => parse_time_range(&cell.text).map(|(low, high)| Key::Time { low, high }),
                    KeyColumn::Attribute(_) => Some(Key::Text {
                        text: self.lib.strings.intern(&cell.text),
                        number: cell.text.parse().ok(),
                        boolean: cell.text.parse().ok(),
                    }),
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Diagnostic::new(Kind::BadLookupTable, row[0].span, "internal: bad key cell after validation")
                })?;
            let probabilities = order.iter().map(|&i| row[i].text.parse::<f64>().unwrap_or(0.0)).collect();
            rows.push(TableRow { keys: key_cells, probabilities });
        }
        let id = TableId(self.lib.tables.len() as u32);
        let index = build_index(&columns, &rows);
        self.lib.tables.push(Table { name: raw.name.clone(), columns, rows, index });
        self.table_ids.insert(cache_key, id);
        Ok(id)
    }

    fn target(&mut self, t: &ast::Target, scope: &Scope) -> Result<Target> {
        Ok(match t {
            // A dangling name passed validation only in Synthea's dialect, where it ends nothing.
            ast::Target::State(r) => match scope.states.get(r.name.as_str()) {
                Some(&id) => Target::State(id),
                None => Target::Codes(Vec::new()),
            },
            ast::Target::Attribute(a) => Target::Attribute(self.attr(a)),
            ast::Target::Codes(cs) => Target::Codes(self.codes(cs)),
        })
    }

    fn reason(&mut self, r: &Option<ast::StateRef>, scope: &Scope) -> Option<Reason> {
        let r = r.as_ref()?;
        Some(Reason {
            attribute: self.attr(&r.name),
            entry_name: self.lib.state_names.intern(&r.name),
            own_state: scope.states.get(r.name.as_str()).copied(),
        })
    }

    fn obs_spec(&mut self, o: &ast::ObservationSpec) -> ObservationSpec {
        let source = match &o.source {
            ast::ObservationSource::Amount(a) => {
                let decimals = match a {
                    ast::Amount::Range { decimals, .. } => *decimals,
                    _ => None,
                };
                ObsSource::Amount { amount: a.clone(), decimals }
            }
            ast::ObservationSource::Text(t) => ObsSource::Text(t.clone()),
            ast::ObservationSource::Attribute(a) => ObsSource::Attribute(self.attr(a)),
            ast::ObservationSource::VitalSign(v) => ObsSource::VitalSign(*v),
            ast::ObservationSource::Code(c) => ObsSource::Code(self.code(c)),
            ast::ObservationSource::SampledData(attrs) => {
                ObsSource::SampledData(attrs.iter().map(|a| self.attr(a)).collect())
            }
            ast::ObservationSource::Attachment => ObsSource::Attachment,
            ast::ObservationSource::Nothing => ObsSource::Nothing,
        };
        ObservationSpec { codes: self.codes(&o.codes), category: o.category.clone(), unit: o.unit.clone(), source }
    }

    fn onset(&mut self, o: &ast::Onset) -> Result<Onset> {
        Ok(Onset {
            codes: self.codes(&o.codes),
            target_encounter: o.target_encounter.as_ref().map(|t| self.lib.state_names.intern(&t.name)),
            assign_to_attribute: self.opt_attr(&o.assign_to_attribute),
        })
    }

    fn state_kind(&mut self, module_name: &str, name: &str, k: &ast::StateKind, scope: &Scope) -> Result<StateKind> {
        use ast::StateKind as A;
        Ok(match k {
            A::Initial => StateKind::Initial,
            A::Terminal => StateKind::Terminal,
            A::Simple => StateKind::Simple,
            A::Guard { allow } => StateKind::Guard { allow: self.cond(allow, scope)? },
            A::Delay { duration } => StateKind::Delay { duration: duration.clone() },
            A::SetAttribute { attribute, value } => {
                let value = match value {
                    ast::SetValue::Remove => SetValue::Remove,
                    ast::SetValue::Literal(l) => SetValue::Literal(self.lit(l)),
                    ast::SetValue::Range { low, high, decimals } => {
                        SetValue::Range { low: *low, high: *high, decimals: *decimals }
                    }
                    ast::SetValue::Distribution(d) => SetValue::Distribution(d.clone()),
                    ast::SetValue::Code(c) => SetValue::Code(self.code(c)),
                    ast::SetValue::CopyAttribute(a) => SetValue::CopyAttribute(self.attr(a)),
                    ast::SetValue::Series { values, period } => {
                        SetValue::Series { values: values.clone(), period: *period }
                    }
                };
                StateKind::SetAttribute { attribute: self.attr(attribute), value }
            }
            A::Counter { attribute, increment, amount } => {
                StateKind::Counter { attribute: self.attr(attribute), increment: *increment, amount: *amount }
            }
            A::CallSubmodule { submodule } => {
                let index =
                    self.set.modules.binary_search_by(|m| m.path.as_str().cmp(&submodule.name)).map_err(|_| {
                        Diagnostic::new(
                            Kind::MissingSubmodule,
                            submodule.span,
                            "internal: missing submodule after validation",
                        )
                    })?;
                StateKind::CallSubmodule { submodule: ModuleId(index as u32) }
            }
            A::Encounter { wellness, class, codes, reason, telemedicine } => StateKind::Encounter {
                name: self.lib.state_names.intern(name),
                wellness: *wellness,
                class: *class,
                codes: self.codes(codes),
                reason: self.reason(reason, scope),
                telemedicine: *telemedicine,
            },
            A::EncounterEnd { discharge_disposition } => {
                StateKind::EncounterEnd { discharge_disposition: discharge_disposition.as_ref().map(|c| self.code(c)) }
            }
            A::ConditionOnset(o) => StateKind::ConditionOnset(self.onset(o)?),
            A::AllergyOnset { onset, allergy_type, category, reactions } => StateKind::AllergyOnset {
                onset: self.onset(onset)?,
                allergy_type: *allergy_type,
                category: category.clone(),
                reactions: reactions
                    .iter()
                    .map(|r| Reaction { reaction: self.code(&r.reaction), severities: r.severities.clone() })
                    .collect(),
            },
            A::ConditionEnd(t) => StateKind::ConditionEnd(self.target(t, scope)?),
            A::AllergyEnd(t) => StateKind::AllergyEnd(self.target(t, scope)?),
            A::MedicationEnd(t) => StateKind::MedicationEnd(self.target(t, scope)?),
            A::CarePlanEnd(t) => StateKind::CarePlanEnd(self.target(t, scope)?),
            A::DeviceEnd(t) => StateKind::DeviceEnd(self.target(t, scope)?),
            A::MedicationOrder { codes, reason, prescription, administration, chronic, assign_to_attribute } => {
                StateKind::MedicationOrder {
                    codes: self.codes(codes),
                    reason: self.reason(reason, scope),
                    prescription: prescription.as_ref().map(|p| Prescription {
                        as_needed: p.as_needed,
                        refills: p.refills,
                        dosage: p.dosage.clone(),
                        duration: p.duration,
                        instructions: self.codes(&p.instructions),
                    }),
                    administration: *administration,
                    chronic: *chronic,
                    assign_to_attribute: self.opt_attr(assign_to_attribute),
                }
            }
            A::CarePlanStart { codes, activities, goals, reason, assign_to_attribute } => StateKind::CarePlanStart {
                codes: self.codes(codes),
                activities: self.codes(activities),
                goals: goals
                    .iter()
                    .map(|g| Goal {
                        addresses: g.addresses.clone(),
                        text: g.text.clone(),
                        observation: g.observation.as_ref().map(|(cs, op, v)| (self.codes(cs), *op, *v)),
                    })
                    .collect(),
                reason: self.reason(reason, scope),
                assign_to_attribute: self.opt_attr(assign_to_attribute),
            },
            A::Procedure { codes, reason, duration, assign_to_attribute } => StateKind::Procedure {
                codes: self.codes(codes),
                reason: self.reason(reason, scope),
                duration: duration.clone(),
                assign_to_attribute: self.opt_attr(assign_to_attribute),
            },
            A::VitalSign { vital_sign, unit, amount } => {
                StateKind::VitalSign { vital_sign: *vital_sign, unit: unit.clone(), amount: amount.clone() }
            }
            A::Observation(o) => StateKind::Observation(self.obs_spec(o)),
            A::MultiObservation { codes, category, observations } => StateKind::MultiObservation {
                codes: self.codes(codes),
                category: category.clone(),
                observations: observations.iter().map(|o| self.obs_spec(o)).collect(),
            },
            A::DiagnosticReport { codes, observations } => StateKind::DiagnosticReport {
                codes: self.codes(codes),
                observations: observations.iter().map(|o| self.obs_spec(o)).collect(),
            },
            A::ImagingStudy { procedure_code, series, min_series, max_series } => StateKind::ImagingStudy {
                procedure_code: self.code(procedure_code),
                series: series
                    .iter()
                    .map(|s| Series {
                        body_site: self.code(&s.body_site),
                        modality: self.code(&s.modality),
                        instances: s.instances.iter().map(|i| (i.title.clone(), self.code(&i.sop_class))).collect(),
                        min_instances: s.min_instances,
                        max_instances: s.max_instances,
                    })
                    .collect(),
                min_series: *min_series,
                max_series: *max_series,
            },
            A::Device { code, manufacturer, model, assign_to_attribute } => StateKind::Device {
                code: self.code(code),
                manufacturer: manufacturer.clone(),
                model: model.clone(),
                assign_to_attribute: self.opt_attr(assign_to_attribute),
            },
            A::SupplyList { supplies } => {
                StateKind::SupplyList { supplies: supplies.iter().map(|(c, q)| (self.code(c), *q)).collect() }
            }
            A::Symptom { symptom, cause, probability, amount } => StateKind::Symptom {
                symptom: self.lib.symptoms.intern(symptom),
                cause: self.lib.strings.intern(cause.as_deref().unwrap_or(module_name)),
                probability: *probability,
                amount: amount.clone(),
            },
            A::Death { cause, delay } => StateKind::Death {
                cause: cause.as_ref().map(|t| self.target(t, scope)).transpose()?,
                delay: delay.clone(),
            },
            A::Vaccine { codes, series } => StateKind::Vaccine { codes: self.codes(codes), series: *series },
            A::Physiology { alt_direct_transition } => {
                StateKind::Physiology { fallback: scope.state(alt_direct_transition)? }
            }
            A::Broken(_) => {
                return Err(
                    Diagnostic::unlocated(Kind::WrongType, format!("internal: state `{name}` had errors")).into()
                );
            }
        })
    }

    fn cond(&mut self, l: &ast::Logic, scope: &Scope) -> Result<Cond> {
        use ast::LogicKind as L;
        let all =
            |this: &mut Self, cs: &[ast::Logic]| cs.iter().map(|c| this.cond(c, scope)).collect::<Result<Vec<_>>>();
        Ok(match &l.kind {
            L::And(cs) => Cond::And(all(self, cs)?),
            L::Or(cs) => Cond::Or(all(self, cs)?),
            L::Not(c) => Cond::Not(Box::new(self.cond(c, scope)?)),
            L::AtLeast { minimum, conditions } => Cond::AtLeast(*minimum, all(self, conditions)?),
            L::AtMost { maximum, conditions } => Cond::AtMost(*maximum, all(self, conditions)?),
            L::True => Cond::True,
            L::False => Cond::False,
            L::Gender(s) => Cond::Gender(*s),
            L::Age { operator, quantity, unit } => Cond::Age { operator: *operator, quantity: *quantity, unit: *unit },
            L::Date { operator, date } => Cond::Date { operator: *operator, date: date.clone() },
            L::SocioeconomicStatus(c) => Cond::SocioeconomicStatus(*c),
            L::Race(r) => Cond::Race(r.to_lowercase()),
            L::Symptom { symptom, operator, value } => {
                Cond::Symptom { symptom: self.lib.symptoms.intern(symptom), operator: *operator, value: *value }
            }
            L::Observation { target, operator, value } => Cond::Observation {
                target: self.target(target, scope)?,
                operator: *operator,
                value: value.as_ref().map(|v| match v {
                    ast::ObservationValue::Literal(l) => ObsValue::Literal(self.lit(l)),
                    ast::ObservationValue::Code(c) => ObsValue::Code(self.code(c)),
                }),
            },
            L::VitalSign { vital_sign, operator, value } => {
                Cond::VitalSign { vital_sign: *vital_sign, operator: *operator, value: *value }
            }
            L::ActiveCondition(t) => Cond::ActiveCondition(self.target(t, scope)?),
            L::ActiveMedication(t) => Cond::ActiveMedication(self.target(t, scope)?),
            L::ActiveCarePlan(t) => Cond::ActiveCarePlan(self.target(t, scope)?),
            L::ActiveAllergy(t) => Cond::ActiveAllergy(self.target(t, scope)?),
            L::PriorState { name, since, within } => Cond::PriorState {
                state: scope.state(name)?,
                since: since.as_ref().map(|s| scope.state(s)).transpose()?,
                within_ms: within.map(|(q, unit)| (q * unit.millis()) as i64),
            },
            L::Attribute { attribute, operator, value } => {
                Cond::Attribute { attribute: self.attr(attribute), operator: *operator, value: self.lit(value) }
            }
        })
    }
}

/// Indexes a table on its most selective key column.
fn build_index(columns: &[KeyColumn], rows: &[TableRow]) -> TableIndex {
    const MAX_AGE: usize = 130;
    let mut best: Option<(usize, TableIndex)> = None;
    for (c, col) in columns.iter().enumerate() {
        let (buckets, index) = match col {
            KeyColumn::Age => {
                let mut by_year = vec![Vec::new(); MAX_AGE + 1];
                for (r, row) in rows.iter().enumerate() {
                    if let Key::Age { low, high } = row.keys[c] {
                        for bucket in &mut by_year[(low as usize).min(MAX_AGE)..=(high as usize).min(MAX_AGE)] {
                            bucket.push(r as u32);
                        }
                    }
                }
                let largest = by_year.iter().map(Vec::len).max().unwrap_or(0);
                (rows.len() / largest.max(1), TableIndex::Age { column: c, by_year })
            }
            KeyColumn::Time => {
                let mut ranges: Vec<(i64, i64, u32)> = rows
                    .iter()
                    .enumerate()
                    .filter_map(|(r, row)| match row.keys[c] {
                        Key::Time { low, high } => Some((low, high, r as u32)),
                        _ => None,
                    })
                    .collect();
                ranges.sort_by_key(|&(low, _, r)| (low, r));
                let disjoint = ranges.windows(2).all(|w| w[0].1 < w[1].0);
                if !disjoint {
                    continue;
                }
                (ranges.len(), TableIndex::Time { column: c, ranges })
            }
            KeyColumn::Attribute(_) => {
                let mut by_value: HashMap<Symbol, Vec<u32>> = HashMap::new();
                for (r, row) in rows.iter().enumerate() {
                    if let Key::Text { text, .. } = row.keys[c] {
                        by_value.entry(text).or_default().push(r as u32);
                    }
                }
                let largest = by_value.values().map(Vec::len).max().unwrap_or(0);
                (rows.len() / largest.max(1), TableIndex::Text { column: c, by_value })
            }
        };
        if best.as_ref().is_none_or(|(b, _)| buckets > *b) {
            best = Some((buckets, index));
        }
    }
    match best {
        Some((buckets, index)) if buckets > 1 => index,
        _ => TableIndex::Scan,
    }
}

/// The labelled edges a transition contributes to the module graph.
fn edge_labels(t: &ast::Transition) -> Vec<(&ast::StateRef, EdgeLabel)> {
    match t {
        ast::Transition::Direct(to) => vec![(to, EdgeLabel::Direct)],
        ast::Transition::Distributed(ws) => weighted_labels(ws, None),
        ast::Transition::Conditional(options) => options
            .iter()
            .map(|o| {
                (
                    &o.to,
                    o.condition
                        .as_ref()
                        .map_or(EdgeLabel::Condition("otherwise".into()), |c| EdgeLabel::Condition(describe(c))),
                )
            })
            .collect(),
        ast::Transition::Complex(options) => options
            .iter()
            .flat_map(|o| {
                let c = o.condition.as_ref().map_or_else(|| "otherwise".to_owned(), describe);
                match &o.then {
                    ast::ComplexTarget::Direct(to) => vec![(to, EdgeLabel::Condition(c))],
                    ast::ComplexTarget::Distributed(ws) => weighted_labels(ws, Some(c)),
                }
            })
            .collect(),
        ast::Transition::LookupTable(lt) => lt.options.iter().map(|o| (&o.to, EdgeLabel::Lookup)).collect(),
        ast::Transition::TypeOfCare { ambulatory, emergency, telemedicine } => vec![
            (ambulatory, EdgeLabel::TypeOfCare("ambulatory")),
            (emergency, EdgeLabel::TypeOfCare("emergency")),
            (telemedicine, EdgeLabel::TypeOfCare("telemedicine")),
        ],
    }
}

fn weighted_labels(ws: &[ast::Weighted], condition: Option<String>) -> Vec<(&ast::StateRef, EdgeLabel)> {
    ws.iter()
        .map(|w| {
            let label = match (&w.weight, &condition) {
                (ast::Weight::Fixed(p), None) => EdgeLabel::Probability(p.value),
                (ast::Weight::Fixed(p), Some(c)) => EdgeLabel::Condition(format!("{c}: {}", percent(p.value))),
                (ast::Weight::Attribute { attribute, .. }, _) => EdgeLabel::Attribute(attribute.clone()),
            };
            (&w.to, label)
        })
        .collect()
}

fn percent(p: f64) -> String {
    let v = (p * 1000.0).round() / 10.0;
    format!("{v}%")
}

fn literal(l: &ast::Literal) -> String {
    match l {
        ast::Literal::Null => "nil".into(),
        ast::Literal::Bool(b) => b.to_string(),
        ast::Literal::Number(n) => n.to_string(),
        ast::Literal::Str(s) => format!("'{s}'"),
    }
}

fn target(t: &ast::Target) -> String {
    match t {
        ast::Target::State(r) => r.name.clone(),
        ast::Target::Attribute(a) => format!("@{a}"),
        ast::Target::Codes(cs) => cs.first().map_or_else(String::new, |c| c.display.clone()),
    }
}

/// A short human-readable form of a condition, for graph edge labels.
pub fn describe(l: &ast::Logic) -> String {
    use ast::LogicKind as L;
    let join = |cs: &[ast::Logic], sep: &str| cs.iter().map(describe).collect::<Vec<_>>().join(sep);
    match &l.kind {
        L::And(cs) => format!("({})", join(cs, " and ")),
        L::Or(cs) => format!("({})", join(cs, " or ")),
        L::Not(c) => format!("not {}", describe(c)),
        L::AtLeast { minimum, conditions } => format!("at least {minimum} of ({})", join(conditions, ", ")),
        L::AtMost { maximum, conditions } => format!("at most {maximum} of ({})", join(conditions, ", ")),
        L::True => "true".into(),
        L::False => "false".into(),
        L::Gender(s) => format!("gender = {}", s.as_str()),
        L::Age { operator, quantity, unit } => format!("age {} {quantity} {}", operator.as_str(), unit.as_str()),
        L::Date { operator, date } => match date {
            ast::DateSpec::Year(y) => format!("year {} {y}", operator.as_str()),
            ast::DateSpec::Month(m) => format!("month {} {m}", operator.as_str()),
            ast::DateSpec::Instant(ms) => format!("date {} {ms}", operator.as_str()),
        },
        L::SocioeconomicStatus(c) => format!("SES = {}", c.as_str()),
        L::Race(r) => format!("race = {r}"),
        L::Symptom { symptom, operator, value } => format!("{symptom} {} {value}", operator.as_str()),
        L::Observation { target: t, operator, value } => {
            let v = match value {
                Some(ast::ObservationValue::Literal(l)) => literal(l),
                Some(ast::ObservationValue::Code(c)) => c.display.clone(),
                None => String::new(),
            };
            format!("obs {} {} {v}", target(t), operator.as_str()).trim_end().to_owned()
        }
        L::VitalSign { vital_sign, operator, value } => {
            format!("{} {} {value}", vital_sign.as_str(), operator.as_str())
        }
        L::ActiveCondition(t) => format!("active condition {}", target(t)),
        L::ActiveMedication(t) => format!("active medication {}", target(t)),
        L::ActiveCarePlan(t) => format!("active careplan {}", target(t)),
        L::ActiveAllergy(t) => format!("active allergy {}", target(t)),
        L::PriorState { name, within, .. } => match within {
            Some((q, u)) => format!("visited {} within {q} {}", name.name, u.as_str()),
            None => format!("visited {}", name.name),
        },
        L::Attribute { attribute, operator, value } => format!("{attribute} {} {}", operator.as_str(), literal(value)),
    }
}
