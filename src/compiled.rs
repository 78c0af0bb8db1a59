//! The compiled form of a module library: what the simulator runs.
//!
//! Each module is a petgraph [`Graph`] whose nodes are [`State`]s and whose edges are the
//! possible transitions. Every name is resolved: states are [`StateId`]s (graph node
//! indices), submodules are [`ModuleId`]s, attribute names are interned [`Symbol`]s, codes are
//! [`CodeId`]s into one table, lookup tables are [`TableId`]s with their columns already in the
//! transition's order. Leaf values that need no resolution (amounts, distributions, durations)
//! are shared with `ast`.
//!
//! Architecture invariant: compiled modules are plain data. A calibration overlay edits the
//! numbers in place (addressed by module, state and field) before a run; nothing here holds
//! per-patient state.

use crate::ast::{
    AllergyType, Amount, DateSpec, Distribution, Dosage, Duration, EncounterClass, Operator, SesCategory, Severity,
    Sex, Telemedicine, TimeUnit, VitalSign,
};
use petgraph::graph::{Graph, NodeIndex};
use std::collections::HashMap;

/// A state of a module: a node of its graph.
pub type StateId = NodeIndex<u32>;

/// Index of a module in [`Library::modules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u32);

/// An interned attribute (or symptom) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(pub u32);

/// Index of a code in [`Library::codes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeId(pub u32);

/// Index of a compiled lookup table in [`Library::tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub u32);

/// Interned names, numbered in order of first appearance (deterministic for a given library).
#[derive(Debug, Default, Clone)]
pub struct Interner {
    names: Vec<String>,
    map: HashMap<String, Symbol>,
}

impl Interner {
    pub fn intern(&mut self, name: &str) -> Symbol {
        if let Some(&s) = self.map.get(name) {
            return s;
        }
        let s = Symbol(u32::try_from(self.names.len()).expect("fewer than 2^32 names"));
        self.names.push(name.to_owned());
        self.map.insert(name.to_owned(), s);
        s
    }

    pub fn get(&self, name: &str) -> Option<Symbol> {
        self.map.get(name).copied()
    }

    pub fn name(&self, s: Symbol) -> &str {
        &self.names[s.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A code and the key under which the record's "present" map files it (its code string).
#[derive(Debug, Clone)]
pub struct CodeEntry {
    pub system: String,
    pub code: String,
    pub display: String,
    pub key: Symbol,
}

/// A whole compiled library.
#[derive(Debug, Default)]
pub struct Library {
    /// Modules sorted by path (the order in which they run for each patient).
    pub modules: Vec<Module>,
    /// Attribute names.
    pub attributes: Interner,
    /// Symptom names.
    pub symptoms: Interner,
    /// State names, as given to the visits and entries those states create: what
    /// `target_encounter` and `reason` compare against at run time.
    pub state_names: Interner,
    /// Text values of attributes (literals in modules, and the clinical core's values).
    pub strings: Interner,
    /// Code strings: the keys of the "present" map.
    pub code_keys: Interner,
    pub codes: Vec<CodeEntry>,
    pub tables: Vec<Table>,
}

impl Library {
    pub fn module_by_path(&self, path: &str) -> Option<ModuleId> {
        self.modules.binary_search_by(|m| m.path.as_str().cmp(path)).ok().map(|i| ModuleId(i as u32))
    }

    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.0 as usize]
    }

    pub fn code(&self, id: CodeId) -> &CodeEntry {
        &self.codes[id.0 as usize]
    }

    /// Top-level modules (not submodules), in run order.
    pub fn top_level(&self) -> impl Iterator<Item = (ModuleId, &Module)> {
        self.modules.iter().enumerate().filter(|(_, m)| m.top_level).map(|(i, m)| (ModuleId(i as u32), m))
    }

    /// Total number of states over all modules.
    pub fn state_count(&self) -> usize {
        self.modules.iter().map(|m| m.graph.node_count()).sum()
    }
}

/// What an edge of a module graph stands for, for rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum EdgeLabel {
    Direct,
    Probability(f64),
    /// Probability read from an attribute at run time.
    Attribute(String),
    Condition(String),
    Lookup,
    TypeOfCare(&'static str),
    /// Physiology's fallback.
    Fallback,
}

#[derive(Debug)]
pub struct Module {
    pub path: String,
    pub name: String,
    pub description: Option<String>,
    /// Files directly at the library root run for every patient; the others are submodules.
    pub top_level: bool,
    pub specialty: Option<String>,
    /// Tunable probability groups (ehrsim extension, see `ast::Tunable`).
    pub tunable: Vec<crate::ast::Tunable>,
    pub graph: Graph<State, EdgeLabel, petgraph::Directed, u32>,
    pub initial: StateId,
}

impl Module {
    pub fn state(&self, id: StateId) -> &State {
        &self.graph[id]
    }

