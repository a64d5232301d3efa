//! chbind on the real kernel: cgroup-BPF ipv4root for real servers and clients.
//! Every network part runs in a network namespace of its own (`unshare --net`, lo
//! up, 127.0.0.0/8 only); programs go only on the cgroups of the test's World.

mod common;
use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

macro_rules! root {
    () => {
        if !root_or_skip(module_path!()) {
            return;
        }
    };
}

/// Socket operations, each printing `KEY VALUE` lines (KEY prefixed with $TAG).
const PROBE: &str = r#"
import os, socket, subprocess, sys, time
TAG = os.environ.get("TAG", "")
def out(k, v): print(TAG + k, v, flush=True)
def err(e): return "errno%d" % e.errno
def fam(a): return socket.AF_INET6 if ":" in a else socket.AF_INET

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "bind":            # where a TCP bind to each address lands
    for a in args:
        s = socket.socket(fam(a))
        try:
            s.bind((a, 0)); out("bind:" + a, s.getsockname()[0])
        except OSError as e:
            out("bind:" + a, err(e))
        s.close()
elif cmd == "raw":
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close(); out("raw", "ok")
    except OSError as e:
        out("raw", err(e))
elif cmd == "serve":         # serve ADDR PORT: accept and close, forever
    s = socket.socket(fam(args[0])); s.bind((args[0], int(args[1]))); s.listen(16)
    while True:
        s.accept()[0].close()
elif cmd == "wait":          # wait ADDR PORT: until something listens there
    end = time.time() + 10
    while True:
        try:
            socket.create_connection((args[0], int(args[1])), timeout=1).close(); break
        except OSError:
            if time.time() > end: sys.exit(1)
            time.sleep(0.02)
elif cmd == "connect":       # connect ADDR PORT
    s = socket.socket(fam(args[0])); s.settimeout(3)
    try:
        s.connect((args[0], int(args[1]))); out("connect:" + args[0], "ok")
    except OSError as e:
        out("connect:" + args[0], err(e))
elif cmd == "get":           # get ADDR PORT: one HTTP GET
    try:
        s = socket.create_connection((args[0], int(args[1])), timeout=3)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        out("get:" + args[0], "http" + s.makefile("rb").readline().split()[1].decode())
    except OSError as e:
        out("get:" + args[0], err(e))
elif cmd == "peers":         # peers CMD...: servers on 127.0.0.9, CMD is the client
    t = socket.socket(); t.bind(("127.0.0.9", 0)); t.listen(4); t.settimeout(5)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.9", 0)); u.settimeout(5)
    env = dict(os.environ, TPORT=str(t.getsockname()[1]), UPORT=str(u.getsockname()[1]))
    r = subprocess.run(args, env=env, stdout=subprocess.PIPE, timeout=30)
    sys.stdout.write(r.stdout.decode()); sys.stdout.flush()
    out("tcp_peer", t.accept()[1][0])
    for _ in range(2):
        data, peer = u.recvfrom(64); out(data.decode(), peer[0])
elif cmd == "client":        # the client side of peers (no bind anywhere)
    c = socket.create_connection(("127.0.0.9", int(os.environ["TPORT"])), timeout=5)
    out("tcp_local", c.getsockname()[0])
    up = ("127.0.0.9", int(os.environ["UPORT"]))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"udp_sendto_peer", up)
    out("udp_sendto_local", u.getsockname()[0])
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.connect(up); v.send(b"udp_connected_peer")
    out("udp_connected_local", v.getsockname()[0])
    c.close()
elif cmd == "autobind":      # listen() and sendto() on sockets never bound
    l = socket.socket(); l.listen(4); port = l.getsockname()[1]
    out("listen_local", l.getsockname()[0])
    try:
        socket.create_connection(("127.0.0.3", port), timeout=3).close(); out("listener_reached_via_127.0.0.3", "yes")
    except OSError as e:
        out("listener_reached_via_127.0.0.3", err(e))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"x", ("127.0.0.9", 9))
    out("sendto_local", u.getsockname()[0])
    w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); w.sendto(b"hi", ("127.0.0.3", u.getsockname()[1]))
    u.settimeout(3)
    try:
        u.recvfrom(8); out("udp_reached_via_127.0.0.3", "yes")
    except OSError as e:
        out("udp_reached_via_127.0.0.3", err(e))
"#;

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" }
}

