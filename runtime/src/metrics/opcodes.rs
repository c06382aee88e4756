//! Operations started and finished, per io_uring opcode family.
//!
//! Counted by the [`Op`](crate::driver::Op) future on every path (completion,
//! readiness, pool), keyed by `OpCode::CODE`, so the two backends report the
//! same families for the same program.

use super::Counter;

/// Counters of one opcode family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpcodeCount {
    /// The io_uring opcode number (`u8::MAX`: operations without one).
    pub code: u8,
    /// Its name (`"READ"`, `"ACCEPT"`, ...).
    pub name: &'static str,
    /// Operations started.
    pub started: u64,
    /// Operations whose result was delivered.
    pub completed: u64,
}

pub(crate) struct OpcodeCounters {
    started: [Counter; 256],
    completed: [Counter; 256],
}

impl Default for OpcodeCounters {
    fn default() -> Self {
        OpcodeCounters {
            started: std::array::from_fn(|_| Counter::default()),
            completed: std::array::from_fn(|_| Counter::default()),
        }
    }
}

impl std::fmt::Debug for OpcodeCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.snapshot()).finish()
    }
}

impl OpcodeCounters {
    #[inline]
    pub(crate) fn started(&self, code: u8) {
        self.started[code as usize].inc();
    }

    #[inline]
    pub(crate) fn completed(&self, code: u8) {
        self.completed[code as usize].inc();
    }

    pub(crate) fn snapshot(&self) -> Vec<OpcodeCount> {
        (0..256usize)
            .filter_map(|i| {
                let (s, c) = (self.started[i].get(), self.completed[i].get());
                (s > 0 || c > 0).then(|| OpcodeCount {
                    code: i as u8,
                    name: name(i as u8),
                    started: s,
                    completed: c,
                })
            })
            .collect()
    }
}

/// Merges per-opcode counts of two snapshots.
pub(crate) fn merge(mut a: Vec<OpcodeCount>, b: Vec<OpcodeCount>) -> Vec<OpcodeCount> {
    for x in b {
        match a.iter_mut().find(|y| y.code == x.code) {
            Some(y) => {
                y.started += x.started;
                y.completed += x.completed;
            }
            None => a.push(x),
        }
    }
    a.sort_by_key(|x| x.code);
    a
}

/// The uapi name of an opcode (io_uring.h order).
pub fn name(code: u8) -> &'static str {
    const NAMES: [&str; 58] = [
        "NOP",
        "READV",
        "WRITEV",
        "FSYNC",
        "READ_FIXED",
        "WRITE_FIXED",
        "POLL_ADD",
        "POLL_REMOVE",
        "SYNC_FILE_RANGE",
        "SENDMSG",
        "RECVMSG",
        "TIMEOUT",
        "TIMEOUT_REMOVE",
        "ACCEPT",
        "ASYNC_CANCEL",
        "LINK_TIMEOUT",
        "CONNECT",
        "FALLOCATE",
        "OPENAT",
        "CLOSE",
        "FILES_UPDATE",
        "STATX",
        "READ",
        "WRITE",
        "FADVISE",
        "MADVISE",
        "SEND",
        "RECV",
        "OPENAT2",
        "EPOLL_CTL",
        "SPLICE",
        "PROVIDE_BUFFERS",
        "REMOVE_BUFFERS",
        "TEE",
        "SHUTDOWN",
        "RENAMEAT",
        "UNLINKAT",
        "MKDIRAT",
        "SYMLINKAT",
        "LINKAT",
        "MSG_RING",
        "FSETXATTR",
        "SETXATTR",
        "FGETXATTR",
        "GETXATTR",
        "SOCKET",
        "URING_CMD",
        "SEND_ZC",
        "SENDMSG_ZC",
        "READ_MULTISHOT",
        "WAITID",
        "FUTEX_WAIT",
        "FUTEX_WAKE",
        "FUTEX_WAITV",
        "FIXED_FD_INSTALL",
        "FTRUNCATE",
        "BIND",
        "LISTEN",
    ];
    match code {
        u8::MAX => "none",
        c => NAMES.get(c as usize).copied().unwrap_or("other"),
    }
}
