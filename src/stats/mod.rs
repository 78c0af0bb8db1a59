//! Population statistics: prevalence, shares and means over patients, by stratum, compared
//! with published targets.
//!
//! Statistics read a neutral per-patient view, [`Facts`], built either from a patient in
//! memory during a run ([`facts_of`]) or from a run's CSV output ([`csvin`]), so both paths
//! give the same numbers. A [`Spec`] holds the measures (from a targets file, from
//! `--condition` queries, and the built-in quality measures); evaluating one patient yields a
//! [`Contribution`], and contributions are added into a [`Tally`] in patient order, which keeps
//! the result independent of the thread count.
//!
//! Architecture invariant: `stats` reads records, never modules or the engine; module names are
//! resolved to condition codes by the caller.

pub mod csvin;
pub mod report;
pub mod targets;

use crate::ast::Sex;
use crate::sim::Patient;
use crate::sim::time::{DAY, Date, Time};
use crate::sim::world::World;
use std::collections::{BTreeMap, HashMap};

/// Days since 1970-01-01.
pub type Day = i64;

pub fn day_of(t: Time) -> Day {
    t.div_euclid(DAY)
}

pub fn day_of_date(d: Date) -> Day {
    day_of(d.time())
}

/// An entry with a start and an optional stop (conditions, medications).
#[derive(Debug, Clone, Copy)]
pub struct Interval {
    pub code: u32,
    pub start: Day,
    pub stop: Option<Day>,
}

/// An entry at one day (procedures, immunizations).
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub code: u32,
    pub day: Day,
}

/// A numeric observation.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    pub code: u32,
    pub day: Day,
    pub value: f64,
}

/// What statistics know of one patient. Codes are indices into a [`CodeBook`].
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub birth: Day,
    pub birth_date: Option<Date>,
    pub death: Option<Day>,
    pub sex: Option<Sex>,
    pub race: String,
    pub hispanic: bool,
    pub conditions: Vec<Interval>,
    pub medications: Vec<Interval>,
    pub procedures: Vec<Event>,
    pub immunizations: Vec<Event>,
    pub observations: Vec<Reading>,
}

/// Code strings and displays, numbered.
#[derive(Debug, Clone, Default)]
pub struct CodeBook {
    pub entries: Vec<(String, String)>,
    by_code: HashMap<String, Vec<u32>>,
    by_pair: HashMap<(String, String), u32>,
}

impl CodeBook {
    /// The code table of a compiled library (index = `CodeId`).
    pub fn of_world(world: &World) -> CodeBook {
        let mut book = CodeBook::default();
        for (i, c) in world.lib.codes.iter().enumerate() {
            book.entries.push((c.code.clone(), c.display.clone()));
            book.by_code.entry(c.code.clone()).or_default().push(i as u32);
        }
        book
    }

    /// The number of a (code, display) pair, added if new.
    pub fn intern(&mut self, code: &str, display: &str) -> u32 {
        if let Some(&i) = self.by_pair.get(&(code.to_owned(), display.to_owned())) {
            return i;
        }
        let i = self.entries.len() as u32;
        self.entries.push((code.to_owned(), display.to_owned()));
        self.by_pair.insert((code.to_owned(), display.to_owned()), i);
        self.by_code.entry(code.to_owned()).or_default().push(i);
        i
    }

    /// Every number a code string has (one per display it was written with).
    pub fn ids(&self, code: &str) -> &[u32] {
        self.by_code.get(code).map_or(&[], Vec::as_slice)
    }
}

/// The statistics' view of a simulated patient (its whole record, before any history cut).
pub fn facts_of(patient: &Patient) -> Facts {
    let p = &patient.person;
    let r = &p.record;
    let first = |codes: &[crate::compiled::CodeId]| codes.first().map_or(u32::MAX, |c| c.0);
    let mut f = Facts {
        birth: day_of(p.birth),
        birth_date: Some(p.birth_date),
        death: p.death.map(day_of),
        sex: Some(patient.profile.sex),
        race: patient.profile.race.as_str().to_owned(),
        hispanic: patient.profile.hispanic,
        ..Facts::default()
    };
    f.conditions = r
        .conditions
        .iter()
        .map(|e| Interval { code: first(e.codes), start: day_of(e.start), stop: e.stop.map(day_of) })
        .collect();
    f.medications = r
        .medications
        .iter()
        .map(|m| Interval { code: first(m.entry.codes), start: day_of(m.entry.start), stop: m.entry.stop.map(day_of) })
        .collect();
    f.procedures =
        r.procedures.iter().map(|x| Event { code: first(x.entry.codes), day: day_of(x.entry.start) }).collect();
    f.immunizations = r.immunizations.iter().map(|x| Event { code: first(x.codes), day: day_of(x.time) }).collect();
    f.observations = r
        .observations
        .iter()
        .filter_map(|o| match o.value {
            crate::sim::record::Value::Number(v) => {
                Some(Reading { code: first(o.codes), day: day_of(o.time), value: v })
            }
            _ => None,
        })
        .collect();
    f
}

