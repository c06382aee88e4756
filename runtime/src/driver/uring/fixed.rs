//! The ring's table of registered buffers (`IORING_REGISTER_BUFFERS2`,
//! Linux 5.13; see `driver/fixed/` for the registry and its rules).
//!
//! Only the 5.13 form is used: before it, registering and unregistering
//! buffers quiesce the ring (wait until no request is in flight), which the
//! loop's always-armed wake read would make a hang. There the registry is
//! kept by the loop alone and the operations take the plain paths.

use std::io;

use super::UringDriver;

impl UringDriver {
    /// Registers `iov` as the ring's buffer table (untagged).
    ///
    /// # Safety
    ///
    /// Each iovec must describe memory that stays allocated until
    /// [`unregister_fixed_buffers`](Self::unregister_fixed_buffers) or the
    /// ring's close.
    pub(crate) unsafe fn register_fixed_buffers(&mut self, iov: &[libc::iovec]) -> io::Result<()> {
        if self.faults.no_fixed_buffers() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let tags = vec![0u64; iov.len()];
        // SAFETY: forwarded from the caller.
        unsafe { self.ring.submitter().register_buffers2(iov, &tags) }
    }

    /// Takes the ring's buffer table down (the caller made sure no request
    /// uses it).
    pub(crate) fn unregister_fixed_buffers(&mut self) -> io::Result<()> {
        self.ring.submitter().unregister_buffers()
    }
}
