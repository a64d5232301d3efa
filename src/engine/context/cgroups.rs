//! A context's cgroups: `<parent>/<N>` in every hierarchy the host mounts, so its
//! processes can be counted, limited, frozen and killed as one, and so its cgroup2
//! directory can carry the chbind BPF programs.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rustix::io::Errno;

use crate::sys::cgroup::{self, Hierarchy};
use crate::sys::error::{Context, Error, Result};
use crate::sys::file;

/// One hierarchy's directory for a context (or for the parent of all contexts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupDir {
    pub hierarchy: Hierarchy,
    pub path: String,
}

/// The cgroups of context N, one per hierarchy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupSet {
    pub dirs: Vec<CgroupDir>,
}

impl CgroupDir {
    /// A directory as a registry entry records it: `v2 PATH` or `v1:BITS PATH`
    /// (the v1 controller bits). Only the kind and the path are kept: nothing done
    /// with a recorded set needs the mount.
    pub fn parse_recorded(line: &str) -> Option<CgroupDir> {
        let (kind, path) = line.split_once(' ')?;
        let (v2, controllers) = match kind {
            "v2" => (true, 0),
            k => (false, k.strip_prefix("v1:")?.parse().ok()?),
        };
        let hierarchy = Hierarchy { v2, controllers, mount: String::new(), root: String::new() };
        Some(CgroupDir { hierarchy, path: String::from(path) })
    }
}

/// The parent directories (`<parent>` in each hierarchy), resolved from the
/// setting: an absolute path from each hierarchy's root, or a relative one below
/// the caller's own cgroup there. Mounts a private cgroup2 under `rundir` when the
/// host has none at all, so there is always a unified hierarchy for BPF.
pub fn parents(setting: &str, rundir: &str) -> Result<Vec<CgroupDir>> {
    let mut hs = cgroup::hierarchies()?;
    if !hs.iter().any(|h| h.v2) {
        let mnt = format!("{rundir}/cgroup2");
        file::mkdir_p(&mnt, 0o755).ctx("create the private cgroup2 mount point")?;
        crate::sys::mount::mount_fs("cgroup2", &mnt, rustix::mount::MountFlags::empty(), "", "mount a cgroup2 hierarchy (the host has none)")?;
        hs = cgroup::hierarchies()?;
    }
    let own = file::read_to_vec("/proc/self/cgroup").ctx("read /proc/self/cgroup")?;
    let own = core::str::from_utf8(&own).unwrap_or("");
    let mut out = Vec::with_capacity(hs.len());
    for h in hs {
        let path = if setting.starts_with('/') {
            cgroup::dir_of(&h, setting)
        } else {
            let base = cgroup::own_path(&h, own).unwrap_or_else(|| String::from("/"));
            let base = outside_contexts(&base, setting);
            let mut p = cgroup::dir_of(&h, base);
            p.push('/');
            p.push_str(setting.trim_end_matches('/'));
            p
        };
        out.push(CgroupDir { hierarchy: h, path });
    }
    Ok(out)
}

/// A relative parent is taken below the caller's own cgroup; a caller that is
/// itself in a context of that parent (`…/<setting>/<N>[/…]`, e.g. the command a
/// network-only chbind context runs) resolves it from where that context was made.
fn outside_contexts<'a>(base: &'a str, setting: &str) -> &'a str {
    let marker = format!("/{}/", setting.trim_matches('/'));
    let mut cut = None;
    let mut from = 0;
    while let Some(i) = base[from..].find(&marker) {
        let at = from + i;
        let rest = &base[at + marker.len()..];
        let n = rest.split('/').next().unwrap_or("");
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            cut = Some(at);
        }
        from = at + 1;
    }
    match cut {
        Some(0) => "/",
        Some(i) => &base[..i],
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::outside_contexts;

    #[test]
    fn relative_parents_resolve_from_outside_any_context() {
        assert_eq!(outside_contexts("/a/b", "vs"), "/a/b");
        assert_eq!(outside_contexts("/a/b/vs/5", "vs"), "/a/b");
        assert_eq!(outside_contexts("/a/b/vs/5/sub", "vs"), "/a/b");
        assert_eq!(outside_contexts("/vs/12", "vs"), "/");
        assert_eq!(outside_contexts("/a/vs/x", "vs"), "/a/vs/x", "not a context number");
        assert_eq!(outside_contexts("/a/t/p/3", "t/p"), "/a");
    }
}

impl CgroupSet {
    /// The directories, as a registry entry records them (`Entry::cgroups`).
    pub fn paths(&self) -> Vec<String> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    /// A set as recorded (see `CgroupDir::parse_recorded`); bad lines are skipped.
    pub fn from_recorded(lines: &[&str]) -> CgroupSet {
        CgroupSet { dirs: lines.iter().filter_map(|l| CgroupDir::parse_recorded(l)).collect() }
    }

    /// The set for context `n` under `parents` (nothing is created).
    pub fn of(parents: &[CgroupDir], n: u32) -> CgroupSet {
        CgroupSet {
            dirs: parents
                .iter()
                .map(|p| CgroupDir { hierarchy: p.hierarchy.clone(), path: format!("{}/{n}", p.path) })
                .collect(),
        }
    }

