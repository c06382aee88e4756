//! Cancel scopes: the operations a future starts while it runs under a
//! [`CancelToken`](crate::io::CancelToken) (`token.run(fut)`) are
//! cancelled *in place* when the token is, and complete the normal way —
//! with `ECANCELED`, or with the result the kernel had already produced —
//! so their outputs, buffers included, come back to the code that awaited
//! them. Dropping the future instead would leave the buffer with the driver
//! until the kernel's last completion and then free it.
//!
//! ```text
//!  token.run(fut) polls fut ─ sets the thread's current scope (a stack frame)
//!      op's first poll ─────── registers its waker with each token on the stack
//!  token.cancel() ──────────── wakes every registered op (and scope waiter)
//!      op's next poll ──────── Unsubmitted: completes with ECANCELED, unstarted
//!                              InFlight:    ASYNC_CANCEL (retried until it
//!                                           lands), then waits for its CQE
//!                              Readiness:   stops waiting, ECANCELED
//!                              Pool:        the job runs to its end
//! ```
//!
//! The scope is the dynamic extent of the poll: a task spawned inside it is
//! not in it, and a timer or channel awaited inside it is not interrupted.
//! An operation whose [`OpCode::CANCELLABLE`](super::OpCode::CANCELLABLE)
//! is `false` (a close) ignores scopes.

use std::cell::{Cell, RefCell};
use std::ptr::{self, NonNull};
use std::rc::Rc;
use std::task::{Context, Waker};

use slab::Slab;

/// What a cancel token shares between its clones, its scopes and the
/// operations registered with it.
#[derive(Default)]
pub(crate) struct CancelState {
    cancelled: Cell<bool>,
    /// Wakers of `cancelled()` futures.
    waiters: RefCell<Vec<Waker>>,
    /// One entry per registered operation: its latest waker.
    ops: RefCell<Slab<Option<Waker>>>,
}

impl CancelState {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// Marks the token cancelled and wakes every waiter and operation.
    /// Wakers are taken out first: waking may re-enter the state.
    pub(crate) fn cancel(&self) {
        self.cancelled.set(true);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        let ops: Vec<Waker> = self
            .ops
            .borrow_mut()
            .iter_mut()
            .filter_map(|(_, w)| w.take())
            .collect();
        waiters.into_iter().chain(ops).for_each(Waker::wake);
    }

    /// Registers `cx`'s waker to be woken by [`cancel`](Self::cancel).
    pub(crate) fn wait(&self, cx: &Context<'_>) {
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|w| w.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
    }
}

/// One frame of the thread's scope stack, alive for one poll of a scoped
/// future.
struct Frame {
    state: *const CancelState,
    parent: *const Frame,
}

thread_local! {
    static CURRENT: Cell<*const Frame> = const { Cell::new(ptr::null()) };
}

