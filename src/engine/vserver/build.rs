//! Building a guest's tree: host programs run with their output visible
//! (debootstrap, tar), a metadata-preserving copy, and the clean-up after.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rustix::fd::OwnedFd;
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::tree::Tree;
use crate::sys::error::{Context, Error, Result};
use crate::sys::process::{self, Forked};
use crate::sys::{exec, file};

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
            Ok(Some((_, st))) => break crate::engine::context::wire::shell_status(st.as_raw()),
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
// vserver NAME build
// ---------------------------------------------------------------------------------

use super::lifecycle::{Failure, Report, Vserver, VsResult};

/// Where a new guest's tree comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// debootstrap SUITE [MIRROR], with `--variant=V` and any further options
    /// (`build --debootstrap bookworm -- --include=openssh-server`).
    Debootstrap { suite: String, mirror: Option<String>, variant: Option<String>, options: Vec<String> },
    /// A copy of an existing tree (another guest, a template).
    Copy(String),
    /// A tarball, unpacked by the system's tar.
    Tarball(String),
}

/// The rc scripts a guest cannot run in a context (they touch the hardware, the
/// kernel, the host's network or its file systems), switched off in a new guest
/// so its start and stop are quiet. Listed in the README.
pub const HOST_ONLY_SERVICES: [&str; 24] = [
    "hwclock.sh", "udev", "udev-finish", "kmod", "module-init-tools", "networking", "procps", "keyboard-setup.sh",
    "console-setup.sh", "checkroot.sh", "checkroot-bootclean.sh", "checkfs.sh", "mountall.sh", "mountall-bootclean.sh",
    "mountkernfs.sh", "mountdevsubfs.sh", "mountnfs.sh", "mountnfs-bootclean.sh", "umountfs", "umountroot", "umountnfs.sh",
    "brightness", "lvm2", "mdadm",
];

/// What a copied tree brings along that must not be shared between two guests.
const IDENTITY: [&str; 3] = ["etc/machine-id", "var/lib/dbus/machine-id", "etc/ssh"];

