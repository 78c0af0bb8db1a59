//! The GMF engine: steps one person's module runs through their states.
//!
//! Semantics follow Synthea's Java engine (see the GMF reference): each top-level module keeps
//! a call stack of frames (for CallSubmodule) and, when any condition needs it, a history of
//! visited states; a state either passes (then its transition picks the next state) or
//! blocks until a later time step; a Delay that expires inside a step rewinds the module to the
//! expiry time. Entries go to the latest encounter; one module at a time may own the open
//! encounter; onsets with a `target_encounter` wait for that visit to be diagnosed.
//!
//! Architecture invariant: the engine does no I/O and reads no clock; everything it draws comes
//! from the person's own random stream.

use crate::ast::{Amount, DateSpec, Distribution, DistributionParams, EncounterClass, Operator, Sex, TimeUnit};
use crate::compiled::{
    CodeId, ComplexThen, Cond, Key, KeyColumn, Lit, Module, ModuleId, ObsSource, ObsValue, ObservationSpec, Prob,
    Reason, SetValue, State, StateId, StateKind, Symbol, TableIndex, Target, Transition,
};
use crate::sim::person::{Attr, EntryKind, EntryRef, Owner, Person};
use crate::sim::record::{
    Allergy, CarePlan, Device, Encounter, EncounterIdx, Entry, ImagingInstance, ImagingSeries, ImagingStudy,
    Immunization, Medication, Observation, Procedure, Report, Supply, Value,
};
use crate::sim::time::{DAY, Date, MINUTE, Time, age_months, age_years};
use crate::sim::world::World;
use rand::RngExt;

/// One state visit, kept when a module's conditions look back (PriorState).
#[derive(Debug, Clone, Copy)]
pub struct Visit {
    pub module: ModuleId,
    pub state: StateId,
    pub exited: Time,
}

#[derive(Debug, Clone)]
struct Frame {
    module: ModuleId,
    state: StateId,
    entered: Time,
    /// When the current Delay or Procedure ends, once known.
    deadline: Option<Time>,
    /// The submodule this frame called has finished.
    returned: bool,
}

/// An onset waiting for its `target_encounter` visit.
#[derive(Debug, Clone)]
struct Pending {
    module: ModuleId,
    state: StateId,
    onset: Time,
}

/// One top-level module's progress through one person's life.
#[derive(Debug, Clone)]
pub struct Run {
    pub module: ModuleId,
    frames: Vec<Frame>,
    history: Vec<Visit>,
    keep_history: bool,
    pub done: bool,
    /// Nothing can happen before this time (the current Delay's end).
    pub wake: Time,
    wellness_seen: u32,
    pending: Vec<Pending>,
}

impl Run {
    pub fn new(world: &World, module: ModuleId, start: Time) -> Run {
        let m = world.lib.module(module);
        Run {
            module,
            frames: vec![Frame { module, state: m.initial, entered: start, deadline: None, returned: false }],
            history: Vec::new(),
            keep_history: world.needs_history[module.0 as usize],
            done: false,
            wake: start,
            wellness_seen: 0,
            pending: Vec::new(),
        }
    }

    /// The state the module is in (innermost frame).
    pub fn current(&self) -> (ModuleId, StateId) {
        let f = self.frames.last().expect("a run always has a frame");
        (f.module, f.state)
    }
}

/// Per-step context shared by the runs of one person.
#[derive(Debug, Default)]
pub struct Clinic {
    /// Number of the wellness visit currently open (0: none yet).
    pub wellness_visit: u32,
    pub wellness_open: bool,
}

enum Outcome {
    Blocked,
    Passed(Time),
    /// A submodule frame was pushed: process its Initial state at once.
    Descended,
    Terminal,
}

/// Advances one module run to time `t`, as far as it can go.
pub fn advance<'w>(world: &'w World, person: &mut Person<'w>, clinic: &Clinic, runs: &mut [Run], run: usize, t: Time) {
    let mut time = t;
    let mut guard = 0u32;
    loop {
        guard += 1;
        if !person.alive(time) {
            return;
        }
        if guard > 100_000 {
            // A module that spins without time passing is stopped for this step.
            let (m, s) = runs[run].current();
            person.runtime_error(|| {
                let module = world.lib.module(m);
                format!("module `{}` cycles without time passing at state `{}`", module.path, module.state(s).name)
            });
            return;
        }
        let outcome = process_state(world, person, clinic, runs, run, time);
        let r = &mut runs[run];
        match outcome {
            Outcome::Blocked => {
                let f = r.frames.last().expect("frame");
                r.wake = f.deadline.unwrap_or(t);
                return;
            }
            Outcome::Descended => continue,
            Outcome::Terminal => {
                if r.frames.len() == 1 {
                    r.done = true;
                    if person.open_encounter.is_some_and(|(_, o)| o == Owner::Run(run as u32)) {
                        end_encounter(person, time);
                    }
                    return;
                }
                let finished = r.frames.pop().expect("frame");
                if r.keep_history {
                    r.history.push(Visit { module: finished.module, state: finished.state, exited: time });
                }
                r.frames.last_mut().expect("caller").returned = true;
            }
            Outcome::Passed(exited) => {
                let (module, state) = r.current();
                let next = transition(world, person, runs, run, module, state, time);
                let r = &mut runs[run];
                if r.keep_history {
                    r.history.push(Visit { module, state, exited });
                }
                let f = r.frames.last_mut().expect("frame");
                f.state = next;
                f.entered = exited;
                if let Some(trace) = &mut person.trace {
                    trace.push((f.module, next, exited));
                }
                f.deadline = None;
                f.returned = false;
                if exited < time {
                    time = exited;
                }
            }
        }
    }
}

fn state_of(world: &World, module: ModuleId, state: StateId) -> &State {
    &world.lib.module(module).graph[state]
}

