//! Creating a context: the caller's side (reserve, clone the init, record it,
//! relay and wait) and the init's setup inside the new namespaces.

use alloc::string::String;
use alloc::vec::Vec;

use rustix::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};

use super::cgroups::{self, CgroupSet};
use super::init::{self, Ceiling, Command, Streams, FORWARDED};
use super::keeper;
use super::registry::{self, Entry, Registry};
use super::relay::{Io, Relay};
use super::rootfs;
use super::spec::{ContextSpec, Flags, Rlimit, SPECTATOR};
use super::wire::{self, Msg, Stage};
use super::{attach_ipv4root, current_in, failed, pipe, Outcome};
use crate::engine::network::ipv4root::IpRoot;
use crate::sys::error::{Context, Error, Result};
use crate::sys::ns::{self, NsFlags, Spawned};
use crate::sys::process;
use crate::sys::signal::{self, SigSet};
use crate::sys::{fd, unix};

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
            let mut outer_root = IpRoot::parse_rendered(&outer.ips);
            // Raw and ping sockets stay only where the new ceiling keeps
            // CAP_NET_RAW too (a --secure context under chbind loses them).
            const CAP_NET_RAW: u32 = 13;
            outer_root.keep_raw &= !spec.remove.has(CAP_NET_RAW);
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
        aliases: spec.aliases.clone(),
        netns: if spec.aliases.is_empty() { 0 } else { crate::engine::network::alias::netns_id() },
        profile: spec.profile.clone().unwrap_or_default(),
        temporary: spec.temporary,
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
    // The init hands things out over this: the pty master, then the command's pidfd.
    let (sock, sock_inside) = unix::socket_pair().ctx("create a socket pair").map_err(undo)?;
    let pty = io.wants_pty() && !spec.disconnect;
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
            drop(sock);
            context_init(reg, spec, &set, in_cgroup, argv, envp, io, pty, sock_inside, ready_w, status_w)
        }
        Ok(Spawned::Parent { pid, pidfd }) => (pid, pidfd),
        Err(e) => return Err(undo(failed(Stage::Clone, e.errno))),
    };
    drop(ready_w);
    drop(status_w);
    drop(sock_inside);
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
    let relay = if pty {
        match Relay::accept(&sock, io) {
            Ok(r) => r,
            Err(e) => {
                kill_init();
                return Err(undo(failed(Stage::Terminal, e)));
            }
        }
    } else {
        None
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
    if !fakeinit {
        // The command's pidfd and exec check, when the init could hand them over
        // (else it reports on the status pipe: end of the socket).
        let mut got: heapless::Vec<OwnedFd, 4> = heapless::Vec::new();
        let mut b = [0u8; 1];
        if unix::recv_fds(&sock, &mut b, &mut got).is_ok() && got.len() == 2 {
            let check = got.pop().unwrap();
            let cmd = got.pop().unwrap();
            let sfd = signal::signalfd(SigSet(FORWARDED.0 | SigSet::of(&[signal::SIGWINCH]).0))?;
            let r = super::join::wait_command(super::join::Target::Pidfd(cmd), &sfd, &check, relay, spec.disconnect);
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
            return r.map(|c| c.map_or(Outcome::Detached(entry.id), Outcome::Exited));
        }
    }
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
    pty: bool,
    sock: OwnedFd,
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
    let _ = keep.push(sock.as_raw_fd());
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
    let slave = if pty {
        match super::relay::open_inside(&sock) {
            Ok(t) => Some(t),
            Err(e) => fail(Stage::Terminal, e),
        }
    } else {
        None
    };
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
        drop(sock);
        init::become_command(&cmd, ready);
    }
    drop(ready);
    init::run(&cmd, status, sock, lean)
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
        0 => crate::sys::file::stdin(),
        1 => crate::sys::file::stdout(),
        _ => crate::sys::file::stderr(),
    }
}
