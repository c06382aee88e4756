//! Volume and concurrency: 256 MiB of random data written at shuffled
//! offsets and read back in random-sized pieces, compared byte for byte; 1,000
//! concurrent `read_at`s at random offsets from spawned tasks.
mod util;

use std::path::PathBuf;
use std::rc::Rc;

use ringloop::fs::{self, File, OpenOptions};
use ringloop::Backend;

/// xorshift64*: small, fast, good enough for test data and offsets.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Fills `buf` (a multiple of 8 bytes long) with random words.
    fn fill(&mut self, buf: &mut [u8]) {
        assert_eq!(buf.len() % 8, 0);
        let p = buf.as_mut_ptr();
        for i in 0..buf.len() / 8 {
            // SAFETY: `8 * i + 8 <= buf.len()`; unaligned writes are allowed.
            unsafe { p.add(8 * i).cast::<u64>().write_unaligned(self.next()) };
        }
    }
}

/// Compares `got`, read at `pos`, with the chunks written there. A byte-exact
/// memcmp: stronger than a checksum, and quick even in a debug build (a
/// hand-rolled checksum over 512 MiB is not).
fn check(chunks: &[Vec<u8>], pos: u64, got: &[u8]) {
    let mut done = 0;
    while done < got.len() {
        let p = pos as usize + done;
        let (i, off) = (p / MIB, p % MIB);
        let n = (MIB - off).min(got.len() - done);
        assert!(
            got[done..done + n] == chunks[i][off..off + n],
            "data read at {p} differs from chunk {i}"
        );
        done += n;
    }
}

fn tmpdir(tag: &str, b: Backend) -> PathBuf {
    std::env::temp_dir().join(format!("ringloop-{tag}-{b}-{}", std::process::id()))
}

const MIB: usize = 1 << 20;
const CHUNKS: usize = 256;

/// Chunk `i`: the random `base` rotated by a random amount, stamped with
/// its index, so every chunk differs and a misplaced one is caught. (Two
/// memcpys instead of a PRNG per word: fast in a debug build.)
fn chunk_data(base: &[u8], rng: &mut Rng, i: usize) -> Vec<u8> {
    let r = rng.below(MIB as u64) as usize;
    let mut v = vec![0u8; MIB];
    v[..MIB - r].copy_from_slice(&base[r..]);
    v[MIB - r..].copy_from_slice(&base[..r]);
    v[..8].copy_from_slice(&(i as u64).to_le_bytes());
    v
}

each_backend!(random_256_mib_roundtrip, |b: Backend| {
    let dir = tmpdir("big", b);
    let seed = 0x5eed_u64 + b as u64;
    util::rt(b).block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("big.bin");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .await
            .unwrap();
        let mut rng = Rng::new(seed);
        let mut base = vec![0u8; MIB];
        rng.fill(&mut base);
        // Shuffled chunk order (Fisher-Yates).
        let mut order: Vec<usize> = (0..CHUNKS).collect();
        for i in (1..CHUNKS).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        // The chunks come back from the writes and are kept for checking.
        let mut chunks: Vec<Vec<u8>> = vec![Vec::new(); CHUNKS];
        for &i in &order {
            let (r, data) = f
                .write_all_at(chunk_data(&base, &mut rng, i), (i * MIB) as u64)
                .await;
            r.unwrap();
            chunks[i] = data;
        }
        assert_eq!(f.metadata().await.unwrap().len(), (CHUNKS * MIB) as u64);

        // Read back sequentially in random-sized pieces (1 B .. 2 MiB).
        let total = (CHUNKS * MIB) as u64;
        let mut pos = 0u64;
        let mut buf = Vec::with_capacity(2 * MIB);
        while pos < total {
            let len = 1 + rng.below(2 * MIB as u64) as usize;
            buf.clear();
            buf.reserve_exact(len);
            let want = len.min((total - pos) as usize);
            let (r, b2) = f
                .read_exact_at(ringloop::buf::IoBuf::slice(buf, 0..want), pos)
                .await;
            buf = b2.into_inner();
            r.unwrap();
            check(&chunks, pos, &buf[..want]);
            pos += want as u64;
        }
        // Past the end: 0.
        let (r, _) = f.read_at(vec![0u8; 16], total).await;
        assert_eq!(r.unwrap(), 0);

        // Spot checks at random offsets, byte for byte.
        for _ in 0..16 {
            let i = rng.below(CHUNKS as u64) as usize;
            let off = rng.below(MIB as u64 - 4096) as usize;
            let (r, b2) = f
                .read_exact_at(vec![0u8; 4096], (i * MIB + off) as u64)
                .await;
            r.unwrap();
            assert_eq!(b2, chunks[i][off..off + 4096]);
        }
        f.close().await.unwrap();
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
});

/// The 8-byte word at every multiple of 8 is its own offset.
fn pattern_at(pos: u64, len: usize) -> Vec<u8> {
    (pos..pos + len as u64)
        .map(|o| ((o / 8) * 8).to_le_bytes()[(o % 8) as usize])
        .collect()
}

each_backend!(thousand_concurrent_reads, |b: Backend| {
    let dir = tmpdir("conc", b);
    let rt = util::rt(b);
    rt.block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("pattern.bin");
        const LEN: u64 = 4 * MIB as u64;
        let data: Vec<u8> = (0..LEN / 8).flat_map(|w| (w * 8).to_le_bytes()).collect();
        fs::write(&p, data).await.unwrap();
        let f = Rc::new(File::open(&p).await.unwrap());
        let mut rng = Rng::new(42);
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let f = f.clone();
                let pos = rng.below(LEN + 100);
                let len = 1 + rng.below(16 * 1024) as usize;
                ringloop::spawn(async move {
                    let (r, buf) = f.read_at(vec![0u8; len], pos).await;
                    let n = r.unwrap();
                    let want = len.min(LEN.saturating_sub(pos) as usize);
                    assert_eq!(n, want, "read_at({pos}, {len})");
                    assert!(buf[..n] == pattern_at(pos, n)[..], "data at {pos}");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        Rc::try_unwrap(f).unwrap().close().await.unwrap();
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});
