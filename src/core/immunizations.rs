//! Routine immunizations: which vaccine doses are due for a person at a given age and
//! calendar year.
//!
//! Data: `data/clinical/immunizations.csv` (CDC/ACIP 2023 child, adolescent and adult
//! schedules with CVX codes and the first year each vaccine was routinely given), embedded and
//! parsed once by [`Schedule::load`]. The wellness-encounter logic asks [`Schedule::due`] at
//! each encounter, records an immunization for every [`Due`] it returns and advances its
//! per-vaccine counter; this is the role of Synthea's Java `Immunizations` class. The catch-up
//! rules (a dose more than 48 months late is dropped, at most one dose of a vaccine per call)
//! follow the simulator's convention; the ACIP maximum ages of four infant vaccines and the
//! PCV20/PPSV23 alternative are built in (see [`Schedule::due`]).

use serde::Deserialize;

const IMMUNIZATIONS_CSV: &str = include_str!("../../data/clinical/immunizations.csv");

/// Lifelong recurring doses (`yearly:N`, `every120:N`) are listed up to this age in months
/// (120 years).
const LIFELONG_MONTHS: u32 = 1440;

/// A dose more than this many months past its scheduled age is dropped (never given).
const CATCH_UP_MONTHS: f64 = 48.0;

/// Maximum ages (months) at which a dose may still be given, from the CDC catch-up schedule
/// (Child and Adolescent Immunization Schedule 2023, Table 2): rotavirus — the maximum age
/// for the final dose is 8 months 0 days; Hib and PCV are not routinely given to healthy
/// children aged 5 years or older; DTaP is not given at 7 years or older (Tdap is).
const MAX_AGE_MONTHS: [(&str, u32); 4] = [("rv_mono", 8), ("hib", 59), ("pcv13", 59), ("dtap", 83)];

/// Pairs of alternative vaccines `(older, newer)`: never both; the older one only before the
/// newer one's `first_available` year (immunizations.csv: PCV20 from 2021 replaces PPSV23 at
/// 65 years).
const ALTERNATIVES: [(&str, &str); 1] = [("ppsv23", "pcv20")];

/// The routine schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The vaccines, in file order; [`Schedule::due`] reports indices into this list.
    pub vaccines: Vec<Vaccine>,
    /// Resolved [`ALTERNATIVES`] as indices into `vaccines`.
    alternatives: Vec<(usize, usize)>,
}

/// One vaccine of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vaccine {
    /// Key used by the engine, e.g. `"dtap"`.
    pub key: String,
    /// CVX code (leading zeros kept), e.g. `"08"`.
    pub cvx: String,
    /// CVX short description, e.g. `"Hep B, adolescent or pediatric"`.
    pub display: String,
    /// Ages in months at which doses are due, ascending (recurring doses listed to 120 years).
    pub doses_at_months: Vec<u32>,
    /// First calendar year in which the vaccine is given.
    pub first_available: i32,
    /// Interval of a lifelong recurring dose (12 for `yearly:N`, 120 for `every120:N`).
    pub repeat_every_months: Option<u32>,
    /// Age (months) after which no dose is given (ACIP maximum age), if any.
    pub max_age_months: Option<u32>,
}

/// A dose that is due now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Index of the vaccine in [`Schedule::vaccines`].
    pub vaccine: usize,
    /// Index of the dose in the vaccine's `doses_at_months`. After giving it, set the caller's
    /// counter for this vaccine to `dose + 1`.
    pub dose: usize,
    /// The age in months at which the dose was scheduled.
    pub scheduled_month: u32,
}

#[derive(Deserialize)]
struct Row {
    key: String,
    cvx: String,
    display: String,
    at_months: String,
    first_available: i32,
}

impl Schedule {
    /// Parses the embedded schedule. Panics only if the embedded data is malformed.
    pub fn load() -> Schedule {
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(IMMUNIZATIONS_CSV.as_bytes());
        let vaccines = reader
            .deserialize::<Row>()
            .map(|record| {
                let row = record.expect("embedded data");
                let (doses_at_months, repeat_every_months) = parse_at_months(&row.at_months);
                let max_age_months = MAX_AGE_MONTHS.iter().find(|(key, _)| *key == row.key).map(|&(_, m)| m);
                Vaccine {
                    cvx: row.cvx,
                    display: row.display.replace(';', ","),
                    doses_at_months,
                    first_available: row.first_available,
                    repeat_every_months,
                    max_age_months,
                    key: row.key,
                }
            })
            .collect();
        Schedule::new(vaccines)
    }

