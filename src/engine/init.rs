//! The context's PID 1: a tiny init in the way of tini. It starts the command,
//! forwards the signals an admin sends (TERM, INT, HUP, QUIT, USR1, USR2) to it,
//! reaps every zombie, reports the command's status to whoever waits for it, and
//! stays while anything else lives in the context (daemons the command left
//! behind, processes that joined later), so the context lives as long as the
//! original's did: until its last process exits.

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

use super::spec::{Flags, User};
use super::wire::{self, Msg, Stage};
use crate::sys::caps::{self, CapSet};
use crate::sys::process::{self, Forked};
use crate::sys::signal::{self, SigSet};
use crate::sys::{exec, seccomp};

/// The signals an init or a waiting parent passes on to the command.
pub const FORWARDED: SigSet = SigSet::of(&[
    signal::SIGTERM,
    signal::SIGINT,
    signal::SIGHUP,
    signal::SIGQUIT,
    signal::SIGUSR1,
    signal::SIGUSR2,
]);

/// What the command is run with.
pub struct Command<'a, A: AsRef<[u8]>, E: AsRef<[u8]>> {
    pub argv: &'a [A],
    pub envp: &'a [E],
    pub remove: CapSet,
    pub flags: Flags,
    /// Switch to this user first (its home becomes the working directory).
    pub user: Option<&'a User>,
}

/// Turn the calling process into the command: default signal handling, the
/// context's seccomp filters (while CAP_SYS_ADMIN still allows installing them
/// without forcing no_new_privs), the capability ceiling, then exec. On failure
/// the step is reported on `report` and the process exits 127 (exec) or 126.
pub fn become_command<A: AsRef<[u8]>, E: AsRef<[u8]>, R: AsFd>(cmd: &Command<'_, A, E>, report: R) -> ! {
    signal::reset_own();
    let _ = signal::set_mask(SigSet::EMPTY);
    let mut filter: Option<seccomp::Filter> = None;
    if cmd.flags.has(Flags::SECURE) {
        filter = Some(seccomp::Filter::secure());
    }
    if cmd.flags.has(Flags::LOCK) {
        let lock = seccomp::Filter::lock();
        filter = Some(match filter {
            Some(f) => f.and(lock),
            None => lock,
        });
    }
    if let Some(f) = filter {
        if let Err(e) = seccomp::install(&f) {
            wire::send(&report, Msg::Failed(Stage::Seccomp, e.errno));
            process::exit_now(126);
        }
    }
    // The bounding set first (that needs CAP_SETPCAP, which a uid change drops),
    // then the user, then what is left of E, P, I and the ambient set.
    if let Err(e) = caps::drop_bounding(cmd.remove) {
        wire::send(&report, Msg::Failed(Stage::Caps, e.errno));
        process::exit_now(126);
    }
    if let Some(u) = cmd.user {
        if let Err(e) = switch_user(u) {
            wire::send(&report, Msg::Failed(Stage::User, e));
            process::exit_now(126);
        }
    }
    if let Err(e) = caps::lower(cmd.remove) {
        wire::send(&report, Msg::Failed(Stage::Caps, e.errno));
        process::exit_now(126);
    }
    if cmd.flags.has(Flags::LOCK) {
        if let Err(e) = caps::set_no_new_privs() {
            wire::send(&report, Msg::Failed(Stage::Caps, e.errno));
            process::exit_now(126);
        }
    }
    let e = exec::exec(cmd.argv, cmd.envp);
    wire::send(&report, Msg::Failed(Stage::Exec, e.errno));
    process::exit_now(127);
}

