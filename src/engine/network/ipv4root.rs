//! ipv4root: the addresses a context may use, enforced by cgroup-BPF programs on the
//! context's cgroup2 directory (chbind's engine).
//!
//! Sockets are tagged with their creator's cgroup2 cgroup at `socket()` time, so the
//! rules cover every socket created after the context joined its cgroup, in every
//! descendant process, and none created before (join first, then create or exec).
//!
//! What the programs do, per hook ("first" is the first IPv4 address):
//!
//! | hook | rule |
//! |---|---|
//! | bind4 | listed address or the broadcast: pass. `0.0.0.0` → first. `127.0.0.1` → first, unless 127.0.0.1 is listed (vserver's lback). Else refused. |
//! | connect4 | destination `127.0.0.1` → first (lback, so clients reach the remapped listeners). An unbound socket is bound to the listed address whose subnet holds the destination, else to first (`bpf_bind`; this also covers connected UDP). |
//! | sendmsg4 | destination `127.0.0.1` → first (lback). No source: the source is chosen as for connect4. A source that is not listed: refused. |
//! | bind6 | `::` → the first IPv6 address if there is one, else `::ffff:first`. `::ffff:0.0.0.0` and (lback) `::ffff:127.0.0.1` → `::ffff:first`. A listed v4-mapped or listed IPv6 address: pass. Else refused. |
//! | connect6 | v4-mapped destination: as connect4 (the source is bound as `::ffff:a.b.c.d`). Real IPv6 destination: an unbound socket is bound to the first IPv6 address; without IPv6 addresses, refused. |
//! | sendmsg6 | v4-mapped destination: passes here, the kernel hands it to the IPv4 path where sendmsg4 decides. Real IPv6 destination: no source → the first IPv6 address; a listed source passes; otherwise refused; without IPv6 addresses, refused. |
//! | sock_create | `SOCK_RAW` and ICMP "ping" (`SOCK_DGRAM` + `IPPROTO_ICMP`/`ICMPV6`) inet sockets refused unless `keep_raw`: both forge or pick their source past the sock_addr hooks. |
//!
//! Refusals and their errno (when the kernel has `bpf_set_retval`, Linux 5.18+; on
//! older kernels every refusal reads as EPERM):
//! - bind of an address the context does not own, or a send from one: EADDRNOTAVAIL
//!   ("Cannot assign requested address"), what the host says for a foreign address.
//! - connect or send to a family the context has no address of (IPv6 in an IPv4-only
//!   context, IPv4 in an IPv6-only one): ENETUNREACH, what a host without that
//!   family says, so programs fall back to the other family.
//! - raw socket: EPERM, always (what a process without CAP_NET_RAW gets).
//!
//! A v6-only socket (IPV6_V6ONLY) binding `::` in a context without IPv6 addresses
//! gets EINVAL from the kernel: the rewrite makes it `::ffff:first`, which such a
//! socket cannot carry. The programs cannot see the socket option; a context that
//! lists IPv6 addresses rewrites `::` to one of them and never meets this (a
//! dual-stack `::` listener then serves IPv6 only).
//!
//! Attached with BPF_F_ALLOW_MULTI: a nested context's programs run before its
//! parent's and every program must agree, so a nested chbind can only narrow.
//!
//! Known hole (kernel-feasibility.md §1): `listen()` or `sendto()` on an unbound
//! socket autobinds the local side to 0.0.0.0 without passing any hook. The isolated
//! network mode (a network namespace per context) closes it.

use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

use crate::sys::bpf::{self, Asm, AsmError, BpfError, Insn, Jmp, Label, Program, Size};
use crate::sys::bpf::{R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10};
use crate::sys::bpf::{sock, sock_addr};
use crate::sys::error::{Error, Result};

/// At most this many IPv4 addresses (the vserver limit, NB_IPV4ROOT) and as many IPv6.
pub const MAX_ADDRS: usize = 16;

/// The mask an address gets when none is given (as the original chbind).
pub const DEFAULT_MASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

/// One IPv4 address of a context and its netmask. `Ipv4Addr` keeps the octets in
/// network order; the programs compare them as the kernel stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V4Entry {
    pub addr: Ipv4Addr,
    pub mask: Ipv4Addr,
}

/// The network identity of a context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRoot {
    /// In order; the first is where wildcard binds and unbound connects go.
    pub v4: heapless::Vec<V4Entry, MAX_ADDRS>,
    /// Binding it is allowed too (to receive broadcasts). Default 255.255.255.255.
    pub bcast: Ipv4Addr,
    /// IPv6 addresses; without any, the context speaks IPv6 sockets only v4-mapped.
    pub v6: heapless::Vec<Ipv6Addr, MAX_ADDRS>,
    /// CAP_NET_RAW is kept: raw sockets allowed (they can forge any source).
    pub keep_raw: bool,
}

impl Default for IpRoot {
    fn default() -> Self {
        IpRoot { v4: heapless::Vec::new(), bcast: Ipv4Addr::BROADCAST, v6: heapless::Vec::new(), keep_raw: false }
    }
}

/// What was wrong with an address as an admin wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpErrorKind {
    /// Not a dotted quad (nor "localhost").
    Address,
    /// Not an IPv6 address.
    Address6,
    /// Neither /0../32 nor a dotted quad.
    Netmask,
    /// A dotted netmask whose one bits are not contiguous.
    MaskHoles,
    /// More than MAX_ADDRS addresses of one family.
    TooMany,
}

/// An address that could not be taken, with (the start of) the text that was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpError {
    pub kind: IpErrorKind,
    pub text: heapless::String<48>,
}

impl IpError {
    fn new(kind: IpErrorKind, text: &str) -> IpError {
        let mut t = heapless::String::new();
        for c in text.chars() {
            if t.push(c).is_err() {
                break;
            }
        }
        IpError { kind, text: t }
    }
}

impl fmt::Display for IpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.text;
        match self.kind {
            IpErrorKind::Address => write!(f, "invalid IPv4 address '{t}' (expected a.b.c.d)"),
            IpErrorKind::Address6 => write!(f, "invalid IPv6 address '{t}'"),
            IpErrorKind::Netmask => write!(f, "invalid netmask '{t}' (expected /0 to /32 or a.b.c.d)"),
            IpErrorKind::MaskHoles => write!(f, "invalid netmask '{t}' (its one bits must be contiguous)"),
            IpErrorKind::TooMany => write!(f, "too many IP addresses, max {MAX_ADDRS} ('{t}' is one more)"),
        }
    }
}

/// `1.2.3.4` (or `localhost`, which the original resolved to 127.0.0.1).
pub fn parse_ipv4(s: &str) -> core::result::Result<Ipv4Addr, IpError> {
    if s == "localhost" {
        return Ok(Ipv4Addr::LOCALHOST);
    }
    s.parse().map_err(|_| IpError::new(IpErrorKind::Address, s))
}

