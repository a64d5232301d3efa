//! Process creation and exit without libc: fork through raw clone(2), exit_group.

use linux_raw_sys::general::{__NR_clone, __NR_exit_group, SIGCHLD};
use rustix::process::Pid;

use super::error::{Context, Result};
use super::raw;

/// Who we are after a fork.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// fork(2) as clone(SIGCHLD). The program is single-threaded wherever this is called
/// (applets never start threads), so the child's copy of the heap and stdio is sound.
/// The child must leave through `exit_now` or exec, never by returning into std.
pub fn fork() -> Result<Forked> {
    // SAFETY: clone with a null stack pointer duplicates the caller on its own
    // (copied) stack, exactly like fork(2); no pointers are passed.
    let r = unsafe { raw::syscall4(__NR_clone, SIGCHLD as usize, 0, 0, 0) };
    let pid = raw::check(r).ctx("fork a process")?;
    Ok(match Pid::from_raw(pid as i32) {
        Some(p) => Forked::Parent(p),
        None => Forked::Child,
    })
}

/// End the whole process now, with no atexit handlers and no stdio flush: what a
/// forked child must use so the parent's buffers are not written twice.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: exit_group takes one integer and does not return.
    unsafe {
        raw::syscall3(__NR_exit_group, code as usize, 0, 0);
    }
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Make this process non-dumpable: its /proc files become root's, and only a
/// holder of CAP_SYS_PTRACE may attach to it. Every vsbox process that a guest can
/// see sets it before the guest can see it.
pub fn set_not_dumpable() -> Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable).ctx("make the process non-dumpable")
}

/// Show as `name` in ps: the command name (comm) and the command line, which the
/// kernel reads from the argument area at the top of the stack. That area is
/// overwritten in place (what setproctitle does): `name`, a NUL, and a non-NUL
/// last byte, which tells the kernel to stop at the first NUL. Only for a
/// process that never reads its arguments again (a context's init).
pub fn set_process_name(name: &str) {
    let mut comm: heapless::Vec<u8, 16> = heapless::Vec::new();
    let _ = comm.extend_from_slice(&name.as_bytes()[..name.len().min(15)]);
    let _ = comm.push(0);
    if let Ok(c) = core::ffi::CStr::from_bytes_with_nul(&comm) {
        let _ = rustix::thread::set_name(c);
    }
    let mut buf = [0u8; 1024];
    let Ok(n) = super::file::read_into("/proc/self/stat", &mut buf) else { return };
    let Some(close) = buf[..n].iter().rposition(|&b| b == b')') else { return };
    // Fields 48 and 49 (arg_start, arg_end), counted after the command name.
    let mut fields = buf[close + 2..n].split(|&b| b == b' ');
    let field = |f: &mut dyn Iterator<Item = &[u8]>, skip: usize| -> Option<usize> {
        core::str::from_utf8(f.nth(skip)?).ok()?.trim().parse().ok()
    };
    let (Some(start), Some(end)) = (field(&mut fields, 45), field(&mut fields, 0)) else { return };
    if end <= start + name.len() + 1 || end - start > 1 << 20 {
        return;
    }
    // SAFETY: [arg_start, arg_end) is this process's own argument area, mapped
    // and writable (it is on the stack); nothing reads the arguments any more.
    unsafe {
        let p = start as *mut u8;
        core::ptr::write_bytes(p, 0, end - start);
        core::ptr::copy_nonoverlapping(name.as_ptr(), p, name.len());
        *p.add(end - start - 1) = b' ';
    }
}

unsafe extern "C" {
    /// The C runtime's pointer to the environment block (the process image's, as
    /// execve laid it out, until something calls setenv).
    static mut environ: *mut *mut u8;
}

/// Hand rustix the auxiliary vector (page size, clock ticks, the vDSO) from the
/// exec-time stack, so nothing needs /proc (static-build.md, gotcha a4). Call it
/// first thing in `main`, before anything can change the environment.
pub fn init_auxv() {
    // SAFETY: at program start `environ` still points at the environment block that
    // execve placed on the stack, which the auxiliary vector directly follows.
    unsafe { rustix::param::init(environ) };
}
