//! Namespaces: creating a process in new ones (clone3, with a clone fallback),
//! entering them (setns by file or pidfd), and unsharing.

use rustix::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::io::Errno;
use rustix::process::Pid;

use linux_raw_sys::general::{
    __NR_clone, __NR_clone3, CLONE_INTO_CGROUP, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET,
    CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, CLONE_PIDFD, SIGCHLD,
};

use super::error::{Context, Error, Result};
use super::raw;

/// Namespace kinds, as the CLONE_NEW* bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsFlags(pub u64);

impl NsFlags {
    pub const PID: NsFlags = NsFlags(CLONE_NEWPID as u64);
    pub const MNT: NsFlags = NsFlags(CLONE_NEWNS as u64);
    pub const UTS: NsFlags = NsFlags(CLONE_NEWUTS as u64);
    pub const IPC: NsFlags = NsFlags(CLONE_NEWIPC as u64);
    pub const NET: NsFlags = NsFlags(CLONE_NEWNET as u64);
    pub const CGROUP: NsFlags = NsFlags(CLONE_NEWCGROUP as u64);
    pub const fn union(self, o: NsFlags) -> NsFlags {
        NsFlags(self.0 | o.0)
    }
    pub const fn has(self, o: NsFlags) -> bool {
        self.0 & o.0 == o.0
    }
}

/// The namespace files a context keeps, in the order they must be entered: the
/// mount namespace last, because entering it changes what paths mean.
pub const NS_FILES: [(&str, NsFlags); 6] = [
    ("cgroup", NsFlags::CGROUP),
    ("ipc", NsFlags::IPC),
    ("uts", NsFlags::UTS),
    ("net", NsFlags::NET),
    ("pid", NsFlags::PID),
    ("mnt", NsFlags::MNT),
];

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The result of `spawn_in_new`: in the parent, the child's pid and (where the kernel
/// has clone3) a pidfd.
pub enum Spawned {
    Parent { pid: Pid, pidfd: Option<OwnedFd> },
    /// In the child: whether it was born in the requested cgroup.
    Child { in_cgroup: bool },
}

/// fork(2) into new namespaces, like clone3(CLONE_NEW*…) with a copy of the caller's
/// stack. With `cgroup` the child is born in that cgroup2 directory
/// (CLONE_INTO_CGROUP), so nothing it ever does escapes the cgroup's BPF programs
/// and limits. Kernels without clone3 get clone(2); the child must then move
/// itself into the cgroup first (`in_cgroup == false`).
pub fn spawn_in_new(ns: NsFlags, cgroup: Option<BorrowedFd<'_>>) -> Result<Spawned> {
    let mut pidfd: i32 = -1;
    let mut args = CloneArgs {
        flags: ns.0 | CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut i32 as u64,
        exit_signal: SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(cg) = cgroup {
        args.flags |= CLONE_INTO_CGROUP as u64;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid clone_args of the size passed; with stack == 0 the
    // child continues on a copy of this stack, as after fork(2). `pidfd` outlives
    // the call.
    let r = unsafe { raw::syscall3(__NR_clone3, &args as *const CloneArgs as usize, core::mem::size_of::<CloneArgs>(), 0) };
    match raw::check(r) {
        Ok(0) => return Ok(Spawned::Child { in_cgroup: cgroup.is_some() }),
        Ok(pid) => {
            // SAFETY: the kernel stored a fresh pidfd that nothing else owns.
            let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
            let pid = Pid::from_raw(pid as i32).ok_or(Error::new("clone3 returned no pid", Errno::INVAL))?;
            return Ok(Spawned::Parent { pid, pidfd });
        }
        Err(Errno::NOSYS) | Err(Errno::TOOBIG) => {}
        Err(e) => return Err(Error::new("create the context's first process (clone3)", e)),
    }
    // SAFETY: clone with a null stack duplicates the caller like fork(2); the flags
    // only add namespaces and no pointer arguments are passed.
    let r = unsafe { raw::syscall4(__NR_clone, ns.0 as usize | SIGCHLD as usize, 0, 0, 0) };
    match raw::check(r).ctx("create the context's first process (clone)")? {
        0 => Ok(Spawned::Child { in_cgroup: false }),
        pid => Ok(Spawned::Parent {
            pid: Pid::from_raw(pid as i32).ok_or(Error::new("clone returned no pid", Errno::INVAL))?,
            pidfd: None,
        }),
    }
}

/// unshare(2) the given namespaces for the calling process.
pub fn unshare(ns: NsFlags, what: &'static str) -> Result<()> {
    // SAFETY: unsharing namespaces (never CLONE_FILES/FS/VM/SIGHAND here) does not
    // invalidate any memory or file descriptor this program holds.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::from_bits_retain(ns.0 as u32)) }.ctx(what)
}

/// setns(2) into the namespace behind `fd` (a /proc/PID/ns/* or bind-mounted file).
pub fn enter<F: AsFd>(fd: F, what: &'static str) -> Result<()> {
    rustix::thread::move_into_link_name_space(fd.as_fd(), None).ctx(what)
}

/// Enter every namespace of `which` that the process behind `pidfd` is in, in one
/// setns(2) (the cgroup and mount namespaces as that process has them now, after
/// its own unshare and pivot_root). Kernels before 5.8 answer EINVAL: use
/// `enter_by_pid` there.
pub fn enter_all<F: AsFd>(pidfd: F, which: NsFlags) -> core::result::Result<(), Errno> {
    let kinds = rustix::thread::ThreadNameSpaceType::from_bits_retain(which.0 as u32);
    rustix::thread::move_into_thread_name_spaces(pidfd.as_fd(), kinds)
}

/// Enter the namespaces of `which` by the /proc/PID/ns files of `pid` (kernels
/// without pidfd setns), the mount namespace last. `still_same` runs once every
/// handle is open (and /proc still the host's): false means `pid` is no longer
/// the process meant, and nothing is entered (ESRCH).
pub fn enter_by_pid(pid: i32, which: NsFlags, still_same: impl Fn() -> bool) -> Result<()> {
    let mut handles: heapless::Vec<OwnedFd, 6> = heapless::Vec::new();
    for (name, flag) in NS_FILES {
        if which.has(flag) {
            let mut p: heapless::String<40> = heapless::String::new();
            let _ = core::fmt::Write::write_fmt(&mut p, format_args!("/proc/{pid}/ns/{name}"));
            let h = super::file::open_read(p.as_str()).ctx("open the context's namespace handles")?;
            let _ = handles.push(h);
        }
    }
    if !still_same() {
        return Err(Error::new("enter the context's namespaces", Errno::SRCH));
    }
    for h in &handles {
        enter(h, "enter the context's namespaces")?;
    }
    Ok(())
}
