//! The memory of a registry or pool and the state of each buffer in it,
//! shared (an `Rc`) by the registry handle, every checked-out [`FixedBuf`]
//! and, while registered, the loop's driver.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::ptr::NonNull;
use std::rc::{Rc, Weak};
use std::task::Waker;

use super::{invalid, FixedBuf};
use crate::driver::{current, Driver};

/// The kernel's limit on buffers in one table (`IORING_MAX_REG_BUFFERS`).
const MAX_BUFS: usize = 1 << 14;
/// The kernel's limit on one registered buffer (`SZ_1G`).
const MAX_SIZE: usize = 1 << 30;
/// Alignment of the buffers a registry allocates: a page, as `O_DIRECT`
/// needs.
const ALIGN: usize = 4096;

/// One buffer's memory: `cap` bytes at `ptr`, every one initialised.
struct Region {
    ptr: NonNull<u8>,
    cap: usize,
    /// How to free it: allocated here with a layout, or a caller's
    /// `Vec<u8>` whose length is its capacity.
    layout: Option<Layout>,
}

/// Where the store is registered.
enum Reg {
    /// Nowhere (never, or unregistered and taken down).
    Off,
    /// On the loop of `driver`; `kernel`: in its ring's table too.
    Live {
        driver: Weak<RefCell<Driver>>,
        kernel: bool,
    },
    /// Unregistered by the user, the table still up until the last
    /// checked-out buffer comes back.
    Closing { driver: Weak<RefCell<Driver>> },
}

struct State {
    /// Initialised length of each buffer, kept while it is checked in.
    init: Vec<usize>,
    out: Vec<bool>,
    n_out: usize,
    /// Free buffers by capacity (the pool's view; the registry checks out
    /// by index).
    free: BTreeMap<usize, Vec<u16>>,
    /// Tasks waiting for a buffer to come back (the pool's `next`).
    waiters: Vec<Waker>,
    reg: Reg,
}

/// The shared memory and state (see the module docs).
pub(crate) struct Store {
    regions: Box<[Region]>,
    st: RefCell<State>,
}

impl Store {
    fn from_regions(regions: Vec<Region>) -> io::Result<Rc<Store>> {
        if regions.is_empty() || regions.len() > MAX_BUFS {
            return Err(invalid(format!(
                "fixed buffers: {} buffers, the kernel takes 1 to {MAX_BUFS}",
                regions.len()
            )));
        }
        let mut free: BTreeMap<usize, Vec<u16>> = BTreeMap::new();
        for (i, r) in regions.iter().enumerate().rev() {
            free.entry(r.cap).or_default().push(i as u16);
        }
        let n = regions.len();
        Ok(Rc::new(Store {
            regions: regions.into_boxed_slice(),
            st: RefCell::new(State {
                init: vec![0; n],
                out: vec![false; n],
                n_out: 0,
                free,
                waiters: Vec::new(),
                reg: Reg::Off,
            }),
        }))
    }

