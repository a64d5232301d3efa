//! reducecap end to end: the bounding set really shrinks, for the command and for
//! everything it starts, setuid-root and file-capability programs included.

mod common;
use common::*;
use std::process::Command;

const SECURE_LOW32: u64 = 0x0BF3_FA00 | 1 << 30;
const CAP_SYS_ADMIN: u64 = 1 << 21;
const CAP_CHOWN: u64 = 1;
const CAP_NET_RAW: u64 = 1 << 13;

#[test]
fn secure_sets_the_expected_bounding_set() {
    if !root_or_skip("secure_sets_the_expected_bounding_set") {
        return;
    }
    let o = vsbox(["reducecap", "--secure", "--", "cat", "/proc/self/status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let st = stdout(&o);
    let expected = my_bounding_set() & !(SECURE_LOW32 | 0x1FF << 32);
    assert_eq!(status_caps(&st, "CapBnd"), expected);
    assert_eq!(status_caps(&st, "CapEff"), expected);
    assert_eq!(status_caps(&st, "CapPrm"), expected);
    assert_eq!(status_caps(&st, "CapAmb"), 0);

    // --cap on top of --secure, in each spelling, removes one more.
    for spelling in ["CAP_CHOWN", "cap_chown", "CHOWN", "chown", "0"] {
        let o = vsbox(["reducecap", "--secure", "--cap", spelling, "cat", "/proc/self/status"]);
        assert!(o.status.success(), "{spelling}: {}", stderr(&o));
        assert_eq!(status_caps(&stdout(&o), "CapBnd"), expected & !CAP_CHOWN, "{spelling}");
    }
    // The old command line: one option per capability.
    let o = vsbox(["reducecap", "--NET_RAW", "cat", "/proc/self/status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(status_caps(&stdout(&o), "CapBnd"), my_bounding_set() & !CAP_NET_RAW);
}

#[test]
fn sethostname_fails_after_dropping_sys_admin() {
    if !root_or_skip("sethostname_fails_after_dropping_sys_admin") {
        return;
    }
    // A fresh UTS namespace first, so a success could never touch the host's name.
    let ok = Command::new("unshare").args(["--uts", BIN, "reducecap", "--", "hostname", "vsbox-ok"]).output().unwrap();
    assert!(ok.status.success(), "control: root may set the name: {}", stderr(&ok));
    let o = Command::new("unshare")
        .args(["--uts", BIN, "reducecap", "--cap", "CAP_SYS_ADMIN", "--", "hostname", "vsbox-nope"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "sethostname must fail without CAP_SYS_ADMIN");
    assert!(!stderr(&o).is_empty());
    // And the name really stayed: ask in the same fresh namespace.
    let o = Command::new("unshare")
        .args(["--uts", BIN, "reducecap", "--cap", "sys_admin", "--", "sh", "-c", "hostname vsbox-nope 2>/dev/null; hostname"])
        .output()
        .unwrap();
    assert_ne!(stdout(&o).trim(), "vsbox-nope");
    assert!(!stdout(&o).trim().is_empty());
}

/// A copy of `cat` owned by root with the setuid bit, in a directory nobody can read.
fn setuid_cat(dir: &TempDir) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = dir.path().join("suidcat");
    std::fs::copy("/bin/cat", &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o4755)).unwrap();
    p
}

#[test]
fn setuid_root_cannot_regain_a_dropped_capability() {
    if !root_or_skip("setuid_root_cannot_regain_a_dropped_capability") {
        return;
    }
    let dir = TempDir::new("suid");
    let cat = setuid_cat(&dir);
    let run = |drop: &[&str]| {
        let mut args = vec!["reducecap"];
        args.extend_from_slice(drop);
        args.extend_from_slice(&["--", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
        let o = Command::new(BIN).args(&args).arg(&cat).arg("/proc/self/status").output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    // Control: as nobody, the setuid-root program gets root's capabilities back.
    let control = run(&[]);
    assert_ne!(status_caps(&control, "CapEff") & CAP_SYS_ADMIN, 0, "setuid root works here:\n{control}");
    // After the drop it still gets the others, but never CAP_SYS_ADMIN.
    let st = run(&["--cap", "SYS_ADMIN"]);
    assert!(st.contains("Uid:\t65534\t0"), "ran setuid as euid 0:\n{st}");
    assert_eq!(status_caps(&st, "CapEff") & CAP_SYS_ADMIN, 0, "{st}");
    assert_eq!(status_caps(&st, "CapBnd") & CAP_SYS_ADMIN, 0, "{st}");
    assert_ne!(status_caps(&st, "CapEff") & CAP_CHOWN, 0, "the rest came back:\n{st}");
}

#[test]
fn file_capabilities_cannot_regain_a_dropped_capability() {
    if !root_or_skip("file_capabilities_cannot_regain_a_dropped_capability") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("fcap");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cat = dir.path().join("fcapcat");
    std::fs::copy("/bin/cat", &cat).unwrap();
    let o = Command::new("setcap").arg("cap_sys_admin,cap_chown+ep").arg(&cat).output().unwrap();
    assert!(o.status.success(), "setcap (libcap2-bin) is needed: {}", stderr(&o));
    let run = |drop: &[&str]| {
        let mut args = vec!["reducecap"];
        args.extend_from_slice(drop);
        args.extend_from_slice(&["--", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
        Command::new(BIN).args(&args).arg(&cat).arg("/proc/self/status").output().unwrap()
    };
    let control = run(&[]);
    assert!(control.status.success(), "{}", stderr(&control));
    assert_eq!(status_caps(&stdout(&control), "CapEff"), CAP_SYS_ADMIN | CAP_CHOWN, "file caps work here");
    // After the drop the kernel either refuses the exec outright (the file's effective
    // bit demands a capability the bounding set no longer allows) or runs it without.
    let o = run(&["--cap", "CAP_SYS_ADMIN"]);
    if o.status.success() {
        assert_eq!(status_caps(&stdout(&o), "CapEff") & CAP_SYS_ADMIN, 0, "{}", stdout(&o));
    } else {
        assert!(stderr(&o).contains("Operation not permitted"), "{}", stderr(&o));
    }
}

#[test]
fn show_lists_the_sets_by_name() {
    let o = vsbox(["reducecap", "--show"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let header = out.lines().next().unwrap();
    for col in ["Capability", "Bounding", "Effective", "Permitted", "Inheritable"] {
        assert!(header.contains(col), "{header}");
    }
    assert_eq!(out.lines().count(), 42, "header + CAP 0..40");
    // Without a command it shows too (the original exited 255 here: fixed).
    let o2 = vsbox(["reducecap"]);
    assert!(o2.status.success());
    assert_eq!(o2.stdout, o.stdout);
    if rustix::process::geteuid().is_root() {
        let o = vsbox(["reducecap", "--cap", "sys_admin", "--show", "true"]);
        let line = stdout(&o).lines().find(|l| l.trim_start().starts_with("CAP_SYS_ADMIN ")).unwrap().to_owned();
        assert!(!line.contains('X'), "dropped everywhere: {line}");
        let line = stdout(&o).lines().find(|l| l.trim_start().starts_with("CAP_CHOWN ")).unwrap().to_owned();
        assert_eq!(line.matches('X').count(), 3, "kept in B, E, P: {line}");
    }
}

#[test]
fn lock_flag_sets_no_new_privs() {
    let o = vsbox(["reducecap", "--flag", "lock", "grep", "NoNewPrivs", "/proc/self/status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).split_whitespace().nth(1), Some("1"));
}

#[test]
fn bad_input_gives_one_line_and_255() {
    let cases: &[(&[&str], &str)] = &[
        (&["--cap", "CAP_FROB", "true"], "reducecap: unknown capability 'CAP_FROB'"),
        (&["--cap", "41", "true"], "reducecap: unknown capability '41'"),
        (&["--bogus", "true"], "reducecap: Unrecognized argument: --bogus"),
        (&["--flag", "frob", "true"], "reducecap: unknown flag 'frob'"),
        (&["--flag", "sched", "true"], "reducecap: flag 'sched' applies to a context"),
        (&["--", "vsbox-no-such-command-xyz"], "reducecap: cannot execute 'vsbox-no-such-command-xyz': No such file or directory"),
        (&["--cap"], "reducecap: "),
    ];
    let dir = TempDir::new("noexec");
    let plain = dir.path().join("plain-file");
    std::fs::write(&plain, "not a program\n").unwrap();
    let plain = plain.to_str().unwrap().to_owned();
    let noexec_msg = format!("reducecap: cannot execute '{plain}': Permission denied");
    let noexec: &[&str] = &["--", &plain];
    let mut cases = cases.to_vec();
    cases.push((noexec, &noexec_msg));
    for (args, msg) in cases {
        let mut a = vec!["reducecap"];
        a.extend_from_slice(args);
        let o = vsbox(&a);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with(msg), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}
