//! Monitoring: what vserver-stat, vps, vpstree and vkill know of the running
//! contexts, gathered in bulk from the kernel.
//!
//! Which process is in which context comes from the cgroup side (`cgroup.procs`
//! below the parent of the context cgroups, a few reads in all), never from one
//! `/proc/PID/cgroup` per process; everything not listed there is on the host
//! (context 0). Processes come from the /proc scanner, names from the registry,
//! CPU totals from the contexts' cgroups (so they include dead processes), with
//! /proc sums where a context has no cgroup counter and for the host.
//!
//! Signals go through pidfds: a pid is opened first, checked to be (still) in the
//! context asked for, and only then signalled, so a pid reused meanwhile is never hit.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags};

use super::cgroups::{self, CgroupDir, CgroupSet};
use super::registry::Registry;
use super::spec::{Settings, SPECTATOR};
use super::stat::{self, CtxMap, Forest, StatTable, TreeProc, Units};
use crate::sys::error::{Error, ErrnoText, Result};
use crate::sys::procscan::{self, Flow, ProcInfo, Want};
use crate::sys::{cgroup, signal};

// ---------------------------------------------------------------------------------
// Which context each process is in

/// A snapshot of the contexts' membership: the context cgroups' parents (one per
/// hierarchy) and, from the cgroup2 one, every pid in a context.
pub struct Scope {
    pub parents: Vec<CgroupDir>,
    /// The cgroup2 parent directory, and its path as /proc/PID/cgroup shows it.
    v2_dir: Option<CString>,
    v2_path: String,
    map: CtxMap,
    /// The contexts with at least one process, ascending.
    ctxs: Vec<u32>,
}

impl Scope {
    /// The scope of the contexts under `settings` (VSBOX_CGROUP). The registry's
    /// numbers back up the cgroup directory listing (see `with_parents`).
    pub fn load(settings: &Settings) -> Result<Scope> {
        let ids = Registry::new(settings.clone()).ids();
        Scope::with_parents(cgroups::parents(&settings.cgroup_parent, &settings.rundir)?, &ids)
    }

    /// The scope of the contexts below `parents` (see `cgroups::parents`). A
    /// directory listing of the parent can skip an entry while a neighbour is being
    /// removed (kernfs resumes by name hash), so every context in `known` that the
    /// listing did not show is read directly.
    pub fn with_parents(parents: Vec<CgroupDir>, known: &[u32]) -> Result<Scope> {
        let v2 = parents.iter().find(|d| d.hierarchy.v2);
        let v2_dir = v2.and_then(|d| CString::new(d.path.as_str()).ok());
        let v2_path = v2.map(cgroup_path).unwrap_or_default();
        let mut pairs = match &v2_dir {
            Some(dir) => walk(dir)?,
            None => Vec::new(),
        };
        let mut ctxs: Vec<u32> = pairs.iter().map(|e| e.1).collect();
        ctxs.sort_unstable();
        ctxs.dedup();
        if let Some(v2) = v2 {
            for &n in known {
                if ctxs.binary_search(&n).is_err() {
                    let pids = read_ctx(&v2.path, n)?;
                    if !pids.is_empty() {
                        pairs.extend(pids.into_iter().map(|p| (p, n)));
                        let at = ctxs.binary_search(&n).unwrap_or_else(|i| i);
                        ctxs.insert(at, n);
                    }
                }
            }
        }
        Ok(Scope { parents, v2_dir, v2_path, map: CtxMap::from_pairs(pairs), ctxs })
    }

    /// A snapshot of (pid, ctx) pairs gathered elsewhere (the legacy backend asks
    /// the kernel), with no cgroups behind it.
    pub fn from_pairs(pairs: Vec<(u32, u32)>) -> Scope {
        let mut ctxs: Vec<u32> = pairs.iter().map(|e| e.1).collect();
        ctxs.sort_unstable();
        ctxs.dedup();
        Scope { parents: Vec::new(), v2_dir: None, v2_path: String::new(), map: CtxMap::from_pairs(pairs), ctxs }
    }

