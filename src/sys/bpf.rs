//! eBPF without libbpf: a small assembler for `struct bpf_insn`, and the raw `bpf(2)`
//! commands vsbox needs to put programs on a cgroup2 directory (PROG_LOAD,
//! PROG_ATTACH, PROG_QUERY, PROG_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD, PROG_DETACH).
//! linux-raw-sys carries no bpf uapi, so the constants and the `bpf_attr` pieces are
//! written out here from `include/uapi/linux/bpf.h`.
//!
//! Traps the assembler exists to avoid (kernel-feasibility.md §1): compare IPv4
//! addresses with JMP32 (`jmp32_imm`), because a 64-bit compare sign-extends the
//! immediate and misses every address whose last octet is ≥ 128; and write context
//! fields with STX, because older kernels refuse BPF_ST into the context.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

use linux_raw_sys::general::__NR_bpf;
use rustix::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::io::Errno;

use super::error::{Context, Error, ErrnoText, Result};
use super::raw;

// ---- uapi constants -------------------------------------------------------------

pub const BPF_PROG_LOAD: u32 = 5;
pub const BPF_PROG_ATTACH: u32 = 8;
pub const BPF_PROG_DETACH: u32 = 9;
pub const BPF_PROG_GET_FD_BY_ID: u32 = 13;
pub const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
pub const BPF_PROG_QUERY: u32 = 16;

pub const BPF_PROG_TYPE_CGROUP_SOCK: u32 = 9;
pub const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;

pub const BPF_CGROUP_INET_SOCK_CREATE: u32 = 2;
pub const BPF_CGROUP_INET4_BIND: u32 = 8;
pub const BPF_CGROUP_INET6_BIND: u32 = 9;
pub const BPF_CGROUP_INET4_CONNECT: u32 = 10;
pub const BPF_CGROUP_INET6_CONNECT: u32 = 11;
pub const BPF_CGROUP_UDP4_SENDMSG: u32 = 14;
pub const BPF_CGROUP_UDP6_SENDMSG: u32 = 15;

/// Programs of descendants run too, and every one must agree: nested contexts can
/// only narrow. (OVERRIDE would let a child replace its parent's rules.)
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// Helper ids (`enum bpf_func_id`).
pub const HELPER_BIND: i32 = 64;
pub const HELPER_GET_RETVAL: i32 = 186;
pub const HELPER_SET_RETVAL: i32 = 187;

/// `struct bpf_sock_addr` (the CGROUP_SOCK_ADDR context) field offsets. Addresses are
/// in network byte order; loaded as a native u32 they equal `u32::from_ne_bytes(octets)`.
pub mod sock_addr {
    pub const USER_FAMILY: i16 = 0;
    pub const USER_IP4: i16 = 4;
    pub const USER_IP6: i16 = 8;
    pub const USER_PORT: i16 = 24;
    pub const FAMILY: i16 = 28;
    pub const TYPE: i16 = 32;
    pub const PROTOCOL: i16 = 36;
    pub const MSG_SRC_IP4: i16 = 40;
    pub const MSG_SRC_IP6: i16 = 44;
    /// A pointer to a `struct bpf_sock` (load it as a DW).
    pub const SK: i16 = 64;
}

/// `struct bpf_sock` field offsets: the CGROUP_SOCK context, and what `sock_addr::SK`
/// points at.
pub mod sock {
    pub const BOUND_DEV_IF: i16 = 0;
    pub const FAMILY: i16 = 4;
    pub const TYPE: i16 = 8;
    pub const PROTOCOL: i16 = 12;
    pub const SRC_IP4: i16 = 24;
    pub const SRC_IP6: i16 = 28;
    pub const SRC_PORT: i16 = 44;
}

// ---- instructions ----------------------------------------------------------------

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// `dst_reg:4, src_reg:4` as C bitfields allocate them on this target.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const _: () = assert!(core::mem::size_of::<Insn>() == 8);

impl Insn {
    pub const fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        #[cfg(target_endian = "little")]
        let regs = dst.0 | src.0 << 4;
        #[cfg(target_endian = "big")]
        let regs = dst.0 << 4 | src.0;
        Insn { code, regs, off, imm }
    }
    pub const fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") { self.regs & 0xf } else { self.regs >> 4 }
    }
    pub const fn src(&self) -> u8 {
        if cfg!(target_endian = "little") { self.regs >> 4 } else { self.regs & 0xf }
    }
}

/// A register. R0 holds return values, R1–R5 carry helper arguments and are
/// clobbered by calls, R6–R9 survive calls, R10 is the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(pub u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);
pub const R2: Reg = Reg(2);
pub const R3: Reg = Reg(3);
pub const R4: Reg = Reg(4);
pub const R5: Reg = Reg(5);
pub const R6: Reg = Reg(6);
pub const R7: Reg = Reg(7);
pub const R8: Reg = Reg(8);
pub const R9: Reg = Reg(9);
pub const R10: Reg = Reg(10);

