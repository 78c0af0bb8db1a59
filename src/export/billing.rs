//! Who saw the patient, who paid, and how much: derived from a finished record at export time.
//!
//! Every encounter is placed at an organization of the patient's city (hospital for emergency
//! and inpatient care, urgent care, or the primary-care clinic), with a clinician of it; its
//! payer follows the patient's age, income and the year (`world::payers`); its cost is the
//! base cost of `data/costs/costs.csv` for its class plus its procedures, medications and
//! vaccines, each varied ±20 % by a hash of its id. All exporters read the same bill, so CSV
//! and FHIR agree, and nothing here draws from a random stream.

use crate::ast::EncounterClass;
use crate::export::Context;
use crate::sim::Patient;
use crate::sim::person::splitmix;
use crate::sim::record::Uuid;
use crate::sim::time::{Date, Time, age_years};
use crate::world::demographics::Place;
use crate::world::payers::choose;

/// Base costs by kind, from `data/costs/costs.csv`.
#[derive(Debug, Clone)]
pub struct Costs {
    encounter: Vec<(EncounterClass, f64)>,
    procedure: f64,
    medication: f64,
    immunization: f64,
}

impl Costs {
    pub fn load() -> Costs {
        let text = include_str!("../../data/costs/costs.csv");
        let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).from_reader(text.as_bytes());
        let mut costs = Costs { encounter: Vec::new(), procedure: 0.0, medication: 0.0, immunization: 0.0 };
        for row in reader.records() {
            let row = row.expect("embedded data");
            let cost: f64 = row[2].parse().expect("embedded data");
            match &row[0] {
                "encounter" => {
                    let class = EncounterClass::parse(&row[1]).expect("embedded data");
                    costs.encounter.push((class, cost));
                }
                "procedure" => costs.procedure = cost,
                "medication" => costs.medication = cost,
                "immunization" => costs.immunization = cost,
                _ => {}
            }
        }
        costs
    }

    pub fn encounter(&self, class: EncounterClass) -> f64 {
        self.encounter.iter().find(|(c, _)| *c == class).map_or(92.0, |(_, v)| *v)
    }
}

/// Base cost varied by ±20 % by a hash of an entry's id.
fn vary(base: f64, id: Uuid) -> f64 {
    let u = (splitmix(id.0 as u64 ^ (id.0 >> 64) as u64) >> 11) as f64 / (1u64 << 53) as f64;
    (base * (0.8 + 0.4 * u) * 100.0).round() / 100.0
}

#[derive(Debug, Clone, Copy)]
pub struct EncounterBill {
    pub organization: u32,
    pub clinician: u32,
    pub payer: usize,
    /// The visit itself.
    pub base: f64,
    /// The visit and everything billed with it.
    pub total: f64,
    /// What the payer paid.
    pub covered: f64,
}

/// The billing of one patient's (exported) record.
#[derive(Debug, Clone)]
pub struct Bill {
    pub place: Place,
    pub encounters: Vec<EncounterBill>,
    pub medications: Vec<f64>,
    pub procedures: Vec<f64>,
    pub immunizations: Vec<f64>,
    /// `(start, end, payer)` periods of coverage, one per change of payer.
    pub payer_periods: Vec<(Time, Time, usize)>,
    pub expenses: f64,
    pub coverage: f64,
}

/// The payer of a patient at a time.
pub fn payer_at(patient: &Patient, t: Time) -> usize {
    let age = age_years(patient.person.birth_date, Date::of(t));
    choose(age, patient.profile.poverty_ratio, Date::of(t).year, patient.profile.uninsured, patient.person.id.0 as u64)
}

/// Prices entries `(id, encounter)` around a base cost and adds them to their encounters.
fn price(encounters: &mut [EncounterBill], base: f64, items: impl Iterator<Item = (Uuid, u32)>) -> Vec<f64> {
    items
        .map(|(id, encounter)| {
            let cost = vary(base, id);
            if let Some(b) = encounters.get_mut(encounter as usize) {
                b.total += cost;
            }
            cost
        })
        .collect()
}

/// Bills a patient's record.
pub fn bill(cx: &Context, patient: &Patient) -> Bill {
    let w = cx.world;
    let rec = &patient.person.record;
    let p = &patient.profile;
    let place = Place {
        state: p.state.clone(),
        state_abbrev: p.state_abbrev.clone(),
        city: p.city.clone(),
        county: p.county.clone(),
        zip: p.zip.clone(),
        lat: p.lat,
        lon: p.lon,
    };
    let mut encounters: Vec<EncounterBill> = rec
        .encounters
        .iter()
        .map(|e| {
            let organization = w.providers.organization_for(&place, e.class).unwrap_or(0);
            let clinician = w.providers.clinician_for(organization, patient.person.id);
            let base = vary(w.costs.encounter(e.class), e.id);
            EncounterBill {
                organization,
                clinician,
                payer: payer_at(patient, e.start),
                base,
                total: base,
                covered: 0.0,
            }
        })
        .collect();
    let medications =
        price(&mut encounters, w.costs.medication, rec.medications.iter().map(|m| (m.entry.id, m.entry.encounter)));
    let procedures =
        price(&mut encounters, w.costs.procedure, rec.procedures.iter().map(|p| (p.entry.id, p.entry.encounter)));
    let immunizations =
        price(&mut encounters, w.costs.immunization, rec.immunizations.iter().map(|i| (i.id, i.encounter)));
    let (mut expenses, mut coverage) = (0.0, 0.0);
    for b in &mut encounters {
        b.total = (b.total * 100.0).round() / 100.0;
        b.covered = (b.total * w.payers[b.payer].coverage * 100.0).round() / 100.0;
        coverage += b.covered;
        expenses += b.total - b.covered;
    }
    // Coverage periods: the payer of each year of life, merged while it does not change.
    let end = patient.person.death.unwrap_or(cx.end).max(patient.person.birth);
    let mut payer_periods: Vec<(Time, Time, usize)> = Vec::new();
    let b = patient.person.birth_date;
    let mut year = b.year;
    loop {
        let start = if year == b.year { patient.person.birth } else { Date::new(year, 1, 1).map_or(end, Date::time) };
        if start >= end {
            break;
        }
        let stop = Date::new(year + 1, 1, 1).map_or(end, Date::time).min(end);
        let payer = payer_at(patient, start.max(Date::new(year, b.month, b.day.min(28)).map_or(start, Date::time)));
        match payer_periods.last_mut() {
            Some(last) if last.2 == payer => last.1 = stop,
            _ => payer_periods.push((start, stop, payer)),
        }
        year += 1;
    }
    Bill { place, encounters, medications, procedures, immunizations, payer_periods, expenses, coverage }
}