    /// The context of `pid` in this snapshot (0: the host).
    #[inline]
    pub fn ctx_of(&self, pid: u32) -> u32 {
        self.map.ctx_of(pid)
    }

    /// The contexts that have processes, ascending (the host not included).
    pub fn contexts(&self) -> &[u32] {
        &self.ctxs
    }

    /// Whether context `ctx` has processes (the host always has); one not in the
    /// snapshot is looked up directly.
    pub fn is_running(&self, ctx: u32) -> bool {
        ctx == 0 || self.ctxs.binary_search(&ctx).is_ok() || self.pids_of(ctx).is_ok_and(|p| !p.is_empty())
    }

    /// The host pids in context `ctx` now (read afresh from its cgroup, not from
    /// the snapshot), sorted.
    pub fn pids_of(&self, ctx: u32) -> Result<Vec<u32>> {
        match self.parents.iter().find(|d| d.hierarchy.v2) {
            Some(v2) => read_ctx(&v2.path, ctx),
            None => Ok(Vec::new()),
        }
    }

    /// The context a live process is in now, from its own `cgroup` file (one
    /// process: no bulk map needed). `None` when it does not exist.
    pub fn live_ctx_of(&self, pid: u32) -> Option<u32> {
        let path = self.v2_dir.as_ref().map(|_| self.v2_path.as_str());
        let ctx = |p: &ProcInfo<'_>| path.and_then(|path| procscan::ctx_of_cgroup(p.cgroup, path)).unwrap_or(0);
        procscan::with_pid(pid, if path.is_some() { Want::CGROUP } else { Want::STAT }, ctx).ok().flatten()
    }

    /// The context of a process the scan reports: its own, or for a zombie (which
    /// the kernel has already taken out of its cgroup) its parent's.
    #[inline]
    pub fn ctx_of_proc(&self, p: &ProcInfo<'_>) -> u32 {
        match self.map.ctx_of(p.pid) {
            0 if p.stat.state == b'Z' && p.stat.ppid > 0 => self.map.ctx_of(p.stat.ppid as u32),
            c => c,
        }
    }

    /// Every process (thread-group leaders) with its context: `f(process, ctx)`.
    pub fn scan<F: FnMut(&ProcInfo<'_>, u32) -> Flow>(&self, want: Want, mut f: F) -> Result<usize> {
        procscan::scan(want, |p| f(p, self.ctx_of_proc(p)))
    }
}

/// (pid, ctx) for every pid in a context cgroup below the cgroup2 parent `dir`; a
/// missing parent means no contexts. One listing of the parent; per context its
/// `cgroup.procs`, and its descendants only when its link count says it has any
/// (a kernfs directory has 2 + subdirectories links), which vsbox's contexts never
/// have. A walk that fails (cgroups removed under it) is done again.
fn walk(dir: &CString) -> Result<Vec<(u32, u32)>> {
    let mut tries = 0;
    loop {
        let mut v = Vec::new();
        match walk_once(dir, &mut v) {
            Ok(()) => return Ok(v),
            Err(Errno::NOENT) => return Ok(Vec::new()),
            Err(_) if tries < 3 => tries += 1,
            Err(e) => return Err(Error::new("read the context cgroups", e)),
        }
    }
}

