//! Errors: the runtime's convention ([`ringloop::sys`]), re-used.

pub use ringloop_runtime::sys::os_error;
pub(crate) use ringloop_runtime::sys::{context, cvt, cvt_len};
