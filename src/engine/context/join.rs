//! Joining a running context: a child of the caller enters it, confines itself
//! and forks the command into the context's pid namespace; the caller waits for
//! the command as its subreaper, relaying its terminal.

use rustix::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};

use super::create::apply_rlimits;
use super::init::{self, Ceiling, Command, Streams, FORWARDED};
use super::registry::{self, Entry, Registry};
use super::relay::{Io, Relay};
use super::spec::{Flags, Rlimit, User};
use super::wire::{self, Msg, Stage};
use super::{failed, pipe, ENDED};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Error, Result};
use crate::sys::ns::{self, NsFlags, Spawned};
use crate::sys::process::{self, Forked};
use crate::sys::signal::{self, SigSet};
use crate::sys::{fd, unix};

/// Who joins and with what: the context's ceiling plus `extra_remove` and
/// `extra_flags`, as `user` when given.
pub struct Join<'a> {
    pub extra_remove: CapSet,
    pub extra_flags: Flags,
    pub user: Option<&'a User>,
}

/// Join the context of entry `e` (as `Registry::find` returned it) and run `argv`
/// there, its streams served as `io` says. Returns the command's status. A
/// context that ends meanwhile gives `ENDED`, whatever step it ended at.
pub fn enter<A: AsRef<[u8]>, E: AsRef<[u8]>>(reg: &Registry, e: &Entry, how: &Join<'_>, argv: &[A], envp: &[E], io: &Io<'_>) -> Result<i32> {
    if e.flags.has(Flags::PRIVATE) {
        return Err(Error::new("join the context: it is private (flag private)", Errno::PERM));
    }
    let e = &ready_entry(reg, e)?;
    let ended = || Error::new(ENDED, Errno::SRCH);
    // The init, pinned: a pid reused after the lookup is never entered.
    let pidfd = match Pid::from_raw(e.init).map(|p| rustix::process::pidfd_open(p, PidfdFlags::empty())) {
        Some(Ok(fd)) if registry::start_time(e.init) == Some(e.start) => Some(fd),
        Some(Err(Errno::NOSYS)) if registry::start_time(e.init) == Some(e.start) => None,
        _ if e.namespaces == 0 => None,
        _ => return Err(ended()),
    };
    let old = signal::set_mask(SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGCHLD, signal::SIGWINCH]).0))?;
    let r = join_here(e, pidfd.as_ref(), how, argv, envp, io);
    let _ = signal::set_mask(old);
    match r {
        Err(err) if err.what != Stage::Exec.what() && !reg.find(e.id).is_some_and(|now| now.same_as(e)) => Err(ended()),
        r => r,
    }
}

/// An entry still being set up is waited for (a moment), so a join right after a
/// creation never meets a half-made context.
fn ready_entry(reg: &Registry, e: &Entry) -> Result<Entry> {
    let mut cur = e.clone();
    for _ in 0..2000 {
        if cur.ready() {
            return Ok(cur);
        }
        let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 0, tv_nsec: 1_000_000 });
        cur = reg.find(e.id).filter(|n| n.same_as(e)).ok_or(Error::new(ENDED, Errno::SRCH))?;
    }
    Err(Error::new("join the context: it is still being set up", Errno::AGAIN))
}

