//! Turning a [`Tally`] into tables (text) and JSON.

use super::{Cell, CodeBook, Kind, Spec, Tally, standard_error, value};
use std::fmt::Write;

/// One measure's result in its whole population.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub label: String,
    pub cell: Cell,
    pub measured: Option<f64>,
    pub target: Option<f64>,
    pub tolerance: Option<f64>,
    pub pass: Option<bool>,
    pub source: String,
}

/// The measures that have targets, with pass/fail.
pub fn outcomes(spec: &Spec, tally: &Tally) -> Vec<Outcome> {
    spec.measures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let cell = tally.total(i);
            let measured = value(&m.kind, cell);
            let (target, tolerance, source) = match &m.target {
                Some(t) => (Some(t.value), Some(t.tolerance), t.source.clone()),
                None => (None, None, String::new()),
            };
            let pass = match (measured, &m.target) {
                (Some(v), Some(t)) => Some((v - t.value).abs() <= t.tolerance + 1e-9),
                (None, Some(_)) => Some(false),
                _ => None,
            };
            Outcome { id: m.id.clone(), label: m.label.clone(), cell, measured, target, tolerance, pass, source }
        })
        .collect()
}

fn pct(x: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { 100.0 * x as f64 / of as f64 }
}

fn unit(kind: &Kind) -> &'static str {
    match kind {
        Kind::Share(_) => " %",
        Kind::Mean { .. } => "",
    }
}

/// The text report.
pub fn text(spec: &Spec, tally: &Tally, book: &CodeBook, top: usize) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} patients, {} alive at {}", tally.patients, tally.alive, spec.date);

    // Population by age band and sex, and shares by race and ethnicity.
    let bands = spec.age_bands.len();
    let mut by_band = vec![[0u64; 2]; bands];
    let mut race: std::collections::BTreeMap<&str, u64> = Default::default();
    let mut hispanic = 0;
    for (k, n) in &tally.population {
        let s = usize::from(k.sex == "F");
        by_band[k.band as usize][s] += n;
        *race.entry(k.race.as_str()).or_default() += n;
        if k.hispanic {
            hispanic += n;
        }
    }
    let _ = writeln!(o, "\nPopulation alive at the date");
    let _ = writeln!(o, "  {:<8} {:>8} {:>8} {:>7}", "age", "male", "female", "share");
    for (b, [m, f]) in by_band.iter().enumerate() {
        let _ = writeln!(o, "  {:<8} {m:>8} {f:>8} {:>6.1}%", spec.band_label(b), pct(m + f, tally.alive));
    }
    let races: Vec<String> = race.iter().map(|(r, n)| format!("{r} {:.1}%", pct(*n, tally.alive))).collect();
    let _ = writeln!(o, "  race: {}", races.join(", "));
    let _ = writeln!(o, "  ethnicity: hispanic {:.1}%", pct(hispanic, tally.alive));

    // Measures: with targets as a pass/fail table, without as breakdowns.
    let results = outcomes(spec, tally);
    let with_targets: Vec<(usize, &Outcome)> = results.iter().enumerate().filter(|(_, r)| r.target.is_some()).collect();
    if !with_targets.is_empty() {
        let width = with_targets.iter().map(|(_, r)| r.id.len()).max().unwrap_or(10).max(10);
        let _ = writeln!(o, "\nTargets");
        let _ =
            writeln!(o, "  {:<width$} {:>9} {:>15} {:>8} {:>6}  result", "measure", "measured", "target", "n", "se");
        for (i, r) in &with_targets {
            let m = &spec.measures[*i];
            let measured = r.measured.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}{}", unit(&m.kind)));
            let target = format!("{:.1} ± {:.1}", r.target.unwrap_or(0.0), r.tolerance.unwrap_or(0.0));
            let se = match m.kind {
                Kind::Share(_) => format!("{:.2}", standard_error(r.cell)),
                Kind::Mean { .. } => "-".into(),
            };
            let verdict = if r.pass == Some(true) { "pass" } else { "FAIL" };
            let _ = writeln!(o, "  {:<width$} {measured:>9} {target:>15} {:>8} {se:>6}  {verdict}", r.id, r.cell.den);
        }
        let passed = with_targets.iter().filter(|(_, r)| r.pass == Some(true)).count();
        let _ = writeln!(o, "  {passed} of {} targets within tolerance", with_targets.len());
    }
    for (i, m) in spec.measures.iter().enumerate() {
        if m.target.is_some() {
            continue;
        }
        let _ = writeln!(o, "\n{} — {}", m.id, m.label);
        let total = tally.total(i);
        let v = value(&m.kind, total).map_or_else(|| "-".to_owned(), |v| format!("{v:.1}{}", unit(&m.kind)));
        let _ = writeln!(o, "  all: {v} (n = {})", total.den);
        if !m.by.is_empty() {
            let dims: Vec<&str> = m.by.iter().map(|d| d.name()).collect();
            let _ = writeln!(o, "  {:<28} {:>9} {:>8} {:>8}", dims.join(" × "), "value", "n", "cases");
            for (stratum, cell) in &tally.cells[i] {
                let v = value(&m.kind, *cell).map_or_else(|| "-".to_owned(), |v| format!("{v:.1}{}", unit(&m.kind)));
                let _ = writeln!(o, "  {:<28} {v:>9} {:>8} {:>8}", stratum.join(" "), cell.den, cell.num);
            }
        }
    }
    if top > 0 && !tally.conditions.is_empty() {
        let mut list: Vec<(&u32, &u64)> = tally.conditions.iter().collect();
        list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(o, "\nMost prevalent conditions at the date (share of the living)");
        for (code, n) in list.into_iter().take(top) {
            let (c, d) = book.entries.get(*code as usize).cloned().unwrap_or_default();
            let _ = writeln!(o, "  {:>5.1}%  {d} ({c})", pct(*n, tally.alive));
        }
    }
    o
}

