//! [`UCred`]: who is at the other end of a Unix stream (`SO_PEERCRED`).

use crate::sockopt::Cred;

/// The credentials of the process at the other end of a Unix stream, from
/// `SO_PEERCRED`: those it had when it connected (or called
/// `socketpair`), not its current ones. Ids are as seen from this process's
/// namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UCred {
    uid: libc::uid_t,
    gid: libc::gid_t,
    pid: Option<libc::pid_t>,
}

impl UCred {
    pub(crate) fn new(c: Cred) -> UCred {
        UCred {
            uid: c.uid,
            gid: c.gid,
            pid: (c.pid > 0).then_some(c.pid),
        }
    }

    /// The peer's effective user id.
    pub fn uid(&self) -> libc::uid_t {
        self.uid
    }

    /// The peer's effective group id.
    pub fn gid(&self) -> libc::gid_t {
        self.gid
    }

    /// The peer's process id; `None` when the kernel reports none (a peer
    /// in a pid namespace this process cannot see).
    pub fn pid(&self) -> Option<libc::pid_t> {
        self.pid
    }
}
