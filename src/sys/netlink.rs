//! rtnetlink (NETLINK_ROUTE): look up interfaces, bring links up, create veth pairs,
//! and add, list and remove labelled IPv4 aliases, the way `vserver start` puts a
//! guest's address on IPROOTDEV as `dev:NAME`.
//!
//! Requests are built in a fixed stack buffer and replies read into another, so a
//! request costs no heap allocation; only `addresses()` returns a `Vec`. Everything
//! acts on the network namespace of the calling thread.

use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt::{self, Write as _};
use core::time::Duration;

use linux_raw_sys::general::__NR_setsockopt;
use linux_raw_sys::net::{AF_INET, AF_UNSPEC, SOL_NETLINK, net_device_flags::IFF_UP};
use linux_raw_sys::netlink as nl;
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{
    self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink::SocketAddrNetlink,
    sockopt::Timeout,
};

use super::error::{Context, Error, ErrnoText, Result};
use super::raw;

/// The longest interface name or address label the kernel accepts (IFNAMSIZ - 1).
pub const NAME_MAX: usize = 15;

/// Room for the kernel's extended-ack text (its messages are short literals, the
/// longest well under this), sized to keep `NetlinkError` under 128 bytes.
pub const DETAIL_MAX: usize = 88;

const HDR_LEN: usize = core::mem::size_of::<nl::nlmsghdr>();
const IFADDRMSG_LEN: usize = core::mem::size_of::<nl::ifaddrmsg>();
const IFINFOMSG_LEN: usize = core::mem::size_of::<nl::ifinfomsg>();
const NLMSGERR_LEN: usize = core::mem::size_of::<nl::nlmsgerr>();
const RTA_HDR_LEN: usize = core::mem::size_of::<nl::rtattr>();

/// Our largest request (veth creation) is about 100 bytes.
const REQ_MAX: usize = 256;
/// The kernel sizes dump messages after the largest buffer we ever read with, so
/// 8 KiB replies always fit (MSG_TRUNC catches it if they ever do not).
const RECV_MAX: usize = 8192;

/// `VETH_INFO_PEER` from linux/veth.h, which linux-raw-sys does not carry.
const VETH_INFO_PEER: u16 = 1;

/// How often `addresses()` restarts a dump that the kernel flags as interrupted
/// (addresses changed while it was being sent) before giving up.
const DUMP_TRIES: usize = 4;

/// A netlink failure: the kernel-layer error plus the kernel's own explanation
/// (the extended ack, "ipv4: Address already assigned") or a detail of ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetlinkError {
    pub error: Error,
    pub detail: heapless::String<DETAIL_MAX>,
}

pub type NlResult<T> = core::result::Result<T, NetlinkError>;

impl NetlinkError {
    fn new(what: &'static str, errno: Errno, detail: &str) -> Self {
        let mut e = NetlinkError { error: Error::new(what, errno), detail: heapless::String::new() };
        push_truncated(&mut e.detail, detail);
        e
    }

    #[inline]
    pub fn errno(&self) -> Errno {
        self.error.errno
    }

    /// "File exists: ipv4: Address already assigned": for callers that describe the
    /// step themselves ("add 10.0.0.5/24 to veth0: {reason}").
    pub fn reason(&self) -> Reason<'_> {
        Reason(self)
    }
}

/// The errno text followed by the kernel's detail, if it gave one.
pub struct Reason<'a>(&'a NetlinkError);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", ErrnoText(self.0.error.errno))?;
        if !self.0.detail.is_empty() {
            write!(f, ": {}", self.0.detail)?;
        }
        Ok(())
    }
}

impl fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.what, self.reason())
    }
}

impl From<Error> for NetlinkError {
    fn from(error: Error) -> Self {
        NetlinkError { error, detail: heapless::String::new() }
    }
}

/// Drops the detail: for callers that only need the errno and the step.
impl From<NetlinkError> for Error {
    fn from(e: NetlinkError) -> Self {
        e.error
    }
}

/// One IPv4 address as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub ifindex: u32,
    pub addr: [u8; 4],
    pub prefix: u8,
    pub broadcast: Option<[u8; 4]>,
    /// The label (`eth0:web`); the kernel reports the device name when none was set.
    pub label: heapless::String<NAME_MAX>,
    /// Not the first address of its subnet on the device: it disappears with the
    /// primary unless promote_secondaries is on.
    pub secondary: bool,
}

/// The broadcast address `ip addr add … brd +` would pick; None for /31 and /32,
/// which have none.
pub fn default_broadcast(addr: [u8; 4], prefix: u8) -> Option<[u8; 4]> {
    if prefix >= 31 {
        return None;
    }
    let host_bits = u32::MAX >> prefix;
    Some((u32::from_be_bytes(addr) | host_bits).to_be_bytes())
}

/// An open NETLINK_ROUTE socket. Not `Sync`: one request is in flight at a time.
pub struct Rtnl {
    fd: OwnedFd,
    seq: Cell<u32>,
}

