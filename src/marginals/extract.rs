//! Reading a tabular extract of real data (CSV, one row per person) into exact counts per
//! stratum: persons, and cases of each condition.
//!
//! Privacy rule of this file: nothing read from a row leaves it except through the counts.
//! Errors name the line and the column, and say what was expected, never what was found: an
//! error message can end up in a log or a ticket, and the cell belongs to a person.

use crate::sim::time::Date;
use std::fmt;
use std::path::Path;

/// The races of `patients.csv` and targets files.
pub const RACES: [&str; 6] = ["white", "black", "asian", "native", "hawaiian", "other"];

/// What a stratum is made of: the dimensions `ehrsim stats` breaks measures down by.
pub use crate::stats::Dim;

/// A problem with the extract: where, and what was expected (never the value found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractError {
    pub line: Option<u64>,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, &self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column `{c}`: {}", self.message),
            (Some(l), None) => write!(f, "line {l}: {}", self.message),
            (None, Some(c)) => write!(f, "column `{c}`: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

fn header_error(message: impl Into<String>) -> ExtractError {
    ExtractError { line: Some(1), column: None, message: message.into() }
}

/// The strata: every combination of the values of the chosen dimensions, whether or not
/// anyone in the extract has it (releasing only the strata that occur would reveal that they
/// occur).
#[derive(Debug, Clone)]
pub struct Domain {
    pub dims: Vec<Dim>,
    /// Lower bounds of the age bands; people younger than the first are not counted.
    pub bands: Vec<u32>,
}

impl Domain {
    fn values(&self, dim: Dim) -> Vec<String> {
        match dim {
            Dim::Age => (0..self.bands.len()).map(|i| self.band_label(i)).collect(),
            Dim::Sex => vec!["M".into(), "F".into()],
            Dim::Race => RACES.iter().map(|r| (*r).to_owned()).collect(),
            Dim::Ethnicity => vec!["hispanic".into(), "nonhispanic".into()],
        }
    }

    pub fn band_label(&self, band: usize) -> String {
        let lo = self.bands[band];
        match self.bands.get(band + 1) {
            Some(hi) => format!("{lo}-{}", hi - 1),
            None => format!("{lo}+"),
        }
    }

    /// Every stratum, as (dimension, value) pairs in the order of `dims`.
    pub fn strata(&self) -> Vec<Vec<(Dim, String)>> {
        let mut out: Vec<Vec<(Dim, String)>> = vec![Vec::new()];
        for &d in &self.dims {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    self.values(d).into_iter().map(move |v| {
                        let mut s = prefix.clone();
                        s.push((d, v));
                        s
                    })
                })
                .collect();
        }
        out
    }

    fn index(&self, p: &Person) -> usize {
        let mut i = 0;
        for &d in &self.dims {
            let (value, size) = match d {
                Dim::Age => (p.band, self.bands.len()),
                Dim::Sex => (usize::from(!p.male), 2),
                Dim::Race => (p.race, RACES.len()),
                Dim::Ethnicity => (usize::from(!p.hispanic), 2),
            };
            i = i * size + value;
        }
        i
    }
}

/// The fields of one row that a release uses.
#[derive(Debug, Default)]
struct Person {
    band: usize,
    male: bool,
    race: usize,
    hispanic: bool,
}

#[derive(Debug, Clone, Copy)]
enum AgeColumn {
    Years(usize),
    Birthdate(usize),
}

/// Where the columns are.
#[derive(Debug, Clone)]
pub struct Layout {
    age: AgeColumn,
    sex: Option<usize>,
    race: Option<usize>,
    ethnicity: Option<usize>,
    /// Every column that is not a demographic one, in file order (the default conditions).
    pub others: Vec<String>,
    headers: Vec<String>,
}

const AGE: [&str; 2] = ["age", "age_years"];
const BIRTHDATE: [&str; 4] = ["birthdate", "birth_date", "dob", "date_of_birth"];
const SEX: [&str; 2] = ["sex", "gender"];
const RACE: [&str; 1] = ["race"];
const ETHNICITY: [&str; 2] = ["ethnicity", "hispanic"];

impl Layout {
    fn find(&self, names: &[&str]) -> Option<usize> {
        self.headers.iter().position(|h| names.contains(&h.as_str()))
    }

    /// The index of a condition column, by name (case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        let name = name.trim().to_ascii_lowercase();
        self.headers.iter().position(|h| *h == name)
    }

    /// Whether the extract has the column a dimension needs.
    pub fn has(&self, dim: Dim) -> bool {
        match dim {
            Dim::Age => true,
            Dim::Sex => self.sex.is_some(),
            Dim::Race => self.race.is_some(),
            Dim::Ethnicity => self.ethnicity.is_some(),
        }
    }

    pub fn uses_birthdate(&self) -> bool {
        matches!(self.age, AgeColumn::Birthdate(_))
    }

    /// The closest column name to a misspelt one.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .map(|h| (strsim::damerau_levenshtein(&name, h), h))
            .filter(|(d, h)| *d > 0 && *d <= 1 + h.len() / 6)
            .min_by_key(|(d, _)| *d)
            .map(|(_, h)| h.as_str())
    }
}