    pub fn state_by_name(&self, name: &str) -> Option<StateId> {
        self.graph.node_indices().find(|&i| self.graph[i].name == name)
    }
}

#[derive(Debug)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    pub transition: Transition,
}

/// A literal value in a compiled module; text is interned in [`Library::strings`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Num(f64),
    Str(Symbol),
}

/// A probability: fixed, or read from an attribute with a default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prob {
    Fixed(f64),
    Attribute { attribute: Symbol, default: f64 },
}

#[derive(Debug)]
pub enum Transition {
    /// Terminal states.
    None,
    Direct(StateId),
    Distributed(Vec<(Prob, StateId)>),
    Conditional(Vec<(Option<Cond>, StateId)>),
    Complex(Vec<(Option<Cond>, ComplexThen)>),
    Lookup {
        table: TableId,
        options: Vec<StateId>,
        defaults: Vec<f64>,
    },
    TypeOfCare {
        ambulatory: StateId,
        emergency: StateId,
        telemedicine: StateId,
    },
}

#[derive(Debug)]
pub enum ComplexThen {
    Direct(StateId),
    Distributed(Vec<(Prob, StateId)>),
}

/// A compiled condition.
#[derive(Debug)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    AtLeast(u32, Vec<Cond>),
    AtMost(u32, Vec<Cond>),
    True,
    False,
    Gender(Sex),
    Age {
        operator: Operator,
        quantity: f64,
        unit: TimeUnit,
    },
    Date {
        operator: Operator,
        date: DateSpec,
    },
    SocioeconomicStatus(SesCategory),
    /// Lower-cased race name.
    Race(String),
    Symptom {
        symptom: Symbol,
        operator: Operator,
        value: f64,
    },
    Observation {
        target: Target,
        operator: Operator,
        value: Option<ObsValue>,
    },
    VitalSign {
        vital_sign: VitalSign,
        operator: Operator,
        value: f64,
    },
    ActiveCondition(Target),
    ActiveMedication(Target),
    ActiveCarePlan(Target),
    ActiveAllergy(Target),
    PriorState {
        state: StateId,
        since: Option<StateId>,
        within_ms: Option<i64>,
    },
    Attribute {
        attribute: Symbol,
        operator: Operator,
        value: Lit,
    },
}

#[derive(Debug, Clone)]
pub enum ObsValue {
    Literal(Lit),
    Code(CodeId),
}

/// What a state or condition refers to: the entry a state created, an attribute holding an
/// entry, or codes.
#[derive(Debug, Clone)]
pub enum Target {
    State(StateId),
    Attribute(Symbol),
    Codes(Vec<CodeId>),
}

/// Where an Observation's value comes from.
#[derive(Debug, Clone)]
pub enum ObsSource {
    Amount { amount: Amount, decimals: Option<u32> },
    Text(String),
    Attribute(Symbol),
    VitalSign(VitalSign),
    Code(CodeId),
    SampledData(Vec<Symbol>),
    Attachment,
    Nothing,
}

#[derive(Debug, Clone)]
pub struct ObservationSpec {
    pub codes: Vec<CodeId>,
    pub category: Option<String>,
    pub unit: Option<String>,
    pub source: ObsSource,
}

#[derive(Debug, Clone)]
pub enum SetValue {
    Remove,
    Literal(Lit),
    Range { low: f64, high: f64, decimals: Option<u32> },
    Distribution(Distribution),
    Code(CodeId),
    CopyAttribute(Symbol),
    Series { values: Vec<f64>, period: f64 },
}

