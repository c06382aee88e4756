//! Owned halves of a [`TcpStream`] (see [`crate::split`]).

use std::io;
use std::net::SocketAddr;

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
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()?.inet()
    }
}
