//! What every applet shares on the std side: the one-line error convention and the
//! bridge from argh to it. (The no_std library below knows nothing of printing.)

use std::fmt::Display;
use std::io::Write as _;

use vsbox::engine::backend::{Backend, Choice};

pub mod legacy;

/// Print `APPLET: message` as one line on stderr.
pub fn error(applet: &str, msg: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{applet}: {msg}");
}

/// Parse `args` (applet name first) with argh. `--help` prints the usage on stdout
/// and yields `Err(0)`; a parse error prints one line naming the problem and the way
/// to the help, and yields `Err(usage_code)`.
pub fn parse<T: argh::FromArgs>(args: &[String], usage_code: i32) -> Result<T, i32> {
    let name = args.first().map(|s| s.rsplit('/').next().unwrap_or(s)).unwrap_or("vsbox");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match T::from_args(&[name], &rest) {
        Ok(t) => Ok(t),
        Err(early) => match early.status {
            Ok(()) => {
                let _ = std::io::stdout().lock().write_all(early.output.as_bytes());
                Err(0)
            }
            Err(()) => {
                let first = early.output.lines().find(|l| !l.trim().is_empty()).unwrap_or("bad arguments");
                error(name, format_args!("{} (see '{name} --help')", first.trim().trim_end_matches('.')));
                Err(usage_code)
            }
        },
    }
}

/// An applet's whole life with argh: parse `args` (usage errors exit `usage_code`),
/// then `run`, whose `Err` is an exit status too (its message already printed).
pub fn main_with<T: argh::FromArgs>(args: &[String], usage_code: i32, run: impl FnOnce(T) -> Result<i32, i32>) -> i32 {
    match parse(args, usage_code) {
        Ok(o) => run(o).unwrap_or_else(|code| code),
        Err(code) => code,
    }
}

/// The environment as `KEY=VALUE` byte strings, for exec.
pub fn environment() -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            e
        })
        .collect()
}

/// Flush our output, then become `argv` (searched along PATH). Returns only on
/// failure, after printing `APPLET: cannot execute 'CMD': …`, with `code`.
pub fn exec(applet: &str, argv: &[String], code: i32) -> i32 {
    let _ = std::io::stdout().flush();
    let e = vsbox::sys::exec::exec(argv, &environment());
    let cmd = argv.first().map(String::as_str).unwrap_or("");
    error(applet, format_args!("cannot execute '{cmd}': {} (check the name and PATH)", vsbox::sys::ErrnoText(e.errno)));
    code
}

/// Where the engine keeps its state: VSBOX_RUNDIR and VSBOX_CGROUP move it (tests
/// run side by side that way); the defaults are /run/vsbox and /vsbox.
pub fn settings() -> vsbox::engine::context::spec::Settings {
    let mut s = vsbox::engine::context::spec::Settings::default();
    if let Some(d) = std::env::var_os("VSBOX_RUNDIR").filter(|v| !v.is_empty()) {
        s.rundir = d.to_string_lossy().trim_end_matches('/').to_owned();
    }
    if let Some(c) = std::env::var_os("VSBOX_CGROUP").filter(|v| !v.is_empty()) {
        s.cgroup_parent = c.to_string_lossy().into_owned();
    }
    s
}

/// Whether we run as root; applets that change the system say so plainly first.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Parse a context number as the tools accept it: 1..=65535.
pub fn parse_ctx(applet: &str, word: &str) -> Result<u32, i32> {
    match word.parse::<i64>() {
        Ok(n) if vsbox::engine::context::spec::valid_id(n) => Ok(n as u32),
        _ => {
            error(applet, format_args!("invalid context number '{word}' (use 1 for the spectator, or 2..65535)"));
            Err(255)
        }
    }
}

/// Write a whole listing to stdout in as few write(2)s as it takes. A reader that
/// went away (`| head`) is not an error; any other failure is one line and `code`.
pub fn write_out(applet: &str, mut b: &[u8], code: i32) -> i32 {
    use rustix::io::Errno;
    while !b.is_empty() {
        match rustix::io::write(rustix::stdio::stdout(), b).and_then(|n| if n == 0 { Err(Errno::IO) } else { Ok(n) }) {
            Ok(n) => b = &b[n..],
            Err(Errno::INTR) => {}
            Err(Errno::PIPE) => return 0,
            Err(e) => {
                error(applet, format_args!("cannot write the output: {}", vsbox::sys::ErrnoText(e)));
                return code;
            }
        }
    }
    0
}

/// What VSBOX_BACKEND asks for: `mainline` or `vserver` force one; unset, empty or
/// `auto` let the kernel decide (anything else is said so, then ignored).
pub fn choice() -> Choice {
    match std::env::var_os("VSBOX_BACKEND") {
        None => Choice::Detect,
        Some(v) => match v.as_encoded_bytes() {
            b"" | b"auto" => Choice::Detect,
            b"mainline" => Choice::Mainline,
            b"vserver" => Choice::Vserver,
            _ => {
                error("vsbox", format_args!("ignoring VSBOX_BACKEND={} (use mainline, vserver or auto)", v.to_string_lossy()));
                Choice::Detect
            }
        },
    }
}

/// The backend of this process, chosen at the first call (engine::backend).
pub fn backend() -> Backend {
    Backend::select(choice())
}

/// The vserver kernel, when the legacy backend serves this process: an applet's
/// one dispatch point (`if let Some(k) = cli::vserver() { return cli::legacy::… }`).
pub fn vserver() -> Option<vsbox::engine::legacy::Kernel> {
    backend().vserver()
}

/// Which process is in which context, for vps, vpstree and vserver-stat: from the
/// cgroups, or on a vserver kernel from the kernel (this process becomes the
/// spectator for it).
pub fn scope(settings: &vsbox::engine::context::spec::Settings) -> vsbox::sys::Result<vsbox::engine::monitor::scope::Scope> {
    match vserver() {
        Some(_) => vsbox::engine::legacy::scope(),
        None => vsbox::engine::monitor::scope::Scope::load(settings),
    }
}
