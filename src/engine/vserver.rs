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
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, AtFlags, FileType, FlockOperation, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::cgroups::{self, CgroupSet};
use super::conf::{IpRoot as ConfIpRoot, LimitKind, VserverConf};
use super::ipv4root::IpRoot;
use super::registry::{Entry, Registry};
use super::spec::{ContextSpec, Flags, Rlimit, User};
use crate::sys::caps::CapSet;
use crate::sys::error::{Context, Error, Result};
use crate::sys::netlink::{self, Rtnl};
use crate::sys::process::{self, Forked};
use crate::sys::{file, exec};

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
    pub fn state(&self, name: &str) -> String {
        format!("{}/vserver/{name}.state", self.rundir)
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
// The per-vserver lock and the state file
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

/// What `start` leaves for `stop`: the profile the vserver was started with and the
/// aliases vsbox added (and so must remove).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub profile: Option<String>,
    pub aliases: Vec<Alias>,
}

impl State {
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.profile {
            s.push_str("profile ");
            s.push_str(p);
            s.push('\n');
        }
        for a in &self.aliases {
            let b = a.bcast.map(dotted).unwrap_or_else(|| String::from("-"));
            s.push_str(&format!("alias {} {} {} {} {}\n", a.dev, dotted(a.addr), a.prefix, b, a.label));
        }
        s
    }

    pub fn parse(text: &str) -> State {
        let mut st = State::default();
        for line in text.lines() {
            let mut w = line.split(' ');
            match w.next() {
                Some("profile") => st.profile = Some(line[8..].to_owned()),
                Some("alias") => {
                    let (Some(dev), Some(addr), Some(prefix), Some(b), Some(label)) = (w.next(), w.next(), w.next(), w.next(), w.next()) else {
                        continue;
                    };
                    let (Some(addr), Ok(prefix)) = (super::conf::parse_ipv4(addr), prefix.parse()) else { continue };
                    st.aliases.push(Alias {
                        dev: dev.to_owned(),
                        addr,
                        prefix,
                        bcast: super::conf::parse_ipv4(b),
                        label: label.to_owned(),
                    });
                }
                _ => {}
            }
        }
        st
    }

    pub fn load(paths: &Paths, name: &str) -> Option<State> {
        let text = file::read_to_vec(paths.state(name).as_str()).ok()?;
        Some(State::parse(core::str::from_utf8(&text).ok()?))
    }

    pub fn save(&self, paths: &Paths, name: &str) -> Result<()> {
        file::mkdir_p(&paths.state_dir(), 0o700).ctx("create the vserver state directory")?;
        file::write_atomic(&paths.state_dir(), &format!("{name}.state"), self.render().as_bytes(), 0o600)
    }

    pub fn remove(paths: &Paths, name: &str) {
        let _ = fs::unlink(paths.state(name).as_str());
        // Only goes when empty (no other vserver's lock or state is left).
        let _ = fs::rmdir(paths.state_dir().as_str());
    }
}

pub fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

// ---------------------------------------------------------------------------------
// IP aliases
// ---------------------------------------------------------------------------------

/// One IP alias `vserver start` puts on a device, labelled `DEV:NAME[N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub dev: String,
    pub addr: [u8; 4],
    pub prefix: u8,
    pub bcast: Option<[u8; 4]>,
    pub label: String,
}

