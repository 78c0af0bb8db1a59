//! Every module in `modules/` and `examples/` (and the valid test modules) validates against
//! the JSON Schema editors use, `schemas/module.schema.json`, and loads with no diagnostics.

use ehrsim::cli::build;
use ehrsim::diagnostic::{Diagnostics, Style, render};
use ehrsim::load::Request;
use ehrsim::source::Sources;
use std::path::{Path, PathBuf};

fn module_files(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "lookup_tables") {
                module_files(&path, out);
            }
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            let text = std::fs::read_to_string(&path).unwrap();
            // Only module files: other YAML in examples/ (targets, configs) is not a module.
            if text.contains("states:") || text.contains("\"states\"") {
                out.push(path);
            }
        }
    }
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string("schemas/module.schema.json").unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("the schema itself is valid")
}

#[test]
fn modules_and_examples_validate_against_the_schema() {
    let validator = schema();
    let mut files = Vec::new();
    for root in ["modules", "examples", "tests/data/good"] {
        module_files(Path::new(root), &mut files);
    }
    assert!(files.len() >= 18, "found {} module files", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut sources = Sources::new();
        let file = sources.add(path.display().to_string(), text);
        let mut diags = Diagnostics::new();
        let format = ehrsim::syntax::Format::from_path(&path.to_string_lossy());
        let node = ehrsim::syntax::parse(&sources, file, format, &mut diags).expect("parses");
        let value = ehrsim::syntax::to_json(&node);
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{} does not match the schema:\n{}", path.display(), errors.join("\n"));
    }
}

#[test]
fn schema_rejects_a_misspelled_state_type() {
    let validator = schema();
    let module = serde_json::json!({
        "name": "x",
        "states": { "Initial": { "type": "Initial", "direct_transition": "T" }, "T": { "type": "Termnal" } }
    });
    assert!(!validator.is_valid(&module));
}

#[test]
fn modules_and_examples_check_clean() {
    // Libraries load as a whole: submodules read attributes their callers set.
    for root in ["modules", "examples/custom-module"] {
        let (set, compilation) = build(&[Request::for_path(Path::new(root)).unwrap()]);
        let text: String = compilation.diagnostics.iter().map(|d| render(&set.sources, d, Style::Short)).collect();
        assert!(compilation.diagnostics.is_empty(), "{root}:\n{text}");
        let library = compilation.library.expect("compiles");
        // Every module file is in the compiled library.
        let mut files = Vec::new();
        module_files(Path::new(root), &mut files);
        assert!(!files.is_empty());
        for path in files {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let rel = rel.to_string_lossy().replace('\\', "/");
            assert!(library.module_by_path(&rel).is_some(), "{} is not in the library", path.display());
        }
    }
}

/// The embedded library is `modules/`, whole, and has a description for every top-level module.
#[test]
fn embedded_library_is_the_modules_directory() {
    let (_, compilation) = build(&[Request { tree: Box::new(ehrsim::embedded::tree()), only: None }]);
    assert!(compilation.diagnostics.is_empty());
    let library = compilation.library.expect("compiles");
    let mut files = Vec::new();
    module_files(Path::new("modules"), &mut files);
    assert_eq!(library.modules.len(), files.len());
    for (_, m) in library.top_level() {
        assert!(m.description.as_deref().is_some_and(|d| !d.is_empty() && !d.contains('\n')), "{}", m.path);
    }
    assert!(library.top_level().count() >= 18);
}

/// Targets files validate against `schemas/targets.schema.json` and parse without diagnostics;
/// the schema rejects what the parser rejects.
#[test]
fn targets_files_validate_against_their_schema() {
    let text = std::fs::read_to_string("schemas/targets.schema.json").unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples/targets")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.push(PathBuf::from("tests/data/calibrate/targets.yaml"));
    assert!(files.len() >= 3);
    for path in files {
        let mut sources = Sources::new();
        let file = sources.add(path.display().to_string(), std::fs::read_to_string(&path).unwrap());
        let mut diags = Diagnostics::new();
        let node = ehrsim::syntax::parse(&sources, file, ehrsim::syntax::Format::Yaml, &mut diags).expect("parses");
        let errors: Vec<String> = validator
            .iter_errors(&ehrsim::syntax::to_json(&node))
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}:\n{}", path.display(), errors.join("\n"));
        let parsed = ehrsim::stats::targets::parse(&sources, file, &mut diags);
        assert!(parsed.is_some() && diags.is_empty(), "{} has diagnostics", path.display());
    }
    let bad = serde_json::json!({ "targets": [{ "measure": "prevalance", "codes": ["1"], "value": 2 }] });
    assert!(!validator.is_valid(&bad));
    let bad = serde_json::json!({ "targets": [{ "measure": "prevalence", "value": 2 }] });
    assert!(!validator.is_valid(&bad), "prevalence needs codes");
}
