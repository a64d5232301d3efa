//! The registry of live contexts under the run directory (/run/vsbox):
//!
//! ```text
//! lock            flock(2)ed while numbers are handed out or entries change
//! keeper.sock     the keeper's socket (see `keeper`)
//! ctx/            a private tmpfs while any context exists (see `ensure_mount`)
//! ctx/.map        one bit per context number in use: allocation reads 8 KiB, never the entries
//! ctx/N/info      "key value" lines: ctx, name, init, start, boot, creator, keeper, flags, remove,
//!                 rlimits, nice, and one `cgroup DIR` line per hierarchy (so nothing needs a mount scan)
//! ctx/.names/NAME the number of the live context called NAME
//! ```
//!
//! An entry is trusted only while its init lives: same boot (boot_id), same pid, same
//! start time; while it is being set up, while its creator lives. Anything else is
//! stale, and is cleared by whoever meets it: a lookup of that number or name, an
//! allocation that lands on it, or the few entries each allocation checks in turn
//! (`sweep_some`). No command reads every entry, except the listings, which show
//! every context anyway.
//!
//! There are no namespace handles in the registry: a join opens the init's pidfd
//! (setns on a pidfd, or its /proc/PID/ns files on older kernels) and checks the
//! start time, so the host's mount table does not grow with the contexts.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rustix::fd::OwnedFd;
use rustix::fs::{self, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::cgroups::{CgroupDir, CgroupSet};
use crate::engine::network::alias::{self, Alias};
use super::spec::{Flags, Settings, MAX_CTX};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Error, Result};
use crate::sys::{file, mount};

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
    /// The process that made the context, and its start time: together the
    /// identity of this creation (a later context may reuse the number).
    pub creator: i32,
    pub creator_start: u64,
    /// The host-side keeper that clears the context when its init ends (0: none yet).
    pub keeper: i32,
    pub flags: Flags,
    pub remove: CapSet,
    /// The namespaces that were made for it (CLONE_NEW* bits); 0 for a
    /// network-only context (chbind outside any context).
    pub namespaces: u64,
    /// Its ipv4root as `IpRoot::render` writes it; empty when untied.
    pub ips: String,
    /// The limits every process of the context gets, joiners included
    /// (`Rlimit::render`): the ulimit flag's snapshot, or a vserver's ULIMIT.
    pub rlimits: String,
    /// The niceness increment every joiner gets too (a vserver's S_NICE).
    pub nice: Option<i32>,
    /// Its cgroup directories, one per hierarchy, as they were made.
    pub cgroups: CgroupSet,
    /// IP aliases it owns (a vserver's), removed with it, from `netns` only.
    pub aliases: Vec<Alias>,
    pub netns: u64,
    /// The PROFILE a vserver was started with.
    pub profile: String,
    /// A vserver's temporary context (exec on a stopped vserver), not its start.
    pub temporary: bool,
}

impl Entry {
    pub fn render(&self) -> String {
        let mut flags = String::new();
        self.flags.write_names(&mut flags);
        let mut text = format!(
            "ctx {}\nname {}\ninit {}\nstart {}\nboot {}\ncreator {}\ncreator_start {}\nkeeper {}\nflags {}\nremove {:#x}\nnamespaces {:#x}\nips {}\nrlimits {}\n",
            self.id, self.name, self.init, self.start, self.boot, self.creator, self.creator_start, self.keeper, flags, self.remove.0, self.namespaces, self.ips, self.rlimits
        );
        if let Some(n) = self.nice {
            text.push_str(&format!("nice {n}\n"));
        }
        if !self.profile.is_empty() {
            text.push_str(&format!("profile {}\n", self.profile));
        }
        if self.temporary {
            text.push_str("temporary 1\n");
        }
        if !self.aliases.is_empty() {
            text.push_str(&format!("netns {}\n", self.netns));
        }
        for a in &self.aliases {
            text.push_str("alias ");
            text.push_str(&a.render());
            text.push('\n');
        }
        for d in &self.cgroups.dirs {
            if d.hierarchy.v2 {
                text.push_str("cgroup v2 ");
            } else {
                text.push_str(&format!("cgroup v1:{} ", d.hierarchy.controllers));
            }
            text.push_str(&d.path);
            text.push('\n');
        }
        text
    }

