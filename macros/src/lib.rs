//! Attribute macros for the ringloop runtime: [`#[ringloop::main]`](macro@main)
//! and [`#[ringloop::test]`](macro@test).
//!
//! Use them through the facade crate `ringloop` (its default feature
//! `macros`), not from this crate: the code they generate names
//! `::ringloop::...` paths, so a crate that depends on `ringloop` alone can
//! use them.
//!
//! # `#[ringloop::main]`
//!
//! ```
//! use std::time::Duration;
//!
//! #[ringloop::main]
//! async fn main() -> std::io::Result<()> {
//!     ringloop::time::sleep(Duration::from_millis(1)).await;
//!     println!("on {:?}", ringloop::current_backend());
//!     Ok(())
//! }
//! ```
//!
//! expands to (`__private` is the facade's hidden support module)
//!
//! ```
//! # use std::time::Duration;
//! fn main() -> std::io::Result<()> {
//!     async fn main() -> std::io::Result<()> {
//!         ringloop::time::sleep(Duration::from_millis(1)).await;
//!         println!("on {:?}", ringloop::current_backend());
//!         Ok(())
//!     }
//!     let runtime = ::ringloop::__private::main_runtime(::ringloop::Backend::Auto, 1);
//!     runtime.block_on(main())
//! }
//! ```
//!
//! with the function's attributes, visibility and output type kept. The
//! body stays an `async fn` of the same name nested in the generated one,
//! so `?`, `return` and the declared output type mean what they meant.
//!
//! The body runs on loop 0, the program's main thread, with
//! `Runtime::block_on`; the runtime is dropped (its loops stopped, worker
//! threads joined) when the body returns, before `main` returns its value.
//! When the runtime cannot be built (a forced io_uring that cannot start, an
//! unknown `RINGLOOP_BACKEND`, no threads or fds left), the program prints
//! `error: cannot start the ringloop runtime: <reason>` on stderr and exits
//! with code 1.
//!
//! The function may have any name, and any output type (`()`,
//! `Result<(), E>`, a value: the generated function returns what the body
//! returns). It must be `async`, take no arguments and not be generic.
//!
//! # `#[ringloop::test]`
//!
//! ```
//! #[ringloop::test]
//! async fn spawns() {
//!     assert_eq!(ringloop::spawn(async { 1 }).await.unwrap(), 1);
//! }
//! # fn main() {}
//! ```
//!
//! expands to the async fn as written (its body sees the names it saw) and a
//! module of the same name, beside it in the type namespace, with one
//! `#[test]` per backend:
//!
//! ```
//! #[allow(dead_code)]
//! async fn spawns() {
//!     assert_eq!(ringloop::spawn(async { 1 }).await.unwrap(), 1);
//! }
//! /// `spawns` run once per backend (`#[ringloop::test]`).
//! mod spawns {
//!     #[::core::prelude::v1::test]
//!     pub(super) fn uring() {
//!         ::ringloop::__private::run_test(
//!             ::core::module_path!(),
//!             ::ringloop::Backend::IoUring,
//!             1,     // threads
//!             None,  // what a #[should_panic] expects
//!             super::spawns,
//!         );
//!     }
//!     #[::core::prelude::v1::test]
//!     pub(super) fn epoll() {
//!         ::ringloop::__private::run_test(
//!             ::core::module_path!(),
//!             ::ringloop::Backend::Epoll,
//!             1,
//!             None,
//!             super::spawns,
//!         );
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! so `cargo test spawns::epoll` runs one of them. Each test builds a
//! runtime on its backend, runs the body once with `Runtime::block_on` on
//! the test's thread, and drops the runtime. A test does not run its body,
//! and instead prints `skipped: <test>: <reason>` on stderr and appends
//! `<test>\t<reason>` to the file the environment variable
//! `RINGLOOP_SKIP_LOG` names, when
//!
//! - it is the io_uring test and io_uring cannot start on this machine
//!   (`kernel.io_uring_disabled`, a seccomp profile, an old kernel); with
//!   `RINGLOOP_REQUIRE_URING=1` it fails instead;
//! - `RINGLOOP_BACKEND` names the other backend (it is read when the test
//!   runs; an unknown value fails the test). The reason is then
//!   `RINGLOOP_BACKEND selects the other backend`.
//!
//! The body's output may be `()` or anything that implements
//! `std::process::Termination` (`Result<(), E: Debug>`): an `Err` fails the
//! test. `#[ignore]` and `#[should_panic]` go on each generated test (a
//! skipped `#[should_panic]` test ends in a panic that carries the expected
//! text, so that the skip passes like any other);
//! `#[cfg]` and `#[cfg_attr]` on the async fn and the module; every other
//! attribute (docs, lint levels) stays on the async fn. The function must be
//! `async`, take no arguments and not be generic, and must not also carry
//! `#[test]`.
//!
//! # Options
//!
//! Both attributes take `name = value` options, separated by commas:
//!
//! | option | values | default | meaning |
//! | --- | --- | --- | --- |
//! | `threads` | an integer, at least 1 | `1` | Loops of the runtime (`Builder::threads`). The body runs on loop 0, the calling thread (`main`'s, or the test's), with `Runtime::block_on`; the other `threads - 1` loops each run on a worker thread of their own, started before the body and joined after it. `ringloop::spawn` and `Handle::current()` in the body reach loop 0 only, and the body is given no handle to the workers: to run a future on every loop, build the runtime with `Builder` and use `Runtime::run_on_each_thread`. |
//! | `backend` | `"auto"` (main only), `"uring"` (also `"io_uring"`, `"iouring"`, `"io-uring"`), `"epoll"`; any case | main: `"auto"`; test: both backends | main: the runtime's `Backend`. `"auto"` tries io_uring and falls back to epoll, and lets `RINGLOOP_BACKEND` choose; a named backend is used whatever `RINGLOOP_BACKEND` says, and a forced io_uring that cannot start is the exit-1 error above. test: generate only that backend's test (which still skips when `RINGLOOP_BACKEND` names the other backend). |
//! | `crate` | a path as a string, e.g. `"::my_facade::ringloop"` | `"::ringloop"` | Where the generated code finds the facade, for crates that re-export it. Give an absolute path: the test functions live in a module of their own. |
//!
//! ```
//! #[ringloop::main(threads = 4, backend = "epoll")]
//! async fn main() {
//!     assert_eq!(ringloop::current_backend(), Some(ringloop::Backend::Epoll));
//! }
//!
//! #[ringloop::test(backend = "uring", threads = 2)]
//! async fn on_two_loops() {}
//! ```
//!
//! A wrong option is a compile error pointing at it: an unknown name, a
//! backend name the runtime does not know, `threads = 0`, an option given
//! twice.

#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

use proc_macro::TokenStream;

#[allow(dead_code)]
mod backend_name;
mod main_attr;
mod options;
mod signature;
mod test_attr;

/// Runs an `async fn` (usually `main`) on a new ringloop runtime: see the
/// [crate docs](crate#ringloopmain) for the expansion and the options
/// `threads`, `backend` and `crate`.
///
/// ```
/// #[ringloop::main(threads = 2)]
/// async fn main() -> std::io::Result<()> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), item.into()).into()
}

/// Turns `async fn name()` into a module `name` with one `#[test]` per
/// backend (`name::uring`, `name::epoll`), each running the body once on a
/// runtime of that backend: see the [crate docs](crate#ringlooptest) for
/// the expansion, what is skipped when, and the options `backend`,
/// `threads` and `crate`.
///
/// ```
/// #[ringloop::test]
/// async fn spawns() {
///     assert_eq!(ringloop::spawn(async { 1 }).await.unwrap(), 1);
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}
