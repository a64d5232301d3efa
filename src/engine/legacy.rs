//! The legacy backend: security contexts as a Linux-VServer patched kernel keeps
//! them, driven through `sys_vserver` (the kernel layer's `sys::vserver`).
//!
//! On such a kernel a context is the kernel's own: no namespaces, cgroups, init or
//! registry of vsbox's. The context's first process is the caller itself (it then
//! executes the command, as the original chcontext did), and the context ends with
//! its last process. The steps follow vs2.3 (legacy-kernel.md, vserver-spec.md §2.3):
//!
//! - create: fresh UTS and IPC namespaces for the caller, `ctx_create(N,
//!   VXF_INIT_SET)` (the lowest free N from 2 up, or the N asked for), `set_space`
//!   (those namespaces become the context's, so `set_vhi_name` names them), then
//!   while the context is still in its setup state: the ceiling (`set_bcaps`), the
//!   context capabilities (`set_ccaps`), the names (`set_vhi_name`), per-context
//!   limits (`set_rlimit`), and one `set_cflags` that sets the flags and leaves the
//!   setup state. vs2.0/2.2 kernels take the compat `new_s_context` first (vs2.3
//!   answers it with ENOSYS, and so does a kernel built without
//!   CONFIG_VSERVER_LEGACY: then the native commands are used).
//! - flags, as the kernel defines them: sched, nproc, private, fakeinit, hideinfo,
//!   ulimit and namespace keep their original bit values, which vs2.x calls
//!   VXF_INFO_SCHED, _NPROC, _PRIVATE, _INIT, _HIDE, _ULIMIT and _NSPACE. The kernel
//!   itself refuses joins of a private context (EACCES); fakeinit clears
//!   VXF_STATE_INIT from inside, which makes the caller (then the command) the
//!   context's init and reaper. nproc and ulimit also become per-context limits.
//!   vs2.3 has no lock bit: a locked (or secure) context loses CAP_CONTEXT from its
//!   ceiling instead, so nothing in it can make or join a context again.
//! - join: `ctx_migrate(N)`; the spectator is `ctx_migrate(1)`.
//! - chbind: `net_create(N)` v0 (the kernel's NXF_INIT_SET, administrable) and
//!   `net_add_ipv4` per address with type NXA_TYPE_ADDR (NXA_TYPE_IPV4 is EINVAL:
//!   that was the transcript's open question); compat `set_ipv4root` on vs2.0/2.2.
//! - vkill: `ctx_kill`; vps and vserver-stat: the `VxID:` line of /proc/PID/status
//!   (hidden for contexts with HIDE_VINFO: then `task_xid`), after becoming the
//!   spectator, which sees every context's processes.
//!
//! A step that fails leaves a context in its setup state whose only process is the
//! caller, which then exits: the kernel drops the context with it.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use rustix::io::Errno;

use super::context::spec::{self, ContextSpec, Flags, SPECTATOR};
use super::monitor::kill::KillError;
use super::monitor::scope::Scope;
use super::network::ipv4root::IpRoot;
use crate::sys::error::{Context, Error, Result};
use crate::sys::ns::{self, NsFlags};
use crate::sys::procscan::{self, Flow, Want};
use crate::sys::vserver as vs;
use crate::sys::{caps, signal};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;

/// The first VCI version of the vs2.3 series (no compat commands).
pub const VCI_2_3: u32 = 0x0002_0300;

/// A vserver kernel, as `backend` found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// The VCI version `get_version` answered (0 when the backend was forced on a
    /// kernel that did not answer).
    pub version: u32,
}

impl Kernel {
    /// vs2.0/2.2 kernels may have the compat commands, vs2.3 never has.
    pub fn compat_first(self) -> bool {
        self.version < VCI_2_3
    }
}

/// The bit of CAP_CONTEXT: 34 on 2.6 kernels up to 2.6.36, 63 from 2.6.37 on
/// (when mainline took 34 for CAP_SYSLOG), which covers the vs2.3.6–2.3.9 series.
pub fn cap_context() -> u32 {
    let u = rustix::system::uname();
    let mut v = u.release().to_bytes().split(|b| !b.is_ascii_digit()).map(|w| core::str::from_utf8(w).ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(0));
    let release = (v.next().unwrap_or(0), v.next().unwrap_or(0), v.next().unwrap_or(0));
    if release < (2, 6, 37) { 34 } else { 63 }
}

