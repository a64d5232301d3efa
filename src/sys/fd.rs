//! Descriptor hygiene for processes that will run inside a context: nothing the
//! caller had open may reach a guest (a directory fd is a path back to the host).

use rustix::fd::{AsRawFd, RawFd};
use rustix::io::{Errno, FdFlags};

use linux_raw_sys::general::__NR_close_range;

use super::raw;

/// close_range(2): close every descriptor from `first` to `last` (inclusive).
fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: close_range only closes descriptors; the callers own the process's
    // descriptor table and keep (outside the range) every fd they still use.
    let r = unsafe { raw::syscall3(__NR_close_range, first as usize, last as usize, 0) };
    raw::check(r).map(|_| ())
}

/// Close every descriptor above 2 except those in `keep` (any order). Kernels
/// without close_range (before 5.9) get a loop over the descriptors /proc lists.
pub fn close_all_except(keep: &[RawFd]) {
    let mut sorted: heapless::Vec<u32, 16> = heapless::Vec::new();
    for &fd in keep {
        if fd > 2 && !sorted.contains(&(fd as u32)) {
            let _ = sorted.push(fd as u32);
        }
    }
    sorted.sort_unstable();
    let mut from = 3u32;
    let mut ok = true;
    for &k in &sorted {
        if k > from {
            ok &= close_range(from, k - 1).is_ok();
        }
        from = k + 1;
    }
    ok &= close_range(from, u32::MAX).is_ok();
    if !ok {
        close_listed_except(&sorted);
    }
}

/// The fallback of `close_all_except`: close what /proc/self/fd lists.
fn close_listed_except(keep: &[u32]) {
    let Ok(dirfd) = super::file::open_read("/proc/self/fd") else { return };
    let mut fds: heapless::Vec<u32, 256> = heapless::Vec::new();
    let own = dirfd.as_raw_fd() as u32;
    if let Ok(mut dir) = rustix::fs::Dir::read_from(&dirfd) {
        while let Some(Ok(e)) = dir.next() {
            let Some(n) = e.file_name().to_str().ok().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if n > 2 && n != own && !keep.contains(&n) {
                let _ = fds.push(n);
            }
        }
    }
    drop(dirfd);
    for n in fds {
        // SAFETY: closing a descriptor number of this process that no Rust owner
        // uses any more (the callers keep what they hold in `keep`).
        unsafe { raw::syscall3(linux_raw_sys::general::__NR_close, n as usize, 0, 0) };
    }
}

/// Let descriptor number `n` survive exec (the descriptors an admin asked to
/// keep, which no Rust owner holds): clear its close-on-exec flag.
pub fn keep_open_across_exec(n: RawFd) -> Result<(), Errno> {
    use linux_raw_sys::general::{F_GETFD, F_SETFD, __NR_fcntl};
    // SAFETY: F_GETFD/F_SETFD on a descriptor number only read and set its flags.
    let flags = raw::check(unsafe { raw::syscall3(__NR_fcntl, n as usize, F_GETFD as usize, 0) })?;
    let flags = flags & !(FdFlags::CLOEXEC.bits() as usize);
    // SAFETY: as above.
    raw::check(unsafe { raw::syscall3(__NR_fcntl, n as usize, F_SETFD as usize, flags) }).map(|_| ())
}

/// Whether `fd` is an open descriptor of this process.
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on any number only reads the descriptor table.
    let r = unsafe { raw::syscall3(linux_raw_sys::general::__NR_fcntl, fd as usize, linux_raw_sys::general::F_GETFD as usize, 0) };
    raw::check(r).is_ok()
}

/// Take ownership of descriptor number `n`, handed over through an exec (the
/// lean init's status pipe): the caller checked it is open and owned by nobody.
pub fn own_raw(n: RawFd) -> rustix::fd::OwnedFd {
    use rustix::fd::FromRawFd;
    // SAFETY: `n` is open (checked by the caller) and no other owner exists in
    // this freshly executed process.
    unsafe { rustix::fd::OwnedFd::from_raw_fd(n) }
}