/// An IPv6 address, with an optional `/prefix` that is checked and dropped (the
/// programs match whole addresses).
pub fn parse_ipv6(s: &str) -> core::result::Result<Ipv6Addr, IpError> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    if let Some(p) = prefix
        && !matches!(p.parse::<u8>(), Ok(0..=128))
    {
        return Err(IpError::new(IpErrorKind::Netmask, s));
    }
    addr.parse().map_err(|_| IpError::new(IpErrorKind::Address6, s))
}

/// A netmask: `24` (prefix length) or `255.255.0.0` (contiguous ones).
pub fn parse_mask(s: &str) -> core::result::Result<Ipv4Addr, IpError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u32>() {
            Ok(0) => Ok(Ipv4Addr::UNSPECIFIED),
            Ok(n @ 1..=32) => Ok(Ipv4Addr::from(u32::MAX << (32 - n))),
            _ => Err(IpError::new(IpErrorKind::Netmask, s)),
        };
    }
    let m: Ipv4Addr = s.parse().map_err(|_| IpError::new(IpErrorKind::Netmask, s))?;
    let bits = u32::from(m);
    if bits.leading_ones() + bits.trailing_zeros() != 32 {
        return Err(IpError::new(IpErrorKind::MaskHoles, s));
    }
    Ok(m)
}

/// `1.2.3.4/24`, `1.2.3.4/255.255.0.0` or `1.2.3.4` (mask 255.255.255.0).
pub fn parse_entry(s: &str) -> core::result::Result<V4Entry, IpError> {
    let (addr, mask) = match s.split_once('/') {
        Some((a, m)) => (parse_ipv4(a)?, parse_mask(m)?),
        None => (parse_ipv4(s)?, DEFAULT_MASK),
    };
    Ok(V4Entry { addr, mask })
}

impl IpRoot {
    pub fn new() -> IpRoot {
        IpRoot::default()
    }

    /// Add one address as chbind's `--ip` or a conf's IPROOT gives it: IPv4 with an
    /// optional mask (`parse_entry`), or IPv6 (anything with a ':').
    pub fn add(&mut self, s: &str) -> core::result::Result<(), IpError> {
        if s.contains(':') {
            let a = parse_ipv6(s)?;
            self.v6.push(a).map_err(|_| IpError::new(IpErrorKind::TooMany, s))
        } else {
            let e = parse_entry(s)?;
            self.v4.push(e).map_err(|_| IpError::new(IpErrorKind::TooMany, s))
        }
    }

    /// No restriction: no address at all, or a first IPv4 address of 0.0.0.0 (the
    /// vserver "untied" IPROOT). `attach` then attaches nothing.
    pub fn is_unrestricted(&self) -> bool {
        match self.v4.first() {
            Some(e) => e.addr.is_unspecified(),
            None => self.v6.is_empty(),
        }
    }

    /// Where wildcard binds and unbound connects go.
    pub fn first(&self) -> Option<Ipv4Addr> {
        self.v4.first().map(|e| e.addr)
    }

    fn lists(&self, a: Ipv4Addr) -> bool {
        self.v4.iter().any(|e| e.addr == a)
    }

    /// lback: 127.0.0.1 means the context's first address unless it is listed.
    fn remaps_loopback(&self) -> bool {
        self.first().is_some() && !self.lists(Ipv4Addr::LOCALHOST)
    }
}

/// The IPv4 addresses separated by spaces, as chbind prints them after
/// `ipv4root is now`.
impl fmt::Display for IpRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.v4.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}", e.addr)?;
        }
        Ok(())
    }
}

// ---- the programs ------------------------------------------------------------------

/// Where a program hooks in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    SockCreate,
    Bind4,
    Connect4,
    Sendmsg4,
    Bind6,
    Connect6,
    Sendmsg6,
}

/// Every hook, in attach order.
pub const HOOKS: [Hook; 7] =
    [Hook::SockCreate, Hook::Bind4, Hook::Connect4, Hook::Sendmsg4, Hook::Bind6, Hook::Connect6, Hook::Sendmsg6];

/// The name prefix that marks a program as ours (`detach_all` removes only these).
pub const PROG_PREFIX: &str = "vsbox_";

impl Hook {
    pub fn prog_type(self) -> u32 {
        match self {
            Hook::SockCreate => bpf::BPF_PROG_TYPE_CGROUP_SOCK,
            _ => bpf::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        }
    }
    pub fn attach_type(self) -> u32 {
        match self {
            Hook::SockCreate => bpf::BPF_CGROUP_INET_SOCK_CREATE,
            Hook::Bind4 => bpf::BPF_CGROUP_INET4_BIND,
            Hook::Connect4 => bpf::BPF_CGROUP_INET4_CONNECT,
            Hook::Sendmsg4 => bpf::BPF_CGROUP_UDP4_SENDMSG,
            Hook::Bind6 => bpf::BPF_CGROUP_INET6_BIND,
            Hook::Connect6 => bpf::BPF_CGROUP_INET6_CONNECT,
            Hook::Sendmsg6 => bpf::BPF_CGROUP_UDP6_SENDMSG,
        }
    }
    /// The program name in the kernel (15 bytes at most).
    pub fn prog_name(self) -> &'static str {
        match self {
            Hook::SockCreate => "vsbox_sock",
            Hook::Bind4 => "vsbox_bind4",
            Hook::Connect4 => "vsbox_connect4",
            Hook::Sendmsg4 => "vsbox_sendmsg4",
            Hook::Bind6 => "vsbox_bind6",
            Hook::Connect6 => "vsbox_connect6",
            Hook::Sendmsg6 => "vsbox_sendmsg6",
        }
    }
    fn load_what(self) -> &'static str {
        match self {
            Hook::SockCreate => "load the sock_create program",
            Hook::Bind4 => "load the bind4 program",
            Hook::Connect4 => "load the connect4 program",
            Hook::Sendmsg4 => "load the sendmsg4 program",
            Hook::Bind6 => "load the bind6 program",
            Hook::Connect6 => "load the connect6 program",
            Hook::Sendmsg6 => "load the sendmsg6 program",
        }
    }
    fn attach_what(self) -> &'static str {
        match self {
            Hook::SockCreate => "attach the sock_create program to the cgroup",
            Hook::Bind4 => "attach the bind4 program to the cgroup",
            Hook::Connect4 => "attach the connect4 program to the cgroup",
            Hook::Sendmsg4 => "attach the sendmsg4 program to the cgroup",
            Hook::Bind6 => "attach the bind6 program to the cgroup",
            Hook::Connect6 => "attach the connect6 program to the cgroup",
            Hook::Sendmsg6 => "attach the sendmsg6 program to the cgroup",
        }
    }
}

/// The hooks `attach` uses for `root`.
pub fn hooks_for(root: &IpRoot) -> impl Iterator<Item = Hook> + '_ {
    let none = root.is_unrestricted();
    HOOKS.into_iter().filter(move |&h| !none && (h != Hook::SockCreate || !root.keep_raw))
}

