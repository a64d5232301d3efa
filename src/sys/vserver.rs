//! The legacy `sys_vserver(cmd, id, data)` system call of Linux-VServer patched
//! kernels, for the backend that uses real kernel contexts where they exist, and
//! the `new_s_context` discovery of the older 2.4 ctx patches.
//!
//! Commands are `category << 24 | command << 16 | version` (switch.h). The data
//! structures below are the kernel's `struct vcmd_*` (include/linux/vserver/*_cmd.h
//! of vs2.3.0.36; util-vserver's kernel/ headers agree), each with its size checked
//! at compile time; every field is native-endian, addresses in network byte order.
//! On a mainline kernel every call fails with ENOSYS; so does a vserver kernel for
//! a caller without CAP_CONTEXT (switch.c checks it before anything else).

use rustix::io::Errno;

use super::raw;

/// `__NR_vserver` on x86_64.
pub const NR_VSERVER: u32 = linux_raw_sys::general::__NR_vserver;
/// `__NR_vserver` on i386 (the same number the 2.4 ctx patches gave
/// `new_s_context`). Noted only: the raw layer is x86_64-only.
pub const NR_VSERVER_I386: u32 = 273;

/// Encode a command word.
pub const fn cmd(category: u32, command: u32, version: u32) -> u32 {
    ((category & 0x3F) << 24) | ((command & 0xFF) << 16) | (version & 0xFFF)
}

// Categories (switch.h).
const VERSION: u32 = 0;
const VHOST: u32 = 2;
const VPROC: u32 = 9;
const PROCALT: u32 = 10;
const PROCMIG: u32 = 11;
const PROCTRL: u32 = 12;
const VNET: u32 = 25;
const NETALT: u32 = 26;
const NETMIG: u32 = 27;
const VSTAT: u32 = 40;
const VINFO: u32 = 46;
const FLAGS: u32 = 52;
const RLIMIT: u32 = 60;
const COMPAT: u32 = 63;

pub const GET_VERSION: u32 = cmd(VERSION, 0, 0);
pub const GET_VCI: u32 = cmd(VERSION, 1, 0);
pub const SET_VHI_NAME: u32 = cmd(VHOST, 1, 0);
pub const GET_VHI_NAME: u32 = cmd(VHOST, 2, 0);
/// ctx_create without data: VXF_INIT_SET, and the kernel unshares UTS and IPC for
/// the caller as the context's spaces (a compatibility hack of vs2.3).
pub const CTX_CREATE_V0: u32 = cmd(VPROC, 1, 0);
pub const CTX_CREATE: u32 = cmd(VPROC, 1, 1);
pub const SET_SPACE: u32 = cmd(PROCALT, 3, 1);
pub const CTX_MIGRATE: u32 = cmd(PROCMIG, 1, 1);
pub const CTX_KILL: u32 = cmd(PROCTRL, 1, 0);
pub const NET_CREATE_V0: u32 = cmd(VNET, 1, 0);
pub const NET_CREATE: u32 = cmd(VNET, 1, 1);
pub const NET_ADD_V0: u32 = cmd(NETALT, 1, 0);
pub const NET_ADD_IPV4: u32 = cmd(NETALT, 1, 1);
pub const NET_ADD_IPV4_V2: u32 = cmd(NETALT, 1, 2);
pub const NET_MIGRATE: u32 = cmd(NETMIG, 1, 0);
pub const CTX_STAT: u32 = cmd(VSTAT, 0, 0);
pub const TASK_XID: u32 = cmd(VINFO, 1, 0);
pub const TASK_NID: u32 = cmd(VINFO, 2, 0);
pub const VX_INFO: u32 = cmd(VINFO, 5, 0);
pub const NX_INFO: u32 = cmd(VINFO, 6, 0);
pub const GET_CFLAGS: u32 = cmd(FLAGS, 1, 0);
pub const SET_CFLAGS: u32 = cmd(FLAGS, 2, 0);
pub const GET_CCAPS: u32 = cmd(FLAGS, 3, 1);
pub const SET_CCAPS: u32 = cmd(FLAGS, 4, 1);
pub const GET_NFLAGS: u32 = cmd(FLAGS, 5, 0);
pub const SET_NFLAGS: u32 = cmd(FLAGS, 6, 0);
pub const GET_BCAPS: u32 = cmd(FLAGS, 9, 0);
pub const SET_BCAPS: u32 = cmd(FLAGS, 10, 0);
pub const SET_RLIMIT: u32 = cmd(RLIMIT, 2, 0);
/// The compat commands of vs2.0/2.2 kernels built with CONFIG_VSERVER_LEGACY
/// (ENOSYS on vs2.3, legacy-kernel.md).
pub const COMPAT_NEW_S_CONTEXT: u32 = cmd(COMPAT, 1, 1);
pub const COMPAT_SET_IPV4ROOT: u32 = cmd(COMPAT, 2, 3);