/// One test's network: a World plus the probe script in its scratch directory.
struct Net {
    w: World,
    probe: PathBuf,
}

impl Net {
    fn new(tag: &str) -> Net {
        let w = World::new(tag);
        let probe = w.dir.path().join("probe.py");
        std::fs::write(&probe, PROBE).unwrap();
        Net { w, probe }
    }

    /// The context cgroup parent in the cgroup2 hierarchy.
    fn v2_parent(&self) -> String {
        vsbox::engine::context::cgroups::parents(&self.w.cgroup, self.w.rundir.to_str().unwrap())
            .unwrap()
            .into_iter()
            .find(|d| d.hierarchy.v2)
            .expect("a cgroup2 hierarchy")
            .path
    }

    /// `sh -c SCRIPT` in a new network namespace with lo up. The script sees $V (vsbox),
    /// $PY, $P (the probe), $D (a scratch directory), $CG2 (the cgroup2 parent of
    /// the World's contexts) and the World's registry settings.
    fn command(&self, script: &str) -> Command {
        let mut c = Command::new("unshare");
        c.args(["--net", "--", "sh", "-c", &format!("ip link set lo up || exit 90\n{script}")])
            .env("VSBOX_RUNDIR", &self.w.rundir)
            .env("VSBOX_CGROUP", &self.w.cgroup)
            .env("V", BIN)
            .env("PY", python())
            .env("P", &self.probe)
            .env("D", self.w.dir.path())
            .env("CG2", self.v2_parent())
            .env_remove("TAG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, script: &str) -> (HashMap<String, String>, Output) {
        let o = self.command(script).output().unwrap();
        (results(&o), o)
    }
}

/// The `KEY VALUE` lines of an output.
fn results(o: &Output) -> HashMap<String, String> {
    stdout(o).lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn expect(got: &HashMap<String, String>, o: &Output, want: &[(&str, &str)]) {
    for (k, v) in want {
        assert_eq!(got.get(*k).map(String::as_str), Some(*v), "{k}\nstdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
    }
}

/// Our programs on a cgroup2 directory, as (attach type, id).
fn programs(dir: &str) -> Vec<(u32, u32)> {
    use rustix::fd::AsFd;
    let fd = rustix::fs::open(dir, rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty()).unwrap();
    let mut out = Vec::new();
    for hook in vsbox::engine::network::ipv4root::HOOKS {
        for &id in &vsbox::sys::bpf::prog_query(fd.as_fd(), hook.attach_type()).unwrap().ids {
            out.push((hook.attach_type(), id));
        }
    }
    out
}

/// Wait (up to 5 s) until no program with these ids exists any more.
fn programs_freed(ids: &[(u32, u32)]) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if ids.iter().all(|&(_, id)| vsbox::sys::bpf::prog_fd_by_id(id).is_err()) {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for(p: &Path) {
    let end = Instant::now() + Duration::from_secs(10);
    while !p.exists() {
        assert!(Instant::now() < end, "timed out waiting for {}", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_server_on_0_0_0_0_serves_only_the_context_address() {
    root!();
    let n = Net::new("chbind-http");
    // 8123 = 0x1FBB; 127.0.0.2 is 0200007F in /proc/net/tcp.
    let (got, o) = n.run(
        r#"
        $V chbind --ip 127.0.0.2 -- $PY -m http.server --bind 0.0.0.0 8123 >/dev/null 2>&1 &
        srv=$!
        $PY $P wait 127.0.0.2 8123 || echo "server never came up"
        awk '$4 == "0A" && $2 ~ /:1FBB$/ { print "listener", $2 }' /proc/net/tcp
        for a in 127.0.0.2 127.0.0.3 127.0.0.1; do $PY $P get $a 8123; done
        echo "ips $(sed -n 's/^ips //p' $VSBOX_RUNDIR/ctx/*/info)"
        TAG=outside_ $PY $P bind 0.0.0.0 127.0.0.3
        kill $srv; wait $srv
        "#,
    );
    expect(
        &got,
        &o,
        &[
            ("listener", "0200007F:1FBB"),
            ("get:127.0.0.2", "http200"),
            ("get:127.0.0.3", "errno111"),
            ("get:127.0.0.1", "errno111"),
            ("ips", "127.0.0.2/255.255.255.0 raw"),
            // A process outside the context is not affected.
            ("outside_bind:0.0.0.0", "0.0.0.0"),
            ("outside_bind:127.0.0.3", "127.0.0.3"),
        ],
    );
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
}

#[test]
fn binds_ipv6_and_two_addresses() {
    root!();
    let n = Net::new("chbind-binds");
    let (got, o) = n.run(
        r#"
        $PY $P serve ::1 8124 & s6=$!
        $PY $P wait ::1 8124
        TAG=outside_ $PY $P connect ::1 8124
        $V chbind --ip 127.0.0.2 --ip 127.0.0.5/8 -- sh -c '
            $PY $P bind 0.0.0.0 127.0.0.2 127.0.0.5 127.0.0.3 127.0.0.1 :: ::1 ::ffff:127.0.0.5
            $PY $P connect ::1 8124'
        ip -6 addr add fd00::9/64 dev lo nodad
        TAG=v6_ $V chbind --silent --ip 127.0.0.2 --ip fd00::9 -- $PY $P bind :: fd00::9 ::1 0.0.0.0
        kill $s6
        "#,
    );
    assert!(stdout(&o).contains("\nipv4root is now 127.0.0.2 127.0.0.5\n"), "{}", stdout(&o));
    expect(
        &got,
        &o,
        &[
            ("bind:0.0.0.0", "127.0.0.2"),
            ("bind:127.0.0.2", "127.0.0.2"),
            ("bind:127.0.0.5", "127.0.0.5"),
            // EADDRNOTAVAIL, as the host says for an address it does not have.
            ("bind:127.0.0.3", "errno99"),
            // lback: 127.0.0.1 is not listed, so it means the first address.
            ("bind:127.0.0.1", "127.0.0.2"),
            ("bind:::", "::ffff:127.0.0.2"),
            ("bind:::1", "errno99"),
            ("bind:::ffff:127.0.0.5", "::ffff:127.0.0.5"),
            // IPv6 traffic is refused with ENETUNREACH; from outside it works.
            ("connect:::1", "errno101"),
            ("outside_connect:::1", "ok"),
            // With an IPv6 address given, IPv6 works on that address only.
            ("v6_bind:::", "fd00::9"),
            ("v6_bind:fd00::9", "fd00::9"),
            ("v6_bind:::1", "errno99"),
            ("v6_bind:0.0.0.0", "127.0.0.2"),
        ],
    );
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
}

#[test]
fn outgoing_tcp_and_udp_leave_from_the_context_address() {
    root!();
    let n = Net::new("chbind-out");
    let (got, o) = n.run(
        r#"
        $PY $P peers $V chbind --silent --ip 127.0.0.2 -- $PY $P client
        TAG=outside_ $PY $P peers $PY $P client
        "#,
    );
    expect(
        &got,
        &o,
        &[
            ("tcp_local", "127.0.0.2"),
            ("tcp_peer", "127.0.0.2"),
            ("udp_sendto_peer", "127.0.0.2"),
            ("udp_connected_local", "127.0.0.2"),
            ("udp_connected_peer", "127.0.0.2"),
            // Without chbind the kernel picks 127.0.0.1 toward 127.0.0.9.
            ("outside_tcp_peer", "127.0.0.1"),
            ("outside_udp_sendto_peer", "127.0.0.1"),
        ],
    );
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
}

#[test]
fn the_autobind_hole_is_what_the_help_says() {
    root!();
    let n = Net::new("chbind-hole");
    let (got, o) = n.run("$V chbind --silent --ip 127.0.0.2 -- $PY $P autobind");
    // listen() and sendto() on never-bound sockets bind 0.0.0.0 past every hook, so
    // both answer on an address the context does not own (documented, not fixed).
    expect(
        &got,
        &o,
        &[
            ("listen_local", "0.0.0.0"),
            ("listener_reached_via_127.0.0.3", "yes"),
            ("sendto_local", "0.0.0.0"),
            ("udp_reached_via_127.0.0.3", "yes"),
        ],
    );
    let help = n.w.run(&["chbind", "--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("THE AUTOBIND HOLE: listen() or sendto()"), "{}", stdout(&help));
    assert!(stdout(&help).contains("own network namespace"));
}

#[test]
fn nesting_narrows_and_widening_fails() {
    root!();
    let n = Net::new("chbind-nest");
    let (got, o) = n.run(
        r#"
        $V chbind --silent --ip 127.0.0.2 --ip 127.0.0.5 -- sh -c '
            $V chbind --ip 127.0.0.3 -- true; echo "wider_rc $?"
            $V chbind --ip 127.0.0.5 -- $PY $P bind 0.0.0.0 127.0.0.5 127.0.0.2
            echo "contexts $(ls $VSBOX_RUNDIR/ctx | wc -l)"
            echo "ips $(sed -n "s/^ips //p" $VSBOX_RUNDIR/ctx/*/info)"
            $V chbind --ip 127.0.0.2 -- true; echo "again_rc $?"'
        "#,
    );
    expect(
        &got,
        &o,
        &[
            ("wider_rc", "255"),
            ("ipv4root", "is now 127.0.0.5"),
            ("bind:0.0.0.0", "127.0.0.5"),
            ("bind:127.0.0.5", "127.0.0.5"),
            ("bind:127.0.0.2", "errno99"),
            ("contexts", "1"),
            ("ips", "127.0.0.5/255.255.255.0 raw"),
            ("again_rc", "255"),
        ],
    );
    let err: Vec<String> = stderr(&o).lines().map(str::to_owned).collect();
    assert_eq!(
        err,
        [
            "chbind: 127.0.0.3 is outside the current ipv4root 127.0.0.2 127.0.0.5: a nested chbind can only narrow",
            "chbind: 127.0.0.2 is outside the current ipv4root 127.0.0.5: a nested chbind can only narrow",
        ]
    );
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
}

#[test]
fn raw_sockets_follow_cap_net_raw() {
    root!();
    let n = Net::new("chbind-raw");
    let (got, o) = n.run(
        r#"
        TAG=host_ $PY $P raw
        TAG=kept_ $V chbind --silent --ip 127.0.0.2 -- $PY $P raw
        $V reducecap --cap NET_RAW -- $V chbind --silent --ip 127.0.0.2 -- sh -c "touch $D/ready; exec sleep 30" &
        bg=$!
        while [ ! -e $D/ready ]; do sleep 0.01; done
        N=$(ls $VSBOX_RUNDIR/ctx)
        echo "ips $(sed -n 's/^ips //p' $VSBOX_RUNDIR/ctx/$N/info)"
        # A full-capability root process moved into that context: the program refuses.
        sh -c 'echo $$ > "$CG2/'$N'/cgroup.procs" && TAG=joined_ exec $PY $P raw'
        kill $bg; wait $bg
        "#,
    );
    expect(&got, &o, &[("host_raw", "ok"), ("kept_raw", "ok"), ("ips", "127.0.0.2/255.255.255.0"), ("joined_raw", "errno1")]);
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
}

/// `chbind --ctx N` narrows a running context from the host; everything that joins
/// it later is bound, and its programs go with it.
#[test]
fn joiners_are_bound_and_programs_go_with_the_context() {
    root!();
    let n = Net::new("chbind-join");
    let child = n
        .command(
            r#"
            ctx() { $V chcontext --disconnect "$@" -- sh -c 'exec sleep 600 </dev/null >/dev/null 2>&1' | sed -n 's/^New security context is //p'; }
            A=$(ctx --secure --cap CAP_NET_RAW); B=$(ctx --secure)
            $V chbind --ctx $A --ip 127.0.0.2 --ip 127.0.0.5
            $V chbind --ctx $A --ip 127.0.0.2 --ip 127.0.0.3; echo "wider_rc $?"
            $V chbind --ctx $B --silent --ip 127.0.0.2
            echo "A $A"; echo "B $B"
            echo "ipsA $(sed -n 's/^ips //p' $VSBOX_RUNDIR/ctx/$A/info)"
            echo "ipsB $(sed -n 's/^ips //p' $VSBOX_RUNDIR/ctx/$B/info)"
            TAG=A_ $V chcontext --silent --ctx $A -- $PY $P bind 0.0.0.0 127.0.0.3
            TAG=A_ $V chcontext --silent --ctx $A -- $PY $P raw
            TAG=B_ $V chcontext --silent --ctx $B -- $PY $P raw
            # A network-only context too: left running until the test says go.
            $V chbind --silent --ip 127.0.0.2 -- sh -c "echo \$\$ > $D/netonly; while [ ! -e $D/go ]; do sleep 0.01; done"
            "#,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let netonly = n.w.dir.path().join("netonly");
    wait_for(&netonly);
    let ids = n.w.ids();
    assert_eq!(ids.len(), 3, "two contexts and a network-only one: {ids:?}");
    let parent = n.v2_parent();
    let progs: HashMap<u32, Vec<(u32, u32)>> = ids.iter().map(|&i| (i, programs(&format!("{parent}/{i}")))).collect();
    std::fs::write(n.w.dir.path().join("go"), "").unwrap();
    let o = child.wait_with_output().unwrap();
    let got = results(&o);
    expect(
        &got,
        &o,
        &[
            ("ipv4root", "is now 127.0.0.2 127.0.0.5"),
            ("wider_rc", "255"),
            ("ipsA", "127.0.0.2/255.255.255.0 127.0.0.5/255.255.255.0 raw"),
            ("ipsB", "127.0.0.2/255.255.255.0"),
            ("A_bind:0.0.0.0", "127.0.0.2"),
            ("A_bind:127.0.0.3", "errno99"),
            ("A_raw", "ok"),
            ("B_raw", "errno1"),
        ],
    );
    let (a, b): (u32, u32) = (got["A"].parse().unwrap(), got["B"].parse().unwrap());
    let c = *ids.iter().find(|&&i| i != a && i != b).unwrap();
    // Six programs where raw sockets stay allowed, seven (sock_create) elsewhere.
    assert_eq!((progs[&a].len(), progs[&b].len(), progs[&c].len()), (6, 7, 6), "{progs:?}");
    // The network-only context ended with its command: gone at once, programs too.
    assert!(programs_freed(&progs[&c]), "programs of {c} still loaded");
    for id in [a, b] {
        let init = n.w.pid_of(id, "init");
        kill(init, 9);
    }
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
    assert!(programs_freed(&progs[&a]) && programs_freed(&progs[&b]), "programs outlived their contexts");
}

#[test]
fn interfaces_untied_and_quiet() {
    root!();
    let n = Net::new("chbind-if");
    let (got, o) = n.run(
        r#"
        ip addr add 127.0.0.9/8 brd 127.255.255.255 dev lo
        $V chbind --ip lo -- sh -c 'echo "ips $(sed -n "s/^ips //p" $VSBOX_RUNDIR/ctx/*/info)"; $PY $P bind 0.0.0.0 127.255.255.255 127.0.0.3'
        TAG=bc_ $V chbind --silent --ip 127.0.0.2 --bcast lo -- sh -c 'echo "${TAG}ips $(sed -n "s/^ips //p" $VSBOX_RUNDIR/ctx/*/info)"'
        # (the watchers clear the contexts above as their commands end)
        i=0; while [ -n "$(ls $VSBOX_RUNDIR/ctx 2>/dev/null)" ] && [ $i -lt 300 ]; do sleep 0.01; i=$((i+1)); done
        TAG=free_ $V chbind --ip 0.0.0.0 -- sh -c 'echo "${TAG}contexts $(ls $VSBOX_RUNDIR/ctx 2>/dev/null | wc -l)"; $PY $P bind 0.0.0.0'
        TAG=nid_ $V chbind --silent --nid 7 -- sh -c 'echo "${TAG}rc 0"'
        "#,
    );
    expect(
        &got,
        &o,
        &[
            ("ipv4root", "is now 0.0.0.0"),
            ("ips", "127.0.0.1/255.0.0.0 127.0.0.9/255.0.0.0 bcast=127.255.255.255 raw"),
            ("bind:0.0.0.0", "127.0.0.1"),
            ("bind:127.255.255.255", "127.255.255.255"),
            ("bind:127.0.0.3", "errno99"),
            ("bc_ips", "127.0.0.2/255.255.255.0 bcast=127.255.255.255 raw"),
            ("free_contexts", "0"),
            ("free_bind:0.0.0.0", "0.0.0.0"),
            ("nid_rc", "0"),
        ],
    );
    assert!(stdout(&o).starts_with("ipv4root is now 127.0.0.1 127.0.0.9\n"), "{}", stdout(&o));
    assert_eq!(stderr(&o), "WARNING: --nid is not supported by this version\n");
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
}

#[test]
fn bad_input_gives_one_line_255_and_attaches_nothing() {
    root!();
    let w = World::new("chbind-bad");
    let many: Vec<String> = (1..=17).flat_map(|i| ["--ip".to_owned(), format!("10.0.0.{i}")]).collect();
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--ip".into(), "1.2.3.400".into()], "chbind: invalid IPv4 address '1.2.3.400' (expected a.b.c.d)"),
        (vec!["--ip".into(), "1.2.3.4/33".into()], "chbind: invalid netmask '33' (expected /0 to /32 or a.b.c.d)"),
        (vec!["--ip".into(), "1.2.3.4/255.0.255.0".into()], "chbind: invalid netmask '255.0.255.0' (its one bits must be contiguous)"),
        (many, "chbind: too many IP addresses, max 16 ('10.0.0.17' is one more)"),
        (vec!["--ip".into(), "nosuchif0".into()], "chbind: 'nosuchif0' is neither an IPv4 address (a.b.c.d[/mask]) nor a network interface (see 'ip link')"),
        (vec!["--ip".into(), "fd00::zz".into()], "chbind: invalid IPv6 address 'fd00::zz'"),
        (vec!["--ip".into(), "::ffff:10.0.0.1".into()], "chbind: '::ffff:10.0.0.1' is an IPv4-mapped address; give it as 10.0.0.1"),
        (vec!["--ip".into(), "fe80::1%lo".into()], "chbind: 'fe80::1%lo': scoped (link-local %IF) IPv6 addresses are not supported; give a global or ULA address"),
        (vec!["--ip".into(), "10.0.0.1".into(), "--bcast".into(), "ff02::1".into()], "chbind: --bcast takes an IPv4 address or an interface; 'ff02::1' is IPv6 (IPv6 has no broadcast)"),
        (vec!["--ip".into(), "0.0.0.0".into(), "--ip".into(), "10.0.0.1".into()], "chbind: 0.0.0.0 means unrestricted and cannot be combined with other addresses (drop one)"),
        (vec!["--ctx".into(), "99".into(), "--ip".into(), "10.0.0.1".into()], "chbind: context 99 does not exist (see vserver-stat)"),
        (vec!["--ctx".into(), "0".into(), "--ip".into(), "10.0.0.1".into()], "chbind: invalid context number '0' (use 1 for the spectator, or 2..65535)"),
        (vec!["--ip".into(), "10.0.0.1".into(), "--".into(), "no-such-command-xyz".into()], "chbind: cannot execute 'no-such-command-xyz': No such file or directory (check the name and PATH)"),
    ];
    for (args, want) in cases.drain(..) {
        let mut a = vec!["chbind".to_owned()];
        a.extend(args.iter().cloned());
        if !args.iter().any(|x| x == "--" || x == "--ctx") {
            a.extend(["--".to_owned(), "true".to_owned()]);
        }
        let o = w.run(&a);
        assert_eq!(o.status.code(), Some(255), "{a:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), format!("{want}\n"), "{a:?}");
        assert_eq!(stdout(&o), "", "{a:?}");
    }
    for (args, start) in [
        (vec!["chbind", "--ip", "10.0.0.1"], "chbind: no command given (see 'chbind --help')"),
        (vec!["chbind", "--bogus", "true"], "chbind: Unrecognized argument: --bogus"),
        (vec!["chbind", "--ctx", "5", "--ip", "10.0.0.1", "--", "true"], "chbind: --ctx narrows context 5 and runs nothing"),
        // No BPF: the bounding set lacks what bpf() needs; the half-made context goes.
        (
            vec!["reducecap", "--cap", "BPF", "--cap", "SYS_ADMIN", "--", BIN, "chbind", "--ip", "127.0.0.2", "--", "true"],
            "chbind: load the bind4 program: Operation not permitted (cgroup BPF needs root with CAP_BPF",
        ),
    ] {
        let o = w.run(&args);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.starts_with(start) && e.lines().count() == 1, "{args:?}: {e}");
    }
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
}

#[test]
fn a_context_made_under_chbind_inherits_its_ipv4root() {
    root!();
    let n = Net::new("chbind-inherit");
    // The vserver-script order: chbind first, then chcontext makes the context.
    let (got, o) = n.run(
        r#"
        $V chbind --silent --ip 127.0.0.2 -- $V chcontext --silent -- $PY $P bind 0.0.0.0 127.0.0.3
        "#,
    );
    expect(&got, &o, &[("bind:0.0.0.0", "127.0.0.2"), ("bind:127.0.0.3", "errno99")]);
    assert!(n.w.wait_clean().is_empty(), "{:?}", n.w.leftovers());
}
