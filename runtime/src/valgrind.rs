//! Telling valgrind's memcheck what io_uring wrote (feature `valgrind`).
//!
//! Memcheck cannot see the kernel write a buffer through io_uring (it sees
//! syscalls, not the ring), so bytes a completed read put in a fresh buffer
//! stay "undefined" to it, and every use of them is reported. With the
//! feature on, a buffer's [`set_init`](crate::buf::IoBufMut::set_init) marks
//! the range it declares initialised as defined, with memcheck's
//! `VALGRIND_MAKE_MEM_DEFINED` client request. The request is a short no-op
//! instruction sequence when the program does not run under valgrind (a
//! few cycles; the feature is for debugging builds, and off by default).
//!
//! Written on the documented client-request ABI (`valgrind.h`) for x86_64
//! and aarch64; a no-op on other targets.

/// `VG_USERREQ__MAKE_MEM_DEFINED`: `VG_USERREQ_TOOL_BASE('M','C') + 2`.
#[cfg(feature = "valgrind")]
const MAKE_MEM_DEFINED: u64 = ((b'M' as u64) << 24 | (b'C' as u64) << 16) + 2;

/// Marks `len` bytes at `ptr` as defined for memcheck.
#[cfg(all(feature = "valgrind", target_arch = "x86_64"))]
pub(crate) fn mark_defined(ptr: *const u8, len: usize) {
    let args: [u64; 6] = [MAKE_MEM_DEFINED, ptr as u64, len as u64, 0, 0, 0];
    let mut _result: u64 = 0;
    // SAFETY: valgrind's client-request preamble: four rotations of rdi
    // that add up to 128 bits (rdi ends unchanged) and `xchg rbx, rbx`, a
    // no-op natively; under valgrind it reads the six words at rax (a live
    // local array) and writes its answer to rdx (declared as an output).
    unsafe {
        std::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") _result,
            in("rax") args.as_ptr(),
            options(nostack),
        );
    }
}

/// Marks `len` bytes at `ptr` as defined for memcheck.
#[cfg(all(feature = "valgrind", target_arch = "aarch64"))]
pub(crate) fn mark_defined(ptr: *const u8, len: usize) {
    let args: [u64; 6] = [MAKE_MEM_DEFINED, ptr as u64, len as u64, 0, 0, 0];
    let mut _result: u64 = 0;
    // SAFETY: valgrind's client-request preamble for arm64: rotations of
    // x12 that add up to 128 bits and `orr x10, x10, x10`, a no-op natively;
    // under valgrind it reads the six words at x4 and answers in x3.
    unsafe {
        std::arch::asm!(
            "ror x12, x12, #3",
            "ror x12, x12, #13",
            "ror x12, x12, #51",
            "ror x12, x12, #61",
            "orr x10, x10, x10",
            inout("x3") _result,
            in("x4") args.as_ptr(),
            options(nostack),
        );
    }
}

/// Marks `len` bytes at `ptr` as defined for memcheck: nothing to do here.
#[cfg(not(all(
    feature = "valgrind",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
#[inline(always)]
pub(crate) fn mark_defined(_ptr: *const u8, _len: usize) {}
