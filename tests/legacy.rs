//! The legacy backend (real kernel contexts through sys_vserver) against a fake
//! Linux-VServer kernel: tests/legacy/fakevs.c, a seccomp user-notification
//! supervisor that runs a shell script as its child and answers every sys_vserver
//! call of the script's processes from a vs2.3.0.36 state machine (ENOSYS for the
//! compat commands, ESRCH, EACCES, EPERM, the setup state), with real effects where
//! a kernel has them: ctx_kill signals, set_vhi_name renames the context's UTS
//! namespace, the data vsbox reads back is the fake's. The probe test checks the
//! no_std probe's steps against the values of the real vs2.3.0.36 transcript in
//! research/legacy-kernel.md. (This machine runs a mainline kernel.)

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

macro_rules! root {
    () => {
        if !root_or_skip(module_path!()) {
            return;
        }
    };
}

/// tests/legacy/fakevs.c, compiled once per test run (static, like vsbox).
fn fakevs() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/legacy/fakevs.c");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Built under a name of its own, then renamed into place (parallel runs).
        let tmp = dir.join(format!("fakevs-{}", std::process::id()));
        let o = Command::new("cc").args(["-static", "-O2", "-Wall", "-Werror", "-o"]).arg(&tmp).arg(&src).output().expect("run cc (install gcc and libc6-dev)");
        assert!(o.status.success(), "cc fakevs.c: {}", String::from_utf8_lossy(&o.stderr));
        let out = dir.join("fakevs");
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
}

/// One fake kernel: its call log, its state file, and a private vsbox world (so
/// nothing touches the real registry or cgroups should a path fall to mainline).
struct Fake {
    world: World,
    log: PathBuf,
    state: PathBuf,
}

impl Fake {
    fn new(tag: &str) -> Fake {
        let world = World::new(tag);
        let log = world.dir.path().join("calls.log");
        let state = world.dir.path().join("state");
        Fake { world, log, state }
    }

    /// `fakevs [opts] -- sh -c SCRIPT` in the scratch directory, with $VSBOX the
    /// binary under test.
    fn sh(&self, opts: &[&str], script: &str) -> Output {
        let mut c = self.world.cmd_raw(fakevs().to_str().unwrap());
        c.arg("--log").arg(&self.log).arg("--state").arg(&self.state).args(opts);
        c.args(["--", "sh", "-c", script]).env("VSBOX", BIN).env_remove("VSBOX_BACKEND").current_dir(self.world.dir.path());
        c.stdin(Stdio::null()).output().expect("run fakevs")
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The lines of `out` that start with `prefix`, prefix removed.
fn marked<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter_map(|l| l.strip_prefix(prefix)).collect()
}

/// `key=value` of a state line (`ctx 2 flags=… bcaps=…`).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ').find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('='))).unwrap_or_else(|| panic!("no {key} in {line}"))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("not hex: {s}"))
}

/// Wait for a file a background job writes (bounded), in the scripts.
const WAIT_FOR: &str = "waitfor() { i=0; while [ ! -s \"$1\" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; }";

