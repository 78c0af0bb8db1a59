//! Cardiovascular risk: the 10-year ASCVD risk of the Pooled Cohort Equations and the monthly
//! event probabilities the cardiovascular GMF modules use.
//!
//! Data: `data/clinical/ascvd_pce.csv` (Goff et al., 2013 ACC/AHA cardiovascular risk
//! guideline, Table A), embedded and parsed once by [`Pce::load`]; the CHARGE-AF model for
//! atrial fibrillation (Alonso et al., J Am Heart Assoc 2013;2:e000102) is written out here,
//! its eleven coefficients being all there is to it. The inputs come from
//! `crate::core::physiology::vitals` (blood pressure, lipids, height, weight) and the
//! person's conditions; [`risks`] returns monthly probabilities, because the modules use
//! them in distributed transitions inside one-month delay loops. This is the role of
//! Synthea's Java `CardiovascularDiseaseModule` risk calculation.

use crate::ast::Sex;
use serde::Deserialize;

const PCE_CSV: &str = include_str!("../../data/clinical/ascvd_pce.csv");

/// Share of first hard ASCVD events that are coronary (nonfatal MI or CHD death) rather than
/// stroke: 192 CHD events and 146 strokes among 338 adjudicated events in the REGARDS
/// validation of the Pooled Cohort Equations (Muntner et al., JAMA 2014;311:1406-1415).
pub const CORONARY_SHARE: f64 = 192.0 / 338.0;

/// `ihd_risk` is this multiple of the monthly coronary (MI) risk (Synthea's convention:
/// ischemic heart disease is diagnosed about five times as often as MI occurs).
pub const IHD_MULTIPLIER: f64 = 5.0;

/// 10-year risk of a recurrent coronary event after a first MI: within 5 years of a first MI
/// at 45 or older, about 17 % of men and 21 % of women have a recurrent MI or fatal CHD (AHA
/// Heart Disease and Stroke Statistics, acute coronary syndrome chapter), i.e. about 19 % per
/// 5 years and 1 − 0.81² ≈ 34 % per 10 years. Approximate; used as a floor for people with
/// an MI history, whom the PCE (primary prevention) does not cover.
pub const RECURRENT_CORONARY_10YR: f64 = 0.34;

/// Validated input ranges of the PCE (ACC/AHA ASCVD Risk Estimator): age 40-79 years, total
/// cholesterol 130-320 mg/dL, HDL 20-100 mg/dL, systolic pressure 90-200 mm[Hg].
const PCE_AGE: (f64, f64) = (40.0, 79.0);
const PCE_TOTAL_CHOLESTEROL: (f64, f64) = (130.0, 320.0);
const PCE_HDL: (f64, f64) = (20.0, 100.0);
const PCE_SYSTOLIC: (f64, f64) = (90.0, 200.0);

/// Below 40, log-risk falls linearly with youth at the slope the equation has between 40 and
/// 41, but at least this much per year.
const MIN_YOUTH_SLOPE: f64 = 0.05;

/// Ages of the CHARGE-AF derivation cohorts (46-94 years).
const CHARGE_AF_AGE: (f64, f64) = (46.0, 94.0);

/// Race as the risk equations distinguish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Race {
    /// White.
    White,
    /// Black or African American.
    Black,
    /// Any other race (the PCE's white equations apply, as the guideline recommends; CHARGE-AF
    /// counts only White as white).
    Other,
}

/// The Pooled Cohort Equations: coefficients for white and African American women and men.
#[derive(Debug, Clone)]
pub struct Pce {
    /// Indexed by [`group`]: white female, black female, white male, black male.
    groups: [PceGroup; 4],
}

/// Coefficients of one race-sex group (Table A of the guideline; N/A cells are 0).
#[derive(Debug, Clone, Copy, Default)]
struct PceGroup {
    ln_age: f64,
    ln_age_sq: f64,
    ln_tc: f64,
    ln_age_x_ln_tc: f64,
    ln_hdl: f64,
    ln_age_x_ln_hdl: f64,
    ln_treated_sbp: f64,
    ln_age_x_ln_treated_sbp: f64,
    ln_untreated_sbp: f64,
    ln_age_x_ln_untreated_sbp: f64,
    smoker: f64,
    ln_age_x_smoker: f64,
    diabetes: f64,
    baseline_survival: f64,
    mean_sum: f64,
}

