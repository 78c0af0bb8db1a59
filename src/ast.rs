//! The GMF module model, as written: the output of `parse`, the input of `validate` and
//! `compile`.
//!
//! References to other states are still names ([`StateRef`]) with their spans; nothing here
//! has been checked against the rest of the module. The simulator never sees these types: it
//! accepts only `compiled` modules, so an unresolved name cannot reach it.

use crate::source::{FileId, Span};

/// Declares a closed vocabulary (an enum spelled one way in module files).
macro_rules! vocab {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal $(| $alias:literal)*,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant,)* }

        impl $name {
            /// Every spelling accepted in module files, canonical first.
            pub const NAMES: &'static [&'static str] = &[$($text,)*];

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text $(| $alias)* => Some($name::$variant),)*
                    _ => None,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }
    };
}

vocab! {
    /// Units of time (GMF `unit` on delays, durations and `within`).
    TimeUnit {
        Years = "years" | "year",
        Months = "months" | "month",
        Weeks = "weeks" | "week",
        Days = "days" | "day",
        Hours = "hours" | "hour",
        Minutes = "minutes" | "minute",
        Seconds = "seconds" | "second",
        Milliseconds = "milliseconds" | "millisecond",
    }
}

impl TimeUnit {
    /// Milliseconds in one unit, for fractional quantities (a year is 365.25 days).
    pub fn millis(self) -> f64 {
        match self {
            TimeUnit::Years => 365.25 * 86_400_000.0,
            TimeUnit::Months => 30.0 * 86_400_000.0,
            TimeUnit::Weeks => 7.0 * 86_400_000.0,
            TimeUnit::Days => 86_400_000.0,
            TimeUnit::Hours => 3_600_000.0,
            TimeUnit::Minutes => 60_000.0,
            TimeUnit::Seconds => 1_000.0,
            TimeUnit::Milliseconds => 1.0,
        }
    }

    /// Milliseconds in one unit for whole quantities (a year is 365 days), as GMF 2 uses.
    pub fn whole_millis(self) -> i64 {
        match self {
            TimeUnit::Years => 365 * 86_400_000,
            other => other.millis() as i64,
        }
    }
}

vocab! {
    /// Comparison operators of conditions.
    Operator {
        Lt = "<",
        Le = "<=",
        Eq = "==",
        Ge = ">=",
        Gt = ">",
        Ne = "!=",
        IsNil = "is nil",
        IsNotNil = "is not nil",
    }
}

vocab! {
    /// Physiological values that `VitalSign` states set and conditions read.
    VitalSign {
        Height = "Height",
        Weight = "Weight",
        HeightPercentile = "Height Percentile",
        WeightPercentile = "Weight Percentile",
        Bmi = "BMI",
        HeadCircumference = "Head Circumference",
        HeadCircumferencePercentile = "Head Circumference Percentile",
        SystolicBloodPressure = "Systolic Blood Pressure",
        DiastolicBloodPressure = "Diastolic Blood Pressure",
        OxygenSaturation = "Oxygen Saturation",
        BloodGlucose = "Blood Glucose",
        Glucose = "Glucose",
        UreaNitrogen = "Urea Nitrogen",
        Creatinine = "Creatinine",
        Calcium = "Calcium",
        Sodium = "Sodium",
        Potassium = "Potassium",
        Chloride = "Chloride",
        CarbonDioxide = "Carbon Dioxide",
        TotalCholesterol = "Total Cholesterol",
        Triglycerides = "Triglycerides",
        Ldl = "LDL",
        Hdl = "HDL",
        MicroalbuminCreatinineRatio = "Microalbumin Creatinine Ratio",
        Egfr = "EGFR",
        LeftVentricularEjectionFraction = "Left ventricular Ejection fraction",
        HeartRate = "Heart Rate",
        RespirationRate = "Respiration Rate",
    }
}

impl VitalSign {
    pub const COUNT: usize = VitalSign::NAMES.len();

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<VitalSign> {
        VitalSign::NAMES.get(i).and_then(|n| VitalSign::parse(n))
    }
}

vocab! {
    /// Encounter classes (`super` is an old spelling of inpatient).
    EncounterClass {
        Ambulatory = "ambulatory",
        Emergency = "emergency",
        Inpatient = "inpatient" | "super",
        Outpatient = "outpatient",
        Wellness = "wellness",
        UrgentCare = "urgentcare",
        Hospice = "hospice",
        Home = "home",
        Snf = "snf",
        Virtual = "virtual",
    }
}

vocab! {
    /// Whether an Encounter may become a telemedicine visit.
    Telemedicine {
        None = "none",
        Possible = "possible",
        Always = "always",
    }
}

