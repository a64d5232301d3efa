//! applet: vserver-info
//! summary: the kernel backend vsbox uses (mainline or vserver), its VCI version and features
//!
//! The same report as `vsbox --version`: the version, the backend and how it was
//! chosen (VSBOX_BACKEND forces one), a vserver kernel's VCI version and config
//! bits, or the mainline features vsbox builds contexts from.
//!
//! Exit status: 0; 1 for bad usage.

use std::io::Write as _;

use crate::cli;

const USAGE: &str = "\
Usage: vserver-info

Print the vsbox version, the kernel backend it uses (vserver: a Linux-VServer
kernel answered sys_vserver; mainline: contexts from namespaces and cgroups), a
vserver kernel's VCI version, or the mainline features found (cgroup2, BPF,
pidfd, clone3). VSBOX_BACKEND=mainline|vserver forces a backend.
";

pub fn main(args: &[String]) -> i32 {
    match args.get(1).map(String::as_str) {
        None => {
            let _ = std::io::stdout().lock().write_all(cli::legacy::version_report().as_bytes());
            0
        }
        Some("--help" | "-h") => {
            let _ = std::io::stdout().lock().write_all(USAGE.as_bytes());
            0
        }
        Some(a) => {
            cli::error("vserver-info", format_args!("unexpected argument '{a}' (see 'vserver-info --help')"));
            1
        }
    }
}
