//! The real binary, run as a user would: exit codes, messages, output files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A small builder around the `ehrsim` binary.
struct Run {
    cmd: Command,
}

fn ehrsim(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ehrsim"));
    cmd.args(args).env("NO_COLOR", "1");
    Run { cmd }
}

impl Run {
    fn output(mut self) -> Output {
        self.cmd.output().expect("the binary runs")
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ehrsim-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_clean_directory_exits_zero() {
    let o = ehrsim(&["check", "tests/data/good"]).output();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 errors, 0 warnings"), "{}", stdout(&o));
}

#[test]
fn check_reports_errors_with_location_and_exits_one() {
    let o = ehrsim(&["check", "tests/data/bad/unknown_state_type.yaml"]).output();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("error[unknown-state-type]"), "{err}");
    assert!(err.contains("tests/data/bad/unknown_state_type.yaml:25:11"), "{err}");
    assert!(err.contains("did you mean `ConditionOnset`?"), "{err}");
}

#[test]
fn check_reports_every_problem_of_a_directory_at_once() {
    let o = ehrsim(&["check", "--format", "short", "tests/data/bad"]).output();
    assert_eq!(o.status.code(), Some(1));
    let lines = stderr(&o).lines().filter(|l| l.contains(": error[") || l.contains(": warning[")).count();
    let count = |dir: &str| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                matches!(e.as_ref().unwrap().path().extension().and_then(|x| x.to_str()), Some("yaml" | "json"))
            })
            .count()
    };
    let files = count("tests/data/bad") + count("tests/data/bad/json");
    assert_eq!(lines, files, "one diagnostic per bad module:\n{}", stderr(&o));
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let path = "tests/data/bad/unreachable_state.yaml";
    assert_eq!(ehrsim(&["check", path]).output().status.code(), Some(0));
    assert_eq!(ehrsim(&["check", "--deny-warnings", path]).output().status.code(), Some(1));
}

#[test]
fn check_missing_path_is_a_clear_error() {
    let o = ehrsim(&["check", "no/such/dir"]).output();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error: cannot read `no/such/dir`"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_two() {
    let o = ehrsim(&["check"]).output();
    assert_eq!(o.status.code(), Some(2));
    let o = ehrsim(&["graph", "tests/data/good/distributed.yaml", "--format", "png"]).output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("possible values"), "{}", stderr(&o));
}

#[test]
fn help_documents_exit_codes() {
    let o = ehrsim(&["check", "--help"]).output();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Exit codes"));
}

#[test]
fn graph_writes_dot_svg_and_mermaid() {
    let dir = temp_dir("graph");
    for (format, marker) in [("dot", "digraph"), ("svg", "<svg"), ("mermaid", "flowchart TD")] {
        let out = dir.join(format!("g.{format}"));
        let o = ehrsim(&[
            "graph",
            "tests/data/good/submodule_caller.yaml",
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
        ])
        .output();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(marker), "{format}: {text}");
        assert!(text.contains("Initial"), "{format}");
    }
    // Only the finished files are left: no temporary names.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn graph_of_a_broken_module_fails_without_output() {
    let dir = temp_dir("graph-broken");
    let out = dir.join("g.svg");
    let o = ehrsim(&["graph", "tests/data/bad/missing_initial_state.yaml", "-o", out.to_str().unwrap()]).output();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error[missing-initial]"));
    assert!(!Path::new(&out).exists());
}

#[test]
fn graph_to_unwritable_path_exits_three() {
    let o = ehrsim(&["graph", "tests/data/good/distributed.yaml", "-o", "/nonexistent-dir/x.svg"]).output();
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("cannot write"));
}