/// The aliases of IPROOT (vserver-spec §9.4): entry i gets the label
/// `DEV:NAME` for the first, then `DEV:NAME1`, `DEV:NAME2`…, the suffix advancing for
/// every entry, with a device or not. DEV is the entry's own `dev:` or IPROOTDEV;
/// entries with neither get no alias. A label longer than the kernel's 15 bytes is
/// an error (the message names it).
pub fn plan_aliases(name: &str, conf: &VserverConf) -> core::result::Result<Vec<Alias>, String> {
    let ConfIpRoot::List(entries) = &conf.iproot else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(dev) = e.dev.as_deref().or(conf.iprootdev.as_deref()) else { continue };
        let label = if i == 0 { format!("{dev}:{name}") } else { format!("{dev}:{name}{i}") };
        if label.len() > netlink::NAME_MAX {
            return Err(format!(
                "the alias label '{label}' is longer than {} bytes, the kernel's limit (use a shorter vserver or device name, or --nodev)",
                netlink::NAME_MAX
            ));
        }
        let prefix = conf.prefix_of(e);
        let bcast = conf.iprootbcast.or_else(|| netlink::default_broadcast(e.addr, prefix));
        out.push(Alias { dev: dev.to_owned(), addr: e.addr, prefix, bcast, label });
    }
    Ok(out)
}

/// Add the aliases through rtnetlink. Every device is checked first, so a missing
/// one changes nothing. An address that is already there under another label is
/// not ours and is left out of the result (stop will not remove it); one with our
/// label (a crashed earlier start) is taken over. On error, what was added is
/// removed again.
pub fn add_aliases(plan: &[Alias]) -> core::result::Result<Vec<Alias>, String> {
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let rtnl = Rtnl::open().map_err(|e| format!("{e}"))?;
    let mut idx = Vec::new();
    for a in plan {
        match rtnl.ifindex(&a.dev) {
            Ok(Some(i)) => idx.push(i),
            Ok(None) => return Err(format!("the IPROOTDEV device {} does not exist (check IPROOTDEV, or use --nodev)", a.dev)),
            Err(e) => return Err(format!("look up {}: {}", a.dev, e.reason())),
        }
    }
    let mut added: Vec<Alias> = Vec::new();
    for (a, &i) in plan.iter().zip(&idx) {
        // Removing the subnet's first address must not take the other vservers'
        // aliases in that subnet along (kernel-feasibility §6).
        let _ = netlink::set_promote_secondaries(&a.dev, true);
        match rtnl.add_ipv4(i, a.addr, a.prefix, a.bcast, &a.label) {
            Ok(()) => added.push(a.clone()),
            Err(e) if e.errno() == Errno::EXIST => {
                let ours = rtnl
                    .addresses(Some(i))
                    .map(|l| l.iter().any(|x| x.addr == a.addr && x.label.as_str() == a.label))
                    .unwrap_or(false);
                if ours {
                    added.push(a.clone());
                }
            }
            Err(e) => {
                remove_aliases(&added);
                return Err(format!("add {}/{} to {} as {}: {}", dotted(a.addr), a.prefix, a.dev, a.label, e.reason()));
            }
        }
    }
    Ok(added)
}

/// Remove aliases (only those still carrying their label); errors are ignored,
/// as the original's `ifconfig … down 2>/dev/null`.
pub fn remove_aliases(list: &[Alias]) {
    if list.is_empty() {
        return;
    }
    let Ok(rtnl) = Rtnl::open() else { return };
    for a in list {
        if let Ok(Some(i)) = rtnl.ifindex(&a.dev) {
            let _ = rtnl.del_ipv4(i, a.addr, a.prefix, Some(&a.label));
        }
    }
}

/// The ipv4root of a conf: None when untied. `ALL` is every IPv4 address of the
/// host (listdevip). The broadcast is IPROOTBCAST, else the last alias's, else
/// 255.255.255.255 (as the script's last computed BCAST). Raw sockets stay allowed
/// only when the vserver keeps CAP_NET_RAW.
pub fn ipv4root_of(conf: &VserverConf, aliases: &[Alias], remove: CapSet) -> core::result::Result<Option<IpRoot>, String> {
    let mut r = IpRoot::new();
    match &conf.iproot {
        ConfIpRoot::Untied => return Ok(None),
        ConfIpRoot::All => {
            let rtnl = Rtnl::open().map_err(|e| format!("{e}"))?;
            let list = rtnl.addresses(None).map_err(|e| format!("{e}"))?;
            for a in list.iter().take(super::ipv4root::MAX_ADDRS) {
                r.add(&format!("{}/{}", dotted(a.addr), a.prefix)).map_err(|e| format!("IPROOT=ALL: {e}"))?;
            }
        }
        ConfIpRoot::List(entries) => {
            for e in entries {
                r.add(&format!("{}/{}", dotted(e.addr), conf.prefix_of(e))).map_err(|e| format!("IPROOT: {e}"))?;
            }
        }
    }
    if let Some(b) = conf.iprootbcast.or_else(|| aliases.last().and_then(|a| a.bcast)) {
        r.bcast = core::net::Ipv4Addr::from(b);
    }
    r.keep_raw = !remove.has(13);
    Ok(Some(r))
}

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
// The guest's tree, seen from the host
// ---------------------------------------------------------------------------------