/// A set of codes, as written and as numbers of a code book.
#[derive(Debug, Clone, Default)]
pub struct CodeSet {
    pub written: Vec<String>,
    ids: Vec<u32>,
}

impl CodeSet {
    pub fn new(written: Vec<String>) -> CodeSet {
        CodeSet { written, ids: Vec::new() }
    }

    fn resolve(&mut self, book: &CodeBook) {
        self.ids = self.written.iter().flat_map(|c| book.ids(c).iter().copied()).collect();
        self.ids.sort_unstable();
        self.ids.dedup();
    }

    pub fn contains(&self, id: u32) -> bool {
        self.ids.binary_search(&id).is_ok()
    }
}

/// Comparison of an observation value with a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compare {
    Below(f64),
    AtMost(f64),
    AtLeast(f64),
    Above(f64),
}

impl Compare {
    fn test(self, v: f64) -> bool {
        match self {
            Compare::Below(x) => v < x,
            Compare::AtMost(x) => v <= x,
            Compare::AtLeast(x) => v >= x,
            Compare::Above(x) => v > x,
        }
    }
}

/// What a patient must have (at the measure's date).
#[derive(Debug, Clone)]
pub enum Criterion {
    /// A condition active at the date.
    Condition(CodeSet),
    /// A condition that began within the last `days`.
    Onset {
        codes: CodeSet,
        days: Day,
    },
    /// A medication active at the date.
    Medication(CodeSet),
    /// A procedure within the last `days`.
    Procedure {
        codes: CodeSet,
        days: Day,
    },
    /// An immunization within the last `days`.
    Immunization {
        codes: CodeSet,
        days: Day,
    },
    /// The latest reading within the last `days` exists (and passes `compare`).
    Observation {
        codes: CodeSet,
        days: Day,
        compare: Option<Compare>,
    },
    All(Vec<Criterion>),
    Any(Vec<Criterion>),
    Not(Box<Criterion>),
}

impl Criterion {
    fn resolve(&mut self, book: &CodeBook) {
        match self {
            Criterion::Condition(c) | Criterion::Medication(c) => c.resolve(book),
            Criterion::Onset { codes, .. }
            | Criterion::Procedure { codes, .. }
            | Criterion::Immunization { codes, .. }
            | Criterion::Observation { codes, .. } => codes.resolve(book),
            Criterion::All(v) | Criterion::Any(v) => v.iter_mut().for_each(|c| c.resolve(book)),
            Criterion::Not(c) => c.resolve(book),
        }
    }

    /// Codes a CSV reader must keep, by table.
    fn wanted(&self, w: &mut Wanted) {
        match self {
            Criterion::Condition(_) | Criterion::Onset { .. } => {}
            Criterion::Medication(c) => w.medications.extend(c.written.iter().cloned()),
            Criterion::Procedure { codes, .. } => w.procedures.extend(codes.written.iter().cloned()),
            Criterion::Immunization { codes, .. } => w.immunizations.extend(codes.written.iter().cloned()),
            Criterion::Observation { codes, .. } => w.observations.extend(codes.written.iter().cloned()),
            Criterion::All(v) | Criterion::Any(v) => v.iter().for_each(|c| c.wanted(w)),
            Criterion::Not(c) => c.wanted(w),
        }
    }

