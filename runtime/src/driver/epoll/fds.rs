//! Per-fd readiness for the epoll backend.
//!
//! Each fd is registered once, edge-triggered, for both directions
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`), the first time an operation
//! on it has to wait. Edge-triggered write interest costs nothing while a
//! socket has nothing to write: the kernel reports the edge once, not on
//! every wait. An operation tries its syscall first unless the fd is known
//! not ready (below); one that got `EAGAIN` parks its waker, and the next
//! edge wakes every parked waker of that direction, which retry. The loop
//! is single-threaded, so no edge is processed between a syscall's `EAGAIN`
//! and the parking of its waker; an edge that happens meanwhile in the
//! kernel is queued in epoll and wakes the waiter at the next wait.
//!
//! Each direction also remembers whether the fd is known *not* ready: set
//! by an `EAGAIN`, or by a result that shows the fd drained (a stream read
//! shorter than its buffer: `OpCode::drained`), cleared by the next edge.
//! While it is set an operation parks at once instead of trying its
//! syscall (the same rule as tokio's readiness cache), so a
//! request-response connection costs one `recv` per request, not a `recv`
//! and an `EAGAIN`. Edges are never lost by this: with `EPOLLET` every
//! arrival after the last harvest queues an event, and the flag is only
//! set right after a syscall, before the loop waits again. A hang-up
//! (`EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`) is the last edge a direction
//! gets, so once one is seen that direction is never marked again: the
//! read that drains the bytes before a FIN is short, and the next one must
//! see the EOF, not wait. The entry goes when the fd is closed through the
//! runtime ([`SharedFd`](crate::driver::SharedFd)), so a reused fd number
//! starts fresh.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

use crate::driver::opcode::Interest;
use crate::metrics::Counter;

/// The wakers parked on one direction of an fd: usually none or one task,
/// kept inline (no allocation per idle connection); more spill to a Vec.
#[derive(Default)]
enum Waiters {
    #[default]
    None,
    One(Waker),
    Many(Vec<Waker>),
}

impl Waiters {
    fn park(&mut self, w: &Waker) {
        match self {
            Waiters::None => *self = Waiters::One(w.clone()),
            Waiters::One(o) if o.will_wake(w) => {}
            Waiters::One(_) => {
                let Waiters::One(o) = std::mem::take(self) else {
                    unreachable!("matched just above")
                };
                *self = Waiters::Many(vec![o, w.clone()]);
            }
            Waiters::Many(v) => {
                if !v.iter().any(|x| x.will_wake(w)) {
                    v.push(w.clone());
                }
            }
        }
    }

    fn wake_into(&mut self, out: &mut Vec<Waker>) {
        match std::mem::take(self) {
            Waiters::None => {}
            Waiters::One(w) => out.push(w),
            Waiters::Many(mut v) => out.append(&mut v),
        }
    }
}

struct FdState {
    readers: Waiters,
    writers: Waiters,
    /// Known not ready, until the next edge of that direction.
    read_blocked: bool,
    write_blocked: bool,
    /// A hang-up or error was seen for that direction: it stays ready for
    /// good (reads give EOF or the error at once) and no further edge will
    /// come, so it is never marked blocked again.
    read_closed: bool,
    write_closed: bool,
}

impl FdState {
    fn new() -> FdState {
        FdState {
            readers: Waiters::None,
            writers: Waiters::None,
            read_blocked: false,
            write_blocked: false,
            read_closed: false,
            write_closed: false,
        }
    }

    /// Marks `interest` not ready until its next edge, unless a hang-up
    /// made it ready for good.
    fn block(&mut self, interest: Interest) {
        match interest {
            Interest::Readable => self.read_blocked = !self.read_closed,
            Interest::Writable => self.write_blocked = !self.write_closed,
        }
    }
}

/// The readiness table.
#[derive(Default)]
pub(super) struct Fds {
    map: HashMap<RawFd, FdState>,
}

impl Fds {
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether an operation should try its syscall first (`false` while
    /// `fd` is known not ready for `interest`).
    #[inline]
    pub(super) fn maybe_ready(&self, fd: RawFd, interest: Interest) -> bool {
        match (self.map.get(&fd), interest) {
            (None, _) => true,
            (Some(st), Interest::Readable) => !st.read_blocked,
            (Some(st), Interest::Writable) => !st.write_blocked,
        }
    }

    /// `fd`'s entry, registering `fd` with `epfd` when it has none.
    fn entry(&mut self, epfd: RawFd, fd: RawFd, syscalls: &Counter) -> io::Result<&mut FdState> {
        Ok(match self.map.entry(fd) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                syscalls.inc();
                register(epfd, fd)?;
                e.insert(FdState::new())
            }
        })
    }

    /// A result showed `fd` drained for `interest`: the next operation of
    /// that direction waits for an edge (registering `fd` so one comes).
    pub(super) fn not_ready(
        &mut self,
        epfd: RawFd,
        fd: RawFd,
        interest: Interest,
        syscalls: &Counter,
    ) -> io::Result<()> {
        self.entry(epfd, fd, syscalls)?.block(interest);
        Ok(())
    }

    /// Called after the caller's syscall returned `EAGAIN` (or was skipped
    /// because `fd` is known not ready): registers `fd` with `epfd` if new
    /// and parks the waker until the next edge.
    pub(super) fn poll_ready(
        &mut self,
        epfd: RawFd,
        fd: RawFd,
        interest: Interest,
        syscalls: &Counter,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let st = self.entry(epfd, fd, syscalls)?;
        st.block(interest);
        match interest {
            Interest::Readable => st.readers.park(cx.waker()),
            Interest::Writable => st.writers.park(cx.waker()),
        }
        Poll::Pending
    }

    /// Applies one epoll event.
    pub(super) fn event(&mut self, fd: RawFd, events: u32, wake: &mut Vec<Waker>) {
        let Some(st) = self.map.get_mut(&fd) else {
            return;
        };
        let err = events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        if err || events & libc::EPOLLRDHUP as u32 != 0 {
            // The peer's FIN (or an error): a short read that drains the
            // last bytes must not wait for an edge that never comes.
            st.read_closed = true;
        }
        if err {
            st.write_closed = true;
        }
        if err || events & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI) as u32 != 0 {
            st.read_blocked = false;
            st.readers.wake_into(wake);
        }
        if err || events & libc::EPOLLOUT as u32 != 0 {
            st.write_blocked = false;
            st.writers.wake_into(wake);
        }
    }

    /// Forgets `fd` (it is being closed) and wakes its waiters, which retry
    /// and see the error.
    pub(super) fn deregister(&mut self, epfd: RawFd, fd: RawFd, wake: &mut Vec<Waker>) {
        if let Some(mut st) = self.map.remove(&fd) {
            // SAFETY: plain syscall on fds we were given; a stale fd yields
            // an error we ignore (the kernel drops registrations on close).
            unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
            st.readers.wake_into(wake);
            st.writers.wake_into(wake);
        }
    }
}

fn register(epfd: RawFd, fd: RawFd) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    match crate::sys::cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) }) {
        Ok(_) => Ok(()),
        // Still registered from a dup of a closed fd: the registration works.
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(crate::sys::context(
            e,
            format_args!("epoll_ctl(ADD, fd {fd}) (regular files have no readiness)"),
        )),
    }
}
