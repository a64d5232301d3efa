//! Contexts on a mainline kernel: create, join, stop, list (DESIGN.md).
//!
//! Creating one takes three processes:
//!
//! - the **caller** (the applet) reserves the number, makes the cgroups and clones
//!   the context's first process into them; then it waits for the command's status
//!   and forwards the signals an admin sends it, like `unshare --fork`;
//! - the context's **init** (PID 1 of the new pid namespace) joins the cgroup v1
//!   hierarchies, makes the private mounts, sets names and limits, then runs the
//!   command (see `init`), or becomes the command itself with the fakeinit flag;
//! - the **keeper**, forked from the caller once the init exists, records the
//!   namespace handles while the command starts, and stays on the host side until
//!   the context dies, to clear it away. Nothing privileged is ever reachable from
//!   inside.
//!
//! Only what a context cannot do without is on the way to the command: the
//! handles are recorded meanwhile, and the clearing happens after the caller has
//! its status.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

use super::cgroups::{self, CgroupSet};
use super::init::{self, Command, FORWARDED};
use super::registry::{self, Entry, Registry};
use super::rootfs;
use super::ipv4root::{self, IpRoot};
use super::spec::{ContextSpec, Flags, Rlimit, User, SPECTATOR};
use super::wire::{self, Msg, Stage};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Error, Result};
use crate::sys::ns::{self, NsFlags, Spawned};
use crate::sys::process::{self, Forked};
use crate::sys::signal::{self, SigSet};
use crate::sys::{file, seccomp};

/// How a create or join ended for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command ended with this status (128+signal when killed).
    Exited(i32),
    /// `disconnect`: the command runs on its own in context N.
    Detached(u32),
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe")
}

/// Create a context from `spec` and run `argv` in it. `on_id` runs once the number
/// is known, before the command starts (chcontext prints `New security context is
/// N` there); it runs in the keeper process, whose stdout is the caller's.
pub fn create<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    reg: &Registry,
    spec: &ContextSpec,
    argv: &[A],
    envp: &[E],
    on_id: &mut dyn FnMut(u32),
) -> Result<Outcome> {
    if spec.id == Some(SPECTATOR) {
        return Err(Error::new("create context 1: it is the spectator, which cannot be created", Errno::INVAL));
    }
    // One mount scan for the whole creation: the cgroups are made below these.
    let parents = cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir)?;
    // Made from inside a restricted context (`chbind --ip X chcontext …`): the new
    // context gets that ipv4root too, or a narrower one, never a wider one.
    let inherited;
    let spec = match current_in(&parents).and_then(|n| reg.find(n)).filter(|e| !e.ips.is_empty()) {
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
    let old_mask = signal::set_mask(FORWARDED)?;
    let r = create_here(reg, spec, &parents, argv, envp, on_id);
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
    reg.sweep();
    reg.ensure_mount().map_err(|e| failed(Stage::Registry, e.errno))?;
    let id = reg.reserve(spec.id).map_err(|e| failed(Stage::Registry, e.errno))?;
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let set = CgroupSet::of(parents, id);
    let mut entry = Entry {
        id,
        name: spec.name.clone().unwrap_or_default(),
        init: 0,
        start: 0,
        boot: String::from(reg.boot()),
        // The creator stands for the keeper until the keeper registers the init.
        keeper: me,
        keeper_start: registry::start_time(me).unwrap_or(0),
        flags: spec.flags,
        remove: spec.remove,
        namespaces: 0,
        ips: spec.ipv4root.as_ref().filter(|r| !r.is_unrestricted()).map(|r| r.render()).unwrap_or_default(),
        rlimits: String::new(),
        cgroups: set.paths(),
    };
    if spec.flags.has(Flags::ULIMIT) {
        entry.rlimits = Rlimit::render(&if spec.rlimits.is_empty() { Rlimit::snapshot() } else { spec.rlimits.clone() });
    }
    let made = (|| {
        reg.write(&entry).map_err(|e| failed(Stage::Registry, e.errno))?;
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

/// The creation proper, with the forwarded signals blocked: the caller reserves
/// the context and clones its init; a keeper forked then records the handles
/// while the init starts the command, and clears the context when it dies.
fn create_here<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    reg: &Registry,
    spec: &ContextSpec,
    parents: &[cgroups::CgroupDir],
    argv: &[A],
    envp: &[E],
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
            context_init(reg, spec, &set, in_cgroup, argv, envp, ready_w, status_w)
        }
        Ok(Spawned::Parent { pid, pidfd }) => (pid, pidfd),
        Err(e) => return Err(undo(failed(Stage::Clone, e.errno))),
    };
    drop(ready_w);
    drop(v2);
    let pidfd = pidfd.or_else(|| rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok());
    match process::fork() {
        Ok(Forked::Child) => {
            drop(status_r);
            keeper(reg, spec, entry, nsf.union(NsFlags::CGROUP).0, pid, pidfd, ready_r, status_w)
        }
        Ok(Forked::Parent(_)) => {}
        Err(e) => {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
            return Err(undo(failed(Stage::Clone, e.errno)));
        }
    }
    drop(ready_r);
    drop(status_w);
    let fakeinit = spec.flags.has(Flags::FAKEINIT);
    let r = wait_for_status(&status_r, entry.id, pid, if fakeinit { pidfd.as_ref() } else { None }, spec.disconnect);
    // The init is this process's child: reap it if it has ended with the command
    // (else the host's init will, once this process is gone).
    if !fakeinit {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
    }
    r
}