#[inline(never)]
fn process_state<'w>(
    world: &'w World,
    person: &mut Person<'w>,
    clinic: &Clinic,
    runs: &mut [Run],
    run: usize,
    t: Time,
) -> Outcome {
    let (module, state_id) = runs[run].current();
    let m: &'w Module = world.lib.module(module);
    let state: &'w State = &m.graph[state_id];
    let me = Owner::Run(run as u32);
    match &state.kind {
        StateKind::Initial | StateKind::Simple | StateKind::Physiology { .. } => Outcome::Passed(t),
        StateKind::Terminal => Outcome::Terminal,
        StateKind::Guard { allow } => {
            if eval(world, person, runs, run, allow, t) {
                Outcome::Passed(t)
            } else {
                // A condition on attributes, age and date can only turn true when one of those
                // attributes changes or the calendar passes a known time: sleep until then
                // instead of testing it every step.
                let (mut attrs, mut record) = (Vec::new(), false);
                let sleep = runs.len() <= 128 && !person.poll_every_step && watchable(allow, &mut attrs, &mut record);
                let wake = if sleep { Some(next_flip(person, allow, t)) } else { None };
                if wake.is_some() {
                    person.watch(run, &attrs);
                    if record {
                        person.record_waiters |= 1u128 << run;
                    }
                }
                runs[run].frames.last_mut().expect("frame").deadline = wake;
                Outcome::Blocked
            }
        }
        StateKind::Delay { duration } => {
            let frame = runs[run].frames.last_mut().expect("frame");
            let deadline = match frame.deadline {
                Some(d) => d,
                None => {
                    let d = frame.entered + duration_ms(&mut person.rng, &duration.amount, duration.unit);
                    frame.deadline = Some(d);
                    d
                }
            };
            if t >= deadline && person.alive(deadline) { Outcome::Passed(deadline) } else { Outcome::Blocked }
        }
        StateKind::SetAttribute { attribute, value } => {
            let v = match value {
                SetValue::Remove | SetValue::Series { .. } => Attr::None,
                SetValue::Literal(l) => lit_attr(*l),
                SetValue::Range { low, high, decimals } => {
                    Attr::Num(round_to(uniform(&mut person.rng, *low, *high), *decimals))
                }
                SetValue::Distribution(d) => Attr::Num(sample(&mut person.rng, d)),
                SetValue::Code(c) => Attr::Code(*c),
                SetValue::CopyAttribute(a) => person.get(*a),
            };
            person.set(*attribute, v);
            Outcome::Passed(t)
        }
        StateKind::Counter { attribute, increment, amount } => {
            let current = person.num(*attribute).unwrap_or(0.0);
            person.set(*attribute, Attr::Num(if *increment { current + amount } else { current - amount }));
            Outcome::Passed(t)
        }
        StateKind::CallSubmodule { submodule } => {
            let r = &mut runs[run];
            let frame = r.frames.last_mut().expect("frame");
            if frame.returned {
                frame.returned = false;
                return Outcome::Passed(t);
            }
            let initial = world.lib.module(*submodule).initial;
            if let Some(trace) = &mut person.trace {
                trace.push((*submodule, initial, t));
            }
            r.frames.push(Frame { module: *submodule, state: initial, entered: t, deadline: None, returned: false });
            Outcome::Descended
        }
        StateKind::Encounter { name, wellness: true, .. } => {
            let open_core = matches!(person.open_encounter, Some((_, Owner::Core)));
            if !(open_core && clinic.wellness_open && runs[run].wellness_seen != clinic.wellness_visit) {
                if runs.len() <= 128 && !person.poll_every_step {
                    // Asleep until the clinic opens the next wellness visit.
                    person.wellness_waiters |= 1u128 << run;
                    runs[run].frames.last_mut().expect("frame").deadline = Some(Time::MAX);
                }
                return Outcome::Blocked;
            }
            runs[run].wellness_seen = clinic.wellness_visit;
            diagnose_pending(world, person, &mut runs[run], *name, t);
            Outcome::Passed(t)
        }
        StateKind::Encounter { name, class, codes, reason, .. } => {
            match person.open_encounter {
                Some((_, owner)) if owner != me => return Outcome::Blocked,
                Some(_) => end_encounter(person, t),
                None => {}
            }
            let reason = reason.as_ref().and_then(|r| resolve_reason(world, person, module, r));
            let class = class.unwrap_or(EncounterClass::Ambulatory);
            start_encounter(person, t, class, codes, Some(*name), me, false, reason);
            diagnose_pending(world, person, &mut runs[run], *name, t);
            Outcome::Passed(t)
        }
        StateKind::EncounterEnd { discharge_disposition } => match person.open_encounter {
            Some((e, owner)) if owner == me => {
                person.record.encounters[e as usize].discharge = *discharge_disposition;
                end_encounter(person, t);
                Outcome::Passed(t)
            }
            Some((_, Owner::Core)) | None => Outcome::Passed(t),
            Some(_) => Outcome::Blocked,
        },
        StateKind::ConditionOnset(onset) | StateKind::AllergyOnset { onset, .. } => {
            let at_target = match onset.target_encounter {
                None => true,
                Some(target) => person
                    .open_encounter
                    .is_some_and(|(e, _)| person.record.encounters[e as usize].name == Some(target)),
            };
            if at_target {
                diagnose(world, person, module, state_id, t, t);
            } else {
                if let Some(a) = onset.assign_to_attribute {
                    person.set(a, Attr::Codes(&onset.codes));
                }
                runs[run].pending.push(Pending { module, state: state_id, onset: t });
            }
            Outcome::Passed(t)
        }
        StateKind::ConditionEnd(target) | StateKind::AllergyEnd(target) => {
            let kind = if matches!(state.kind, StateKind::ConditionEnd(_)) {
                EntryKind::Condition
            } else {
                EntryKind::Allergy
            };
            end_entries(world, person, module, target, &[kind, EntryKind::Condition, EntryKind::Allergy], t);
            Outcome::Passed(t)
        }
        StateKind::MedicationEnd(target) => {
            for r in end_entries(world, person, module, target, &[EntryKind::Medication], t) {
                person.chronic_medications.retain(|&i| i != r.index);
            }
            Outcome::Passed(t)
        }
        StateKind::CarePlanEnd(target) => {
            end_entries(world, person, module, target, &[EntryKind::CarePlan], t);
            Outcome::Passed(t)
        }
        StateKind::DeviceEnd(target) => {
            end_entries(world, person, module, target, &[EntryKind::Device], t);
            Outcome::Passed(t)
        }
        StateKind::MedicationOrder { codes, reason, prescription, administration, chronic, assign_to_attribute } => {
            let reason = reason.as_ref().and_then(|r| resolve_reason(world, person, module, r));
            let entry = new_entry(person, t, codes, Some(state_name(world, module, state_id)));
            let daily_doses = prescription.as_ref().and_then(|p| p.dosage.as_ref()).map(|d| {
                let period_days = (d.period * d.unit.millis() / DAY as f64).max(1e-9);
                d.amount * d.frequency / period_days
            });
            let med = Medication {
                entry,
                reason,
                chronic: *chronic,
                administration: *administration,
                as_needed: prescription.as_ref().is_some_and(|p| p.as_needed),
                refills: prescription.as_ref().map_or(0, |p| p.refills),
                daily_doses,
            };
            let index = push_entry(person, EntryKind::Medication, codes, |rec| {
                rec.medications.push(med);
                rec.medications.len() - 1
            });
            if *administration && !*chronic {
                // An administration only: it starts and stops at once.
                let m = &mut person.record.medications[index as usize];
                m.entry.stop = Some(t);
                remove_present(person, codes);
            }
            if *chronic {
                person.chronic_medications.push(index);
            }
            if let Some(a) = assign_to_attribute {
                person.set(*a, Attr::Entry(EntryRef { kind: EntryKind::Medication, index }));
            }
            Outcome::Passed(t)
        }
        StateKind::CarePlanStart { codes, activities, goals, reason, assign_to_attribute } => {
            let reason = reason.as_ref().and_then(|r| resolve_reason(world, person, module, r));
            let entry = new_entry(person, t, codes, Some(state_name(world, module, state_id)));
            let index = push_entry(person, EntryKind::CarePlan, codes, |rec| {
                rec.careplans.push(CarePlan { entry, activities, goals, reason });
                rec.careplans.len() - 1
            });
            if let Some(a) = assign_to_attribute {
                person.set(*a, Attr::Entry(EntryRef { kind: EntryKind::CarePlan, index }));
            }
            Outcome::Passed(t)
        }
        StateKind::Procedure { codes, reason, duration, assign_to_attribute } => {
            let frame = runs[run].frames.last_mut().expect("frame");
            if let Some(deadline) = frame.deadline {
                return if t >= deadline { Outcome::Passed(deadline) } else { Outcome::Blocked };
            }
            let length = duration.as_ref().map_or(0, |d| duration_ms(&mut person.rng, &d.amount, d.unit));
            let stop = t + length;
            runs[run].frames.last_mut().expect("frame").deadline = Some(stop);
            let reason = reason.as_ref().and_then(|r| resolve_reason(world, person, module, r));
            let mut entry = new_entry(person, t, codes, Some(state_name(world, module, state_id)));
            entry.stop = Some(stop);
            let index = push_entry(person, EntryKind::Procedure, codes, |rec| {
                rec.procedures.push(Procedure { entry, reason });
                rec.procedures.len() - 1
            });
            if let Some(a) = assign_to_attribute {
                person.set(*a, Attr::Entry(EntryRef { kind: EntryKind::Procedure, index }));
            }
            if t >= stop { Outcome::Passed(stop) } else { Outcome::Blocked }
        }
        StateKind::VitalSign { vital_sign, amount, .. } => {
            let v = sample_amount(&mut person.rng, amount);
            person.vital_overrides[vital_sign.index()] = Some(v);
            Outcome::Passed(t)
        }
        StateKind::Observation(spec) => {
            record_observation(world, person, spec, t);
            Outcome::Passed(t)
        }
        StateKind::MultiObservation { codes, observations, .. }
        | StateKind::DiagnosticReport { codes, observations } => {
            let first = person.record.observations.len() as u32;
            for spec in observations {
                record_observation(world, person, spec, t);
            }
            let last = person.record.observations.len() as u32;
            let encounter = encounter_for_entry(person, t);
            let id = person.next_id();
            let panel = matches!(state.kind, StateKind::MultiObservation { .. });
            person.record.reports.push(Report { id, time: t, codes, encounter, observations: first..last, panel });
            Outcome::Passed(t)
        }
        StateKind::ImagingStudy { procedure_code, series, min_series, max_series } => {
            let encounter = encounter_for_entry(person, t);
            let n_series = match (min_series, max_series) {
                (Some(lo), Some(hi)) if hi >= lo => person.rng.random_range(*lo..=*hi).max(1) as usize,
                _ => series.len(),
            };
            let mut out = Vec::with_capacity(n_series);
            for i in 0..n_series.max(series.len()) {
                let s = &series[i.min(series.len() - 1)];
                if i >= n_series && i >= series.len() {
                    break;
                }
                let n_inst = match (s.min_instances, s.max_instances) {
                    (Some(lo), Some(hi)) if hi >= lo => person.rng.random_range(lo..=hi).max(1) as usize,
                    _ => s.instances.len(),
                };
                let instances = (0..n_inst.max(1))
                    .map(|k| {
                        let (title, sop) = &s.instances[k.min(s.instances.len().saturating_sub(1))];
                        ImagingInstance { uid: dicom_uid(person), title: title.clone(), sop_class: *sop }
                    })
                    .collect();
                out.push(ImagingSeries {
                    uid: dicom_uid(person),
                    body_site: s.body_site,
                    modality: s.modality,
                    instances,
                });
            }
            let id = person.next_id();
            person.record.imaging_studies.push(ImagingStudy {
                id,
                time: t,
                procedure_code: *procedure_code,
                encounter,
                series: out,
            });
            let codes: &'w [CodeId] = std::slice::from_ref(procedure_code);
            let mut entry = new_entry(person, t, codes, None);
            entry.stop = Some(t + 30 * MINUTE);
            person.record.procedures.push(Procedure { entry, reason: None });
            Outcome::Passed(t)
        }
        StateKind::Device { code, assign_to_attribute, .. } => {
            let codes: &'w [CodeId] = std::slice::from_ref(code);
            let entry = new_entry(person, t, codes, Some(state_name(world, module, state_id)));
            let udi = device_udi(person, t);
            let index = push_entry(person, EntryKind::Device, codes, |rec| {
                rec.devices.push(Device { entry, udi });
                rec.devices.len() - 1
            });
            if let Some(a) = assign_to_attribute {
                person.set(*a, Attr::Entry(EntryRef { kind: EntryKind::Device, index }));
            }
            Outcome::Passed(t)
        }
        StateKind::SupplyList { supplies } => {
            let encounter = encounter_for_entry(person, t);
            for (code, quantity) in supplies {
                person.record.supplies.push(Supply { time: t, code: *code, quantity: *quantity, encounter });
            }
            Outcome::Passed(t)
        }
        StateKind::Symptom { symptom, cause, probability, amount } => {
            // As in Synthea, the draw is made whatever the probability.
            let draw: f64 = person.rng.random();
            if draw < *probability {
                let v = sample_amount(&mut person.rng, amount).trunc();
                person.set_symptom(*symptom, *cause, v);
            }
            Outcome::Passed(t)
        }
        StateKind::Death { cause, delay } => {
            let when = match delay {
                Some(d) => t + duration_ms(&mut person.rng, &d.amount, d.unit),
                None => t,
            };
            let cause = cause.as_ref().and_then(|c| target_code(world, person, module, c));
            if let Some(Target::Attribute(a)) = cause_target(&state.kind)
                && person.get(*a) == Attr::None
            {
                let name = world.lib.attributes.name(*a).to_owned();
                person.runtime_error(|| format!("Death names attribute `{name}` as its cause, but it is not set"));
            }
            if person.death.is_none_or(|existing| when < existing) {
                person.death = Some(when);
                person.cause_of_death = cause;
            }
            Outcome::Passed(t)
        }
        StateKind::Vaccine { codes, .. } => {
            let encounter = encounter_for_entry(person, t);
            let id = person.next_id();
            person.record.immunizations.push(Immunization { id, time: t, codes, encounter });
            Outcome::Passed(t)
        }
    }
}

