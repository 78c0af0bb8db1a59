//! Every resource ehrsim writes round-trips through fhir-sdk's typed FHIR model (R4B, whose
//! JSON matches R4 for these resources): it deserializes without loss and serializes back to
//! the same JSON.

use std::process::Command;

#[test]
fn every_resource_round_trips_through_the_typed_model() {
    let out = std::env::temp_dir().join(format!("ehrsim-fhir-sdk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_ehrsim"))
        .args([
            "-p",
            "4",
            "-s",
            "2",
            "-r",
            "2024-06-30",
            "-q",
            "--format",
            "fhir",
            "--modules-dir",
            "tests/data/good",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let mut kinds = std::collections::BTreeSet::new();
    let mut resources = 0;
    for entry in std::fs::read_dir(out.join("fhir")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let bundle: serde_json::Value = serde_json::from_str(&text).unwrap();
        for e in bundle["entry"].as_array().unwrap() {
            let original = &e["resource"];
            let typed: fhir_sdk::r4b::resources::Resource = serde_json::from_value(original.clone())
                .unwrap_or_else(|err| panic!("{} does not fit the model: {err}", original["resourceType"]));
            let back = serde_json::to_value(&typed).unwrap();
            assert_eq!(
                numbers_as_f64(&back),
                numbers_as_f64(original),
                "{} changed in the round trip",
                original["resourceType"]
            );
            kinds.insert(original["resourceType"].as_str().unwrap().to_owned());
            resources += 1;
        }
    }
    assert!(resources > 100, "{resources} resources");
    for kind in ["Patient", "Encounter", "Condition", "Observation", "Procedure", "MedicationRequest", "Claim"] {
        assert!(kinds.contains(kind), "no {kind} in the run");
    }
}

/// JSON with every number as a float: `0` and `0.0` are the same FHIR decimal.
fn numbers_as_f64(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_f64).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), numbers_as_f64(v))).collect()),
        other => other.clone(),
    }
}
