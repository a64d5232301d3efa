//! Mount-table steps a context's private view is made of. Thin wrappers over
//! rustix's mount(2) family that name each step in their errors.

use rustix::fs::{FileType, Mode, CWD};
use rustix::io::Errno;
use rustix::mount::{self, MountFlags, MountPropagationFlags, UnmountFlags};

use super::error::{Context, Error, Result};

/// Stop mount events from flowing between the host and this mount namespace, in
/// both directions, before anything is mounted.
pub fn make_private_recursive(path: &str) -> Result<()> {
    mount::mount_change(path, MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
        .ctx("make the mount tree private")
}

/// A fresh filesystem instance (proc, tmpfs, devpts…).
pub fn mount_fs(fstype: &str, target: &str, flags: MountFlags, data: &str, what: &'static str) -> Result<()> {
    let mut d: heapless::Vec<u8, 128> = heapless::Vec::new();
    d.extend_from_slice(data.as_bytes()).map_err(|_| Error::new(what, Errno::TOOBIG))?;
    d.push(0).map_err(|_| Error::new(what, Errno::TOOBIG))?;
    let data = core::ffi::CStr::from_bytes_with_nul(&d).map_err(|_| Error::new(what, Errno::INVAL))?;
    mount::mount(fstype, target, fstype, flags, Some(data)).ctx(what)
}

/// Bind `src` onto `dst` (recursively when asked).
pub fn bind(src: &str, dst: &str, recursive: bool, what: &'static str) -> Result<()> {
    if recursive { mount::mount_bind_recursive(src, dst) } else { mount::mount_bind(src, dst) }.ctx(what)
}

/// Make `path` read-only in place (bind it onto itself, then remount the bind
/// read-only, nosuid, nodev, noexec). A path that does not exist is skipped:
/// /proc/sysrq-trigger is absent on kernels without SysRq.
pub fn make_readonly(path: &str, what: &'static str) -> Result<()> {
    match mount::mount_bind_recursive(path, path) {
        Ok(()) => {}
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Error::new(what, e)),
    }
    let flags = MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    mount::mount_remount(path, flags, "").ctx(what)
}

/// Hide whatever is at `path` under an empty read-only tmpfs. Skipped when the path
/// does not exist.
pub fn mask_dir(path: &str, what: &'static str) -> Result<()> {
    let flags = MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    match mount::mount("tmpfs", path, "tmpfs", flags, Some(c"size=0,mode=555")) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(Error::new(what, e)),
    }
}

/// Detach a mount (lazily, like `umount -l`). Not mounted is not an error.
pub fn unmount_detach(path: &str) -> core::result::Result<(), Errno> {
    match mount::unmount(path, UnmountFlags::DETACH) {
        Ok(()) | Err(Errno::INVAL) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Switch the root of this mount namespace to the current directory (`pivot_root . .`
/// then detach the old root, which leaves no path back to the host tree).
pub fn pivot_to_cwd() -> Result<()> {
    rustix::process::pivot_root(".", ".").ctx("pivot_root into the vserver's root")?;
    mount::unmount(".", UnmountFlags::DETACH).ctx("detach the host's root after pivot_root")?;
    rustix::process::chdir("/").ctx("chdir to the new root")
}

/// A character device node `path` (major:minor) with `mode`.
pub fn mknod_char(path: &str, mode: u32, major: u32, minor: u32) -> core::result::Result<(), Errno> {
    let dev = rustix::fs::makedev(major, minor);
    rustix::fs::mknodat(CWD, path, FileType::CharacterDevice, Mode::from_raw_mode(mode), dev)?;
    // The umask may have trimmed the mode.
    rustix::fs::chmod(path, Mode::from_raw_mode(mode))
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Make `path` and every mount below it read-only in this mount namespace only
/// (mount_setattr with AT_RECURSIVE changes the mounts, never the filesystems,
/// so the host's view stays writable). Kernels before 5.12 get a read-only bind
/// of `path` itself. A path that does not exist is skipped.
pub fn make_readonly_recursive(path: &str, what: &'static str) -> Result<()> {
    use linux_raw_sys::general::{AT_RECURSIVE, AT_SYMLINK_NOFOLLOW, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY, __NR_mount_setattr};
    let mut p: heapless::Vec<u8, 256> = heapless::Vec::new();
    p.extend_from_slice(path.as_bytes()).map_err(|_| Error::new(what, Errno::NAMETOOLONG))?;
    p.push(0).map_err(|_| Error::new(what, Errno::NAMETOOLONG))?;
    let attr = MountAttr { attr_set: (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) as u64, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: a NUL-terminated path and a mount_attr of the size passed, both alive
    // across the call; AT_FDCWD (-100) as the directory.
    let r = unsafe {
        super::raw::syscall6(
            __NR_mount_setattr,
            -100isize as usize,
            p.as_ptr() as usize,
            (AT_RECURSIVE | AT_SYMLINK_NOFOLLOW) as usize,
            &attr as *const MountAttr as usize,
            core::mem::size_of::<MountAttr>(),
            0,
        )
    };
    match super::raw::check(r) {
        Ok(_) => Ok(()),
        Err(Errno::NOENT) => Ok(()),
        Err(Errno::NOSYS) => make_readonly(path, what),
        Err(e) => Err(Error::new(what, e)),
    }
}
