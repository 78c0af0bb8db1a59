//! A simulated person: attributes, physiology overrides, symptoms, the "present" map of active
//! entries, the open encounter, and the record being written.
//!
//! A `Person` lives for one patient's simulation on one thread and is dropped after export.
//! Its random stream is its own (derived from the run seed and the patient index), so what
//! happens to one patient never depends on another or on the thread that runs it.

use crate::ast::{Sex, VitalSign};
use crate::compiled::{CodeId, Library, Symbol};
use crate::sim::record::{EncounterIdx, Record, Uuid};
use crate::sim::time::{Date, Time};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Which list of the record an entry lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKind {
    Condition,
    Allergy,
    Medication,
    CarePlan,
    Procedure,
    Device,
}

/// A reference to an entry of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryRef {
    pub kind: EntryKind,
    pub index: u32,
}

/// The value of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Attr<'l> {
    #[default]
    None,
    Bool(bool),
    Num(f64),
    /// Text, interned in the library's `strings`.
    Str(Symbol),
    /// Text of this person's own (an address), in [`Person::texts`].
    Own(u32),
    Code(CodeId),
    Entry(EntryRef),
    /// The codes of an onset not yet diagnosed (Synthea's temporary entry).
    Codes(&'l [CodeId]),
}

/// Who holds the open encounter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The clinical core's wellness and symptom-driven visits.
    Core,
    /// A top-level module run (index into the person's runs).
    Run(u32),
}

#[derive(Debug)]
pub struct Person<'l> {
    pub lib: &'l Library,
    pub rng: ChaCha8Rng,
    /// Seed material for entry identifiers.
    pub id_seed: u64,
    id_counter: u64,
    pub id: Uuid,
    pub sex: Sex,
    pub birth: Time,
    pub birth_date: Date,
    /// Set when the person dies (possibly scheduled in the future by a Death state).
    pub death: Option<Time>,
    pub cause_of_death: Option<CodeId>,
    pub attributes: Vec<Attr<'l>>,
    /// Texts only this person has, which attributes point at with [`Attr::Own`].
    pub texts: Vec<String>,
    /// Values set by VitalSign states, overriding the physiological model.
    pub vital_overrides: [Option<f64>; VitalSign::COUNT],
    /// Per symptom (by symbol): the severity from each cause.
    pub symptoms: Vec<Vec<(Symbol, f64)>>,
    /// Active entries by the code string of their primary code (Synthea's `present`).
    pub present: BTreeMap<Symbol, EntryRef>,
    pub chronic_medications: Vec<u32>,
    pub record: Record<'l>,
    pub open_encounter: Option<(EncounterIdx, Owner)>,
    /// The code of the visit opened for entries made before any encounter.
    pub first_wellness: &'l [CodeId],
    /// Lifelong physiological traits (z-scores) drawn at birth.
    pub traits: crate::core::physiology::Traits,
    /// Without health insurance when no public programme covers them (drawn from the state's
    /// uninsured rate).
    pub uninsured: bool,
    /// The keep module ended in its `Keep` state.
    pub keep_state_reached: bool,
    /// Problems Synthea's engine would have stopped on (a module spinning without time
    /// passing, a lookup key attribute never set, …): counted, with the first few described.
    pub runtime_errors: u32,
    pub runtime_messages: Vec<String>,
    /// A symptom changed since the clinic last summed them.
    pub symptoms_changed: bool,
    /// Runs asleep until an attribute changes: `(attribute, runs as a bit set)`.
    pub watchers: Vec<(Symbol, u128)>,
    /// Runs asleep until the next wellness visit.
    pub wellness_waiters: u128,
    /// Runs asleep until an entry starts or ends, a symptom changes, or an observation is made.
    pub record_waiters: u128,
    /// Runs to wake at their next turn.
    pub woken: u128,
    /// Runs on some attribute's wait list.
    watched: u128,
    /// Test every blocked state at every step instead of sleeping until something can change
    /// (slower; the output must be identical, which a test checks).
    pub poll_every_step: bool,
    /// Every state entered, with its module and time, when tracing is on.
    pub trace: Option<Vec<(crate::compiled::ModuleId, crate::compiled::StateId, Time)>>,
}

