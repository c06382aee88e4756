//! ringloop's sockets: TCP, UDP and Unix sockets as OpCode families.
//!
//! (Filled in by the networking work; see the workspace README.)
#![deny(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
