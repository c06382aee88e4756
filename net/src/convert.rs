//! Conversions between ringloop's sockets and std's: `from_std`,
//! `into_std` and `AsFd` on every socket type.
//!
//! **`from_std`** takes ownership of a std socket — one made before the
//! runtime started (a listener bound in `main`, a socket inherited through
//! systemd socket activation) or by a library that knows only std — and
//! ties it to the current loop: it checks that the fd is the kind of
//! socket the type expects (an `InvalidInput` error otherwise), sets it
//! non-blocking (the readiness path needs that; io_uring does not mind),
//! and from then on the loop's driver closes it. It must be called inside
//! a ringloop runtime, on the loop that will use the socket: the driver
//! that closes the fd (and, on epoll, forgets its registration) is that
//! loop's. Outside a runtime it is an error, not a panic, and the std
//! socket it consumed is closed.
//!
//! **`into_std`** gives the socket back as a std socket in blocking mode,
//! std's default. The driver owns the fd number and closes it when the
//! ringloop value goes (after any operation that still holds it), so
//! `into_std` hands back a *duplicate* of it (`F_DUPFD_CLOEXEC`): the same
//! socket — its connection, its port, its queued data — under a new fd
//! number, while the old number is closed by the driver. Blocking mode is
//! a property of the socket, not of the fd: convert only when nothing of
//! ringloop uses the socket any more (a TCP or Unix listener refuses while
//! one of its `Incoming` streams lives). Connections that dropped `accept`
//! futures handed back to a listener (see `TcpListener::accept`) are
//! closed by `into_std`; the kernel's own accept queue is untouched.
//!
//! There is no `FromRawFd` or `IntoRawFd`: both are infallible, yet taking
//! an fd can fail (outside a runtime, not a socket of the right kind) and
//! giving one back allocates a new fd (`EMFILE`), so a panic would be the
//! only way out. std's conversions compose with these instead:
//! `TcpStream::from_std(unsafe { std::net::TcpStream::from_raw_fd(fd) })`
//! and `stream.into_std()?.into_raw_fd()`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::error::context;
use crate::socket::Socket;
use crate::sys;

/// What a socket taken from std must be.
pub(crate) struct Expect {
    /// `AF_INET`/`AF_INET6`, or `AF_UNIX`.
    pub(crate) domains: &'static [libc::c_int],
    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    pub(crate) ty: libc::c_int,
    /// A listener must already listen.
    pub(crate) listening: bool,
}

pub(crate) const INET: &[libc::c_int] = &[libc::AF_INET, libc::AF_INET6];
pub(crate) const UNIX: &[libc::c_int] = &[libc::AF_UNIX];

impl Socket {
    /// A socket made outside ringloop, for the current loop: checked
    /// against `expect`, made non-blocking.
    pub(crate) fn from_std(fd: OwnedFd, kind: &'static str, expect: &Expect) -> io::Result<Socket> {
        let raw = fd.as_raw_fd();
        let what = || format!("{kind} from_std (fd {raw})");
        if ringloop_runtime::current_backend().is_none() {
            return Err(io::Error::other(format!(
                "{}: must be called inside a ringloop runtime, on the loop that will use \
                 the socket (the socket was closed)",
                what()
            )));
        }
        let opt = |name, call| {
            sys::getsockopt::<libc::c_int>(raw, libc::SOL_SOCKET, name)
                .map_err(|e| context(e, format_args!("{}: getsockopt({call})", what())))
        };
        let (domain, ty) = (
            opt(libc::SO_DOMAIN, "SO_DOMAIN")?,
            opt(libc::SO_TYPE, "SO_TYPE")?,
        );
        if !expect.domains.contains(&domain) || ty != expect.ty {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: not a {kind} socket (domain {domain}, type {ty})",
                    what()
                ),
            ));
        }
        if expect.listening && opt(libc::SO_ACCEPTCONN, "SO_ACCEPTCONN")? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: the socket does not listen", what()),
            ));
        }
        sys::set_nonblocking(raw, true)
            .map_err(|e| context(e, format_args!("{}: fcntl(O_NONBLOCK)", what())))?;
        Socket::from_owned(fd, kind)
    }

    /// The same socket under a new fd, in blocking mode, for std; this
    /// value's fd is closed by the driver as it drops.
    pub(crate) fn into_std(self) -> io::Result<OwnedFd> {
        let fd = self
            .as_fd()
            .try_clone_to_owned()
            .map_err(self.ctx("into_std: fcntl(F_DUPFD_CLOEXEC)"))?;
        sys::set_nonblocking(fd.as_raw_fd(), false)
            .map_err(self.ctx("into_std: fcntl(O_NONBLOCK)"))?;
        Ok(fd)
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the SharedFd this value holds keeps the fd open for at
        // least as long as the borrow of `self`.
        unsafe { BorrowedFd::borrow_raw(self.raw()) }
    }
}
