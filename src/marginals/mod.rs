//! `ehrsim marginals`: a targets file computed from an extract of real data under
//! differential privacy, with the privacy spent accounted per query, in total and across
//! invocations.
//!
//! The pipeline: [`extract`] reads the header, then the plan fixes the queries and their ε
//! before any row is read; the [`ledger`] refuses a plan that would exceed the budget; the rows
//! become exact counts per stratum, which only leave [`release`] with [`noise`] added; the
//! noisy counts become prevalences and their intervals (post-processing, which costs no
//! privacy), written as a targets file beside a JSON account of the privacy spent.
//!
//! Accounting. Neighbouring extracts differ by one person (one row added or removed). The
//! release is `1 + C` queries: the count of persons per stratum, and for each of the `C`
//! conditions the count of its cases per stratum. A person is in exactly one stratum, so one
//! query's counts change by at most 1 in one stratum: sensitivity 1 (L1 and L2), and its strata
//! compose in parallel. The queries compose sequentially: each gets ε/(1 + C) (and δ/(1 + C)),
//! and the total is ε (and δ). Every invocation's total is added to the ledger.
//!
//! Architecture invariant: no raw row and no exact count reaches an output, a message or an
//! error; exact counts exist only between [`extract::Extract::tally`] and [`release`].

pub mod extract;
pub mod ledger;
pub mod noise;

use extract::{Dim, Domain};
use ledger::{Ledger, OverBudget, Query};
use noise::{Noise, Ratio};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The noise mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mechanism {
    /// discrete Laplace noise: pure ε-differential privacy
    Laplace,
    /// discrete Gaussian noise: (ε, δ)-differential privacy (needs --delta)
    Gaussian,
}

/// What to release, from what, to where.
#[derive(Debug, Clone)]
pub struct Config {
    pub input: PathBuf,
    pub output: PathBuf,
    pub ledger: PathBuf,
    /// The total ε of this release, exactly as written.
    pub epsilon: Ratio,
    pub budget: Option<f64>,
    pub mechanism: Mechanism,
    /// The total δ (Gaussian only).
    pub delta: Option<f64>,
    pub by: Vec<Dim>,
    /// Lower bounds of the age bands; people younger than the first are left out.
    pub bands: Vec<u32>,
    /// Condition columns; `None`: every column that is not a demographic one.
    pub conditions: Option<Vec<String>>,
    /// Codes per condition column: (column, code).
    pub codes: Vec<(String, String)>,
    /// Strata whose noisy person count is below this are left out of the targets.
    pub min_persons: u64,
    /// The date ages are counted at (needed with birthdates; written as the targets' `date`).
    pub date: Option<crate::sim::time::Date>,
    /// A fixed seed instead of OS entropy: for tests only, the noise can then be recomputed.
    pub seed: Option<u64>,
}

/// Why nothing (or not everything) was released.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The options are wrong (exit 2).
    Usage(String),
    /// The extract or the ledger is wrong (exit 1).
    Input(String),
    /// The release would exceed the budget (exit 1).
    OverBudget { needed: f64, spent: f64, budget: f64, ledger: PathBuf },
    /// An output could not be written or no entropy could be had (exit 3).
    Io(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(m) | Error::Input(m) | Error::Io(m) => f.write_str(m),
            Error::OverBudget { needed, spent, budget, ledger } => write!(
                f,
                "over budget: this release needs ε = {}, but the ledger `{}` records ε = {} already spent of a budget \
                 of ε = {} ({} left); nothing was released",
                fmt_eps(*needed),
                ledger.display(),
                fmt_eps(*spent),
                fmt_eps(*budget),
                fmt_eps((budget - spent).max(0.0))
            ),
        }
    }
}

/// ε for people: up to 6 significant decimals, no trailing zeros.
pub fn fmt_eps(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" { "0".into() } else { s.to_owned() }
}

/// One condition to release.
#[derive(Debug, Clone)]
struct Condition {
    column: String,
    index: usize,
    id: String,
    codes: Vec<String>,
}

