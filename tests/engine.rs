//! Semantics of the GMF engine, pinned on the small modules of `tests/data/good`: timing of
//! delays and guards, distributed choices (checked statistically with fixed seeds), encounter
//! ownership and target encounters, PriorState `within`/`since`, counters, symptoms, lookup
//! tables, submodules, scheduled death — and the determinism of a patient.

use ehrsim::cli::build;
use ehrsim::load::Request;
use ehrsim::sim::person::Attr;
use ehrsim::sim::time::{DAY, Date, Time, YEAR};
use ehrsim::sim::world::World;
use ehrsim::sim::{Options, Patient, simulate};
use std::path::Path;

fn world(modules: &[&str]) -> World {
    let (set, compilation) = build(&[Request::for_path(Path::new("tests/data/good")).unwrap()]);
    assert!(compilation.diagnostics.is_empty(), "{} diagnostics", compilation.diagnostics.len());
    drop(set);
    let mut world = World::new(compilation.library.expect("compiles"));
    world.top_level.retain(|id| modules.contains(&world.lib.module(*id).path.as_str()));
    assert_eq!(world.top_level.len(), modules.len(), "all modules found");
    world
}

fn options(age: (u32, u32)) -> Options {
    let reference = Date::new(2020, 1, 1).unwrap();
    Options {
        seed: 42,
        reference,
        end: reference,
        age: Some(age),
        sex: None,
        state: None,
        natural_death: false,
        only_alive: false,
        keep: None,
        max_attempts: 1,
        trace: true,
        poll_every_step: false,
    }
}

/// Times at which a state of a module was entered.
fn entered(world: &World, p: &Patient, module: &str, state: &str) -> Vec<Time> {
    let m = world.lib.module_by_path(module).unwrap();
    let s = world.lib.module(m).state_by_name(state).unwrap();
    p.person.trace.as_ref().unwrap().iter().filter(|(mm, ss, _)| *mm == m && *ss == s).map(|(_, _, t)| *t).collect()
}

fn attr<'w>(world: &World, p: &Patient<'w>, name: &str) -> Attr<'w> {
    p.person.get(world.lib.attributes.get(name).expect("attribute is known"))
}

fn text(world: &World, p: &Patient, name: &str) -> Option<String> {
    match attr(world, p, name) {
        Attr::Str(s) => Some(world.lib.strings.name(s).to_owned()),
        _ => None,
    }
}

#[test]
fn exact_delay_expires_inside_a_step_and_rewinds() {
    let w = world(&["delay_exact"]);
    for i in 0..5 {
        let p = simulate(&w, &options((10, 20)), i);
        let times = entered(&w, &p, "delay_exact", "Mark_Reached");
        assert_eq!(times.len(), 1);
        assert_eq!(times[0] - p.person.birth, (3.0 * 365.25 * DAY as f64) as i64, "exactly three years");
        assert_eq!(attr(&w, &p, "reached"), Attr::Bool(true));
    }
}

#[test]
fn range_and_gmf2_delays_stay_in_their_bounds() {
    let w = world(&["delay_range", "delay_distribution_gmf2"]);
    let mut spread = Vec::new();
    for i in 0..200 {
        let p = simulate(&w, &options((10, 20)), i);
        let t = entered(&w, &p, "delay_range", "Mark_Reached")[0] - p.person.birth;
        assert!((2 * 365 * DAY..=4 * 366 * DAY).contains(&t), "range delay of {t} ms");
        spread.push(t);
        let d = entered(&w, &p, "delay_distribution_gmf2", "Mark_Reached")[0] - p.person.birth;
        assert_eq!(d % DAY, 0, "GMF 2 delays are whole units");
        assert!((10 * DAY..=20 * DAY).contains(&d));
    }
    let mean = spread.iter().sum::<i64>() as f64 / spread.len() as f64 / YEAR as f64;
    assert!((2.8..3.2).contains(&mean), "uniform 2–4 years has mean ~3, got {mean}");
}

#[test]
fn distributed_choices_follow_their_weights() {
    let w = world(&["distributed"]);
    let n = 3000;
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..n {
        let p = simulate(&w, &options((1, 5)), i);
        *counts.entry(text(&w, &p, "branch").unwrap()).or_insert(0) += 1;
    }
    for (branch, expected) in [("a", 0.2), ("b", 0.3), ("c", 0.5)] {
        let share = f64::from(counts[branch]) / n as f64;
        // Three standard errors of a proportion at n = 3000 is under 0.03.
        assert!((share - expected).abs() < 0.03, "{branch}: {share} vs {expected}");
    }
}

#[test]
fn conditional_and_complex_transitions() {
    let w = world(&["conditional_gender", "complex"]);
    let (mut females, mut high) = (0, 0);
    for i in 0..2000 {
        let p = simulate(&w, &options((1, 5)), i);
        let female = p.person.sex == ehrsim::ast::Sex::Female;
        assert_eq!(text(&w, &p, "gender_branch").as_deref(), Some(if female { "female" } else { "male" }));
        let group = text(&w, &p, "risk_group").unwrap();
        if female {
            females += 1;
            high += usize::from(group == "high");
        } else {
            assert_eq!(group, "low");
        }
    }
    let share = high as f64 / females as f64;
    assert!((share - 0.4).abs() < 0.045, "females high {share}");
}

