//! Where does a zero-copy send pay? `TcpStream::send_zc` (one
//! `IORING_OP_SEND_ZC` per message, its buffer back after the kernel's
//! notification) against the plain send (`write_all`, which copies into the
//! socket), for messages of each `--sizes` over loopback TCP, in one run.
//!
//! The sender is a ringloop loop on `--sender-cpu`; the receiver a plain
//! thread on `--receiver-cpu` that reads each connection to its end into a
//! 256 KiB buffer and answers one byte. Each measurement is one fresh
//! connection carrying `--bytes` in messages of one size; send and send_zc
//! take turns, `--runs` times, and the table has the medians:
//! throughput (until the receiver has read everything) and the sender
//! thread's CPU time per KiB (`CLOCK_THREAD_CPUTIME_ID`), with the ratio
//! send_zc / send of each.
//!
//! ```sh
//! cargo build --release --example send_zc
//! taskset -c 0,1 target/release/examples/send_zc --sizes 1k,4k,16k,64k,256k --runs 5
//! ```
//!
//! On loopback the receiving socket copies the bytes out of the sender's
//! pages (there is no NIC to hand them to), so zero-copy saves the
//! sender's copy but not the copy as a whole. And `send_zc` hands its
//! buffer back only at the notification, which for TCP follows the peer's
//! ACK: one message at a time, each waits a round trip (through the
//! receiver thread's wake-up here) before the next can go, where a plain
//! send returns as soon as the bytes are copied into the socket.
//!
//! Measured here (2 shared cores, load average ~4, kernel 6.18, io_uring,
//! release build, `taskset -c 0,1`, 32 MiB per measurement, medians of 5;
//! 1 and 4 MiB medians of 3):
//!
//! | message | send MB/s | send_zc MB/s | zc/send | send ns/KiB CPU | send_zc ns/KiB CPU | zc/send |
//! |---:|---:|---:|---:|---:|---:|---:|
//! | 1 KiB | 262 | 6 | 0.02 | 1,739 | 39,468 | 22.7 |
//! | 4 KiB | 628 | 25 | 0.04 | 682 | 10,488 | 15.4 |
//! | 16 KiB | 845 | 88 | 0.10 | 422 | 2,744 | 6.5 |
//! | 64 KiB | 790 | 239 | 0.30 | 407 | 1,078 | 2.6 |
//! | 256 KiB | 1,206 | 561 | 0.46 | 273 | 515 | 1.9 |
//! | 1 MiB | 1,015 | 538 | 0.53 | 346 | 457 | 1.3 |
//! | 4 MiB | 998 | 872 | 0.87 | 319 | 344 | 1.1 |
//!
//! No crossover on loopback: send_zc loses on throughput and on sender
//! CPU at every size, approaching parity only at 4 MiB messages. The same
//! run on epoll (both columns plain sends) gave ratios of 0.78–1.19 from
//! noise alone, so read the figures to about ±20 %. The bundled servers
//! keep the plain send. Measure on a real NIC, with large messages,
//! before using send_zc.

#[path = "support/cli.rs"]
mod cli;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::time::{Duration, Instant};

use clap::Parser;
use ringloop::io::{AsyncRead, AsyncWrite};
use ringloop::net::TcpStream;
use ringloop::{Backend, Builder};

/// send vs send_zc over loopback TCP: throughput and sender CPU per KiB,
/// medians of --runs, one table
#[derive(Parser, Debug)]
#[command(name = "send_zc")]
struct Cli {
    /// I/O backend of the sender (epoll has no zero-copy send: both columns
    /// are plain sends there)
    #[arg(long, value_name = "auto|uring|epoll", default_value = "uring", value_parser = cli::backend)]
    backend: Backend,
    /// Message sizes (k = KiB, m = MiB)
    #[arg(long, value_name = "LIST", default_value = "1k,4k,16k,64k,256k", value_delimiter = ',', value_parser = size)]
    sizes: Vec<usize>,
    /// Bytes per measurement (one connection)
    #[arg(long, value_name = "BYTES", default_value = "32m", value_parser = size)]
    bytes: usize,
    /// Measurements per size and method (the table shows medians)
    #[arg(long, value_name = "N", default_value = "5", value_parser = cli::count(1000))]
    runs: usize,
    /// CPU the sender's loop runs on
    #[arg(long, value_name = "CPU", default_value = "0")]
    sender_cpu: usize,
    /// CPU the receiver thread runs on
    #[arg(long, value_name = "CPU", default_value = "1")]
    receiver_cpu: usize,
}

