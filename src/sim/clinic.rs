//! The clinical core's visits: the wellness schedule, symptom-driven urgent and emergency
//! visits, immunizations at every core visit, and the death certificate.
//!
//! A wellness visit is opened when the interval for the person's age has passed and no other
//! encounter is open; modules whose Encounter states say `wellness: true` take part in it once
//! each. Visits opened here are closed at the end of the step.

use crate::ast::EncounterClass;
use crate::compiled::CodeId;
use crate::sim::engine::{Clinic, end_encounter, start_encounter};
use crate::sim::person::Owner;
use crate::sim::person::Person;
use crate::sim::record::{Immunization, Observation, Report, Value};
use crate::sim::time::{DAY, Date, MINUTE, Time, age_months, age_years};
use crate::sim::world::World;

/// Per-person schedule state of the core's visits.
#[derive(Debug, Default, Clone)]
pub struct Schedule {
    last_wellness: Option<Time>,
    last_symptom_total: f64,
    /// Doses given, per vaccine of the schedule.
    doses: Vec<u32>,
}

/// Days between wellness visits at an age (in months), after the US preventive schedule that
/// Synthea follows (Bright Futures for children; every 3, 2, then 1 years for adults).
fn wellness_interval(months: i32, chronic_medications: bool) -> i64 {
    let days = if months <= 1 {
        30
    } else if months <= 5 {
        60
    } else if months <= 17 {
        90
    } else if months <= 36 {
        180
    } else if months < 240 {
        365
    } else if months < 480 {
        3 * 365
    } else if months < 600 {
        2 * 365
    } else {
        365
    };
    let days = if chronic_medications { days.min(365) } else { days };
    days * DAY
}

/// Opens the core's visits due at `t`.
pub fn step<'w>(world: &'w World, person: &mut Person<'w>, clinic: &mut Clinic, schedule: &mut Schedule, t: Time) {
    clinic.wellness_open = false;
    if person.open_encounter.is_some() {
        return;
    }
    // The next wellness visit is due at the earliest one interval (of at least 30 days)
    // after the last; nothing to work out before then.
    let due = schedule.last_wellness.is_none_or(|last| t - last >= 30 * crate::sim::time::DAY);
    let now = Date::of(t);
    let months = if due { age_months(person.birth_date, now) } else { 0 };
    let interval = wellness_interval(months, !person.chronic_medications.is_empty());
    if due && schedule.last_wellness.is_none_or(|last| t - last >= interval) {
        schedule.last_wellness = Some(t);
        let codes: &'w [CodeId] =
            if age_years(person.birth_date, now) < 18 { &world.codes.well_child } else { &world.codes.general_exam };
        start_encounter(person, t, EncounterClass::Wellness, codes, None, Owner::Core, true, None);
        clinic.wellness_visit += 1;
        clinic.wellness_open = true;
        immunize(world, person, schedule, t, months);
        return;
    }
    if !person.symptoms_changed {
        return;
    }
    person.symptoms_changed = false;
    let total = person.symptom_total();
    if total != schedule.last_symptom_total {
        schedule.last_symptom_total = total;
        let visit: Option<(EncounterClass, &'w [CodeId])> = if total > 500.0 {
            Some((EncounterClass::Emergency, &world.codes.emergency))
        } else if total > 350.0 {
            Some((EncounterClass::UrgentCare, &world.codes.urgent_care))
        } else if total > 300.0 {
            Some((EncounterClass::Outpatient, &world.codes.checkup))
        } else {
            None
        };
        if let Some((class, codes)) = visit {
            let months = age_months(person.birth_date, now);
            start_encounter(person, t, class, codes, None, Owner::Core, false, None);
            if class == EncounterClass::Outpatient {
                clinic.wellness_visit += 1;
                clinic.wellness_open = true;
            }
            immunize(world, person, schedule, t, months);
        }
    }
}

/// Closes the visit the core opened this step.
pub fn end_step(person: &mut Person, t: Time) {
    if matches!(person.open_encounter, Some((_, Owner::Core))) {
        end_encounter(person, t + 15 * MINUTE);
    }
}

fn immunize<'w>(world: &'w World, person: &mut Person<'w>, schedule: &mut Schedule, t: Time, months: i32) {
    if schedule.doses.len() != world.schedule.vaccines.len() {
        schedule.doses = vec![0; world.schedule.vaccines.len()];
    }
    let year = Date::of(t).year;
    let due: Vec<crate::core::immunizations::Due> =
        world.schedule.due(f64::from(months), year, &schedule.doses).collect();
    let Some((encounter, _)) = person.open_encounter else { return };
    // A module that gives the seasonal flu vaccine itself says so with this attribute.
    let flu = if person.flag(world.sym.flu_by_module) { world.schedule.index_of("flu") } else { None };
    for d in due {
        let v = d.vaccine;
        if Some(v) == flu {
            continue;
        }
        schedule.doses[v] = d.dose as u32 + 1;
        let id = person.next_id();
        person.record.immunizations.push(Immunization { id, time: t, codes: &world.codes.vaccines[v], encounter });
    }
}

/// Adds the death certificate visit, observation and report (Synthea's DeathModule).
pub fn certify_death<'w>(world: &'w World, person: &mut Person<'w>) {
    let Some(death) = person.death else { return };
    let cause = person.cause_of_death;
    end_encounter(person, death);
    let e = start_encounter(
        person,
        death,
        EncounterClass::Wellness,
        &world.codes.death_certification,
        None,
        Owner::Core,
        false,
        cause,
    );
    let first = person.record.observations.len() as u32;
    if let Some(cause) = cause {
        let id = person.next_id();
        person.record.observations.push(Observation {
            id,
            time: death,
            codes: &world.codes.cause_of_death,
            category: "exam",
            unit: "",
            value: Value::Code(cause),
            encounter: e,
        });
    }
    let id = person.next_id();
    let last = person.record.observations.len() as u32;
    person.record.reports.push(Report {
        id,
        time: death,
        codes: &world.codes.death_certificate,
        encounter: e,
        observations: first..last,
        panel: false,
    });
    end_encounter(person, death + 15 * MINUTE);
}
