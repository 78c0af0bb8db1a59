//! `ehrsim marginals`: a targets file from an extract of real data, under differential privacy.

use super::{EXIT_FAILURE, EXIT_INPUT, EXIT_USAGE, fail, parse_date, write_stdout};
use crate::marginals::extract::Dim;
use crate::marginals::noise::Ratio;
use crate::marginals::{Config, Error, Mechanism, default_ledger, fmt_eps};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ehrsim marginals --input extract.csv --epsilon 1 --budget 3 --codes diabetes=44054006 -o targets.yaml
  ehrsim marginals --input extract.csv --epsilon 0.5 --mechanism gaussian --delta 1e-7 \\
      --by age,sex,race --age-bands 18,45,65 --conditions diabetes,asthma \\
      --codes diabetes=44054006,asthma=195967001 -o targets.yaml

The extract is a CSV with one row per person: `age` (whole years) or `birthdate` (with --date),
`sex` (M/F), `race` (white, black, asian, native, hawaiian, other), `ethnicity` (hispanic,
nonhispanic), and one 0/1 column per condition. The release is the count of persons and of
each condition's cases per stratum, each with noise; the ε spent goes to a ledger shared by
every release from the same extract (default: <extract name>.dp-ledger.json beside -o), and a
release that would take it past --budget is refused before anything is read. Writes the
targets file and <output>.privacy.json (ε and δ per query and in total). No row and no exact
count is written anywhere.

Exit codes: 0 released; 1 bad extract or ledger, or over budget (nothing released);
2 bad command line; 3 an output could not be written")]
pub struct MarginalsArgs {
    /// The extract: CSV, one row per person
    #[arg(long, value_name = "CSV")]
    pub input: PathBuf,
    /// Total ε of this release, split evenly over its queries (persons, and each condition)
    #[arg(long, value_name = "E")]
    pub epsilon: String,
    /// Total ε allowed over every release from this extract (kept in the ledger; it can be
    /// lowered later, never raised)
    #[arg(long, value_name = "B")]
    pub budget: Option<f64>,
    /// The noise: discrete Laplace (ε-DP) or discrete Gaussian ((ε, δ)-DP, ε < 1 per query)
    #[arg(long, value_enum, default_value_t = Mechanism::Laplace)]
    pub mechanism: Mechanism,
    /// Total δ of a Gaussian release, split over its queries
    #[arg(long, value_name = "D")]
    pub delta: Option<f64>,
    /// Strata: any of age, sex, race, ethnicity (comma-separated)
    #[arg(long, value_delimiter = ',', default_value = "age,sex", value_name = "DIMS")]
    pub by: Vec<String>,
    /// Lower bounds of the age bands (comma-separated); people younger than the first are
    /// left out
    #[arg(long, value_delimiter = ',', default_value = "0,18,45,65", value_name = "AGES")]
    pub age_bands: Vec<u32>,
    /// Condition columns (comma-separated; default: every column that is not age, birthdate,
    /// sex, race or ethnicity)
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub conditions: Vec<String>,
    /// The code of a condition column, as COLUMN=CODE (comma-separated or repeated; a column
    /// named by its code needs none)
    #[arg(long, value_delimiter = ',', value_name = "COLUMN=CODE")]
    pub codes: Vec<String>,
    /// Leave out strata whose noisy count of persons is below this
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub min_persons: u64,
    /// The day ages are counted at (needed with a birthdate column); written as the targets' date
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// The privacy ledger (default: <extract file name>.dp-ledger.json beside the output)
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// FOR TESTS ONLY: draw the noise from this seed instead of the operating system's entropy.
    /// Anyone who knows the seed can recompute and remove the noise: the release is not private
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The targets file to write (YAML)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

fn config(args: &MarginalsArgs) -> Result<Config, String> {
    let epsilon = Ratio::parse_decimal(&args.epsilon)
        .filter(|r| r.num > 0)
        .ok_or_else(|| format!("--epsilon `{}` must be a positive decimal number, e.g. 1 or 0.5", args.epsilon))?;
    if let Some(b) = args.budget
        && !(b.is_finite() && b > 0.0)
    {
        return Err("--budget must be a positive number".into());
    }
    let mut by = Vec::new();
    for d in args.by.iter().filter(|d| !d.trim().is_empty()) {
        match Dim::parse(d) {
            Some(x) if !by.contains(&x) => by.push(x),
            Some(_) => return Err(format!("--by names `{d}` twice")),
            None => return Err(format!("--by: cannot break down by `{d}`; use age, sex, race or ethnicity")),
        }
    }
    if args.age_bands.is_empty() || args.age_bands.windows(2).any(|w| w[0] >= w[1]) {
        return Err("--age-bands must be ascending lower bounds, e.g. 18,45,65".into());
    }
    let mut codes = Vec::new();
    for c in &args.codes {
        match c.split_once('=') {
            Some((col, code)) if !col.trim().is_empty() && !code.trim().is_empty() => {
                let code = code.trim();
                let code = code.rsplit([' ', ':', '|']).next().unwrap_or(code);
                codes.push((col.trim().to_owned(), code.to_owned()));
            }
            _ => return Err(format!("--codes `{c}`: write COLUMN=CODE, e.g. diabetes=44054006")),
        }
    }
    let date = args.date.as_deref().map(|d| parse_date("--date", d)).transpose()?;
    let ledger = args.ledger.clone().unwrap_or_else(|| default_ledger(&args.input, &args.output));
    Ok(Config {
        input: args.input.clone(),
        output: args.output.clone(),
        ledger,
        epsilon,
        budget: args.budget,
        mechanism: args.mechanism,
        delta: args.delta,
        by,
        bands: args.age_bands.clone(),
        conditions: if args.conditions.is_empty() { None } else { Some(args.conditions.clone()) },
        codes,
        min_persons: args.min_persons,
        date,
        seed: args.seed,
    })
}

pub fn marginals(args: &MarginalsArgs) -> u8 {
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    if config.seed.is_some() {
        eprintln!("warning: --seed makes the noise reproducible: this release is NOT private (for tests only)");
    }
    let summary = match crate::marginals::run(&config) {
        Ok(s) => s,
        Err(e) => {
            let code = match e {
                Error::Usage(_) => EXIT_USAGE,
                Error::Input(_) | Error::OverBudget { .. } => EXIT_INPUT,
                Error::Io(_) => EXIT_FAILURE,
            };
            return fail(code, e);
        }
    };
    let delta = if summary.delta > 0.0 { format!(", δ = {}", summary.delta) } else { String::new() };
    let budget = summary.budget.map_or_else(|| "no budget set".to_owned(), |b| format!("budget ε = {}", fmt_eps(b)));
    let text = format!(
        "released {} queries (persons and {} condition(s)) over {} {} with {} noise: ε = {}{delta}\n\
         ledger `{}`: ε = {} spent in total, {budget}\n\
         wrote `{}` and `{}`\n",
        summary.queries,
        summary.conditions,
        summary.strata,
        if summary.strata == 1 { "stratum" } else { "strata" },
        summary.mechanism,
        fmt_eps(summary.epsilon),
        summary.ledger.display(),
        fmt_eps(summary.spent),
        config.output.display(),
        summary.privacy_file.display()
    );
    write_stdout(text.as_bytes())
}