/// A vserver's root tree, with every path resolved inside it.
pub struct Tree {
    pub path: String,
    fd: OwnedFd,
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// The largest guest file the host reads (passwd, group, inittab).
pub const GUEST_FILE_MAX: usize = 4 << 20;

fn split(rel: &str) -> (&str, &str) {
    let rel = rel.trim_end_matches('/');
    match rel.rfind('/') {
        Some(i) => (if i == 0 { "/" } else { &rel[..i] }, &rel[i + 1..]),
        None => (".", rel),
    }
}

impl Tree {
    /// Open the tree; ENOTDIR/ENOENT when it is no directory.
    pub fn open(path: &str) -> core::result::Result<Tree, Errno> {
        let fd = fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Tree { path: path.to_owned(), fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// openat2 below the root: symlinks (absolute ones too) stay inside the tree.
    pub fn open_at(&self, rel: &str, flags: OFlags, mode: u32) -> core::result::Result<OwnedFd, Errno> {
        fs::openat2(&self.fd, rel, flags | OFlags::CLOEXEC, Mode::from_raw_mode(mode), IN_ROOT)
    }

    pub fn dir(&self, rel: &str) -> core::result::Result<OwnedFd, Errno> {
        self.open_at(rel, OFlags::RDONLY | OFlags::DIRECTORY, 0)
    }

    pub fn stat(&self, rel: &str) -> Option<fs::Stat> {
        let fd = self.open_at(rel, OFlags::PATH, 0).ok()?;
        fs::fstat(&fd).ok()
    }

    pub fn is_dir(&self, rel: &str) -> bool {
        self.stat(rel).is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory)
    }

    /// A regular file with an execute bit (as `[ -x ]` for root).
    pub fn is_executable(&self, rel: &str) -> bool {
        self.stat(rel).is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile && s.st_mode & 0o111 != 0)
    }

    pub fn is_file(&self, rel: &str) -> bool {
        self.stat(rel).is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile)
    }

    /// A regular file of the guest, whole (at most `GUEST_FILE_MAX` bytes). The
    /// guest owns these files: a FIFO, a device or an endless file in their place
    /// must not hold a host command, so the open never blocks, anything but a
    /// regular file is refused (EINVAL), and the size is bounded (EFBIG).
    pub fn read(&self, rel: &str) -> core::result::Result<Vec<u8>, Errno> {
        let fd = self.open_at(rel, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY, 0)?;
        let st = fs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(Errno::INVAL);
        }
        if st.st_size as u64 > GUEST_FILE_MAX as u64 {
            return Err(Errno::FBIG);
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(&fd, &mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
            if out.len() > GUEST_FILE_MAX {
                return Err(Errno::FBIG);
            }
        }
    }

    /// Create or replace a regular file (never through a symlink in its name).
    pub fn write(&self, rel: &str, data: &[u8], mode: u32) -> core::result::Result<(), Errno> {
        let (parent, base) = split(rel);
        let dir = self.dir(parent)?;
        if let Ok(st) = fs::statat(&dir, base, AtFlags::SYMLINK_NOFOLLOW)
            && FileType::from_raw_mode(st.st_mode) != FileType::RegularFile
        {
            fs::unlinkat(&dir, base, AtFlags::empty())?;
        }
        // Non-blocking and checked: the guest may put a FIFO there meanwhile.
        let fd = fs::openat(
            &dir,
            base,
            OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )?;
        if FileType::from_raw_mode(fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            return Err(Errno::INVAL);
        }
        fs::ftruncate(&fd, 0)?;
        file::write_fd(&fd, data)?;
        fs::fchmod(&fd, Mode::from_raw_mode(mode))
    }

