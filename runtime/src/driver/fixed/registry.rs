//! [`FixedBufRegistry`]: registered buffers checked out by index.

use std::fmt;
use std::io;
use std::rc::Rc;

use super::{FixedBuf, Store};

/// A fixed set of buffers registered with the loop's ring at once, checked
/// out by index (see the [module docs](crate::buf::fixed)).
///
/// ```
/// use ringloop::buf::fixed::FixedBufRegistry;
///
/// ringloop::block_on(async {
///     let reg = FixedBufRegistry::with_capacity(2, 4096).unwrap();
///     reg.register().unwrap();
///     let mut buf = reg.check_out(0).unwrap();
///     assert!(reg.check_out(0).is_none(), "checked out already");
///     buf.put_slice(b"hello");
///     drop(buf); // back to the registry, with its 5 bytes
///     assert_eq!(&reg.check_out(0).unwrap()[..], b"hello");
/// });
/// ```
pub struct FixedBufRegistry {
    store: Rc<Store>,
}

impl FixedBufRegistry {
    /// The caller's buffers, in order: each `Vec`'s capacity is a buffer
    /// (zero-filled past its length), its length the bytes counted as
    /// initialised. Not registered yet: see [`register`](Self::register).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for no buffer, more than 16,384, or a capacity of 0
    /// or above 1 GiB (the kernel's limits).
    pub fn new(bufs: impl IntoIterator<Item = Vec<u8>>) -> io::Result<FixedBufRegistry> {
        Ok(FixedBufRegistry {
            store: Store::from_vecs(bufs)?,
        })
    }

    /// `count` zeroed buffers of `size` bytes each, page-aligned (as
    /// `O_DIRECT` needs), of length 0. Not registered yet.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new); `OutOfMemory`.
    pub fn with_capacity(count: usize, size: usize) -> io::Result<FixedBufRegistry> {
        Ok(FixedBufRegistry {
            store: Store::alloc(count, size)?,
        })
    }

    /// Registers the buffers with the loop running on this thread (and its
    /// ring, on io_uring 5.13+): from now on fixed operations on this loop
    /// take them. Returns whether the kernel took them
    /// ([`kernel_registered`](Self::kernel_registered)).
    ///
    /// # Errors
    ///
    /// `ResourceBusy` when this loop has a registered registry or pool
    /// already, or this one is registered; outside a runtime.
    pub fn register(&self) -> io::Result<bool> {
        self.store.register()
    }

    /// Unregisters the buffers: fixed operations with them fail from now
    /// on (`InvalidInput`); those in flight complete normally. The ring's
    /// table goes once every buffer is back. Dropping the registry does
    /// the same. A no-op when not registered.
    pub fn unregister(&self) {
        self.store.unregister();
    }

    /// Whether the ring's table has the buffers (io_uring 5.13+, after
    /// [`register`](Self::register)); `false` on epoll, where the fixed
    /// operations take the plain paths.
    pub fn kernel_registered(&self) -> bool {
        self.store.kernel_registered()
    }

    /// Checks out buffer `index`; `None` when it is checked out already
    /// or out of range.
    pub fn check_out(&self, index: usize) -> Option<FixedBuf> {
        self.store.check_out(index)
    }

    /// Buffers in the registry.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether it has no buffer (never: a registry has at least one).
    pub fn is_empty(&self) -> bool {
        self.store.len() == 0
    }

    /// The capacity of buffer `index`.
    pub fn capacity(&self, index: usize) -> Option<usize> {
        self.store.capacity(index)
    }

    /// Buffers checked out now.
    pub fn checked_out(&self) -> usize {
        self.store.checked_out()
    }
}

impl Drop for FixedBufRegistry {
    fn drop(&mut self) {
        self.store.unregister();
    }
}

impl fmt::Debug for FixedBufRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufRegistry")
            .field("len", &self.store.len())
            .field("checked_out", &self.store.checked_out())
            .field("kernel_registered", &self.store.kernel_registered())
            .finish()
    }
}
