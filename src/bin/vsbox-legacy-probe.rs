//! vsbox-legacy-probe: the legacy backend, step by step, on a real Linux-VServer
//! kernel. No libc and no std (its runtime is src/sys/rt.rs), so it runs as /init
//! on the 2.6 kernels vsbox itself cannot serve (static glibc needs Linux 3.2).
//! One line per step, `probe: STEP -> RESULT`, and `UNEXPECTED` where the answer is
//! not what a vs2.3 kernel gives (the transcript in legacy-kernel.md); then a
//! summary. Exit status: 0 when every step went as expected, 1 otherwise, 2 on a
//! kernel without sys_vserver. As PID 1 it mounts /proc first and powers the
//! machine off at the end.
//!
//! Build: cargo build --release --no-default-features --features legacy-probe --bin vsbox-legacy-probe
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use core::fmt::Write as _;

use rustix::io::Errno;
use vsbox::engine::backend::Backend;
use vsbox::engine::network::ipv4root::IpRoot;
use vsbox::engine::legacy::{self, Kernel};
use vsbox::engine::context::spec::ContextSpec;
use vsbox::sys::caps::CapSet;
use vsbox::sys::process::{fork, Forked};
use vsbox::sys::vserver as vs;

vsbox::probe_entry!(main);

/// The context and network context the probe makes (the transcript's).
const XID: u32 = 42;
const CAP_NET_ADMIN: u32 = 12;

struct Steps {
    failed: u32,
    total: u32,
}

impl Steps {
    /// Print `probe: STEP -> RESULT`, marked when `ok` is false.
    fn line(&mut self, step: &str, ok: bool, result: core::fmt::Arguments<'_>) {
        let mut s = String::new();
        let _ = write!(s, "probe: {step} -> {result}{}\n", if ok { "" } else { "  UNEXPECTED" });
        out(&s);
        self.total += 1;
        self.failed += u32::from(!ok);
    }
}

fn out(s: &str) {
    let _ = vsbox::sys::file::write_fd(vsbox::sys::file::std_fd(1), s.as_bytes());
}

/// `0x…` for a value, `errno N (ENAME)` for an error.
struct Shown<T>(Result<T, Errno>);

impl<T: core::fmt::LowerHex> core::fmt::Display for Shown<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.0 {
            Ok(v) => write!(f, "{v:#x}"),
            Err(e) => write!(f, "errno {} ({})", e.raw_os_error(), name(*e)),
        }
    }
}

/// A backend result: the value, or the step and errno that failed.
struct Done<T>(vsbox::sys::Result<T>);

impl<T: core::fmt::Display> core::fmt::Display for Done<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.0 {
            Ok(v) => write!(f, "{v}"),
            Err(e) => write!(f, "{}: errno {} ({})", e.what, e.errno.raw_os_error(), name(e.errno)),
        }
    }
}

/// The errno names the switch gives (without std, rustix has no texts).
fn name(e: Errno) -> &'static str {
    match e {
        Errno::PERM => "EPERM",
        Errno::SRCH => "ESRCH",
        Errno::FAULT => "EFAULT",
        Errno::BUSY => "EBUSY",
        Errno::EXIST => "EEXIST",
        Errno::INVAL => "EINVAL",
        Errno::ACCESS => "EACCES",
        Errno::NOSYS => "ENOSYS",
        Errno::NOEXEC => "ENOEXEC",
        _ => "?",
    }
}

fn main() -> i32 {
    let init = rustix::process::getpid().is_init();
    if init {
        let _ = rustix::fs::mkdir("/proc", rustix::fs::Mode::from_raw_mode(0o555));
        let _ = rustix::mount::mount("proc", "/proc", "proc", rustix::mount::MountFlags::empty(), None);
    }
    let code = run();
    if init {
        rustix::fs::sync();
        let _ = rustix::system::reboot(rustix::system::RebootCommand::PowerOff);
    }
    code
}