/// An open extract whose header has been read.
#[derive(Debug)]
pub struct Extract {
    reader: csv::Reader<std::fs::File>,
    pub layout: Layout,
}

/// Opens an extract and reads its header.
pub fn open(path: &Path) -> Result<Extract, ExtractError> {
    let file = std::fs::File::open(path).map_err(|e| ExtractError {
        line: None,
        column: None,
        message: format!("cannot read it: {e}"),
    })?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(file);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| header_error(format!("cannot read the header: {}", csv_problem(&e))))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            return Err(header_error(format!("column {} has no name", i + 1)));
        }
        if headers[..i].contains(h) {
            return Err(header_error(format!("two columns are named `{h}`")));
        }
    }
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let age = match (find(&AGE), find(&BIRTHDATE)) {
        (Some(i), _) => AgeColumn::Years(i),
        (None, Some(i)) => AgeColumn::Birthdate(i),
        (None, None) => {
            return Err(header_error(
                "the extract needs an `age` column (whole years) or a `birthdate` column (YYYY-MM-DD)",
            ));
        }
    };
    let demographic: Vec<&str> = [&AGE[..], &BIRTHDATE, &SEX, &RACE, &ETHNICITY].concat();
    let others = headers.iter().filter(|h| !demographic.contains(&h.as_str())).cloned().collect();
    let mut layout = Layout { age, sex: None, race: None, ethnicity: None, others, headers };
    layout.sex = layout.find(&SEX);
    layout.race = layout.find(&RACE);
    layout.ethnicity = layout.find(&ETHNICITY);
    Ok(Extract { reader, layout })
}

/// A csv error without any of the data in it.
fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".into(),
        csv::ErrorKind::Io(e) => format!("read error: {e}"),
        _ => "the row cannot be read as CSV".into(),
    }
}

/// Exact counts per stratum (indexed as [`Domain::strata`]). They never leave this module's
/// caller except with noise added.
#[derive(Debug)]
pub struct Counts {
    pub persons: Vec<u64>,
    /// `cases[c][s]`: persons of stratum `s` with condition `c`.
    pub cases: Vec<Vec<u64>>,
}

fn cell<'r>(record: &'r csv::StringRecord, index: usize, line: u64, column: &str) -> Result<&'r str, ExtractError> {
    let v = record.get(index).unwrap_or("");
    if v.is_empty() {
        return Err(ExtractError { line: Some(line), column: Some(column.to_owned()), message: "empty cell".into() });
    }
    Ok(v)
}

fn bad(line: u64, column: &str, expected: &str) -> ExtractError {
    ExtractError { line: Some(line), column: Some(column.to_owned()), message: format!("expected {expected}") }
}

fn flag(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" => Some(true),
        "0" | "false" | "f" | "no" | "n" => Some(false),
        _ => None,
    }
}

fn race(v: &str) -> Option<usize> {
    let v = v.to_ascii_lowercase();
    let name = match v.as_str() {
        "black or african american" | "african american" => "black",
        "american indian or alaska native" | "american indian and alaska native" | "aian" => "native",
        "native hawaiian or other pacific islander" | "pacific islander" | "nhpi" => "hawaiian",
        "some other race" | "two or more races" | "multiracial" => "other",
        other => other,
    };
    RACES.iter().position(|r| *r == name)
}

fn ethnicity(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "hispanic" | "latino" | "hispanic or latino" => Some(true),
        "nonhispanic" | "non-hispanic" | "not hispanic" | "not hispanic or latino" => Some(false),
        other => flag(other),
    }
}

