//! Socket options the socket types share, as typed getters and setters on
//! [`Socket`]; each public type exposes those that make sense for it. All
//! are one `setsockopt`/`getsockopt`, which never blocks; errors name the
//! option and keep the errno.

use std::io;
use std::time::Duration;

use crate::socket::Socket;

/// `struct linger`, with the `Default` that `getsockopt` needs.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct Linger {
    onoff: libc::c_int,
    secs: libc::c_int,
}

/// `struct ucred`, with the `Default` that `getsockopt` needs.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cred {
    pub(crate) pid: libc::pid_t,
    pub(crate) uid: libc::uid_t,
    pub(crate) gid: libc::gid_t,
}

/// Whole seconds for a `c_int` option: rounded up, at least `min`.
fn secs(d: Duration, min: u64) -> libc::c_int {
    let s = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    s.max(min).min(libc::c_int::MAX as u64) as libc::c_int
}

/// A `u32` argument for a `c_int` option (the kernel rejects or caps what
/// is too large).
fn int(n: u32) -> libc::c_int {
    libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX)
}

impl Socket {
    pub(crate) fn set_flag(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        on: bool,
        what: &'static str,
    ) -> io::Result<()> {
        self.set_opt(level, name, libc::c_int::from(on), what)
    }

    pub(crate) fn flag(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        what: &'static str,
    ) -> io::Result<bool> {
        Ok(self.get_opt::<libc::c_int>(level, name, what)? != 0)
    }

    /// `SO_RCVBUF`.
    pub(crate) fn set_recv_buffer_size(&self, n: u32) -> io::Result<()> {
        let what = "setsockopt(SO_RCVBUF)";
        self.set_opt(libc::SOL_SOCKET, libc::SO_RCVBUF, int(n), what)
    }

    pub(crate) fn recv_buffer_size(&self) -> io::Result<u32> {
        let what = "getsockopt(SO_RCVBUF)";
        let n: libc::c_int = self.get_opt(libc::SOL_SOCKET, libc::SO_RCVBUF, what)?;
        Ok(n.max(0) as u32)
    }

    /// `SO_SNDBUF`.
    pub(crate) fn set_send_buffer_size(&self, n: u32) -> io::Result<()> {
        let what = "setsockopt(SO_SNDBUF)";
        self.set_opt(libc::SOL_SOCKET, libc::SO_SNDBUF, int(n), what)
    }

    pub(crate) fn send_buffer_size(&self) -> io::Result<u32> {
        let what = "getsockopt(SO_SNDBUF)";
        let n: libc::c_int = self.get_opt(libc::SOL_SOCKET, libc::SO_SNDBUF, what)?;
        Ok(n.max(0) as u32)
    }

    /// Whether the socket is IPv6 (`SO_DOMAIN`).
    fn is_v6(&self) -> io::Result<bool> {
        let d: libc::c_int =
            self.get_opt(libc::SOL_SOCKET, libc::SO_DOMAIN, "getsockopt(SO_DOMAIN)")?;
        Ok(d == libc::AF_INET6)
    }

    /// `IP_TTL`, or `IPV6_UNICAST_HOPS` on an IPv6 socket.
    pub(crate) fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        if self.is_v6()? {
            let what = "setsockopt(IPV6_UNICAST_HOPS)";
            self.set_opt(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, int(ttl), what)
        } else {
            self.set_opt(
                libc::IPPROTO_IP,
                libc::IP_TTL,
                int(ttl),
                "setsockopt(IP_TTL)",
            )
        }
    }

    pub(crate) fn ttl(&self) -> io::Result<u32> {
        let n: libc::c_int = if self.is_v6()? {
            let what = "getsockopt(IPV6_UNICAST_HOPS)";
            self.get_opt(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, what)?
        } else {
            self.get_opt(libc::IPPROTO_IP, libc::IP_TTL, "getsockopt(IP_TTL)")?
        };
        Ok(n.max(0) as u32)
    }

    /// `SO_LINGER`, in whole seconds (rounded up).
    pub(crate) fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let l = Linger {
            onoff: libc::c_int::from(linger.is_some()),
            secs: linger.map_or(0, |d| secs(d, 0)),
        };
        self.set_opt(
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            l,
            "setsockopt(SO_LINGER)",
        )
    }

    pub(crate) fn linger(&self) -> io::Result<Option<Duration>> {
        let l: Linger = self.get_opt(libc::SOL_SOCKET, libc::SO_LINGER, "getsockopt(SO_LINGER)")?;
        Ok((l.onoff != 0).then(|| Duration::from_secs(l.secs.max(0) as u64)))
    }

    /// `SO_KEEPALIVE`, with `TCP_KEEPIDLE` (whole seconds, at least one)
    /// when on.
    pub(crate) fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        if let Some(d) = idle {
            // The idle time first: an error leaves keepalive as it was.
            let what = "setsockopt(TCP_KEEPIDLE)";
            self.set_opt(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs(d, 1), what)?;
        }
        let what = "setsockopt(SO_KEEPALIVE)";
        self.set_flag(libc::SOL_SOCKET, libc::SO_KEEPALIVE, idle.is_some(), what)
    }

    pub(crate) fn keepalive(&self) -> io::Result<Option<Duration>> {
        if !self.flag(
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            "getsockopt(SO_KEEPALIVE)",
        )? {
            return Ok(None);
        }
        let what = "getsockopt(TCP_KEEPIDLE)";
        let s: libc::c_int = self.get_opt(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, what)?;
        Ok(Some(Duration::from_secs(s.max(0) as u64)))
    }

    /// `SO_PEERCRED`.
    pub(crate) fn peer_cred(&self) -> io::Result<Cred> {
        self.get_opt(
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            "getsockopt(SO_PEERCRED)",
        )
    }
}