    /// `mkdir -p` inside the tree.
    pub fn mkdir(&self, rel: &str, mode: u32) -> core::result::Result<(), Errno> {
        let mut done = String::new();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            let dir = self.dir(if done.is_empty() { "." } else { &done })?;
            match fs::mkdirat(&dir, part, Mode::from_raw_mode(mode)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
            if !done.is_empty() {
                done.push('/');
            }
            done.push_str(part);
        }
        Ok(())
    }

    pub fn chmod(&self, rel: &str, mode: u32) -> core::result::Result<(), Errno> {
        let (parent, base) = split(rel);
        let dir = self.dir(parent)?;
        // fchmodat cannot refuse to follow a symlink: refuse it ourselves.
        let st = fs::statat(&dir, base, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            return Err(Errno::LOOP);
        }
        fs::chmodat(&dir, base, Mode::from_raw_mode(mode), AtFlags::empty())
    }

    /// Remove one entry (a file, a symlink, or an empty directory); absent is fine.
    pub fn unlink(&self, rel: &str) {
        let (parent, base) = split(rel);
        if let Ok(dir) = self.dir(parent)
            && fs::unlinkat(&dir, base, AtFlags::empty()).is_err()
        {
            let _ = fs::unlinkat(&dir, base, AtFlags::REMOVEDIR);
        }
    }

    /// Empty directory `rel`: every non-directory below it (`files_only`, as the
    /// script's `find var/run ! -type d | xargs rm`), or everything (`rm -rf rel/*`).
    pub fn clear(&self, rel: &str, files_only: bool) {
        if let Ok(dir) = self.dir(rel) {
            clear_dir(&dir, files_only, 0);
        }
    }

    /// The names in directory `rel`, sorted.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(dir) = self.dir(rel)
            && let Ok(d) = fs::Dir::read_from(&dir)
        {
            for ent in d.flatten() {
                let n = ent.file_name().to_bytes();
                if n != b"." && n != b".." {
                    out.push(String::from_utf8_lossy(n).into_owned());
                }
            }
        }
        out.sort();
        out
    }
}

fn clear_dir(dir: &OwnedFd, files_only: bool, depth: u32) {
    if depth > 64 {
        return;
    }
    let mut names: Vec<alloc::ffi::CString> = Vec::new();
    if let Ok(d) = fs::Dir::read_from(dir) {
        for ent in d.flatten() {
            let n = ent.file_name();
            if n.to_bytes() != b"." && n.to_bytes() != b".." {
                names.push(n.to_owned());
            }
        }
    }
    for n in names {
        let Ok(st) = fs::statat(dir, n.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) else { continue };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            if let Ok(sub) = fs::openat(dir, n.as_c_str(), flags, Mode::empty()) {
                clear_dir(&sub, files_only, depth + 1);
            }
            if !files_only {
                let _ = fs::unlinkat(dir, n.as_c_str(), AtFlags::REMOVEDIR);
            }
        } else {
            let _ = fs::unlinkat(dir, n.as_c_str(), AtFlags::empty());
        }
    }
}

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
// Users, from the guest's own files
// ---------------------------------------------------------------------------------