impl Extract {
    /// Reads every row into exact counts. `conditions` are column indices; `date` is the day
    /// ages are counted at when the extract has birthdates.
    pub fn tally(mut self, domain: &Domain, conditions: &[usize], date: Option<Date>) -> Result<Counts, ExtractError> {
        let size = domain.strata().len();
        let mut counts = Counts { persons: vec![0; size], cases: vec![vec![0; size]; conditions.len()] };
        let layout = self.layout.clone();
        let name = |i: usize| layout.headers[i].clone();
        let needs = |d: Dim| domain.dims.contains(&d);
        let mut record = csv::StringRecord::new();
        loop {
            let more = self.reader.read_record(&mut record).map_err(|e| ExtractError {
                line: e.position().map(|p| p.line()),
                column: None,
                message: csv_problem(&e),
            })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            let age: i64 = match layout.age {
                AgeColumn::Years(i) => {
                    let v = cell(&record, i, line, &name(i))?;
                    v.parse::<u32>()
                        .ok()
                        .filter(|a| *a <= 150)
                        .map(i64::from)
                        .ok_or_else(|| bad(line, &name(i), "an age in whole years, 0 to 150"))?
                }
                AgeColumn::Birthdate(i) => {
                    let v = cell(&record, i, line, &name(i))?;
                    let birth = Date::parse(v).ok_or_else(|| bad(line, &name(i), "a date written YYYY-MM-DD"))?;
                    let Some(at) = date else {
                        return Err(ExtractError {
                            line: None,
                            column: Some(name(i)),
                            message: "ages from birthdates need the date to count them at: give --date".into(),
                        });
                    };
                    i64::from(crate::sim::time::age_years(birth, at))
                }
            };
            // Who is below the first band is not counted at all.
            if age < i64::from(domain.bands[0]) {
                continue;
            }
            let mut p = Person {
                band: domain.bands.iter().rposition(|&lo| age >= i64::from(lo)).unwrap_or(0),
                ..Person::default()
            };
            if needs(Dim::Sex)
                && let Some(i) = layout.sex
            {
                let v = cell(&record, i, line, &name(i))?;
                p.male = match v.to_ascii_lowercase().as_str() {
                    "m" | "male" => true,
                    "f" | "female" => false,
                    _ => return Err(bad(line, &name(i), "M, F, male or female")),
                };
            }
            if needs(Dim::Race)
                && let Some(i) = layout.race
            {
                let v = cell(&record, i, line, &name(i))?;
                p.race =
                    race(v).ok_or_else(|| bad(line, &name(i), "white, black, asian, native, hawaiian or other"))?;
            }
            if needs(Dim::Ethnicity)
                && let Some(i) = layout.ethnicity
            {
                let v = cell(&record, i, line, &name(i))?;
                p.hispanic = ethnicity(v).ok_or_else(|| bad(line, &name(i), "hispanic or nonhispanic (or 1/0)"))?;
            }
            let s = domain.index(&p);
            counts.persons[s] += 1;
            for (c, &i) in conditions.iter().enumerate() {
                let v = cell(&record, i, line, &name(i))?;
                let has = flag(v).ok_or_else(|| {
                    bad(
                        line,
                        &name(i),
                        "a condition flag, 1 or 0 (or true/false, yes/no); --conditions chooses the condition columns",
                    )
                })?;
                counts.cases[c][s] += u64::from(has);
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("ehrsim-extract-{name}-{}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn counts_by_stratum() {
        let path = write(
            "ok",
            "Age,Sex,Race,Ethnicity,diabetes,MRN\n30,M,white,nonhispanic,1,X1\n70,F,Black or African American,hispanic,0,X2\n\
             12,F,asian,nonhispanic,1,X3\n50,male,white,0,yes,X4\n",
        );
        let extract = open(&path).unwrap();
        assert_eq!(extract.layout.others, vec!["diabetes", "mrn"]);
        let diabetes = extract.layout.column("Diabetes").unwrap();
        let domain = Domain { dims: vec![Dim::Age, Dim::Sex], bands: vec![18, 45, 65] };
        assert_eq!(domain.strata().len(), 6);
        let counts = extract.tally(&domain, &[diabetes], None).unwrap();
        // 18-44 M, 18-44 F, 45-64 M, 45-64 F, 65+ M, 65+ F; the 12-year-old is not counted.
        assert_eq!(counts.persons, vec![1, 0, 1, 0, 0, 1]);
        assert_eq!(counts.cases[0], vec![1, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn errors_name_line_and_column_never_the_value() {
        let path = write("bad", "age,sex,flag\n40,M,1\n41,SECRET-VALUE,0\n");
        let domain = Domain { dims: vec![Dim::Sex], bands: vec![0] };
        let extract = open(&path).unwrap();
        let e = extract.tally(&domain, &[2], None).unwrap_err();
        assert_eq!(e.to_string(), "line 3, column `sex`: expected M, F, male or female");

        let path = write("flag", "age,flag\n40,SECRET-7\n");
        let e = open(&path).unwrap().tally(&Domain { dims: vec![], bands: vec![0] }, &[1], None).unwrap_err();
        assert!(e.to_string().starts_with("line 2, column `flag`: expected a condition flag"), "{e}");
        assert!(!e.to_string().contains("SECRET"));

        let path = write("ragged", "age,flag\n40,1\n41,0,SECRET\n");
        let e = open(&path).unwrap().tally(&Domain { dims: vec![], bands: vec![0] }, &[1], None).unwrap_err();
        assert_eq!(e.to_string(), "line 3: the row has 3 fields, the header has 2");

        let path = write("noage", "sex,flag\nM,1\n");
        assert!(open(&path).unwrap_err().to_string().contains("needs an `age` column"));
    }

    #[test]
    fn birthdates_need_a_date() {
        let path = write("birth", "birthdate,sex,x\n1980-06-30,F,1\n2010-01-01,M,0\n");
        let domain = Domain { dims: vec![Dim::Age], bands: vec![0, 18] };
        let e = open(&path).unwrap().tally(&domain, &[2], None).unwrap_err();
        assert!(e.to_string().contains("--date"));
        let counts = open(&path).unwrap().tally(&domain, &[2], Date::parse("2024-06-30")).unwrap();
        assert_eq!(counts.persons, vec![1, 1]);
        assert_eq!(counts.cases[0], vec![0, 1]);
    }
}
