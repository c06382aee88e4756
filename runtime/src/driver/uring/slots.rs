//! The slot an in-flight io_uring operation occupies, indexed by its
//! `user_data`, and the state machine that keeps kernel-visible memory alive.
//!
//! ```text
//!            submit                 final CQE                poll
//! (Op) ────────────▶ Pending ───────────────▶ Completed ───────────▶ freed, result to Op
//!                      │  drop(Op): data moves into the slot, ASYNC_CANCEL queued
//!                      ▼
//!                   Orphaned ─────────────── final CQE ─────────────▶ freed, data dropped
//! ```
//!
//! A slot is named by a *token*, the SQE's `user_data`: its slab key in
//! the low 32 bits and a generation in the next 30 (bits 62 and 63 are the
//! driver's own tags). A freed key is soon reused, and the generation keeps
//! an `ASYNC_CANCEL` (or a bug's stray CQE) aimed at the old operation from
//! touching the new one.
//!
//! "Final" means a CQE without `IORING_CQE_F_MORE`: a multishot operation
//! (and a zero-copy send, whose buffer notification comes last) stays in its
//! slot until then. The slot owns nothing the kernel can see while the [`Op`]
//! is alive (the `Op` owns it, at a stable heap address); once the `Op` is
//! dropped, the slot owns it and frees it only after the final CQE.
//!
//! [`Op`]: crate::driver::Op

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use io_uring::cqueue;
use slab::Slab;

use crate::driver::op::{Finished, Nothing, Orphan};
use crate::driver::opcode::Completion;

/// One slot's state.
pub(crate) enum Lifecycle {
    /// Submitted (or queued in the SQ); the future waits for the final CQE.
    /// `waker` is set once the future has been polled; `first` keeps the
    /// result of a non-final CQE (a zero-copy send reports its byte count
    /// before the kernel releases the buffer).
    Pending {
        waker: Option<Waker>,
        first: Option<Completion>,
    },
    /// The final CQE arrived; the result waits for the future's next poll.
    Completed(Completion),
    /// The future was dropped while the kernel still owned its memory. The
    /// box holds the operation value (buffers, sockaddrs, paths, fds) until
    /// the final CQE; an `ASYNC_CANCEL` has been queued for it. `cqes`
    /// collects the completions it gets meanwhile, so the value can consume
    /// them (close an fd an accept returned too late).
    Orphaned {
        data: Box<dyn Orphan>,
        cqes: Vec<Completion>,
    },
    /// A multishot operation: completions queue up for the stream. `done`
    /// once the final CQE (no `F_MORE`) is queued.
    Multi {
        waker: Option<Waker>,
        queue: VecDeque<Completion>,
        done: bool,
    },
}

/// What a dropped future asks of the driver.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterDrop {
    /// The slot was already complete and is freed; nothing in the kernel.
    Freed,
    /// The kernel still owns the memory: queue an `ASYNC_CANCEL` for the key.
    Cancel,
}

/// Bits of a token that hold the generation.
const GEN_MASK: u32 = (1 << 30) - 1;

fn token(key: usize, gen: u32) -> u64 {
    (u64::from(gen) << 32) | key as u64
}

fn split(token: u64) -> (usize, u32) {
    (
        (token & 0xffff_ffff) as usize,
        (token >> 32) as u32 & GEN_MASK,
    )
}

/// One occupied slot.
struct Entry {
    gen: u32,
    /// `ASYNC_CANCEL`s queued for it so far (while orphaned, or wanted).
    cancels: u32,
    /// A cancel scope wants the live operation cancelled (its future stays
    /// and receives the final CQE).
    cancel_wanted: bool,
    state: Lifecycle,
}

impl Entry {
    /// Whether an `ASYNC_CANCEL` is still wanted: the future was dropped,
    /// or a scope asked, and the final CQE has not come.
    fn wants_cancel(&self) -> bool {
        match self.state {
            Lifecycle::Orphaned { .. } => true,
            Lifecycle::Pending { .. } | Lifecycle::Multi { done: false, .. } => self.cancel_wanted,
            Lifecycle::Completed(_) | Lifecycle::Multi { done: true, .. } => false,
        }
    }
}

/// The driver's table of in-flight operations.
#[derive(Default)]
pub(crate) struct Slots {
    slab: Slab<Entry>,
    next_gen: u32,
}

