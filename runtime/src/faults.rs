//! Faults injected into the io_uring driver, for tests of the paths a
//! healthy kernel rarely takes (feature `fault-injection`, off by default).
//!
//! A [`Faults`] plan is given to [`Builder::faults`](crate::Builder::faults)
//! and reaches every loop's driver; each loop counts its own events, so a
//! plan means the same on every loop. What each fault does, and what the
//! driver must do about it:
//!
//! | fault | injected where | the driver must |
//! |---|---|---|
//! | [`setup_errno`](Faults::setup_errno) | every ring setup attempt | fail with that errno; `Backend::Auto` falls back to epoll on ENOSYS, EPERM, EACCES, ENOMEM |
//! | [`setup_einval`](Faults::setup_einval) | the first N attempts | drop setup flags one by one (the ladder in `uring/setup.rs`) |
//! | [`missing_opcodes`](Faults::missing_opcodes) | the opcode probe | run those ops on the readiness or pool path; fail setup if the driver's own (NOP, READ, POLL_ADD, ASYNC_CANCEL) are missing |
//! | [`no_buf_ring`](Faults::no_buf_ring) | buffer-ring registration | serve pooled receives on the readiness path |
//! | [`no_bundles`](Faults::no_bundles) | the `IORING_FEAT_RECVSEND_BUNDLE` bit | receive one buffer per completion (the same bytes) |
//! | [`no_buf_inc`](Faults::no_buf_inc) | buffer-ring registration with `IOU_PBUF_RING_INC` | register without it: one receive per buffer (the same bytes) |
//! | [`no_min_timeout`](Faults::no_min_timeout) | the ring's feature bits | accept `Builder::min_wait` and report it not in effect; wait as without it |
//! | [`no_fixed_buffers`](Faults::no_fixed_buffers) | fixed-buffer registration | keep the registry on the loop only; fixed operations take the plain paths |
//! | [`enter_error`](Faults::enter_error) | every Nth `io_uring_enter` (not entered) | retry: EBUSY, EAGAIN, EINTR are transient |
//! | [`no_reap_on_full_sq`](Faults::no_reap_on_full_sq) | flushing a full SQ | not lose completions the CQ could not hold (the kernel's overflow list) |
//! | [`cancel_miss`](Faults::cancel_miss) | the first N results of each `ASYNC_CANCEL` | cancel again until the op is gone, so its memory and fd are freed |
//! | [`cancel_live_every`](Faults::cancel_live_every) | every Nth op started | take the kernel's `-ECANCELED` (or the real result that raced it) as the op's result |
//!
//! Without the feature the injector below is a unit whose every answer is
//! the constant "no fault", and the checks compile away.

#[cfg(feature = "fault-injection")]
mod plan {
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::io;

    /// What to break in every io_uring driver of a runtime. The default
    /// breaks nothing.
    #[derive(Debug, Clone, Default)]
    #[non_exhaustive]
    pub struct Faults {
        /// Every ring setup attempt fails with this errno.
        pub setup_errno: Option<i32>,
        /// The first this many setup attempts fail with `EINVAL` (as a
        /// kernel that lacks the setup flags tried does).
        pub setup_einval: u32,
        /// Opcodes (`io_uring::opcode::X::CODE`) the probe reports missing.
        pub missing_opcodes: Vec<u8>,
        /// Registering the provided-buffer ring fails with `EINVAL`.
        pub no_buf_ring: bool,
        /// The kernel reports no receive bundles
        /// (`IORING_FEAT_RECVSEND_BUNDLE`, 6.10).
        pub no_bundles: bool,
        /// The buffer ring is registered without incremental consumption
        /// (`IOU_PBUF_RING_INC`, 6.12), as on an older kernel.
        pub no_buf_inc: bool,
        /// The ring reports no `IORING_FEAT_MIN_TIMEOUT` (as before 6.12).
        pub no_min_timeout: bool,
        /// Registering fixed buffers with the ring fails with `EINVAL`.
        pub no_fixed_buffers: bool,
        /// `(errno, n)`: every `n`th `io_uring_enter` returns `errno`
        /// without entering the kernel.
        pub enter_error: Option<(i32, u32)>,
        /// A full SQ is flushed without reaping the CQ first, so
        /// completions pile up past the CQ's size.
        pub no_reap_on_full_sq: bool,
        /// `(errno, n)`: the first `n` results of the cancels sent for each
        /// dropped op are replaced by `-errno` (`ENOENT`, `EALREADY`: "not
        /// cancelled"); the op itself is left alone by those cancels.
        pub cancel_miss: Option<(i32, u32)>,
        /// Every `n`th op started is also cancelled at once, racing its
        /// completion.
        pub cancel_live_every: Option<u32>,
    }

