//! How a guest boots and shuts down: its run level, its rc program, the
//! host-side preparation of its tree, and its services' rc?.d links.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rustix::fs::{self};

use super::conf::VserverConf;
use super::tree::Tree;
use super::DEFAULT_RUNLEVEL;
use crate::engine::context::spec::Flags;

/// The default run level: the second field of inittab's `:initdefault:` line.
pub fn initdefault(tree: &Tree) -> u8 {
    let Ok(text) = tree.read("etc/inittab") else { return DEFAULT_RUNLEVEL };
    for line in String::from_utf8_lossy(&text).lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 3
            && f[2] == "initdefault"
            && !line.trim_start().starts_with('#')
            && let Some(d) = f[1].bytes().next().filter(|b| b.is_ascii_digit())
        {
            return d - b'0';
        }
    }
    DEFAULT_RUNLEVEL
}

/// How a vserver boots and halts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootPlan {
    /// The start command (run as PID 1 with fakeinit, else under the vsbox init).
    pub start: Vec<String>,
    /// The command `stop` runs in the vserver before the signals.
    pub stop: Vec<String>,
    pub runlevel: u8,
    /// Whether the start command is the guest's own init (fakeinit/minit).
    pub init: bool,
}

/// The guest's rc program, in the order the script looked (Debian's
/// /etc/init.d/rc, Red Hat's /etc/rc.d/rc, Gentoo's /sbin/rc, Slackware's rc.M).
fn rc_program(tree: &Tree, level: &str, stop: bool) -> Option<Vec<String>> {
    let v = |a: &[&str]| Some(a.iter().map(|s| s.to_string()).collect());
    if tree.is_executable("etc/init.d/rc") {
        return v(&["/etc/init.d/rc", level]);
    }
    if tree.is_executable("etc/rc.d/rc") {
        return v(&["/etc/rc.d/rc", level]);
    }
    if tree.is_executable("sbin/rc") && tree.is_file("usr/bin/emerge") {
        return v(&["/sbin/rc", if stop { "shutdown" } else { "default" }]);
    }
    if !stop && tree.is_executable("etc/rc.d/rc.M") {
        return v(&["/etc/rc.d/rc.M"]);
    }
    if stop && tree.is_executable("etc/rc.d/rc.6") {
        return v(&["/etc/rc.d/rc.6"]);
    }
    None
}

/// When the guest has rc?.d directories but no rc program (Debian minbase), vsbox
/// runs them itself through the guest's /bin/sh: the S* scripts of the run level
/// with `start`, or the K* scripts of level 6 with `stop`.
fn builtin_rc(tree: &Tree, level: u8, stop: bool) -> Option<Vec<String>> {
    if !tree.is_executable("bin/sh") {
        return None;
    }
    let base = if tree.is_dir("etc/rc.d/rc3.d") { "/etc/rc.d" } else { "/etc" };
    let script = if stop {
        format!("for s in {base}/rc6.d/K*; do [ -x \"$s\" ] && \"$s\" stop; done; exit 0")
    } else {
        format!("for s in {base}/rc{level}.d/S*; do [ -x \"$s\" ] && \"$s\" start; done; exit 0")
    };
    Some(Vec::from([String::from("/bin/sh"), String::from("-c"), script]))
}

/// Decide how the vserver boots (§9.5 start step 8-9, stop step 2).
pub fn boot_plan(tree: &Tree, conf: &VserverConf) -> core::result::Result<BootPlan, String> {
    let runlevel = initdefault(tree);
    let lv = format!("{runlevel}");
    let stop = rc_program(tree, "6", true).or_else(|| builtin_rc(tree, runlevel, true)).unwrap_or_default();
    if conf.flags.has(Flags::MINIT) {
        if !tree.is_executable("sbin/minit-start") {
            return Err(format!("S_FLAGS has minit, but {}/sbin/minit-start is missing", tree.path));
        }
        let stop = Vec::from([String::from("/sbin/minit-stop")]);
        return Ok(BootPlan { start: Vec::from([String::from("/sbin/minit-start")]), stop, runlevel, init: true });
    }
    if conf.flags.has(Flags::FAKEINIT) {
        if !tree.is_executable("sbin/init") {
            return Err(format!("S_FLAGS has fakeinit, but {}/sbin/init is missing", tree.path));
        }
        return Ok(BootPlan { start: Vec::from([String::from("/sbin/init")]), stop, runlevel, init: true });
    }
    let start = rc_program(tree, &lv, false).or_else(|| builtin_rc(tree, runlevel, false)).ok_or_else(|| {
        format!("{} has no rc program (/etc/init.d/rc, /etc/rc.d/rc) and no /bin/sh to run its rc{runlevel}.d scripts", tree.path)
    })?;
    Ok(BootPlan { start, stop, runlevel, init: false })
}

