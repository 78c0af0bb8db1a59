//! Physiology: body size, vital signs and routine laboratory values of a person at any age.
//!
//! This is the measurement half of the clinical core the GMF modules assume (the role of
//! Synthea's Java `LifecycleModule`): a person draws lifelong [`Traits`] (z-scores) once at
//! birth, and [`vitals`] turns traits, sex, exact age and the [`Conditions`] the modules have
//! set into the values an encounter records. It is pure and continuous in age (every table is
//! interpolated, every switch between tables is blended), so a weekly step never sees a jump
//! that the person's conditions did not cause. Reference data, parsed once by
//! [`Reference::load`] from the embedded CSV files of `data/clinical/`:
//! `growth_cdc.csv` (CDC 2000 growth-chart LMS curves), `adult_biometrics.csv` (NHANES adult
//! means and SDs by sex and age band), `pediatric_vitals.csv` (children's heart rate,
//! respiratory rate and blood pressure), `metabolic_panel.csv` (codes, units and adult
//! distributions of the laboratory values, see [`Reference::labs`]) and `ckd_egfr.csv`
//! (KDIGO eGFR and albuminuria ranges by CKD stage). `crate::core::cardio` turns the values
//! produced here into cardiovascular risks; the engine maps module attributes to
//! [`Conditions`] and draws [`Traits`] with the person's random stream.

use crate::ast::Sex;
use rand::{Rng, RngExt};
use serde::Deserialize;

const GROWTH_CSV: &str = include_str!("../../data/clinical/growth_cdc.csv");
const ADULT_CSV: &str = include_str!("../../data/clinical/adult_biometrics.csv");
const PEDIATRIC_CSV: &str = include_str!("../../data/clinical/pediatric_vitals.csv");
const PANEL_CSV: &str = include_str!("../../data/clinical/metabolic_panel.csv");
const CKD_CSV: &str = include_str!("../../data/clinical/ckd_egfr.csv");

/// Trait z-scores are clamped to this many standard deviations.
const Z_LIMIT: f64 = 3.0;

/// Reference curves and distributions, parsed once from the embedded `data/clinical/` files.
#[derive(Debug, Clone)]
pub struct Reference {
    /// CDC LMS curves, indexed by sex (0 male, 1 female).
    growth: [Growth; 2],
    /// Attained adult height (mean, SD) of the youngest adult band, by sex.
    adult_height: [(f64, f64); 2],
    /// Adult body-size and laboratory distributions, anchored at band mid-points, by sex.
    adult: [Bands<AdultBand>; 2],
    /// Heart rate, respiratory rate and blood pressure for all ages (children, then adults), by sex.
    vital: [Bands<VitalBand>; 2],
    /// Adult weight SD (kg) by sex, from the note in `adult_biometrics.csv`.
    weight_sd: [f64; 2],
    /// Basic metabolic panel distributions (adult mean and SD).
    panel: Panel,
    /// eGFR and UACR ranges of CKD stages 0..=5.
    ckd: [CkdStage; 6],
    /// All rows of `metabolic_panel.csv` (codes, units, reference intervals).
    labs: Vec<LabInfo>,
}

/// One row of `metabolic_panel.csv`: how a laboratory value or vital sign is coded and what
/// its adult reference interval and population distribution are.
#[derive(Debug, Clone, PartialEq)]
pub struct LabInfo {
    /// Quantity name (the GMF VitalSign name where one exists), e.g. `"Hemoglobin A1c"`.
    pub name: String,
    /// LOINC code.
    pub loinc: String,
    /// LOINC long common name (`;` in the file restored to `,`).
    pub display: String,
    /// UCUM unit code.
    pub unit: String,
    /// Lower limit of the adult reference interval.
    pub low: f64,
    /// Upper limit of the adult reference interval.
    pub high: f64,
    /// Approximate mean, US adults.
    pub mean: f64,
    /// Approximate standard deviation, US adults.
    pub sd: f64,
}

/// A person's lifelong physiological traits: z-scores and offsets drawn once at birth.
///
/// Each is a standard-normal deviate clamped to ±3; [`vitals`] places the person at that
/// z-score of the age- and sex-specific reference distribution of the quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traits {
    /// Length/stature-for-age z-score (CDC), then adult height z-score.
    pub height_z: f64,
    /// Body-size z-score: weight for length below 24 months, BMI-for-age to 20 years, adult BMI.
    pub bmi_z: f64,
    /// Head-circumference-for-age z-score (to 36 months).
    pub head_z: f64,
    /// Systolic blood pressure z-score.
    pub sbp_z: f64,
    /// Diastolic blood pressure z-score (the part not shared with systolic pressure).
    pub dbp_z: f64,
    /// Resting heart rate z-score.
    pub hr_z: f64,
    /// Respiratory rate z-score (also sets the oxygen saturation, inversely).
    pub rr_z: f64,
    /// Cholesterol z-score: sets LDL cholesterol; total cholesterol follows from LDL, HDL and TG.
    pub chol_z: f64,
    /// HDL cholesterol z-score.
    pub hdl_z: f64,
    /// Triglyceride z-score (log scale).
    pub trig_z: f64,
    /// Non-diabetic HbA1c z-score (also places the person inside the prediabetes range).
    pub a1c_z: f64,
    /// Fasting glucose z-score around the value implied by HbA1c.
    pub glucose_z: f64,
    /// Other laboratory z-scores: `[urea nitrogen, kidney function (creatinine; higher = lower
    /// eGFR and more albuminuria), calcium, sodium, potassium, chloride]`. Carbon dioxide
    /// follows from sodium and chloride through the anion gap.
    pub lab_z: [f64; 6],
}

impl Traits {
    /// The median person: every z-score 0.
    pub const MEDIAN: Traits = Traits {
        height_z: 0.0,
        bmi_z: 0.0,
        head_z: 0.0,
        sbp_z: 0.0,
        dbp_z: 0.0,
        hr_z: 0.0,
        rr_z: 0.0,
        chol_z: 0.0,
        hdl_z: 0.0,
        trig_z: 0.0,
        a1c_z: 0.0,
        glucose_z: 0.0,
        lab_z: [0.0; 6],
    };
}

/// Draws a person's [`Traits`]: independent standard normals, each clamped to ±3.
pub fn draw_traits(rng: &mut impl Rng) -> Traits {
    let mut z = [0.0; 18];
    for pair in z.chunks_exact_mut(2) {
        let (a, b) = normal_pair(rng);
        pair[0] = a.clamp(-Z_LIMIT, Z_LIMIT);
        pair[1] = b.clamp(-Z_LIMIT, Z_LIMIT);
    }
    Traits {
        height_z: z[0],
        bmi_z: z[1],
        head_z: z[2],
        sbp_z: z[3],
        dbp_z: z[4],
        hr_z: z[5],
        rr_z: z[6],
        chol_z: z[7],
        hdl_z: z[8],
        trig_z: z[9],
        a1c_z: z[10],
        glucose_z: z[11],
        lab_z: [z[12], z[13], z[14], z[15], z[16], z[17]],
    }
}

/// One standard-normal draw (Box–Muller).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    normal_pair(rng).0
}

/// Two independent standard-normal draws (Box–Muller transform, Box & Muller 1958).
fn normal_pair(rng: &mut impl Rng) -> (f64, f64) {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
    (r * cos, r * sin)
}

/// Standard normal cumulative distribution Φ(z), through the error function approximation of
/// Abramowitz & Stegun, Handbook of Mathematical Functions (1964), formula 7.1.26
/// (absolute error below 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() * std::f64::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 { 0.5 * (1.0 + erf) } else { 0.5 * (1.0 - erf) }
}

