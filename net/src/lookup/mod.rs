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

mod to_addrs;

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::error::context;

pub(crate) use to_addrs::Target;
pub use to_addrs::ToSocketAddrs;

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
mod tests;
