//! chcontext and the context engine on the real kernel: namespaces, cgroups, the
//! registry, flags, cleanup, and the escapes a --secure context must not allow.

mod common;
use common::*;
use std::collections::HashSet;

macro_rules! root {
    () => {
        if !root_or_skip(module_path!()) {
            return;
        }
    };
}

fn sh(w: &World, pre: &[&str], script: &str) -> std::process::Output {
    let mut a = vec!["chcontext"];
    a.extend_from_slice(pre);
    a.extend_from_slice(&["--", "sh", "-c", script]);
    w.run(&a)
}

#[test]
fn a_new_context_sees_only_its_own_processes() {
    root!();
    let w = World::new("pidview");
    let o = sh(&w, &[], "echo $$; ls -d /proc/[0-9]* | wc -l; tr '\\0' ' ' < /proc/1/cmdline");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let n = ctx_number(&out);
    assert!(n >= 2);
    assert_eq!(lines[1], "2", "the command is PID 2 under the vsbox init");
    let visible: u32 = lines[2].trim().parse().unwrap();
    assert!(visible <= 5, "only init, sh and the pipeline: {visible}");
    assert_eq!(lines[3].trim(), "init", "PID 1 is vsbox's init, shown as init");

    let o = sh(&w, &["--flag", "fakeinit", "--silent"], "echo $$");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "1", "fakeinit: the command itself is PID 1");
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
}

