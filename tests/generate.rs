//! `ehrsim generate`, run as a user would: the same bytes for any thread count, shards that
//! join into the whole run, Synthea's CSV headers, and clear errors without partial output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ehrsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ehrsim")).args(args).env("NO_COLOR", "1").output().expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ehrsim-gen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The CSV files of an output directory, by name.
fn csv_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("csv"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

fn generate(out: &Path, extra: &[&str]) -> Output {
    let seed = if extra.contains(&"-s") { vec![] } else { vec!["-s", "7"] };
    let mut args = vec!["generate", "-p", "40", "-r", "2024-06-30", "-q", "-o", out.to_str().unwrap()];
    args.extend_from_slice(&seed);
    args.extend_from_slice(extra);
    let o = ehrsim(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn output_is_identical_for_one_and_two_threads() {
    let (a, b) = (temp_dir("t1"), temp_dir("t2"));
    generate(&a, &["--threads", "1"]);
    generate(&b, &["--threads", "2"]);
    let (fa, fb) = (csv_files(&a), csv_files(&b));
    assert_eq!(fa.len(), 18);
    assert!(fa["patients.csv"].iter().filter(|&&c| c == b'\n').count() == 41, "40 patients and a header");
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between --threads 1 and --threads 2");
    }
}

#[test]
fn shards_concatenate_to_the_whole_run() {
    let whole = temp_dir("whole");
    generate(&whole, &[]);
    let shards: Vec<PathBuf> = (1..=3).map(|k| temp_dir(&format!("shard{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        generate(dir, &["--shard", &format!("{}/3", k + 1)]);
        let manifest = std::fs::read_to_string(dir.join("run.json")).unwrap();
        assert!(manifest.contains("\"count\": 3"), "{manifest}");
    }
    for (name, bytes) in csv_files(&whole) {
        let mut joined = Vec::new();
        for (k, dir) in shards.iter().enumerate() {
            let part = std::fs::read(dir.join("csv").join(&name)).unwrap();
            let body = if k == 0 { &part[..] } else { &part[part.iter().position(|&c| c == b'\n').unwrap() + 1..] };
            joined.extend_from_slice(body);
        }
        assert!(joined == bytes, "{name}: the shards do not join into the whole run");
    }
}

#[test]
fn csv_headers_are_synthea_headers() {
    let out = temp_dir("headers");
    generate(&out, &[]);
    let files = csv_files(&out);
    let header = |n: &str| String::from_utf8_lossy(files[n].split(|&c| c == b'\n').next().unwrap()).into_owned();
    assert_eq!(header("conditions.csv"), "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION");
    assert_eq!(header("observations.csv"), "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE");
    assert!(header("patients.csv").starts_with("Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST"));
    // Every row has as many fields as its header.
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        let mut lines = text.lines();
        let n = lines.next().unwrap().split(',').count();
        for line in lines {
            assert_eq!(line.split(',').count(), n, "{name}: {line}");
        }
    }
    // Observations were recorded at wellness visits.
    assert!(files["observations.csv"].len() > 1000);
}

#[test]
fn a_different_seed_gives_different_patients() {
    let (a, b) = (temp_dir("seed-a"), temp_dir("seed-b"));
    generate(&a, &[]);
    generate(&b, &["-s", "8"]);
    assert_ne!(csv_files(&a)["patients.csv"], csv_files(&b)["patients.csv"]);
}

#[test]
fn bad_options_fail_clearly_without_output() {
    let out = temp_dir("bad");
    for (args, needle) in [
        (vec!["-r", "2024-13-01"], "invalid --reference-date `2024-13-01`"),
        (vec!["-a", "60-20"], "invalid --age `60-20`"),
        (vec!["-g", "X"], "invalid --gender `X`"),
        (vec!["--state", "Texsa"], "did you mean `Texas`"),
        (vec!["--shard", "4/3"], "invalid --shard `4/3`"),
        (vec!["-m", "wellnes"], "did you mean `wellness`"),
        (vec!["--modules-dir", "no/such/dir"], "is not a directory"),
    ] {
        let mut all = vec!["-p", "2", "-q", "-o", out.to_str().unwrap()];
        all.extend(args.iter());
        let o = ehrsim(&all);
        assert_ne!(o.status.code(), Some(0), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} left output behind");
    }
}

#[test]
fn unwritable_output_fails_without_partial_files() {
    let base = temp_dir("unwritable");
    std::fs::create_dir_all(&base).unwrap();
    let blocker = base.join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let target = blocker.join("out");
    let o = ehrsim(&["-p", "2", "-q", "-o", target.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write the output"));
}

#[test]
fn config_file_and_environment_set_options() {
    let out = temp_dir("config");
    std::fs::create_dir_all(&out).unwrap();
    let config = out.join("run.yaml");
    std::fs::write(&config, "population: 3\nseed: 5\nreference-date: 2024-01-01\nquiet: true\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ehrsim"))
        .args(["--config", config.to_str().unwrap(), "-o", out.join("o").to_str().unwrap()])
        .env("EHRSIM_POPULATION", "4")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let patients = std::fs::read_to_string(out.join("o/csv/patients.csv")).unwrap();
    assert_eq!(patients.lines().count(), 5, "the environment wins over the config file");
    assert!(String::from_utf8_lossy(&o.stdout).contains("seed 5"));
}

#[test]
fn sleeping_until_something_changes_gives_the_same_records_as_polling() {
    // The scheduler lets blocked states sleep until an attribute, the record, a visit or the
    // calendar can change them; testing every blocked state at every step must agree.
    let (a, b) = (temp_dir("sleep"), temp_dir("poll"));
    let run = |out: &Path, poll: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ehrsim"));
        cmd.args([
            "-p",
            "60",
            "-s",
            "3",
            "-r",
            "2024-06-30",
            "-q",
            "--modules-dir",
            "tests/data/good",
            "-o",
            out.to_str().unwrap(),
        ]);
        if poll {
            cmd.env("EHRSIM_POLL_EVERY_STEP", "1");
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&a, false);
    run(&b, true);
    let (fa, fb) = (csv_files(&a), csv_files(&b));
    assert!(fa["conditions.csv"].len() > 200, "the test modules record conditions");
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between sleeping and polling");
    }
}

#[test]
fn gzip_output_decompresses_to_the_plain_output() {
    use std::io::Read;
    let (plain, gz) = (temp_dir("plain"), temp_dir("gz"));
    generate(&plain, &["--format", "csv,fhir"]);
    generate(&gz, &["--format", "csv,fhir", "--gzip"]);
    for dir in ["csv", "fhir"] {
        let mut names: Vec<String> = std::fs::read_dir(plain.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(!names.is_empty());
        for name in names {
            let compressed = std::fs::read(gz.join(dir).join(format!("{name}.gz"))).unwrap();
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut text).unwrap();
            assert!(text == std::fs::read(plain.join(dir).join(&name)).unwrap(), "{dir}/{name}");
        }
    }
}
