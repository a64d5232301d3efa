//! Contexts on a mainline kernel: create, join, stop, list (DESIGN.md).
//!
//! Creating one:
//!
//! - the **caller** (the applet) reserves the number, makes the cgroups and clones
//!   the context's init into them; once the init says the context is set up, it
//!   records the init in the registry and hands it to the keeper; then it relays
//!   the command's terminal (`relay`), forwards the signals an admin sends it, and
//!   waits for the command's status, like `unshare --fork`;
//! - the context's **init** (PID 1 of the new pid namespace) closes every inherited
//!   descriptor, leaves the caller's session, joins the cgroup v1 hierarchies, makes
//!   the private mounts, sets names and limits, opens the context's pty when there
//!   is a terminal to relay, then confines itself to the guest's ceiling before it
//!   starts the command (see `init`), or becomes the command itself with fakeinit;
//! - the **keeper** (`keeper`), one host-side process for all contexts, clears the
//!   context away when its init ends.
//!
//! Joining one happens in a child of the caller, which enters the cgroups and the
//! namespaces (setns on the init's pidfd), confines itself and forks the command
//! into the context's pid namespace, then leaves: the caller itself never changes
//! its namespaces or cgroups, and it waits for the command directly (it is the
//! command's subreaper).

use alloc::string::String;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal};

pub mod cgroups;
pub mod create;
pub mod init;
pub mod join;
pub mod keeper;
pub mod registry;
pub mod relay;
pub mod rootfs;
pub mod spec;
pub mod wire;

pub use create::{apply_rlimits, create};
pub use join::{enter, Join};

use cgroups::CgroupSet;
use registry::{Entry, Registry};
use spec::Flags;
use wire::Stage;
use crate::engine::network::ipv4root::{self, IpRoot};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Error, Result};
use crate::sys::{file, seccomp};

/// How a create or join ended for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command ended with this status (128+signal when killed).
    Exited(i32),
    /// `disconnect`: the command runs on its own in context N.
    Detached(u32),
}

/// The error of a join whose context ended while it was being joined.
pub const ENDED: &str = "join the context: it ended meanwhile";

/// A setup step's failure, as the caller reports it.
pub(crate) fn failed(st: Stage, e: Errno) -> Error {
    Error::new(st.what(), e)
}

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe")
}

/// Context 1, the spectator: the host's view of every process, no signals to any
/// of them (seccomp), and a ceiling without CAP_KILL. Becomes the command.
pub fn spectate<A: AsRef<[u8]>, E: AsRef<[u8]>>(remove: CapSet, argv: &[A], envp: &[E]) -> Error {
    const CAP_KILL: u32 = 5;
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    if let Err(e) = seccomp::install(&seccomp::Filter::spectator(me)) {
        return e;
    }
    if let Err(e) = crate::sys::caps::reduce(remove.union(CapSet::bit(CAP_KILL))) {
        return e;
    }
    crate::sys::exec::exec(argv, envp)
}

/// Stop context `id`: kill its init (which takes the whole pid namespace along),
/// wait until it is gone, and clear what is left. Stopping a stopped context is
/// not an error.
pub fn stop(reg: &Registry, id: u32) -> Result<bool> {
    let Some(e) = reg.find(id) else {
        let _lock = reg.lock()?;
        if let Some(stale) = reg.read(id) {
            reg.clear_own(&stale);
        }
        return Ok(false);
    };
    if e.init > 0 {
        if let Some(pid) = Pid::from_raw(e.init) {
            if let Ok(pfd) = rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
                // The pid could have been reused between find and open: re-check.
                if registry::start_time(e.init) == Some(e.start) {
                    let _ = rustix::process::pidfd_send_signal(&pfd, Signal::KILL);
                    let mut fds = [rustix::event::PollFd::new(&pfd, rustix::event::PollFlags::IN)];
                    let ts = rustix::event::Timespec { tv_sec: 5, tv_nsec: 0 };
                    let _ = rustix::event::poll(&mut fds, Some(&ts));
                }
            }
        }
    }
    let _lock = reg.lock()?;
    reg.clear_own(&e);
    Ok(true)
}

/// The name of context `n` for listings: its registry name, or the fixed names of
/// the host and the spectator.
pub fn display_name(reg: &Registry, n: u32) -> String {
    match n {
        0 => String::from("root server"),
        1 => String::from("monitoring server"),
        _ => reg.read(n).map(|e| e.name).unwrap_or_default(),
    }
}

/// Load and attach `root`'s programs on the context's cgroup2 directory.
pub(crate) fn attach_ipv4root(set: &CgroupSet, root: &IpRoot) -> core::result::Result<(), Errno> {
    let dir = set.v2().ok_or(Errno::NOENT)?;
    let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    ipv4root::attach(fd.as_fd(), root).map(|_| ()).map_err(|e| e.error.errno)
}

