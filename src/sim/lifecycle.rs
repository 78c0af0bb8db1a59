//! The clinical core's lifecycle: what happens to every person whatever the modules say.
//!
//! Physiology (growth, blood pressure, labs) is computed on demand from the person's traits,
//! age and condition flags by `core::physiology`, so values are consistent whenever a module
//! or a condition reads them and nothing is computed that nobody reads. Each step this file
//! keeps the attributes modules read up to date (BMI percentiles, cardiovascular risks, fall
//! risk, smoking and alcohol from their decision ages), and applies natural mortality from the
//! US life table when it is switched on.

use crate::ast::{Sex, VitalSign};
use crate::core::physiology::{Conditions, Vitals, vitals};
use crate::sim::person::{Attr, Person};
use crate::sim::time::{DAY, Date, Time, YEAR, age_years};
use crate::sim::world::World;
use rand::RngExt;

/// Per-person lifecycle bookkeeping between steps.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    next_monthly: Time,
    smoking_decided: bool,
    alcohol_decided: bool,
    marital_decided: bool,
    adherence_decided: bool,
    covid_decided: bool,
    /// `(age in years, probability of dying within a week at that age)`.
    weekly_death: (i32, f64),
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle {
            next_monthly: Time::MIN,
            smoking_decided: false,
            alcohol_decided: false,
            marital_decided: false,
            adherence_decided: false,
            covid_decided: false,
            weekly_death: (-1, 0.0),
        }
    }
}

/// From when COVID-19 vaccines were available to everyone 12 and over (CDC, May 2021).
const COVID_VACCINES: Date = Date { year: 2021, month: 5, day: 12 };

/// Fractional age in years.
pub fn age(person: &Person, t: Time) -> f64 {
    (t - person.birth) as f64 / YEAR as f64
}

fn conditions(world: &World, person: &Person) -> Conditions {
    let s = &world.sym;
    let on_chronic_meds = !person.chronic_medications.is_empty();
    let hypertension = person.flag(s.hypertension);
    let diabetes = person.flag(s.diabetes);
    // A module that sets `blood_pressure_controlled` / `diabetes_controlled` decides control
    // itself; otherwise any chronic medication counts as control (Synthea's rule, which its
    // modules assume).
    let controlled = |attribute| match person.get(attribute) {
        Attr::Bool(b) => b,
        _ => on_chronic_meds,
    };
    Conditions {
        smoker: person.flag(s.smoker),
        hypertension,
        severe_hypertension: person.flag(s.hypertension_severe),
        bp_controlled_by_meds: hypertension
            && (person.flag(s.blood_pressure_controlled) || controlled(s.blood_pressure_controlled)),
        prediabetes: person.flag(s.prediabetes),
        diabetes,
        diabetes_severity: person.num(s.diabetes_severity).unwrap_or(if diabetes { 1.0 } else { 0.0 }).clamp(0.0, 3.0)
            as u8,
        diabetes_controlled_by_meds: diabetes && controlled(s.diabetes_controlled),
        ckd_stage: person.num(s.ckd).unwrap_or(0.0).clamp(0.0, 5.0) as u8,
        chf: person.flag(s.chf),
        on_statin: person.flag(s.on_statin),
        bmi_shift: person.num(s.weight_loss).unwrap_or(0.0),
    }
}

/// The physiological model's values for the person now.
#[inline(never)]
pub fn model(world: &World, person: &Person, t: Time) -> Vitals {
    vitals(&world.physiology, &person.traits, person.sex, age(person, t).max(0.0), &conditions(world, person))
}