impl Rtnl {
    /// Open and bind a route socket in the calling thread's network namespace, with
    /// extended acks so kernel refusals come with their reason.
    pub fn open() -> Result<Rtnl> {
        let fd = net::socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, None)
            .ctx("open a netlink route socket")?;
        net::bind(&fd, &SocketAddrNetlink::new(0, 0)).ctx("bind the netlink route socket")?;
        // Kernels before 4.12 lack these two; we then only lose the explanation text.
        let _ = set_netlink_flag(&fd, nl::NETLINK_EXT_ACK);
        // Errors need not echo our whole request back.
        let _ = set_netlink_flag(&fd, nl::NETLINK_CAP_ACK);
        // The kernel answers synchronously; a missing reply is a kernel bug, not a wait.
        net::sockopt::set_socket_timeout(&fd, Timeout::Recv, Some(Duration::from_secs(5)))
            .ctx("set a receive timeout on the netlink socket")?;
        Ok(Rtnl { fd, seq: Cell::new(0) })
    }

    /// The index of interface `name`, or None if there is no such device.
    pub fn ifindex(&self, name: &str) -> NlResult<Option<u32>> {
        if !valid_name(name) {
            return Ok(None);
        }
        let mut req = Request::new(nl::RTM_GETLINK as u16, 0);
        req.ifinfomsg(0, 0, 0);
        req.attr_str(nl::IFLA_IFNAME as u16, name);
        let mut found = None;
        let r = self.transact(&mut req, "look up a network interface", |msg| {
            if msg.kind == nl::RTM_NEWLINK as u16 && msg.payload.len() >= IFINFOMSG_LEN {
                found = Some(u32_at(msg.payload, 4));
            }
        });
        match r {
            Ok(_) => Ok(found),
            Err(e) if e.errno() == Errno::NODEV => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every IPv4 address, or only those on `ifindex`.
    pub fn addresses(&self, ifindex: Option<u32>) -> NlResult<Vec<IfAddr>> {
        const WHAT: &str = "list IPv4 addresses";
        for _ in 0..DUMP_TRIES {
            let mut out = Vec::new();
            let mut req = Request::new(nl::RTM_GETADDR as u16, nl::NLM_F_DUMP as u16);
            req.ifaddrmsg(AF_INET as u8, 0, 0, 0);
            let complete = self.transact(&mut req, WHAT, |msg| {
                if msg.kind != nl::RTM_NEWADDR as u16 {
                    return;
                }
                if let Some(a) = parse_ifaddr(msg.payload)
                    && ifindex.is_none_or(|i| i == a.ifindex)
                {
                    out.push(a);
                }
            })?;
            if complete {
                return Ok(out);
            }
        }
        Err(NetlinkError::new(WHAT, Errno::INTR, "addresses kept changing during the listing"))
    }

    /// Add `addr/prefix` to `ifindex` under `label` ("" for none). Fails with EEXIST
    /// if the address is already there. 127/8 gets host scope, as the kernel demands.
    pub fn add_ipv4(
        &self,
        ifindex: u32,
        addr: [u8; 4],
        prefix: u8,
        broadcast: Option<[u8; 4]>,
        label: &str,
    ) -> NlResult<()> {
        const WHAT: &str = "add an IPv4 address";
        let flags = (nl::NLM_F_CREATE | nl::NLM_F_EXCL) as u16;
        let mut req = addr_request(WHAT, nl::RTM_NEWADDR as u16, flags, ifindex, addr, prefix)?;
        if let Some(b) = broadcast {
            req.attr(nl::IFA_BROADCAST as u16, &b);
        }
        if !label.is_empty() {
            check_label(WHAT, label)?;
            req.attr_str(nl::IFA_LABEL as u16, label);
        }
        self.transact(&mut req, WHAT, |_| ()).map(drop)
    }

    /// Remove `addr/prefix` from `ifindex`. With a label, only an address carrying
    /// that label matches (EADDRNOTAVAIL otherwise), so one context cannot remove
    /// another's alias of the same address.
    pub fn del_ipv4(&self, ifindex: u32, addr: [u8; 4], prefix: u8, label: Option<&str>) -> NlResult<()> {
        const WHAT: &str = "remove an IPv4 address";
        let mut req = addr_request(WHAT, nl::RTM_DELADDR as u16, 0, ifindex, addr, prefix)?;
        if let Some(label) = label {
            check_label(WHAT, label)?;
            req.attr_str(nl::IFA_LABEL as u16, label);
        }
        self.transact(&mut req, WHAT, |_| ()).map(drop)
    }

    /// Set the link administratively up.
    pub fn set_link_up(&self, ifindex: u32) -> NlResult<()> {
        let mut req = Request::new(nl::RTM_NEWLINK as u16, 0);
        req.ifinfomsg(ifindex as i32, IFF_UP as u32, IFF_UP as u32);
        self.transact(&mut req, "bring a network interface up", |_| ()).map(drop)
    }

    /// Create the veth pair `a` <-> `b` (both down, in this namespace).
    pub fn create_veth(&self, a: &str, b: &str) -> NlResult<()> {
        const WHAT: &str = "create a veth pair";
        for name in [a, b] {
            if !valid_name(name) {
                return Err(NetlinkError::new(WHAT, Errno::INVAL, "interface names are 1 to 15 bytes, without '/'"));
            }
        }
        let mut req = Request::new(nl::RTM_NEWLINK as u16, (nl::NLM_F_CREATE | nl::NLM_F_EXCL) as u16);
        req.ifinfomsg(0, 0, 0);
        req.attr_str(nl::IFLA_IFNAME as u16, a);
        let info = req.begin_nest(nl::IFLA_LINKINFO as u16);
        req.attr(nl::IFLA_INFO_KIND as u16, b"veth");
        let data = req.begin_nest(nl::IFLA_INFO_DATA as u16);
        let peer = req.begin_nest(VETH_INFO_PEER);
        // The peer's attributes follow an ifinfomsg of its own.
        req.ifinfomsg(0, 0, 0);
        req.attr_str(nl::IFLA_IFNAME as u16, b);
        req.end_nest(peer);
        req.end_nest(data);
        req.end_nest(info);
        self.transact(&mut req, WHAT, |_| ()).map(drop)
    }

    /// Delete a link (for a veth, both ends go).
    pub fn delete_link(&self, ifindex: u32) -> NlResult<()> {
        let mut req = Request::new(nl::RTM_DELLINK as u16, 0);
        req.ifinfomsg(ifindex as i32, 0, 0);
        self.transact(&mut req, "delete a network interface", |_| ()).map(drop)
    }

    /// Send `req` and feed each reply message to `on_msg` until the kernel's ack
    /// (or, for a dump, its end). Returns false if the dump was interrupted by a
    /// concurrent change and should be repeated.
    fn transact(&self, req: &mut Request, what: &'static str, mut on_msg: impl FnMut(&Msg<'_>)) -> NlResult<bool> {
        let seq = self.seq.get().wrapping_add(1);
        self.seq.set(seq);
        let bytes = req.finish(seq).ok_or_else(|| Error::new(what, Errno::MSGSIZE))?;
        net::send(&self.fd, bytes, SendFlags::empty()).ctx(what)?;

        let mut buf = [0u8; RECV_MAX];
        let mut complete = true;
        loop {
            let (_, n) = net::recv(&self.fd, &mut buf[..], RecvFlags::TRUNC).ctx(what)?;
            if n > buf.len() {
                return Err(NetlinkError::new(what, Errno::MSGSIZE, "netlink reply larger than the receive buffer"));
            }
            for msg in messages(&buf[..n]) {
                // Leftovers of an earlier, abandoned request.
                if msg.seq != seq {
                    continue;
                }
                match msg.kind as u32 {
                    nl::NLMSG_ERROR => return ack_result(what, &msg).map(|()| complete),
                    nl::NLMSG_DONE => return done_result(what, &msg).map(|()| complete),
                    nl::NLMSG_NOOP => {}
                    _ => {
                        if msg.flags & nl::NLM_F_DUMP_INTR as u16 != 0 {
                            complete = false;
                        }
                        on_msg(&msg);
                    }
                }
            }
        }
    }
}

