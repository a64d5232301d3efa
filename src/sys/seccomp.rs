//! Seccomp filters, written as classic BPF: the holes that capabilities leave open.
//!
//! A root process without capabilities can still create a user namespace (and be
//! root with every capability inside it), and `--ctx`/`lock` must stop a context from
//! making or joining another one. Neither is a capability question, so vsbox closes
//! them with a seccomp filter installed just before exec. Filters here are lists of
//! [`Rule`]s ("syscall N, when these argument tests hold, gets this answer") compiled
//! to one cBPF program; everything no rule matches is allowed.
//!
//! Every program starts by checking `seccomp_data.arch == AUDIT_ARCH_X86_64` (any other
//! calling convention kills the process: its syscall numbers mean other calls) and
//! answers x32 numbers (bit 30 set) with ENOSYS, since the same call has another
//! number there and would slip past the rules.
//!
//! Arguments are tested on their low 32 bits only. That is exact for the arguments
//! tested here: pids and signal numbers are C `int`s, clone(2) itself drops the upper
//! half of its flags, and every CLONE_NEW* bit lives in the lower half.
//!
//! Combining: [`Filter::and`] joins rule lists into one program, where the first
//! matching rule decides (one program per syscall is cheaper than several). Filters
//! installed one after another stack instead: the kernel runs all of them, the most
//! severe answer wins (kill > errno > allow), and between two errno answers the most
//! recently installed filter's errno wins.
//!
//! The spectator's trade-off: ctx 1 sees every process, so it must signal none. The
//! filter cannot tell its own children from anybody else's pid, so it refuses them
//! too; only signal 0 (existence probes) and signals to `self_pid` pass. `self_pid` is
//! fixed at install time, so a child forked after install may signal its parent but
//! not itself; and `pidfd_send_signal` passes only signal 0, since a pidfd does not say
//! whose it is.

use alloc::vec::Vec;

use linux_raw_sys::general::{
    __NR_add_key, __NR_bpf, __NR_clone, __NR_clone3, __NR_delete_module, __NR_finit_module,
    __NR_fsconfig, __NR_fsmount, __NR_fsopen, __NR_fspick, __NR_init_module, __NR_io_uring_enter, __NR_io_uring_register, __NR_io_uring_setup,
    __NR_kexec_file_load,
    __NR_kexec_load, __NR_keyctl, __NR_kill, __NR_mount_setattr, __NR_move_mount,
    __NR_open_by_handle_at, __NR_open_tree, __NR_perf_event_open, __NR_pidfd_send_signal,
    __NR_request_key, __NR_rt_sigqueueinfo, __NR_rt_tgsigqueueinfo, __NR_seccomp, __NR_setns,
    __NR_tgkill, __NR_tkill, __NR_unshare, __NR_userfaultfd, CLONE_NEWCGROUP, CLONE_NEWIPC,
    CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS,
};
use linux_raw_sys::ptrace::{
    sock_filter, sock_fprog, AUDIT_ARCH_X86_64, BPF_ABS, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K, BPF_LD,
    BPF_MAXINSNS, BPF_RET, BPF_W, SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO,
    SECCOMP_RET_KILL_PROCESS, SECCOMP_SET_MODE_FILTER,
};
use rustix::io::Errno;

use super::error::{Context, Error, Result};
use super::raw;

/// Byte offsets into `struct seccomp_data`, the record every program reads.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// The bit that marks an x32 syscall number on x86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Every namespace clone(2) can create. CLONE_NEWTIME is absent on purpose: its bit
/// is part of clone's exit-signal byte, so only unshare and clone3 can ask for it.
const CLONE_NEW_ANY: u32 =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

/// What a filter answers for a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fail the call with this errno, without running it.
    Errno(Errno),
    /// Kill the whole process (not just the thread).
    KillProcess,
}

impl Action {
    /// The `SECCOMP_RET_*` word a `ret` instruction returns.
    pub fn raw(self) -> u32 {
        match self {
            Action::Allow => SECCOMP_RET_ALLOW,
            Action::Errno(e) => SECCOMP_RET_ERRNO | (e.raw_os_error() as u32 & SECCOMP_RET_DATA),
            Action::KillProcess => SECCOMP_RET_KILL_PROCESS,
        }
    }
}

