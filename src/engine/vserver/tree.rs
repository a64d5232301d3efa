//! The guest's tree, seen from the host: every path resolved *inside* the tree
//! (openat2 RESOLVE_IN_ROOT), never through a symlink in the last component, no
//! open that a FIFO could block, and users looked up in the guest's own files.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::engine::context::spec::User;
use crate::sys::file;

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

// ---------------------------------------------------------------------------------
// Users, from the guest's own files
// ---------------------------------------------------------------------------------

/// USER (a name, or a number) from the guest's /etc/passwd, with its groups from
/// the guest's /etc/group. No NSS: the guest's files only.
pub fn lookup_user(tree: &Tree, user: &str) -> Option<User> {
    let passwd = tree.read("etc/passwd").ok()?;
    let passwd = String::from_utf8_lossy(&passwd);
    let numeric = user.bytes().all(|b| b.is_ascii_digit()) && !user.is_empty();
    let (name, uid, gid, home, shell) = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        let hit = f[0] == user || (numeric && f[2] == user);
        if !hit {
            return None;
        }
        Some((f[0].to_owned(), f[2].parse::<u32>().ok()?, f[3].parse::<u32>().ok()?, f[5].to_owned(), f[6].to_owned()))
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
    Some(User { name, uid, gid, groups, home, shell })
}