impl Slots {
    /// Number of occupied slots (operations the kernel has not finished).
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Reserves a slot for a new single-shot (`multi == false`) or multishot
    /// operation whose future is woken with `waker`, and returns its token,
    /// which becomes the SQE's `user_data`.
    pub(crate) fn insert(&mut self, multi: bool, waker: Option<&Waker>) -> u64 {
        let gen = self.next_gen;
        self.next_gen = gen.wrapping_add(1) & GEN_MASK;
        let waker = waker.cloned();
        let state = if multi {
            Lifecycle::Multi {
                waker,
                queue: VecDeque::new(),
                done: false,
            }
        } else {
            Lifecycle::Pending { waker, first: None }
        };
        let key = self.slab.insert(Entry {
            gen,
            cancels: 0,
            cancel_wanted: false,
            state,
        });
        assert!(key < u32::MAX as usize, "ringloop: slot table overflow");
        token(key, gen)
    }

    /// The slot `token` names, if it is still that operation's.
    fn entry(&mut self, token: u64) -> Option<&mut Entry> {
        let (key, gen) = split(token);
        self.slab.get_mut(key).filter(|e| e.gen == gen)
    }

    fn remove(&mut self, token: u64) -> Lifecycle {
        self.slab.remove(split(token).0).state
    }

    /// Whether `token` still wants an `ASYNC_CANCEL` (orphaned, or live
    /// with its cancel wanted) and its final CQE has not come.
    pub(crate) fn wants_cancel(&mut self, token: u64) -> bool {
        self.entry(token).is_some_and(|e| e.wants_cancel())
    }

    /// Marks the live operation `token` as to be cancelled; `false` when
    /// its final CQE already came (or it is not live).
    pub(crate) fn want_cancel(&mut self, token: u64) -> bool {
        let Some(e) = self.entry(token) else {
            return false;
        };
        e.cancel_wanted = true;
        e.wants_cancel()
    }

    /// Records one more `ASYNC_CANCEL` for `token` and returns how many
    /// were queued, or `None` when it no longer wants one (its final CQE
    /// came: nothing left to cancel).
    pub(crate) fn note_cancel(&mut self, token: u64) -> Option<u32> {
        let e = self.entry(token)?;
        if !e.wants_cancel() {
            return None;
        }
        e.cancels += 1;
        Some(e.cancels)
    }

    /// Applies one CQE. Wakers to wake and orphaned values to drop are pushed
    /// to the out-vectors so the caller can run them after releasing its
    /// borrow of the driver (a waker or a destructor may re-enter it).
    pub(crate) fn complete(
        &mut self,
        token: u64,
        res: i32,
        flags: u32,
        wake: &mut Vec<Waker>,
        done: &mut Vec<Finished>,
    ) {
        let more = cqueue::more(flags);
        let Some(entry) = self.entry(token) else {
            // A CQE for a token we do not own would be a driver bug; never
            // touch memory for it.
            debug_assert!(false, "CQE for unknown user_data {token:#x}");
            return;
        };
        let slot = &mut entry.state;
        match slot {
            Lifecycle::Pending { waker, first } => {
                let this = Completion::from_raw(res, flags);
                if more {
                    first.get_or_insert(this);
                    return;
                }
                let waker = waker.take();
                let result = first.take().unwrap_or(this);
                *slot = Lifecycle::Completed(result);
                push_wake(wake, waker);
            }
            Lifecycle::Multi { waker, queue, done } => {
                queue.push_back(Completion::from_raw(res, flags));
                *done = !more;
                push_wake(wake, waker.take());
            }
            Lifecycle::Orphaned { cqes, .. } => {
                cqes.push(Completion::from_raw(res, flags));
                if !more {
                    if let Lifecycle::Orphaned { data, cqes } = self.remove(token) {
                        done.push(Finished::new(data, cqes));
                    }
                }
            }
            Lifecycle::Completed(_) => {
                debug_assert!(false, "CQE after the final CQE for {token:#x}");
            }
        }
    }

    /// Polls a single-shot slot; frees it when the result is taken.
    pub(crate) fn poll(&mut self, token: u64, cx: &mut Context<'_>) -> Poll<Completion> {
        match self.entry(token).map(|e| &mut e.state) {
            Some(Lifecycle::Pending { waker, .. }) => {
                set_waker(waker, cx);
                Poll::Pending
            }
            Some(Lifecycle::Completed(_)) => match self.remove(token) {
                Lifecycle::Completed(c) => Poll::Ready(c),
                _ => unreachable!("checked just above"),
            },
            _ => panic!("ringloop: poll of slot {token:#x} in the wrong state"),
        }
    }