/// Why a program could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// More than `BPF_MAXINSNS` (4096) instructions: the kernel refuses those.
    TooLong,
    /// Instruction `at` jumps more than 255 instructions ahead (cBPF offsets are a byte).
    JumpTooFar { at: usize },
    /// Instruction `at` jumps past the last instruction.
    JumpPastEnd { at: usize },
    /// A load names a syscall argument other than 0..=5.
    NoSuchArg { index: usize },
    /// The program is empty or does not end in `ret`; the kernel needs both.
    NoFinalReturn,
}

impl From<BuildError> for Error {
    fn from(e: BuildError) -> Error {
        match e {
            BuildError::TooLong => Error::new("build a seccomp filter: over 4096 instructions", Errno::TOOBIG),
            BuildError::JumpTooFar { .. } => Error::new("build a seccomp filter: a jump over 255 instructions", Errno::INVAL),
            BuildError::JumpPastEnd { .. } => Error::new("build a seccomp filter: a jump past its end", Errno::INVAL),
            BuildError::NoSuchArg { .. } => Error::new("build a seccomp filter: a syscall argument past the sixth", Errno::INVAL),
            BuildError::NoFinalReturn => Error::new("build a seccomp filter: it does not end in a return", Errno::INVAL),
        }
    }
}

/// A checked cBPF program, ready for [`install_program`].
#[derive(Debug)]
pub struct Program {
    insns: Vec<sock_filter>,
}

impl Program {
    pub fn instructions(&self) -> &[sock_filter] {
        &self.insns
    }
    pub fn len(&self) -> usize {
        self.insns.len()
    }
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
}

/// Writes a cBPF seccomp program one instruction at a time. Jump offsets count
/// instructions after the jump, as in cBPF. The first mistake sticks and is reported
/// by [`Builder::finish`], so calls chain without a `?` on each.
#[derive(Debug, Default)]
pub struct Builder {
    insns: Vec<sock_filter>,
    error: Option<BuildError>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Instructions written so far.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The guard every vsbox filter starts with: kill on a foreign architecture, ENOSYS
    /// for x32 numbers. Leaves the syscall number in A.
    pub fn arch_guard(&mut self) -> &mut Self {
        self.load_arch()
            .jeq(AUDIT_ARCH_X86_64, 1, 0)
            .ret(Action::KillProcess)
            .load_nr()
            .jset(X32_SYSCALL_BIT, 0, 1)
            .ret(Action::Errno(Errno::NOSYS))
    }

    /// A = seccomp_data.arch
    pub fn load_arch(&mut self) -> &mut Self {
        self.load(OFF_ARCH)
    }

    /// A = seccomp_data.nr
    pub fn load_nr(&mut self) -> &mut Self {
        self.load(OFF_NR)
    }

    /// A = low 32 bits of syscall argument `index` (0..=5).
    pub fn load_arg_lo(&mut self, index: usize) -> &mut Self {
        self.load_arg(index, 0)
    }

    /// A = high 32 bits of syscall argument `index` (0..=5).
    pub fn load_arg_hi(&mut self, index: usize) -> &mut Self {
        self.load_arg(index, 4)
    }

    /// if A == k skip `jt` instructions, else skip `jf`.
    pub fn jeq(&mut self, k: u32, jt: usize, jf: usize) -> &mut Self {
        self.jump(BPF_JEQ, k, jt, jf)
    }

    /// if A & k != 0 skip `jt` instructions, else skip `jf`.
    pub fn jset(&mut self, k: u32, jt: usize, jf: usize) -> &mut Self {
        self.jump(BPF_JSET, k, jt, jf)
    }

    /// Stop and answer `action`.
    pub fn ret(&mut self, action: Action) -> &mut Self {
        self.push(BPF_RET | BPF_K, 0, 0, action.raw())
    }