/// The context flag word of `flags` as the kernel defines it (VXF_INFO_*: the
/// original bit values; lock, bit 0, is not a vs2.3 flag).
pub fn info_flags(flags: Flags) -> u64 {
    u64::from(flags.0 & 0xFE)
}

/// The bounding capabilities a context made for `spec` loses: its removal set,
/// plus CAP_CONTEXT when it is locked or secure.
pub fn bcaps_removed(spec: &ContextSpec) -> u64 {
    let cc = if spec.flags.has(Flags::LOCK) || spec.flags.has(Flags::SECURE) { 1u64 << cap_context() } else { 0 };
    spec.remove.0 | cc
}

/// Whether context `xid` exists (vx_info answers).
pub fn exists(xid: u32) -> Result<bool> {
    match vs::vx_info(xid) {
        Ok(_) => Ok(true),
        Err(Errno::SRCH) => Ok(false),
        Err(e) => Err(Error::new("look up the context (vx_info)", e)),
    }
}

/// Create a context as `spec` asks and move the caller into it (the caller then
/// executes the command). Returns its number.
pub fn create(k: Kernel, spec: &ContextSpec) -> Result<u32> {
    if k.compat_first() {
        match create_compat(spec) {
            Err(e) if e.errno == Errno::NOSYS => {}
            r => return r,
        }
    }
    // The same ceiling for what the command executes (the bounding set holds on any
    // kernel from 2.6.25). First: PR_CAPBSET_DROP needs CAP_SETPCAP, which the
    // context's ceiling lacks (the kernel starts it without) once it is set up.
    caps::drop_bounding(spec.remove)?;
    // The context's own UTS and IPC namespaces, the caller's before it moves in
    // (vs2.3's ctx_create v0 would unshare them itself, and the user namespace too).
    let spaces = NsFlags::UTS.union(NsFlags::IPC);
    ns::unshare(spaces, "give the context its own host name and IPC (unshare)")?;
    let xid = numbered(spec.id, &mut |n| vs::ctx_create(n, Some(vs::VXF_INIT_SET))).map_err(|e| Error::new(create_what(e), e))?;
    vs::set_space(xid, spaces.0).ctx("give the context its namespaces (set_space)")?;
    let remove = bcaps_removed(spec);
    if remove != 0 {
        vs::set_bcaps(xid, 0, remove).ctx("lower the context's ceiling (set_bcaps)")?;
    }
    // The guest's root may set its host name and limits where its ceiling lets it.
    let mut ccaps = 0;
    if !spec.remove.has(CAP_SYS_ADMIN) {
        ccaps |= vs::VXC_SET_UTSNAME;
    }
    if !spec.remove.has(CAP_SYS_RESOURCE) {
        ccaps |= vs::VXC_SET_RLIMIT;
    }
    vs::set_ccaps(xid, ccaps, vs::VXC_SET_UTSNAME | vs::VXC_SET_RLIMIT).ctx("set the context capabilities (set_ccaps)")?;
    for (field, name) in [(vs::VHIN_CONTEXT, &spec.name), (vs::VHIN_NODENAME, &spec.hostname), (vs::VHIN_DOMAINNAME, &spec.domainname)] {
        if let Some(n) = name {
            vs::set_vhi_name(xid, field, n.as_bytes()).ctx("name the context (set_vhi_name)")?;
        }
    }
    set_limits(xid, spec.flags);
    // One call: the flags, out of the setup state, and with fakeinit out of the init
    // state while we are inside (the kernel makes the caller the init and reaper).
    let init = if spec.flags.has(Flags::FAKEINIT) { vs::VXF_STATE_INIT } else { 0 };
    let info = info_flags(spec.flags);
    // (From here on the kernel masks our capabilities with the context's ceiling.)
    vs::set_cflags(xid, info, info | init | vs::VXF_STATE_SETUP).ctx("set the context flags (set_cflags)")?;
    Ok(xid)
}

fn create_what(e: Errno) -> &'static str {
    match e {
        Errno::EXIST | Errno::BUSY => "create the context: that number is taken (ctx_create)",
        _ => "create the context (ctx_create)",
    }
}

