//! The floor for the op path: the same ring the io_uring driver sets up
//! (`SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN | TASKRUN_FLAG`, same
//! entries, the ring fd registered), driven directly with the `io-uring`
//! crate: push NOPs, one `io_uring_enter` that submits and waits, reap. No
//! runtime, no futures, no wakers: what ringloop's per-op cost is compared
//! with in the `nop_vs_raw` bench group.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, IoUring};

/// `IORING_REGISTER_RING_FDS` and `IORING_ENTER_REGISTERED_RING` (uapi).
const REGISTER_RING_FDS: libc::c_uint = 20;
const UNREGISTER_RING_FDS: libc::c_uint = 21;
const ENTER_GETEVENTS: u32 = 1;
const ENTER_REGISTERED_RING: u32 = 1 << 4;

#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

pub struct RawRing {
    ring: IoUring,
    /// Registered index (or the plain fd) and the flag that says which.
    fd: libc::c_int,
    flag: u32,
}

impl RawRing {
    pub fn new(entries: u32) -> io::Result<RawRing> {
        let ring = IoUring::builder()
            .setup_cqsize(entries * 2)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(entries)?;
        let mut up = RsrcUpdate {
            offset: u32::MAX,
            resv: 0,
            data: ring.as_raw_fd() as u64,
        };
        // SAFETY: one valid io_uring_rsrc_update that outlives the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring.as_raw_fd(),
                REGISTER_RING_FDS,
                &mut up as *mut RsrcUpdate,
                1,
            )
        };
        let (fd, flag) = if r == 1 {
            (up.offset as libc::c_int, ENTER_REGISTERED_RING)
        } else {
            (ring.as_raw_fd(), 0)
        };
        Ok(RawRing { ring, fd, flag })
    }

    fn enter(&self, submit: u32, wait: u32) {
        // SAFETY: our ring (or its registered index), no extra argument.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                self.fd,
                submit,
                wait,
                ENTER_GETEVENTS | self.flag,
                std::ptr::null::<libc::c_void>(),
                0usize,
            )
        };
        assert!(r >= 0, "io_uring_enter: {}", io::Error::last_os_error());
    }

    /// `n` NOPs: queued (entering early when the SQ is full), one enter
    /// that submits the rest and waits for all, then every CQE reaped.
    pub fn nops(&mut self, n: u32) {
        let mut done = 0;
        let mut queued = 0;
        while queued < n {
            let e = opcode::Nop::new().build().user_data(u64::from(queued));
            // SAFETY: a NOP carries no pointer.
            if unsafe { self.ring.submission().push(&e) }.is_ok() {
                queued += 1;
                continue;
            }
            let len = self.ring.submission().len() as u32;
            self.enter(len, 0);
            done += self.ring.completion().count() as u32;
        }
        while done < n {
            let len = self.ring.submission().len() as u32;
            self.enter(len, 1);
            done += self.ring.completion().count() as u32;
        }
    }
}

impl Drop for RawRing {
    fn drop(&mut self) {
        if self.flag != 0 {
            let up = RsrcUpdate {
                offset: self.fd as u32,
                resv: 0,
                data: 0,
            };
            // SAFETY: one registered entry, named by `up`.
            unsafe {
                libc::syscall(
                    libc::SYS_io_uring_register,
                    self.ring.as_raw_fd(),
                    UNREGISTER_RING_FDS,
                    &up as *const RsrcUpdate,
                    1,
                )
            };
        }
    }
}
