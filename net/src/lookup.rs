//! Name resolution: [`lookup_host`], and [`ToSocketAddrs`], what
//! `connect`, `bind`, `bind_host` and `send_to` take.
//!
//! A literal address — `"127.0.0.1:80"`, `"[::1]:0"`, `(Ipv4Addr, u16)`, a
//! `SocketAddr` — is parsed on the spot, on the loop thread: no pool trip,
//! and no allocation for a single address. A host name goes to the
//! system's resolver (`getaddrinfo`, through `std::net::ToSocketAddrs`) on
//! the blocking pool: a lookup may block for seconds (a DNS server that
//! does not answer), and the loop must serve every other connection and
//! timer meanwhile. Dropping the future of a lookup cannot stop
//! `getaddrinfo`: the pool job runs to its end and its result is dropped.
//!
//! Callers that get several addresses (a name with an IPv6 and an IPv4
//! address, a slice) try them in turn, as `std` does, and return the first
//! success or else the last error.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::error::context;

pub(crate) use sealed::Target;

mod sealed {
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

/// Resolves `host` to its socket addresses: a literal at once, a host name
/// with the system's resolver (`/etc/hosts`, DNS, ... as `getaddrinfo`
/// does) on the runtime's blocking pool, so a slow lookup never stalls
/// the loop. The order is the resolver's.
///
/// # Errors
///
/// `InvalidInput` for input that is no address (`"localhost"` without a
/// port, a port out of range); the resolver's error, naming the host, for
/// a name it cannot resolve; an error when a name must be resolved outside
/// a ringloop runtime (there is no pool) or the pool's queue is full.
///
/// # Examples
///
/// ```
/// use ringloop::net::lookup_host;
///
/// ringloop::block_on(async {
///     for addr in lookup_host("localhost:8080").await.unwrap() {
///         assert!(addr.ip().is_loopback());
///         assert_eq!(addr.port(), 8080);
///     }
///     let e = lookup_host("no-such-host.invalid:80").await.unwrap_err();
///     assert!(e.to_string().contains("no-such-host.invalid"));
/// });
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    let to = resolve(host.target(), "lookup_host").await?;
    Ok(to.into_vec().into_iter())
}

/// The addresses to try in turn, and the host they came from (for errors).
pub(crate) struct Resolved {
    addrs: Addrs,
    host: Option<(String, u16)>,
}

enum Addrs {
    One(SocketAddr),
    Many(Vec<SocketAddr>),
}

impl Resolved {
    fn literal(t: &Target) -> Option<Resolved> {
        let addrs = match t {
            Target::One(a) => Addrs::One(*a),
            Target::Many(v) => Addrs::Many(v.clone()),
            Target::Host(..) | Target::Invalid(_) => return None,
        };
        Some(Resolved { addrs, host: None })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        match &self.addrs {
            Addrs::One(a) => std::slice::from_ref(a).iter().copied(),
            Addrs::Many(v) => v.iter().copied(),
        }
    }

    fn into_vec(self) -> Vec<SocketAddr> {
        match self.addrs {
            Addrs::One(a) => vec![a],
            Addrs::Many(v) => v,
        }
    }

    /// How errors name the attempt at `addr`: `localhost:80 (127.0.0.1:80)`
    /// for a resolved name, the address itself for a literal.
    pub(crate) fn shown(&self, addr: SocketAddr) -> Shown<'_> {
        Shown {
            host: self.host.as_ref(),
            addr,
        }
    }

    /// The error once every address failed: the last attempt's, or
    /// `InvalidInput` when there was none to try.
    pub(crate) fn failed(&self, last: Option<io::Error>, what: &str) -> io::Error {
        last.unwrap_or_else(|| {
            let msg = match &self.host {
                Some((h, p)) => format!("{what}: {h}:{p} resolved to no addresses"),
                None => format!("{what}: no addresses to try"),
            };
            io::Error::new(io::ErrorKind::InvalidInput, msg)
        })
    }
}

