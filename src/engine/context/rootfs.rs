//! The private view every context gets of the filesystem (DESIGN.md, "isolation
//! baseline"), made inside its fresh mount namespace by its first process:
//!
//! - nothing propagates to or from the host (the tree is made private first);
//! - the registry's namespace handles of other contexts are dropped;
//! - its own /proc for the new pid namespace (hidepid=invisible with hideinfo);
//! - /proc/sys, /proc/sysrq-trigger, /proc/irq and /proc/bus read-only, because
//!   sysctl writes are a plain uid-0 check that capabilities do not cover;
//! - no cgroupfs: /sys/fs/cgroup is masked, since a capless root could otherwise
//!   write its pid into any cgroup.procs and leave its context;
//! - with a root tree: a minimal /dev, then pivot_root into the tree;
//! - without one: the run directory masked, /sys read-only, the context's own
//!   devpts instance (with `--secure`: the minimal /dev).

use alloc::format;
use alloc::string::String;

use rustix::mount::MountFlags;

use crate::sys::error::{Context, Result};
use crate::sys::{file, mount};

/// The device nodes of a vserver's /dev: the seed's list without the obsolete
/// initctl, log, reboot and xconsole. ptmx points into the private devpts.
pub const DEV_NODES: [(&str, u32, u32, u32); 7] = [
    ("null", 0o666, 1, 3),
    ("zero", 0o666, 1, 5),
    ("full", 0o666, 1, 7),
    ("random", 0o666, 1, 8),
    ("urandom", 0o666, 1, 9),
    ("tty", 0o666, 5, 0),
    ("ptmx", 0o666, 5, 2),
];

/// /proc files that tell a guest about the host (kernel addresses, other tenants'
/// activity); masked with the hideinfo flag.
const HOST_ONLY: [&str; 10] = [
    "kallsyms", "kcore", "keys", "key-users", "timer_list", "sched_debug", "modules", "iomem", "ioports", "vmallocinfo",
];

/// What the view is made from.
pub struct View<'a> {
    /// The vserver tree; None keeps the host's tree.
    pub root: Option<&'a str>,
    /// The run directory (the registry, its lock, the vservers' state): hidden.
    pub rundir: &'a str,
    /// The registry's own mount below it, dropped from this mount table.
    pub registry: &'a str,
    pub hideinfo: bool,
    /// A `--secure` context without a root tree gets the minimal /dev too.
    pub secure: bool,
}

/// Set up the context's mount namespace.
pub fn prepare(v: &View<'_>) -> Result<()> {
    mount::make_private_recursive("/")?;
    // The registry's tmpfs is of no use inside.
    let _ = mount::unmount_detach(v.registry);
    let base = match v.root {
        Some(r) => {
            mount::bind(r, r, true, "bind the vserver root onto itself")?;
            r
        }
        None => "",
    };
    let proc_dir = format!("{base}/proc");
    file::mkdir_p(&proc_dir, 0o555).ctx("create /proc in the vserver")?;
    let nosuid = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    mount::mount_fs("proc", &proc_dir, nosuid, if v.hideinfo { "hidepid=invisible" } else { "" }, "mount the context's /proc")?;
    for p in ["sys", "sysrq-trigger", "irq", "bus"] {
        mount::make_readonly(&format!("{proc_dir}/{p}"), "make /proc/sys and friends read-only")?;
    }
    if v.hideinfo {
        for f in HOST_ONLY {
            let p = format!("{proc_dir}/{f}");
            if file::exists(&p) {
                mount::bind("/dev/null", &p, false, "mask a host-only /proc file")?;
            }
        }
    }
    mount::mask_dir(&format!("{base}/sys/fs/cgroup"), "hide the host's cgroup filesystem")?;
    match v.root {
        Some(r) => {
            make_dev(r)?;
            rustix::process::chdir(r).ctx("enter the vserver root")?;
            mount::pivot_to_cwd()?;
        }
        None => {
            // Sharing the host's tree, a context still must not reach vsbox's own
            // state (a guest holding the registry lock would stall every command),
            // the kernel's knobs in /sys (a plain uid-0 check, like /proc/sys), or
            // the host's terminals: its own devpts instance, and with --secure a
            // minimal /dev (no raw disks, no consoles).
            mount::mask_dir(v.rundir, "hide the run directory")?;
            mount::make_readonly_recursive("/sys", "make /sys read-only")?;
            if v.secure {
                make_dev("")?;
            } else {
                own_devpts()?;
            }
        }
    }
    Ok(())
}

/// A devpts instance of the context's own on the host's /dev/pts, its ptmx over
/// /dev/ptmx: the host's ptys (the admin's terminal) are out of sight.
fn own_devpts() -> Result<()> {
    let opts = "newinstance,ptmxmode=0666,mode=0620,gid=5";
    match mount::mount_fs("devpts", "/dev/pts", MountFlags::NOSUID | MountFlags::NOEXEC, opts, "mount a private devpts") {
        Err(e) if e.errno == rustix::io::Errno::NOENT => return Ok(()),
        r => r?,
    }
    mount::bind("/dev/pts/ptmx", "/dev/ptmx", false, "put the private devpts's ptmx on /dev/ptmx")
}

/// A minimal /dev on a small tmpfs: the nodes above, a private devpts instance,
/// /dev/shm, and the fd links.
fn make_dev(root: &str) -> Result<()> {
    let dev = format!("{root}/dev");
    file::mkdir_p(&dev, 0o755).ctx("create /dev in the vserver")?;
    mount::mount_fs("tmpfs", &dev, MountFlags::NOSUID | MountFlags::NOEXEC, "mode=755,size=64k", "mount the vserver's /dev")?;
    for (name, mode, major, minor) in DEV_NODES {
        if name == "ptmx" {
            continue;
        }
        mount::mknod_char(&format!("{dev}/{name}"), mode, major, minor).ctx("create a device node in /dev")?;
    }
    let pts = format!("{dev}/pts");
    file::mkdir_p(&pts, 0o755).ctx("create /dev/pts")?;
    mount::mount_fs("devpts", &pts, MountFlags::NOSUID | MountFlags::NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", "mount a private devpts")?;
    let link = |target: &str, name: &str| -> Result<()> {
        rustix::fs::symlink(target, format!("{dev}/{name}").as_str()).ctx("create a /dev link")
    };
    link("pts/ptmx", "ptmx")?;
    let shm = format!("{dev}/shm");
    file::mkdir_p(&shm, 0o1777).ctx("create /dev/shm")?;
    mount::mount_fs("tmpfs", &shm, MountFlags::NOSUID | MountFlags::NODEV, "mode=1777,size=64m", "mount /dev/shm")?;
    link("/proc/self/fd", "fd")?;
    link("/proc/self/fd/0", "stdin")?;
    link("/proc/self/fd/1", "stdout")?;
    link("/proc/self/fd/2", "stderr")?;
    Ok(())
}

/// The names `ls /dev` shows inside a vserver, sorted (for tests and docs).
pub fn dev_listing() -> String {
    String::from("fd full null ptmx pts random shm stderr stdin stdout tty urandom zero")
}