/// What was released, for the command's summary.
#[derive(Debug, Clone)]
pub struct Summary {
    pub queries: usize,
    pub strata: usize,
    pub conditions: usize,
    pub epsilon: f64,
    pub delta: f64,
    pub mechanism: &'static str,
    pub spent: f64,
    pub budget: Option<f64>,
    pub privacy_file: PathBuf,
    pub ledger: PathBuf,
}

/// The default ledger: `<extract file name>.dp-ledger.json` in the output's directory.
pub fn default_ledger(input: &Path, output: &Path) -> PathBuf {
    let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "extract".into());
    output.with_file_name(format!("{name}.dp-ledger.json"))
}

/// The privacy account written beside the targets file.
pub fn privacy_file(output: &Path) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!("{name}.privacy.json"))
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

/// Makes one release: checks the plan and the budget, reads the extract, records the release
/// in the ledger, writes the targets file and its privacy account.
pub fn run(config: &Config) -> Result<Summary, Error> {
    // The plan, from the header alone.
    let extract_name = file_name(&config.input);
    let extract =
        extract::open(&config.input).map_err(|e| Error::Input(format!("`{}`: {e}", config.input.display())))?;
    let layout = &extract.layout;
    for d in &config.by {
        if !layout.has(*d) {
            return Err(Error::Input(format!(
                "`{}` has no `{}` column, needed by --by {}",
                config.input.display(),
                d.name(),
                d.name()
            )));
        }
    }
    if layout.uses_birthdate() && config.date.is_none() {
        return Err(Error::Usage(format!(
            "`{}` has birthdates: give --date, the day ages are counted at",
            config.input.display()
        )));
    }
    let columns: Vec<String> = match &config.conditions {
        Some(list) => list.clone(),
        None => layout.others.clone(),
    };
    if columns.is_empty() {
        return Err(Error::Usage("no condition column: name them with --conditions".into()));
    }
    let mut conditions: Vec<Condition> = Vec::new();
    for column in &columns {
        let Some(index) = layout.column(column) else {
            let hint = layout.suggest(column).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            return Err(Error::Usage(format!("--conditions: `{}` has no column `{column}`{hint}", extract_name)));
        };
        let mut codes: Vec<String> =
            config.codes.iter().filter(|(c, _)| c.eq_ignore_ascii_case(column)).map(|(_, code)| code.clone()).collect();
        if codes.is_empty() {
            if column.chars().all(|c| c.is_ascii_digit()) {
                codes.push(column.clone());
            } else {
                let hint = if config.conditions.is_none() {
                    "; every column but age, birthdate, sex, race and ethnicity is taken for a condition unless \
                     --conditions names them"
                } else {
                    ""
                };
                return Err(Error::Usage(format!(
                    "the condition column `{column}` needs its code: --codes {column}=SNOMED_CODE (e.g. 44054006 \
                     for type 2 diabetes){hint}"
                )));
            }
        }
        let id = slug(column);
        if id.is_empty() || conditions.iter().any(|c| c.id == id) {
            return Err(Error::Usage(format!(
                "the condition column `{column}` needs a distinct name of letters or digits"
            )));
        }
        conditions.push(Condition { column: column.clone(), index, id, codes });
    }
    for (c, _) in &config.codes {
        if !conditions.iter().any(|x| x.column.eq_ignore_ascii_case(c)) {
            return Err(Error::Usage(format!("--codes names `{c}`, which is not a released condition column")));
        }
    }
    let k = conditions.len() + 1;
    let epsilon_q =
        config.epsilon.divided_by(k as u128).ok_or_else(|| Error::Usage("--epsilon is too small".into()))?;
    let delta_total = match config.mechanism {
        Mechanism::Laplace => {
            if config.delta.is_some() {
                return Err(Error::Usage(
                    "--delta is for --mechanism gaussian; the Laplace mechanism has δ = 0".into(),
                ));
            }
            0.0
        }
        Mechanism::Gaussian => match config.delta {
            Some(d) if d > 0.0 && d < 1.0 => d,
            Some(_) => return Err(Error::Usage("--delta must be between 0 and 1 (e.g. 1e-6)".into())),
            None => {
                return Err(Error::Usage(
                    "--mechanism gaussian needs --delta (e.g. 1e-6, well below 1/persons)".into(),
                ));
            }
        },
    };
    let delta_q = delta_total / k as f64;
    let noise = match config.mechanism {
        Mechanism::Laplace => Noise::laplace(1, epsilon_q),
        Mechanism::Gaussian => Noise::gaussian(1, epsilon_q.to_f64(), delta_q),
    }
    .map_err(Error::Usage)?;
    let domain = Domain { dims: config.by.clone(), bands: config.bands.clone() };
    let strata = domain.strata();

    // The budget, before anything is read or drawn.
    let epsilon = config.epsilon.to_f64();
    let mut ledger = Ledger::load(&config.ledger, &extract_name).map_err(Error::Input)?;
    ledger.check(epsilon, config.budget).map_err(|OverBudget { needed, spent, budget }| Error::OverBudget {
        needed,
        spent,
        budget,
        ledger: config.ledger.clone(),
    })?;
    let mut rng = match config.seed {
        Some(s) => ChaCha20Rng::seed_from_u64(s),
        None => ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
            .map_err(|e| Error::Io(format!("cannot get entropy from the operating system: {e}")))?,
    };

    // The exact counts, then the ledger entry, then the noisy release.
    let indices: Vec<usize> = conditions.iter().map(|c| c.index).collect();
    let counts = extract
        .tally(&domain, &indices, config.date)
        .map_err(|e| Error::Input(format!("`{}`: {e}", config.input.display())))?;
    let mut queries = vec![Query { id: "persons".into(), epsilon: epsilon_q.to_f64(), delta: delta_q }];
    queries.extend(conditions.iter().map(|c| Query {
        id: format!("cases:{}", c.id),
        epsilon: epsilon_q.to_f64(),
        delta: delta_q,
    }));
    let entry = ledger::Release {
        at: ledger::now_utc(),
        output: file_name(&config.output),
        mechanism: noise.name().into(),
        epsilon,
        delta: delta_total,
        seeded: config.seed.is_some(),
        queries: queries.clone(),
    };
    ledger.record(entry, config.budget);
    ledger
        .save(&config.ledger)
        .map_err(|e| Error::Io(format!("cannot write the ledger `{}`: {e}", config.ledger.display())))?;
    let released = release(counts, &noise, &mut rng);

    // Post-processing: prevalences, intervals, the files.
    let plan =
        Plan { config, conditions: &conditions, noise, epsilon_q, delta_q, delta_total, strata: &strata, extract_name };
    let yaml = targets_yaml(&plan, &released);
    let account = privacy_json(&plan, &released, &queries, &ledger);
    crate::atomic::write(&config.output, yaml.as_bytes())
        .map_err(|e| Error::Io(format!("cannot write `{}`: {e}", config.output.display())))?;
    let account_path = privacy_file(&config.output);
    let text = serde_json::to_string_pretty(&account).unwrap_or_default() + "\n";
    crate::atomic::write(&account_path, text.as_bytes())
        .map_err(|e| Error::Io(format!("cannot write `{}`: {e}", account_path.display())))?;
    Ok(Summary {
        queries: k,
        strata: strata.len(),
        conditions: conditions.len(),
        epsilon,
        delta: delta_total,
        mechanism: noise.name(),
        spent: ledger.epsilon_spent,
        budget: ledger.budget,
        privacy_file: account_path,
        ledger: config.ledger.clone(),
    })
}