#[derive(Deserialize)]
struct Row {
    group: String,
    term: String,
    coefficient: f64,
}

const GROUPS: [&str; 4] = ["white_female", "black_female", "white_male", "black_male"];

fn group(sex: Sex, black: bool) -> usize {
    match (sex, black) {
        (Sex::Female, false) => 0,
        (Sex::Female, true) => 1,
        (Sex::Male, false) => 2,
        (Sex::Male, true) => 3,
    }
}

impl Pce {
    /// Parses the embedded coefficients. Panics only if the embedded data is malformed.
    pub fn load() -> Pce {
        let mut reader =
            csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(PCE_CSV.as_bytes());
        let mut groups = [PceGroup::default(); 4];
        let mut seen = [0u32; 4];
        for record in reader.deserialize::<Row>() {
            let row = record.expect("embedded data");
            let g = GROUPS.iter().position(|&name| name == row.group).expect("embedded data: PCE group");
            let c = &mut groups[g];
            let slot = match row.term.as_str() {
                "ln_age" => &mut c.ln_age,
                "ln_age_sq" => &mut c.ln_age_sq,
                "ln_tc" => &mut c.ln_tc,
                "ln_age_x_ln_tc" => &mut c.ln_age_x_ln_tc,
                "ln_hdl" => &mut c.ln_hdl,
                "ln_age_x_ln_hdl" => &mut c.ln_age_x_ln_hdl,
                "ln_treated_sbp" => &mut c.ln_treated_sbp,
                "ln_age_x_ln_treated_sbp" => &mut c.ln_age_x_ln_treated_sbp,
                "ln_untreated_sbp" => &mut c.ln_untreated_sbp,
                "ln_age_x_ln_untreated_sbp" => &mut c.ln_age_x_ln_untreated_sbp,
                "smoker" => &mut c.smoker,
                "ln_age_x_smoker" => &mut c.ln_age_x_smoker,
                "diabetes" => &mut c.diabetes,
                "baseline_survival" => &mut c.baseline_survival,
                "mean_sum" => &mut c.mean_sum,
                other => panic!("embedded data: unknown PCE term {other:?}"),
            };
            *slot = row.coefficient;
            seen[g] += 1;
        }
        assert!(seen.iter().all(|&n| n == 15), "embedded data: 15 PCE terms per group");
        Pce { groups }
    }

    /// The equation itself, inputs already clamped.
    #[allow(clippy::too_many_arguments)] // the equation's own inputs
    fn evaluate(
        &self,
        sex: Sex,
        black: bool,
        age: f64,
        total_chol: f64,
        hdl: f64,
        systolic: f64,
        bp_treated: bool,
        smoker: bool,
        diabetic: bool,
    ) -> f64 {
        let c = &self.groups[group(sex, black)];
        let ln_age = age.ln();
        let ln_tc = total_chol.ln();
        let ln_hdl = hdl.ln();
        let ln_sbp = systolic.ln();
        let (sbp, age_x_sbp) = if bp_treated {
            (c.ln_treated_sbp, c.ln_age_x_ln_treated_sbp)
        } else {
            (c.ln_untreated_sbp, c.ln_age_x_ln_untreated_sbp)
        };
        let smoke = if smoker { c.smoker + c.ln_age_x_smoker * ln_age } else { 0.0 };
        let sum = c.ln_age * ln_age
            + c.ln_age_sq * ln_age * ln_age
            + (c.ln_tc + c.ln_age_x_ln_tc * ln_age) * ln_tc
            + (c.ln_hdl + c.ln_age_x_ln_hdl * ln_age) * ln_hdl
            + (sbp + age_x_sbp * ln_age) * ln_sbp
            + smoke
            + if diabetic { c.diabetes } else { 0.0 };
        1.0 - c.baseline_survival.powf((sum - c.mean_sum).exp())
    }
}

