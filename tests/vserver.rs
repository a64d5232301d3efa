//! The `vserver` applet on the real kernel: lifecycle (start, running, status,
//! enter, exec, suexec, stop, restart), what a guest sees, a daemon reachable only
//! on IPROOT, labelled aliases on a veth (inside a network namespace each test
//! makes), --nodev, --onboot, the per-vserver lock, build (copy, tarball,
//! debootstrap), chkconfig, the seed's example confs, and every bad input.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

macro_rules! root {
    () => {
        if !root_or_skip(module_path!()) {
            return;
        }
    };
}

/// A World plus a conf directory and a root directory of its own.
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

    fn conf(&self, name: &str, text: &str) {
        let p = self.confdir.join(format!("{name}.conf"));
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn tree(&self, name: &str) -> PathBuf {
        let t = self.rootdir.join(name);
        busybox_tree(&t);
        t
    }

    /// Run `script` with bash in a fresh network namespace (lo up, a veth pair
    /// v0/v1 up), with $B, the vsbox env and PATH set; the namespace and its
    /// links go away with the shell.
    fn in_netns(&self, script: &str, extra_env: &[(&str, &str)]) -> Output {
        let full = format!(
            "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nip link set lo up && ip link add v0 type veth peer name v1 && \
             ip link set v0 up && ip link set v1 up || exit 99\n{script}"
        );
        let mut c = Command::new("unshare");
        c.args(["--net", "--", "bash", "-c", &full])
            .env("B", BIN)
            .env("VSBOX_RUNDIR", &self.w.rundir)
            .env("VSBOX_CGROUP", &self.w.cgroup)
            .env("VSBOX_CONFDIR", &self.confdir)
            .env("VSBOX_ROOTDIR", &self.rootdir)
            .env_remove("PROFILE")
            .stdin(Stdio::null());
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.output().expect("run unshare")
    }

    /// Nothing of this world left: registry, cgroups, mounts, vserver state.
    fn assert_clean(&self) {
        let left = self.w.wait_clean();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert!(!self.w.rundir.join("vserver").exists(), "vserver state left: {:?}", std::fs::read_dir(self.w.rundir.join("vserver")).map(|d| d.count()));
    }
}