fn walk_once(dir: &CString, out: &mut Vec<(u32, u32)>) -> core::result::Result<(), Errno> {
    use core::mem::MaybeUninit;
    use rustix::fs::{self, AtFlags, Mode, OFlags, RawDir};
    let parent = fs::open(dir.as_c_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let mut dents = [MaybeUninit::<u8>::uninit(); 4096];
    let listing = fs::openat(&parent, c".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let mut iter = RawDir::new(listing, &mut dents);
    while let Some(entry) = iter.next() {
        let entry = entry?;
        if entry.file_type() != fs::FileType::Directory {
            continue;
        }
        let name = entry.file_name().to_bytes();
        let Some(ctx) = procscan::ctx_number(name) else { continue };
        let mut path: heapless::String<24> = heapless::String::new();
        let _ = fmt::Write::write_fmt(&mut path, format_args!("{ctx}/cgroup.procs\0"));
        let Ok(procs) = core::ffi::CStr::from_bytes_with_nul(path.as_bytes()) else { continue };
        match crate::sys::procscan::read_pids_at(rustix::fd::AsFd::as_fd(&parent), procs, &mut |pid| out.push((pid, ctx))) {
            Ok(()) => {}
            // Removed meanwhile: no members.
            Err(Errno::NOENT | Errno::NODEV) => continue,
            Err(e) => return Err(e),
        }
        let sub = &path[..path.len() - "/cgroup.procs\0".len()];
        match fs::statat(&parent, sub, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_nlink > 2 => {
                let full = CString::new(format!("{}/{sub}", dir.to_str().unwrap_or(""))).map_err(|_| Errno::INVAL)?;
                match procscan::cgroup_subtree_pids(&full, |_, pid| out.push((pid, ctx))) {
                    Ok(()) => {}
                    Err(e) if matches!(e.errno, Errno::NOENT | Errno::NODEV) => {}
                    Err(e) => return Err(e.errno),
                }
            }
            _ => {}
        }
    }
    Ok(())
}


/// The pids in context `ctx`'s cgroup2 directory below `parent` and in any cgroup
/// beneath it, sorted; none when it does not exist. No listing of the parent.
fn read_ctx(parent: &str, ctx: u32) -> Result<Vec<u32>> {
    let dir = format!("{parent}/{ctx}");
    let mut pids = Vec::new();
    let procs = CString::new(format!("{dir}/cgroup.procs")).map_err(|_| Error::new("read a context's cgroups", Errno::INVAL))?;
    match crate::sys::procscan::read_pids_at(rustix::fs::CWD, &procs, &mut |p| pids.push(p)) {
        Ok(()) => {}
        Err(Errno::NOENT | Errno::NODEV) => return Ok(pids),
        Err(e) => return Err(Error::new("read a context's cgroup.procs", e)),
    }
    let cdir = CString::new(dir).map_err(|_| Error::new("read a context's cgroups", Errno::INVAL))?;
    match procscan::cgroup_subtree_pids(&cdir, |_, pid| pids.push(pid)) {
        Ok(()) => {}
        Err(e) if matches!(e.errno, Errno::NOENT | Errno::NODEV) => {}
        Err(e) => return Err(e),
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// A cgroup directory's path as /proc/PID/cgroup names it (from the hierarchy's
/// root, not the mount point).
fn cgroup_path(d: &CgroupDir) -> String {
    let h = &d.hierarchy;
    let rel = d.path.strip_prefix(h.mount.as_str()).unwrap_or(&d.path);
    let root = h.root.trim_end_matches('/');
    if rel.is_empty() && root.is_empty() { String::from("/") } else { format!("{root}{rel}") }
}

// ---------------------------------------------------------------------------------
// Names

/// Context names from the registry, each read once per listing.
pub struct Names<'r> {
    reg: &'r Registry,
    /// Sorted by context.
    cache: Vec<(u32, String)>,
}

impl<'r> Names<'r> {
    pub fn new(reg: &'r Registry) -> Names<'r> {
        Names { reg, cache: Vec::new() }
    }

    /// The name the registry holds for `ctx` ("" when none: an unnamed or
    /// unregistered context, the host, the spectator).
    pub fn registered(&mut self, ctx: u32) -> &str {
        let i = match self.cache.binary_search_by_key(&ctx, |e| e.0) {
            Ok(i) => i,
            Err(i) => {
                let name = if ctx <= SPECTATOR { String::new() } else { self.reg.read(ctx).map(|e| e.name).unwrap_or_default() };
                self.cache.insert(i, (ctx, name));
                i
            }
        };
        &self.cache[i].1
    }

    /// The name vserver-stat and vpstree show: `root server` for 0, `monitoring
    /// server` for 1, else the registered name (as `context::display_name`).
    pub fn display(&mut self, ctx: u32) -> &str {
        match stat::stat_name(ctx) {
            Some(n) => n,
            None => self.registered(ctx),
        }
    }

    /// The name vps shows: the registered one, else `MAIN` (0), `ALL_PROCS` (1) or
    /// `UNKNOWN`, so the column is never empty.
    pub fn vps(&mut self, ctx: u32) -> &str {
        let r = self.registered(ctx);
        stat::vps_name(ctx, Some(r))
    }
}

// ---------------------------------------------------------------------------------
// vserver-stat

/// What a context's cgroups count, where the host has the controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// User and system CPU in microseconds (cgroup2 `cpu.stat`, or v1 cpuacct).
    pub cpu_usec: Option<(u64, u64)>,
    /// Memory charged to the context, bytes (`memory.current` or v1
    /// `memory.usage_in_bytes`; page cache included).
    pub memory: Option<u64>,
    /// Tasks (threads included): `pids.current`.
    pub tasks: Option<u64>,
}

/// Read the counters of context `ctx`'s cgroups below `parents`: the CPU times,
/// and with `all` the memory and task counters too.
pub fn counters(parents: &[CgroupDir], ctx: u32, all: bool) -> Counters {
    let set = CgroupSet::of(parents, ctx);
    let mut buf = [0u8; 1024];
    let mut c = Counters::default();
    if let Some(v2) = set.v2() {
        c.cpu_usec = cgroup::read(v2, "cpu.stat", &mut buf).ok().and_then(parse_cpu_stat);
    }
    let cpuacct = || set.dirs.iter().find(|d| !d.hierarchy.v2 && d.hierarchy.controllers & cgroup::CPUACCT != 0);
    if let (None, Some(d)) = (c.cpu_usec, cpuacct()) {
        let user = cgroup::read(&d.path, "cpuacct.usage_user", &mut buf).ok().and_then(parse_number);
        let sys = cgroup::read(&d.path, "cpuacct.usage_sys", &mut buf).ok().and_then(parse_number);
        if let (Some(u), Some(s)) = (user, sys) {
            c.cpu_usec = Some((u / 1000, s / 1000));
        }
    }
    if !all {
        return c;
    }
    if let Some(d) = set.dir_for(cgroup::MEMORY) {
        let v2 = set.v2() == Some(d);
        c.memory = cgroup::read(d, if v2 { "memory.current" } else { "memory.usage_in_bytes" }, &mut buf).ok().and_then(parse_number);
    }
    if let Some(d) = set.dir_for(cgroup::PIDS) {
        c.tasks = cgroup::read(d, "pids.current", &mut buf).ok().and_then(parse_number);
    }
    c
}

/// `user_usec` and `system_usec` from a cgroup2 `cpu.stat`.
pub fn parse_cpu_stat(text: &[u8]) -> Option<(u64, u64)> {
    let (mut user, mut sys) = (None, None);
    for line in text.split(|&b| b == b'\n') {
        let mut w = line.split(|&b| b == b' ');
        match (w.next(), w.next()) {
            (Some(b"user_usec"), Some(v)) => user = parse_number(v),
            (Some(b"system_usec"), Some(v)) => sys = parse_number(v),
            _ => {}
        }
    }
    Some((user?, sys?))
}

/// A control file holding one decimal number (a trailing newline allowed).
pub fn parse_number(text: &[u8]) -> Option<u64> {
    let t = text.strip_suffix(b"\n").unwrap_or(text);
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(t).ok()?.parse().ok()
}

/// vserver-stat's data: one row per context with processes (context 0, the host,
/// always first), the cgroup counters of each row, and the uptime they are
/// measured against.
pub struct StatReport {
    pub table: StatTable,
    /// Parallel to `table.rows()`; default (none) for the host.
    pub counters: Vec<Counters>,
    pub uptime_cs: u64,
}

/// Sum every process into its context's row (VSZ, RSS, process count, oldest
/// start), then replace each context's CPU times by its cgroup counters where the
/// host has them (and with `all` the memory and task counters). The calling
/// process itself is left out, as the original did.
pub fn gather_stat(scope: &Scope, all: bool) -> Result<StatReport> {
    let units = Units::host();
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let mut table = StatTable::new();
    scope.scan(Want::STAT, |p, ctx| {
        if p.pid != me {
            table.add(ctx, p, units);
        }
        Flow::Continue
    })?;
    let uptime_cs = procscan::read_uptime()?;
    let ctxs: Vec<u32> = table.rows().iter().map(|r| r.ctx).collect();
    let mut per_row = Vec::with_capacity(ctxs.len());
    for ctx in ctxs {
        let c = if ctx == 0 { Counters::default() } else { counters(&scope.parents, ctx, all) };
        if let Some((user, sys)) = c.cpu_usec {
            table.row(ctx).set_cpu_usec(user, sys);
        }
        per_row.push(c);
    }
    Ok(StatReport { table, counters: per_row, uptime_cs })
}

// ---------------------------------------------------------------------------------
// vpstree

/// Every process, with its context, as the tree drawer needs it.
pub fn forest(scope: &Scope) -> Result<Forest> {
    let mut v = Vec::new();
    scope.scan(Want::STAT, |p, ctx| {
        v.push(TreeProc::from_proc(p, ctx));
        Flow::Continue
    })?;
    Ok(Forest::new(v))
}

// ---------------------------------------------------------------------------------
// vkill

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
    use crate::engine::registry::Entry;
    use crate::engine::stat::{StatRow, write_stat_row, STAT_HEADER};

    #[test]
    fn names_from_the_registry() {
        let dir = std::env::temp_dir().join(format!("vsbox-monitor-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = Settings { rundir: dir.to_str().unwrap().into(), cgroup_parent: "unused".into() };
        let reg = Registry::new(settings);
        std::fs::create_dir_all(dir.join("ctx/5")).unwrap();
        reg.write(&Entry { id: 5, name: "web".into(), ..Entry::default() }).unwrap();
        std::fs::create_dir_all(dir.join("ctx/6")).unwrap();
        reg.write(&Entry { id: 6, ..Entry::default() }).unwrap();
        let mut n = Names::new(&reg);
        let mut all = |c: u32| -> [String; 3] { [n.registered(c).into(), n.display(c).into(), n.vps(c).into()] };
        assert_eq!(all(5), ["web", "web", "web"]);
        assert_eq!(all(6), ["", "", "UNKNOWN"]);
        assert_eq!(all(7), ["", "", "UNKNOWN"]);
        assert_eq!(all(0), ["", "root server", "MAIN"]);
        assert_eq!(all(1), ["", "monitoring server", "ALL_PROCS"]);
        // Read once: a later rename shows in the next listing, not this one.
        reg.write(&Entry { id: 5, name: "mail".into(), ..Entry::default() }).unwrap();
        assert_eq!(n.registered(5), "web");
        assert_eq!(Names::new(&reg).registered(5), "mail");
        // The engine's own display names agree.
        for c in [0, 1, 5, 6, 7] {
            assert_eq!(Names::new(&reg).display(c), crate::engine::context::display_name(&reg, c));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The walk over a tree shaped like the context cgroups, made of plain
    /// directories (their link counts work as kernfs's do).
    #[test]
    fn walk_a_cgroup_tree() {
        let base = std::env::temp_dir().join(format!("vsbox-monitor-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let many: String = (100_000..101_000).map(|p| format!("{p}\n")).collect();
        for (dir, procs) in [("5", "12\n13\n"), ("5/sub", "14"), ("5/sub/deeper", "17\n"), ("web", "15\n"), ("07", "16\n"), ("9", ""), ("8", many.as_str())] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
            std::fs::write(base.join(dir).join("cgroup.procs"), procs).unwrap();
        }
        std::fs::write(base.join("cgroup.procs"), "1\n").unwrap();
        std::fs::write(base.join("11"), "a file, not a cgroup").unwrap();
        let path = CString::new(base.to_str().unwrap()).unwrap();
        let mut got = walk(&path).unwrap();
        got.sort_unstable_by_key(|e| (e.1, e.0));
        let mut want: Vec<(u32, u32)> = [(12, 5), (13, 5), (14, 5), (17, 5)].into();
        want.extend((100_000..101_000).map(|p| (p, 8)));
        want.sort_unstable_by_key(|e| (e.1, e.0));
        assert_eq!(got, want);
        assert_eq!(read_ctx(base.to_str().unwrap(), 5).unwrap(), [12, 13, 14, 17]);
        assert_eq!(read_ctx(base.to_str().unwrap(), 9).unwrap(), Vec::<u32>::new());
        assert_eq!(read_ctx(base.to_str().unwrap(), 6).unwrap(), Vec::<u32>::new());
        // The registry's numbers back up the listing: a known context is read
        // directly; the snapshot maps each pid.
        let v2 = CgroupDir {
            hierarchy: crate::sys::cgroup::Hierarchy { v2: true, controllers: 0, mount: base.to_str().unwrap().into(), root: "/".into() },
            path: base.to_str().unwrap().into(),
        };
        let scope = Scope::with_parents(alloc::vec![v2], &[5, 6]).unwrap();
        assert_eq!(scope.contexts(), [5, 8]);
        assert_eq!([12, 14, 17, 100_500, 15, 16, 1].map(|p| scope.ctx_of(p)), [5, 5, 5, 8, 0, 0, 0]);
        assert!(scope.is_running(0) && scope.is_running(5) && !scope.is_running(9) && !scope.is_running(6));
        assert_eq!(scope.pids_of(8).unwrap().len(), 1000);
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(walk(&path).unwrap(), []);
        assert!(Scope::with_parents(Vec::new(), &[5]).unwrap().contexts().is_empty());
    }

    #[test]
    fn cgroup_counter_files() {
        let cpu = b"usage_usec 814459\nuser_usec 500601\nsystem_usec 313858\nnice_usec 0\n";
        assert_eq!(parse_cpu_stat(cpu), Some((500_601, 313_858)));
        assert_eq!(parse_cpu_stat(b"usage_usec 1\n"), None);
        assert_eq!(parse_cpu_stat(b""), None);
        assert_eq!(parse_number(b"504000000\n"), Some(504_000_000));
        assert_eq!(parse_number(b"12"), Some(12));
        for bad in [&b""[..], b"\n", b"max\n", b"-1\n", b"1 2\n", b"99999999999999999999999\n"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cgroup_paths_as_proc_shows_them() {
        use crate::sys::cgroup::Hierarchy;
        let d = |mount: &str, root: &str, path: &str| CgroupDir {
            hierarchy: Hierarchy { v2: true, controllers: 0, mount: mount.into(), root: root.into() },
            path: path.into(),
        };
        assert_eq!(cgroup_path(&d("/sys/fs/cgroup/unified", "/", "/sys/fs/cgroup/unified/vsbox")), "/vsbox");
        assert_eq!(cgroup_path(&d("/sys/fs/cgroup", "/", "/sys/fs/cgroup/a/b/vsbox-t")), "/a/b/vsbox-t");
        assert_eq!(cgroup_path(&d("/sys/fs/cgroup", "/lxc/c1", "/sys/fs/cgroup/vsbox")), "/lxc/c1/vsbox");
        assert_eq!(cgroup_path(&d("/sys/fs/cgroup", "/", "/sys/fs/cgroup")), "/");
    }

    /// The seed row, through the formatter vserver-stat uses: RSS in real
    /// bytes (2 kB), hours that wrap at 24.
    #[test]
    fn the_seed_row() {
        let row = StatRow {
            ctx: 0,
            procs: 37,
            vsz: 41 * 1024 * 1024 + 900_000,
            rss: 2 * 1024 + 100,
            utime: 702_100,
            stime: 294_579,
            oldest_start: 1_000,
        };
        let mut out = String::new();
        out.push_str(STAT_HEADER);
        out.push('\n');
        write_stat_row(&mut out, &row, 1_000 + 285_876_000, "root server").unwrap();
        assert_eq!(
            out,
            "CTX  PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME\n\
             0      37   41MB    2kB   1h57m01  49m05.79  33d02h06 root server\n"
        );
        // The cgroup counters replace the CPU times (microseconds to centiseconds).
        let mut r = row;
        r.set_cpu_usec(7_021_000_000, 2_945_790_000);
        assert_eq!((r.utime, r.stime), (702_100, 294_579));
    }

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