/// `make(n)` for the number asked for, or for n = 2, 3, …: the first that is not
/// taken (EEXIST, or EBUSY while another is being set up).
fn numbered(asked: Option<u32>, make: &mut dyn FnMut(u32) -> core::result::Result<u32, Errno>) -> core::result::Result<u32, Errno> {
    let mut n = asked.unwrap_or(2);
    loop {
        match make(n) {
            Err(Errno::EXIST | Errno::BUSY) if asked.is_none() && n < vs::MAX_S_CONTEXT => n += 1,
            r => return r,
        }
    }
}

/// nproc: the caller's RLIMIT_NPROC hard limit for the whole context; ulimit: every
/// limit of the caller's. A limit the kernel does not keep per context (EINVAL) is
/// skipped.
fn set_limits(xid: u32, flags: Flags) {
    use rustix::process::{getrlimit, Resource};
    let all = flags.has(Flags::ULIMIT);
    if !all && !flags.has(Flags::NPROC) {
        return;
    }
    for r in 0..16u32 {
        let Some(res) = spec::resource(r) else { continue };
        if !all && res != Resource::Nproc {
            continue;
        }
        let l = getrlimit(res);
        let max = l.maximum.unwrap_or(u64::MAX);
        let soft = if all { l.current.unwrap_or(u64::MAX) } else { max };
        let _ = vs::set_rlimit(xid, r, soft, max);
    }
}

/// vs2.0/2.2: `new_s_context` (a new dynamic context, or the one asked for), then
/// the names set in the caller's own fresh UTS namespace, as the old chcontext did.
fn create_compat(spec: &ContextSpec) -> Result<u32> {
    let ctx = spec.id.map_or(-1, |n| n as i32);
    // Here lock (1) is a flag still, with the others' original values.
    let flags = spec.flags.0 & 0xFF;
    let remove = (bcaps_removed(spec) & 0xFFFF_FFFF) as u32;
    caps::drop_bounding(spec.remove)?;
    let xid = vs::compat_new_s_context(ctx, remove, flags).ctx("create the context (new_s_context)")?;
    if spec.hostname.is_some() || spec.domainname.is_some() {
        ns::unshare(NsFlags::UTS, "give the context its own host name (unshare)")?;
        if let Some(h) = &spec.hostname {
            rustix::system::sethostname(h.as_bytes()).ctx("set the host name")?;
        }
        if let Some(d) = &spec.domainname {
            rustix::system::setdomainname(d.as_bytes()).ctx("set the domain name")?;
        }
    }
    Ok(xid)
}

/// Move the caller into existing context `xid`, with `remove` off its bounding set
/// (dropped first, while the host's capabilities still hold CAP_SETPCAP).
pub fn join(xid: u32, remove: caps::CapSet) -> Result<()> {
    caps::drop_bounding(remove)?;
    vs::ctx_migrate(xid, 0).map_err(|e| {
        let what = match e {
            Errno::ACCESS => "join the context: it is private, or not administrable (ctx_migrate)",
            _ => "join the context (ctx_migrate)",
        };
        Error::new(what, e)
    })
}

/// Become the spectator (context 1: sees every process, signals none).
pub fn spectate(remove: caps::CapSet) -> Result<()> {
    caps::drop_bounding(remove)?;
    vs::ctx_migrate(SPECTATOR, 0).ctx("become the spectator (ctx_migrate 1)")
}