/// The value of a vital sign or lab, as a condition or observation reads it: a value set by a
/// VitalSign state wins; otherwise the model's, rounded as Synthea rounds on reading.
pub fn vital(world: &World, person: &Person, vs: VitalSign, t: Time) -> f64 {
    if let Some(v) = person.vital_overrides[vs.index()] {
        return v;
    }
    let m = model(world, person, t);
    let (value, decimals) = match vs {
        VitalSign::Height => (m.height_cm, 1),
        VitalSign::Weight => (m.weight_kg, 1),
        VitalSign::HeightPercentile => (m.height_percentile, 2),
        VitalSign::WeightPercentile => (m.weight_percentile, 2),
        VitalSign::Bmi => (m.bmi, 2),
        VitalSign::HeadCircumference => (m.head_circumference_cm.unwrap_or(0.0), 2),
        VitalSign::HeadCircumferencePercentile => (m.head_circumference_percentile.unwrap_or(0.0), 2),
        VitalSign::SystolicBloodPressure => (m.systolic, 0),
        VitalSign::DiastolicBloodPressure => (m.diastolic, 0),
        VitalSign::OxygenSaturation => (m.oxygen_saturation, 2),
        VitalSign::BloodGlucose => (m.hba1c, 2),
        VitalSign::Glucose => (m.glucose, 2),
        VitalSign::UreaNitrogen => (m.urea_nitrogen, 2),
        VitalSign::Creatinine => (m.creatinine, 2),
        VitalSign::Calcium => (m.calcium, 2),
        VitalSign::Sodium => (m.sodium, 2),
        VitalSign::Potassium => (m.potassium, 2),
        VitalSign::Chloride => (m.chloride, 2),
        VitalSign::CarbonDioxide => (m.carbon_dioxide, 2),
        VitalSign::TotalCholesterol => (m.total_cholesterol, 2),
        VitalSign::Triglycerides => (m.triglycerides, 2),
        VitalSign::Ldl => (m.ldl, 2),
        VitalSign::Hdl => (m.hdl, 2),
        VitalSign::MicroalbuminCreatinineRatio => (m.microalbumin_creatinine_ratio, 2),
        VitalSign::Egfr => (m.egfr, 2),
        VitalSign::LeftVentricularEjectionFraction => (60.0, 2),
        VitalSign::HeartRate => (m.heart_rate, 0),
        VitalSign::RespirationRate => (m.respiration_rate, 0),
    };
    let f = 10f64.powi(decimals);
    (value * f).round() / f
}

/// Runs the lifecycle for one step at time `t`.
pub fn step(world: &World, person: &mut Person, life: &mut Lifecycle, t: Time, natural_death: bool) {
    let years = age_years(person.birth_date, Date::of(t));
    let s = &world.sym;
    if !life.smoking_decided && years >= 16 {
        life.smoking_decided = true;
        let year = Date::of(t).year;
        let p = world.habits.smoking_prevalence(person.sex, year);
        let smoker = person.rng.random::<f64>() < p;
        person.set(s.smoker, Attr::Bool(smoker));
    }
    if !life.alcohol_decided && years >= 25 {
        life.alcohol_decided = true;
        let p = world.habits.alcohol_use_disorder(person.sex, f64::from(years));
        let alcoholic = person.rng.random::<f64>() < p;
        person.set(s.alcoholic, Attr::Bool(alcoholic));
    }
    if !life.marital_decided && years >= 28 {
        life.marital_decided = true;
        let married = person.rng.random::<f64>() < 0.8;
        let status = if married { "M" } else { "S" };
        if let Some(sym) = world.lib.strings.get(status) {
            person.set(s.marital_status, Attr::Str(sym));
        }
    }
    if !life.adherence_decided && years >= 18 {
        // Whether a weight-loss programme would be followed (Synthea's default adherence 0.5).
        life.adherence_decided = true;
        let adherent = person.rng.random::<f64>() < 0.5;
        person.set(s.weight_loss_adherence, Attr::Bool(adherent));
    }
    if !life.covid_decided && years >= 12 && Date::of(t) >= COVID_VACCINES {
        // Completed a primary COVID-19 series: 78 % of people 65 and over, 70 % of adults,
        // 60 % of adolescents (CDC COVID Data Tracker, share with a completed primary
        // series, 2023); decided when vaccines became available to the age group.
        life.covid_decided = true;
        let p = if years >= 65 {
            0.78
        } else if years >= 18 {
            0.70
        } else {
            0.60
        };
        let vaccinated = person.rng.random::<f64>() < p;
        person.set(s.covid_vaccinated, Attr::Bool(vaccinated));
    }
    if t >= life.next_monthly {
        life.next_monthly = t + 30 * DAY;
        monthly(world, person, t, years);
    }
    if let Some(death) = person.death
        && death > t
    {
        person.set(s.days_until_death, Attr::Num(((death - t) / DAY) as f64));
    }
    if natural_death && person.death.is_none() {
        // The weekly probability changes with each year of age: work it out once a year.
        if life.weekly_death.0 != years {
            life.weekly_death = (years, world.life_table.probability_over(person.sex, f64::from(years) + 0.5, 7.0));
        }
        let p = life.weekly_death.1;
        if person.rng.random::<f64>() < p {
            person.death = Some(t);
            person.cause_of_death = Some(world.codes.natural_death);
        }
    }
    if person.flag(s.smoker) && years >= 18 && t.rem_euclid(YEAR) < 7 * DAY {
        // About once a year a smoker may quit (CDC: about 7.5 % succeed each year).
        if person.rng.random::<f64>() < world.habits.quit_smoking_probability() {
            person.set(s.smoker, Attr::Bool(false));
            person.set(s.quit_smoking_age, Attr::Num(f64::from(years)));
        }
    }
}