/// What the rest of the person's state says, as flags the modules set (the lead maps
/// attributes to this).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Conditions {
    /// Current smoker (lowers HDL, raises triglycerides).
    pub smoker: bool,
    /// Hypertension (raises blood pressure unless controlled).
    pub hypertension: bool,
    /// Severe hypertension (raises blood pressure more, unless controlled).
    pub severe_hypertension: bool,
    /// Blood pressure controlled by antihypertensive medication.
    pub bp_controlled_by_meds: bool,
    /// Prediabetes (HbA1c 5.7-6.4 %).
    pub prediabetes: bool,
    /// Diabetes (HbA1c >= 6.5 %).
    pub diabetes: bool,
    /// Diabetes severity 0-3 (higher = worse glycaemic control).
    pub diabetes_severity: u8,
    /// Diabetes controlled by medication (HbA1c about 1 point lower, not below 6.5 %).
    pub diabetes_controlled_by_meds: bool,
    /// Chronic kidney disease stage 0 (none) to 5.
    pub ckd_stage: u8,
    /// Congestive heart failure (lower oxygen saturation).
    pub chf: bool,
    /// Taking a statin (LDL cholesterol about 35 % lower).
    pub on_statin: bool,
    /// Added to the BMI (kg/m2), e.g. by weight-loss programmes; negative to lose weight.
    pub bmi_shift: f64,
}

/// Body measurements, vital signs and laboratory values at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Vitals {
    /// Body height (recumbent length below 24 months), cm.
    pub height_cm: f64,
    /// Body weight, kg.
    pub weight_kg: f64,
    /// Body mass index, kg/m2.
    pub bmi: f64,
    /// Height percentile (0-100): CDC for age below 20 years, then the adult distribution.
    pub height_percentile: f64,
    /// Weight percentile (0-100): CDC weight-for-age below 20 years, then the adult band.
    pub weight_percentile: f64,
    /// CDC BMI-for-age percentile (0-100), ages 2-20 years.
    pub bmi_percentile: Option<f64>,
    /// Weight-for-length percentile (0-100), up to 36 months (approximation, see [`vitals`]).
    pub weight_for_length_percentile: Option<f64>,
    /// Head circumference, cm, up to 36 months.
    pub head_circumference_cm: Option<f64>,
    /// CDC head-circumference-for-age percentile (0-100), up to 36 months.
    pub head_circumference_percentile: Option<f64>,
    /// Systolic blood pressure, mm[Hg].
    pub systolic: f64,
    /// Diastolic blood pressure, mm[Hg].
    pub diastolic: f64,
    /// Heart rate, /min.
    pub heart_rate: f64,
    /// Respiratory rate, /min.
    pub respiration_rate: f64,
    /// Oxygen saturation, %.
    pub oxygen_saturation: f64,
    /// Hemoglobin A1c, % (what GMF calls "Blood Glucose").
    pub hba1c: f64,
    /// Fasting plasma glucose, mg/dL.
    pub glucose: f64,
    /// Total cholesterol, mg/dL.
    pub total_cholesterol: f64,
    /// Triglycerides, mg/dL.
    pub triglycerides: f64,
    /// LDL cholesterol, mg/dL.
    pub ldl: f64,
    /// HDL cholesterol, mg/dL.
    pub hdl: f64,
    /// Urea nitrogen, mg/dL.
    pub urea_nitrogen: f64,
    /// Serum creatinine, mg/dL.
    pub creatinine: f64,
    /// Calcium, mg/dL.
    pub calcium: f64,
    /// Sodium, mmol/L.
    pub sodium: f64,
    /// Potassium, mmol/L.
    pub potassium: f64,
    /// Chloride, mmol/L.
    pub chloride: f64,
    /// Carbon dioxide (total, bicarbonate), mmol/L.
    pub carbon_dioxide: f64,
    /// Estimated glomerular filtration rate, mL/min/{1.73_m2}.
    pub egfr: f64,
    /// Urine microalbumin/creatinine ratio, mg/g.
    pub microalbumin_creatinine_ratio: f64,
}

impl Reference {
    /// Parses the embedded reference files. Panics only if the embedded data is malformed.
    pub fn load() -> Reference {
        let growth = load_growth();
        let (adult, adult_height) = load_adult();
        let panel_rows = load_labs();
        let find = |name: &str| -> MeanSd {
            let row = panel_rows.iter().find(|r| r.name == name).expect("embedded data");
            MeanSd { mean: row.mean, sd: row.sd }
        };
        let panel = Panel {
            urea_nitrogen: find("Urea Nitrogen"),
            calcium: find("Calcium"),
            sodium: find("Sodium"),
            potassium: find("Potassium"),
            chloride: find("Chloride"),
            carbon_dioxide: find("Carbon Dioxide"),
            heart_rate: find("Heart Rate"),
            respiration_rate: find("Respiration Rate"),
        };
        let vital = load_vital_bands(&adult, &panel);
        Reference {
            growth,
            adult_height,
            adult: adult.map(Bands::new),
            vital,
            // adult_biometrics.csv: "weight SD ~ 18-22 kg for men, 18-21 for women".
            weight_sd: [20.0, 19.5],
            panel,
            ckd: load_ckd(),
            labs: panel_rows,
        }
    }

    /// Codes, units, reference intervals and adult distributions of the laboratory values and
    /// vital signs (all rows of `metabolic_panel.csv`, in file order).
    pub fn labs(&self) -> &[LabInfo] {
        &self.labs
    }

    /// The row of [`Reference::labs`] with this name (e.g. `"Creatinine"`), if any.
    pub fn lab(&self, name: &str) -> Option<&LabInfo> {
        self.labs.iter().find(|l| l.name == name)
    }
}

