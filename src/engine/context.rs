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
use alloc::vec::Vec;

use rustix::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};

use super::cgroups::{self, CgroupSet};
use super::init::{self, Ceiling, Command, Streams, FORWARDED};
use super::ipv4root::{self, IpRoot};
use super::keeper;
use super::registry::{self, Entry, Registry};
use super::relay::{Io, Relay};
use super::rootfs;
use super::spec::{ContextSpec, Flags, Rlimit, User, SPECTATOR};
use super::wire::{self, Msg, Stage};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Error, Result};
use crate::sys::ns::{self, NsFlags, Spawned};
use crate::sys::process::{self, Forked};
use crate::sys::signal::{self, SigSet};
use crate::sys::{fd, file, seccomp, unix};

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

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe")
}

/// Create a context from `spec` and run `argv` in it, its streams served as `io`
/// says. `on_id` runs once the number is known, before the command starts
/// (chcontext prints `New security context is N` there).
pub fn create<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    reg: &Registry,
    spec: &ContextSpec,
    argv: &[A],
    envp: &[E],
    io: &Io<'_>,
    on_id: &mut dyn FnMut(u32),
) -> Result<Outcome> {
    if spec.id == Some(SPECTATOR) {
        return Err(Error::new("create context 1: it is the spectator, which cannot be created", Errno::INVAL));
    }
    // One mount scan for the whole creation: the cgroups are made below these.
    let parents = reg.cgroup_parents()?;
    // Made from inside a restricted context (`chbind --ip X chcontext …`): the new
    // context gets that ipv4root too, or a narrower one, never a wider one.
    let inside = current_in(&parents);
    let inherited;
    let spec = match inside.and_then(|n| reg.find(n)).filter(|e| !e.ips.is_empty()) {
        Some(outer) => {
            let outer_root = IpRoot::parse_rendered(&outer.ips);
            let mut s = spec.clone();
            match &spec.ipv4root {
                Some(r) if !r.is_unrestricted() => {
                    if r.within(&outer_root).is_err() {
                        return Err(Error::new("create the context: its ipv4root is wider than the caller's context allows", Errno::PERM));
                    }
                }
                _ => s.ipv4root = Some(outer_root),
            }
            inherited = s;
            &inherited
        }
        None => spec,
    };
    // A keeper started from inside a context (a network-only one: chbind's
    // command) must not stay there: it would keep that context alive.
    let home: Vec<String> = if inside.is_some() { parents.iter().filter_map(|p| p.path.rsplit_once('/').map(|(d, _)| String::from(d))).collect() } else { Vec::new() };
    let old_mask = signal::set_mask(SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGWINCH]).0))?;
    let r = create_here(reg, spec, &parents, &home, argv, envp, io, on_id);
    let _ = signal::set_mask(old_mask);
    r
}

/// A setup step's failure, as the caller reports it.
fn failed(st: Stage, e: Errno) -> Error {
    Error::new(st.what(), e)
}

