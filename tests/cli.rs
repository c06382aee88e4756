//! The bundled programs' command lines, run as a user runs them (the built
//! example binaries, `util::example`): an unknown flag, a near miss
//! (`--conn`), an out-of-range count, a bad or zero duration and a bad value
//! are errors with the usage line and exit code 2; `--help` exits 0 and
//! lists every flag with its default. Valid command lines run: `echo_client`
//! against `echo`, and `overhead`, on both backends. The duration parser
//! (`examples/support/cli.rs`) is also checked on its own.
mod util;

#[path = "../examples/support/cli.rs"]
mod cli;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ringloop::Backend;

/// A program's flags, each with the default its `--help` must show (`None`:
/// required).
type Flags = &'static [(&'static str, Option<&'static str>)];

/// Every program and its flags.
const PROGRAMS: &[(&str, Flags)] = &[
    (
        "echo",
        &[
            ("--addr", Some("127.0.0.1:7000")),
            ("--threads", Some("1")),
            ("--backend", Some("auto")),
            ("--max-conns", Some("10000")),
            ("--grace", Some("5s")),
            ("--idle-timeout", Some("60s")),
            ("--write-timeout", Some("10s")),
            ("--min-send-rate", Some("4096")),
            ("--buf", Some("16384")),
            ("--recv", Some("pooled")),
            ("--buf-inc", Some("on")),
            ("--buffers", Some("1024")),
            ("--stats", Some("off")),
            ("--health", Some("on")),
            ("--min-wait", Some("off")),
        ],
    ),
    (
        "echo_client",
        &[
            ("--addr", Some("127.0.0.1:7000")),
            ("--conns", Some("64")),
            ("--size", Some("64")),
            ("--duration", Some("10s")),
            ("--pipeline", Some("1")),
            ("--threads", Some("1")),
            ("--backend", Some("auto")),
        ],
    ),
    (
        "file_server",
        &[
            ("--root", None),
            ("--addr", Some("127.0.0.1:8080")),
            ("--threads", Some("1")),
            ("--backend", Some("auto")),
            ("--max-conns", Some("10000")),
            ("--idle-timeout", Some("10s")),
            ("--header-timeout", Some("10s")),
            ("--write-timeout", Some("10s")),
            ("--min-send-rate", Some("4096")),
            ("--grace", Some("2s")),
            ("--log", Some("off")),
            ("--stats", Some("off")),
            ("--metrics", Some("off")),
        ],
    ),
    (
        "overhead",
        &[
            ("--backend", Some("uring")),
            ("--timing", Some("on")),
            ("--n", Some("100000")),
            ("--what", Some("spawn-nop")),
            ("--batch", Some("1")),
            ("--stall-backtrace", Some("off")),
        ],
    ),
    (
        "zero_copy",
        &[
            ("--mib", Some("512")),
            ("--runs", Some("3")),
            ("--backend", Some("both")),
        ],
    ),
    (
        "peers",
        &[
            ("--quick", Some("off")),
            ("--runs", Some("3")),
            ("--duration", Some("2s")),
            ("--warmup", Some("500ms")),
            ("--conns", Some("1,64,1000")),
            ("--size", Some("64")),
            ("--idle", Some("10000")),
            ("--tasks", Some("100000")),
            (
                "--peers",
                Some("floor,uring,epoll,uring-owned,epoll-owned,uring-multishot,tokio"),
            ),
            ("--syscalls", Some("off")),
        ],
    ),
    #[cfg(feature = "macros")]
    ("hello_main", &[]),
];

/// Waits (bounded) for `child` to exit and collects its output; a program
/// that should have refused its flags but runs instead is killed.
fn collect(mut child: Child) -> Output {
    let pid = child.id() as libc::pid_t;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Each pipe on its own thread: a full pipe cannot block the other.
        let e = std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut err) = err {
                let _ = err.read_to_end(&mut v);
            }
            v
        });
        let mut stdout = Vec::new();
        if let Some(mut out) = out {
            let _ = out.read_to_end(&mut stdout);
        }
        let stderr = e.join().unwrap_or_default();
        let _ = tx.send(child.wait().map(|status| Output {
            status,
            stdout,
            stderr,
        }));
    });
    match rx.recv_timeout(util::LIMIT) {
        Ok(o) => o.expect("wait for the program"),
        Err(e) => {
            // SAFETY: kill(2) takes plain integers and touches no memory of
            // ours; the child is not reaped until its waiter thread sends.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the program did not exit within {:?} ({e})", util::LIMIT);
        }
    }
}