// Context flags (context.h). The low byte holds the 2.4-era flags with their old
// values: VXF_INFO_SCHED 2, _NPROC 4, _PRIVATE 8, _INIT 16, _HIDE 32, _ULIMIT 64,
// _NSPACE 128 (vs2.3 no longer defines a lock bit, 1).
pub const VXF_STATE_SETUP: u64 = 1 << 32;
pub const VXF_STATE_INIT: u64 = 1 << 33;
pub const VXF_STATE_ADMIN: u64 = 1 << 34;
pub const VXF_PERSISTENT: u64 = 1 << 38;
/// The flag word of a context being set up (SETUP | INIT | ADMIN).
pub const VXF_INIT_SET: u64 = VXF_STATE_SETUP | VXF_STATE_INIT | VXF_STATE_ADMIN;
/// Network context state: administrable (NXF_INIT_SET includes it).
pub const NXF_STATE_ADMIN: u64 = 1 << 34;

/// Context capabilities (VXC_*): what a guest's root may do beyond its ceiling.
pub const VXC_SET_UTSNAME: u64 = 0x1;
pub const VXC_SET_RLIMIT: u64 = 0x2;

/// `vhi_name` fields (VHIN_*).
pub const VHIN_CONTEXT: u32 = 0;
pub const VHIN_NODENAME: u32 = 2;
pub const VHIN_DOMAINNAME: u32 = 6;

/// Address types of `net_add_ipv4` (vs2.3 network.h). NXA_TYPE_IPV4 (1) is the
/// family bit of util-vserver's own type word and not accepted here: the kernel
/// wants ADDR or MASK (EINVAL otherwise, the transcript's "not yet investigated").
pub const NXA_TYPE_ADDR: u16 = 0x0010;
pub const NXA_MOD_BCAST: u16 = 0x0100;

/// `ctx_create(id)` and `net_create(id)` take ids 2..=MAX_S_CONTEXT.
pub const MAX_S_CONTEXT: u32 = 65535;

/// A limit value that leaves the context's limit as it is (CRLIM_KEEP).
pub const CRLIM_KEEP: u64 = !1;

/// `{u64 flagword}`: ctx_create, ctx_migrate, net_create.
#[repr(C)]
pub struct Flagword {
    pub flagword: u64,
}

/// `{u64 value; u64 mask}`: cflags, nflags, bcaps, ccaps (v1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Masked {
    pub value: u64,
    pub mask: u64,
}

/// `struct vcmd_vx_info_v0`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VxInfo {
    pub xid: u32,
    pub initpid: u32,
}

/// `struct vcmd_ctx_stat_v0`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtxStat {
    pub usecnt: u32,
    pub tasks: u32,
}

/// `struct vcmd_ctx_kill_v0`.
#[repr(C)]
pub struct CtxKill {
    pub pid: i32,
    pub sig: i32,
}

/// `struct vcmd_vhi_name_v0`: 65 bytes of name, NUL-padded.
#[repr(C)]
pub struct VhiName {
    pub field: u32,
    pub name: [u8; 65],
}

/// `struct vcmd_ctx_rlimit_v0`.
#[repr(C)]
pub struct Rlimit {
    pub id: u32,
    pub minimum: u64,
    pub softlimit: u64,
    pub maximum: u64,
}

/// `struct vcmd_nx_info_v0`.
#[repr(C)]
pub struct NxInfo {
    pub nid: u32,
}

/// `struct vcmd_net_addr_ipv4_v1`.
#[repr(C)]
pub struct NetAddrIpv4 {
    pub kind: u16,
    pub flags: u16,
    pub ip: u32,
    pub mask: u32,
}

/// `struct vcmd_net_addr_ipv4_v2`: v1 plus the end of a range (NXA_TYPE_RANGE).
#[repr(C)]
pub struct NetAddrIpv4V2 {
    pub kind: u16,
    pub flags: u16,
    pub ip: u32,
    pub ip2: u32,
    pub mask: u32,
}

