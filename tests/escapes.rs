//! The escape suite (issue 11): every way out of a context tried for real, by an
//! attacker program (tests/escapes/probe.c, built here with the system's cc) that
//! runs inside `chcontext --secure` and inside a started vserver guest and reports
//! each attempt as `held` or `escaped`; then the attacks that are not one probe
//! run: the setup window of a join, TIOCSTI into the caller's terminal, inherited
//! descriptors, guest FIFOs that freeze host commands, the registry lock and /sys
//! of a context without a root tree, ULIMIT/S_NICE through every way in, joins
//! racing a context's end, and hostile symlinks in a guest tree.
//!
//! Every test here fails while its escape works. The probe refuses to run on the
//! host (it is given the host's pid namespace and compares). Network parts run in
//! network namespaces of their own (`unshare --net`, lo only); host commands that
//! could hang are run with a timeout enforced here (their process group is killed).

mod common;
use common::*;
use std::collections::BTreeSet;
use std::io::{BufRead, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

macro_rules! root {
    () => {
        if !root_or_skip(module_path!()) {
            return;
        }
    };
}

// ---------------------------------------------------------------------------
// The probe, the host's pid namespace, markers
// ---------------------------------------------------------------------------

/// The probe binary, built once per source version into the target's tmp dir.
fn probe() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escapes/probe.c");
        let text = std::fs::read(&src).expect("tests/escapes/probe.c");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let out = dir.join(format!("vsbox-escape-probe-{:016x}", h.finish()));
        if !out.exists() {
            std::fs::create_dir_all(dir).unwrap();
            let tmp = dir.join(format!("vsbox-escape-probe.tmp{}", std::process::id()));
            let o = Command::new("cc").args(["-static", "-O1", "-o"]).arg(&tmp).arg(&src).output().expect("cc (gcc and libc6-dev)");
            assert!(o.status.success(), "cc -static -O1 tests/escapes/probe.c failed:\n{}", stderr(&o));
            std::fs::rename(&tmp, &out).unwrap();
            // Builds of older sources are of no use any more.
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("vsbox-escape-probe-") && e.path() != out {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        out
    })
}

/// The host's pid namespace inode: the probe refuses to run where it is its own.
fn host_pidns() -> String {
    std::fs::metadata("/proc/self/ns/pid").unwrap().ino().to_string()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> String {
    let b: Vec<u8> = (0..s.len() / 2).filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()).collect();
    String::from_utf8_lossy(&b).into_owned()
}

/// A host process the probe must never see or reach: `sleep 600` with a unique
/// argv[0]. Killed on drop.
struct HostMarker {
    name: String,
    child: Child,
}