/// The context the calling process belongs to, from its cgroup2 path (None: the
/// host, context 0).
pub fn current(reg: &Registry) -> Option<u32> {
    current_in(&reg.cgroup_parents().ok()?)
}

/// `current`, with the cgroup parents already resolved.
pub(crate) fn current_in(parents: &[cgroups::CgroupDir]) -> Option<u32> {
    let v2 = parents.iter().find(|d| d.hierarchy.v2)?;
    let own = file::read_to_vec("/proc/self/cgroup").ok()?;
    let own = core::str::from_utf8(&own).ok()?;
    let path = crate::sys::cgroup::own_path(&v2.hierarchy, own)?;
    let dir = crate::sys::cgroup::dir_of(&v2.hierarchy, &path);
    let rest = dir.strip_prefix(v2.path.as_str())?.strip_prefix('/')?;
    rest.split('/').next()?.parse().ok()
}

/// Restrict context `id` to `root` (chbind inside a context): the programs are
/// added to its cgroup, so every process in it, and every one that joins later,
/// is bound. Only narrowing is allowed. Returns the verifier's refusal in full.
pub fn set_ipv4root(reg: &Registry, id: u32, root: &IpRoot) -> core::result::Result<(), SetIpError> {
    let _lock = reg.lock().map_err(SetIpError::Sys)?;
    let mut e = reg.find(id).ok_or(SetIpError::Sys(Error::new("restrict the context: it does not exist", Errno::SRCH)))?;
    let current = IpRoot::parse_rendered(&e.ips);
    root.within(&current).map_err(SetIpError::Wider)?;
    let dir = e.cgroups.v2().ok_or(SetIpError::Sys(Error::new("restrict the context: no cgroup2 directory", Errno::NOENT)))?;
    let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .ctx("open the context's cgroup2 directory")
        .map_err(SetIpError::Sys)?;
    ipv4root::attach(fd.as_fd(), root).map_err(SetIpError::Bpf)?;
    e.ips = root.render();
    reg.write(&e).map_err(SetIpError::Sys)
}

/// Why an ipv4root could not be set.
#[derive(Debug)]
pub enum SetIpError {
    /// The new list is not within the context's current one.
    Wider(String),
    /// Loading or attaching a program failed (with the verifier's log).
    Bpf(crate::sys::bpf::BpfError),
    Sys(Error),
}

impl core::fmt::Display for SetIpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetIpError::Wider(s) => write!(f, "{s}: a nested chbind can only narrow"),
            SetIpError::Bpf(e) => write!(f, "{e}"),
            SetIpError::Sys(e) => write!(f, "{e}"),
        }
    }
}

/// chbind outside any context: a network-only context for the calling process (a
/// cgroup in every hierarchy carrying the ipv4root programs, no namespaces). The
/// caller is moved into it and then executes the command; the context lives while
/// its cgroup has members. Returns its number.
pub fn create_net_only(reg: &Registry, root: &IpRoot, name: &str) -> core::result::Result<u32, SetIpError> {
    let sys = SetIpError::Sys;
    let parents = reg.cgroup_parents().map_err(sys)?;
    let lock = reg.lock().map_err(sys)?;
    // Best effort: a network-only context has nothing to hide.
    let _ = reg.ensure_mount();
    reg.sweep_some();
    let id = reg.reserve(None).map_err(sys)?;
    let set = CgroupSet::of(&parents, id);
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let start = registry::start_time(me).unwrap_or(0);
    let entry = Entry {
        id,
        name: String::from(name),
        init: me,
        start,
        boot: String::from(reg.boot()),
        creator: me,
        creator_start: start,
        keeper: 0,
        flags: Flags::default(),
        remove: CapSet::EMPTY,
        namespaces: 0,
        ips: root.render(),
        rlimits: String::new(),
        nice: None,
        cgroups: set.clone(),
        ..Entry::default()
    };
    let r = (|| {
        reg.write(&entry).map_err(sys)?;
        set.create().map_err(sys)?;
        let dir = set.v2().ok_or(SetIpError::Sys(Error::new("create the network context: no cgroup2 hierarchy", Errno::NOENT)))?;
        let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .ctx("open the context's cgroup2 directory")
            .map_err(sys)?;
        ipv4root::attach(fd.as_fd(), root).map_err(SetIpError::Bpf)?;
        // Join last: every socket made from here on is covered.
        set.join(0, true).map_err(sys)
    })();
    if r.is_err() {
        reg.clear(&entry);
    }
    drop(lock);
    r.map(|()| id)
}
