//! Unix domain sockets: [`UnixListener`], [`UnixStream`] (with `pair` and
//! owned halves), [`UnixDatagram`], and `SOCK_SEQPACKET`
//! ([`UnixSeqpacketListener`], [`UnixSeqpacket`]: connected, with message
//! boundaries), addressed by path or, on Linux, by abstract name
//! ([`SocketAddr`]).
//!
//! They run on the same operations as TCP and UDP. A listener bound to a
//! path leaves the socket file behind when it closes (as with `std`): the
//! caller removes it.

mod addr;
mod datagram;
mod listener;
mod seqpacket;
mod stream;
mod ucred;

pub use addr::SocketAddr;
pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use seqpacket::{UnixSeqpacket, UnixSeqpacketListener};
pub use stream::{OwnedReadHalf, OwnedWriteHalf, UnixStream};
pub use ucred::UCred;

use crate::sys::RawAddr;

/// Reads a Unix address back from the kernel.
pub(crate) fn addr(raw: RawAddr) -> std::io::Result<SocketAddr> {
    if raw.family() != libc::AF_UNIX && raw.len as usize > std::mem::size_of::<libc::sa_family_t>()
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a unix socket address (family {})", raw.family()),
        ));
    }
    Ok(SocketAddr { raw })
}