#[derive(Debug, Clone)]
pub struct Prescription {
    pub as_needed: bool,
    pub refills: u32,
    pub dosage: Option<Dosage>,
    pub duration: Option<(f64, TimeUnit)>,
    pub instructions: Vec<CodeId>,
}

#[derive(Debug, Clone)]
pub struct Goal {
    pub addresses: Vec<String>,
    pub text: Option<String>,
    pub observation: Option<(Vec<CodeId>, Operator, f64)>,
}

#[derive(Debug, Clone)]
pub struct Reaction {
    pub reaction: CodeId,
    pub severities: Vec<(Severity, f64)>,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub body_site: CodeId,
    pub modality: CodeId,
    pub instances: Vec<(String, CodeId)>,
    pub min_instances: Option<u32>,
    pub max_instances: Option<u32>,
}

/// Why an entry was made, resolved at run time in Synthea's order: an attribute holding an
/// entry or code; else the active entries created by a state of that name (in any module);
/// else the codes of this module's onset state of that name.
#[derive(Debug, Clone)]
pub struct Reason {
    pub attribute: Symbol,
    pub entry_name: Symbol,
    pub own_state: Option<StateId>,
}

#[derive(Debug, Clone)]
pub struct Onset {
    pub codes: Vec<CodeId>,
    /// Name of the Encounter state (of this or a calling module) whose visit records it, in
    /// [`Library::state_names`].
    pub target_encounter: Option<Symbol>,
    pub assign_to_attribute: Option<Symbol>,
}

#[derive(Debug)]
pub enum StateKind {
    Initial,
    Terminal,
    Simple,
    Guard {
        allow: Cond,
    },
    Delay {
        duration: Duration,
    },
    SetAttribute {
        attribute: Symbol,
        value: SetValue,
    },
    Counter {
        attribute: Symbol,
        increment: bool,
        amount: f64,
    },
    CallSubmodule {
        submodule: ModuleId,
    },
    Encounter {
        /// This state's name, given to the visit it opens.
        name: Symbol,
        wellness: bool,
        class: Option<EncounterClass>,
        codes: Vec<CodeId>,
        reason: Option<Reason>,
        telemedicine: Telemedicine,
    },
    EncounterEnd {
        discharge_disposition: Option<CodeId>,
    },
    ConditionOnset(Onset),
    AllergyOnset {
        onset: Onset,
        allergy_type: AllergyType,
        category: String,
        reactions: Vec<Reaction>,
    },
    ConditionEnd(Target),
    AllergyEnd(Target),
    MedicationOrder {
        codes: Vec<CodeId>,
        reason: Option<Reason>,
        prescription: Option<Prescription>,
        administration: bool,
        chronic: bool,
        assign_to_attribute: Option<Symbol>,
    },
    MedicationEnd(Target),
    CarePlanStart {
        codes: Vec<CodeId>,
        activities: Vec<CodeId>,
        goals: Vec<Goal>,
        reason: Option<Reason>,
        assign_to_attribute: Option<Symbol>,
    },
    CarePlanEnd(Target),
    Procedure {
        codes: Vec<CodeId>,
        reason: Option<Reason>,
        duration: Option<Duration>,
        assign_to_attribute: Option<Symbol>,
    },
    VitalSign {
        vital_sign: VitalSign,
        unit: String,
        amount: Amount,
    },
    Observation(ObservationSpec),
    MultiObservation {
        codes: Vec<CodeId>,
        category: Option<String>,
        observations: Vec<ObservationSpec>,
    },
    DiagnosticReport {
        codes: Vec<CodeId>,
        observations: Vec<ObservationSpec>,
    },
    ImagingStudy {
        procedure_code: CodeId,
        series: Vec<Series>,
        min_series: Option<u32>,
        max_series: Option<u32>,
    },
    Device {
        code: CodeId,
        manufacturer: Option<String>,
        model: Option<String>,
        assign_to_attribute: Option<Symbol>,
    },
    DeviceEnd(Target),
    SupplyList {
        supplies: Vec<(CodeId, u32)>,
    },
    /// `cause` (default: the module's name) is interned in [`Library::strings`].
    Symptom {
        symptom: Symbol,
        cause: Symbol,
        probability: f64,
        amount: Amount,
    },
    Death {
        cause: Option<Target>,
        delay: Option<Duration>,
    },
    Vaccine {
        codes: Vec<CodeId>,
        series: u32,
    },
    /// Physiology is not simulated: the state passes straight on to this fallback.
    Physiology {
        fallback: StateId,
    },
}