/// Reserve a number, record it and make the cgroups, under the registry lock;
/// on failure nothing is left.
fn reserve(reg: &Registry, spec: &ContextSpec, parents: &[cgroups::CgroupDir]) -> Result<(Entry, CgroupSet)> {
    let _lock = reg.lock().map_err(|e| failed(Stage::Registry, e.errno))?;
    reg.ensure_mount().map_err(|e| failed(Stage::Registry, e.errno))?;
    reg.sweep_some();
    let id = reg.reserve(spec.id).map_err(|e| failed(Stage::Registry, e.errno))?;
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let set = CgroupSet::of(parents, id);
    let mut entry = Entry {
        id,
        name: spec.name.clone().unwrap_or_default(),
        init: 0,
        start: 0,
        boot: String::from(reg.boot()),
        creator: me,
        creator_start: registry::start_time(me).unwrap_or(0),
        keeper: 0,
        flags: spec.flags,
        remove: spec.remove,
        namespaces: 0,
        ips: spec.ipv4root.as_ref().filter(|r| !r.is_unrestricted()).map(|r| r.render()).unwrap_or_default(),
        rlimits: String::new(),
        nice: spec.nice,
        cgroups: set.clone(),
    };
    if spec.flags.has(Flags::ULIMIT) {
        entry.rlimits = Rlimit::render(&if spec.rlimits.is_empty() { Rlimit::snapshot() } else { spec.rlimits.clone() });
    } else if !spec.rlimits.is_empty() {
        entry.rlimits = Rlimit::render(&spec.rlimits);
    }
    let made = (|| {
        reg.write(&entry).map_err(|e| failed(Stage::Registry, e.errno))?;
        reg.index_name(&entry).map_err(|e| failed(Stage::Registry, e.errno))?;
        set.create().map_err(|e| failed(Stage::Cgroups, e.errno))?;
        apply_limits(&set, spec).map_err(|e| failed(Stage::Limits, e.errno))?;
        if let Some(root) = spec.ipv4root.as_ref().filter(|r| !r.is_unrestricted()) {
            attach_ipv4root(&set, root).map_err(|e| failed(Stage::Ipv4root, e))?;
        }
        Ok(())
    })();
    match made {
        Ok(()) => Ok((entry, set)),
        Err(e) => {
            reg.clear(&entry);
            Err(e)
        }
    }
}

/// The creation proper, with the forwarded signals blocked.
#[allow(clippy::too_many_arguments)]
fn create_here<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    reg: &Registry,
    spec: &ContextSpec,
    parents: &[cgroups::CgroupDir],
    home: &[String],
    argv: &[A],
    envp: &[E],
    io: &Io<'_>,
    on_id: &mut dyn FnMut(u32),
) -> Result<Outcome> {
    let (entry, set) = reserve(reg, spec, parents)?;
    let undo = |e: Error| -> Error {
        if let Ok(_lock) = reg.lock() {
            reg.clear_own(&entry);
        }
        e
    };
    let (status_r, status_w) = pipe().map_err(undo)?;
    let (ready_r, ready_w) = pipe().map_err(undo)?;
    let pty_sock = if io.wants_pty() && !spec.disconnect { Some(unix::socket_pair().ctx("create a socket pair").map_err(undo)?) } else { None };
    on_id(entry.id);

    // The context's first process, born in the cgroup2 directory.
    let v2 = set.v2().and_then(|d| rustix::fs::open(d, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok());
    let mut nsf = NsFlags::PID.union(NsFlags::MNT).union(NsFlags::UTS).union(NsFlags::IPC);
    if spec.own_net {
        nsf = nsf.union(NsFlags::NET);
    }
    let (pid, pidfd) = match ns::spawn_in_new(nsf, v2.as_ref().map(|f| f.as_fd())) {
        Ok(Spawned::Child { in_cgroup }) => {
            drop(status_r);
            drop(ready_r);
            drop(v2);
            let sock = pty_sock.map(|(_, inside)| inside);
            context_init(reg, spec, &set, in_cgroup, argv, envp, io, sock, ready_w, status_w)
        }
        Ok(Spawned::Parent { pid, pidfd }) => (pid, pidfd),
        Err(e) => return Err(undo(failed(Stage::Clone, e.errno))),
    };
    drop(ready_w);
    drop(status_w);
    drop(v2);
    let kill_init = || {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    };
    let pidfd = match pidfd.map_or_else(|| rustix::process::pidfd_open(pid, PidfdFlags::empty()), Ok) {
        Ok(p) => p,
        Err(e) => {
            kill_init();
            return Err(undo(failed(Stage::Keeper, e)));
        }
    };
    // The pty first (the init sends it before it is ready), then the verdict.
    let relay = match pty_sock.map(|(mine, inside)| {
        drop(inside);
        Relay::accept(&mine, io)
    }) {
        None => None,
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            kill_init();
            return Err(undo(failed(Stage::Terminal, e)));
        }
    };
    match wire::recv(&ready_r) {
        Some(Msg::Ready) => {}
        Some(m @ Msg::Failed(..)) => {
            kill_init();
            return Err(undo(m.error().unwrap_or(failed(Stage::Lost, Errno::IO))));
        }
        _ => {
            kill_init();
            return Err(undo(failed(Stage::Lost, Errno::IO)));
        }
    }
    // Recorded and handed to the keeper under the lock, and only while the entry
    // is still this creation's.
    let raw = pid.as_raw_nonzero().get();
    let recorded = (|| {
        let _lock = reg.lock()?;
        if !reg.read(entry.id).is_some_and(|cur| cur.same_as(&entry)) {
            return Err(failed(Stage::Registry, Errno::SRCH));
        }
        let mut done = entry.clone();
        done.init = raw;
        done.start = registry::start_time(raw).unwrap_or(0);
        done.namespaces = nsf.union(NsFlags::CGROUP).0;
        done.keeper = keeper::register(reg, &done, pidfd.as_fd(), home)?;
        reg.write(&done)
    })();
    if let Err(e) = recorded {
        kill_init();
        return Err(undo(e));
    }
    let fakeinit = spec.flags.has(Flags::FAKEINIT);
    // With fakeinit the init is the command: the end of the ready pipe (closed on
    // exec) says it runs, and its own exit status is the command's.
    let r = wait_for_status(&status_r, fakeinit.then_some(&ready_r), entry.id, pid, fakeinit.then_some(&pidfd), spec.disconnect, relay);
    // The init is this process's child: reap it if it has ended with the command
    // (else the host's init will, once this process is gone).
    if !fakeinit {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
    }
    r
}