vocab! {
    /// Sex as the `Gender` condition and `-g` spell it.
    Sex {
        Male = "M",
        Female = "F",
    }
}

vocab! {
    /// Kinds of distribution (`distribution.kind`).
    DistributionKind {
        Exact = "EXACT",
        Uniform = "UNIFORM",
        Gaussian = "GAUSSIAN",
        Exponential = "EXPONENTIAL",
        Triangular = "TRIANGULAR",
    }
}

vocab! {
    /// Socioeconomic categories.
    SesCategory {
        High = "High",
        Middle = "Middle",
        Low = "Low",
    }
}

vocab! {
    /// `allergy_type` of AllergyOnset.
    AllergyType {
        Allergy = "allergy",
        Intolerance = "intolerance",
    }
}

vocab! {
    /// Reaction severities of AllergyOnset.
    Severity {
        None = "none",
        Mild = "mild",
        Moderate = "moderate",
        Severe = "severe",
    }
}

/// Every state type, in the spelling of the `type` field.
pub const STATE_TYPES: &[&str] = &[
    "Initial",
    "Terminal",
    "Simple",
    "Guard",
    "Delay",
    "SetAttribute",
    "Counter",
    "CallSubmodule",
    "Encounter",
    "EncounterEnd",
    "ConditionOnset",
    "AllergyOnset",
    "ConditionEnd",
    "AllergyEnd",
    "MedicationOrder",
    "MedicationEnd",
    "CarePlanStart",
    "CarePlanEnd",
    "Procedure",
    "VitalSign",
    "Observation",
    "MultiObservation",
    "DiagnosticReport",
    "ImagingStudy",
    "Device",
    "DeviceEnd",
    "SupplyList",
    "Symptom",
    "Death",
    "Vaccine",
    "Physiology",
];

/// Every condition type, in the spelling of `condition_type`.
pub const CONDITION_TYPES: &[&str] = &[
    "And",
    "Or",
    "Not",
    "At Least",
    "At Most",
    "True",
    "False",
    "Gender",
    "Age",
    "Date",
    "Socioeconomic Status",
    "Race",
    "Symptom",
    "Observation",
    "Vital Sign",
    "Active Condition",
    "Active Medication",
    "Active CarePlan",
    "Active Allergy",
    "PriorState",
    "Attribute",
];

/// Which rules a module file is held to. JSON files are read as Synthea wrote them: problems
/// Synthea's engine tolerates at run time (probabilities summing above 1, dangling references
/// in `*End` states, inverted ranges) are warnings there, and errors in YAML modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Strict,
    Synthea,
}

/// A module as written in one file.
#[derive(Debug, Clone)]
pub struct Module {
    /// Path relative to the library root, without extension (`medications/statin`).
    pub path: String,
    pub file: FileId,
    pub dialect: Dialect,
    pub name: String,
    pub name_span: Span,
    /// ehrsim extension: a one-line description shown by `ehrsim modules`.
    pub description: Option<String>,
    pub remarks: Vec<String>,
    /// ehrsim extension: citations of the statistics the module encodes.
    pub sources: Vec<String>,
    /// ehrsim extension: numbers `ehrsim calibrate` may change, with their bounds.
    pub tunable: Vec<Tunable>,
    pub gmf_version: f64,
    pub specialty: Option<String>,
    pub states: Vec<State>,
    /// Span of the whole document.
    pub span: Span,
}

/// A tunable group of transition probabilities (ehrsim extension, read by `calibrate`): the
/// distributed options of `state` (of one branch of a complex transition, or all branches
/// when `branch` is absent) are multiplied by one factor in `[min, max]`, and the last option
/// of each distribution takes up the difference.
#[derive(Debug, Clone, PartialEq)]
pub struct Tunable {
    pub id: String,
    pub state: String,
    pub state_span: Span,
    pub branch: Option<usize>,
    /// Which options of each distribution are scaled (default: all but the last).
    pub options: Option<Vec<usize>>,
    pub min: f64,
    pub max: f64,
}

impl Module {
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }
}

/// A name that refers to a state (or a submodule path, or a lookup table), with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct StateRef {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub name_span: Span,
    /// Span of the state's mapping.
    pub span: Span,
    pub type_span: Span,
    pub kind: StateKind,
    pub transition: Option<Transition>,
}

/// A clinical code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code {
    pub system: String,
    pub code: String,
    pub display: String,
}

