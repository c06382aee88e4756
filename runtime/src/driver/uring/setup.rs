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
//! kernel, never by interrupting it. The probe (`IORING_REGISTER_PROBE`, 5.6)
//! is required; the opcodes the driver itself uses (NOP, READ, POLL_ADD,
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

/// A freshly set-up ring with what the kernel told us about it.
pub(crate) struct Setup {
    pub(crate) ring: IoUring,
    pub(crate) probe: Probe,
    pub(crate) flags: SetupFlags,
}

/// Sets up a ring of `entries` SQEs (CQ twice that), trying the richest flag
/// set first.
pub(crate) fn setup(entries: u32) -> io::Result<Setup> {
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
        match b.build(entries) {
            Ok(ring) => return finish(ring, flags),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)))
}

fn finish(ring: IoUring, flags: SetupFlags) -> io::Result<Setup> {
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
        if !probe.is_supported(code) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring lacks opcode {name}, which the driver needs"),
            ));
        }
    }
    Ok(Setup { ring, probe, flags })
}
