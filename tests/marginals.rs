//! `ehrsim marginals`, run as a user would: budgets that add up across invocations through the
//! ledger, refusals that release nothing, output that is a valid targets file, and no raw row
//! in any file written. (The noise distributions are tested in `src/marginals/noise.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ehrsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ehrsim")).args(args).env("NO_COLOR", "1").output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ehrsim-marginals-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const MARKER: &str = "ZQX-MARKER-4417";

/// A synthetic extract of 600 people, with a `note` column holding a value found nowhere else.
fn extract(dir: &Path) -> PathBuf {
    let mut text = String::from("age,sex,race,ethnicity,diabetes,asthma,note\n");
    let races = ["white", "black", "asian", "white", "other", "white"];
    for i in 0..600u32 {
        let age = 18 + (i * 37) % 72;
        let sex = if i % 2 == 0 { "M" } else { "F" };
        let eth = if i % 5 == 0 { "hispanic" } else { "nonhispanic" };
        let diabetes = u32::from((i * 7) % 10 == 0 || age > 70 && i % 3 == 0);
        let asthma = u32::from(i % 11 == 0);
        let note = if i == 17 { MARKER.to_owned() } else { format!("n{i}") };
        text.push_str(&format!("{age},{sex},{},{eth},{diabetes},{asthma},{note}\n", races[i as usize % 6]));
    }
    let path = dir.join("extract.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn release(dir: &Path, input: &Path, out: &str, extra: &[&str]) -> Output {
    let out = dir.join(out);
    let mut args = vec![
        "marginals",
        "--input",
        input.to_str().unwrap(),
        "--conditions",
        "diabetes,asthma",
        "--codes",
        "diabetes=44054006,asthma=SNOMED-CT:195967001",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ehrsim(&args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn parse_targets(path: &Path) -> ehrsim::stats::targets::TargetsFile {
    let mut sources = ehrsim::source::Sources::new();
    let file = sources.add(path.display().to_string(), std::fs::read_to_string(path).unwrap());
    let mut diags = ehrsim::diagnostic::Diagnostics::new();
    let parsed = ehrsim::stats::targets::parse(&sources, file, &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    parsed.expect("a valid targets file")
}

#[test]
fn budgets_add_up_across_invocations_and_an_over_budget_request_is_refused() {
    let dir = temp_dir("budget");
    let input = extract(&dir);
    let ledger = dir.join("extract.csv.dp-ledger.json");

    let o = release(&dir, &input, "a.yaml", &["--epsilon", "1", "--budget", "1.5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&ledger)["epsilon_spent"], 1.0);

    // The budget recorded in the ledger holds without --budget.
    let o = release(&dir, &input, "b.yaml", &["--epsilon", "0.5", "--by", "sex", "--mechanism", "laplace"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let l = json(&ledger);
    assert_eq!(l["epsilon_spent"], 1.5);
    assert_eq!(l["budget"], 1.5);
    assert_eq!(l["releases"].as_array().unwrap().len(), 2);
    let account = json(&dir.join("b.yaml.privacy.json"));
    assert_eq!(account["ledger"]["epsilon_spent_before"], 1.0);
    assert_eq!(account["ledger"]["epsilon_spent_after"], 1.5);

    // A third release would take the total to 1.6 > 1.5, and a larger --budget cannot raise it.
    let before = std::fs::read(&ledger).unwrap();
    let o = release(&dir, &input, "c.yaml", &["--epsilon", "0.1", "--budget", "10"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("over budget: this release needs ε = 0.1")
            && err.contains("records ε = 1.5 already spent of a budget of ε = 1.5 (0 left); nothing was released"),
        "{err}"
    );
    assert!(!dir.join("c.yaml").exists() && !dir.join("c.yaml.privacy.json").exists());
    assert_eq!(std::fs::read(&ledger).unwrap(), before, "a refused release changes nothing");
}

#[test]
fn a_first_request_over_budget_writes_nothing() {
    let dir = temp_dir("over");
    let input = extract(&dir);
    let o = release(&dir, &input, "t.yaml", &["--epsilon", "2", "--budget", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("needs ε = 2") && stderr(&o).contains("budget of ε = 1 (1 left)"), "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("extract.csv")], "only the extract is there");
}

#[test]
fn the_output_is_a_targets_file_and_holds_no_raw_row() {
    let dir = temp_dir("output");
    let input = extract(&dir);
    let o =
        release(&dir, &input, "t.yaml", &["--epsilon", "1", "--by", "age,sex,ethnicity", "--age-bands", "18,45,65"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let targets = parse_targets(&dir.join("t.yaml"));
    assert!(targets.measures.iter().any(|m| m.id == "diabetes-overall"));
    assert!(targets.measures.iter().any(|m| m.id.starts_with("asthma[")));
    assert_eq!(targets.age_bands, Some(vec![0, 18, 45, 65]));
    for m in &targets.measures {
        let t = m.target.as_ref().unwrap();
        assert!((0.0..=100.0).contains(&t.value));
        let (lo, hi) = t.interval.unwrap();
        assert!(lo <= t.value && t.value <= hi);
    }
    let text = std::fs::read_to_string(dir.join("t.yaml")).unwrap();
    assert!(text.contains("\"195967001\""), "codes written as the bare code");
    // The accounting: ε per query adds up to the total; sensitivity 1 each.
    let account = json(&dir.join("t.yaml.privacy.json"));
    let queries = account["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 3);
    let sum: f64 = queries.iter().map(|q| q["epsilon"].as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-12);
    assert!(queries.iter().all(|q| q["sensitivity"] == 1 && q["strata"] == 3 * 2 * 2));
    assert_eq!(account["mechanism"], "discrete Laplace");
    assert_eq!(account["noise_scale"], 3.0);
    // No raw row anywhere: the marker of one person's row is in no file, nor in the messages.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path != input {
            let content = std::fs::read_to_string(&path).unwrap();
            assert!(!content.contains(MARKER), "{} holds a raw value", path.display());
            assert!(!content.contains("nonhispanic,1,0"), "{} holds a raw row", path.display());
        }
    }
    assert!(!String::from_utf8_lossy(&o.stdout).contains(MARKER));
}

#[test]
fn gaussian_releases_account_for_delta() {
    let dir = temp_dir("gauss");
    let input = extract(&dir);
    let o = release(&dir, &input, "g.yaml", &["--epsilon", "0.9", "--mechanism", "gaussian", "--delta", "3e-6"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    parse_targets(&dir.join("g.yaml"));
    let account = json(&dir.join("g.yaml.privacy.json"));
    assert_eq!(account["mechanism"], "discrete Gaussian");
    let sigma = (2.0 * (1.25f64 / 1e-6).ln()).sqrt() / 0.3;
    assert!((account["noise_scale"].as_f64().unwrap() - sigma).abs() < 1e-3);
    let queries = account["queries"].as_array().unwrap();
    let delta: f64 = queries.iter().map(|q| q["delta"].as_f64().unwrap()).sum();
    assert!((delta - 3e-6).abs() < 1e-15);
    assert!(queries.iter().all(|q| q["delta_exact"].as_f64().unwrap() <= 1e-6));
    assert_eq!(json(&dir.join("extract.csv.dp-ledger.json"))["delta_spent"], 3e-6);

    // ε of 1 per query is beyond the classical calibration; no δ is a usage error.
    let o = release(&dir, &input, "h.yaml", &["--epsilon", "3", "--mechanism", "gaussian", "--delta", "1e-6"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ε < 1 per query"), "{}", stderr(&o));
    let o = release(&dir, &input, "h.yaml", &["--epsilon", "0.5", "--mechanism", "gaussian"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs --delta"));
    assert!(!dir.join("h.yaml").exists());
}

#[test]
fn bad_extracts_are_refused_without_their_values() {
    let dir = temp_dir("bad");
    let input = dir.join("extract.csv");
    std::fs::write(&input, format!("age,sex,diabetes\n40,M,1\n41,F,{MARKER}\n")).unwrap();
    let o = ehrsim(&[
        "marginals",
        "--input",
        input.to_str().unwrap(),
        "--epsilon",
        "1",
        "--codes",
        "diabetes=44054006",
        "-o",
        dir.join("t.yaml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("line 3, column `diabetes`: expected a condition flag"), "{err}");
    assert!(!err.contains(MARKER));
    assert!(!dir.join("t.yaml").exists());
    // The ledger records the ε only once the rows are read: a failed read spends nothing.
    assert!(!dir.join("extract.csv.dp-ledger.json").exists());

    let o = ehrsim(&["marginals", "--input", input.to_str().unwrap(), "--epsilon", "0", "-o", "x.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--epsilon `0` must be a positive decimal number"));
    let o = ehrsim(&["marginals", "--input", input.to_str().unwrap(), "--epsilon", "1", "-o", "x.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs its code: --codes diabetes=SNOMED_CODE"), "{}", stderr(&o));
    let o = release(&dir, &input, "t.yaml", &["--epsilon", "1", "--by", "race"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("has no `race` column"), "{}", stderr(&o));
}

#[test]
fn a_seed_makes_the_release_reproducible_and_says_it_is_not_private() {
    let dir = temp_dir("seed");
    let input = extract(&dir);
    for name in ["a.yaml", "b.yaml"] {
        let o = release(&dir, &input, name, &["--epsilon", "1", "--seed", "5"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains("NOT private"));
    }
    let a = std::fs::read_to_string(dir.join("a.yaml")).unwrap();
    let b = std::fs::read_to_string(dir.join("b.yaml")).unwrap();
    assert_eq!(a.replace("a.yaml", "b.yaml"), b);
    assert!(a.contains("WARNING: made with --seed"));
    // Without a seed, two releases differ (OS entropy).
    for name in ["c.yaml", "d.yaml"] {
        let o = release(&dir, &input, name, &["--epsilon", "1"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let c = json(&dir.join("c.yaml.privacy.json"))["released_noisy_counts"].clone();
    let d = json(&dir.join("d.yaml.privacy.json"))["released_noisy_counts"].clone();
    assert_ne!(c, d);
    assert_eq!(json(&dir.join("extract.csv.dp-ledger.json"))["epsilon_spent"], 4.0);
}
