//! The `vserver` lifecycle, backend-neutral: where a vserver's files are, what its
//! conf turns into (a `ContextSpec`, IP aliases, a boot command), the host-side
//! work on its tree, its per-vserver lock and state file, and the pieces `stop` and
//! `build` are made of. The applet strings these together and does the printing.
//!
//! Everything that touches the guest's tree from the host resolves paths *inside*
//! the tree (openat2 RESOLVE_IN_ROOT) and never follows a symlink in the last
//! component: a guest's root can plant `var/run -> /etc` (Debian's own is
//! `var/run -> /run`), and the original's `rm var/run/*` on the host would then
//! have cleared the host's directory.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, FlockOperation, Mode, OFlags};

pub mod alias;
pub mod boot;
pub mod build;
pub mod conf;
pub mod tree;

pub mod lifecycle;

pub use crate::engine::network::alias::Alias;
pub use alias::{ipv4root_of, plan_aliases};
pub use boot::{boot_plan, chkconfig_links, initdefault, prepare_tree, runlevel_record, BootPlan};
pub use build::{build_cleanup, copy_tree, is_empty_dir, run_visible};
pub use tree::{lookup_user, Tree, GUEST_FILE_MAX};

use crate::engine::context::cgroups::CgroupSet;
use crate::engine::context::registry::{Entry, Registry};
use crate::engine::context::spec::{ContextSpec, Flags, Rlimit};
use crate::engine::network::ipv4root::IpRoot;
use conf::{LimitKind, VserverConf};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Result};
use crate::sys::process::{self, Forked};
use crate::sys::file;

/// PATH inside a vserver (the vserver script's, without X11R6).
pub const GUEST_PATH: &str = "PATH=/sbin:/usr/sbin:/bin:/usr/bin";
/// The run level when the guest's inittab names none.
pub const DEFAULT_RUNLEVEL: u8 = 3;
/// How long `stop` waits after SIGTERM before SIGKILL.
pub const STOP_GRACE_MS: u64 = 5000;

// ---------------------------------------------------------------------------------
// Where things are
// ---------------------------------------------------------------------------------

/// The three places a vserver lives: its conf, its tree, its run state.
#[derive(Clone, Debug)]
pub struct Paths {
    /// VSBOX_CONFDIR, default /etc/vservers.
    pub confdir: String,
    /// VSBOX_ROOTDIR, default /vservers.
    pub rootdir: String,
    /// The registry's run directory; vserver state goes to `<rundir>/vserver/`.
    pub rundir: String,
}

impl Paths {
    pub fn conf(&self, name: &str) -> String {
        format!("{}/{name}.conf", self.confdir)
    }
    pub fn root(&self, name: &str) -> String {
        format!("{}/{name}", self.rootdir)
    }
    pub fn state_dir(&self) -> String {
        format!("{}/vserver", self.rundir)
    }
    pub fn lock(&self, name: &str) -> String {
        format!("{}/vserver/{name}.lock", self.rundir)
    }
    /// The output of the vserver's last start (its rc program), the last
    /// `LOG_MAX` bytes.
    pub fn log(&self, name: &str) -> String {
        format!("{}/{name}.log", self.rundir)
    }
}

