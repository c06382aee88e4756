//! Ring setup: the setup flags a thread-per-core ring wants, dropped one by
//! one on `EINVAL` (older kernels), and the opcode probe.
//!
//! | flags tried, in order                                          | kernel |
//! |----------------------------------------------------------------|--------|
//! | `SINGLE_ISSUER \| DEFER_TASKRUN \| COOP_TASKRUN \| TASKRUN_FLAG` | 6.1    |
//! | `SINGLE_ISSUER \| COOP_TASKRUN \| TASKRUN_FLAG`                  | 6.0    |
//! | `COOP_TASKRUN \| TASKRUN_FLAG`                                   | 5.19   |
//! | none                                                           | 5.1    |
//!
//! `SINGLE_ISSUER` and `DEFER_TASKRUN` fit exactly one ring per thread, used
//! only by that thread: completions are posted when that thread enters the
//! kernel, never by interrupting it.
//!
//! Two more things cut the cost of each `io_uring_enter`, each used where
//! the kernel has it and skipped (same behaviour, one cost more) where not:
//!
//! - a **registered ring fd** (`IORING_REGISTER_RING_FDS`, 5.18): the ring
//!   goes into the thread's table of registered rings and every enter
//!   passes its index with `IORING_ENTER_REGISTERED_RING`, so the kernel
//!   skips the fd lookup (`fdget`/`fdput`) on each call. The table is per
//!   thread, like the ring's use (the driver is `!Send`), and the driver
//!   unregisters it in its drop (a thread has 16 slots);
//! - **no iowait** (`IORING_ENTER_NO_IOWAIT` when the kernel reports
//!   `IORING_FEAT_NO_IOWAIT`, 6.15): a loop parked in the ring with only its
//!   wake read armed is idle, and must not show as iowait in `top` or in
//!   `/proc/pressure/io`.
//!
//! The probe (`IORING_REGISTER_PROBE`, 5.6) is required; the opcodes the driver itself uses (NOP, READ, POLL_ADD,
//! ASYNC_CANCEL) must be present, or setup fails with `Unsupported` and
//! `Backend::Auto` falls back to epoll.

use std::io;

use io_uring::{opcode, IoUring, Probe};

/// Which optional setup flags the ring got.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SetupFlags {
    pub(crate) single_issuer: bool,
    pub(crate) defer_taskrun: bool,
    pub(crate) coop_taskrun: bool,
}

/// `IORING_REGISTER_RING_FDS` / `IORING_UNREGISTER_RING_FDS` (uapi, 5.18).
const REGISTER_RING_FDS: libc::c_uint = 20;
const UNREGISTER_RING_FDS: libc::c_uint = 21;

/// `struct io_uring_rsrc_update` (uapi).
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// How each `io_uring_enter` reaches the ring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnterTarget {
    /// The registered index, or the ring fd.
    pub(crate) fd: libc::c_int,
    /// `fd` is a registered index (`IORING_ENTER_REGISTERED_RING`).
    pub(crate) registered: bool,
    /// The kernel takes `IORING_ENTER_NO_IOWAIT`.
    pub(crate) no_iowait: bool,
}

impl EnterTarget {
    /// Registers the ring fd of `ring` in this thread's table when the
    /// kernel can; the plain fd otherwise.
    pub(crate) fn new(ring: &IoUring) -> EnterTarget {
        use std::os::fd::AsRawFd;
        let no_iowait = ring.params().is_feature_no_iowait();
        let raw = ring.as_raw_fd();
        let mut up = RsrcUpdate {
            // u32::MAX: let the kernel pick a free slot.
            offset: u32::MAX,
            resv: 0,
            data: raw as u64,
        };
        // SAFETY: `up` is a valid io_uring_rsrc_update for one entry and
        // outlives the call; `raw` is our ring's fd.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                raw,
                REGISTER_RING_FDS,
                &mut up as *mut RsrcUpdate,
                1,
            )
        };
        match r {
            // One entry registered: `offset` is its index.
            1 => EnterTarget {
                fd: up.offset as libc::c_int,
                registered: true,
                no_iowait,
            },
            // EINVAL (before 5.18), EBUSY (the thread's 16 slots taken):
            // enter through the fd, as before.
            _ => EnterTarget {
                fd: raw,
                registered: false,
                no_iowait,
            },
        }
    }

    /// Drops the registration (on the registering thread: the table is
    /// that thread's).
    pub(crate) fn unregister(&mut self, ring: &IoUring) {
        use std::os::fd::AsRawFd;
        if !self.registered {
            return;
        }
        let up = RsrcUpdate {
            offset: self.fd as u32,
            resv: 0,
            data: 0,
        };
        // SAFETY: `up` names one registered entry and outlives the call.
        unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring.as_raw_fd(),
                UNREGISTER_RING_FDS,
                &up as *const RsrcUpdate,
                1,
            )
        };
        self.registered = false;
        self.fd = ring.as_raw_fd();
    }
}

/// Whether the kernel takes a minimum wait in `io_uring_getevents_arg`
/// (`IORING_FEAT_MIN_TIMEOUT`, 6.12; the field was `pad` before).
pub(crate) fn has_min_timeout(ring: &IoUring, faults: &crate::faults::Injector) -> bool {
    ring.params().is_feature_min_timeout() && !faults.no_min_timeout()
}

/// A freshly set-up ring with what the kernel told us about it.
pub(crate) struct Setup {
    pub(crate) ring: IoUring,
    pub(crate) probe: Probe,
    pub(crate) flags: SetupFlags,
}

/// Sets up a ring of `entries` SQEs (CQ twice that), trying the richest flag
/// set first.
pub(crate) fn setup(entries: u32, faults: &crate::faults::Injector) -> io::Result<Setup> {
    let attempts = [
        SetupFlags {
            single_issuer: true,
            defer_taskrun: true,
            coop_taskrun: true,
        },
        SetupFlags {
            single_issuer: true,
            defer_taskrun: false,
            coop_taskrun: true,
        },
        SetupFlags {
            single_issuer: false,
            defer_taskrun: false,
            coop_taskrun: true,
        },
        SetupFlags::default(),
    ];
    let mut last = None;
    for flags in attempts {
        let mut b = IoUring::builder();
        b.setup_cqsize(entries.saturating_mul(2));
        if flags.single_issuer {
            b.setup_single_issuer();
        }
        if flags.defer_taskrun {
            b.setup_defer_taskrun();
        }
        if flags.coop_taskrun {
            b.setup_coop_taskrun().setup_taskrun_flag();
        }
        let built = match faults.setup() {
            Some(e) => Err(e),
            None => b.build(entries),
        };
        match built {
            Ok(ring) => return finish(ring, flags, faults),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)))
}

fn finish(ring: IoUring, flags: SetupFlags, faults: &crate::faults::Injector) -> io::Result<Setup> {
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("io_uring opcode probe (IORING_REGISTER_PROBE, Linux 5.6) failed: {e}"),
        )
    })?;
    for (code, name) in [
        (opcode::Nop::CODE, "NOP"),
        (opcode::Read::CODE, "READ"),
        (opcode::PollAdd::CODE, "POLL_ADD"),
        (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    ] {
        if !probe.is_supported(code) || faults.missing(code) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring lacks opcode {name}, which the driver needs"),
            ));
        }
    }
    Ok(Setup { ring, probe, flags })
}
