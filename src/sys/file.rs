//! Whole-file reads and writes for the small kernel files vsbox lives on
//! (/proc, cgroupfs, the registry): one open, one or few reads, no std.

use alloc::vec::Vec;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

use super::error::{Context, Result};

/// Standard input, output or error (0, 1, anything else: 2) as a borrowed
/// descriptor. (rustix's own `stdio::stdin()` and friends are safe only with its
/// std feature, which the no_std probe build leaves out.)
pub fn std_fd(fd: i32) -> BorrowedFd<'static> {
    let fd = if fd == 0 || fd == 1 { fd } else { 2 };
    // SAFETY: descriptors 0, 1 and 2 stay open for the whole life of the process
    // (vsbox only ever dup2s over them, never closes them).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Standard input as a borrowed descriptor (see `std_fd`).
pub fn stdin() -> BorrowedFd<'static> {
    std_fd(0)
}

/// Standard output as a borrowed descriptor (see `std_fd`).
pub fn stdout() -> BorrowedFd<'static> {
    std_fd(1)
}

/// Standard error as a borrowed descriptor (see `std_fd`).
pub fn stderr() -> BorrowedFd<'static> {
    std_fd(2)
}

/// Open for reading, close-on-exec.
pub fn open_read<P: rustix::path::Arg>(path: P) -> core::result::Result<OwnedFd, Errno> {
    fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
}

/// Read up to `buf.len()` bytes of `path` into `buf`; returns the length read.
/// Raw errno, because callers decide whether a vanished file is an error.
pub fn read_into<P: rustix::path::Arg>(path: P, buf: &mut [u8]) -> core::result::Result<usize, Errno> {
    let fd = open_read(path)?;
    read_fd_into(&fd, buf)
}

/// Read from `fd` until `buf` is full or end of file.
pub fn read_fd_into<F: AsFd>(fd: F, buf: &mut [u8]) -> core::result::Result<usize, Errno> {
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::read(&fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The whole file, however long (mountinfo, passwd).
pub fn read_to_vec<P: rustix::path::Arg>(path: P) -> core::result::Result<Vec<u8>, Errno> {
    let fd = open_read(path)?;
    let mut v = Vec::with_capacity(4096);
    loop {
        if v.len() == v.capacity() {
            v.reserve(v.capacity());
        }
        let len = v.len();
        let spare = v.capacity() - len;
        v.resize(len + spare, 0);
        match rustix::io::read(&fd, &mut v[len..]) {
            Ok(0) => {
                v.truncate(len);
                return Ok(v);
            }
            Ok(k) => v.truncate(len + k),
            Err(Errno::INTR) => v.truncate(len),
            Err(e) => return Err(e),
        }
    }
}

/// Write `data` to an existing file in one write(2), as cgroupfs and procfs want.
pub fn write_existing<P: rustix::path::Arg>(path: P, data: &[u8]) -> core::result::Result<(), Errno> {
    let fd = fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    write_fd(&fd, data)
}

/// Write all of `data` to `fd`.
pub fn write_fd<F: AsFd>(fd: F, mut data: &[u8]) -> core::result::Result<(), Errno> {
    while !data.is_empty() {
        match rustix::io::write(&fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Create or replace a file with `data` through a temporary name and rename, so a
/// reader never sees half a file.
pub fn write_atomic(dir: &str, name: &str, data: &[u8], mode: u32) -> Result<()> {
    let mut tmp: heapless::String<256> = heapless::String::new();
    let mut dst: heapless::String<256> = heapless::String::new();
    use core::fmt::Write as _;
    let _ = write!(tmp, "{dir}/.{name}.tmp");
    write!(dst, "{dir}/{name}").map_err(|_| super::Error::new("registry path too long", Errno::NAMETOOLONG))?;
    let fd = fs::open(
        tmp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .ctx("create a state file")?;
    write_fd(&fd, data).ctx("write a state file")?;
    drop(fd);
    fs::rename(tmp.as_str(), dst.as_str()).ctx("rename a state file into place")
}

/// `mkdir -p`: create `path` and its missing parents with `mode`.
pub fn mkdir_p(path: &str, mode: u32) -> core::result::Result<(), Errno> {
    match fs::mkdir(path, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(Errno::EXIST) => return Ok(()),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e),
    }
    let parent = match path.trim_end_matches('/').rfind('/') {
        Some(0) | None => return Err(Errno::NOENT),
        Some(i) => &path[..i],
    };
    mkdir_p(parent, mode)?;
    match fs::mkdir(path, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// True if `path` exists (any type).
pub fn exists(path: &str) -> bool {
    fs::access(path, fs::Access::EXISTS).is_ok()
}

/// Whether `path` is the root of a mount (a bind mount onto itself included), from
/// one statx; kernels before 5.8 lack the attribute and get a mountinfo scan.
pub fn is_mount_root(path: &str) -> bool {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
    if let Ok(st) = statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS) {
        if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) {
            return st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT);
        }
    }
    let Ok(text) = read_to_vec("/proc/self/mountinfo") else { return false };
    let text = core::str::from_utf8(&text).unwrap_or("");
    text.lines().any(|l| l.split(' ').nth(4) == Some(path))
}
