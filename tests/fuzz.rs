//! No input makes the loader panic: property tests feed mutated modules (truncated, retyped,
//! random bytes, deep nesting, huge numbers, alias bombs) through load, validate, compile and
//! diagnostic rendering, for a bounded number of cases.

use ehrsim::cli::build;
use ehrsim::diagnostic::{Style, render};
use ehrsim::load::{MemoryTree, Request};
use proptest::prelude::*;

fn seeds() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["tests/data/good", "tests/data/bad"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            if let Some(ext @ ("yaml" | "json")) = p.extension().and_then(|e| e.to_str()) {
                out.push((ext.to_owned(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out
}

/// Runs the whole pipeline on one file and renders every diagnostic.
fn run(ext: &str, text: String) {
    let rel = format!("fuzzed.{ext}");
    let tree = MemoryTree::new("", [(rel, text.clone())]);
    let (set, compilation) = build(&[Request { tree: Box::new(tree), only: None }]);
    for d in compilation.diagnostics.iter() {
        if let Some(span) = d.span {
            let len = set.sources.text(span.file).len();
            assert!(span.end as usize <= len, "span past the end of the file");
        }
        let rendered = render(&set.sources, d, Style::Rich);
        assert!(!rendered.is_empty());
    }
    // A file that compiles has no errors; one with errors does not compile.
    assert_eq!(compilation.library.is_some(), !compilation.diagnostics.has_errors());
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    ReplaceBytes { at: usize, bytes: Vec<u8> },
    Insert { at: usize, text: String },
    HugeNumber { nth: usize, text: &'static str },
    RetypeValue { nth: usize, text: &'static str },
}

fn apply(text: &str, m: &Mutation) -> String {
    let clamp = |at: usize| {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    match m {
        Mutation::Truncate(at) => text[..clamp(*at)].to_owned(),
        Mutation::ReplaceBytes { at, bytes } => {
            let at = clamp(*at);
            let mut b = text.as_bytes().to_vec();
            for (i, x) in bytes.iter().enumerate() {
                if at + i < b.len() {
                    b[at + i] = *x;
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        }
        Mutation::Insert { at, text: t } => {
            let at = clamp(*at);
            format!("{}{}{}", &text[..at], t, &text[at..])
        }
        Mutation::HugeNumber { nth, text: n } | Mutation::RetypeValue { nth, text: n } => {
            // Replace the nth value after a `: ` with another value.
            let spots: Vec<usize> = text.match_indices(": ").map(|(i, _)| i + 2).collect();
            if spots.is_empty() {
                return text.to_owned();
            }
            let at = spots[nth % spots.len()];
            let end = text[at..].find(['\n', ',']).map_or(text.len(), |e| at + e);
            format!("{}{}{}", &text[..at], n, &text[end..])
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(at, bytes)| Mutation::ReplaceBytes { at, bytes }),
        (any::<usize>(), "[\\[\\]{}:,\"'\\-#&*!|> \n\ta-z0-9]{1,16}")
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
        (
            any::<usize>(),
            prop_oneof![
                Just("1e999"),
                Just("-1e999"),
                Just("99999999999999999999999999999"),
                Just("NaN"),
                Just(".nan"),
                Just("-0"),
                Just("4294967296")
            ]
        )
            .prop_map(|(nth, text)| Mutation::HugeNumber { nth, text }),
        (
            any::<usize>(),
            prop_oneof![
                Just("[]"),
                Just("{}"),
                Just("null"),
                Just("true"),
                Just("\"x\""),
                Just("[1, {\"a\": 2}]"),
                Just("~")
            ]
        )
            .prop_map(|(nth, text)| Mutation::RetypeValue { nth, text }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_modules_never_panic(seed in any::<prop::sample::Index>(), mutations in proptest::collection::vec(mutation(), 1..4)) {
        let seeds = seeds();
        let (ext, text) = &seeds[seed.index(seeds.len())];
        let mut text = text.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        run(ext, text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), json in any::<bool>()) {
        run(if json { "json" } else { "yaml" }, String::from_utf8_lossy(&bytes).into_owned());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [100, 10_000, 200_000] {
        run("json", format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
        run("json", format!("{{\"name\": \"x\", \"states\": {}1{}}}", "{\"a\":".repeat(depth), "}".repeat(depth)));
        run("yaml", format!("{}1{}", "[".repeat(depth), "]".repeat(depth)));
        let nested_logic = format!(
            "name: x\nstates:\n  Initial:\n    type: Guard\n    allow: {}{{condition_type: True}}{}\n    direct_transition: T\n  T:\n    type: Terminal\n",
            "{condition_type: Not, condition: ".repeat(depth.min(5_000)),
            "}".repeat(depth.min(5_000))
        );
        run("yaml", nested_logic);
    }
}

#[test]
fn alias_bombs_are_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = format!("*a{}", i - 1);
        text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
    }
    run("yaml", text);
}
