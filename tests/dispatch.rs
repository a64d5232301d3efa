//! The multicall front door: names, --list, --install, errors, and the static
//! binary standing alone in an empty chroot.

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

#[test]
fn help_and_list() {
    let o = vsbox(["--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Usage: vsbox APPLET"));
    assert!(stdout(&o).contains("reducecap"));
    let alone = Command::new(BIN).output().unwrap();
    assert_eq!(alone.stdout, o.stdout, "vsbox alone prints the usage");

    let o = vsbox(["--list"]);
    assert!(o.status.success());
    let names: Vec<_> = stdout(&o).lines().map(str::to_owned).collect();
    assert!(names.contains(&"reducecap".to_owned()));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "the list is sorted, one per line");
}

#[test]
fn applet_by_argument_and_by_link_name() {
    let o = vsbox(["reducecap", "--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("Usage: reducecap"), "{}", stdout(&o));

    let dir = TempDir::new("link");
    let link = dir.path().join("reducecap");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let o = Command::new(&link).arg("--help").output().unwrap();
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("Usage: reducecap"));
}

#[test]
fn unknown_applet_exits_127() {
    let o = vsbox(["no-such-applet", "x"]);
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(stderr(&o), "vsbox: no-such-applet: applet not found\n");

    let dir = TempDir::new("unknown");
    let link = dir.path().join("frobnicate");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let o = Command::new(&link).output().unwrap();
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(stderr(&o), "vsbox: frobnicate: applet not found\n");
}

#[test]
fn install_hard_and_symbolic_links() {
    let dir = TempDir::new("install");
    // A private copy, so hard links stay on one filesystem whatever target/ is.
    let exe = dir.path().join("vsbox");
    std::fs::copy(BIN, &exe).unwrap();
    let hard = dir.path().join("hard");
    let soft = dir.path().join("soft");
    std::fs::create_dir(&hard).unwrap();
    std::fs::create_dir(&soft).unwrap();
    let names = stdout(&vsbox(["--list"]));

    let o = Command::new(&exe).arg("--install").arg(&hard).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ino = std::fs::metadata(&exe).unwrap().ino();
    for n in names.lines() {
        assert_eq!(std::fs::metadata(hard.join(n)).unwrap().ino(), ino, "{n} is a hard link");
    }
    // Installing again over our own links is fine.
    let o = Command::new(&exe).arg("--install").arg(&hard).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let o = Command::new(&exe).args(["--install", "-s"]).arg(&soft).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for n in names.lines() {
        assert_eq!(std::fs::read_link(soft.join(n)).unwrap(), exe);
    }
    let o = Command::new(soft.join("reducecap")).arg("--help").output().unwrap();
    assert!(stdout(&o).starts_with("Usage: reducecap"));

    // Something foreign in the way: refused, and nothing is changed.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("reducecap"), b"precious").unwrap();
    let o = Command::new(&exe).arg("--install").arg(&other).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists and is not a link to vsbox"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1);
    assert_eq!(std::fs::read(other.join("reducecap")).unwrap(), b"precious");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1, "nothing else was created");
}

#[test]
fn bad_multicall_options() {
    let o = vsbox(["--frob"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("vsbox: unknown option '--frob'"));
    let o = vsbox(["--install"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "vsbox: usage: vsbox --install [-s] DIR\n");
    let o = vsbox(["--install", "/nonexistent/dir"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not a directory"));
}

#[test]
fn the_binary_is_static() {
    let o = Command::new("file").arg("-L").arg(BIN).output().unwrap();
    let kind = stdout(&o);
    assert!(kind.contains("static-pie linked") || kind.contains("statically linked"), "{kind}");
    assert!(!kind.contains("interpreter"), "{kind}");
}

#[test]
fn runs_alone_in_an_empty_chroot() {
    if !root_or_skip("runs_alone_in_an_empty_chroot") {
        return;
    }
    let dir = TempDir::new("chroot");
    std::fs::copy(BIN, dir.path().join("vsbox")).unwrap();
    std::os::unix::fs::symlink("vsbox", dir.path().join("reducecap")).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "nothing but the binary");
    let o = Command::new("chroot").arg(dir.path()).args(["/vsbox", "--list"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("reducecap"));
    // An applet that makes kernel calls: reducecap --show (capget, PR_CAPBSET_READ).
    let o = Command::new("chroot").arg(dir.path()).args(["/reducecap", "--show"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("CAP_SYS_ADMIN"));
    // …and an exec with our own PATH search failing cleanly where nothing exists.
    let o = Command::new("chroot").arg(dir.path()).args(["/reducecap", "--secure", "sh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(255));
    assert!(stderr(&o).starts_with("reducecap: cannot execute 'sh': No such file or directory"), "{}", stderr(&o));
}
