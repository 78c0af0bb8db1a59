//! Simulation: one patient's lifetime, as a pure function of (seed, index, library, options).
//!
//! `simulate` draws the patient's demographics from a stream keyed by (seed, index) alone, so a
//! patient's identity does not change when modules change; then steps the person weekly from
//! birth to the end date through the clinical core and every top-level module, on a second
//! stream keyed by (seed, index, attempt). Retries (for `--only-alive` or a keep module) keep
//! the demographics and move to the next attempt's stream.
//!
//! Architecture invariant: nothing here does I/O, reads a clock or shares state between
//! patients; a patient is the same whichever thread or shard computes it.

pub mod clinic;
pub mod engine;
pub mod lifecycle;
pub mod person;
pub mod record;
pub mod time;
pub mod world;

use crate::ast::Sex;
use crate::compiled::ModuleId;
use crate::sim::engine::{Clinic, Run};
use crate::sim::person::{Attr, Person, splitmix};
use crate::sim::time::{Date, Time, WEEK, YEAR};
use crate::sim::world::World;
use crate::world::demographics::{Constraints, Profile};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a run is asked to produce.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// Ages are computed at this date.
    pub reference: Date,
    /// Lifetimes are simulated up to this date (usually the reference date).
    pub end: Date,
    pub age: Option<(u32, u32)>,
    pub sex: Option<Sex>,
    /// Canonical state name.
    pub state: Option<String>,
    pub natural_death: bool,
    pub only_alive: bool,
    /// Keep only patients whose keep module ends in a state named `Keep`.
    pub keep: Option<ModuleId>,
    pub max_attempts: u32,
    /// Record every state each person enters (for tests and `ehrsim trace`).
    pub trace: bool,
    /// Test blocked states at every step rather than sleeping until something can change
    /// (a check of the scheduler: the records must be the same).
    pub poll_every_step: bool,
}

/// One simulated patient.
#[derive(Debug)]
pub struct Patient<'w> {
    pub index: u64,
    pub profile: Profile,
    pub person: Person<'w>,
    /// Attempts it took to meet `--only-alive` or the keep module (1 if none).
    pub attempts: u32,
    /// Whether it met them (false only when attempts ran out).
    pub kept: bool,
}

/// Most top-level modules one run can step (they are scheduled with 128-bit sets).
pub const MAX_TOP_LEVEL: usize = 128;

const DEMOGRAPHICS: u64 = 0x6465_6d6f_6772_6170;
const SIMULATION: u64 = 0x7369_6d75_6c61_7465;

fn stream_key(seed: u64, purpose: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    let mut x = seed ^ purpose;
    for chunk in key.chunks_mut(8) {
        x = splitmix(x);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    key
}

fn rng(seed: u64, purpose: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::from_seed(stream_key(seed, purpose));
    r.set_stream(stream);
    r
}

/// Simulates patient `index` of the run.
///
/// # Panics
/// If the world has more than [`MAX_TOP_LEVEL`] top-level modules (the CLI refuses those).
pub fn simulate<'w>(world: &'w World, options: &Options, index: u64) -> Patient<'w> {
    assert!(world.top_level.len() <= MAX_TOP_LEVEL, "at most {MAX_TOP_LEVEL} top-level modules");
    let constraints = Constraints { state: options.state.clone(), sex: options.sex, age: options.age };
    let profile = world.demographics.sample(&mut rng(options.seed, DEMOGRAPHICS, index), &constraints);
    let reference = options.reference.time();
    let birth = reference - (profile.age_years * YEAR as f64) as i64;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let person = live(world, options, index, attempt, &profile, birth);
        let alive_ok = !options.only_alive || person.death.is_none();
        let keep_ok = options.keep.is_none_or(|k| person_kept(world, &person, k, options));
        if (alive_ok && keep_ok) || attempt >= options.max_attempts.max(1) {
            let kept = alive_ok && keep_ok;
            return Patient { index, profile, person, attempts: attempt, kept };
        }
    }
}

fn person_kept(_world: &World, person: &Person, _keep: ModuleId, _options: &Options) -> bool {
    person.keep_state_reached
}