fn cause_target(kind: &StateKind) -> Option<&Target> {
    match kind {
        StateKind::Death { cause, .. } => cause.as_ref(),
        _ => None,
    }
}

fn state_name(world: &World, module: ModuleId, state: StateId) -> crate::compiled::Symbol {
    world.state_symbols[module.0 as usize][state.index()]
}

fn dicom_uid(person: &mut Person) -> String {
    let id = person.next_id().0;
    format!("1.2.840.99999999.{}.{}", (id >> 64) as u64 % 100_000_000, id as u64 % 10_000_000_000_000)
}

fn device_udi(person: &mut Person, t: Time) -> String {
    let id = person.next_id().0;
    let d = Date::of(t);
    format!(
        "(01){:014}(11){:02}{:02}{:02}(17){:02}{:02}{:02}(10){}(21){}",
        (id >> 64) as u64 % 100_000_000_000_000,
        d.year % 100,
        d.month,
        d.day,
        (d.year + 25) % 100,
        d.month,
        d.day,
        (id as u64) % 100_000_000,
        (id >> 32) as u64 % 10_000_000
    )
}

// ---- encounters and entries ---------------------------------------------------------------

/// Opens an encounter and makes it the open one.
#[allow(clippy::too_many_arguments)]
pub fn start_encounter<'w>(
    person: &mut Person<'w>,
    t: Time,
    class: EncounterClass,
    codes: &'w [CodeId],
    name: Option<crate::compiled::Symbol>,
    owner: Owner,
    wellness: bool,
    reason: Option<CodeId>,
) -> EncounterIdx {
    let id = person.next_id();
    person.record.encounters.push(Encounter {
        id,
        start: t,
        stop: None,
        class,
        codes,
        reason,
        name,
        discharge: None,
        wellness,
    });
    let idx = (person.record.encounters.len() - 1) as u32;
    person.open_encounter = Some((idx, owner));
    idx
}