/// Noisy counts per stratum.
#[derive(Debug)]
struct Released {
    persons: Vec<i128>,
    cases: Vec<Vec<i128>>,
}

/// Adds noise to every exact count (consuming them: nothing exact outlives this function).
fn release(counts: extract::Counts, noise: &Noise, rng: &mut ChaCha20Rng) -> Released {
    let mut noisy =
        |exact: Vec<u64>| -> Vec<i128> { exact.into_iter().map(|x| i128::from(x) + noise.sample(rng)).collect() };
    let persons = noisy(counts.persons);
    let cases = counts.cases.into_iter().map(&mut noisy).collect();
    Released { persons, cases }
}

struct Plan<'a> {
    config: &'a Config,
    conditions: &'a [Condition],
    noise: Noise,
    epsilon_q: Ratio,
    delta_q: f64,
    delta_total: f64,
    strata: &'a [Vec<(Dim, String)>],
    extract_name: String,
}

/// A prevalence (in %) from noisy counts, with its 95 % interval: the binomial sampling
/// variance and the noise variance of both counts (delta method). `None` below `min` persons.
fn prevalence(cases: i128, persons: i128, noise_variance: f64, min: u64) -> Option<(f64, (f64, f64))> {
    if persons < i128::from(min.max(1)) {
        return None;
    }
    let n = persons as f64;
    let p = (cases.clamp(0, persons) as f64) / n;
    let se = (p * (1.0 - p) / n + noise_variance * (1.0 + p * p) / (n * n)).sqrt();
    let value = (10_000.0 * p).round() / 100.0;
    let lo = ((10_000.0 * (p - 1.96 * se)).floor() / 100.0).clamp(0.0, value);
    let hi = ((10_000.0 * (p + 1.96 * se)).ceil() / 100.0).clamp(value, 100.0);
    Some((value, (lo, hi)))
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_owned() }
}

