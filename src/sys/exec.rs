//! execve(2) with our own PATH search, so no libc `execvp` is involved.

use alloc::vec::Vec;

use linux_raw_sys::general::__NR_execve;
use rustix::io::Errno;

use super::error::Error;
use super::raw;

/// The search path when the environment has no PATH (the vserver script's choice,
/// minus X11).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A NUL-terminated pointer array over owned NUL-terminated strings, as execve wants.
pub struct CStrArray {
    _bytes: Vec<Vec<u8>>,
    ptrs: Vec<*const u8>,
}

impl CStrArray {
    pub fn new<S: AsRef<[u8]>>(items: &[S]) -> Self {
        let mut bytes: Vec<Vec<u8>> = Vec::with_capacity(items.len());
        for s in items {
            let s = s.as_ref();
            let mut v = Vec::with_capacity(s.len() + 1);
            // An interior NUL would silently cut the string; cut it visibly here instead.
            v.extend(s.iter().copied().take_while(|&b| b != 0));
            v.push(0);
            bytes.push(v);
        }
        let mut ptrs: Vec<*const u8> = bytes.iter().map(|v| v.as_ptr()).collect();
        ptrs.push(core::ptr::null());
        CStrArray { _bytes: bytes, ptrs }
    }
    fn as_ptr(&self) -> *const *const u8 {
        self.ptrs.as_ptr()
    }
}

/// Replace the process image with `path` (a file path, not searched).
/// Returns only on failure.
pub fn execve(path: &[u8], argv: &CStrArray, envp: &CStrArray) -> Errno {
    let mut p: Vec<u8> = Vec::with_capacity(path.len() + 1);
    p.extend_from_slice(path);
    p.push(0);
    // SAFETY: all three pointers point at NUL-terminated data (arrays end with a null
    // pointer) owned by this frame or the caller, alive across the call.
    let r = unsafe {
        raw::syscall3(__NR_execve, p.as_ptr() as usize, argv.as_ptr() as usize, envp.as_ptr() as usize)
    };
    match raw::check(r) {
        Err(e) => e,
        Ok(_) => Errno::INVAL, // execve does not return on success
    }
}

/// execveat(2) of the program behind `fd` (an O_PATH descriptor of it), with
/// AT_EMPTY_PATH. Returns only on failure.
pub fn exec_fd<F: rustix::fd::AsFd>(fd: F, argv: &CStrArray, envp: &CStrArray) -> Errno {
    use rustix::fd::AsRawFd;
    let empty = [0u8; 1];
    // SAFETY: a live descriptor, an empty NUL-terminated path, NULL-terminated
    // pointer arrays owned by the caller and alive across the call.
    let r = unsafe {
        raw::syscall6(
            linux_raw_sys::general::__NR_execveat,
            fd.as_fd().as_raw_fd() as usize,
            empty.as_ptr() as usize,
            argv.as_ptr() as usize,
            envp.as_ptr() as usize,
            linux_raw_sys::general::AT_EMPTY_PATH as usize,
            0,
        )
    };
    match raw::check(r) {
        Err(e) => e,
        Ok(_) => Errno::INVAL,
    }
}

/// The PATH value from an environment list (`KEY=VALUE` entries).
pub fn path_from_env<S: AsRef<[u8]>>(envp: &[S]) -> &[u8] {
    envp.iter()
        .map(|e| e.as_ref())
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH)
}

/// Run `argv[0]` the way a shell would: a name with a slash is executed as it is,
/// any other name is searched along PATH (from `envp`). Like execvp, a permission
/// error on one candidate is remembered while the search goes on, so the final error
/// is EACCES rather than ENOENT when a match existed but was not executable.
/// Returns only on failure, with an `Error` naming the step.
pub fn exec<S: AsRef<[u8]>, E: AsRef<[u8]>>(argv: &[S], envp: &[E]) -> Error {
    let Some(cmd) = argv.first().map(|s| s.as_ref()) else {
        return Error::new("execute: no command given", Errno::INVAL);
    };
    if cmd.is_empty() {
        return Error::new("execute the command", Errno::NOENT);
    }
    let args = CStrArray::new(argv);
    let env = CStrArray::new(envp);
    if cmd.contains(&b'/') {
        return Error::new("execute the command", execve(cmd, &args, &env));
    }
    let mut saw_eacces = false;
    let mut full: Vec<u8> = Vec::with_capacity(256);
    for dir in path_from_env(envp).split(|&b| b == b':') {
        full.clear();
        full.extend_from_slice(if dir.is_empty() { b"." } else { dir });
        full.push(b'/');
        full.extend_from_slice(cmd);
        match execve(&full, &args, &env) {
            Errno::ACCESS => saw_eacces = true,
            Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG | Errno::LOOP => {}
            e => return Error::new("execute the command", e),
        }
    }
    Error::new("execute the command", if saw_eacces { Errno::ACCESS } else { Errno::NOENT })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_comes_from_the_environment() {
        assert_eq!(path_from_env(&["HOME=/", "PATH=/x:/y"]), b"/x:/y");
        assert_eq!(path_from_env::<&str>(&[]), DEFAULT_PATH);
    }

    #[test]
    fn missing_commands_report_enoent() {
        let e = exec(&["vsbox-surely-not-a-command-xyz"], &["PATH=/nonexistent:/also-not"]);
        assert_eq!(e.errno, Errno::NOENT);
        let e = exec(&["/nonexistent/cmd"], &["PATH=/bin"]);
        assert_eq!(e.errno, Errno::NOENT);
    }

    #[test]
    fn non_executables_report_eacces() {
        let dir = std::env::temp_dir().join(std::format!("vsbox-exec-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("not-a-program"), b"data\n").unwrap();
        let path = std::format!("PATH={}", dir.display());
        let e = exec(&["not-a-program"], &[path.as_str()]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(e.errno, Errno::ACCESS);
    }
}