    /// Whether `other` is this entry's context (the same creation), not a later
    /// context that got the number.
    pub fn same_as(&self, other: &Entry) -> bool {
        self.id == other.id && self.creator == other.creator && self.creator_start == other.creator_start
    }

    /// Set up, with its init recorded (a join may enter it).
    pub fn ready(&self) -> bool {
        self.init > 0
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
                "creator" => e.creator = v.parse().unwrap_or(0),
                "creator_start" => e.creator_start = v.parse().unwrap_or(0),
                "keeper" => e.keeper = v.parse().unwrap_or(0),
                "flags" => e.flags = Flags::from_names(v),
                "remove" => e.remove = CapSet(hex(v)),
                "namespaces" => e.namespaces = hex(v),
                "ips" => e.ips = v.to_string(),
                "rlimits" => e.rlimits = v.to_string(),
                "nice" => e.nice = v.parse().ok(),
                "profile" => e.profile = v.to_string(),
                "temporary" => e.temporary = v == "1",
                "netns" => e.netns = v.parse().unwrap_or(0),
                "alias" => {
                    if let Some(a) = Alias::parse(v) {
                        e.aliases.push(a);
                    }
                }
                "cgroup" => {
                    if let Some(d) = CgroupDir::parse_recorded(v) {
                        e.cgroups.dirs.push(d);
                    }
                }
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
    let mut path: heapless::String<32> = heapless::String::new();
    core::fmt::Write::write_fmt(&mut path, format_args!("/proc/{pid}/stat")).ok()?;
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

/// The allocation map: one bit per context number.
const MAP_BYTES: usize = (MAX_CTX as usize + 1) / 8;
/// How many numbers in use each allocation checks for staleness, in turn.
const SWEEP_STEP: usize = 4;

/// The signals that abort a wait for the lock (the others stay pending).
const LOCK_ABORT: crate::sys::signal::SigSet = crate::sys::signal::SigSet::of(&[
    crate::sys::signal::SIGTERM,
    crate::sys::signal::SIGINT,
    crate::sys::signal::SIGHUP,
    crate::sys::signal::SIGQUIT,
]);

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

    fn map_path(&self) -> String {
        format!("{}/ctx/.map", self.settings.rundir)
    }

    fn name_path(&self, name: &str) -> String {
        format!("{}/ctx/.names/{name}", self.settings.rundir)
    }

    /// Take the registry lock (creating the run directory on first use). A wait
    /// for a busy lock ends with EINTR when TERM, INT, HUP or QUIT arrives (blocked
    /// ones included: the caller's mask may hold them for forwarding), so a stuck
    /// holder never makes a command deaf.
    pub fn lock(&self) -> Result<Lock> {
        file::mkdir_p(&self.entries_dir(), 0o700).ctx("create the registry directory")?;
        let fd = fs::open(
            format!("{}/lock", self.settings.rundir).as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .ctx("open the registry lock")?;
        let mut pause_us = 100u64;
        loop {
            match fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Lock(fd)),
                Err(Errno::WOULDBLOCK) | Err(Errno::INTR) => {}
                Err(e) => return Err(Error::new("lock the registry", e)),
            }
            if crate::sys::signal::pending().0 & LOCK_ABORT.0 != 0 {
                return Err(Error::new("wait for the registry lock (interrupted)", Errno::INTR));
            }
            let ts = rustix::thread::Timespec { tv_sec: 0, tv_nsec: (pause_us * 1000) as i64 };
            let _ = rustix::thread::nanosleep(&ts);
            pause_us = (pause_us * 2).min(20_000);
        }
    }