/// Attributes modules read that change slowly: refreshed about monthly.
fn monthly(world: &World, person: &mut Person, t: Time, years: i32) {
    let s = &world.sym;
    let payer = crate::world::payers::choose(
        years,
        person.num(s.poverty_ratio).unwrap_or(3.0),
        Date::of(t).year,
        person.uninsured,
        person.id.0 as u64,
    );
    if let Some(status) = world.lib.strings.get(world.payers[payer].status) {
        person.set(s.insurance_status, Attr::Str(status));
    }
    let m = model(world, person, t);
    match m.bmi_percentile {
        Some(p) => person.set(s.bmi_percentile, Attr::Num(p)),
        None => person.set(s.bmi_percentile, Attr::None),
    }
    match m.weight_for_length_percentile {
        Some(p) => person.set(s.weight_length_percentile, Attr::Num(p)),
        None => person.set(s.weight_length_percentile, Attr::None),
    }
    if years >= 20 {
        let race = match person.get(s.race) {
            Attr::Str(r) if world.lib.strings.name(r) == "black" => crate::core::cardio::Race::Black,
            Attr::Str(r) if world.lib.strings.name(r) == "white" => crate::core::cardio::Race::White,
            _ => crate::core::cardio::Race::Other,
        };
        let c = conditions(world, person);
        let risks = crate::core::cardio::risks(
            &world.pce,
            &crate::core::cardio::RiskFactors {
                sex: person.sex,
                race,
                age_years: age(person, t),
                height_cm: m.height_cm,
                weight_kg: m.weight_kg,
                systolic: m.systolic,
                diastolic: m.diastolic,
                total_cholesterol: m.total_cholesterol,
                hdl: m.hdl,
                bp_treated: c.bp_controlled_by_meds,
                smoker: c.smoker,
                diabetic: c.diabetes,
                chf: c.chf,
                mi_history: person.flag(s.coronary_heart_disease),
            },
        );
        person.set(s.ascvd_risk, Attr::Num(risks.ascvd_10yr));
        person.set(s.cardio_risk, Attr::Num(risks.cardio_risk));
        person.set(s.mi_risk, Attr::Num(risks.mi_risk));
        person.set(s.ihd_risk, Attr::Num(risks.ihd_risk));
        person.set(s.stroke_risk, Attr::Num(risks.stroke_risk));
        person.set(s.af_risk, Attr::Num(risks.atrial_fibrillation_risk));
    }
    if years >= 65 {
        // Falls with injury: about 10 % a year at 65, rising with age and osteoporosis
        // (CDC WISQARS / MMWR 2016;65:993), as a monthly probability.
        let base = 0.10 + 0.005 * f64::from(years - 65);
        let yearly = if person.flag(s.osteoporosis) { base * 1.5 } else { base };
        person.set(s.fall_risk, Attr::Num(1.0 - (1.0 - yearly.min(0.9)).powf(1.0 / 12.0)));
    }
}

/// Sex as the attribute tables spell it.
pub fn sex_text(sex: Sex) -> &'static str {
    sex.as_str()
}
