//! `ehrsim report`: a self-contained HTML page (inline CSS and SVG, no script, nothing fetched)
//! from the JSON of `ehrsim stats --json`, optionally beside the JSON of an earlier run
//! ("before", e.g. before calibration).
//!
//! Four sections, each with a stable id that CI looks for: `pyramid` (the living population by
//! age band and sex against the US reference), `prevalence` (every measure with a target: the
//! measured value with its 95 % binomial interval against the target's value, interval and
//! tolerance, grouped by measure), `subgroups` (shares by sex, race, ethnicity and age band
//! against the US reference, under-represented groups flagged) and `passfail` (the table of
//! targets, before and after).
//!
//! Architecture invariant: `report` reads only the stats JSON; it knows nothing of the
//! simulator, the modules or the targets file, so a report can be rebuilt from a saved JSON.

mod reference;
pub mod svg;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use svg::{Font, INK, MUTED, Scale, Svg, escape, nice_axis, num};

/// Groups below this share of the living population (in %) are flagged as under-represented.
pub const MIN_SHARE: f64 = 1.0;
/// Target strata with fewer people than this are flagged: their value is too noisy to fit.
pub const MIN_STRATUM: u64 = 30;

const MEN: &str = "#0072b2";
const WOMEN: &str = "#c65300";
const PASS: &str = "#1b7837";
const FAIL: &str = "#b2182b";
const BEFORE: &str = "#6b6b6b";
const BAR: &str = "#4f7cac";
const FLAGGED: &str = "#c65300";
const TOLERANCE: &str = "#e4e4e4";
const INTERVAL: &str = "#a6cbe3";

/// The report as an HTML document. `after` (and `before`, when given) are JSON values written
/// by `ehrsim stats --json`; an error names what is missing from them.
pub fn html(after: &Value, before: Option<&Value>, title: &str) -> Result<String, String> {
    let after = Stats::read(after).map_err(|e| format!("the stats JSON {e}"))?;
    let before = match before {
        Some(b) => Some(Stats::read(b).map_err(|e| format!("the --before stats JSON {e}"))?),
        None => None,
    };
    let before = before.as_ref();
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"ehrsim {}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        env!("CARGO_PKG_VERSION"),
        escape(title)
    );
    let _ = writeln!(o, "<h1>{}</h1>", escape(title));
    o.push_str(&summary(&after, before));
    o.push_str(
        "<nav aria-label=\"Sections\"><ul><li><a href=\"#pyramid\">Age and sex</a></li>\
         <li><a href=\"#prevalence\">Measures against targets</a></li>\
         <li><a href=\"#subgroups\">Subgroup representation</a></li>\
         <li><a href=\"#passfail\">Pass/fail table</a></li></ul></nav>\n",
    );
    o.push_str(&pyramid(&after));
    o.push_str(&prevalence(&after, before));
    o.push_str(&subgroups(&after));
    o.push_str(&pass_fail(&after, before));
    o.push_str(
        "<footer><p>Written by <code>ehrsim report</code> from the JSON of <code>ehrsim stats --json</code>. \
         Intervals of measured shares are 95 % Wilson score intervals from the numerator and denominator; \
         the US reference shares are cited under the subgroup charts.</p></footer>\n</main>\n</body>\n</html>\n",
    );
    Ok(o)
}

