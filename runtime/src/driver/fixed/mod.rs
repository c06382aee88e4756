//! Registered (fixed) buffers: memory the kernel pins and maps once, at
//! registration, instead of at every operation.
//!
//! An ordinary read or write names its buffer by address, and the kernel
//! looks up and pins its pages on each call (for `O_DIRECT` I/O and
//! zero-copy sends that is `get_user_pages` per operation). Registered with
//! the ring (`IORING_REGISTER_BUFFERS2`, Linux 5.13), a buffer is named by
//! its index instead, and the lookup is done once:
//!
//! | operation | io_uring, buffer registered | epoll, or not registered |
//! |---|---|---|
//! | `File::read_fixed_at` / `write_fixed_at` | `IORING_OP_READ_FIXED` / `WRITE_FIXED` (5.1) | plain `READ`/`WRITE` SQE; the pool on epoll |
//! | `TcpStream::send_fixed` | `IORING_OP_SEND_ZC` with `IORING_RECVSEND_FIXED_BUF` (6.0) | `send(2)` on readiness |
//! | `TcpStream::recv_fixed` | `IORING_OP_READ_FIXED` on the socket (5.1) | `recv(2)` on readiness |
//!
//! The kernel takes `IORING_RECVSEND_FIXED_BUF` on `SEND_ZC` only: on 6.18
//! a plain `SEND` or `RECV` with it fails with `EINVAL`, so a fixed send is
//! a zero-copy send, and a fixed receive is a `READ_FIXED` (as in
//! tokio-uring). Every path gives the same bytes and the same counts; the
//! fixed paths save the kernel work, nothing else.
//!
//! # One table per loop
//!
//! A ring has one table of registered buffers, so a loop has at most one
//! registered [`FixedBufRegistry`] or [`FixedBufPool`] at a time (a second
//! `register` fails with `EBUSY`). The epoll backend keeps the same rule,
//! so a program behaves alike on both. A buffer used in a fixed operation
//! on another loop than the one its registry is registered on, or after its
//! registry was unregistered, is an error (`InvalidInput`), never a
//! different buffer: the check is made before the SQE is built.
//!
//! Where the kernel refuses the registration (before 5.13, or `ENOMEM`
//! under a low `RLIMIT_MEMLOCK`), the registry is registered with the loop
//! only, and the operations take the plain paths;
//! [`FixedBufRegistry::kernel_registered`] says which.
//!
//! # Memory and unregistering
//!
//! Buffers are checked out as [`FixedBuf`] handles, each holding the
//! registry's memory (an `Rc`), and go back when dropped. An operation owns
//! its handle until its final completion (also when its future is dropped),
//! so memory the kernel may write outlives every operation using it.
//!
//! Unregistering (or dropping the registry) stops the registry at once for
//! new fixed operations, but the kernel's table is taken down only when no
//! buffer is checked out any more, that is when no operation can be using
//! it: operations in flight complete normally, and the unregistration never
//! waits in the kernel (kernels before 6.13 block `IORING_UNREGISTER_BUFFERS`
//! until every request using the table completes, which an idle receive
//! would make for ever). The loop's driver holds the memory while the
//! kernel's table refers to it.

mod buf;
mod pool;
mod registry;
mod store;

pub use buf::FixedBuf;
pub use pool::FixedBufPool;
pub use registry::FixedBufRegistry;
pub(crate) use store::Store;

use std::io;
use std::rc::Rc;

use super::{Driver, Inner};

/// The registered buffers of one loop (at most one store), held by its
/// driver while registered.
#[derive(Default)]
pub(crate) struct Table(Option<Rc<Store>>);

impl Driver {
    /// Registers `store` as this loop's table; whether the kernel took it
    /// (io_uring 5.13+) or the loop alone did.
    pub(crate) fn register_fixed(&mut self, store: &Rc<Store>) -> io::Result<bool> {
        if let Some(old) = &self.fixed.0 {
            if !old.closed_and_idle() {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    "fixed buffers: this loop has a registered registry or pool already \
                     (one table per ring; unregister it first)",
                ));
            }
            // Unregistered while the driver was busy: finish it now.
            let old = old.clone();
            old.mark_off();
            drop(self.unregister_fixed(&old));
        }
        let kernel = match &mut self.inner {
            // SAFETY: the iovecs describe the store's regions, which stay
            // allocated while the store lives; `self.fixed` holds the store
            // until the table is unregistered (or the ring is closed, the
            // driver's `inner` being dropped before `fixed`).
            Inner::Uring(d) => unsafe { d.register_fixed_buffers(&store.iovecs()) }.is_ok(),
            Inner::Epoll(_) => false,
        };
        self.fixed.0 = Some(store.clone());
        Ok(kernel)
    }

    /// Takes `store`'s table down (kernel and loop), if it is this loop's;
    /// returns the driver's hold on it, to drop with the driver released.
    pub(crate) fn unregister_fixed(&mut self, store: &Rc<Store>) -> Option<Rc<Store>> {
        if !self.fixed.0.as_ref().is_some_and(|s| Rc::ptr_eq(s, store)) {
            return None;
        }
        if let Inner::Uring(d) = &mut self.inner {
            // No buffer is checked out (the caller waited for that), so no
            // operation uses the table: nothing for the kernel to wait for.
            // A failure leaves the kernel's table (nothing can use it: no
            // handle refers to it) and the next registration falls back.
            let _ = d.unregister_fixed_buffers();
        }
        self.fixed.0.take()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
