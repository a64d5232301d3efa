//! The legacy `sys_vserver` system call of Linux-VServer patched kernels
//! (x86_64: 236), for the backend that uses real kernel contexts where they exist.
//! Commands are `category << 24 | command << 16 | version`; layouts follow
//! util-vserver's kernel headers (vserver-spec.md §2.3, legacy-kernel.md). On a
//! mainline kernel every call fails with ENOSYS.

use rustix::io::Errno;

use super::raw;

/// `__NR_vserver` on x86_64.
pub const NR_VSERVER: u32 = linux_raw_sys::general::__NR_vserver;

/// Encode a command word.
pub const fn cmd(category: u32, command: u32, version: u32) -> u32 {
    ((category & 0x3F) << 24) | ((command & 0xFF) << 16) | (version & 0xFFF)
}

pub const GET_VERSION: u32 = cmd(0, 0, 0);
pub const CTX_CREATE: u32 = cmd(9, 1, 1);
pub const CTX_MIGRATE: u32 = cmd(11, 1, 1);
pub const CTX_KILL: u32 = cmd(12, 1, 0);
pub const CTX_STAT: u32 = cmd(40, 0, 0);
pub const TASK_XID: u32 = cmd(46, 1, 0);
pub const VX_INFO: u32 = cmd(46, 5, 0);
pub const SET_CFLAGS: u32 = cmd(52, 2, 0);
pub const GET_BCAPS: u32 = cmd(52, 9, 0);
pub const SET_BCAPS: u32 = cmd(52, 10, 0);
/// The compat commands of vs2.0/2.2 kernels (ENOSYS on vs2.3).
pub const COMPAT_NEW_S_CONTEXT: u32 = cmd(63, 1, 1);
pub const COMPAT_SET_IPV4ROOT: u32 = cmd(63, 2, 3);

/// The flag word of a context being set up (SETUP | INIT | ADMIN state bits).
pub const VXF_INIT_SET: u64 = (1 << 32) | (1 << 33) | (1 << 34);

fn call(command: u32, id: u32, data: *mut u8) -> Result<usize, Errno> {
    // SAFETY: `data` is null or points at a live, properly sized structure for
    // `command` (each wrapper below passes its own local).
    let r = unsafe { raw::syscall3(NR_VSERVER, command as usize, id as usize, data as usize) };
    raw::check(r)
}

/// The kernel's VCI version (e.g. 0x00020308 for vs2.3.0.36); ENOSYS on mainline.
pub fn get_version() -> Result<u32, Errno> {
    // util-vserver passes the COMPAT category as id; the kernel ignores it.
    call(GET_VERSION, 63, core::ptr::null_mut()).map(|v| v as u32)
}

/// Create context `xid` and move the caller into it.
pub fn ctx_create(xid: u32, flagword: u64) -> Result<u32, Errno> {
    let mut d = flagword;
    call(CTX_CREATE, xid, &mut d as *mut u64 as *mut u8).map(|v| v as u32)
}

/// Move the caller into existing context `xid` (1: the spectator).
pub fn ctx_migrate(xid: u32, flagword: u64) -> Result<(), Errno> {
    let mut d = flagword;
    call(CTX_MIGRATE, xid, &mut d as *mut u64 as *mut u8).map(|_| ())
}

/// The context of process `pid` (0: the caller).
pub fn task_xid(pid: u32) -> Result<u32, Errno> {
    call(TASK_XID, pid, core::ptr::null_mut()).map(|v| v as u32)
}

/// `(xid, initpid)` of context `xid`.
pub fn vx_info(xid: u32) -> Result<(u32, u32), Errno> {
    let mut d = [0u32; 2];
    call(VX_INFO, xid, d.as_mut_ptr() as *mut u8).map(|_| (d[0], d[1]))
}

/// `(usecnt, tasks)` of context `xid`.
pub fn ctx_stat(xid: u32) -> Result<(u32, u32), Errno> {
    let mut d = [0u32; 2];
    call(CTX_STAT, xid, d.as_mut_ptr() as *mut u8).map(|_| (d[0], d[1]))
}

/// Signal `pid` in context `xid` (pid 0: every process of the context).
pub fn ctx_kill(xid: u32, pid: i32, sig: i32) -> Result<(), Errno> {
    let mut d = [pid, sig];
    call(CTX_KILL, xid, d.as_mut_ptr() as *mut u8).map(|_| ())
}

/// Lower the context's bounding capabilities: `new = (old & ~mask) | (bcaps & mask)`.
pub fn set_bcaps(xid: u32, bcaps: u64, mask: u64) -> Result<(), Errno> {
    let mut d = [bcaps, mask];
    call(SET_BCAPS, xid, d.as_mut_ptr() as *mut u8).map(|_| ())
}

/// Set context flags under `mask`.
pub fn set_cflags(xid: u32, flags: u64, mask: u64) -> Result<(), Errno> {
    let mut d = [flags, mask];
    call(SET_CFLAGS, xid, d.as_mut_ptr() as *mut u8).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_match_the_kernel_headers() {
        // Values from util-vserver's headers and the transcript in legacy-kernel.md.
        assert_eq!(GET_VERSION, 0x0000_0000);
        assert_eq!(CTX_CREATE, 0x0901_0001);
        assert_eq!(CTX_MIGRATE, 0x0B01_0001);
        assert_eq!(TASK_XID, 0x2E01_0000);
        assert_eq!(VX_INFO, 0x2E05_0000);
        assert_eq!(CTX_STAT, 0x2800_0000);
        assert_eq!(CTX_KILL, 0x0C01_0000);
        assert_eq!(SET_BCAPS, 0x340A_0000);
        assert_eq!(SET_CFLAGS, 0x3402_0000);
        assert_eq!(COMPAT_NEW_S_CONTEXT, 0x3F01_0001);
        assert_eq!(COMPAT_SET_IPV4ROOT, 0x3F02_0003);
        assert_eq!(NR_VSERVER, 236);
    }

    #[test]
    fn a_mainline_kernel_answers_enosys() {
        assert_eq!(get_version(), Err(Errno::NOSYS));
        assert_eq!(task_xid(0), Err(Errno::NOSYS));
    }
}