    impl Faults {
        /// A plan that breaks nothing (add faults to its fields).
        pub fn new() -> Faults {
            Faults::default()
        }
    }

    /// One driver's plan and its counters.
    #[derive(Debug, Default)]
    pub(crate) struct Injector {
        plan: Faults,
        setups: Cell<u32>,
        enters: Cell<u32>,
        starts: Cell<u32>,
        misses: std::cell::RefCell<HashMap<u64, u32>>,
    }

    impl Injector {
        pub(crate) fn new(plan: &Faults) -> Injector {
            Injector {
                plan: plan.clone(),
                ..Injector::default()
            }
        }

        pub(crate) fn setup(&self) -> Option<io::Error> {
            let n = self.setups.get();
            self.setups.set(n + 1);
            if let Some(e) = self.plan.setup_errno {
                return Some(io::Error::from_raw_os_error(e));
            }
            (n < self.plan.setup_einval).then(|| io::Error::from_raw_os_error(libc::EINVAL))
        }

        pub(crate) fn missing(&self, code: u8) -> bool {
            self.plan.missing_opcodes.contains(&code)
        }

        pub(crate) fn no_buf_ring(&self) -> bool {
            self.plan.no_buf_ring
        }

        pub(crate) fn no_bundles(&self) -> bool {
            self.plan.no_bundles
        }

        pub(crate) fn no_buf_inc(&self) -> bool {
            self.plan.no_buf_inc
        }

        pub(crate) fn no_min_timeout(&self) -> bool {
            self.plan.no_min_timeout
        }

        pub(crate) fn no_fixed_buffers(&self) -> bool {
            self.plan.no_fixed_buffers
        }

        pub(crate) fn enter(&self) -> Option<io::Error> {
            let (errno, every) = self.plan.enter_error?;
            let n = self.enters.get() + 1;
            self.enters.set(n);
            (every > 0 && n % every == 0).then(|| io::Error::from_raw_os_error(errno))
        }

        pub(crate) fn no_reap_on_full_sq(&self) -> bool {
            self.plan.no_reap_on_full_sq
        }

        /// The result to report for a cancel of `target` whose real result
        /// was `res`.
        pub(crate) fn cancel_result(&self, target: u64, res: i32) -> i32 {
            let Some((errno, times)) = self.plan.cancel_miss else {
                return res;
            };
            let mut m = self.misses.borrow_mut();
            let seen = m.entry(target).or_insert(0);
            if *seen < times {
                *seen += 1;
                -errno
            } else {
                res
            }
        }

        /// Whether the cancel of `target` is sent for real, or (a miss to
        /// inject) only pretended.
        pub(crate) fn cancel_lands(&self, target: u64) -> bool {
            match self.plan.cancel_miss {
                Some((_, times)) => {
                    self.misses.borrow().get(&target).copied().unwrap_or(0) >= times
                }
                None => true,
            }
        }

        pub(crate) fn cancel_live(&self) -> bool {
            let Some(every) = self.plan.cancel_live_every else {
                return false;
            };
            let n = self.starts.get() + 1;
            self.starts.set(n);
            every > 0 && n % every == 0
        }
    }
}

#[cfg(feature = "fault-injection")]
pub use plan::Faults;
#[cfg(feature = "fault-injection")]
pub(crate) use plan::Injector;

#[cfg(not(feature = "fault-injection"))]
mod off {
    use std::io;

    /// No plan in this build (the builder's field is this empty value).
    #[derive(Debug, Default, Clone)]
    pub(crate) struct Faults {
        _none: (),
    }

    /// No faults in this build: every answer is "no fault".
    #[derive(Debug, Default, Clone, Copy)]
    pub(crate) struct Injector;

    #[allow(clippy::unused_self)]
    impl Injector {
        #[inline(always)]
        pub(crate) fn new(_plan: &Faults) -> Injector {
            Injector
        }
        #[inline(always)]
        pub(crate) fn setup(&self) -> Option<io::Error> {
            None
        }
        #[inline(always)]
        pub(crate) fn missing(&self, _code: u8) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn no_buf_ring(&self) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn no_bundles(&self) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn no_buf_inc(&self) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn no_min_timeout(&self) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn no_fixed_buffers(&self) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn enter(&self) -> Option<io::Error> {
            None
        }
        #[inline(always)]
        pub(crate) fn no_reap_on_full_sq(&self) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn cancel_result(&self, _target: u64, res: i32) -> i32 {
            res
        }
        #[inline(always)]
        pub(crate) fn cancel_lands(&self, _target: u64) -> bool {
            true
        }
        #[inline(always)]
        pub(crate) fn cancel_live(&self) -> bool {
            false
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
pub(crate) use off::{Faults, Injector};