/// Runs example `name` with `args` to its end.
fn run(name: &str, args: &[&str]) -> Output {
    let child = Command::new(util::example(name))
        .args(args)
        .env_remove(ringloop::BACKEND_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    collect(child)
}

/// Asserts that `name args` fails with exit code 2 and the usage line, and
/// that stderr holds every one of `needles`.
fn refused(name: &str, args: &[&str], needles: &[&str]) {
    let o = run(name, args);
    let err = String::from_utf8_lossy(&o.stderr);
    let case = format!("{name} {}", args.join(" "));
    assert_eq!(o.status.code(), Some(2), "{case}: exit code; stderr {err}");
    assert!(o.stdout.is_empty(), "{case}: printed to stdout");
    assert!(err.starts_with("error: "), "{case}: {err}");
    assert!(err.contains(&format!("Usage: {name}")), "{case}: {err}");
    for n in needles {
        assert!(err.contains(n), "{case}: no {n:?} in {err}");
    }
}

/// A served root for `file_server` command lines.
fn root() -> String {
    std::env::temp_dir().to_str().unwrap().to_string()
}

#[test]
fn unknown_flags_and_arguments_are_errors_with_usage() {
    for (name, _) in PROGRAMS {
        refused(name, &["--bogus"], &["unexpected argument '--bogus' found"]);
        refused(name, &["stray"], &["unexpected argument 'stray' found"]);
    }
    let root = root();
    refused(
        "file_server",
        &["--root", &root, "--bogus", "1"],
        &["unexpected argument '--bogus' found"],
    );
}

#[test]
fn a_misspelt_flag_names_the_right_one() {
    refused(
        "echo_client",
        &["--conn", "64"],
        &[
            "unexpected argument '--conn' found",
            "a similar argument exists: '--conns'",
        ],
    );
    refused(
        "echo",
        &["--max-conn", "5"],
        &["a similar argument exists: '--max-conns'"],
    );
    let root = root();
    refused(
        "file_server",
        &["--root", &root, "--idle-timout", "5s"],
        &["a similar argument exists: '--idle-timeout'"],
    );
}

#[test]
fn out_of_range_counts_are_errors() {
    let root = root();
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "echo",
            &["--threads", "0"],
            "invalid value '0' for '--threads <N>': 0 is not in 1..=1024",
        ),
        (
            "echo",
            &["--threads", "5000"],
            "invalid value '5000' for '--threads <N>'",
        ),
        (
            "echo",
            &["--max-conns", "0"],
            "invalid value '0' for '--max-conns <M>'",
        ),
        (
            "echo",
            &["--buf", "0"],
            "invalid value '0' for '--buf <BYTES>'",
        ),
        (
            "echo",
            &["--threads", "-1"],
            "unexpected argument '-1' found",
        ),
        (
            "echo",
            &["--threads", "two"],
            "invalid value 'two' for '--threads <N>'",
        ),
        (
            "echo_client",
            &["--conns", "0"],
            "invalid value '0' for '--conns <N>'",
        ),
        (
            "echo_client",
            &["--size", "0"],
            "invalid value '0' for '--size <BYTES>'",
        ),
        (
            "echo_client",
            &["--pipeline", "0"],
            "invalid value '0' for '--pipeline <N>'",
        ),
        (
            "echo_client",
            &["--threads", "0"],
            "invalid value '0' for '--threads <N>'",
        ),
        (
            "echo_client",
            &["--size", "65536", "--pipeline", "4096"],
            "--size 65536 x --pipeline 4096 is more than 67108864 bytes per round trip",
        ),
        (
            "file_server",
            &["--root", &root, "--max-conns", "0"],
            "invalid value '0' for '--max-conns <M>'",
        ),
        (
            "file_server",
            &["--root", &root, "--threads", "0"],
            "invalid value '0' for '--threads <N>'",
        ),
        ("overhead", &["--n", "0"], "invalid value '0' for '--n <N>'"),
        (
            "overhead",
            &["--batch", "5000"],
            "invalid value '5000' for '--batch <B>'",
        ),
        (
            "peers",
            &["--conns", "1,0"],
            "invalid value '0' for '--conns <N,..>'",
        ),
        (
            "peers",
            &["--peers", "uring,nginx"],
            "invalid value 'nginx' for '--peers <PEER,..>'",
        ),
        (
            "peers",
            &["--quick", "--runs", "5"],
            "the argument '--quick' cannot be used with '--runs <N>'",
        ),
    ];
    for (name, args, msg) in cases {
        refused(name, args, &[msg]);
    }
}

