//! Run a program to its end and keep what it printed: fork, pipes on its standard
//! streams, execve, waitpid. This is for the few places where vsbox needs another
//! program's answer (the shell that evaluates a vserver conf), not for running
//! vservers.
//!
//! The process may be multi-threaded (the test harness is), so the child of the fork
//! does nothing that could take a lock another thread held at fork time: everything
//! it needs (argument and environment arrays, every PATH candidate, the working
//! directory) is built before the fork, and after it the child only makes raw system
//! calls. It reports a failure before exec through a close-on-exec pipe: end of file
//! on that pipe means exec succeeded.
//!
//! Signal dispositions and the signal mask are inherited as execve(2) leaves them; a
//! parent that ignores SIGPIPE (every Rust std program does) passes that on.

use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::CStr;

use linux_raw_sys::general::__NR_execve;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::OwnedFd;
use rustix::io::{self, Errno};
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, WaitOptions, waitpid};

use super::error::{Context, Error, Result};
use super::exec::path_from_env;
use super::process::{self, Forked};
use super::raw;

/// Standard output is kept up to this size; the rest is read and dropped, so a
/// chatty child can neither block on a full pipe nor exhaust memory.
pub const STDOUT_MAX: usize = 1 << 20;
/// Standard error is kept for error messages only.
pub const STDERR_MAX: usize = 4096;

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal with this number killed it.
    Signal(i32),
}

/// What a finished child left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub status: ExitStatus,
    /// Everything it wrote on stdout, up to `STDOUT_MAX` bytes.
    pub stdout: Vec<u8>,
    /// The start of what it wrote on stderr, up to `STDERR_MAX` bytes.
    pub stderr: Vec<u8>,
    /// stdout went past `STDOUT_MAX` and was cut.
    pub stdout_truncated: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == ExitStatus::Code(0)
    }

    /// The first non-empty line of stderr, trimmed: what one-line error messages quote.
    pub fn stderr_first_line(&self) -> &[u8] {
        self.stderr
            .split(|&b| b == b'\n')
            .map(|l| l.trim_ascii())
            .find(|l| !l.is_empty())
            .unwrap_or(b"")
    }
}

/// Run `argv` with exactly the environment `envp` (`KEY=VALUE` entries) and, if
/// given, in the directory `cwd`; wait for it and return its status and output.
/// Its stdin is an empty pipe (it reads end of file at once).
///
/// `argv[0]` is searched along the PATH of `envp` (the default path when it has
/// none) unless it contains a slash, as execvp does; a candidate that exists but is
/// not executable turns the final error into EACCES. A program that cannot be
/// started is an `Err` naming the step (`execute the command`, `change to the
/// working directory`), not an exit code.
pub fn run_capture(argv: &[&[u8]], envp: &[&[u8]], cwd: Option<&[u8]>) -> Result<Output> {
    let Some(&cmd) = argv.first() else {
        return Err(Error::new("execute: no command given", Errno::INVAL));
    };
    if cmd.is_empty() {
        return Err(Error::new("execute the command", Errno::NOENT));
    }
    let args = NulArray::new(argv);
    let env = NulArray::new(envp);
    let candidates = candidates(cmd, path_from_env(envp));
    let cwd = match cwd {
        Some(d) => Some(CString::new(d).map_err(|_| Error::new("change to the working directory", Errno::INVAL))?),
        None => None,
    };

    let (in_r, in_w) = pipe_with(PipeFlags::CLOEXEC).ctx("create a pipe for the child's stdin")?;
    // Closing the write end now hands the child an stdin that is already at its end.
    drop(in_w);
    let (out_r, out_w) = pipe_with(PipeFlags::CLOEXEC).ctx("create a pipe for the child's stdout")?;
    let (err_r, err_w) = pipe_with(PipeFlags::CLOEXEC).ctx("create a pipe for the child's stderr")?;
    let (status_r, status_w) = pipe_with(PipeFlags::CLOEXEC).ctx("create the child's status pipe")?;

    let pid = match process::fork()? {
        Forked::Child => child(&in_r, &out_w, &err_w, &status_w, cwd.as_deref(), &candidates, &args, &env),
        Forked::Parent(pid) => pid,
    };
    drop((in_r, out_w, err_w, status_w));

    if let Some(e) = read_child_failure(&status_r) {
        reap(pid)?;
        return Err(e);
    }
    let (stdout, stdout_truncated, stderr) = drain(out_r, err_r)?;
    let status = reap(pid)?;
    Ok(Output { status, stdout, stderr, stdout_truncated })
}

/// The step at which a child failed before exec, sent to the parent with the errno.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Step {
    Redirect = 1,
    Chdir = 2,
    Exec = 3,
}

impl Step {
    fn what(raw: u32) -> &'static str {
        match raw {
            1 => "redirect the child's standard streams",
            2 => "change to the working directory",
            _ => "execute the command",
        }
    }
}

