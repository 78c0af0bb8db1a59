//! Smoking and drinking: the share of people who start, and the chance a smoker quits.
//!
//! Reads `data/clinical/smoking.csv` (adult current-smoking prevalence by year and sex, CDC
//! NHIS), `quit_smoking.csv` (annual successful-quit probability) and `alcohol.csv`
//! (alcohol use disorder by sex and age, NSDUH 2019). The lifecycle decides smoking at 16 from
//! the prevalence of that year and alcohol use at 25; sources are cited in each file.

use crate::ast::Sex;

#[derive(Debug, Clone)]
pub struct Habits {
    /// `(year, male, female)`, sorted by year.
    smoking: Vec<(i32, f64, f64)>,
    quit: f64,
    /// `(sex, age_low, age_high, alcohol use disorder share)`.
    alcohol: Vec<(Sex, f64, f64, f64)>,
}

fn rows(text: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("embedded data"))
        .collect()
}

fn num(r: &csv::StringRecord, i: usize) -> f64 {
    r.get(i).and_then(|v| v.parse().ok()).expect("embedded data")
}

impl Habits {
    pub fn load() -> Habits {
        let smoking = rows(include_str!("../../data/clinical/smoking.csv"))
            .iter()
            .map(|r| (num(r, 0) as i32, num(r, 1), num(r, 2)))
            .collect();
        let quit = rows(include_str!("../../data/clinical/quit_smoking.csv"))
            .iter()
            .find(|r| r.get(0) == Some("annual_quit_probability"))
            .map_or(0.075, |r| num(r, 1));
        let alcohol = rows(include_str!("../../data/clinical/alcohol.csv"))
            .iter()
            .map(|r| {
                let sex = if r.get(0) == Some("F") { Sex::Female } else { Sex::Male };
                (sex, num(r, 1), num(r, 2), num(r, 4))
            })
            .collect();
        Habits { smoking, quit, alcohol }
    }

    /// Current-smoking prevalence among adults of this sex in `year` (the first or last year
    /// of the table outside its range; before 1965 the 1965 value).
    pub fn smoking_prevalence(&self, sex: Sex, year: i32) -> f64 {
        let row = self.smoking.iter().rev().find(|(y, _, _)| *y <= year).or(self.smoking.first());
        row.map_or(0.15, |&(_, m, f)| if sex == Sex::Male { m } else { f })
    }

    pub fn quit_smoking_probability(&self) -> f64 {
        self.quit
    }

    /// Share with an alcohol use disorder at this age.
    pub fn alcohol_use_disorder(&self, sex: Sex, age: f64) -> f64 {
        self.alcohol
            .iter()
            .find(|(s, lo, hi, _)| *s == sex && age >= *lo && age < hi + 1.0)
            .or_else(|| self.alcohol.iter().rev().find(|(s, ..)| *s == sex))
            .map_or(0.05, |r| r.3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoking_fell_since_1965_and_men_smoked_more() {
        let h = Habits::load();
        assert!(h.smoking_prevalence(Sex::Male, 1965) > 0.4);
        assert!(h.smoking_prevalence(Sex::Male, 2020) < 0.2);
        assert!(h.smoking_prevalence(Sex::Male, 1970) > h.smoking_prevalence(Sex::Female, 1970));
        assert_eq!(h.smoking_prevalence(Sex::Female, 1900), h.smoking_prevalence(Sex::Female, 1965));
        assert!((0.0..0.2).contains(&h.quit_smoking_probability()));
        assert!(h.alcohol_use_disorder(Sex::Male, 30.0) > h.alcohol_use_disorder(Sex::Male, 70.0));
    }
}