    /// Make the directories; the parents (`<parent>` in each hierarchy) only when
    /// they are missing, since they stay, as /lxc or machine.slice do. A leftover
    /// from a context that died uncleanly is reused when empty. On failure, what was
    /// made is removed again.
    pub fn create(&self) -> Result<()> {
        let mkdir = |p: &str| match rustix::fs::mkdir(p, rustix::fs::Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => Ok(()),
            Err(e) => Err(e),
        };
        for (i, d) in self.dirs.iter().enumerate() {
            let parent = &d.path[..d.path.rfind('/').unwrap_or(0)];
            let r = match mkdir(&d.path) {
                Err(Errno::NOENT) => file::mkdir_p(parent, 0o755).and_then(|()| {
                    if d.hierarchy.v2 {
                        // Let the contexts' own controllers work on pure-v2 hosts;
                        // where the parent does not offer them this fails harmlessly.
                        let _ = cgroup::write(parent, "cgroup.subtree_control", b"+pids +memory +cpu");
                    }
                    mkdir(&d.path)
                }),
                r => r,
            };
            if let Err(e) = r {
                for done in &self.dirs[..i] {
                    let _ = cgroup::remove(&done.path);
                }
                return Err(Error::new("create the context's cgroup", e));
            }
        }
        Ok(())
    }

    /// The cgroup2 directory (for CLONE_INTO_CGROUP and the BPF programs).
    pub fn v2(&self) -> Option<&str> {
        self.dirs.iter().find(|d| d.hierarchy.v2).map(|d| d.path.as_str())
    }

    /// Move `pid` (0: the caller) into every cgroup of the set (or every v1 one).
    pub fn join(&self, pid: i32, include_v2: bool) -> Result<()> {
        for d in &self.dirs {
            if d.hierarchy.v2 && !include_v2 {
                continue;
            }
            cgroup::add_pid(&d.path, pid).ctx("join the context's cgroups")?;
        }
        Ok(())
    }

    /// The directory of the hierarchy holding controller `c` (cgroup2 when the
    /// host has no v1 hierarchy for it).
    pub fn dir_for(&self, c: u8) -> Option<&str> {
        self.dirs
            .iter()
            .find(|d| !d.hierarchy.v2 && d.hierarchy.controllers & c != 0)
            .or_else(|| self.dirs.iter().find(|d| d.hierarchy.v2))
            .map(|d| d.path.as_str())
    }

    /// The nproc flag: at most `max` processes in the whole context.
    pub fn limit_pids(&self, max: u64) -> Result<()> {
        let dir = self.dir_for(cgroup::PIDS).ok_or(Error::new("limit the context's processes: no pids controller", Errno::NOENT))?;
        let v = format!("{max}");
        cgroup::write(dir, "pids.max", v.as_bytes()).ctx("set pids.max for the nproc flag")
    }

    /// The sched flag: one equal CPU share per context (cpu.shares on v1,
    /// cpu.weight on v2), whatever its number of processes.
    pub fn fair_share(&self) -> Result<()> {
        for d in &self.dirs {
            let r = if d.hierarchy.v2 {
                cgroup::write(&d.path, "cpu.weight", b"100")
            } else if d.hierarchy.controllers & cgroup::CPU != 0 {
                cgroup::write(&d.path, "cpu.shares", b"1024")
            } else {
                continue;
            };
            match r {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(Error::new("set the context's CPU share", e)),
            }
        }
        Ok(())
    }

    /// Kill every process still in the context: cgroup.kill where cgroup2 has it,
    /// else SIGKILL to each pid listed in the pids (or any) hierarchy.
    pub fn kill_all(&self) {
        if let Some(v2) = self.v2() {
            if cgroup::write(v2, "cgroup.kill", b"1").is_ok() {
                return;
            }
        }
        for d in &self.dirs {
            let Ok(text) = file::read_to_vec(format!("{}/cgroup.procs", d.path).as_str()) else { continue };
            for line in core::str::from_utf8(&text).unwrap_or("").lines() {
                if let Some(pid) = line.trim().parse::<i32>().ok().and_then(rustix::process::Pid::from_raw) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }

    /// True while any process is in the context's cgroups.
    pub fn populated(&self) -> bool {
        let mut buf = [0u8; 64];
        self.dirs.iter().any(|d| matches!(cgroup::read(&d.path, "cgroup.procs", &mut buf), Ok(b) if !b.is_empty()))
    }

    /// Remove the directories, waiting a little for killed processes to be reaped
    /// (a cgroup with members cannot go). The parents stay.
    pub fn remove(&self) -> Result<()> {
        let mut last = Ok(());
        for d in &self.dirs {
            let mut tries = 0;
            loop {
                match cgroup::remove(&d.path) {
                    Ok(()) => break,
                    Err(Errno::BUSY) if tries < 200 => {
                        tries += 1;
                        let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 0, tv_nsec: 5_000_000 });
                    }
                    Err(e) => {
                        last = Err(Error::new("remove the context's cgroup", e));
                        break;
                    }
                }
            }
        }
        last
    }
}
