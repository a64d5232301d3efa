//! The applets' paths on a Linux-VServer kernel (the legacy backend,
//! `engine::legacy`). Each applet parses and checks its options as always, then
//! hands over here when `cli::vserver()` answers: one dispatch line per applet.
//! Messages, banners and exit codes are the applets' own.

use std::io::Write as _;

use vsbox::engine::backend::{Backend, Features};
use vsbox::engine::network::ipv4root::IpRoot;
use vsbox::engine::legacy::{self, Kernel};
use vsbox::engine::monitor::kill::KillError;
use vsbox::engine::context::spec::{ContextSpec, SPECTATOR};
use vsbox::sys::ErrnoText;

use super::error;

const FAIL: i32 = 255;

/// chcontext: the spectator (`--ctx 1`), a join (`--ctx N` that exists) or a new
/// context, then `argv` executed in it. The caller checked the options and root.
pub fn chcontext(k: Kernel, spec: &ContextSpec, silent: bool, argv: &[String]) -> i32 {
    let fail = |e: &dyn std::fmt::Display| {
        error("chcontext", e);
        FAIL
    };
    let banner = |n: u32, named: bool| {
        if !silent {
            let mut out = std::io::stdout().lock();
            if named && let Some(h) = &spec.hostname {
                let _ = writeln!(out, "Host name is now {h}");
            }
            if named && let Some(d) = &spec.domainname {
                let _ = writeln!(out, "Domain name is now {d}");
            }
            let _ = writeln!(out, "New security context is {n}");
        }
    };
    let joined = match spec.id {
        Some(SPECTATOR) => legacy::spectate(spec.remove).map(|()| Some(SPECTATOR)),
        Some(n) => match legacy::exists(n) {
            Ok(true) if spec.hostname.is_some() || spec.domainname.is_some() => {
                return fail(&format_args!("--hostname and --domainname name a new context; context {n} exists already"));
            }
            Ok(true) => legacy::join(n, spec.remove).map(|()| Some(n)),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        },
        None => Ok(None),
    };
    match joined {
        Err(e) => return fail(&e),
        Ok(Some(n)) => {
            banner(n, false);
            return super::exec("chcontext", argv, FAIL);
        }
        Ok(None) => {}
    }
    let report = if spec.disconnect {
        match detach(&argv[0]) {
            Ok(w) => Some(w),
            Err(code) => return code,
        }
    } else {
        None
    };
    let n = match legacy::create(k, spec) {
        Ok(n) => n,
        Err(e) => {
            let code = fail(&e);
            if let Some(w) = &report {
                let _ = vsbox::sys::file::write_fd(w, &[0xFF]);
            }
            return code;
        }
    };
    banner(n, true);
    let Some(w) = report else { return super::exec("chcontext", argv, FAIL) };
    let _ = std::io::stdout().flush();
    tty_stdio_to_null();
    let e = vsbox::sys::exec::exec(argv, &super::environment());
    let _ = vsbox::sys::file::write_fd(&w, &e.errno.raw_os_error().to_le_bytes());
    FAIL
}

/// `--disconnect`: fork; the parent returns (Err: its exit code) once the child
/// executed the command (0), failed to set up (255, the child said why) or could
/// not execute it (255, said here). The child, in a new session, gets the write end
/// of the report pipe (closed by the exec).
fn detach(cmd: &str) -> Result<rustix::fd::OwnedFd, i32> {
    use vsbox::sys::process::{fork, Forked};
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        error("chcontext", format_args!("{what}: {e}"));
        FAIL
    };
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| fail("create a pipe", &ErrnoText(e)))?;
    match fork() {
        Err(e) => Err(fail("detach", &e)),
        Ok(Forked::Child) => {
            drop(r);
            let _ = rustix::process::setsid();
            Ok(w)
        }
        Ok(Forked::Parent(_)) => {
            drop(w);
            let mut b = [0u8; 4];
            match vsbox::sys::file::read_fd_into(&r, &mut b) {
                Ok(0) => Err(0),
                Ok(4) => {
                    let errno = rustix::io::Errno::from_raw_os_error(i32::from_le_bytes(b));
                    Err(fail(&format!("cannot execute '{cmd}'"), &format_args!("{} (check the name and PATH)", ErrnoText(errno))))
                }
                _ => Err(FAIL),
            }
        }
    }
}