/// Closes the open encounter (visits last at least 15 minutes) and releases its owner's lock.
pub fn end_encounter(person: &mut Person, t: Time) {
    if let Some((e, _)) = person.open_encounter.take() {
        let enc = &mut person.record.encounters[e as usize];
        let end = t.max(enc.start + 15 * MINUTE);
        enc.stop = Some(match person.death {
            Some(d) if d < end => d.max(enc.start),
            _ => end,
        });
    }
}

/// The encounter a new entry belongs to; a first wellness visit is opened if there is none.
fn encounter_for_entry(person: &mut Person, t: Time) -> EncounterIdx {
    match person.current_encounter() {
        Some(e) => e,
        None => {
            // Synthea's "First Wellness": entries before any visit still need one.
            let codes = person.first_wellness;
            let e = start_encounter(person, t, EncounterClass::Wellness, codes, None, Owner::Core, true, None);
            person.open_encounter = None;
            person.record.encounters[e as usize].stop = Some(t + 15 * MINUTE);
            e
        }
    }
}

fn new_entry<'w>(
    person: &mut Person<'w>,
    t: Time,
    codes: &'w [CodeId],
    name: Option<crate::compiled::Symbol>,
) -> Entry<'w> {
    let encounter = encounter_for_entry(person, t);
    Entry { id: person.next_id(), start: t, stop: None, codes, encounter, name }
}

/// Appends an entry with `push` and files it in the present map under its primary code.
fn push_entry<'w>(
    person: &mut Person<'w>,
    kind: EntryKind,
    codes: &[CodeId],
    push: impl FnOnce(&mut crate::sim::record::Record<'w>) -> usize,
) -> u32 {
    let index = push(&mut person.record) as u32;
    if let Some(&first) = codes.first() {
        let key = person.lib.code(first).key;
        person.present.insert(key, EntryRef { kind, index });
        person.record_changed();
    }
    index
}

fn remove_present(person: &mut Person, codes: &[CodeId]) {
    if let Some(&first) = codes.first() {
        let key = person.lib.code(first).key;
        person.present.remove(&key);
        person.record_changed();
    }
}

/// Records an onset state's condition or allergy.
fn diagnose<'w>(world: &'w World, person: &mut Person<'w>, module: ModuleId, state: StateId, onset: Time, t: Time) {
    let s: &'w State = state_of(world, module, state);
    let name = Some(state_name(world, module, state));
    // As in Synthea, a condition or allergy already active is not started again: the onset
    // refers to the existing entry.
    let codes = match &s.kind {
        StateKind::ConditionOnset(o) | StateKind::AllergyOnset { onset: o, .. } => &o.codes,
        _ => return,
    };
    if let Some(&first) = codes.first()
        && let Some(&existing) = person.present.get(&person.lib.code(first).key)
        && matches!(existing.kind, EntryKind::Condition | EntryKind::Allergy)
    {
        if let StateKind::ConditionOnset(o) | StateKind::AllergyOnset { onset: o, .. } = &s.kind
            && let Some(a) = o.assign_to_attribute
        {
            person.set(a, Attr::Entry(existing));
        }
        return;
    }
    match &s.kind {
        StateKind::ConditionOnset(o) => {
            let mut entry = new_entry(person, t, &o.codes, name);
            entry.start = onset;
            let index = push_entry(person, EntryKind::Condition, &o.codes, |rec| {
                rec.conditions.push(entry);
                rec.conditions.len() - 1
            });
            if let Some(a) = o.assign_to_attribute {
                person.set(a, Attr::Entry(EntryRef { kind: EntryKind::Condition, index }));
            }
        }
        StateKind::AllergyOnset { onset: o, allergy_type, category, reactions } => {
            let mut entry = new_entry(person, t, &o.codes, name);
            entry.start = onset;
            let reactions = reactions
                .iter()
                .filter_map(|r| {
                    let draw: f64 = person.rng.random();
                    let mut acc = 0.0;
                    for (sev, p) in &r.severities {
                        acc += p;
                        if draw < acc {
                            return (*sev != crate::ast::Severity::None).then_some((r.reaction, *sev));
                        }
                    }
                    None
                })
                .collect();
            let allergy = Allergy { entry, allergy_type: *allergy_type, category, reactions };
            let index = push_entry(person, EntryKind::Allergy, &o.codes, |rec| {
                rec.allergies.push(allergy);
                rec.allergies.len() - 1
            });
            if let Some(a) = o.assign_to_attribute {
                person.set(a, Attr::Entry(EntryRef { kind: EntryKind::Allergy, index }));
            }
        }
        _ => {}
    }
}

#[inline(never)]
fn diagnose_pending<'w>(
    world: &'w World,
    person: &mut Person<'w>,
    run: &mut Run,
    encounter: crate::compiled::Symbol,
    t: Time,
) {
    if run.pending.is_empty() {
        return;
    }
    let mut i = 0;
    while i < run.pending.len() {
        let p = run.pending[i].clone();
        let target = match &state_of(world, p.module, p.state).kind {
            StateKind::ConditionOnset(o) | StateKind::AllergyOnset { onset: o, .. } => o.target_encounter,
            _ => None,
        };
        if target == Some(encounter) {
            run.pending.remove(i);
            diagnose(world, person, p.module, p.state, p.onset, t);
        } else {
            i += 1;
        }
    }
}

