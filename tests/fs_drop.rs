//! Dropping in-flight file reads never frees their buffers under the kernel
//! or a pool thread: reads dropped by a zero timeout and by aborting their
//! tasks, then more I/O, then shutdown; every buffer is freed exactly once.
//! Small on purpose: CI also runs this binary under valgrind.
mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ringloop::buf::{IoBuf, IoBufMut};
use ringloop::fs::{self, File};
use ringloop::Backend;

/// A `Vec` buffer that counts its drops.
struct Tracked {
    vec: Vec<u8>,
    drops: Rc<Cell<usize>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

// SAFETY: delegates to the Vec, whose heap memory is stable across moves.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.vec.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.vec.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.vec.bytes_total()
    }
}

// SAFETY: delegates to the Vec.
unsafe impl IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.vec.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.vec.set_init(pos) }
    }
}

const LEN: u64 = 256 * 1024;
const BATCH: usize = 100;

each_backend!(dropped_reads_keep_buffers, |b: Backend| {
    let dir = std::env::temp_dir().join(format!("ringloop-drop-{b}-{}", std::process::id()));
    let drops = Rc::new(Cell::new(0));
    let created = Rc::new(Cell::new(0));
    let buf = |n: usize| {
        created.set(created.get() + 1);
        Tracked {
            vec: vec![0u8; n],
            drops: drops.clone(),
        }
    };
    let rt = util::rt_pool(b);
    rt.block_on(async {
        fs::create_dir_all(&dir).await.unwrap();
        let p = dir.join("d.bin");
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        fs::write(&p, &data).await.unwrap();
        let f = Rc::new(File::open(&p).await.unwrap());

        // 1. Reads dropped after their first poll by a zero timeout.
        let before = drops.get();
        for i in 0..BATCH {
            let pos = (i as u64 * 4099) % LEN;
            let r = ringloop::time::timeout(Duration::ZERO, f.read_at(buf(8192), pos)).await;
            // Completed reads (none expected) hand their buffer back here.
            drop(r);
        }
        if b == Backend::IoUring {
            // The SQEs are not even submitted yet: every buffer is in a slot.
            assert_eq!(drops.get(), before, "a buffer was freed under the kernel");
            assert_eq!(
                rt.debug_resources()[2],
                BATCH,
                "orphans kept in their slots"
            );
        }

        // 2. Reads in spawned tasks, aborted after they started.
        let tasks: Vec<_> = (0..BATCH)
            .map(|i| {
                let (f, b) = (f.clone(), buf(4096));
                ringloop::spawn(async move {
                    let (r, _b) = f.read_at(b, (i as u64 * 8191) % LEN).await;
                    r.unwrap()
                })
            })
            .collect();
        ringloop::yield_now().await;
        for t in &tasks {
            t.abort();
        }
        drop(tasks);

        // 3. Drop the File itself while reads on it are in flight: the fd
        //    stays open until they finish.
        for i in 0..BATCH {
            let fut = f.read_at(buf(1024), i as u64 * 1024);
            let _ = ringloop::time::timeout(Duration::ZERO, fut).await;
        }
        // (Aborted tasks drop their clones of `f` when the executor next
        // visits them; the last clone closes the fd.)
        drop(f);

        // 4. Further I/O still works and sees the right data.
        let f = File::open(&p).await.unwrap();
        for i in 0..BATCH as u64 {
            let pos = (i * 2311) % (LEN - 512);
            let (r, got) = f.read_exact_at(buf(512), pos).await;
            r.unwrap();
            assert!(got.vec[..] == data[pos as usize..pos as usize + 512]);
        }
        f.close().await.unwrap();
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
    drop(rt); // shutdown: cancels and drains whatever is still in flight
    assert_eq!(created.get(), 4 * BATCH);
    assert_eq!(
        drops.get(),
        created.get(),
        "every buffer freed exactly once"
    );
});
