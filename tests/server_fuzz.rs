//! A fuzz harness on stable Rust for the file server's request head parser
//! (`http::parse`), its target and path resolver (`target::parse`,
//! `path::resolve`) and its range parser (`range::want`): a deterministic
//! generator mutates seeds (every traversal form the resolver refuses,
//! valid and broken heads, ranges) and checks, besides "never panics":
//!
//! - a head: a parsed request used no more bytes than there were, nor more
//!   than `MAX_HEAD`; its target is at most `MAX_URI` long; an error is one
//!   of 400, 414, 431, 505; a strict prefix of a complete head is never a
//!   complete request of the same length;
//! - a path: whatever is accepted is relative, has no empty, `.` or `..`
//!   segment, no `\` and no NUL, so joined to the root it stays beneath it
//!   (the kernel's `RESOLVE_BENEATH` is the second wall); a path of plain
//!   segments is accepted unchanged (the resolver does not refuse too much);
//! - a range: a part is non-empty and inside the file; a range of plain
//!   numbers is decided as RFC 9110 says.
//!
//! `cargo test --test server_fuzz` runs [`DEFAULT_INPUTS`] inputs per
//! target (CI). The long run: `RINGLOOP_FUZZ_INPUTS=10000000 cargo test
//! --release --test server_fuzz -- --nocapture` (`RINGLOOP_FUZZ_SEED`
//! picks another sequence; a failure prints the seed and the input).
#![allow(dead_code)]

#[path = "../examples/file_server/conditional.rs"]
mod conditional;
/// The properties checked on each input (shared with the `cargo fuzz`
/// targets in `fuzz/`).
mod fuzz_checks;
#[path = "../examples/file_server/http.rs"]
mod http;
#[path = "../examples/file_server/path.rs"]
mod path;
#[path = "../examples/file_server/range.rs"]
mod range;
#[path = "../examples/file_server/target.rs"]
mod target;

/// Inputs per target unless `RINGLOOP_FUZZ_INPUTS` says otherwise.
const DEFAULT_INPUTS: u64 = 100_000;

fn inputs() -> u64 {
    std::env::var("RINGLOOP_FUZZ_INPUTS")
        .ok()
        .map(|v| v.parse().expect("RINGLOOP_FUZZ_INPUTS: a number"))
        .unwrap_or(DEFAULT_INPUTS)
}

fn seed() -> u64 {
    std::env::var("RINGLOOP_FUZZ_SEED")
        .ok()
        .map(|v| v.parse().expect("RINGLOOP_FUZZ_SEED: a number"))
        .unwrap_or(0x5eed_1234_abcd_0001)
}

/// xorshift64*: small, fast, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Every traversal form: dot segments raw and encoded in any case, encoded
/// and back slashes, NULs, empty segments, and mixes of them.
const TRAVERSAL: &[&str] = &[
    "/../secret.txt",
    "/a/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/%2e%2E/x",
    "/.%2e/x",
    "/%2e./x",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/a%2f..%2f..%2fsecret.txt",
    "/..\\secret.txt",
    "/..%5csecret.txt",
    "/..%5Csecret.txt",
    "/%5c..%5csecret.txt",
    "//etc/passwd",
    "/a//b",
    "/./hello.txt",
    "/%2e/hello.txt",
    "/.",
    "/..",
    "/a/..",
    "/hello.txt%00.html",
    "/hello.txt\0",
    "/%00",
    "/%252e%252e/secret.txt",
    "/%%32%65%%32%65/x",
    "/%2",
    "/%zz",
    "/..;/secret.txt",
    "/....//secret.txt",
    "/.../secret.txt",
    "http://h/../secret.txt",
    "http://h/%2e%2e/secret.txt",
    "HTTP://h:80/..%2f",
    "https://h//etc/passwd",
    "http://h?../x",
    "http://user@h/x",
    "ftp://h/x",
    "*",
    "h:443",
    "/etc_dir/passwd",
    "/leak_rel",
    "/sub_link/../../secret.txt",
    "/sub/a.txt?x=../..#../..",
];

/// Harmless targets (accepted, for the mutator to break).
const PLAIN: &[&str] = &[
    "/",
    "/hello.txt",
    "/sub/",
    "/sub/a.txt",
    "/a-b_c.d/e~f",
    "/%68ello.txt",
];

const RANGES: &[&str] = &[
    "bytes=0-0",
    "bytes=0-99",
    "bytes=100-",
    "bytes=-100",
    "bytes=-0",
    "bytes=5-4",
    "bytes=0-18446744073709551615",
    "bytes=18446744073709551616-",
    "bytes=-18446744073709551616",
    "bytes= 1 - 2 ",
    "bytes=1-2,3-4",
    "bytes=-",
    "bytes=",
    "items=0-1",
    "bytes=+1-2",
    "bytes=0x10-",
    "bytes=1--2",
];

