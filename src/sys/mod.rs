//! The kernel layer: small safe wrappers over Linux system calls, and the only home
//! of `unsafe` in vsbox. It holds no policy; the context engine decides what to call.

pub mod bpf;
pub mod caps;
pub mod cgroup;
pub mod error;
pub mod exec;
pub mod fd;
pub mod file;
pub mod mount;
pub mod netlink;
pub mod ns;
pub mod process;
pub mod probe;
pub mod procscan;
pub mod pty;
pub(crate) mod raw;
#[cfg(all(feature = "legacy-probe", not(feature = "std")))]
pub mod rt;
pub mod seccomp;
pub mod signal;
pub mod spawn;
pub mod unix;
pub mod vserver;

pub use error::{Context, Errno, ErrnoText, Error, Result};

