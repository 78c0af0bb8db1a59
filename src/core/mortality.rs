//! Natural (background) mortality: the probability that a person dies of causes the modules
//! do not model, by sex and exact age.
//!
//! Data: `data/clinical/life_table.csv`, the US 2019 period life table (NCHS, Arias & Xu,
//! NVSR 70(19), 2022; ages 0-26 from the SSA 2019 period table), embedded and parsed once by
//! [`LifeTable::load`]. 2019 is the last pre-pandemic year, so COVID-19 (modelled separately)
//! does not inflate it. The simulator's weekly step asks [`LifeTable::probability_over`] with
//! `days = 7`; the disease modules add their own, explicit deaths on top. It plays the role of
//! the natural-death check in Synthea's Java `LifecycleModule`.

use crate::ast::Sex;
use serde::Deserialize;

const LIFE_TABLE_CSV: &str = include_str!("../../data/clinical/life_table.csv");

/// Remaining life expectancy at the table's open last age ("100 and over"), years, by sex
/// (male, female). From the header of `life_table.csv`, which calibrated the table with
/// e100 = 2.0 (males) and 2.3 (females).
const OPEN_INTERVAL_LIFE_EXPECTANCY: [f64; 2] = [2.0, 2.3];

/// Probabilities of dying within a year by single year of age, for each sex.
#[derive(Debug, Clone)]
pub struct LifeTable {
    /// `q[sex][age]`: probability that a person aged `age` dies before `age + 1`, for the
    /// closed ages `0..last`, indexed by sex (0 male, 1 female).
    q: [Vec<f64>; 2],
    /// Annual probability of death at and after the last (open) age, by sex.
    open_q: [f64; 2],
}

#[derive(Deserialize)]
struct Row {
    age: u32,
    qx_male: f64,
    qx_female: f64,
}

impl LifeTable {
    /// Parses the embedded life table. Panics only if the embedded data is malformed.
    pub fn load() -> LifeTable {
        let mut reader =
            csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(LIFE_TABLE_CSV.as_bytes());
        let mut q: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for (expected_age, record) in reader.deserialize::<Row>().enumerate() {
            let row = record.expect("embedded data");
            assert_eq!(row.age as usize, expected_age, "embedded data: consecutive ages from 0");
            assert!((0.0..=1.0).contains(&row.qx_male) && (0.0..=1.0).contains(&row.qx_female), "embedded data");
            q[0].push(row.qx_male);
            q[1].push(row.qx_female);
        }
        assert!(q[0].len() >= 3, "embedded data: life table too short");
        // The last row is the open interval "100 and over". Its qx of 1.0 means that everyone
        // dies at some age in the interval, not within one year: use the constant hazard
        // 1 / e_x of the interval instead, i.e. an annual probability 1 − exp(−1 / e_x).
        let open_q = std::array::from_fn(|s| {
            let last = q[s].pop().expect("embedded data");
            if last >= 1.0 { 1.0 - (-1.0 / OPEN_INTERVAL_LIFE_EXPECTANCY[s]).exp() } else { last }
        });
        LifeTable { q, open_q }
    }

    /// Probability of dying within one year at this exact age.
    ///
    /// Age 0 (the first year) uses q0 as it stands: infant deaths are concentrated in the
    /// first weeks, so q0 is not blended with q1. From age 1 on, qx is taken to hold at the
    /// middle of its year (x + 0.5) and interpolated linearly between neighbouring ages, so the
    /// probability changes smoothly within and between years. At and after the table's open
    /// last age (100) the open interval's constant-hazard probability (about 0.39 for men,
    /// 0.35 for women, from e100 = 2.0 / 2.3 years) applies.
    pub fn annual_probability(&self, sex: Sex, age_years: f64) -> f64 {
        let s = sex_index(sex);
        let q = &self.q[s];
        let last_closed = q.len() - 1;
        if age_years.is_nan() || age_years < 1.0 {
            return q[0];
        }
        if age_years >= q.len() as f64 {
            return self.open_q[s];
        }
        let a = (age_years - 0.5).clamp(1.0, last_closed as f64);
        let i = a.floor() as usize;
        if i >= last_closed {
            return q[last_closed];
        }
        let t = a - i as f64;
        q[i] + (q[i + 1] - q[i]) * t
    }

    /// Probability of dying within the next `days` days at this age, at the annual rate of
    /// [`LifeTable::annual_probability`] (constant hazard within the year):
    /// 1 − (1 − q)^(days / 365.25).
    pub fn probability_over(&self, sex: Sex, age_years: f64, days: f64) -> f64 {
        let q = self.annual_probability(sex, age_years);
        if q >= 1.0 {
            return 1.0;
        }
        -((-q).ln_1p() * (days.max(0.0) / 365.25)).exp_m1()
    }
}

