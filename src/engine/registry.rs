//! The registry of live contexts under the run directory (/run/vsbox):
//!
//! ```text
//! lock                 flock(2)ed while numbers are handed out or entries cleared
//! ctx/                 a private tmpfs while any context exists (see `ensure_mount`)
//! ctx/N/info           "key value" lines: ctx, name, init, start, boot, keeper, flags, remove,
//!                      and one `cgroup DIR` line per hierarchy (so a join needs no mount scan)
//! ctx/N/ns/{cgroup,ipc,uts,net,pid,mnt}   the namespaces, bind-mounted as `ip netns` does
//! ```
//!
//! An entry is trusted only while its init lives: same boot (boot_id), same pid, same
//! start time. Anything else is stale and is cleared by the next command that looks.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rustix::fd::OwnedFd;
use rustix::fs::{self, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::cgroups::{self, CgroupSet};
use super::spec::{Flags, Settings, MAX_CTX};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Error, Result};
use crate::sys::{file, mount, ns};

/// What the registry knows of one context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub id: u32,
    pub name: String,
    /// Host pid and start time (clock ticks since boot) of the context's init;
    /// 0 while the context is being set up.
    pub init: i32,
    pub start: u64,
    pub boot: String,
    /// The host-side process that set the context up and clears it when it dies.
    pub keeper: i32,
    pub keeper_start: u64,
    pub flags: Flags,
    pub remove: CapSet,
    /// The namespaces that were made for it (CLONE_NEW* bits); 0 for a
    /// network-only context (chbind outside any context).
    pub namespaces: u64,
    /// Its ipv4root as `IpRoot::render` writes it; empty when untied.
    pub ips: String,
    /// With the ulimit flag: the limits every process of the context gets, joiners
    /// included (`Rlimit::render`).
    pub rlimits: String,
    /// Its cgroup directories, one per hierarchy, as they were made.
    pub cgroups: Vec<String>,
}

impl Entry {
    pub fn render(&self) -> String {
        let mut flags = String::new();
        self.flags.write_names(&mut flags);
        let mut text = format!(
            "ctx {}\nname {}\ninit {}\nstart {}\nboot {}\nkeeper {}\nkeeper_start {}\nflags {}\nremove {:#x}\nnamespaces {:#x}\nips {}\nrlimits {}\n",
            self.id, self.name, self.init, self.start, self.boot, self.keeper, self.keeper_start, flags, self.remove.0, self.namespaces, self.ips, self.rlimits
        );
        for dir in &self.cgroups {
            text.push_str("cgroup ");
            text.push_str(dir);
            text.push('\n');
        }
        text
    }

    /// Whether `other` is this entry's context at the same stage (same creator or
    /// keeper, same init), not a later context that got the number.
    pub fn same_as(&self, other: &Entry) -> bool {
        self.keeper == other.keeper && self.keeper_start == other.keeper_start && self.init == other.init
    }

    pub fn parse(text: &str) -> Entry {
        let mut e = Entry::default();
        for line in text.lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            let hex = |v: &str| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(0);
            match k {
                "ctx" => e.id = v.parse().unwrap_or(0),
                "name" => e.name = v.to_string(),
                "init" => e.init = v.parse().unwrap_or(0),
                "start" => e.start = v.parse().unwrap_or(0),
                "boot" => e.boot = v.to_string(),
                "keeper" => e.keeper = v.parse().unwrap_or(0),
                "keeper_start" => e.keeper_start = v.parse().unwrap_or(0),
                "flags" => e.flags = Flags::from_names(v),
                "remove" => e.remove = CapSet(hex(v)),
                "namespaces" => e.namespaces = hex(v),
                "ips" => e.ips = v.to_string(),
                "rlimits" => e.rlimits = v.to_string(),
                "cgroup" => e.cgroups.push(v.to_string()),
                _ => {}
            }
        }
        e
    }
}

/// This boot's identity, so entries left on a disk-backed /run by an earlier boot
/// are recognised as stale.
pub fn boot_id() -> String {
    let mut buf = [0u8; 64];
    let n = file::read_into("/proc/sys/kernel/random/boot_id", &mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).trim().to_string()
}

/// The start time (field 22 of /proc/PID/stat) of a live process, or None. A
/// zombie is not live: an init that has exited has ended its context, even while
/// its parent has not reaped it yet.
pub fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let mut buf = [0u8; 1024];
    let path = format!("/proc/{pid}/stat");
    let n = file::read_into(path.as_str(), &mut buf).ok()?;
    let text = core::str::from_utf8(&buf[..n]).ok()?;
    // The command name may hold spaces and parentheses: count from the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    if rest.starts_with(['Z', 'X']) {
        return None;
    }
    rest.split(' ').nth(19)?.parse().ok()
}

/// The registry of one run directory.
pub struct Registry {
    pub settings: Settings,
    /// This boot's id, read once: every liveness check compares against it.
    boot: String,
}