    /// Check the whole program (every jump lands inside it, it ends in `ret`) and hand
    /// it over.
    pub fn finish(self) -> core::result::Result<Program, BuildError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let Some(last) = self.insns.last() else { return Err(BuildError::NoFinalReturn) };
        if last.code as u32 != BPF_RET | BPF_K {
            return Err(BuildError::NoFinalReturn);
        }
        for (at, insn) in self.insns.iter().enumerate() {
            let is_jump = insn.code as u32 & 0x07 == BPF_JMP;
            let furthest = at + 1 + usize::from(insn.jt.max(insn.jf));
            if is_jump && furthest >= self.insns.len() {
                return Err(BuildError::JumpPastEnd { at });
            }
        }
        Ok(Program { insns: self.insns })
    }

    fn load(&mut self, offset: u32) -> &mut Self {
        self.push(BPF_LD | BPF_W | BPF_ABS, 0, 0, offset)
    }

    fn load_arg(&mut self, index: usize, half: u32) -> &mut Self {
        if index > 5 {
            return self.fail(BuildError::NoSuchArg { index });
        }
        self.load(OFF_ARGS + 8 * index as u32 + half)
    }

    fn jump(&mut self, op: u32, k: u32, jt: usize, jf: usize) -> &mut Self {
        match (u8::try_from(jt), u8::try_from(jf)) {
            (Ok(jt), Ok(jf)) => self.push(BPF_JMP | op | BPF_K, jt, jf, k),
            _ => {
                let at = self.insns.len();
                self.fail(BuildError::JumpTooFar { at })
            }
        }
    }

    fn push(&mut self, code: u32, jt: u8, jf: u8, k: u32) -> &mut Self {
        if self.insns.len() >= BPF_MAXINSNS as usize {
            return self.fail(BuildError::TooLong);
        }
        self.insns.push(sock_filter { code: code as u16, jt, jf, k });
        self
    }

    fn fail(&mut self, e: BuildError) -> &mut Self {
        self.error.get_or_insert(e);
        self
    }
}

/// A test on the low 32 bits of one syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    /// Any of these bits is set.
    AnyBit(u32),
    Is(u32),
    IsNot(u32),
}

/// "Syscall `nr`, when every test holds, gets `action`."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub nr: u32,
    pub when: heapless::Vec<(usize, Test), 3>,
    pub action: Action,
}

impl Rule {
    /// Every call of `nr` gets `action`.
    pub fn always(nr: u32, action: Action) -> Rule {
        Rule { nr, when: heapless::Vec::new(), action }
    }

    /// Calls of `nr` whose argument `arg` passes `test` get `action`.
    pub fn when(nr: u32, arg: usize, test: Test, action: Action) -> Rule {
        Rule::always(nr, action).and_when(arg, test)
    }

    /// Narrow the rule by one more argument test. More than three is a programming
    /// mistake, caught by the tests of the filters that use them.
    pub fn and_when(mut self, arg: usize, test: Test) -> Rule {
        self.when.push((arg, test)).expect("at most three argument tests per seccomp rule");
        self
    }
}

/// A seccomp policy: rules checked in order, the first match decides, anything else is
/// allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub rules: Vec<Rule>,
}

const EPERM: Action = Action::Errno(Errno::PERM);
/// clone3 passes its flags in memory, which a filter cannot read. ENOSYS makes libcs
/// fall back to clone(2), whose flags it can.
const NO_CLONE3: Action = Action::Errno(Errno::NOSYS);

impl Filter {
    /// `--secure`: no user namespaces, no BPF, keyrings, perf, kexec, modules, handle
    /// opens, userfaultfd, new mount API or io_uring (its operations never pass
    /// through seccomp), whatever capabilities remain.
    pub fn secure() -> Filter {
        let mut rules = Vec::new();
        rules.push(Rule::when(__NR_unshare, 0, Test::AnyBit(CLONE_NEWUSER), EPERM));
        rules.push(Rule::when(__NR_clone, 0, Test::AnyBit(CLONE_NEWUSER), EPERM));
        rules.push(Rule::always(__NR_clone3, NO_CLONE3));
        for nr in [
            __NR_bpf, __NR_keyctl, __NR_add_key, __NR_request_key, __NR_perf_event_open,
            __NR_kexec_load, __NR_kexec_file_load, __NR_init_module, __NR_finit_module,
            __NR_delete_module, __NR_open_by_handle_at, __NR_userfaultfd, __NR_fsopen,
            __NR_fsconfig, __NR_fsmount, __NR_fspick, __NR_move_mount, __NR_open_tree,
            __NR_mount_setattr, __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
        ] {
            rules.push(Rule::always(nr, EPERM));
        }
        Filter { rules }
    }

