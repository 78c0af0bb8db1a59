//! A patient's health record: what the simulation produces and the exporters read.
//!
//! Entries borrow their codes, units and categories from the compiled library (`'l`), so
//! recording an entry allocates nothing but its slot. Entries are appended in time order;
//! each points at the encounter it belongs to. The record knows nothing of any output format.

use crate::ast::{AllergyType, EncounterClass, Severity};
use crate::compiled::{CodeId, Symbol};
use crate::sim::time::Time;

/// A deterministic identifier, shown as an RFC 4122 version-4 UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub u128);

impl Uuid {
    /// Stamps the version (4) and variant bits onto 128 random-looking bits.
    pub fn from_bits(bits: u128) -> Uuid {
        let v = (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
        Uuid(v)
    }
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xFFFF_FFFF_FFFF
        )
    }
}

/// Index of an encounter in [`Record::encounters`].
pub type EncounterIdx = u32;

#[derive(Debug, Clone)]
pub struct Encounter<'l> {
    pub id: Uuid,
    pub start: Time,
    pub stop: Option<Time>,
    pub class: EncounterClass,
    pub codes: &'l [CodeId],
    pub reason: Option<CodeId>,
    /// The Encounter state that opened it, if a module did.
    pub name: Option<Symbol>,
    pub discharge: Option<CodeId>,
    /// Opened by the clinical core's wellness schedule.
    pub wellness: bool,
}

/// What every clinical entry has.
#[derive(Debug, Clone)]
pub struct Entry<'l> {
    pub id: Uuid,
    pub start: Time,
    pub stop: Option<Time>,
    pub codes: &'l [CodeId],
    pub encounter: EncounterIdx,
    /// The state that created it (what `reason` and `*End` states look entries up by).
    pub name: Option<Symbol>,
}

#[derive(Debug, Clone)]
pub struct Medication<'l> {
    pub entry: Entry<'l>,
    pub reason: Option<CodeId>,
    pub chronic: bool,
    pub administration: bool,
    pub as_needed: bool,
    pub refills: u32,
    /// Doses per day, when the prescription says.
    pub daily_doses: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Procedure<'l> {
    pub entry: Entry<'l>,
    pub reason: Option<CodeId>,
}

#[derive(Debug, Clone)]
pub struct CarePlan<'l> {
    pub entry: Entry<'l>,
    pub activities: &'l [CodeId],
    pub goals: &'l [crate::compiled::Goal],
    pub reason: Option<CodeId>,
}

#[derive(Debug, Clone)]
pub struct Allergy<'l> {
    pub entry: Entry<'l>,
    pub allergy_type: AllergyType,
    pub category: &'l str,
    pub reactions: Vec<(CodeId, Severity)>,
}

#[derive(Debug, Clone)]
pub struct Device<'l> {
    pub entry: Entry<'l>,
    pub udi: String,
}

/// The value of an observation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    Code(CodeId),
    /// A panel or an attachment: no value of its own.
    None,
}

#[derive(Debug, Clone)]
pub struct Observation<'l> {
    pub id: Uuid,
    pub time: Time,
    pub codes: &'l [CodeId],
    pub category: &'l str,
    pub unit: &'l str,
    pub value: Value,
    pub encounter: EncounterIdx,
}

#[derive(Debug, Clone)]
pub struct Report<'l> {
    pub id: Uuid,
    pub time: Time,
    pub codes: &'l [CodeId],
    pub encounter: EncounterIdx,
    /// Indices into [`Record::observations`].
    pub observations: std::ops::Range<u32>,
    /// A panel (MultiObservation: one observation with parts) rather than a report.
    pub panel: bool,
}

#[derive(Debug, Clone)]
pub struct Immunization<'l> {
    pub id: Uuid,
    pub time: Time,
    pub codes: &'l [CodeId],
    pub encounter: EncounterIdx,
}

#[derive(Debug, Clone)]
pub struct ImagingInstance {
    pub uid: String,
    pub title: String,
    pub sop_class: CodeId,
}

#[derive(Debug, Clone)]
pub struct ImagingSeries {
    pub uid: String,
    pub body_site: CodeId,
    pub modality: CodeId,
    pub instances: Vec<ImagingInstance>,
}

#[derive(Debug, Clone)]
pub struct ImagingStudy {
    pub id: Uuid,
    pub time: Time,
    pub procedure_code: CodeId,
    pub encounter: EncounterIdx,
    pub series: Vec<ImagingSeries>,
}

#[derive(Debug, Clone)]
pub struct Supply {
    pub time: Time,
    pub code: CodeId,
    pub quantity: u32,
    pub encounter: EncounterIdx,
}

/// Everything recorded about one patient.
#[derive(Debug, Clone, Default)]
pub struct Record<'l> {
    pub encounters: Vec<Encounter<'l>>,
    pub conditions: Vec<Entry<'l>>,
    pub allergies: Vec<Allergy<'l>>,
    pub medications: Vec<Medication<'l>>,
    pub observations: Vec<Observation<'l>>,
    pub reports: Vec<Report<'l>>,
    pub procedures: Vec<Procedure<'l>>,
    pub immunizations: Vec<Immunization<'l>>,
    pub careplans: Vec<CarePlan<'l>>,
    pub devices: Vec<Device<'l>>,
    pub imaging_studies: Vec<ImagingStudy>,
    pub supplies: Vec<Supply>,
}

impl Record<'_> {
    /// Number of entries of every kind, encounters included.
    pub fn len(&self) -> usize {
        self.encounters.len()
            + self.conditions.len()
            + self.allergies.len()
            + self.medications.len()
            + self.observations.len()
            + self.reports.len()
            + self.procedures.len()
            + self.immunizations.len()
            + self.careplans.len()
            + self.devices.len()
            + self.imaging_studies.len()
            + self.supplies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
