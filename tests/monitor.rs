//! vserver-stat, vps, vpstree and vkill against real contexts: rows per context,
//! the context of every process, context-local pids, whole-context signals, a
//! listing while processes come and go, output layout, and bad input.

mod common;
use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

macro_rules! root {
    () => {
        if !root_or_skip(module_path!()) {
            return;
        }
    };
}

/// The world's cgroup2 parent directory (where `<N>/cgroup.procs` lists context N).
fn v2_parent(w: &World) -> PathBuf {
    let parents = vsbox::engine::context::cgroups::parents(&w.cgroup, w.rundir.to_str().unwrap()).unwrap();
    PathBuf::from(&parents.iter().find(|d| d.hierarchy.v2).expect("a cgroup2 hierarchy").path)
}

/// The host pids in context N, from its cgroup, sorted.
fn ctx_pids(w: &World, n: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(v2_parent(w).join(n.to_string()).join("cgroup.procs")).unwrap_or_default();
    let mut v: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    v.sort();
    v
}

/// Wait (up to 5 s) until context N has `count` processes.
fn wait_pids(w: &World, n: u32, count: usize) -> Vec<u32> {
    let t = Instant::now();
    loop {
        let v = ctx_pids(w, n);
        if v.len() == count || t.elapsed() > Duration::from_secs(5) {
            assert_eq!(v.len(), count, "context {n}: {v:?}");
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A context left running `sh -c SCRIPT` (stdio away from our pipes; the script
/// ends in `exec`); returns N once it has `procs` processes and the shell is gone.
fn start(w: &World, script: &str, procs: usize) -> u32 {
    let full = format!("exec </dev/null >/dev/null 2>&1; {script}");
    let o = w.run(&["chcontext", "--disconnect", "--", "sh", "-c", &full]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = ctx_number(&stdout(&o));
    let t = Instant::now();
    while wait_pids(w, n, procs).iter().any(|&p| comm(p) == "sh") {
        assert!(t.elapsed() < Duration::from_secs(10), "context {n} still runs its shell");
        std::thread::sleep(Duration::from_millis(20));
    }
    n
}

fn proc_file(pid: u32, f: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default()
}

fn comm(pid: u32) -> String {
    proc_file(pid, "comm").trim_end().to_owned()
}

/// The pid inside the process's own pid namespace (the last NSpid value).
fn nspid(pid: u32) -> u32 {
    let st = proc_file(pid, "status");
    st.lines().find_map(|l| l.strip_prefix("NSpid:")).and_then(|v| v.split_whitespace().last()?.parse().ok()).unwrap_or(0)
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    let st = proc_file(pid, "stat");
    match st.rfind(')') {
        Some(i) => !matches!(st[i + 2..].chars().next(), Some('Z') | Some('X')),
        None => false,
    }
}

fn wait_dead(pid: u32) -> bool {
    for _ in 0..250 {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The pid of the process in context N (host pids `pids`) whose command line is `args`.
fn by_cmdline(pids: &[u32], args: &str) -> u32 {
    *pids
        .iter()
        .find(|&&p| proc_file(p, "cmdline").replace('\0', " ").trim_end() == args)
        .unwrap_or_else(|| panic!("no '{args}' among {pids:?}"))
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), stderr(o));
    assert_eq!(stderr(o), "", "no messages on success");
    stdout(o)
}

/// vserver-stat's rows: one per context with processes, counts and names as the
/// registry and the cgroups have them, the layout of the original (%-4d %4d %6s
/// %6s %9s %9s %9s NAME), and CPU totals from the cgroup.
#[test]
fn vserver_stat_rows_match_the_contexts() {
    root!();
    let w = World::new("mon-stat");
    let a = w.start_sleeper(&[]);
    wait_pids(&w, a, 2);
    // Burn about 0.3 s of CPU in a child, then sleep: 3 processes.
    let b = start(&w, "sleep 600 & i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 600", 3);
    let out = ok(&w.run(&["vserver-stat"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "CTX  PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME");
    assert_eq!(lines.len(), 4, "host, {a} and {b}:\n{out}");
    let is_mem = |s: &str| {
        let unit = s.trim_start_matches(|c: char| c.is_ascii_digit());
        s.len() > unit.len() && ["B", "kB", "MB", "GB", "TB"].contains(&unit)
    };
    let is_time = |s: &str| {
        let d = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
        let two = |t: &str| t.len() == 2 && d(t);
        if let Some((m, rest)) = s.split_once('m') {
            if let Some((h, m2)) = m.split_once('h') {
                return d(h) && two(m2) && two(rest);
            }
            if let Some((ss, cs)) = rest.split_once('.') {
                return d(m) && two(ss) && two(cs);
            }
        }
        match s.split_once('d') {
            Some((days, rest)) => rest.split_once('h').is_some_and(|(h, mm)| d(days) && two(h) && two(mm)),
            None => false,
        }
    };
    let mut rows = Vec::new();
    for line in &lines[1..] {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() >= 7, "{line}");
        let name = f[7..].join(" ");
        // The exact layout, rebuilt from the fields.
        let rebuilt = format!("{:<4} {:>4} {:>6} {:>6} {:>9} {:>9} {:>9} {}", f[0], f[1], f[2], f[3], f[4], f[5], f[6], name);
        assert_eq!(rebuilt.trim_end(), *line);
        assert!(is_mem(f[2]) && is_mem(f[3]), "sizes: {line}");
        assert!(is_time(f[4]) && is_time(f[5]) && is_time(f[6]), "times: {line}");
        rows.push((f[0].parse::<u32>().unwrap(), f[1].parse::<u32>().unwrap(), name));
    }
    let mut want = [(a, 2, String::new()), (b, 3, String::new())];
    want.sort();
    assert_eq!(rows[0].0, 0);
    assert_eq!(rows[0].2, "root server");
    assert!(rows[0].1 > 5, "the host's processes: {}", rows[0].1);
    assert_eq!(rows[1..], want[..]);
    // NAME is what the registry holds for each (chcontext gives no name).
    for (n, _, name) in &rows[1..] {
        assert_eq!(w.info(*n).unwrap()["name"], *name);
    }

    // JSON: the same rows, the CPU from the cgroup's cpu.stat, its task count.
    let json = ok(&w.run(&["vserver-stat", "--json"]));
    assert!(json.starts_with("[\n{\"ctx\":0,\"name\":\"root server\",\"procs\":"), "{json}");
    assert!(json.ends_with("}\n]\n"), "{json}");
    assert_eq!(json.lines().count(), 5, "{json}");
    assert!(json.contains(&format!("{{\"ctx\":{a},\"name\":\"\",\"procs\":2,")), "{json}");
    let brow = json.lines().find(|l| l.starts_with(&format!("{{\"ctx\":{b},\"name\":\"\",\"procs\":3,"))).expect("row of b");
    assert!(brow.contains(",\"cgroup_tasks\":3"), "{brow}");
    let num = |key: &str| -> f64 {
        let at = brow.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
        brow[at..].split([',', '}']).next().unwrap().parse().unwrap()
    };
    let cpu = std::fs::read_to_string(v2_parent(&w).join(b.to_string()).join("cpu.stat")).unwrap();
    let usec = |k: &str| -> f64 { cpu.lines().find_map(|l| l.strip_prefix(k)).unwrap().trim().parse::<f64>().unwrap() / 1e6 };
    let (user, sys) = (num("user_s"), num("sys_s"));
    assert!(user + sys >= 0.15, "the burned CPU shows: {brow}");
    assert!((user - usec("user_usec ")).abs() < 0.03 && (sys - usec("system_usec ")).abs() < 0.03, "{brow} vs {cpu}");
}

/// vps lists every process of every context with its context number and name;
/// --ctx filters; the old contract (the second field of `vps ax` is the context)
/// holds; and the layout is ps's.
#[test]
fn vps_shows_each_process_in_its_context() {
    root!();
    let w = World::new("mon-vps");
    let a = w.start_sleeper(&[]);
    let b = start(&w, "sleep 601 & exec sleep 600", 3);
    let pa = wait_pids(&w, a, 2);
    let pb = ctx_pids(&w, b);
    let me = std::process::id();
    let keeper = w.pid_of(a, "keeper") as u32;

    let out = ok(&w.run(&["vps", "-e", "-o", "pid,ctx,name,comm"]));
    assert_eq!(out.lines().next().unwrap(), "  PID CONTEXT NAME       COMMAND");
    let mut seen = std::collections::HashMap::new();
    for l in out.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        seen.insert(f[0].parse::<u32>().unwrap(), (f[1].parse::<u32>().unwrap(), f[2].to_owned()));
    }
    for (n, pids) in [(a, &pa), (b, &pb)] {
        for p in pids.iter() {
            assert_eq!(seen.get(p), Some(&(n, "UNKNOWN".to_owned())), "pid {p} of context {n}");
        }
    }
    assert_eq!(seen.get(&me), Some(&(0, "MAIN".to_owned())), "the test runs on the host");
    assert_eq!(seen.get(&keeper), Some(&(0, "MAIN".to_owned())), "the keeper stays on the host");
    assert_eq!(seen.values().filter(|v| v.0 == a).count(), 2);
    assert_eq!(seen.values().filter(|v| v.0 == b).count(), 3);

    // --ctx: exactly the context's processes, in ps's layout.
    let out = ok(&w.run(&["vps", "--ctx", &b.to_string(), "-o", "pid,vpid,ctx,name,comm"]));
    let mut want = String::from("  PID  VPID CONTEXT NAME       COMMAND\n");
    for &p in &pb {
        want.push_str(&format!("{:>5} {:>5} {:>7} {:<10} {}\n", p, nspid(p), b, "UNKNOWN", comm(p)));
    }
    assert_eq!(out, want);
    let vpids: Vec<u32> = pb.iter().map(|&p| nspid(p)).collect();
    assert_eq!(vpids, [1, 2, 3], "init, the command, its child");

    // `vps ax`: the second field is the context number (what scripts rely on).
    for args in [&["ax"][..], &["aux"], &["-ef"], &[]] {
        let mut a2 = vec!["vps"];
        a2.extend_from_slice(args);
        let out = ok(&w.run(&a2));
        let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
        let pid_col = header.iter().position(|h| *h == "PID").unwrap();
        assert_eq!(header[pid_col + 1 + usize::from(args == ["-ef"])], "CONTEXT", "{args:?}");
        if args.is_empty() {
            continue; // the default selection: our own processes on our terminal
        }
        for l in out.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            let pid: u32 = f[pid_col].parse().unwrap();
            if pa.contains(&pid) || pb.contains(&pid) {
                let ctx_field = f[pid_col + 1 + usize::from(args == ["-ef"])];
                assert_eq!(ctx_field, if pa.contains(&pid) { a } else { b }.to_string(), "{args:?}: {l}");
            }
        }
    }

    // JSON, one object per process.
    let out = ok(&w.run(&["vps", "--json", "--ctx", &a.to_string(), "-o", "pid,ctx,name,vpid,comm"]));
    let want = format!(
        "[\n{{\"pid\":{},\"ctx\":{a},\"name\":\"UNKNOWN\",\"vpid\":1,\"comm\":\"init\"}},\n{{\"pid\":{},\"ctx\":{a},\"name\":\"UNKNOWN\",\"vpid\":2,\"comm\":\"sleep\"}}\n]\n",
        pa[0], pa[1]
    );
    assert_eq!(out, want);

    // vpstree: the context's tree, pstree -p style.
    let out = ok(&w.run(&["vpstree", "--ctx", &b.to_string()]));
    assert_eq!(out, format!("context {b}\ninit({})---sleep({})---sleep({})\n", pb[0], pb[1], pb[2]));
    let out = ok(&w.run(&["vpstree"]));
    assert!(out.starts_with("context 0: root server\n"), "{out}");
    assert!(out.contains(&format!("\ncontext {a}\ninit({})---sleep({})\n", pa[0], pa[1])), "{out}");
}

/// vkill --ctx N PID takes PID as context N's processes see it; without --ctx
/// PIDs are host pids; pid 1 is the context's init.
#[test]
fn vkill_by_context_local_pid() {
    root!();
    let w = World::new("mon-vkill");
    let script = "sleep 601 & exec sleep 600";
    let a = start(&w, script, 3);
    let b = start(&w, script, 3);
    let (pa, pb) = (ctx_pids(&w, a), ctx_pids(&w, b));
    let (a601, b601) = (by_cmdline(&pa, "sleep 601"), by_cmdline(&pb, "sleep 601"));
    let (a600, b600) = (by_cmdline(&pa, "sleep 600"), by_cmdline(&pb, "sleep 600"));
    let local = nspid(a601);
    assert_eq!(nspid(b601), local, "the same local pid in both contexts");
    assert_ne!(a601, local);

    // The local pid in context a: a's process only.
    let o = w.run(&["vkill", "--ctx", &a.to_string(), "-s", "KILL", &local.to_string()]);
    assert_eq!(ok(&o), "");
    assert!(wait_dead(a601), "a's sleep 601 was hit");
    assert!(alive(b601) && alive(a600) && alive(b600), "nothing else");
    // Gone now (a zombie its parent never reaps is no process to signal).
    let o = w.run(&["vkill", "--ctx", &a.to_string(), "-9", &local.to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), format!("vkill: process id {local} not found in context {a}\n"));

    // A host pid, the -SIG form: b's command dies of HUP; its child lives on.
    let o = w.run(&["vkill", "-HUP", &b600.to_string()]);
    assert_eq!(ok(&o), "");
    assert!(wait_dead(b600));
    assert!(alive(b601), "the context lives while a process does");
    // A host pid is not a local pid of another context.
    let o = w.run(&["vkill", "--ctx", &a.to_string(), &a600.to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), format!("vkill: process id {a600} not found in context {a}\n"));
    assert!(alive(a600));

    // Local pid 1: the context's init (TERM, forwarded to the command).
    let o = w.run(&["vkill", "--ctx", &a.to_string(), "1"]);
    assert_eq!(ok(&o), "");
    assert!(wait_dead(pa[0]) && wait_dead(a600));
    // In b the command is gone: the init passes TERM on to what is left.
    let o = w.run(&["vkill", "--ctx", &b.to_string(), "1"]);
    assert_eq!(ok(&o), "");
    assert!(wait_dead(b601) && wait_dead(pb[0]));
    assert!(w.wait_clean().is_empty(), "both contexts cleared: {:?}", w.leftovers());
}

/// vkill --ctx N without PIDs signals the whole context; what ignores TERM
/// survives it, KILL empties the context, and the registry and cgroups go.
#[test]
fn vkill_of_a_whole_context_empties_it() {
    root!();
    let w = World::new("mon-vkall");
    let plain = start(&w, "sleep 601 & sleep 602 & exec sleep 600", 4);
    let stubborn = start(&w, "trap '' TERM; sleep 601 & exec sleep 600", 3);
    let sp = ctx_pids(&w, stubborn);

    let o = w.run(&["vkill", "--ctx", &plain.to_string()]);
    assert_eq!(ok(&o), "");
    let o = w.run(&["vkill", "--ctx", &stubborn.to_string(), "-s", "TERM"]);
    assert_eq!(ok(&o), "");
    // The plain one goes entirely: processes, registry entry, cgroups.
    let t = Instant::now();
    while (w.ids().contains(&plain) || !ctx_pids(&w, plain).is_empty()) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!w.ids().contains(&plain), "registry entry of {plain} cleared");
    assert!(!v2_parent(&w).join(plain.to_string()).exists(), "cgroup of {plain} removed");
    // The stubborn one ignored TERM.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ctx_pids(&w, stubborn), sp, "TERM is ignored there");
    let out = ok(&w.run(&["vserver-stat"]));
    assert!(out.lines().any(|l| l.starts_with(&format!("{stubborn:<4} {:>4} ", 3))), "{out}");
    assert!(!out.lines().any(|l| l.starts_with(&format!("{plain} "))), "{out}");

    let o = w.run(&["vkill", "--ctx", &stubborn.to_string(), "-KILL"]);
    assert_eq!(ok(&o), "");
    for p in &sp {
        assert!(wait_dead(*p), "{p} killed");
    }
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
    let o = w.run(&["vkill", "--ctx", &stubborn.to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), format!("vkill: context {stubborn} not found (see vserver-stat for the running ones)\n"));
    let out = ok(&w.run(&["vserver-stat"]));
    assert_eq!(out.lines().count(), 2, "only the host is left:\n{out}");
}

/// Processes that start and exit all the time, on the host and inside a context,
/// and contexts that come and go, do not break a listing: 50 `vps ax` (every
/// process of a steady context always there, in it), vserver-stat and vpstree.
#[test]
fn listings_survive_processes_coming_and_going() {
    root!();
    let w = World::new("mon-churn");
    let steady = w.start_sleeper(&[]);
    let sp = wait_pids(&w, steady, 2);
    let o = w.run(&["chcontext", "--disconnect", "--", "sh", "-c", "exec </dev/null >/dev/null 2>&1; while :; do /bin/true & /bin/true; wait; done"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let churn = ctx_number(&stdout(&o));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // On failure too, the spawning threads stop before the world is torn down.
    struct Stop(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let _stop = Stop(stop.clone());
    let host = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let kids: Vec<_> = (0..4).filter_map(|_| std::process::Command::new("true").spawn().ok()).collect();
                for mut k in kids {
                    let _ = k.wait();
                    n += 1;
                }
            }
            n
        })
    };
    // Short-lived contexts too: their cgroups appear and go while listings read
    // the parent directory.
    let brief = {
        let stop = stop.clone();
        let mut c = w.cmd();
        c.args(["chcontext", "--silent", "--", "true"]);
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let o = c.output().unwrap();
                assert!(o.status.success(), "a brief context: {}", stderr(&o));
                n += 1;
            }
            n
        })
    };
    let mut churn_rows = 0;
    for i in 0..50 {
        let out = ok(&w.run(&["vps", "ax"]));
        assert!(out.starts_with("  PID CONTEXT NAME       TTY      STAT   TIME COMMAND\n"));
        for p in &sp {
            let line = out.lines().find(|l| l.split_whitespace().next() == Some(&p.to_string())).unwrap_or_else(|| panic!("{p} missing:\n{out}"));
            assert_eq!(line.split_whitespace().nth(1), Some(steady.to_string().as_str()), "{line}");
        }
        churn_rows += out.lines().filter(|l| l.split_whitespace().nth(1) == Some(churn.to_string().as_str())).count();
        if i % 5 == 0 {
            let st = ok(&w.run(&["vserver-stat"]));
            assert!(st.lines().any(|l| l.starts_with(&format!("{steady:<4} {:>4} ", 2))), "{st}");
            let tree = ok(&w.run(&["vpstree"]));
            assert!(tree.contains(&format!("init({})---sleep({})", sp[0], sp[1])), "{tree}");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let spawned = host.join().unwrap();
    let contexts = brief.join().unwrap();
    assert!(contexts > 5, "contexts came and went ({contexts})");
    assert!(spawned > 20, "the host churned ({spawned})");
    assert!(churn_rows >= 50, "the churning context was listed every time ({churn_rows} rows)");
    let o = w.run(&["vkill", "--ctx", &churn.to_string(), "-KILL"]);
    assert_eq!(ok(&o), "");
    let o = w.run(&["vkill", "--ctx", &steady.to_string(), "-KILL"]);
    assert_eq!(ok(&o), "");
    assert!(w.wait_clean().is_empty(), "{:?}", w.leftovers());
}

/// Bad input: one line `APPLET: …`, the spec's exit code, nothing on stdout, and
/// nothing signalled or left behind.
#[test]
fn bad_input_gives_one_clear_line() {
    root!();
    let w = World::new("mon-bad");
    let n = w.start_sleeper(&[]);
    let pids = wait_pids(&w, n, 2);
    let ns = n.to_string();
    let inner = pids[1].to_string();
    let mut victim = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let vp = victim.id().to_string();
    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (vec!["vps", "-q"], 1, "vps: unknown option letter 'q' in '-q' (see 'vps --help')".into()),
        (vec!["vps", "axz"], 1, "vps: unknown option letter 'z' in 'axz' (see 'vps --help')".into()),
        (vec!["vps", "--frob"], 1, "vps: unknown option '--frob' (see 'vps --help')".into()),
        (vec!["vps", "-o"], 1, "vps: -o needs a value (see 'vps --help')".into()),
        (vec!["vps", "--ctx", "web"], 1, "vps: --ctx takes a context number, not 'web' (see 'vps --help')".into()),
        (vec!["vps", "--ctx", "4242"], 1, "vps: context 4242 not found (see vserver-stat for the running ones)".into()),
        (vec!["vps", "--ctx", "1"], 1, "vps: context 1 is the spectator: it has no processes of its own (use 'vps ax' to see all)".into()),
        (vec!["vkill", "-s", "FOO", &vp], 1, "vkill: invalid signal specified: 'FOO' (use a name such as TERM, HUP or KILL, or a number 0..64)".into()),
        (vec!["vkill", "-BOGUS", &vp], 1, "vkill: invalid signal specified: '-BOGUS' (use a name such as TERM, HUP or KILL, or a number 0..64)".into()),
        (vec!["vkill", "-s", "65", &vp], 1, "vkill: invalid signal specified: '65' (use a name such as TERM, HUP or KILL, or a number 0..64)".into()),
        (vec!["vkill", "-s"], 1, "vkill: -s needs a value (see 'vkill --help')".into()),
        (vec!["vkill"], 1, "vkill: no pid specified (give PIDs, or --ctx N to signal a whole context)".into()),
        (vec!["vkill", "-9"], 1, "vkill: no pid specified (give PIDs, or --ctx N to signal a whole context)".into()),
        (vec!["vkill", "x"], 1, "vkill: 'x' is not a number".into()),
        (vec!["vkill", &vp, "x"], 1, "vkill: 'x' is not a number".into()),
        (vec!["vkill", "--", "-5"], 1, "vkill: '-5' is not a number".into()),
        (vec!["vkill", "0"], 1, "vkill: '0' is not a process id (for a whole context use --ctx N without PIDs)".into()),
        (vec!["vkill", "--frob", &vp], 1, "vkill: unknown option '--frob' (see 'vkill --help')".into()),
        (vec!["vkill", "2147483646"], 1, "vkill: process id 2147483646 not found".into()),
        (vec!["vkill", "--ctx", "web"], 1, "vkill: invalid context number 'web' (use 0 for the host, or 2..65535)".into()),
        (vec!["vkill", "--ctx", "4242"], 1, "vkill: context 4242 not found (see vserver-stat for the running ones)".into()),
        (vec!["vkill", "--ctx", "4242", "1"], 1, "vkill: context 4242 not found (see vserver-stat for the running ones)".into()),
        (vec!["vkill", "--ctx", "1", "1"], 1, "vkill: context 1 is the spectator: it has no processes of its own".into()),
        (vec!["vkill", "--ctx", "0"], 1, "vkill: context 0 is the host: refusing to signal all of it (name the PIDs)".into()),
        (vec!["vkill", "--ctx", &ns, "999999"], 1, format!("vkill: process id 999999 not found in context {n}")),
        (vec!["vkill", "--ctx", "0", &inner], 1, format!("vkill: process id {} not found in context 0", pids[1])),
        (vec!["vserver-stat", "extra"], 255, "vserver-stat: Unrecognized argument: extra (see 'vserver-stat --help')".into()),
        (vec!["vserver-stat", "--frob"], 255, "vserver-stat: Unrecognized argument: --frob (see 'vserver-stat --help')".into()),
        (vec!["vpstree", "--ctx", "4242"], 1, "vpstree: context 4242 not found (see vserver-stat for the running ones)".into()),
        (vec!["vpstree", "--ctx", "x"], 1, "vpstree: invalid context number 'x' (use 0 for the host, or 2..65535)".into()),
        (vec!["vpstree", "--frob"], 1, "vpstree: Unrecognized argument: --frob (see 'vpstree --help')".into()),
    ];
    for (args, code, msg) in &cases {
        let o = w.run(args);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), format!("{msg}\n"), "{args:?}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    assert!(victim.try_wait().unwrap().is_none(), "no bad command signalled anything");
    assert_eq!(ctx_pids(&w, n), pids, "the context is untouched");

    // Not root: the kernel's refusal, in one line.
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "vkill", &vp])
        .env("VSBOX_RUNDIR", &w.rundir)
        .env("VSBOX_CGROUP", &w.cgroup)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), format!("vkill: cannot signal process {vp}: Operation not permitted (run as root)\n"));
    assert!(victim.try_wait().unwrap().is_none());
    // Signal 0 only probes; a real number kills.
    assert_eq!(ok(&w.run(&["vkill", "-0", &vp])), "");
    assert!(victim.try_wait().unwrap().is_none());
    assert_eq!(ok(&w.run(&["vkill", "-s", "SIGUSR1", &vp])), "");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(victim.wait().unwrap().signal(), Some(10));

    for applet in ["vps", "vkill", "vpstree", "vserver-stat"] {
        let o = w.run(&[applet, "--help"]);
        assert!(stdout(&o).starts_with(&format!("Usage: {applet}")), "{applet}: {}", stdout(&o));
        assert_eq!(o.status.code(), Some(0));
    }
}
