//! The context's PID 1 and the last steps of every command that runs in a context.
//!
//! The init is a tiny init in the way of tini: it starts the command, forwards the
//! signals an admin sends (TERM, INT, HUP, QUIT, USR1, USR2) to it, reaps every
//! zombie, reports the command's status to whoever waits for it, and stays while
//! anything else lives in the context (daemons the command left behind, processes
//! that joined later), so the context lives as long as the original's did: until
//! its last process exits.
//!
//! **No vsbox process is stronger than the guest once a guest can see it.** A guest
//! that keeps CAP_SYS_PTRACE can attach to any process it sees and make it call
//! anything, so the init and every joining process are `confine`d (non-dumpable,
//! the context's seccomp filters, its capability ceiling, no_new_privs with lock)
//! before they fork the first process that lives in the context's pid namespace:
//! the init before it starts the command, a joiner before it forks into the pid
//! namespace. What is left for the command itself (`become_command`) needs no
//! more than the guest has: its own session, its terminal, its user, exec.

use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

use super::spec::{Flags, User};
use super::wire::{self, Msg, Stage};
use crate::sys::caps::{self, CapSet};
use crate::sys::process::{self, Forked};
use crate::sys::signal::{self, SigSet};
use crate::sys::{exec, fd, pty, seccomp};

/// The signals an init or a waiting parent passes on to the command.
pub const FORWARDED: SigSet = SigSet::of(&[
    signal::SIGTERM,
    signal::SIGINT,
    signal::SIGHUP,
    signal::SIGQUIT,
    signal::SIGUSR1,
    signal::SIGUSR2,
]);

/// What a context holds every process of it to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ceiling {
    /// Capabilities removed from the bounding set and from E, P, I.
    pub remove: CapSet,
    /// SECURE and LOCK choose the seccomp filters; LOCK also sets no_new_privs.
    pub flags: Flags,
}

/// The standard streams of a command, as the caller planned them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Streams<'a> {
    /// The slave side of the context's own pty, given on the fds of `on_pty`
    /// (bit n: fd n), and made the controlling terminal when `ctty`.
    pub pty: Option<BorrowedFd<'a>>,
    pub on_pty: u8,
    pub ctty: bool,
    /// Fds (bit n: fd n) that get /dev/null instead.
    pub null: u8,
    /// Descriptors above 2 the admin asked to keep (`--keep-fd`).
    pub keep: &'a [RawFd],
}

/// What the command is run with.
pub struct Command<'a, A: AsRef<[u8]>, E: AsRef<[u8]>> {
    pub argv: &'a [A],
    pub envp: &'a [E],
    pub ceiling: Ceiling,
    /// Switch to this user first (its home becomes the working directory).
    pub user: Option<&'a User>,
    pub streams: Streams<'a>,
}

/// Bring the calling process down to the context's ceiling for good: not dumpable,
/// the seccomp filters (installed while CAP_SYS_ADMIN still allows it without
/// no_new_privs), the bounding set, then E, P, I and the ambient set, and
/// no_new_privs with the lock flag. Everything it forks afterwards inherits all of
/// it. Returns the failed step.
pub fn confine(c: &Ceiling) -> Result<(), (Stage, Errno)> {
    process::set_not_dumpable().map_err(|e| (Stage::Caps, e.errno))?;
    let mut filter: Option<seccomp::Filter> = None;
    if c.flags.has(Flags::SECURE) {
        filter = Some(seccomp::Filter::secure());
    }
    if c.flags.has(Flags::LOCK) {
        let lock = seccomp::Filter::lock();
        filter = Some(match filter {
            Some(f) => f.and(lock),
            None => lock,
        });
    }
    if let Some(f) = filter {
        seccomp::install(&f).map_err(|e| (Stage::Seccomp, e.errno))?;
    }
    caps::reduce(c.remove).map_err(|e| (Stage::Caps, e.errno))?;
    if c.flags.has(Flags::LOCK) {
        caps::set_no_new_privs().map_err(|e| (Stage::Caps, e.errno))?;
    }
    Ok(())
}

/// Turn the calling (already confined) process into the command: a session of its
/// own (no way to the caller's terminal), its streams, default signal handling,
/// its user, then exec. On failure the step is reported on `report` and the
/// process exits 127 (exec) or 126.
pub fn become_command<A: AsRef<[u8]>, E: AsRef<[u8]>, R: AsFd>(cmd: &Command<'_, A, E>, report: R) -> ! {
    let fail = |st: Stage, e: Errno| -> ! {
        wire::send(&report, Msg::Failed(st, e));
        process::exit_now(if st == Stage::Exec { 127 } else { 126 });
    };
    // A session leader already (the fakeinit init) keeps its session.
    let _ = rustix::process::setsid();
    if let Err(e) = set_streams(&cmd.streams) {
        fail(Stage::Terminal, e);
    }
    signal::reset_own();
    let _ = signal::set_mask(SigSet::EMPTY);
    if let Some(u) = cmd.user {
        if let Err(e) = switch_user(u) {
            fail(Stage::User, e);
        }
    }
    for &k in cmd.streams.keep {
        let _ = fd::keep_open_across_exec(k);
    }
    let e = exec::exec(cmd.argv, cmd.envp);
    fail(Stage::Exec, e.errno);
}

