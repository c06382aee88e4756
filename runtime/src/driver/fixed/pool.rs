//! [`FixedBufPool`]: registered buffers checked out by capacity, with a
//! wait for one to come back.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::Poll;

use super::{FixedBuf, Store};

/// Registered buffers handed out by capacity rather than by index: the
/// smallest free buffer of at least the capacity asked for. When none is
/// free, [`try_next`](Self::try_next) says `None` and
/// [`next`](Self::next) waits until one is dropped (see the
/// [module docs](crate::buf::fixed) for registration and memory).
///
/// ```
/// use ringloop::buf::fixed::FixedBufPool;
///
/// ringloop::block_on(async {
///     let pool = FixedBufPool::with_capacity(1, 4096).unwrap();
///     pool.register().unwrap();
///     let buf = pool.try_next(4096).unwrap();
///     assert!(pool.try_next(1).is_none(), "the only buffer is out");
///     drop(buf);
///     let buf = pool.next(100).await.unwrap();
///     assert_eq!(buf.capacity(), 4096);
/// });
/// ```
pub struct FixedBufPool {
    store: Rc<Store>,
}

impl FixedBufPool {
    /// The caller's buffers (each `Vec`'s capacity is a buffer, its length
    /// the bytes counted as initialised). Not registered yet.
    ///
    /// # Errors
    ///
    /// As for [`FixedBufRegistry::new`](super::FixedBufRegistry::new).
    pub fn new(bufs: impl IntoIterator<Item = Vec<u8>>) -> io::Result<FixedBufPool> {
        Ok(FixedBufPool {
            store: Store::from_vecs(bufs)?,
        })
    }

    /// `count` zeroed, page-aligned buffers of `size` bytes. Not registered
    /// yet.
    ///
    /// # Errors
    ///
    /// As for [`FixedBufRegistry::with_capacity`](super::FixedBufRegistry::with_capacity).
    pub fn with_capacity(count: usize, size: usize) -> io::Result<FixedBufPool> {
        Ok(FixedBufPool {
            store: Store::alloc(count, size)?,
        })
    }

    /// Registers the buffers with the loop running here; see
    /// [`FixedBufRegistry::register`](super::FixedBufRegistry::register).
    ///
    /// # Errors
    ///
    /// As there.
    pub fn register(&self) -> io::Result<bool> {
        self.store.register()
    }

    /// Unregisters; see
    /// [`FixedBufRegistry::unregister`](super::FixedBufRegistry::unregister).
    pub fn unregister(&self) {
        self.store.unregister();
    }

    /// Whether the ring's table has the buffers.
    pub fn kernel_registered(&self) -> bool {
        self.store.kernel_registered()
    }

    /// A free buffer of capacity `>= cap` (the smallest such), or `None`
    /// when none is free now.
    pub fn try_next(&self, cap: usize) -> Option<FixedBuf> {
        self.store.take_free(cap)
    }

    /// A free buffer of capacity `>= cap`, waiting until one is dropped
    /// when none is free.
    ///
    /// # Errors
    ///
    /// `InvalidInput` at once when no buffer of the pool is that large
    /// (the wait would never end).
    pub async fn next(&self, cap: usize) -> io::Result<FixedBuf> {
        if !(0..self.store.len()).any(|i| self.store.capacity(i) >= Some(cap)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("fixed buffer pool: no buffer holds {cap} bytes"),
            ));
        }
        poll_fn(|cx| match self.store.take_free(cap) {
            Some(b) => Poll::Ready(Ok(b)),
            None => {
                self.store.wait(cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// Buffers in the pool.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether it has no buffer (never).
    pub fn is_empty(&self) -> bool {
        self.store.len() == 0
    }

    /// Buffers checked out now.
    pub fn checked_out(&self) -> usize {
        self.store.checked_out()
    }
}

impl Drop for FixedBufPool {
    fn drop(&mut self) {
        self.store.unregister();
    }
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufPool")
            .field("len", &self.store.len())
            .field("checked_out", &self.store.checked_out())
            .field("kernel_registered", &self.store.kernel_registered())
            .finish()
    }
}