/// `::ffff:0:0` word 2, as the kernel stores it.
const V4MAPPED_W2: u32 = u32::from_ne_bytes([0, 0, 0xff, 0xff]);
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
const SOCK_RAW: u32 = 3;
const SOCK_DGRAM: u32 = 2;
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_ICMPV6: u32 = 58;

/// An address as a BPF immediate: the u32 a load from the context yields.
fn imm4(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

fn words6(a: Ipv6Addr) -> [u32; 4] {
    let o = a.octets();
    core::array::from_fn(|i| u32::from_ne_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]))
}

/// Builds one program: R6 holds the context throughout; ALLOW and DENY end it.
struct Gen<'r> {
    a: Asm,
    root: &'r IpRoot,
    set_retval: bool,
    allow: Label,
}

impl<'r> Gen<'r> {
    fn new(root: &'r IpRoot, set_retval: bool) -> Gen<'r> {
        let mut a = Asm::new();
        let allow = a.new_label();
        a.mov64(R6, R1);
        Gen { a, root, set_retval, allow }
    }

    /// Refuse with `errno` (EPERM where the kernel cannot choose).
    fn deny(&mut self, errno: Errno) {
        if self.set_retval {
            self.a.mov64_imm(R1, -errno.raw_os_error()).call(bpf::HELPER_SET_RETVAL);
        }
        self.a.mov64_imm(R0, 0).exit();
    }

    fn finish(mut self) -> core::result::Result<Vec<Insn>, AsmError> {
        let allow = self.allow;
        if self.a.is_referenced(allow) {
            self.a.place(allow).mov64_imm(R0, 1).exit();
        }
        self.a.finish()
    }

    /// Jump to `to` unless the IPv4 address in `reg` is one of ours.
    fn jump_unless_listed(&mut self, reg: crate::sys::bpf::Reg, to: Label) {
        let ok = self.a.new_label();
        for e in &self.root.v4 {
            self.a.jmp32_imm(Jmp::Eq, reg, imm4(e.addr), ok);
        }
        self.a.ja(to).place(ok);
    }

    /// lback for destinations: if the IPv4 address in `reg` (loaded from context
    /// offset `off`) is 127.0.0.1, write the first address there and into `reg`.
    fn remap_loopback_dst(&mut self, reg: crate::sys::bpf::Reg, off: i16) {
        let (true, Some(first)) = (self.root.remaps_loopback(), self.root.first()) else { return };
        let keep = self.a.new_label();
        self.a
            .jmp32_imm(Jmp::Ne, reg, imm4(Ipv4Addr::LOCALHOST), keep)
            .mov32_imm(reg, imm4(first))
            .stx(Size::W, R6, off, reg)
            .place(keep);
    }

    /// R8 = the source for IPv4 destination R7: the first listed address whose subnet
    /// holds it, else the first address. Uses R9.
    fn pick_source(&mut self, first: Ipv4Addr) {
        self.a.mov32_imm(R8, imm4(first));
        if self.root.v4.len() < 2 {
            return;
        }
        let picked = self.a.new_label();
        for e in &self.root.v4 {
            let next = self.a.new_label();
            let mask = imm4(e.mask);
            self.a
                .mov32(R9, R7)
                .alu32_imm(bpf::Alu::And, R9, mask)
                .jmp32_imm(Jmp::Ne, R9, imm4(e.addr) & mask, next)
                .mov32_imm(R8, imm4(e.addr))
                .ja(picked)
                .place(next);
        }
        self.a.place(picked);
    }

    /// Jump to ALLOW if the socket already has a source address (explicit bind, also
    /// with IP_BIND_ADDRESS_NO_PORT): `bpf_bind` would overwrite it.
    fn allow_if_bound(&mut self, v6: bool) {
        let allow = self.allow;
        self.a.ldx(Size::DW, R2, R6, sock_addr::SK);
        if v6 {
            for w in 0..4 {
                self.a.ldx(Size::W, R3, R2, sock::SRC_IP6 + 4 * w).jmp32_imm(Jmp::Ne, R3, 0, allow);
            }
        } else {
            self.a.ldx(Size::W, R3, R2, sock::SRC_IP4).jmp32_imm(Jmp::Ne, R3, 0, allow);
        }
    }

    /// `bpf_bind(ctx, fp+at, len)` on the sockaddr built on the stack; its result is
    /// ignored (a failed bind leaves the kernel's own choice).
    fn call_bind(&mut self, at: i32, len: i32) {
        self.a.mov64(R1, R6).mov64(R2, R10).alu64_imm(bpf::Alu::Add, R2, at).mov64_imm(R3, len).call(bpf::HELPER_BIND);
    }

    /// R2..R4 = user_ip6 words 0..2; jump to `v6` unless they spell `::ffff:`.
    fn branch_unless_v4mapped(&mut self, v6: Label) {
        for (w, r) in [R2, R3, R4].into_iter().enumerate() {
            self.a.ldx(Size::W, r, R6, sock_addr::USER_IP6 + 4 * w as i16);
        }
        self.a.jmp32_imm(Jmp::Ne, R2, 0, v6).jmp32_imm(Jmp::Ne, R3, 0, v6).jmp32_imm(Jmp::Ne, R4, V4MAPPED_W2, v6);
    }

    /// Jump to `to` if the four words in R2..R5 equal one of the IPv6 addresses.
    fn jump_if_listed6(&mut self, to: Label) {
        for a in &self.root.v6 {
            let next = self.a.new_label();
            for (r, w) in [R2, R3, R4, R5].into_iter().zip(words6(*a)) {
                self.a.jmp32_imm(Jmp::Ne, r, w, next);
            }
            self.a.ja(to).place(next);
        }
    }

    /// Write a 16-byte address into context offset `off`, word by word (STX: older
    /// kernels refuse immediate stores into the context).
    fn store6(&mut self, off: i16, words: [u32; 4]) {
        for (i, w) in words.into_iter().enumerate() {
            self.a.mov32_imm(R7, w).stx(Size::W, R6, off + 4 * i as i16, R7);
        }
    }
}

/// The instructions of `hook`'s program for `root`. `set_retval`: refusals may pick
/// their errno (see `bpf::supports_set_retval`).
pub fn program(hook: Hook, root: &IpRoot, set_retval: bool) -> core::result::Result<Vec<Insn>, AsmError> {
    let mut g = Gen::new(root, set_retval);
    match hook {
        Hook::SockCreate => gen_sock_create(&mut g),
        Hook::Bind4 => gen_bind4(&mut g),
        Hook::Connect4 => gen_connect4(&mut g),
        Hook::Sendmsg4 => gen_sendmsg4(&mut g),
        Hook::Bind6 => gen_bind6(&mut g),
        Hook::Connect6 => gen_connect6(&mut g),
        Hook::Sendmsg6 => gen_sendmsg6(&mut g),
    }
    g.finish()
}

fn gen_sock_create(g: &mut Gen<'_>) {
    // Plain EPERM: the errno a process without CAP_NET_RAW gets. ICMP "ping"
    // sockets (SOCK_DGRAM with IPPROTO_ICMP or ICMPV6) have their own bind and
    // send paths that no sock_addr hook sees, so they go with raw sockets.
    let (allow, deny, dgram) = (g.allow, g.a.new_label(), g.a.new_label());
    g.a.ldx(Size::W, R2, R6, sock::TYPE)
        .jmp32_imm(Jmp::Eq, R2, SOCK_RAW, deny)
        .jmp32_imm(Jmp::Eq, R2, SOCK_DGRAM, dgram)
        .ja(allow)
        .place(dgram)
        .ldx(Size::W, R3, R6, sock::PROTOCOL)
        .jmp32_imm(Jmp::Eq, R3, IPPROTO_ICMP, deny)
        .jmp32_imm(Jmp::Ne, R3, IPPROTO_ICMPV6, allow)
        .place(deny)
        .mov64_imm(R0, 0)
        .exit();
}

fn gen_bind4(g: &mut Gen<'_>) {
    let (allow, rewrite) = (g.allow, g.a.new_label());
    g.a.ldx(Size::W, R7, R6, sock_addr::USER_IP4);
    let Some(first) = g.root.first() else {
        g.deny(Errno::ADDRNOTAVAIL);
        return;
    };
    g.a.jmp32_imm(Jmp::Eq, R7, 0, rewrite);
    for e in &g.root.v4 {
        g.a.jmp32_imm(Jmp::Eq, R7, imm4(e.addr), allow);
    }
    if !g.root.bcast.is_unspecified() {
        g.a.jmp32_imm(Jmp::Eq, R7, imm4(g.root.bcast), allow);
    }
    if g.root.remaps_loopback() {
        g.a.jmp32_imm(Jmp::Eq, R7, imm4(Ipv4Addr::LOCALHOST), rewrite);
    }
    g.deny(Errno::ADDRNOTAVAIL);
    g.a.place(rewrite).mov32_imm(R2, imm4(first)).stx(Size::W, R6, sock_addr::USER_IP4, R2).ja(allow);
}

fn gen_connect4(g: &mut Gen<'_>) {
    let Some(first) = g.root.first() else {
        g.deny(Errno::NETUNREACH);
        return;
    };
    g.a.ldx(Size::W, R7, R6, sock_addr::USER_IP4);
    g.remap_loopback_dst(R7, sock_addr::USER_IP4);
    g.allow_if_bound(false);
    g.pick_source(first);
    // struct sockaddr_in at fp-16: family AF_INET, port 0, the address, zero padding.
    g.a.st(Size::DW, R10, -16, AF_INET).stx(Size::W, R10, -12, R8).st(Size::DW, R10, -8, 0);
    g.call_bind(-16, 16);
}

fn gen_sendmsg4(g: &mut Gen<'_>) {
    let Some(first) = g.root.first() else {
        g.deny(Errno::NETUNREACH);
        return;
    };
    let (allow, pick, deny) = (g.allow, g.a.new_label(), g.a.new_label());
    g.a.ldx(Size::W, R7, R6, sock_addr::USER_IP4);
    g.remap_loopback_dst(R7, sock_addr::USER_IP4);
    // The source: the bound address, an IP_PKTINFO choice, or 0 for "kernel picks".
    g.a.ldx(Size::W, R2, R6, sock_addr::MSG_SRC_IP4).jmp32_imm(Jmp::Eq, R2, 0, pick);
    g.jump_unless_listed(R2, deny);
    g.a.ja(allow);
    g.a.place(deny);
    g.deny(Errno::ADDRNOTAVAIL);
    g.a.place(pick);
    g.pick_source(first);
    g.a.stx(Size::W, R6, sock_addr::MSG_SRC_IP4, R8);
}

fn gen_bind6(g: &mut Gen<'_>) {
    let (allow, deny, not_any, real_v6) = (g.allow, g.a.new_label(), g.a.new_label(), g.a.new_label());
    let mapped_first = g.root.first().map(|f| [0, 0, V4MAPPED_W2, imm4(f)]);
    let any_target = g.root.v6.first().map(|a| words6(*a)).or(mapped_first);
    for (w, r) in [R2, R3, R4, R5].into_iter().enumerate() {
        g.a.ldx(Size::W, r, R6, sock_addr::USER_IP6 + 4 * w as i16);
    }
    // `::`
    for r in [R2, R3, R4, R5] {
        g.a.jmp32_imm(Jmp::Ne, r, 0, not_any);
    }
    match any_target {
        Some(t) => {
            g.store6(sock_addr::USER_IP6, t);
            g.a.ja(allow);
        }
        None => {
            g.a.ja(deny);
        }
    }
    // v4-mapped
    g.a.place(not_any).jmp32_imm(Jmp::Ne, R2, 0, real_v6).jmp32_imm(Jmp::Ne, R3, 0, real_v6).jmp32_imm(
        Jmp::Ne,
        R4,
        V4MAPPED_W2,
        real_v6,
    );
    if let Some(first) = g.root.first() {
        let rewrite = g.a.new_label();
        for e in &g.root.v4 {
            g.a.jmp32_imm(Jmp::Eq, R5, imm4(e.addr), allow);
        }
        g.a.jmp32_imm(Jmp::Eq, R5, 0, rewrite);
        if g.root.remaps_loopback() {
            g.a.jmp32_imm(Jmp::Eq, R5, imm4(Ipv4Addr::LOCALHOST), rewrite);
        }
        g.a.ja(deny);
        g.a.place(rewrite).mov32_imm(R7, imm4(first)).stx(Size::W, R6, sock_addr::USER_IP6 + 12, R7).ja(allow);
    } else {
        g.a.ja(deny);
    }
    g.a.place(real_v6);
    g.jump_if_listed6(allow);
    g.a.place(deny);
    g.deny(Errno::ADDRNOTAVAIL);
}

fn gen_connect6(g: &mut Gen<'_>) {
    let (allow, real_v6, bind) = (g.allow, g.a.new_label(), g.a.new_label());
    g.branch_unless_v4mapped(real_v6);
    match g.root.first() {
        Some(first) => {
            g.a.ldx(Size::W, R7, R6, sock_addr::USER_IP6 + 12);
            g.remap_loopback_dst(R7, sock_addr::USER_IP6 + 12);
            g.allow_if_bound(true);
            g.pick_source(first);
            // struct sockaddr_in6 at fp-32: family, port 0, flowinfo 0 | ::ffff:R8 | scope 0.
            g.a.st(Size::DW, R10, -32, AF_INET6)
                .st(Size::DW, R10, -24, 0)
                .st(Size::W, R10, -16, V4MAPPED_W2 as i32)
                .stx(Size::W, R10, -12, R8)
                .st(Size::DW, R10, -8, 0)
                .ja(bind);
        }
        None => g.deny(Errno::NETUNREACH),
    }
    g.a.place(real_v6);
    match g.root.v6.first() {
        Some(&src) => {
            g.allow_if_bound(true);
            g.a.st(Size::DW, R10, -32, AF_INET6);
            for (i, w) in words6(src).into_iter().enumerate() {
                g.a.st(Size::W, R10, -24 + 4 * i as i16, w as i32);
            }
            g.a.st(Size::DW, R10, -8, 0);
        }
        None => g.deny(Errno::NETUNREACH),
    }
    g.a.place(bind);
    g.call_bind(-32, 28);
    g.a.ja(allow);
}

fn gen_sendmsg6(g: &mut Gen<'_>) {
    let (allow, real_v6) = (g.allow, g.a.new_label());
    g.branch_unless_v4mapped(real_v6);
    // The kernel hands v4-mapped sends to the IPv4 path, where sendmsg4 rules.
    g.a.ja(allow);
    g.a.place(real_v6);
    let Some(&src) = g.root.v6.first() else {
        g.deny(Errno::NETUNREACH);
        return;
    };
    let (set, check) = (g.a.new_label(), g.a.new_label());
    for (w, r) in [R2, R3, R4, R5].into_iter().enumerate() {
        g.a.ldx(Size::W, r, R6, sock_addr::MSG_SRC_IP6 + 4 * w as i16);
    }
    for r in [R2, R3, R4, R5] {
        g.a.jmp32_imm(Jmp::Ne, r, 0, check);
    }
    g.a.ja(set);
    g.a.place(check);
    g.jump_if_listed6(allow);
    g.deny(Errno::ADDRNOTAVAIL);
    g.a.place(set);
    g.store6(sock_addr::MSG_SRC_IP6, words6(src));
    g.a.ja(allow);
}

// ---- attaching ---------------------------------------------------------------------

/// Load every program `root` needs and attach them to the cgroup2 directory `cgroup`
/// with BPF_F_ALLOW_MULTI. All or nothing: the programs are all loaded (verified)
/// before the first attach, and a failed attach detaches the ones before it.
/// Returns how many programs were attached (0 when `root` is unrestricted).
pub fn attach(cgroup: BorrowedFd<'_>, root: &IpRoot) -> core::result::Result<usize, BpfError> {
    let set_retval = bpf::supports_set_retval();
    let mut loaded: heapless::Vec<(Hook, OwnedFd), 7> = heapless::Vec::new();
    for hook in hooks_for(root) {
        let insns = program(hook, root, set_retval)
            .map_err(|_| Error::new("assemble the ipv4root programs (a vsbox bug)", Errno::INVAL))?;
        let p = Program { prog_type: hook.prog_type(), attach_type: hook.attach_type(), name: hook.prog_name(), insns: &insns };
        let fd = bpf::prog_load(&p, hook.load_what())?;
        let _ = loaded.push((hook, fd));
    }
    for (n, (hook, fd)) in loaded.iter().enumerate() {
        if let Err(e) = bpf::prog_attach(cgroup, fd.as_fd(), hook.attach_type(), bpf::BPF_F_ALLOW_MULTI) {
            for (h, f) in &loaded[..n] {
                let _ = bpf::prog_detach(cgroup, f.as_fd(), h.attach_type());
            }
            return Err(Error::new(hook.attach_what(), e.errno).into());
        }
    }
    Ok(loaded.len())
}

/// Call `f` with every program of ours attached directly to `cgroup`.
fn for_each_ours(cgroup: BorrowedFd<'_>, mut f: impl FnMut(Hook, OwnedFd) -> Result<()>) -> Result<()> {
    for hook in HOOKS {
        for &id in &bpf::prog_query(cgroup, hook.attach_type())?.ids {
            let fd = match bpf::prog_fd_by_id(id) {
                Ok(fd) => fd,
                // Detached and freed since the query.
                Err(e) if e.errno == Errno::NOENT => continue,
                Err(e) => return Err(e),
            };
            if bpf::prog_info(fd.as_fd())?.name.starts_with(PROG_PREFIX) {
                f(hook, fd)?;
            }
        }
    }
    Ok(())
}

/// How many of our programs are attached directly to `cgroup`.
pub fn attached(cgroup: BorrowedFd<'_>) -> Result<usize> {
    let mut n = 0;
    for_each_ours(cgroup, |_, _| {
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// Detach every program of ours from `cgroup` (others' programs stay). Returns how
/// many were detached.
pub fn detach_all(cgroup: BorrowedFd<'_>) -> Result<usize> {
    let mut n = 0;
    // A query returns at most bpf::QUERY_MAX ids per hook: go again until clean.
    loop {
        let before = n;
        for_each_ours(cgroup, |hook, fd| {
            match bpf::prog_detach(cgroup, fd.as_fd(), hook.attach_type()) {
                Ok(()) => n += 1,
                Err(e) if e.errno == Errno::NOENT => {}
                Err(e) => return Err(e),
            }
            Ok(())
        })?;
        if n == before {
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::bpf::tests::TestCgroup;
    use std::format;
    use std::string::{String, ToString};

    fn root(addrs: &[&str]) -> IpRoot {
        let mut r = IpRoot::new();
        for a in addrs {
            r.add(a).unwrap();
        }
        r
    }

    #[test]
    fn entries_parse_like_chbind() {
        let e = parse_entry("1.2.3.4").unwrap();
        assert_eq!((e.addr, e.mask), (Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(parse_entry("1.2.3.4/8").unwrap().mask, Ipv4Addr::new(255, 0, 0, 0));
        assert_eq!(parse_entry("1.2.3.4/255.255.0.0").unwrap().mask, Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(parse_entry("1.2.3.4/32").unwrap().mask, Ipv4Addr::BROADCAST);
        assert_eq!(parse_entry("1.2.3.4/0").unwrap().mask, Ipv4Addr::UNSPECIFIED);
        assert_eq!(parse_entry("localhost").unwrap().addr, Ipv4Addr::LOCALHOST);
        assert_eq!(parse_ipv4("10.0.0.200").unwrap(), Ipv4Addr::new(10, 0, 0, 200));
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let k = |s| parse_entry(s).unwrap_err().kind;
        assert_eq!(k("1.2.3"), IpErrorKind::Address);
        assert_eq!(k("1.2.3.256"), IpErrorKind::Address);
        assert_eq!(k("www.example.org"), IpErrorKind::Address);
        assert_eq!(k("1.2.3.4/33"), IpErrorKind::Netmask);
        assert_eq!(k("1.2.3.4/"), IpErrorKind::Netmask);
        assert_eq!(k("1.2.3.4/x"), IpErrorKind::Netmask);
        assert_eq!(k("1.2.3.4/255.0.255.0"), IpErrorKind::MaskHoles);
        assert_eq!(parse_entry("1.2.3").unwrap_err().to_string(), "invalid IPv4 address '1.2.3' (expected a.b.c.d)");
        assert_eq!(
            parse_entry("1.2.3.4/255.0.255.0").unwrap_err().to_string(),
            "invalid netmask '255.0.255.0' (its one bits must be contiguous)"
        );
        assert_eq!(parse_ipv6("fd00::1/64").unwrap(), "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(parse_ipv6("fd00::1/129").unwrap_err().kind, IpErrorKind::Netmask);
        assert_eq!(parse_ipv6("fd00:::1").unwrap_err().kind, IpErrorKind::Address6);
        let mut r = IpRoot::new();
        for i in 0..16 {
            r.add(&format!("10.0.0.{i}")).unwrap();
        }
        let e = r.add("10.0.0.99").unwrap_err();
        assert_eq!(e.kind, IpErrorKind::TooMany);
        assert_eq!(e.to_string(), "too many IP addresses, max 16 ('10.0.0.99' is one more)");
    }

    #[test]
    fn unrestricted_and_display() {
        assert!(IpRoot::new().is_unrestricted());
        assert!(root(&["0.0.0.0"]).is_unrestricted());
        assert!(!root(&["1.2.3.4"]).is_unrestricted());
        assert!(!root(&["fd00::1"]).is_unrestricted());
        assert_eq!(hooks_for(&root(&["0.0.0.0"])).count(), 0);
        assert_eq!(root(&["1.2.3.4", "5.6.7.8", "fd00::1"]).to_string(), "1.2.3.4 5.6.7.8");
        assert_eq!(IpRoot::new().to_string(), "");
        let mut r = root(&["1.2.3.4"]);
        assert_eq!(hooks_for(&r).count(), 7);
        r.keep_raw = true;
        assert!(hooks_for(&r).all(|h| h != Hook::SockCreate));
        for h in HOOKS {
            assert!(h.prog_name().starts_with(PROG_PREFIX) && h.prog_name().len() <= 15);
        }
    }

    #[test]
    fn addresses_compare_as_the_kernel_loads_them() {
        assert_eq!(imm4(Ipv4Addr::new(127, 0, 0, 2)), 0x0200_007f);
        assert_eq!(imm4(Ipv4Addr::new(127, 0, 0, 200)), 0xc800_007f);
        assert_eq!(V4MAPPED_W2, 0xffff_0000);
        assert_eq!(words6("::ffff:127.0.0.2".parse().unwrap()), [0, 0, 0xffff_0000, 0x0200_007f]);
    }

    #[test]
    fn bind4_program_shape() {
        // 127.0.0.200: bit 31 set in the loaded u32, so the compares must be JMP32.
        let p = program(Hook::Bind4, &root(&["127.0.0.2", "127.0.0.200"]), true).unwrap();
        let cmp: std::vec::Vec<_> = p.iter().filter(|i| i.code == 0x16).map(|i| i.imm as u32).collect();
        // 0.0.0.0, the two addresses, the broadcast, 127.0.0.1 (lback).
        assert_eq!(cmp, [0, 0x0200_007f, 0xc800_007f, 0xffff_ffff, 0x0100_007f]);
        assert!(p.iter().all(|i| i.code != 0x15), "no 64-bit compares of addresses");
        // With 127.0.0.1 listed there is no remap.
        let p = program(Hook::Bind4, &root(&["127.0.0.1"]), true).unwrap();
        assert_eq!(p.iter().filter(|i| i.code == 0x16 && i.imm == 0x0100_007f).count(), 1);
        // Without set_retval refusals are a plain "return 0".
        let p = program(Hook::Bind4, &root(&["1.2.3.4"]), false).unwrap();
        assert!(p.iter().all(|i| !(i.code == 0x85 && i.imm == bpf::HELPER_SET_RETVAL)));
    }

    fn shapes() -> std::vec::Vec<(&'static str, IpRoot)> {
        let sixteen: std::vec::Vec<String> = (0..16).map(|i| format!("10.{i}.0.{}/16", 100 + i * 9)).collect();
        let sixteen: std::vec::Vec<&str> = sixteen.iter().map(String::as_str).collect();
        let v6: std::vec::Vec<String> = (1..=16).map(|i| format!("fd00::{i:x}")).collect();
        let mut v6s: std::vec::Vec<&str> = v6.iter().map(String::as_str).collect();
        v6s.push("10.1.2.3");
        let mut raw = root(&["192.168.1.10"]);
        raw.keep_raw = true;
        std::vec![
            ("one", root(&["192.168.1.10"])),
            ("sixteen", root(&sixteen)),
            ("high octet", root(&["10.0.0.200/24", "10.0.1.255"])),
            ("loopback listed", root(&["127.0.0.2/8", "127.0.0.1"])),
            ("ipv6", root(&["10.0.0.5", "fd00::5", "2001:db8::1"])),
            ("sixteen ipv6", root(&v6s)),
            ("ipv6 only", root(&["fd00::5"])),
            ("keep_raw", raw),
        ]
    }

    #[test]
    fn every_program_passes_the_verifier() {
        let mut n = 0;
        for (what, r) in shapes() {
            for set_retval in [true, false] {
                for hook in HOOKS {
                    let insns = program(hook, &r, set_retval).unwrap();
                    let p = Program { prog_type: hook.prog_type(), attach_type: hook.attach_type(), name: hook.prog_name(), insns: &insns };
                    if let Err(e) = bpf::prog_load(&p, hook.load_what()) {
                        panic!("{what} (set_retval {set_retval}): {e}");
                    }
                    n += 1;
                }
            }
        }
        assert_eq!(n, 8 * 2 * 7);
    }

    #[test]
    fn attach_count_and_detach_all() {
        let cg = TestCgroup::new("ipv4root");
        let r = root(&["127.0.0.2", "127.0.0.5"]);
        assert_eq!(attach(cg.fd(), &r).unwrap(), 7);
        assert_eq!(attached(cg.fd()).unwrap(), 7);
        // Nested narrowing stacks on the same directory too (MULTI).
        let mut raw = root(&["127.0.0.2"]);
        raw.keep_raw = true;
        assert_eq!(attach(cg.fd(), &raw).unwrap(), 6);
        assert_eq!(attached(cg.fd()).unwrap(), 13);
        // A foreign program on the same hook survives detach_all.
        let mut a = Asm::new();
        a.mov64_imm(R0, 1).exit();
        let insns = a.finish().unwrap();
        let foreign = bpf::prog_load(&bpf::tests::bind4(&insns), "load a foreign program").unwrap();
        bpf::prog_attach(cg.fd(), foreign.as_fd(), bpf::BPF_CGROUP_INET4_BIND, bpf::BPF_F_ALLOW_MULTI).unwrap();
        assert_eq!(detach_all(cg.fd()).unwrap(), 13);
        assert_eq!(attached(cg.fd()).unwrap(), 0);
        assert_eq!(bpf::prog_query(cg.fd(), bpf::BPF_CGROUP_INET4_BIND).unwrap().ids.len(), 1);
        assert_eq!(attach(cg.fd(), &root(&["0.0.0.0"])).unwrap(), 0);
    }

    #[test]
    fn a_failed_attach_leaves_nothing() {
        let cg = TestCgroup::new("ipv4half");
        // A program attached with flags 0 (exclusive) on one hook makes our MULTI attach
        // of that hook fail half-way through the list.
        let mut a = Asm::new();
        a.mov64_imm(R0, 1).exit();
        let insns = a.finish().unwrap();
        let p = Program { attach_type: bpf::BPF_CGROUP_UDP4_SENDMSG, ..bpf::tests::bind4(&insns) };
        let excl = bpf::prog_load(&p, "load an exclusive program").unwrap();
        bpf::prog_attach(cg.fd(), excl.as_fd(), bpf::BPF_CGROUP_UDP4_SENDMSG, 0).unwrap();
        let e = attach(cg.fd(), &root(&["127.0.0.2"])).unwrap_err();
        assert!(e.to_string().starts_with("attach the sendmsg4 program to the cgroup: "), "{e}");
        assert_eq!(attached(cg.fd()).unwrap(), 0);
    }

    /// Runs in a child process that the parent test put into a netns and the cgroup;
    /// does nothing unless that parent set VSBOX_IPV4ROOT_PROBE. The parent reads the
    /// lines this prints.
    #[test]
    #[ignore]
    fn probe_inside_cgroup() {
        let Ok(mode) = std::env::var("VSBOX_IPV4ROOT_PROBE") else { return };
        probe::run(&mode);
    }

    mod probe {
        //! Socket operations inside a restricted cgroup, printing `NAME RESULT` lines.
        use std::io::{Read, Write};
        use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
        use std::println;
        use std::string::{String, ToString};

        fn show<T>(r: std::io::Result<T>, f: impl FnOnce(T) -> String) -> String {
            match r {
                Ok(v) => f(v),
                Err(e) => format_err(e),
            }
        }
        fn format_err(e: std::io::Error) -> String {
            std::format!("errno{}", e.raw_os_error().unwrap_or(0))
        }
        fn sa(s: &str) -> SocketAddr {
            s.parse().unwrap()
        }
        fn local_of_bind(addr: &str) -> String {
            show(TcpListener::bind(sa(addr)), |l| l.local_addr().unwrap().ip().to_string())
        }
        /// Connect an unbound TCP socket to `dst` (a listener at `srv`); the address the
        /// server saw.
        fn peer_of_connect(srv: &TcpListener, dst: &str) -> String {
            let port = srv.local_addr().unwrap().port();
            let target = sa(&dst.replace("PORT", &port.to_string()));
            show(TcpStream::connect(target), |mut c| {
                let _ = c.write_all(b"x");
                let (mut s, peer) = srv.accept().unwrap();
                let mut b = [0u8; 1];
                let _ = s.read(&mut b);
                peer.ip().to_string()
            })
        }
        /// An unbound UDP socket (std's always binds): rustix.
        fn unbound_udp(v6: bool) -> rustix::fd::OwnedFd {
            use rustix::net::{AddressFamily, SocketType, socket};
            socket(if v6 { AddressFamily::INET6 } else { AddressFamily::INET }, SocketType::DGRAM, None).unwrap()
        }
        fn send(fd: &rustix::fd::OwnedFd, to: SocketAddr) -> std::io::Result<usize> {
            rustix::net::sendto(fd, b"y", rustix::net::SendFlags::empty(), &to).map_err(std::io::Error::from)
        }
        /// Send from an unbound socket to `dst` (a server at `srv`); the source the
        /// server saw.
        fn peer_of_sendto(srv: &UdpSocket, dst: &str) -> String {
            let port = srv.local_addr().unwrap().port();
            let target = sa(&dst.replace("PORT", &port.to_string()));
            let c = unbound_udp(target.is_ipv6());
            show(send(&c, target), |_| {
                let mut b = [0u8; 8];
                let (_, peer) = srv.recv_from(&mut b).unwrap();
                peer.ip().to_string()
            })
        }

        pub fn run(mode: &str) {
            let out = |k: &str, v: String| println!("PROBE {k} {v}");
            out("bind_any", local_of_bind("0.0.0.0:0"));
            out("bind_listed", local_of_bind("127.0.0.5:0"));
            out("bind_foreign", local_of_bind("127.0.0.3:0"));
            out("bind_loopback", local_of_bind("127.0.0.1:0"));
            out("bind6_any", local_of_bind("[::]:0"));
            out("bind6_mapped_listed", local_of_bind("[::ffff:127.0.0.5]:0"));
            out("bind6_loopback", local_of_bind("[::1]:0"));
            let srv5 = TcpListener::bind("127.0.0.5:0").unwrap();
            let srv9 = TcpListener::bind("10.9.9.9:0").unwrap();
            out("connect_to_5", peer_of_connect(&srv5, "127.0.0.5:PORT"));
            out("connect_to_9", peer_of_connect(&srv9, "10.9.9.9:PORT"));
            out("connect6_mapped_to_5", peer_of_connect(&srv5, "[::ffff:127.0.0.5]:PORT"));
            // A guest listener on "127.0.0.1" lands on the first address; clients that
            // dial 127.0.0.1 follow it there.
            let lo = TcpListener::bind("127.0.0.1:0").unwrap();
            out("lback_listener", lo.local_addr().unwrap().ip().to_string());
            out("lback_connect", peer_of_connect(&lo, "127.0.0.1:PORT"));
            out("connect6_loopback", show(TcpStream::connect(sa("[::1]:9")), |_| "ok".to_string()));
            let u5 = UdpSocket::bind("127.0.0.5:0").unwrap();
            out("sendto_unbound_5", peer_of_sendto(&u5, "127.0.0.5:PORT"));
            out("sendto6_mapped_5", peer_of_sendto(&u5, "[::ffff:127.0.0.5]:PORT"));
            let u6 = UdpSocket::bind("[::]:0").unwrap();
            out("udp6_bound", u6.local_addr().unwrap().ip().to_string());
            out("sendto6_loopback", show(send(&unbound_udp(true), sa("[::1]:9")), |_| "ok".to_string()));
            let raw = rustix::net::socket(rustix::net::AddressFamily::INET, rustix::net::SocketType::RAW, Some(rustix::net::ipproto::ICMP));
            out("raw", raw.map(|_| "ok".to_string()).unwrap_or_else(|e| std::format!("errno{}", e.raw_os_error())));
            // ICMP "ping" sockets (the netns lets every gid make them): they pick
            // their source past every sock_addr hook, so they go with raw sockets.
            use rustix::net::{AddressFamily, SocketType, ipproto};
            let ping = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, Some(ipproto::ICMP));
            out("ping", ping.map(|_| "ok".to_string()).unwrap_or_else(|e| std::format!("errno{}", e.raw_os_error())));
            let ping6 = rustix::net::socket(AddressFamily::INET6, SocketType::DGRAM, Some(ipproto::ICMPV6));
            out("ping6", ping6.map(|_| "ok".to_string()).unwrap_or_else(|e| std::format!("errno{}", e.raw_os_error())));
            if mode == "v6" {
                let s6 = TcpListener::bind("[fd00::9]:0").unwrap();
                out("connect6_real", peer_of_connect(&s6, "[fd00::9]:PORT"));
            }
        }
    }

    /// Run the probe in a child: new netns (with lo up, 10.9.9.9/24 and fd00::9 on
    /// it), joined to `cg` before exec, so nothing in this process changes cgroup.
    fn run_probe(cg: &TestCgroup, mode: &str) -> std::collections::HashMap<String, String> {
        let exe = std::env::current_exe().unwrap();
        let script = "ip link set lo up && ip addr add 10.9.9.9/24 dev lo && \
                      ip -6 addr add fd00::9/64 dev lo nodad && echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range && \
                      echo $$ > \"$CG\" && exec \"$0\" \"$@\"";
        let out = std::process::Command::new("unshare")
            .args(["-n", "sh", "-c", script])
            .arg(&exe)
            .args(["--exact", "engine::network::ipv4root::tests::probe_inside_cgroup", "--ignored", "--nocapture", "--test-threads=1"])
            .env("CG", cg.procs())
            .env("VSBOX_IPV4ROOT_PROBE", mode)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "probe failed: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        text.lines()
            // The harness prints "test … " without a newline before the first line.
            .filter_map(|l| l.split_once("PROBE ").map(|(_, rest)| rest))
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sockets_in_the_cgroup_obey_the_rules() {
        let cg = TestCgroup::new("ipv4probe");
        // First address 10.9.9.9/24; 127.0.0.5 in 127/8 is picked for loopback peers.
        let r = root(&["10.9.9.9/24", "127.0.0.5/8"]);
        attach(cg.fd(), &r).unwrap();
        let got = run_probe(&cg, "v4");
        let want = [
            ("bind_any", "10.9.9.9"),
            ("bind_listed", "127.0.0.5"),
            ("bind_foreign", "errno99"),
            ("bind_loopback", "10.9.9.9"),
            ("bind6_any", "::ffff:10.9.9.9"),
            ("bind6_mapped_listed", "::ffff:127.0.0.5"),
            ("bind6_loopback", "errno99"),
            ("connect_to_5", "127.0.0.5"),
            ("connect_to_9", "10.9.9.9"),
            ("connect6_mapped_to_5", "127.0.0.5"),
            ("lback_listener", "10.9.9.9"),
            ("lback_connect", "10.9.9.9"),
            ("connect6_loopback", "errno101"),
            ("sendto_unbound_5", "127.0.0.5"),
            ("sendto6_mapped_5", "127.0.0.5"),
            ("udp6_bound", "::ffff:10.9.9.9"),
            ("sendto6_loopback", "errno101"),
            ("raw", "errno1"),
            ("ping", "errno1"),
            ("ping6", "errno1"),
        ];
        for (k, v) in want {
            assert_eq!(got.get(k).map(String::as_str), Some(v), "{k} in {got:?}");
        }
    }

    #[test]
    fn sockets_with_ipv6_addresses() {
        let cg = TestCgroup::new("ipv6probe");
        let mut r = root(&["10.9.9.9/24", "127.0.0.5/8", "fd00::9"]);
        r.keep_raw = true;
        attach(cg.fd(), &r).unwrap();
        let got = run_probe(&cg, "v6");
        let want = [
            ("bind_any", "10.9.9.9"),
            ("bind6_any", "fd00::9"),
            ("bind6_loopback", "errno99"),
            ("udp6_bound", "fd00::9"),
            ("connect6_real", "fd00::9"),
            ("connect6_mapped_to_5", "127.0.0.5"),
            ("raw", "ok"),
            ("ping", "ok"),
            ("ping6", "ok"),
        ];
        for (k, v) in want {
            assert_eq!(got.get(k).map(String::as_str), Some(v), "{k} in {got:?}");
        }
    }
}

impl IpRoot {
    /// The form the registry keeps: `a.b.c.d/m.m.m.m` per IPv4 entry, the IPv6
    /// addresses, `bcast=…` and `raw` when raw sockets are allowed.
    pub fn render(&self) -> alloc::string::String {
        use core::fmt::Write as _;
        let mut s = alloc::string::String::new();
        for e in &self.v4 {
            let _ = write!(s, "{}/{} ", e.addr, e.mask);
        }
        for a in &self.v6 {
            let _ = write!(s, "{a} ");
        }
        if self.bcast != Ipv4Addr::BROADCAST {
            let _ = write!(s, "bcast={} ", self.bcast);
        }
        if self.keep_raw {
            s.push_str("raw ");
        }
        s.truncate(s.trim_end().len());
        s
    }

    /// The inverse of `render`.
    pub fn parse_rendered(text: &str) -> IpRoot {
        let mut r = IpRoot::new();
        for w in text.split_whitespace() {
            if w == "raw" {
                r.keep_raw = true;
            } else if let Some(b) = w.strip_prefix("bcast=") {
                if let Ok(b) = parse_ipv4(b) {
                    r.bcast = b;
                }
            } else {
                let _ = r.add(w);
            }
        }
        r
    }

    /// Whether every address of `self` is also one of `outer`'s: a nested ipv4root
    /// may only narrow its context's.
    pub fn within(&self, outer: &IpRoot) -> core::result::Result<(), alloc::string::String> {
        if outer.is_unrestricted() {
            return Ok(());
        }
        for e in &self.v4 {
            if e.addr.is_unspecified() {
                return Err(alloc::format!("0.0.0.0 (untied) is wider than the current ipv4root {outer}"));
            }
            if !outer.v4.iter().any(|o| o.addr == e.addr) {
                return Err(alloc::format!("{} is outside the current ipv4root {outer}", e.addr));
            }
        }
        for a in &self.v6 {
            if !outer.v6.contains(a) {
                return Err(alloc::format!("{a} is outside the current ipv4root"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;

    #[test]
    fn render_round_trips_and_narrowing() {
        let mut r = IpRoot::new();
        r.add("10.0.0.1").unwrap();
        r.add("10.0.0.2/8").unwrap();
        r.add("fd00::1").unwrap();
        r.keep_raw = true;
        let t = r.render();
        assert_eq!(t, "10.0.0.1/255.255.255.0 10.0.0.2/255.0.0.0 fd00::1 raw");
        assert_eq!(IpRoot::parse_rendered(&t), r);
        let mut n = IpRoot::new();
        n.add("10.0.0.2").unwrap();
        assert!(n.within(&r).is_ok());
        n.add("10.0.0.3").unwrap();
        assert!(n.within(&r).unwrap_err().contains("10.0.0.3 is outside"));
        assert!(n.within(&IpRoot::new()).is_ok(), "an untied context allows anything");
    }
}
