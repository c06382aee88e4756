//! [`ToSocketAddrs`]: what names one or more socket addresses, parsed on
//! the spot into a [`Target`] (literal addresses, or a host name for the
//! resolver).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

pub(crate) use sealed::Target;

pub(super) mod sealed {
    use std::net::SocketAddr;

    /// The private half of [`ToSocketAddrs`](super::ToSocketAddrs): what a
    /// value asks for, parsed without blocking.
    pub trait Sealed {
        /// The addresses, or the name to resolve.
        #[doc(hidden)]
        fn target(&self) -> Target;
    }

    /// What to connect or bind to, before any resolution.
    #[doc(hidden)]
    #[derive(Debug, Clone)]
    pub enum Target {
        /// One literal address.
        One(SocketAddr),
        /// Literal addresses, tried in turn.
        Many(Vec<SocketAddr>),
        /// A host name for the resolver, and the port.
        Host(String, u16),
        /// Input that is no address; the message says why.
        Invalid(String),
    }
}

/// Something that names one or more socket addresses: a literal (parsed
/// at once, on the loop) or a host name (resolved on the blocking pool).
///
/// Like `std::net::ToSocketAddrs`, and implemented for the same types:
/// [`SocketAddr`], [`SocketAddrV4`], [`SocketAddrV6`], `(IpAddr, u16)`,
/// `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `([u8; 4], u16)`, `([u8; 16],
/// u16)`, `([u16; 8], u16)`, `"host:port"` strings (`str`, `String`),
/// `(&str, u16)` and `(String, u16)` (the host a literal IP or a name),
/// `[SocketAddr]` and `Vec<SocketAddr>`, and references to all of them.
/// It is sealed: the resolution runs inside ringloop, where it cannot
/// block the loop.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use ringloop::net::lookup_host;
///
/// ringloop::block_on(async {
///     // Literals: no resolver, no pool thread.
///     let one: Vec<SocketAddr> = lookup_host("127.0.0.1:80").await.unwrap().collect();
///     assert_eq!(one, [SocketAddr::from(([127, 0, 0, 1], 80))]);
///     let two = lookup_host((Ipv4Addr::LOCALHOST, 80)).await.unwrap();
///     assert_eq!(two.count(), 1);
/// });
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {
    fn target(&self) -> Target {
        (**self).target()
    }
}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

macro_rules! one_address {
    ($($t:ty),* $(,)?) => {$(
        impl sealed::Sealed for $t {
            fn target(&self) -> Target {
                Target::One(SocketAddr::from(*self))
            }
        }
        impl ToSocketAddrs for $t {}
    )*};
}

one_address!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
    ([u8; 4], u16),
    ([u8; 16], u16),
    ([u16; 8], u16),
);

impl sealed::Sealed for str {
    fn target(&self) -> Target {
        parse(self)
    }
}
impl ToSocketAddrs for str {}

impl sealed::Sealed for String {
    fn target(&self) -> Target {
        parse(self)
    }
}
impl ToSocketAddrs for String {}

impl sealed::Sealed for (&str, u16) {
    fn target(&self) -> Target {
        host_port(self.0, self.1)
    }
}
impl ToSocketAddrs for (&str, u16) {}

impl sealed::Sealed for (String, u16) {
    fn target(&self) -> Target {
        host_port(&self.0, self.1)
    }
}
impl ToSocketAddrs for (String, u16) {}

impl sealed::Sealed for [SocketAddr] {
    fn target(&self) -> Target {
        match self {
            [one] => Target::One(*one),
            many => Target::Many(many.to_vec()),
        }
    }
}
impl ToSocketAddrs for [SocketAddr] {}

impl sealed::Sealed for Vec<SocketAddr> {
    fn target(&self) -> Target {
        self.as_slice().target()
    }
}
impl ToSocketAddrs for Vec<SocketAddr> {}

/// `"ip:port"`, `"[ipv6]:port"` or `"host:port"`.
fn parse(s: &str) -> Target {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Target::One(a);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Target::Invalid(format!("invalid socket address {s:?}: expected host:port"));
    };
    match port.parse::<u16>() {
        Ok(port) => host_port(host, port),
        Err(_) => Target::Invalid(format!("invalid port {port:?} in {s:?}")),
    }
}

/// A host that is a literal IP, or a name for the resolver.
fn host_port(host: &str, port: u16) -> Target {
    if let Ok(ip) = host.parse::<IpAddr>() {
        Target::One(SocketAddr::new(ip, port))
    } else if host.is_empty() {
        Target::Invalid(format!("empty host name (port {port})"))
    } else {
        Target::Host(host.to_owned(), port)
    }
}