/// setsockopt(SOL_NETLINK, opt, 1): rustix has no generic setsockopt.
fn set_netlink_flag(fd: &OwnedFd, opt: u32) -> core::result::Result<(), Errno> {
    let one: i32 = 1;
    // SAFETY: the option value points at a live i32 whose size we pass; the kernel
    // only reads it. The sixth argument is unused by setsockopt.
    let r = unsafe {
        raw::syscall6(
            __NR_setsockopt,
            fd.as_raw_fd() as usize,
            SOL_NETLINK as usize,
            opt as usize,
            &one as *const i32 as usize,
            core::mem::size_of::<i32>(),
            0,
        )
    };
    raw::check(r).map(drop)
}

/// Set /proc/sys/net/ipv4/conf/DEV/promote_secondaries in the calling thread's
/// network namespace. With it on, removing the first address of a subnet promotes
/// the next one instead of deleting every alias in that subnet, so stopping one
/// vserver leaves its neighbours' addresses alone.
pub fn set_promote_secondaries(dev: &str, on: bool) -> Result<()> {
    const WHAT: &str = "set promote_secondaries of the interface";
    let path = promote_path(dev).map_err(|e| Error::new(WHAT, e))?;
    let fd = rustix::fs::open(path.as_str(), OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).ctx(WHAT)?;
    rustix::io::write(&fd, if on { b"1\n" } else { b"0\n" }).ctx(WHAT)?;
    Ok(())
}

/// Whether promote_secondaries is on for `dev` (calling thread's namespace).
pub fn promote_secondaries(dev: &str) -> Result<bool> {
    const WHAT: &str = "read promote_secondaries of the interface";
    let path = promote_path(dev).map_err(|e| Error::new(WHAT, e))?;
    let fd = rustix::fs::open(path.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ctx(WHAT)?;
    let mut buf = [0u8; 8];
    let n = rustix::io::read(&fd, &mut buf).ctx(WHAT)?;
    Ok(buf[..n].first().is_some_and(|&c| c != b'0'))
}

fn promote_path(dev: &str) -> core::result::Result<heapless::String<64>, Errno> {
    // The name becomes a path component: refuse anything that could walk elsewhere.
    if !valid_name(dev) || dev == "." || dev == ".." {
        return Err(Errno::NODEV);
    }
    let mut path = heapless::String::new();
    write!(path, "/proc/sys/net/ipv4/conf/{dev}/promote_secondaries").map_err(|_| Errno::NAMETOOLONG)?;
    Ok(path)
}

fn valid_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len()) && !name.bytes().any(|b| b == b'/' || b == 0)
}

fn check_label(what: &'static str, label: &str) -> NlResult<()> {
    if label.len() > NAME_MAX {
        let mut detail: heapless::String<DETAIL_MAX> = heapless::String::new();
        let _ = write!(detail, "label \"{label}\" is longer than {NAME_MAX} bytes");
        return Err(NetlinkError { error: Error::new(what, Errno::RANGE), detail });
    }
    if label.bytes().any(|b| b == 0) {
        return Err(NetlinkError::new(what, Errno::INVAL, "label contains a NUL byte"));
    }
    Ok(())
}