    /// The `lock` flag: the context can never create or join another context.
    pub fn lock() -> Filter {
        let rules = alloc::vec![
            Rule::always(__NR_setns, EPERM),
            Rule::always(__NR_unshare, EPERM),
            Rule::when(__NR_clone, 0, Test::AnyBit(CLONE_NEW_ANY), EPERM),
            Rule::always(__NR_clone3, NO_CLONE3),
        ];
        Filter { rules }
    }

    /// ctx 1: signal nothing but `self_pid` (and probe anything with signal 0). See the
    /// module doc for what this costs.
    pub fn spectator(self_pid: u32) -> Filter {
        let foreign = |nr, target, sig| {
            Rule::when(nr, sig, Test::IsNot(0), EPERM).and_when(target, Test::IsNot(self_pid))
        };
        let rules = alloc::vec![
            foreign(__NR_kill, 0, 1),
            foreign(__NR_tkill, 0, 1),
            foreign(__NR_tgkill, 0, 2),
            foreign(__NR_rt_sigqueueinfo, 0, 1),
            foreign(__NR_rt_tgsigqueueinfo, 0, 2),
            Rule::when(__NR_pidfd_send_signal, 1, Test::IsNot(0), EPERM),
        ];
        Filter { rules }
    }

    /// One filter holding both rule lists, `self`'s first.
    pub fn and(mut self, other: Filter) -> Filter {
        self.rules.extend(other.rules);
        self
    }

    /// The cBPF program: the arch guard, then per rule "load nr; jeq; tests; ret", then
    /// allow. Jumps stay inside one rule's block, so no offset can outgrow a byte.
    pub fn compile(&self) -> core::result::Result<Program, BuildError> {
        let mut b = Builder::new();
        b.arch_guard();
        let mut a_holds_nr = true;
        for rule in &self.rules {
            if !a_holds_nr {
                b.load_nr();
            }
            let tests = rule.when.len();
            b.jeq(rule.nr, 0, 2 * tests + 1);
            for (i, &(arg, test)) in rule.when.iter().enumerate() {
                // A failed test skips the rest of the tests and the ret.
                let skip = 2 * (tests - i - 1) + 1;
                b.load_arg_lo(arg);
                match test {
                    Test::AnyBit(bits) => b.jset(bits, 0, skip),
                    Test::Is(v) => b.jeq(v, 0, skip),
                    Test::IsNot(v) => b.jeq(v, skip, 0),
                };
            }
            b.ret(rule.action);
            a_holds_nr = tests == 0;
        }
        b.ret(Action::Allow);
        b.finish()
    }
}

/// Compile `filter` and install it on the calling thread (and so on everything it
/// execs and forks later). See [`install_program`] for no_new_privs.
pub fn install(filter: &Filter) -> Result<()> {
    let program = filter.compile()?;
    install_program(&program)
}

/// Install a program on the calling thread only (no TSYNC: applets are single-threaded,
/// and the tests filter one thread at a time).
///
/// The kernel takes a filter from a thread that holds CAP_SYS_ADMIN, or one that has
/// no_new_privs set. This tries without first and sets no_new_privs only when the
/// kernel asks for it (EACCES): no_new_privs also makes setuid binaries (su, sudo,
/// ping) useless, so a full guest should get its filter installed while the setup
/// still holds CAP_SYS_ADMIN, before the capability drop.
pub fn install_program(program: &Program) -> Result<()> {
    let what = "install a seccomp filter";
    match set_mode_filter(program) {
        Err(Errno::ACCESS) => {
            rustix::thread::set_no_new_privs(true).ctx("set no_new_privs for a seccomp filter")?;
            set_mode_filter(program).ctx(what)
        }
        r => r.ctx(what),
    }
}

