//! The default library reproduces published US figures (docs/realism.md), checked on a small
//! population with a tolerance widened by the sampling error.
//!
//! docs/realism.md gives the 50,000-patient figures; here 4,000 patients keep `cargo test`
//! quick, so each target passes when it is within its published tolerance plus 3.5 standard
//! errors of the measured share.

use std::process::Command;

/// Figures the library is known to miss, with the reason in docs/realism.md: BMI in the
/// twenties comes from the clinical core's physiology (the CDC curve at 20 joined to the adult
/// NHANES bands), not from a module.
const KNOWN_MISSES: [&str; 1] = ["obesity[age=20-39]"];

#[test]
fn default_library_reproduces_published_figures() {
    let out = std::env::temp_dir().join(format!("ehrsim-realism-{}.json", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_ehrsim"))
        .args(["stats", "-p", "4000", "-s", "11", "-r", "2025-01-01", "--only-alive", "-q", "--top", "0"])
        .args(["--targets", "examples/targets/realism.yaml", "--json"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut checked = 0;
    let mut failures = Vec::new();
    for m in json["measures"].as_array().unwrap() {
        let Some(target) = m["target"].as_object() else { continue };
        let id = m["id"].as_str().unwrap();
        if KNOWN_MISSES.iter().any(|k| id.starts_with(k)) {
            continue;
        }
        let value = m["value"].as_f64().unwrap_or(f64::NAN);
        let se = m["standard_error"].as_f64().unwrap_or(0.0);
        let want = target["value"].as_f64().unwrap();
        let tolerance = target["tolerance"].as_f64().unwrap();
        let allowed = tolerance + 3.5 * se;
        checked += 1;
        if value.is_nan() || (value - want).abs() > allowed {
            failures.push(format!("{id}: {value:.2} vs {want} (allowed ± {allowed:.2}, n = {})", m["denominator"]));
        }
    }
    assert!(checked >= 20, "only {checked} targets checked");
    assert!(failures.is_empty(), "targets missed:\n{}", failures.join("\n"));
}