/// USER (a name, or a number) from the guest's /etc/passwd, with its groups from
/// the guest's /etc/group. No NSS: the guest's files only.
pub fn lookup_user(tree: &Tree, user: &str) -> Option<User> {
    let passwd = tree.read("etc/passwd").ok()?;
    let passwd = String::from_utf8_lossy(&passwd);
    let numeric = user.bytes().all(|b| b.is_ascii_digit()) && !user.is_empty();
    let (name, uid, gid, home) = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        let hit = f[0] == user || (numeric && f[2] == user);
        if !hit {
            return None;
        }
        Some((f[0].to_owned(), f[2].parse::<u32>().ok()?, f[3].parse::<u32>().ok()?, f[5].to_owned()))
    })?;
    let mut groups = Vec::from([gid]);
    if let Ok(g) = tree.read("etc/group") {
        for l in String::from_utf8_lossy(&g).lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4
                && f[3].split(',').any(|m| m == name)
                && let Ok(n) = f[2].parse::<u32>()
                && !groups.contains(&n)
            {
                groups.push(n);
            }
        }
    }
    Some(User { uid, gid, groups, home })
}

// ---------------------------------------------------------------------------------
// A running vserver's processes
// ---------------------------------------------------------------------------------

fn set_of(reg: &Registry, id: u32) -> Option<CgroupSet> {
    let parents = cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir).ok()?;
    Some(CgroupSet::of(&parents, id))
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

// ---------------------------------------------------------------------------------
// Running host programs (debootstrap, tar) with their output visible
// ---------------------------------------------------------------------------------

/// Run `argv` (searched along the PATH of `envp`) with the caller's stdio and wait:
/// its shell-style status, or the error if it could not be started.
pub fn run_visible<A: AsRef<[u8]>, E: AsRef<[u8]>>(argv: &[A], envp: &[E]) -> Result<i32> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe")?;
    let pid = match process::fork()? {
        Forked::Child => {
            drop(r);
            let e = exec::exec(argv, envp);
            let _ = file::write_fd(&w, &e.errno.raw_os_error().to_ne_bytes());
            process::exit_now(127);
        }
        Forked::Parent(p) => p,
    };
    drop(w);
    let mut b = [0u8; 4];
    let failed = matches!(file::read_fd_into(&r, &mut b), Ok(4));
    let st = loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, st))) => break super::wire::shell_status(st.as_raw()),
            Err(Errno::INTR) => continue,
            Ok(None) => break 0,
            Err(e) => return Err(Error::new("wait for the program", e)),
        }
    };
    if failed {
        return Err(Error::new("execute the program", Errno::from_raw_os_error(i32::from_ne_bytes(b))));
    }
    Ok(st)
}

// ---------------------------------------------------------------------------------
// build: copying a template tree, and the clean-up
// ---------------------------------------------------------------------------------

/// Copy the tree `src` into the empty directory `dst`, keeping owners, modes,
/// times, hard links, symlinks, device nodes and fifos (`cp -a`). Nothing is
/// followed: symlinks are copied as links and never resolved. File data goes
/// through copy_file_range (a reflink or an in-kernel copy where the filesystem
/// can). Returns the number of entries copied, or the path that failed.
pub fn copy_tree(src: &str, dst: &str) -> core::result::Result<u64, String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let s = fs::open(src, flags, Mode::empty()).map_err(|e| format!("{src}: {}", crate::sys::ErrnoText(e)))?;
    let d = fs::open(dst, flags, Mode::empty()).map_err(|e| format!("{dst}: {}", crate::sys::ErrnoText(e)))?;
    let mut c = Copier { links: Vec::new(), count: 0, dst_root: fs::open(dst, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| format!("{dst}: {}", crate::sys::ErrnoText(e)))?, dev: 0 };
    c.dev = fs::fstat(&s).map(|st| st.st_dev).unwrap_or(0);
    c.dir(&s, &d, "", 0)?;
    let st = fs::fstat(&s).map_err(|e| format!("{src}: {}", crate::sys::ErrnoText(e)))?;
    set_meta_fd(&d, &st).map_err(|e| format!("{dst}: {}", crate::sys::ErrnoText(e)))?;
    Ok(c.count)
}

struct Copier {
    /// (dev, ino) of multiply-linked files already copied, and their path in dst.
    links: Vec<((u64, u64), String)>,
    count: u64,
    dst_root: OwnedFd,
    dev: u64,
}