#[test]
fn names_and_ipc_are_isolated() {
    root!();
    let w = World::new("uts");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let o = w.run(&["chcontext", "--hostname", "vs-test.example", "--domainname", "nis-test", "--", "sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("Host name is now vs-test.example\nDomain name is now nis-test\nNew security context is {}\nvs-test.example\nnis-test\n", ctx_number(&stdout(&o)))
    );
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host, "host name untouched");

    // A SysV segment made in one context is invisible from another and from the host.
    // (The segment's odd size, 40961 bytes, is how we recognise it in listings.)
    let a = w.start_sleeper(&[]);
    let a = a.to_string();
    let o = w.run(&["chcontext", "--silent", "--ctx", &a, "--", "ipcmk", "-M", "40961"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listing = |o: std::process::Output| stdout(&o).lines().filter(|l| l.contains(" 40961 ")).count();
    assert_eq!(listing(w.run(&["chcontext", "--silent", "--ctx", &a, "--", "ipcs", "-m"])), 1, "visible in its own context");
    assert_eq!(listing(w.run(&["chcontext", "--silent", "--", "ipcs", "-m"])), 0, "invisible from another context");
    assert_eq!(listing(std::process::Command::new("ipcs").arg("-m").output().unwrap()), 0, "invisible from the host");
}

#[test]
fn capabilities_are_reduced_as_asked() {
    root!();
    let w = World::new("caps");
    let bnd = my_bounding_set();
    let o = w.run(&["chcontext", "--secure", "--silent", "--", "cat", "/proc/self/status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let secure = bnd & !(0x0BF3_FA00u64 | 1 << 30 | 0x1FF << 32);
    assert_eq!(status_caps(&stdout(&o), "CapBnd"), secure);
    assert_eq!(status_caps(&stdout(&o), "CapEff"), secure);
    let o = w.run(&["chcontext", "--secure", "--cap", "CAP_NET_RAW", "--cap", "!chown", "--silent", "--", "cat", "/proc/self/status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(status_caps(&stdout(&o), "CapBnd"), (secure | 1 << 13) & !1);
}

#[test]
fn joining_lands_in_the_same_namespaces_and_cgroups() {
    root!();
    let w = World::new("join");
    let n = w.start_sleeper(&[]);
    let init = w.pid_of(n, "init");
    assert!(init > 0);
    let marker = w.dir.path().join("joined");
    let o = w.run(&["chcontext", "--silent", "--ctx", &n.to_string(), "--", "sh", "-c",
        &format!("readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/uts /proc/self/ns/ipc > {0}; cat /proc/self/cgroup >> {0}", marker.display())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = std::fs::read_to_string(&marker).unwrap();
    let mut want = String::new();
    for ns in ["pid", "mnt", "uts", "ipc"] {
        want.push_str(&std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap().to_string_lossy());
        want.push('\n');
    }
    assert!(got.starts_with(&want), "namespaces differ:\n{got}\nvs\n{want}");
    // Inside the cgroup namespace every hierarchy reads "/": the context's root.
    for line in got.lines().skip(4) {
        assert!(line.ends_with(":/"), "{line}");
    }
    // From the host: a joined process sits in the init's cgroups, in every hierarchy
    // (the join takes the directories from the registry entry).
    let v2 = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    assert!(v2.lines().any(|l| l.starts_with("0::") && l.ends_with(&format!("/{}/{n}", w.cgroup))), "{v2}");
    let procs = |p: &String| std::fs::read_to_string(format!("{p}/{n}/cgroup.procs")).unwrap().lines().count();
    let before: Vec<usize> = w.cgroup_parents().iter().map(procs).collect();
    assert!(before.iter().all(|&c| c == 2), "the init and its sleep: {before:?}");
    let mut joiner = w.cmd();
    joiner.args(["chcontext", "--silent", "--ctx", &n.to_string(), "--", "sleep", "1"]);
    let mut joiner = joiner.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let during: Vec<usize> = w.cgroup_parents().iter().map(procs).collect();
    let caller = joiner.id();
    let caller_cgroup = std::fs::read_to_string(format!("/proc/{caller}/cgroup")).unwrap();
    assert!(joiner.wait().unwrap().success());
    // Only the command joins (a child of chcontext does, and forks it): one more
    // everywhere; chcontext itself never leaves the host's cgroups.
    assert!(during.iter().all(|&c| c == 3), "{during:?}");
    assert!(!caller_cgroup.contains(&format!("/{}/{n}", w.cgroup)), "the caller stays outside: {caller_cgroup}");
}

#[test]
fn twenty_parallel_allocations_get_twenty_numbers() {
    root!();
    let w = World::new("alloc");
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let mut c = w.cmd();
            c.args(["chcontext", "--disconnect", "--", "sh", "-c", "exec sleep 600 </dev/null >/dev/null 2>&1"]);
            std::thread::spawn(move || c.output().unwrap())
        })
        .collect();
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for h in handles {
        let o = h.join().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let n = ctx_number(&stdout(&o));
        all.push(n);
        assert!(seen.insert(n), "duplicate number {n} (so far {all:?}; registry {:?})", w.ids());
    }
    assert_eq!(seen.len(), 20);
    assert_eq!(w.ids().len(), 20);
    assert_eq!(*seen.iter().min().unwrap(), 2, "numbers start at 2");
}

#[test]
fn everything_goes_when_the_last_process_exits() {
    root!();
    let w = World::new("cleanup");
    let o = sh(&w, &[], "exit 3");
    assert_eq!(o.status.code(), Some(3), "the command's status: {}", stderr(&o));
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());

    let o = sh(&w, &["--silent"], "kill -TERM $$");
    assert_eq!(o.status.code(), Some(143), "128 + SIGTERM");

    // A daemon left behind keeps the context alive, as with the original tools.
    let o = sh(&w, &["--silent"], "setsid sleep 2 >/dev/null 2>&1 < /dev/null &");
    assert!(o.status.success());
    assert_eq!(w.ids().len(), 1, "alive while the daemon runs");
    assert!(w.leftovers().iter().any(|l| l.starts_with("cgroup")));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(w.wait_clean().is_empty(), "gone with the daemon: {:?}", w.leftovers());
}

#[test]
fn a_crashed_context_is_swept_by_the_next_command() {
    root!();
    let w = World::new("sweep");
    let n = w.start_sleeper(&[]);
    assert!(!w.mounts().is_empty(), "namespace handles are mounted");
    let init = w.pid_of(n, "init");
    w.crash(n); // keeper and init, with SIGKILL: nobody cleans up
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{init}")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(w.ids().contains(&n), "the stale entry is still there");
    let o = w.run(&["chcontext", "--silent", "--", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());

    // Killing only the init: its keeper clears the context at once.
    let n = w.start_sleeper(&[]);
    kill(w.pid_of(n, "init"), 9);
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
}

/// Forks until the kernel refuses (200 at most), counts the context's processes,
/// then kills them all (kill(-1) spares only the init and itself).
const FORK_BOMB: &str = "import os, time, signal
for i in range(200):
    try:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
    except OSError:
        pass
print(len([p for p in os.listdir('/proc') if p.isdigit()]), flush=True)
os.kill(-1, signal.SIGKILL)
";

#[test]
fn nproc_caps_a_fork_bomb_at_fifty() {
    root!();
    let w = World::new("nproc");
    let o = std::process::Command::new("prlimit")
        .args(["--nproc=50:50", "--"])
        .arg(BIN)
        .args(["chcontext", "--silent", "--flag", "nproc", "--", "python3", "-c", FORK_BOMB])
        .env("VSBOX_RUNDIR", &w.rundir)
        .env("VSBOX_CGROUP", &w.cgroup)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let procs: u32 = stdout(&o).trim().parse().unwrap();
    assert!(procs <= 50, "{procs} processes in a context limited to 50");
    assert!(procs >= 40, "the bomb really forked ({procs})");
    // The host is unaffected: it can still fork.
    assert!(std::process::Command::new("true").status().unwrap().success());
}

#[test]
fn lock_forbids_making_or_joining_contexts() {
    root!();
    let w = World::new("lock");
    let o = sh(&w, &["--silent", "--flag", "lock"], "unshare -u true && echo UNSHARE-OK; nsenter -t 1 -u true && echo SETNS-OK; grep NoNewPrivs /proc/self/status");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("UNSHARE-OK"), "{out}");
    assert!(!out.contains("SETNS-OK"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(stderr(&o).contains("Operation not permitted"), "{}", stderr(&o));
}

#[test]
fn escapes_from_a_secure_context_fail() {
    root!();
    let w = World::new("escape");
    let host_cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let script = "\
        for f in /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/cgroup.procs; do echo $$ > $f 2>/dev/null && echo ESCAPED-CGROUP; done; \
        mkdir -p /tmp/vsbox-escape-$$ && mount -t cgroup2 none /tmp/vsbox-escape-$$ 2>/dev/null && echo MOUNTED-CGROUP; rmdir /tmp/vsbox-escape-$$; \
        echo x > /proc/sys/kernel/core_pattern 2>/dev/null && echo WROTE-SYSCTL; \
        unshare -U true 2>/dev/null && echo USERNS; \
        mount -t tmpfs none /mnt 2>/dev/null && echo MOUNTED; \
        cat /proc/self/cgroup";
    let o = sh(&w, &["--secure", "--silent"], script);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for bad in ["ESCAPED", "MOUNTED", "WROTE", "USERNS"] {
        assert!(!out.contains(bad), "{bad}:\n{out}");
    }
    assert!(out.lines().all(|l| l.ends_with(":/")), "still in its own cgroups:\n{out}");
    assert_eq!(std::fs::read_to_string("/proc/self/cgroup").unwrap(), host_cg);
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    assert_ne!(core.trim(), "x");
}

#[test]
fn the_spectator_sees_all_and_signals_none() {
    root!();
    let w = World::new("spect");
    let mut victim = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = victim.id();
    let o = w.run(&["chcontext", "--ctx", "1", "--", "sh", "-c",
        &format!("test -d /proc/{pid} && echo SEES; kill -0 {pid} && echo PROBE; kill -TERM {pid} 2>/dev/null && echo KILLED; true")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("New security context is 1\n"), "{out}");
    assert!(out.contains("SEES") && out.contains("PROBE"), "{out}");
    assert!(!out.contains("KILLED"), "{out}");
    assert!(victim.try_wait().unwrap().is_none(), "the victim lives");
    victim.kill().unwrap();
    victim.wait().unwrap();
}

#[test]
fn the_init_reaps_orphans() {
    root!();
    let w = World::new("reap");
    let o = sh(&w, &["--silent"], "sh -c 'sleep 0.2 & exit 0'; sleep 0.6; cat /proc/[0-9]*/stat 2>/dev/null | awk '{print $3}' | tr -d '\\n'");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains('Z'), "no zombies: {}", stdout(&o));
}

#[test]
fn bad_input_gives_one_line_255_and_leaves_nothing() {
    root!();
    let w = World::new("bad");
    let priv_ctx = w.start_sleeper(&["--flag", "private"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--ctx".into(), "0".into(), "true".into()], "chcontext: invalid context number '0'"),
        (vec!["--ctx".into(), "-1".into(), "true".into()], "chcontext: invalid context number '-1'"),
        (vec!["--ctx".into(), "65536".into(), "true".into()], "chcontext: invalid context number '65536'"),
        (vec!["--ctx".into(), "web".into(), "true".into()], "chcontext: invalid context number 'web'"),
        (vec!["--flag".into(), "frob".into(), "true".into()], "chcontext: unknown flag 'frob'"),
        (vec!["--cap".into(), "CAP_FROB".into(), "true".into()], "chcontext: unknown capability 'CAP_FROB'"),
        (vec!["--silent".into()], "chcontext: no command given"),
        (vec!["--ctx".into(), priv_ctx.to_string(), "true".into()], "chcontext: join the context: it is private"),
        (vec!["--hostname".into(), "x".repeat(70), "true".into()], "chcontext: set the host name"),
        (vec!["vsbox-no-such-command".into()], "chcontext: cannot execute 'vsbox-no-such-command'"),
    ];
    for (args, msg) in cases {
        let mut a = vec!["chcontext".to_owned()];
        a.extend(args.iter().cloned());
        let o = w.run(&a);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with(msg), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        let left: Vec<_> = w.wait_clean_except(priv_ctx);
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    // Not root: refused before anything is made.
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "chcontext", "true"])
        .env("VSBOX_RUNDIR", &w.rundir)
        .env("VSBOX_CGROUP", &w.cgroup)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255));
    assert!(stderr(&o).starts_with("chcontext: contexts are made and joined by root only"), "{}", stderr(&o));
}

#[test]
fn hideinfo_sched_and_ulimit_flags() {
    root!();
    let w = World::new("flags");
    // hideinfo: /proc with hidepid=invisible, host-only files masked.
    let o = sh(&w, &["--silent", "--flag", "hideinfo"], "grep ' /proc proc ' /proc/mounts; wc -c < /proc/kallsyms");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("hidepid=invisible") || out.contains("hidepid=2"), "{out}");
    assert_eq!(out.lines().last().unwrap().trim(), "0", "kallsyms masked: {out}");
    let o = sh(&w, &["--silent"], "wc -c < /proc/kallsyms");
    assert_ne!(stdout(&o).trim(), "0", "without hideinfo it is there");

    // sched: an equal CPU share, whatever the process count.
    let n = w.start_sleeper(&["--flag", "sched"]);
    let shares: Vec<String> = w
        .cgroup_parents()
        .iter()
        .filter_map(|p| {
            std::fs::read_to_string(format!("{p}/{n}/cpu.shares")).or_else(|_| std::fs::read_to_string(format!("{p}/{n}/cpu.weight"))).ok()
        })
        .collect();
    assert!(!shares.is_empty(), "a cpu.shares or cpu.weight file");
    assert!(shares.iter().all(|s| s.trim() == "1024" || s.trim() == "100"), "{shares:?}");

    // ulimit: the creator's limits hold for processes that join later too.
    let o = std::process::Command::new("prlimit")
        .args(["--nofile=321:432", "--"])
        .arg(BIN)
        .args(["chcontext", "--disconnect", "--flag", "ulimit", "--", "sh", "-c", "exec sleep 600 </dev/null >/dev/null 2>&1"])
        .env("VSBOX_RUNDIR", &w.rundir)
        .env("VSBOX_CGROUP", &w.cgroup)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let u = ctx_number(&stdout(&o));
    let o = w.run(&["chcontext", "--silent", "--ctx", &u.to_string(), "--", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "321\n432\n");
}

#[test]
fn stale_entries_from_another_boot_or_a_reused_pid_are_cleared() {
    root!();
    let w = World::new("stale");
    let _ = w.run(&["chcontext", "--silent", "--", "true"]); // creates the registry
    assert!(w.wait_clean().is_empty());
    let mut live = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let me = live.id();
    for (n, boot, start) in [(7, "00000000-0000-0000-0000-000000000000", "1"), (8, "", "1")] {
        let dir = w.rundir.join(format!("ctx/{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let boot = if boot.is_empty() { std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap().trim().to_owned() } else { boot.to_owned() };
        // ctx 7: an earlier boot; ctx 8: this boot, a live pid with the wrong start time.
        std::fs::write(dir.join("info"), format!("ctx {n}\nname old\ninit {me}\nstart {start}\nboot {boot}\nnamespaces 0x2e020000\n")).unwrap();
    }
    assert_eq!(w.ids(), vec![7, 8]);
    let o = w.run(&["chcontext", "--ctx", "7", "--", "true"]);
    assert!(o.status.success(), "number 7 is free again: {}", stderr(&o));
    assert_eq!(ctx_number(&stdout(&o)), 7);
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
    assert!(live.try_wait().unwrap().is_none(), "the sweep killed nothing that was not a context's");
    live.kill().unwrap();
    live.wait().unwrap();
}

#[test]
fn hostname_on_a_join_is_refused_naming_the_context() {
    root!();
    let w = World::new("joinname");
    let n = w.start_sleeper(&[]);
    let o = w.run(&["chcontext", "--ctx", &n.to_string(), "--hostname", "x", "--", "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert_eq!(stderr(&o), format!("chcontext: --hostname and --domainname name a new context; context {n} exists already\n"));
    // A command that cannot be found is named as such on a join too.
    let o = w.run(&["chcontext", "--silent", "--ctx", &n.to_string(), "--", "vsbox-no-such-command"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(stderr(&o).starts_with("chcontext: cannot execute 'vsbox-no-such-command': No such file or directory"), "{}", stderr(&o));
}

#[test]
fn the_registry_is_a_private_tmpfs_while_contexts_live() {
    root!();
    let w = World::new("regfs");
    let n = w.start_sleeper(&[]);
    let registry = format!("{}/ctx", w.rundir.display());
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mi.lines().find(|l| l.split(' ').nth(4) == Some(registry.as_str())).expect("the registry is a mount");
    assert!(line.contains(" - tmpfs "), "{line}");
    assert!(!line.contains("shared:"), "private: {line}");
    // Inside, neither the registry nor any handle is reachable.
    let o = w.run(&["chcontext", "--silent", "--ctx", &n.to_string(), "--", "sh", "-c", &format!("ls {registry}")]);
    assert_eq!(stdout(&o), "", "{}", stderr(&o));
    kill(w.pid_of(n, "init"), 9);
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
    // The parents stay, as /lxc or machine.slice do; the world removes them.
    assert!(w.cgroup_parents().iter().all(|p| std::path::Path::new(p).is_dir()));
}

#[test]
fn the_command_gets_the_invokers_signal_dispositions() {
    root!();
    let w = World::new("sigs");
    // An ignored SIGHUP (nohup) passes through; SIGPIPE, which vsbox ignores for
    // itself, is back to its default.
    let script = format!("trap '' HUP; exec {BIN} chcontext --silent -- grep SigIgn /proc/self/status");
    let o = w.cmd_raw("sh").args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mask = u64::from_str_radix(out.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(mask & 1, 1, "SIGHUP still ignored: {out}");
    assert_eq!(mask & (1 << 12), 0, "SIGPIPE default: {out}");
}

#[test]
fn signals_to_chcontext_reach_the_command() {
    root!();
    let w = World::new("fwd");
    // chcontext passes SIGTERM to the context's init, which passes it to the command.
    let mut c = w.cmd();
    c.args(["chcontext", "--silent", "--", "sh", "-c", "trap 'kill $!; echo got TERM; exit 7' TERM; echo ready; sleep 5 >/dev/null & wait"])
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    kill(child.id() as i32, 15);
    let st = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(st.code(), Some(7), "the command's own exit: {rest}");
    assert_eq!(rest, "got TERM\n");
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
}
