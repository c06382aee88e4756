//! [`OpBox<T>`]: the stable heap home of an operation value, without an
//! allocation per operation.
//!
//! The kernel may read and write an operation's value (its sockaddr, its
//! msghdr, the timespec) after the call that submitted it returned, and the
//! value must keep its address when its future moves or is dropped, so it
//! lives on the heap. A `Box` per operation is one `malloc` and one `free`
//! on every op. `OpBox` takes its block from a small per-thread cache of
//! blocks of the same layout and gives it back there when the value is
//! dropped or moved out, so a loop in steady state allocates nothing per
//! operation (`tests/alloc_per_op.rs` counts it).
//!
//! Each layout keeps at most [`KEEP`] free blocks; the rest go back to the
//! allocator, and a thread's cache is freed when the thread exits. With the
//! `valgrind` feature the cache is off, so memcheck sees every free (a
//! recycled block would hide a use after free from it).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Free blocks kept per layout.
const KEEP: usize = 256;

struct Cache {
    /// (layout, free blocks of it); a loop uses a dozen op types or so.
    lists: Vec<(Layout, Vec<NonNull<u8>>)>,
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (layout, blocks) in self.lists.drain(..) {
            for b in blocks {
                // SAFETY: every cached block was allocated with `layout`
                // and is owned by the cache alone.
                unsafe { dealloc(b.as_ptr(), layout) };
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = const { RefCell::new(Cache { lists: Vec::new() }) };
}

/// A block for `layout` (non-zero size): a cached one, else a new one.
fn take(layout: Layout) -> NonNull<u8> {
    let cached = if cfg!(feature = "valgrind") {
        None
    } else {
        CACHE
            .try_with(|c| {
                let mut c = c.borrow_mut();
                c.lists
                    .iter_mut()
                    .find(|(l, _)| *l == layout)
                    .and_then(|(_, blocks)| blocks.pop())
            })
            .ok()
            .flatten()
    };
    cached.unwrap_or_else(|| {
        // SAFETY: `layout` has a non-zero size (checked by the caller).
        let p = unsafe { alloc(layout) };
        NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
    })
}

/// Gives back a block of `layout` whose value is gone.
fn give(block: NonNull<u8>, layout: Layout) {
    let kept = !cfg!(feature = "valgrind")
        && CACHE
            .try_with(|c| {
                let mut c = c.borrow_mut();
                let i = match c.lists.iter().position(|(l, _)| *l == layout) {
                    Some(i) => i,
                    None => {
                        c.lists.push((layout, Vec::new()));
                        c.lists.len() - 1
                    }
                };
                let blocks = &mut c.lists[i].1;
                if blocks.len() < KEEP {
                    blocks.push(block);
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
    if !kept {
        // SAFETY: `block` was allocated with `layout` and is no longer used.
        unsafe { dealloc(block.as_ptr(), layout) };
    }
}

/// An owned `T` at a stable heap address (see the module docs).
pub(crate) struct OpBox<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

impl<T> OpBox<T> {
    pub(crate) fn new(value: T) -> Self {
        let layout = Layout::new::<T>();
        let ptr = if layout.size() == 0 {
            NonNull::dangling()
        } else {
            take(layout).cast::<T>()
        };
        // SAFETY: `ptr` is valid for writes of a `T` (a block of T's layout,
        // or dangling for a zero-sized T) and holds no value yet.
        unsafe { ptr.as_ptr().write(value) };
        OpBox {
            ptr,
            _owns: PhantomData,
        }
    }

    /// Moves the value out; the block goes back to the cache.
    pub(crate) fn into_inner(self) -> T {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the box owns an initialised `T`; `this` is never dropped,
        // so the value is read exactly once.
        let value = unsafe { this.ptr.as_ptr().read() };
        this.release_block();
        value
    }

    fn release_block(&self) {
        let layout = Layout::new::<T>();
        if layout.size() != 0 {
            give(self.ptr.cast(), layout);
        }
    }
}

impl<T> Drop for OpBox<T> {
    fn drop(&mut self) {
        // SAFETY: the box owns an initialised `T`, dropped exactly once here.
        unsafe { self.ptr.as_ptr().drop_in_place() };
        self.release_block();
    }
}

impl<T> Deref for OpBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the box owns an initialised `T` for its whole life.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for OpBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` is unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: fmt::Debug> fmt::Debug for OpBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn values_drop_once_and_blocks_are_reused() {
        let rc = Rc::new(());
        let a = OpBox::new((rc.clone(), [0u8; 100]));
        let addr = &*a as *const _ as usize;
        drop(a);
        assert_eq!(Rc::strong_count(&rc), 1, "dropped with the box");
        let b = OpBox::new((rc.clone(), [1u8; 100]));
        if !cfg!(feature = "valgrind") {
            assert_eq!(&*b as *const _ as usize, addr, "the block came back");
        }
        let (r, bytes) = b.into_inner();
        assert_eq!(bytes, [1u8; 100]);
        assert_eq!(Rc::strong_count(&rc), 2, "moved out, not dropped");
        drop(r);
        let z = OpBox::new(());
        z.into_inner();
    }
}