// Instruction classes.
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_JMP32: u8 = 0x06;
const CLASS_ALU64: u8 = 0x07;
// Operand source: immediate or register.
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;
const MODE_MEM: u8 = 0x60;
const OP_JA: u8 = 0x00;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;

/// Memory access width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    B = 0x10,
    H = 0x08,
    W = 0x00,
    DW = 0x18,
}

/// ALU operations (`BPF_ADD` …), for both the 32- and 64-bit classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alu {
    Add = 0x00,
    Sub = 0x10,
    Mul = 0x20,
    Div = 0x30,
    Or = 0x40,
    And = 0x50,
    Lsh = 0x60,
    Rsh = 0x70,
    Neg = 0x80,
    Mod = 0x90,
    Xor = 0xa0,
    Mov = 0xb0,
    Arsh = 0xc0,
}

/// Conditional jumps (`BPF_JEQ` …). `S*` compare signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jmp {
    Eq = 0x10,
    Gt = 0x20,
    Ge = 0x30,
    Set = 0x40,
    Ne = 0x50,
    Sgt = 0x60,
    Sge = 0x70,
    Lt = 0xa0,
    Le = 0xb0,
    Slt = 0xc0,
    Sle = 0xd0,
}

/// A jump target inside one `Asm`, from `Asm::new_label`; the variable that holds it
/// names it. Jumps may be emitted before the label is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(u16);

/// Why `Asm::finish` refused to produce a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsmError {
    /// A jump targets a label that was never placed.
    Unplaced(Label),
    /// A label was placed twice.
    PlacedTwice(Label),
    /// A label sits after the last instruction, so a jump to it leaves the program.
    PastEnd(Label),
    /// The distance does not fit the 16-bit jump offset.
    OutOfRange(Label),
    /// A label that this assembler did not hand out.
    Foreign(Label),
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (why, l) = match *self {
            AsmError::Unplaced(l) => ("a jump targets a label that was never placed", l),
            AsmError::PlacedTwice(l) => ("a label was placed twice", l),
            AsmError::PastEnd(l) => ("a jump targets the end of the program", l),
            AsmError::OutOfRange(l) => ("a jump is too far for its 16-bit offset", l),
            AsmError::Foreign(l) => ("a label comes from another assembler", l),
        };
        write!(f, "assemble a BPF program: {why} (label {})", l.0)
    }
}