/// The part RTM_NEWADDR and RTM_DELADDR share: ifaddrmsg, IFA_LOCAL, IFA_ADDRESS.
fn addr_request(
    what: &'static str,
    kind: u16,
    flags: u16,
    ifindex: u32,
    addr: [u8; 4],
    prefix: u8,
) -> NlResult<Request> {
    if prefix > 32 {
        return Err(NetlinkError::new(what, Errno::INVAL, "IPv4 prefix length is above 32"));
    }
    // The kernel refuses loopback addresses with any wider scope.
    let scope = if addr[0] == 127 { nl::rt_scope_t::RT_SCOPE_HOST } else { nl::rt_scope_t::RT_SCOPE_UNIVERSE };
    let mut req = Request::new(kind, flags);
    req.ifaddrmsg(AF_INET as u8, prefix, scope as u8, ifindex);
    req.attr(nl::IFA_LOCAL as u16, &addr);
    req.attr(nl::IFA_ADDRESS as u16, &addr);
    Ok(req)
}

/// A request under construction: nlmsghdr, family header, attributes. Every step
/// leaves the length 4-aligned, so nests and the total include trailing padding.
struct Request {
    buf: [u8; REQ_MAX],
    len: usize,
    overflow: bool,
}

impl Request {
    fn new(kind: u16, flags: u16) -> Request {
        let mut r = Request { buf: [0; REQ_MAX], len: HDR_LEN, overflow: false };
        r.set_u16(4, kind);
        r.set_u16(6, flags | (nl::NLM_F_REQUEST | nl::NLM_F_ACK) as u16);
        r
    }

    fn ifaddrmsg(&mut self, family: u8, prefix: u8, scope: u8, ifindex: u32) {
        let i = ifindex.to_ne_bytes();
        self.push(&[family, prefix, 0, scope, i[0], i[1], i[2], i[3]]);
    }

    fn ifinfomsg(&mut self, ifindex: i32, flags: u32, change: u32) {
        let mut m = [0u8; IFINFOMSG_LEN];
        m[0] = AF_UNSPEC as u8;
        m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        m[8..12].copy_from_slice(&flags.to_ne_bytes());
        m[12..16].copy_from_slice(&change.to_ne_bytes());
        self.push(&m);
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        self.attr_parts(kind, &[data]);
    }

    /// A NUL-terminated string attribute, as IFA_LABEL and IFLA_IFNAME want.
    fn attr_str(&mut self, kind: u16, s: &str) {
        self.attr_parts(kind, &[s.as_bytes(), b"\0"]);
    }

    fn attr_parts(&mut self, kind: u16, parts: &[&[u8]]) {
        let at = self.begin_nest(kind);
        for p in parts {
            self.push(p);
        }
        let len = self.len - at;
        self.set_u16(at, len as u16);
        self.len = align4(self.len);
    }

    /// Open an attribute whose payload follows; close with `end_nest`.
    fn begin_nest(&mut self, kind: u16) -> usize {
        let at = self.len;
        self.push(&[0, 0]);
        self.push(&kind.to_ne_bytes());
        at
    }

    fn end_nest(&mut self, at: usize) {
        let len = self.len - at;
        self.set_u16(at, len as u16);
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if align4(end) > REQ_MAX {
            self.overflow = true;
            return;
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    fn set_u16(&mut self, at: usize, v: u16) {
        // After an overflow the slot may never have been reserved.
        if at + 2 <= self.len.max(HDR_LEN) {
            self.buf[at..at + 2].copy_from_slice(&v.to_ne_bytes());
        }
    }

    /// Stamp length and sequence number; None if the request did not fit.
    fn finish(&mut self, seq: u32) -> Option<&[u8]> {
        if self.overflow {
            return None;
        }
        self.len = align4(self.len);
        self.buf[0..4].copy_from_slice(&(self.len as u32).to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        Some(&self.buf[..self.len])
    }
}

/// One message out of a reply buffer.
struct Msg<'a> {
    kind: u16,
    flags: u16,
    seq: u32,
    payload: &'a [u8],
}

/// The messages in a receive buffer; stops at the first malformed length.
fn messages(mut buf: &[u8]) -> impl Iterator<Item = Msg<'_>> {
    core::iter::from_fn(move || {
        if buf.len() < HDR_LEN {
            return None;
        }
        let len = u32_at(buf, 0) as usize;
        if len < HDR_LEN || len > buf.len() {
            return None;
        }
        let msg = Msg { kind: u16_at(buf, 4), flags: u16_at(buf, 6), seq: u32_at(buf, 8), payload: &buf[HDR_LEN..len] };
        buf = &buf[align4(len).min(buf.len())..];
        Some(msg)
    })
}

/// The (type, payload) attributes in `buf`, type flag bits cleared.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    core::iter::from_fn(move || {
        if buf.len() < RTA_HDR_LEN {
            return None;
        }
        let len = u16_at(buf, 0) as usize;
        if len < RTA_HDR_LEN || len > buf.len() {
            return None;
        }
        let kind = u16_at(buf, 2) & nl::NLA_TYPE_MASK as u16;
        let data = &buf[RTA_HDR_LEN..len];
        buf = &buf[align4(len).min(buf.len())..];
        Some((kind, data))
    })
}