    /// `count` zeroed, page-aligned buffers of `size` bytes.
    pub(crate) fn alloc(count: usize, size: usize) -> io::Result<Rc<Store>> {
        if size == 0 || size > MAX_SIZE {
            return Err(invalid(format!(
                "fixed buffers: size {size}, the kernel takes 1 to {MAX_SIZE} bytes"
            )));
        }
        if count == 0 || count > MAX_BUFS {
            return Err(invalid(format!(
                "fixed buffers: {count} buffers, the kernel takes 1 to {MAX_BUFS}"
            )));
        }
        let layout = Layout::from_size_align(size, ALIGN)
            .map_err(|_| invalid(format!("fixed buffers: size {size} too large")))?;
        let mut regions: Vec<Region> = Vec::with_capacity(count);
        for _ in 0..count {
            // SAFETY: `layout` has a non-zero size.
            let p = unsafe { alloc_zeroed(layout) };
            let Some(ptr) = NonNull::new(p) else {
                for r in regions {
                    // SAFETY: allocated just above with this layout.
                    unsafe { dealloc(r.ptr.as_ptr(), layout) };
                }
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    "fixed buffers: out of memory",
                ));
            };
            regions.push(Region {
                ptr,
                cap: size,
                layout: Some(layout),
            });
        }
        Store::from_regions(regions)
    }

    /// The caller's buffers: each `Vec`'s capacity is a buffer (zero-filled
    /// past its length), its length the initialised bytes.
    pub(crate) fn from_vecs(bufs: impl IntoIterator<Item = Vec<u8>>) -> io::Result<Rc<Store>> {
        let mut regions = Vec::new();
        let mut init = Vec::new();
        for mut v in bufs {
            let cap = v.capacity();
            if cap == 0 || cap > MAX_SIZE {
                return Err(invalid(format!(
                    "fixed buffers: capacity {cap}, the kernel takes 1 to {MAX_SIZE} bytes"
                )));
            }
            init.push(v.len());
            // Every byte initialised, so a handle may expose any of them.
            v.resize(cap, 0);
            let mut v = std::mem::ManuallyDrop::new(v);
            regions.push(Region {
                ptr: NonNull::new(v.as_mut_ptr()).expect("a Vec with capacity is not null"),
                cap: v.capacity(),
                layout: None,
            });
        }
        let store = Store::from_regions(regions)?;
        store.st.borrow_mut().init = init;
        Ok(store)
    }

    pub(crate) fn len(&self) -> usize {
        self.regions.len()
    }

    pub(crate) fn capacity(&self, i: usize) -> Option<usize> {
        self.regions.get(i).map(|r| r.cap)
    }

    pub(crate) fn checked_out(&self) -> usize {
        self.st.borrow().n_out
    }

    pub(crate) fn iovecs(&self) -> Vec<libc::iovec> {
        self.regions
            .iter()
            .map(|r| libc::iovec {
                iov_base: r.ptr.as_ptr().cast(),
                iov_len: r.cap,
            })
            .collect()
    }

    /// Checks out buffer `i` if it is free.
    pub(crate) fn check_out(self: &Rc<Self>, i: usize) -> Option<FixedBuf> {
        let region = self.regions.get(i)?;
        let mut st = self.st.borrow_mut();
        if st.out[i] {
            return None;
        }
        let list = st.free.get_mut(&region.cap).expect("a bucket per capacity");
        let at = list.iter().position(|&x| x as usize == i)?;
        list.swap_remove(at);
        Some(self.hand_out(&mut st, i))
    }

    /// Checks out the free buffer of the smallest capacity `>= cap`.
    pub(crate) fn take_free(self: &Rc<Self>, cap: usize) -> Option<FixedBuf> {
        let mut st = self.st.borrow_mut();
        let i = st.free.range_mut(cap..).find_map(|(_, l)| l.pop())? as usize;
        Some(self.hand_out(&mut st, i))
    }

    fn hand_out(self: &Rc<Self>, st: &mut State, i: usize) -> FixedBuf {
        st.out[i] = true;
        st.n_out += 1;
        let r = &self.regions[i];
        // SAFETY: buffer `i` was free, so no other handle refers to it, and
        // it is marked out until this handle comes back; `r` describes its
        // region, all initialised, and `init[i] <= cap`.
        unsafe { FixedBuf::new(self.clone(), i as u16, r.ptr, r.cap, st.init[i]) }
    }

    /// Registers a waker for the next buffer to come back.
    pub(crate) fn wait(&self, waker: &Waker) {
        let mut st = self.st.borrow_mut();
        if !st.waiters.iter().any(|w| w.will_wake(waker)) {
            st.waiters.push(waker.clone());
        }
    }

    /// Buffer `i` came back with `init` bytes initialised.
    pub(crate) fn check_in(&self, i: u16, init: usize) {
        let (waiters, finish) = {
            let mut st = self.st.borrow_mut();
            let i = i as usize;
            st.out[i] = false;
            st.n_out -= 1;
            st.init[i] = init;
            let cap = self.regions[i].cap;
            st.free.entry(cap).or_default().push(i as u16);
            let finish = st.n_out == 0 && matches!(st.reg, Reg::Closing { .. });
            (std::mem::take(&mut st.waiters), finish)
        };
        waiters.into_iter().for_each(Waker::wake);
        if finish {
            self.take_down();
        }
    }

    /// Registers the store on the current loop.
    pub(crate) fn register(self: &Rc<Self>) -> io::Result<bool> {
        if !matches!(self.st.borrow().reg, Reg::Off) {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "fixed buffers: registered already (unregister first)",
            ));
        }
        let d = current::current()
            .ok_or_else(|| io::Error::other("fixed buffers: register outside a ringloop loop"))?;
        let kernel = d.borrow_mut().register_fixed(self)?;
        self.st.borrow_mut().reg = Reg::Live {
            driver: Rc::downgrade(&d),
            kernel,
        };
        Ok(kernel)
    }

    /// Whether the kernel has the buffers in its table.
    pub(crate) fn kernel_registered(&self) -> bool {
        matches!(self.st.borrow().reg, Reg::Live { kernel: true, .. })
    }

    /// Stops fixed operations on the store; the table goes once no
    /// buffer is checked out (at once if none is).
    pub(crate) fn unregister(&self) {
        let idle = {
            let mut st = self.st.borrow_mut();
            let Reg::Live { driver, .. } = std::mem::replace(&mut st.reg, Reg::Off) else {
                return;
            };
            st.reg = Reg::Closing { driver };
            st.n_out == 0
        };
        if idle {
            self.take_down();
        }
    }

    /// The driver took the table down itself (see `Driver::register_fixed`).
    pub(crate) fn mark_off(&self) {
        self.st.borrow_mut().reg = Reg::Off;
    }

    /// Unregistered and no buffer out: the driver may take the table down.
    pub(crate) fn closed_and_idle(&self) -> bool {
        let st = self.st.borrow();
        st.n_out == 0 && !matches!(st.reg, Reg::Live { .. })
    }

    /// Takes the table down in the driver, if the driver is alive and not
    /// busy (if busy, its next registration does it).
    fn take_down(&self) {
        let driver = match &self.st.borrow().reg {
            Reg::Closing { driver } => driver.clone(),
            _ => return,
        };
        let Some(d) = driver.upgrade() else {
            // The loop is gone, and its ring with it.
            self.st.borrow_mut().reg = Reg::Off;
            return;
        };
        let Ok(mut drv) = d.try_borrow_mut() else {
            return;
        };
        // The driver's `Rc` to this store: found by address, since `self`
        // is behind a shared reference here.
        let held = drv
            .fixed
            .0
            .as_ref()
            .filter(|s| std::ptr::eq(Rc::as_ptr(s), self))
            .cloned();
        let hold = held.and_then(|s| drv.unregister_fixed(&s));
        drop(drv);
        self.st.borrow_mut().reg = Reg::Off;
        // Dropped with no borrow held: this may be the store's last count.
        drop(hold);
    }

    /// The index for an SQE's `buf_index`, for a fixed operation on the
    /// current loop: `Some` when the kernel has the table, `None` for the
    /// plain path; an error when the store is not registered on this loop.
    pub(crate) fn ring_index(&self, i: u16) -> io::Result<Option<u16>> {
        let cur = current::current()
            .ok_or_else(|| io::Error::other("fixed buffer used outside a ringloop loop"))?;
        match &self.st.borrow().reg {
            Reg::Live { driver, kernel } if std::ptr::eq(driver.as_ptr(), Rc::as_ptr(&cur)) => {
                Ok(kernel.then_some(i))
            }
            Reg::Live { .. } => Err(invalid(format!(
                "fixed buffer {i}: its registry is registered on another loop"
            ))),
            _ => Err(invalid(format!(
                "fixed buffer {i}: its registry is not registered (never, or unregistered)"
            ))),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // No handle is left (each holds the store), and the driver holds the
        // store while the kernel's table refers to it: nothing uses the
        // memory any more.
        for r in self.regions.iter() {
            match r.layout {
                // SAFETY: allocated in `alloc` with this layout.
                Some(layout) => unsafe { dealloc(r.ptr.as_ptr(), layout) },
                // SAFETY: the parts of a `Vec<u8>` whose length was set to
                // its capacity, given up with `ManuallyDrop` in `from_vecs`.
                None => drop(unsafe { Vec::from_raw_parts(r.ptr.as_ptr(), r.cap, r.cap) }),
            }
        }
    }
}
