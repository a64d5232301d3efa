//! Which context each process is in, read from the cgroup side: `cgroup.procs`
//! below the parent of the context cgroups, a few reads in all, never one
//! `/proc/PID/cgroup` per process; everything not listed there is on the host
//! (context 0). `Scope` is the snapshot every monitoring view starts from.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rustix::io::Errno;

use crate::engine::context::cgroups::{self, CgroupDir};
use crate::engine::context::registry::Registry;
use crate::engine::context::spec::Settings;
use crate::sys::error::{Error, Result};
use crate::sys::procscan::{self, Flow, ProcInfo, Want};


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

/// pid → context, read from the cgroup side: the `cgroup.procs` files below vsbox's
/// parent cgroup, a handful of reads in all, instead of one `/proc/PID/cgroup` per
/// process. A process not listed is on the host (context 0). A process that moves
/// between the load and the /proc scan shows its old context (or 0), as any
/// snapshot tool would.
#[derive(Clone, Debug, Default)]
pub struct CtxMap {
    /// Sorted by pid.
    by_pid: Vec<(u32, u32)>,
}

impl CtxMap {
    /// `parent_dir` is the parent cgroup's directory in the cgroup2 mount (e.g.
    /// `/sys/fs/cgroup/unified/vsbox`); if it does not exist there are no contexts.
    pub fn load(parent_dir: &core::ffi::CStr) -> crate::sys::Result<CtxMap> {
        let mut by_pid = Vec::new();
        match procscan::cgroup_subtree_pids(parent_dir, |name, pid| {
            if let Some(ctx) = procscan::ctx_number(name) {
                by_pid.push((pid, ctx));
            }
        }) {
            Err(e) if e.errno == crate::sys::Errno::NOENT => {}
            r => r?,
        }
        Ok(CtxMap::from_pairs(by_pid))
    }

    /// From (pid, ctx) pairs in any order.
    pub fn from_pairs(mut by_pid: Vec<(u32, u32)>) -> CtxMap {
        by_pid.sort_unstable();
        CtxMap { by_pid }
    }

    /// The context of `pid`: 0 when no context cgroup lists it.
    pub fn ctx_of(&self, pid: u32) -> u32 {
        self.by_pid.binary_search_by_key(&pid, |e| e.0).map_or(0, |i| self.by_pid[i].1)
    }

    /// How many processes are in contexts (not on the host).
    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctx_map() {
        let m = CtxMap::from_pairs(vec![(300, 5), (12, 2), (40, 5)]);
        assert_eq!((m.ctx_of(12), m.ctx_of(40), m.ctx_of(300), m.ctx_of(1), m.len()), (2, 5, 5, 0, 3));
        let base = std::env::temp_dir().join(format!("vsbox-ctxmap-{}", std::process::id()));
        for (dir, procs) in [("5", "12\n"), ("5/x", "13\n"), ("web", "14\n"), ("07", "15\n")] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
            std::fs::write(base.join(dir).join("cgroup.procs"), procs).unwrap();
        }
        let path = std::ffi::CString::new(base.to_str().unwrap()).unwrap();
        let m = CtxMap::load(&path).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!([12, 13, 14, 15].map(|p| m.ctx_of(p)), [5, 5, 0, 0]);
        assert!(CtxMap::load(&path).unwrap().is_empty());
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
}
