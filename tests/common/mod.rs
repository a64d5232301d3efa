//! Shared by the integration tests: the built binary, the root gate, scratch
//! directories and process helpers. Privileged work always happens in child
//! processes of the built binary, never in the (multi-threaded) test harness.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_vsbox");

/// True when the test may run its privileged part. Not root: skip, unless
/// VSBOX_REQUIRE_ROOT=1 (CI), where a skip would hide a failure.
pub fn root_or_skip(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("VSBOX_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        panic!("{test}: needs root, and VSBOX_REQUIRE_ROOT=1 forbids skipping");
    }
    eprintln!("{test}: skipped (not root)");
    false
}

/// A name no other test (or parallel test run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A scratch directory removed on drop, even when the test fails.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(&format!("vsbox-test-{prefix}")));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `vsbox ARGS…` with its output captured.
pub fn vsbox<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("run vsbox")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A line `Key:\tvalue` of a /proc status text, as a hex capability mask.
pub fn status_caps(status: &str, key: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in:\n{status}"));
    u64::from_str_radix(line[key.len()..].trim_start_matches(':').trim(), 16).unwrap()
}

/// The test process's own bounding set.
pub fn my_bounding_set() -> u64 {
    status_caps(&std::fs::read_to_string("/proc/self/status").unwrap(), "CapBnd")
}

/// A private vsbox world for one test: its own registry (VSBOX_RUNDIR) and its own
/// cgroup parent (VSBOX_CGROUP, relative, so below the cgroups the test runs in).
/// Drop kills what the test started through it and removes every trace.
pub struct World {
    pub dir: TempDir,
    pub rundir: PathBuf,
    pub cgroup: String,
}

impl World {
    pub fn new(tag: &str) -> World {
        let dir = TempDir::new(tag);
        let rundir = dir.path().join("run");
        World { rundir, cgroup: unique(&format!("vsbox-test-{tag}")), dir }
    }

    pub fn cmd(&self) -> Command {
        self.cmd_raw(BIN)
    }

    /// Another program, with this world's environment.
    pub fn cmd_raw(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("VSBOX_RUNDIR", &self.rundir).env("VSBOX_CGROUP", &self.cgroup).stdin(Stdio::null());
        c
    }

    /// `vsbox ARGS…` in this world, output captured.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.cmd().args(args).output().expect("run vsbox")
    }

    /// A context left running: `chcontext --disconnect [extra…] -- sleep 600` (its
    /// stdio away from our pipes); returns N.
    pub fn start_sleeper(&self, extra: &[&str]) -> u32 {
        let mut a = vec!["chcontext", "--disconnect"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--", "sh", "-c", "exec sleep 600 </dev/null >/dev/null 2>&1"]);
        let o = self.run(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        ctx_number(&stdout(&o))
    }

    /// The registry entry of context N, as key → value.
    pub fn info(&self, n: u32) -> Option<std::collections::HashMap<String, String>> {
        let text = std::fs::read_to_string(self.rundir.join(format!("ctx/{n}/info"))).ok()?;
        Some(text.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    pub fn ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = std::fs::read_dir(self.rundir.join("ctx"))
            .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn pid_of(&self, n: u32, key: &str) -> i32 {
        self.info(n).and_then(|i| i.get(key)?.parse().ok()).unwrap_or(0)
    }

    /// The context cgroup parents of this world, one per hierarchy.
    pub fn cgroup_parents(&self) -> Vec<String> {
        vsbox::engine::context::cgroups::parents(&self.cgroup, self.rundir.to_str().unwrap())
            .unwrap()
            .into_iter()
            .map(|d| d.path)
            .collect()
    }

    /// Everything of this world still on the system: registry entries, cgroup
    /// directories, mounts.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left: Vec<String> = self.ids().iter().map(|n| format!("registry entry {n}")).collect();
        for p in self.cgroup_parents() {
            if let Ok(d) = std::fs::read_dir(&p) {
                for e in d.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        left.push(format!("cgroup {}", e.path().display()));
                    }
                }
            }
        }
        left.extend(self.mounts().into_iter().map(|m| format!("mount {m}")));
        left
    }

    pub fn mounts(&self) -> Vec<String> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let base = self.dir.path().to_str().unwrap().to_owned();
        mi.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&base)).map(str::to_owned).collect()
    }

    /// Wait (up to 5 s) until nothing of this world is left; the leftovers if not.
    pub fn wait_clean(&self) -> Vec<String> {
        for _ in 0..100 {
            let l = self.leftovers();
            if l.is_empty() {
                return l;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.leftovers()
    }

    /// Kill a context's keeper and init, as a crash would.
    pub fn crash(&self, n: u32) {
        for key in ["keeper", "init"] {
            let pid = self.pid_of(n, key);
            if pid > 0 {
                kill(pid, 9);
            }
        }
    }
}

pub fn kill(pid: i32, sig: i32) {
    if let (Some(p), Some(s)) = (rustix::process::Pid::from_raw(pid), rustix::process::Signal::from_named_raw(sig)) {
        let _ = rustix::process::kill_process(p, s);
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for n in self.ids() {
            self.crash(n);
        }
        // Give killed inits a moment to be reaped, then remove what is left.
        for _ in 0..40 {
            if self.ids().iter().all(|&n| !std::path::Path::new(&format!("/proc/{}", self.pid_of(n, "init"))).exists() || self.pid_of(n, "init") == 0) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut mounts = self.mounts();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = rustix::mount::unmount(m.as_str(), rustix::mount::UnmountFlags::DETACH);
        }
        for p in self.cgroup_parents() {
            remove_cgroup_tree(std::path::Path::new(&p));
        }
    }
}

/// rmdir a cgroup and its children (deepest first), killing members first.
pub fn remove_cgroup_tree(p: &Path) {
    if let Ok(d) = std::fs::read_dir(p) {
        for e in d.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    if let Ok(procs) = std::fs::read_to_string(p.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
            kill(pid, 9);
        }
    }
    for _ in 0..100 {
        match std::fs::remove_dir(p) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

/// N from a "New security context is N" line.
pub fn ctx_number(out: &str) -> u32 {
    out.lines()
        .find_map(|l| l.strip_prefix("New security context is "))
        .unwrap_or_else(|| panic!("no 'New security context is N' in {out:?}"))
        .trim()
        .parse()
        .unwrap()
}

impl World {
    /// `wait_clean`, ignoring everything of context `keep`.
    pub fn wait_clean_except(&self, keep: u32) -> Vec<String> {
        let mine = |l: &String| l == &format!("registry entry {keep}") || l.ends_with(&format!("/{keep}")) || l.contains(&format!("/ctx/{keep}/"));
        for _ in 0..100 {
            let l: Vec<String> = self.leftovers().into_iter().filter(|l| !mine(l)).collect();
            // The registry's own tmpfs stays while the kept context lives.
            let registry = format!("{}/ctx", self.rundir.display());
            if l.is_empty() || l.iter().all(|m| m.starts_with("mount") && m.ends_with(&registry)) {
                return Vec::new();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.leftovers().into_iter().filter(|l| !mine(l)).collect()
    }
}
