//! Reading a run's CSV output back into [`Facts`].
//!
//! Only what the measures need is kept: every condition, and the medications, procedures,
//! immunizations and observations whose codes a measure names, so a large run's files are
//! read with modest memory. Files may be gzip-compressed (`.csv.gz`).

use super::{CodeBook, Day, Event, Facts, Interval, Reading, Wanted, day_of_date};
use crate::ast::Sex;
use crate::sim::time::Date;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A run's records, as statistics see them.
#[derive(Debug, Default)]
pub struct Records {
    pub facts: Vec<Facts>,
    pub book: CodeBook,
    /// The run's reference date, from `run.json`, when there is one.
    pub reference_date: Option<Date>,
}

/// An error with the file (and row) it concerns.
#[derive(Debug)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The directory holding `patients.csv`: `dir/csv` for a run's output directory, or `dir`.
pub fn csv_dir(dir: &Path) -> Option<PathBuf> {
    [dir.join("csv"), dir.to_path_buf()]
        .into_iter()
        .find(|d| d.join("patients.csv").is_file() || d.join("patients.csv.gz").is_file())
}

/// An open (possibly decompressed) file and its path.
type Opened = (PathBuf, Box<dyn Read>);

fn open(dir: &Path, name: &str) -> Result<Option<Opened>, ReadError> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    let (path, gzip) = if plain.is_file() {
        (plain, false)
    } else if gz.is_file() {
        (gz, true)
    } else {
        return Ok(None);
    };
    let file = std::fs::File::open(&path).map_err(|e| ReadError(format!("cannot read `{}`: {e}", path.display())))?;
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::with_capacity(1 << 16, file))
    };
    Ok(Some((path, reader)))
}

/// Columns of a CSV file by name; a missing one is an error naming the file.
struct Columns {
    index: HashMap<String, usize>,
    path: PathBuf,
}

impl Columns {
    fn new(path: &Path, headers: &csv::StringRecord) -> Columns {
        let index = headers.iter().enumerate().map(|(i, h)| (h.trim().to_ascii_uppercase(), i)).collect();
        Columns { index, path: path.to_path_buf() }
    }

    fn get(&self, name: &str) -> Result<usize, ReadError> {
        self.index.get(name).copied().ok_or_else(|| {
            ReadError(format!("`{}` has no {name} column: is it an ehrsim or Synthea CSV file?", self.path.display()))
        })
    }
}

fn parse_day(text: &str) -> Option<Day> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    Date::parse(t.get(..10).unwrap_or(t)).map(day_of_date)
}

fn rows(
    dir: &Path,
    name: &str,
    mut each: impl FnMut(&Columns, &csv::StringRecord, u64) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let Some((path, reader)) = open(dir, name)? else { return Ok(()) };
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let headers = r.headers().map_err(|e| ReadError(format!("`{}`: {e}", path.display())))?.clone();
    let cols = Columns::new(&path, &headers);
    let mut record = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        match r.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line += 1;
                each(&cols, &record, line)?;
            }
            Err(e) => return Err(ReadError(format!("`{}`: {e}", path.display()))),
        }
    }
    Ok(())
}

