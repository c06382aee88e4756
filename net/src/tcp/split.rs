//! Owned halves of a [`TcpStream`] (see [`crate::split`]).

use std::io;
use std::net::SocketAddr;

use ringloop_runtime::buf::{BufResult, IoBuf};

use crate::split::{self, ReadHalf, ReuniteError, WriteHalf};

use super::TcpStream;

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
pub type OwnedReadHalf = ReadHalf<TcpStream>;

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`].
pub type OwnedWriteHalf = WriteHalf<TcpStream>;

impl ReadHalf<TcpStream> {
    /// Puts the stream back together; an error if the halves come from
    /// different streams.
    pub fn reunite(self, w: OwnedWriteHalf) -> Result<TcpStream, ReuniteError<TcpStream>> {
        split::reunite(self, w).map(|sock| TcpStream { sock })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()?.inet()
    }
}

impl WriteHalf<TcpStream> {
    /// A zero-copy send; see [`TcpStream::send_zc`].
    pub async fn send_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.sock.send_zc(buf).await
    }

    /// Zero-copy sends until all of `buf` is sent; see
    /// [`TcpStream::send_zc_all`].
    pub async fn send_zc_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.sock.send_zc_all(buf).await
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()?.inet()
    }
}
