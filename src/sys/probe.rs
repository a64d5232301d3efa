//! Whether the running kernel implements a system call, asked with arguments it
//! must refuse when it does (EINVAL, or EPERM for an unprivileged caller): only
//! ENOSYS means it does not. For `vsbox --version`; nothing is created.

use linux_raw_sys::general::{__NR_bpf, __NR_clone3, __NR_pidfd_open};
use rustix::io::Errno;

use super::raw;

fn ask(nr: u32, a: usize, b: usize, c: usize) -> Result<(), Errno> {
    // SAFETY: each caller passes arguments the kernel rejects before it reads or
    // writes any memory (a null pointer with size 0, an invalid command or pid).
    raw::check(unsafe { raw::syscall3(nr, a, b, c) }).map(|_| ())
}

/// bpf() with an invalid command.
pub fn bpf() -> Result<(), Errno> {
    ask(__NR_bpf, u32::MAX as usize, 0, 0)
}

/// pidfd_open(0, 0): pid 0 is invalid.
pub fn pidfd_open() -> Result<(), Errno> {
    ask(__NR_pidfd_open, 0, 0, 0)
}

/// clone3(NULL, 0): a size below the first struct version is invalid.
pub fn clone3() -> Result<(), Errno> {
    ask(__NR_clone3, 0, 0, 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_kernel_has_them_all() {
        use rustix::io::Errno;
        assert_eq!(super::bpf(), Err(Errno::INVAL));
        assert_eq!(super::pidfd_open(), Err(Errno::INVAL));
        assert_eq!(super::clone3(), Err(Errno::INVAL));
    }
}