/// The caller's side: read the setup's messages and forward signals to the init
/// until the command's status is known; detached, until the command runs. Either
/// way the keeper must have registered the context first, so a `chcontext --ctx N`
/// right after finds it complete (and no sweep takes it for a dead one). With
/// `reap` (fakeinit: the init is the command) the status is the init's own, read
/// from its pidfd; the keeper says whether its exec worked.
fn wait_for_status(status: &OwnedFd, id: u32, init: Pid, reap: Option<&OwnedFd>, detached: bool) -> Result<Outcome> {
    use rustix::event::{poll, PollFd, PollFlags};
    let sfd = signal::signalfd(FORWARDED)?;
    let (mut running, mut registered, mut eof) = (false, false, false);
    let mut code: Option<i32> = None;
    loop {
        let done = match (detached, code) {
            (true, Some(_)) => true,
            (true, None) => running && registered,
            (false, Some(_)) if reap.is_some() => running || eof,
            (false, Some(_)) => registered || eof,
            (false, None) => false,
        };
        if done {
            return Ok(if detached { Outcome::Detached(id) } else { Outcome::Exited(code.unwrap_or(0)) });
        }
        let mut fds = [
            PollFd::new(&sfd, PollFlags::IN),
            PollFd::new(status, if eof { PollFlags::empty() } else { PollFlags::IN }),
            PollFd::new(reap.unwrap_or(&sfd), if reap.is_some() && code.is_none() { PollFlags::IN } else { PollFlags::empty() }),
        ];
        match poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::new("wait for the context", e)),
        }
        if !fds[0].revents().is_empty() {
            if let Ok(sig) = signal::read_signal(&sfd) {
                if sig.code != signal::SI_KERNEL {
                    if let Some(s) = Signal::from_named_raw(sig.signo) {
                        let _ = rustix::process::kill_process(init, s);
                    }
                }
            }
        }
        if reap.is_some() && !fds[2].revents().is_empty() {
            code = match rustix::process::waitpid(Some(init), WaitOptions::NOHANG) {
                Ok(Some((_, st))) => Some(wire::shell_status(st.as_raw())),
                _ => code,
            };
        }
        if fds[1].revents().is_empty() {
            continue;
        }
        match wire::recv(status) {
            Some(Msg::Running) => running = true,
            Some(Msg::Registered) => registered = true,
            Some(Msg::Status(c)) => code = Some(c),
            Some(m @ Msg::Failed(..)) => return Err(m.error().unwrap_or(failed(Stage::Lost, Errno::IO))),
            // Everyone who could write is gone: fakeinit's command still runs.
            None if reap.is_some() => eof = true,
            None if code.is_some() => eof = true,
            None => return Err(failed(Stage::Lost, Errno::IO)),
        }
    }
}