fn set_mode_filter(program: &Program) -> core::result::Result<(), Errno> {
    let fprog = sock_fprog {
        // Builder caps programs at BPF_MAXINSNS, so the length fits.
        len: program.insns.len() as u16,
        filter: program.insns.as_ptr() as *mut sock_filter,
    };
    // SAFETY: fprog points at `len` initialized instructions that outlive the call; the
    // kernel only reads them (it copies the program) and never writes through `filter`.
    let r = unsafe {
        raw::syscall3(__NR_seccomp, SECCOMP_SET_MODE_FILTER as usize, 0, &fprog as *const sock_fprog as usize)
    };
    raw::check(r).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{thread, time::Instant};

    fn code(i: &sock_filter) -> (u16, u8, u8, u32) {
        (i.code, i.jt, i.jf, i.k)
    }

    /// A seccomp_data record, as the kernel fills it in.
    fn data(nr: u32, args: [u64; 6]) -> [u8; 64] {
        data_arch(AUDIT_ARCH_X86_64, nr, args)
    }

    fn data_arch(arch: u32, nr: u32, args: [u64; 6]) -> [u8; 64] {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr.to_le_bytes());
        d[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        d
    }

    /// Just enough of a cBPF interpreter to run our programs on made-up calls,
    /// including ones too dangerous to make for real (kill(-1, SIGKILL)).
    fn run(p: &Program, d: &[u8; 64]) -> u32 {
        let (mut pc, mut a) = (0usize, 0u32);
        loop {
            let i = p.insns[pc];
            pc += 1;
            match i.code as u32 {
                c if c == BPF_LD | BPF_W | BPF_ABS => {
                    let o = i.k as usize;
                    a = u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
                }
                c if c == BPF_JMP | BPF_JEQ | BPF_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                c if c == BPF_JMP | BPF_JSET | BPF_K => pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf }),
                c if c == BPF_RET | BPF_K => return i.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    const ALLOW: u32 = SECCOMP_RET_ALLOW;
    fn errno(e: Errno) -> u32 {
        Action::Errno(e).raw()
    }

    #[test]
    fn builder_encodes_instructions() {
        let mut b = Builder::new();
        b.load_nr().load_arch().load_arg_lo(0).load_arg_hi(5).jeq(7, 1, 2).jset(0x80, 0, 1);
        b.ret(Action::Allow).ret(Action::Errno(Errno::PERM)).ret(Action::KillProcess);
        let p = b.finish().unwrap();
        let got: Vec<_> = p.instructions().iter().map(code).collect();
        assert_eq!(got, [
            (0x20, 0, 0, 0), (0x20, 0, 0, 4), (0x20, 0, 0, 16), (0x20, 0, 0, 60),
            (0x15, 1, 2, 7), (0x45, 0, 1, 0x80),
            (0x06, 0, 0, 0x7fff_0000), (0x06, 0, 0, 0x0005_0001), (0x06, 0, 0, 0x8000_0000),
        ]);
    }

    #[test]
    fn builder_checks_jumps() {
        let mut b = Builder::new();
        b.load_nr().jeq(1, 256, 0).ret(Action::Allow);
        assert_eq!(b.finish().unwrap_err(), BuildError::JumpTooFar { at: 1 });

        let mut b = Builder::new();
        b.load_nr().jeq(1, 0, 2).ret(Action::Allow).ret(Action::Allow);
        assert_eq!(b.finish().unwrap_err(), BuildError::JumpPastEnd { at: 1 });

        let mut b = Builder::new();
        b.load_nr().jeq(1, 0, 1).ret(Action::Allow).ret(Action::Allow);
        assert!(b.finish().is_ok(), "a jump onto the last instruction is fine");

        let mut b = Builder::new();
        b.load_arg_lo(6).ret(Action::Allow);
        assert_eq!(b.finish().unwrap_err(), BuildError::NoSuchArg { index: 6 });

        let mut b = Builder::new();
        b.load_nr();
        assert_eq!(b.finish().unwrap_err(), BuildError::NoFinalReturn);
        assert_eq!(Builder::new().finish().unwrap_err(), BuildError::NoFinalReturn);
    }

    #[test]
    fn builder_caps_the_size() {
        let mut b = Builder::new();
        for _ in 0..BPF_MAXINSNS - 1 {
            b.load_nr();
        }
        b.ret(Action::Allow);
        assert_eq!(b.finish().unwrap().len(), 4096);

        let mut b = Builder::new();
        for _ in 0..BPF_MAXINSNS {
            b.load_nr();
        }
        b.ret(Action::Allow);
        assert_eq!(b.len(), 4096, "the 4097th instruction is not written");
        assert_eq!(b.finish().unwrap_err(), BuildError::TooLong);
        assert_eq!(Error::from(BuildError::TooLong).errno, Errno::TOOBIG);
    }

    #[test]
    fn every_program_guards_arch_and_x32() {
        for f in [Filter::default(), Filter::secure(), Filter::lock(), Filter::spectator(1)] {
            let p = f.compile().unwrap();
            assert_eq!(run(&p, &data_arch(0x4000_0003 /* i386 */, 39, [0; 6])), SECCOMP_RET_KILL_PROCESS);
            assert_eq!(run(&p, &data(__NR_kill | X32_SYSCALL_BIT, [7, 9, 0, 0, 0, 0])), errno(Errno::NOSYS));
            assert_eq!(run(&p, &data(39 /* getpid */, [0; 6])), ALLOW);
        }
    }

    #[test]
    fn secure_program_answers() {
        let p = Filter::secure().compile().unwrap();
        let user = CLONE_NEWUSER as u64;
        assert_eq!(run(&p, &data(__NR_unshare, [user | CLONE_NEWNS as u64, 0, 0, 0, 0, 0])), errno(Errno::PERM));
        assert_eq!(run(&p, &data(__NR_unshare, [CLONE_NEWUTS as u64, 0, 0, 0, 0, 0])), ALLOW);
        assert_eq!(run(&p, &data(__NR_clone, [user | 17, 0, 0, 0, 0, 0])), errno(Errno::PERM));
        assert_eq!(run(&p, &data(__NR_clone, [17, 0, 0, 0, 0, 0])), ALLOW);
        assert_eq!(run(&p, &data(__NR_clone3, [0; 6])), errno(Errno::NOSYS));
        for nr in [__NR_bpf, __NR_keyctl, __NR_fsopen, __NR_mount_setattr, __NR_kexec_file_load] {
            assert_eq!(run(&p, &data(nr, [0; 6])), errno(Errno::PERM), "nr {nr}");
        }
        assert_eq!(run(&p, &data(__NR_setns, [3, 0, 0, 0, 0, 0])), ALLOW);
    }

    #[test]
    fn lock_program_answers() {
        let p = Filter::lock().compile().unwrap();
        assert_eq!(run(&p, &data(__NR_unshare, [0; 6])), errno(Errno::PERM));
        assert_eq!(run(&p, &data(__NR_setns, [3, 0, 0, 0, 0, 0])), errno(Errno::PERM));
        for ns in [CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWIPC] {
            assert_eq!(run(&p, &data(__NR_clone, [ns as u64 | 17, 0, 0, 0, 0, 0])), errno(Errno::PERM));
        }
        // fork(2) as vsbox does it, and a thread.
        assert_eq!(run(&p, &data(__NR_clone, [17, 0, 0, 0, 0, 0])), ALLOW);
        assert_eq!(run(&p, &data(__NR_clone, [0x3d0f00, 0, 0, 0, 0, 0])), ALLOW);
        assert_eq!(run(&p, &data(__NR_clone3, [0; 6])), errno(Errno::NOSYS));
    }

    #[test]
    fn spectator_program_answers() {
        let me = 4242u64;
        let p = Filter::spectator(me as u32).compile().unwrap();
        let minus = |n: i64| n as u64;
        let eperm = errno(Errno::PERM);
        assert_eq!(run(&p, &data(__NR_kill, [77, 15, 0, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_kill, [minus(-1), 9, 0, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_kill, [0, 15, 0, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_kill, [minus(-4242), 15, 0, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_kill, [minus(-1), 0, 0, 0, 0, 0])), ALLOW);
        assert_eq!(run(&p, &data(__NR_kill, [me, 15, 0, 0, 0, 0])), ALLOW);
        assert_eq!(run(&p, &data(__NR_tkill, [77, 15, 0, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_tgkill, [77, 78, 15, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_tgkill, [me, 4243, 6, 0, 0, 0])), ALLOW, "raise()/abort()");
        assert_eq!(run(&p, &data(__NR_tgkill, [77, 78, 0, 0, 0, 0])), ALLOW);
        assert_eq!(run(&p, &data(__NR_rt_sigqueueinfo, [77, 15, 0, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_rt_tgsigqueueinfo, [77, 77, 15, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_pidfd_send_signal, [3, 15, 0, 0, 0, 0])), eperm);
        assert_eq!(run(&p, &data(__NR_pidfd_send_signal, [3, 0, 0, 0, 0, 0])), ALLOW);
        // The kernel reads pid and signal as int: upper halves are noise.
        assert_eq!(run(&p, &data(__NR_kill, [77 | 1 << 32, 1 << 32, 0, 0, 0, 0])), ALLOW);
    }

    #[test]
    fn combined_rules_keep_their_order() {
        let f = Filter::secure().and(Filter::lock()).and(Filter::spectator(1));
        assert_eq!(f.rules.len(), Filter::secure().rules.len() + Filter::lock().rules.len() + Filter::spectator(1).rules.len());
        let p = f.compile().unwrap();
        assert_eq!(run(&p, &data(__NR_unshare, [CLONE_NEWUTS as u64, 0, 0, 0, 0, 0])), errno(Errno::PERM));
        assert_eq!(run(&p, &data(__NR_kill, [5, 15, 0, 0, 0, 0])), errno(Errno::PERM));
        assert_eq!(run(&p, &data(__NR_bpf, [0; 6])), errno(Errno::PERM));
        assert_eq!(run(&p, &data(__NR_clone, [17, 0, 0, 0, 0, 0])), ALLOW);
        assert!(p.len() < 128, "{} instructions", p.len());
    }

    // ---- live: each filter goes on one fresh thread of the test process only ----

    fn sys(nr: u32, a: usize, b: usize, c: usize, d: usize) -> core::result::Result<usize, Errno> {
        // SAFETY: the live tests pass only integers, null pointers or pointers to live
        // locals; each call is chosen to fail harmlessly if the filter let it through.
        raw::check(unsafe { raw::syscall6(nr, a, b, c, d, 0, 0) })
    }

    /// Run `f` on a new thread under `filter`; seccomp and no_new_privs stay there.
    fn filtered<F: FnOnce() + Send + 'static>(filter: Filter, f: F) {
        thread::spawn(move || {
            rustix::thread::set_no_new_privs(true).unwrap();
            install(&filter).unwrap();
            f();
        })
        .join()
        .unwrap();
    }

    const SIGTERM: usize = 15;
    const SIGURG: usize = 23;

    #[test]
    fn live_secure() {
        // Unfiltered, these fail with other errors (or succeed harmlessly): a thread of
        // a threaded process cannot unshare a user ns at all, hence the contrast.
        thread::spawn(|| {
            assert_eq!(sys(__NR_unshare, CLONE_NEWUSER as usize, 0, 0, 0), Err(Errno::INVAL));
            assert_eq!(sys(__NR_bpf, 0xffff, 0, 0, 0), Err(Errno::INVAL));
            assert_eq!(sys(__NR_clone3, 0, 0, 0, 0), Err(Errno::INVAL));
        })
        .join()
        .unwrap();
        filtered(Filter::secure(), || {
            assert_eq!(sys(__NR_unshare, CLONE_NEWUSER as usize, 0, 0, 0), Err(Errno::PERM));
            // CLONE_FS alongside makes the kernel refuse this (EINVAL) should it get through.
            let fs = 0x200;
            assert_eq!(sys(__NR_clone, (CLONE_NEWUSER | fs | 17) as usize, 0, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_bpf, 0xffff, 0, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_keyctl, 0, 0, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_fsopen, c"nosuchfs".as_ptr() as usize, 0, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_clone3, 0, 0, 0, 0), Err(Errno::NOSYS));
            assert_eq!(sys(39 /* getpid */, 0, 0, 0, 0), Ok(rustix::process::getpid().as_raw_nonzero().get() as usize));
            assert_eq!(sys(__NR_unshare, CLONE_NEWUTS as usize, 0, 0, 0), Ok(0));
        });
    }

    #[test]
    fn live_lock() {
        filtered(Filter::lock(), || {
            assert_eq!(sys(__NR_setns, usize::MAX, 0, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_unshare, CLONE_NEWUTS as usize, 0, 0, 0), Err(Errno::PERM));
            let fs = 0x200;
            assert_eq!(sys(__NR_clone, (CLONE_NEWNS | fs | 17) as usize, 0, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_clone3, 0, 0, 0, 0), Err(Errno::NOSYS));
        });
        // The process's other threads never saw the filter.
        thread::spawn(|| assert_eq!(sys(__NR_setns, usize::MAX, 0, 0, 0), Err(Errno::BADF)))
            .join()
            .unwrap();
    }

    /// A `sleep 30` that dies with the test, pass or fail.
    struct Sleeper(std::process::Child);
    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn live_spectator() {
        let mut child = Sleeper(std::process::Command::new("sleep").arg("30").spawn().unwrap());
        let other = child.0.id() as usize;
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(other as i32).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        let pidfd_raw = rustix::fd::AsRawFd::as_raw_fd(&pidfd) as usize;
        filtered(Filter::spectator(me), move || {
            let me = me as usize;
            let tid = rustix::thread::gettid().as_raw_nonzero().get() as usize;
            assert_eq!(sys(__NR_kill, other, SIGTERM, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_tkill, other, SIGTERM, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_tgkill, other, other, SIGTERM, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_rt_sigqueueinfo, other, SIGTERM, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_rt_tgsigqueueinfo, other, other, SIGTERM, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_pidfd_send_signal, pidfd_raw, SIGTERM, 0, 0), Err(Errno::PERM));
            assert_eq!(sys(__NR_kill, other, 0, 0, 0), Ok(0));
            assert_eq!(sys(__NR_pidfd_send_signal, pidfd_raw, 0, 0, 0), Ok(0));
            assert_eq!(sys(__NR_kill, me, 0, 0, 0), Ok(0));
            assert_eq!(sys(__NR_kill, tid, 0, 0, 0), Ok(0));
            // SIGURG is ignored by default: a real signal to ourselves, harmlessly.
            assert_eq!(sys(__NR_tgkill, me, tid, SIGURG, 0), Ok(0));
        });
        assert!(child.0.try_wait().unwrap().is_none(), "the sleeper must have survived");
    }

    #[test]
    fn live_install_sets_no_new_privs_only_without_cap_sys_admin() {
        use rustix::thread::{self as t, CapabilitySet};
        thread::spawn(|| {
            assert!(!t::no_new_privs().unwrap());
            install(&Filter::default()).unwrap();
            assert!(!t::no_new_privs().unwrap(), "root with CAP_SYS_ADMIN needs no no_new_privs");
            // capset acts on this thread alone.
            let mut caps = t::capabilities(None).unwrap();
            caps.effective.remove(CapabilitySet::SYS_ADMIN);
            t::set_capabilities(None, caps).unwrap();
            install(&Filter::lock()).unwrap();
            assert!(t::no_new_privs().unwrap());
            assert_eq!(sys(__NR_unshare, 0, 0, 0, 0), Err(Errno::PERM));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn live_stacked_filters_newest_errno_wins() {
        thread::spawn(|| {
            install(&Filter::lock()).unwrap();
            let enosys = Rule::always(__NR_setns, Action::Errno(Errno::NOSYS));
            install(&Filter { rules: alloc::vec![enosys] }).unwrap();
            assert_eq!(sys(__NR_setns, usize::MAX, 0, 0, 0), Err(Errno::NOSYS));
            assert_eq!(sys(__NR_unshare, CLONE_NEWUTS as usize, 0, 0, 0), Err(Errno::PERM));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn live_cost_per_syscall() {
        const N: u32 = 200_000;
        let time = || {
            let t = Instant::now();
            for _ in 0..N {
                let _ = sys(110 /* getppid */, 0, 0, 0, 0);
            }
            t.elapsed().as_nanos() as f64 / f64::from(N)
        };
        let bare = thread::spawn(time).join().unwrap();
        let all = Filter::secure().and(Filter::lock()).and(Filter::spectator(1));
        let len = all.compile().unwrap().len();
        let with = thread::spawn(move || {
            install(&all).unwrap();
            time()
        })
        .join()
        .unwrap();
        std::eprintln!("getppid: {bare:.0} ns bare, {with:.0} ns under secure+lock+spectator ({len} insns)");
    }
}