/// An assembler for one program: emit instructions, place labels, then `finish`.
/// Emitters never fail; the first mistake is remembered and `finish` reports it.
#[derive(Default)]
pub struct Asm {
    insns: Vec<Insn>,
    /// Instruction index each label was placed at.
    labels: Vec<Option<usize>>,
    /// (index of a jump, its target).
    fixups: Vec<(usize, Label)>,
    error: Option<AsmError>,
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }

    /// Instructions emitted so far.
    pub fn len(&self) -> usize {
        self.insns.len()
    }
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label((self.labels.len() - 1) as u16)
    }

    /// Does any jump emitted so far target `l`? (The verifier refuses unreachable
    /// code, so optional tails are emitted only when something jumps to them.)
    pub fn is_referenced(&self, l: Label) -> bool {
        self.fixups.iter().any(|&(_, t)| t == l)
    }

    /// Make `l` point at the next instruction emitted.
    pub fn place(&mut self, l: Label) -> &mut Self {
        let here = self.insns.len();
        match self.labels.get_mut(l.0 as usize) {
            Some(slot @ None) => *slot = Some(here),
            Some(Some(_)) => self.fail(AsmError::PlacedTwice(l)),
            None => self.fail(AsmError::Foreign(l)),
        }
        self
    }

    pub fn emit(&mut self, i: Insn) -> &mut Self {
        self.insns.push(i);
        self
    }

    pub fn alu64_imm(&mut self, op: Alu, dst: Reg, imm: i32) -> &mut Self {
        self.emit(Insn::new(CLASS_ALU64 | op as u8 | SRC_K, dst, R0, 0, imm))
    }
    pub fn alu64_reg(&mut self, op: Alu, dst: Reg, src: Reg) -> &mut Self {
        self.emit(Insn::new(CLASS_ALU64 | op as u8 | SRC_X, dst, src, 0, 0))
    }
    /// 32-bit ALU: operates on the low half and zeroes the upper half of `dst`.
    pub fn alu32_imm(&mut self, op: Alu, dst: Reg, imm: u32) -> &mut Self {
        self.emit(Insn::new(CLASS_ALU | op as u8 | SRC_K, dst, R0, 0, imm as i32))
    }
    pub fn alu32_reg(&mut self, op: Alu, dst: Reg, src: Reg) -> &mut Self {
        self.emit(Insn::new(CLASS_ALU | op as u8 | SRC_X, dst, src, 0, 0))
    }
    pub fn mov64(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.alu64_reg(Alu::Mov, dst, src)
    }
    /// `dst = imm`, sign-extended to 64 bits.
    pub fn mov64_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.alu64_imm(Alu::Mov, dst, imm)
    }
    /// `dst = imm` as a zero-extended 32-bit value: the way to load an address.
    pub fn mov32_imm(&mut self, dst: Reg, imm: u32) -> &mut Self {
        self.alu32_imm(Alu::Mov, dst, imm)
    }
    pub fn mov32(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.alu32_reg(Alu::Mov, dst, src)
    }

    /// `dst = *(size *)(src + off)`
    pub fn ldx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.emit(Insn::new(CLASS_LDX | MODE_MEM | size as u8, dst, src, off, 0))
    }
    /// `*(size *)(dst + off) = src`
    pub fn stx(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.emit(Insn::new(CLASS_STX | MODE_MEM | size as u8, dst, src, off, 0))
    }
    /// `*(size *)(dst + off) = imm` (a DW store sign-extends `imm`).
    pub fn st(&mut self, size: Size, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.emit(Insn::new(CLASS_ST | MODE_MEM | size as u8, dst, R0, off, imm))
    }

    /// 64-bit compare with a sign-extended immediate. For addresses use `jmp32_imm`.
    pub fn jmp_imm(&mut self, op: Jmp, dst: Reg, imm: i32, to: Label) -> &mut Self {
        self.jump(Insn::new(CLASS_JMP | op as u8 | SRC_K, dst, R0, 0, imm), to)
    }
    pub fn jmp_reg(&mut self, op: Jmp, dst: Reg, src: Reg, to: Label) -> &mut Self {
        self.jump(Insn::new(CLASS_JMP | op as u8 | SRC_X, dst, src, 0, 0), to)
    }
    /// Compare the low 32 bits of `dst` with `imm`: exact for any IPv4 address.
    pub fn jmp32_imm(&mut self, op: Jmp, dst: Reg, imm: u32, to: Label) -> &mut Self {
        self.jump(Insn::new(CLASS_JMP32 | op as u8 | SRC_K, dst, R0, 0, imm as i32), to)
    }
    pub fn jmp32_reg(&mut self, op: Jmp, dst: Reg, src: Reg, to: Label) -> &mut Self {
        self.jump(Insn::new(CLASS_JMP32 | op as u8 | SRC_X, dst, src, 0, 0), to)
    }
    /// Unconditional jump.
    pub fn ja(&mut self, to: Label) -> &mut Self {
        self.jump(Insn::new(CLASS_JMP | OP_JA, R0, R0, 0, 0), to)
    }
    /// Call helper `id` with arguments in R1–R5; the result lands in R0.
    pub fn call(&mut self, helper: i32) -> &mut Self {
        self.emit(Insn::new(CLASS_JMP | OP_CALL, R0, R0, 0, helper))
    }
    pub fn exit(&mut self) -> &mut Self {
        self.emit(Insn::new(CLASS_JMP | OP_EXIT, R0, R0, 0, 0))
    }

    fn jump(&mut self, i: Insn, to: Label) -> &mut Self {
        self.fixups.push((self.insns.len(), to));
        self.emit(i)
    }

    fn fail(&mut self, e: AsmError) {
        self.error.get_or_insert(e);
    }

    /// Resolve every jump and hand out the program.
    pub fn finish(mut self) -> core::result::Result<Vec<Insn>, AsmError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        for &(at, l) in &self.fixups {
            let target = match self.labels.get(l.0 as usize) {
                Some(Some(t)) => *t,
                Some(None) => return Err(AsmError::Unplaced(l)),
                None => return Err(AsmError::Foreign(l)),
            };
            if target >= self.insns.len() {
                return Err(AsmError::PastEnd(l));
            }
            let off = target as i64 - at as i64 - 1;
            self.insns[at].off = i16::try_from(off).map_err(|_| AsmError::OutOfRange(l))?;
        }
        Ok(self.insns)
    }
}

// ---- bpf_attr pieces ---------------------------------------------------------------

/// Every attr we pass is this long, zero-padded. The kernel writes some results back
/// without looking at the size we gave (PROG_QUERY writes `revision` at offset 56), so
/// each buffer must cover the whole union as far as those commands reach.
const ATTR_SIZE: usize = 128;

#[repr(C, align(8))]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _tail: [u8; ATTR_SIZE - 72],
}

#[repr(C, align(8))]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _tail: [u8; ATTR_SIZE - 20],
}

#[repr(C, align(8))]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
    prog_attach_flags: u64,
    _tail: [u8; ATTR_SIZE - 40],
}

#[repr(C, align(8))]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
    _tail: [u8; ATTR_SIZE - 12],
}

#[repr(C, align(8))]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
    _tail: [u8; ATTR_SIZE - 16],
}

/// The head of `struct bpf_prog_info`, up to the name; the kernel fills only as much
/// as `info_len` says.
#[repr(C, align(8))]
#[derive(Default)]
struct ProgInfoHead {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; 16],
}