/// Body measurements, vital signs and laboratory values of a person with these traits, sex,
/// exact age (years) and conditions. Pure: the same inputs give the same values, and the
/// values are continuous in age (tables are interpolated and every switch between tables is
/// blended over an age interval). No allocation.
///
/// Rules and sources, in order:
/// * **Height**, below 20 years: CDC 2000 length-for-age (to 23 months) and stature-for-age
///   (from 24 months) LMS at `height_z` (Kuczmarski et al., Vital Health Stat 11(246), 2002);
///   the z-score is carried across the length-to-stature switch. Adults: the 20-29 band mean
///   plus `height_z` × SD (Fryar et al., Vital Health Stat 3(46), 2021), blended from the CDC
///   curve over 18-20 years, then shrinking 0.1 cm per year after 50. The older bands are not
///   followed because their lower means are mostly a cohort effect, not shrinkage.
/// * **Weight and BMI**: below 24 months weight-for-age LMS at 0.6 `height_z` + 0.8 `bmi_z`
///   (taller infants are heavier; weight for length follows `bmi_z`) and BMI = weight /
///   height²; from 24 months BMI-for-age LMS at `bmi_z`, blended from the weight-for-age
///   weight over 24-30 months. Adults: the band's BMI distribution at `bmi_z`, interpolated
///   between band mid-points (ages 25, 35, ... 75 and 85 for 80+) and joined linearly to the
///   CDC value at 20 years over 20-25. Adult BMI is right-skewed (the file's SDs come from the
///   5th-95th percentile spread), so it is log-normal with the band's mean and SD:
///   BMI = mean × exp(σ z − σ²/2), σ² = ln(1 + (SD/mean)²) (the median is below the mean, and
///   the share above 30 matches NHANES's obesity prevalence at 40-59 and 60+). Then `bmi_shift` is
///   added and weight = BMI × height².
///   Beyond |z| = 2 the LMS curves are extended linearly (the WHO "restricted LMS" rule,
///   WHO Child Growth Standards: Methods and development, 2006), because the raw LMS formula
///   explodes at high z for strongly skewed BMI curves.
/// * **Percentiles** are Φ(z) × 100 of the actual value on the CDC curve (adults: the band).
///   Weight-for-length (to 36 months) is approximated without a weight-for-length table as
///   the part of the weight-for-age z-score not explained by the length-for-age z-score:
///   (z_weight − 0.6 z_length) / 0.8 (infant weight and length z-scores correlate about 0.6).
/// * **Blood pressure**: children from `pediatric_vitals.csv` (NHLBI Fourth Report 2004; Task
///   Force 1987 for infants), adults the band mean + z × SD (NHANES), interpolated between
///   band mid-points. The SBP z-score shares 0.25 with `bmi_z` and the DBP z-score 0.6 with
///   the SBP z-score (BMI-BP and SBP-DBP correlations). Without hypertension the pressure is
///   kept smoothly below 140/90. Hypertension adds +15/+8 mmHg and keeps at least the lower of
///   130/80 and the age's 95th percentile (ACC/AHA 2017 stage 1); severe hypertension adds
///   +30/+15 and keeps at least the lower of 160/100 and the 95th percentile + 30/+15; with
///   `bp_controlled_by_meds` it is the non-hypertensive value + 2/+1.
/// * **Heart rate and respiratory rate**: Fleming et al., Lancet 2011 (children), then the
///   adult mean/SD of `metabolic_panel.csv`; z clamped to ±2.3 (the 1st-99th centiles).
///   **SpO2** 96-99.5 % (about 98 %), about 93 % with heart failure, lower with a higher `rr_z`.
/// * **HbA1c**: band non-diabetic mean + z × SD (z shares 0.25 with `bmi_z`), kept below 5.65
///   without prediabetes (ADA 2023: normal < 5.7 %); prediabetes 5.7 + 0.7 Φ(z), i.e.
///   5.7-6.4; diabetes by severity 0-3: 6.8, 7.2, 8.2, 9.5 + 0.3 z, 1.0 lower when controlled
///   by medication, and never below 6.5. **Glucose** = ADAG estimated average glucose
///   28.7 × A1c − 46.7 (Nathan et al., Diabetes Care 2008;31:1473) shifted by the band's
///   fasting-minus-average offset (fasting mean − eAG(mean A1c)), + `glucose_z` × half the
///   band SD; below 100 mg/dL without prediabetes or diabetes, below 126 with prediabetes.
/// * **Lipids**: LDL = band mean + `chol_z` × SD; HDL band at a z that shares −0.3 with
///   `bmi_z`; triglycerides log-normal with the band mean and SD at a z sharing 0.35 with
///   `bmi_z`. Smokers: HDL −5.7 %, triglycerides +9.1 % (Craig et al., BMJ 1989;298:784).
///   Statin: LDL × 0.65 (moderate/high-intensity statins lower LDL 30-50 %, Grundy et al.,
///   2018 AHA/ACC cholesterol guideline). Total cholesterol = LDL + HDL + TG/5 (Friedewald
///   1972), so the panel is internally consistent. Children use the 20-29 band (no pediatric
///   lipid or glycaemia table in the data).
/// * **Kidney**: no CKD: age-normal eGFR 120 − 0.8 × (age − 20) for adults, maturing after
///   birth as 120 − 75 e^(−age/0.4 y) (about 45 at birth, adult level by 2 years), × (1 − 0.1 z)
///   with z the kidney trait, kept smoothly above 90 up to age 60, then above a floor falling
///   linearly to 60 at 80 (60 = the CKD threshold, so no one without CKD looks like CKD 3).
///   CKD stages 1-5: inside the `ckd_egfr.csv` (KDIGO 2012) range at Φ(z) from the top
///   (stage 5 from 5 up). Creatinine: CKD-EPI 2021 race-free equation inverted (Inker et
///   al., NEJM 2021;385:1737) for adults, the bedside Schwartz equation eGFR = 0.413 ×
///   height / Scr (Schwartz et al., JASN 2009;20:629) for children, blended over 18-20
///   years. Urine albumin/creatinine: log-uniform inside the stage's range at Φ(z) (more
///   albuminuria with lower function). Urea nitrogen: panel mean + z × SD, × (ref/eGFR)^0.75
///   below ref = min(90, age-normal). Sodium, potassium, calcium: panel mean + z × SD;
///   chloride shares 0.6 with the sodium z; CO2 = Na − Cl − anion gap (the gap of the panel
///   means, 11.5), so it varies with SD about 2.3 as the panel says. Below eGFR 30 potassium
///   rises (+0.02 per unit), CO2 falls (−0.15) and calcium falls (−0.02) (CKD hyperkalaemia,
///   metabolic acidosis, hypocalcaemia).
pub fn vitals(reference: &Reference, traits: &Traits, sex: Sex, age_years: f64, conditions: &Conditions) -> Vitals {
    let age = if age_years.is_finite() { age_years.max(0.0) } else { 0.0 };
    let s = sex_index(sex);
    let female = s == 1;
    let mut v = Vitals::default();

    let band = reference.adult[s].at(age);
    body(reference, &band, traits, s, age, conditions.bmi_shift, &mut v);

    // Blood pressure, heart rate, respiratory rate, SpO2.
    let vb = reference.vital[s].at(age);
    let bmi_z = traits.bmi_z;
    let sbp_z = (0.968 * traits.sbp_z + 0.25 * bmi_z).clamp(-Z_LIMIT, Z_LIMIT);
    let dbp_z = (0.6 * sbp_z + 0.8 * traits.dbp_z).clamp(-Z_LIMIT, Z_LIMIT);
    let base_sbp = soft_max(vb.sbp_mean + sbp_z * vb.sbp_sd, 139.0, 6.0);
    let base_dbp = soft_max(vb.dbp_mean + dbp_z * vb.dbp_sd, 89.0, 4.0);
    let (sbp, dbp) = if !(conditions.hypertension || conditions.severe_hypertension) {
        (base_sbp, base_dbp)
    } else if conditions.bp_controlled_by_meds {
        (base_sbp + 2.0, base_dbp + 1.0)
    } else {
        let p95_sbp = vb.sbp_mean + 1.645 * vb.sbp_sd;
        let p95_dbp = vb.dbp_mean + 1.645 * vb.dbp_sd;
        if conditions.severe_hypertension {
            (
                soft_min(base_sbp + 30.0, 160f64.min(p95_sbp + 30.0), 6.0),
                soft_min(base_dbp + 15.0, 100f64.min(p95_dbp + 15.0), 4.0),
            )
        } else {
            (soft_min(base_sbp + 15.0, 130f64.min(p95_sbp), 6.0), soft_min(base_dbp + 8.0, 80f64.min(p95_dbp), 4.0))
        }
    };
    v.systolic = sbp;
    // Keep a pulse pressure of at least about 20 mmHg.
    v.diastolic = soft_max(dbp, sbp - 20.0, 4.0).max(20.0);
    v.heart_rate = vb.hr_mean + traits.hr_z.clamp(-2.3, 2.3) * vb.hr_sd;
    let rr_z = traits.rr_z.clamp(-2.3, 2.3);
    v.respiration_rate = vb.rr_mean + rr_z * vb.rr_sd;
    v.oxygen_saturation =
        if conditions.chf { (93.0 - 0.5 * rr_z).clamp(90.0, 95.0) } else { (98.0 - 0.5 * rr_z).clamp(96.0, 99.5) };

    // Glycaemia.
    let a1c_z = (0.968 * traits.a1c_z + 0.25 * bmi_z).clamp(-Z_LIMIT, Z_LIMIT);
    let hba1c = if conditions.diabetes {
        let target = [6.8, 7.2, 8.2, 9.5][usize::from(conditions.diabetes_severity.min(3))] + 0.3 * a1c_z;
        let treated = if conditions.diabetes_controlled_by_meds { target - 1.0 } else { target };
        soft_min(treated, 6.5, 0.3)
    } else if conditions.prediabetes {
        5.7 + 0.7 * normal_cdf(a1c_z)
    } else {
        soft_max(band.hba1c_mean + a1c_z * band.hba1c_sd, 5.65, 0.2).max(4.0)
    };
    v.hba1c = hba1c;
    let eag = |a1c: f64| 28.7 * a1c - 46.7;
    let fasting_offset = band.glucose_mean - eag(band.hba1c_mean);
    let glucose = eag(hba1c) + fasting_offset + traits.glucose_z * 0.5 * band.glucose_sd;
    v.glucose = if conditions.diabetes {
        glucose
    } else if conditions.prediabetes {
        soft_max(glucose, 125.4, 5.0)
    } else {
        soft_max(glucose, 99.4, 5.0)
    }
    .max(60.0);

    // Lipids.
    let mut ldl = soft_min(band.ldl_mean + traits.chol_z * band.ldl_sd, 30.0, 15.0);
    let hdl_z = (0.954 * traits.hdl_z - 0.3 * bmi_z).clamp(-Z_LIMIT, Z_LIMIT);
    let mut hdl = soft_min(band.hdl_mean + hdl_z * band.hdl_sd, 20.0, 8.0);
    let trig_z = (0.937 * traits.trig_z + 0.35 * bmi_z).clamp(-Z_LIMIT, Z_LIMIT);
    let mut trig = (band.trig_ln_median + band.trig_sigma * trig_z).exp();
    if conditions.smoker {
        hdl *= 0.943;
        trig *= 1.091;
    }
    if conditions.on_statin {
        ldl *= 0.65;
    }
    v.ldl = ldl;
    v.hdl = hdl;
    v.triglycerides = trig;
    v.total_cholesterol = ldl + hdl + trig / 5.0;

    // Kidney and electrolytes.
    kidney(reference, traits, female, age, v.height_cm, conditions.ckd_stage, &mut v);
    v
}

