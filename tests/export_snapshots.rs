//! Fixed-seed two-patient runs in each format, pinned byte for byte by snapshots (bundles are
//! shown pretty-printed; the run-wide provider directory by its size, head and digest, as it
//! is the same in every run).

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(formats: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("ehrsim-snap-{formats}-{}", std::process::id()).replace(',', "-"));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_ehrsim"))
        .args(["-p", "2", "-s", "11", "-r", "2024-06-30", "-a", "30-45", "-q", "--format", formats, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A file as the snapshot shows it: whole, or summarized when it is the run-wide directory.
fn show(name: &str, bytes: &[u8]) -> String {
    let directory =
        ["organizations.csv", "providers.csv", "Organization.ndjson", "Practitioner.ndjson", "Location.ndjson"];
    let text = String::from_utf8_lossy(bytes);
    if directory.contains(&name) {
        let head: Vec<&str> = text.lines().take(3).collect();
        format!("({} lines, fnv64 {:016x}; first lines:)\n{}\n", text.lines().count(), fnv(bytes), head.join("\n"))
    } else if name.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        serde_json::to_string_pretty(&v).unwrap() + "\n"
    } else {
        text.into_owned()
    }
}

fn snapshot_dir(dir: &Path) -> String {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let mut out = String::new();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        out.push_str(&format!("=== {name}\n"));
        out.push_str(&show(&name, &std::fs::read(&path).unwrap()));
    }
    out
}

#[test]
fn two_patients_in_every_format() {
    let out = run("csv,fhir,ndjson");
    insta::with_settings!({snapshot_path => "snapshots/export", prepend_module_to_snapshot => false, omit_expression => true}, {
        insta::assert_snapshot!("csv", snapshot_dir(&out.join("csv")));
        insta::assert_snapshot!("fhir", snapshot_dir(&out.join("fhir")));
        insta::assert_snapshot!("ndjson", snapshot_dir(&out.join("ndjson")));
    });
    // One run with all formats equals separate runs, format by format.
    for format in ["csv", "fhir", "ndjson"] {
        let alone = run(format);
        assert_eq!(snapshot_dir(&alone.join(format)), snapshot_dir(&out.join(format)), "{format}");
    }
}