#[test]
fn version_and_vserver_info_name_the_backend() {
    root!();
    let o = vsbox(["--version"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.starts_with(&format!("vsbox {}\n", env!("CARGO_PKG_VERSION"))), "{out}");
    assert!(out.contains("\nbackend: mainline\n"), "{out}");
    assert!(out.contains(": cgroup2 yes, BPF yes, pidfd yes, clone3 yes\n"), "{out}");
    let o = Command::new(BIN).args(["--version"]).env("VSBOX_BACKEND", "vserver").output().unwrap();
    assert!(stdout(&o).contains("backend: vserver (forced by VSBOX_BACKEND)"), "{}", stdout(&o));
    assert!(stdout(&o).contains("backend: vserver (forced by VSBOX_BACKEND), but the kernel does not answer sys_vserver: every context call fails\n"), "{}", stdout(&o));
    let o = Command::new(BIN).args(["vserver-info"]).env("VSBOX_BACKEND", "bogus").output().unwrap();
    assert!(o.status.success());
    assert_eq!(stderr(&o), "vsbox: ignoring VSBOX_BACKEND=bogus (use mainline, vserver or auto)\n");
    assert!(stdout(&o).contains("\nbackend: mainline\n"), "{}", stdout(&o));
    let o = vsbox(["vserver-info", "extra"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("vserver-info: unexpected argument 'extra'"), "{}", stderr(&o));

    let f = Fake::new("lg-version");
    let o = f.sh(&[], "$VSBOX --version; echo ---; $VSBOX vserver-info; echo ---; VSBOX_BACKEND=mainline $VSBOX --version");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert!(parts[0].contains("\nbackend: vserver, VCI 0002:0308, config 0x13010f11\n"), "{out}");
    assert!(!parts[0].contains("cgroup2"), "mainline features only on mainline: {out}");
    assert_eq!(parts[0], parts[1], "vserver-info is --version");
    assert!(parts[2].contains("backend: mainline (forced by VSBOX_BACKEND) (the kernel is a vserver one, VCI 0002:0308)"), "{out}");
    assert!(f.calls().contains("cmd=0x00000000 id=63 get_version -> 131848"), "{}", f.calls());

    let f = Fake::new("lg-version22");
    let o = f.sh(&["--version", "0x00020103", "--vci", "0x1"], "$VSBOX vserver-info");
    assert!(stdout(&o).contains("backend: vserver, VCI 0002:0103, config 0x00000001"), "{}", stdout(&o));
}

#[test]
fn chcontext_makes_a_kernel_context() {
    root!();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let f = Fake::new("lg-create");
    let o = f.sh(
        &[],
        "$VSBOX chcontext --secure --cap NET_BIND_SERVICE --hostname lg1 --domainname dom1 --flag fakeinit,private --flag sched -- \
         sh -c 'echo pid $$; echo node $(uname -n); echo dom $(cat /proc/sys/kernel/domainname); grep CapBnd /proc/self/status; \
         sed s/^/state\\ / \"$FAKEVS_STATE\"'",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Host name is now lg1\nDomain name is now dom1\nNew security context is 2\n"), "{out}");
    assert_eq!(marked(&out, "node "), ["lg1"], "the kernel named the context's UTS namespace: {out}");
    assert_eq!(marked(&out, "dom "), ["dom1"], "{out}");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host, "the host's name is untouched");
    let pid = marked(&out, "pid ")[0];
    let ctx = marked(&out, "state ctx 2 ");
    assert_eq!(ctx.len(), 1, "{out}");
    let c = ctx[0];
    // VXF_STATE_ADMIN | VXF_INFO_INIT | _PRIVATE | _SCHED: out of setup, init set.
    assert_eq!(hex(field(c, "flags")), (1 << 34) | 0x10 | 0x8 | 0x2, "{c}");
    assert_eq!(field(c, "initpid"), pid, "fakeinit: the command is the context's init");
    assert_eq!(field(c, "nodename"), "lg1");
    assert_eq!(field(c, "nsmask"), "0xc000000", "UTS and IPC are the context's spaces");
    // The ceiling: all but SETPCAP (the kernel's start), less the secure set and
    // CAP_CONTEXT (63), NET_BIND_SERVICE kept; no context capabilities (no
    // SYS_ADMIN or SYS_RESOURCE to go with them).
    let secure: u64 = 0x0BF3_FA00 | (1 << 30) | (0x1FF << 32);
    assert_eq!(hex(field(c, "bcaps")), !(1u64 << 8) & !secure & !(1 << 63), "{c}");
    assert_eq!(hex(field(c, "ccaps")), 0, "{c}");
    // The command's own bounding set lost the same capabilities.
    let bnd = status_caps(&out, "CapBnd");
    assert_eq!(bnd & secure, 0, "{bnd:#x}");
    assert_ne!(bnd & (1 << 10), 0, "NET_BIND_SERVICE kept: {bnd:#x}");
    let calls = f.calls();
    assert!(calls.contains("cmd=0x09010001 id=2 ctx_create flagword=0x700000000 -> 2"), "VXF_INIT_SET: {calls}");
    assert!(calls.contains("set_space mask=0xc000000 -> 0"), "{calls}");
    assert!(calls.contains("set_cflags flagword=0x1a mask=0x30000001a -> 0"), "flags, out of setup and init: {calls}");
    assert!(!calls.contains("0x3f010001"), "no compat command on vs2.3: {calls}");
    assert!(!calls.contains("errno"), "every call succeeded: {calls}");
}

#[test]
fn numbers_joins_private_contexts_and_monitoring() {
    root!();
    let f = Fake::new("lg-join");
    let script = format!(
        "{WAIT_FOR}
        $VSBOX chcontext --silent --ctx 2 sh -c 'echo $$ > two; exec sleep 60' & waitfor two
        $VSBOX chcontext --silent --ctx 7 --flag private sh -c 'echo $$ > seven; exec sleep 60' & waitfor seven
        echo free $($VSBOX chcontext true)
        $VSBOX chcontext --ctx 2 sh -c 'echo $$ > joined; exec sleep 60' > joinout & waitfor joined
        $VSBOX chcontext --silent --secure --ctx 2 sh -c 'grep CapBnd /proc/self/status' | sed 's/^/joinsecure /'
        $VSBOX chcontext --ctx 7 true; echo private $?
        $VSBOX chcontext --ctx 2 --hostname x true; echo rename $?
        echo two $(cat two) seven $(cat seven) joined $(cat joined) out $(cat joinout)
        $VSBOX vps ax -o pid,ctx,name | sed 's/^/vps /'
        $VSBOX vps --ctx 2 -o pid | sed 's/^/only2 /'
        $VSBOX vserver-stat | sed 's/^/stat /'
        $VSBOX vkill --ctx 9; echo nine $?
        $VSBOX vkill --ctx 2 -s KILL $(cat joined); echo killjoined $?
        $VSBOX vkill --ctx 2 -s 0 $(cat seven); echo wrongctx $?
        $VSBOX vkill --ctx 7; echo killseven $?
        $VSBOX vkill --ctx 2 -s KILL; echo killtwo $?
        wait; echo done"
    );
    let o = f.sh(&[], &script);
    let out = stdout(&o);
    let err = stderr(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert_eq!(marked(&out, "free "), ["New security context is 3"], "the lowest free number: {out}");
    let ids = marked(&out, "two ")[0];
    let w: Vec<&str> = ids.split(' ').collect();
    let (two, seven, joined) = (w[0], w[2], w[4]);
    assert_eq!(&w[6..], ["New", "security", "context", "is", "2"], "a join says so too: {out}");
    // A join lowers its own bounding set before it moves in (the context's ceiling
    // lacks CAP_SETPCAP, which PR_CAPBSET_DROP needs).
    let bnd = status_caps(&marked(&out, "joinsecure ").join("\n"), "CapBnd");
    assert_eq!(bnd & 0x0BF3_FA00, 0, "{out}");
    assert!(!f.calls().contains("prctl"), "no refused PR_CAPBSET_DROP: {}", f.calls());
    assert_eq!(marked(&out, "private "), ["255"], "{out}");
    assert!(err.contains("chcontext: join the context: it is private, or not administrable (ctx_migrate): Permission denied"), "{err}");
    assert_eq!(marked(&out, "rename "), ["255"], "{out}");
    assert!(err.contains("chcontext: --hostname and --domainname name a new context; context 2 exists already"), "{err}");
    // vps: every context's processes, with the kernel's numbers.
    let vps = marked(&out, "vps ");
    let ctx_of = |pid: &str| vps.iter().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some(pid)).then(|| f.next().unwrap().to_owned())
    });
    assert_eq!(ctx_of(two).as_deref(), Some("2"), "{vps:?}");
    assert_eq!(ctx_of(joined).as_deref(), Some("2"), "{vps:?}");
    assert_eq!(ctx_of(seven).as_deref(), Some("7"), "{vps:?}");
    assert!(vps.iter().any(|l| l.split_whitespace().nth(1) == Some("0")), "host processes: {vps:?}");
    let mut only2: Vec<&str> = marked(&out, "only2 ").into_iter().skip(1).map(str::trim).collect();
    only2.sort();
    let mut want = vec![two, joined];
    want.sort();
    assert_eq!(only2, want, "{out}");
    let stat = marked(&out, "stat ");
    assert!(stat[0].starts_with("CTX  PROC"), "{stat:?}");
    let row = |c: &str| stat.iter().find(|l| l.split_whitespace().next() == Some(c)).map(|l| l.split_whitespace().nth(1).unwrap().to_owned());
    assert_eq!(row("2").as_deref(), Some("2"), "{stat:?}");
    assert_eq!(row("7").as_deref(), Some("1"), "{stat:?}");
    // vkill through ctx_kill.
    assert_eq!(marked(&out, "nine "), ["1"]);
    assert!(err.contains("vkill: context 9 not found (see vserver-stat for the running ones)"), "{err}");
    assert_eq!(marked(&out, "killjoined "), ["0"]);
    assert_eq!(marked(&out, "wrongctx "), ["1"]);
    assert!(err.contains(&format!("vkill: process id {seven} not found in context 2")), "{err}");
    assert_eq!(marked(&out, "killseven "), ["0"]);
    assert_eq!(marked(&out, "killtwo "), ["0"]);
    assert!(out.ends_with("done\n"), "every sleeper was killed: {out}");
    let calls = f.calls();
    assert!(calls.contains("cmd=0x0c010000 id=7 ctx_kill pid=-1 sig=15 -> 0"), "{calls}");
    assert!(calls.contains(&format!("ctx_kill pid={joined} sig=9 -> 0")), "{calls}");
    assert!(calls.contains("cmd=0x0b010001 id=1 ctx_migrate -> 1"), "vps became the spectator: {calls}");
    assert!(calls.contains("cmd=0x09010001 id=2 ctx_create flagword=0x700000000 -> -1 errno=17"), "2 was taken: {calls}");
}