/// Restores the previous frame, also on unwind.
struct Restore(*const Frame);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` (one poll of a scoped future) with `state` as the innermost
/// scope.
pub(crate) fn enter<R>(state: &Rc<CancelState>, f: impl FnOnce() -> R) -> R {
    let parent = CURRENT.with(Cell::get);
    let frame = Frame {
        state: Rc::as_ptr(state),
        parent,
    };
    CURRENT.with(|c| c.set(&frame));
    let _restore = Restore(parent);
    f()
}

/// An operation's registrations with the scopes it started in.
pub(crate) struct Registered {
    regs: Vec<(Rc<CancelState>, usize)>,
    /// The cancellation was acted on (ASYNC_CANCEL queued, or a pool job
    /// left to finish): nothing more to do but wait.
    pub(crate) acted: bool,
}

/// Where a starting operation stands with the current scopes.
pub(crate) enum AtStart {
    /// Not under any scope: nothing to track.
    Free,
    /// A scope it is under is already cancelled: do not start it.
    Cancelled,
    /// Registered with every scope it is under.
    Scoped(Registration),
}

/// An owned [`Registered`] behind a plain pointer, so that the field that
/// holds one in every operation has no drop glue (the operation's hot path
/// pays nothing for scopes it is not under). It must be given back with
/// [`release`](Self::release); one that is not is leaked, never freed
/// twice.
pub(crate) struct Registration(NonNull<Registered>);

impl Registration {
    fn new(r: Box<Registered>) -> Self {
        Registration(NonNull::from(Box::leak(r)))
    }

    pub(crate) fn get(&self) -> &Registered {
        // SAFETY: the pointer comes from `Box::leak` in `new` and is freed
        // only by `release`, which consumes `self`.
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn get_mut(&mut self) -> &mut Registered {
        // SAFETY: as in `get`; `&mut self` makes the access unique.
        unsafe { self.0.as_mut() }
    }

    /// Unregisters from the scopes and frees the registration.
    pub(crate) fn release(self) {
        // SAFETY: the pointer comes from `Box::leak` in `new`; `self` is
        // consumed, so this is the only `Box` made from it.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// Whether the thread is inside a scoped poll (the cheap test an
/// operation makes before [`at_start`]).
#[inline]
pub(crate) fn active() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

/// Registers an operation that starts now with every scope of the stack.
pub(crate) fn at_start(cx: &Context<'_>) -> AtStart {
    let top = CURRENT.with(Cell::get);
    if top.is_null() {
        return AtStart::Free;
    }
    let mut reg = Box::new(Registered {
        regs: Vec::new(),
        acted: false,
    });
    let mut f = top;
    while !f.is_null() {
        // Frames are pushed and popped in call order (popped on unwind
        // too), and each state is kept alive by the scoped future that
        // called `enter`.
        // SAFETY: `f` is a frame of an `enter` still running on this thread.
        let (state, parent) = unsafe { ((*f).state, (*f).parent) };
        // SAFETY: as above, the state is alive; its strong count is raised
        // before the `Rc` is made, so the new `Rc` owns one count.
        let state = unsafe {
            Rc::increment_strong_count(state);
            Rc::from_raw(state)
        };
        if state.is_cancelled() {
            // `reg` drops its registrations so far.
            return AtStart::Cancelled;
        }
        let key = state.ops.borrow_mut().insert(Some(cx.waker().clone()));
        reg.regs.push((state, key));
        f = parent;
    }
    AtStart::Scoped(Registration::new(reg))
}

impl Registered {
    /// Whether any of its scopes was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.regs.iter().any(|(s, _)| s.is_cancelled())
    }

    /// Keeps the waker the scopes wake current.
    pub(crate) fn set_waker(&self, cx: &Context<'_>) {
        for (state, key) in &self.regs {
            if let Some(slot) = state.ops.borrow_mut().get_mut(*key) {
                match slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
            }
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        for (state, key) in &self.regs {
            state.ops.borrow_mut().try_remove(*key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn registration_follows_the_scope_stack() {
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        assert!(matches!(at_start(&cx), AtStart::Free));
        let outer = Rc::new(CancelState::default());
        let inner = Rc::new(CancelState::default());
        let reg = enter(&outer, || {
            enter(&inner, || match at_start(&cx) {
                AtStart::Scoped(r) => r,
                _ => panic!("not registered"),
            })
        });
        let reg_handle = reg;
        let reg = reg_handle.get();
        // Popped again after the polls.
        assert!(matches!(at_start(&cx), AtStart::Free));
        assert_eq!(reg.regs.len(), 2);
        assert!(!reg.cancelled());
        outer.cancel();
        assert!(reg.cancelled());
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Started under a cancelled scope: not started at all.
        assert!(matches!(
            enter(&outer, || at_start(&cx)),
            AtStart::Cancelled
        ));
        reg_handle.release();
        assert!(outer.ops.borrow().is_empty() && inner.ops.borrow().is_empty());
    }
}
