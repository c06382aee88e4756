//! Errors: the runtime's convention ([`ringloop_runtime::sys`]), re-used.

pub use ringloop_runtime::sys::os_error;
pub(crate) use ringloop_runtime::sys::{context, cvt, cvt_len};