#[test]
fn spectator_lock_and_refusals() {
    root!();
    let f = Fake::new("lg-spect");
    let script = "$VSBOX chcontext --ctx 1 sh -c 'echo in-spectator'
        $VSBOX chcontext --silent sh -c '$VSBOX --version' | sed 's/^/open /'
        $VSBOX chcontext --silent --flag lock sh -c '$VSBOX --version' | sed 's/^/locked /'
        $VSBOX chcontext --silent sh -c '$VSBOX vkill --ctx 2 -s 0; echo inside $?'
        $VSBOX reducecap --cap SYS_ADMIN -- $VSBOX chcontext true; echo noadmin $?";
    let o = f.sh(&[], script);
    let out = stdout(&o);
    let err = stderr(&o);
    assert!(out.starts_with("New security context is 1\nin-spectator\n"), "{out}");
    assert!(marked(&out, "open ").contains(&"backend: vserver, VCI 0002:0308, config 0x13010f11"), "{out}");
    // A locked context lost CAP_CONTEXT: the kernel answers ENOSYS to it.
    assert!(marked(&out, "locked ").contains(&"backend: mainline"), "{out}");
    // Only the host administers contexts: ctx_kill from inside is EPERM.
    assert_eq!(marked(&out, "inside "), ["1"], "{out}");
    assert!(err.contains("vkill: signal the context (ctx_kill): Operation not permitted"), "{err}");
    // Without CAP_SYS_ADMIN nothing is made.
    assert_eq!(marked(&out, "noadmin "), ["255"], "{out}");
    assert!(err.contains("chcontext: give the context its own host name and IPC (unshare): Operation not permitted"), "{err}");
    let calls = f.calls();
    assert!(calls.contains("cmd=0x0b010001 id=1 ctx_migrate -> 1"), "{calls}");
    let locked = calls.lines().find(|l| l.contains("set_bcaps")).unwrap_or("");
    assert!(calls.lines().any(|l| l.contains("set_bcaps value=0 mask=0x8000000000000000 -> 0")), "lock: CAP_CONTEXT off the ceiling: {locked}");
}

