//! Data-driven diagnostics tests: every module in `tests/data/bad` must produce exactly one
//! diagnostic, rendered with file:line:col, and the rendered text is pinned by a snapshot.
//! Every module in `tests/data/good` must check clean.

use ehrsim::cli::build;
use ehrsim::diagnostic::{Style, render};
use ehrsim::load::Request;
use std::path::{Path, PathBuf};

fn module_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "json")))
        .collect();
    files.sort();
    files
}

fn check(path: &Path) -> (String, usize, ehrsim::diagnostic::Diagnostics) {
    let (set, compilation) = build(&[Request::for_path(path).unwrap()]);
    let text: String = compilation.diagnostics.iter().map(|d| render(&set.sources, d, Style::Rich)).collect();
    (text, compilation.diagnostics.len(), compilation.diagnostics)
}

#[test]
fn every_bad_module_reports_one_located_diagnostic() {
    let mut files = module_files("tests/data/bad");
    files.extend(module_files("tests/data/bad/json"));
    assert!(files.len() >= 25, "the corpus holds {} bad modules", files.len());
    let mut kinds = std::collections::BTreeSet::new();
    for path in &files {
        let (text, count, diags) = check(path);
        let name = path.file_name().unwrap().to_string_lossy().replace('.', "_");
        let name = if path.parent().is_some_and(|p| p.ends_with("json")) { format!("json_{name}") } else { name };
        assert_eq!(count, 1, "{} should give exactly one diagnostic, got:\n{text}", path.display());
        let d = diags.iter().next().unwrap();
        kinds.insert(d.kind.name());
        let span = d.span.expect("located");
        let _ = span;
        let location = format!("{}:", path.display());
        assert!(text.contains(&location), "{}: the diagnostic names no file:line:col:\n{text}", path.display());
        insta::with_settings!({snapshot_path => "snapshots/bad", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!(name, text);
        });
    }
    // The corpus covers the problem classes of the module-language issue.
    for kind in [
        "syntax",
        "wrong-type",
        "missing-field",
        "unknown-state-type",
        "unknown-condition-type",
        "unknown-distribution",
        "unknown-unit",
        "unknown-operator",
        "unknown-vital-sign",
        "undefined-state",
        "missing-initial",
        "missing-transition",
        "multiple-transitions",
        "weight-out-of-range",
        "weights-above-one",
        "weights-below-one",
        "missing-submodule",
        "missing-lookup-table",
        "lookup-table-mismatch",
        "wrong-state-kind",
        "unresolved-reason",
        "unreachable-state",
        "zero-time-cycle",
        "unknown-key",
        "unsupported-version",
        "value-out-of-range",
    ] {
        assert!(kinds.contains(kind), "no bad module demonstrates `{kind}`");
    }
}

#[test]
fn good_modules_check_clean_and_compile() {
    let (set, compilation) = build(&[Request::for_path(Path::new("tests/data/good")).unwrap()]);
    let text: String = compilation.diagnostics.iter().map(|d| render(&set.sources, d, Style::Short)).collect();
    assert!(compilation.diagnostics.is_empty(), "unexpected diagnostics:\n{text}");
    let library = compilation.library.expect("compiles");
    assert!(library.module_by_path("sub/give_med").is_some());
    assert!(library.modules.len() >= 15);
}

#[test]
fn short_format_names_file_line_and_column() {
    let path = Path::new("tests/data/bad/unknown_state_type.yaml");
    let (set, compilation) = build(&[Request::for_path(path).unwrap()]);
    let d = compilation.diagnostics.iter().next().unwrap();
    let line = render(&set.sources, d, Style::Short);
    let text = std::fs::read_to_string(path).unwrap();
    let (row, col) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| if l.starts_with('#') { None } else { l.find("ConditonOnset").map(|c| (i + 1, c + 1)) })
        .unwrap();
    assert!(
        line.starts_with(&format!("tests/data/bad/unknown_state_type.yaml:{row}:{col}: error[unknown-state-type]")),
        "{line}"
    );
}