/// `struct vcmd_net_addr_v0`: up to four addresses of one type (net_add v0).
#[repr(C)]
pub struct NetAddrV0 {
    pub kind: u16,
    pub count: u16,
    pub ip: [u32; 4],
    pub mask: [u32; 4],
}

/// `struct vcmd_ctx_caps_v0` (get/set_ccaps v0, vs2.0): bcaps, ccaps, cmask.
#[repr(C)]
pub struct CtxCapsV0 {
    pub bcaps: u64,
    pub ccaps: u64,
    pub cmask: u64,
}

/// `struct vcmd_new_s_context_v1` (compat).
#[repr(C)]
pub struct NewSContext {
    pub remove_cap: u32,
    pub flags: u32,
}

/// `struct vcmd_set_ipv4root_v3` (compat): the broadcast, then up to 16 pairs.
#[repr(C)]
pub struct SetIpv4root {
    pub broadcast: u32,
    pub pairs: [[u32; 2]; 16],
}

const _: () = {
    use core::mem::size_of;
    assert!(size_of::<Flagword>() == 8);
    assert!(size_of::<Masked>() == 16);
    assert!(size_of::<VxInfo>() == 8);
    assert!(size_of::<CtxStat>() == 8);
    assert!(size_of::<CtxKill>() == 8);
    assert!(size_of::<VhiName>() == 72);
    assert!(size_of::<Rlimit>() == 32);
    assert!(size_of::<NxInfo>() == 4);
    assert!(size_of::<NetAddrIpv4>() == 12);
    assert!(size_of::<NetAddrIpv4V2>() == 16);
    assert!(size_of::<NetAddrV0>() == 36);
    assert!(size_of::<CtxCapsV0>() == 24);
    assert!(size_of::<NewSContext>() == 8);
    assert!(size_of::<SetIpv4root>() == 132);
};

/// The one entry point. `data` is a `vcmd_*` structure of the command's layout, or
/// none for commands that take no data.
fn call<T>(command: u32, id: u32, data: Option<&mut T>) -> Result<usize, Errno> {
    let p = data.map_or(core::ptr::null_mut(), |d| d as *mut T);
    // SAFETY: `p` is null or points at a live, exclusively borrowed `repr(C)`
    // structure of the size the kernel reads or writes for `command` (each wrapper
    // passes its own local of the matching layout, checked above).
    let r = unsafe { raw::syscall3(NR_VSERVER, command as usize, id as usize, p as usize) };
    raw::check(r)
}

/// The kernel's VCI version (e.g. 0x00020308 for vs2.3.0.36); ENOSYS on mainline.
pub fn get_version() -> Result<u32, Errno> {
    // util-vserver passes the COMPAT category as id; the kernel ignores it.
    call::<()>(GET_VERSION, COMPAT, None).map(|v| v as u32)
}

/// The kernel's configuration bits (vci_config.h).
pub fn get_vci() -> Result<u32, Errno> {
    call::<()>(GET_VCI, 0, None).map(|v| v as u32)
}

/// Create context `xid` and move the caller into it; `None` is v0 (VXF_INIT_SET,
/// plus the UTS and IPC unsharing hack). Returns the xid.
pub fn ctx_create(xid: u32, flagword: Option<u64>) -> Result<u32, Errno> {
    match flagword {
        Some(f) => call(CTX_CREATE, xid, Some(&mut Flagword { flagword: f })),
        None => call::<()>(CTX_CREATE_V0, xid, None),
    }
    .map(|v| v as u32)
}

/// Move the caller into existing context `xid` (1: the spectator; VXM_SET_INIT 1
/// and VXM_SET_REAPER 2 in `flagword`).
pub fn ctx_migrate(xid: u32, flagword: u64) -> Result<(), Errno> {
    call(CTX_MIGRATE, xid, Some(&mut Flagword { flagword })).map(|_| ())
}

/// Give context `xid` the caller's namespaces named in `mask` (CLONE_NEW*).
pub fn set_space(xid: u32, mask: u64) -> Result<(), Errno> {
    call(SET_SPACE, xid, Some(&mut Flagword { flagword: mask })).map(|_| ())
}

/// The context of process `pid` (0: the caller).
pub fn task_xid(pid: u32) -> Result<u32, Errno> {
    call::<()>(TASK_XID, pid, None).map(|v| v as u32)
}

