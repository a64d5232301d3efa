//! The vsbox multicall binary: picks an applet by the name it was called by
//! (`reducecap …`, through a link) or by its first argument (`vsbox reducecap …`).

mod cli;

use std::io::Write as _;

/// One entry of the generated applet table.
pub struct Applet {
    pub name: &'static str,
    pub summary: &'static str,
    /// Takes argv with the applet name first; returns the exit status.
    pub main: fn(&[String]) -> i32,
}

include!(concat!(env!("OUT_DIR"), "/applets.rs"));

fn main() {
    vsbox::sys::process::init_auxv();
    // A context's init, re-executed lean once its command runs (engine::init).
    if rustix::process::getpid().is_init() {
        if let (Some(v), Some("init")) = (std::env::var_os(vsbox::engine::context::init::LEAN_ENV), std::env::args_os().next().as_deref().and_then(|a| a.to_str())) {
            vsbox::engine::context::init::serve_lean(&v.to_string_lossy());
        }
    }
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let code = dispatch(&args);
    let _ = std::io::stdout().flush();
    vsbox::sys::process::exit_now(code);
}

fn find(name: &str) -> Option<&'static Applet> {
    APPLETS.binary_search_by(|a| a.name.cmp(name)).ok().map(|i| &APPLETS[i])
}

fn dispatch(args: &[String]) -> i32 {
    let argv0 = args.first().map(String::as_str).unwrap_or("vsbox");
    let name = argv0.rsplit('/').next().unwrap_or(argv0);
    if name != "vsbox" {
        return run(name, args);
    }
    match args.get(1).map(String::as_str) {
        None | Some("--help") | Some("-h") => {
            usage();
            0
        }
        Some("--list") => {
            let mut out = std::io::stdout().lock();
            for a in APPLETS {
                let _ = writeln!(out, "{}", a.name);
            }
            0
        }
        Some("--install") => install(&args[2..]),
        Some("--version" | "-V") => {
            let _ = std::io::stdout().lock().write_all(cli::legacy::version_report().as_bytes());
            0
        }
        Some(opt) if opt.starts_with('-') => {
            cli::error("vsbox", format_args!("unknown option '{opt}' (see 'vsbox --help')"));
            1
        }
        Some(applet) => run(applet, &args[1..]),
    }
}

fn run(name: &str, args: &[String]) -> i32 {
    match find(name) {
        Some(a) => (a.main)(args),
        None => {
            cli::error("vsbox", format_args!("{name}: applet not found"));
            127
        }
    }
}

fn usage() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "vsbox {}: the Linux-VServer tools in one static binary\n\n\
         Usage: vsbox APPLET [ARGS...]     or: APPLET [ARGS...] through a link named APPLET\n       \
         vsbox --list                  print the applet names\n       \
         vsbox --install [-s] DIR      link every applet into DIR (hard links, -s: symlinks)\n       \
         vsbox --version               the version, the kernel backend (mainline or vserver) and its features\n\n\
         Applets:",
        env!("CARGO_PKG_VERSION")
    );
    for a in APPLETS {
        let _ = writeln!(out, "  {:<14} {}", a.name, a.summary);
    }
}

/// `--install [-s] DIR`: a link per applet. Anything already in the way must be a
/// link to this very binary (same inode, or a symlink resolving to it); everything
/// is checked before anything is created, so a refusal leaves DIR untouched.
fn install(args: &[String]) -> i32 {
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    let (symbolic, dir) = match args {
        [s, d] if s == "-s" => (true, d),
        [d] if !d.starts_with('-') => (false, d),
        _ => {
            cli::error("vsbox", "usage: vsbox --install [-s] DIR");
            return 1;
        }
    };
    let exe = match fs::read_link("/proc/self/exe").or_else(|_| std::env::current_exe()) {
        Ok(p) => p,
        Err(e) => {
            cli::error("vsbox", format_args!("--install: cannot find my own path ({e}); is /proc mounted?"));
            return 1;
        }
    };
    let me = match fs::metadata(&exe) {
        Ok(m) => m,
        Err(e) => {
            cli::error("vsbox", format_args!("--install: {}: {e}", exe.display()));
            return 1;
        }
    };
    if !fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        cli::error("vsbox", format_args!("--install: {dir} is not a directory (create it first)"));
        return 1;
    }
    let dir = std::path::Path::new(dir);
    let mut replace = Vec::new();
    for a in APPLETS {
        let target = dir.join(a.name);
        let Ok(lm) = fs::symlink_metadata(&target) else { continue };
        let ours = if lm.file_type().is_symlink() {
            fs::metadata(&target).is_ok_and(|m| m.dev() == me.dev() && m.ino() == me.ino())
        } else {
            lm.dev() == me.dev() && lm.ino() == me.ino()
        };
        if !ours {
            cli::error(
                "vsbox",
                format_args!("--install: {} exists and is not a link to vsbox; move it away first", target.display()),
            );
            return 1;
        }
        replace.push(target);
    }
    for t in &replace {
        let _ = fs::remove_file(t);
    }
    for a in APPLETS {
        let target = dir.join(a.name);
        let r = if symbolic { std::os::unix::fs::symlink(&exe, &target) } else { fs::hard_link(&exe, &target) };
        if let Err(e) = r {
            cli::error("vsbox", format_args!("--install: cannot link {}: {e}", target.display()));
            return 1;
        }
    }
    0
}