/// An NLMSG_ERROR reply: error 0 is the ack, anything else a refusal whose extended
/// ack text (if any) becomes the detail.
fn ack_result(what: &'static str, msg: &Msg<'_>) -> NlResult<()> {
    let p = msg.payload;
    if p.len() < 4 {
        return Err(NetlinkError::new(what, Errno::PROTO, "truncated netlink error message"));
    }
    let err = i32_at(p, 0);
    if err == 0 {
        return Ok(());
    }
    // The TLVs follow our echoed request: its header only when the ack is capped.
    let echoed = if msg.flags & nl::NLM_F_CAPPED as u16 != 0 || p.len() < NLMSGERR_LEN {
        NLMSGERR_LEN
    } else {
        4 + u32_at(p, 4) as usize
    };
    Err(refusal(what, err, msg.flags, p.get(align4(echoed)..).unwrap_or(&[])))
}

/// NLMSG_DONE ends a dump; a failed dump carries a negative errno there too.
fn done_result(what: &'static str, msg: &Msg<'_>) -> NlResult<()> {
    let err = if msg.payload.len() >= 4 { i32_at(msg.payload, 0) } else { 0 };
    if err == 0 {
        return Ok(());
    }
    Err(refusal(what, err, msg.flags, &msg.payload[4..]))
}

fn refusal(what: &'static str, err: i32, flags: u16, tlvs: &[u8]) -> NetlinkError {
    let errno = Errno::from_raw_os_error(err.saturating_neg());
    let mut text = "";
    if flags & nl::NLM_F_ACK_TLVS as u16 != 0 {
        for (kind, data) in attrs(tlvs) {
            if kind == nl::nlmsgerr_attrs::NLMSGERR_ATTR_MSG as u16 {
                text = c_str(data);
            }
        }
    }
    NetlinkError::new(what, errno, text)
}

/// An RTM_NEWADDR payload as an IfAddr; None for other families or no address.
fn parse_ifaddr(p: &[u8]) -> Option<IfAddr> {
    if p.len() < IFADDRMSG_LEN || p[0] != AF_INET as u8 {
        return None;
    }
    let mut flags = p[2] as u32;
    let (mut local, mut address, mut broadcast) = (None, None, None);
    let mut label = heapless::String::new();
    for (kind, data) in attrs(&p[IFADDRMSG_LEN..]) {
        let v4 = <[u8; 4]>::try_from(data).ok();
        match kind {
            k if k == nl::IFA_LOCAL as u16 => local = v4,
            k if k == nl::IFA_ADDRESS as u16 => address = v4,
            k if k == nl::IFA_BROADCAST as u16 => broadcast = v4,
            k if k == nl::IFA_LABEL as u16 => push_truncated(&mut label, c_str(data)),
            // The 32-bit flags supersede the 8 bits in the header.
            k if k == nl::IFA_FLAGS as u16 && data.len() >= 4 => flags = u32_at(data, 0),
            _ => {}
        }
    }
    Some(IfAddr {
        ifindex: u32_at(p, 4),
        // IFA_ADDRESS is the peer on point-to-point links; IFA_LOCAL is ours.
        addr: local.or(address)?,
        prefix: p[1],
        broadcast,
        label,
        secondary: flags & nl::IFA_F_SECONDARY != 0,
    })
}

/// The text of a NUL-terminated attribute, cut at the first invalid UTF-8 byte.
fn c_str(data: &[u8]) -> &str {
    let s = data.split(|&b| b == 0).next().unwrap_or(&[]);
    match core::str::from_utf8(s) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&s[..e.valid_up_to()]).unwrap_or(""),
    }
}

fn push_truncated<const N: usize>(dst: &mut heapless::String<N>, s: &str) {
    for c in s.chars() {
        if dst.push(c).is_err() {
            break;
        }
    }
}