/// The network context of process `pid` (0: the caller).
pub fn task_nid(pid: u32) -> Result<u32, Errno> {
    call::<()>(TASK_NID, pid, None).map(|v| v as u32)
}

/// Context `xid`'s number and init pid (0: none); ESRCH when it does not exist.
pub fn vx_info(xid: u32) -> Result<VxInfo, Errno> {
    let mut d = VxInfo::default();
    call(VX_INFO, xid, Some(&mut d)).map(|_| d)
}

/// Network context `nid`'s number; ESRCH when it does not exist.
pub fn nx_info(nid: u32) -> Result<u32, Errno> {
    let mut d = NxInfo { nid: 0 };
    call(NX_INFO, nid, Some(&mut d)).map(|_| d.nid)
}

/// Context `xid`'s reference and task counts.
pub fn ctx_stat(xid: u32) -> Result<CtxStat, Errno> {
    let mut d = CtxStat::default();
    call(CTX_STAT, xid, Some(&mut d)).map(|_| d)
}

/// Signal in context `xid`: `pid` 0 every process, -1 every one but its init, 1
/// its init, else that (host) pid if it is in the context.
pub fn ctx_kill(xid: u32, pid: i32, sig: i32) -> Result<(), Errno> {
    call(CTX_KILL, xid, Some(&mut CtxKill { pid, sig })).map(|_| ())
}

fn get_masked(command: u32, id: u32) -> Result<Masked, Errno> {
    let mut d = Masked::default();
    call(command, id, Some(&mut d)).map(|_| d)
}

fn set_masked(command: u32, id: u32, value: u64, mask: u64) -> Result<(), Errno> {
    call(command, id, Some(&mut Masked { value, mask })).map(|_| ())
}

/// The kernel's rule for every masked word: `new = (old & !mask) | (value & mask)`;
/// the one-time state bits can only be cleared.
pub fn set_cflags(xid: u32, flags: u64, mask: u64) -> Result<(), Errno> {
    set_masked(SET_CFLAGS, xid, flags, mask)
}

pub fn get_cflags(xid: u32) -> Result<Masked, Errno> {
    get_masked(GET_CFLAGS, xid)
}

/// The context's bounding capabilities (its ceiling).
pub fn set_bcaps(xid: u32, bcaps: u64, mask: u64) -> Result<(), Errno> {
    set_masked(SET_BCAPS, xid, bcaps, mask)
}

pub fn get_bcaps(xid: u32) -> Result<u64, Errno> {
    get_masked(GET_BCAPS, xid).map(|m| m.value)
}

/// The context capabilities (VXC_*).
pub fn set_ccaps(xid: u32, ccaps: u64, mask: u64) -> Result<(), Errno> {
    set_masked(SET_CCAPS, xid, ccaps, mask)
}

pub fn get_ccaps(xid: u32) -> Result<u64, Errno> {
    get_masked(GET_CCAPS, xid).map(|m| m.value)
}

pub fn set_nflags(nid: u32, flags: u64, mask: u64) -> Result<(), Errno> {
    set_masked(SET_NFLAGS, nid, flags, mask)
}

pub fn get_nflags(nid: u32) -> Result<Masked, Errno> {
    get_masked(GET_NFLAGS, nid)
}

/// Set one of the context's names (VHIN_*); longer than 64 bytes is EINVAL.
pub fn set_vhi_name(xid: u32, field: u32, name: &[u8]) -> Result<(), Errno> {
    if name.len() > 64 {
        return Err(Errno::INVAL);
    }
    let mut d = VhiName { field, name: [0; 65] };
    d.name[..name.len()].copy_from_slice(name);
    call(SET_VHI_NAME, xid, Some(&mut d)).map(|_| ())
}

/// One of the context's names, NUL-padded.
pub fn get_vhi_name(xid: u32, field: u32) -> Result<[u8; 65], Errno> {
    let mut d = VhiName { field, name: [0; 65] };
    call(GET_VHI_NAME, xid, Some(&mut d)).map(|_| d.name)
}

/// A per-context resource limit (RLIMIT_* id; CRLIM_KEEP leaves a value).
pub fn set_rlimit(xid: u32, id: u32, soft: u64, max: u64) -> Result<(), Errno> {
    call(SET_RLIMIT, xid, Some(&mut Rlimit { id, minimum: CRLIM_KEEP, softlimit: soft, maximum: max })).map(|_| ())
}

