//! Options from a YAML config file: `ehrsim --config run.yaml`.
//!
//! The file is a mapping of long option names (`population: 1000`, `modules-dir: [a, b]`,
//! `only-alive: true`) to values. Its options are added to the command line only where neither
//! the command line nor an `EHRSIM_*` variable gives them, so the precedence is: command line,
//! then environment, then config file, then defaults.

use crate::diagnostic::{Diagnostics, Style, render};
use crate::source::Sources;
use crate::syntax::{Format, Value, parse};
use std::ffi::OsString;

/// Returns the arguments with the config file's options appended (if `--config` is given).
pub fn with_config_file(mut args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let position = args.iter().position(|a| a == "--config" || a.to_string_lossy().starts_with("--config="));
    let Some(i) = position else { return Ok(args) };
    let path = match args[i].to_string_lossy().strip_prefix("--config=") {
        Some(p) => p.to_owned(),
        None => args.get(i + 1).map(|p| p.to_string_lossy().into_owned()).ok_or("--config needs a file")?,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read config file `{path}`: {e}"))?;
    let mut sources = Sources::new();
    let file = sources.add(path.clone(), text);
    let mut diags = Diagnostics::new();
    let root = parse(&sources, file, Format::from_path(&path), &mut diags);
    let Some(entries) = root.as_ref().and_then(|r| r.as_map()) else {
        let detail: String = diags.iter().map(|d| render(&sources, d, Style::Short)).collect();
        return Err(format!("config file `{path}` must be a mapping of option names to values\n{detail}"));
    };
    let given: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    for entry in entries {
        let name = entry.key.replace('_', "-");
        let flag = format!("--{name}");
        let env = format!("EHRSIM_{}", name.replace('-', "_").to_uppercase());
        if given.iter().any(|g| g == &flag || g.starts_with(&format!("{flag}="))) || std::env::var_os(&env).is_some() {
            continue;
        }
        let values: Vec<&crate::syntax::Node> = match &entry.value.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![&entry.value],
        };
        for v in values {
            match &v.value {
                Value::Bool(true) => args.push(flag.clone().into()),
                Value::Bool(false) | Value::Null => {}
                Value::Int(n) => args.push(format!("{flag}={n}").into()),
                Value::Float(x) => args.push(format!("{flag}={x}").into()),
                Value::Str(s) => args.push(format!("{flag}={s}").into()),
                Value::Seq(_) | Value::Map(_) => {
                    let lc = sources.line_col(v.span);
                    return Err(format!(
                        "{path}:{}:{}: `{}` must be a value or a list of values",
                        lc.line, lc.column, entry.key
                    ));
                }
            }
        }
    }
    Ok(args)
}