/// The keeper: the host side of a new context, from its init's birth to its end.
/// It records the namespace handles, then waits for the init to die and clears
/// the context away. Nothing privileged is ever reachable from inside. Never
/// returns.
#[allow(clippy::too_many_arguments)]
fn keeper(reg: &Registry, spec: &ContextSpec, mut entry: Entry, namespaces: u64, pid: Pid, pidfd: Option<OwnedFd>, ready: OwnedFd, status: OwnedFd) -> ! {
    let _ = signal::ignore(signal::SIGPIPE);
    // Its own session: a hangup of the caller's terminal must not take it away.
    let _ = rustix::process::setsid();
    init::stdio_to_null();
    let wait_end = |pidfd: &Option<OwnedFd>| match pidfd {
        Some(fd) => loop {
            let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
            match rustix::event::poll(&mut fds, None) {
                Err(Errno::INTR) => continue,
                _ => break,
            }
        },
        None => {
            let start = registry::start_time(pid.as_raw_nonzero().get());
            while start.is_some() && registry::start_time(pid.as_raw_nonzero().get()) == start {
                let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 0, tv_nsec: 50_000_000 });
            }
        }
    };
    let kill_and_undo = |st: Stage, e: Errno, entry: &Entry| -> ! {
        match &pidfd {
            Some(fd) => {
                let _ = rustix::process::pidfd_send_signal(fd, Signal::KILL);
            }
            None => {
                let _ = rustix::process::kill_process(pid, Signal::KILL);
            }
        }
        wait_end(&pidfd);
        if let Ok(_lock) = reg.lock() {
            reg.clear_own(entry);
        }
        wire::send(&status, Msg::Failed(st, e));
        process::exit_now(1);
    };
    // The init says when its cgroups and namespaces (the cgroup one included) are
    // complete; it starts the command then, while the handles are recorded here.
    match wire::recv(&ready) {
        Some(Msg::Running) => {}
        Some(Msg::Failed(st, e)) => kill_and_undo(st, e, &entry),
        _ => kill_and_undo(Stage::Lost, Errno::IO, &entry),
    }
    let raw = pid.as_raw_nonzero().get();
    // Recorded under the lock, and only while the entry is still this creation's:
    // a stop or a sweep may have cleared it meanwhile, and the number be another
    // context's by now.
    let lock = reg.lock();
    if lock.is_err() || !reg.read(entry.id).is_some_and(|cur| cur.same_as(&entry)) {
        drop(lock);
        kill_and_undo(Stage::Registry, Errno::SRCH, &entry);
    }
    let bound = reg.bind_namespaces(entry.id, raw, namespaces);
    if bound.is_ok() {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let mut done = entry.clone();
        done.init = raw;
        done.start = registry::start_time(raw).unwrap_or(0);
        done.namespaces = namespaces;
        done.keeper = me;
        done.keeper_start = registry::start_time(me).unwrap_or(0);
        if let Err(e) = reg.write(&done) {
            drop(lock);
            kill_and_undo(Stage::Registry, e.errno, &entry);
        }
        entry = done;
    }
    drop(lock);
    match bound {
        Ok(()) => {}
        // A command that ended at once took the init along: nothing to record.
        Err(_) if ended(&pidfd, raw) => {}
        Err(e) => kill_and_undo(Stage::Handles, e.errno, &entry),
    }
    wire::send(&status, Msg::Registered);
    // With fakeinit the init is the command, and an exec that worked shows as the
    // end of the check pipe the init holds open.
    if spec.flags.has(Flags::FAKEINIT) {
        match wire::recv(&ready) {
            None => wire::send(&status, Msg::Running),
            Some(m) => wire::send(&status, m),
        }
    }
    drop(ready);
    drop(status);
    wait_end(&pidfd);
    if let Ok(_lock) = reg.lock() {
        reg.clear_own(&entry);
    }
    process::exit_now(0);
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
    ready: OwnedFd,
    status: OwnedFd,
) -> ! {
    let fail = |st: Stage, e: Errno| -> ! {
        wire::send(&ready, Msg::Failed(st, e));
        process::exit_now(1);
    };
    // First of all, into the other hierarchies (it was born in the cgroup2 one):
    // it joins them itself, which spares the keeper a round trip. "0" is the
    // writer, whatever pid namespace it is in.
    if let Err(e) = set.join(0, !in_cgroup) {
        fail(Stage::JoinCgroups, e.errno);
    }
    if spec.disconnect {
        // Detached: a session of its own, and no terminal left as stdio.
        let _ = rustix::process::setsid();
        detach_stdio();
    }
    // Rooted at the context's cgroups, now that every hierarchy was joined.
    if let Err(e) = ns::unshare(NsFlags::CGROUP, "unshare the cgroup namespace") {
        fail(Stage::CgroupNs, e.errno);
    }
    if let Err(e) = rootfs::prepare(spec.root.as_deref(), &reg.entries_dir(), spec.flags.has(Flags::HIDEINFO)) {
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
    wire::send(&ready, Msg::Running);
    let cmd = Command { argv, envp, remove: spec.remove, flags: spec.flags, user: spec.user.as_ref() };
    if spec.flags.has(Flags::FAKEINIT) {
        drop(status);
        init::become_command(&cmd, ready);
    }
    drop(ready);
    init::run(&cmd, status)
}

/// Whether the init has exited or is exiting (its namespace files go before it
/// does, so this waits up to a second for the end).
fn ended(pidfd: &Option<OwnedFd>, pid: i32) -> bool {
    match pidfd {
        Some(fd) => {
            let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
            let second = rustix::event::Timespec { tv_sec: 1, tv_nsec: 0 };
            matches!(rustix::event::poll(&mut fds, Some(&second)), Ok(1))
        }
        None => registry::start_time(pid).is_none(),
    }
}

fn apply_limits(set: &CgroupSet, spec: &ContextSpec) -> Result<()> {
    if spec.flags.has(Flags::NPROC) {
        let hard = spec
            .rlimits
            .iter()
            .find(|r| r.resource == rustix::process::Resource::Nproc as u32)
            .and_then(|r| r.hard)
            .unwrap_or_else(|| rustix::process::getrlimit(rustix::process::Resource::Nproc).maximum);
        if let Some(max) = hard {
            set.limit_pids(max)?;
        }
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
    crate::sys::file::std_fd(fd)
}

/// Join the context of entry `e` (as `Registry::find` returned it) and run `argv`
/// there with the context's ceiling plus `extra_remove`. Returns the command's
/// status.
pub fn enter<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    reg: &Registry,
    e: &Entry,
    extra_remove: CapSet,
    extra_flags: Flags,
    user: Option<&User>,
    argv: &[A],
    envp: &[E],
) -> Result<i32> {
    let id = e.id;
    if e.flags.has(Flags::PRIVATE) {
        return Err(Error::new("join the context: it is private (flag private)", Errno::PERM));
    }
    if e.namespaces == 0 {
        return Err(Error::new("join the context: it has no namespaces to enter", Errno::INVAL));
    }
    // Open every handle first: entering the mount namespace changes what paths mean.
    let mut handles: Vec<OwnedFd> = Vec::new();
    for (name, flag) in ns::NS_FILES {
        if e.namespaces & flag.0 != 0 {
            let p = format!("{}/ns/{name}", reg.ctx_dir(id));
            handles.push(file::open_read(p.as_str()).ctx("open the context's namespace handles")?);
        }
    }
    // The init may die after the lookup: its cgroups are then gone (ENOENT), or
    // the fork into its dead pid namespace fails (ENOMEM).
    let ended = |errno: Errno| move |r: Error| if r.errno == errno && r.what != Stage::Exec.what() { Error::new("join the context: it ended meanwhile", Errno::SRCH) } else { r };
    if e.cgroups.is_empty() {
        let parents = cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir)?;
        CgroupSet::of(&parents, id).join(0, true).map_err(ended(Errno::NOENT))?;
    } else {
        for dir in &e.cgroups {
            crate::sys::cgroup::add_pid(dir, 0).ctx("join the context's cgroups").map_err(ended(Errno::NOENT))?;
        }
    }
    for h in &handles {
        ns::enter(h, "enter the context's namespaces")?;
    }
    drop(handles);
    rustix::process::chdir("/").ctx("chdir into the context")?;
    if e.flags.has(Flags::ULIMIT) {
        apply_rlimits(&Rlimit::parse_rendered(&e.rlimits))?;
    }
    run_and_wait(&Command { argv, envp, remove: e.remove.union(extra_remove), flags: e.flags.with(extra_flags), user }).map_err(ended(Errno::NOMEM))
}