/// The caller's side once the context is recorded: relay the terminal, forward
/// signals to the init, and wait for the command's status; detached, until the
/// command runs. With `exec_check` (fakeinit) the init is the command: its exec is
/// seen on that pipe, and its status is its own, read through `reap`.
fn wait_for_status(
    status: &OwnedFd,
    exec_check: Option<&OwnedFd>,
    id: u32,
    init: Pid,
    reap: Option<&OwnedFd>,
    detached: bool,
    mut relay: Option<Relay<'_>>,
) -> Result<Outcome> {
    use rustix::event::{poll, PollFd, PollFlags};
    let sfd = signal::signalfd(SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGWINCH]).0))?;
    let (mut running, mut status_eof) = (false, false);
    let mut check_eof = exec_check.is_none();
    let mut code: Option<i32> = None;
    loop {
        if exec_check.is_some() && check_eof {
            running = true;
        }
        let done = match (detached, code) {
            (true, _) => running,
            (false, Some(_)) => true,
            (false, None) => false,
        };
        if done {
            if let Some(r) = relay.take() {
                r.finish();
            }
            return Ok(if detached { Outcome::Detached(id) } else { Outcome::Exited(code.unwrap_or(0)) });
        }
        let none = PollFlags::empty();
        let (m, i) = match &relay {
            Some(r) => r.poll_fds(),
            None => (PollFd::new(&sfd, none), PollFd::new(&sfd, none)),
        };
        let mut fds = [
            PollFd::new(&sfd, PollFlags::IN),
            PollFd::new(status, if status_eof { none } else { PollFlags::IN }),
            PollFd::new(reap.unwrap_or(&sfd), if reap.is_some() && code.is_none() { PollFlags::IN } else { none }),
            PollFd::new(exec_check.unwrap_or(&sfd), if check_eof { none } else { PollFlags::IN }),
            m,
            i,
        ];
        match poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::new("wait for the context", e)),
        }
        let rev: [PollFlags; 6] = core::array::from_fn(|k| fds[k].revents());
        if let Some(r) = relay.as_mut() {
            r.pump(rev[4], rev[5]);
        }
        if !rev[0].is_empty() {
            if let Ok(sig) = signal::read_signal(&sfd) {
                if sig.signo == signal::SIGWINCH {
                    if let Some(r) = &relay {
                        r.resize();
                    }
                } else if let Some(s) = Signal::from_named_raw(sig.signo) {
                    // The command has a session of its own: whatever reaches the
                    // caller (from a terminal too) is passed on.
                    let _ = rustix::process::kill_process(init, s);
                }
            }
        }
        if reap.is_some() && !rev[2].is_empty() {
            if let Ok(Some((_, st))) = rustix::process::waitpid(Some(init), WaitOptions::NOHANG) {
                code = Some(wire::shell_status(st.as_raw()));
            }
        }
        if let Some(c) = exec_check.filter(|_| !rev[3].is_empty()) {
            match wire::recv(c) {
                Some(m @ Msg::Failed(..)) => return Err(m.error().unwrap_or(failed(Stage::Lost, Errno::IO))),
                Some(_) => {}
                None => check_eof = true,
            }
        }
        if rev[1].is_empty() {
            continue;
        }
        match wire::recv(status) {
            Some(Msg::Running) => running = true,
            Some(Msg::Status(c)) => code = Some(c),
            Some(m @ Msg::Failed(..)) => return Err(m.error().unwrap_or(failed(Stage::Lost, Errno::IO))),
            Some(_) => {}
            // Everyone who could write is gone: fakeinit's command still runs.
            None if reap.is_some() => status_eof = true,
            None => return Err(failed(Stage::Lost, Errno::IO)),
        }
    }
}

