//! ringloop's files: file and path operations as OpCode families.
//!
//! (Filled in by the file I/O work; see the workspace README.)
#![deny(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