fn run() -> i32 {
    let mut st = Steps { failed: 0, total: 0 };
    let u = rustix::system::uname();
    let mut s = String::new();
    let _ = write!(s, "probe: kernel {} (vsbox {})\n", u.release().to_str().unwrap_or("?"), env!("CARGO_PKG_VERSION"));
    out(&s);
    let version = vs::get_version();
    st.line("get_version", version.is_ok(), format_args!("{}", Shown(version)));
    let Some(k) = Backend::detect().vserver() else {
        out("probe: no vserver kernel (sys_vserver answers ENOSYS): stop\n");
        return 2;
    };
    st.line("get_vci", true, format_args!("{}", Shown(vs::get_vci())));
    st.line("backend", true, format_args!("vserver, VCI {:04x}:{:04x}, CAP_CONTEXT {}", k.version >> 16, k.version & 0xFFFF, legacy::cap_context()));
    let me = vs::task_xid(0);
    st.line("task_xid(self)", me == Ok(0), format_args!("{}", Shown(me)));
    // -2 keeps the caller where it is, so a compat kernel changes nothing here.
    let compat = vs::compat_new_s_context(-2, 0, 0);
    let want = if k.compat_first() { compat != Err(Errno::NOSYS) } else { compat == Err(Errno::NOSYS) };
    st.line("compat new_s_context(-2)", want, format_args!("{}", Shown(compat)));

    let (ready_r, ready_w) = match rustix::pipe::pipe() {
        Ok(p) => p,
        Err(e) => {
            st.line("pipe", false, format_args!("{}", Shown::<u32>(Err(e))));
            return 1;
        }
    };
    let child = match fork() {
        Ok(Forked::Child) => {
            drop(ready_r);
            child(k, ready_w)
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            st.line("fork", false, format_args!("{e}"));
            return 1;
        }
    };
    drop(ready_w);
    let mut b = [0u8; 1];
    let ready = vsbox::sys::file::read_fd_into(&ready_r, &mut b) == Ok(1);
    st.line("child set up", ready, format_args!("{}", if ready { "ready" } else { "failed (see its lines)" }));
    let cpid = child.as_raw_nonzero().get() as u32;
    if ready {
        let x = vs::task_xid(cpid);
        st.line("parent task_xid(child)", x == Ok(XID), format_args!("{}", Shown(x)));
        let c = legacy::ctx_of(cpid);
        st.line("parent context of child (VxID or task_xid)", c == Some(XID), format_args!("{c:?}"));
        match vs::vx_info(XID) {
            Ok(i) => st.line("parent vx_info(42)", i.xid == XID, format_args!("xid={} initpid={}", i.xid, i.initpid)),
            Err(e) => st.line("parent vx_info(42)", false, format_args!("{}", Shown::<u32>(Err(e)))),
        }
        match vs::ctx_stat(XID) {
            Ok(s) => st.line("parent ctx_stat(42)", s.tasks == 1, format_args!("usecnt={} tasks={}", s.usecnt, s.tasks)),
            Err(e) => st.line("parent ctx_stat(42)", false, format_args!("{}", Shown::<u32>(Err(e)))),
        }
        let absent = vs::vx_info(99).map(|i| i.xid);
        st.line("parent vx_info(99)", absent == Err(Errno::SRCH), format_args!("{}", Shown(absent)));
    }
    let killed = legacy::kill_context(XID, 9);
    st.line("parent kill_context(42, KILL)", killed.is_ok(), format_args!("{}", Done(killed.map(|()| "sent").map_err(|e| match e {
        vsbox::engine::monitor::kill::KillError::Sys(e) => e,
        _ => vsbox::sys::Error::new("no such context", Errno::SRCH),
    }))));
    let status = rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty());
    let sig = status.ok().flatten().and_then(|(_, w)| w.terminating_signal());
    st.line("parent waitpid(child)", sig == Some(9), format_args!("signal {sig:?}"));
    let gone = vs::vx_info(XID).map(|i| i.xid);
    st.line("parent vx_info(42) after the kill", gone == Err(Errno::SRCH), format_args!("{}", Shown(gone)));
    let mut s = String::new();
    let _ = write!(s, "probe: done: {} steps, {} unexpected\n", st.total, st.failed);
    out(&s);
    i32::from(st.failed > 0)
}

/// The child: a context made by the backend, inspected from inside, a network
/// context; then it reports ready and waits to be killed.
fn child(k: Kernel, ready: rustix::fd::OwnedFd) -> ! {
    let mut st = Steps { failed: 0, total: 0 };
    let spec = ContextSpec {
        id: Some(XID),
        hostname: Some(String::from("probe42")),
        domainname: Some(String::from("probe.example")),
        remove: CapSet::bit(CAP_NET_ADMIN),
        ..ContextSpec::default()
    };
    // chbind's way first (from the host context: only it may add addresses), then
    // chcontext's.
    let mut root = IpRoot::new();
    let _ = root.add("192.0.2.42/24");
    let nid = legacy::bind(k, &root);
    let nid_ok = nid.is_ok_and(|n| n >= 2);
    st.line("child bind 192.0.2.42/24", nid_ok, format_args!("{}", Done(nid)));
    let n = vs::task_nid(0);
    st.line("child task_nid(self)", nid_ok && n == nid.map_err(|e| e.errno), format_args!("{}", Shown(n)));
    let made = legacy::create(k, &spec);
    let ok = made == Ok(XID);
    st.line("child create(42)", ok, format_args!("{}", Done(made)));
    if !ok {
        vsbox::sys::process::exit_now(1);
    }
    let x = vs::task_xid(0);
    st.line("child task_xid(self)", x == Ok(XID), format_args!("{}", Shown(x)));
    let bcaps = vs::get_bcaps(XID);
    st.line("child get_bcaps", bcaps.is_ok_and(|b| b & (1 << CAP_NET_ADMIN) == 0), format_args!("{}", Shown(bcaps)));
    let flags = vs::get_cflags(XID).map(|m| m.value);
    st.line("child get_cflags", flags.is_ok_and(|f| f & vs::VXF_STATE_SETUP == 0), format_args!("{}", Shown(flags)));
    let name = vs::get_vhi_name(XID, vs::VHIN_NODENAME);
    let shown = name.as_ref().map(|n| core::str::from_utf8(n.split(|&b| b == 0).next().unwrap_or(&[])).unwrap_or("?")).map_err(|e| *e);
    st.line("child get_vhi_name(nodename)", shown == Ok("probe42"), format_args!("{shown:?}"));
    let uname = rustix::system::uname();
    let node = uname.nodename().to_str().unwrap_or("?");
    st.line("child uname nodename", node == "probe42", format_args!("{node}"));
    let own = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let c = legacy::ctx_of(own);
    st.line("child VxID of itself", c == Some(XID), format_args!("{c:?}"));
    if st.failed == 0 {
        let _ = vsbox::sys::file::write_fd(&ready, b"r");
    }
    drop(ready);
    loop {
        let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 3600, tv_nsec: 0 });
    }
}