/// Create network context `nid` and move the caller into it; `None` is v0, whose
/// flag word is the kernel's NXF_INIT_SET (administrable). An explicit 0 leaves a
/// context nobody can add addresses to (EACCES, legacy-kernel.md). Returns the nid.
pub fn net_create(nid: u32, flagword: Option<u64>) -> Result<u32, Errno> {
    match flagword {
        Some(f) => call(NET_CREATE, nid, Some(&mut Flagword { flagword: f })),
        None => call::<()>(NET_CREATE_V0, nid, None),
    }
    .map(|v| v as u32)
}

/// Move the caller into existing network context `nid`.
pub fn net_migrate(nid: u32) -> Result<(), Errno> {
    call::<()>(NET_MIGRATE, nid, None).map(|_| ())
}

/// Add an address (`NXA_TYPE_ADDR`) or set the broadcast (`ADDR | NXA_MOD_BCAST`);
/// `ip` and `mask` in network byte order.
pub fn net_add_ipv4(nid: u32, kind: u16, ip: u32, mask: u32) -> Result<(), Errno> {
    call(NET_ADD_IPV4, nid, Some(&mut NetAddrIpv4 { kind, flags: 0, ip, mask })).map(|_| ())
}

/// Compat `new_s_context`: `ctx` -1 takes a new dynamic context, -2 stays; removes
/// `remove_cap` from the ceiling, ORs in `flags`. Returns the xid.
pub fn compat_new_s_context(ctx: i32, remove_cap: u32, flags: u32) -> Result<u32, Errno> {
    call(COMPAT_NEW_S_CONTEXT, ctx as u32, Some(&mut NewSContext { remove_cap, flags })).map(|v| v as u32)
}

/// Compat `set_ipv4root`: at most 16 (address, mask) pairs, network byte order.
pub fn compat_set_ipv4root(broadcast: u32, pairs: &[[u32; 2]]) -> Result<(), Errno> {
    let mut d = SetIpv4root { broadcast, pairs: [[0; 2]; 16] };
    d.pairs.get_mut(..pairs.len()).ok_or(Errno::INVAL)?.copy_from_slice(pairs);
    call(COMPAT_SET_IPV4ROOT, pairs.len() as u32, Some(&mut d)).map(|_| ())
}

// ---------------------------------------------------------------------------------
// The 2.4 ctx patches: their own system calls, announced in /proc/self/status.

/// The syscalls a 2.4 ctx kernel announces (`__NR_new_s_context: 273 rev0`, …);
/// `(number, revision)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ctx24 {
    pub new_s_context: Option<(u32, u32)>,
    pub set_ipv4root: Option<(u32, u32)>,
}

/// Parse the `__NR_*` lines of a /proc/self/status text (util-vserver tokenises
/// them as `title number rev<R>`; a line without `rev` is revision 0).
pub fn parse_ctx24(status: &[u8]) -> Ctx24 {
    let mut c = Ctx24::default();
    for line in status.split(|&b| b == b'\n') {
        let (slot, rest) = if let Some(r) = line.strip_prefix(b"__NR_new_s_context:") {
            (&mut c.new_s_context, r)
        } else if let Some(r) = line.strip_prefix(b"__NR_set_ipv4root:") {
            (&mut c.set_ipv4root, r)
        } else {
            continue;
        };
        // `number [rev<R>]`: digits, then the revision's digits after "rev".
        let (nr, rest) = digits(rest.trim_ascii_start());
        let rest = rest.trim_ascii_start();
        let rev = rest.strip_prefix(b"rev").map_or(Some(0), |r| digits(r).0);
        if let (Some(nr), Some(rev)) = (nr, rev) {
            *slot = Some((nr, rev));
        }
    }
    c
}

/// The decimal number at the start of `w` (None without one) and what follows.
fn digits(w: &[u8]) -> (Option<u32>, &[u8]) {
    let n = w.iter().take_while(|b| b.is_ascii_digit()).count();
    let v = w[..n].iter().try_fold(0u32, |v, &d| v.checked_mul(10)?.checked_add(u32::from(d - b'0')));
    (if n == 0 { None } else { v }, &w[n..])
}

/// Read /proc/self/status for a 2.4 ctx patch's announcement.
pub fn read_ctx24() -> Ctx24 {
    let mut buf = [0u8; 4096];
    match super::file::read_into("/proc/self/status", &mut buf) {
        Ok(n) => parse_ctx24(&buf[..n]),
        Err(_) => Ctx24::default(),
    }
}