/// Detached: stdio that is a terminal goes to /dev/null; redirections stay.
fn tty_stdio_to_null() {
    use rustix::stdio::{dup2_stderr, dup2_stdin, dup2_stdout, stderr, stdin, stdout};
    let Ok(null) = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty()) else { return };
    let tty = rustix::termios::isatty;
    if tty(stdin()) {
        let _ = dup2_stdin(&null);
    }
    if tty(stdout()) {
        let _ = dup2_stdout(&null);
    }
    if tty(stderr()) {
        let _ = dup2_stderr(&null);
    }
}

/// chbind: a network context with `root`'s addresses (or nothing for an
/// unrestricted root), then `argv` executed. `--ctx N` has no vserver equivalent.
pub fn chbind(k: Kernel, ctx: Option<u32>, root: &IpRoot, silent: bool, argv: &[String]) -> i32 {
    let fail = |e: &dyn std::fmt::Display| {
        error("chbind", e);
        FAIL
    };
    if let Some(n) = ctx {
        return fail(&format_args!("--ctx {n}: a vserver kernel binds processes, not contexts; run chbind in context {n} instead"));
    }
    if !root.is_unrestricted() {
        if !super::is_root() {
            return fail(&"binding to addresses takes root; run it as root");
        }
        if let Err(e) = legacy::bind(k, root) {
            return fail(&e);
        }
    }
    if !silent {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "ipv4root is now");
        for e in &root.v4 {
            let _ = write!(out, " {}", e.addr);
        }
        let _ = writeln!(out);
    }
    super::exec("chbind", argv, FAIL)
}

/// vkill: `pids` (host pids; with a context N, 1 is N's init), or every process of
/// context N, its init last. Every failure is one line; exit 1 if any.
pub fn vkill(ctx: Option<u32>, sig: i32, pids: &[u32]) -> i32 {
    let report = |e: KillError| {
        error("vkill", e);
        1
    };
    if let Some(n) = ctx.filter(|&n| n > SPECTATOR) {
        match legacy::exists(n) {
            Ok(true) => {}
            Ok(false) => return report(KillError::NoContext(n)),
            Err(e) => return report(KillError::Sys(e)),
        }
        if pids.is_empty() {
            return legacy::kill_context(n, sig).map_or_else(report, |()| 0);
        }
    }
    let mut code = 0;
    for &pid in pids {
        if let Err(e) = legacy::kill_one(ctx, pid, sig) {
            code = report(e);
        }
    }
    code
}

/// What `vsbox --version` and `vserver-info` print: the version, the backend and
/// how it was chosen, the VCI version of a vserver kernel, and the kernel features
/// the mainline backend builds on.
pub fn version_report() -> String {
    use std::fmt::Write as _;
    let chosen = super::backend();
    let forced = std::env::var_os("VSBOX_BACKEND").is_some_and(|v| v == "mainline" || v == "vserver");
    let (name, mine) = match chosen {
        Backend::Vserver { version } => ("vserver", Some(version)),
        Backend::Mainline => ("mainline", None),
    };
    let mut s = format!("vsbox {}\nbackend: {name}{}", env!("CARGO_PKG_VERSION"), if forced { " (forced by VSBOX_BACKEND)" } else { "" });
    let vci = match (mine, Backend::detect()) {
        (Some(0), _) => {
            s.push_str(", but the kernel does not answer sys_vserver: every context call fails");
            None
        }
        (Some(v), _) => {
            s.push_str(", ");
            Some(v)
        }
        (None, Backend::Vserver { version }) => {
            s.push_str(" (the kernel is a vserver one, ");
            Some(version)
        }
        (None, _) => {
            if let Some((nr, rev)) = vsbox::sys::vserver::read_ctx24().new_s_context {
                let _ = write!(s, " (a 2.4 ctx-patch kernel: new_s_context {nr} rev{rev}; vsbox does not drive those)");
            }
            None
        }
    };
    if let Some(v) = vci {
        let _ = write!(s, "VCI {:04x}:{:04x}", v >> 16, v & 0xFFFF);
        if mine.is_some() {
            let _ = write!(s, ", config {:#010x}", vsbox::sys::vserver::get_vci().unwrap_or(0));
        } else {
            s.push(')');
        }
    }
    s.push_str("\nkernel: ");
    s.push_str(&rustix::system::uname().release().to_string_lossy());
    if mine.is_none() {
        let f = Features::probe();
        for (what, has) in [(": cgroup2 ", f.cgroup2), (", BPF ", f.bpf), (", pidfd ", f.pidfd), (", clone3 ", f.clone3)] {
            s.push_str(what);
            s.push_str(if has { "yes" } else { "no" });
        }
    }
    s.push('\n');
    s
}