/// 10-year risk (0-1) of a first hard ASCVD event (nonfatal MI, CHD death, fatal or nonfatal
/// stroke) by the Pooled Cohort Equations (Goff et al., Circulation 2014;129:S49-S73, Table
/// A): `1 − S0^exp(Σ coefficient × value − mean)`. `None` outside ages 40-79; cholesterol,
/// HDL and systolic pressure are clamped to the validated ranges (130-320, 20-100, 90-200).
/// The white equations serve every race but African American (`black == false`).
#[allow(clippy::too_many_arguments)] // the equation's own inputs, in the guideline's order
pub fn ascvd_10yr(
    pce: &Pce,
    sex: Sex,
    black: bool,
    age: f64,
    total_chol: f64,
    hdl: f64,
    systolic: f64,
    bp_treated: bool,
    smoker: bool,
    diabetic: bool,
) -> Option<f64> {
    if !(PCE_AGE.0..=PCE_AGE.1).contains(&age) {
        return None;
    }
    Some(pce.evaluate(
        sex,
        black,
        age,
        total_chol.clamp(PCE_TOTAL_CHOLESTEROL.0, PCE_TOTAL_CHOLESTEROL.1),
        hdl.clamp(PCE_HDL.0, PCE_HDL.1),
        systolic.clamp(PCE_SYSTOLIC.0, PCE_SYSTOLIC.1),
        bp_treated,
        smoker,
        diabetic,
    ))
}

/// What [`risks`] needs to know about a person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskFactors {
    /// Sex.
    pub sex: Sex,
    /// Race.
    pub race: Race,
    /// Exact age, years.
    pub age_years: f64,
    /// Height, cm.
    pub height_cm: f64,
    /// Weight, kg.
    pub weight_kg: f64,
    /// Systolic blood pressure, mm[Hg].
    pub systolic: f64,
    /// Diastolic blood pressure, mm[Hg].
    pub diastolic: f64,
    /// Total cholesterol, mg/dL.
    pub total_cholesterol: f64,
    /// HDL cholesterol, mg/dL.
    pub hdl: f64,
    /// On antihypertensive treatment.
    pub bp_treated: bool,
    /// Current smoker.
    pub smoker: bool,
    /// Diabetes.
    pub diabetic: bool,
    /// Congestive heart failure.
    pub chf: bool,
    /// Has had a myocardial infarction.
    pub mi_history: bool,
}

/// Cardiovascular risks of one person. Everything but `ascvd_10yr` is a MONTHLY probability.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Risks {
    /// The 10-year hard ASCVD risk used (PCE, extended outside 40-79 and raised after an MI,
    /// see [`risks`]).
    pub ascvd_10yr: f64,
    /// Monthly probability of a hard ASCVD event: 1 − (1 − ascvd_10yr)^(1/120).
    pub cardio_risk: f64,
    /// Monthly probability of a coronary event (MI or CHD death).
    pub mi_risk: f64,
    /// Monthly probability used for ischemic heart disease onset: 5 × `mi_risk`, at most 1.
    pub ihd_risk: f64,
    /// Monthly probability of a stroke.
    pub stroke_risk: f64,
    /// Monthly probability of incident atrial fibrillation (CHARGE-AF).
    pub atrial_fibrillation_risk: f64,
}

/// Converts a probability over `years` into the probability per month at a constant hazard:
/// 1 − (1 − p)^(1 / (12 years)).
pub fn per_month(probability: f64, years: f64) -> f64 {
    if probability >= 1.0 {
        return 1.0;
    }
    -((-probability.max(0.0)).ln_1p() / (12.0 * years)).exp_m1()
}