/// A vserver name: a file name (no '/', not '.' or '..', no leading '.'), printable,
/// at most 64 bytes. Returns why not.
pub fn check_name(name: &str) -> core::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.contains('/') || name.contains("..") {
        return Err("a name may not contain '/' or '..'");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err("a name may not start with '.' or '-'");
    }
    if name.len() > 64 {
        return Err("a name is at most 64 bytes");
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) || name.contains(':') {
        return Err("a name is printable ASCII without blanks or ':'");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The per-vserver lock
// ---------------------------------------------------------------------------------

/// `flock` on `<rundir>/vserver/NAME.lock`, held while a vserver is started, stopped
/// or checked for a start. The file may be unlinked by its holder (at stop); a
/// waiter that then gets the lock of an unlinked file tries again.
pub struct VsLock {
    fd: OwnedFd,
    path: String,
}

impl VsLock {
    pub fn acquire(paths: &Paths, name: &str) -> Result<VsLock> {
        file::mkdir_p(&paths.state_dir(), 0o700).ctx("create the vserver state directory")?;
        let path = paths.lock(name);
        loop {
            let fd = fs::open(path.as_str(), OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC, Mode::from_raw_mode(0o600))
                .ctx("open the vserver's lock file")?;
            fs::flock(&fd, FlockOperation::LockExclusive).ctx("lock the vserver")?;
            let held = fs::fstat(&fd).ctx("check the vserver's lock file")?;
            match fs::stat(path.as_str()) {
                Ok(now) if now.st_ino == held.st_ino && now.st_dev == held.st_dev => return Ok(VsLock { fd, path }),
                _ => continue,
            }
        }
    }

    /// Unlink the lock file (nothing of this vserver is left) and unlock.
    pub fn remove(self) {
        let _ = fs::unlink(self.path.as_str());
    }

    /// The descriptor, to hand the lock over to another process (see `hand_over`).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Keep the lock held by a helper process until `release` gets a byte or its last
/// writer closes, so the caller can go on (and block on a long boot) without
/// holding the lock. Returns the write end: write a byte to it (or drop every copy)
/// to release the lock.
pub fn hand_over(lock: VsLock) -> Result<(OwnedFd, rustix::process::Pid)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe")?;
    match process::fork()? {
        Forked::Child => {
            drop(w);
            let mut b = [0u8; 1];
            let _ = file::read_fd_into(&r, &mut b);
            drop(lock);
            process::exit_now(0);
        }
        Forked::Parent(pid) => {
            drop(r);
            drop(lock);
            Ok((w, pid))
        }
    }
}

pub use crate::engine::network::alias::dotted;

// ---------------------------------------------------------------------------------
// The context a conf describes
// ---------------------------------------------------------------------------------

/// The capabilities a vserver runs without: always the secure set (§3.2), plus
/// S_CAPS' `!CAP_X`, less its `CAP_X`.
pub fn remove_of(conf: &VserverConf) -> CapSet {
    CapSet::SECURE_REMOVE.union(conf.caps_remove).minus(conf.caps_keep)
}

/// S_FLAGS as context flags: `minit` is fakeinit, `namespace` is what every vsbox
/// context has anyway (a private mount namespace); a vserver is always secure.
pub fn flags_of(conf: &VserverConf) -> Flags {
    let kept = [Flags::LOCK, Flags::SCHED, Flags::NPROC, Flags::PRIVATE, Flags::FAKEINIT, Flags::HIDEINFO, Flags::ULIMIT];
    let mut f = kept.into_iter().filter(|k| conf.flags.has(*k)).fold(Flags::SECURE, Flags::with);
    if conf.flags.has(Flags::MINIT) {
        f = f.with(Flags::FAKEINIT);
    }
    f
}

/// ULIMIT as setrlimit calls. A hard limit given alone also lowers the soft limit
/// when that is higher, which the kernel demands (soft ≤ hard) and `ulimit -H`
/// would otherwise refuse.
pub fn rlimits_of(conf: &VserverConf) -> Vec<Rlimit> {
    let mut out = Vec::new();
    for u in &conf.ulimits {
        let (soft, hard) = match u.which {
            LimitKind::Soft => (Some(u.value), None),
            LimitKind::Both => (Some(u.value), Some(u.value)),
            LimitKind::Hard => {
                let cur = rustix::process::getrlimit(u.resource).current;
                let lower = match (cur, u.value) {
                    (None, Some(_)) => true,
                    (Some(c), Some(h)) => c > h,
                    _ => false,
                };
                (lower.then_some(u.value), Some(u.value))
            }
        };
        out.push(Rlimit { resource: u.resource as u32, soft, hard });
    }
    out
}

/// The ContextSpec of vserver NAME with root tree `root`.
pub fn context_spec(name: &str, root: &str, conf: &VserverConf, ipv4root: Option<IpRoot>) -> ContextSpec {
    let flags = flags_of(conf);
    ContextSpec {
        id: conf.context,
        name: Some(name.to_owned()),
        flags,
        remove: remove_of(conf),
        hostname: conf.hostname.clone(),
        domainname: conf.domainname.as_deref().map(|d| if d == "none" { String::new() } else { d.to_owned() }),
        rlimits: rlimits_of(conf),
        nice: conf.nice,
        root: Some(root.to_owned()),
        disconnect: flags.has(Flags::FAKEINIT),
        own_net: false,
        ipv4root,
        user: None,
        aliases: Vec::new(),
        profile: conf.profile.clone(),
        temporary: false,
    }
}

/// The environment a vserver's programs start with: a fixed PATH, the caller's
/// TERM, and the vserver's PROFILE and HOSTNAME (as the script exported them).
pub fn guest_env(conf: &VserverConf, profile: Option<&str>, term: Option<&str>, extra: &[(&str, &str)]) -> Vec<String> {
    let mut env = Vec::from([String::from(GUEST_PATH), String::from("HOME=/root")]);
    if let Some(t) = term.filter(|t| !t.is_empty()) {
        env.push(format!("TERM={t}"));
    }
    if let Some(p) = profile.filter(|p| !p.is_empty()) {
        env.push(format!("PROFILE={p}"));
    }
    if let Some(h) = &conf.hostname {
        env.push(format!("HOSTNAME={h}"));
    }
    for (k, v) in extra {
        env.push(format!("{k}={v}"));
    }
    env
}

// ---------------------------------------------------------------------------------
// A running vserver's processes
// ---------------------------------------------------------------------------------

/// The context's cgroups, as its entry records them (no mount scan).
fn set_of(reg: &Registry, id: u32) -> Option<CgroupSet> {
    reg.read(id).map(|e| e.cgroups).filter(|c| !c.dirs.is_empty())
}

/// The host pids in context `id` (from its cgroup2 directory).
pub fn pids(reg: &Registry, id: u32) -> Vec<i32> {
    let Some(set) = set_of(reg, id) else { return Vec::new() };
    let Some(v2) = set.v2() else { return Vec::new() };
    let Ok(text) = file::read_to_vec(format!("{v2}/cgroup.procs").as_str()) else { return Vec::new() };
    core::str::from_utf8(&text).unwrap_or("").lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// SIGTERM to every process of the vserver except its init. Each pid is pinned
/// with a pidfd and checked to still be in the context's cgroup before the signal,
/// so a pid reused by a host process is never hit. Returns how many were signalled.
pub fn terminate_others(reg: &Registry, e: &Entry) -> usize {
    let Some(set) = set_of(reg, e.id) else { return 0 };
    let Some(v2) = set.v2().map(str::to_owned) else { return 0 };
    let Some(h) = set.dirs.iter().find(|d| d.hierarchy.v2).map(|d| d.hierarchy.clone()) else { return 0 };
    let mut n = 0;
    for pid in pids(reg, e.id) {
        if pid == e.init {
            continue;
        }
        let Some(p) = rustix::process::Pid::from_raw(pid) else { continue };
        let Ok(pfd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) else { continue };
        let Ok(cg) = file::read_to_vec(format!("/proc/{pid}/cgroup").as_str()) else { continue };
        let member = crate::sys::cgroup::own_path(&h, core::str::from_utf8(&cg).unwrap_or(""))
            .map(|path| crate::sys::cgroup::dir_of(&h, &path))
            .is_some_and(|d| d == v2 || d.starts_with(&format!("{v2}/")));
        if member && rustix::process::pidfd_send_signal(&pfd, rustix::process::Signal::TERM).is_ok() {
            n += 1;
        }
    }
    n
}

/// Wait until only the init (or nothing) is left in the context, up to `ms`.
pub fn wait_for_others(reg: &Registry, e: &Entry, ms: u64) -> bool {
    let mut waited = 0;
    loop {
        if !reg.alive(e) || pids(reg, e.id).iter().all(|&p| p == e.init) {
            return true;
        }
        if waited >= ms {
            return false;
        }
        let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 0, tv_nsec: 50_000_000 });
        waited += 50;
    }
}

