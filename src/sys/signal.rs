//! Signal masks, signalfd and default dispositions through raw syscalls (rustix
//! leaves sigaction and sigprocmask out). vsbox never installs handlers: the init
//! and the waiting parents block the signals they care about and read them from a
//! signalfd, which needs no async-signal-safe code at all.

use rustix::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use rustix::io::Errno;

use linux_raw_sys::general::{__NR_rt_sigaction, __NR_rt_sigprocmask, __NR_signalfd4, O_CLOEXEC, SIG_SETMASK};

use super::error::{Context, Result};
use super::raw;

/// A set of signals (bit n-1 for signal n), as the kernel's sigset_t on x86_64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(pub u64);

impl SigSet {
    pub const EMPTY: SigSet = SigSet(0);
    pub const fn of(signals: &[i32]) -> SigSet {
        let mut s = 0u64;
        let mut i = 0;
        while i < signals.len() {
            s |= 1 << (signals[i] - 1);
            i += 1;
        }
        SigSet(s)
    }
    pub const fn has(self, sig: i32) -> bool {
        sig >= 1 && sig <= 64 && self.0 & (1 << (sig - 1)) != 0
    }
}

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGWINCH: i32 = 28;

/// Signal codes (si_code) that tell who sent a signal.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;

/// Replace the calling thread's signal mask; returns the old one.
pub fn set_mask(set: SigSet) -> Result<SigSet> {
    let mut old = 0u64;
    // SAFETY: both pointers refer to live u64s, the size argument matches them.
    let r = unsafe {
        raw::syscall4(__NR_rt_sigprocmask, SIG_SETMASK as usize, &set.0 as *const u64 as usize, &mut old as *mut u64 as usize, 8)
    };
    raw::check(r).ctx("set the signal mask")?;
    Ok(SigSet(old))
}

/// The signals pending for this thread or process (blocked ones waiting).
pub fn pending() -> SigSet {
    let mut set = 0u64;
    // SAFETY: the pointer refers to a live u64 of the size passed.
    let r = unsafe { raw::syscall3(linux_raw_sys::general::__NR_rt_sigpending, &mut set as *mut u64 as usize, 8, 0) };
    if raw::check(r).is_err() {
        return SigSet::EMPTY;
    }
    SigSet(set)
}

/// A signalfd delivering the (blocked) signals in `set`, close-on-exec
/// (SFD_CLOEXEC is O_CLOEXEC).
pub fn signalfd(set: SigSet) -> Result<OwnedFd> {
    // SAFETY: the mask pointer refers to a live u64 of the size passed.
    let r = unsafe { raw::syscall4(__NR_signalfd4, usize::MAX /* -1: new fd */, &set.0 as *const u64 as usize, 8, O_CLOEXEC as usize) };
    let fd = raw::check(r).ctx("create a signalfd")?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// One signal read from a signalfd: its number, sender pid (0 when the sender is
/// outside our pid namespace or is the kernel) and si_code.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub signo: i32,
    pub pid: u32,
    pub code: i32,
}

/// Read one pending signal (blocking unless the fd is non-blocking).
pub fn read_signal<F: AsFd>(fd: F) -> core::result::Result<Received, Errno> {
    // struct signalfd_siginfo is 128 bytes: ssi_signo u32, ssi_errno i32, ssi_code i32, ssi_pid u32, …
    let mut buf = [0u8; 128];
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(128) => break,
            Ok(_) => return Err(Errno::IO),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    Ok(Received { signo: word(0) as i32, code: word(8) as i32, pid: word(12) })
}

#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;

fn set_disposition(sig: i32, handler: usize) -> Result<()> {
    let act = KernelSigaction { handler, flags: 0, restorer: 0, mask: 0 };
    // SAFETY: SIG_DFL and SIG_IGN need no handler code or restorer; `act` is a valid
    // kernel sigaction of the size the kernel expects for an 8-byte sigset.
    let r = unsafe { raw::syscall4(__NR_rt_sigaction, sig as usize, &act as *const KernelSigaction as usize, 0, 8) };
    raw::check(r).map(|_| ()).ctx("set a signal disposition")
}

/// Ignore `sig` (inherited across fork and kept across exec).
pub fn ignore(sig: i32) -> Result<()> {
    set_disposition(sig, SIG_IGN)
}

/// Undo what vsbox itself changed before a command runs: SIGPIPE, which the Rust
/// runtime and the init ignore, would otherwise stay ignored across exec. Every
/// other disposition is the invoker's and passes through, as with nsenter or
/// unshare (`nohup chcontext …` keeps SIGHUP ignored). Handlers need no reset:
/// exec resets them.
pub fn reset_own() {
    let _ = set_disposition(SIGPIPE, SIG_DFL);
}

/// The raw descriptor number, for poll sets.
pub fn raw_fd<F: AsFd>(fd: &F) -> i32 {
    fd.as_fd().as_raw_fd()
}

/// kill(2): signal `sig` (0 … 64) to process `pid`, for kernels without pidfds
/// (the legacy backend serves 3.x/4.x kernels; pidfd_open is 5.3).
pub fn kill(pid: i32, sig: i32) -> core::result::Result<(), Errno> {
    if !(0..=64).contains(&sig) || pid <= 0 {
        return Err(Errno::INVAL);
    }
    // SAFETY: kill takes two integers; pid > 0 names one process only.
    let r = unsafe { raw::syscall3(linux_raw_sys::general::__NR_kill, pid as usize, sig as usize, 0) };
    raw::check(r).map(|_| ())
}

/// Send signal `sig` to the process a pidfd refers to: any number from 0 to 64
/// (0 only checks that the process exists and may be signalled; real-time signals
/// included, which rustix's typed `pidfd_send_signal` cannot express safely).
pub fn pidfd_send<F: AsFd>(pidfd: F, sig: i32) -> core::result::Result<(), Errno> {
    if !(0..=64).contains(&sig) {
        return Err(Errno::INVAL);
    }
    let fd = pidfd.as_fd().as_raw_fd();
    // SAFETY: a live descriptor, a signal number in the kernel's range, a null
    // siginfo (the kernel fills one in as kill(2) does) and no flags.
    let r = unsafe { raw::syscall4(linux_raw_sys::general::__NR_pidfd_send_signal, fd as usize, sig as usize, 0, 0) };
    raw::check(r).map(|_| ())
}