/// `new_s_context` rev0 of a 2.4 ctx kernel, by the number it announced.
pub fn new_s_context_rev0(nr: u32, ctx: i32, remove_cap: u32, flags: u32) -> Result<u32, Errno> {
    // SAFETY: the rev0 call takes three integers and no pointers.
    let r = unsafe { raw::syscall3(nr, ctx as usize, remove_cap as usize, flags as usize) };
    raw::check(r).map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_match_the_kernel_headers() {
        // Values from util-vserver's headers, vs2.3.0.36's switch.c and the
        // transcript in legacy-kernel.md (cmd=… columns).
        assert_eq!(GET_VERSION, 0x0000_0000);
        assert_eq!(GET_VCI, 0x0001_0000);
        assert_eq!(CTX_CREATE, 0x0901_0001);
        assert_eq!(CTX_CREATE_V0, 0x0901_0000);
        assert_eq!(CTX_MIGRATE, 0x0B01_0001);
        assert_eq!(SET_SPACE, 0x0A03_0001);
        assert_eq!(TASK_XID, 0x2E01_0000);
        assert_eq!(TASK_NID, 0x2E02_0000);
        assert_eq!(VX_INFO, 0x2E05_0000);
        assert_eq!(NX_INFO, 0x2E06_0000);
        assert_eq!(CTX_STAT, 0x2800_0000);
        assert_eq!(CTX_KILL, 0x0C01_0000);
        assert_eq!(SET_BCAPS, 0x340A_0000);
        assert_eq!(GET_BCAPS, 0x3409_0000);
        assert_eq!(SET_CFLAGS, 0x3402_0000);
        assert_eq!(GET_CFLAGS, 0x3401_0000);
        assert_eq!(SET_CCAPS, 0x3404_0001);
        assert_eq!(SET_NFLAGS, 0x3406_0000);
        assert_eq!(SET_VHI_NAME, 0x0201_0000);
        assert_eq!(GET_VHI_NAME, 0x0202_0000);
        assert_eq!(SET_RLIMIT, 0x3C02_0000);
        assert_eq!(NET_CREATE_V0, 0x1901_0000);
        assert_eq!(NET_CREATE, 0x1901_0001);
        assert_eq!(NET_ADD_IPV4, 0x1A01_0001);
        assert_eq!(NET_ADD_IPV4_V2, 0x1A01_0002);
        assert_eq!(NET_ADD_V0, 0x1A01_0000);
        assert_eq!(NET_MIGRATE, 0x1B01_0000);
        assert_eq!(COMPAT_NEW_S_CONTEXT, 0x3F01_0001);
        assert_eq!(COMPAT_SET_IPV4ROOT, 0x3F02_0003);
        assert_eq!(NR_VSERVER, 236);
        assert_eq!(VXF_INIT_SET, 0x7 << 32);
    }

    #[test]
    fn a_mainline_kernel_answers_enosys() {
        assert_eq!(get_version(), Err(Errno::NOSYS));
        assert_eq!(task_xid(0), Err(Errno::NOSYS));
        assert_eq!(vx_info(2), Err(Errno::NOSYS));
        // Bad input is refused before the kernel is asked.
        assert_eq!(set_vhi_name(2, VHIN_NODENAME, &[b'x'; 65]), Err(Errno::INVAL));
        assert_eq!(compat_set_ipv4root(0, &[[0; 2]; 17]), Err(Errno::INVAL));
    }

    #[test]
    fn the_2_4_announcement() {
        let status = b"Name:\tcat\nState:\tR (running)\ns_context: 0\nctxflags: 0\n\
            __NR_new_s_context: 273 rev0\n__NR_set_ipv4root: 274 rev3\n__NR_chrootsafe: 275 rev0\n";
        let c = parse_ctx24(status);
        assert_eq!(c.new_s_context, Some((273, 0)));
        assert_eq!(c.set_ipv4root, Some((274, 3)));
        let c = parse_ctx24(b"__NR_new_s_context:\t226\n__NR_set_ipv4root: x rev1\n");
        assert_eq!(c, Ctx24 { new_s_context: Some((226, 0)), set_ipv4root: None });
        // This kernel (and any mainline one) announces nothing.
        assert_eq!(read_ctx24(), Ctx24::default());
    }
}
