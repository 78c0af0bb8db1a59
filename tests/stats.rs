//! `ehrsim stats`, `ehrsim calibrate` and overlays, through the real binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ehrsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ehrsim")).args(args).env("NO_COLOR", "1").output().expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ehrsim-stats-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json written")).expect("valid json")
}

/// Statistics read back from the CSV output equal the ones computed in memory during a run.
#[test]
fn csv_and_in_memory_statistics_agree() {
    let dir = temp_dir("same");
    let out = dir.join("run");
    let o = ehrsim(&["-p", "250", "-s", "4", "-r", "2025-01-01", "-q", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let args = ["--condition", "diabetes", "--condition", "asthma", "--by", "age,sex", "--top", "0", "--json"];
    let mut from_csv: Vec<&str> = vec!["stats", out.to_str().unwrap()];
    from_csv.extend(args);
    from_csv.push(a.to_str().unwrap());
    let o = ehrsim(&from_csv);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut in_memory: Vec<&str> = vec!["stats", "-p", "250", "-s", "4", "-r", "2025-01-01", "-q"];
    in_memory.extend(args);
    in_memory.push(b.to_str().unwrap());
    let o = ehrsim(&in_memory);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (a, b) = (json(&a), json(&b));
    assert_eq!(a["alive"], b["alive"]);
    assert!(a["alive"].as_u64().unwrap() > 200);
    assert_eq!(a["measures"], b["measures"], "measures differ between CSV and in-memory statistics");
    // The module names were resolved to their conditions, and the quality measures are there.
    let ids: Vec<&str> = a["measures"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    for id in ["44054006", "195967001", "bp-control", "a1c-control", "crc-screening"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A broken targets file is reported with file, line and column, and nothing runs.
#[test]
fn bad_targets_files_have_located_errors() {
    let dir = temp_dir("bad");
    let cases = [
        (
            "measure.yaml",
            "targets:\n  - id: x\n    measure: prevalance\n    codes: [1]\n    value: 2\n",
            ":3:14",
            "prevalence",
        ),
        (
            "age.yaml",
            "targets:\n  - measure: prevalence\n    codes: [1]\n    population: { age: old }\n    value: 2\n",
            ":4:24",
            "18-44",
        ),
        (
            "key.yaml",
            "targets:\n  - measure: prevalence\n    codes: [1]\n    value: 2\n    tolerence: 1\n",
            ":5:5",
            "tolerance",
        ),
        (
            "race.yaml",
            "targets:\n  - measure: prevalence\n    codes: [1]\n    strata:\n      - { race: whit, value: 1 }\n",
            ":5:17",
            "white",
        ),
    ];
    for (name, body, at, hint) in cases {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let o = ehrsim(&["stats", "-p", "5", "-q", "--targets", path.to_str().unwrap()]);
        let err = text(&o.stderr);
        let located = format!("{name}{at}");
        // Unknown keys are warnings: the run goes on, but the message is there.
        if name == "key.yaml" {
            assert!(err.contains(&located) && err.contains(hint), "{name}: {err}");
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(&located), "{name}: expected {located} in {err}");
        assert!(err.contains(hint), "{name}: expected the hint `{hint}` in {err}");
        assert!(o.stdout.is_empty(), "{name}: nothing runs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Calibration reaches the targets, writes the same overlay twice for one seed, and the
/// overlay applied by `generate`/`stats --overlay` gives the calibrated population.
#[test]
fn calibration_is_deterministic_and_its_overlay_applies() {
    let dir = temp_dir("calibrate");
    let overlay = |name: &str| {
        let path = dir.join(name);
        let o = ehrsim(&[
            "calibrate",
            "-t",
            "tests/data/calibrate/targets.yaml",
            "--modules-dir",
            "tests/data/calibrate/modules",
            "-p",
            "1500",
            "-q",
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
        let out = text(&o.stdout);
        assert!(out.contains("2 of 2 targets met (before: 0)"), "{out}");
        std::fs::read_to_string(path).unwrap()
    };
    let first = overlay("one.yaml");
    let second = overlay("two.yaml");
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&first), strip(&second), "the same seed must give the same overlay");
    assert!(first.contains("factor: ") && !first.contains("factor: 1.000000"), "{first}");

    // Applied to the same sample it passes the targets; without it the targets fail.
    let check = |with: bool| {
        let mut args = vec![
            "stats",
            "-p",
            "1500",
            "-s",
            "1",
            "-r",
            "2025-01-01",
            "-q",
            "--modules-dir",
            "tests/data/calibrate/modules",
            "--targets",
            "tests/data/calibrate/targets.yaml",
            "--check",
            "--top",
            "0",
        ];
        let path = dir.join("one.yaml");
        if with {
            args.extend(["--overlay", path.to_str().unwrap()]);
        }
        ehrsim(&args).status.code()
    };
    assert_eq!(check(true), Some(0));
    assert_eq!(check(false), Some(1));

    // A broken overlay is an input error, not a panic.
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "parameters:\n  - { module: risk, state: Nowhere, factor: 2 }\n").unwrap();
    let o =
        ehrsim(&["-p", "5", "-q", "--modules-dir", "tests/data/calibrate/modules", "--overlay", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("has no state `Nowhere`"), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