/// Monthly cardiovascular event probabilities of this person.
///
/// * ASCVD: [`ascvd_10yr`] with the person's values. From 80 on, the value at 79 (the
///   equations are not validated beyond). Below 40 the equations are not used directly
///   (outside their range their age terms misbehave); instead the 40-year-old risk with
///   today's risk factors is scaled down log-linearly: risk(age) = risk(40) × e^(−k (40 −
///   age)), with k the slope of ln risk between 40 and 41 in the same equation (at least 0.05
///   per year) — typically a factor 3-4 per decade. Before 18: 0 (no ASCVD model for
///   children).
/// * Split: [`CORONARY_SHARE`] (57 %) of the 10-year cumulative hazard −ln(1 − risk) is
///   coronary, the rest stroke. With an MI history the coronary part is raised to at least
///   that of [`RECURRENT_CORONARY_10YR`] (and `ascvd_10yr` with it). The monthly
///   probabilities split `cardio_risk` in the same proportion, so `mi_risk + stroke_risk ==
///   cardio_risk`.
/// * `ihd_risk` = [`IHD_MULTIPLIER`] × `mi_risk`.
/// * Atrial fibrillation: CHARGE-AF simple model, 5-year risk = 1 − 0.9718412736^exp(Σ −
///   12.58156), Σ = 0.508 age/5 + 0.465 white + 0.248 height(cm)/10 + 0.115 weight(kg)/15 +
///   0.197 SBP/20 − 0.101 DBP/10 + 0.359 smoker + 0.349 antihypertensive treatment + 0.237
///   diabetes + 0.701 heart failure + 0.496 MI (Alonso et al., JAHA 2013), converted to a
///   monthly probability. Defined for 46-94; from 94 on the value at 94; from 18 to 46 the
///   age term is extrapolated (AF incidence keeps falling about 10 % per year of youth);
///   before 18: 0. Height, weight and pressures are clamped to plausible adult ranges.
pub fn risks(pce: &Pce, f: &RiskFactors) -> Risks {
    let age = f.age_years;
    if !age.is_finite() || age < 18.0 {
        return Risks::default();
    }
    let black = f.race == Race::Black;
    let tc = f.total_cholesterol.clamp(PCE_TOTAL_CHOLESTEROL.0, PCE_TOTAL_CHOLESTEROL.1);
    let hdl = f.hdl.clamp(PCE_HDL.0, PCE_HDL.1);
    let sbp = f.systolic.clamp(PCE_SYSTOLIC.0, PCE_SYSTOLIC.1);
    let at = |a: f64| pce.evaluate(f.sex, black, a, tc, hdl, sbp, f.bp_treated, f.smoker, f.diabetic);
    let primary = if age >= PCE_AGE.0 {
        at(age.min(PCE_AGE.1))
    } else {
        let r40 = at(PCE_AGE.0);
        let slope = (at(PCE_AGE.0 + 1.0) / r40).ln().max(MIN_YOUTH_SLOPE);
        r40 * (-slope * (PCE_AGE.0 - age)).exp()
    };
    // Split the cumulative hazard, so that the coronary and stroke parts compound like the
    // total does.
    let hazard = -(-primary.min(0.999)).ln_1p();
    let mut coronary = hazard * CORONARY_SHARE;
    let stroke = hazard - coronary;
    if f.mi_history {
        coronary = coronary.max(-(-RECURRENT_CORONARY_10YR).ln_1p());
    }
    let total = coronary + stroke;
    let ascvd = -(-total).exp_m1();
    let cardio_risk = per_month(ascvd, 10.0);
    let mi_risk = if total > 0.0 { cardio_risk * coronary / total } else { 0.0 };
    Risks {
        ascvd_10yr: ascvd,
        cardio_risk,
        mi_risk,
        ihd_risk: (IHD_MULTIPLIER * mi_risk).min(1.0),
        stroke_risk: cardio_risk - mi_risk,
        atrial_fibrillation_risk: per_month(charge_af_5yr(f), 5.0),
    }
}