/// A number that calibration may tune, with the span it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    pub value: f64,
    pub span: Span,
    /// Bounds given with an ehrsim `tunable` marker.
    pub tunable: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DistributionParams {
    Exact { value: Param },
    Uniform { low: Param, high: Param },
    Gaussian { mean: Param, sd: Param, min: Option<f64>, max: Option<f64> },
    Exponential { mean: Param },
    Triangular { min: Param, mode: Param, max: Param },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    pub params: DistributionParams,
    pub round: bool,
    pub span: Span,
}

/// How a number is produced: GMF 1 `exact`/`range`, or GMF 2 `distribution`.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount {
    Exact(f64),
    Range { low: f64, high: f64, decimals: Option<u32> },
    Distribution(Distribution),
}

/// A length of time.
#[derive(Debug, Clone, PartialEq)]
pub struct Duration {
    pub amount: Amount,
    pub unit: TimeUnit,
    pub span: Span,
}

/// A literal in `value` fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
}

/// What an `*End` state, `Death` cause or `Active *` condition refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    State(StateRef),
    Attribute(String),
    Codes(Vec<Code>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Direct(StateRef),
    Distributed(Vec<Weighted>),
    Conditional(Vec<Conditional>),
    Complex(Vec<ComplexOption>),
    LookupTable(LookupTransition),
    TypeOfCare { ambulatory: StateRef, emergency: StateRef, telemedicine: StateRef },
}