/// Bytes the mutator likes to insert: separators and the characters of
/// every encoding above.
const ALPHABET: &[u8] = b"/.%25eEfFcC0\\\0?#:@ \t\r\n-=,;";
const TOKENS: &[&str] = &[
    "..",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%5c",
    "%00",
    "//",
    "/./",
    "/../",
    "\r\n",
    "\r\n\r\n",
    "Host: t\r\n",
    "Range: bytes=0-1\r\n",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2.0",
    "%",
    "\0",
];

/// One mutation of `s` (or a splice with `other`).
fn mutate(rng: &mut Rng, s: &mut Vec<u8>, other: &[u8]) {
    let at = rng.below(s.len() + 1);
    match rng.below(7) {
        0 if !s.is_empty() => {
            let i = rng.below(s.len());
            s[i] ^= 1 << rng.below(8);
        }
        1 => s.insert(at, *rng.pick(ALPHABET)),
        2 if !s.is_empty() => {
            let end = (at + 1 + rng.below(4)).min(s.len());
            s.drain(at.min(end)..end);
        }
        3 => {
            let t = rng.pick(TOKENS).as_bytes();
            s.splice(at..at, t.iter().copied());
        }
        4 if !other.is_empty() => {
            let from = rng.below(other.len());
            let to = from + rng.below(other.len() - from + 1);
            s.splice(at..at, other[from..to].iter().copied());
        }
        5 if !s.is_empty() => {
            let i = rng.below(s.len());
            s[i] = rng.next() as u8;
        }
        _ => {
            let end = (at + rng.below(8)).min(s.len());
            let dup = s[at..end].to_vec();
            s.splice(end..end, dup);
        }
    }
}

/// A mutated input from `seeds`: 0 to 4 mutations of one seed.
fn input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut s = rng.pick(seeds).clone();
    let other = rng.pick(seeds).clone();
    for _ in 0..rng.below(5) {
        mutate(rng, &mut s, &other);
    }
    s
}

/// The security property of an accepted path (see the module docs).
/// Runs `check` on `n` inputs, printing the seed and the input that failed.
fn run(name: &str, seeds: &[Vec<u8>], check: impl Fn(&[u8])) {
    let (n, seed) = (inputs(), seed());
    let mut rng = Rng(seed ^ name.len() as u64);
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let inp = input(&mut rng, seeds);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&inp)));
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "{name}: input {i} (RINGLOOP_FUZZ_SEED={seed}) failed: {msg}\ninput: {:?}",
                String::from_utf8_lossy(&inp)
            );
        }
    }
    eprintln!("{name}: {n} inputs in {:.1}s", t0.elapsed().as_secs_f64());
}

fn head_seeds() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    for t in TRAVERSAL.iter().chain(PLAIN) {
        v.push(format!("GET {t} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes());
    }
    for r in RANGES {
        v.push(format!("GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: {r}\r\n\r\n").into_bytes());
    }
    v.extend(
        [
            "HEAD / HTTP/1.0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
            "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"x\", W/\"y\"\r\nIf-Range: \"x\"\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: t\r\n\r\n",
            "GET / HTTP/1.1\nHost: t\n\n",
        ]
        .map(|s| s.as_bytes().to_vec()),
    );
    v.push(
        format!(
            "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
            "a".repeat(http::MAX_URI)
        )
        .into_bytes(),
    );
    v.push(
        format!(
            "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
            "b".repeat(http::MAX_HEAD)
        )
        .into_bytes(),
    );
    v
}

#[test]
fn fuzz_request_heads() {
    run("http::parse", &head_seeds(), fuzz_checks::head);
}

#[test]
fn fuzz_paths() {
    let seeds: Vec<Vec<u8>> = TRAVERSAL
        .iter()
        .chain(PLAIN)
        .map(|s| s.as_bytes().to_vec())
        .collect();
    run("target::parse + path::resolve", &seeds, fuzz_checks::path);
}

#[test]
fn fuzz_ranges() {
    let seeds: Vec<Vec<u8>> = RANGES.iter().map(|s| s.as_bytes().to_vec()).collect();
    run("range::want", &seeds, fuzz_checks::range);
}

/// With `RINGLOOP_FUZZ_CORPUS=<dir>`, writes the seeds above as the
/// `cargo fuzz` corpus (`<dir>/<target>/seed-N`; `scripts/fuzz` does this
/// first). Without it, checks that every seed set is non-empty.
#[test]
fn seeds_for_cargo_fuzz() {
    let sets: [(&str, Vec<Vec<u8>>); 3] = [
        ("request_head", head_seeds()),
        (
            "path",
            TRAVERSAL
                .iter()
                .chain(PLAIN)
                .map(|s| s.as_bytes().to_vec())
                .collect(),
        ),
        (
            "range",
            RANGES.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ),
    ];
    for (target, seeds) in &sets {
        assert!(!seeds.is_empty(), "no seeds for {target}");
    }
    let Ok(dir) = std::env::var("RINGLOOP_FUZZ_CORPUS") else {
        return;
    };
    for (target, seeds) in sets {
        let d = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&d).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i}")), s).unwrap();
        }
    }
}