/// Height, weight, BMI, head circumference and their percentiles.
fn body(reference: &Reference, band: &AdultBand, traits: &Traits, s: usize, age: f64, bmi_shift: f64, v: &mut Vitals) {
    let g = &reference.growth[s];
    let months = age * 12.0;
    let cdc_months = months.min(240.0);

    // Height.
    let (attained_mean, attained_sd) = reference.adult_height[s];
    let adult_height = attained_mean + traits.height_z * attained_sd - 0.1 * (age - 50.0).max(0.0);
    let height = if age < 18.0 {
        g.length.at(cdc_months).value(traits.height_z)
    } else if age < 20.0 {
        lerp(g.length.at(cdc_months).value(traits.height_z), adult_height, (age - 18.0) / 2.0)
    } else {
        adult_height
    };
    let h2 = (height / 100.0).powi(2);

    // BMI (before bmi_shift). Infant weight-for-age z-score: shares 0.6 with the length z-score
    // (infant weight and length z-scores correlate about 0.6-0.7), so that weight for length,
    // not weight alone, follows bmi_z and meets the BMI-for-age curve at 24 months.
    let infant_weight_z = 0.6 * traits.height_z + 0.8 * traits.bmi_z;
    let bmi = if months < 24.0 {
        g.weight.at(months).value(infant_weight_z) / h2
    } else if months < 30.0 {
        let from_weight = g.weight.at(months).value(infant_weight_z);
        let from_bmi = g.bmi.at(months).value(traits.bmi_z) * h2;
        lerp(from_weight, from_bmi, (months - 24.0) / 6.0) / h2
    } else if age < 20.0 {
        g.bmi.at(months).value(traits.bmi_z)
    } else {
        // Below the first band mid-point (25 years) `band` is the first band: join it linearly
        // from the CDC value at 20.
        let adult_bmi = band.bmi_mean * (band.bmi_sigma * traits.bmi_z - 0.5 * band.bmi_sigma * band.bmi_sigma).exp();
        let first_anchor = reference.adult[s].ages[0];
        if age < first_anchor {
            lerp(g.bmi.at(240.0).value(traits.bmi_z), adult_bmi, (age - 20.0) / (first_anchor - 20.0))
        } else {
            adult_bmi
        }
    };
    let bmi = (bmi + bmi_shift).max(10.0);
    let weight = bmi * h2;
    v.height_cm = height;
    v.weight_kg = weight;
    v.bmi = bmi;

    // Percentiles.
    v.height_percentile = 100.0 * normal_cdf(traits.height_z);
    let weight_z = {
        let child = || g.weight.at(cdc_months).z(weight);
        let adult = || (weight - band.weight_mean) / reference.weight_sd[s];
        if age < 18.0 {
            child()
        } else if age < 20.0 {
            lerp(child(), adult(), (age - 18.0) / 2.0)
        } else {
            adult()
        }
    };
    v.weight_percentile = 100.0 * normal_cdf(weight_z);
    v.bmi_percentile = (24.0..=240.0).contains(&months).then(|| 100.0 * normal_cdf(g.bmi.at(months).z(bmi)));
    if months <= 36.0 {
        // The part of weight-for-age not explained by length-for-age (their z-scores correlate
        // about 0.6 in infancy): z_wfl ≈ (z_weight − 0.6 z_length) / 0.8.
        v.weight_for_length_percentile = Some(100.0 * normal_cdf((weight_z - 0.6 * traits.height_z) / 0.8));
        v.head_circumference_cm = Some(g.head.at(months).value(traits.head_z));
        v.head_circumference_percentile = Some(100.0 * normal_cdf(traits.head_z));
    }
}

/// eGFR, creatinine, albuminuria, urea nitrogen and electrolytes.
fn kidney(reference: &Reference, traits: &Traits, female: bool, age: f64, height_cm: f64, stage: u8, v: &mut Vitals) {
    let kidney_z = traits.lab_z[1];
    let normal = 120.0 - 75.0 * (-age / 0.4).exp() - 0.8 * (age - 20.0).max(0.0);
    let stage = usize::from(stage.min(5));
    let range = reference.ckd[stage];
    let egfr = if stage == 0 {
        // Floor for people without CKD: 90 up to 60 years, falling to 60 at 80; in childhood
        // at most 90 % of the (maturing) normal value.
        let floor = if age < 18.0 { 90f64.min(0.9 * normal) } else { 90.0 - 1.5 * (age - 60.0).clamp(0.0, 20.0) };
        soft_min(normal * (1.0 - 0.1 * kidney_z), floor, 5.0)
    } else {
        let low = range.egfr_low.max(5.0);
        range.egfr_high - normal_cdf(kidney_z) * (range.egfr_high - low)
    };
    v.egfr = egfr;

    let adult_creatinine = || ckd_epi_2021_creatinine(egfr, age.max(18.0), female);
    let child_creatinine = || 0.413 * height_cm / egfr;
    v.creatinine = if age < 18.0 {
        child_creatinine()
    } else if age < 20.0 {
        lerp(child_creatinine(), adult_creatinine(), (age - 18.0) / 2.0)
    } else {
        adult_creatinine()
    };

    let uacr_low = range.uacr_low.max(1.0);
    v.microalbumin_creatinine_ratio =
        (uacr_low.ln() + normal_cdf(kidney_z) * (range.uacr_high.ln() - uacr_low.ln())).exp();

    let p = &reference.panel;
    let reference_egfr = 90f64.min(normal);
    let bun = (p.urea_nitrogen.mean + traits.lab_z[0] * p.urea_nitrogen.sd).max(4.0);
    v.urea_nitrogen = if egfr < reference_egfr { bun * (reference_egfr / egfr).powf(0.75) } else { bun };

    let deficit = (30.0 - egfr).max(0.0);
    let na_z = traits.lab_z[3];
    let cl_z = 0.6 * na_z + 0.8 * traits.lab_z[5];
    v.sodium = p.sodium.mean + na_z * p.sodium.sd;
    v.chloride = p.chloride.mean + cl_z * p.chloride.sd;
    v.potassium = p.potassium.mean + traits.lab_z[4] * p.potassium.sd + 0.02 * deficit;
    v.calcium = p.calcium.mean + traits.lab_z[2] * p.calcium.sd - 0.02 * deficit;
    let anion_gap = p.sodium.mean - p.chloride.mean - p.carbon_dioxide.mean;
    v.carbon_dioxide = (v.sodium - v.chloride - anion_gap - 0.15 * deficit).clamp(12.0, 35.0);
}

/// Serum creatinine (mg/dL) that gives this eGFR in the race-free CKD-EPI 2021 creatinine
/// equation (Inker et al., NEJM 2021;385:1737-1749):
/// eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 (female),
/// κ = 0.7 / 0.9 and α = −0.241 / −0.302 (female / male), solved for Scr.
pub fn ckd_epi_2021_creatinine(egfr: f64, age_years: f64, female: bool) -> f64 {
    let (kappa, alpha, sex_factor) = if female { (0.7, -0.241, 1.012) } else { (0.9, -0.302, 1.0) };
    // eGFR at Scr = κ.
    let at_kappa = 142.0 * sex_factor * (age_years * 0.9938f64.ln()).exp();
    let ratio = egfr.max(1.0) / at_kappa;
    if ratio >= 1.0 { kappa * ratio.powf(1.0 / alpha) } else { kappa * ratio.powf(-1.0 / 1.2) }
}

/// The CKD-EPI 2021 creatinine equation itself (see [`ckd_epi_2021_creatinine`]).
pub fn ckd_epi_2021_egfr(creatinine: f64, age_years: f64, female: bool) -> f64 {
    let (kappa, alpha, sex_factor) = if female { (0.7, -0.241, 1.012) } else { (0.9, -0.302, 1.0) };
    let r = creatinine / kappa;
    142.0 * r.min(1.0).powf(alpha) * r.max(1.0).powf(-1.2) * 0.9938f64.powf(age_years) * sex_factor
}