fn set_meta_fd(fd: &OwnedFd, st: &fs::Stat) -> core::result::Result<(), Errno> {
    fs::fchown(fd, Some(rustix::fs::Uid::from_raw(st.st_uid)), Some(rustix::fs::Gid::from_raw(st.st_gid)))?;
    fs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    fs::futimens(fd, &times(st))
}

fn times(st: &fs::Stat) -> fs::Timestamps {
    fs::Timestamps {
        last_access: fs::Timespec { tv_sec: st.st_atime as _, tv_nsec: st.st_atime_nsec as _ },
        last_modification: fs::Timespec { tv_sec: st.st_mtime as _, tv_nsec: st.st_mtime_nsec as _ },
    }
}

impl Copier {
    fn dir(&mut self, src: &OwnedFd, dst: &OwnedFd, rel: &str, depth: u32) -> core::result::Result<(), String> {
        if depth > 256 {
            return Err(format!("{rel}: too deeply nested"));
        }
        let mut names: Vec<alloc::ffi::CString> = Vec::new();
        let d = fs::Dir::read_from(src).map_err(|e| format!("{rel}/: {}", crate::sys::ErrnoText(e)))?;
        for ent in d {
            let ent = ent.map_err(|e| format!("{rel}/: {}", crate::sys::ErrnoText(e)))?;
            let n = ent.file_name();
            if n.to_bytes() != b"." && n.to_bytes() != b".." {
                names.push(n.to_owned());
            }
        }
        for n in names {
            let name = String::from_utf8_lossy(n.to_bytes()).into_owned();
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let err = |e: Errno| format!("{path}: {}", crate::sys::ErrnoText(e));
            let st = fs::statat(src, n.as_c_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
            let ft = FileType::from_raw_mode(st.st_mode);
            self.count += 1;
            match ft {
                FileType::Directory => {
                    fs::mkdirat(dst, n.as_c_str(), Mode::from_raw_mode(0o700)).map_err(err)?;
                    let fl = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                    let s2 = fs::openat(src, n.as_c_str(), fl, Mode::empty()).map_err(err)?;
                    let d2 = fs::openat(dst, n.as_c_str(), fl, Mode::empty()).map_err(err)?;
                    // Another filesystem mounted inside the template is not copied
                    // (cp -ax): its mount point stays as an empty directory.
                    if fs::fstat(&s2).map(|x| x.st_dev).unwrap_or(self.dev) == self.dev {
                        self.dir(&s2, &d2, &path, depth + 1)?;
                    }
                    set_meta_fd(&d2, &st).map_err(err)?;
                }
                FileType::RegularFile => {
                    let key = (st.st_dev, st.st_ino);
                    if st.st_nlink > 1 {
                        if let Some((_, first)) = self.links.iter().find(|(k, _)| *k == key) {
                            fs::linkat(&self.dst_root, first.as_str(), dst, n.as_c_str(), AtFlags::empty()).map_err(err)?;
                            continue;
                        }
                        self.links.push((key, path.clone()));
                    }
                    let s2 = fs::openat(src, n.as_c_str(), OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()).map_err(err)?;
                    let d2 = fs::openat(
                        dst,
                        n.as_c_str(),
                        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o600),
                    )
                    .map_err(err)?;
                    copy_data(&s2, &d2, st.st_size as u64).map_err(err)?;
                    set_meta_fd(&d2, &st).map_err(err)?;
                }
                FileType::Symlink => {
                    let target = fs::readlinkat(src, n.as_c_str(), Vec::new()).map_err(err)?;
                    fs::symlinkat(target.as_c_str(), dst, n.as_c_str()).map_err(err)?;
                    let _ = fs::chownat(
                        dst,
                        n.as_c_str(),
                        Some(rustix::fs::Uid::from_raw(st.st_uid)),
                        Some(rustix::fs::Gid::from_raw(st.st_gid)),
                        AtFlags::SYMLINK_NOFOLLOW,
                    );
                    let _ = fs::utimensat(dst, n.as_c_str(), &times(&st), AtFlags::SYMLINK_NOFOLLOW);
                }
                _ => {
                    fs::mknodat(dst, n.as_c_str(), ft, Mode::from_raw_mode(st.st_mode & 0o7777), st.st_rdev).map_err(err)?;
                    fs::chownat(
                        dst,
                        n.as_c_str(),
                        Some(rustix::fs::Uid::from_raw(st.st_uid)),
                        Some(rustix::fs::Gid::from_raw(st.st_gid)),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(err)?;
                    fs::chmodat(dst, n.as_c_str(), Mode::from_raw_mode(st.st_mode & 0o7777), AtFlags::empty()).map_err(err)?;
                    let _ = fs::utimensat(dst, n.as_c_str(), &times(&st), AtFlags::SYMLINK_NOFOLLOW);
                }
            }
        }
        Ok(())
    }
}

fn copy_data(s: &OwnedFd, d: &OwnedFd, size: u64) -> core::result::Result<(), Errno> {
    let mut left = size;
    let mut fallback = false;
    while left > 0 && !fallback {
        match fs::copy_file_range(s, None, d, None, left.min(1 << 30) as usize) {
            Ok(0) => break,
            Ok(n) => left -= n as u64,
            Err(Errno::INTR) => {}
            Err(Errno::XDEV) | Err(Errno::INVAL) | Err(Errno::NOSYS) | Err(Errno::OPNOTSUPP) => fallback = true,
            Err(e) => return Err(e),
        }
    }
    if fallback {
        let mut buf = alloc::vec![0u8; 64 * 1024];
        loop {
            match rustix::io::read(s, &mut buf) {
                Ok(0) => break,
                Ok(n) => file::write_fd(d, &buf[..n])?,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// The clean-up after populating a tree (§9.5 build steps 5 and 8, minus what a
/// vsbox start makes anyway: /dev is a fresh tmpfs at every start, and a fake
/// fstab/mtab would only confuse modern guests).
pub fn build_cleanup(tree: &Tree) {
    for d in ["lib/modules", "var/spool/mail", "var/lock/subsys"] {
        tree.clear(d, false);
    }
    for d in ["var/run", "var/log"] {
        tree.clear(d, true);
    }
    tree.unlink("etc/cron.d/kmod");
    let _ = tree.mkdir("var/log", 0o755);
    let _ = tree.write("var/log/wtmp", b"", 0o664);
    for d in ["proc", "tmp", "home", "root", "boot", "dev", "dev/pts", "sys"] {
        let _ = tree.mkdir(d, 0o755);
    }
    let _ = tree.chmod("tmp", 0o1777);
    let _ = tree.chmod("root", 0o750);
    // A vserver cannot reboot the host: the reboot step of level 6 goes.
    for dir in ["etc/rc.d/rc6.d", "etc/rc6.d"] {
        for n in tree.list(dir) {
            if n.starts_with('S') && n.ends_with("reboot") {
                tree.unlink(&format!("{dir}/{n}"));
            }
        }
    }
}

/// Whether directory `path` is missing or holds nothing but `lost+found`.
pub fn is_empty_dir(path: &str) -> core::result::Result<bool, Errno> {
    let fd = match fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(true),
        Err(e) => return Err(e),
    };
    for ent in fs::Dir::read_from(&fd)?.flatten() {
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." && n != b"lost+found" {
            return Ok(false);
        }
    }
    Ok(true)
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
            if n.len() > 3 && (n.starts_with('S') || n.starts_with('K')) && n[3..] == *service && n[1..3].bytes().all(|b| b.is_ascii_digit()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::conf::IpEntry;

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
    fn state_round_trips() {
        let st = State {
            profile: Some(String::from("backup")),
            aliases: vec![Alias { dev: "v0".into(), addr: [127, 0, 0, 5], prefix: 8, bcast: None, label: "v0:web".into() }],
        };
        assert_eq!(State::parse(&st.render()), st);
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
