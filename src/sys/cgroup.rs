//! Cgroup hierarchies as the host mounts them (cgroup2, v1, or hybrid), and the
//! file operations a context's cgroups need. Which cgroups to make is the engine's
//! business; this module only finds mounts and reads and writes files.

use alloc::string::String;
use alloc::vec::Vec;

use rustix::io::Errno;

use super::error::{Context, Result};
use super::file;

/// The v1 controllers vsbox uses, as bits.
pub const PIDS: u8 = 1;
pub const MEMORY: u8 = 2;
pub const CPUACCT: u8 = 4;
pub const CPU: u8 = 8;
pub const FREEZER: u8 = 16;

const V1_NAMES: [(&str, u8); 5] =
    [("pids", PIDS), ("memory", MEMORY), ("cpuacct", CPUACCT), ("cpu", CPU), ("freezer", FREEZER)];

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// cgroup2 (the unified hierarchy), or a v1 hierarchy holding `controllers`.
    pub v2: bool,
    pub controllers: u8,
    /// Where it is mounted, and which cgroup path the mount shows at its top
    /// (`/` normally; a subtree inside a container).
    pub mount: String,
    pub root: String,
}

/// The hierarchies of this host that vsbox uses: the cgroup2 one and every v1 one
/// holding pids, memory, cpuacct, cpu or freezer. Each superblock is listed once.
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let text = file::read_to_vec("/proc/self/mountinfo").ctx("read /proc/self/mountinfo")?;
    Ok(parse_mountinfo(core::str::from_utf8(&text).unwrap_or("")))
}

/// The mountinfo parser behind `hierarchies`.
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let (devno, root, mount) = (l[2], l[3], l[4]);
        let (v2, controllers) = match r[0] {
            "cgroup2" => (true, 0),
            "cgroup" => {
                let mut bits = 0;
                for opt in r[2].split(',') {
                    if let Some(&(_, b)) = V1_NAMES.iter().find(|(n, _)| *n == opt) {
                        bits |= b;
                    }
                }
                if bits == 0 {
                    continue;
                }
                (false, bits)
            }
            _ => continue,
        };
        if seen.contains(&devno) {
            continue;
        }
        seen.push(devno);
        out.push(Hierarchy { v2, controllers, mount: unescape(mount), root: String::from(root) });
    }
    out
}

/// mountinfo escapes spaces and friends as \040 etc.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| String::from(s))
}

/// The cgroup path of the calling process in `h`, from /proc/self/cgroup.
pub fn own_path(h: &Hierarchy, proc_cgroup: &str) -> Option<String> {
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let matches = if h.v2 {
            id == "0" && ctrls.is_empty()
        } else {
            let mut bits = 0;
            for c in ctrls.split(',') {
                if let Some(&(_, b)) = V1_NAMES.iter().find(|(n, _)| *n == c) {
                    bits |= b;
                }
            }
            bits != 0 && bits == h.controllers
        };
        if matches {
            return Some(String::from(path));
        }
    }
    None
}

/// The directory of cgroup `path` (as /proc/PID/cgroup names it) in hierarchy `h`.
pub fn dir_of(h: &Hierarchy, path: &str) -> String {
    let rel = if h.root == "/" { path } else { path.strip_prefix(h.root.as_str()).unwrap_or(path) };
    let mut d = String::with_capacity(h.mount.len() + rel.len() + 1);
    d.push_str(&h.mount);
    if !rel.starts_with('/') && !rel.is_empty() {
        d.push('/');
    }
    d.push_str(rel.trim_end_matches('/'));
    d
}

/// Put `pid` (0 = the caller) into the cgroup at `dir`.
pub fn add_pid(dir: &str, pid: i32) -> core::result::Result<(), Errno> {
    let mut p: heapless::String<512> = heapless::String::new();
    p.push_str(dir).map_err(|_| Errno::NAMETOOLONG)?;
    p.push_str("/cgroup.procs").map_err(|_| Errno::NAMETOOLONG)?;
    let mut n: heapless::String<12> = heapless::String::new();
    use core::fmt::Write as _;
    let _ = write!(n, "{pid}");
    file::write_existing(p.as_str(), n.as_bytes())
}

/// Write `value` into the control file `dir/name`.
pub fn write(dir: &str, name: &str, value: &[u8]) -> core::result::Result<(), Errno> {
    let mut p: heapless::String<512> = heapless::String::new();
    p.push_str(dir).map_err(|_| Errno::NAMETOOLONG)?;
    p.push('/').map_err(|_| Errno::NAMETOOLONG)?;
    p.push_str(name).map_err(|_| Errno::NAMETOOLONG)?;
    file::write_existing(p.as_str(), value)
}

/// Read the control file `dir/name` into `buf`.
pub fn read<'a>(dir: &str, name: &str, buf: &'a mut [u8]) -> core::result::Result<&'a [u8], Errno> {
    let mut p: heapless::String<512> = heapless::String::new();
    p.push_str(dir).map_err(|_| Errno::NAMETOOLONG)?;
    p.push('/').map_err(|_| Errno::NAMETOOLONG)?;
    p.push_str(name).map_err(|_| Errno::NAMETOOLONG)?;
    let n = file::read_into(p.as_str(), buf)?;
    Ok(&buf[..n])
}

/// Remove an (empty) cgroup directory. Gone already is fine.
pub fn remove(dir: &str) -> core::result::Result<(), Errno> {
    match rustix::fs::rmdir(dir) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:38 / /mnt/again rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_hosts_list_each_used_hierarchy_once() {
        let h = parse_mountinfo(HYBRID);
        let mounts: Vec<&str> = h.iter().map(|h| h.mount.as_str()).collect();
        assert_eq!(mounts, ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"]);
        assert!(h[4].v2);
        assert_eq!(h[3].controllers, PIDS);
    }

    #[test]
    fn comounted_controllers_and_own_paths() {
        let mi = "1 0 0:5 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let h = parse_mountinfo(mi);
        assert_eq!(h[0].controllers, CPU | CPUACCT);
        let pc = "4:memory:/a/b\n2:cpuacct,cpu:/x\n0::/u/v\n";
        assert_eq!(own_path(&h[0], pc).as_deref(), Some("/x"));
        let v2 = Hierarchy { v2: true, controllers: 0, mount: "/sys/fs/cgroup".into(), root: "/".into() };
        assert_eq!(own_path(&v2, pc).as_deref(), Some("/u/v"));
        assert_eq!(dir_of(&v2, "/u/v"), "/sys/fs/cgroup/u/v");
        assert_eq!(dir_of(&v2, "/"), "/sys/fs/cgroup");
        let sub = Hierarchy { root: "/u".into(), ..v2 };
        assert_eq!(dir_of(&sub, "/u/v"), "/sys/fs/cgroup/v");
    }

    #[test]
    fn escaped_mount_points() {
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