    /// Polls a multishot slot: `Ready(Some)` per completion, `Ready(None)`
    /// (and the slot freed) after the final one.
    pub(crate) fn poll_multi(
        &mut self,
        token: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Completion>> {
        match self.entry(token).map(|e| &mut e.state) {
            Some(Lifecycle::Multi { waker, queue, done }) => {
                if let Some(c) = queue.pop_front() {
                    return Poll::Ready(Some(c));
                }
                if *done {
                    self.remove(token);
                    return Poll::Ready(None);
                }
                set_waker(waker, cx);
                Poll::Pending
            }
            _ => panic!("ringloop: poll of multishot slot {token:#x} in the wrong state"),
        }
    }

    /// The future owning `key` was dropped. `data` is everything the kernel
    /// may still touch; it moves into the slot unless the kernel is done, in
    /// which case it comes back, with the completions it must consume.
    pub(crate) fn orphan(
        &mut self,
        token: u64,
        data: Box<dyn Orphan>,
    ) -> (AfterDrop, Option<Finished>) {
        let slot = match self.entry(token) {
            Some(e) => &mut e.state,
            None => panic!("ringloop: drop of unknown slot {token:#x}"),
        };
        let (finished, cqes) = match slot {
            Lifecycle::Completed(_) => match self.remove(token) {
                Lifecycle::Completed(c) => (true, vec![c]),
                _ => unreachable!("matched just above"),
            },
            Lifecycle::Multi { queue, done, .. } => {
                let cqes: Vec<Completion> = queue.drain(..).collect();
                let done = *done;
                if done {
                    self.remove(token);
                }
                (done, cqes)
            }
            Lifecycle::Pending { first, .. } => (false, first.take().into_iter().collect()),
            Lifecycle::Orphaned { .. } => panic!("ringloop: slot {token:#x} orphaned twice"),
        };
        if finished {
            (AfterDrop::Freed, Some(Finished::new(data, cqes)))
        } else if crate::mutant::on("orphan_freed_at_once") {
            drop(data);
            let e = self.entry(token).expect("matched above");
            e.state = Lifecycle::Orphaned {
                data: Box::new(Nothing),
                cqes,
            };
            (AfterDrop::Cancel, None)
        } else {
            let e = self.entry(token).expect("matched above");
            e.state = Lifecycle::Orphaned { data, cqes };
            (AfterDrop::Cancel, None)
        }
    }
}

/// Queues `w` to be woken, unless the waker queued just before wakes the
/// same task (a task with many operations in flight gets one wake per
/// batch of completions, not one per completion).
fn push_wake(wake: &mut Vec<Waker>, w: Option<Waker>) {
    let Some(w) = w else { return };
    if !wake.last().is_some_and(|last| last.will_wake(&w)) {
        wake.push(w);
    }
}

fn set_waker(slot: &mut Option<Waker>, cx: &mut Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

#[cfg(test)]
mod tests {
    //! The state machine without a kernel: synthetic CQEs, `Rc<()>` payloads.
    use super::*;
    use std::rc::Rc;
    use std::task::Waker;

    /// A payload that records how many completions it consumed.
    struct Payload(#[allow(dead_code)] Rc<()>, Rc<std::cell::Cell<usize>>);
    impl Orphan for Payload {
        fn finish(self: Box<Self>, cqes: Vec<Completion>) {
            self.1.set(cqes.len());
        }
    }
    fn orphan_of(rc: &Rc<()>) -> (Box<dyn Orphan>, Rc<std::cell::Cell<usize>>) {
        let seen = Rc::new(std::cell::Cell::new(usize::MAX));
        (Box::new(Payload(rc.clone(), seen.clone())), seen)
    }

    /// `IORING_CQE_F_MORE` (uapi value).
    const MORE: u32 = 1 << 1;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn completed_then_polled_frees_slot() {
        let mut s = Slots::default();
        let k = s.insert(false, None);
        assert!(s.poll(k, &mut cx()).is_pending());
        let (mut w, mut d) = (vec![], vec![]);
        s.complete(k, 7, 0, &mut w, &mut d);
        assert_eq!(w.len(), 1, "the polled future is woken");
        match s.poll(k, &mut cx()) {
            Poll::Ready(c) => assert_eq!(c.result.unwrap(), 7),
            Poll::Pending => panic!("should be ready"),
        }
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn orphan_keeps_payload_until_final_cqe() {
        let payload = Rc::new(());
        let mut s = Slots::default();
        let k = s.insert(false, None);
        assert_eq!(Rc::strong_count(&payload), 1);
        let (data, seen) = orphan_of(&payload);
        let (after, back) = s.orphan(k, data);
        assert_eq!(after, AfterDrop::Cancel);
        assert!(back.is_none());
        assert_eq!(Rc::strong_count(&payload), 2, "slot holds the payload");
        let (mut w, mut d) = (vec![], vec![]);
        s.complete(k, -libc::ECANCELED, 0, &mut w, &mut d);
        assert_eq!(s.len(), 0);
        assert_eq!(Rc::strong_count(&payload), 2, "freed only when finished");
        d.into_iter().for_each(Finished::finish);
        assert_eq!(seen.get(), 1, "the final result reached the value");
        assert_eq!(Rc::strong_count(&payload), 1);
    }

    #[test]
    fn orphan_after_completion_frees_at_once() {
        let payload = Rc::new(());
        let mut s = Slots::default();
        let k = s.insert(false, None);
        s.complete(k, 0, 0, &mut vec![], &mut vec![]);
        let (data, seen) = orphan_of(&payload);
        let (after, back) = s.orphan(k, data);
        assert_eq!(after, AfterDrop::Freed);
        back.expect("comes back to be finished").finish();
        assert_eq!(seen.get(), 1, "an unpolled result is still consumed");
        assert_eq!(Rc::strong_count(&payload), 1);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn zero_copy_style_more_keeps_first_result() {
        let mut s = Slots::default();
        let k = s.insert(false, None);
        let (mut w, mut d) = (vec![], vec![]);
        s.complete(k, 4096, MORE, &mut w, &mut d);
        assert!(s.poll(k, &mut cx()).is_pending(), "buffer still owned");
        s.complete(k, 0, 0, &mut w, &mut d);
        match s.poll(k, &mut cx()) {
            Poll::Ready(c) => assert_eq!(c.result.unwrap(), 4096),
            Poll::Pending => panic!("should be ready"),
        }
    }

    #[test]
    fn orphaned_multishot_waits_for_cqe_without_more() {
        let payload = Rc::new(());
        let mut s = Slots::default();
        let k = s.insert(true, None);
        let (mut w, mut d) = (vec![], vec![]);
        s.complete(k, 5, MORE, &mut w, &mut d);
        let (data, seen) = orphan_of(&payload);
        let (after, _) = s.orphan(k, data);
        assert_eq!(after, AfterDrop::Cancel);
        s.complete(k, 6, MORE, &mut w, &mut d);
        assert_eq!(Rc::strong_count(&payload), 2);
        s.complete(k, -libc::ECANCELED, 0, &mut w, &mut d);
        d.into_iter().for_each(Finished::finish);
        assert_eq!(
            seen.get(),
            3,
            "queued, late and final completions all consumed"
        );
        assert_eq!(Rc::strong_count(&payload), 1);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn a_reused_key_has_a_new_generation() {
        let payload = Rc::new(());
        let mut s = Slots::default();
        let old = s.insert(false, None);
        let (data, _) = orphan_of(&payload);
        s.orphan(old, data);
        assert_eq!(s.note_cancel(old), Some(1));
        s.complete(old, -libc::ECANCELED, 0, &mut vec![], &mut vec![]);
        let new = s.insert(false, None);
        assert_eq!(split(new).0, split(old).0, "the key is reused");
        assert_ne!(new, old, "with another generation");
        assert_eq!(s.note_cancel(old), None, "a retry for the old op is void");
        assert_eq!(s.note_cancel(new), None, "a live op is never cancelled");
        assert!(s.poll(new, &mut cx()).is_pending());
    }

    #[test]
    fn multishot_stream_yields_then_ends() {
        let mut s = Slots::default();
        let k = s.insert(true, None);
        let (mut w, mut d) = (vec![], vec![]);
        s.complete(k, 1, MORE, &mut w, &mut d);
        s.complete(k, 2, 0, &mut w, &mut d);
        let mut got = vec![];
        while let Poll::Ready(Some(c)) = s.poll_multi(k, &mut cx()) {
            got.push(c.result.unwrap());
        }
        assert_eq!(got, vec![1, 2]);
        assert_eq!(s.len(), 0);
    }
}