impl<'l> Person<'l> {
    pub fn new(
        lib: &'l Library,
        rng: ChaCha8Rng,
        id_seed: u64,
        sex: Sex,
        birth: Time,
        first_wellness: &'l [CodeId],
        traits: crate::core::physiology::Traits,
    ) -> Person<'l> {
        let mut p = Person {
            lib,
            rng,
            id_seed,
            id_counter: 0,
            id: Uuid(0),
            sex,
            birth,
            birth_date: Date::of(birth),
            death: None,
            cause_of_death: None,
            attributes: vec![Attr::None; lib.attributes.len()],
            texts: Vec::new(),
            vital_overrides: [None; VitalSign::COUNT],
            symptoms: vec![Vec::new(); lib.symptoms.len()],
            present: BTreeMap::new(),
            chronic_medications: Vec::new(),
            record: Record::default(),
            open_encounter: None,
            first_wellness,
            traits,
            keep_state_reached: false,
            uninsured: false,
            trace: None,
            symptoms_changed: false,
            runtime_errors: 0,
            runtime_messages: Vec::new(),
            watchers: Vec::new(),
            wellness_waiters: 0,
            record_waiters: 0,
            woken: 0,
            watched: 0,
            poll_every_step: false,
        };
        p.id = p.next_id();
        p
    }

    /// The next identifier of this person's entries: a hash of (seed, counter), independent
    /// of the random stream, so adding an entry never shifts later random draws.
    pub fn next_id(&mut self) -> Uuid {
        self.id_counter += 1;
        let a = splitmix(self.id_seed ^ self.id_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let b = splitmix(a ^ 0xD1B5_4A32_D192_ED03);
        Uuid::from_bits((u128::from(a) << 64) | u128::from(b))
    }

    pub fn alive(&self, t: Time) -> bool {
        self.death.is_none_or(|d| t < d)
    }

    pub fn get(&self, s: Symbol) -> Attr<'l> {
        self.attributes[s.0 as usize]
    }

    pub fn set(&mut self, s: Symbol, v: Attr<'l>) {
        let slot = &mut self.attributes[s.0 as usize];
        if *slot != v {
            *slot = v;
            if !self.watchers.is_empty() {
                for (w, runs) in &self.watchers {
                    if *w == s {
                        self.woken |= *runs;
                    }
                }
            }
        }
    }

    /// Counts a runtime error (its message is kept if it is among the first few).
    pub fn runtime_error(&mut self, message: impl FnOnce() -> String) {
        self.runtime_errors += 1;
        if self.runtime_messages.len() < 3 {
            self.runtime_messages.push(message());
        }
    }

    /// Wakes the runs waiting for the record to change.
    pub fn record_changed(&mut self) {
        self.woken |= self.record_waiters;
    }

    /// Puts run `run` to sleep until one of `attributes` changes.
    pub fn watch(&mut self, run: usize, attributes: &[Symbol]) {
        let bit = 1u128 << run;
        self.watched |= bit;
        for &a in attributes {
            match self.watchers.iter_mut().find(|(w, _)| *w == a) {
                Some((_, runs)) => *runs |= bit,
                None => self.watchers.push((a, bit)),
            }
        }
    }

    /// Takes run `run` off every wait list.
    pub fn unwatch(&mut self, run: usize) {
        let bit = 1u128 << run;
        if self.watched & bit != 0 {
            self.watched &= !bit;
            for (_, runs) in &mut self.watchers {
                *runs &= !bit;
            }
            self.watchers.retain(|(_, runs)| *runs != 0);
        }
        self.wellness_waiters &= !bit;
        self.record_waiters &= !bit;
        self.woken &= !bit;
    }

    pub fn flag(&self, s: Symbol) -> bool {
        match self.get(s) {
            Attr::Bool(b) => b,
            Attr::Num(n) => n != 0.0,
            Attr::None => false,
            _ => true,
        }
    }

    pub fn num(&self, s: Symbol) -> Option<f64> {
        match self.get(s) {
            Attr::Num(n) => Some(n),
            Attr::Bool(b) => Some(f64::from(u8::from(b))),
            _ => None,
        }
    }

    /// Sets a symptom's severity from one cause.
    pub fn set_symptom(&mut self, symptom: Symbol, cause: Symbol, value: f64) {
        self.symptoms_changed = true;
        self.record_changed();
        let causes = &mut self.symptoms[symptom.0 as usize];
        match causes.iter_mut().find(|(c, _)| *c == cause) {
            Some(slot) => slot.1 = value,
            None => causes.push((cause, value)),
        }
    }

    /// A symptom's severity: the highest over its causes.
    pub fn symptom(&self, symptom: Symbol) -> f64 {
        self.symptoms[symptom.0 as usize].iter().map(|(_, v)| *v).fold(0.0, f64::max)
    }

    /// The sum of all symptoms, which drives urgent and emergency visits.
    pub fn symptom_total(&self) -> f64 {
        (0..self.symptoms.len()).map(|i| self.symptom(Symbol(i as u32))).sum()
    }

    /// The encounter entries attach to: the latest one started (Synthea's `currentEncounter`).
    pub fn current_encounter(&self) -> Option<EncounterIdx> {
        self.open_encounter.map(|(e, _)| e).or_else(|| self.record.encounters.len().checked_sub(1).map(|i| i as u32))
    }

    /// Whether an entry with this primary code is active.
    pub fn is_present(&self, code: CodeId) -> bool {
        self.present.contains_key(&self.lib.code(code).key)
    }
}

/// SplitMix64: a fast, well-mixed bijection on 64-bit words.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