    pub fn test(&self, f: &Facts, date: Day) -> bool {
        let active = |i: &Interval| i.start <= date && i.stop.is_none_or(|s| s > date);
        let within = |day: Day, days: Day| day <= date && day > date - days;
        match self {
            Criterion::Condition(c) => f.conditions.iter().any(|i| c.contains(i.code) && active(i)),
            Criterion::Onset { codes, days } => {
                f.conditions.iter().any(|i| codes.contains(i.code) && within(i.start, *days))
            }
            Criterion::Medication(c) => f.medications.iter().any(|i| c.contains(i.code) && active(i)),
            Criterion::Procedure { codes, days } => {
                f.procedures.iter().any(|e| codes.contains(e.code) && within(e.day, *days))
            }
            Criterion::Immunization { codes, days } => {
                f.immunizations.iter().any(|e| codes.contains(e.code) && within(e.day, *days))
            }
            Criterion::Observation { codes, days, compare } => match latest(f, codes, *days, date) {
                Some(v) => compare.is_none_or(|c| c.test(v)),
                None => false,
            },
            Criterion::All(v) => v.iter().all(|c| c.test(f, date)),
            Criterion::Any(v) => v.iter().any(|c| c.test(f, date)),
            Criterion::Not(c) => !c.test(f, date),
        }
    }
}

/// The latest value of an observation within the last `days` (the last one recorded that day).
fn latest(f: &Facts, codes: &CodeSet, days: Day, date: Day) -> Option<f64> {
    let mut best: Option<(Day, usize)> = None;
    for (i, r) in f.observations.iter().enumerate() {
        if codes.contains(r.code) && r.day <= date && r.day > date - days && best.is_none_or(|(d, _)| r.day >= d) {
            best = Some((r.day, i));
        }
    }
    best.map(|(_, i)| f.observations[i].value)
}

/// Whom a measure counts: alive at the date, and these filters.
#[derive(Debug, Clone, Default)]
pub struct Population {
    /// Whole years at the date, inclusive.
    pub age: Option<(u32, u32)>,
    pub sex: Option<Sex>,
    pub race: Vec<String>,
    pub hispanic: Option<bool>,
    pub having: Option<Criterion>,
}

impl Population {
    fn admits(&self, f: &Facts, age: u32, date: Day) -> bool {
        self.age.is_none_or(|(lo, hi)| (lo..=hi).contains(&age))
            && self.sex.is_none_or(|s| f.sex == Some(s))
            && (self.race.is_empty() || self.race.iter().any(|r| r.eq_ignore_ascii_case(&f.race)))
            && self.hispanic.is_none_or(|h| f.hispanic == h)
            && self.having.as_ref().is_none_or(|c| c.test(f, date))
    }
}

/// What a measure computes.
#[derive(Debug, Clone)]
pub enum Kind {
    /// The share of the population meeting a criterion, in percent.
    Share(Criterion),
    /// The mean of the latest reading within `days`, among those with one.
    Mean { codes: CodeSet, days: Day },
}

/// Dimensions a measure can be broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    Age,
    Sex,
    Race,
    Ethnicity,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::Age => "age",
            Dim::Sex => "sex",
            Dim::Race => "race",
            Dim::Ethnicity => "ethnicity",
        }
    }

    pub fn parse(s: &str) -> Option<Dim> {
        match s.trim().to_ascii_lowercase().as_str() {
            "age" | "age_band" | "age-band" => Some(Dim::Age),
            "sex" | "gender" => Some(Dim::Sex),
            "race" => Some(Dim::Race),
            "ethnicity" => Some(Dim::Ethnicity),
            _ => None,
        }
    }
}

/// A published value to compare with.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub value: f64,
    pub interval: Option<(f64, f64)>,
    /// Largest accepted distance from `value` (same unit as the value).
    pub tolerance: f64,
    pub weight: f64,
    pub source: String,
}

/// One measure.
#[derive(Debug, Clone)]
pub struct Measure {
    pub id: String,
    pub label: String,
    pub kind: Kind,
    pub population: Population,
    pub by: Vec<Dim>,
    pub target: Option<Target>,
}

/// Codes the CSV reader must keep (conditions are always kept).
#[derive(Debug, Default)]
pub struct Wanted {
    pub medications: std::collections::HashSet<String>,
    pub procedures: std::collections::HashSet<String>,
    pub immunizations: std::collections::HashSet<String>,
    pub observations: std::collections::HashSet<String>,
}