/// See [`Resolved::shown`].
pub(crate) struct Shown<'a> {
    host: Option<&'a (String, u16)>,
    addr: SocketAddr,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            Some((h, p)) => write!(f, "{h}:{p} ({})", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

fn invalid(what: &str, msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {msg}"))
}

/// The addresses of a literal target; a host name is an error that says
/// to use `instead`, which resolves it (a sync call must not block on a
/// resolver).
pub(crate) fn literal(t: &Target, what: &str, instead: &str) -> io::Result<Resolved> {
    match t {
        Target::Host(h, p) => Err(invalid(
            what,
            &format!(
                "{h}:{p} is a host name, and resolving it may block: \
                 use {instead}, which resolves it on the blocking pool"
            ),
        )),
        Target::Invalid(msg) => Err(invalid(what, msg)),
        _ => Ok(Resolved::literal(t).expect("a literal target")),
    }
}

/// The addresses of `t`, a host name resolved on the blocking pool.
pub(crate) async fn resolve(t: Target, what: &'static str) -> io::Result<Resolved> {
    resolve_with(t, what, system_resolver).await
}

/// `getaddrinfo`, through std.
fn system_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect)
}

/// [`resolve`] with the resolver given (tests hold it on a channel).
async fn resolve_with<F>(t: Target, what: &'static str, resolver: F) -> io::Result<Resolved>
where
    F: FnOnce(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + 'static,
{
    let (host, port) = match t {
        Target::Host(h, p) => (h, p),
        Target::Invalid(msg) => return Err(invalid(what, &msg)),
        t => return Ok(Resolved::literal(&t).expect("a literal target")),
    };
    // `spawn_blocking` would panic outside a runtime.
    if ringloop_runtime::current_backend().is_none() {
        return Err(invalid(
            what,
            &format!("resolving {host}:{port} needs a ringloop runtime (its blocking pool)"),
        ));
    }
    let name = host.clone();
    let r = match ringloop_runtime::spawn_blocking(move || resolver(&name, port)).await {
        Ok(r) => r,
        Err(e) => Err(io::Error::from(e)),
    };
    match r {
        Ok(addrs) => Ok(Resolved {
            addrs: Addrs::Many(addrs),
            host: Some((host, port)),
        }),
        Err(e) => Err(context(e, format_args!("{what}: resolving {host}:{port}"))),
    }
}

#[cfg(test)]
mod tests {
    //! The pool path with a resolver that blocks until the test lets it go,
    //! on both backends (the integration tests in `tests/net_lookup.rs`
    //! cover the system resolver).
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::thread;
    use std::time::{Duration, Instant};

    use ringloop_runtime::{time, Backend, Builder};

    use super::sealed::Sealed;
    use super::*;

    const LIMIT: Duration = Duration::from_secs(60);

    /// Runs `body` on each backend `RINGLOOP_BACKEND` selects (both when
    /// unset), skipping io_uring where it cannot start.
    fn each_backend(body: impl Fn(Backend)) {
        let v = std::env::var(ringloop_runtime::BACKEND_ENV).unwrap_or_default();
        let want = v.parse::<Backend>().expect("RINGLOOP_BACKEND");
        for b in [Backend::IoUring, Backend::Epoll] {
            if want != Backend::Auto && want != b {
                continue;
            }
            if let Err(e) = Builder::new().backend(b).build() {
                assert!(
                    b == Backend::IoUring
                        && std::env::var("RINGLOOP_REQUIRE_URING").as_deref() != Ok("1"),
                    "{b} cannot start: {e}"
                );
                eprintln!("skipped: {b}: cannot start: {e}");
                continue;
            }
            body(b);
        }
    }

    #[test]
    fn literals_need_no_pool() {
        each_backend(|b| {
            let rt = Builder::new().backend(b).build().unwrap();
            rt.block_on(async {
                let never = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
                    panic!("a literal reached the resolver")
                };
                let t = "[::1]:7".target();
                let r = resolve_with(t, "test", never).await.unwrap();
                assert_eq!(r.iter().collect::<Vec<_>>(), ["[::1]:7".parse().unwrap()]);
                let m = ringloop_runtime::Handle::current().metrics();
                assert_eq!(m.blocking.threads_started, 0);
            });
        });
    }

    /// A lookup held on the pool does not hold up a timer on its loop: the
    /// timer fires while the resolver is still blocked, and only then is the
    /// resolver let go. Were the resolver called on the loop thread, the
    /// timer could not fire before it returned, and it returns an error
    /// when no one lets it go within `LIMIT`.
    #[test]
    fn a_blocked_lookup_does_not_stall_a_timer() {
        each_backend(|b| {
            let rt = Builder::new().backend(b).build().unwrap();
            rt.block_on(async {
                let (go_tx, go_rx) = mpsc::channel::<()>();
                let (started_tx, started_rx) = mpsc::channel();
                let returned = Arc::new(AtomicBool::new(false));
                let ret = returned.clone();
                let resolver = move |host: &str, port: u16| {
                    assert_eq!(host, "held.example");
                    started_tx.send(thread::current().id()).unwrap();
                    let held = go_rx.recv_timeout(LIMIT);
                    ret.store(true, Ordering::SeqCst);
                    held.map_err(|_| io::Error::other("never let go"))?;
                    Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
                };
                let t = ("held.example", 80).target();
                let lookup = ringloop_runtime::spawn(resolve_with(t, "test", resolver));
                // Wait (bounded) until the resolver runs and blocks.
                let t0 = Instant::now();
                let on = loop {
                    if let Ok(id) = started_rx.try_recv() {
                        break id;
                    }
                    assert!(t0.elapsed() < LIMIT, "the resolver never started");
                    ringloop_runtime::yield_now().await;
                };
                assert_ne!(on, thread::current().id(), "resolved on the loop thread");
                time::sleep(Duration::from_millis(1)).await;
                assert!(
                    !returned.load(Ordering::SeqCst),
                    "the timer fired only after the lookup"
                );
                go_tx.send(()).unwrap();
                let r = time::timeout(LIMIT, lookup)
                    .await
                    .expect("the lookup never finished")
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    r.iter().collect::<Vec<_>>(),
                    [SocketAddr::from(([127, 0, 0, 1], 80))]
                );
                assert_eq!(
                    r.shown(r.iter().next().unwrap()).to_string(),
                    "held.example:80 (127.0.0.1:80)"
                );
            });
        });
    }

    #[test]
    fn a_failed_lookup_names_the_host_and_keeps_the_errno() {
        each_backend(|b| {
            let rt = Builder::new().backend(b).build().unwrap();
            rt.block_on(async {
                let fails = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
                    Err(io::Error::from_raw_os_error(libc::EAGAIN))
                };
                let t = ("down.example", 53).target();
                let e = resolve_with(t, "test", fails).await.err().unwrap();
                assert!(e.to_string().contains("down.example:53"), "{e}");
                assert_eq!(crate::os_error(&e), Some(libc::EAGAIN));
            });
        });
    }

    #[test]
    fn parsing() {
        let one = |s: &str| match s.target() {
            Target::One(a) => Some(a),
            _ => None,
        };
        assert_eq!(
            one("127.0.0.1:80"),
            Some(SocketAddr::from(([127, 0, 0, 1], 80)))
        );
        assert_eq!(one("[::1]:0"), Some("[::1]:0".parse().unwrap()));
        assert_eq!(one("::1:9"), Some("[::1]:9".parse().unwrap()));
        assert!(matches!("localhost:80".target(), Target::Host(h, 80) if h == "localhost"));
        assert!(matches!("localhost".target(), Target::Invalid(m) if m.contains("host:port")));
        assert!(matches!("localhost:99999".target(), Target::Invalid(m) if m.contains("99999")));
        assert!(matches!(":80".target(), Target::Invalid(_)));
        assert!(matches!(("10.0.0.1", 5).target(), Target::One(_)));
        assert!(matches!(
            (String::from("example"), 5).target(),
            Target::Host(..)
        ));
        let two = [
            SocketAddr::from(([127, 0, 0, 1], 1)),
            "[::1]:2".parse().unwrap(),
        ];
        assert!(matches!(two[..].target(), Target::Many(v) if v.len() == 2));
        assert!(matches!((&&two[..1]).target(), Target::One(_)));
        let e = literal(&"localhost:80".target(), "tcp bind", "bind_host")
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(
            e.to_string().contains("localhost:80") && e.to_string().contains("bind_host"),
            "{e}"
        );
    }
}
