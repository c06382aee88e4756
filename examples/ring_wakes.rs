//! The cross-loop round trip, ring to ring (`MSG_RING`) against the eventfd
//! path: two loops on two threads, loop 0 spawns an empty task onto loop 1
//! through its `Handle` and awaits it, `--n` times; each round trip is two
//! cross-thread wakes (the spawn, and the `JoinHandle`'s wake back). The
//! two modes run interleaved, `--runs` times each, a fresh runtime per run;
//! medians and their ratio are printed, with the syscalls each loop made.
//! A first run of each mode is discarded (warm-up) and the order of the
//! modes alternates from run to run.
//!
//! ```sh
//! cargo run --release --example ring_wakes -- --backend uring --n 100000 --runs 5
//! ```
//!
//! `--mode msg-ring|eventfd` runs one mode only (for `perf` or `strace`).

#[path = "support/cli.rs"]
mod cli;

use std::time::Instant;

use clap::Parser;
use ringloop::{Backend, Builder};

/// Cross-loop ping-pong through Handle::spawn: MSG_RING vs eventfd wakes.
#[derive(Parser, Debug)]
#[command(name = "ring_wakes")]
struct Cli {
    /// I/O backend
    #[arg(long, value_name = "auto|uring|epoll", default_value = "uring", value_parser = cli::backend)]
    backend: Backend,
    /// Round trips per run
    #[arg(long, value_name = "N", default_value = "100000", value_parser = cli::count(1 << 32))]
    n: usize,
    /// Runs per mode (medians are printed)
    #[arg(long, value_name = "R", default_value = "5", value_parser = cli::count(1000))]
    runs: usize,
    /// Only this mode
    #[arg(long, value_name = "msg-ring|eventfd", value_parser = ["msg-ring", "eventfd"])]
    mode: Option<String>,
    /// Pin loop i to CPU i (the two loops on two cores)
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pin: String,
}

/// One run's figures.
struct Run {
    ns_per_round_trip: f64,
    /// CPU time of the process (both loops, user + system) per round trip.
    cpu_ns: f64,
    /// Wait syscalls (`io_uring_enter` / `epoll_wait`) per round trip, both
    /// loops together.
    enters: f64,
    ring_wakes: (u64, u64),
}

fn run(backend: Backend, ring_wakes: bool, n: usize, pin: bool) -> Run {
    let rt = Builder::new()
        .backend(backend)
        .threads(2)
        .pin_to_cores(pin)
        .ring_wakes(ring_wakes)
        .build()
        .unwrap_or_else(|e| {
            eprintln!("ring_wakes: cannot start a {backend} runtime: {e}");
            std::process::exit(1)
        });
    let peer = rt.handles()[1].clone();
    let warm = n / 10 + 1;
    let before = std::cell::Cell::new(rt.metrics());
    let took = rt.block_on(async {
        for _ in 0..warm {
            peer.spawn(async {}).await.unwrap();
        }
        before.set(rt.metrics());
        let cpu = cpu_time();
        let t = Instant::now();
        for _ in 0..n {
            peer.spawn(async {}).await.unwrap();
        }
        (t.elapsed(), cpu_time() - cpu)
    });
    let (took, cpu) = took;
    let after = rt.metrics();
    let before = before.into_inner();
    Run {
        ns_per_round_trip: took.as_nanos() as f64 / n as f64,
        cpu_ns: cpu.as_nanos() as f64 / n as f64,
        enters: (after.wait_syscalls - before.wait_syscalls) as f64 / n as f64,
        ring_wakes: rt.debug_ring_wakes(),
    }
}

/// User + system CPU time of this process (all its threads).
fn cpu_time() -> std::time::Duration {
    // SAFETY: a zeroed rusage is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid for the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Cli = cli::parse();
    let pin = args.pin == "on";
    let modes: Vec<(&str, bool)> = [("msg-ring", true), ("eventfd", false)]
        .into_iter()
        .filter(|(m, _)| args.mode.as_deref().is_none_or(|want| want == *m))
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut enters: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut wakes = vec![(0, 0); modes.len()];
    // A discarded first run: the first runtime of a process measured 5-10x
    // slower round trips here, whichever mode it ran (the machine's idle
    // wake-up path warming up), which would make the mode that runs first
    // look slow.
    for &(_, on) in &modes {
        run(args.backend, on, args.n / 2 + 1, pin);
    }
    for r in 0..args.runs {
        // ABBA order, so neither mode always runs first.
        let mut order: Vec<usize> = (0..modes.len()).collect();
        if r % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (name, on) = modes[i];
            let f = run(args.backend, on, args.n, pin);
            eprintln!(
                "run {r} {name}: {:.0} ns per round trip, {:.0} ns CPU, {:.2} wait syscalls per \
                 round trip, loop 0 ring wakes sent/received {}/{}",
                f.ns_per_round_trip, f.cpu_ns, f.enters, f.ring_wakes.0, f.ring_wakes.1
            );
            times[i].push(f.ns_per_round_trip);
            cpus[i].push(f.cpu_ns);
            enters[i].push(f.enters);
            wakes[i] = f.ring_wakes;
        }
    }
    println!(
        "cross-loop round trip (Handle::spawn + JoinHandle wake back), {} backend, {} x {} round trips, medians:",
        args.backend, args.runs, args.n
    );
    println!("| mode | ns per round trip | CPU ns per round trip (both loops) | wait syscalls per round trip (both loops) | loop 0 ring wakes sent/received (last run) |");
    println!("|---|---:|---:|---:|---:|");
    let med: Vec<f64> = times.iter().map(|t| median(t.clone())).collect();
    let med_cpu: Vec<f64> = cpus.iter().map(|t| median(t.clone())).collect();
    for (i, &(name, _)) in modes.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} | {}/{} |",
            med[i],
            med_cpu[i],
            median(enters[i].clone()),
            wakes[i].0,
            wakes[i].1
        );
    }
    if med.len() == 2 {
        println!(
            "msg-ring / eventfd: {:.2} (round trip), {:.2} (CPU)",
            med[0] / med[1],
            med_cpu[0] / med_cpu[1]
        );
    }
}
