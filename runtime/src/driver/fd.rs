//! [`SharedFd`]: an fd shared by the operations that use it.
//!
//! An in-flight operation keeps a clone, so the fd cannot be closed (and its
//! number reused) while the kernel may still act on it — also when the
//! operation's future was dropped and its value waits in a driver slot.
//! The last clone closes the fd without blocking the loop: a `CLOSE` SQE on
//! io_uring; on epoll it first forgets the fd's readiness state, so a new fd
//! that gets the same number starts fresh.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};

use crate::driver::{ops::Close, Driver, Op};

struct Inner {
    fd: RawFd,
    driver: Weak<RefCell<Driver>>,
}

/// A reference-counted fd, closed by the last clone. `!Send`: it belongs to
/// the loop thread that created it.
#[derive(Clone)]
pub struct SharedFd {
    inner: Rc<Inner>,
}

impl SharedFd {
    /// Takes ownership of `fd`. Within a runtime, the fd is tied to the
    /// current loop's driver; outside one, it is closed with `close(2)`.
    pub fn new(fd: OwnedFd) -> Self {
        let driver =
            crate::driver::current::current().map_or_else(Weak::new, |d| Rc::downgrade(&d));
        SharedFd {
            inner: Rc::new(Inner {
                fd: fd.into_raw_fd(),
                driver,
            }),
        }
    }

    /// Closes the fd and reports the error, if this is the last clone.
    /// Otherwise drops this clone and returns `Ok(())`: the fd closes when
    /// the operations still holding it complete.
    pub async fn close(self) -> io::Result<()> {
        match Rc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                let fd = std::mem::replace(&mut inner.fd, -1);
                // SAFETY: `fd` was owned by `inner`, which no longer closes
                // it (-1), so ownership passes to the OwnedFd.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                Op::new(Close::new(owned))
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("close(fd {fd}): {e}")))
            }
            Err(_) => Ok(()),
        }
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd
    }
}

impl fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedFd").field(&self.inner.fd).finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.fd < 0 {
            return;
        }
        let current = crate::driver::current::current();
        // Made outside a runtime: the loop this thread runs now is the only
        // one that can have registered it (a SharedFd never leaves its thread).
        let owner = self.driver.upgrade().or_else(|| current.clone());
        if let Some(d) = owner {
            let running = current.as_ref().is_some_and(|c| Rc::ptr_eq(c, &d));
            if let Ok(mut d) = d.try_borrow_mut() {
                if running {
                    // Inside the loop: a CLOSE SQE, submitted with the tick.
                    d.close_fd(self.fd);
                    return;
                }
                // The loop is not running (between `block_on`s, or gone):
                // nothing would submit a CLOSE soon; close right here.
                d.forget_fd(self.fd);
            } else {
                debug_assert!(false, "SharedFd dropped while its driver is borrowed");
            }
        }
        // SAFETY: we own `fd` and close it exactly once.
        unsafe { libc::close(self.fd) };
    }
}