fn entry_of<'a, 'w>(person: &'a mut Person<'w>, r: EntryRef) -> Option<&'a mut Entry<'w>> {
    let rec = &mut person.record;
    let i = r.index as usize;
    match r.kind {
        EntryKind::Condition => rec.conditions.get_mut(i),
        EntryKind::Allergy => rec.allergies.get_mut(i).map(|a| &mut a.entry),
        EntryKind::Medication => rec.medications.get_mut(i).map(|m| &mut m.entry),
        EntryKind::CarePlan => rec.careplans.get_mut(i).map(|c| &mut c.entry),
        EntryKind::Procedure => rec.procedures.get_mut(i).map(|p| &mut p.entry),
        EntryKind::Device => rec.devices.get_mut(i).map(|d| &mut d.entry),
    }
}

/// Ends the active entries a `*End` state names; returns what it ended.
#[inline(never)]
fn end_entries(
    world: &World,
    person: &mut Person,
    module: ModuleId,
    target: &Target,
    kinds: &[EntryKind],
    t: Time,
) -> Vec<EntryRef> {
    let refs: Vec<EntryRef> = match target {
        Target::Attribute(a) => match person.get(*a) {
            Attr::Entry(r) => vec![r],
            Attr::Codes(cs) => {
                cs.first().and_then(|c| person.present.get(&person.lib.code(*c).key).copied()).into_iter().collect()
            }
            _ => Vec::new(),
        },
        Target::Codes(codes) => {
            codes.iter().filter_map(|c| person.present.get(&person.lib.code(*c).key).copied()).collect()
        }
        Target::State(s) => {
            let name = state_name(world, module, *s);
            person
                .present
                .values()
                .copied()
                .filter(|r| kinds.contains(&r.kind))
                .filter(|r| {
                    let rec = &person.record;
                    let i = r.index as usize;
                    let entry_name = match r.kind {
                        EntryKind::Condition => rec.conditions[i].name,
                        EntryKind::Allergy => rec.allergies[i].entry.name,
                        EntryKind::Medication => rec.medications[i].entry.name,
                        EntryKind::CarePlan => rec.careplans[i].entry.name,
                        EntryKind::Procedure => rec.procedures[i].entry.name,
                        EntryKind::Device => rec.devices[i].entry.name,
                    };
                    entry_name == Some(name)
                })
                .collect()
        }
    };
    let mut ended = Vec::new();
    for r in refs {
        if !kinds.contains(&r.kind) {
            continue;
        }
        let Some(entry) = entry_of(person, r) else { continue };
        if entry.stop.is_none_or(|s| s > t) {
            entry.stop = Some(t);
        }
        let codes = entry.codes;
        if let Some(&first) = codes.first() {
            let key = person.lib.code(first).key;
            if person.present.get(&key) == Some(&r) {
                person.present.remove(&key);
            }
            person.record_changed();
        }
        ended.push(r);
    }
    ended
}

/// The primary code an entry, code or onset attribute stands for.
fn attr_code(person: &Person, a: Attr) -> Option<CodeId> {
    match a {
        Attr::Code(c) => Some(c),
        Attr::Codes(cs) => cs.first().copied(),
        Attr::Entry(r) => {
            let rec = &person.record;
            let i = r.index as usize;
            let codes = match r.kind {
                EntryKind::Condition => rec.conditions.get(i).map(|e| e.codes),
                EntryKind::Allergy => rec.allergies.get(i).map(|e| e.entry.codes),
                EntryKind::Medication => rec.medications.get(i).map(|e| e.entry.codes),
                EntryKind::CarePlan => rec.careplans.get(i).map(|e| e.entry.codes),
                EntryKind::Procedure => rec.procedures.get(i).map(|e| e.entry.codes),
                EntryKind::Device => rec.devices.get(i).map(|e| e.entry.codes),
            };
            codes.and_then(|c| c.first().copied())
        }
        _ => None,
    }
}

fn target_code(world: &World, person: &Person, module: ModuleId, t: &Target) -> Option<CodeId> {
    match t {
        Target::Codes(cs) => cs.first().copied(),
        Target::Attribute(a) => attr_code(person, person.get(*a)),
        Target::State(s) => match &state_of(world, module, *s).kind {
            StateKind::ConditionOnset(o) | StateKind::AllergyOnset { onset: o, .. } => o.codes.first().copied(),
            _ => None,
        },
    }
}

/// Synthea's reason resolution: an attribute's entry or code; else an active entry made by a
/// state of that name; else this module's onset state of that name.
fn resolve_reason(world: &World, person: &Person, module: ModuleId, r: &Reason) -> Option<CodeId> {
    if let Some(c) = attr_code(person, person.get(r.attribute)) {
        return Some(c);
    }
    for e in person.present.values() {
        let rec = &person.record;
        let i = e.index as usize;
        let (name, codes) = match e.kind {
            EntryKind::Condition => (rec.conditions[i].name, rec.conditions[i].codes),
            EntryKind::Allergy => (rec.allergies[i].entry.name, rec.allergies[i].entry.codes),
            _ => continue,
        };
        if name == Some(r.entry_name) {
            return codes.first().copied();
        }
    }
    r.own_state.and_then(|s| target_code(world, person, module, &Target::State(s)))
}

#[inline(never)]
fn record_observation<'w>(world: &'w World, person: &mut Person<'w>, spec: &'w ObservationSpec, t: Time) {
    let value = match &spec.source {
        ObsSource::Amount { amount, decimals } => {
            Value::Number(round_to(sample_amount(&mut person.rng, amount), *decimals))
        }
        ObsSource::Text(s) => Value::Text(s.clone()),
        ObsSource::Attribute(a) => match person.get(*a) {
            Attr::Num(n) => Value::Number(n),
            Attr::Bool(b) => Value::Text(b.to_string()),
            Attr::Str(s) => Value::Text(world.lib.strings.name(s).to_owned()),
            Attr::Own(i) => Value::Text(person.texts.get(i as usize).cloned().unwrap_or_default()),
            other => attr_code(person, other).map_or(Value::None, Value::Code),
        },
        ObsSource::VitalSign(v) => Value::Number(crate::sim::lifecycle::vital(world, person, *v, t)),
        ObsSource::Code(c) => Value::Code(*c),
        ObsSource::SampledData(_) | ObsSource::Attachment | ObsSource::Nothing => Value::None,
    };
    let encounter = encounter_for_entry(person, t);
    let id = person.next_id();
    person.record_changed();
    person.record.observations.push(Observation {
        id,
        time: t,
        codes: &spec.codes,
        category: spec.category.as_deref().unwrap_or(""),
        unit: spec.unit.as_deref().unwrap_or(""),
        value,
        encounter,
    });
}