// ---------------------------------------------------------------------------------------------
// Small numeric helpers.

fn sex_index(sex: Sex) -> usize {
    match sex {
        Sex::Male => 0,
        Sex::Female => 1,
    }
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

/// Keeps `x` below `cap` smoothly: identity up to `cap - margin`, then an exponential
/// approach to `cap` (continuous, with a continuous slope, and monotone).
fn soft_max(x: f64, cap: f64, margin: f64) -> f64 {
    let knee = cap - margin;
    if x <= knee { x } else { cap - margin * (-(x - knee) / margin).exp() }
}

/// Keeps `x` above `floor` smoothly (mirror image of [`soft_max`]).
fn soft_min(x: f64, floor: f64, margin: f64) -> f64 {
    let knee = floor + margin;
    if x >= knee { x } else { floor + margin * ((x - knee) / margin).exp() }
}

/// Index `i` and fraction `t` such that `x` lies between `xs[i]` and `xs[i + 1]` (clamped to
/// the ends; `xs` sorted ascending, at least two entries).
fn locate(xs: &[f64], x: f64) -> (usize, f64) {
    let n = xs.len();
    if x <= xs[0] {
        return (0, 0.0);
    }
    if x >= xs[n - 1] {
        return (n - 2, 1.0);
    }
    let i = xs.partition_point(|&a| a <= x) - 1;
    (i, (x - xs[i]) / (xs[i + 1] - xs[i]))
}

fn embedded_csv(text: &'static str) -> csv::Reader<&'static [u8]> {
    csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// LMS growth curves.

/// L, M, S at one age.
#[derive(Debug, Clone, Copy)]
struct Lms {
    l: f64,
    m: f64,
    s: f64,
}

impl Lms {
    /// The raw LMS value at z (Cole 1990): M (1 + L S z)^(1/L), or M e^(S z) when L = 0.
    fn raw(self, z: f64) -> f64 {
        if self.l.abs() < 1e-7 {
            self.m * (self.s * z).exp()
        } else {
            self.m * (1.0 + self.l * self.s * z).max(1e-6).powf(1.0 / self.l)
        }
    }

    fn raw_z(self, x: f64) -> f64 {
        if self.l.abs() < 1e-7 {
            (x / self.m).ln() / self.s
        } else {
            ((x / self.m).powf(self.l) - 1.0) / (self.l * self.s)
        }
    }

    /// Value at z, linear beyond |z| = 2 with the slope between z = ±1 and ±2 (WHO restricted
    /// LMS, 2006).
    fn value(self, z: f64) -> f64 {
        if z > 2.0 {
            let x2 = self.raw(2.0);
            x2 + (z - 2.0) * (x2 - self.raw(1.0))
        } else if z < -2.0 {
            let x2 = self.raw(-2.0);
            x2 + (z + 2.0) * (self.raw(-1.0) - x2)
        } else {
            self.raw(z)
        }
    }

    /// Inverse of [`Lms::value`].
    fn z(self, x: f64) -> f64 {
        let z = self.raw_z(x);
        if z > 2.0 {
            let x2 = self.raw(2.0);
            2.0 + (x - x2) / (x2 - self.raw(1.0))
        } else if z < -2.0 {
            let x2 = self.raw(-2.0);
            -2.0 + (x - x2) / (self.raw(-1.0) - x2)
        } else {
            z
        }
    }
}

/// One LMS curve: parameters by age in months, interpolated linearly.
#[derive(Debug, Clone, Default)]
struct LmsCurve {
    months: Vec<f64>,
    l: Vec<f64>,
    m: Vec<f64>,
    s: Vec<f64>,
}

impl LmsCurve {
    fn at(&self, months: f64) -> Lms {
        let (i, t) = locate(&self.months, months);
        Lms {
            l: lerp(self.l[i], self.l[i + 1], t),
            m: lerp(self.m[i], self.m[i + 1], t),
            s: lerp(self.s[i], self.s[i + 1], t),
        }
    }
}

/// The four CDC curves of one sex.
#[derive(Debug, Clone, Default)]
struct Growth {
    weight: LmsCurve,
    length: LmsCurve,
    bmi: LmsCurve,
    head: LmsCurve,
}

#[derive(Deserialize)]
struct GrowthRecord {
    measure: String,
    sex: String,
    age_months: f64,
    #[serde(rename = "L")]
    l: f64,
    #[serde(rename = "M")]
    m: f64,
    #[serde(rename = "S")]
    s: f64,
}

fn file_sex(code: &str) -> usize {
    match code {
        "M" => 0,
        "F" => 1,
        _ => panic!("embedded data: unknown sex code {code:?}"),
    }
}

fn load_growth() -> [Growth; 2] {
    let mut growth: [Growth; 2] = Default::default();
    for record in embedded_csv(GROWTH_CSV).deserialize::<GrowthRecord>() {
        let r = record.expect("embedded data");
        let g = &mut growth[file_sex(&r.sex)];
        let curve = match r.measure.as_str() {
            "weight" => &mut g.weight,
            "length_height" => &mut g.length,
            "bmi" => &mut g.bmi,
            "head_circumference" => &mut g.head,
            other => panic!("embedded data: unknown growth measure {other:?}"),
        };
        assert!(curve.months.last().is_none_or(|&last| last < r.age_months), "embedded data: ages ascending");
        curve.months.push(r.age_months);
        curve.l.push(r.l);
        curve.m.push(r.m);
        curve.s.push(r.s);
    }
    for g in &growth {
        for c in [&g.weight, &g.length, &g.bmi, &g.head] {
            assert!(c.months.len() >= 2, "embedded data: growth curve too short");
        }
    }
    growth
}

// ---------------------------------------------------------------------------------------------
// Piecewise-linear age bands.

/// Something that can be interpolated linearly.
trait Lerp: Copy {
    fn lerp(&self, other: &Self, t: f64) -> Self;
}

macro_rules! lerp_struct {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl Lerp for $t {
            fn lerp(&self, other: &Self, t: f64) -> Self {
                $t { $($f: lerp(self.$f, other.$f, t)),* }
            }
        }
    };
}

/// Rows anchored at ages (years), interpolated linearly, constant beyond the ends.
#[derive(Debug, Clone, Default)]
struct Bands<T> {
    ages: Vec<f64>,
    rows: Vec<T>,
}

impl<T: Lerp> Bands<T> {
    fn new(mut anchored: Vec<(f64, T)>) -> Bands<T> {
        anchored.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(anchored.len() >= 2, "embedded data: too few bands");
        Bands { ages: anchored.iter().map(|a| a.0).collect(), rows: anchored.into_iter().map(|a| a.1).collect() }
    }

    fn at(&self, age: f64) -> T {
        let (i, t) = locate(&self.ages, age);
        self.rows[i].lerp(&self.rows[i + 1], t)
    }
}

/// Adult distributions of one band (only what is interpolated).
#[derive(Debug, Clone, Copy)]
struct AdultBand {
    weight_mean: f64,
    bmi_mean: f64,
    bmi_sigma: f64,
    sbp_mean: f64,
    sbp_sd: f64,
    dbp_mean: f64,
    dbp_sd: f64,
    hdl_mean: f64,
    hdl_sd: f64,
    ldl_mean: f64,
    ldl_sd: f64,
    trig_ln_median: f64,
    trig_sigma: f64,
    hba1c_mean: f64,
    hba1c_sd: f64,
    glucose_mean: f64,
    glucose_sd: f64,
}
lerp_struct!(AdultBand {
    weight_mean,
    bmi_mean,
    bmi_sigma,
    sbp_mean,
    sbp_sd,
    dbp_mean,
    dbp_sd,
    hdl_mean,
    hdl_sd,
    ldl_mean,
    ldl_sd,
    trig_ln_median,
    trig_sigma,
    hba1c_mean,
    hba1c_sd,
    glucose_mean,
    glucose_sd,
});

/// Vital-sign distributions at one anchor age.
#[derive(Debug, Clone, Copy)]
struct VitalBand {
    hr_mean: f64,
    hr_sd: f64,
    rr_mean: f64,
    rr_sd: f64,
    sbp_mean: f64,
    sbp_sd: f64,
    dbp_mean: f64,
    dbp_sd: f64,
}
lerp_struct!(VitalBand { hr_mean, hr_sd, rr_mean, rr_sd, sbp_mean, sbp_sd, dbp_mean, dbp_sd });

#[derive(Deserialize)]
struct AdultRecord {
    sex: String,
    age_low: f64,
    age_high: f64,
    height_mean_cm: f64,
    height_sd_cm: f64,
    weight_mean_kg: f64,
    bmi_mean: f64,
    bmi_sd: f64,
    sbp_mean: f64,
    sbp_sd: f64,
    dbp_mean: f64,
    dbp_sd: f64,
    hdl_mean: f64,
    hdl_sd: f64,
    ldl_mean: f64,
    ldl_sd: f64,
    trig_mean: f64,
    trig_sd: f64,
    hba1c_mean: f64,
    hba1c_sd: f64,
    glucose_mean: f64,
    glucose_sd: f64,
}

/// Log-normal σ for a variable with this mean and SD: σ² = ln(1 + (SD/mean)²).
fn lognormal_sigma(mean: f64, sd: f64) -> f64 {
    (1.0 + (sd / mean).powi(2)).ln().sqrt()
}

/// Adult bands of one sex as (anchor age, band).
type AnchoredAdult = Vec<(f64, AdultBand)>;

/// Adult bands by sex, sorted by age, and the attained height (mean, SD) of the youngest band.
fn load_adult() -> ([AnchoredAdult; 2], [(f64, f64); 2]) {
    let mut rows: [Vec<(f64, AdultBand, f64, f64)>; 2] = Default::default();
    for record in embedded_csv(ADULT_CSV).deserialize::<AdultRecord>() {
        let r = record.expect("embedded data");
        // Mid-point of the completed-years band [low, high + 1); the open 80+ band at 85.
        let anchor = if r.age_high >= 100.0 { r.age_low + 5.0 } else { (r.age_low + r.age_high + 1.0) / 2.0 };
        let trig_sigma = lognormal_sigma(r.trig_mean, r.trig_sd);
        let band = AdultBand {
            weight_mean: r.weight_mean_kg,
            bmi_mean: r.bmi_mean,
            bmi_sigma: lognormal_sigma(r.bmi_mean, r.bmi_sd),
            sbp_mean: r.sbp_mean,
            sbp_sd: r.sbp_sd,
            dbp_mean: r.dbp_mean,
            dbp_sd: r.dbp_sd,
            hdl_mean: r.hdl_mean,
            hdl_sd: r.hdl_sd,
            ldl_mean: r.ldl_mean,
            ldl_sd: r.ldl_sd,
            trig_ln_median: r.trig_mean.ln() - trig_sigma * trig_sigma / 2.0,
            trig_sigma,
            hba1c_mean: r.hba1c_mean,
            hba1c_sd: r.hba1c_sd,
            glucose_mean: r.glucose_mean,
            glucose_sd: r.glucose_sd,
        };
        rows[file_sex(&r.sex)].push((anchor, band, r.height_mean_cm, r.height_sd_cm));
    }
    let mut heights = [(0.0, 0.0); 2];
    for (s, sex_rows) in rows.iter_mut().enumerate() {
        sex_rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let first = sex_rows.first().expect("embedded data");
        heights[s] = (first.2, first.3);
    }
    (rows.map(|sex_rows| sex_rows.into_iter().map(|(age, band, _, _)| (age, band)).collect()), heights)
}

#[derive(Deserialize)]
struct PediatricRecord {
    age_low_months: f64,
    age_high_months: f64,
    hr_mean: f64,
    hr_sd: f64,
    rr_mean: f64,
    rr_sd: f64,
    sbp_mean: f64,
    sbp_sd: f64,
    dbp_mean: f64,
    dbp_sd: f64,
}

/// Children's bands (pooled sexes) at their mid-points, then the adult blood pressure bands of
/// each sex with the adult heart and respiratory rate of the panel.
fn load_vital_bands(adult: &[AnchoredAdult; 2], panel: &Panel) -> [Bands<VitalBand>; 2] {
    let mut children = Vec::new();
    for record in embedded_csv(PEDIATRIC_CSV).deserialize::<PediatricRecord>() {
        let r = record.expect("embedded data");
        let anchor = (r.age_low_months + r.age_high_months) / 2.0 / 12.0;
        children.push((
            anchor,
            VitalBand {
                hr_mean: r.hr_mean,
                hr_sd: r.hr_sd,
                rr_mean: r.rr_mean,
                rr_sd: r.rr_sd,
                sbp_mean: r.sbp_mean,
                sbp_sd: r.sbp_sd,
                dbp_mean: r.dbp_mean,
                dbp_sd: r.dbp_sd,
            },
        ));
    }
    std::array::from_fn(|s| {
        let mut anchored = children.clone();
        for &(age, band) in &adult[s] {
            anchored.push((
                age,
                VitalBand {
                    hr_mean: panel.heart_rate.mean,
                    hr_sd: panel.heart_rate.sd,
                    rr_mean: panel.respiration_rate.mean,
                    rr_sd: panel.respiration_rate.sd,
                    sbp_mean: band.sbp_mean,
                    sbp_sd: band.sbp_sd,
                    dbp_mean: band.dbp_mean,
                    dbp_sd: band.dbp_sd,
                },
            ));
        }
        Bands::new(anchored)
    })
}

// ---------------------------------------------------------------------------------------------
// Metabolic panel and CKD stages.

#[derive(Debug, Clone, Copy)]
struct MeanSd {
    mean: f64,
    sd: f64,
}

#[derive(Debug, Clone, Copy)]
struct Panel {
    urea_nitrogen: MeanSd,
    calcium: MeanSd,
    sodium: MeanSd,
    potassium: MeanSd,
    chloride: MeanSd,
    carbon_dioxide: MeanSd,
    heart_rate: MeanSd,
    respiration_rate: MeanSd,
}

#[derive(Deserialize)]
struct LabRecord {
    name: String,
    loinc: String,
    display: String,
    unit: String,
    low: f64,
    high: f64,
    mean: f64,
    sd: f64,
}

fn load_labs() -> Vec<LabInfo> {
    embedded_csv(PANEL_CSV)
        .deserialize::<LabRecord>()
        .map(|record| {
            let r = record.expect("embedded data");
            LabInfo {
                name: r.name,
                loinc: r.loinc,
                display: r.display.replace(';', ","),
                unit: r.unit,
                low: r.low,
                high: r.high,
                mean: r.mean,
                sd: r.sd,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
struct CkdStage {
    ckd_stage: u8,
    egfr_low: f64,
    egfr_high: f64,
    uacr_low: f64,
    uacr_high: f64,
}

fn load_ckd() -> [CkdStage; 6] {
    let mut stages = [CkdStage::default(); 6];
    let mut seen = [false; 6];
    for record in embedded_csv(CKD_CSV).deserialize::<CkdStage>() {
        let r = record.expect("embedded data");
        let i = usize::from(r.ckd_stage);
        assert!(i < 6, "embedded data: CKD stage out of range");
        stages[i] = r;
        seen[i] = true;
    }
    assert!(seen.iter().all(|&s| s), "embedded data: all CKD stages 0-5");
    stages
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn reference() -> Reference {
        Reference::load()
    }

    fn at(r: &Reference, t: &Traits, sex: Sex, age: f64, c: &Conditions) -> Vitals {
        vitals(r, t, sex, age, c)
    }

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-8);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 2e-7);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 2e-7);
    }

    #[test]
    fn draw_traits_are_clamped_standard_normals() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 20_000;
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..n {
            let t = draw_traits(&mut rng);
            let all = [t.height_z, t.bmi_z, t.sbp_z, t.a1c_z, t.lab_z[5]];
            assert!(all.iter().all(|z| z.abs() <= 3.0));
            sum += t.bmi_z;
            sum2 += t.bmi_z * t.bmi_z;
        }
        let mean = sum / n as f64;
        let var = sum2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }

    #[test]
    fn boy_growth_at_median() {
        let r = reference();
        let c = Conditions::default();
        let t = Traits::MEDIAN;
        let birth = at(&r, &t, Sex::Male, 0.0, &c);
        assert!((birth.height_cm - 50.0).abs() < 0.5, "birth length {}", birth.height_cm);
        assert!((birth.weight_kg - 3.53).abs() < 0.05, "birth weight {}", birth.weight_kg);
        let twenty = at(&r, &t, Sex::Male, 20.0, &c);
        assert!((176.0..=177.0).contains(&twenty.height_cm), "height at 20 {}", twenty.height_cm);
        let ten = at(&r, &t, Sex::Male, 10.0, &c);
        assert!((16.6..=17.0).contains(&ten.bmi), "BMI at 10 {}", ten.bmi);
        // Adult BMI of a 50-year-old man at the median: band 50-59 mean 29.7 (interpolated 29.8
        // at 50), SD 6.2-6.4, so a log-normal median of about 29.2.
        let fifty = at(&r, &t, Sex::Male, 50.0, &c);
        assert!((fifty.bmi - 29.2).abs() <= 0.3, "BMI at 50 {}", fifty.bmi);
        // Over the BMI trait's distribution the mean is the band's mean (midpoint rule on z).
        let (mut sum, mut weight) = (0.0, 0.0);
        for i in -400..=400 {
            let z = f64::from(i) / 100.0;
            let w = (-z * z / 2.0).exp();
            sum += w * at(&r, &Traits { bmi_z: z, ..Traits::MEDIAN }, Sex::Male, 55.0, &c).bmi;
            weight += w;
        }
        assert!((sum / weight - 29.7).abs() <= 0.25, "mean BMI at 55 {}", sum / weight);
        // Weight rises to about 50 and falls after 60, as the bands say.
        let w = |age: f64| at(&r, &t, Sex::Male, age, &c).weight_kg;
        assert!(w(45.0) > w(25.0) && w(80.0) < w(60.0));
    }

    #[test]
    fn percentiles_at_median_are_fifty() {
        let r = reference();
        let c = Conditions::default();
        for sex in [Sex::Male, Sex::Female] {
            for age in [0.0, 0.5, 1.0, 1.9] {
                let v = at(&r, &Traits::MEDIAN, sex, age, &c);
                assert!((v.height_percentile - 50.0).abs() < 1e-6);
                assert!((v.weight_percentile - 50.0).abs() < 1e-4, "{age}: {}", v.weight_percentile);
                assert!((v.head_circumference_percentile.expect("infant") - 50.0).abs() < 1e-6);
                assert!((v.weight_for_length_percentile.expect("infant") - 50.0).abs() < 1e-3);
            }
            for age in [3.0, 10.0, 15.5] {
                let v = at(&r, &Traits::MEDIAN, sex, age, &c);
                assert!((v.bmi_percentile.expect("child") - 50.0).abs() < 1e-4);
            }
        }
        let adult = at(&r, &Traits::MEDIAN, Sex::Female, 40.0, &c);
        assert_eq!(adult.bmi_percentile, None);
        assert_eq!(adult.head_circumference_cm, None);
        assert_eq!(adult.weight_for_length_percentile, None);
    }

    #[test]
    fn taller_and_heavier_children_have_higher_percentiles() {
        let r = reference();
        let c = Conditions::default();
        let t = Traits { height_z: 1.5, bmi_z: 1.0, head_z: -1.0, ..Traits::MEDIAN };
        let v = at(&r, &t, Sex::Female, 1.0, &c);
        assert!((v.height_percentile - 93.3).abs() < 0.1);
        assert!(v.weight_percentile > 80.0);
        assert!(v.head_circumference_percentile.expect("infant") < 16.0);
        // Weight for length follows bmi_z, whatever the length.
        let wfl = v.weight_for_length_percentile.expect("infant");
        assert!((wfl - 84.13).abs() < 0.1, "weight for length {wfl}");
        let short = at(&r, &Traits { height_z: -1.5, ..t }, Sex::Female, 1.0, &c);
        assert!(short.weight_percentile < v.weight_percentile);
        assert!((short.weight_for_length_percentile.expect("infant") - wfl).abs() < 0.1);
        let heavier = at(&r, &Traits { bmi_z: 2.0, ..t }, Sex::Female, 1.0, &c);
        assert!(heavier.weight_for_length_percentile.expect("infant") > 97.0);
        // Extreme z-scores stay finite and plausible (linear LMS extension beyond |z| = 2).
        let extreme = at(&r, &Traits { bmi_z: 3.0, ..Traits::MEDIAN }, Sex::Male, 10.0, &c);
        assert!(extreme.bmi < 40.0 && extreme.bmi > 25.0, "BMI {}", extreme.bmi);
        let p = extreme.bmi_percentile.expect("child");
        assert!((p - 99.865).abs() < 0.01, "percentile {p}");
    }

    /// The largest absolute differences between two sets of vitals, by name.
    fn differences(a: &Vitals, b: &Vitals) -> [(&'static str, f64); 12] {
        [
            ("height", b.height_cm - a.height_cm),
            ("weight", b.weight_kg - a.weight_kg),
            ("bmi", b.bmi - a.bmi),
            ("sbp", b.systolic - a.systolic),
            ("dbp", b.diastolic - a.diastolic),
            ("hr", b.heart_rate - a.heart_rate),
            ("a1c", b.hba1c - a.hba1c),
            ("ldl", b.ldl - a.ldl),
            ("egfr", b.egfr - a.egfr),
            ("creatinine", b.creatinine - a.creatinine),
            ("bun", b.urea_nitrogen - a.urea_nitrogen),
            ("weight pct", b.weight_percentile - a.weight_percentile),
        ]
    }

    #[test]
    fn no_jumps_at_table_boundaries() {
        let r = reference();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // Every place where a table row, band mid-point or blend starts or ends.
        let mut boundaries: Vec<f64> = vec![1.0, 1.5, 2.0, 2.5, 3.0, 17.5, 18.0, 20.0, 25.0, 50.0, 60.0, 80.0, 85.0];
        boundaries.extend((1..=36).map(|m| f64::from(m) / 12.0));
        boundaries.extend((0..20).map(|y| f64::from(y) + 0.125 + 0.5));
        boundaries.extend((3..=8).map(|d| f64::from(d) * 10.0 + 5.0));
        let eps = 1e-7;
        for _ in 0..50 {
            let t = draw_traits(&mut rng);
            for sex in [Sex::Male, Sex::Female] {
                let c = Conditions { ckd_stage: 0, ..Default::default() };
                for &age in &boundaries {
                    let before = at(&r, &t, sex, age - eps, &c);
                    let after = at(&r, &t, sex, age + eps, &c);
                    for (name, d) in differences(&before, &after) {
                        assert!(d.abs() < 1e-4, "{name} jumps by {d} at {age} ({t:?})");
                    }
                }
            }
        }
    }

    #[test]
    fn weekly_changes_are_small() {
        let r = reference();
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let week = 7.0 / 365.25;
        // Largest plausible weekly change after infancy (height, weight, BMI, SBP, DBP, HR,
        // A1c, LDL, eGFR, creatinine, BUN, weight percentile).
        let limits = [0.3, 0.35, 0.1, 0.5, 0.5, 0.5, 0.01, 0.5, 0.3, 0.01, 0.1, 1.0];
        for _ in 0..30 {
            let t = draw_traits(&mut rng);
            for sex in [Sex::Male, Sex::Female] {
                let c = Conditions::default();
                let mut prev = at(&r, &t, sex, 2.0, &c);
                let mut age = 2.0 + week;
                while age < 100.0 {
                    let v = at(&r, &t, sex, age, &c);
                    for ((name, d), limit) in differences(&prev, &v).into_iter().zip(limits) {
                        assert!(d.abs() < limit, "{name} changes by {d} in a week at {age} ({t:?})");
                    }
                    prev = v;
                    age += week;
                }
            }
        }
    }

    #[test]
    fn hypertension_raises_blood_pressure() {
        let r = reference();
        let t = Traits::MEDIAN;
        let none = at(&r, &t, Sex::Male, 55.0, &Conditions::default());
        let htn = at(&r, &t, Sex::Male, 55.0, &Conditions { hypertension: true, ..Default::default() });
        let severe = at(&r, &t, Sex::Male, 55.0, &Conditions { severe_hypertension: true, ..Default::default() });
        let controlled = at(
            &r,
            &t,
            Sex::Male,
            55.0,
            &Conditions { hypertension: true, bp_controlled_by_meds: true, ..Default::default() },
        );
        assert!(htn.systolic >= none.systolic + 14.0 && htn.diastolic >= none.diastolic + 7.0);
        assert!(htn.systolic >= 130.0 && htn.diastolic >= 80.0);
        assert!(severe.systolic >= htn.systolic + 14.0 && severe.systolic >= 158.0);
        assert!(controlled.systolic - none.systolic <= 3.0 && controlled.diastolic - none.diastolic <= 2.0);
        // Without hypertension the pressure stays below 140/90 even at the top of the range.
        let high = Traits { sbp_z: 3.0, dbp_z: 3.0, bmi_z: 3.0, ..t };
        let v = at(&r, &high, Sex::Female, 85.0, &Conditions::default());
        assert!(v.systolic < 140.0 && v.diastolic < 90.0);
        // A hypertensive person with a low trait still looks hypertensive.
        let low = Traits { sbp_z: -2.0, dbp_z: -2.0, ..t };
        let v = at(&r, &low, Sex::Male, 40.0, &Conditions { hypertension: true, ..Default::default() });
        assert!(v.systolic >= 130.0 && v.diastolic >= 80.0);
    }

    #[test]
    fn statin_lowers_ldl_and_total_cholesterol() {
        let r = reference();
        let t = Traits { chol_z: 1.0, ..Traits::MEDIAN };
        let before = at(&r, &t, Sex::Female, 60.0, &Conditions::default());
        let after = at(&r, &t, Sex::Female, 60.0, &Conditions { on_statin: true, ..Default::default() });
        assert!((after.ldl / before.ldl - 0.65).abs() < 1e-9);
        assert!(after.total_cholesterol < before.total_cholesterol - 30.0);
        assert!((after.total_cholesterol - (after.ldl + after.hdl + after.triglycerides / 5.0)).abs() < 1e-9);
        // Median total cholesterol near the band (55-64 interpolated about 210 for women).
        let median = at(&r, &Traits::MEDIAN, Sex::Female, 60.0, &Conditions::default());
        assert!((median.total_cholesterol - 210.0).abs() < 10.0, "TC {}", median.total_cholesterol);
    }

    #[test]
    fn glycaemia_follows_conditions() {
        let r = reference();
        for z in [-2.0, 0.0, 2.5] {
            let t = Traits { a1c_z: z, glucose_z: z, ..Traits::MEDIAN };
            let a1c = |c: Conditions| at(&r, &t, Sex::Male, 62.0, &c);
            let normal = a1c(Conditions::default());
            let pre = a1c(Conditions { prediabetes: true, ..Default::default() });
            assert!(normal.hba1c < 5.65 && normal.glucose < 100.0);
            assert!((5.7..=6.4).contains(&pre.hba1c) && pre.glucose < 126.0);
            let mut last = 0.0;
            for severity in 0..=3 {
                let d = a1c(Conditions { diabetes: true, diabetes_severity: severity, ..Default::default() });
                assert!(d.hba1c > last && d.hba1c >= 6.5, "severity {severity}: {}", d.hba1c);
                let treated = a1c(Conditions {
                    diabetes: true,
                    diabetes_severity: severity,
                    diabetes_controlled_by_meds: true,
                    ..Default::default()
                });
                assert!(treated.hba1c >= 6.5 && treated.hba1c < d.hba1c);
                last = d.hba1c;
            }
            let severe = a1c(Conditions { diabetes: true, diabetes_severity: 3, ..Default::default() });
            // ADAG: glucose tracks HbA1c.
            assert!(severe.glucose > 180.0 && severe.glucose > pre.glucose + 60.0, "glucose {}", severe.glucose);
        }
        let median = at(
            &r,
            &Traits::MEDIAN,
            Sex::Male,
            3.0,
            &Conditions { diabetes: true, diabetes_severity: 2, ..Default::default() },
        );
        assert!((median.hba1c - 8.2).abs() < 1e-6);
    }

    #[test]
    fn egfr_is_monotone_in_ckd_stage() {
        let r = reference();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let t = draw_traits(&mut rng);
            for sex in [Sex::Male, Sex::Female] {
                for age in [25.0, 55.0, 75.0, 95.0] {
                    let v: Vec<Vitals> = (0..=5)
                        .map(|stage| at(&r, &t, sex, age, &Conditions { ckd_stage: stage, ..Default::default() }))
                        .collect();
                    assert!(v[0].egfr >= 60.0, "no-CKD eGFR {} at {age}", v[0].egfr);
                    if age < 60.0 {
                        assert!(v[0].egfr >= 90.0);
                    }
                    assert!(v[0].microalbumin_creatinine_ratio < 30.0);
                    for w in v[1..].windows(2) {
                        assert!(w[1].egfr < w[0].egfr && w[1].creatinine > w[0].creatinine);
                        assert!(w[1].urea_nitrogen >= w[0].urea_nitrogen);
                    }
                    assert!(v[5].egfr >= 5.0 && v[5].egfr < 15.0 && v[5].microalbumin_creatinine_ratio >= 300.0);
                    assert!(v[5].potassium > v[1].potassium && v[5].carbon_dioxide < v[1].carbon_dioxide);
                    for x in &v {
                        let back = ckd_epi_2021_egfr(x.creatinine, age, sex == Sex::Female);
                        assert!((back - x.egfr).abs() < 1e-6 * x.egfr, "CKD-EPI round trip {back} vs {}", x.egfr);
                    }
                }
            }
        }
        // A median 50-year-old man without CKD: eGFR 96, creatinine about 0.96 mg/dL.
        let v = at(&r, &Traits::MEDIAN, Sex::Male, 50.0, &Conditions::default());
        assert!((v.egfr - 96.0).abs() < 1e-9 && (v.creatinine - 0.96).abs() < 0.02, "{} {}", v.egfr, v.creatinine);
        // Electrolytes at the panel means.
        assert!((v.sodium - 139.5).abs() < 1e-9 && (v.carbon_dioxide - 25.5).abs() < 1e-9);
    }

    #[test]
    fn oxygen_saturation_lower_with_heart_failure() {
        let r = reference();
        let ok = at(&r, &Traits::MEDIAN, Sex::Male, 70.0, &Conditions::default());
        let chf = at(&r, &Traits::MEDIAN, Sex::Male, 70.0, &Conditions { chf: true, ..Default::default() });
        assert!((97.0..=99.0).contains(&ok.oxygen_saturation) && (chf.oxygen_saturation - 93.0).abs() < 1.0);
    }

    #[test]
    fn labs_metadata() {
        let r = reference();
        let co2 = r.lab("Carbon Dioxide").expect("row");
        assert_eq!(co2.loinc, "20565-8");
        assert_eq!(co2.display, "Carbon dioxide, total [Moles/volume] in Blood");
        assert!(r.labs().len() >= 20);
    }

    #[test]
    fn speed_of_a_million_calls() {
        let r = reference();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let people: Vec<Traits> = (0..1000).map(|_| draw_traits(&mut rng)).collect();
        let conditions = [
            Conditions::default(),
            Conditions { hypertension: true, diabetes: true, diabetes_severity: 2, ckd_stage: 3, ..Default::default() },
        ];
        let n: usize = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };
        let start = std::time::Instant::now();
        let mut checksum = 0.0;
        for i in 0..n {
            let t = &people[i % people.len()];
            let sex = if i % 2 == 0 { Sex::Male } else { Sex::Female };
            let age = (i % 5200) as f64 / 52.0;
            let v = vitals(&r, std::hint::black_box(t), sex, std::hint::black_box(age), &conditions[i % 3 / 2]);
            checksum += v.weight_kg + v.egfr;
        }
        let elapsed = start.elapsed();
        assert!(checksum.is_finite());
        println!(
            "vitals(): {n} calls in {:.3} s ({:.0} ns/call; {} build)",
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e9 / n as f64,
            if cfg!(debug_assertions) { "debug" } else { "release" }
        );
    }
}