/// The context's first process, inside its new namespaces. Never returns.
#[allow(clippy::too_many_arguments)]
fn context_init<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    reg: &Registry,
    spec: &ContextSpec,
    set: &CgroupSet,
    in_cgroup: bool,
    argv: &[A],
    envp: &[E],
    io: &Io<'_>,
    pty_sock: Option<OwnedFd>,
    ready: OwnedFd,
    status: OwnedFd,
) -> ! {
    let fail = |st: Stage, e: Errno| -> ! {
        wire::send(&ready, Msg::Failed(st, e));
        process::exit_now(1);
    };
    // Nothing of the caller's but its standard streams, and not its session: a
    // context never holds a way to the caller's terminal or files.
    let mut keep: heapless::Vec<RawFd, 24> = heapless::Vec::new();
    let _ = keep.extend_from_slice(&[ready.as_raw_fd(), status.as_raw_fd()]);
    if let Some(s) = &pty_sock {
        let _ = keep.push(s.as_raw_fd());
    }
    for &k in io.keep.iter().take(16) {
        let _ = keep.push(k);
    }
    fd::close_all_except(&keep);
    let _ = rustix::process::setsid();
    // Its own program, for the lean re-exec once the command runs (see
    // `init::run`); opened now, before anything of the guest exists.
    let lean = rustix::fs::open("/proc/self/exe", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).ok();
    // First of all, into the other hierarchies (it was born in the cgroup2 one):
    // it joins them itself, which spares the caller a round trip. "0" is the
    // writer, whatever pid namespace it is in.
    if let Err(e) = set.join(0, !in_cgroup) {
        fail(Stage::JoinCgroups, e.errno);
    }
    if spec.disconnect {
        detach_stdio();
    }
    // Rooted at the context's cgroups, now that every hierarchy was joined.
    if let Err(e) = ns::unshare(NsFlags::CGROUP, "unshare the cgroup namespace") {
        fail(Stage::CgroupNs, e.errno);
    }
    let view = rootfs::View {
        root: spec.root.as_deref(),
        rundir: &reg.settings.rundir,
        registry: &reg.entries_dir(),
        hideinfo: spec.flags.has(Flags::HIDEINFO),
        secure: spec.flags.has(Flags::SECURE),
    };
    if let Err(e) = rootfs::prepare(&view) {
        fail(Stage::Mounts, e.errno);
    }
    if let Some(h) = &spec.hostname {
        if let Err(e) = rustix::system::sethostname(h.as_bytes()) {
            fail(Stage::Hostname, e);
        }
    }
    if let Some(d) = &spec.domainname {
        if let Err(e) = rustix::system::setdomainname(d.as_bytes()) {
            fail(Stage::Domainname, e);
        }
    }
    if let Err(e) = apply_rlimits(&spec.rlimits) {
        fail(Stage::Rlimits, e.errno);
    }
    if let Some(n) = spec.nice {
        if let Err(e) = rustix::process::nice(n) {
            fail(Stage::Nice, e);
        }
    }
    let slave = match &pty_sock {
        Some(s) => match super::relay::open_inside(s) {
            Ok(t) => Some(t),
            Err(e) => fail(Stage::Terminal, e),
        },
        None => None,
    };
    drop(pty_sock);
    let ceiling = Ceiling { remove: spec.remove, flags: spec.flags };
    if let Err((st, e)) = init::confine(&ceiling) {
        fail(st, e);
    }
    if !spec.flags.has(Flags::FAKEINIT) {
        process::set_process_name("init");
    }
    wire::send(&ready, Msg::Ready);
    let streams = Streams { pty: slave.as_ref().map(|s| s.as_fd()), on_pty: if slave.is_some() { io.pty } else { 0 }, ctty: io.ctty, null: io.null, keep: io.keep };
    let cmd = Command { argv, envp, ceiling, user: spec.user.as_ref(), streams };
    if spec.flags.has(Flags::FAKEINIT) {
        drop(status);
        init::become_command(&cmd, ready);
    }
    drop(ready);
    init::run(&cmd, status, lean)
}