/// Bind the caller to `root`'s IPv4 addresses: a network context (numbered as the
/// caller's context when that is free, else the lowest free from 2 up) with the
/// addresses, masks and broadcast, or compat `set_ipv4root` on vs2.0/2.2. Returns
/// the network context (0 for compat).
pub fn bind(k: Kernel, root: &IpRoot) -> Result<u32> {
    if !root.v6.is_empty() {
        return Err(Error::new("bind to IPv6 addresses: the vserver backend binds IPv4 only", Errno::AFNOSUPPORT));
    }
    let be = |a: Ipv4Addr| u32::from_ne_bytes(a.octets());
    if k.compat_first() {
        let pairs: Vec<[u32; 2]> = root.v4.iter().map(|e| [be(e.addr), be(e.mask)]).collect();
        match vs::compat_set_ipv4root(be(root.bcast), &pairs) {
            Err(Errno::NOSYS) => {}
            r => return r.map(|()| 0).ctx("set the ipv4root (set_ipv4root)"),
        }
    }
    let own = vs::task_xid(0).unwrap_or(0);
    // Only the host, or a context still being set up, may add addresses (switch.c's
    // admin rule): say so before a network context without addresses is made.
    if own > SPECTATOR && vs::get_cflags(own).is_ok_and(|f| f.value & vs::VXF_STATE_SETUP == 0) {
        return Err(Error::new("bind inside a context: a vserver kernel lets only the host add addresses (run chbind before chcontext)", Errno::PERM));
    }
    let mut make = |n| vs::net_create(n, None);
    let made = match numbered((own > SPECTATOR).then_some(own), &mut make) {
        Err(Errno::EXIST | Errno::BUSY) => numbered(None, &mut make),
        r => r,
    };
    let nid = made.ctx("create a network context (net_create)")?;
    for e in &root.v4 {
        vs::net_add_ipv4(nid, vs::NXA_TYPE_ADDR, be(e.addr), be(e.mask)).ctx("add an address (net_add_ipv4)")?;
    }
    if root.bcast != Ipv4Addr::BROADCAST {
        vs::net_add_ipv4(nid, vs::NXA_TYPE_ADDR | vs::NXA_MOD_BCAST, be(root.bcast), 0).ctx("set the broadcast address (net_add_ipv4)")?;
    }
    Ok(nid)
}

/// Signal every process of context `xid`, its init last: `ctx_kill` -1 (all but
/// the init), then 1 (the init) when it has one.
pub fn kill_context(xid: u32, sig: i32) -> core::result::Result<(), KillError> {
    let info = match vs::vx_info(xid) {
        Ok(i) => i,
        Err(Errno::SRCH) => return Err(KillError::NoContext(xid)),
        Err(e) => return Err(KillError::Sys(Error::new("look up the context (vx_info)", e))),
    };
    let rest = vs::ctx_kill(xid, -1, sig);
    let init = if info.initpid != 0 { vs::ctx_kill(xid, 1, sig) } else { Err(Errno::SRCH) };
    match (rest, init) {
        (Err(Errno::SRCH), Err(Errno::SRCH)) => Err(KillError::NoContext(xid)),
        (Err(e), _) | (_, Err(e)) if e != Errno::SRCH => Err(KillError::Sys(Error::new("signal the context (ctx_kill)", e))),
        _ => Ok(()),
    }
}

/// Signal one process: a host pid (`ctx` None), a host pid only while it is on the
/// host (`Some(0)`), or a pid of context N (`Some(N)`: host pids, 1 is N's init)
/// through `ctx_kill`, which checks that it is in N.
pub fn kill_one(ctx: Option<u32>, pid: u32, sig: i32) -> core::result::Result<(), KillError> {
    let r = match ctx {
        None => signal::kill(pid as i32, sig),
        Some(0) if ctx_of(pid) != Some(0) => Err(Errno::SRCH),
        Some(0) => signal::kill(pid as i32, sig),
        Some(n) => vs::ctx_kill(n, pid as i32, sig),
    };
    r.map_err(|e| match e {
        Errno::SRCH => KillError::NoProcess { pid, ctx },
        errno => KillError::Refused { pid, errno },
    })
}

/// Which context each process is in, for vps, vpstree and vserver-stat. The caller
/// becomes the spectator first (the host context sees only its own processes on a
/// vserver kernel; the call fails harmlessly where that is not allowed).
pub fn scope() -> Result<Scope> {
    let _ = vs::ctx_migrate(SPECTATOR, 0);
    let mut pairs = Vec::new();
    procscan::scan(Want::STAT, |p| {
        match ctx_of(p.pid) {
            Some(0) | None => {}
            Some(x) => pairs.push((p.pid, x)),
        }
        Flow::Continue
    })?;
    Ok(Scope::from_pairs(pairs))
}

/// The context of process `pid`: its `VxID:` status line, else `task_xid`; `None`
/// when it is gone.
pub fn ctx_of(pid: u32) -> Option<u32> {
    let mut path: heapless::String<32> = heapless::String::new();
    core::fmt::Write::write_fmt(&mut path, format_args!("/proc/{pid}/status\0")).ok()?;
    let mut buf = [0u8; 4096];
    let p = core::ffi::CStr::from_bytes_with_nul(path.as_bytes()).ok()?;
    let n = procscan::read_small(p, &mut buf).ok()?;
    vxid_of_status(&buf[..n]).or_else(|| vs::task_xid(pid).ok())
}