/// Reads `dir` (a run's output directory or its `csv/` folder).
pub fn read(dir: &Path, wanted: &Wanted) -> Result<Records, ReadError> {
    let csv = csv_dir(dir).ok_or_else(|| {
        ReadError(format!(
            "`{}` holds no patients.csv (nor csv/patients.csv): give the output directory of an `ehrsim generate` run with CSV output",
            dir.display()
        ))
    })?;
    let mut out = Records::default();
    let manifest = [dir.join("run.json"), csv.join("..").join("run.json")].into_iter().find(|p| p.is_file());
    if let Some(m) = manifest {
        let text = std::fs::read_to_string(&m).map_err(|e| ReadError(format!("cannot read `{}`: {e}", m.display())))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ReadError(format!("`{}` is not valid JSON: {e}", m.display())))?;
        out.reference_date = json.get("reference_date").and_then(|v| v.as_str()).and_then(Date::parse);
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    rows(&csv, "patients.csv", |c, r, line| {
        let (id, birth, death) = (c.get("ID")?, c.get("BIRTHDATE")?, c.get("DEATHDATE")?);
        let (race, eth, gender) = (c.get("RACE")?, c.get("ETHNICITY")?, c.get("GENDER")?);
        let birth_text = &r[birth];
        let birth_date = Date::parse(birth_text.get(..10).unwrap_or(birth_text)).ok_or_else(|| {
            ReadError(format!("`{}` line {line}: BIRTHDATE `{birth_text}` is not a date", c.path.display()))
        })?;
        let f = Facts {
            birth: day_of_date(birth_date),
            birth_date: Some(birth_date),
            death: parse_day(&r[death]),
            sex: match &r[gender] {
                "M" => Some(Sex::Male),
                "F" => Some(Sex::Female),
                _ => None,
            },
            race: r[race].to_ascii_lowercase(),
            hispanic: r[eth].eq_ignore_ascii_case("hispanic"),
            ..Facts::default()
        };
        index.insert(r[id].to_owned(), out.facts.len());
        out.facts.push(f);
        Ok(())
    })?;
    let book = &mut out.book;
    let facts = &mut out.facts;
    let patient = |c: &Columns, r: &csv::StringRecord, line: u64| -> Result<usize, ReadError> {
        let p = &r[c.get("PATIENT")?];
        match index.get(p) {
            Some(&i) => Ok(i),
            None => Err(ReadError(format!(
                "`{}` line {line}: patient `{p}` is not in patients.csv (files from different runs?)",
                c.path.display()
            ))),
        }
    };
    let description = |c: &Columns, r: &csv::StringRecord| c.index.get("DESCRIPTION").map(|&i| r[i].to_owned());
    rows(&csv, "conditions.csv", |c, r, line| {
        let i = patient(c, r, line)?;
        let code = book.intern(&r[c.get("CODE")?], &description(c, r).unwrap_or_default());
        let Some(start) = parse_day(&r[c.get("START")?]) else { return Ok(()) };
        facts[i].conditions.push(Interval { code, start, stop: parse_day(&r[c.get("STOP")?]) });
        Ok(())
    })?;
    if !wanted.medications.is_empty() {
        rows(&csv, "medications.csv", |c, r, line| {
            let code_text = &r[c.get("CODE")?];
            if !wanted.medications.contains(code_text) {
                return Ok(());
            }
            let i = patient(c, r, line)?;
            let code = book.intern(code_text, &description(c, r).unwrap_or_default());
            let Some(start) = parse_day(&r[c.get("START")?]) else { return Ok(()) };
            facts[i].medications.push(Interval { code, start, stop: parse_day(&r[c.get("STOP")?]) });
            Ok(())
        })?;
    }
    for (file, set, immunization) in
        [("procedures.csv", &wanted.procedures, false), ("immunizations.csv", &wanted.immunizations, true)]
    {
        if set.is_empty() {
            continue;
        }
        rows(&csv, file, |c, r, line| {
            let code_text = &r[c.get("CODE")?];
            if !set.contains(code_text) {
                return Ok(());
            }
            let i = patient(c, r, line)?;
            let code = book.intern(code_text, &description(c, r).unwrap_or_default());
            let date = c.get(if immunization { "DATE" } else { "START" })?;
            let Some(day) = parse_day(&r[date]) else { return Ok(()) };
            let e = Event { code, day };
            if immunization {
                facts[i].immunizations.push(e)
            } else {
                facts[i].procedures.push(e)
            }
            Ok(())
        })?;
    }
    if !wanted.observations.is_empty() {
        rows(&csv, "observations.csv", |c, r, line| {
            let code_text = &r[c.get("CODE")?];
            if !wanted.observations.contains(code_text) {
                return Ok(());
            }
            let Ok(value) = r[c.get("VALUE")?].trim().parse::<f64>() else { return Ok(()) };
            let i = patient(c, r, line)?;
            let code = book.intern(code_text, &description(c, r).unwrap_or_default());
            let Some(day) = parse_day(&r[c.get("DATE")?]) else { return Ok(()) };
            facts[i].observations.push(Reading { code, day, value });
            Ok(())
        })?;
    }
    Ok(out)
}