/// The pty slave on the planned fds (made the controlling terminal), /dev/null on
/// the others asked for.
fn set_streams(s: &Streams<'_>) -> Result<(), Errno> {
    if let Some(slave) = s.pty {
        if s.ctty {
            pty::make_controlling(slave)?;
        }
        dup_onto(slave, s.on_pty)?;
    }
    if s.null != 0 {
        let null = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())?;
        dup_onto(null.as_fd(), s.null)?;
    }
    Ok(())
}

fn dup_onto(src: BorrowedFd<'_>, which: u8) -> Result<(), Errno> {
    for n in 0..3 {
        if which & (1 << n) != 0 {
            match n {
                0 => rustix::stdio::dup2_stdin(src)?,
                1 => rustix::stdio::dup2_stdout(src)?,
                _ => rustix::stdio::dup2_stderr(src)?,
            }
        }
    }
    Ok(())
}

/// Run as PID 1 of a context, already confined: start the command, then serve
/// until the context is empty. `status` receives Running / Failed / Status for the
/// waiting caller. Once the command runs, the init sheds the caller's memory it
/// was forked with: it re-executes vsbox (`lean`, a descriptor of its own
/// program opened before anything of the guest existed) as a fresh `init` with
/// nothing but the status pipe and the command's pid (`serve_lean`), which costs
/// the host a few pages per idle context instead of the caller's whole heap (and
/// shows as `init` in the guest's ps). Never returns.
pub fn run<A: AsRef<[u8]>, E: AsRef<[u8]>>(cmd: &Command<'_, A, E>, status: OwnedFd, lean: Option<OwnedFd>) -> ! {
    // The waiting caller may be gone; its pipe must not kill us.
    let _ = signal::ignore(signal::SIGPIPE);
    let _ = signal::set_mask(WATCHED);
    let (check_r, check_w) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            wire::send(&status, Msg::Failed(Stage::Fork, e));
            process::exit_now(126);
        }
    };
    let child = match process::fork() {
        Ok(Forked::Child) => {
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
    // Only the command keeps the streams and the kept descriptors: a pipe it was
    // given must see its end when the command (and what it started) is done, not
    // when the context is; and the init holds nothing a guest could borrow.
    stdio_to_null();
    let lean_fd = lean.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
    fd::close_all_except(&[status.as_raw_fd(), check_r.as_raw_fd(), lean_fd]);
    let code = match wire::recv(&check_r) {
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
    if let (None, Some(exe)) = (code, lean) {
        let _ = fd::keep_open_across_exec(status.as_raw_fd());
        let mut env: heapless::String<48> = heapless::String::new();
        let _ = core::fmt::Write::write_fmt(&mut env, format_args!("{LEAN_ENV}={}:{}", status.as_raw_fd(), child.as_raw_nonzero()));
        let argv = exec::CStrArray::new(&["init"]);
        let envp = exec::CStrArray::new(&[env.as_str()]);
        // Only returns when the exec failed: then this process serves as it is.
        let _ = exec::exec_fd(&exe, &argv, &envp);
    }
    serve(status, Some(child), code)
}

/// The environment variable that makes vsbox the lean init (`init` as argv[0]):
/// `STATUS_FD:COMMAND_PID`.
pub const LEAN_ENV: &str = "VSBOX_INIT";

const WATCHED: SigSet = SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGCHLD]).0);

/// The lean init's entry (see `run`), from the value of `LEAN_ENV`. The mask and
/// the pending signals came through the exec. Never returns.
pub fn serve_lean(value: &str) -> ! {
    let _ = process::set_not_dumpable();
    let _ = rustix::thread::set_name(c"init");
    let _ = signal::ignore(signal::SIGPIPE);
    let _ = signal::set_mask(WATCHED);
    let mut parts = value.split(':').map(|v| v.parse::<i32>().ok());
    let (Some(Some(status)), Some(Some(pid))) = (parts.next(), parts.next()) else { process::exit_now(126) };
    if !fd::is_open(status) || status <= 2 {
        process::exit_now(126);
    }
    fd::close_all_except(&[status]);
    serve(fd::own_raw(status), Pid::from_raw(pid), None)
}

/// The init's service: reap every zombie, report the command's end, forward the
/// signals, and leave with the last process.
fn serve(status: OwnedFd, command: Option<Pid>, mut code: Option<i32>) -> ! {
    let sfd = match signal::signalfd(WATCHED) {
        Ok(fd) => fd,
        Err(_) => process::exit_now(126),
    };
    let mut status = Some(status);
    let mut command = command;
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
                            wire::send(&s, Msg::Status(c));
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
        if sig.signo == signal::SIGCHLD {
            continue;
        }
        // The command has a session of its own: nothing the caller's terminal makes
        // reaches it but through here, so every forwarded signal is passed on.
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