/// Held while the registry is locked; unlocks on drop.
pub struct Lock(#[allow(dead_code)] OwnedFd);

impl Registry {
    pub fn new(settings: Settings) -> Registry {
        Registry { settings, boot: boot_id() }
    }

    /// This boot's id (see `boot_id`), for new entries.
    pub fn boot(&self) -> &str {
        &self.boot
    }

    /// The directory holding the entries (a mount point while contexts exist).
    pub fn entries_dir(&self) -> String {
        format!("{}/ctx", self.settings.rundir)
    }

    pub fn ctx_dir(&self, n: u32) -> String {
        format!("{}/ctx/{n}", self.settings.rundir)
    }

    /// Take the registry lock (creating the run directory on first use).
    pub fn lock(&self) -> Result<Lock> {
        file::mkdir_p(&self.entries_dir(), 0o700).ctx("create the registry directory")?;
        let fd = fs::open(
            format!("{}/lock", self.settings.rundir).as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .ctx("open the registry lock")?;
        fs::flock(&fd, FlockOperation::LockExclusive).ctx("lock the registry")?;
        Ok(Lock(fd))
    }

    /// The context numbers with an entry (live or not), ascending.
    pub fn ids(&self) -> Vec<u32> {
        let mut ids = Vec::new();
        let Ok(fd) = file::open_read(self.entries_dir().as_str()) else { return ids };
        let Ok(mut d) = fs::Dir::read_from(&fd) else { return ids };
        while let Some(Ok(ent)) = d.next() {
            if let Some(n) = ent.file_name().to_str().ok().and_then(|s| s.parse::<u32>().ok()) {
                ids.push(n);
            }
        }
        ids.sort_unstable();
        ids
    }

    /// Read entry N as it is on disk (live or stale).
    pub fn read(&self, n: u32) -> Option<Entry> {
        let text = file::read_to_vec(format!("{}/info", self.ctx_dir(n)).as_str()).ok()?;
        let e = Entry::parse(core::str::from_utf8(&text).ok()?);
        (e.id == n).then_some(e)
    }

    pub fn write(&self, e: &Entry) -> Result<()> {
        file::write_atomic(&self.ctx_dir(e.id), "info", e.render().as_bytes(), 0o600)
    }

    /// Whether an entry describes something that still exists: its init (or, while
    /// it is being set up, its keeper) runs, with the recorded start time, in this boot.
    pub fn alive(&self, e: &Entry) -> bool {
        if e.boot != self.boot {
            return false;
        }
        if e.namespaces == 0 && e.init > 0 {
            // A network-only context lives while its cgroup has members (daemons the
            // command left behind keep it), or while its creator still sets it up.
            if start_time(e.init) == Some(e.start) {
                return true;
            }
            return cgroups::parents(&self.settings.cgroup_parent, &self.settings.rundir)
                .map(|p| CgroupSet::of(&p, e.id).populated())
                .unwrap_or(false);
        }
        if e.init > 0 {
            start_time(e.init) == Some(e.start)
        } else {
            e.keeper > 0 && start_time(e.keeper) == Some(e.keeper_start)
        }
    }

    /// A live entry by number.
    pub fn find(&self, n: u32) -> Option<Entry> {
        self.judge(n).and_then(|(e, alive)| alive.then_some(e))
    }

    /// Entry N as it stands, and whether it is alive. An entry that looks dead is
    /// read again before the verdict: while a context is set up, its creator
    /// stands for it until the keeper has recorded the init, and the creator may
    /// exit right after, between a read and the liveness check.
    fn judge(&self, n: u32) -> Option<(Entry, bool)> {
        let mut e = self.read(n)?;
        loop {
            if self.alive(&e) {
                return Some((e, true));
            }
            let again = self.read(n)?;
            if again == e {
                return Some((e, false));
            }
            e = again;
        }
    }

    /// A live entry by name.
    pub fn find_name(&self, name: &str) -> Option<Entry> {
        self.ids().into_iter().filter_map(|n| self.find(n)).find(|e| e.name == name)
    }

    /// Every live entry, ascending.
    pub fn list(&self) -> Vec<Entry> {
        self.ids().into_iter().filter_map(|n| self.find(n)).collect()
    }

    /// Claim a number (the given one, or the lowest free from 2 up) by creating its
    /// directory. Call with the lock held, after `sweep`.
    pub fn reserve(&self, want: Option<u32>) -> Result<u32> {
        let try_one = |n: u32| -> core::result::Result<(), Errno> {
            fs::mkdir(self.ctx_dir(n).as_str(), Mode::from_raw_mode(0o700))
        };
        match want {
            Some(n) => match try_one(n) {
                Ok(()) => Ok(n),
                Err(Errno::EXIST) => Err(Error::new("create the context: that number is in use", Errno::EXIST)),
                Err(e) => Err(Error::new("create the context's registry entry", e)),
            },
            None => {
                for n in 2..=MAX_CTX {
                    match try_one(n) {
                        Ok(()) => return Ok(n),
                        Err(Errno::EXIST) => continue,
                        Err(e) => return Err(Error::new("create the context's registry entry", e)),
                    }
                }
                Err(Error::new("allocate a context number: all are in use", Errno::AGAIN))
            }
        }
    }

    /// Clear every stale entry. Call with the lock held.
    pub fn sweep(&self) {
        for n in self.ids() {
            match self.judge(n) {
                Some((_, true)) => {}
                Some((e, false)) => self.clear(&e),
                // A directory without info: a reservation whose creator died before
                // writing it (creators write it at once), or garbage.
                None => self.clear(&Entry { id: n, ..Entry::default() }),
            }
        }
    }

    /// `clear`, unless number N was swept and handed to a new context meanwhile:
    /// then what is on disk is the new context's, and is left alone. Call with the
    /// lock held.
    pub fn clear_own(&self, e: &Entry) {
        match self.read(e.id) {
            Some(cur) if !cur.same_as(e) => {}
            // Swept already, and not reused: clear the rest (idempotent).
            _ => self.clear(e),
        }
    }

    /// Remove everything of context `e`: its processes, namespace mounts, cgroups and
    /// registry entry. Idempotent; call with the lock held.
    pub fn clear(&self, e: &Entry) {
        let dir = self.ctx_dir(e.id);
        if let Ok(parents) = cgroups::parents(&self.settings.cgroup_parent, &self.settings.rundir) {
            let set = CgroupSet::of(&parents, e.id);
            set.kill_all();
            let _ = set.remove();
        }
        for (name, _) in ns::NS_FILES {
            let p = format!("{dir}/ns/{name}");
            let _ = mount::unmount_detach(&p);
            let _ = fs::unlink(p.as_str());
        }
        let _ = fs::rmdir(format!("{dir}/ns").as_str());
        let _ = fs::unlink(format!("{dir}/info").as_str());
        let _ = fs::unlink(format!("{dir}/.info.tmp").as_str());
        let _ = fs::rmdir(dir.as_str());
        if self.ids().is_empty() {
            self.release_mount();
        }
    }

    /// While contexts exist, `ctx/` is a private mount: a new context drops every
    /// other context's namespace handles from its copy of the mount table with one
    /// detach. It is a tmpfs, so entries never touch a disk (/run may sit on one,
    /// as on this project's machines); the lock file stays outside, so the lock is
    /// the same file before and after the mount. When live entries are already
    /// there (network-only contexts made without the privilege to mount), the
    /// directory is bound onto itself instead, hiding nothing. Call with the lock
    /// held, after `sweep`.
    pub fn ensure_mount(&self) -> Result<()> {
        let dir = self.entries_dir();
        if file::is_mount_root(&dir) {
            return Ok(());
        }
        if self.ids().is_empty() {
            let flags = rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV | rustix::mount::MountFlags::NOEXEC;
            mount::mount_fs("tmpfs", &dir, flags, "mode=0700", "mount the registry's tmpfs")?;
        } else {
            mount::bind(&dir, &dir, false, "bind the registry directory onto itself")?;
        }
        rustix::mount::mount_change(dir.as_str(), rustix::mount::MountPropagationFlags::PRIVATE).ctx("make the registry mount private")
    }

    fn release_mount(&self) {
        let dir = self.entries_dir();
        if file::is_mount_root(&dir) {
            let _ = mount::unmount_detach(&dir);
        }
    }

    /// Bind the namespaces of `pid` into entry N.
    pub fn bind_namespaces(&self, n: u32, pid: i32, which: u64) -> Result<()> {
        let dir = format!("{}/ns", self.ctx_dir(n));
        file::mkdir_p(&dir, 0o700).ctx("create the namespace directory")?;
        for (name, flag) in ns::NS_FILES {
            if which & flag.0 == 0 {
                continue;
            }
            let target = format!("{dir}/{name}");
            fs::open(target.as_str(), OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC, Mode::from_raw_mode(0o400))
                .ctx("create a namespace handle")?;
            mount::bind(&format!("/proc/{pid}/ns/{name}"), &target, false, "bind-mount a namespace handle")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::{self, Forked};

    #[test]
    fn a_zombie_has_no_start_time() {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        assert!(start_time(me).is_some(), "a live process has one");
        let child = match process::fork().unwrap() {
            Forked::Child => process::exit_now(0),
            Forked::Parent(p) => p,
        };
        // Wait until it has exited, without reaping it.
        let opts = rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT;
        rustix::process::waitid(rustix::process::WaitId::Pid(child), opts).unwrap();
        assert!(file::exists(&format!("/proc/{}", child.as_raw_nonzero())), "still a zombie");
        assert_eq!(start_time(child.as_raw_nonzero().get()), None);
        rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty()).unwrap();
    }
}