#[test]
fn chbind_makes_a_network_context() {
    root!();
    let f = Fake::new("lg-bind");
    let script = "$VSBOX chbind --ip 127.0.0.2/8 --ip 127.0.0.3 --bcast 127.255.255.255 sh -c 'sed s/^/state\\ / \"$FAKEVS_STATE\"'
        $VSBOX chbind --silent --ip 127.0.0.4 $VSBOX chcontext --silent sh -c '$VSBOX chbind --ip 127.0.0.4 true; echo nested $?'
        $VSBOX chbind --ctx 3 --ip 127.0.0.5; echo ctx $?
        $VSBOX chbind --ip fd00::5 true; echo six $?
        $VSBOX chbind true; echo untied $?";
    let o = f.sh(&[], script);
    let out = stdout(&o);
    let err = stderr(&o);
    assert!(out.starts_with("ipv4root is now 127.0.0.2 127.0.0.3\n"), "{out}");
    assert_eq!(
        marked(&out, "state net 2 "),
        ["flags=0x402000000 127.0.0.2/255.0.0.0 127.0.0.3/255.255.255.0 bcast=127.255.255.255"],
        "NXF_INIT_SET, the addresses and masks, the broadcast: {out}"
    );
    assert_eq!(marked(&out, "nested "), ["255"], "{out}");
    assert!(err.contains("chbind: bind inside a context: a vserver kernel lets only the host add addresses (run chbind before chcontext): Operation not permitted"), "{err}");
    assert_eq!(marked(&out, "ctx "), ["255"]);
    assert!(err.contains("chbind: --ctx 3: a vserver kernel binds processes, not contexts; run chbind in context 3 instead"), "{err}");
    assert_eq!(marked(&out, "six "), ["255"]);
    assert!(err.contains("chbind: bind to IPv6 addresses: the vserver backend binds IPv4 only"), "{err}");
    assert!(out.contains("ipv4root is now\nuntied 0\n"), "{out}");
    let calls = f.calls();
    assert!(calls.contains("cmd=0x19010000 id=2 net_create_v0 flagword=0x402000000 -> 2"), "{calls}");
    assert!(calls.contains("cmd=0x1a010001 id=2 net_add_ipv4_v1 type=0x10 ip=127.0.0.2 mask=0xff000000 -> 0"), "NXA_TYPE_ADDR: {calls}");
    assert!(calls.contains("type=0x110 ip=127.255.255.255"), "ADDR | MOD_BCAST: {calls}");
}