// ---- transitions ----------------------------------------------------------------------------

fn pick(person: &mut Person, options: &[(Prob, StateId)]) -> StateId {
    let draw: f64 = person.rng.random();
    let mut acc = 0.0;
    for (p, s) in options {
        acc += match p {
            Prob::Fixed(x) => *x,
            Prob::Attribute { attribute, default } => person.num(*attribute).unwrap_or(*default),
        };
        if draw < acc {
            return *s;
        }
    }
    options.last().expect("validated: at least one option").1
}

fn pick_weights(person: &mut Person, weights: &[f64], options: &[StateId]) -> StateId {
    let draw: f64 = person.rng.random();
    let mut acc = 0.0;
    for (w, s) in weights.iter().zip(options) {
        acc += w;
        if draw < acc {
            return *s;
        }
    }
    *options.last().expect("validated: at least one option")
}

#[inline(never)]
fn transition<'w>(
    world: &'w World,
    person: &mut Person<'w>,
    runs: &[Run],
    run: usize,
    module: ModuleId,
    state: StateId,
    t: Time,
) -> StateId {
    let s = state_of(world, module, state);
    match &s.transition {
        Transition::None => state,
        Transition::Direct(to) => *to,
        Transition::Distributed(options) => pick(person, options),
        Transition::Conditional(options) => {
            for (cond, to) in options {
                if cond.as_ref().is_none_or(|c| eval(world, person, runs, run, c, t)) {
                    return *to;
                }
            }
            options.last().expect("validated").1
        }
        Transition::Complex(options) => {
            let chosen = options
                .iter()
                .find(|(c, _)| c.as_ref().is_none_or(|c| eval(world, person, runs, run, c, t)))
                .or(options.last())
                .map(|(_, then)| then)
                .expect("validated");
            match chosen {
                ComplexThen::Direct(to) => *to,
                ComplexThen::Distributed(options) => pick(person, options),
            }
        }
        Transition::Lookup { table, options, defaults } => {
            let table = &world.lib.tables[table.0 as usize];
            for col in &table.columns {
                if let KeyColumn::Attribute(a) = col
                    && person.get(*a) == Attr::None
                {
                    let (name, table_name) = (world.lib.attributes.name(*a).to_owned(), table.name.clone());
                    person.runtime_error(|| {
                        format!("lookup table `{table_name}` reads attribute `{name}`, which is not set")
                    });
                }
            }
            let age = age_years(person.birth_date, Date::of(t)).max(0) as u32;
            let matches = |row: &crate::compiled::TableRow| {
                row.keys.iter().zip(&table.columns).all(|(cell, col)| match (cell, col) {
                    (Key::Age { low, high }, KeyColumn::Age) => (*low..=*high).contains(&age),
                    (Key::Time { low, high }, KeyColumn::Time) => (*low..=*high).contains(&t),
                    (Key::Text { text, number, boolean }, KeyColumn::Attribute(a)) => match person.get(*a) {
                        Attr::Str(s) => s == *text,
                        Attr::Num(n) => number.is_some_and(|x| x == n),
                        Attr::Bool(b) => *boolean == Some(b),
                        other => attr_text(world, other) == world.lib.strings.name(*text),
                    },
                    _ => false,
                })
            };
            let by_index =
                |candidates: &[u32]| candidates.iter().map(|&r| &table.rows[r as usize]).find(|r| matches(r));
            let row = match &table.index {
                TableIndex::Scan => table.rows.iter().find(|r| matches(r)),
                TableIndex::Age { by_year, .. } => by_index(&by_year[(age as usize).min(by_year.len() - 1)]),
                TableIndex::Time { ranges, .. } => {
                    let i = ranges.partition_point(|&(low, _, _)| low <= t);
                    i.checked_sub(1)
                        .map(|i| ranges[i])
                        .filter(|&(_, high, _)| t <= high)
                        .map(|(_, _, r)| &table.rows[r as usize])
                        .filter(|r| matches(r))
                }
                TableIndex::Text { column, by_value } => match table.columns[*column] {
                    KeyColumn::Attribute(a) => match person.get(a) {
                        Attr::Str(s) => by_value.get(&s).and_then(|c| by_index(c)),
                        _ => table.rows.iter().find(|r| matches(r)),
                    },
                    _ => table.rows.iter().find(|r| matches(r)),
                },
            };
            match row {
                Some(row) => pick_weights(person, &row.probabilities, options),
                None => pick_weights(person, defaults, options),
            }
        }
        Transition::TypeOfCare { ambulatory, emergency, telemedicine } => {
            let year = Date::of(t).year;
            let draw: f64 = person.rng.random();
            let high_emergency = matches!(person.get(world.sym.insurance_status), Attr::Str(s) if world.lib.strings.name(s) != "private");
            let (a, e) = match (year >= 2020, high_emergency) {
                (false, false) => (0.75, 0.25),
                (false, true) => (0.65, 0.35),
                (true, false) => (0.56, 0.20),
                (true, true) => (0.66, 0.25),
            };
            if draw < a {
                *ambulatory
            } else if draw < a + e || year < 2020 {
                *emergency
            } else {
                *telemedicine
            }
        }
    }
}

/// An attribute's text form, as lookup tables compare it.
fn attr_text(world: &World, a: Attr) -> String {
    match a {
        Attr::None => String::new(),
        Attr::Bool(b) => b.to_string(),
        Attr::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", n as i64),
        Attr::Num(n) => n.to_string(),
        Attr::Str(s) => world.lib.strings.name(s).to_owned(),
        Attr::Code(c) => world.lib.code(c).code.clone(),
        Attr::Entry(_) | Attr::Codes(_) | Attr::Own(_) => String::new(),
    }
}

// ---- conditions -----------------------------------------------------------------------------

fn cmp_num(op: Operator, lhs: f64, rhs: f64) -> bool {
    match op {
        Operator::Lt => lhs < rhs,
        Operator::Le => lhs <= rhs,
        Operator::Eq => lhs == rhs,
        Operator::Ge => lhs >= rhs,
        Operator::Gt => lhs > rhs,
        Operator::Ne => lhs != rhs,
        Operator::IsNil => false,
        Operator::IsNotNil => true,
    }
}

fn cmp_ord(op: Operator, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Operator::Lt => ord == Less,
        Operator::Le => ord != Greater,
        Operator::Eq => ord == Equal,
        Operator::Ge => ord != Less,
        Operator::Gt => ord == Greater,
        Operator::Ne => ord != Equal,
        Operator::IsNil => false,
        Operator::IsNotNil => true,
    }
}