/// Fork the command (it lands in the namespaces entered above), wait, forward.
fn run_and_wait<A: AsRef<[u8]>, E: AsRef<[u8]>>(cmd: &Command<'_, A, E>) -> Result<i32> {
    let watched = SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGCHLD]).0);
    let old = signal::set_mask(watched)?;
    let sfd = signal::signalfd(watched)?;
    let (check_r, check_w) = pipe()?;
    let child = match process::fork()? {
        Forked::Child => {
            drop(check_r);
            drop(sfd);
            init::become_command(cmd, check_w)
        }
        Forked::Parent(p) => p,
    };
    drop(check_w);
    let failed = wire::recv(&check_r).and_then(|m| m.error());
    let st = loop {
        match rustix::process::waitpid(Some(child), WaitOptions::NOHANG) {
            Ok(Some((_, st))) => break wire::shell_status(st.as_raw()),
            Ok(None) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::new("wait for the command", e)),
        }
        if let Ok(sig) = signal::read_signal(&sfd) {
            if sig.signo != signal::SIGCHLD && sig.code != signal::SI_KERNEL {
                if let Some(s) = Signal::from_named_raw(sig.signo) {
                    let _ = rustix::process::kill_process(child, s);
                }
            }
        }
    };
    let _ = signal::set_mask(old);
    match failed {
        Some(e) => Err(e),
        None => Ok(st),
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
        reg.sweep();
        return Ok(false);
    };
    if e.init > 0 {
        if let Some(pid) = Pid::from_raw(e.init) {
            if let Ok(pfd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
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
    current_in(&cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir).ok()?)
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
    let parents = cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir).map_err(SetIpError::Sys)?;
    let set = CgroupSet::of(&parents, id);
    let dir = set.v2().ok_or(SetIpError::Sys(Error::new("restrict the context: no cgroup2 directory", Errno::NOENT)))?;
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
    let parents = cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir).map_err(sys)?;
    let lock = reg.lock().map_err(sys)?;
    reg.sweep();
    // Best effort: a network-only context has no handles to hide.
    let _ = reg.ensure_mount();
    let id = reg.reserve(None).map_err(sys)?;
    let set = CgroupSet::of(&parents, id);
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let entry = Entry {
        id,
        name: String::from(name),
        init: me,
        start: registry::start_time(me).unwrap_or(0),
        boot: String::from(reg.boot()),
        keeper: 0,
        keeper_start: 0,
        flags: Flags::default(),
        remove: CapSet::EMPTY,
        namespaces: 0,
        ips: root.render(),
        rlimits: String::new(),
        cgroups: set.paths(),
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