#[test]
fn vs22_kernels_take_the_compat_commands() {
    root!();
    let f = Fake::new("lg-compat");
    let script = "$VSBOX chcontext --secure --hostname c22 sh -c 'uname -n; sed s/^/state\\ / \"$FAKEVS_STATE\"'
        $VSBOX chbind --ip 127.0.0.9 true";
    let o = f.sh(&["--version", "0x00020103", "--compat"], script);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.starts_with("Host name is now c22\nNew security context is 49152\nc22\n"), "a dynamic context: {out}");
    let calls = f.calls();
    // The 32 bits of the secure set compat new_s_context carries.
    assert!(calls.contains("cmd=0x3f010001 id=4294967295 ctx=-1 remove_cap=0x4bf3fa00 flags=0 -> 49152"), "{calls}");
    assert!(!calls.contains("ctx_create"), "{calls}");
    assert!(calls.contains("cmd=0x3f020003 id=1 nb=1 nid=49152 -> 0"), "{calls}");
    assert!(out.contains("state ctx 49152 "), "{out}");

    // A vs2.2 kernel built without CONFIG_VSERVER_LEGACY: ENOSYS, then the native way.
    let f = Fake::new("lg-nocompat");
    let o = f.sh(&["--version", "0x00020103"], "$VSBOX chcontext true; $VSBOX chbind --ip 127.0.0.9 true");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "New security context is 2\nipv4root is now 127.0.0.9\n");
    let calls = f.calls();
    assert!(calls.contains("cmd=0x3f010001 id=4294967295 -> -1 errno=38"), "{calls}");
    assert!(calls.contains("ctx_create flagword=0x700000000 -> 2"), "{calls}");
    assert!(calls.contains("cmd=0x3f020003 id=1 -> -1 errno=38"), "{calls}");
    assert!(calls.contains("net_create_v0 flagword=0x402000000 -> 2"), "{calls}");
}

