//! File I/O benches, io_uring vs epoll + blocking pool in one run (the
//! backend is the bench parameter, so criterion's report reads as a ratio),
//! on one 256 MiB file created at start-up:
//!
//! - `randread_4k_qd1`: one 4 KiB `read_at` at a random 4 KiB-aligned
//!   offset, awaited before the next (queue depth 1). Throughput in
//!   elements = IOPS.
//! - `randread_4k_qd32`: 32 tasks each keeping one such read in flight
//!   (queue depth 32); one iteration = 32 reads.
//! - `seqread_1m`: 1 MiB `read_at`s walking the file in order; bytes/s.
//!
//! **The file is in the page cache**: it was just written (buffered), and
//! 256 MiB fits in memory, so these measure the I/O path (SQE + completion
//! vs. pool hand-off + `pread`), not the device. Drop the cache
//! (`echo 1 > /proc/sys/vm/drop_caches`) for device-bound figures.
//!
//! Each measurement runs its iterations inside one `block_on`. Compare with
//! fio on the same file (`ioengine=io_uring` and `psync`).

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringloop::fs::File;

const FILE_LEN: u64 = 256 << 20;
const BLOCK: usize = 4096;
const SEQ: usize = 1 << 20;

/// The bench file, created once (or reused when it has the right size).
fn bench_file() -> PathBuf {
    let p = std::env::var_os("RINGLOOP_FS_BENCH_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ringloop-fs-bench-256m.bin"));
    if std::fs::metadata(&p).map(|m| m.len()).ok() != Some(FILE_LEN) {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let chunk: Vec<u8> = (0..SEQ)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut data = Vec::with_capacity(FILE_LEN as usize);
        for i in 0..FILE_LEN as usize / SEQ {
            data.extend(chunk.iter().map(|b| b ^ i as u8));
        }
        std::fs::write(&p, data).expect("cannot create the bench file");
    }
    eprintln!("bench file {p:?}: 256 MiB, in page cache (just written or read)");
    p
}

/// xorshift: the next 4 KiB-aligned offset.
fn next_offset(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    (*x % (FILE_LEN / BLOCK as u64)) * BLOCK as u64
}

async fn reads(f: Rc<File>, n: u64, mut seed: u64) {
    let mut buf = vec![0u8; BLOCK];
    for _ in 0..n {
        let (r, b) = f.read_at(buf, next_offset(&mut seed)).await;
        assert_eq!(r.unwrap(), BLOCK);
        buf = b;
    }
}

fn fs_benches(c: &mut Criterion) {
    let path = bench_file();
    let rts = support::runtimes();
    let files: Vec<Rc<File>> = rts
        .iter()
        .map(|(_, rt)| Rc::new(rt.block_on(File::open(&path)).unwrap()))
        .collect();

    let mut g = c.benchmark_group("randread_4k_qd1");
    g.throughput(Throughput::Elements(1));
    for ((b, rt), f) in rts.iter().zip(&files) {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                let f = f.clone();
                rt.block_on(async move {
                    let t = Instant::now();
                    reads(f, iters, iters | 1).await;
                    t.elapsed()
                })
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("randread_4k_qd32");
    g.throughput(Throughput::Elements(32));
    for ((b, rt), f) in rts.iter().zip(&files) {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                let f = f.clone();
                rt.block_on(async move {
                    let t = Instant::now();
                    let tasks: Vec<_> = (0..32u64)
                        .map(|i| ringloop::spawn(reads(f.clone(), iters, (i + 1) * 7919)))
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    t.elapsed()
                })
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("seqread_1m");
    g.throughput(Throughput::Bytes(SEQ as u64));
    for ((b, rt), f) in rts.iter().zip(&files) {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter_custom(|iters| {
                let f = f.clone();
                rt.block_on(async move {
                    let mut buf = vec![0u8; SEQ];
                    let t = Instant::now();
                    for i in 0..iters {
                        let pos = (i * SEQ as u64) % FILE_LEN;
                        let (r, b) = f.read_at(buf, pos).await;
                        assert_eq!(r.unwrap(), SEQ);
                        buf = b;
                    }
                    t.elapsed()
                })
            })
        });
    }
    g.finish();

    for ((_, rt), f) in rts.iter().zip(files) {
        let f = Rc::try_unwrap(f).expect("benches released the file");
        rt.block_on(f.close()).unwrap();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = fs_benches
}
criterion_main!(benches);