fn sex_index(sex: Sex) -> usize {
    match sex {
        Sex::Male => 0,
        Sex::Female => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: f64 = 7.0;

    /// Survival from birth to `age` (and life-years lived on the way), stepping weekly.
    fn survive(table: &LifeTable, sex: Sex, age: f64) -> (f64, f64) {
        let step = WEEK / 365.25;
        let (mut alive, mut years, mut t) = (1.0, 0.0, 0.0);
        while t < age - 1e-9 {
            let p = table.probability_over(sex, t, WEEK);
            years += alive * (1.0 - p / 2.0) * step;
            alive *= 1.0 - p;
            t += step;
        }
        (alive, years)
    }

    #[test]
    fn survival_to_65_matches_nchs_2019() {
        let table = LifeTable::load();
        // NCHS US life tables 2019: l65 / l0 about 0.82 (males) and 0.89 (females). The
        // embedded table reconstructs ages 27-99 (see its header) and gives 0.800 and 0.879:
        // its mid-life male mortality runs about 2 % high (e0 and e65 still match, see below).
        let (male, _) = survive(&table, Sex::Male, 65.0);
        let (female, _) = survive(&table, Sex::Female, 65.0);
        assert!((male - 0.82).abs() < 0.025, "male survival to 65: {male}");
        assert!((female - 0.89).abs() < 0.02, "female survival to 65: {female}");
        // And exactly what the table's own product of (1 - qx) says.
        let product = |s: usize| table.q[s][..65].iter().map(|q| 1.0 - q).product::<f64>();
        assert!((male - product(0)).abs() < 0.002 && (female - product(1)).abs() < 0.002);
    }

    #[test]
    fn life_expectancy_matches_nchs_2019() {
        let table = LifeTable::load();
        // e0 = 76.3 (males), 81.4 (females), NCHS 2019.
        let (_, male) = survive(&table, Sex::Male, 130.0);
        let (_, female) = survive(&table, Sex::Female, 130.0);
        assert!((male - 76.3).abs() < 0.3, "male e0 {male}");
        assert!((female - 81.4).abs() < 0.3, "female e0 {female}");
    }

    #[test]
    fn weekly_probability_is_about_one_fifty_second() {
        let table = LifeTable::load();
        for sex in [Sex::Male, Sex::Female] {
            for age in [0.0, 5.0, 30.0, 64.3, 85.0, 99.0] {
                let annual = table.annual_probability(sex, age);
                let week = table.probability_over(sex, age, WEEK);
                // 1 - (1 - q)^(7 / 365.25) = q / 52.18 × (1 + q / 2 + ...): close to q / 52
                // while q is small.
                let tolerance = 0.01 + annual;
                assert!((week / (annual / 52.0) - 1.0).abs() < tolerance, "{sex:?} {age}: {week} vs {annual}");
                let exact = 1.0 - (1.0 - annual).powf(WEEK / 365.25);
                assert!((week - exact).abs() < 1e-15);
            }
            assert_eq!(table.probability_over(sex, 40.0, 0.0), 0.0);
            let year = table.probability_over(sex, 40.0, 365.25);
            assert!((year - table.annual_probability(sex, 40.0)).abs() < 1e-12);
        }
    }

    #[test]
    fn annual_probability_follows_the_table() {
        let table = LifeTable::load();
        // Exact table values at mid-year (age 40.5 -> q40 = 0.002494 for males) and in infancy.
        assert!((table.annual_probability(Sex::Male, 40.5) - 0.002494).abs() < 1e-9);
        assert!((table.annual_probability(Sex::Female, 0.3) - 0.005046).abs() < 1e-9);
        // Interpolated between q40 and q41 at 41.0, and continuous across the year boundary.
        let q41 = table.annual_probability(Sex::Male, 41.5);
        let at41 = table.annual_probability(Sex::Male, 41.0);
        assert!((at41 - (0.002494 + q41) / 2.0).abs() < 1e-12);
        let eps = 1e-9;
        assert!((table.annual_probability(Sex::Male, 41.0 - eps) - at41).abs() < 1e-9);
        // Rises with age after childhood; the open interval at 100+.
        let mut last = table.annual_probability(Sex::Female, 12.0);
        for age in 13..100 {
            let q = table.annual_probability(Sex::Female, f64::from(age));
            assert!(q > last * 0.9, "age {age}");
            last = q;
        }
        let open = table.annual_probability(Sex::Male, 103.0);
        assert!((open - (1.0 - (-0.5f64).exp())).abs() < 1e-12);
        assert!(table.probability_over(Sex::Male, 103.0, WEEK) < 0.02);
    }
}
