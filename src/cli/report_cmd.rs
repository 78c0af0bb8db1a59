//! `ehrsim report`: the HTML report of a stats JSON (and of an earlier one, side by side).

use super::{EXIT_FAILURE, EXIT_INPUT, EXIT_OK, fail};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ehrsim stats -p 5000 -r 2025-01-01 --targets examples/targets/diabetes.yaml --json stats.json
  ehrsim report --stats stats.json -o report.html
  ehrsim report --stats after.json --before before.json --title \"Calibration\" -o report.html

The page is self-contained (inline CSS and SVG, no script, nothing fetched): an age-sex
pyramid, every measure with a target against it, subgroup representation against the US
2020 Census, and the pass/fail table (before and after with --before).

Exit codes: 0 success; 1 a stats file is missing or not stats JSON; 2 bad command line;
3 the report could not be written")]
pub struct ReportArgs {
    /// The JSON written by `ehrsim stats --json FILE`
    #[arg(long, value_name = "FILE")]
    pub stats: PathBuf,
    /// The JSON of an earlier run (e.g. before calibration), shown beside --stats
    #[arg(long, value_name = "FILE")]
    pub before: Option<PathBuf>,
    /// The page's title
    #[arg(long, default_value = "ehrsim report", value_name = "TEXT")]
    pub title: String,
    /// Where to write the HTML
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// Reads a stats JSON file, with an error naming the file.
pub fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("`{}` is not valid JSON: {e}", path.display()))
}

pub fn report(args: &ReportArgs) -> u8 {
    let after = match read_json(&args.stats) {
        Ok(v) => v,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let before = match args.before.as_deref().map(read_json).transpose() {
        Ok(v) => v,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let page = match crate::report::html(&after, before.as_ref(), &args.title) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    if let Err(e) = crate::atomic::write(&args.output, page.as_bytes()) {
        return fail(EXIT_FAILURE, format!("cannot write `{}`: {e}", args.output.display()));
    }
    EXIT_OK
}