/// `1024`, `4k`, `256k`, `32m` (KiB and MiB); at least 1.
fn size(s: &str) -> Result<usize, String> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mul) = match s.strip_suffix('k') {
        Some(n) => (n, 1024),
        None => match s.strip_suffix('m') {
            Some(n) => (n, 1024 * 1024),
            None => (s.as_str(), 1),
        },
    };
    let n: usize = num.parse().map_err(|_| format!("not a size: {s}"))?;
    match n.checked_mul(mul) {
        Some(0) | None => Err(format!("size out of range: {s}")),
        Some(v) => Ok(v),
    }
}

fn pin(cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it, and
    // sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Reads every connection to its end, then answers one byte.
fn receiver(l: StdListener, cpu: usize) {
    if let Err(e) = pin(cpu) {
        eprintln!("receiver: cannot pin to CPU {cpu}: {e}");
    }
    let mut buf = vec![0u8; 256 * 1024];
    for conn in l.incoming() {
        let Ok(mut c) = conn else { return };
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = c.write_all(b"k");
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Send,
    SendZc,
}

/// One measurement: (seconds until the receiver had it all, sender CPU).
async fn measure(addr: SocketAddr, method: Method, size: usize, bytes: usize) -> (f64, Duration) {
    let c = TcpStream::connect(addr).await.expect("connect");
    let mut buf = vec![0x5au8; size];
    let msgs = bytes.div_ceil(size);
    let (t0, cpu0) = (Instant::now(), thread_cpu());
    for _ in 0..msgs {
        let (r, b) = match method {
            Method::Send => c.write_all(buf).await,
            Method::SendZc => c.send_zc_all(buf).await,
        };
        r.expect("send");
        buf = b;
    }
    let cpu = thread_cpu() - cpu0;
    c.shutdown(std::net::Shutdown::Write)
        .await
        .expect("shutdown");
    let (r, _) = c.read_exact(vec![0u8; 1]).await;
    r.expect("the receiver's answer");
    (t0.elapsed().as_secs_f64(), cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn shown(size: usize) -> String {
    if size % (1024 * 1024) == 0 {
        format!("{} MiB", size / (1024 * 1024))
    } else if size % 1024 == 0 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn main() -> std::io::Result<()> {
    let args: Cli = cli::parse();
    let l = StdListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let cpu = args.receiver_cpu;
    std::thread::spawn(move || receiver(l, cpu));
    if let Err(e) = pin(args.sender_cpu) {
        eprintln!("sender: cannot pin to CPU {}: {e}", args.sender_cpu);
    }
    let rt = Builder::new().backend(args.backend).build()?;
    println!(
        "send vs send_zc over loopback TCP: {} per measurement, median of {} runs, backend {}, sender CPU {}, receiver CPU {}",
        shown(args.bytes),
        args.runs,
        rt.backend(),
        args.sender_cpu,
        args.receiver_cpu
    );
    println!(
        "{:>9} | {:>10} {:>10} {:>6} | {:>13} {:>13} {:>6}",
        "message", "send MB/s", "zc MB/s", "zc/snd", "send ns/KiB", "zc ns/KiB", "zc/snd"
    );
    let zc_before = rt
        .metrics()
        .ops_by_opcode
        .iter()
        .find(|o| o.name == "SEND_ZC")
        .map_or(0, |o| o.started);
    rt.block_on(async {
        for &size in &args.sizes {
            let (mut tput, mut cpu) = ([vec![], vec![]], [vec![], vec![]]);
            for run in 0..args.runs {
                // Take turns, and alternate who goes first.
                let order = if run % 2 == 0 {
                    [Method::Send, Method::SendZc]
                } else {
                    [Method::SendZc, Method::Send]
                };
                for m in order {
                    let (secs, c) = measure(addr, m, size, args.bytes).await;
                    let i = usize::from(m == Method::SendZc);
                    tput[i].push(args.bytes as f64 / secs / 1e6);
                    cpu[i].push(c.as_nanos() as f64 / (args.bytes as f64 / 1024.0));
                }
            }
            let [ts, tz] = tput.map(median);
            let [cs, cz] = cpu.map(median);
            println!(
                "{:>9} | {ts:>10.0} {tz:>10.0} {:>6.2} | {cs:>13.1} {cz:>13.1} {:>6.2}",
                shown(size),
                tz / ts,
                cz / cs
            );
        }
    });
    let zc_ops = rt
        .metrics()
        .ops_by_opcode
        .iter()
        .find(|o| o.name == "SEND_ZC")
        .map_or(0, |o| o.started)
        - zc_before;
    println!(
        "MB/s: bytes / time until the receiver read them all; ns/KiB: sender thread CPU per KiB sent; \
         zc/snd: send_zc / send. {} send_zc operations, {} of the loop's operations took a fallback path.",
        zc_ops,
        rt.metrics().ops_fallback
    );
    Ok(())
}