impl HostMarker {
    fn new() -> HostMarker {
        let name = unique("vsbox-escape-host-marker");
        let child = Command::new("bash")
            .args(["-c", &format!("exec -a {name} sleep 600")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        HostMarker { name, child }
    }
}

impl Drop for HostMarker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file-capability copy (cap_sys_admin+ep) and a setuid-root copy of the probe
/// in `dir`, executable by anyone.
fn capability_copies(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fcap = dir.join("probe-fcap");
    let suid = dir.join("probe-suid");
    std::fs::copy(probe(), &fcap).unwrap();
    std::fs::copy(probe(), &suid).unwrap();
    std::fs::set_permissions(&fcap, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let o = Command::new("setcap").arg("cap_sys_admin+ep").arg(&fcap).output().expect("setcap (libcap2-bin)");
    assert!(o.status.success(), "setcap: {}", stderr(&o));
}

/// The probe's report: every attempt with its verdict.
struct Report {
    attempts: Vec<(bool, String, String)>,
    total: Option<usize>,
    text: String,
}

impl Report {
    fn parse(out: &str, err: &str) -> Report {
        let mut attempts = Vec::new();
        let mut total = None;
        for l in out.lines() {
            if let Some(rest) = l.strip_prefix("held ").or_else(|| l.strip_prefix("escaped ")) {
                let (name, detail) = rest.split_once(' ').unwrap_or((rest, ""));
                attempts.push((l.starts_with("escaped "), name.to_owned(), detail.to_owned()));
            } else if let Some(n) = l.strip_prefix("total ") {
                total = n.trim().parse().ok();
            }
        }
        Report { attempts, total, text: format!("stdout:\n{out}\nstderr:\n{err}") }
    }

    fn escaped(&self) -> Vec<String> {
        self.attempts.iter().filter(|a| a.0).map(|a| format!("escaped {} {}", a.1, a.2)).collect()
    }

    fn verdict(&self, name: &str) -> Option<bool> {
        self.attempts.iter().find(|a| a.1 == name).map(|a| a.0)
    }

    /// At least 60 attempts, the count line agrees, and nothing got out.
    fn assert_all_held(&self, what: &str) {
        let total = self.total.unwrap_or_else(|| panic!("{what}: no `total` line: the probe died\n{}", self.text));
        assert_eq!(total, self.attempts.len(), "{what}: `total` disagrees with the lines\n{}", self.text);
        assert!(total >= 60, "{what}: only {total} attempts\n{}", self.text);
        let names: BTreeSet<&str> = self.attempts.iter().map(|a| a.1.as_str()).collect();
        assert_eq!(names.len(), total, "{what}: an attempt reported twice\n{}", self.text);
        let esc = self.escaped();
        assert!(esc.is_empty(), "{what}: {} of {total} attacks escaped:\n{}\n\n(full report)\n{}", esc.len(), esc.join("\n"), self.text);
    }
}

// ---------------------------------------------------------------------------
// Running things with a deadline
// ---------------------------------------------------------------------------

struct Ran {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    secs: f64,
}

impl Ran {
    fn timed_out(&self) -> bool {
        self.status.is_none()
    }
    fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
    fn show(&self) -> String {
        format!("status {:?} after {:.1} s\nstdout:\n{}\nstderr:\n{}", self.status, self.secs, self.stdout, self.stderr)
    }
}

/// SIGKILL to the process group `pgid` (one this test made with process_group(0)).
fn kill_group(pgid: i32) {
    if let Some(p) = rustix::process::Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Run `cmd` (stdin from `input`, or /dev/null) in a process group of its own; at
/// the deadline the whole group is killed and the result says it timed out.
fn run_for(mut cmd: Command, secs: u64, input: Option<&str>) -> Ran {
    let start = Instant::now();
    cmd.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("spawn");
    if let Some(text) = input {
        let mut w = child.stdin.take().unwrap();
        let text = text.to_owned();
        std::thread::spawn(move || {
            let _ = w.write_all(text.as_bytes());
        });
    }
    let out = reader(child.stdout.take().unwrap());
    let err = reader(child.stderr.take().unwrap());
    let deadline = start + Duration::from_secs(secs);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            kill_group(child.id() as i32);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A killed group's grandchildren may hold the pipes: do not wait for them forever.
    let join = |h: std::thread::JoinHandle<String>| {
        let until = Instant::now() + Duration::from_secs(5);
        while !h.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if h.is_finished() { h.join().unwrap_or_default() } else { String::from("(output still held open by a leftover process)") }
    };
    let (stdout, stderr) = (join(out), join(err));
    Ran { status, stdout, stderr, secs: start.elapsed().as_secs_f64() }
}

/// `bash -c SCRIPT` in a fresh network namespace: lo up, ICMP ping sockets allowed
/// for every group there (systemd's default, the setting the ping-socket attack
/// needs), `$V` vsbox, `$P` the probe, `$HNS` the host pid namespace.
fn in_netns(w: &World, script: &str, env: &[(&str, String)], secs: u64) -> Ran {
    let full = format!(
        "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nip link set lo up || exit 90\n\
         sysctl -qw net.ipv4.ping_group_range='0 2147483647' || exit 91\n{script}"
    );
    let mut c = Command::new("unshare");
    c.args(["--net", "--", "bash", "-c", &full])
        .env("V", BIN)
        .env("P", probe())
        .env("HNS", host_pidns())
        .env("VSBOX_RUNDIR", &w.rundir)
        .env("VSBOX_CGROUP", &w.cgroup)
        .env_remove("PROFILE");
    for (k, v) in env {
        c.env(k, v);
    }
    run_for(c, secs, None)
}

// ---------------------------------------------------------------------------
// vserver guests (a World with its own conf and root directories)
// ---------------------------------------------------------------------------

struct Vw {
    w: World,
    confdir: PathBuf,
    rootdir: PathBuf,
}

impl Vw {
    fn new(tag: &str) -> Vw {
        let w = World::new(tag);
        let confdir = w.dir.path().join("etc-vservers");
        let rootdir = w.dir.path().join("vservers");
        std::fs::create_dir_all(&confdir).unwrap();
        std::fs::create_dir_all(&rootdir).unwrap();
        Vw { w, confdir, rootdir }
    }

    fn cmd(&self) -> Command {
        let mut c = self.w.cmd();
        c.env("VSBOX_CONFDIR", &self.confdir).env("VSBOX_ROOTDIR", &self.rootdir).env_remove("PROFILE");
        c
    }

    fn vserver(&self, args: &[&str]) -> Output {
        self.cmd().arg("vserver").args(args).output().expect("run vsbox vserver")
    }

    /// `vserver ARGS…` with a deadline.
    fn vserver_for(&self, args: &[&str], secs: u64, input: Option<&str>) -> Ran {
        let mut c = self.cmd();
        c.arg("vserver").args(args);
        run_for(c, secs, input)
    }

    fn conf(&self, name: &str, text: &str) {
        let p = self.confdir.join(format!("{name}.conf"));
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    /// A busybox guest with the probe in /opt.
    fn tree(&self, name: &str) -> PathBuf {
        let t = self.rootdir.join(name);
        busybox_tree(&t);
        std::fs::create_dir_all(t.join("opt")).unwrap();
        std::fs::copy(probe(), t.join("opt/probe")).unwrap();
        std::fs::set_permissions(t.join("opt/probe"), std::fs::Permissions::from_mode(0o755)).unwrap();
        t
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("VSBOX_CONFDIR", self.confdir.display().to_string()), ("VSBOX_ROOTDIR", self.rootdir.display().to_string())]
    }
}

/// A busybox-static guest (as tests/vserver.rs makes them): applet links, users,
/// an rc script running /etc/rcN.d/S* with start (K* with stop for 0 and 6), and
/// a sleeper service that keeps the vserver running.
fn busybox_tree(t: &Path) {
    for d in ["bin", "etc/init.d", "etc/rc3.d", "etc/rc6.d", "tmp", "root", "home/web", "var/run", "var/lock/subsys"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    std::fs::set_permissions(t.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy("/usr/bin/busybox", t.join("bin/busybox")).expect("busybox-static at /usr/bin/busybox");
    // A fork by another test thread while the copy was open for writing makes
    // its exec fail with ETXTBSY for a moment: try again.
    let installed = (0..20).any(|_| {
        let ok = Command::new("chroot").arg(t).args(["/bin/busybox", "--install", "-s", "/bin"]).status().is_ok_and(|s| s.success());
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ok
    });
    assert!(installed, "busybox --install in {}", t.display());
    write_mode(&t.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000:web:/home/web:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n", 0o644);
    write_mode(&t.join("etc/group"), "root:x:0:\nweb:x:1000:\nnogroup:x:65534:\n", 0o644);
    write_mode(
        &t.join("etc/init.d/rc"),
        "#!/bin/sh\ncase \"$1\" in\n0|6) for s in /etc/rc$1.d/K*; do [ -x \"$s\" ] && \"$s\" stop; done ;;\n\
         *) for s in /etc/rc$1.d/S*; do [ -x \"$s\" ] && \"$s\" start; done ;;\nesac\necho \"rc $1 done\"\n",
        0o755,
    );
    write_mode(
        &t.join("etc/init.d/sleeper"),
        "#!/bin/sh\ncase \"$1\" in\nstart) sleep 600 </dev/null >/dev/null 2>&1 & echo sleeper started ;;\nstop) killall sleep ;;\nesac\n",
        0o755,
    );
    std::os::unix::fs::symlink("../init.d/sleeper", t.join("etc/rc3.d/S10sleeper")).unwrap();
    std::os::unix::fs::symlink("../init.d/sleeper", t.join("etc/rc6.d/K10sleeper")).unwrap();
}

fn write_mode(p: &Path, text: &str, mode: u32) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mkfifo(p: &Path) {
    let _ = std::fs::remove_file(p);
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

/// Wait up to `secs` for `p` to hold `needle`.
fn wait_for_text(p: &Path, needle: &str, secs: u64) -> String {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let t = std::fs::read_to_string(p).unwrap_or_default();
        if t.contains(needle) || Instant::now() > end {
            return t;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// 1. The probe in chcontext --secure, in a vserver guest, and a control run
// ---------------------------------------------------------------------------

#[test]
fn secure_chcontext_holds_every_attack() {
    root!();
    let w = World::new("esc-secure");
    let marker = HostMarker::new();
    let host = w.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let hostfile = host.join("host-marker");
    std::fs::write(&hostfile, "vsbox host marker\n").unwrap();
    let caps = w.dir.path().join("caps");
    capability_copies(&caps);
    let scratch = w.dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    // fd 7: a host directory, left open (not close-on-exec) for the context.
    let ran = in_netns(
        &w,
        r#"exec 7<"$HOST"
exec "$V" chbind --silent --ip 127.0.0.2 -- "$V" chcontext --secure --silent -- "$P" "$HNS" all \
  markerhex="$MH" rundir="$VSBOX_RUNDIR" vsbox="$V" capdir="$CAPS" hostfile="$HOSTFILE" \
  ipv4root=127.0.0.2 foreign=127.0.0.3 scratch="$SCRATCH" sharedfs=1"#,
        &[
            ("HOST", host.display().to_string()),
            ("MH", hex(&marker.name)),
            ("CAPS", caps.display().to_string()),
            ("HOSTFILE", hostfile.display().to_string()),
            ("SCRATCH", scratch.display().to_string()),
        ],
        120,
    );
    assert!(!ran.timed_out(), "the probe run hung:\n{}", ran.show());
    let r = Report::parse(&ran.stdout, &ran.stderr);
    r.assert_all_held("chcontext --secure (no root tree, chbind --ip 127.0.0.2)");
    assert_eq!(std::fs::read_to_string(&hostfile).unwrap(), "vsbox host marker\n");
}

#[test]
fn vserver_guest_holds_every_attack() {
    root!();
    let v = Vw::new("esc-guest");
    let marker = HostMarker::new();
    let t = v.tree("escg");
    std::fs::copy(BIN, t.join("opt/vsbox")).unwrap();
    capability_copies(&t.join("opt"));
    // The Shocker target: a host file outside the tree, on the same filesystem.
    let host = v.w.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let hostfile = host.join("host-marker");
    std::fs::write(&hostfile, "vsbox host marker\n").unwrap();
    assert_eq!(std::fs::metadata(&hostfile).unwrap().dev(), std::fs::metadata(&t).unwrap().dev(), "the host file shares the guest's filesystem");
    v.conf("escg", "IPROOT=127.0.0.2\nS_HOSTNAME=escg\nS_FLAGS=\"lock nproc\"\nULIMIT=\"-H -u 1000\"\n");
    let mut env = v.env();
    env.extend([
        ("HOST", host.display().to_string()),
        ("MH", hex(&marker.name)),
        ("HOSTINO", std::fs::metadata(&hostfile).unwrap().ino().to_string()),
    ]);
    let ran = in_netns(
        &v.w,
        r#"exec 7<"$HOST"
trap '"$V" vserver escg stop >/dev/null 2>&1' EXIT
"$V" vserver --nodev --silent escg start >/dev/null || { echo "vserver start failed"; exit 92; }
"$V" vserver escg exec /opt/probe "$HNS" all markerhex="$MH" rundir="$VSBOX_RUNDIR" vsbox=/opt/vsbox \
  capdir=/opt hostino="$HOSTINO" ipv4root=127.0.0.2 foreign=127.0.0.3 scratch=/tmp"#,
        &env,
        120,
    );
    assert!(!ran.timed_out(), "the probe run hung:\n{}", ran.show());
    let r = Report::parse(&ran.stdout, &ran.stderr);
    r.assert_all_held("a vserver guest (IPROOT=127.0.0.2, S_FLAGS=lock nproc)");
    assert_eq!(std::fs::read_to_string(&hostfile).unwrap(), "vsbox host marker\n");
}

/// Proof that the detector is not a stub: without --secure (root with every
/// capability, no filter, no ipv4root) the same attacks get through.
#[test]
fn control_a_plain_context_lets_the_attacks_through() {
    root!();
    let w = World::new("esc-control");
    let marker = HostMarker::new();
    let host = w.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let hostfile = host.join("host-marker");
    std::fs::write(&hostfile, "vsbox host marker\n").unwrap();
    let scratch = w.dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let ran = in_netns(
        &w,
        r#"exec "$V" chcontext --silent -- "$P" "$HNS" all markerhex="$MH" rundir="$VSBOX_RUNDIR" \
  hostfile="$HOSTFILE" scratch="$SCRATCH" sharedfs=1"#,
        &[("MH", hex(&marker.name)), ("HOSTFILE", hostfile.display().to_string()), ("SCRATCH", scratch.display().to_string())],
        120,
    );
    assert!(!ran.timed_out(), "the probe run hung:\n{}", ran.show());
    let r = Report::parse(&ran.stdout, &ran.stderr);
    let total = r.total.unwrap_or_else(|| panic!("no total line\n{}", r.text));
    assert!(total >= 60 && total == r.attempts.len(), "{}", r.text);
    for name in ["mount_tmpfs", "mount_bind", "raw_inet_icmp", "packet_raw", "sysctl_net_core_somaxconn", "mknod_char", "bpf_map_create"] {
        assert_eq!(r.verdict(name), Some(true), "{name} should get out of a plain context\n{}", r.text);
    }
    assert!(r.escaped().len() >= 20, "a plain context lets most attacks through\n{}", r.text);
}

// ---------------------------------------------------------------------------
// 2. The setup window
// ---------------------------------------------------------------------------

/// A watcher started with `start`; its stdout lines arrive on a channel.
struct Watcher {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    got: Vec<String>,
}

impl Watcher {
    fn spawn(mut c: Command) -> Watcher {
        c.stdout(Stdio::piped()).stderr(Stdio::null()).stdin(Stdio::null());
        let mut child = c.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Watcher { child, lines: rx, got: Vec::new() }
    }

    /// Lines until one starts with `prefix` (or the deadline).
    fn until(&mut self, prefix: &str, secs: u64) -> Option<String> {
        let end = Instant::now() + Duration::from_secs(secs);
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.got.push(l.clone());
                    if l.starts_with(prefix) {
                        return Some(l);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn watch_summary(line: &str) -> (u64, u64, u64) {
    let f: Vec<&str> = line.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|s| s.parse().ok()).unwrap_or(0);
    (n(1), n(3), n(5))
}

/// Point 2: a guest process watches /proc of its context while the host joins it
/// 500 times; every new process is read at once and seized when possible. A win
/// is a process seen (or seized) holding a capability outside the context's
/// ceiling, or without the seccomp filter the context has. (A creation has no such
/// window for another context to watch: its first process is PID 1 of a new pid
/// namespace, and the command it starts is the first thing that can look. The
/// vserver paths that join, exec and service, are the next test.)
#[test]
fn the_setup_window_of_a_join_shows_nothing_stronger() {
    root!();
    let w = World::new("esc-window");
    let stop = w.dir.path().join("stop");
    let mut c = w.cmd();
    c.args(["chcontext", "--secure", "--"]).arg(probe()).args([&host_pidns(), "watch", &format!("stop={}", stop.display()), "max=100"]);
    let mut watcher = Watcher::spawn(c);
    let first = watcher.until("New security context is", 20).expect("the watcher's context");
    let n = ctx_number(&first);
    assert!(watcher.until("ready", 20).is_some(), "the watcher did not start: {:?}", watcher.got);
    let start = Instant::now();
    let mut failed = Vec::new();
    for i in 0..500 {
        // Mostly `true`; now and then something that lives long enough to be seen
        // for sure, so a blind watcher cannot pass.
        let cmd: &[&str] = if i % 50 == 0 { &["sleep", "0.2"] } else { &["true"] };
        let o = w.run(&[&["chcontext", "--ctx", &n.to_string(), "--silent", "--"][..], cmd].concat());
        if !o.status.success() {
            failed.push(format!("join {i}: {:?} {}", o.status, stderr(&o)));
        }
    }
    let joins = start.elapsed();
    std::fs::write(&stop, "").unwrap();
    let summary = watcher.until("seen ", 30).unwrap_or_else(|| panic!("no summary from the watcher: {:?}", watcher.got));
    let (seen, seized, wins) = watch_summary(&summary);
    let win_lines: Vec<&String> = watcher.got.iter().filter(|l| l.starts_with("win ")).collect();
    eprintln!("setup window: 500 joins in {:.1} s; the watcher saw {seen} new processes, seized {seized}, {wins} wins", joins.as_secs_f64());
    assert!(failed.is_empty(), "joins failed: {failed:?}");
    assert!(seen >= 10, "the watcher saw only {seen} of the joined processes: it proves nothing\n{:?}", watcher.got);
    let shown: Vec<&str> = win_lines.iter().take(20).map(|s| s.as_str()).collect();
    assert!(wins == 0 && win_lines.is_empty(), "{wins} times a process was visible in the context before its ceiling and filter (first 20):\n{}", shown.join("\n"));
}

#[test]
fn the_setup_window_of_vserver_exec_shows_nothing_stronger() {
    root!();
    let v = Vw::new("esc-vwindow");
    let t = v.tree("escw");
    let hns = host_pidns();
    write_mode(
        &t.join("etc/init.d/watch"),
        &format!("#!/bin/sh\ncase \"$1\" in\nstart) /opt/probe {hns} watch stop=/tmp/stop max=100 </dev/null >/tmp/watch.out 2>&1 & echo watch started ;;\nesac\n"),
        0o755,
    );
    std::os::unix::fs::symlink("../init.d/watch", t.join("etc/rc3.d/S20watch")).unwrap();
    v.conf("escw", "S_HOSTNAME=escw\nS_FLAGS=\"lock nproc\"\n");
    let o = v.vserver(&["--silent", "escw", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = t.join("tmp/watch.out");
    assert!(wait_for_text(&out, "ready", 20).contains("ready"), "the watcher did not start: {:?}", std::fs::read_to_string(&out));
    let mut failed = Vec::new();
    for i in 0..150 {
        let args: &[&str] = match i % 3 {
            // Now and then one that surely lives long enough to be seen.
            0 if i % 30 == 0 => &["escw", "exec", "sleep", "0.2"],
            0 => &["escw", "exec", "true"],
            1 => &["escw", "service", "sleeper", "status"],
            _ => &["escw", "exec", "sh", "-c", "exit 0"],
        };
        let o = v.vserver(args);
        if !o.status.success() {
            failed.push(format!("{args:?}: {:?} {}", o.status, stderr(&o)));
        }
    }
    std::fs::write(t.join("tmp/stop"), "").unwrap();
    let text = wait_for_text(&out, "seen ", 30);
    let _ = v.vserver(&["escw", "stop"]);
    let summary = text.lines().find(|l| l.starts_with("seen ")).unwrap_or_else(|| panic!("no summary: {text}")).to_owned();
    let (seen, seized, wins) = watch_summary(&summary);
    eprintln!("vserver exec window: the watcher saw {seen}, seized {seized}, {wins} wins");
    assert!(failed.is_empty(), "{failed:?}");
    assert!(seen >= 10, "the watcher saw only {seen} processes: it proves nothing\n{text}");
    let shown: Vec<&str> = text.lines().filter(|l| l.starts_with("win ")).take(20).collect();
    assert_eq!(wins, 0, "processes visible in the guest before their ceiling and filter (first 20):\n{}", shown.join("\n"));
}

// ---------------------------------------------------------------------------
// 3. TIOCSTI into the caller's terminal, and a pty of the context's own
// ---------------------------------------------------------------------------

/// Runs `setsid -c CMD…` on a fresh pty (the pty becomes its controlling
/// terminal), feeds INPUT to the master, collects the master's output until the
/// command ends plus WAIT seconds, then reads what is queued as input on the
/// slave: anything pushed there with TIOCSTI. With PTY_RAW=1 the slave is raw (so
/// injected bytes without a newline are readable).
const PTY_DRIVER: &str = r#"
import os, sys, tty, fcntl, subprocess, time, select
wait_after = float(sys.argv[1]); feed = bytes.fromhex(sys.argv[2]); cmd = sys.argv[3:]
m, s = os.openpty()
if os.environ.get("PTY_RAW") == "1":
    tty.setraw(s)
st = os.fstat(s)
p = subprocess.Popen(["setsid", "-c"] + cmd, stdin=s, stdout=s, stderr=s, close_fds=True)
out = b""
def drain(t):
    global out
    r, _, _ = select.select([m], [], [], t)
    if r:
        try:
            out += os.read(m, 65536)
        except OSError:
            pass
if feed:
    time.sleep(0.3)
    os.write(m, feed)
deadline = time.time() + float(os.environ.get("PTY_TIMEOUT", "60"))
rc = None
while rc is None and time.time() < deadline:
    drain(0.05)
    rc = p.poll()
if rc is None:
    p.kill(); p.wait(); rc = "timeout"
end = time.time() + wait_after
while time.time() < end:
    drain(0.05)
drain(0)
fcntl.fcntl(s, fcntl.F_SETFL, fcntl.fcntl(s, fcntl.F_GETFL) | os.O_NONBLOCK)
queued = b""
try:
    while True:
        b = os.read(s, 65536)
        if not b:
            break
        queued += b
except OSError:
    pass
print("rc", rc)
print("rdev", st.st_rdev)
print("ptydev", st.st_dev)
print("tty", os.ttyname(s))
print("out", out.hex())
print("queued", queued.hex())
"#;

struct PtyRun {
    rc: String,
    rdev: u64,
    /// The device of the devpts instance the pty lives on (the host's).
    dev: u64,
    tty: String,
    out: String,
    queued: String,
    raw: String,
}

fn on_pty(mut base: Command, cmd: &[&str], feed: &str, wait_after: f64, raw: bool) -> PtyRun {
    base.arg("-c").arg(PTY_DRIVER).arg(wait_after.to_string()).arg(hex(feed)).args(cmd);
    if raw {
        base.env("PTY_RAW", "1");
    }
    let ran = run_for(base, 90, None);
    assert!(!ran.timed_out(), "the pty driver hung:\n{}", ran.show());
    let get = |k: &str| ran.stdout.lines().find_map(|l| l.strip_prefix(&format!("{k} "))).unwrap_or("").to_owned();
    PtyRun {
        rc: get("rc"),
        rdev: get("rdev").parse().unwrap_or(0),
        dev: get("ptydev").parse().unwrap_or(0),
        tty: get("tty"),
        out: unhex(&get("out")),
        queued: unhex(&get("queued")),
        raw: ran.show(),
    }
}

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" }
}

#[test]
fn a_locked_secure_command_cannot_push_input_into_the_callers_terminal() {
    root!();
    let w = World::new("esc-sti");
    let mark = unique("vsbox-sti-mark");
    let mut c = w.cmd_raw(python());
    c.env("VSBOX_RUNDIR", &w.rundir);
    let p = probe().display().to_string();
    let hns = host_pidns();
    let r = on_pty(c, &[BIN, "chcontext", "--secure", "--flag", "lock", "--silent", "--", &p, &hns, "tiocsti", &format!("marker={mark}")], "", 0.5, true);
    assert!(r.rc == "0", "the probe did not run: {}\n{}", r.out, r.raw);
    assert!(!r.queued.contains(&mark), "the context pushed {:?} into the caller's terminal {} (its report: {:?})", r.queued, r.tty, r.out);
}

#[test]
fn a_guest_daemon_cannot_push_input_into_the_terminal_that_started_it() {
    root!();
    let v = Vw::new("esc-stid");
    let t = v.tree("escd");
    let mark = unique("vsbox-sti-daemon");
    let hns = host_pidns();
    write_mode(
        &t.join("etc/init.d/spy"),
        &format!("#!/bin/sh\ncase \"$1\" in\nstart) /opt/probe {hns} daemon marker={mark} out=/tmp/spy.out & echo spy started ;;\nesac\n"),
        0o755,
    );
    std::os::unix::fs::symlink("../init.d/spy", t.join("etc/rc3.d/S50spy")).unwrap();
    v.conf("escd", "S_HOSTNAME=escd\n");
    let mut c = v.w.cmd_raw(python());
    c.env("VSBOX_CONFDIR", &v.confdir).env("VSBOX_ROOTDIR", &v.rootdir).env_remove("PROFILE");
    // The admin's shell (the session leader) stays after start returns, as a login
    // shell would; the daemon acts 1 s later; look 2.5 s after start.
    let r = on_pty(c, &["sh", "-c", "\"$0\" vserver --silent escd start; st=$?; sleep 2.5; exit $st", BIN], "", 0.2, true);
    let report = wait_for_text(&t.join("tmp/spy.out"), "done", 10);
    let stop = v.vserver(&["escd", "stop"]);
    assert!(r.rc == "0", "vserver start: {}\n{}", r.out, r.raw);
    assert!(report.contains("done"), "the daemon did not report: {report:?}\n{}", r.raw);
    assert!(!r.queued.contains(&mark), "a daemon of the guest pushed {:?} into the admin's terminal {}\n{report}", r.queued, r.tty);
    let on_pty_fds: Vec<&str> = report.lines().filter(|l| l.starts_with("fd ") && l.contains(&format!(" dev {} ", r.dev)) && l.contains(&format!(" rdev {} ", r.rdev))).collect();
    assert!(on_pty_fds.is_empty(), "the daemon inherited the admin's terminal {} as {on_pty_fds:?}\n{report}", r.tty);
    assert!(stop.status.success(), "{}", stderr(&stop));
}

#[test]
fn exec_and_enter_on_a_terminal_get_a_pty_of_the_context() {
    root!();
    let v = Vw::new("esc-pty");
    v.tree("escp");
    v.conf("escp", "S_HOSTNAME=escp\n");
    let o = v.vserver(&["--silent", "escp", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let driver = || {
        let mut c = v.w.cmd_raw(python());
        c.env("VSBOX_CONFDIR", &v.confdir).env("VSBOX_ROOTDIR", &v.rootdir).env_remove("PROFILE").env("TERM", "dumb");
        c
    };
    let exec = on_pty(driver(), &[BIN, "vserver", "escp", "exec", "tty"], "", 0.3, false);
    let enter = on_pty(driver(), &[BIN, "vserver", "--silent", "escp", "enter"], "tty\nexit\n", 0.3, false);
    let stop = v.vserver(&["escp", "stop"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    let mut bad = Vec::new();
    if !exec.out.contains("/dev/pts/0") {
        bad.push(format!("`vserver exec tty` on a terminal: {:?} (rc {})", exec.out, exec.rc));
    }
    if !enter.out.contains("/dev/pts/0") {
        bad.push(format!("`tty` in `vserver enter` on a terminal: {:?} (rc {})", enter.out, enter.rc));
    }
    assert!(bad.is_empty(), "a pty of the context's own, relayed, is /dev/pts/0 inside:\n{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------
// 4. Inherited descriptors
// ---------------------------------------------------------------------------

fn fd_script(w: &World, extra: &[&str], inner: &str) -> Ran {
    let d = w.dir.path().join("fd7");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("host-marker"), "host secret\n").unwrap();
    let mut c = Command::new("bash");
    c.args(["-c", r#"exec 7<"$D"; echo '== caller'; ls -l /proc/$$/fd; exec "$V" chcontext --silent "$@""#, "bash"])
        .args(extra)
        .args(["--", "sh", "-c", inner])
        .env("D", &d)
        .env("V", BIN)
        .env("VSBOX_RUNDIR", &w.rundir)
        .env("VSBOX_CGROUP", &w.cgroup);
    run_for(c, 30, None)
}

fn section(out: &str, name: &str) -> String {
    let start = out.find(&format!("== {name}\n")).map(|i| i + name.len() + 4).unwrap_or(out.len());
    let rest = &out[start..];
    rest[..rest.find("== ").unwrap_or(rest.len())].to_owned()
}

#[test]
fn a_callers_descriptors_stay_outside_the_context() {
    root!();
    let w = World::new("esc-fds");
    let d = w.dir.path().join("fd7");
    let ran = fd_script(
        &w,
        &[],
        "echo '== self'; ls /proc/self/fd; echo '== init'; ls -l /proc/1/fd; echo '== read'; \
         cat /proc/1/fd/7/host-marker 2>/dev/null; cat /proc/self/fd/7/host-marker 2>/dev/null; echo '== end'",
    );
    assert!(ran.code() == Some(0), "{}", ran.show());
    let own: BTreeSet<String> = section(&ran.stdout, "self").split_whitespace().map(str::to_owned).collect();
    let want: BTreeSet<String> = ["0", "1", "2", "3"].iter().map(|s| s.to_string()).collect();
    assert_eq!(own, want, "the command holds only stdio and ls's own directory\n{}", ran.show());
    let init = section(&ran.stdout, "init");
    assert!(!init.contains(d.to_str().unwrap()), "the context's init holds the caller's directory:\n{init}");
    // Nothing the caller had open above 2 (fd 7, and whatever its own parent left
    // it) is among the init's descriptors either.
    let above2 = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.split_once(" -> ").map(|(a, b)| (a.rsplit(' ').next().unwrap_or("").to_owned(), b.trim().to_owned())))
            .filter(|(n, _)| n.parse::<u32>().is_ok_and(|n| n > 2))
            .map(|(_, t)| t)
            .collect()
    };
    // (/dev/null is left out: an init may well open it for itself.)
    let caller: BTreeSet<String> = above2(&section(&ran.stdout, "caller")).into_iter().filter(|t| t != "/dev/null").collect();
    assert!(caller.iter().any(|t| t == d.to_str().unwrap()), "the caller holds fd 7: {caller:?}");
    let shared: Vec<String> = above2(&init).intersection(&caller).cloned().collect();
    assert!(shared.is_empty(), "the context's init holds the caller's descriptors {shared:?}:\n{init}");
    assert!(!section(&ran.stdout, "read").contains("host secret"), "a host file read through an inherited descriptor\n{}", ran.show());
}

/// Waits for the `--keep-fd N` option of chcontext (the explicit way to hand a
/// descriptor to a context): fails until it exists.
#[test]
fn keep_fd_hands_over_exactly_the_named_descriptor_awaiting_the_keep_fd_option() {
    root!();
    let w = World::new("esc-keepfd");
    let ran = fd_script(&w, &["--keep-fd", "7"], "echo '== self'; ls /proc/self/fd; echo '== read'; cat /proc/self/fd/7/host-marker; echo '== end'");
    assert!(ran.code() == Some(0), "chcontext --keep-fd 7: {}", ran.show());
    let own: BTreeSet<String> = section(&ran.stdout, "self").split_whitespace().map(str::to_owned).collect();
    let want: BTreeSet<String> = ["0", "1", "2", "3", "7"].iter().map(|s| s.to_string()).collect();
    assert_eq!(own, want, "{}", ran.show());
    assert!(section(&ran.stdout, "read").contains("host secret"), "{}", ran.show());
}

// ---------------------------------------------------------------------------
// 6. FIFOs in the guest tree
// ---------------------------------------------------------------------------

#[test]
fn guest_fifos_do_not_freeze_host_commands() {
    root!();
    let v = Vw::new("esc-fifo");
    let ta = v.tree("fifoa");
    let tb = v.tree("fifob");
    v.conf("fifoa", "S_HOSTNAME=fifoa\n");
    v.conf("fifob", "S_HOSTNAME=fifob\n");
    let o = v.vserver(&["--silent", "fifoa", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A running guest makes its inittab a FIFO; a stopped one has one already.
    let o = v.vserver(&["fifoa", "exec", "sh", "-c", "rm -f /etc/inittab && mkfifo /etc/inittab"]);
    assert!(o.status.success(), "{}", stderr(&o));
    mkfifo(&tb.join("etc/inittab"));
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            let r = v.vserver_for(&["fifoa", "stop"], 30, None);
            if r.timed_out() {
                failures.lock().unwrap().push(format!("`vserver fifoa stop` with a FIFO inittab hung:\n{}", r.show()));
            }
        });
        s.spawn(|| {
            let r = v.vserver_for(&["--silent", "fifob", "start"], 30, None);
            if r.timed_out() {
                failures.lock().unwrap().push(format!("`vserver fifob start` with a FIFO inittab hung:\n{}", r.show()));
                return;
            }
            // Running (or not): a FIFO passwd must not freeze suexec either.
            mkfifo(&tb.join("etc/passwd"));
            let r = v.vserver_for(&["fifob", "suexec", "web", "true"], 30, None);
            if r.timed_out() {
                failures.lock().unwrap().push(format!("`vserver fifob suexec` with a FIFO passwd hung:\n{}", r.show()));
            }
            let r = v.vserver_for(&["fifob", "stop"], 30, None);
            if r.timed_out() {
                failures.lock().unwrap().push(format!("`vserver fifob stop` hung:\n{}", r.show()));
            }
        });
    });
    let _ = std::fs::remove_file(ta.join("etc/inittab"));
    let _ = std::fs::remove_file(tb.join("etc/inittab"));
    let _ = std::fs::remove_file(tb.join("etc/passwd"));
    let f = failures.into_inner().unwrap();
    assert!(f.is_empty(), "{}", f.join("\n\n"));
}

// ---------------------------------------------------------------------------
// 7. A context without a root tree: the registry lock and /sys
// ---------------------------------------------------------------------------

#[test]
fn a_context_cannot_take_the_registry_lock_and_sys_is_read_only() {
    root!();
    let w = World::new("esc-lock");
    let o = w.run(&["chcontext", "--silent", "--", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // /sys from inside (before the lock is taken: this chcontext would wait too).
    let sys = w.run(&[
        "chcontext",
        "--secure",
        "--silent",
        "--",
        "sh",
        "-c",
        // The value each file holds, written back: a success changes nothing.
        "f=/sys/kernel/mm/transparent_hugepage/enabled; v=$(sed 's/.*\\[\\(.*\\)\\].*/\\1/' $f); \
         echo $v > $f 2>/dev/null && echo WROTE-SYS $f; \
         f=/sys/kernel/rcu_expedited; v=$(cat $f); echo $v > $f 2>/dev/null && echo WROTE-SYS $f; true",
    ]);
    let lock = w.rundir.join("lock");
    let host_lock = std::fs::metadata(&lock).map(|m| format!("{}:{}", m.dev(), m.ino())).unwrap_or_else(|_| "absent".into());
    let seen = w.dir.path().join("seen");
    let script = format!(
        "stat -L -c '%d:%i' {l} > {s} 2>/dev/null || echo absent > {s}; exec flock {l} sleep 30",
        l = lock.display(),
        s = seen.display()
    );
    // Detached, with no pipe of ours: the holder must not make us wait.
    let st = w.cmd().args(["chcontext", "--secure", "--silent", "--disconnect", "--", "sh", "-c", &script]).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert!(st.success());
    let inside = wait_for_text(&seen, "\n", 10);
    std::thread::sleep(Duration::from_millis(500)); // let flock take it, if it can
    let mut c = w.cmd();
    c.args(["chcontext", "--silent", "--", "true"]);
    let r = run_for(c, 10, None);
    let mut bad = Vec::new();
    if r.timed_out() {
        bad.push(format!("a host chcontext waited for a lock taken from inside a context (inside, the lock was {:?}, the host's {host_lock}):\n{}", inside.trim(), r.show()));
    } else if r.code() != Some(0) {
        bad.push(format!("the host chcontext failed: {}", r.show()));
    }
    if inside.trim() != "absent" && inside.trim() == host_lock {
        bad.push(format!("the context reached the registry lock file itself ({})", inside.trim()));
    }
    if !sys.status.success() || stdout(&sys).contains("WROTE-SYS") {
        bad.push(format!("/sys is writable from chcontext --secure: {}{}", stdout(&sys), stderr(&sys)));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_chcontext_waiting_for_the_registry_lock_answers_sigterm() {
    root!();
    let w = World::new("esc-lockterm");
    let o = w.run(&["chcontext", "--silent", "--", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = w.rundir.join("lock");
    /// A child in a process group of its own, killed with its group.
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            kill_group(self.0.id() as i32);
            let _ = self.0.wait();
        }
    }
    let spawn = |c: &mut Command| Kill(c.process_group(0).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    // -o: the lock stays with flock itself, not with its sleep.
    let holder = spawn(Command::new("flock").arg("-o").arg(&lock).args(["sleep", "60"]));
    let end = Instant::now() + Duration::from_secs(10);
    while Command::new("flock").args(["-n"]).arg(&lock).arg("true").status().unwrap().success() {
        assert!(Instant::now() < end, "flock never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut waiting = spawn(w.cmd().args(["chcontext", "--silent", "--", "true"]));
    std::thread::sleep(Duration::from_millis(700));
    assert!(waiting.0.try_wait().unwrap().is_none(), "chcontext did not wait for the registry lock at {} (the test needs it to)", lock.display());
    kill(waiting.0.id() as i32, 15);
    let end = Instant::now() + Duration::from_secs(5);
    let st = loop {
        if let Some(st) = waiting.0.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > end {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(holder);
    assert!(st.is_some(), "a chcontext waiting for the registry lock ignored SIGTERM for 5 s");
}

// ---------------------------------------------------------------------------
// 8. ULIMIT and S_NICE through every way into a vserver
// ---------------------------------------------------------------------------

fn forks(text: &str) -> Option<(u32, u32)> {
    let l = text.lines().find(|l| l.starts_with("forks "))?;
    let f: Vec<&str> = l.split_whitespace().collect();
    Some((f.get(1)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

#[test]
fn ulimit_nproc_and_nice_bind_root_through_start_exec_enter_and_service() {
    root!();
    let v = Vw::new("esc-ulimit");
    let t = v.tree("escu");
    let hns = host_pidns();
    let bomb = format!("/opt/probe {hns} forkbomb max=60; /opt/probe {hns} nice");
    write_mode(&t.join("etc/init.d/bomb"), &format!("#!/bin/sh\ncase \"$1\" in\nstart) {bomb} ;;\nesac\n"), 0o755);
    write_mode(&t.join("etc/init.d/bootbomb"), &format!("#!/bin/sh\ncase \"$1\" in\nstart) ({bomb}) > /tmp/boot.out 2>&1 ;;\nesac\n"), 0o755);
    std::os::unix::fs::symlink("../init.d/bootbomb", t.join("etc/rc3.d/S50bootbomb")).unwrap();
    v.conf("escu", "S_HOSTNAME=escu\nULIMIT=\"-H -u 20\"\nS_NICE=5\n");
    let o = v.vserver(&["--silent", "escu", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let start = std::fs::read_to_string(t.join("tmp/boot.out")).unwrap_or_default();
    let exec = stdout(&v.vserver(&["escu", "exec", "sh", "-c", &bomb]));
    let enter = v.vserver_for(&["--silent", "escu", "enter"], 60, Some(&format!("{bomb}\nexit\n"))).stdout;
    let service = stdout(&v.vserver(&["escu", "service", "bomb", "start"]));
    let stop = v.vserver(&["escu", "stop"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    let mut bad = Vec::new();
    for (how, text) in [("start", &start), ("exec", &exec), ("enter", &enter), ("service", &service)] {
        match forks(text) {
            Some((f, p)) if p <= 20 && f >= 3 && f < 60 => {}
            other => bad.push(format!("{how}: ULIMIT=\"-H -u 20\" should stop root at 20 processes in the context, got (forks, procs) {other:?}: {text:?}")),
        }
        let nice = text.lines().filter(|l| l.trim().parse::<i32>().is_ok()).last().map(str::trim);
        if nice != Some("5") {
            bad.push(format!("{how}: S_NICE=5 should show in the niceness, got {nice:?}: {text:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------
// 9. Joins racing a context's end
// ---------------------------------------------------------------------------

#[test]
fn joins_racing_a_contexts_end_have_one_clean_outcome() {
    root!();
    // Four loops in one registry: a number that ends is soon taken by a neighbour's
    // creation, so a join meets every stage of an end and of a beginning.
    let w = World::new("esc-race");
    let bad = std::sync::Mutex::new(Vec::<String>::new());
    let counts = std::sync::Mutex::new((0u32, 0u32));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (w, bad, counts) = (&w, &bad, &counts);
            s.spawn(move || {
                for i in 0..50u64 {
                    let ms = 10 + (i % 5) * 10;
                    let o = w.run(&["chcontext", "--disconnect", "--", "sleep", &format!("0.0{}", ms / 10)]);
                    if !o.status.success() {
                        bad.lock().unwrap().push(format!("create: {:?} {}", o.status, stderr(&o)));
                        continue;
                    }
                    let n = ctx_number(&stdout(&o)).to_string();
                    // Around the end: a little before, at, or after it.
                    std::thread::sleep(Duration::from_millis(ms - 8 + (i * 7 + t * 3) % 17));
                    let j = w.run(&["chcontext", "--ctx", &n, "--silent", "--", "true"]);
                    let e = stderr(&j);
                    let killed = j.status.signal() == Some(9) || j.status.code() == Some(137);
                    if j.status.success() {
                        counts.lock().unwrap().0 += 1;
                    } else if j.status.code() == Some(255) && e.contains("ended meanwhile") && e.lines().count() == 1 {
                        counts.lock().unwrap().1 += 1;
                    } else {
                        bad.lock().unwrap().push(format!("join {n}: {:?}{} {e:?}", j.status, if killed { " (SIGKILL)" } else { "" }));
                    }
                }
            });
        }
    });
    let (ok, ended) = *counts.lock().unwrap();
    eprintln!("join races: {ok} joined (or made afresh), {ended} 'ended meanwhile'");
    let b = bad.into_inner().unwrap();
    assert!(b.is_empty(), "{} of 200 joins ended otherwise:\n{}", b.len(), b.join("\n"));
}

// ---------------------------------------------------------------------------
// Hostile symlinks in a guest tree
// ---------------------------------------------------------------------------

/// Every file below `dir` with its content and mtime.
fn snapshot(dir: &Path) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, String, i64)>) {
        let mut ents: Vec<_> = std::fs::read_dir(d).unwrap().flatten().collect();
        ents.sort_by_key(|e| e.file_name());
        for e in ents {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if m.is_dir() {
                out.push((rel + "/", String::new(), m.mtime()));
                walk(base, &p, out);
            } else {
                out.push((rel, std::fs::read_to_string(&p).unwrap_or_default(), m.mtime()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

#[test]
fn hostile_symlinks_in_a_guest_never_touch_host_files() {
    root!();
    let v = Vw::new("esc-sym");
    let t = v.tree("escs");
    let h = v.w.dir.path().join("hostmarks");
    for d in ["run", "subsys", "rc5"] {
        std::fs::create_dir_all(h.join(d)).unwrap();
    }
    std::fs::write(h.join("run/keep.pid"), "1\n").unwrap();
    std::fs::write(h.join("subsys/keep"), "host\n").unwrap();
    std::fs::write(h.join("inittab"), "id:3:initdefault:\n").unwrap();
    std::fs::write(h.join("profile"), "host profile\n").unwrap();
    std::fs::remove_dir_all(t.join("var/run")).unwrap();
    std::fs::remove_dir_all(t.join("var/lock/subsys")).unwrap();
    let link = |target: &Path, at: &str| std::os::unix::fs::symlink(target, t.join(at)).unwrap();
    link(&h.join("run"), "var/run");
    link(&h.join("subsys"), "var/lock/subsys");
    link(&h.join("inittab"), "etc/inittab");
    link(&h.join("profile"), "etc/PROFILE");
    link(&h.join("rc5"), "etc/rc5.d");
    v.conf("escs", "S_HOSTNAME=escs\n");
    let before = snapshot(&h);
    std::thread::sleep(Duration::from_millis(1100)); // an mtime change would show
    let o = v.cmd().env("PROFILE", "hostile").args(["vserver", "--silent", "escs", "start"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = v.vserver(&["escs", "stop"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = v.vserver(&["escs", "chkconfig", "--level", "5", "sleeper", "on"]);
    let o = v.cmd().env("PROFILE", "hostile").args(["vserver", "escs", "exec", "true"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(snapshot(&h), before, "host files behind the guest's symlinks changed");
}