/// The half-width of an interval, rounded up to 0.1, as a tolerance.
fn tolerance((lo, hi): (f64, f64)) -> f64 {
    ((hi - lo) / 2.0 * 10.0).ceil().max(1.0) / 10.0
}

fn accounting_text(plan: &Plan) -> String {
    let c = plan.config;
    let k = plan.conditions.len() + 1;
    let by: Vec<&str> = c.by.iter().map(|d| d.name()).collect();
    let by = if by.is_empty() { "the whole extract".to_owned() } else { by.join(" × ") };
    let delta = if plan.delta_total > 0.0 {
        format!(", δ = {} in total ({} per query)", plan.delta_total, plan.delta_q)
    } else {
        String::new()
    };
    format!(
        "Released by `ehrsim marginals` from `{}` under differential privacy: {} noise (scale {}) on every count, \
         ε = {} in total{delta}, {} per query over {k} queries (persons per stratum, and cases per stratum of each of \
         {} condition(s)); strata: {by}. Neighbouring extracts differ by one person (one row); a person is in one \
         stratum, so each query has sensitivity 1 and its strata compose in parallel; the queries compose \
         sequentially. Every value here is computed from noisy counts only.",
        plan.extract_name,
        plan.noise.name(),
        fmt_eps(plan.noise.scale()),
        fmt_eps(c.epsilon.to_f64()),
        fmt_eps(plan.epsilon_q.to_f64()),
        plan.conditions.len(),
    )
}