/// Everything to compute.
#[derive(Debug, Clone)]
pub struct Spec {
    pub date: Date,
    /// Lower bounds of the age bands, ascending, starting at 0.
    pub age_bands: Vec<u32>,
    pub measures: Vec<Measure>,
    /// Count every condition code (for the most-prevalent list).
    pub all_conditions: bool,
}

pub const DEFAULT_AGE_BANDS: [u32; 6] = [0, 18, 45, 65, 75, 85];

impl Spec {
    /// Ties the measures' codes to a code book.
    pub fn resolve(&mut self, book: &CodeBook) {
        for m in &mut self.measures {
            if let Some(h) = &mut m.population.having {
                h.resolve(book);
            }
            match &mut m.kind {
                Kind::Share(c) => c.resolve(book),
                Kind::Mean { codes, .. } => codes.resolve(book),
            }
        }
    }

    pub fn wanted(&self) -> Wanted {
        let mut w = Wanted::default();
        for m in &self.measures {
            if let Some(h) = &m.population.having {
                h.wanted(&mut w);
            }
            match &m.kind {
                Kind::Share(c) => c.wanted(&mut w),
                Kind::Mean { codes, .. } => w.observations.extend(codes.written.iter().cloned()),
            }
        }
        w
    }

    pub fn band_of(&self, age: u32) -> usize {
        self.age_bands.iter().rposition(|&lo| age >= lo).unwrap_or(0)
    }

    pub fn band_label(&self, band: usize) -> String {
        let lo = self.age_bands[band];
        match self.age_bands.get(band + 1) {
            Some(hi) => format!("{lo}-{}", hi - 1),
            None => format!("{lo}+"),
        }
    }

    /// What one patient adds to the tally.
    pub fn evaluate(&self, f: &Facts) -> Contribution {
        let date = day_of_date(self.date);
        let mut c = Contribution::default();
        let alive = f.birth <= date && f.death.is_none_or(|d| d > date);
        if !alive {
            return c;
        }
        let age = match f.birth_date {
            Some(b) => crate::sim::time::age_years(b, self.date).max(0) as u32,
            None => ((date - f.birth) as f64 / 365.2425) as u32,
        };
        let band = self.band_of(age) as u8;
        let sex = match f.sex {
            Some(Sex::Male) => "M",
            Some(Sex::Female) => "F",
            None => "?",
        };
        let stratum_of = |by: &[Dim]| -> Stratum {
            by.iter()
                .map(|d| match d {
                    Dim::Age => self.band_label(band as usize),
                    Dim::Sex => sex.to_owned(),
                    Dim::Race => f.race.clone(),
                    Dim::Ethnicity => (if f.hispanic { "hispanic" } else { "nonhispanic" }).to_owned(),
                })
                .collect()
        };
        c.person = Some(PersonKey { band, sex: sex.to_owned(), race: f.race.clone(), hispanic: f.hispanic });
        for (i, m) in self.measures.iter().enumerate() {
            if !m.population.admits(f, age, date) {
                continue;
            }
            let cell = match &m.kind {
                Kind::Share(crit) => Cell { den: 1, num: u64::from(crit.test(f, date)), sum: 0.0 },
                Kind::Mean { codes, days } => match latest(f, codes, *days, date) {
                    Some(v) => Cell { den: 1, num: 1, sum: v },
                    None => continue,
                },
            };
            c.cells.push((i as u32, stratum_of(&m.by), cell));
        }
        if self.all_conditions {
            let mut codes: Vec<u32> = f
                .conditions
                .iter()
                .filter(|i| i.start <= date && i.stop.is_none_or(|s| s > date))
                .map(|i| i.code)
                .collect();
            codes.sort_unstable();
            codes.dedup();
            c.conditions = codes;
        }
        c
    }
}

/// A stratum: the values of a measure's `by` dimensions.
pub type Stratum = Vec<String>;

/// Numerator, denominator and sum of values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cell {
    pub num: u64,
    pub den: u64,
    pub sum: f64,
}

impl Cell {
    fn add(&mut self, o: Cell) {
        self.num += o.num;
        self.den += o.den;
        self.sum += o.sum;
    }
}

/// Who a living patient is, for the population table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PersonKey {
    pub band: u8,
    pub sex: String,
    pub race: String,
    pub hispanic: bool,
}

/// What one patient adds.
#[derive(Debug, Clone, Default)]
pub struct Contribution {
    /// `None` when the patient is not alive at the date.
    pub person: Option<PersonKey>,
    pub cells: Vec<(u32, Stratum, Cell)>,
    pub conditions: Vec<u32>,
}