impl Transition {
    /// Every state this transition can lead to.
    pub fn targets(&self) -> Vec<&StateRef> {
        match self {
            Transition::Direct(to) => vec![to],
            Transition::Distributed(options) => options.iter().map(|o| &o.to).collect(),
            Transition::Conditional(options) => options.iter().map(|o| &o.to).collect(),
            Transition::Complex(options) => options
                .iter()
                .flat_map(|o| match &o.then {
                    ComplexTarget::Direct(to) => vec![to],
                    ComplexTarget::Distributed(ws) => ws.iter().map(|w| &w.to).collect(),
                })
                .collect(),
            Transition::LookupTable(t) => t.options.iter().map(|o| &o.to).collect(),
            Transition::TypeOfCare { ambulatory, emergency, telemedicine } => vec![ambulatory, emergency, telemedicine],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Weight {
    Fixed(Param),
    /// A named distribution: the probability is read from an attribute, else `default`.
    Attribute {
        attribute: String,
        default: Param,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub weight: Weight,
    pub to: StateRef,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conditional {
    pub condition: Option<Logic>,
    pub to: StateRef,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ComplexTarget {
    Direct(StateRef),
    Distributed(Vec<Weighted>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComplexOption {
    pub condition: Option<Logic>,
    pub then: ComplexTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LookupTransition {
    pub table: StateRef,
    pub options: Vec<LookupOption>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LookupOption {
    pub to: StateRef,
    pub default_probability: Param,
}

/// A condition (`allow`, `condition`) with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Logic {
    pub span: Span,
    pub kind: LogicKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DateSpec {
    Year(i32),
    Month(u32),
    /// Milliseconds since the Unix epoch, UTC.
    Instant(i64),
}

/// The right-hand side of an Observation condition.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationValue {
    Literal(Literal),
    Code(Code),
}

#[derive(Debug, Clone, PartialEq)]
pub enum LogicKind {
    And(Vec<Logic>),
    Or(Vec<Logic>),
    Not(Box<Logic>),
    AtLeast { minimum: u32, conditions: Vec<Logic> },
    AtMost { maximum: u32, conditions: Vec<Logic> },
    True,
    False,
    Gender(Sex),
    Age { operator: Operator, quantity: f64, unit: TimeUnit },
    Date { operator: Operator, date: DateSpec },
    SocioeconomicStatus(SesCategory),
    Race(String),
    Symptom { symptom: String, operator: Operator, value: f64 },
    Observation { target: Target, operator: Operator, value: Option<ObservationValue> },
    VitalSign { vital_sign: VitalSign, operator: Operator, value: f64 },
    ActiveCondition(Target),
    ActiveMedication(Target),
    ActiveCarePlan(Target),
    ActiveAllergy(Target),
    PriorState { name: StateRef, since: Option<StateRef>, within: Option<(f64, TimeUnit)> },
    Attribute { attribute: String, operator: Operator, value: Literal },
}

/// Where an Observation's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationSource {
    Amount(Amount),
    /// A fixed non-numeric value (`exact: {quantity: "No"}`), recorded as text.
    Text(String),
    Attribute(String),
    VitalSign(VitalSign),
    Code(Code),
    /// Time-series attributes (`sampled_data`), recorded as text.
    SampledData(Vec<String>),
    /// A chart or file (`attachment`): recorded without a value.
    Attachment,
    /// No value at all (allowed for panels).
    Nothing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservationSpec {
    pub codes: Vec<Code>,
    pub category: Option<String>,
    pub unit: Option<String>,
    pub source: ObservationSource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// `value: null` or no value: removes the attribute.
    Remove,
    Literal(Literal),
    Range {
        low: f64,
        high: f64,
        decimals: Option<u32>,
    },
    Distribution(Distribution),
    Code(Code),
    CopyAttribute(String),
    Series {
        values: Vec<f64>,
        period: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dosage {
    pub amount: f64,
    pub frequency: f64,
    pub period: f64,
    pub unit: TimeUnit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prescription {
    pub as_needed: bool,
    pub refills: u32,
    pub dosage: Option<Dosage>,
    pub duration: Option<(f64, TimeUnit)>,
    pub instructions: Vec<Code>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub addresses: Vec<String>,
    pub text: Option<String>,
    pub observation: Option<(Vec<Code>, Operator, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    pub reaction: Code,
    pub severities: Vec<(Severity, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub title: String,
    pub sop_class: Code,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub body_site: Code,
    pub modality: Code,
    pub instances: Vec<Instance>,
    pub min_instances: Option<u32>,
    pub max_instances: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Onset {
    pub codes: Vec<Code>,
    pub target_encounter: Option<StateRef>,
    pub assign_to_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Initial,
    Terminal,
    Simple,
    Guard {
        allow: Logic,
    },
    Delay {
        duration: Duration,
    },
    SetAttribute {
        attribute: String,
        value: SetValue,
    },
    Counter {
        attribute: String,
        increment: bool,
        amount: f64,
    },
    CallSubmodule {
        submodule: StateRef,
    },
    Encounter {
        wellness: bool,
        class: Option<EncounterClass>,
        codes: Vec<Code>,
        reason: Option<StateRef>,
        telemedicine: Telemedicine,
    },
    EncounterEnd {
        discharge_disposition: Option<Code>,
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
        codes: Vec<Code>,
        reason: Option<StateRef>,
        prescription: Option<Prescription>,
        administration: bool,
        chronic: bool,
        assign_to_attribute: Option<String>,
    },
    MedicationEnd(Target),
    CarePlanStart {
        codes: Vec<Code>,
        activities: Vec<Code>,
        goals: Vec<Goal>,
        reason: Option<StateRef>,
        assign_to_attribute: Option<String>,
    },
    CarePlanEnd(Target),
    Procedure {
        codes: Vec<Code>,
        reason: Option<StateRef>,
        duration: Option<Duration>,
        assign_to_attribute: Option<String>,
    },
    VitalSign {
        vital_sign: VitalSign,
        unit: String,
        amount: Amount,
    },
    Observation(ObservationSpec),
    MultiObservation {
        codes: Vec<Code>,
        category: Option<String>,
        observations: Vec<ObservationSpec>,
    },
    DiagnosticReport {
        codes: Vec<Code>,
        observations: Vec<ObservationSpec>,
    },
    ImagingStudy {
        procedure_code: Code,
        series: Vec<Series>,
        min_series: Option<u32>,
        max_series: Option<u32>,
    },
    Device {
        code: Code,
        manufacturer: Option<String>,
        model: Option<String>,
        assign_to_attribute: Option<String>,
    },
    DeviceEnd(Target),
    SupplyList {
        supplies: Vec<(Code, u32)>,
    },
    Symptom {
        symptom: String,
        cause: Option<String>,
        probability: f64,
        amount: Amount,
    },
    Death {
        cause: Option<Target>,
        delay: Option<Duration>,
    },
    Vaccine {
        codes: Vec<Code>,
        series: u32,
    },
    /// SBML physiology is not simulated; the state follows `alt_direct_transition`.
    Physiology {
        alt_direct_transition: StateRef,
    },
    /// A state whose fields had errors (already reported): it keeps its name, so references
    /// to it do not cascade into more errors, and its declared type if that was known.
    Broken(Option<&'static str>),
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
            StateKind::Broken(t) => t.unwrap_or("unknown"),
        }
    }

    /// States in which simulated time can pass (a cycle through none of them spins forever).
    pub fn can_wait(&self) -> bool {
        matches!(
            self,
            StateKind::Delay { .. }
                | StateKind::Guard { .. }
                | StateKind::Encounter { .. }
                | StateKind::EncounterEnd { .. }
                | StateKind::Procedure { .. }
                | StateKind::CallSubmodule { .. }
                | StateKind::Terminal
                | StateKind::Death { .. }
                | StateKind::Broken(_)
        )
    }
}