impl StateKind {
    /// The `type` spelling of this state kind.
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Initial => "Initial",
            StateKind::Terminal => "Terminal",
            StateKind::Simple => "Simple",
            StateKind::Guard { .. } => "Guard",
            StateKind::Delay { .. } => "Delay",
            StateKind::SetAttribute { .. } => "SetAttribute",
            StateKind::Counter { .. } => "Counter",
            StateKind::CallSubmodule { .. } => "CallSubmodule",
            StateKind::Encounter { .. } => "Encounter",
            StateKind::EncounterEnd { .. } => "EncounterEnd",
            StateKind::ConditionOnset(_) => "ConditionOnset",
            StateKind::AllergyOnset { .. } => "AllergyOnset",
            StateKind::ConditionEnd(_) => "ConditionEnd",
            StateKind::AllergyEnd(_) => "AllergyEnd",
            StateKind::MedicationOrder { .. } => "MedicationOrder",
            StateKind::MedicationEnd(_) => "MedicationEnd",
            StateKind::CarePlanStart { .. } => "CarePlanStart",
            StateKind::CarePlanEnd(_) => "CarePlanEnd",
            StateKind::Procedure { .. } => "Procedure",
            StateKind::VitalSign { .. } => "VitalSign",
            StateKind::Observation(_) => "Observation",
            StateKind::MultiObservation { .. } => "MultiObservation",
            StateKind::DiagnosticReport { .. } => "DiagnosticReport",
            StateKind::ImagingStudy { .. } => "ImagingStudy",
            StateKind::Device { .. } => "Device",
            StateKind::DeviceEnd(_) => "DeviceEnd",
            StateKind::SupplyList { .. } => "SupplyList",
            StateKind::Symptom { .. } => "Symptom",
            StateKind::Death { .. } => "Death",
            StateKind::Vaccine { .. } => "Vaccine",
            StateKind::Physiology { .. } => "Physiology",
        }
    }
}

/// A match-key column of a compiled lookup table.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyColumn {
    Age,
    Time,
    Attribute(Symbol),
}

/// A lookup table with its outcome columns in the order of the transition's options.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<KeyColumn>,
    pub rows: Vec<TableRow>,
    /// Candidate rows by the most selective key column, so a lookup does not scan the table.
    pub index: TableIndex,
}

/// Rows grouped by one key column; candidates are listed in row order, so the first matching
/// candidate is the first matching row, as a full scan would find.
#[derive(Debug, Clone)]
pub enum TableIndex {
    /// No usable column: scan every row.
    Scan,
    /// Column `column` holds ages: rows by whole year of age (the last bucket holds the rest).
    Age { column: usize, by_year: Vec<Vec<u32>> },
    /// Column `column` holds disjoint time ranges, sorted by start: `(low, high, row)`.
    Time { column: usize, ranges: Vec<(i64, i64, u32)> },
    /// Column `column` holds text: rows by interned value.
    Text { column: usize, by_value: HashMap<Symbol, Vec<u32>> },
}

#[derive(Debug, Clone)]
pub struct TableRow {
    pub keys: Vec<Key>,
    pub probabilities: Vec<f64>,
}

/// A match key of a row, prepared for comparison without allocation: text cells are interned,
/// and cells that read as numbers or booleans also match attributes of those types.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// Inclusive range of whole years of age.
    Age {
        low: u32,
        high: u32,
    },
    /// Inclusive range of simulation times (ms since the epoch).
    Time {
        low: i64,
        high: i64,
    },
    Text {
        text: Symbol,
        number: Option<f64>,
        boolean: Option<bool>,
    },
}