#[test]
fn bad_and_zero_durations_are_errors() {
    let root = root();
    let unit = "unknown unit \"x\" (write 10s, 500ms, 2m, 1h, 250us or seconds)";
    let cases: &[(&str, &[&str], &str)] = &[
        ("echo", &["--grace", "5x"], unit),
        (
            "echo",
            &["--grace", "1.5.3s"],
            "\"1.5.3s\" is not a duration",
        ),
        ("echo", &["--grace", "ms"], "\"ms\" is not a duration"),
        ("echo", &["--grace", "25h"], "\"25h\" is longer than 24h"),
        (
            "echo",
            &["--grace", "99999999999999999999999999999999999s"],
            "is longer than 24h",
        ),
        (
            "echo_client",
            &["--duration", "0"],
            "invalid value '0' for '--duration <DURATION>': must be more than 0",
        ),
        ("echo_client", &["--duration", "0ms"], "must be more than 0"),
        (
            "echo_client",
            &["--duration", "10 s"],
            "unknown unit \" s\"",
        ),
        (
            "file_server",
            &["--root", &root, "--idle-timeout", "0s"],
            "invalid value '0s' for '--idle-timeout <DURATION>': must be more than 0",
        ),
        (
            "file_server",
            &["--root", &root, "--grace", "soon"],
            "invalid value 'soon' for '--grace <DURATION>'",
        ),
    ];
    for (name, args, msg) in cases {
        refused(name, args, &[msg]);
    }
}

#[test]
fn bad_values_and_missing_ones_are_errors() {
    let root = root();
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "echo",
            &["--addr", "nope"],
            "invalid value 'nope' for '--addr <IP:PORT>'",
        ),
        (
            "echo",
            &["--addr"],
            "a value is required for '--addr <IP:PORT>'",
        ),
        (
            "echo",
            &["--backend", "kqueue"],
            "unknown backend \"kqueue\": expected auto, uring or epoll",
        ),
        ("echo", &["--backend", ""], "expected auto, uring or epoll"),
        (
            "overhead",
            &["--timing", "maybe"],
            "[possible values: on, off]",
        ),
        (
            "file_server",
            &[],
            "the following required arguments were not provided",
        ),
        (
            "file_server",
            &["--root", ""],
            "a value is required for '--root <DIR>'",
        ),
        (
            "file_server",
            &["--root", &root, "--log=yes"],
            "unexpected value 'yes' for '--log'",
        ),
    ];
    for (name, args, msg) in cases {
        refused(name, args, &[msg]);
    }
    // A root that cannot be opened is a run-time error (1), not a usage one.
    let o = run("file_server", &["--root", "/nonexistent/ringloop-cli"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No such file or directory"));
}

#[test]
fn help_lists_every_flag_with_its_default() {
    for (name, flags) in PROGRAMS {
        let o = run(name, &["--help"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{name} --help: {out}");
        assert!(o.stderr.is_empty(), "{name} --help wrote to stderr");
        assert!(out.contains(&format!("Usage: {name}")), "{name}: {out}");
        // One line per option: `--flag <VALUE>  help [default: x]`.
        let options: Vec<&str> = out
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("--") || l.starts_with("-h, --help"))
            .collect();
        assert_eq!(
            options.len(),
            flags.len() + 1,
            "{name}: every flag and --help, nothing else: {options:#?}"
        );
        for (flag, default) in flags.iter() {
            let line = options
                .iter()
                .find(|l| l.split_whitespace().next() == Some(flag))
                .unwrap_or_else(|| panic!("{name}: {flag} is not listed: {out}"));
            match default {
                Some(d) => assert!(
                    line.contains(&format!("[default: {d}]")),
                    "{name}: {flag} without [default: {d}]: {line}"
                ),
                None => assert!(line.contains("(required)"), "{name}: {flag}: {line}"),
            }
        }
        // `-h` is the same page.
        assert_eq!(run(name, &["-h"]).stdout, o.stdout, "{name} -h");
    }
}

#[test]
fn durations_parse_exactly() {
    let ok = [
        ("10s", Duration::from_secs(10)),
        ("500ms", Duration::from_millis(500)),
        ("2m", Duration::from_secs(120)),
        ("1h", Duration::from_secs(3600)),
        ("250us", Duration::from_micros(250)),
        ("250µs", Duration::from_micros(250)),
        ("3", Duration::from_secs(3)),
        ("1.5", Duration::from_millis(1500)),
        (".3s", Duration::from_millis(300)),
        ("2.", Duration::from_secs(2)),
        ("0.000000001", Duration::from_nanos(1)),
        ("0.0000000019", Duration::from_nanos(1)),
        ("1.000000000000000000000001s", Duration::from_secs(1)),
        ("0", Duration::ZERO),
        (" 7ms ", Duration::from_millis(7)),
        ("24h", cli::MAX_DURATION),
        ("1440m", cli::MAX_DURATION),
    ];
    for (s, want) in ok {
        assert_eq!(cli::duration(s), Ok(want), "{s:?}");
    }
    for bad in [
        "",
        "s",
        ".",
        "1..2",
        "1.2.3s",
        "5x",
        "5 s",
        "-1s",
        "1e3s",
        "24.000000001h",
        "86401",
    ] {
        assert!(cli::duration(bad).is_err(), "{bad:?}");
    }
    assert!(cli::nonzero_duration("0s").is_err());
    assert_eq!(cli::nonzero_duration("1ns").ok(), None, "no ns unit");
    assert_eq!(
        cli::nonzero_duration("0.001ms"),
        Ok(Duration::from_micros(1))
    );
    assert_eq!(cli::backend("io_uring"), Ok(Backend::IoUring));
    assert!(cli::backend(" ").is_err());
}

/// Lines of a child's stdout, read on a thread.
fn lines(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `latency p50 X p99 Y p999 Z max W` → the four durations.
fn latencies(line: &str) -> Vec<Duration> {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"latency"), "{line}");
    ["p50", "p99", "p999", "max"]
        .iter()
        .map(|k| {
            let i = words
                .iter()
                .position(|w| w == k)
                .unwrap_or_else(|| panic!("no {k}: {line}"));
            parse_debug_duration(words[i + 1])
        })
        .collect()
}

/// A `Duration`'s `Debug` text (`1.234ms`, `56µs`, `789ns`, `1.2s`).
fn parse_debug_duration(s: &str) -> Duration {
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("{s:?}"));
    let ns = match unit {
        "ns" => n,
        "µs" => n * 1e3,
        "ms" => n * 1e6,
        "s" => n * 1e9,
        _ => panic!("unit of {s:?}"),
    };
    Duration::from_nanos(ns as u64)
}

