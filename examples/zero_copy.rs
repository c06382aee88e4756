//! Socket-to-socket copy throughput: `ringloop::io::zero_copy` (through a
//! pipe, no byte in user memory) against `ringloop::io::copy` (one 64 KiB
//! buffer, read + write), on each backend, in one run.
//!
//! A writer thread sends `--mib` MiB over loopback TCP to the proxy (one
//! ringloop loop), which copies them to a second TCP connection, from
//! which a reader thread takes them (both threads with plain blocking
//! sockets). Only the proxy's copy differs between the two columns of a
//! backend. MB/s is the pipeline's throughput; proxy CPU is the process's
//! user + system time less the writer's and the reader's threads, per GiB
//! moved: the loop thread, and on io_uring the kernel's splice workers
//! (threads of the process). Medians of `--runs` interleaved runs; ratios
//! are zero_copy / io::copy on the same backend.
//!
//! ```sh
//! cargo run --release --example zero_copy -- --mib 1024 --runs 3
//! taskset -c 0 target/release/examples/zero_copy
//! ```

#[path = "support/cli.rs"]
mod cli;

use std::io;
use std::time::{Duration, Instant};

use clap::Parser;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::{Backend, Builder};

/// Copies --mib MiB socket to socket with io::zero_copy and with io::copy, on
/// each backend; prints MB/s and the ratio.
#[derive(Parser, Debug)]
#[command(name = "zero_copy")]
struct Cli {
    /// MiB pushed through the proxy per run
    #[arg(long, value_name = "N", default_value = "512", value_parser = cli::count(1 << 20))]
    mib: usize,
    /// Runs per row (the median is shown)
    #[arg(long, value_name = "N", default_value = "3", value_parser = cli::count(99))]
    runs: usize,
    /// Backends to measure
    #[arg(long, value_name = "both|uring|epoll", default_value = "both", value_parser = ["both", "uring", "epoll"])]
    backend: String,
}

/// Buffer the writer sends from and the reader reads into.
const CHUNK: usize = 256 * 1024;

/// CPU time of this process (`RUSAGE_SELF`, all threads) or of the calling
/// thread (`RUSAGE_THREAD`), user + system.
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid out-pointer.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One run: the wall time to push `bytes` through a proxy that copies
/// with `zero` (`io::zero_copy`) or `io::copy`, and the proxy's CPU time
/// (the process's, less the writer's and the reader's threads).
async fn run(bytes: u64, zero: bool) -> io::Result<(Duration, Duration)> {
    let front = TcpListener::bind(([127, 0, 0, 1], 0))?;
    let front_addr = front.local_addr()?;
    let back = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let back_addr = back.local_addr()?;
    let (t0, c0) = (Instant::now(), cpu(libc::RUSAGE_SELF));
    // Writer and reader: plain blocking sockets on threads of their own.
    let writer = std::thread::spawn(move || -> io::Result<Duration> {
        let mut s = std::net::TcpStream::connect(front_addr)?;
        let buf = vec![0x5a; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            std::io::Write::write_all(&mut s, &buf[..n])?;
            left -= n as u64;
        }
        drop(s); // end of stream for the proxy
        Ok(cpu(libc::RUSAGE_THREAD))
    });
    let reader = std::thread::spawn(move || -> io::Result<(u64, Duration)> {
        let (mut s, _) = back.accept()?;
        let mut buf = vec![0; CHUNK];
        let mut got = 0u64;
        loop {
            match std::io::Read::read(&mut s, &mut buf)? {
                0 => return Ok((got, cpu(libc::RUSAGE_THREAD))),
                n => got += n as u64,
            }
        }
    });
    let (proxy_in, _) = front.accept().await?;
    let proxy_out = TcpStream::connect(back_addr).await?;
    let copied = if zero {
        ringloop::io::zero_copy(&proxy_in, &proxy_out).await?
    } else {
        ringloop::io::copy(&proxy_in, &proxy_out).await?
    };
    // Closed by the loop (a CLOSE SQE on io_uring): wait for the threads
    // without blocking it.
    drop(proxy_out);
    let joined = ringloop::spawn_blocking(move || (writer.join(), reader.join()));
    let (w, r) = joined.await.map_err(|e| io::Error::other(e.to_string()))?;
    let thread = |_| io::Error::other("a thread panicked");
    let writer_cpu = w.map_err(thread)??;
    let (got, reader_cpu) = r.map_err(thread)??;
    let took = t0.elapsed();
    let proxy_cpu = (cpu(libc::RUSAGE_SELF) - c0).saturating_sub(writer_cpu + reader_cpu);
    if copied != bytes || got != bytes {
        return Err(io::Error::other(format!(
            "copied {copied}, received {got} of {bytes} bytes"
        )));
    }
    Ok((took, proxy_cpu))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> io::Result<()> {
    let cli: Cli = cli::parse();
    let backends: &[Backend] = match cli.backend.as_str() {
        "uring" => &[Backend::IoUring],
        "epoll" => &[Backend::Epoll],
        _ => &[Backend::IoUring, Backend::Epoll],
    };
    let bytes = cli.mib as u64 * 1024 * 1024;
    println!(
        "socket -> proxy -> socket over loopback TCP, {} MiB per run, one loop thread; median of {} runs",
        cli.mib, cli.runs
    );
    println!(
        "{:<8} {:>15} {:>14} {:>6} {:>16} {:>15} {:>6}   runs (zero_copy MB/s | copy MB/s)",
        "backend",
        "zero_copy MB/s",
        "io::copy MB/s",
        "ratio",
        "zero_copy CPU ms/GiB",
        "copy CPU ms/GiB",
        "ratio"
    );
    for &b in backends {
        let rt = Builder::new().backend(b).build()?;
        let (mut zero, mut plain) = (Vec::new(), Vec::new());
        let (mut zero_cpu, mut plain_cpu) = (Vec::new(), Vec::new());
        let gib = bytes as f64 / (1u64 << 30) as f64;
        // Interleaved, so load from elsewhere falls on both alike.
        for _ in 0..cli.runs {
            for (is_zero, out, out_cpu) in [
                (true, &mut zero, &mut zero_cpu),
                (false, &mut plain, &mut plain_cpu),
            ] {
                let (took, cpu) = rt.block_on(run(bytes, is_zero))?;
                out.push(bytes as f64 / took.as_secs_f64() / 1e6);
                out_cpu.push(cpu.as_secs_f64() * 1e3 / gib);
            }
        }
        let show = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>();
        let (z, p) = (median(zero.clone()), median(plain.clone()));
        let (zc, pc) = (median(zero_cpu), median(plain_cpu));
        println!(
            "{:<8} {:>15.0} {:>14.0} {:>5.2}x {:>20.0} {:>15.0} {:>5.2}x   {} | {}",
            b.to_string(),
            z,
            p,
            z / p,
            zc,
            pc,
            zc / pc,
            show(&zero).join(" "),
            show(&plain).join(" ")
        );
    }
    println!(
        "legend: MB/s = 10^6 bytes per second through the whole pipeline; CPU ms/GiB = the \
         proxy's user+system time per GiB moved; ratios = zero_copy / io::copy"
    );
    Ok(())
}