fn set_profile(world: &World, person: &mut Person, p: &Profile) {
    let s = &world.sym;
    let text = |v: &str| world.lib.strings.get(v).map_or(Attr::None, Attr::Str);
    person.set(s.gender, text(p.sex.as_str()));
    person.set(s.race, text(p.race.as_str()));
    person.set(s.ethnicity, text(p.ethnicity_str()));
    person.set(s.state, text(&p.state));
    person.set(s.city, text(&p.city));
    person.set(s.county, text(&p.county));
    person.set(s.zip, text(&p.zip));
    person.set(s.first_language, text(&p.language));
    person.set(s.income, Attr::Num(p.income as f64));
    person.set(s.income_level, Attr::Num(p.income_level));
    person.set(s.education, text(p.education.as_str()));
    person.set(s.education_level, Attr::Num(p.education_level));
    person.set(s.poverty_ratio, Attr::Num(p.poverty_ratio));
    person.set(s.occupation_level, Attr::Num(p.occupation_level));
    person.set(s.socioeconomic_score, Attr::Num(p.socioeconomic_score));
    person.set(s.socioeconomic_category, text(p.socioeconomic_category));
    person.set(s.birth_country, text("US"));
    person.texts.push(p.address.clone());
    person.set(s.address, Attr::Own(person.texts.len() as u32 - 1));
    person.set(s.food_insecurity, Attr::Bool(p.food_insecurity));
    person.set(s.housing_cost_burden, Attr::Bool(p.severe_housing_cost_burden));
    person.set(s.unemployed, Attr::Bool(p.unemployed));
    person.set(s.no_vehicle_access, Attr::Bool(p.no_vehicle_access));
    person.uninsured = p.uninsured;
    // Gallup 2021: 7.1 % of US adults identify as LGBT, 4.0 % bisexual and 2.8 % gay or lesbian.
    let u: f64 = rand::RngExt::random(&mut person.rng);
    let orientation = if u < 0.040 {
        "bisexual"
    } else if u < 0.068 {
        "homosexual"
    } else {
        "heterosexual"
    };
    person.set(s.sexual_orientation, text(orientation));
}

/// One attempt at a lifetime.
fn live<'w>(
    world: &'w World,
    options: &Options,
    index: u64,
    attempt: u32,
    profile: &Profile,
    birth: Time,
) -> Person<'w> {
    let stream = (index << 12) | u64::from(attempt.min(4095));
    let mut rng = rng(options.seed, SIMULATION, stream);
    let traits = crate::core::physiology::draw_traits(&mut rng);
    let id_seed = splitmix(options.seed ^ splitmix(stream));
    let mut person = Person::new(&world.lib, rng, id_seed, profile.sex, birth, &world.codes.general_exam, traits);
    set_profile(world, &mut person, profile);
    person.poll_every_step = options.poll_every_step;
    if options.trace {
        person.trace = Some(world.top_level.iter().map(|&m| (m, world.lib.module(m).initial, birth)).collect());
    }
    let rh_neg = rand::RngExt::random::<f64>(&mut person.rng) < 0.15;
    person.set(world.sym.rh_neg, Attr::Bool(rh_neg));
    let mut runs: Vec<Run> = world.top_level.iter().map(|&m| Run::new(world, m, birth)).collect();
    let mut clinic = Clinic::default();
    let mut schedule = clinic::Schedule::default();
    let mut life = lifecycle::Lifecycle::default();
    let end = options.end.time() + time::DAY;
    // Runs are scheduled by 128-bit sets: `World::new` refuses libraries with more
    // top-level modules than that.
    let mut wakes: Vec<Time> = runs.iter().map(|r| r.wake).collect();
    let mut heap: BinaryHeap<Reverse<(Time, u8)>> =
        wakes.iter().enumerate().map(|(i, &w)| Reverse((w, i as u8))).collect();
    let mut t = birth;
    while t < end && person.alive(t) {
        lifecycle::step(world, &mut person, &mut life, t, options.natural_death);
        if !person.alive(t) {
            break;
        }
        clinic::step(world, &mut person, &mut clinic, &mut schedule, t);
        if clinic.wellness_open {
            person.woken |= person.wellness_waiters;
        }
        // Runs sleep in a min-heap of wake times (`wakes` holds each run's current one; heap
        // entries that no longer match it are stale and skipped). The runs due this step are
        // those whose time has come and those woken by an event; a run may wake a later one,
        // which then runs in this same step, in module order.
        let mut due: u128 = 0;
        while let Some(&Reverse((w, i))) = heap.peek() {
            if w > t {
                break;
            }
            heap.pop();
            if wakes[i as usize] == w {
                due |= 1u128 << i;
            }
        }
        let mut from = 0u32;
        loop {
            let above = if from >= 128 { 0 } else { u128::MAX << from };
            let pending = (due | person.woken) & above;
            if pending == 0 {
                break;
            }
            let i = pending.trailing_zeros() as usize;
            person.unwatch(i);
            engine::advance(world, &mut person, &clinic, &mut runs, i, t);
            let w = if runs[i].done { Time::MAX } else { runs[i].wake.max(t + 1) };
            wakes[i] = w;
            if w != Time::MAX {
                heap.push(Reverse((w, i as u8)));
            }
            from = i as u32 + 1;
        }
        clinic::end_step(&mut person, t);
        t += WEEK;
    }
    if let Some(keep) = options.keep {
        person.keep_state_reached = runs.iter().any(|r| {
            r.module == keep && {
                let (m, s) = r.current();
                world.lib.module(m).state(s).name == "Keep"
            }
        });
    }
    let last = t.min(end);
    match person.death {
        Some(d) if d < end => {
            // A death scheduled within the run is recorded; after the end it is not.
            clinic::certify_death(world, &mut person);
        }
        Some(_) => {
            person.death = None;
            engine::end_encounter(&mut person, last);
        }
        None => engine::end_encounter(&mut person, last),
    }
    person
}