/// Synthea's `Utilities.compare` on an attribute and a literal.
fn compare_attr(world: &World, person: &Person, op: Operator, lhs: Attr, rhs: Lit) -> bool {
    let is_nil = matches!(lhs, Attr::None);
    match op {
        Operator::IsNil => return is_nil,
        Operator::IsNotNil => return !is_nil,
        _ if is_nil => return false,
        _ => {}
    }
    match (lhs, rhs) {
        (Attr::Num(a), Lit::Num(b)) => cmp_num(op, a, b),
        (Attr::Bool(a), Lit::Bool(b)) => match op {
            Operator::Eq => a == b,
            _ => a != b,
        },
        (Attr::Str(a), Lit::Str(b)) => match op {
            Operator::Eq => a == b,
            Operator::Ne => a != b,
            _ => cmp_ord(op, world.lib.strings.name(a).cmp(world.lib.strings.name(b))),
        },
        (Attr::Num(a), Lit::Bool(b)) => cmp_num(op, a, f64::from(u8::from(b))),
        (Attr::Own(i), Lit::Str(b)) => {
            let text = person.texts.get(i as usize).map_or("", String::as_str);
            cmp_ord(op, text.cmp(world.lib.strings.name(b)))
        }
        (a @ (Attr::Code(_) | Attr::Entry(_) | Attr::Codes(_)), Lit::Str(b)) => {
            let code = attr_code(person, a).map(|c| world.lib.code(c).code.as_str());
            cmp_ord(op, code.unwrap_or("").cmp(world.lib.strings.name(b)))
        }
        _ => false,
    }
}

fn lit_attr(l: Lit) -> Attr<'static> {
    match l {
        Lit::Null => Attr::None,
        Lit::Bool(b) => Attr::Bool(b),
        Lit::Num(n) => Attr::Num(n),
        Lit::Str(s) => Attr::Str(s),
    }
}

fn active(person: &Person, target: &Target, need_open: bool, kinds: &[EntryKind]) -> bool {
    let check = |r: EntryRef| {
        kinds.contains(&r.kind)
            && (!need_open || {
                let rec = &person.record;
                let i = r.index as usize;
                match r.kind {
                    EntryKind::Medication => rec.medications[i].entry.stop.is_none(),
                    EntryKind::CarePlan => rec.careplans[i].entry.stop.is_none(),
                    _ => true,
                }
            })
    };
    match target {
        Target::Codes(codes) => {
            codes.iter().any(|c| person.present.get(&person.lib.code(*c).key).is_some_and(|&r| check(r)))
        }
        Target::Attribute(a) => match person.get(*a) {
            Attr::Entry(r) => person.present.values().any(|&p| p == r) && check(r),
            Attr::Code(c) => person.present.get(&person.lib.code(c).key).is_some_and(|&r| check(r)),
            _ => false,
        },
        Target::State(_) => false,
    }
}

const ALL_KINDS: &[EntryKind] = &[
    EntryKind::Condition,
    EntryKind::Allergy,
    EntryKind::Medication,
    EntryKind::CarePlan,
    EntryKind::Procedure,
    EntryKind::Device,
];

/// Evaluates a condition for the person at time `t`.
pub fn eval(world: &World, person: &Person, runs: &[Run], run: usize, c: &Cond, t: Time) -> bool {
    match c {
        Cond::And(cs) => cs.iter().all(|c| eval(world, person, runs, run, c, t)),
        Cond::Or(cs) => cs.iter().any(|c| eval(world, person, runs, run, c, t)),
        Cond::Not(c) => !eval(world, person, runs, run, c, t),
        Cond::AtLeast(n, cs) => cs.iter().filter(|c| eval(world, person, runs, run, c, t)).count() >= *n as usize,
        Cond::AtMost(n, cs) => cs.iter().filter(|c| eval(world, person, runs, run, c, t)).count() <= *n as usize,
        Cond::True => true,
        Cond::False => false,
        Cond::Gender(s) => person.sex == *s,
        Cond::Age { operator, quantity, unit } => {
            let now = Date::of(t);
            let age = match unit {
                TimeUnit::Months => f64::from(age_months(person.birth_date, now)),
                _ => f64::from(age_years(person.birth_date, now)),
            };
            cmp_num(*operator, age, *quantity)
        }
        Cond::Date { operator, date } => match date {
            DateSpec::Year(y) => cmp_num(*operator, f64::from(Date::of(t).year), f64::from(*y)),
            DateSpec::Month(m) => cmp_num(*operator, f64::from(Date::of(t).month), f64::from(*m)),
            DateSpec::Instant(ms) => cmp_ord(*operator, t.cmp(ms)),
        },
        Cond::SocioeconomicStatus(cat) => match person.get(world.sym.socioeconomic_category) {
            Attr::Str(s) => world.lib.strings.name(s) == cat.as_str(),
            _ => false,
        },
        Cond::Race(r) => match person.get(world.sym.race) {
            Attr::Str(s) => world.lib.strings.name(s).eq_ignore_ascii_case(r),
            _ => false,
        },
        Cond::Symptom { symptom, operator, value } => cmp_num(*operator, person.symptom(*symptom), *value),
        Cond::VitalSign { vital_sign, operator, value } => {
            cmp_num(*operator, crate::sim::lifecycle::vital(world, person, *vital_sign, t), *value)
        }
        Cond::Observation { target, operator, value } => {
            let codes: &[CodeId] = match target {
                Target::Codes(cs) => cs,
                _ => &[],
            };
            let latest = person.record.observations.iter().rev().find(|o| {
                o.codes
                    .first()
                    .is_some_and(|c| codes.iter().any(|x| world.lib.code(*x).code == world.lib.code(*c).code))
            });
            match (operator, latest) {
                (Operator::IsNil, l) => l.is_none(),
                (Operator::IsNotNil, l) => l.is_some(),
                (_, None) => false,
                (op, Some(o)) => match (&o.value, value) {
                    (Value::Number(n), Some(ObsValue::Literal(Lit::Num(x)))) => cmp_num(*op, *n, *x),
                    (Value::Code(c), Some(ObsValue::Code(x))) => {
                        let (a, b) = (world.lib.code(*c), world.lib.code(*x));
                        let same = a.code == b.code && a.system == b.system;
                        if *op == Operator::Ne { !same } else { same }
                    }
                    (Value::Text(s), Some(ObsValue::Literal(Lit::Str(x)))) => {
                        cmp_ord(*op, s.as_str().cmp(world.lib.strings.name(*x)))
                    }
                    _ => false,
                },
            }
        }
        Cond::ActiveCondition(target) => active(person, target, false, ALL_KINDS),
        Cond::ActiveAllergy(target) => active(person, target, false, ALL_KINDS),
        Cond::ActiveMedication(target) => active(person, target, true, &[EntryKind::Medication]),
        Cond::ActiveCarePlan(target) => active(person, target, true, &[EntryKind::CarePlan]),
        Cond::PriorState { state, since, within_ms } => {
            let r = &runs[run];
            let (cur_module, cur_state) = r.current();
            let module = cur_module;
            if cur_state == *state {
                return true;
            }
            if since.is_some_and(|s| s == cur_state) {
                return false;
            }
            for v in r.history.iter().rev() {
                if let Some(w) = within_ms
                    && v.exited < t - w
                {
                    return false;
                }
                if v.module != module {
                    continue;
                }
                if v.state == *state {
                    return true;
                }
                if since.is_some_and(|s| s == v.state) {
                    return false;
                }
            }
            false
        }
        Cond::Attribute { attribute, operator, value } => {
            compare_attr(world, person, *operator, person.get(*attribute), *value)
        }
    }
}