fn apply_limits(set: &CgroupSet, spec: &ContextSpec) -> Result<()> {
    let nproc = spec.rlimits.iter().find(|r| r.resource == rustix::process::Resource::Nproc as u32).and_then(|r| r.hard);
    // The kernel does not hold root to RLIMIT_NPROC: a hard limit a conf sets is
    // enforced for the whole context by its pids cgroup instead.
    let max = match nproc {
        Some(Some(n)) => Some(n),
        Some(None) => None,
        None if spec.flags.has(Flags::NPROC) => rustix::process::getrlimit(rustix::process::Resource::Nproc).maximum,
        None => None,
    };
    if let Some(max) = max.filter(|_| spec.flags.has(Flags::NPROC) || nproc.is_some()) {
        set.limit_pids(max)?;
    }
    if spec.flags.has(Flags::SCHED) {
        set.fair_share()?;
    }
    Ok(())
}

/// setrlimit for each given limit; a side left out keeps its current value.
pub fn apply_rlimits(limits: &[Rlimit]) -> Result<()> {
    use rustix::process::{getrlimit, setrlimit};
    for l in limits {
        let Some(res) = super::spec::resource(l.resource) else {
            return Err(Error::new("apply a resource limit: unknown resource", Errno::INVAL));
        };
        let mut cur = getrlimit(res);
        if let Some(s) = l.soft {
            cur.current = s;
        }
        if let Some(h) = l.hard {
            cur.maximum = h;
        }
        setrlimit(res, cur).ctx("apply a resource limit (setrlimit)")?;
    }
    Ok(())
}

/// `--disconnect`: stdio that is a terminal goes to /dev/null; redirections stay.
fn detach_stdio() {
    let Ok(null) = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) else { return };
    for fd in 0..3 {
        let target = std_fd(fd);
        if rustix::termios::isatty(target) {
            let _ = match fd {
                0 => rustix::stdio::dup2_stdin(&null),
                1 => rustix::stdio::dup2_stdout(&null),
                _ => rustix::stdio::dup2_stderr(&null),
            };
        }
    }
}

fn std_fd(fd: i32) -> rustix::fd::BorrowedFd<'static> {
    match fd {
        0 => rustix::stdio::stdin(),
        1 => rustix::stdio::stdout(),
        _ => rustix::stdio::stderr(),
    }
}

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
fn attach_ipv4root(set: &CgroupSet, root: &IpRoot) -> core::result::Result<(), Errno> {
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
fn current_in(parents: &[cgroups::CgroupDir]) -> Option<u32> {
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