/// A busybox-static guest: applet links, users, an rc script running
/// /etc/rcN.d/S* with start (K* with stop for 0 and 6), and two services: httpd
/// (port 80, /www) and a sleeper; both write a marker into /tmp when stopped.
fn busybox_tree(t: &Path) {
    for d in ["bin", "etc/init.d", "etc/rc3.d", "etc/rc6.d", "www", "tmp", "root", "home/web", "var/run", "var/lock/subsys"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
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
    let w = |p: &str, text: &str, mode: u32| {
        std::fs::write(t.join(p), text).unwrap();
        std::fs::set_permissions(t.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    w("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000:web:/home/web:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n", 0o644);
    w("etc/group", "root:x:0:\nweb:x:1000:\nstaff:x:50:web\nnogroup:x:65534:\n", 0o644);
    w(
        "etc/init.d/rc",
        "#!/bin/sh\ncase \"$1\" in\n0|6) for s in /etc/rc$1.d/K*; do [ -x \"$s\" ] && \"$s\" stop; done ;;\n\
         *) for s in /etc/rc$1.d/S*; do [ -x \"$s\" ] && \"$s\" start; done ;;\nesac\necho \"rc $1 done (RUNLEVEL=$RUNLEVEL)\"\n",
        0o755,
    );
    w(
        "etc/init.d/httpd",
        "#!/bin/sh\ncase \"$1\" in\nstart) httpd -p 80 -h /www && echo httpd started ;;\nstop) killall httpd; echo stopped > /tmp/httpd.stopped ;;\n\
         status) pidof httpd >/dev/null && echo running || echo stopped ;;\nesac\n",
        0o755,
    );
    w(
        "etc/init.d/sleeper",
        "#!/bin/sh\ncase \"$1\" in\nstart) sleep 600 </dev/null >/dev/null 2>&1 & echo sleeper started ;;\nstop) killall sleep; echo stopped > /tmp/sleeper.stopped ;;\nesac\n",
        0o755,
    );
    w("www/index.html", "hello from vsbox\n", 0o644);
    std::os::unix::fs::symlink("../init.d/sleeper", t.join("etc/rc3.d/S10sleeper")).unwrap();
    std::os::unix::fs::symlink("../init.d/sleeper", t.join("etc/rc6.d/K10sleeper")).unwrap();
}

fn one_error_line(o: &Output, prefix: &str) -> String {
    let e = stderr(o);
    assert_eq!(e.lines().count(), 1, "one line on stderr, got {e:?}");
    assert!(e.starts_with(prefix), "{e:?} starts with {prefix:?}");
    e
}

#[test]
fn lifecycle_daemon_and_aliases_in_a_netns() {
    root!();
    let v = Vw::new("vs-life");
    let t = v.tree("web");
    std::os::unix::fs::symlink("../init.d/httpd", t.join("etc/rc3.d/S20httpd")).unwrap();
    std::os::unix::fs::symlink("../init.d/httpd", t.join("etc/rc6.d/K20httpd")).unwrap();
    v.conf("web", "# Description: a test web server\nIPROOT=127.0.0.5/8\nIPROOTDEV=v0\nS_HOSTNAME=web.vsbox.test\nS_FLAGS=\"lock nproc\"\nULIMIT=\"-H -u 1000\"\n");
    let o = v.in_netns(
        r#"
trap '$B vserver web stop >/dev/null 2>&1' EXIT
echo "== start"; $B vserver web start; echo "start=$?"
echo "== labels"; ip -4 -o addr show dev v0
echo "== running"; $B vserver web running; echo "running=$?"
echo "== status"; $B vserver web status
echo "== hostname"; $B vserver web exec hostname
echo "== dev"; $B vserver web exec ls /dev | tr '\n' ' '; echo
echo "== pid1"; $B vserver web exec cat /proc/1/cmdline | tr '\0' ' '; echo
echo "== procs"; $B vserver web exec sh -c 'ls -d /proc/[0-9]* | wc -l'
echo "== suexec"; $B vserver web suexec web id
echo "== enter"; printf 'echo inside=$(hostname)\n' | $B vserver web enter
echo "== http5"; busybox wget -q -O - http://127.0.0.5/index.html; echo "http5=$?"
echo "== http1"; busybox wget -q -O - http://127.0.0.1/index.html; echo "http1=$?"
echo "== http2"; busybox wget -q -O - http://127.0.0.2/index.html; echo "http2=$?"
echo "== inside-lback"; $B vserver web exec wget -q -O - http://127.0.0.1/index.html
echo "== otherbind"; $B vserver web exec httpd -f -p 127.0.0.9:81 -h /www; echo "otherbind=$?"
echo "== service"; $B vserver web service httpd status
echo "== restart"; $B vserver --silent web restart >/dev/null; echo "restart=$?"; $B vserver web running; echo "running2=$?"
echo "== http5b"; busybox wget -q -O - http://127.0.0.5/index.html
echo "== stop"; $B vserver web stop; echo "stop=$?"
echo "== labels2"; ip -4 -o addr show dev v0
echo "== running3"; $B vserver web running; echo "running3=$?"
echo "== stop2"; $B vserver web stop; echo "stop2=$?"
"#,
        &[("TERM", "dumb")],
    );
    let out = stdout(&o);
    let err = stderr(&o);
    let sec = |name: &str| -> String {
        let start = out.find(&format!("== {name}\n")).unwrap_or_else(|| panic!("no section {name} in:\n{out}\n{err}")) + name.len() + 4;
        let rest = &out[start..];
        rest[..rest.find("\n== ").map(|i| i + 1).unwrap_or(rest.len())].to_owned()
    };
    let s = sec("start");
    assert!(s.starts_with("Starting the virtual server web\nipv4root is now 127.0.0.5\nHost name is now web.vsbox.test\nNew security context is "), "{s}\n{err}");
    assert!(s.contains("sleeper started") && s.contains("httpd started") && s.contains("rc 3 done (RUNLEVEL=3)") && s.ends_with("start=0\n"), "{s}\n{err}");
    let l = sec("labels");
    assert!(l.contains("127.0.0.5/8") && l.contains("v0:web"), "alias with its label: {l}");
    assert_eq!(sec("running"), "running=0\n");
    let st = sec("status");
    assert!(st.contains("Server web is running\nSecurity context: ") && st.contains("Addresses: 127.0.0.5/8") && st.contains("Vserver uptime: 0m0"), "{st}");
    let n: u32 = st.lines().find_map(|l| l.strip_suffix(" processes running")).unwrap().parse().unwrap();
    assert!(n >= 3, "init, sleeper, httpd: {st}");
    assert_eq!(sec("hostname"), "web.vsbox.test\n");
    assert_eq!(sec("dev").trim(), "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero");
    assert_eq!(sec("pid1").trim(), "init", "PID 1 is the vsbox init, shown as init");
    let procs: u32 = sec("procs").trim().parse().unwrap();
    assert!(procs <= 8, "only the vserver's own processes: {procs}");
    assert_eq!(sec("suexec").trim(), "uid=1000(web) gid=1000(web) groups=50(staff),1000(web)");
    let e = sec("enter");
    assert!(e.starts_with("ipv4root is now 127.0.0.5\nNew security context is ") && e.contains("inside=web.vsbox.test"), "{e}");
    assert_eq!(sec("http5"), "hello from vsbox\nhttp5=0\n", "the daemon bound to 0.0.0.0 answers on IPROOT\n{err}");
    assert!(sec("http1").ends_with("http1=1\n"), "not on 127.0.0.1: {}", sec("http1"));
    assert!(sec("http2").ends_with("http2=1\n"), "not on another local address: {}", sec("http2"));
    assert_eq!(sec("inside-lback"), "hello from vsbox\n", "inside, 127.0.0.1 is the vserver's own address");
    assert!(sec("otherbind").ends_with("otherbind=1\n"), "binding another address fails inside: {}", sec("otherbind"));
    assert!(err.contains("Cannot assign requested address") || err.contains("bind"), "{err}");
    assert_eq!(sec("service"), "running\n");
    assert_eq!(sec("restart"), "restart=0\nrunning2=0\n");
    assert_eq!(sec("http5b"), "hello from vsbox\n", "serving again after restart");
    let s = sec("stop");
    assert!(s.starts_with("Stopping the virtual server web\n") && s.contains("rc 6 done") && s.contains("Killing all processes") && s.ends_with("stop=0\n"), "{s}");
    assert!(!sec("labels2").contains("v0:web"), "alias removed at stop: {}", sec("labels2"));
    assert_eq!(sec("running3"), "running3=1\n");
    assert_eq!(sec("stop2"), "Server web is not running\nstop2=0\n", "stopping a stopped vserver is a no-op");
    assert_eq!(std::fs::read_to_string(t.join("tmp/httpd.stopped")).unwrap(), "stopped\n", "the guest's shutdown scripts ran");
    v.assert_clean();
}

#[test]
fn nodev_skips_aliases_and_a_missing_iprootdev_is_refused() {
    root!();
    let v = Vw::new("vs-nodev");
    v.tree("nd");
    v.tree("baddev");
    v.tree("longlabelname");
    v.conf("nd", "IPROOT=\"127.0.0.6 127.0.0.7/16\"\nIPROOTDEV=v0\n");
    v.conf("baddev", "IPROOT=127.0.0.8\nIPROOTDEV=nosuch0\n");
    v.conf("longlabelname", "IPROOT=127.0.0.9\nIPROOTDEV=v0\n");
    let o = v.in_netns(
        r#"
$B vserver --nodev --silent nd start >/dev/null; echo "nodev=$?"; ip -4 -o addr show dev v0 | grep -c ':nd' ; $B vserver nd stop >/dev/null
$B vserver --silent nd start >/dev/null; echo "dev=$?"; ip -4 -o addr show dev v0 | awk '{for(i=1;i<=NF;i++) if ($i ~ /^v0:/) {l=$i; sub(/\\$/,"",l); print $4, l}}' | sort; $B vserver nd stop >/dev/null
ip -4 -o addr show dev v0 | grep -c ':nd'
$B vserver baddev start; echo "baddev=$?"
$B vserver longlabelname start; echo "long=$?"
"#,
        &[],
    );
    let out = stdout(&o);
    let err = stderr(&o);
    assert!(out.contains("nodev=0\n0\n"), "--nodev: no alias\n{out}\n{err}");
    assert!(out.contains("dev=0\n127.0.0.6/24 v0:nd\n127.0.0.7/16 v0:nd1\n0\n"), "two aliases, labelled nd and nd1, gone after stop\n{out}\n{err}");
    assert!(out.contains("baddev=1"), "{out}");
    assert!(err.contains("vserver baddev: the IPROOTDEV device nosuch0 does not exist"), "{err}");
    assert!(out.contains("long=1"), "{out}");
    assert!(err.contains("vserver longlabelname: the alias label 'v0:longlabelname' is longer than 15 bytes"), "{err}");
    v.assert_clean();
}

#[test]
fn twenty_concurrent_starts_make_exactly_one_vserver() {
    root!();
    let v = Vw::new("vs-lock");
    v.tree("lk");
    v.conf("lk", "S_HOSTNAME=lk\n");
    let children: Vec<_> = (0..20)
        .map(|_| v.cmd().args(["vserver", "lk", "start"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let started = outs.iter().filter(|o| stdout(o).contains("New security context is")).count();
    let already = outs.iter().filter(|o| stderr(o).contains("Server lk is already running")).count();
    for o in &outs {
        assert!(o.status.success(), "exit 0 for all (the spec's code for 'already running'): {}", stderr(o));
    }
    assert_eq!((started, already), (1, 19), "{:?}", outs.iter().map(stderr).collect::<Vec<_>>());
    assert_eq!(v.w.ids().len(), 1, "one context in the registry");
    assert_eq!(v.vserver(&["lk", "running"]).status.code(), Some(0));
    let o = v.vserver(&["lk", "stop"]);
    assert!(o.status.success(), "{}", stderr(&o));
    v.assert_clean();
}

#[test]
fn fakeinit_runs_the_guests_init_as_pid_1() {
    root!();
    let v = Vw::new("vs-fake");
    let t = v.tree("fi");
    std::fs::create_dir_all(t.join("sbin")).unwrap();
    std::fs::write(t.join("sbin/init"), "#!/bin/sh\necho $$ > /tmp/init.pid\nexec sleep 600 </dev/null >/dev/null 2>&1\n").unwrap();
    std::fs::set_permissions(t.join("sbin/init"), std::fs::Permissions::from_mode(0o755)).unwrap();
    v.conf("fi", "S_FLAGS=\"fakeinit lock\"\nS_HOSTNAME=fi\n");
    let o = v.vserver(&["--silent", "fi", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = v.vserver(&["fi", "exec", "cat", "/proc/1/cmdline"]);
    assert_eq!(stdout(&o).replace('\0', " ").trim(), "sleep 600", "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(t.join("tmp/init.pid")).unwrap().trim(), "1");
    let o = v.vserver(&["fi", "stop"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(v.vserver(&["fi", "running"]).status.code(), Some(1));
    v.assert_clean();
}

#[test]
fn onboot_starts_and_stops_the_onboot_vservers() {
    root!();
    let v = Vw::new("vs-boot");
    for n in ["ba", "bb", "bc"] {
        v.tree(n);
    }
    v.conf("ba", "ONBOOT=yes\nPRIORITY=20\n");
    v.conf("bb", "ONBOOT=yes\nPRIORITY=10\n");
    v.conf("bc", "ONBOOT=no\n");
    v.conf("bd", "ONBOOT=yes\n"); // no tree: fails, the others still start
    let o = v.cmd().args(["vserver", "--onboot", "start"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "one failed: {}", stderr(&o));
    let out = stdout(&o);
    let (ia, ib) = (out.find("server ba").unwrap(), out.find("server bb").unwrap());
    assert!(ib < ia, "PRIORITY order: {out}");
    assert!(stderr(&o).contains("vserver bd: No directory for this vserver"), "{}", stderr(&o));
    let running = |n: &str| v.vserver(&[n, "running"]).status.code() == Some(0);
    assert!(running("ba") && running("bb") && !running("bc"));
    let o = v.cmd().args(["vserver", "--onboot", "stop"]).output().unwrap();
    assert!(!running("ba") && !running("bb"), "{}", stderr(&o));
    v.assert_clean();
}

#[test]
fn bad_input_gives_one_line_and_the_spec_code() {
    root!();
    let v = Vw::new("vs-bad");
    v.tree("ok");
    v.conf("ok", "S_HOSTNAME=ok\n");
    v.conf("nodir", "S_HOSTNAME=x\n");
    v.tree("shellbad");
    v.conf("shellbad", "case $PROFILE in\nprod) IPROOT=1.2.3.4 ;;\n");
    v.tree("capbad");
    v.conf("capbad", "S_CAPS=\"CAP_NET_RAW CAP_FLY\"\n");
    v.tree("ulbad");
    v.conf("ulbad", "ULIMIT=\"-H -u lots\"\n");

    let o = v.vserver(&[]);
    assert!(o.status.success() && stdout(&o).starts_with("vserver [ options ] server-name command"), "usage on stdout, exit 0");
    let o = v.vserver(&["--help"]);
    assert!(o.status.success() && stdout(&o).contains("suexec USER CMD"));
    let cases: &[(&[&str], i32, &str, &str)] = &[
        (&["nosuch", "start"], 1, "vserver nosuch: ", "No configuration for this vserver: "),
        (&["nosuch", "stop"], 1, "vserver nosuch: ", "No configuration for this vserver: "),
        (&["nodir", "start"], 1, "vserver nodir: ", "No directory for this vserver: "),
        (&["../x", "start"], 1, "vserver ../x: ", "invalid vserver name"),
        (&["a/b", "status"], 1, "vserver a/b: ", "invalid vserver name"),
        (&["shellbad", "start"], 1, "vserver shellbad: ", "shellbad.conf: /bin/sh cannot evaluate it"),
        (&["capbad", "start"], 1, "vserver capbad: ", "capbad.conf: S_CAPS: 'CAP_FLY' is not a capability"),
        (&["ulbad", "start"], 1, "vserver ulbad: ", "ulbad.conf: ULIMIT: 'lots'"),
        (&["ok", "fly"], 1, "vserver ok: ", "Command unknown 'fly'"),
        (&["ok", "suexec"], 1, "vserver ok: ", "Missing user!"),
        (&["ok", "suexec", "web"], 1, "vserver ok: ", "Missing command and arguments!"),
        (&["ok", "suexec", "ghost", "id"], 255, "vserver ok: ", "User not found: ghost"),
        (&["ok", "chkconfig", "x"], 1, "vserver ok: ", "Invalid argument"),
        (&["ok", "build", "--copy"], 1, "vserver ok: ", "--copy needs a DIR"),
        (&["ok", "build", "--copy", "/"], 1, "vserver ok: ", "Virtual server "),
    ];
    for (args, code, prefix, what) in cases {
        let o = v.vserver(args);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {}", stderr(&o));
        let e = one_error_line(&o, prefix);
        assert!(e.contains(what), "{args:?}: {e:?} should say {what:?}");
    }
    // Already running: the spec's exit 0, with one line saying so.
    assert!(v.vserver(&["--silent", "ok", "start"]).status.success());
    let o = v.vserver(&["ok", "start"]);
    assert_eq!(o.status.code(), Some(0));
    one_error_line(&o, "vserver ok: Server ok is already running (context ");
    // A fixed S_CONTEXT that is taken: the keeper fails before the context exists,
    // the start is rolled back (and does not wait forever for the lock helper).
    let st = stdout(&v.vserver(&["ok", "status"]));
    let n = st.lines().find_map(|l| l.strip_prefix("Security context: ")).unwrap().to_owned();
    v.tree("dup");
    v.conf("dup", &format!("S_CONTEXT={n}\n"));
    let o = v.vserver(&["dup", "start"]);
    assert_eq!(o.status.code(), Some(1));
    let e = one_error_line(&o, "vserver dup: cannot start: ");
    assert!(e.contains("in use"), "{e}");
    assert_eq!(v.vserver(&["dup", "running"]).status.code(), Some(1));
    assert!(v.vserver(&["ok", "stop"]).status.success());
    // Nothing half-made is left by any of the failures.
    v.assert_clean();
}

#[test]
fn seed_examples_and_a_backup_profile() {
    root!();
    let v = Vw::new("vs-seed");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples");
    v.tree("marvin");
    v.tree("db");
    v.conf("marvin", &std::fs::read_to_string(examples.join("example1.conf")).unwrap());
    v.conf("db", &std::fs::read_to_string(examples.join("example2.conf")).unwrap());
    let o = v.in_netns(
        r#"
$B vserver db start; echo "prod=$?"
PROFILE=backup $B vserver --silent db start >/dev/null; echo "backup=$?"
$B vserver db status | grep Addresses
$B vserver db exec sh -c 'echo $PROFILE; cat /etc/PROFILE'
$B vserver db stop >/dev/null
$B vserver --nodev --silent marvin start >/dev/null; echo "marvin=$?"
$B vserver marvin exec hostname
$B vserver marvin status | grep Addresses
$B vserver marvin exec grep CapBnd /proc/self/status
$B vserver marvin stop >/dev/null
"#,
        &[],
    );
    let out = stdout(&o);
    let err = stderr(&o);
    assert!(out.contains("prod=1"), "prod wants eth0, which this namespace lacks\n{out}\n{err}");
    assert!(err.contains("vserver db: the IPROOTDEV device eth0 does not exist"), "{err}");
    assert!(out.contains("backup=0\nAddresses: 0.0.0.0 (any)\nbackup\nexport PROFILE=backup\n"), "the backup branch: no address\n{out}\n{err}");
    assert!(out.contains("marvin=0\nmarvin.stat.unipd.it\nAddresses: 147.162.35.1/24\n"), "{out}\n{err}");
    let bnd = out.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim();
    let bnd = u64::from_str_radix(bnd, 16).unwrap();
    assert!(bnd & (1 << 13) != 0 && bnd & (1 << 21) == 0, "CAP_NET_RAW given back, CAP_SYS_ADMIN gone: {bnd:#x}");
    v.assert_clean();
}

#[test]
fn build_copy_tarball_chkconfig_and_the_commented_conf() {
    root!();
    let v = Vw::new("vs-build");
    let tmpl = v.w.dir.path().join("template");
    busybox_tree(&tmpl);
    std::fs::write(tmpl.join("var/run/stale.pid"), "1\n").unwrap();
    std::fs::hard_link(tmpl.join("etc/passwd"), tmpl.join("etc/passwd.hl")).unwrap();
    let o = v.vserver(&["cp1", "build", "--copy", tmpl.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let root = v.rootdir.join("cp1");
    assert!(stdout(&o).contains(&format!("Directory {} has been populated", root.display())), "{}", stdout(&o));
    assert!(stdout(&o).contains("cp1.conf has been created. Look at it!"));
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (std::fs::metadata(root.join("etc/passwd")).unwrap(), std::fs::metadata(root.join("etc/passwd.hl")).unwrap());
    assert_eq!(a.ino(), b.ino(), "hard links kept");
    assert_eq!(std::fs::read_link(root.join("bin/sh")).unwrap(), Path::new("/bin/busybox"), "symlinks copied as links");
    assert_eq!(std::fs::metadata(root.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    assert!(!root.join("var/run/stale.pid").exists(), "build cleans var/run");
    let conf = std::fs::read_to_string(v.confdir.join("cp1.conf")).unwrap();
    assert!(conf.starts_with("# Description: vserver cp1") && conf.contains("S_FLAGS=\"lock nproc\"") && conf.contains("ULIMIT=\"-H -u 1000\""));
    // The written conf is usable as it is (untied, no device): start and stop.
    v.conf("cp1", &conf.replace("IPROOT=192.0.2.1", "IPROOT="));
    let o = v.vserver(&["--silent", "cp1", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&v.vserver(&["cp1", "exec", "hostname"])).trim(), "cp1");
    assert!(v.vserver(&["cp1", "stop"]).status.success());

    // chkconfig through the rc?.d links (the busybox guest has no chkconfig).
    let o = v.vserver(&["cp1", "chkconfig", "--level", "35", "httpd", "on"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_link(root.join("etc/rc3.d/S20httpd")).unwrap(), Path::new("../init.d/httpd"));
    assert!(root.join("etc/rc5.d/S20httpd").symlink_metadata().is_ok() && root.join("etc/rc2.d/S20httpd").symlink_metadata().is_err());
    assert!(v.vserver(&["cp1", "chkconfig", "httpd", "off"]).status.success());
    assert!(root.join("etc/rc3.d/K80httpd").symlink_metadata().is_ok() && root.join("etc/rc3.d/S20httpd").symlink_metadata().is_err());
    let o = v.vserver(&["cp1", "chkconfig", "nosuchsvc", "on"]);
    assert_eq!(o.status.code(), Some(1));
    one_error_line(&o, "vserver cp1: chkconfig: there is no service nosuchsvc");

    // --tarball, and a populated tree is refused.
    let tar = v.w.dir.path().join("t.tar");
    assert!(Command::new("tar").args(["-C", tmpl.to_str().unwrap(), "-cf", tar.to_str().unwrap(), "."]).status().unwrap().success());
    let o = v.vserver(&["tb1", "build", "--tarball", tar.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(v.rootdir.join("tb1/bin/busybox").is_file());
    let o = v.vserver(&["tb1", "build", "--tarball", tar.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_error_line(&o, "vserver tb1: Virtual server ");
    v.assert_clean();
}

/// A Debian bookworm tree (minbase), built once by `vserver NAME build
/// --debootstrap` into a cache the tests own and reused by later runs.
const DEB_CACHE: &str = "/var/cache/vsbox-test";
const DEB_NAME: &str = "bookworm-minbase";

fn debian_template() -> PathBuf {
    let cache = Path::new(DEB_CACHE);
    let done = cache.join(DEB_NAME);
    if done.join("etc/debian_version").is_file() {
        return done;
    }
    std::fs::create_dir_all(cache).unwrap();
    std::fs::set_permissions(cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let partial = format!("{DEB_NAME}.partial-{}", std::process::id());
    let confdir = TempDir::new("vs-debconf");
    let o = Command::new(BIN)
        .args(["vserver", &partial, "build", "--debootstrap", "bookworm", "--variant=minbase"])
        .env("VSBOX_ROOTDIR", cache)
        .env("VSBOX_CONFDIR", confdir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let tmp = cache.join(&partial);
    if !o.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        panic!("debootstrap build failed: {}\n{}", stderr(&o), stdout(&o));
    }
    let shown = format!("{}{}", stdout(&o), stderr(&o));
    assert!(shown.contains("I: Base system installed successfully."), "debootstrap's progress is shown: {shown}");
    assert!(confdir.path().join(format!("{partial}.conf")).is_file());
    if std::fs::rename(&tmp, &done).is_err() {
        let _ = std::fs::remove_dir_all(&tmp); // another run finished first
    }
    done
}

#[test]
fn a_debian_vserver_from_debootstrap() {
    root!();
    let tmpl = debian_template();
    let v = Vw::new("vs-deb");
    let o = v.vserver(&["deb", "build", "--copy", tmpl.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let root = v.rootdir.join("deb");
    std::fs::write(
        root.join("etc/init.d/vsbox-sleeper"),
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: vsbox-sleeper\n# Required-Start:\n# Required-Stop:\n# Default-Start: 2 3 4 5\n\
         # Default-Stop: 0 1 6\n# Short-Description: a test daemon\n### END INIT INFO\ncase \"$1\" in\n\
         start) sleep 600 </dev/null >/dev/null 2>&1 & echo $! > /run/vsbox-sleeper.pid; echo sleeper up ;;\n\
         stop) kill $(cat /run/vsbox-sleeper.pid); echo down > /root/sleeper.stopped ;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(root.join("etc/init.d/vsbox-sleeper"), std::fs::Permissions::from_mode(0o755)).unwrap();
    v.conf("deb", "S_HOSTNAME=deb.vsbox.test\nS_FLAGS=\"lock nproc\"\nULIMIT=\"-H -u 1000\"\n");
    // Stopped: chkconfig runs the guest's update-rc.d in a temporary context.
    let o = v.vserver(&["--silent", "deb", "chkconfig", "vsbox-sleeper", "on"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(root.join("etc/rc3.d/S01vsbox-sleeper").symlink_metadata().is_ok(), "update-rc.d made the links");
    assert_eq!(v.vserver(&["deb", "running"]).status.code(), Some(1), "the temporary context is gone");
    let o = v.vserver(&["deb", "start"]);
    assert!(o.status.success() && stdout(&o).contains("sleeper up"), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(v.vserver(&["deb", "running"]).status.code(), Some(0));
    let o = v.vserver(&["deb", "exec", "sh", "-c", "cat /etc/debian_version; hostname; id -u; ls /dev | wc -l"]);
    let out = stdout(&o);
    let l: Vec<&str> = out.lines().collect();
    assert!(l.len() == 4 && l[0].starts_with("12.") && l[1] == "deb.vsbox.test" && l[2] == "0" && l[3] == "13", "{out}\n{}", stderr(&o));
    let o = v.vserver(&["deb", "suexec", "nobody", "id", "-u"]);
    assert_eq!(stdout(&o).trim(), "65534", "{}", stderr(&o));
    let o = v.vserver(&["deb", "service", "vsbox-sleeper", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = v.vserver(&["deb", "stop"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(root.join("root/sleeper.stopped")).unwrap(), "down\n", "the K script ran at stop");
    v.assert_clean();
}

#[test]
fn a_start_that_leaves_nothing_running_is_forgotten_at_once() {
    root!();
    let v = Vw::new("vs-empty");
    let t = v.tree("empty");
    std::fs::remove_file(t.join("etc/rc3.d/S10sleeper")).unwrap();
    v.conf("empty", "S_HOSTNAME=empty\n");
    let state = v.w.rundir.join("vserver/empty.state");
    // The rc runs and nothing stays: by the time start returns, the vserver is
    // known as stopped and its state is gone (the init that exited is not taken
    // for a live one while it waits to be reaped).
    // A start that leaves nothing running has failed (its rc output is in the log).
    let o = v.vserver(&["--silent", "empty", "start"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = one_error_line(&o, "vserver empty: ");
    assert!(e.contains("nothing is left running") && e.contains("vserver empty log"), "{e}");
    assert!(stdout(&v.vserver(&["empty", "log"])).contains("rc 3 done"), "the log keeps the rc output");
    assert!(!state.exists(), "state forgotten when start returns");
    assert_eq!(v.vserver(&["empty", "running"]).status.code(), Some(1));
    // exec on the stopped vserver: a temporary context, the command's status.
    let o = v.vserver(&["empty", "exec", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(!state.exists(), "state forgotten when exec returns");
    v.assert_clean();
}