/// Run as PID 1 of a context: start the command, then serve until the context is
/// empty. `status` receives Running / Failed / Status for the waiting caller.
/// Never returns.
pub fn run<A: AsRef<[u8]>, E: AsRef<[u8]>>(cmd: &Command<'_, A, E>, status: OwnedFd) -> ! {
    // The waiting caller may be gone; its pipe must not kill us.
    let _ = signal::ignore(signal::SIGPIPE);
    let watched = SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGCHLD]).0);
    let _ = signal::set_mask(watched);
    let sfd = match signal::signalfd(watched) {
        Ok(fd) => fd,
        Err(e) => {
            wire::send(&status, Msg::Failed(Stage::Fork, e.errno));
            process::exit_now(126);
        }
    };
    let (check_r, check_w) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            wire::send(&status, Msg::Failed(Stage::Fork, e));
            process::exit_now(126);
        }
    };
    let child = match process::fork() {
        Ok(Forked::Child) => {
            drop(sfd);
            drop(check_r);
            drop(status);
            become_command(cmd, check_w);
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            wire::send(&status, Msg::Failed(Stage::Fork, e.errno));
            process::exit_now(126);
        }
    };
    drop(check_w);
    // Only the command keeps the caller's stdio: a pipe it was given must see its
    // end when the command (and what it started) is done, not when the context is.
    stdio_to_null();
    let mut code = match wire::recv(&check_r) {
        None => {
            wire::send(&status, Msg::Running);
            None
        }
        Some(m) => {
            wire::send(&status, m);
            Some(if matches!(m, Msg::Failed(Stage::Exec, _)) { 127 } else { 126 })
        }
    };
    drop(check_r);
    // The init needs no privilege from here on: it only waits and signals its own
    // uid's processes. Hold no more than the guests do.
    let _ = caps::reduce(cmd.remove);
    let mut status = Some(status);
    let mut command = Some(child);
    loop {
        let mut childless = false;
        // Reap everything that is ready; note the command's end.
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, st))) => {
                    if Some(pid) == command {
                        command = None;
                        let c = wire::shell_status(st.as_raw());
                        code = Some(c);
                        if let Some(s) = status.take() {
                            if code.is_some() {
                                wire::send(&s, Msg::Status(c));
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(Errno::CHILD) => {
                    if !others_alive() {
                        if let (Some(s), Some(c)) = (status.take(), code) {
                            wire::send(&s, Msg::Status(c));
                        }
                        process::exit_now(code.unwrap_or(0));
                    }
                    childless = true;
                    break;
                }
                Err(Errno::INTR) => continue,
                Err(_) => break,
            }
        }
        // With children left, block until a signal; with none (only processes that
        // joined later remain), look again every half second.
        let mut fds = [rustix::event::PollFd::new(&sfd, rustix::event::PollFlags::IN)];
        let ts = rustix::event::Timespec { tv_sec: 0, tv_nsec: 500_000_000 };
        let _ = rustix::event::poll(&mut fds, if childless { Some(&ts) } else { None });
        if !fds[0].revents().contains(rustix::event::PollFlags::IN) {
            continue;
        }
        let Ok(sig) = signal::read_signal(&sfd) else { continue };
        if sig.signo == signal::SIGCHLD || sig.code == signal::SI_KERNEL {
            // Terminal-made signals already reached the command's process group.
            continue;
        }
        if let Some(s) = Signal::from_named_raw(sig.signo) {
            match command {
                Some(pid) => {
                    let _ = rustix::process::kill_process(pid, s);
                }
                // The command is gone: pass it on to everyone left (kill(-1) skips us).
                None => {
                    let _ = rustix::process::kill_process(Pid::from_raw(-1).unwrap_or(Pid::INIT), s);
                }
            }
        }
    }
}

/// Whether any process other than this init is in its pid namespace (the
/// context's own /proc lists exactly those).
fn others_alive() -> bool {
    let Ok(fd) = crate::sys::file::open_read("/proc") else { return false };
    let Ok(mut dir) = rustix::fs::Dir::read_from(&fd) else { return false };
    while let Some(Ok(ent)) = dir.next() {
        let name = ent.file_name().to_bytes();
        if !name.is_empty() && name.iter().all(u8::is_ascii_digit) && name != b"1" {
            return true;
        }
    }
    false
}

/// Point this process's stdin, stdout and stderr at /dev/null.
pub fn stdio_to_null() {
    if let Ok(null) = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty()) {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}

/// setgroups, setgid, setuid (in that order: each needs the privilege the next one
/// gives up), then the user's home as working directory when it exists.
fn switch_user(u: &User) -> core::result::Result<(), Errno> {
    use rustix::process::{Gid, Uid};
    let groups: alloc::vec::Vec<Gid> = u.groups.iter().map(|&g| Gid::from_raw(g)).collect();
    rustix::thread::set_thread_groups(&groups)?;
    rustix::thread::set_thread_res_gid(Gid::from_raw(u.gid), Gid::from_raw(u.gid), Gid::from_raw(u.gid))?;
    rustix::thread::set_thread_res_uid(Uid::from_raw(u.uid), Uid::from_raw(u.uid), Uid::from_raw(u.uid))?;
    if !u.home.is_empty() {
        let _ = rustix::process::chdir(u.home.as_str());
    }
    Ok(())
}