fn join_here<A: AsRef<[u8]>, E: AsRef<[u8]>>(e: &Entry, pidfd: Option<&OwnedFd>, how: &Join<'_>, argv: &[A], envp: &[E], io: &Io<'_>) -> Result<i32> {
    let sfd = signal::signalfd(SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGCHLD, signal::SIGWINCH]).0))?;
    let (report_r, report_w) = pipe()?;
    let (check_r, check_w) = pipe()?;
    let pty_sock = if io.wants_pty() { Some(unix::socket_pair().ctx("create a socket pair")?) } else { None };
    // The command is forked by the joining child, which leaves at once: as the
    // subreaper, this process gets it as its child.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).ctx("become the command's subreaper")?;
    let v2 = e.cgroups.v2().and_then(|d| rustix::fs::open(d, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok());
    let joiner = match ns::spawn_in_new(NsFlags(0), v2.as_ref().map(|f| f.as_fd())) {
        Ok(Spawned::Child { in_cgroup }) => {
            drop((report_r, check_r, sfd));
            let sock = pty_sock.map(|(_, inside)| inside);
            joiner(e, pidfd, in_cgroup, how, argv, envp, io, sock, report_w, check_w)
        }
        Ok(Spawned::Parent { pid, .. }) => pid,
        // The context's cgroup2 directory is gone: it has ended.
        Err(err) if err.errno == Errno::NOENT => return Err(Error::new(ENDED, Errno::SRCH)),
        Err(err) => return Err(failed(Stage::Fork, err.errno)),
    };
    drop((report_w, check_w, v2));
    let relay = match pty_sock.map(|(mine, inside)| {
        drop(inside);
        Relay::accept(&mine, io)
    }) {
        None => None,
        Some(Ok(r)) => r,
        Some(Err(_)) => None,
    };
    let report = wire::recv(&report_r);
    let joined = loop {
        match rustix::process::waitpid(Some(joiner), WaitOptions::empty()) {
            Ok(Some((_, st))) => break st,
            Err(Errno::INTR) => continue,
            Ok(None) | Err(_) => return Err(failed(Stage::Lost, Errno::CHILD)),
        }
    };
    let command = match report {
        Some(Msg::Pid(p)) => Pid::from_raw(p),
        Some(m @ Msg::Failed(..)) => return Err(m.error().unwrap_or(failed(Stage::Lost, Errno::IO))),
        // A network-only context: the joiner became the command itself.
        Some(Msg::Running) => None,
        // Killed while it joined (the context's cgroup.kill): the caller decides.
        _ => return Err(failed(Stage::Join, Errno::SRCH)),
    };
    let Some(command) = command else {
        if let Some(m) = wire::recv(&check_r).and_then(|m| m.error()) {
            return Err(m);
        }
        return Ok(wire::shell_status(joined.as_raw()));
    };
    wait_command(command, &sfd, &check_r, relay)
}

/// Wait for a joined command (this process's child by now), forwarding signals
/// and relaying its terminal. An exec failure comes on `check`.
fn wait_command(child: Pid, sfd: &OwnedFd, check: &OwnedFd, mut relay: Option<Relay<'_>>) -> Result<i32> {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut check_open = true;
    let mut failed_exec: Option<Error> = None;
    let st = loop {
        match rustix::process::waitpid(Some(child), WaitOptions::NOHANG) {
            Ok(Some((_, st))) => break wire::shell_status(st.as_raw()),
            Ok(None) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::new("wait for the command", e)),
        }
        let none = PollFlags::empty();
        let (m, i) = match &relay {
            Some(r) => r.poll_fds(),
            None => (PollFd::new(sfd, none), PollFd::new(sfd, none)),
        };
        let mut fds = [PollFd::new(sfd, PollFlags::IN), PollFd::new(check, if check_open { PollFlags::IN } else { none }), m, i];
        match poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::new("wait for the command", e)),
        }
        let rev: [PollFlags; 4] = core::array::from_fn(|k| fds[k].revents());
        if let Some(r) = relay.as_mut() {
            r.pump(rev[2], rev[3]);
        }
        if !rev[1].is_empty() {
            match wire::recv(check) {
                Some(m) => failed_exec = m.error().or(failed_exec),
                None => check_open = false,
            }
        }
        if !rev[0].is_empty() {
            if let Ok(sig) = signal::read_signal(sfd) {
                if sig.signo == signal::SIGWINCH {
                    if let Some(r) = &relay {
                        r.resize();
                    }
                } else if sig.signo != signal::SIGCHLD {
                    if let Some(s) = Signal::from_named_raw(sig.signo) {
                        let _ = rustix::process::kill_process(child, s);
                    }
                }
            }
        }
    };
    if let Some(r) = relay {
        r.finish();
    }
    if failed_exec.is_none() && check_open {
        failed_exec = wire::recv(check).and_then(|m| m.error());
    }
    match failed_exec {
        Some(e) => Err(e),
        None => Ok(st),
    }
}

