//! vkill's signalling. Signals go through pidfds: a pid is opened first, checked to
//! be (still) in the context asked for, and only then signalled, so a pid reused
//! meanwhile is never hit.

use core::fmt;

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags};

use super::scope::Scope;
use crate::engine::context::cgroups::CgroupSet;
use crate::engine::context::registry::Registry;
use crate::engine::context::spec::SPECTATOR;
use crate::sys::error::{Error, ErrnoText, Result};
use crate::sys::procscan::{self, Want};
use crate::sys::signal;

/// Why a signal was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillError {
    /// No such process (in that context, when one was named).
    NoProcess { pid: u32, ctx: Option<u32> },
    /// The context has no processes.
    NoContext(u32),
    /// The kernel refused the signal.
    Refused { pid: u32, errno: Errno },
    Sys(Error),
}

impl From<Error> for KillError {
    fn from(e: Error) -> Self {
        KillError::Sys(e)
    }
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KillError::NoProcess { pid, ctx: None } => write!(f, "process id {pid} not found"),
            KillError::NoProcess { pid, ctx: Some(c) } => write!(f, "process id {pid} not found in context {c}"),
            KillError::NoContext(c) => write!(f, "context {c} not found (see vserver-stat for the running ones)"),
            KillError::Refused { pid, errno } => {
                write!(f, "cannot signal process {pid}: {}", ErrnoText(errno))?;
                if errno == Errno::PERM { f.write_str(" (run as root)") } else { Ok(()) }
            }
            KillError::Sys(e) => write!(f, "{e}"),
        }
    }
}

/// The host pid of the process whose pid inside context `ctx` is `local` (the last
/// NSpid value: the pid the context's own pid namespace gives it). For the host,
/// context 0, pids are host pids of processes in no context.
pub fn host_pid(scope: &Scope, ctx: u32, local: u32) -> Result<Option<u32>> {
    if ctx == 0 {
        return Ok((scope.live_ctx_of(local) == Some(0)).then_some(local));
    }
    for pid in scope.pids_of(ctx)? {
        if procscan::with_pid(pid, Want::STATUS, |p| p.status.nspid)? == Some(local) {
            return Ok(Some(pid));
        }
    }
    Ok(None)
}

/// Send `sig` (0 … 64) to host pid `pid`; with `ctx`, only while it is in that
/// context. The pid is pinned with a pidfd before the check, so a process that
/// exits and whose pid is reused in between is not hit.
pub fn signal_pid(scope: &Scope, pid: u32, ctx: Option<u32>, sig: i32) -> core::result::Result<(), KillError> {
    let gone = KillError::NoProcess { pid, ctx };
    let p = i32::try_from(pid).ok().and_then(Pid::from_raw).ok_or(gone)?;
    let fd = match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
        Ok(fd) => fd,
        // EINVAL: a thread id, not a process.
        Err(Errno::SRCH | Errno::INVAL) => return Err(gone),
        Err(errno) => return Err(KillError::Refused { pid, errno }),
    };
    if ctx.is_some() && scope.live_ctx_of(pid) != ctx {
        return Err(gone);
    }
    match signal::pidfd_send(&fd, sig) {
        Ok(()) => Ok(()),
        Err(Errno::SRCH) => Err(gone),
        Err(errno) => Err(KillError::Refused { pid, errno }),
    }
}

/// Send `sig` to every process of context `ctx` (2 … 65535), its init last (when
/// the init goes, the kernel ends whatever is left of its pid namespace). SIGKILL
/// also catches processes forked meanwhile (cgroup.kill). Returns how many
/// processes were signalled; a process that exits meanwhile is no error.
pub fn signal_context(scope: &Scope, reg: &Registry, ctx: u32, sig: i32) -> core::result::Result<usize, KillError> {
    if ctx <= SPECTATOR {
        return Err(KillError::NoContext(ctx));
    }
    let pids = scope.pids_of(ctx)?;
    if pids.is_empty() {
        return Err(KillError::NoContext(ctx));
    }
    // The init: the registry's, or the process that is PID 1 inside.
    let init = reg.find(ctx).and_then(|e| u32::try_from(e.init).ok()).filter(|p| pids.binary_search(p).is_ok()).or_else(|| {
        pids.iter().copied().find(|&p| matches!(procscan::with_pid(p, Want::STATUS, |i| i.status.nspid), Ok(Some(1))))
    });
    let mut sent = 0;
    let mut failed = None;
    let mut one = |pid: u32, sent: &mut usize| match signal_pid(scope, pid, Some(ctx), sig) {
        Ok(()) => *sent += 1,
        Err(KillError::NoProcess { .. }) => {}
        Err(e) => {
            failed.get_or_insert(e);
        }
    };
    for &pid in pids.iter().filter(|&&p| Some(p) != init) {
        one(pid, &mut sent);
    }
    if let Some(pid) = init {
        one(pid, &mut sent);
    }
    if sig == signal::SIGKILL {
        CgroupSet::of(&scope.parents, ctx).kill_all();
    }
    match failed {
        Some(e) if sent == 0 => Err(e),
        _ if sent == 0 => Err(KillError::NoContext(ctx)),
        _ => Ok(sent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::context::spec::Settings;

    #[test]
    fn kill_errors_read_well() {
        let s = |e: KillError| alloc::string::ToString::to_string(&e);
        assert_eq!(s(KillError::NoProcess { pid: 42, ctx: None }), "process id 42 not found");
        assert_eq!(s(KillError::NoProcess { pid: 3, ctx: Some(7) }), "process id 3 not found in context 7");
        assert_eq!(s(KillError::NoContext(9)), "context 9 not found (see vserver-stat for the running ones)");
        assert_eq!(s(KillError::Refused { pid: 1, errno: Errno::PERM }), "cannot signal process 1: Operation not permitted (run as root)");
    }

    /// A child of ours: found, signalled through its pidfd, and gone after.
    #[test]
    fn signal_a_host_process() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let scope = Scope::with_parents(Vec::new(), &[]).unwrap();
        assert_eq!(scope.ctx_of(pid), 0);
        assert_eq!(host_pid(&scope, 0, pid).unwrap(), Some(pid));
        assert_eq!(signal_pid(&scope, pid, None, 0), Ok(()));
        assert_eq!(signal_pid(&scope, pid, Some(3), 9), Err(KillError::NoProcess { pid, ctx: Some(3) }));
        assert!(child.try_wait().unwrap().is_none(), "not in context 3: untouched");
        assert_eq!(signal_pid(&scope, pid, Some(0), 15), Ok(()));
        let st = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(15));
        assert_eq!(signal_pid(&scope, pid, None, 15), Err(KillError::NoProcess { pid, ctx: None }));
        assert_eq!(signal_pid(&scope, u32::MAX, None, 15), Err(KillError::NoProcess { pid: u32::MAX, ctx: None }));
        let reg = Registry::new(Settings::default());
        assert_eq!(signal_context(&scope, &reg, 1, 15), Err(KillError::NoContext(1)));
        assert_eq!(signal_context(&scope, &reg, 4242, 15), Err(KillError::NoContext(4242)));
    }
}
