//! [`File::read_fixed_at`] and [`File::write_fixed_at`]: positional I/O
//! with registered buffers (see `ringloop::buf::fixed`).
//!
//! The buffer's registry must be registered on the loop running the call
//! (else `InvalidInput`). Where the ring has the buffers, the call is one
//! `READ_FIXED`/`WRITE_FIXED` SQE naming the buffer by index; on epoll, or
//! where the kernel refused the registration, it is exactly
//! [`File::read_at`]/[`File::write_at`] (a plain SQE, or the pool), with
//! the same result.

use ringloop_runtime::buf::fixed::FixedBuf;
use ringloop_runtime::buf::BufResult;
use ringloop_runtime::driver::Op;

use crate::ops::{ReadFixed, WriteFixed};
use crate::File;

impl File {
    /// [`read_at`](Self::read_at) into a registered buffer: reads up to its
    /// capacity at offset `pos` into its start; returns the count (0 at the
    /// end of the file) and the buffer, whose length covers what was read.
    ///
    /// # Errors
    ///
    /// As `read_at`; `InvalidInput` when the buffer's registry is not
    /// registered on this loop (another loop's, or unregistered).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringloop::buf::fixed::FixedBufRegistry;
    /// use ringloop::fs::File;
    ///
    /// ringloop::block_on(async {
    ///     let path = std::env::temp_dir().join(format!("ringloop-fixed-doc-{}", std::process::id()));
    ///     let reg = FixedBufRegistry::with_capacity(1, 4096).unwrap();
    ///     reg.register().unwrap();
    ///     let f = File::options().read(true).write(true).create(true).open(&path).await.unwrap();
    ///     let mut buf = reg.check_out(0).unwrap();
    ///     buf.put_slice(b"fixed");
    ///     let (r, mut buf) = f.write_fixed_at(buf, 3).await;
    ///     assert_eq!(r.unwrap(), 5);
    ///     buf.clear();
    ///     let (r, buf) = f.read_fixed_at(buf, 3).await;
    ///     assert_eq!(r.unwrap(), 5);
    ///     assert_eq!(&buf[..5], b"fixed");
    ///     ringloop::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn read_fixed_at(&self, buf: FixedBuf, pos: u64) -> BufResult<usize, FixedBuf> {
        let (r, buf) = match buf.ring_index() {
            Err(e) => (Err(e), buf),
            Ok(Some(index)) => Op::new(ReadFixed::new(self.fd().clone(), buf, pos, index)).await,
            Ok(None) => return self.read_at(buf, pos).await,
        };
        (r.map_err(|e| self.err(e, "read_fixed_at", pos)), buf)
    }

    /// [`write_at`](Self::write_at) from a registered buffer: writes its
    /// initialised bytes at offset `pos`; returns how many were written
    /// (possibly fewer) and the buffer.
    ///
    /// # Errors
    ///
    /// As `write_at`; `InvalidInput` when the buffer's registry is not
    /// registered on this loop.
    pub async fn write_fixed_at(&self, buf: FixedBuf, pos: u64) -> BufResult<usize, FixedBuf> {
        let (r, buf) = match buf.ring_index() {
            Err(e) => (Err(e), buf),
            Ok(Some(index)) => Op::new(WriteFixed::new(self.fd().clone(), buf, pos, index)).await,
            Ok(None) => return self.write_at(buf, pos).await,
        };
        (r.map_err(|e| self.err(e, "write_fixed_at", pos)), buf)
    }
}
