//! Lookup tables: CSV files that give transition probabilities by patient attributes.
//!
//! A table's last N columns are the N states of the `lookup_table_transition` that uses it;
//! the earlier columns are match keys: `age` (an inclusive range `lo-hi` of whole years),
//! `time` (a range of timestamps in milliseconds, or `YYYY-MM-DD-YYYY-MM-DD`), or any attribute
//! compared as text. This file reads the CSV into a [`RawTable`] that keeps cell positions;
//! which columns are keys is only known once a transition names its states, so interpretation
//! happens in `compile`.

use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::source::{FileId, Span};

/// A lookup-table CSV as read, with the span of every cell.
#[derive(Debug, Clone)]
pub struct RawTable {
    /// The name transitions use (`lookup_table_name`): the file name, e.g. `AML.csv`.
    pub name: String,
    pub file: FileId,
    pub header: Vec<Cell>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub span: Span,
}

/// Reads a lookup table; problems go to `diags` and yield `None`.
pub fn read_table(name: &str, file: FileId, text: &str, diags: &mut Diagnostics) -> Option<RawTable> {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&text.as_bytes()[bom..]);
    let mut header: Option<Vec<Cell>> = None;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let at = e.position().map_or(0, |p| p.byte() as usize) + bom;
                diags.push(
                    Diagnostic::new(Kind::BadLookupTable, Span::new(file, at..at + 1), format!("invalid CSV: {e}"))
                        .label("here"),
                );
                return None;
            }
        };
        let start = record.position().map_or(0, |p| p.byte() as usize) + bom;
        let cells: Vec<Cell> = record
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let r = record.range(i).unwrap_or(0..0);
                Cell { text: text.trim().to_owned(), span: Span::new(file, start + r.start..start + r.end) }
            })
            .collect();
        if cells.iter().all(|c| c.text.is_empty()) {
            continue;
        }
        match &header {
            None => header = Some(cells),
            Some(h) => {
                if cells.len() != h.len() {
                    let line_span = cells[0].span.to(cells[cells.len() - 1].span);
                    diags.push(
                        Diagnostic::new(
                            Kind::BadLookupTable,
                            line_span,
                            format!("row has {} columns, the header has {}", cells.len(), h.len()),
                        )
                        .label("wrong number of columns"),
                    );
                    continue;
                }
                rows.push(cells);
            }
        }
    }
    let Some(header) = header else {
        diags.push(
            Diagnostic::new(Kind::BadLookupTable, Span::new(file, 0..0), format!("lookup table `{name}` is empty"))
                .label("expected a header row"),
        );
        return None;
    };
    Some(RawTable { name: name.to_owned(), file, header, rows })
}

/// A match key of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCell {
    /// Inclusive range of whole years of age.
    Age { low: u32, high: u32 },
    /// Inclusive range of simulation times (ms since the epoch).
    Time { low: i64, high: i64 },
    /// Exact text compared with the attribute's text form.
    Text(String),
}

/// Parses the `lo-hi` range of an `age` column.
pub fn parse_age_range(text: &str) -> Option<(u32, u32)> {
    let (lo, hi) = text.split_once('-')?;
    let (lo, hi) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (lo <= hi).then_some((lo, hi))
}

/// Parses the range of a `time` column: `ms-ms` or `YYYY-MM-DD-YYYY-MM-DD`.
pub fn parse_time_range(text: &str) -> Option<(i64, i64)> {
    let parts: Vec<&str> = text.split('-').map(str::trim).collect();
    match parts.as_slice() {
        [a, b] => Some((a.parse().ok()?, b.parse().ok()?)),
        [y1, m1, d1, y2, m2, d2] => {
            let date = |y: &str, m: &str, d: &str| {
                chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc().timestamp_millis())
            };
            Some((date(y1, m1, d1)?, date(y2, m2, d2)?))
        }
        _ => None,
    }
}