    /// A schedule of these vaccines (the built-in alternatives are resolved by key).
    pub fn new(vaccines: Vec<Vaccine>) -> Schedule {
        let index = |key: &str| vaccines.iter().position(|v| v.key == key);
        let alternatives =
            ALTERNATIVES.iter().filter_map(|&(older, newer)| Some((index(older)?, index(newer)?))).collect();
        Schedule { vaccines, alternatives }
    }

    /// Index of the vaccine with this key.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.vaccines.iter().position(|v| v.key == key)
    }

    /// The doses due at this age (months) in this calendar year, at most one per vaccine, in
    /// schedule order. No allocation.
    ///
    /// `given[i]` is how far vaccine `i`'s schedule has been worked through: the index of the
    /// first of its `doses_at_months` not yet given (0 at birth; a missing entry counts as 0).
    /// After recording a returned [`Due`], set `given[due.vaccine] = due.dose + 1`. Doses that
    /// were dropped are simply skipped over, so they need no bookkeeping.
    ///
    /// Rules: nothing before the vaccine's `first_available` year nor after its ACIP maximum
    /// age; starting at `given[i]`, a dose scheduled 48 months or more before the current age
    /// is dropped, and so is a recurring dose once the next recurrence is due (a missed season
    /// is not caught up); the first remaining dose is due if the age has reached its scheduled
    /// month. Of two alternatives (PPSV23 and PCV20 at 65) the older is given only before the
    /// newer one's first year, and neither once the other has been given.
    pub fn due<'a>(&'a self, age_months: f64, year: i32, given: &'a [u32]) -> impl Iterator<Item = Due> + 'a {
        self.vaccines.iter().enumerate().filter_map(move |(i, vaccine)| {
            if year < vaccine.first_available || vaccine.max_age_months.is_some_and(|max| age_months > f64::from(max)) {
                return None;
            }
            for &(older, newer) in &self.alternatives {
                let other = if i == older {
                    if year >= self.vaccines[newer].first_available {
                        return None;
                    }
                    newer
                } else if i == newer {
                    older
                } else {
                    continue;
                };
                if given.get(other).copied().unwrap_or(0) > 0 {
                    return None;
                }
            }
            let doses = &vaccine.doses_at_months;
            let start = (given.get(i).copied().unwrap_or(0) as usize).min(doses.len());
            let rest = &doses[start..];
            // Doses 48 or more months late are dropped.
            let mut k = rest.partition_point(|&m| f64::from(m) + CATCH_UP_MONTHS <= age_months);
            if vaccine.repeat_every_months.is_some() {
                // Only the latest recurrence that has come due counts.
                let reached = rest.partition_point(|&m| f64::from(m) <= age_months);
                k = k.max(reached.saturating_sub(1));
            }
            let &scheduled = rest.get(k)?;
            (f64::from(scheduled) <= age_months).then_some(Due {
                vaccine: i,
                dose: start + k,
                scheduled_month: scheduled,
            })
        })
    }
}