/// The forked child: wire up the streams, move, exec. Only raw system calls from
/// here on, no allocation (see the module comment).
#[allow(clippy::too_many_arguments)]
fn child(
    stdin: &OwnedFd,
    stdout: &OwnedFd,
    stderr: &OwnedFd,
    status: &OwnedFd,
    cwd: Option<&CStr>,
    candidates: &[CString],
    args: &NulArray,
    env: &NulArray,
) -> ! {
    let redirected = rustix::stdio::dup2_stdin(stdin)
        .and_then(|()| rustix::stdio::dup2_stdout(stdout))
        .and_then(|()| rustix::stdio::dup2_stderr(stderr));
    if let Err(e) = redirected {
        report(status, Step::Redirect, e);
    }
    if let Some(Err(e)) = cwd.map(rustix::process::chdir) {
        report(status, Step::Chdir, e);
    }
    let mut saw_eacces = false;
    for path in candidates {
        match execve(path, args, env) {
            Errno::ACCESS => saw_eacces = true,
            Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG | Errno::LOOP => {}
            e => report(status, Step::Exec, e),
        }
    }
    report(status, Step::Exec, if saw_eacces { Errno::ACCESS } else { Errno::NOENT })
}

/// Tell the parent which step failed and why, then end the child.
fn report(status: &OwnedFd, step: Step, e: Errno) -> ! {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&(step as u32).to_le_bytes());
    msg[4..].copy_from_slice(&e.raw_os_error().to_le_bytes());
    let _ = io::write(status, &msg);
    process::exit_now(127)
}

/// `None` when the status pipe closed empty, i.e. the exec succeeded.
fn read_child_failure(status: &OwnedFd) -> Option<Error> {
    let mut msg = [0u8; 8];
    let mut got = 0;
    while got < msg.len() {
        match io::read(status, &mut msg[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(e) => return Some(Error::new("read the child's status pipe", e)),
        }
    }
    if got < msg.len() {
        return None;
    }
    let step = u32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
    let errno = i32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
    Some(Error::new(Step::what(step), Errno::from_raw_os_error(errno)))
}

/// Read stdout and stderr together until both close, so that a child filling one
/// pipe while we wait on the other cannot deadlock.
fn drain(out: OwnedFd, err: OwnedFd) -> Result<(Vec<u8>, bool, Vec<u8>)> {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut truncated = false;
    let mut open = [Some(out), Some(err)];
    let mut chunk = [0u8; 4096];
    while open.iter().any(Option::is_some) {
        let mut fds: heapless::Vec<PollFd<'_>, 2> = heapless::Vec::new();
        let mut which: heapless::Vec<usize, 2> = heapless::Vec::new();
        for (i, fd) in open.iter().enumerate() {
            if let Some(fd) = fd {
                let _ = fds.push(PollFd::new(fd, PollFlags::IN));
                let _ = which.push(i);
            }
        }
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::new("wait for the child's output", e)),
        }
        let ready: heapless::Vec<usize, 2> = fds
            .iter()
            .zip(which.iter())
            .filter(|(p, _)| !p.revents().is_empty())
            .map(|(_, &i)| i)
            .collect();
        drop(fds);
        for i in ready {
            let Some(fd) = open[i].as_ref() else { continue };
            let n = match io::read(fd, &mut chunk) {
                Ok(n) => n,
                Err(Errno::INTR | Errno::AGAIN) => continue,
                Err(e) => return Err(Error::new("read the child's output", e)),
            };
            if n == 0 {
                open[i] = None;
                continue;
            }
            let (buf, max) = if i == 0 { (&mut stdout, STDOUT_MAX) } else { (&mut stderr, STDERR_MAX) };
            let room = max.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..n.min(room)]);
            if i == 0 && n > room {
                truncated = true;
            }
        }
    }
    Ok((stdout, truncated, stderr))
}

/// Wait for our child and decode how it ended.
fn reap(pid: Pid) -> Result<ExitStatus> {
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(sig) = st.terminating_signal() {
                    return Ok(ExitStatus::Signal(sig));
                }
                return Ok(ExitStatus::Code(st.exit_status().unwrap_or(0)));
            }
            Ok(None) => {}
            Err(Errno::INTR) => {}
            Err(e) => return Err(Error::new("wait for the child to end", e)),
        }
    }
}

/// Every path execve should try for `cmd`: the name itself when it has a slash,
/// else `dir/cmd` for each PATH entry (an empty entry is the current directory).
fn candidates(cmd: &[u8], path: &[u8]) -> Vec<CString> {
    let nul_free = |v: Vec<u8>| CString::new(v).ok();
    if cmd.contains(&b'/') {
        return nul_free(cmd.to_vec()).into_iter().collect();
    }
    path.split(|&b| b == b':')
        .filter_map(|dir| {
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            let mut full = Vec::with_capacity(dir.len() + 1 + cmd.len());
            full.extend_from_slice(dir);
            full.push(b'/');
            full.extend_from_slice(cmd);
            nul_free(full)
        })
        .collect()
}

