//! Which kind of kernel vsbox talks to: a mainline kernel (contexts built from
//! namespaces and cgroups) or a Linux-VServer patched one (real kernel contexts
//! through `sys_vserver`, `engine::legacy`). One `get_version` call decides
//! (vserver-spec.md §2.4), at first use; the admin may force either
//! (VSBOX_BACKEND, read on the std side and passed in as a `Choice`). A 2.4
//! ctx-patch kernel (its own `new_s_context`, announced in /proc/self/status) is
//! only reported (`sys::vserver::read_ctx24`): vsbox needs Linux 3.2 or later.

use core::sync::atomic::{AtomicU64, Ordering};

use rustix::io::Errno;

use super::legacy::Kernel;
use crate::sys::vserver;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Mainline,
    /// A patched kernel with this VCI version (0x00020308 = vs2.3.0.36; 0 when
    /// forced on a kernel that does not answer).
    Vserver { version: u32 },
}

/// What the admin asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Detect,
    Mainline,
    Vserver,
}

/// The first selection, encoded (0: none yet).
static CHOSEN: AtomicU64 = AtomicU64::new(0);

impl Backend {
    /// Ask the kernel (uncached): `get_version` answering is a vserver kernel.
    pub fn detect() -> Backend {
        match vserver::get_version() {
            Ok(v) if v >= 0x0001_0000 => Backend::Vserver { version: v },
            _ => Backend::Mainline,
        }
    }

    /// The backend for this process: decided at the first call, by `choice` and
    /// the kernel, and kept.
    pub fn select(choice: Choice) -> Backend {
        if let Some(b) = decode(CHOSEN.load(Ordering::Relaxed)) {
            return b;
        }
        let b = match choice {
            Choice::Detect => Backend::detect(),
            Choice::Mainline => Backend::Mainline,
            Choice::Vserver => Backend::Vserver { version: vserver::get_version().unwrap_or(0) },
        };
        CHOSEN.store(encode(b), Ordering::Relaxed);
        b
    }

    /// The vserver kernel to drive, if this is one.
    pub fn vserver(self) -> Option<Kernel> {
        match self {
            Backend::Vserver { version } => Some(Kernel { version }),
            _ => None,
        }
    }
}

fn encode(b: Backend) -> u64 {
    match b {
        Backend::Mainline => 1 << 32,
        Backend::Vserver { version } => 2 << 32 | u64::from(version),
    }
}

fn decode(v: u64) -> Option<Backend> {
    match v >> 32 {
        1 => Some(Backend::Mainline),
        2 => Some(Backend::Vserver { version: v as u32 }),
        _ => None,
    }
}

/// What `vsbox --version` reports of a mainline kernel: the features vsbox's
/// contexts are built from, each found with one cheap call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub cgroup2: bool,
    pub bpf: bool,
    pub pidfd: bool,
    pub clone3: bool,
}

impl Features {
    pub fn probe() -> Features {
        let mut fs = [0u8; 2048];
        let n = crate::sys::file::read_into("/proc/filesystems", &mut fs).unwrap_or(0);
        Features {
            cgroup2: fs[..n].split(|&b| b == b'\n').any(|l| l.ends_with(b"\tcgroup2")),
            bpf: implemented(crate::sys::probe::bpf()),
            pidfd: implemented(crate::sys::probe::pidfd_open()),
            clone3: implemented(crate::sys::probe::clone3()),
        }
    }
}

fn implemented(r: Result<(), Errno>) -> bool {
    r != Err(Errno::NOSYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_is_mainline() {
        assert_eq!(Backend::detect(), Backend::Mainline);
        assert_eq!(Backend::detect().vserver(), None);
        let f = Features::probe();
        assert!(f.cgroup2 && f.bpf && f.pidfd && f.clone3, "{f:?}");
    }

    #[test]
    fn the_choice_is_kept() {
        for b in [Backend::Mainline, Backend::Vserver { version: 0x0002_0308 }, Backend::Vserver { version: 0 }] {
            assert_eq!(decode(encode(b)), Some(b));
        }
        assert_eq!(decode(0), None);
        // The first selection decides for the whole process.
        let first = Backend::select(Choice::Vserver);
        assert_eq!(first, Backend::Vserver { version: 0 });
        assert_eq!(first.vserver(), Some(Kernel { version: 0 }));
        assert_eq!(Backend::select(Choice::Mainline), first);
    }
}