#[test]
fn guard_passes_in_the_step_of_the_birthday() {
    let w = world(&["guard_age"]);
    let p = simulate(&w, &options((50, 60)), 3);
    let t = entered(&w, &p, "guard_age", "Mark_Passed")[0];
    let b = p.person.birth_date;
    let birthday = Date::new(b.year + 40, b.month, b.day.min(28)).unwrap().time();
    assert!(
        t >= birthday - DAY && t < birthday + 7 * DAY,
        "guard passed {} days from the 40th birthday",
        (t - birthday) / DAY
    );
}

#[test]
fn onset_waits_for_its_target_encounter() {
    let w = world(&["encounter_ownership"]);
    let p = simulate(&w, &options((40, 50)), 7);
    let rec = &p.person.record;
    let code = |c: ehrsim::compiled::CodeId| w.lib.code(c).code.as_str();
    let condition = rec.conditions.iter().find(|c| code(c.codes[0]) == "59621000").expect("hypertension recorded");
    let enc = &rec.encounters[condition.encounter as usize];
    assert_eq!(code(enc.codes[0]), "185347001", "diagnosed at the follow-up visit");
    assert_eq!(enc.reason.map(code), Some("59621000"));
    let med = rec.medications.iter().find(|m| code(m.entry.codes[0]) == "314076").expect("lisinopril");
    assert_eq!(med.entry.encounter, condition.encounter);
    assert_eq!(med.reason.map(code), Some("59621000"));
    assert!(med.chronic);
    let first = rec.encounters.iter().find(|e| code(e.codes[0]) == "185349003").unwrap();
    assert!(first.stop.is_some());
    assert!(!rec.conditions.iter().any(|c| rec.encounters[c.encounter as usize].id == first.id));
}

#[test]
fn prior_state_within_and_since() {
    let w = world(&["prior_state"]);
    let p = simulate(&w, &options((1, 5)), 1);
    assert_eq!(attr(&w, &p, "within_one_year"), Attr::Bool(true));
    assert_eq!(attr(&w, &p, "seen_since_checkpoint"), Attr::Bool(false));
}

#[test]
fn counters_symptoms_and_lookup_tables() {
    let w = world(&["counter", "symptom", "lookup", "attribute_distribution"]);
    let (mut at_risk, mut young_men_a, mut young_men, mut old_women_a, mut old_women) = (0, 0, 0, 0, 0);
    let n = 2000;
    for i in 0..n {
        let young = i % 2 == 0;
        let p = simulate(&w, &options(if young { (20, 30) } else { (60, 70) }), i);
        assert_eq!(attr(&w, &p, "ticks"), Attr::Num(1.0));
        at_risk += usize::from(attr(&w, &p, "at_risk") == Attr::Bool(true));
        let a = text(&w, &p, "lookup_branch").as_deref() == Some("A");
        match (young, p.person.sex) {
            (true, ehrsim::ast::Sex::Male) => {
                young_men += 1;
                young_men_a += usize::from(a);
            }
            (false, ehrsim::ast::Sex::Female) => {
                old_women += 1;
                old_women_a += usize::from(a);
            }
            _ => {}
        }
    }
    let share = |a: usize, b: usize| a as f64 / b as f64;
    assert!((share(at_risk, n as usize) - 0.1).abs() < 0.025, "named distribution default");
    // The lookup table decides at the age the module runs (birth, age 0): row `0-39,M` gives
    // young and old men 0.9; women match no row at age 0 and take the defaults.
    assert!((share(young_men_a, young_men) - 0.9).abs() < 0.04, "men match row 0-39,M");
    let default_a = w
        .lib
        .modules
        .iter()
        .find(|m| m.path == "lookup")
        .and_then(|m| {
            m.graph.node_weights().find_map(|s| match &s.transition {
                ehrsim::compiled::Transition::Lookup { defaults, .. } => Some(defaults[0]),
                _ => None,
            })
        })
        .unwrap();
    assert!((share(old_women_a, old_women) - default_a).abs() < 0.05, "women fall back to the defaults");
}

#[test]
fn submodules_run_inside_the_callers_encounter() {
    let w = world(&["submodule_caller"]);
    let p = simulate(&w, &options((30, 40)), 2);
    assert_eq!(attr(&w, &p, "medication_given"), Attr::Bool(true));
    let rec = &p.person.record;
    let med = rec.medications.iter().find(|m| w.lib.code(m.entry.codes[0]).code == "308182").expect("amoxicillin");
    let visit = &rec.encounters[med.entry.encounter as usize];
    assert_eq!(visit.name.map(|n| w.lib.state_names.name(n)), Some("Sick_Visit"));
}