/// A null-terminated array of pointers to NUL-terminated strings, as execve wants,
/// owning its strings. (Like `exec::CStrArray`, but built for a child that must not
/// allocate: the pointers are used as they are, after the fork.)
struct NulArray {
    _strings: Vec<CString>,
    ptrs: Vec<*const u8>,
}

impl NulArray {
    fn new(items: &[&[u8]]) -> Self {
        // An interior NUL would silently cut the string; cut it visibly here instead.
        let strings: Vec<CString> = items
            .iter()
            .map(|s| CString::new(s.split(|&b| b == 0).next().unwrap_or(b"")).unwrap_or_default())
            .collect();
        let mut ptrs: Vec<*const u8> = strings.iter().map(|s| s.as_ptr().cast()).collect();
        ptrs.push(core::ptr::null());
        NulArray { _strings: strings, ptrs }
    }
}

/// execve(2) on prepared data; returns only on failure.
fn execve(path: &CStr, argv: &NulArray, envp: &NulArray) -> Errno {
    // SAFETY: `path` is NUL-terminated; both arrays end with a null pointer and point
    // at NUL-terminated strings they own, all alive across the call.
    let r = unsafe {
        raw::syscall3(__NR_execve, path.as_ptr() as usize, argv.ptrs.as_ptr() as usize, envp.ptrs.as_ptr() as usize)
    };
    match raw::check(r) {
        Err(e) => e,
        Ok(_) => Errno::INVAL, // execve does not return on success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &[&[u8]] = &[b"PATH=/usr/bin:/bin"];

    #[test]
    fn captures_stdout_and_the_exit_code() {
        let out = run_capture(&[b"sh", b"-c", b"printf 'a\\0b'; echo oops >&2; exit 3"], ENV, None).unwrap();
        assert_eq!(out.status, ExitStatus::Code(3));
        assert_eq!(out.stdout, b"a\0b");
        assert_eq!(out.stderr, b"oops\n");
        assert_eq!(out.stderr_first_line(), b"oops");
        assert!(!out.success());
        assert!(run_capture(&[b"/bin/true"], ENV, None).unwrap().success());
    }

    #[test]
    fn reports_a_killing_signal() {
        let out = run_capture(&[b"sh", b"-c", b"kill -9 $$"], ENV, None).unwrap();
        assert_eq!(out.status, ExitStatus::Signal(9));
    }

    #[test]
    fn passes_exactly_the_given_environment_and_directory() {
        let out = run_capture(&[b"sh", b"-c", b"echo \"$FOO|$HOME|$(pwd)\""], &[b"PATH=/bin:/usr/bin", b"FOO=x y"], Some(b"/tmp"))
            .unwrap();
        assert_eq!(out.stdout, b"x y||/tmp\n");
    }

    #[test]
    fn stdin_is_at_end_of_file() {
        let out = run_capture(&[b"sh", b"-c", b"read x; echo rc=$?"], ENV, None).unwrap();
        assert_eq!(out.stdout, b"rc=1\n");
    }

    #[test]
    fn large_outputs_on_both_streams_do_not_deadlock() {
        // 200 KiB on each stream: far more than a pipe buffer holds.
        let script = b"i=0; while [ $i -lt 3200 ]; do echo 0123456789012345678901234567890123456789012345678901234567890123; echo 0123456789012345678901234567890123456789012345678901234567890123 >&2; i=$((i+1)); done";
        let out = run_capture(&[b"sh", b"-c", script], ENV, None).unwrap();
        assert!(out.success());
        assert_eq!(out.stdout.len(), 3200 * 65);
        assert_eq!(out.stderr.len(), STDERR_MAX);
    }

    #[test]
    fn a_missing_program_is_an_error_not_an_exit_code() {
        let e = run_capture(&[b"vsbox-surely-not-a-command-xyz"], ENV, None).unwrap_err();
        assert_eq!((e.what, e.errno), ("execute the command", Errno::NOENT));
        let e = run_capture(&[b"/nonexistent/sh"], ENV, None).unwrap_err();
        assert_eq!(e.errno, Errno::NOENT);
        // A match on PATH that is not executable: EACCES, even for root.
        let dir = std::env::temp_dir().join(format!("vsbox-spawn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("noexec"), b"#!/bin/sh\n").unwrap();
        let path = format!("PATH=/nonexistent:{}", dir.display());
        let e = run_capture(&[b"noexec"], &[path.as_bytes()], None).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.errno, Errno::ACCESS);
        let e = run_capture(&[b"/bin/true"], ENV, Some(b"/nonexistent-dir")).unwrap_err();
        assert_eq!((e.what, e.errno), ("change to the working directory", Errno::NOENT));
        assert_eq!(run_capture(&[], ENV, None).unwrap_err().errno, Errno::INVAL);
    }
}