/// The joining child: into the cgroups, the namespaces, the limits and the
/// ceiling, then fork the command into the pid namespace and leave. Never returns.
#[allow(clippy::too_many_arguments)]
fn joiner<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    e: &Entry,
    pidfd: Option<&OwnedFd>,
    in_cgroup: bool,
    how: &Join<'_>,
    argv: &[A],
    envp: &[E],
    io: &Io<'_>,
    pty_sock: Option<OwnedFd>,
    report: OwnedFd,
    check: OwnedFd,
) -> ! {
    let fail = |st: Stage, err: Errno| -> ! {
        wire::send(&report, Msg::Failed(st, err));
        process::exit_now(1);
    };
    let mut keep: heapless::Vec<RawFd, 24> = heapless::Vec::new();
    let _ = keep.extend_from_slice(&[report.as_raw_fd(), check.as_raw_fd()]);
    if let Some(p) = pidfd {
        let _ = keep.push(p.as_raw_fd());
    }
    if let Some(s) = &pty_sock {
        let _ = keep.push(s.as_raw_fd());
    }
    for &k in io.keep.iter().take(16) {
        let _ = keep.push(k);
    }
    fd::close_all_except(&keep);
    let _ = signal::set_mask(SigSet::EMPTY);
    let _ = rustix::process::setsid();
    // The cgroups first: every socket made from here on is covered by the
    // context's BPF programs, and its limits count this process.
    for d in &e.cgroups.dirs {
        if d.hierarchy.v2 && in_cgroup {
            continue;
        }
        if let Err(err) = crate::sys::cgroup::add_pid(&d.path, 0) {
            fail(Stage::JoinCgroups, err);
        }
    }
    if e.namespaces != 0 {
        let which = NsFlags(e.namespaces);
        // By /proc files, a pid reused since the lookup is caught before entering.
        let same = || registry::start_time(e.init) == Some(e.start);
        let entered = match pidfd.map(|p| ns::enter_all(p, which)) {
            Some(Ok(())) => Ok(()),
            Some(Err(Errno::INVAL)) | None => ns::enter_by_pid(e.init, which, same),
            Some(Err(err)) => Err(Error::new("enter the context's namespaces", err)),
        };
        if let Err(err) = entered {
            fail(Stage::Join, err.errno);
        }
        if let Err(err) = rustix::process::chdir("/") {
            fail(Stage::Join, err);
        }
    }
    if !e.rlimits.is_empty() {
        if let Err(err) = apply_rlimits(&Rlimit::parse_rendered(&e.rlimits)) {
            fail(Stage::Rlimits, err.errno);
        }
    }
    if let Some(n) = e.nice {
        if let Err(err) = rustix::process::nice(n) {
            fail(Stage::Nice, err);
        }
    }
    let slave = match &pty_sock {
        Some(s) => match super::relay::open_inside(s) {
            Ok(t) => Some(t),
            Err(err) => fail(Stage::Terminal, err),
        },
        None => None,
    };
    drop(pty_sock);
    let ceiling = Ceiling { remove: e.remove.union(how.extra_remove), flags: e.flags.with(how.extra_flags) };
    if let Err((st, err)) = init::confine(&ceiling) {
        fail(st, err);
    }
    let streams = Streams { pty: slave.as_ref().map(|s| s.as_fd()), on_pty: if slave.is_some() { io.pty } else { 0 }, ctty: io.ctty, null: io.null, keep: io.keep };
    let cmd = Command { argv, envp, ceiling, user: how.user, streams };
    if e.namespaces == 0 {
        // No pid namespace to fork into: this process is the command.
        wire::send(&report, Msg::Running);
        drop(report);
        init::become_command(&cmd, check);
    }
    match process::fork() {
        Ok(Forked::Child) => {
            drop(report);
            init::become_command(&cmd, check)
        }
        Ok(Forked::Parent(p)) => {
            wire::send(&report, Msg::Pid(p.as_raw_nonzero().get()));
            process::exit_now(0)
        }
        // Its pid namespace is gone (ENOMEM): the context has ended.
        Err(err) => fail(Stage::Fork, err.errno),
    }
}