fn targets_yaml(plan: &Plan, r: &Released) -> String {
    let c = plan.config;
    let mut o = String::new();
    let account = file_name(&privacy_file(&c.output));
    let ledger = file_name(&c.ledger);
    let notes = [
        accounting_text(plan),
        format!(
            "The privacy spent, per query and in total: {account}. The ledger of every release from this extract, \
             against its budget: {ledger}."
        ),
        format!(
            "Strata with a noisy count under {} persons are left out. Intervals are 95 % intervals that count both \
             the binomial sampling error and the noise; tolerances are their half-widths.",
            c.min_persons
        ),
    ];
    for (i, note) in notes.iter().enumerate() {
        if i > 0 {
            o.push_str("#\n");
        }
        for line in wrap(note, 96) {
            let _ = writeln!(o, "# {line}");
        }
    }
    if c.seed.is_some() {
        let _ = writeln!(
            o,
            "# WARNING: made with --seed, for tests: the noise can be recomputed, so this file is NOT private."
        );
    }
    let _ = writeln!(o, "name: {}", yaml_str(&format!("Private marginals of {}", plan.extract_name)));
    let _ = writeln!(o, "description: {}", yaml_str(&accounting_text(plan)));
    if let Some(d) = c.date {
        let _ = writeln!(o, "date: {d}");
    }
    if c.by.contains(&Dim::Age) {
        let bands: Vec<String> = c.bands.iter().map(u32::to_string).collect();
        let _ = writeln!(o, "age_bands: [{}]", bands.join(", "));
    }
    let _ = writeln!(o, "targets:");
    let variance = plan.noise.variance();
    let source = format!(
        "ehrsim marginals of {}, {}, ε = {} of {} in total",
        plan.extract_name,
        plan.noise.name(),
        fmt_eps(plan.epsilon_q.to_f64()),
        fmt_eps(c.epsilon.to_f64())
    );
    let population =
        if c.bands[0] > 0 { format!("    population: {{ age: \"{}+\" }}\n", c.bands[0]) } else { String::new() };
    for (ci, cond) in plan.conditions.iter().enumerate() {
        let codes: Vec<String> = cond.codes.iter().map(|x| yaml_str(x)).collect();
        let head = |o: &mut String, id: &str, label: &str| {
            let _ = writeln!(o, "  - id: {}", yaml_str(id));
            let _ = writeln!(o, "    label: {}", yaml_str(label));
            let _ = writeln!(o, "    measure: prevalence");
            let _ = writeln!(o, "    codes: [{}]", codes.join(", "));
            o.push_str(&population);
            let _ = writeln!(o, "    source: {}", yaml_str(&source));
        };
        // Overall: the sums of the noisy counts (the noise variances add up).
        let total_cases: i128 = r.cases[ci].iter().sum();
        let total_persons: i128 = r.persons.iter().sum();
        let total_variance = variance * r.persons.len() as f64;
        if let Some((value, interval)) = prevalence(total_cases, total_persons, total_variance, c.min_persons) {
            head(&mut o, &format!("{}-overall", cond.id), &format!("{} (all strata)", cond.column));
            let _ = writeln!(
                o,
                "    value: {}\n    interval: [{}, {}]\n    tolerance: {}",
                num(value),
                num(interval.0),
                num(interval.1),
                num(tolerance(interval))
            );
        }
        if c.by.is_empty() {
            continue;
        }
        let mut lines = Vec::new();
        for (si, stratum) in plan.strata.iter().enumerate() {
            let Some((value, interval)) = prevalence(r.cases[ci][si], r.persons[si], variance, c.min_persons) else {
                continue;
            };
            let keys: Vec<String> = stratum.iter().map(|(d, v)| format!("{}: {}", d.name(), yaml_str(v))).collect();
            lines.push(format!(
                "      - {{ {}, value: {}, interval: [{}, {}], tolerance: {} }}",
                keys.join(", "),
                num(value),
                num(interval.0),
                num(interval.1),
                num(tolerance(interval))
            ));
        }
        if lines.is_empty() {
            continue;
        }
        head(&mut o, &cond.id, &cond.column);
        let _ = writeln!(o, "    strata:");
        for l in lines {
            let _ = writeln!(o, "{l}");
        }
    }
    o
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

fn privacy_json(plan: &Plan, r: &Released, queries: &[Query], ledger: &Ledger) -> serde_json::Value {
    use serde_json::json;
    let c = plan.config;
    let by: Vec<&str> = c.by.iter().map(|d| d.name()).collect();
    let exact_delta = match plan.noise {
        Noise::Gaussian { sigma2 } => Some(noise::gaussian_delta(sigma2.to_f64(), 1, plan.epsilon_q.to_f64())),
        Noise::Laplace { .. } => None,
    };
    let queries: Vec<serde_json::Value> = queries
        .iter()
        .map(|q| {
            let what = match q.id.strip_prefix("cases:") {
                Some(id) => format!("cases of `{id}` per stratum"),
                None => "persons per stratum".into(),
            };
            json!({
                "id": q.id,
                "counts": what,
                "strata": plan.strata.len(),
                "sensitivity": 1,
                "epsilon": q.epsilon,
                "delta": q.delta,
                "delta_exact": exact_delta,
                "noise_scale": plan.noise.scale(),
            })
        })
        .collect();
    let released: Vec<serde_json::Value> = plan
        .strata
        .iter()
        .enumerate()
        .map(|(si, stratum)| {
            let key: serde_json::Map<String, serde_json::Value> =
                stratum.iter().map(|(d, v)| (d.name().to_owned(), json!(v))).collect();
            let cases: serde_json::Map<String, serde_json::Value> = plan
                .conditions
                .iter()
                .enumerate()
                .map(|(ci, cond)| (cond.id.clone(), json!(int(r.cases[ci][si]))))
                .collect();
            json!({ "stratum": key, "persons": int(r.persons[si]), "cases": cases })
        })
        .collect();
    json!({
        "tool": format!("ehrsim marginals {}", env!("CARGO_PKG_VERSION")),
        "extract": plan.extract_name,
        "targets": file_name(&c.output),
        "neighbouring": "add or remove one person (one row of the extract)",
        "mechanism": plan.noise.name(),
        "sampler": "exact integer sampler (Canonne, Kamath & Steinke 2020), ChaCha20 seeded from the operating system",
        "seeded": c.seed.is_some(),
        "noise_scale": plan.noise.scale(),
        "noise_variance": plan.noise.variance(),
        "epsilon": c.epsilon.to_f64(),
        "delta": plan.delta_total,
        "composition": "each query: sensitivity 1, its strata in parallel (a person is in one stratum); queries: sequential, ε and δ add up",
        "strata_by": by,
        "age_bands": c.bands,
        "min_persons": c.min_persons,
        "queries": queries,
        "epsilon_total": queries_total(plan),
        "ledger": {
            "file": file_name(&c.ledger),
            "epsilon_spent_before": ledger.epsilon_spent - c.epsilon.to_f64(),
            "epsilon_spent_after": ledger.epsilon_spent,
            "delta_spent_after": ledger.delta_spent,
            "budget": ledger.budget,
        },
        "released_noisy_counts": released,
    })
}

fn int(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

fn queries_total(plan: &Plan) -> f64 {
    plan.epsilon_q.to_f64() * (plan.conditions.len() + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prevalences_from_noisy_counts() {
        assert_eq!(prevalence(10, 5, 1.0, 20), None);
        assert_eq!(prevalence(-3, 100, 2.0, 20).map(|p| p.0), Some(0.0));
        assert_eq!(prevalence(130, 100, 2.0, 20).map(|p| p.0), Some(100.0));
        let (v, (lo, hi)) = prevalence(100, 1000, 8.0, 20).unwrap();
        assert_eq!(v, 10.0);
        assert!(lo < 10.0 && hi > 10.0 && lo > 7.0 && hi < 13.0, "{lo} {hi}");
        assert_eq!(tolerance((8.0, 12.04)), 2.1);
        assert_eq!(slug("Type 2 Diabetes"), "type-2-diabetes");
        assert_eq!(fmt_eps(1.0 / 3.0), "0.333333");
        assert_eq!(fmt_eps(2.0), "2");
    }

    #[test]
    fn ledgers_sit_beside_the_output() {
        let l = default_ledger(Path::new("data/in/extract.csv"), Path::new("out/targets.yaml"));
        assert_eq!(l, Path::new("out/extract.csv.dp-ledger.json"));
        assert_eq!(privacy_file(Path::new("out/t.yaml")), Path::new("out/t.yaml.privacy.json"));
    }
}