const CSS: &str = "
:root { color-scheme: light; }
body { margin: 0; background: #ffffff; color: #1a1a1a;
  font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 20px; margin: 36px 0 8px; border-bottom: 2px solid #1a1a1a; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 4px; }
p.note, figcaption, footer { color: #474747; font-size: 13px; }
nav ul { list-style: none; padding: 0; display: flex; gap: 16px; flex-wrap: wrap; }
a { color: #0b57a4; }
figure { margin: 12px 0 20px; }
svg { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0 16px; }
th, td { border: 1px solid #c8c8c8; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
small.source { display: block; max-width: 360px; }
td.pass { background: #e3f2e6; color: #14532d; font-weight: bold; }
td.fail { background: #fbe4e4; color: #7f1d1d; font-weight: bold; }
.flag { color: #8a3b00; font-weight: bold; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 4px; background: #f0f0f0; margin-right: 8px; }
small { color: #474747; }
";

// ----- reading the stats JSON -----

#[derive(Debug, Clone)]
struct Pop {
    band: String,
    sex: String,
    race: String,
    ethnicity: String,
    count: u64,
}

#[derive(Debug, Clone)]
struct Target {
    value: f64,
    tolerance: f64,
    interval: Option<(f64, f64)>,
    source: String,
}

#[derive(Debug, Clone)]
struct Stratum {
    by: Vec<(String, String)>,
    den: u64,
}

#[derive(Debug, Clone)]
struct Measure {
    id: String,
    label: String,
    share: bool,
    num: u64,
    den: u64,
    value: Option<f64>,
    se: Option<f64>,
    target: Option<Target>,
    pass: Option<bool>,
    strata: Vec<Stratum>,
}

#[derive(Debug, Clone)]
struct Stats {
    date: String,
    patients: u64,
    alive: u64,
    bands: Vec<String>,
    population: Vec<Pop>,
    measures: Vec<Measure>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).map(scalar).unwrap_or_default()
}

/// A string or number as text (anything else as nothing).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_f64).map_or(0, |x| x.max(0.0) as u64)
}

impl Stats {
    fn read(v: &Value) -> Result<Stats, String> {
        if !v.is_object() {
            return Err("is not an object: expected the output of `ehrsim stats --json`".into());
        }
        let list = |key: &str| -> Result<&Vec<Value>, String> {
            v.get(key)
                .and_then(Value::as_array)
                .ok_or_else(|| format!("has no `{key}` list: expected the output of `ehrsim stats --json`"))
        };
        let population: Vec<Pop> = list("population")?
            .iter()
            .map(|p| Pop {
                band: text(p, "age_band"),
                sex: text(p, "sex"),
                race: text(p, "race"),
                ethnicity: text(p, "ethnicity"),
                count: count(p, "count"),
            })
            .collect();
        let measures = list("measures")?
            .iter()
            .map(|m| Measure {
                id: text(m, "id"),
                label: text(m, "label"),
                share: m.get("kind").and_then(Value::as_str) != Some("mean"),
                num: count(m, "numerator"),
                den: count(m, "denominator"),
                value: m.get("value").and_then(Value::as_f64),
                se: m.get("standard_error").and_then(Value::as_f64),
                target: m.get("target").filter(|t| t.is_object()).and_then(|t| {
                    Some(Target {
                        value: t.get("value")?.as_f64()?,
                        tolerance: t.get("tolerance").and_then(Value::as_f64).unwrap_or(0.0),
                        interval: t.get("interval").and_then(Value::as_array).and_then(|i| match i.as_slice() {
                            [a, b] => Some((a.as_f64()?, b.as_f64()?)),
                            _ => None,
                        }),
                        source: text(t, "source"),
                    })
                }),
                pass: m.get("pass").and_then(Value::as_bool),
                strata: m
                    .get("strata")
                    .and_then(Value::as_array)
                    .map(|s| {
                        s.iter()
                            .map(|s| Stratum {
                                by: s
                                    .get("by")
                                    .and_then(Value::as_object)
                                    .map(|o| o.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
                                    .unwrap_or_default(),
                                den: count(s, "denominator"),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        // Age bands in order: from the `age_bands` bounds, else in order of appearance.
        let mut bands: Vec<String> = match v.get("age_bands").and_then(Value::as_array) {
            Some(b) => {
                let b: Vec<u64> = b.iter().filter_map(Value::as_u64).collect();
                (0..b.len())
                    .map(|i| match b.get(i + 1) {
                        Some(hi) => format!("{}-{}", b[i], hi.saturating_sub(1)),
                        None => format!("{}+", b[i]),
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        for p in &population {
            if !bands.contains(&p.band) {
                bands.push(p.band.clone());
            }
        }
        let alive = population.iter().map(|p| p.count).sum();
        Ok(Stats { date: text(v, "date"), patients: count(v, "patients"), alive, bands, population, measures })
    }

    fn targeted(&self) -> impl Iterator<Item = (&Measure, &Target)> {
        self.measures.iter().filter_map(|m| m.target.as_ref().map(|t| (m, t)))
    }

    fn measure(&self, id: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.id == id)
    }

    /// Living people by a key of their population row.
    fn by(&self, key: impl Fn(&Pop) -> &str) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for p in &self.population {
            *out.entry(key(p).to_owned()).or_default() += p.count;
        }
        out
    }
}

// ----- numbers -----

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}

/// The 95 % Wilson score interval of `num` of `den`, in percent.
pub fn wilson(num: u64, den: u64) -> Option<(f64, f64)> {
    if den == 0 {
        return None;
    }
    let (n, p, z) = (den as f64, num.min(den) as f64 / den as f64, 1.959_963_984_540_054);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    Some((100.0 * (centre - half).max(0.0), 100.0 * (centre + half).min(1.0)))
}

/// A measure's value with its 95 % interval: Wilson for shares, ±1.96 standard errors for
/// means (when the JSON has one).
fn estimate(m: &Measure) -> Option<(f64, Option<(f64, f64)>)> {
    let v = m.value?;
    let interval = if m.share { wilson(m.num, m.den) } else { m.se.map(|se| (v - 1.96 * se, v + 1.96 * se)) };
    Some((v, interval))
}

fn unit(m: &Measure) -> &'static str {
    if m.share { " %" } else { "" }
}

fn result_word(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "pass",
        Some(false) => "FAIL",
        None => "–",
    }
}

// ----- sections -----

fn summary(after: &Stats, before: Option<&Stats>) -> String {
    let mut o = String::new();
    let passed = |s: &Stats| {
        let t: Vec<&Measure> = s.targeted().map(|(m, _)| m).collect();
        (t.iter().filter(|m| m.pass == Some(true)).count(), t.len())
    };
    let (p, n) = passed(after);
    let _ = write!(
        o,
        "<p><span class=\"badge\">{} patients</span><span class=\"badge\">{} alive at {}</span>\
         <span class=\"badge\">{p} of {n} targets within tolerance</span>",
        thousands(after.patients),
        thousands(after.alive),
        escape(&after.date)
    );
    if let Some(b) = before {
        let (bp, bn) = passed(b);
        let _ = write!(o, "<span class=\"badge\">before: {bp} of {bn}</span>");
    }
    o.push_str("</p>\n");
    if before.is_some() {
        o.push_str(
            "<p class=\"note\">Two runs are compared: “before” (hollow grey marks) and “after” (filled marks). \
             The population charts show the “after” run.</p>\n",
        );
    }
    o
}

fn pyramid(s: &Stats) -> String {
    let mut o = String::from("<section id=\"pyramid\" aria-labelledby=\"pyramid-h\">\n");
    o.push_str("<h2 id=\"pyramid-h\">Age and sex of the living population</h2>\n");
    if s.alive == 0 {
        o.push_str("<p>Nobody is alive at the date.</p>\n</section>\n");
        return o;
    }
    let mut cells: BTreeMap<(String, String), u64> = BTreeMap::new();
    for p in &s.population {
        *cells.entry((p.band.clone(), p.sex.clone())).or_default() += p.count;
    }
    let share =
        |band: &str, sex: &str| pct(cells.get(&(band.to_owned(), sex.to_owned())).copied().unwrap_or(0), s.alive);
    let mut max: f64 = 0.0;
    for b in &s.bands {
        for sex in ["M", "F"] {
            max = max.max(share(b, sex)).max(reference::age(b, Some(sex)).unwrap_or(0.0));
        }
    }
    let (max, step) = nice_axis(max, 4);
    let (half, gutter, outer, top, row) = (270.0, 80.0, 60.0, 34.0, 30.0);
    let cl = outer + half;
    let cr = cl + gutter;
    let height = top + row * s.bands.len() as f64 + 52.0;
    let mut g = Svg::new(2.0 * (outer + half) + gutter, height);
    let men = Scale::new(0.0, max, cl, cl - half);
    let women = Scale::new(0.0, max, cr, cr + half);
    g.text(cl - half / 2.0, 18.0, "Men", Font::new(14.0, MEN).middle().bold());
    g.text(cr + half / 2.0, 18.0, "Women", Font::new(14.0, WOMEN).middle().bold());
    g.text(cl + gutter / 2.0, 18.0, "Age", Font::new(12.0, INK).middle().bold());
    let axis_y = top + row * s.bands.len() as f64 + 4.0;
    g.x_axis(&men, step, axis_y, top - 4.0, " %", "");
    g.x_axis(&women, step, axis_y, top - 4.0, " %", "");
    g.text(cl + gutter / 2.0, axis_y + 36.0, "Share of the living population", Font::new(12.0, INK).middle());
    for (i, band) in s.bands.iter().rev().enumerate() {
        let y = top + row * i as f64;
        g.text(cl + gutter / 2.0, y + row / 2.0 + 4.0, band, Font::new(12.0, INK).middle());
        for (sex, scale, colour, name) in [("M", &men, MEN, "Men"), ("F", &women, WOMEN, "Women")] {
            let n = cells.get(&(band.clone(), sex.to_owned())).copied().unwrap_or(0);
            let v = share(band, sex);
            let reference = reference::age(band, Some(sex));
            let tip = format!(
                "{name} {band}: {} ({} % of the living){}",
                thousands(n),
                num(v, 1),
                reference.map_or(String::new(), |r| format!("; US 2020: {} %", num(r, 1)))
            );
            let (x0, x1) = (scale.at(0.0), scale.at(v));
            g.rect(x0.min(x1), y + 3.0, (x1 - x0).abs(), row - 6.0, colour, Some(&tip));
            let label_x = if sex == "M" { x1 - 4.0 } else { x1 + 4.0 };
            g.text(
                label_x,
                y + row / 2.0 + 4.0,
                &format!("{} %", num(v, 1)),
                Font::new(10.0, MUTED).anchor(if sex == "M" { "end" } else { "start" }),
            );
            if let Some(r) = reference {
                let x = scale.at(r);
                g.line(
                    (x, y + 1.0),
                    (x, y + row - 1.0),
                    INK,
                    2.0,
                    Some(&format!("US 2020 reference, {name} {band}: {} %", num(r, 1))),
                );
            }
        }
    }
    let description = format!(
        "Horizontal bars: the share of the living population in each age band, men to the left and women to the right, \
         {} people alive at {}. Black ticks: the US 2020 reference share.",
        thousands(s.alive),
        s.date
    );
    let _ = write!(
        o,
        "<figure>{}<figcaption>Bars: share of the {} people alive at {} by age band and sex. \
         Black ticks: the US 2020 share of the same band and sex.</figcaption></figure>\n</section>\n",
        g.finish("pyramid-chart", "Age–sex pyramid of the living population", &description),
        thousands(s.alive),
        escape(&s.date)
    );
    o
}

/// `diabetes[sex=M,age=18-44]` → (`diabetes`, `sex=M, age=18-44`).
fn split_id(id: &str) -> (&str, &str) {
    match id.split_once('[') {
        Some((base, rest)) => (base, rest.trim_end_matches(']')),
        None => (id, ""),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

fn prevalence(after: &Stats, before: Option<&Stats>) -> String {
    let mut o = String::from("<section id=\"prevalence\" aria-labelledby=\"prevalence-h\">\n");
    o.push_str("<h2 id=\"prevalence-h\">Measures against their targets</h2>\n");
    let targeted: Vec<(&Measure, &Target)> = after.targeted().collect();
    if targeted.is_empty() {
        o.push_str(
            "<p>No measure has a target. Compare with published figures with \
             <code>ehrsim stats --targets FILE --json stats.json</code>.</p>\n</section>\n",
        );
        return o;
    }
    o.push_str(&legend(before.is_some()));
    // Groups by measure id prefix, in order of first appearance.
    let mut groups: Vec<(&str, Vec<(&Measure, &Target)>)> = Vec::new();
    for (m, t) in targeted {
        let base = split_id(&m.id).0;
        match groups.iter_mut().find(|(b, _)| *b == base) {
            Some((_, list)) => list.push((m, t)),
            None => groups.push((base, vec![(m, t)])),
        }
    }
    for (gi, (base, list)) in groups.iter().enumerate() {
        let first = list[0].0;
        let heading = if first.id.contains('[') {
            first.label.rsplit_once(", ").map_or(first.label.as_str(), |(l, _)| l)
        } else {
            first.label.as_str()
        };
        let _ = writeln!(o, "<h3>{}</h3>", escape(if heading.is_empty() { base } else { heading }));
        let rows: Vec<(&Measure, &Target, Option<&Measure>)> =
            list.iter().map(|(m, t)| (*m, *t, before.and_then(|b| b.measure(&m.id)))).collect();
        let mut max: f64 = 0.0;
        for (m, t, b) in &rows {
            max = max.max(t.value + t.tolerance).max(t.interval.map_or(0.0, |i| i.1));
            for e in [estimate(m), b.and_then(estimate)].into_iter().flatten() {
                max = max.max(e.1.map_or(e.0, |i| i.1)).max(e.0);
            }
        }
        let (max, step) = nice_axis(max * 1.05, 5);
        let row = if before.is_some() { 36.0 } else { 28.0 };
        let (left, plot, top) = (230.0, 440.0, 8.0);
        let height = top + row * rows.len() as f64 + 48.0;
        let mut g = Svg::new(900.0, height);
        let x = Scale::new(0.0, max, left, left + plot);
        let axis_y = top + row * rows.len() as f64;
        let unit_text = if first.share { " %" } else { "" };
        let axis_label = if first.share { "Share of the population measured (%)" } else { "Mean value" };
        g.x_axis(&x, step, axis_y, top, unit_text, axis_label);
        for (i, (m, t, b)) in rows.iter().enumerate() {
            let y = top + row * i as f64;
            let cy = y + row / 2.0;
            let (_, suffix) = split_id(&m.id);
            let name = if suffix.is_empty() { m.id.clone() } else { suffix.replace(',', ", ") };
            g.text(left - 10.0, cy + 4.0, &truncate(&name, 34), Font::new(12.0, INK).end());
            // The target: tolerance band, interval band, value.
            let u = unit(m);
            let (lo, hi) = (t.value - t.tolerance, t.value + t.tolerance);
            g.rect(
                x.at(lo),
                y + 3.0,
                x.at(hi) - x.at(lo),
                row - 6.0,
                TOLERANCE,
                Some(&format!(
                    "{}: pass band {}–{}{u} (target ± tolerance {})",
                    m.id,
                    num(lo, 1),
                    num(hi, 1),
                    num(t.tolerance, 1)
                )),
            );
            if let Some((a, c)) = t.interval {
                g.rect(
                    x.at(a),
                    y + 7.0,
                    x.at(c) - x.at(a),
                    row - 14.0,
                    INTERVAL,
                    Some(&format!("{}: published interval {}–{}{u}", m.id, num(a, 1), num(c, 1))),
                );
            }
            g.line(
                (x.at(t.value), y + 2.0),
                (x.at(t.value), y + row - 2.0),
                INK,
                2.5,
                Some(&format!("{}: target {}{u}{}", m.id, num(t.value, 2), source_note(&t.source))),
            );
            // Measured values: before (hollow, above), after (filled).
            let after_y = if before.is_some() { cy + 6.0 } else { cy };
            if let Some(bm) = b
                && let Some((v, ci)) = estimate(bm)
            {
                let by = cy - 7.0;
                if let Some((a, c)) = ci {
                    g.line((x.at(a), by), (x.at(c), by), BEFORE, 1.5, None);
                }
                let tip = format!(
                    "{} before: {}{u}{} (n = {}), {}",
                    m.id,
                    num(v, 2),
                    ci_text(ci, u),
                    thousands(bm.den),
                    result_word(bm.pass)
                );
                g.circle(x.at(v), by, 4.5, None, BEFORE, Some(&tip));
            }
            let right = left + plot + 12.0;
            match estimate(m) {
                Some((v, ci)) => {
                    let colour = if m.pass == Some(true) { PASS } else { FAIL };
                    if let Some((a, c)) = ci {
                        g.line((x.at(a), after_y), (x.at(c), after_y), colour, 2.0, None);
                        for e in [a, c] {
                            g.line((x.at(e), after_y - 4.0), (x.at(e), after_y + 4.0), colour, 2.0, None);
                        }
                    }
                    let tip = format!(
                        "{}{}: {}{u}{} (n = {}), target {}{u} ± {}: {}",
                        m.id,
                        if before.is_some() { " after" } else { "" },
                        num(v, 2),
                        ci_text(ci, u),
                        thousands(m.den),
                        num(t.value, 2),
                        num(t.tolerance, 1),
                        result_word(m.pass)
                    );
                    if m.pass == Some(true) {
                        g.circle(x.at(v), after_y, 5.5, Some(colour), "#ffffff", Some(&tip));
                    } else {
                        g.rect(x.at(v) - 5.0, after_y - 5.0, 10.0, 10.0, colour, Some(&tip));
                    }
                    g.text(right, cy + 4.0, &format!("{}{u}", num(v, 1)), Font::new(12.0, INK));
                    g.text(right + 64.0, cy + 4.0, result_word(m.pass), Font::new(12.0, colour).bold());
                    g.text(right + 106.0, cy + 4.0, &format!("n = {}", thousands(m.den)), Font::new(11.0, MUTED));
                }
                None => {
                    g.text(right, cy + 4.0, "no one measured", Font::new(12.0, FAIL).bold());
                }
            }
        }
        let title = format!("{} against its targets", base);
        let description = format!(
            "For each stratum of {base}: grey band, the target ± tolerance; blue band, the published interval; black line, \
             the target; mark and whisker, the measured value and its 95 % interval (circle: pass, square: fail){}.",
            if before.is_some() { "; hollow grey circle above, the value before" } else { "" }
        );
        let _ = writeln!(o, "<figure>{}</figure>", g.finish(&format!("prevalence-{gi}"), &title, &description));
    }
    o.push_str("</section>\n");
    o
}

fn source_note(source: &str) -> String {
    if source.is_empty() { String::new() } else { format!(" ({source})") }
}

fn ci_text(ci: Option<(f64, f64)>, u: &str) -> String {
    ci.map_or(String::new(), |(a, b)| format!(", 95 % interval {}–{}{u}", num(a, 1), num(b, 1)))
}

fn legend(before: bool) -> String {
    let width = if before { 900.0 } else { 720.0 };
    let mut g = Svg::new(width, 30.0);
    let mut x = 4.0;
    g.rect(x, 8.0, 28.0, 14.0, TOLERANCE, None);
    g.text(x + 34.0, 19.0, "target ± tolerance", Font::new(12.0, INK));
    x += 160.0;
    g.rect(x, 10.0, 28.0, 10.0, INTERVAL, None);
    g.text(x + 34.0, 19.0, "published interval", Font::new(12.0, INK));
    x += 160.0;
    g.line((x + 4.0, 6.0), (x + 4.0, 24.0), INK, 2.5, None);
    g.text(x + 12.0, 19.0, "target", Font::new(12.0, INK));
    x += 70.0;
    g.circle(x + 6.0, 15.0, 5.5, Some(PASS), "#ffffff", None);
    g.text(x + 16.0, 19.0, "pass", Font::new(12.0, INK));
    x += 56.0;
    g.rect(x + 1.0, 10.0, 10.0, 10.0, FAIL, None);
    g.text(x + 16.0, 19.0, "fail (95 % interval)", Font::new(12.0, INK));
    if before {
        x += 150.0;
        g.circle(x + 6.0, 15.0, 4.5, None, BEFORE, None);
        g.text(x + 16.0, 19.0, "before", Font::new(12.0, INK));
    }
    format!("<figure>{}</figure>\n", g.finish("prevalence-legend", "Legend", "What the marks of the charts below mean"))
}

const RACE_ORDER: [&str; 6] = ["white", "black", "asian", "native", "hawaiian", "other"];

fn group_label(dim: &str, value: &str) -> String {
    match (dim, value) {
        ("sex", "M") => "Male".into(),
        ("sex", "F") => "Female".into(),
        ("race", "white") => "White".into(),
        ("race", "black") => "Black or African American".into(),
        ("race", "asian") => "Asian".into(),
        ("race", "native") => "American Indian and Alaska Native".into(),
        ("race", "hawaiian") => "Native Hawaiian and Pacific Islander".into(),
        ("race", "other") => "Other race or two or more".into(),
        ("ethnicity", "hispanic") => "Hispanic or Latino".into(),
        ("ethnicity", "nonhispanic") => "Not Hispanic or Latino".into(),
        _ => value.to_owned(),
    }
}

/// A target stratum with fewer than [`MIN_STRATUM`] people.
#[derive(Debug)]
struct Thin {
    /// The stratum's name: a measure id, or a measure id and its `by` breakdown.
    name: String,
    label: String,
    people: u64,
    /// The groups it is made of: (dimension, value), e.g. (`race`, `native`).
    groups: Vec<(String, String)>,
}

impl Thin {
    /// Whether the group (dimension, value) is in this stratum.
    fn has(&self, dim: &str, value: &str) -> bool {
        self.groups.iter().any(|(k, v)| (k == dim || (k == "age" && dim == "age band")) && v == value)
    }
}

/// The target strata with fewer than [`MIN_STRATUM`] people: whole measures (strata of a
/// targets file become measures named `id[sex=M,…]`) and their `by` breakdowns.
fn thin_strata(s: &Stats) -> Vec<Thin> {
    let mut out: Vec<Thin> = Vec::new();
    for (m, _) in s.targeted() {
        if m.den < MIN_STRATUM {
            let groups = split_id(&m.id)
                .1
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            out.push(Thin { name: m.id.clone(), label: m.label.clone(), people: m.den, groups });
        }
        for st in m.strata.iter().filter(|st| st.den < MIN_STRATUM && !st.by.is_empty()) {
            let by = st.by.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let name = format!("{} by {by}", m.id);
            if !out.iter().any(|t| t.name == name) {
                out.push(Thin { name, label: m.label.clone(), people: st.den, groups: st.by.clone() });
            }
        }
    }
    out
}

fn subgroups(s: &Stats) -> String {
    let mut o = String::from("<section id=\"subgroups\" aria-labelledby=\"subgroups-h\">\n");
    o.push_str("<h2 id=\"subgroups-h\">Subgroup representation</h2>\n");
    let _ = writeln!(
        o,
        "<p class=\"note\">Share of the living population in each group against the US reference (diamond). \
         Groups under {} % of the population, or in a target stratum of fewer than {} people, are flagged \
         <span class=\"flag\">under-represented</span>: measures of them are too noisy to compare or fit.</p>",
        num(MIN_SHARE, 1),
        MIN_STRATUM
    );
    let thin = thin_strata(s);
    let dims: [(&str, &str, BTreeMap<String, u64>); 4] = [
        ("sex", "Sex", s.by(|p| &p.sex)),
        ("race", "Race", s.by(|p| &p.race)),
        ("ethnicity", "Ethnicity", s.by(|p| &p.ethnicity)),
        ("age band", "Age band", s.by(|p| &p.band)),
    ];
    for (di, (dim, title, counts)) in dims.iter().enumerate() {
        // Every expected group, even when absent, so a missing group shows as 0 %.
        let mut groups: Vec<String> = match *dim {
            "sex" => vec!["M".into(), "F".into()],
            "race" => RACE_ORDER.iter().map(|r| (*r).to_owned()).collect(),
            "ethnicity" => vec!["hispanic".into(), "nonhispanic".into()],
            _ => s.bands.clone(),
        };
        for k in counts.keys() {
            if !groups.contains(k) {
                groups.push(k.clone());
            }
        }
        let reference = |g: &str| match *dim {
            "sex" => reference::sex(g),
            "race" => reference::race(g),
            "ethnicity" => reference::ethnicity(g),
            _ => reference::age(g, None),
        };
        let mut max: f64 = 0.0;
        for g in &groups {
            max = max.max(pct(counts.get(g).copied().unwrap_or(0), s.alive)).max(reference(g).unwrap_or(0.0));
        }
        let (max, step) = nice_axis(max, 5);
        let (left, plot, top, row) = (250.0, 360.0, 6.0, 26.0);
        let mut g = Svg::new(900.0, top + row * groups.len() as f64 + 46.0);
        let x = Scale::new(0.0, max, left, left + plot);
        let axis_y = top + row * groups.len() as f64;
        g.x_axis(&x, step, axis_y, top, " %", "Share of the living population (%)");
        let mut flagged = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            let y = top + row * i as f64;
            let cy = y + row / 2.0;
            let n = counts.get(group).copied().unwrap_or(0);
            let share = pct(n, s.alive);
            let r = reference(group);
            let thin_here: Vec<String> =
                thin.iter().filter(|t| t.has(dim, group)).map(|t| format!("{} (n = {})", t.name, t.people)).collect();
            let low = share < MIN_SHARE;
            let flag = low || !thin_here.is_empty();
            let label = group_label(dim, group);
            g.text(left - 10.0, cy + 4.0, &truncate(&label, 36), Font::new(12.0, INK).end());
            let tip = format!(
                "{label}: {} people, {} % of the living{}",
                thousands(n),
                num(share, 1),
                r.map_or(String::new(), |r| format!("; US 2020: {} %", num(r, 1)))
            );
            g.rect(left, y + 5.0, x.at(share) - left, row - 10.0, if flag { FLAGGED } else { BAR }, Some(&tip));
            if let Some(r) = r {
                g.diamond(x.at(r), cy, 6.0, INK, Some(&format!("US 2020 reference, {label}: {} %", num(r, 1))));
            }
            let right = left + plot + 12.0;
            let ref_text = r.map_or(String::new(), |r| format!(" · US {} %", num(r, 1)));
            g.text(
                right,
                cy + 4.0,
                &format!("{} % (n = {}){ref_text}", num(share, 1), thousands(n)),
                Font::new(12.0, INK),
            );
            if flag {
                g.text(900.0 - 4.0, cy + 4.0, "under-represented", Font::new(11.0, FLAGGED).end().bold());
                let mut why = Vec::new();
                if low {
                    why.push(format!("{} % of the living population", num(share, 2)));
                }
                if !thin_here.is_empty() {
                    why.push(format!("target strata with fewer than {MIN_STRATUM} people: {}", thin_here.join("; ")));
                }
                flagged.push(format!("{}: {}", escape(&label), escape(&why.join("; "))));
            }
        }
        let _ = write!(
            o,
            "<h3>{title}</h3><figure>{}",
            g.finish(
                &format!("subgroups-{di}"),
                &format!("Share of the living population by {dim}"),
                &format!("Bars: share of the living population by {dim}; diamonds: the US 2020 reference share; orange bars are under-represented groups")
            )
        );
        if !flagged.is_empty() {
            let _ = write!(
                o,
                "<figcaption><span class=\"flag\">Under-represented:</span> {}</figcaption>",
                flagged.join(". ")
            );
        }
        o.push_str("</figure>\n");
    }
    if thin.is_empty() {
        let _ = writeln!(o, "<p>Every target stratum has at least {MIN_STRATUM} people.</p>");
    } else {
        let _ = writeln!(
            o,
            "<h3>Target strata with fewer than {MIN_STRATUM} people</h3>\n<table><thead><tr><th scope=\"col\">stratum</th>\
             <th scope=\"col\">measure</th><th scope=\"col\">people</th></tr></thead><tbody>"
        );
        for t in &thin {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                escape(&t.name),
                escape(&t.label),
                t.people
            );
        }
        o.push_str("</tbody></table>\n");
    }
    let _ = writeln!(o, "<p class=\"note\">{}</p>\n</section>", escape(reference::CITATION));
    o
}

fn measured_cells(m: Option<&Measure>) -> String {
    match m {
        None => "<td class=\"num\">–</td><td class=\"num\">–</td><td>not measured</td>".into(),
        Some(m) => {
            let u = unit(m);
            let value = match estimate(m) {
                Some((v, ci)) => format!(
                    "{}{u}{}",
                    num(v, 1),
                    ci.map_or(String::new(), |(a, b)| format!(" <small>[{}–{}]</small>", num(a, 1), num(b, 1)))
                ),
                None => "–".into(),
            };
            let class = match m.pass {
                Some(true) => "pass",
                Some(false) => "fail",
                None => "",
            };
            format!(
                "<td class=\"num\">{value}</td><td class=\"num\">{}</td><td class=\"{class}\">{}</td>",
                thousands(m.den),
                result_word(m.pass)
            )
        }
    }
}

fn pass_fail(after: &Stats, before: Option<&Stats>) -> String {
    let mut o = String::from("<section id=\"passfail\" aria-labelledby=\"passfail-h\">\n");
    o.push_str("<h2 id=\"passfail-h\">Targets: pass or fail</h2>\n");
    let rows: Vec<(&Measure, &Target)> = after.targeted().collect();
    if rows.is_empty() {
        o.push_str("<p>No measure has a target.</p>\n</section>\n");
        return o;
    }
    o.push_str(
        "<p class=\"note\">A target passes when the measured value is within the tolerance of the target value. \
         Brackets: the 95 % interval of the measured value.</p>\n<table>\n<thead>",
    );
    if before.is_some() {
        o.push_str(
            "<tr><th scope=\"col\" rowspan=\"2\">measure</th><th scope=\"col\" rowspan=\"2\">target</th>\
             <th scope=\"colgroup\" colspan=\"3\">before</th><th scope=\"colgroup\" colspan=\"3\">after</th>\
             <th scope=\"col\" rowspan=\"2\">distance to target</th></tr>\
             <tr><th scope=\"col\">measured</th><th scope=\"col\">n</th><th scope=\"col\">result</th>\
             <th scope=\"col\">measured</th><th scope=\"col\">n</th><th scope=\"col\">result</th></tr>",
        );
    } else {
        o.push_str(
            "<tr><th scope=\"col\">measure</th><th scope=\"col\">target</th><th scope=\"col\">measured</th>\
             <th scope=\"col\">n</th><th scope=\"col\">result</th></tr>",
        );
    }
    o.push_str("</thead>\n<tbody>\n");
    let mut passes = (0, 0);
    for (m, t) in &rows {
        let u = unit(m);
        let interval =
            t.interval.map_or(String::new(), |(a, b)| format!("<small>[{}–{}]</small>", num(a, 1), num(b, 1)));
        let source = if t.source.is_empty() {
            String::new()
        } else {
            format!("<br><small class=\"source\">source: {}</small>", escape(&t.source))
        };
        let _ = write!(
            o,
            "<tr><td><code>{}</code><br><small>{}</small>{source}</td><td class=\"num\">{}{u} ± {}<br>{interval}</td>",
            escape(&m.id),
            escape(&m.label),
            num(t.value, 2),
            num(t.tolerance, 1)
        );
        if m.pass == Some(true) {
            passes.1 += 1;
        }
        if let Some(b) = before {
            let bm = b.measure(&m.id);
            if bm.is_some_and(|b| b.pass == Some(true)) {
                passes.0 += 1;
            }
            o.push_str(&measured_cells(bm));
            o.push_str(&measured_cells(Some(m)));
            let change = match (bm.and_then(|b| b.value), m.value) {
                (Some(bv), Some(av)) => {
                    let (d0, d1) = ((bv - t.value).abs(), (av - t.value).abs());
                    let word = if d1 < d0 - 1e-9 {
                        "closer"
                    } else if d1 > d0 + 1e-9 {
                        "further"
                    } else {
                        "same"
                    };
                    format!("{} → {} <small>({word})</small>", num(d0, 1), num(d1, 1))
                }
                _ => "–".into(),
            };
            let _ = writeln!(o, "<td class=\"num\">{change}</td></tr>");
        } else {
            o.push_str(&measured_cells(Some(m)));
            o.push_str("</tr>\n");
        }
    }
    o.push_str("</tbody>\n<tfoot><tr><th scope=\"row\" colspan=\"2\">targets within tolerance</th>");
    if before.is_some() {
        let _ = write!(
            o,
            "<td colspan=\"3\">{} of {}</td><td colspan=\"3\">{} of {}</td><td></td>",
            passes.0,
            rows.len(),
            passes.1,
            rows.len()
        );
    } else {
        let _ = write!(o, "<td colspan=\"3\">{} of {}</td>", passes.1, rows.len());
    }
    o.push_str("</tr></tfoot>\n</table>\n</section>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stats(num: u64, pass: bool) -> Value {
        json!({
            "date": "2025-01-01", "patients": 120, "alive": 100, "age_bands": [0, 18, 65],
            "population": [
                { "age_band": "0-17", "sex": "M", "race": "white", "ethnicity": "nonhispanic", "count": 20 },
                { "age_band": "18-64", "sex": "F", "race": "black", "ethnicity": "hispanic", "count": 79 },
                { "age_band": "65+", "sex": "F", "race": "native", "ethnicity": "nonhispanic", "count": 1 }
            ],
            "measures": [
                { "id": "diabetes[sex=F]", "label": "Diabetes, sex=F", "kind": "share", "numerator": num,
                  "denominator": 80, "value": 100.0 * num as f64 / 80.0, "standard_error": 1.0,
                  "target": { "value": 10.0, "tolerance": 2.0, "interval": [9.0, 11.5], "weight": 1.0, "source": "CDC <NDSR>" },
                  "pass": pass, "strata": [] },
                { "id": "asthma[race=native]", "label": "Asthma, race=native", "kind": "share", "numerator": 0,
                  "denominator": 1, "value": 0.0, "standard_error": 0.0,
                  "target": { "value": 9.0, "tolerance": 2.0, "interval": null, "weight": 1.0, "source": "" },
                  "pass": false, "strata": [] },
                { "id": "a1c-control", "label": "A1c", "kind": "share", "numerator": 1, "denominator": 2,
                  "value": 50.0, "standard_error": 30.0, "target": null, "pass": null, "strata": [] }
            ],
            "conditions": []
        })
    }

    #[test]
    fn the_report_has_the_four_sections_and_escapes_text() {
        let page = html(&stats(8, true), None, "Run <1>").unwrap();
        for id in ["pyramid", "prevalence", "subgroups", "passfail"] {
            assert!(page.contains(&format!("<section id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("<title>Run &lt;1&gt;</title>"));
        assert!(page.contains("CDC &lt;NDSR&gt;"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("src=\"http"));
        // 1 % of the living and a target stratum of 1 person: flagged.
        assert!(page.contains("under-represented"));
        assert!(page.contains("asthma[race=native] (n = 1)"), "{page}");
        assert!(page.contains("1 of 2 targets within tolerance"));
    }

    #[test]
    fn before_and_after_side_by_side() {
        let page = html(&stats(8, true), Some(&stats(20, false)), "t").unwrap();
        assert!(page.contains("before: 0 of 2"));
        assert!(page.contains("closer"), "{page}");
        assert!(page.contains("diabetes[sex=F] before: 25"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(html(&json!([1, 2]), None, "t").unwrap_err().contains("not an object"));
        assert!(html(&json!({ "measures": [] }), None, "t").unwrap_err().contains("`population`"));
        let odd = json!({ "population": [{ "count": "x" }, 3], "measures": [{ "target": { "value": "?" } }, null] });
        assert!(html(&odd, None, "t").is_ok());
    }

    #[test]
    fn wilson_intervals() {
        let (a, b) = wilson(0, 100).unwrap();
        assert!(a.abs() < 1e-9);
        assert!((b - 3.70).abs() < 0.01, "{b}");
        let (a, b) = wilson(50, 100).unwrap();
        assert!((a - 40.38).abs() < 0.01 && (b - 59.62).abs() < 0.01, "{a} {b}");
        assert_eq!(wilson(1, 0), None);
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