const _: () = {
    use core::mem::size_of;
    assert!(size_of::<ProgLoadAttr>() == ATTR_SIZE);
    assert!(size_of::<AttachAttr>() == ATTR_SIZE);
    assert!(size_of::<QueryAttr>() == ATTR_SIZE);
    assert!(size_of::<GetFdByIdAttr>() == ATTR_SIZE);
    assert!(size_of::<InfoAttr>() == ATTR_SIZE);
    assert!(size_of::<ProgInfoHead>() == 80);
};

/// # Safety
/// `attr` must be the attr layout for `cmd`, and every pointer in it must point at
/// memory valid for what the kernel reads or writes there, alive across the call.
unsafe fn sys_bpf<T>(cmd: u32, attr: &mut T) -> core::result::Result<usize, Errno> {
    // SAFETY: the caller vouches for the pointers inside `attr`; `attr` itself is a
    // live, writable buffer of size_of::<T>() bytes.
    let r = unsafe { raw::syscall3(__NR_bpf, cmd as usize, attr as *mut T as usize, core::mem::size_of::<T>()) };
    raw::check(r)
}

fn owned_fd(raw_fd: usize) -> OwnedFd {
    // SAFETY: the kernel just returned this as a new file descriptor; nothing else
    // owns it.
    unsafe { OwnedFd::from_raw_fd(raw_fd as i32) }
}

// ---- loading -----------------------------------------------------------------------

/// The license string given to the kernel. None of the helpers vsbox calls is
/// GPL-only, so the crate's own license loads (tested).
const LICENSE: &[u8] = b"MIT OR Apache-2.0\0";

/// How much of a refusing verifier's log is kept for the error message (bytes).
pub const LOG_TAIL: usize = 480;
/// The verifier log buffer for the second, logging attempt.
const LOG_BUF: usize = 64 * 1024;

/// What to load: the program, its type, and the attach type it will be attached as
/// (CGROUP_SOCK_ADDR programs must name it at load time, and it must match).
#[derive(Clone, Copy)]
pub struct Program<'a> {
    pub prog_type: u32,
    pub attach_type: u32,
    /// At most 15 bytes of `[A-Za-z0-9_.]`; shows in `bpftool prog` and lets
    /// `prog_info` recognise the program later.
    pub name: &'a str,
    pub insns: &'a [Insn],
}

/// A failed bpf step, with the verifier's explanation when it refused a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpfError {
    pub error: Error,
    /// The end of the verifier log, its lines joined by " | " (empty if none). Heap,
    /// not inline: a failure path, and it keeps `Result`s small.
    pub log: String,
}

impl BpfError {
    pub fn errno(&self) -> Errno {
        self.error.errno
    }
}

impl From<Error> for BpfError {
    fn from(error: Error) -> Self {
        BpfError { error, log: String::new() }
    }
}

/// `load the bind4 program: Permission denied: 3: (61) r2 = … | invalid bpf_context access off=4 size=4`
impl fmt::Display for BpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.what, ErrnoText(self.error.errno))?;
        if !self.log.is_empty() {
            write!(f, ": {}", self.log)?;
        }
        Ok(())
    }
}

