//! vsbox's kernel-facing library: the context engine and the kernel layer beneath it.
//! `no_std` + `alloc`: every kernel call goes straight to the kernel (rustix's raw
//! backend or our own `syscall` instructions), never through libc. Unit tests run on
//! the host with std.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod engine;
pub mod sys;