/// CHARGE-AF 5-year risk of incident atrial fibrillation (simple model, Alonso et al., JAHA
/// 2013), with the age held within 18-94 (see [`risks`]).
pub fn charge_af_5yr(f: &RiskFactors) -> f64 {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let age = f.age_years.clamp(18.0, CHARGE_AF_AGE.1);
    let sum = 0.508 * age / 5.0
        + 0.465 * flag(f.race == Race::White)
        + 0.248 * f.height_cm.clamp(120.0, 240.0) / 10.0
        + 0.115 * f.weight_kg.clamp(30.0, 185.0) / 15.0
        + 0.197 * f.systolic.clamp(70.0, 250.0) / 20.0
        - 0.101 * f.diastolic.clamp(20.0, 140.0) / 10.0
        + 0.359 * flag(f.smoker)
        + 0.349 * flag(f.bp_treated)
        + 0.237 * flag(f.diabetic)
        + 0.701 * flag(f.chf)
        + 0.496 * flag(f.mi_history);
    1.0 - 0.971_841_273_6f64.powf((sum - 12.58156).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guideline's worked example: age 55, TC 213, HDL 50, untreated SBP 120, nonsmoker,
    /// no diabetes.
    fn example(pce: &Pce, sex: Sex, black: bool) -> f64 {
        ascvd_10yr(pce, sex, black, 55.0, 213.0, 50.0, 120.0, false, false, false).expect("in range")
    }

    fn person() -> RiskFactors {
        RiskFactors {
            sex: Sex::Male,
            race: Race::White,
            age_years: 55.0,
            height_cm: 176.0,
            weight_kg: 90.0,
            systolic: 128.0,
            diastolic: 78.0,
            total_cholesterol: 200.0,
            hdl: 48.0,
            bp_treated: false,
            smoker: false,
            diabetic: false,
            chf: false,
            mi_history: false,
        }
    }

    #[test]
    fn pce_reproduces_the_guideline_examples() {
        let pce = Pce::load();
        let cases =
            [(Sex::Female, false, 2.1), (Sex::Male, false, 5.3), (Sex::Female, true, 3.0), (Sex::Male, true, 6.1)];
        // Table A prints the risks to one decimal from sums of rounded terms: exact arithmetic
        // gives 2.05, 5.38, 3.03 and 6.07 %, so agreement is to within 0.1 point.
        for (sex, black, percent) in cases {
            let risk = 100.0 * example(&pce, sex, black);
            assert!((risk - percent).abs() < 0.1, "{sex:?} black={black}: {risk:.3} % (guideline {percent} %)");
        }
        // The white men's individual sum is printed as 60.69: 1 − 0.9144^exp(60.69 − 61.18).
        let printed = 1.0 - 0.9144f64.powf((60.69f64 - 61.18).exp());
        assert!((100.0 * printed - 5.3).abs() < 0.05);
        assert!((example(&pce, Sex::Male, false) - printed).abs() < 0.001);
    }

    #[test]
    fn pce_range_and_risk_factors() {
        let pce = Pce::load();
        let base = |age: f64| ascvd_10yr(&pce, Sex::Male, false, age, 213.0, 50.0, 120.0, false, false, false);
        assert_eq!(base(39.9), None);
        assert_eq!(base(80.0), None);
        assert!(base(40.0).is_some() && base(79.0).is_some());
        let smoker = ascvd_10yr(&pce, Sex::Male, false, 55.0, 213.0, 50.0, 120.0, false, true, false).expect("range");
        let diabetic = ascvd_10yr(&pce, Sex::Male, false, 55.0, 213.0, 50.0, 120.0, false, false, true).expect("range");
        let treated = ascvd_10yr(&pce, Sex::Male, false, 55.0, 213.0, 50.0, 120.0, true, false, false).expect("range");
        let base55 = base(55.0).expect("range");
        assert!(smoker > base55 && diabetic > base55 && treated > base55);
        // Inputs outside the validated ranges are clamped.
        let extreme = ascvd_10yr(&pce, Sex::Male, false, 55.0, 500.0, 5.0, 260.0, false, false, false);
        let clamped = ascvd_10yr(&pce, Sex::Male, false, 55.0, 320.0, 20.0, 200.0, false, false, false);
        assert_eq!(extreme, clamped);
    }

    #[test]
    fn monthly_risks_are_consistent() {
        let pce = Pce::load();
        let r = risks(&pce, &person());
        let ten = ascvd_10yr(&pce, Sex::Male, false, 55.0, 200.0, 48.0, 128.0, false, false, false).expect("range");
        assert!((r.ascvd_10yr - ten).abs() < 1e-12);
        assert!((1.0 - (1.0 - r.cardio_risk).powi(120) - ten).abs() < 1e-12);
        assert!((r.mi_risk + r.stroke_risk - r.cardio_risk).abs() < 1e-15);
        assert!((r.mi_risk / r.cardio_risk - 192.0 / 338.0).abs() < 1e-12);
        assert!((r.ihd_risk - 5.0 * r.mi_risk).abs() < 1e-15);
        // About 5 % over 10 years -> about 0.04 % a month.
        assert!(r.cardio_risk > 2e-4 && r.cardio_risk < 8e-4, "{}", r.cardio_risk);
        // An MI history raises the coronary risk to the recurrence floor.
        let after_mi = risks(&pce, &RiskFactors { mi_history: true, ..person() });
        assert!(after_mi.mi_risk > 4.0 * r.mi_risk);
        assert!((after_mi.stroke_risk - r.stroke_risk).abs() < 0.2 * r.stroke_risk);
    }

    #[test]
    fn young_and_old_ages() {
        let pce = Pce::load();
        let at = |age: f64| risks(&pce, &RiskFactors { age_years: age, ..person() });
        // Continuous at 40, falling steadily with youth, zero for children.
        let (just_below, at40) = (at(40.0 - 1e-9), at(40.0));
        assert!((just_below.ascvd_10yr - at40.ascvd_10yr).abs() < 1e-9);
        let (r30, r20) = (at(30.0).ascvd_10yr, at(20.0).ascvd_10yr);
        assert!(r30 < at40.ascvd_10yr / 2.0 && r20 < r30 / 2.0 && r20 > 0.0, "{r20} {r30} {}", at40.ascvd_10yr);
        assert_eq!(at(17.0), Risks::default());
        // From 79 on, held at the 79-year-old value.
        assert!((at(85.0).ascvd_10yr - at(79.0).ascvd_10yr).abs() < 1e-12);
        for black in [false, true] {
            for sex in [Sex::Male, Sex::Female] {
                let race = if black { Race::Black } else { Race::White };
                let mut last = 0.0;
                for age in (20..=79).step_by(5) {
                    let r = risks(&pce, &RiskFactors { sex, race, age_years: f64::from(age), ..person() });
                    assert!(r.ascvd_10yr > last, "{sex:?} {race:?} {age}");
                    last = r.ascvd_10yr;
                }
            }
        }
    }

    #[test]
    fn atrial_fibrillation() {
        let pce = Pce::load();
        // A 70-year-old treated hypertensive white man: 5-year AF risk of a few percent (ARIC
        // 5-year incidence at that age is roughly 3-8 %).
        let old = RiskFactors { age_years: 70.0, systolic: 138.0, bp_treated: true, ..person() };
        let five = charge_af_5yr(&old);
        assert!((0.03..0.08).contains(&five), "{five}");
        let r = risks(&pce, &old);
        assert!((1.0 - (1.0 - r.atrial_fibrillation_risk).powi(60) - five).abs() < 1e-12);
        // Heart failure doubles the hazard (e^0.701); age raises it about 10 % a year.
        let chf = charge_af_5yr(&RiskFactors { chf: true, ..old });
        assert!(chf > 1.8 * five && chf < 2.1 * five);
        let younger = charge_af_5yr(&RiskFactors { age_years: 60.0, ..old });
        assert!((five / younger - (0.508f64 * 2.0).exp()).abs() < 0.1);
        // Young adults: small but positive; held at 94.
        let young = charge_af_5yr(&RiskFactors { age_years: 25.0, ..person() });
        assert!(young > 0.0 && young < 0.002, "{young}");
        assert_eq!(
            charge_af_5yr(&RiskFactors { age_years: 99.0, ..old }),
            charge_af_5yr(&RiskFactors { age_years: 94.0, ..old })
        );
        // Black and other races are not "white" in CHARGE-AF.
        let black = charge_af_5yr(&RiskFactors { race: Race::Black, ..old });
        assert!((five / black - 1.0 - (0.465f64.exp() - 1.0)).abs() < 0.05);
    }

    #[test]
    fn per_month_inverts_compounding() {
        for p in [0.0, 0.01, 0.2, 0.9] {
            let m = per_month(p, 10.0);
            assert!((1.0 - (1.0 - m).powi(120) - p).abs() < 1e-12);
        }
        assert_eq!(per_month(1.0, 5.0), 1.0);
    }
}