/// Load a program (BPF_PROG_LOAD). A refusal comes back with the verifier's reason.
///
/// The first attempt runs without a log: with a log that overflows its buffer the
/// kernel reports ENOSPC instead of the real answer. Only a refused program is loaded
/// again, with a log, to learn why.
pub fn prog_load(p: &Program<'_>, what: &'static str) -> core::result::Result<OwnedFd, BpfError> {
    let first = load_once(p, None);
    let errno = match first {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut buf = vec![0u8; LOG_BUF];
    if let Ok(fd) = load_once(p, Some(&mut buf)) {
        return Ok(fd);
    }
    Err(BpfError { error: Error::new(what, errno), log: log_tail(&buf) })
}

fn load_once(p: &Program<'_>, log: Option<&mut [u8]>) -> core::result::Result<OwnedFd, Errno> {
    let mut name = [0u8; 16];
    for (d, s) in name.iter_mut().zip(p.name.bytes().take(15)) {
        *d = s;
    }
    let (log_level, log_size, log_buf) = match log {
        Some(b) => (1, b.len() as u32, b.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let mut a = ProgLoadAttr {
        prog_type: p.prog_type,
        insn_cnt: p.insns.len() as u32,
        insns: p.insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: p.attach_type,
        _tail: [0; ATTR_SIZE - 72],
    };
    // SAFETY: insns, license and the log buffer are borrowed for the whole call;
    // insn_cnt and log_size match their lengths; the license is NUL-terminated.
    let fd = unsafe { sys_bpf(BPF_PROG_LOAD, &mut a) }?;
    Ok(owned_fd(fd))
}

/// The lines of a verifier log that say why: the verifier states its reason at the
/// end, after the instruction it choked on, so the last lines are kept (without the
/// statistics line) and joined by " | ".
fn log_tail(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let text = match core::str::from_utf8(&buf[..end]) {
        Ok(t) => t,
        Err(e) => core::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or(""),
    };
    let noise = |l: &str| l.is_empty() || ["processed ", "verification time", "stack depth"].iter().any(|p| l.starts_with(p));
    // The verifier pads its register-state comments with runs of blanks.
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !noise(l))
        .collect();
    let keep_from = lines.len().saturating_sub(4);
    lines.drain(..keep_from);
    // When the lines do not fit, the last ones (the reason) win.
    let mut out = String::new();
    for l in lines.iter().rev() {
        let sep = if out.is_empty() { 0 } else { 3 };
        if out.len() + sep + l.len() > LOG_TAIL {
            if out.is_empty() {
                let mut cut = l.len() - LOG_TAIL;
                while !l.is_char_boundary(cut) {
                    cut += 1;
                }
                out.push_str(&l[cut..]);
            }
            break;
        }
        if sep > 0 {
            out.insert_str(0, " | ");
        }
        out.insert_str(0, l);
    }
    out
}

const PROBE_UNKNOWN: u8 = 0;
const PROBE_YES: u8 = 1;
const PROBE_NO: u8 = 2;
static SET_RETVAL: AtomicU8 = AtomicU8::new(PROBE_UNKNOWN);

/// Can CGROUP_SOCK_ADDR programs choose the errno of a refusal (`bpf_set_retval`,
/// Linux 5.18+)? Without it every refusal reads as EPERM. Probed once by loading a
/// tiny bind4 program; a definite answer is cached, a failure to probe at all (no
/// privilege) reads as "no" and is asked again next time.
pub fn supports_set_retval() -> bool {
    match SET_RETVAL.load(Ordering::Relaxed) {
        PROBE_YES => return true,
        PROBE_NO => return false,
        _ => {}
    }
    let mut a = Asm::new();
    a.mov64_imm(R1, -(Errno::ADDRNOTAVAIL.raw_os_error())).call(HELPER_SET_RETVAL).mov64_imm(R0, 1).exit();
    let Ok(insns) = a.finish() else { return false };
    let p = Program {
        prog_type: BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        attach_type: BPF_CGROUP_INET4_BIND,
        name: "vsbox_probe",
        insns: &insns,
    };
    let answer = match load_once(&p, None) {
        Ok(_) => PROBE_YES,
        Err(Errno::INVAL) | Err(Errno::ACCESS) => PROBE_NO,
        Err(_) => return false,
    };
    SET_RETVAL.store(answer, Ordering::Relaxed);
    answer == PROBE_YES
}

// ---- attaching ---------------------------------------------------------------------

/// Attach `prog` to the cgroup2 directory `cgroup` (BPF_PROG_ATTACH). The attachment
/// holds its own reference: the program stays after `prog` is closed and after this
/// process exits, until it is detached or the cgroup is removed.
pub fn prog_attach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32, flags: u32) -> Result<()> {
    let mut a = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: 0,
        _tail: [0; ATTR_SIZE - 20],
    };
    // SAFETY: the attr holds only fds and integers, no pointers.
    unsafe { sys_bpf(BPF_PROG_ATTACH, &mut a) }.ctx("attach a BPF program to the cgroup").map(drop)
}

/// Detach one program from `cgroup` (BPF_PROG_DETACH). With BPF_F_ALLOW_MULTI the
/// kernel needs the program itself to know which one.
pub fn prog_detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32) -> Result<()> {
    let mut a = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: 0,
        replace_bpf_fd: 0,
        _tail: [0; ATTR_SIZE - 20],
    };
    // SAFETY: the attr holds only fds and integers, no pointers.
    unsafe { sys_bpf(BPF_PROG_DETACH, &mut a) }.ctx("detach a BPF program from the cgroup").map(drop)
}

/// How many program ids one query returns at most.
pub const QUERY_MAX: usize = 64;

/// The programs attached directly to a cgroup for one attach type.
#[derive(Clone, Debug, Default)]
pub struct Attached {
    pub ids: heapless::Vec<u32, QUERY_MAX>,
    /// All attached programs; more than `ids.len()` when there were over QUERY_MAX.
    pub total: u32,
    pub flags: u32,
}

/// List the programs attached to `cgroup` itself for `attach_type` (BPF_PROG_QUERY;
/// inherited ones are not included).
pub fn prog_query(cgroup: BorrowedFd<'_>, attach_type: u32) -> Result<Attached> {
    let mut ids = [0u32; QUERY_MAX];
    let mut a = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: QUERY_MAX as u32,
        _pad: 0,
        prog_attach_flags: 0,
        _tail: [0; ATTR_SIZE - 40],
    };
    // SAFETY: prog_ids points at QUERY_MAX writable u32s, as prog_cnt says.
    match unsafe { sys_bpf(BPF_PROG_QUERY, &mut a) } {
        // ENOSPC: the first QUERY_MAX ids were written and prog_cnt holds the total.
        Ok(_) | Err(Errno::NOSPC) => {}
        Err(e) => return Err(Error::new("list the BPF programs on the cgroup", e)),
    }
    let n = (a.prog_cnt as usize).min(QUERY_MAX);
    let mut out = Attached { ids: heapless::Vec::new(), total: a.prog_cnt, flags: a.attach_flags };
    for &id in &ids[..n] {
        let _ = out.ids.push(id);
    }
    Ok(out)
}

