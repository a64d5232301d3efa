//! A tiny runtime for the no_std legacy probe (src/bin/vsbox-legacy-probe.rs): its
//! own `_start`, the memory functions the compiler calls, a bump allocator and a
//! panic handler, so the probe links no libc at all and runs as /init on the 2.6
//! vserver kernels that vsbox itself cannot (static glibc and Rust's std refuse
//! Linux older than 3.2). static-build.md, option (c2). Built only for the probe:
//! feature `legacy-probe` without `std` (the build links with -nostartfiles).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Define the probe's entry point: `probe_entry!(main)` with `fn main() -> i32`.
/// (The symbol is what `_start` calls; the macro keeps `unsafe` in this module.)
#[macro_export]
macro_rules! probe_entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "Rust" fn vsbox_probe_main() -> i32 {
            $main()
        }
    };
}

unsafe extern "Rust" {
    fn vsbox_probe_main() -> i32;
}

/// The ELF entry point: the kernel leaves argc, argv, envp and the auxiliary
/// vector on the stack; hand its address to `entry` on an aligned stack.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!("mov rdi, rsp", "xor ebp, ebp", "and rsp, -16", "call {e}", "ud2", e = sym entry)
}

unsafe extern "C" fn entry(sp: *mut usize) -> ! {
    // SAFETY: `sp` is the initial stack pointer, which execve laid out as argc,
    // argv[argc], NULL, envp…, NULL, auxv: envp starts right after argv's NULL, and
    // rustix reads the auxiliary vector (page size, vDSO) that follows it.
    unsafe {
        let argc = *sp;
        let envp = (sp.add(1) as *mut *mut u8).add(argc + 1);
        rustix::param::init(envp);
    }
    // SAFETY: defined by the probe through `probe_entry!`.
    let code = unsafe { vsbox_probe_main() };
    super::process::exit_now(code)
}

// The memory functions rustc and LLVM emit calls to. Written with string
// instructions or volatile loops, so LLVM cannot turn them into calls to
// themselves.

/// # Safety
/// C's memcpy contract: `n` bytes readable at `s`, writable at `d`, no overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract; rep movsb copies rcx bytes forward.
    unsafe { core::arch::asm!("rep movsb", inout("rcx") n => _, inout("rdi") d => _, inout("rsi") s => _, options(nostack, preserves_flags)) };
    d
}

/// # Safety
/// C's memmove contract: `n` bytes readable at `s` and writable at `d`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
    if (d as usize) <= (s as usize) || (d as usize) >= (s as usize).wrapping_add(n) {
        // SAFETY: a forward copy never overwrites source bytes not yet read here.
        return unsafe { memcpy(d, s, n) };
    }
    // SAFETY: the caller's contract; with the direction flag set, rep movsb copies
    // backwards from the last byte, which is safe when `d` overlaps `s` from above.
    unsafe {
        core::arch::asm!("std", "rep movsb", "cld",
            inout("rcx") n => _, inout("rdi") d.add(n - 1) => _, inout("rsi") s.add(n - 1) => _, options(nostack));
    }
    d
}

/// # Safety
/// C's memset contract: `n` bytes writable at `d`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(d: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract; rep stosb stores al rcx times.
    unsafe { core::arch::asm!("rep stosb", inout("rcx") n => _, inout("rdi") d => _, in("al") c as u8, options(nostack, preserves_flags)) };
    d
}

/// # Safety
/// C's memcmp contract: `n` bytes readable at `a` and `b`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, within both buffers by the caller's contract.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// As `memcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the same contract.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// C's strlen contract: `s` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: every byte up to the terminating NUL is readable.
    while unsafe { s.add(n).read_volatile() } != 0 {
        n += 1;
    }
    n
}

/// The precompiled liballoc has unwinding landing pads; with panic=abort they are
/// never entered, but the symbols must exist.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    super::process::exit_now(101)
}

#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() -> i32 {
    8 // _URC_CONTINUE_UNWIND
}

/// A bump allocator over 4 MiB of .bss: the probe allocates little and frees
/// nothing worth reusing.
struct Bump {
    heap: UnsafeCell<[u8; HEAP]>,
    next: AtomicUsize,
}

const HEAP: usize = 4 << 20;

// SAFETY: the only mutation of `heap` goes through disjoint ranges handed out by
// the atomic `next`.
unsafe impl Sync for Bump {}

// SAFETY: every block is a fresh, aligned, in-bounds range of `heap`, never
// handed out twice; null when the heap is exhausted.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let base = self.heap.get() as usize;
        let mut cur = self.next.load(Ordering::Relaxed);
        loop {
            let start = (base + cur).next_multiple_of(l.align()) - base;
            let Some(end) = start.checked_add(l.size()).filter(|&e| e <= HEAP) else { return core::ptr::null_mut() };
            match self.next.compare_exchange(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => cur = now,
            }
        }
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static ALLOC: Bump = Bump { heap: UnsafeCell::new([0; HEAP]), next: AtomicUsize::new(0) };

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write as _;
    let mut s: heapless::String<256> = heapless::String::new();
    let _ = write!(s, "probe: panic: {info}\n");
    let _ = rustix::io::write(super::file::std_fd(2), s.as_bytes());
    super::process::exit_now(101)
}
