//! US reference shares the report compares a population with: sex, race and Hispanic origin
//! from the 2020 Census, and age from the same 5-year table the simulator samples ages from.
//!
//! The race categories are ehrsim's (those of `patients.csv`): Census "race alone" groups, with
//! "Some Other Race alone" and "Two or More Races" folded into `other`, as in
//! `data/demographics/states.csv`.

/// 2020 Census resident population of the United States.
const US_TOTAL: f64 = 331_449_281.0;

/// Race alone counts, 2020 Census P.L. 94-171 Redistricting Data, table P1 (United States):
/// White 204,277,273; Black or African American 41,104,200; Asian 19,886,049; American Indian
/// and Alaska Native 3,727,135; Native Hawaiian and Other Pacific Islander 689,966; Some Other
/// Race 27,915,715 and Two or More Races 33,848,943 (together `other`). They sum to the total.
const RACE_COUNTS: [(&str, f64); 6] = [
    ("white", 204_277_273.0),
    ("black", 41_104_200.0),
    ("asian", 19_886_049.0),
    ("native", 3_727_135.0),
    ("hawaiian", 689_966.0),
    ("other", 27_915_715.0 + 33_848_943.0),
];

/// Hispanic or Latino (of any race): 62,080,044, 2020 Census P.L. 94-171, table P2.
const HISPANIC_COUNT: f64 = 62_080_044.0;

/// Male 164,200,298 and female 167,248,983: 2020 Census Demographic and Housing
/// Characteristics File (DHC), table P12 "Sex by Age".
const MALE_COUNT: f64 = 164_200_298.0;

/// The citation shown under the subgroup charts.
pub const CITATION: &str = "US reference: U.S. Census Bureau, 2020 Census — race alone and Hispanic or Latino origin \
     from the P.L. 94-171 Redistricting Data (tables P1, P2), sex from the DHC (table P12); \
     “other” is Some Other Race alone plus Two or More Races. Age: Census Bureau Vintage 2020 \
     population estimates by 5-year group (data/demographics/age_sex.csv, approximate), split \
     evenly within a group.";

/// The US share (0–100) of a race of ehrsim's six.
pub fn race(name: &str) -> Option<f64> {
    RACE_COUNTS.iter().find(|(r, _)| *r == name).map(|(_, n)| 100.0 * n / US_TOTAL)
}

/// The US share (0–100) of `hispanic` or `nonhispanic`.
pub fn ethnicity(name: &str) -> Option<f64> {
    let hispanic = 100.0 * HISPANIC_COUNT / US_TOTAL;
    match name {
        "hispanic" => Some(hispanic),
        "nonhispanic" => Some(100.0 - hispanic),
        _ => None,
    }
}

/// The US share (0–100) of `M` or `F`.
pub fn sex(name: &str) -> Option<f64> {
    let male = 100.0 * MALE_COUNT / US_TOTAL;
    match name {
        "M" => Some(male),
        "F" => Some(100.0 - male),
        _ => None,
    }
}

/// The 5-year groups of `data/demographics/age_sex.csv`: (first age, last age, male, female).
fn age_table() -> Vec<(u32, u32, f64, f64)> {
    let text = include_str!("../../data/demographics/age_sex.csv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("age_low"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            match f.as_slice() {
                [lo, hi, m, w] => Some((lo.parse().ok()?, hi.parse().ok()?, m.parse().ok()?, w.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

/// The first and last age of a band label (`18-44`, `85+`, `7`).
pub fn band_range(label: &str) -> Option<(u32, u32)> {
    if let Some(lo) = label.strip_suffix('+') {
        return Some((lo.trim().parse().ok()?, 200));
    }
    match label.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => label.trim().parse().ok().map(|a| (a, a)),
    }
}

/// The US share (0–100) of an age band, for one sex (`M`, `F`) or both (`None`). Ages within
/// a 5-year group are taken as evenly spread; the top group (85+) ends at 110.
pub fn age(label: &str, sex: Option<&str>) -> Option<f64> {
    let (lo, hi) = band_range(label)?;
    let table = age_table();
    let total: f64 = table.iter().map(|(_, _, m, f)| m + f).sum();
    let mut share = 0.0;
    for (a, b, m, f) in &table {
        let overlap = hi.min(*b) as f64 - lo.max(*a) as f64 + 1.0;
        if overlap <= 0.0 {
            continue;
        }
        let count = match sex {
            Some("M") => *m,
            Some("F") => *f,
            _ => m + f,
        };
        share += count * overlap / (b - a + 1) as f64;
    }
    (total > 0.0).then(|| 100.0 * share / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_shares_are_the_published_percentages() {
        let pct = |r| (race(r).unwrap() * 10.0).round() / 10.0;
        assert_eq!(pct("white"), 61.6);
        assert_eq!(pct("black"), 12.4);
        assert_eq!(pct("asian"), 6.0);
        assert_eq!(pct("native"), 1.1);
        assert_eq!(pct("hawaiian"), 0.2);
        assert_eq!(pct("other"), 18.6);
        let sum: f64 = ["white", "black", "asian", "native", "hawaiian", "other"].iter().filter_map(|r| race(r)).sum();
        assert!((sum - 100.0).abs() < 1e-9);
        assert_eq!((ethnicity("hispanic").unwrap() * 10.0).round() / 10.0, 18.7);
        assert_eq!((sex("F").unwrap() * 10.0).round() / 10.0, 50.5);
    }

    #[test]
    fn age_bands_cover_the_population() {
        let bands = ["0-17", "18-44", "45-64", "65-74", "75-84", "85+"];
        let sum: f64 = bands.iter().filter_map(|b| age(b, None)).sum();
        assert!((sum - 100.0).abs() < 1e-9, "{sum}");
        // Census 2020: 22.1 % under 18, 16.8 % 65 and over (the table is approximate).
        assert!((age("0-17", None).unwrap() - 22.1).abs() < 1.0);
        let old: f64 = ["65-74", "75-84", "85+"].iter().filter_map(|b| age(b, None)).sum();
        assert!((old - 16.8).abs() < 1.0, "{old}");
        assert!(age("0-17", Some("M")).unwrap() < age("0-17", None).unwrap());
        assert_eq!(band_range("85+"), Some((85, 200)));
        assert_eq!(band_range("x"), None);
    }
}