/// The JSON report.
pub fn json(spec: &Spec, tally: &Tally, book: &CodeBook) -> serde_json::Value {
    use serde_json::json;
    let results = outcomes(spec, tally);
    let measures: Vec<serde_json::Value> = spec
        .measures
        .iter()
        .zip(&results)
        .enumerate()
        .map(|(i, (m, r))| {
            let strata: Vec<serde_json::Value> = tally.cells[i]
                .iter()
                .map(|(s, c)| {
                    let by: serde_json::Map<String, serde_json::Value> =
                        m.by.iter().zip(s).map(|(d, v)| (d.name().to_owned(), json!(v))).collect();
                    json!({ "by": by, "numerator": c.num, "denominator": c.den, "value": value(&m.kind, *c) })
                })
                .collect();
            json!({
                "id": m.id,
                "label": m.label,
                "kind": match m.kind { Kind::Share(_) => "share", Kind::Mean { .. } => "mean" },
                "numerator": r.cell.num,
                "denominator": r.cell.den,
                "value": r.measured,
                "standard_error": match m.kind { Kind::Share(_) => Some(standard_error(r.cell)), Kind::Mean { .. } => None },
                "target": m.target.as_ref().map(|t| json!({
                    "value": t.value, "tolerance": t.tolerance, "interval": t.interval, "weight": t.weight, "source": t.source,
                })),
                "pass": r.pass,
                "strata": strata,
            })
        })
        .collect();
    let population: Vec<serde_json::Value> = tally
        .population
        .iter()
        .map(|(k, n)| {
            json!({
                "age_band": spec.band_label(k.band as usize),
                "sex": k.sex,
                "race": k.race,
                "ethnicity": if k.hispanic { "hispanic" } else { "nonhispanic" },
                "count": n,
            })
        })
        .collect();
    let mut conditions: Vec<(&u32, &u64)> = tally.conditions.iter().collect();
    conditions.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let conditions: Vec<serde_json::Value> = conditions
        .into_iter()
        .map(|(code, n)| {
            let (c, d) = book.entries.get(*code as usize).cloned().unwrap_or_default();
            json!({ "code": c, "display": d, "count": n, "percent": pct(*n, tally.alive) })
        })
        .collect();
    json!({
        "date": spec.date.to_string(),
        "patients": tally.patients,
        "alive": tally.alive,
        "age_bands": spec.age_bands,
        "population": population,
        "measures": measures,
        "conditions": conditions,
    })
}
