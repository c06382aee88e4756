//! The servers compared: what each column of the table is.

use std::fmt;

/// One server (one column of the table).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Peer {
    /// No runtime: one io_uring driven by hand (`floor.rs`).
    Floor,
    /// ringloop on io_uring, pooled receives.
    Uring,
    /// ringloop on epoll, pooled receives.
    Epoll,
    /// ringloop on io_uring, a 16 KiB buffer owned by each connection.
    UringOwned,
    /// ringloop on epoll, a 16 KiB buffer owned by each connection.
    EpollOwned,
    /// ringloop on io_uring, a multishot receive per connection
    /// (`recv_stream`), the floor's shape.
    UringMultishot,
    /// tokio's current_thread runtime.
    Tokio,
}

impl Peer {
    /// Every peer, in table order.
    pub const ALL: [Peer; 7] = [
        Peer::Floor,
        Peer::Uring,
        Peer::Epoll,
        Peer::UringOwned,
        Peer::EpollOwned,
        Peer::UringMultishot,
        Peer::Tokio,
    ];

    /// The name on the command line (`--peers`, and the hidden `--serve`).
    pub fn name(self) -> &'static str {
        match self {
            Peer::Floor => "floor",
            Peer::Uring => "uring",
            Peer::Epoll => "epoll",
            Peer::UringOwned => "uring-owned",
            Peer::EpollOwned => "epoll-owned",
            Peer::UringMultishot => "uring-multishot",
            Peer::Tokio => "tokio",
        }
    }

    /// The column heading.
    pub fn title(self) -> &'static str {
        match self {
            Peer::Floor => "floor",
            Peer::Uring => "ringloop uring",
            Peer::Epoll => "ringloop epoll",
            Peer::UringOwned => "uring owned",
            Peer::EpollOwned => "epoll owned",
            Peer::UringMultishot => "uring multishot",
            Peer::Tokio => "tokio",
        }
    }

    /// Whether it is a runtime with tasks (the owned-buffer and multishot
    /// variants are the same runtimes as the pooled ones, so they run no
    /// task benches).
    pub fn runs_tasks(self) -> bool {
        matches!(self, Peer::Uring | Peer::Epoll | Peer::Tokio)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// `--peers` / `--serve` values.
pub fn parse(s: &str) -> Result<Peer, String> {
    Peer::ALL
        .into_iter()
        .find(|p| p.name() == s.trim())
        .ok_or_else(|| {
            let names: Vec<_> = Peer::ALL.iter().map(|p| p.name()).collect();
            format!("expected one of {}", names.join(", "))
        })
}