/// A child killed on drop unless taken (a failed test leaves no server).
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

each_backend!(echo_client_drives_echo_and_prints_its_figures, |b| {
    let backend = b.to_string();
    let server = Command::new(util::example("echo"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--backend",
            &backend,
            "--grace",
            "10s",
        ])
        .env_remove(ringloop::BACKEND_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start echo");
    let mut server = Running(Some(server));
    let child = server.0.as_mut().unwrap();
    let out = lines(child.stdout.take().unwrap());
    let pid = child.id() as libc::pid_t;
    let addr = loop {
        match out.recv_timeout(util::LIMIT) {
            Ok(l) if l.contains("listening on ") => {
                let rest = l.split("listening on ").nth(1).unwrap();
                break rest.split_whitespace().next().unwrap().to_string();
            }
            Ok(_) => {}
            Err(e) => panic!("echo did not announce its address ({e})"),
        }
    };
    let client = run(
        "echo_client",
        &[
            "--addr",
            &addr,
            "--backend",
            &backend,
            "--conns",
            "4",
            "--size",
            "128",
            "--pipeline",
            "2",
            "--duration",
            "300ms",
        ],
    );
    // SAFETY: kill(2) takes plain integers; the pid is our child's, not
    // yet reaped (`server` still holds it).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let text = String::from_utf8_lossy(&client.stdout);
    assert_eq!(
        client.status.code(),
        Some(0),
        "echo_client: {text}{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let line = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix) || l.contains(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line: {text}"))
            .to_string()
    };
    assert!(
        line("echo_client: ").contains("4 conns x 128 B x pipeline 2"),
        "{text}"
    );
    let rate: f64 = line("round trips/s")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rate > 0.0, "{text}");
    let lat = latencies(&line("latency p50"));
    assert!(lat[0] > Duration::ZERO, "{text}");
    assert!(
        lat.windows(2).all(|w| w[0] <= w[1]),
        "p50 <= p99 <= p999 <= max: {text}"
    );
    assert_eq!(line("errors"), "errors 0", "{text}");
    let status = collect(server.0.take().unwrap()).status;
    assert_eq!(status.code(), Some(0), "echo after SIGTERM");
});

each_backend!(overhead_runs_with_its_flags, |b| {
    let o = run(
        "overhead",
        &[
            "--backend",
            &b.to_string(),
            "--n",
            "1000",
            "--timing",
            "off",
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.starts_with(&format!("{b} timing=false: 1000 spawn+join and 1000 nops")),
        "{text}"
    );
});

#[test]
fn the_readme_shows_the_current_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for name in ["echo", "file_server"] {
        let marker = format!("$ cargo run -q --example {name} -- --help\n");
        let at = readme
            .find(&marker)
            .unwrap_or_else(|| panic!("README.md shows no `{marker}`"))
            + marker.len();
        let shown = &readme[at..at + readme[at..].find("```").expect("end of the block")];
        let help = String::from_utf8(run(name, &["--help"]).stdout).unwrap();
        assert_eq!(shown, help, "README.md's {name} --help is out of date");
    }
}