/// A utmp RUN_LVL record (sysvinit's layout on 64-bit Linux, 384 bytes), so that
/// `runlevel` and rc scripts inside see the level (the original's fakerunlevel).
pub fn runlevel_record(level: u8) -> [u8; 384] {
    let mut r = [0u8; 384];
    r[0..2].copy_from_slice(&1i16.to_ne_bytes()); // RUN_LVL
    let pid = (b'N' as i32) * 256 + (b'0' + level) as i32;
    r[4..8].copy_from_slice(&pid.to_ne_bytes());
    r[8] = b'~';
    r[40] = b'~';
    r[41] = b'~';
    r[44..52].copy_from_slice(b"runlevel");
    r
}

/// The host-side preparation of the tree before a start (§9.5 start steps 5-6,
/// 10): etc/PROFILE, stale files under var/run and var/lock/subsys gone, a fresh
/// var/run/utmp with the run level. Failures here are not fatal to the start.
pub fn prepare_tree(tree: &Tree, profile: Option<&str>, runlevel: u8, init: bool) {
    if let Some(p) = profile.filter(|p| !p.is_empty()) {
        let _ = tree.write("etc/PROFILE", format!("export PROFILE={p}\n").as_bytes(), 0o644);
    }
    tree.clear("var/run", true);
    tree.clear("var/lock/subsys", false);
    if init {
        let _ = tree.write("var/run/utmp", b"", 0o664);
    } else {
        let _ = tree.write("var/run/utmp", &runlevel_record(runlevel), 0o664);
    }
}

// ---------------------------------------------------------------------------------
// chkconfig through the rc?.d links
// ---------------------------------------------------------------------------------

/// Enable (`S20SERVICE`) or disable (`K80SERVICE`) SERVICE in the given run levels
/// by its rc?.d links, for guests without chkconfig and update-rc.d. The service
/// must exist in the guest's init.d. Returns the directory of the scripts.
pub fn chkconfig_links(tree: &Tree, service: &str, on: bool, levels: &str) -> core::result::Result<(), String> {
    if service.is_empty() || service.contains('/') || service.starts_with('.') {
        return Err(format!("'{service}' is not a service name"));
    }
    let (initd, base) = if tree.is_file(&format!("etc/init.d/{service}")) {
        ("../init.d", "etc")
    } else if tree.is_file(&format!("etc/rc.d/init.d/{service}")) {
        ("../init.d", "etc/rc.d")
    } else {
        return Err(format!("there is no service {service} in {}/etc/init.d", tree.path));
    };
    for l in levels.chars() {
        let dir = format!("{base}/rc{l}.d");
        tree.mkdir(&dir, 0o755).map_err(|e| format!("{}/{dir}: {}", tree.path, crate::sys::ErrnoText(e)))?;
        for n in tree.list(&dir) {
            if is_link_of(&n, service) {
                tree.unlink(&format!("{dir}/{n}"));
            }
        }
        let link = if on { format!("S20{service}") } else { format!("K80{service}") };
        let fd = tree.dir(&dir).map_err(|e| format!("{}/{dir}: {}", tree.path, crate::sys::ErrnoText(e)))?;
        fs::symlinkat(format!("{initd}/{service}").as_str(), &fd, link.as_str())
            .map_err(|e| format!("{}/{dir}/{link}: {}", tree.path, crate::sys::ErrnoText(e)))?;
    }
    Ok(())
}

/// One rc?.d link of a service: its directory, name and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceLink {
    pub dir: String,
    pub name: String,
    pub target: String,
}

fn is_link_of(n: &str, service: &str) -> bool {
    n.len() > 3 && (n.starts_with('S') || n.starts_with('K')) && n[3..] == *service && n[1..3].bytes().all(|b| b.is_ascii_digit())
}

const RC_DIRS: [&str; 8] = ["rc0.d", "rc1.d", "rc2.d", "rc3.d", "rc4.d", "rc5.d", "rc6.d", "rcS.d"];

/// Every rc?.d link of SERVICE (etc/rc?.d), to put back after a failed change.
pub fn service_links(tree: &Tree, service: &str) -> Vec<ServiceLink> {
    let mut out = Vec::new();
    for d in RC_DIRS {
        let dir = format!("etc/{d}");
        let Ok(fd) = tree.dir(&dir) else { continue };
        for n in tree.list(&dir) {
            if !is_link_of(&n, service) {
                continue;
            }
            if let Ok(t) = fs::readlinkat(&fd, n.as_str(), Vec::new()) {
                out.push(ServiceLink { dir: dir.clone(), name: n, target: t.to_string_lossy().into_owned() });
            }
        }
    }
    out
}

/// Make SERVICE's rc?.d links exactly `links` again.
pub fn restore_service_links(tree: &Tree, service: &str, links: &[ServiceLink]) {
    for d in RC_DIRS {
        let dir = format!("etc/{d}");
        for n in tree.list(&dir) {
            if is_link_of(&n, service) {
                tree.unlink(&format!("{dir}/{n}"));
            }
        }
    }
    for l in links {
        if let Ok(fd) = tree.dir(&l.dir) {
            let _ = fs::symlinkat(l.target.as_str(), &fd, l.name.as_str());
        }
    }
}