/// Open a loaded program by its id (BPF_PROG_GET_FD_BY_ID; needs CAP_SYS_ADMIN).
/// ENOENT: it is gone.
pub fn prog_fd_by_id(id: u32) -> Result<OwnedFd> {
    let mut a = GetFdByIdAttr { prog_id: id, next_id: 0, open_flags: 0, _tail: [0; ATTR_SIZE - 12] };
    // SAFETY: the attr holds only integers, no pointers.
    let fd = unsafe { sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut a) }.ctx("open a BPF program by its id")?;
    Ok(owned_fd(fd))
}

/// What the kernel says about a loaded program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgInfo {
    pub id: u32,
    pub prog_type: u32,
    pub name: heapless::String<16>,
}

/// Id, type and name of a loaded program (BPF_OBJ_GET_INFO_BY_FD).
pub fn prog_info(prog: BorrowedFd<'_>) -> Result<ProgInfo> {
    let mut info = ProgInfoHead::default();
    let mut a = InfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: core::mem::size_of::<ProgInfoHead>() as u32,
        info: &mut info as *mut ProgInfoHead as u64,
        _tail: [0; ATTR_SIZE - 16],
    };
    // SAFETY: info points at a writable ProgInfoHead of info_len bytes; the kernel
    // copies at most that much.
    unsafe { sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a) }.ctx("read a BPF program's info")?;
    let end = info.name.iter().position(|&b| b == 0).unwrap_or(16);
    let mut name = heapless::String::new();
    let _ = name.push_str(core::str::from_utf8(&info.name[..end]).unwrap_or(""));
    Ok(ProgInfo { id: info.id, prog_type: info.prog_type, name })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rustix::fd::AsFd;
    use std::format;
    use std::path::PathBuf;
    use std::string::{String, ToString};

    fn one(f: impl FnOnce(&mut Asm)) -> Insn {
        let mut a = Asm::new();
        f(&mut a);
        a.finish().unwrap()[0]
    }

    #[test]
    fn encodings_match_the_kernel() {
        // Opcodes as bpftool prints them (probes/xlated.txt) and as vbind.c builds them.
        let cases: &[(Insn, u8, u8, u8, i16, i32)] = &[
            (one(|a| { a.mov64(R6, R1); }), 0xbf, 6, 1, 0, 0),
            (one(|a| { a.mov64_imm(R0, 1); }), 0xb7, 0, 0, 0, 1),
            (one(|a| { a.mov32_imm(R2, 0x0200_007f); }), 0xb4, 2, 0, 0, 0x0200_007f),
            (one(|a| { a.mov32_imm(R7, 0xffff_0000); }), 0xb4, 7, 0, 0, -65536),
            (one(|a| { a.alu64_imm(Alu::Add, R2, -16); }), 0x07, 2, 0, 0, -16),
            (one(|a| { a.alu32_imm(Alu::And, R9, 0x00ff_ffff); }), 0x54, 9, 0, 0, 0x00ff_ffff),
            (one(|a| { a.mov32(R9, R7); }), 0xbc, 9, 7, 0, 0),
            (one(|a| { a.ldx(Size::W, R7, R6, 4); }), 0x61, 7, 6, 4, 0),
            (one(|a| { a.ldx(Size::DW, R2, R6, 64); }), 0x79, 2, 6, 64, 0),
            (one(|a| { a.ldx(Size::H, R2, R6, 2); }), 0x69, 2, 6, 2, 0),
            (one(|a| { a.ldx(Size::B, R2, R6, 1); }), 0x71, 2, 6, 1, 0),
            (one(|a| { a.stx(Size::W, R6, 4, R2); }), 0x63, 6, 2, 4, 0),
            (one(|a| { a.st(Size::DW, R10, -16, 2); }), 0x7a, 10, 0, -16, 2),
            (one(|a| { a.st(Size::W, R10, -12, 0x0200_007f); }), 0x62, 10, 0, -12, 0x0200_007f),
            (one(|a| { a.call(HELPER_BIND); }), 0x85, 0, 0, 0, 64),
            (one(|a| { a.exit(); }), 0x95, 0, 0, 0, 0),
        ];
        for (i, &(insn, code, dst, src, off, imm)) in cases.iter().enumerate() {
            assert_eq!((insn.code, insn.dst(), insn.src(), insn.off, insn.imm), (code, dst, src, off, imm), "case {i}");
        }
        // The raw byte image the kernel reads: code, dst|src<<4, off (LE), imm (LE).
        let i = one(|a| { a.ldx(Size::W, R7, R6, 4); });
        // SAFETY: Insn is repr(C), 8 bytes, no padding.
        let bytes: [u8; 8] = unsafe { core::mem::transmute(i) };
        assert_eq!(bytes, [0x61, 0x67, 4, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn jumps_encode_class_op_and_source() {
        let mut a = Asm::new();
        let l = a.new_label();
        a.jmp32_imm(Jmp::Eq, R7, 0x8000_007f, l) // 127.0.0.128: bit 31 set
            .jmp32_imm(Jmp::Ne, R3, 0, l)
            .jmp_imm(Jmp::Eq, R2, 3, l)
            .jmp_reg(Jmp::Gt, R2, R3, l)
            .jmp32_reg(Jmp::Le, R4, R5, l)
            .ja(l)
            .place(l)
            .exit();
        let p = a.finish().unwrap();
        assert_eq!((p[0].code, p[0].imm), (0x16, 0x8000_007fu32 as i32));
        assert_eq!(p[1].code, 0x56);
        assert_eq!(p[2].code, 0x15);
        assert_eq!((p[3].code, p[3].dst(), p[3].src()), (0x2d, 2, 3));
        assert_eq!(p[4].code, 0xbe);
        assert_eq!(p[5].code, 0x05);
        let offs: std::vec::Vec<i16> = p[..6].iter().map(|i| i.off).collect();
        assert_eq!(offs, [5, 4, 3, 2, 1, 0]);
    }

    #[test]
    fn labels_resolve_forward_and_backward() {
        let mut a = Asm::new();
        let top = a.new_label();
        let end = a.new_label();
        a.place(top).mov64_imm(R0, 0); // 0
        a.jmp32_imm(Jmp::Eq, R0, 1, end); // 1 -> 4
        a.alu64_imm(Alu::Add, R0, 1); // 2
        a.ja(top); // 3 -> 0
        a.place(end).exit(); // 4
        let p = a.finish().unwrap();
        assert_eq!(p[1].off, 2);
        assert_eq!(p[3].off, -4);
    }

    #[test]
    fn assembler_mistakes_are_reported() {
        let mut a = Asm::new();
        let l = a.new_label();
        a.ja(l).exit();
        assert_eq!(a.finish(), Err(AsmError::Unplaced(l)));

        let mut a = Asm::new();
        let l = a.new_label();
        a.place(l).exit().place(l);
        assert_eq!(a.finish(), Err(AsmError::PlacedTwice(l)));

        let mut a = Asm::new();
        let l = a.new_label();
        a.ja(l).exit().place(l);
        assert_eq!(a.finish(), Err(AsmError::PastEnd(l)));

        let mut a = Asm::new();
        let l = a.new_label();
        a.ja(l);
        for _ in 0..40_000 {
            a.mov64_imm(R0, 0);
        }
        a.place(l).exit();
        assert_eq!(a.finish(), Err(AsmError::OutOfRange(l)));

        let mut other = Asm::new();
        let _ = other.new_label();
        let foreign = other.new_label();
        let mut a = Asm::new();
        a.ja(foreign).exit();
        assert_eq!(a.finish(), Err(AsmError::Foreign(foreign)));
        assert!(AsmError::Unplaced(l).to_string().contains("never placed"));
    }

    #[test]
    fn log_tail_keeps_the_reason() {
        let log = b"func#0 @0\n0: R1=ctx() R10=fp0\n0: (61) r2 = *(u32 *)(r1 +4)    ; R2=0\ninvalid bpf_context access off=4 size=4\nprocessed 1 insns (limit 1000000) max_states_per_insn 0\n\0garbage";
        let t = log_tail(log);
        assert_eq!(t.as_str(), "func#0 @0 | 0: R1=ctx() R10=fp0 | 0: (61) r2 = *(u32 *)(r1 +4) ; R2=0 | invalid bpf_context access off=4 size=4");
        let five = b"one\ntwo\nthree\nfour\nfive\n";
        assert_eq!(log_tail(five).as_str(), "two | three | four | five");
        let long = format!("{}\nthe reason\n", "x".repeat(1000));
        assert_eq!(log_tail(long.as_bytes()).as_str(), "the reason");
        let huge = "y".repeat(1000);
        assert_eq!(log_tail(huge.as_bytes()).len(), LOG_TAIL);
        assert_eq!(log_tail(b"").as_str(), "");
    }

    fn accept_all() -> Vec<Insn> {
        let mut a = Asm::new();
        a.mov64_imm(R0, 1).exit();
        a.finish().unwrap()
    }

    pub(crate) fn bind4(insns: &[Insn]) -> Program<'_> {
        Program { prog_type: BPF_PROG_TYPE_CGROUP_SOCK_ADDR, attach_type: BPF_CGROUP_INET4_BIND, name: "test_prog", insns }
    }

    #[test]
    fn a_trivial_program_loads_with_our_license() {
        let insns = accept_all();
        let fd = prog_load(&bind4(&insns), "load the test program").unwrap();
        let info = prog_info(fd.as_fd()).unwrap();
        assert_eq!(info.name.as_str(), "test_prog");
        assert_eq!(info.prog_type, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
        assert!(info.id > 0);
    }

    #[test]
    fn verifier_refusal_carries_the_log() {
        // user_ip4 does not exist for an IPv6 bind program.
        let mut a = Asm::new();
        a.ldx(Size::W, R2, R1, sock_addr::USER_IP4).mov64_imm(R0, 1).exit();
        let insns = a.finish().unwrap();
        let p = Program { attach_type: BPF_CGROUP_INET6_BIND, ..bind4(&insns) };
        let e = prog_load(&p, "load the bind6 program").unwrap_err();
        assert_eq!(e.errno(), Errno::ACCESS);
        let text = e.to_string();
        assert!(text.starts_with("load the bind6 program: Permission denied: "), "{text}");
        assert!(text.contains("invalid bpf_context access off=4 size=4"), "{text}");

        // A missing attach type is refused before the verifier runs: no log, errno only.
        let p = Program { attach_type: 0, ..bind4(&insns) };
        let e = prog_load(&p, "load the bind4 program").unwrap_err();
        assert_eq!(e.errno(), Errno::INVAL);
        assert_eq!(e.to_string(), "load the bind4 program: Invalid argument");
    }

    #[test]
    fn set_retval_probe_answers_and_caches() {
        // Linux 5.18+; this machine runs 6.18.
        assert!(supports_set_retval());
        assert_eq!(SET_RETVAL.load(Ordering::Relaxed), PROBE_YES);
        assert!(supports_set_retval());
    }

    /// A cgroup2 directory below this process's own cgroup2 cgroup, removed on drop.
    /// Nothing ever joins it from the test process itself.
    pub(crate) struct TestCgroup {
        pub path: PathBuf,
        pub dir: std::fs::File,
    }

    impl TestCgroup {
        pub(crate) fn new(tag: &str) -> TestCgroup {
            use std::sync::atomic::AtomicU32;
            static N: AtomicU32 = AtomicU32::new(0);
            let root = if std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
                "/sys/fs/cgroup/unified"
            } else {
                "/sys/fs/cgroup"
            };
            let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
            let rel = own.lines().find_map(|l| l.strip_prefix("0::")).expect("no cgroup2 line").trim().to_string();
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = PathBuf::from(format!("{root}{}/vsbox-test-{tag}-{}-{n}", rel.trim_end_matches('/'), std::process::id()));
            std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
            let dir = std::fs::File::open(&path).unwrap();
            TestCgroup { path, dir }
        }
        pub(crate) fn fd(&self) -> BorrowedFd<'_> {
            self.dir.as_fd()
        }
        pub(crate) fn procs(&self) -> String {
            format!("{}/cgroup.procs", self.path.display())
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            // rmdir frees whatever is still attached; a dying child may need a moment.
            for _ in 0..50 {
                if std::fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            std::eprintln!("warning: could not remove {}", self.path.display());
        }
    }

    #[test]
    fn attach_query_detach_on_a_cgroup() {
        let cg = TestCgroup::new("sysbpf");
        let insns = accept_all();
        let p1 = prog_load(&bind4(&insns), "load test program 1").unwrap();
        let p2 = prog_load(&bind4(&insns), "load test program 2").unwrap();
        assert!(prog_query(cg.fd(), BPF_CGROUP_INET4_BIND).unwrap().ids.is_empty());

        prog_attach(cg.fd(), p1.as_fd(), BPF_CGROUP_INET4_BIND, BPF_F_ALLOW_MULTI).unwrap();
        prog_attach(cg.fd(), p2.as_fd(), BPF_CGROUP_INET4_BIND, BPF_F_ALLOW_MULTI).unwrap();
        let id1 = prog_info(p1.as_fd()).unwrap().id;
        let id2 = prog_info(p2.as_fd()).unwrap().id;
        let q = prog_query(cg.fd(), BPF_CGROUP_INET4_BIND).unwrap();
        assert_eq!((q.ids.as_slice(), q.total, q.flags), (&[id1, id2][..], 2, BPF_F_ALLOW_MULTI));
        // Other attach types are separate lists.
        assert!(prog_query(cg.fd(), BPF_CGROUP_INET4_CONNECT).unwrap().ids.is_empty());

        // A program loaded for bind4 cannot be attached as connect4.
        let e = prog_attach(cg.fd(), p1.as_fd(), BPF_CGROUP_INET4_CONNECT, BPF_F_ALLOW_MULTI).unwrap_err();
        assert_eq!(e.errno, Errno::INVAL);

        // The attachment outlives our fd; reopen by id and detach through it.
        drop(p1);
        let again = prog_fd_by_id(id1).unwrap();
        assert_eq!(prog_info(again.as_fd()).unwrap().name.as_str(), "test_prog");
        prog_detach(cg.fd(), again.as_fd(), BPF_CGROUP_INET4_BIND).unwrap();
        prog_detach(cg.fd(), p2.as_fd(), BPF_CGROUP_INET4_BIND).unwrap();
        assert!(prog_query(cg.fd(), BPF_CGROUP_INET4_BIND).unwrap().ids.is_empty());
        assert_eq!(prog_detach(cg.fd(), p2.as_fd(), BPF_CGROUP_INET4_BIND).unwrap_err().errno, Errno::NOENT);
    }
}