impl Vserver<'_> {
    /// Create the guest's tree and a commented conf. `fresh_identity` removes the
    /// ssh host keys and machine-id a copy or tarball brought along.
    pub fn build(&self, src: &Source, fresh_identity: bool, host_env: &[Vec<u8>], rep: &mut dyn Report) -> VsResult<()> {
        let root = self.paths.root(self.name);
        let fail = |m: String| Err(Failure::new(1, m));
        match is_empty_dir(&root) {
            Ok(true) => {}
            Ok(false) => return fail(format!("Virtual server {root} already exist (remove it first, or pick another name)")),
            Err(e) => return fail(format!("{root}: {}", crate::sys::ErrnoText(e))),
        }
        let rootdir = &self.paths.rootdir;
        if !file::exists(rootdir) {
            let r = file::mkdir_p(rootdir, 0o755).and_then(|()| fs::chmod(rootdir.as_str(), Mode::empty()));
            if let Err(e) = r {
                return fail(format!("cannot create {rootdir}: {}", crate::sys::ErrnoText(e)));
            }
            rep.say(format_args!("Directory {rootdir} was created with permissions 000"));
        }
        let made = match fs::mkdir(root.as_str(), Mode::from_raw_mode(0o755)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return fail(format!("cannot create {root}: {}", crate::sys::ErrnoText(e))),
        };
        let _ = fs::chmod(root.as_str(), Mode::from_raw_mode(0o755));
        let undo = |msg: String| -> VsResult<()> {
            if let Ok(t) = Tree::open(&root) {
                t.clear(".", false);
            }
            if made {
                let _ = fs::rmdir(root.as_str());
            }
            Err(Failure::new(1, format!("{msg}; {root} was emptied again")))
        };
        match src {
            Source::Debootstrap { suite, mirror, variant, options } => {
                let mut argv = Vec::from([String::from("debootstrap")]);
                if let Some(v) = variant {
                    argv.push(format!("--variant={v}"));
                }
                argv.extend(options.iter().cloned());
                argv.push(suite.clone());
                argv.push(root.clone());
                argv.extend(mirror.iter().cloned());
                match run_visible(&argv, host_env) {
                    Ok(0) => {}
                    Ok(c) => return undo(format!("debootstrap failed (status {c})")),
                    Err(e) => return undo(format!("cannot run debootstrap: {} (install it, e.g. apt-get install debootstrap)", crate::sys::ErrnoText(e.errno))),
                }
            }
            Source::Copy(dir) => {
                if !fs::stat(dir.as_str()).is_ok_and(|m| FileType::from_raw_mode(m.st_mode) == FileType::Directory) {
                    return undo(format!("--copy {dir}: not a directory"));
                }
                if let Err(e) = copy_tree(dir, &root) {
                    return undo(format!("cannot copy {dir}: {e}"));
                }
            }
            Source::Tarball(f) => {
                if !fs::stat(f.as_str()).is_ok_and(|m| FileType::from_raw_mode(m.st_mode) == FileType::RegularFile) {
                    return undo(format!("--tarball {f}: no such file"));
                }
                let argv: Vec<String> = ["tar", "-x", "-p", "--numeric-owner", "-f", f, "-C", &root].iter().map(|s| String::from(*s)).collect();
                match run_visible(&argv, host_env) {
                    Ok(0) => {}
                    Ok(c) => return undo(format!("tar failed (status {c})")),
                    Err(e) => return undo(format!("cannot run tar: {}", crate::sys::ErrnoText(e.errno))),
                }
            }
        }
        let tree = match Tree::open(&root) {
            Ok(t) => t,
            Err(e) => return undo(format!("cannot open the new tree: {}", crate::sys::ErrnoText(e))),
        };
        build_cleanup(&tree);
        self.set_identity(&tree, src, fresh_identity, rep);
        let off = disable_host_only(&tree);
        if !off.is_empty() {
            rep.say(format_args!("Switched off what cannot run in a vserver: {}", off.join(" ")));
        }
        rep.say(format_args!("Directory {root} has been populated"));
        let confdir = &self.paths.confdir;
        if !file::exists(confdir) {
            let r = file::mkdir_p(confdir, 0o700).and_then(|()| fs::chmod(confdir.as_str(), Mode::from_raw_mode(0o700)));
            if let Err(e) = r {
                return fail(format!("cannot create {confdir}: {}", crate::sys::ErrnoText(e)));
            }
            rep.say(format_args!("Directory {confdir} has been created"));
        }
        let conf = self.paths.conf(self.name);
        if !file::exists(&conf) {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
            let r = fs::open(conf.as_str(), flags, Mode::from_raw_mode(0o644))
                .and_then(|fd| file::write_fd(&fd, super::conf::render_template(self.name, &root).as_bytes()));
            if let Err(e) = r {
                return fail(format!("cannot write {conf}: {}", crate::sys::ErrnoText(e)));
            }
            rep.say(format_args!("{conf} has been created. Look at it!"));
        }
        Ok(())
    }

    /// The guest's own name (/etc/hostname, /etc/hosts), and what a copy brought
    /// of another machine's identity.
    fn set_identity(&self, tree: &Tree, src: &Source, fresh: bool, rep: &mut dyn Report) {
        let name = self.hostname();
        let _ = tree.write("etc/hostname", format!("{name}\n").as_bytes(), 0o644);
        let short = name.split('.').next().unwrap_or(&name).to_owned();
        let alias = if short != name { format!(" {short}") } else { String::new() };
        let hosts = format!("127.0.0.1\tlocalhost\n127.0.1.1\t{name}{alias}\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        let _ = tree.write("etc/hosts", hosts.as_bytes(), 0o644);
        if matches!(src, Source::Debootstrap { .. }) {
            return;
        }
        let keys: Vec<String> = tree.list("etc/ssh").into_iter().filter(|n| n.starts_with("ssh_host_") && n.contains("_key")).collect();
        let ids: Vec<&str> = IDENTITY[..2].iter().copied().filter(|p| tree.stat(p).is_some_and(|s| s.st_size > 0)).collect();
        if keys.is_empty() && ids.is_empty() {
            return;
        }
        if fresh {
            for k in &keys {
                tree.unlink(&format!("etc/ssh/{k}"));
            }
            for p in &ids {
                // An empty machine-id is regenerated at the guest's first boot.
                let _ = tree.write(p, b"", 0o444);
            }
            rep.say(format_args!(
                "Removed the copied identity ({} ssh host keys, machine-id): regenerate the keys with 'vserver {} exec ssh-keygen -A'",
                keys.len(),
                self.name
            ));
        } else {
            rep.warn(format_args!(
                "the copy shares its identity with its source ({} ssh host keys{}): build again with --fresh-identity, or remove them yourself",
                keys.len(),
                if ids.is_empty() { "" } else { ", machine-id" }
            ));
        }
    }

    /// S_HOSTNAME of an existing conf, else the vserver's name.
    fn hostname(&self) -> String {
        super::conf::load(&self.paths.conf(self.name), &[]).ok().and_then(|(c, _)| c.hostname).filter(|h| !h.is_empty()).unwrap_or_else(|| self.name.to_owned())
    }
}

/// Remove the rc?.d links of `HOST_ONLY_SERVICES`; returns the ones found.
fn disable_host_only(tree: &Tree) -> Vec<String> {
    let mut off = Vec::new();
    for svc in HOST_ONLY_SERVICES {
        let links = super::boot::service_links(tree, svc);
        if links.is_empty() {
            continue;
        }
        for l in &links {
            tree.unlink(&format!("{}/{}", l.dir, l.name));
        }
        off.push(String::from(svc));
    }
    off
}