#[test]
fn active_condition_and_condition_end() {
    let w = world(&["active_condition"]);
    let p = simulate(&w, &options((20, 30)), 5);
    assert_eq!(attr(&w, &p, "asthma_resolved"), Attr::Bool(true));
    let asthma = p.person.record.conditions.iter().find(|c| w.lib.code(c.codes[0]).code == "195967001").unwrap();
    let stop = asthma.stop.expect("ended");
    assert!(stop > asthma.start);
}

#[test]
fn scheduled_death_happens_one_to_three_years_later() {
    let w = world(&["death_scheduled"]);
    let mut deaths = 0;
    for i in 0..20 {
        let p = simulate(&w, &options((80, 90)), i);
        let onset = entered(&w, &p, "death_scheduled", "Prognosis")[0];
        let death = p.person.death.expect("died before the end date");
        assert!((365 * DAY..=3 * 366 * DAY).contains(&(death - onset)));
        let cause = p.person.cause_of_death.map(|c| w.lib.code(c).code.as_str());
        assert_eq!(cause, Some("254637007"));
        let certificate = p.person.record.encounters.last().unwrap();
        assert_eq!(w.lib.code(certificate.codes[0]).code, "308646001");
        deaths += 1;
    }
    assert_eq!(deaths, 20);
}

#[test]
fn wellness_modules_join_the_core_wellness_visits() {
    let w = world(&["wellness"]);
    let p = simulate(&w, &options((30, 40)), 9);
    let rec = &p.person.record;
    let weight = rec.observations.iter().find(|o| w.lib.code(o.codes[0]).code == "29463-7").expect("weight recorded");
    assert!(rec.encounters[weight.encounter as usize].wellness);
}

#[test]
fn a_patient_is_a_pure_function_of_seed_and_index() {
    let w = world(&["distributed", "symptom", "encounter_ownership", "wellness"]);
    let render = |i: u64| {
        let p = simulate(&w, &options((30, 60)), i);
        format!("{:?}|{:?}|{:?}", p.person.record.encounters.len(), p.person.record, p.profile)
    };
    assert_eq!(render(17), render(17));
    assert_ne!(render(17), render(18));
    // The same index gives the same person whatever was simulated before.
    let _ = render(3);
    assert_eq!(render(17), render(17));
}

#[test]
fn every_remaining_state_and_condition_type() {
    let w = world(&["coverage"]);
    let mut care = std::collections::BTreeSet::new();
    for i in 0..40 {
        let p = simulate(&w, &options((40, 50)), i);
        for flag in [
            "allergy_ok",
            "medication_ok",
            "careplan_ok",
            "vital_ok",
            "observation_ok",
            "symptom_ok",
            "logic_ok",
            "physiology_ok",
        ] {
            assert_eq!(attr(&w, &p, flag), Attr::Bool(true), "patient {i}: {flag}");
        }
        care.insert(text(&w, &p, "care").unwrap());
        let rec = &p.person.record;
        let code = |c: ehrsim::compiled::CodeId| w.lib.code(c).code.as_str();
        let allergy = rec.allergies.iter().find(|a| code(a.entry.codes[0]) == "300916003").unwrap();
        assert!(allergy.entry.stop.is_some() && allergy.reactions.len() == 1);
        assert!(rec.medications.iter().any(|m| code(m.entry.codes[0]) == "197361" && m.entry.stop.is_some()));
        assert!(rec.careplans.iter().any(|c| code(c.entry.codes[0]) == "698360004" && c.entry.stop.is_some()));
        assert!(rec.devices.iter().any(|d| code(d.entry.codes[0]) == "706180003" && d.entry.stop.is_some()));
        let colonoscopy = rec.procedures.iter().find(|p| code(p.entry.codes[0]) == "73761001").unwrap();
        let minutes = (colonoscopy.entry.stop.unwrap() - colonoscopy.entry.start) / 60_000;
        assert!((30..=60).contains(&minutes), "procedure lasted {minutes} minutes");
        let systolic = rec.observations.iter().find(|o| code(o.codes[0]) == "8480-6").unwrap();
        assert_eq!(systolic.value, ehrsim::sim::record::Value::Number(150.0), "VitalSign overrides the model");
        assert_eq!(rec.reports.iter().filter(|r| r.panel).count(), 1);
        assert_eq!(rec.reports.iter().filter(|r| !r.panel).count(), 1);
        assert_eq!(rec.imaging_studies.len(), 1);
        assert_eq!(rec.imaging_studies[0].series[0].instances.len(), 1);
        assert!(rec.procedures.iter().any(|p| code(p.entry.codes[0]) == "399208008"), "imaging adds its procedure");
        assert_eq!(rec.supplies.iter().map(|s| s.quantity).sum::<u32>(), 50);
        assert!(rec.immunizations.iter().any(|v| code(v.codes[0]) == "140"));
    }
    // The visit happens in the 1980s: before 2020 only ambulatory or emergency care.
    assert!(care.contains("ambulatory") && !care.contains("telemedicine"), "{care:?}");
}
