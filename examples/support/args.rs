//! A tiny `--flag value` parser for the bundled examples (no dependency).
#![allow(dead_code)] // shared by several examples; each uses a part

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// Parsed `--name value` pairs and `--switch` flags.
pub struct Args {
    values: HashMap<String, String>,
    usage: &'static str,
}

impl Args {
    /// Parses the process arguments; `--help` prints `usage` and exits.
    pub fn parse(usage: &'static str) -> Args {
        let mut values = HashMap::new();
        let mut it = std::env::args().skip(1).peekable();
        while let Some(a) = it.next() {
            if a == "--help" || a == "-h" {
                println!("{usage}");
                std::process::exit(0);
            }
            let Some(name) = a.strip_prefix("--") else {
                fail(usage, &format!("unexpected argument {a:?}"));
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => match it.peek() {
                    Some(v) if !v.starts_with("--") => {
                        (name.to_string(), it.next().unwrap_or_default())
                    }
                    _ => (name.to_string(), "true".to_string()),
                },
            };
            values.insert(name, value);
        }
        Args { values, usage }
    }

    /// The value of `--name`, or `default`.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T
    where
        T::Err: Display,
    {
        match self.values.get(name) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|e| fail(self.usage, &format!("--{name} {v:?}: {e}"))),
        }
    }

    /// `--name` as a duration (`10s`, `500ms`, `2m`), or `default`.
    pub fn duration(&self, name: &str, default: std::time::Duration) -> std::time::Duration {
        match self.values.get(name) {
            None => default,
            Some(v) => duration(v).unwrap_or_else(|e| fail(self.usage, &format!("--{name}: {e}"))),
        }
    }

    /// Whether `--name` was given (as a switch or with a true value).
    pub fn flag(&self, name: &str) -> bool {
        self.values
            .get(name)
            .is_some_and(|v| v != "false" && v != "0")
    }
}

fn fail(usage: &str, msg: &str) -> ! {
    eprintln!("error: {msg}\n\n{usage}");
    std::process::exit(2);
}

/// Parses a duration such as `10s`, `500ms`, `2m` or a bare number of seconds.
pub fn duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().map_err(|e| format!("{s:?}: {e}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" => n * 60.0,
        other => return Err(format!("unknown unit {other:?} in {s:?}")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a duration"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}