/// Seconds since the context's init started.
/// How long the context has run, in centiseconds (its init's start time is in
/// clock ticks since boot, which are centiseconds on Linux).
pub fn uptime_cs(e: &Entry) -> u64 {
    let mut buf = [0u8; 64];
    let n = file::read_into("/proc/uptime", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    let up = text.split(' ').next().unwrap_or("0");
    let (s, frac) = up.split_once('.').unwrap_or((up, "0"));
    let now = s.parse::<u64>().unwrap_or(0) * 100 + frac.get(..2).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    now.saturating_sub(e.start)
}

pub fn uptime_secs(e: &Entry) -> u64 {
    let mut buf = [0u8; 64];
    let n = file::read_into("/proc/uptime", &mut buf).unwrap_or(0);
    let up = core::str::from_utf8(&buf[..n]).ok().and_then(|s| s.split(['.', ' ']).next()?.parse::<u64>().ok()).unwrap_or(0);
    up.saturating_sub(e.start / 100)
}

/// `[D days ]HH:MM`, as the original's filetime.
pub fn fmt_uptime(secs: u64) -> String {
    let days = secs / 86400;
    let (h, m) = ((secs % 86400) / 3600, (secs % 3600) / 60);
    if days > 0 { format!("{days} days {h:02}:{m:02}") } else { format!("{h:02}:{m:02}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::conf::IpRoot as ConfIpRoot;
    use crate::engine::vserver::conf::IpEntry;

    fn conf_with(iproot: ConfIpRoot, dev: Option<&str>) -> VserverConf {
        VserverConf { iproot, iprootdev: dev.map(str::to_owned), ..VserverConf::default() }
    }

    #[test]
    fn names() {
        for bad in ["", "a/b", "..", "a..b", ".x", "-x", "a b", "a:b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["web", "db-1", "x.y", "A_B"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn alias_labels_advance_per_entry() {
        let e = |dev: Option<&str>, a: [u8; 4]| IpEntry { dev: dev.map(str::to_owned), addr: a, prefix: None };
        let c = conf_with(ConfIpRoot::List(vec![e(None, [10, 0, 0, 1]), e(Some("eth1"), [10, 0, 1, 1]), e(None, [10, 0, 0, 3])]), Some("eth0"));
        let p = plan_aliases("web", &c).unwrap();
        let labels: Vec<&str> = p.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["eth0:web", "eth1:web1", "eth0:web2"]);
        assert_eq!(p[0].prefix, 24);
        assert_eq!(p[0].bcast, Some([10, 0, 0, 255]));
        let c = conf_with(ConfIpRoot::List(vec![e(None, [10, 0, 0, 1])]), None);
        assert!(plan_aliases("web", &c).unwrap().is_empty(), "no device, no alias");
        let c = conf_with(ConfIpRoot::List(vec![e(None, [10, 0, 0, 1])]), Some("enp0s31f6"));
        assert!(plan_aliases("longname", &c).unwrap_err().contains("enp0s31f6:longname"));
    }

    #[test]
    fn flags_and_caps() {
        let mut c = VserverConf {
            flags: Flags::LOCK.with(Flags::NPROC).with(Flags::MINIT).with(Flags::NAMESPACE),
            ..VserverConf::default()
        };
        let f = flags_of(&c);
        assert!(f.has(Flags::LOCK) && f.has(Flags::NPROC) && f.has(Flags::FAKEINIT) && f.has(Flags::SECURE));
        c.caps_keep = CapSet::bit(13);
        c.caps_remove = CapSet::bit(18);
        let r = remove_of(&c);
        assert!(!r.has(13) && r.has(18) && r.has(21));
    }

    #[test]
    fn uptime_format() {
        assert_eq!(fmt_uptime(59), "00:00");
        assert_eq!(fmt_uptime(3 * 3600 + 7 * 60), "03:07");
        assert_eq!(fmt_uptime(2 * 86400 + 60), "2 days 00:01");
    }

    #[test]
    fn utmp_record() {
        let r = runlevel_record(3);
        assert_eq!(r.len(), 384);
        assert_eq!(i32::from_ne_bytes([r[4], r[5], r[6], r[7]]), 78 * 256 + 51);
    }
}
