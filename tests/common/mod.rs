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