    /// The lock if it is free now (the keeper never waits for it).
    pub fn try_lock(&self) -> Option<Lock> {
        let fd = fs::open(format!("{}/lock", self.settings.rundir).as_str(), OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).ok()?;
        fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).ok()?;
        Some(Lock(fd))
    }

    /// The context numbers with an entry (live or not), ascending: for listings.
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
        let mut path: heapless::String<256> = heapless::String::new();
        core::fmt::Write::write_fmt(&mut path, format_args!("{}/ctx/{n}/info", self.settings.rundir)).ok()?;
        let text = file::read_to_vec(path.as_str()).ok()?;
        let e = Entry::parse(core::str::from_utf8(&text).ok()?);
        (e.id == n).then_some(e)
    }

    pub fn write(&self, e: &Entry) -> Result<()> {
        file::write_atomic(&self.ctx_dir(e.id), "info", e.render().as_bytes(), 0o600)
    }

    /// Whether an entry describes something that still exists: its init (or, while
    /// it is being set up, its creator) runs, with the recorded start time, in this boot.
    pub fn alive(&self, e: &Entry) -> bool {
        if e.boot != self.boot {
            return false;
        }
        if e.namespaces == 0 && e.init > 0 {
            // A network-only context lives while its cgroup has members (daemons the
            // command left behind keep it), or while its creator still sets it up.
            return start_time(e.init) == Some(e.start) || e.cgroups.populated();
        }
        if e.init > 0 {
            start_time(e.init) == Some(e.start)
        } else {
            e.creator > 0 && start_time(e.creator) == Some(e.creator_start)
        }
    }

    /// A live entry by number.
    pub fn find(&self, n: u32) -> Option<Entry> {
        self.judge(n).and_then(|(e, alive)| alive.then_some(e))
    }

    /// Entry N as it stands, and whether it is alive. An entry that looks dead is
    /// read again before the verdict: its creator may have handed it over to the
    /// init between the read and the liveness check.
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

    /// A live entry by name, through the name index (one read, not a scan).
    pub fn find_name(&self, name: &str) -> Option<Entry> {
        if name.is_empty() || name.contains('/') {
            return None;
        }
        let mut buf = [0u8; 16];
        let len = file::read_into(self.name_path(name).as_str(), &mut buf).ok()?;
        let n: u32 = core::str::from_utf8(&buf[..len]).ok()?.trim().parse().ok()?;
        self.find(n).filter(|e| e.name == name)
    }

    /// Every live entry, ascending.
    pub fn list(&self) -> Vec<Entry> {
        self.ids().into_iter().filter_map(|n| self.find(n)).collect()
    }

    // ---- the allocation map ------------------------------------------------------

    fn read_map(&self) -> ([u8; MAP_BYTES], Option<OwnedFd>) {
        let mut map = [0u8; MAP_BYTES];
        let fd = fs::open(self.map_path().as_str(), OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).ok();
        if let Some(fd) = &fd {
            let _ = rustix::io::pread(fd, &mut map, 0);
        }
        (map, fd)
    }

    /// Set or clear number N's bit (one byte written). Call with the lock held.
    fn mark(&self, n: u32, used: bool) {
        let Ok(fd) = fs::open(self.map_path().as_str(), OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC, Mode::from_raw_mode(0o600)) else { return };
        let at = (n / 8) as u64;
        let mut b = [0u8; 1];
        let _ = rustix::io::pread(&fd, &mut b, at);
        let bit = 1u8 << (n % 8);
        b[0] = if used { b[0] | bit } else { b[0] & !bit };
        let _ = rustix::io::pwrite(&fd, &b, at);
    }

    /// Claim a number (the given one, or the lowest free from 2 up) by creating its
    /// directory, and mark it in the map. A stale entry met on the way is cleared
    /// and its number taken. Call with the lock held.
    pub fn reserve(&self, want: Option<u32>) -> Result<u32> {
        let try_one = |n: u32| -> core::result::Result<(), Errno> {
            match fs::mkdir(self.ctx_dir(n).as_str(), Mode::from_raw_mode(0o700)) {
                Err(Errno::EXIST) => match self.judge(n) {
                    Some((_, true)) => Err(Errno::EXIST),
                    Some((e, false)) => {
                        self.clear(&e);
                        fs::mkdir(self.ctx_dir(n).as_str(), Mode::from_raw_mode(0o700))
                    }
                    // A directory without info: a reservation whose creator died
                    // before writing it (creators write it at once), or garbage.
                    None => {
                        self.clear(&Entry { id: n, ..Entry::default() });
                        fs::mkdir(self.ctx_dir(n).as_str(), Mode::from_raw_mode(0o700))
                    }
                },
                r => r,
            }
        };
        let n = match want {
            Some(n) => match try_one(n) {
                Ok(()) => n,
                Err(Errno::EXIST) => return Err(Error::new("create the context: that number is in use", Errno::EXIST)),
                Err(e) => return Err(Error::new("create the context's registry entry", e)),
            },
            None => {
                let (map, _fd) = self.read_map();
                let mut found = None;
                let mut n = 2u32;
                while n <= MAX_CTX {
                    let byte = map[(n / 8) as usize];
                    if byte == 0xff {
                        n = (n / 8 + 1) * 8;
                        continue;
                    }
                    if byte & (1 << (n % 8)) == 0 {
                        match try_one(n) {
                            Ok(()) => {
                                found = Some(n);
                                break;
                            }
                            // The map was behind (a crash between mkdir and mark).
                            Err(Errno::EXIST) => self.mark(n, true),
                            Err(e) => return Err(Error::new("create the context's registry entry", e)),
                        }
                    }
                    n += 1;
                }
                found.ok_or(Error::new("allocate a context number: all are in use", Errno::AGAIN))?
            }
        };
        self.mark(n, true);
        Ok(n)
    }

    /// Check a few numbers in use for staleness, continuing where the last call
    /// stopped (the cursor lives in the map file, after the bits), and clear the
    /// dead ones: every stale entry is found within a bounded number of
    /// allocations, and no allocation reads more than `SWEEP_STEP` entries. Call
    /// with the lock held.
    pub fn sweep_some(&self) {
        let (map, fd) = self.read_map();
        let Some(fd) = fd else { return };
        let mut c = [0u8; 4];
        let _ = rustix::io::pread(&fd, &mut c, MAP_BYTES as u64);
        let mut n = u32::from_le_bytes(c);
        let (mut checked, mut looked) = (0, 0u32);
        while checked < SWEEP_STEP && looked < MAX_CTX {
            if !(2..=MAX_CTX).contains(&n) {
                n = 2;
            }
            let byte = map[(n / 8) as usize];
            if byte == 0 {
                let skip = 8 - n % 8;
                n += skip;
                looked += skip;
                continue;
            }
            if byte & (1 << (n % 8)) != 0 {
                checked += 1;
                match self.judge(n) {
                    Some((_, true)) => {}
                    Some((e, false)) => self.clear(&e),
                    None => self.clear(&Entry { id: n, ..Entry::default() }),
                }
            }
            n += 1;
            looked += 1;
        }
        let _ = rustix::io::pwrite(&fd, &n.to_le_bytes(), MAP_BYTES as u64);
    }

    /// Clear every stale entry (reads them all: for tools, not for every command).
    /// Call with the lock held.
    pub fn sweep_all(&self) {
        for n in self.ids() {
            match self.judge(n) {
                Some((_, true)) => {}
                Some((e, false)) => self.clear(&e),
                None => self.clear(&Entry { id: n, ..Entry::default() }),
            }
        }
    }

    /// Whether any number is marked in use.
    fn any_in_use(&self) -> bool {
        let (map, _) = self.read_map();
        map.iter().any(|&b| b != 0)
    }

    /// The in-use numbers of the map (for tests of the bounded sweep).
    pub fn marked(&self) -> Vec<u32> {
        let (map, _) = self.read_map();
        (2..=MAX_CTX).filter(|&n| map[(n / 8) as usize] & (1 << (n % 8)) != 0).collect()
    }

    /// Record `name` as entry `e`'s in the name index. Call with the lock held.
    pub fn index_name(&self, e: &Entry) -> Result<()> {
        if e.name.is_empty() || e.name.contains('/') {
            return Ok(());
        }
        let dir = format!("{}/ctx/.names", self.settings.rundir);
        file::mkdir_p(&dir, 0o700).ctx("create the registry's name index")?;
        file::write_atomic(&dir, &e.name, format!("{}\n", e.id).as_bytes(), 0o600)
    }

    /// `clear`, unless number N was cleared and handed to a new context meanwhile:
    /// then what is on disk is the new context's, and is left alone. Call with the
    /// lock held.
    pub fn clear_own(&self, e: &Entry) {
        match self.read(e.id) {
            Some(cur) if !cur.same_as(e) => {}
            // Cleared already, and not reused: clear the rest (idempotent).
            _ => self.clear(e),
        }
    }

    /// Remove everything of context `e`: its processes, cgroups, name and registry
    /// entry. Idempotent; call with the lock held.
    pub fn clear(&self, e: &Entry) {
        let dir = self.ctx_dir(e.id);
        let set = if e.cgroups.dirs.is_empty() {
            self.cgroup_parents().ok().map(|p| CgroupSet::of(&p, e.id))
        } else {
            Some(e.cgroups.clone())
        };
        if let Some(set) = set {
            set.kill_all();
            let _ = set.remove();
        }
        // Its aliases, from the network namespace they were added in (another
        // namespace's clear leaves them to the next command there).
        if !e.aliases.is_empty() && alias::netns_id() == e.netns {
            alias::remove(&e.aliases);
        }
        if !e.name.is_empty() {
            let p = self.name_path(&e.name);
            let mut buf = [0u8; 16];
            let points_here = file::read_into(p.as_str(), &mut buf)
                .ok()
                .and_then(|n| core::str::from_utf8(&buf[..n]).ok()?.trim().parse::<u32>().ok())
                == Some(e.id);
            if points_here {
                let _ = fs::unlink(p.as_str());
            }
        }
        let _ = fs::unlink(format!("{dir}/info").as_str());
        let _ = fs::unlink(format!("{dir}/.info.tmp").as_str());
        let _ = fs::rmdir(dir.as_str());
        if e.id > 0 && !file::exists(&dir) {
            self.mark(e.id, false);
        }
        if !self.any_in_use() {
            self.release_mount();
        }
    }

    /// While contexts exist, `ctx/` is a private tmpfs, so entries never touch a
    /// disk (/run may sit on one, as on this project's machines); the lock file
    /// stays outside, so the lock is the same file before and after the mount.
    /// When live entries are already there (network-only contexts made without
    /// the privilege to mount), the directory stays as it is. Call with the lock
    /// held.
    pub fn ensure_mount(&self) -> Result<()> {
        let dir = self.entries_dir();
        if file::is_mount_root(&dir) {
            return Ok(());
        }
        // Only at the first context since the registry was empty: whatever is on
        // the disk below is a crash's or an earlier boot's, or (rarely) a live
        // network-only context made without the privilege to mount.
        self.sweep_all();
        let left = self.ids();
        if !left.is_empty() {
            for n in left {
                self.mark(n, true);
            }
            return Ok(());
        }
        let flags = rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV | rustix::mount::MountFlags::NOEXEC;
        mount::mount_fs("tmpfs", &dir, flags, "mode=0700", "mount the registry's tmpfs")?;
        rustix::mount::mount_change(dir.as_str(), rustix::mount::MountPropagationFlags::PRIVATE).ctx("make the registry mount private")
    }

    fn release_mount(&self) {
        let dir = self.entries_dir();
        if file::is_mount_root(&dir) {
            let _ = mount::unmount_detach(&dir);
        }
    }

    /// The cgroup parents this registry's contexts live under (one mount scan).
    pub fn cgroup_parents(&self) -> Result<Vec<CgroupDir>> {
        super::cgroups::parents(&self.settings.cgroup_parent, &self.settings.rundir)
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

    #[test]
    fn entries_round_trip() {
        let e = Entry {
            id: 7,
            name: String::from("web"),
            init: 42,
            start: 99,
            boot: String::from("b"),
            creator: 40,
            creator_start: 98,
            keeper: 41,
            flags: Flags::LOCK,
            remove: CapSet(0x20),
            namespaces: 0x2e020000,
            ips: String::from("10.0.0.1/255.255.255.0"),
            rlimits: String::from("6=20:20"),
            nice: Some(5),
            cgroups: CgroupSet::from_recorded(&["v2 /sys/fs/cgroup/unified/vsbox/7", "v1:3 /sys/fs/cgroup/pids/vsbox/7"]),
            aliases: alloc::vec![Alias { dev: String::from("v0"), addr: [10, 0, 0, 1], prefix: 24, bcast: None, label: String::from("v0:web") }],
            netns: 4026531840,
            profile: String::from("prod"),
            temporary: true,
        };
        assert_eq!(Entry::parse(&e.render()), e);
    }
}
