//! The driver of the loop running on this thread: the one an operation
//! starts on at its first poll, and the only one it may be polled on after.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{Driver, DriverRef};

thread_local! {
    static CURRENT: RefCell<Option<DriverRef>> = const { RefCell::new(None) };
    /// The same driver as a bare address, for the per-poll check.
    static ADDR: Cell<*const RefCell<Driver>> = const { Cell::new(std::ptr::null()) };
}

/// The driver of the loop running on this thread.
pub(crate) fn current() -> Option<DriverRef> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// The receive-buffer pool of the loop running on this thread.
pub(crate) fn buf_pool() -> std::io::Result<Rc<super::BufPool>> {
    let d = current().ok_or_else(|| {
        std::io::Error::other("ringloop: a pooled receive outside a ringloop runtime")
    })?;
    let mut d = d.borrow_mut();
    d.buf_pool()
}

/// Whether `d` is the driver of the loop running on this thread.
#[inline]
pub(crate) fn is_current(d: &DriverRef) -> bool {
    ADDR.try_with(Cell::get).ok() == Some(Rc::as_ptr(d))
}

/// While alive, operations polled on this thread use `d`.
pub(crate) struct Entered {
    prev: Option<DriverRef>,
}

pub(crate) fn enter(d: &DriverRef) -> Entered {
    ADDR.set(Rc::as_ptr(d));
    let prev = CURRENT.with(|c| c.borrow_mut().replace(d.clone()));
    Entered { prev }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let addr = prev.as_ref().map_or(std::ptr::null(), Rc::as_ptr);
        let _ = ADDR.try_with(|a| a.set(addr));
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}