#[test]
fn disconnect_returns_once_the_command_runs() {
    root!();
    let f = Fake::new("lg-disc");
    let script = format!(
        "{WAIT_FOR}
        $VSBOX chcontext --disconnect --ctx 5 sh -c 'echo $$ > pid; exec sleep 60'; echo status $?
        waitfor pid; echo sid $(ps -o sid= -p $(cat pid)) pid $(cat pid)
        $VSBOX chcontext --disconnect /nonexistent; echo missing $?
        $VSBOX vkill --ctx 5 -s KILL; echo kill $?"
    );
    let o = f.sh(&[], &script);
    let out = stdout(&o);
    let err = stderr(&o);
    assert!(out.starts_with("New security context is 5\nstatus 0\n"), "{out}");
    let sid = marked(&out, "sid ")[0];
    let w: Vec<&str> = sid.split_whitespace().collect();
    assert_eq!(w[0], w[2], "a session of its own: {out}");
    assert_eq!(marked(&out, "missing "), ["255"], "{out}");
    assert!(err.contains("chcontext: cannot execute '/nonexistent': No such file or directory (check the name and PATH)"), "{err}");
    assert_eq!(marked(&out, "kill "), ["0"], "{out}");
}

/// The transcript of the real vs2.3.0.36 kernel (research/legacy-kernel.md §3), as
/// the probe's steps must reproduce it: step → result.
const TRANSCRIPT: &[(&str, &str)] = &[
    ("get_version", "0x20308"),
    ("get_vci", "0x13010f11"),
    ("task_xid(self)", "0x0"),
    ("compat new_s_context(-2)", "errno 38 (ENOSYS)"),
    ("child create(42)", "42"),
    ("child task_xid(self)", "0x2a"),
    // set_bcaps removed NET_ADMIN from the kernel's start (all but SETPCAP).
    ("child get_bcaps", "0xffffffffffffeeff"),
    ("parent task_xid(child)", "0x2a"),
    ("parent vx_info(42)", "xid=42 initpid=0"),
    ("parent ctx_stat(42)", "usecnt=2 tasks=1"),
    ("parent vx_info(99)", "errno 3 (ESRCH)"),
    ("parent waitpid(child)", "signal Some(9)"),
    ("parent vx_info(42) after the kill", "errno 3 (ESRCH)"),
];

#[test]
fn the_no_std_probe_under_the_fake_kernel() {
    root!();
    // Built as a user would (Cargo.toml's command), in a target directory of its own.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probe");
    let o = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["build", "--release", "--no-default-features", "--features", "legacy-probe", "--bin", "vsbox-legacy-probe", "--target-dir"])
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(o.status.success(), "build the probe: {}", stderr(&o));
    let probe = target.join("x86_64-unknown-linux-gnu/release/vsbox-legacy-probe");
    // No libc: no interpreter, no dynamic section, small.
    let elf = Command::new("readelf").args(["-lW"]).arg(&probe).output().unwrap();
    let elf = stdout(&elf);
    assert!(elf.contains("LOAD") && !elf.contains("INTERP") && !elf.contains("DYNAMIC"), "{elf}");
    let size = std::fs::metadata(&probe).unwrap().len();
    assert!(size < 100_000, "{size} bytes");

    // On this (mainline) kernel it says so and stops.
    let o = Command::new(&probe).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stdout(&o).contains("probe: no vserver kernel (sys_vserver answers ENOSYS): stop\n"), "{}", stdout(&o));

    let f = Fake::new("lg-probe");
    let mut c = f.world.cmd_raw(fakevs().to_str().unwrap());
    let o = c.arg("--log").arg(&f.log).arg("--").arg(&probe).output().unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for (step, want) in TRANSCRIPT {
        let got = marked(&out, &format!("probe: {step} -> "));
        assert_eq!(got, [*want], "{step}: {out}");
    }
    assert!(!out.contains("UNEXPECTED"), "{out}");
    assert!(out.contains("probe: child uname nodename -> probe42\n"), "{out}");
    assert!(out.ends_with("probe: done: 14 steps, 0 unexpected\n"), "{out}");
    // The same commands the transcript shows (cmd=…).
    let calls = f.calls();
    for cmd in ["0x00000000", "0x00010000", "0x2e010000", "0x3f010001", "0x09010001", "0x340a0000", "0x34090000", "0x19010000", "0x2e050000", "0x28000000", "0x0c010000"] {
        assert!(calls.contains(&format!("cmd={cmd} ")), "{cmd}: {calls}");
    }
}