/// The number on the `VxID:` line of a /proc/PID/status text (a tab or spaces after
/// the colon, as kernels differ), if there is one.
pub fn vxid_of_status(text: &[u8]) -> Option<u32> {
    let line = text.split(|&b| b == b'\n').find_map(|l| l.strip_prefix(b"VxID:"))?;
    let digits = line.trim_ascii();
    core::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/PID/status of a process in context 42 on a vs2.3 kernel (2.6.32
    /// layout; the VxID/NxID lines come last, legacy-kernel.md's transcript).
    const STATUS_VS23: &[u8] = b"Name:\tsleep\nState:\tS (sleeping)\nTgid:\t211\nPid:\t211\nPPid:\t1\n\
TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t\nVmPeak:\t    3952 kB\n\
VmSize:\t    3952 kB\nThreads:\t1\nSigQ:\t0/3904\nCapInh:\t0000000000000000\nCapPrm:\tffffffffffffeeff\n\
CapEff:\tffffffffffffeeff\nCapBnd:\tffffffffffffeeff\nCpus_allowed:\t1\nMems_allowed:\t1\n\
voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\nVxID:\t42\nNxID:\t42\n";

    #[test]
    fn the_vxid_line() {
        assert_eq!(vxid_of_status(STATUS_VS23), Some(42));
        assert_eq!(vxid_of_status(b"Name:\tx\nVxID: 7\nNxID: 7\n"), Some(7));
        assert_eq!(vxid_of_status(b"VxID:\t0"), Some(0));
        // A mainline status, a hidden one, garbage.
        let mine = std::fs::read("/proc/self/status").unwrap();
        assert_eq!(vxid_of_status(&mine), None);
        assert_eq!(vxid_of_status(b"VxID:\t\n"), None);
        assert_eq!(vxid_of_status(b"VxID:\tx1\n"), None);
        // On this kernel the fallback (task_xid) answers ENOSYS: no context known.
        assert_eq!(ctx_of(std::process::id()), None);
    }

    #[test]
    fn flags_and_ceilings_as_the_kernel_defines_them() {
        let f = Flags::LOCK.with(Flags::SCHED).with(Flags::PRIVATE).with(Flags::FAKEINIT).with(Flags::SECURE);
        // VXF_INFO_SCHED | VXF_INFO_PRIVATE | VXF_INFO_INIT; no lock bit, no vsbox bits.
        assert_eq!(info_flags(f), 0x2 | 0x8 | 0x10);
        assert_eq!(info_flags(Flags::HIDEINFO.with(Flags::ULIMIT).with(Flags::NPROC).with(Flags::NAMESPACE)), 0x20 | 0x40 | 0x4 | 0x80);
        // This kernel is newer than 2.6.37: CAP_CONTEXT is bit 63.
        assert_eq!(cap_context(), 63);
        let spec = ContextSpec { flags: Flags::LOCK, remove: caps::CapSet::bit(12), ..ContextSpec::default() };
        assert_eq!(bcaps_removed(&spec), (1 << 12) | (1 << 63));
        assert_eq!(bcaps_removed(&ContextSpec::default()), 0);
        assert!(Kernel { version: 0x0002_0103 }.compat_first());
        assert!(!Kernel { version: 0x0002_0308 }.compat_first());
    }

    #[test]
    fn the_lowest_free_number() {
        let taken = [2, 3, 5];
        let r = numbered(None, &mut |n| if taken.contains(&n) { Err(Errno::EXIST) } else { Ok(n) });
        assert_eq!(r, Ok(4));
        assert_eq!(numbered(None, &mut |n| if n == 2 { Err(Errno::BUSY) } else { Ok(n) }), Ok(3));
        assert_eq!(numbered(None, &mut |_| Err(Errno::PERM)), Err(Errno::PERM));
        assert_eq!(numbered(None, &mut |_| Err(Errno::EXIST)), Err(Errno::EXIST), "all taken: ends");
        // A number asked for is tried once.
        assert_eq!(numbered(Some(3), &mut |n| if taken.contains(&n) { Err(Errno::EXIST) } else { Ok(n) }), Err(Errno::EXIST));
        assert_eq!(numbered(Some(9), &mut Ok), Ok(9));
    }
}
