//! Payers: Medicare, Medicaid, private plans and no insurance, and who is covered by which.
//!
//! Eligibility follows US law in broad strokes: Medicare from 65 (from 1966, Social Security
//! Amendments of 1965); Medicaid for incomes under the poverty line from 1966, raised to 138 %
//! of it from 2014 (Affordable Care Act expansion), and for children under 200 % from 1997
//! (CHIP); people eligible for both are "Dual Eligible". Others have a private plan, unless the
//! person's state's uninsured rate (`sdoh.csv`) made them uninsured. Plans are synthetic; the
//! shares they cover are rough national averages (KFF, Medicare cost sharing).

use crate::sim::person::splitmix;
use crate::sim::record::Uuid;

#[derive(Debug, Clone)]
pub struct Payer {
    pub id: Uuid,
    pub name: &'static str,
    /// `GOVERNMENT`, `PRIVATE` or `NO_INSURANCE`, as Synthea's payers.csv spells it.
    pub ownership: &'static str,
    /// Share of a bill the payer pays.
    pub coverage: f64,
    /// The attribute value modules read (`insurance_status`).
    pub status: &'static str,
}

const PAYERS: &[(&str, &str, f64, &str)] = &[
    ("Medicare", "GOVERNMENT", 0.80, "medicare"),
    ("Medicaid", "GOVERNMENT", 1.00, "medicaid"),
    ("Dual Eligible", "GOVERNMENT", 1.00, "dual_eligible"),
    ("Evergreen Health Plan", "PRIVATE", 0.80, "private"),
    ("Summit Mutual Insurance", "PRIVATE", 0.75, "private"),
    ("Harbor Health Partners", "PRIVATE", 0.85, "private"),
    ("Prairie Life & Health", "PRIVATE", 0.70, "private"),
    ("Keystone Care Alliance", "PRIVATE", 0.80, "private"),
    ("NO_INSURANCE", "NO_INSURANCE", 0.0, "none"),
];

pub const MEDICARE: usize = 0;
pub const MEDICAID: usize = 1;
pub const DUAL: usize = 2;
pub const NO_INSURANCE: usize = PAYERS.len() - 1;
const PRIVATE: std::ops::Range<usize> = 3..8;

/// Every payer, in a fixed order.
pub fn payers() -> Vec<Payer> {
    PAYERS
        .iter()
        .map(|&(name, ownership, coverage, status)| {
            let a = splitmix(name.bytes().fold(0x7061_7965, |h, b| splitmix(h ^ u64::from(b))));
            Payer {
                id: Uuid::from_bits((u128::from(a) << 64) | u128::from(splitmix(a))),
                name,
                ownership,
                coverage,
                status,
            }
        })
        .collect()
}

/// Which payer covers a person of this age and poverty ratio in this year. `uninsured`
/// (drawn once per person from the state's rate) applies to those without public coverage;
/// `person` picks the private plan, stable over a life.
pub fn choose(age: i32, poverty_ratio: f64, year: i32, uninsured: bool, person: u64) -> usize {
    let medicare = year >= 1966 && age >= 65;
    let medicaid_line = if year >= 2014 { 1.38 } else { 1.0 };
    let medicaid = year >= 1966 && (poverty_ratio < medicaid_line || (year >= 1997 && age < 19 && poverty_ratio < 2.0));
    match (medicare, medicaid) {
        (true, true) => DUAL,
        (true, false) => MEDICARE,
        (false, true) => MEDICAID,
        (false, false) if uninsured => NO_INSURANCE,
        (false, false) => PRIVATE.start + (splitmix(person) % PRIVATE.len() as u64) as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eligibility_follows_age_income_and_year() {
        assert_eq!(choose(70, 3.0, 2020, false, 1), MEDICARE);
        assert_eq!(choose(70, 0.5, 2020, false, 1), DUAL);
        assert_eq!(choose(30, 1.2, 2020, false, 1), MEDICAID);
        assert_ne!(choose(30, 1.2, 2010, false, 1), MEDICAID, "expansion came in 2014");
        assert_eq!(choose(10, 1.8, 2005, false, 1), MEDICAID, "CHIP");
        assert_eq!(choose(40, 3.0, 2020, true, 1), NO_INSURANCE);
        assert!(PRIVATE.contains(&choose(40, 3.0, 2020, false, 1)));
        assert_ne!(choose(70, 3.0, 1960, false, 1), MEDICARE, "no Medicare before 1966");
        let p = payers();
        assert_eq!(p.len(), PAYERS.len());
        assert_eq!(p[NO_INSURANCE].coverage, 0.0);
    }
}
