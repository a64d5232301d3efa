//! Raw system calls for the few entry points rustix does not cover (execve, clone3,
//! bpf, seccomp, signal masks, the legacy `sys_vserver`). Everything else goes
//! through rustix. Only x86_64 is wired up; other architectures fail to build here,
//! loudly, rather than at run time.

use core::arch::asm;

use rustix::io::Errno;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("vsbox's raw syscall layer supports x86_64 only");

/// Turn a raw kernel return value (negative errno on failure) into a `Result`.
#[inline]
pub fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// # Safety
/// The caller must pass arguments that are valid for syscall `nr`.
#[inline]
#[allow(dead_code)]
pub unsafe fn syscall0(nr: u32) -> isize {
    let ret: isize;
    // SAFETY: the syscall instruction only clobbers rcx and r11, declared below.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// The caller must pass arguments that are valid for syscall `nr`.
#[inline]
pub unsafe fn syscall3(nr: u32, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: the syscall instruction only clobbers rcx and r11, declared below.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a, in("rsi") b, in("rdx") c,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// The caller must pass arguments that are valid for syscall `nr`.
#[inline]
pub unsafe fn syscall4(nr: u32, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the syscall instruction only clobbers rcx and r11, declared below.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// The caller must pass arguments that are valid for syscall `nr`.
#[inline]
#[allow(dead_code)]
pub unsafe fn syscall6(nr: u32, a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> isize {
    let ret: isize;
    // SAFETY: the syscall instruction only clobbers rcx and r11, declared below.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d, in("r8") e, in("r9") f,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}