/// Parses an `at_months` cell: integers, `yearly:N` or `every120:N`.
fn parse_at_months(cell: &str) -> (Vec<u32>, Option<u32>) {
    let mut months = Vec::new();
    let mut repeat = None;
    for token in cell.split_whitespace() {
        let recurring = |prefix: &str, every: u32| {
            token.strip_prefix(prefix).map(|start| (start.parse::<u32>().expect("embedded data"), every))
        };
        if let Some((start, every)) = recurring("yearly:", 12).or_else(|| recurring("every120:", 120)) {
            months.extend((start..=LIFELONG_MONTHS).step_by(every as usize));
            repeat = Some(every);
        } else {
            months.push(token.parse::<u32>().expect("embedded data"));
        }
    }
    months.sort_unstable();
    months.dedup();
    assert!(!months.is_empty(), "embedded data: vaccine without doses");
    (months, repeat)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates weekly calls from birth (1 January of `birth_year`) to `until_months` and
    /// returns, per vaccine, the ages (months, rounded down) at which doses were given.
    fn simulate(schedule: &Schedule, birth_year: i32, from_months: f64, until_months: f64) -> Vec<Vec<u32>> {
        let mut given = vec![0u32; schedule.vaccines.len()];
        let mut ages: Vec<Vec<u32>> = vec![Vec::new(); schedule.vaccines.len()];
        let week = 12.0 * 7.0 / 365.25;
        let mut age = from_months;
        while age <= until_months {
            let year = birth_year + (age / 12.0).floor() as i32;
            let due: Vec<Due> = schedule.due(age, year, &given).collect();
            let mut seen = Vec::new();
            for d in due {
                assert!(!seen.contains(&d.vaccine), "two doses of one vaccine in a call");
                seen.push(d.vaccine);
                assert!(age - f64::from(d.scheduled_month) < 48.0, "dose given 48+ months late");
                assert!(f64::from(d.scheduled_month) <= age, "dose given early");
                assert!(year >= schedule.vaccines[d.vaccine].first_available);
                given[d.vaccine] = (d.dose + 1) as u32;
                ages[d.vaccine].push(age.floor() as u32);
            }
            age += week;
        }
        ages
    }

    fn ages_of<'a>(schedule: &Schedule, ages: &'a [Vec<u32>], key: &str) -> &'a [u32] {
        &ages[schedule.index_of(key).expect("key")]
    }

    #[test]
    fn parses_the_schedule() {
        let s = Schedule::load();
        assert_eq!(s.vaccines.len(), 18);
        let hepb = &s.vaccines[s.index_of("hepb").expect("hepb")];
        assert_eq!((hepb.cvx.as_str(), hepb.display.as_str()), ("08", "Hep B, adolescent or pediatric"));
        assert_eq!(hepb.doses_at_months, vec![0, 1, 6]);
        let flu = &s.vaccines[s.index_of("flu").expect("flu")];
        assert_eq!(&flu.doses_at_months[..3], &[6, 18, 30]);
        assert_eq!(flu.repeat_every_months, Some(12));
        let td = &s.vaccines[s.index_of("td").expect("td")];
        assert_eq!(&td.doses_at_months[..3], &[228, 348, 468]);
        assert_eq!(s.vaccines[s.index_of("rv_mono").expect("rv")].max_age_months, Some(8));
    }

    #[test]
    fn child_born_2015_follows_the_schedule() {
        let s = Schedule::load();
        let ages = simulate(&s, 2015, 0.0, 240.0);
        assert_eq!(ages_of(&s, &ages, "hepb"), &[0, 1, 6]);
        assert_eq!(ages_of(&s, &ages, "rv_mono"), &[2, 4]);
        assert_eq!(ages_of(&s, &ages, "dtap"), &[2, 4, 6, 15, 48]);
        assert_eq!(ages_of(&s, &ages, "hib"), &[2, 4, 12]);
        assert_eq!(ages_of(&s, &ages, "pcv13"), &[2, 4, 6, 12]);
        assert_eq!(ages_of(&s, &ages, "ipv"), &[2, 4, 6, 48]);
        assert_eq!(ages_of(&s, &ages, "mmr"), &[12, 48]);
        assert_eq!(ages_of(&s, &ages, "var"), &[12, 48]);
        assert_eq!(ages_of(&s, &ages, "hepa"), &[12, 18]);
        assert_eq!(ages_of(&s, &ages, "tdap"), &[132]);
        assert_eq!(ages_of(&s, &ages, "hpv"), &[132, 138]);
        assert_eq!(ages_of(&s, &ages, "men"), &[132, 192]);
        assert_eq!(ages_of(&s, &ages, "td"), &[228]);
        // Universal adult HepB from 2022: this person turns 19 in 2034.
        assert_eq!(ages_of(&s, &ages, "hepb_adult"), &[228, 229, 234]);
        let flu = ages_of(&s, &ages, "flu");
        assert_eq!(flu.len(), 20);
        assert!(flu.iter().enumerate().all(|(i, &m)| m == 6 + 12 * i as u32));
    }

    #[test]
    fn late_starters_get_catch_up_but_no_rotavirus() {
        let s = Schedule::load();
        // First seen at 10 months: rotavirus is over (max 8 months), the rest is caught up one
        // dose per call.
        let ages = simulate(&s, 2015, 10.0, 60.0);
        assert!(ages_of(&s, &ages, "rv_mono").is_empty());
        assert_eq!(ages_of(&s, &ages, "hepb"), &[10, 10, 10]);
        assert_eq!(ages_of(&s, &ages, "dtap").len(), 5);
        // Born in 2005, before routine rotavirus (2006): no catch-up past 8 months.
        let ages = simulate(&s, 2005, 0.0, 24.0);
        assert!(ages_of(&s, &ages, "rv_mono").is_empty());
    }

    #[test]
    fn adult_born_1940_gets_no_stale_doses() {
        let s = Schedule::load();
        let ages = simulate(&s, 1940, 0.0, 1020.0);
        // simulate() asserts that nothing is given 48 or more months late or before its year.
        // Polio (1955) missed entirely: the last dose was scheduled at 48 months in 1944.
        assert!(ages_of(&s, &ages, "ipv").is_empty());
        assert!(ages_of(&s, &ages, "hepb").is_empty() && ages_of(&s, &ages, "dtap").is_empty());
        // MMR (1971) and varicella (1995): too late for this cohort.
        assert!(ages_of(&s, &ages, "mmr").is_empty() && ages_of(&s, &ages, "var").is_empty());
        // Td every 10 years from 19 (1959).
        assert_eq!(ages_of(&s, &ages, "td"), &[228, 348, 468, 588, 708, 828, 948]);
        // Flu from 2010 (age 70): the season that came due at 834 months, then one dose a year
        // on schedule; no catch-up of earlier seasons.
        let flu = ages_of(&s, &ages, "flu");
        assert_eq!(&flu[..3], &[840, 846, 858]);
        assert!(flu[1..].windows(2).all(|w| w[1] - w[0] == 12));
        // Shingrix (2017) at 77: the doses at 50 were dropped long ago.
        assert!(ages_of(&s, &ages, "zoster").is_empty());
        // Turned 65 in 2005: PPSV23, never PCV20.
        assert_eq!(ages_of(&s, &ages, "ppsv23"), &[780]);
        assert!(ages_of(&s, &ages, "pcv20").is_empty());
    }

    #[test]
    fn pneumococcal_alternatives() {
        let s = Schedule::load();
        // Turns 65 in 2020: PPSV23 then, and no PCV20 when it arrives in 2021.
        let ages = simulate(&s, 1955, 700.0, 840.0);
        assert_eq!(ages_of(&s, &ages, "ppsv23"), &[780]);
        assert!(ages_of(&s, &ages, "pcv20").is_empty());
        // Turns 65 in 2022: PCV20 only.
        let ages = simulate(&s, 1957, 700.0, 840.0);
        assert_eq!(ages_of(&s, &ages, "pcv20"), &[780]);
        assert!(ages_of(&s, &ages, "ppsv23").is_empty());
        // Turned 65 in 2019 but first seen in 2021: PCV20 (PPSV23 is no longer given).
        let ages = simulate(&s, 1954, 804.0, 840.0);
        assert_eq!(ages_of(&s, &ages, "pcv20"), &[804]);
        assert!(ages_of(&s, &ages, "ppsv23").is_empty());
        // Shingrix at 50 for those born 1967 (50 in 2017), 2 months apart.
        let ages = simulate(&s, 1967, 590.0, 620.0);
        assert_eq!(ages_of(&s, &ages, "zoster"), &[600, 602]);
    }

    #[test]
    fn due_without_history_entries_counts_as_none_given() {
        let s = Schedule::load();
        let due: Vec<Due> = s.due(0.0, 2020, &[]).collect();
        assert_eq!(due.len(), 1);
        assert_eq!(s.vaccines[due[0].vaccine].key, "hepb");
        assert_eq!((due[0].dose, due[0].scheduled_month), (0, 0));
    }
}