/// The sums over patients.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub patients: u64,
    pub alive: u64,
    pub population: BTreeMap<PersonKey, u64>,
    pub cells: Vec<BTreeMap<Stratum, Cell>>,
    pub conditions: BTreeMap<u32, u64>,
}

impl Tally {
    pub fn new(spec: &Spec) -> Tally {
        Tally { cells: vec![BTreeMap::new(); spec.measures.len()], ..Tally::default() }
    }

    pub fn add(&mut self, c: Contribution) {
        self.patients += 1;
        let Some(person) = c.person else { return };
        self.alive += 1;
        *self.population.entry(person).or_default() += 1;
        for (i, stratum, cell) in c.cells {
            self.cells[i as usize].entry(stratum).or_default().add(cell);
        }
        for code in c.conditions {
            *self.conditions.entry(code).or_default() += 1;
        }
    }

    /// The whole-population cell of a measure (all strata added).
    pub fn total(&self, measure: usize) -> Cell {
        let mut t = Cell::default();
        for c in self.cells[measure].values() {
            t.add(*c);
        }
        t
    }
}

/// The value of a cell for a measure: percent for shares, the mean for means.
pub fn value(kind: &Kind, cell: Cell) -> Option<f64> {
    if cell.den == 0 {
        return None;
    }
    Some(match kind {
        Kind::Share(_) => 100.0 * cell.num as f64 / cell.den as f64,
        Kind::Mean { .. } => cell.sum / cell.den as f64,
    })
}

/// Binomial standard error of a share, in percentage points.
pub fn standard_error(cell: Cell) -> f64 {
    if cell.den == 0 {
        return f64::NAN;
    }
    let p = cell.num as f64 / cell.den as f64;
    100.0 * (p * (1.0 - p) / cell.den as f64).sqrt()
}

/// The built-in quality measures (HEDIS-style definitions, simplified; see docs/realism.md).
pub fn quality_measures() -> Vec<Measure> {
    let codes = |c: &[&str]| CodeSet::new(c.iter().map(|s| (*s).to_owned()).collect());
    let year = 366;
    vec![
        Measure {
            id: "bp-control".into(),
            label: "Hypertensive adults 18-85 whose latest BP in the last year is < 140/90".into(),
            kind: Kind::Share(Criterion::All(vec![
                Criterion::Observation { codes: codes(&["8480-6"]), days: year, compare: Some(Compare::Below(140.0)) },
                Criterion::Observation { codes: codes(&["8462-4"]), days: year, compare: Some(Compare::Below(90.0)) },
            ])),
            population: Population {
                age: Some((18, 85)),
                having: Some(Criterion::Condition(codes(&["38341003", "59621000"]))),
                ..Population::default()
            },
            by: Vec::new(),
            target: None,
        },
        Measure {
            id: "a1c-control".into(),
            label: "Diabetic adults 18-75 whose latest HbA1c in the last year is < 8 % (no test: not controlled)"
                .into(),
            kind: Kind::Share(Criterion::Observation {
                codes: codes(&["4548-4"]),
                days: year,
                compare: Some(Compare::Below(8.0)),
            }),
            population: Population {
                age: Some((18, 75)),
                having: Some(Criterion::Condition(codes(&["44054006"]))),
                ..Population::default()
            },
            by: Vec::new(),
            target: None,
        },
        Measure {
            id: "crc-screening".into(),
            label: "Adults 50-75 screened for colorectal cancer (colonoscopy in 10 years, FIT in 1)".into(),
            kind: Kind::Share(Criterion::Any(vec![
                Criterion::Procedure { codes: codes(&["73761001"]), days: 10 * 365 + 3 },
                Criterion::Procedure { codes: codes(&["44441009"]), days: 5 * 365 + 2 },
                Criterion::Observation { codes: codes(&["29771-3", "57905-2", "56490-6"]), days: year, compare: None },
                Criterion::Procedure { codes: codes(&["104435004"]), days: year },
                Criterion::Observation { codes: codes(&["77353-1", "77354-9"]), days: 3 * 365 + 1, compare: None },
            ])),
            population: Population { age: Some((50, 75)), ..Population::default() },
            by: Vec::new(),
            target: None,
        },
    ]
}