/// Whether a condition changes only when attributes change, the record changes (entries,
/// symptoms, observations) or the calendar moves, and which attributes (`attrs`) and whether
/// the record (`record`) it watches; conditions on vital signs change continuously.
fn watchable(c: &Cond, attrs: &mut Vec<Symbol>, record: &mut bool) -> bool {
    match c {
        Cond::And(cs) | Cond::Or(cs) | Cond::AtLeast(_, cs) | Cond::AtMost(_, cs) => {
            cs.iter().all(|c| watchable(c, attrs, record))
        }
        Cond::Not(c) => watchable(c, attrs, record),
        Cond::ActiveCondition(target)
        | Cond::ActiveMedication(target)
        | Cond::ActiveCarePlan(target)
        | Cond::ActiveAllergy(target)
        | Cond::Observation { target, .. } => {
            if let Target::Attribute(a) = target {
                attrs.push(*a);
            }
            *record = true;
            true
        }
        Cond::Symptom { .. } => {
            *record = true;
            true
        }
        Cond::Attribute { attribute, .. } => {
            attrs.push(*attribute);
            true
        }
        // Fixed for life, or (PriorState) fixed while this run is blocked.
        Cond::True | Cond::False | Cond::Gender(_) | Cond::Race(_) | Cond::SocioeconomicStatus(_) => true,
        // Fixed while this run is blocked, unless a `within` window slides past an exit time.
        Cond::PriorState { within_ms, .. } => within_ms.is_none(),
        Cond::Age { .. } | Cond::Date { .. } => true,
        _ => false,
    }
}

/// The next time after `t` at which an age or date test in the condition may change its answer
/// (`Time::MAX`: never).
fn next_flip(person: &Person, c: &Cond, t: Time) -> Time {
    let birthday = |months: i64| -> Time {
        let b = person.birth_date;
        let total = i64::from(b.month) - 1 + months;
        let (year, month) = (i64::from(b.year) + total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        let Ok(year) = i32::try_from(year) else { return Time::MAX };
        let day = b.day.min(crate::sim::time::days_in_month(year, month));
        Date::new(year, month, day).map_or(Time::MAX, Date::time)
    };
    let after = |candidates: &[Time]| candidates.iter().copied().filter(|&x| x > t).min().unwrap_or(Time::MAX);
    match c {
        Cond::And(cs) | Cond::Or(cs) | Cond::AtLeast(_, cs) | Cond::AtMost(_, cs) => {
            cs.iter().map(|c| next_flip(person, c, t)).min().unwrap_or(Time::MAX)
        }
        Cond::Not(c) => next_flip(person, c, t),
        Cond::Age { quantity, unit, .. } => {
            if !(-1.0..2000.0).contains(quantity) {
                return Time::MAX;
            }
            let per = if *unit == TimeUnit::Months { 1 } else { 12 };
            let (lo, hi) = (quantity.floor() as i64, quantity.floor() as i64 + 1);
            after(&[birthday(lo * per), birthday(hi * per), birthday(quantity.ceil() as i64 * per)])
        }
        Cond::Date { date, .. } => match date {
            DateSpec::Year(y) => {
                let jan1 = |y: i32| Date::new(y, 1, 1).map_or(Time::MAX, Date::time);
                after(&[jan1(*y), jan1(y.saturating_add(1))])
            }
            DateSpec::Month(_) => {
                let d = Date::of(t);
                let (y, m) = if d.month == 12 { (d.year + 1, 1) } else { (d.year, d.month + 1) };
                Date::new(y, m, 1).map_or(Time::MAX, Date::time)
            }
            DateSpec::Instant(ms) => after(&[*ms, ms.saturating_add(1)]),
        },
        _ => Time::MAX,
    }
}

// ---- numbers --------------------------------------------------------------------------------

pub fn uniform(rng: &mut impl rand::Rng, low: f64, high: f64) -> f64 {
    let u: f64 = rng.random();
    low + (high - low) * u
}

/// A standard normal draw (Box–Muller).
pub fn gaussian(rng: &mut impl rand::Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Samples a GMF distribution.
pub fn sample(rng: &mut impl rand::Rng, d: &Distribution) -> f64 {
    let v = match &d.params {
        DistributionParams::Exact { value } => value.value,
        DistributionParams::Uniform { low, high } => uniform(rng, low.value, high.value),
        DistributionParams::Gaussian { mean, sd, min, max } => {
            let mut v = sd.value * gaussian(rng) + mean.value;
            if let Some(lo) = min {
                v = v.max(*lo);
            }
            if let Some(hi) = max {
                v = v.min(*hi);
            }
            v
        }
        DistributionParams::Exponential { mean } => {
            let u: f64 = rng.random();
            // Synthea's form, including its +1 offset.
            1.0 + (1.0 - u).ln() / (-1.0 / mean.value)
        }
        DistributionParams::Triangular { min, mode, max } => {
            let (a, c, b) = (min.value, mode.value, max.value);
            let u: f64 = rng.random();
            if b <= a {
                a
            } else if u < (c - a) / (b - a) {
                a + ((b - a) * (c - a) * u).sqrt()
            } else {
                b - ((b - a) * (b - c) * (1.0 - u)).sqrt()
            }
        }
    };
    if d.round { v.round() } else { v }
}

pub fn sample_amount(rng: &mut impl rand::Rng, a: &Amount) -> f64 {
    match a {
        Amount::Exact(q) => *q,
        Amount::Range { low, high, decimals } => round_to(uniform(rng, *low, *high), *decimals),
        Amount::Distribution(d) => sample(rng, d),
    }
}

fn round_to(v: f64, decimals: Option<u32>) -> f64 {
    match decimals {
        Some(d) => {
            let f = 10f64.powi(d as i32);
            (v * f).round() / f
        }
        None => v,
    }
}

/// A duration in milliseconds. GMF 2 distributions are truncated to whole units first and a
/// year is then 365 days, as in Synthea.
pub fn duration_ms(rng: &mut impl rand::Rng, amount: &Amount, unit: TimeUnit) -> i64 {
    match amount {
        Amount::Distribution(d) => (sample(rng, d).trunc() as i64).saturating_mul(unit.whole_millis()).max(0),
        other => (sample_amount(rng, other) * unit.millis()).max(0.0) as i64,
    }
}

/// The sex as the attribute tables spell it.
pub fn sex_str(s: Sex) -> &'static str {
    s.as_str()
}
