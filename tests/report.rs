//! `ehrsim report` and `ehrsim stats --html`, run as a user would: the page and its sections,
//! before/after, and exit codes on missing or invalid input.
//!
//! `tests/data/report/{after,before}.json` were written by
//! `ehrsim stats -p 400 -s {1,7} -r 2025-01-01 -q --top 5 --json …` with a small targets file.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ehrsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ehrsim")).args(args).env("NO_COLOR", "1").output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ehrsim-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SECTIONS: [&str; 4] = ["pyramid", "prevalence", "subgroups", "passfail"];

#[test]
fn report_has_every_section_and_nothing_external() {
    let dir = temp_dir("one");
    let out = dir.join("report.html");
    let o = ehrsim(&["report", "--stats", "tests/data/report/after.json", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    for id in SECTIONS {
        assert!(page.contains(&format!("<section id=\"{id}\"")), "section {id} missing");
    }
    // The charts: a pyramid, a chart per target group, four subgroup charts.
    assert!(page.contains("id=\"pyramid-chart\""));
    assert!(page.contains("id=\"prevalence-0\""));
    for i in 0..4 {
        assert!(page.contains(&format!("id=\"subgroups-{i}\"")));
    }
    // Accessible SVG: a title and description per chart, tooltips on marks.
    assert_eq!(page.matches("role=\"img\"").count(), page.matches("<desc id=").count());
    assert!(page.matches("</title></rect>").count() > 10);
    // Self-contained: no script, no stylesheet or image fetched.
    for bad in ["<script", "<link", "<img", "src=", "@import", "url("] {
        assert!(!page.contains(bad), "the page contains `{bad}`");
    }
    assert!(!dir.join(".report.html.partial").exists());
}

#[test]
fn before_and_after_are_shown_side_by_side() {
    let dir = temp_dir("two");
    let out = dir.join("r.html");
    let o = ehrsim(&[
        "report",
        "--stats",
        "tests/data/report/after.json",
        "--before",
        "tests/data/report/before.json",
        "--title",
        "Calibration <check>",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.contains("<title>Calibration &lt;check&gt;</title>"));
    assert!(page.contains("scope=\"colgroup\" colspan=\"3\">before</th>"));
    assert!(page.contains("distance to target"));
    assert!(page.contains(" before: "), "no before marks in the prevalence chart");
}

#[test]
fn missing_or_invalid_stats_exit_one_with_a_clear_message() {
    let dir = temp_dir("bad");
    let out = dir.join("r.html");
    let o = ehrsim(&["report", "--stats", "tests/data/report/nope.json", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error: cannot read `tests/data/report/nope.json`"), "{}", stderr(&o));

    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{ \"population\": [").unwrap();
    let o = ehrsim(&["report", "--stats", broken.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not valid JSON"), "{}", stderr(&o));

    let other = dir.join("other.json");
    std::fs::write(&other, "{ \"resourceType\": \"Bundle\" }").unwrap();
    let o = ehrsim(&[
        "report",
        "--stats",
        "tests/data/report/after.json",
        "--before",
        other.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("the --before stats JSON has no `population` list"), "{}", stderr(&o));
    assert!(!out.exists());

    let o = ehrsim(&["report", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a missing --stats is a usage error");
}

#[test]
fn stats_writes_the_report_too() {
    let dir = temp_dir("stats");
    let out = dir.join("stats.html");
    let o = ehrsim(&["stats", "-p", "60", "-s", "3", "-r", "2025-01-01", "-q", "--html", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&out).unwrap();
    for id in SECTIONS {
        assert!(page.contains(&format!("<section id=\"{id}\"")), "section {id} missing");
    }
}
