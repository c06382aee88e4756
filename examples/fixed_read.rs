//! Do registered buffers pay for `O_DIRECT` reads? 4 KiB reads at random
//! aligned offsets of one file opened with `O_DIRECT`, `--depth` of them
//! in flight, with `File::read_at` (a plain `IORING_OP_READ`: the kernel
//! looks up and pins the buffer's page on every read) against
//! `File::read_fixed_at` (`IORING_OP_READ_FIXED`: pinned once, at
//! registration), into the very same registered buffers, in one run.
//!
//! The two take turns, `--runs` times, `--ops` reads each; the table has
//! the medians of reads per second and of the process's CPU time per read
//! (`getrusage(RUSAGE_SELF)`, user + system, so kernel work done in the
//! process's io-wq workers counts too), and the ratio fixed / plain.
//!
//! ```sh
//! cargo build --release --example fixed_read
//! taskset -c 1 target/release/examples/fixed_read --runs 7
//! ```
//!
//! On epoll both columns are the blocking pool's `pread` (there are no
//! fixed reads), which shows the noise of a run.
//!
//! Measured here (2 shared cores, load average ~3.5, kernel 6.18, ext4 on
//! a virtio disk, release build, `taskset -c 1`, 256 MiB file):
//!
//! | backend, depth | runs | reads/s plain | reads/s fixed | fixed/plain | µs CPU/read plain | fixed | fixed/plain |
//! |---|---:|---:|---:|---:|---:|---:|---:|
//! | io_uring, 32 | 5 | 54,431 | 56,763 | 1.04 | 5.01 | 4.57 | 0.91 |
//! | io_uring, 32 | 7 | 54,432 | 54,362 | 1.00 | 4.65 | 4.36 | 0.94 |
//! | io_uring, 1 | 7 | 17,158 | 18,619 | 1.09 | 19.36 | 18.73 | 0.97 |
//! | epoll, 32 (both pool) | 5 | 19,509 | 19,746 | 1.01 | 19.17 | 18.96 | 0.99 |
//!
//! At depth 32 the disk bounds the rate (about 54k reads/s either way);
//! the fixed reads save 6–9 % of the CPU per read, the per-read page
//! lookup and pin. The epoll row (no difference by construction) puts the
//! noise at about ±1–2 %.

#[path = "support/cli.rs"]
mod cli;

use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use ringloop::buf::fixed::FixedBufRegistry;
use ringloop::fs::{File, OpenOptions};
use ringloop::{Backend, Builder};

/// O_DIRECT 4 KiB random reads: read_at vs read_fixed_at, medians of --runs
#[derive(Parser, Debug)]
#[command(name = "fixed_read")]
struct Cli {
    /// I/O backend (epoll has no fixed reads: both columns are pool reads)
    #[arg(long, value_name = "auto|uring|epoll", default_value = "uring", value_parser = cli::backend)]
    backend: Backend,
    /// Size of the file read (MiB; made once, then reused)
    #[arg(long, value_name = "MIB", default_value = "256")]
    file_mib: u64,
    /// Reads in flight at once (one task and one registered buffer each)
    #[arg(long, value_name = "N", default_value = "32", value_parser = cli::count(4096))]
    depth: usize,
    /// Reads per measurement
    #[arg(long, value_name = "N", default_value = "40000", value_parser = cli::count(100_000_000))]
    ops: usize,
    /// Measurements per method (the table shows medians)
    #[arg(long, value_name = "N", default_value = "5", value_parser = cli::count(1000))]
    runs: usize,
    /// Directory of the file (must take O_DIRECT: not tmpfs)
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

const BLOCK: usize = 4096;

fn process_cpu() -> Duration {
    // SAFETY: an all-zero rusage is valid, and `ru` is a valid out-pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One measurement: `ops` reads by `depth` tasks; (reads/s, µs CPU/read).
async fn measure(
    f: &Rc<File>,
    reg: &FixedBufRegistry,
    cli: &Cli,
    ops: usize,
    fixed: bool,
) -> (f64, f64) {
    let blocks = cli.file_mib * 1024 * 1024 / BLOCK as u64;
    let per_task = (ops / cli.depth).max(1);
    let (t0, c0) = (Instant::now(), process_cpu());
    let mut tasks = Vec::new();
    for t in 0..cli.depth {
        let f = f.clone();
        let mut buf = reg.check_out(t).expect("one buffer per task");
        tasks.push(ringloop::spawn(async move {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ ((t as u64 + 1) * 0x1234_5678_9ABC_DEF1);
            for _ in 0..per_task {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let pos = (x % blocks) * BLOCK as u64;
                buf.clear();
                let (r, b) = if fixed {
                    f.read_fixed_at(buf, pos).await
                } else {
                    f.read_at(buf, pos).await
                };
                buf = b;
                assert_eq!(r.expect("read"), BLOCK);
            }
        }));
    }
    for t in tasks {
        t.await.expect("reader task");
    }
    let (wall, cpu) = (t0.elapsed(), process_cpu() - c0);
    let n = (per_task * cli.depth) as f64;
    (n / wall.as_secs_f64(), cpu.as_secs_f64() * 1e6 / n)
}

async fn make_file(path: &std::path::Path, mib: u64) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == mib * 1024 * 1024) {
        return Ok(());
    }
    let f = File::create(path).await?;
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    for i in 0..mib {
        let (r, _) = f.write_all_at(chunk.clone(), i * 1024 * 1024).await;
        r?;
    }
    f.sync_all().await?;
    f.close().await
}

fn main() -> std::io::Result<()> {
    let cli: Cli = cli::parse();
    let rt = Builder::new().backend(cli.backend).build()?;
    let dir = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("ringloop-fixed-read-{}m.bin", cli.file_mib));
    rt.block_on(async {
        make_file(&path, cli.file_mib).await?;
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .await?;
        // Drop the file's pages, so no read is served from the page cache
        // of a previous buffered pass.
        // SAFETY: a plain advisory syscall on an fd we own.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let f = Rc::new(f);
        let reg = FixedBufRegistry::with_capacity(cli.depth, BLOCK)?;
        let kernel = reg.register()?;
        println!(
            "backend {}  file {} MiB O_DIRECT  depth {}  {} reads x {} runs  buffers in the ring's table: {kernel}",
            ringloop::current_backend().map_or("?".into(), |b| b.to_string()),
            cli.file_mib,
            cli.depth,
            cli.ops,
            cli.runs
        );
        // Warm-up: one short pass of each.
        measure(&f, &reg, &cli, cli.depth * 50, false).await;
        measure(&f, &reg, &cli, cli.depth * 50, true).await;
        let (mut pi, mut pc, mut fi, mut fc) = (vec![], vec![], vec![], vec![]);
        for _ in 0..cli.runs {
            let (i, c) = measure(&f, &reg, &cli, cli.ops, false).await;
            pi.push(i);
            pc.push(c);
            let (i, c) = measure(&f, &reg, &cli, cli.ops, true).await;
            fi.push(i);
            fc.push(c);
        }
        let (pi, pc, fi, fc) = (median(&mut pi), median(&mut pc), median(&mut fi), median(&mut fc));
        println!("| method | reads/s | µs CPU/read |");
        println!("|---|---:|---:|");
        println!("| read_at (READ) | {pi:.0} | {pc:.2} |");
        println!("| read_fixed_at (READ_FIXED) | {fi:.0} | {fc:.2} |");
        println!("| fixed / plain | {:.3} | {:.3} |", fi / pi, fc / pc);
        println!("legend: medians of {} alternating runs; CPU = the process's user+system time", cli.runs);
        Ok(())
    })
}