#[inline]
const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    u32_at(b, at) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::thread::UnshareFlags;

    /// Run `f` on a thread of its own that first moves into a fresh network
    /// namespace; the rest of the test process stays where it is. Returns None
    /// (test skipped) where unsharing is not permitted.
    fn in_private_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        std::thread::spawn(move || {
            let before = std::fs::read_link("/proc/thread-self/ns/net").expect("read own netns");
            // SAFETY: NEWNET only changes which network namespace this one thread
            // sees; no file descriptor table or memory is unshared.
            if let Err(e) = unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) } {
                eprintln!("skipped: cannot unshare a network namespace: {e}");
                return None;
            }
            let after = std::fs::read_link("/proc/thread-self/ns/net").expect("read own netns");
            // Never let a live test touch the host's interfaces.
            assert_ne!(before, after, "thread did not move to a new network namespace");
            Some(f())
        })
        .join()
        .expect("netns test thread panicked")
    }

    /// An RTM_GETADDR dump captured on this machine in a fresh namespace after
    /// `lo` up and 127.0.0.2/8 brd 127.255.255.255 label "lo:vs1": two RTM_NEWADDR
    /// messages (sequence 77) in one read, then NLMSG_DONE in a second.
    const CAPTURED_DUMP: [u8; 184] = [
        0x4c, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x4d, 0x00, 0x00, 0x00, 0xf6, 0x32, 0x00, 0x00,
        0x02, 0x08, 0x80, 0xfe, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x7f, 0x00, 0x00, 0x01,
        0x08, 0x00, 0x02, 0x00, 0x7f, 0x00, 0x00, 0x01, 0x07, 0x00, 0x03, 0x00, 0x6c, 0x6f, 0x00, 0x00,
        0x08, 0x00, 0x08, 0x00, 0x80, 0x00, 0x00, 0x00, 0x14, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xe7, 0xa3, 0x00, 0x00, 0xe7, 0xa3, 0x00, 0x00, 0x58, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x02, 0x00, 0x4d, 0x00, 0x00, 0x00, 0xf6, 0x32, 0x00, 0x00, 0x02, 0x08, 0x81, 0xfe,
        0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x7f, 0x00, 0x00, 0x02, 0x08, 0x00, 0x02, 0x00,
        0x7f, 0x00, 0x00, 0x02, 0x08, 0x00, 0x04, 0x00, 0x7f, 0xff, 0xff, 0xff, 0x0b, 0x00, 0x03, 0x00,
        0x6c, 0x6f, 0x3a, 0x76, 0x73, 0x31, 0x00, 0x00, 0x08, 0x00, 0x08, 0x00, 0x81, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe7, 0xa3, 0x00, 0x00,
        0xe7, 0xa3, 0x00, 0x00, //
        0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x4d, 0x00, 0x00, 0x00, 0xf6, 0x32, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];

    fn label(s: &str) -> heapless::String<NAME_MAX> {
        heapless::String::try_from(s).unwrap()
    }

    #[test]
    fn parses_a_captured_dump() {
        let msgs: Vec<Msg<'_>> = messages(&CAPTURED_DUMP).collect();
        assert_eq!(msgs.len(), 3);
        assert!(msgs.iter().all(|m| m.seq == 77));
        assert_eq!(msgs[0].kind, nl::RTM_NEWADDR as u16);
        assert_eq!(msgs[0].flags, nl::NLM_F_MULTI as u16);
        assert_eq!(msgs[2].kind as u32, nl::NLMSG_DONE);
        assert_eq!(done_result("dump", &msgs[2]), Ok(()));
        let a: Vec<IfAddr> = msgs[..2].iter().filter_map(|m| parse_ifaddr(m.payload)).collect();
        assert_eq!(
            a,
            [
                IfAddr { ifindex: 1, addr: [127, 0, 0, 1], prefix: 8, broadcast: None, label: label("lo"), secondary: false },
                IfAddr {
                    ifindex: 1,
                    addr: [127, 0, 0, 2],
                    prefix: 8,
                    broadcast: Some([127, 255, 255, 255]),
                    label: label("lo:vs1"),
                    secondary: true,
                },
            ]
        );
    }

    #[test]
    fn malformed_lengths_end_iteration() {
        let mut bad = CAPTURED_DUMP;
        bad[0] = 0xff; // first message claims more bytes than the buffer holds
        assert_eq!(messages(&bad).count(), 0);
        assert_eq!(messages(&CAPTURED_DUMP[..10]).count(), 0);
        // An attribute shorter than its own header.
        assert_eq!(attrs(&[2, 0, 1, 0, 9, 9, 9, 9]).count(), 0);
        // Payload of the wrong family is not an IPv4 address.
        assert_eq!(parse_ifaddr(&[10, 64, 0, 0, 1, 0, 0, 0]), None);
    }

    #[test]
    fn encodes_an_address_request() {
        let mut req = addr_request("add", nl::RTM_NEWADDR as u16, (nl::NLM_F_CREATE | nl::NLM_F_EXCL) as u16, 3, [10, 0, 0, 5], 24)
            .unwrap();
        req.attr(nl::IFA_BROADCAST as u16, &[10, 0, 0, 255]);
        req.attr_str(nl::IFA_LABEL as u16, "eth0:web");
        let bytes = req.finish(9).unwrap();
        // header 16 + ifaddrmsg 8 + three 8-byte address attributes + label 4+9 padded to 16
        assert_eq!(bytes.len(), 16 + 8 + 3 * 8 + 16);
        assert_eq!(u32_at(bytes, 0) as usize, bytes.len());
        assert_eq!(u16_at(bytes, 4), nl::RTM_NEWADDR as u16);
        let flags = (nl::NLM_F_REQUEST | nl::NLM_F_ACK | nl::NLM_F_CREATE | nl::NLM_F_EXCL) as u16;
        assert_eq!(u16_at(bytes, 6), flags);
        assert_eq!(u32_at(bytes, 8), 9);
        assert_eq!(&bytes[16..24], &[AF_INET as u8, 24, 0, 0, 3, 0, 0, 0]); // universe scope
        let a: Vec<(u16, &[u8])> = attrs(&bytes[24..]).collect();
        assert_eq!(a[0], (nl::IFA_LOCAL as u16, &[10, 0, 0, 5][..]));
        assert_eq!(a[1], (nl::IFA_ADDRESS as u16, &[10, 0, 0, 5][..]));
        assert_eq!(a[2], (nl::IFA_BROADCAST as u16, &[10, 0, 0, 255][..]));
        assert_eq!(a[3], (nl::IFA_LABEL as u16, &b"eth0:web\0"[..]));
        assert_eq!(u16_at(bytes, 48), 13); // rta_len excludes the padding...
        assert_eq!(&bytes[61..64], &[0, 0, 0]); // ...which is zeroed
        let lo = addr_request("add", 0, 0, 1, [127, 0, 0, 2], 8).unwrap();
        assert_eq!(lo.buf[19], nl::rt_scope_t::RT_SCOPE_HOST as u8);
        assert_eq!(addr_request("add", 0, 0, 1, [10, 0, 0, 1], 33).err().map(|e| e.errno()), Some(Errno::INVAL));
    }

    #[test]
    fn encodes_nested_veth_request() {
        let mut req = Request::new(nl::RTM_NEWLINK as u16, 0);
        req.ifinfomsg(0, 0, 0);
        let info = req.begin_nest(nl::IFLA_LINKINFO as u16);
        req.attr(nl::IFLA_INFO_KIND as u16, b"veth");
        let data = req.begin_nest(nl::IFLA_INFO_DATA as u16);
        let peer = req.begin_nest(VETH_INFO_PEER);
        req.ifinfomsg(0, 0, 0);
        req.attr_str(nl::IFLA_IFNAME as u16, "vb");
        req.end_nest(peer);
        req.end_nest(data);
        req.end_nest(info);
        let bytes = req.finish(1).unwrap();
        // IFLA_IFNAME "vb\0" = 7 -> 8; peer = 4 + 16 + 8; data = 4 + 28; info = 4 + 8 + 32
        let top: Vec<(u16, &[u8])> = attrs(&bytes[32..]).collect();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].1.len(), 40);
        let inner: Vec<(u16, &[u8])> = attrs(top[0].1).collect();
        assert_eq!(inner[0], (nl::IFLA_INFO_KIND as u16, &b"veth"[..]));
        assert_eq!(inner[1].1.len(), 28);
        let p: Vec<(u16, &[u8])> = attrs(inner[1].1).collect();
        assert_eq!(p[0].0, VETH_INFO_PEER);
        assert_eq!(attrs(&p[0].1[IFINFOMSG_LEN..]).next(), Some((nl::IFLA_IFNAME as u16, &b"vb\0"[..])));
        assert_eq!(bytes.len(), 32 + 44);
    }

    #[test]
    fn oversized_request_is_refused_not_truncated() {
        let mut req = Request::new(nl::RTM_NEWLINK as u16, 0);
        for _ in 0..REQ_MAX / 8 {
            req.attr(1, &[0; 4]);
        }
        assert!(req.finish(1).is_none());
    }

    /// An NLMSG_ERROR as the kernel sends it, capped or echoing our request.
    fn error_msg(errno: i32, capped: bool, text: &[u8]) -> Vec<u8> {
        let echoed: &[u8] = &[0xaa; 8]; // request payload, present only uncapped
        let mut p = Vec::new();
        p.extend((-errno).to_ne_bytes());
        p.extend((16 + echoed.len() as u32).to_ne_bytes());
        p.extend([0u8; 12]);
        if !capped {
            p.extend(echoed);
        }
        p.extend((4 + text.len() as u16).to_ne_bytes());
        p.extend((nl::nlmsgerr_attrs::NLMSGERR_ATTR_MSG as u16).to_ne_bytes());
        p.extend(text);
        p.resize(align4(p.len()), 0);
        let flags = nl::NLM_F_ACK_TLVS as u16 | if capped { nl::NLM_F_CAPPED as u16 } else { 0 };
        let mut m = Vec::new();
        m.extend((16 + p.len() as u32).to_ne_bytes());
        m.extend((nl::NLMSG_ERROR as u16).to_ne_bytes());
        m.extend(flags.to_ne_bytes());
        m.extend([5, 0, 0, 0, 0, 0, 0, 0]);
        m.extend(p);
        m
    }

    #[test]
    fn extended_ack_text_reaches_the_error() {
        for capped in [true, false] {
            let raw = error_msg(17, capped, b"ipv4: Address already assigned\0");
            let msg = messages(&raw).next().unwrap();
            let e = ack_result("add an IPv4 address", &msg).unwrap_err();
            assert_eq!(e.errno(), Errno::EXIST);
            assert_eq!(e.detail.as_str(), "ipv4: Address already assigned");
            assert_eq!(
                std::format!("add 10.0.0.5/24 to veth0: {}", e.reason()),
                "add 10.0.0.5/24 to veth0: File exists: ipv4: Address already assigned"
            );
            assert_eq!(std::format!("{e}"), "add an IPv4 address: File exists: ipv4: Address already assigned");
            assert_eq!(Error::from(e).errno, Errno::EXIST);
        }
        let ack = error_msg(0, true, b"");
        assert_eq!(ack_result("x", &messages(&ack).next().unwrap()), Ok(()));
    }

    #[test]
    fn helpers() {
        assert_eq!(default_broadcast([10, 1, 2, 3], 24), Some([10, 1, 2, 255]));
        assert_eq!(default_broadcast([10, 1, 2, 3], 0), Some([255; 4]));
        assert_eq!(default_broadcast([10, 1, 2, 3], 31), None);
        assert_eq!(default_broadcast([10, 1, 2, 3], 32), None);
        assert_eq!(promote_path("eth0").unwrap().as_str(), "/proc/sys/net/ipv4/conf/eth0/promote_secondaries");
        for bad in ["", ".", "..", "a/b", "0123456789abcdef"] {
            assert_eq!(promote_path(bad), Err(Errno::NODEV), "{bad:?}");
        }
        assert_eq!(c_str(b"lo:x\0\0"), "lo:x");
        assert_eq!(c_str(b"ab\xffcd"), "ab");
        let mut d: heapless::String<4> = heapless::String::new();
        push_truncated(&mut d, "abcdef");
        assert_eq!(d.as_str(), "abcd");
    }

    fn find(list: &[IfAddr], addr: [u8; 4]) -> Option<&IfAddr> {
        list.iter().find(|a| a.addr == addr)
    }

    #[test]
    fn live_lo_alias_lifecycle() {
        in_private_netns(|| {
            let rt = Rtnl::open().unwrap();
            assert_eq!(rt.ifindex("lo").unwrap(), Some(1));
            assert_eq!(rt.ifindex("nope").unwrap(), None);
            assert_eq!(rt.ifindex("0123456789abcdef").unwrap(), None);
            rt.set_link_up(1).unwrap();

            let ip = [127, 0, 0, 2];
            rt.add_ipv4(1, ip, 8, default_broadcast(ip, 8), "lo:vs1").unwrap();
            let list = rt.addresses(Some(1)).unwrap();
            let a = find(&list, ip).expect("new alias listed");
            assert_eq!((a.prefix, a.label.as_str(), a.broadcast), (8, "lo:vs1", Some([127, 255, 255, 255])));
            assert_eq!(find(&list, [127, 0, 0, 1]).map(|a| a.label.as_str()), Some("lo"));
            assert!(rt.addresses(Some(999)).unwrap().is_empty());

            let dup = rt.add_ipv4(1, ip, 8, None, "lo:vs1").unwrap_err();
            assert_eq!(dup.errno(), Errno::EXIST);
            assert_eq!(std::format!("{}", dup.reason()), "File exists: ipv4: Address already assigned");

            let long = rt.add_ipv4(1, [127, 0, 0, 3], 8, None, "lo:0123456789abc").unwrap_err();
            assert_eq!(long.errno(), Errno::RANGE);
            assert!(long.detail.contains("longer than 15 bytes"), "{long}");
            assert!(find(&rt.addresses(Some(1)).unwrap(), [127, 0, 0, 3]).is_none());
            rt.add_ipv4(1, [127, 0, 0, 3], 8, None, "lo:0123456789ab").unwrap(); // exactly 15
            assert_eq!(find(&rt.addresses(Some(1)).unwrap(), [127, 0, 0, 3]).map(|a| a.label.len()), Some(15));
            rt.del_ipv4(1, [127, 0, 0, 3], 8, Some("lo:0123456789ab")).unwrap();

            let wrong = rt.del_ipv4(1, ip, 8, Some("lo:other")).unwrap_err();
            assert_eq!(wrong.errno(), Errno::ADDRNOTAVAIL);
            assert_eq!(wrong.detail.as_str(), "ipv4: Address not found");
            assert!(find(&rt.addresses(None).unwrap(), ip).is_some());

            rt.del_ipv4(1, ip, 8, Some("lo:vs1")).unwrap();
            let list = rt.addresses(None).unwrap();
            assert!(find(&list, ip).is_none());
            assert!(find(&list, [127, 0, 0, 1]).is_some());
        });
    }

    #[test]
    fn live_veth_and_promote_secondaries() {
        in_private_netns(|| {
            let rt = Rtnl::open().unwrap();
            rt.create_veth("vsa0", "vsb0").unwrap();
            assert_eq!(rt.create_veth("vsa0", "vsb1").unwrap_err().errno(), Errno::EXIST);
            assert_eq!(rt.create_veth("vsa1", "0123456789abcdef").unwrap_err().errno(), Errno::INVAL);
            let a = rt.ifindex("vsa0").unwrap().expect("vsa0 exists");
            let b = rt.ifindex("vsb0").unwrap().expect("vsb0 exists");
            rt.set_link_up(a).unwrap();
            rt.set_link_up(b).unwrap();

            // With promote_secondaries on, the subnet's other aliases outlive its primary.
            set_promote_secondaries("vsa0", true).unwrap();
            assert!(promote_secondaries("vsa0").unwrap());
            for (last, label) in [(10, "vsa0:web"), (11, "vsa0:db"), (12, "other:x")] {
                let ip = [192, 0, 2, last];
                rt.add_ipv4(a, ip, 24, default_broadcast(ip, 24), label).unwrap();
            }
            rt.del_ipv4(a, [192, 0, 2, 10], 24, None).unwrap();
            let left = rt.addresses(Some(a)).unwrap();
            assert_eq!(left.len(), 2, "{left:?}");
            assert_eq!(find(&left, [192, 0, 2, 11]).map(|x| x.label.as_str()), Some("vsa0:db"));
            assert_eq!(find(&left, [192, 0, 2, 12]).map(|x| x.label.as_str()), Some("other:x"));

            // Without it, deleting the primary flushes the whole subnet.
            set_promote_secondaries("vsb0", false).unwrap();
            assert!(!promote_secondaries("vsb0").unwrap());
            rt.add_ipv4(b, [198, 51, 100, 1], 24, None, "").unwrap();
            rt.add_ipv4(b, [198, 51, 100, 2], 24, None, "vsb0:x").unwrap();
            let both = rt.addresses(Some(b)).unwrap();
            assert_eq!(find(&both, [198, 51, 100, 1]).map(|x| (x.label.as_str(), x.secondary)), Some(("vsb0", false)));
            assert_eq!(find(&both, [198, 51, 100, 2]).map(|x| x.secondary), Some(true));
            rt.del_ipv4(b, [198, 51, 100, 1], 24, None).unwrap();
            assert!(rt.addresses(Some(b)).unwrap().is_empty());

            rt.delete_link(a).unwrap();
            assert_eq!(rt.ifindex("vsa0").unwrap(), None);
            assert_eq!(rt.ifindex("vsb0").unwrap(), None);
            // The sysctl directory went with the device.
            assert_eq!(set_promote_secondaries("vsa0", true).unwrap_err().errno, Errno::NOENT);
        });
    }
}
