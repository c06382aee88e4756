//! O_DIRECT: aligned reads and writes through `custom_flags`, with a small
//! 4096-aligned owned buffer. Skipped, with the reason printed, where the
//! filesystem refuses O_DIRECT (EINVAL at open).
mod util;

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io::ErrorKind;

use ringloop::buf::{IoBuf, IoBufMut};
use ringloop::fs::{self, OpenOptions};
use ringloop::Backend;

const ALIGN: usize = 4096;

/// A heap buffer aligned to 4096 bytes, as O_DIRECT needs.
struct AlignedBuf {
    ptr: *mut u8,
    init: usize,
    cap: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `cap` bytes (a non-zero multiple of 4096), with
    /// `init` of them counted as initialised.
    fn new(cap: usize, init: usize) -> Self {
        assert!(cap > 0 && cap % ALIGN == 0 && init <= cap);
        let layout = Layout::from_size_align(cap, ALIGN).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        AlignedBuf { ptr, init, cap }
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `init <= cap` bytes from `ptr` are initialised (zeroed at
        // allocation) and owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.init) }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, with exclusive access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.init) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this exact layout.
        unsafe { dealloc(self.ptr, Layout::from_size_align(self.cap, ALIGN).unwrap()) }
    }
}

// SAFETY: the allocation is on the heap (stable across moves), `cap` bytes
// long, zero-initialised in full, so `init <= cap` bytes are initialised;
// it lives until drop.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn bytes_init(&self) -> usize {
        self.init
    }
    fn bytes_total(&self) -> usize {
        self.cap
    }
}

// SAFETY: the same allocation, writable over `cap` bytes.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.init = self.init.max(pos);
    }
}

each_backend!(o_direct_aligned_io, |b: Backend| {
    let dir = std::env::temp_dir().join(format!("ringloop-direct-{b}-{}", std::process::id()));
    util::rt(b).block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("direct.bin");
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(&p)
            .await;
        let f = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::InvalidInput => {
                util::skip(
                    "RINGLOOP_REQUIRE_DIRECT",
                    &format!("the filesystem of {dir:?} refuses O_DIRECT: {e}"),
                );
                let _ = fs::remove_file(&p).await;
                fs::remove_dir(&dir).await.unwrap();
                return;
            }
            Err(e) => panic!("{e}"),
        };
        // 16 blocks of 64 KiB at aligned offsets, in reverse order.
        for k in (0..16u64).rev() {
            let mut buf = AlignedBuf::new(64 * 1024, 64 * 1024);
            for (i, byte) in buf.as_mut_slice().iter_mut().enumerate() {
                *byte = (i as u64 ^ k.wrapping_mul(97)) as u8;
            }
            let (r, _) = f.write_all_at(buf, k * 64 * 1024).await;
            r.unwrap();
        }
        f.sync_data().await.unwrap();
        for k in 0..16u64 {
            let (r, buf) = f
                .read_exact_at(AlignedBuf::new(64 * 1024, 0), k * 64 * 1024)
                .await;
            r.unwrap();
            let ok = buf
                .as_slice()
                .iter()
                .enumerate()
                .all(|(i, &byte)| byte == (i as u64 ^ k.wrapping_mul(97)) as u8);
            assert!(ok, "block {k} differs");
        }
        // Vectored, aligned: two 4 KiB buffers.
        let bufs = vec![AlignedBuf::new(ALIGN, 0), AlignedBuf::new(ALIGN, 0)];
        let (r, bufs) = f.readv_at(bufs, 0).await;
        assert_eq!(r.unwrap(), 2 * ALIGN);
        assert_eq!(bufs[1].as_slice()[1], 1);
        // An unaligned read is the filesystem's call (EINVAL on ext4/xfs).
        let (r, _) = f.read_at(vec![0u8; 100], 3).await;
        if let Err(e) = r {
            eprintln!("unaligned O_DIRECT read refused, as expected: {e}");
        }
        f.close().await.unwrap();
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
});
