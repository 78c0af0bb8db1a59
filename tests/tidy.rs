//! Repository hygiene: every source file opens with a `//!` paragraph saying what it does,
//! and no file names an absolute path of a developer's machine.

use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let mut sources = Vec::new();
    files(Path::new("src"), "rs", &mut sources);
    files(Path::new("tests"), "rs", &mut sources);
    assert!(!sources.is_empty());
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("//!"), "{} does not start with a `//!` doc paragraph", path.display());
    }
}

#[test]
fn no_machine_specific_paths() {
    let mut all = Vec::new();
    for ext in ["rs", "md", "toml", "yaml", "json", "sh"] {
        for dir in ["src", "tests", "examples", "modules", "schemas", "data"] {
            if Path::new(dir).exists() {
                files(Path::new(dir), ext, &mut all);
            }
        }
    }
    let needles = [concat!("/ro", "ot/"), concat!("/wo", "rk/"), concat!("/ho", "me/")];
    for path in all {
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in needles {
            assert!(!text.contains(needle), "{} contains the absolute path `{needle}`", path.display());
        }
    }
}
