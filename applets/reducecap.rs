//! applet: reducecap
//! summary: run a command with a lower capability ceiling
//!
//! reducecap removes capabilities from the bounding set (the ceiling) as well as from
//! the effective, permitted, inheritable and ambient sets, then executes the command.
//! The bounding set is inherited and can only shrink, so neither the command nor any
//! descendant (setuid-root programs and file capabilities included) gets them back.
//!
//! Exit status: the command's; 255 for bad usage, an unknown capability or flag, a
//! failed capability call, or a command that cannot be executed (as the original).

use argh::FromArgs;
use vsbox::sys::caps::{self, CapSet};

use crate::cli;

const FAIL: i32 = 255;

#[derive(FromArgs)]
/// Run COMMAND with capabilities removed from its ceiling (the bounding set): neither
/// it nor any descendant, setuid-root programs included, can hold them again.
/// Without a command, show the current sets.
struct Opts {
    /// remove the vserver "secure" set: LINUX_IMMUTABLE NET_BROADCAST NET_ADMIN NET_RAW
    /// IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
    /// SYS_RESOURCE SYS_TIME MKNOD, and the newer AUDIT_CONTROL MAC_OVERRIDE MAC_ADMIN
    /// SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE
    #[argh(switch)]
    secure: bool,
    /// remove one capability: CAP_NET_RAW, cap_net_raw, NET_RAW, net_raw or 13
    /// (repeatable; the old form --NET_RAW works too)
    #[argh(option)]
    cap: Vec<String>,
    /// context flag; reducecap applies "lock" (no_new_privs: no privilege gain through
    /// exec); the other flags belong to chcontext
    #[argh(option)]
    flag: Vec<String>,
    /// print the bounding, effective, permitted and inheritable sets (after the
    /// reduction, when a command follows)
    #[argh(switch)]
    show: bool,
    /// the command to run, and its arguments
    #[argh(positional, greedy)]
    command: Vec<String>,
}

pub fn main(args: &[String]) -> i32 {
    let args = legacy_cap_options(args);
    let opts: Opts = match cli::parse(&args, FAIL) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut remove = if opts.secure { CapSet::SECURE_REMOVE } else { CapSet::EMPTY };
    for word in &opts.cap {
        match caps::parse_cap(word) {
            Some(c) => remove = remove.union(CapSet::bit(c)),
            None => {
                cli::error("reducecap", format_args!("unknown capability '{word}' (see 'reducecap --help' or capabilities(7))"));
                return FAIL;
            }
        }
    }
    let mut lock = false;
    for f in &opts.flag {
        match f.as_str() {
            "lock" => lock = true,
            "sched" | "nproc" | "private" | "hideinfo" | "fakeinit" | "ulimit" => {
                cli::error("reducecap", format_args!("flag '{f}' applies to a context: use 'chcontext --flag {f}'"));
                return FAIL;
            }
            _ => {
                cli::error("reducecap", format_args!("unknown flag '{f}' (known: lock)"));
                return FAIL;
            }
        }
    }

    if let Err(e) = caps::reduce(remove) {
        cli::error("reducecap", format_args!("{e} (run as root)"));
        return FAIL;
    }
    if lock {
        if let Err(e) = caps::set_no_new_privs() {
            cli::error("reducecap", e);
            return FAIL;
        }
    }
    if opts.show || opts.command.is_empty() {
        if let Err(e) = show() {
            cli::error("reducecap", e);
            return FAIL;
        }
    }
    if opts.command.is_empty() {
        return 0;
    }
    cli::exec("reducecap", &opts.command, FAIL)
}

/// The old command line spelled each capability as its own option (`--NET_ADMIN`);
/// turn those into `--cap NET_ADMIN` before argh sees them. Only words before the
/// command are looked at.
fn legacy_cap_options(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 4);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if i > 0 {
            if a == "--" || !a.starts_with('-') {
                break;
            }
            if a == "--cap" || a == "--flag" {
                out.push(a.clone());
                if let Some(v) = args.get(i + 1) {
                    out.push(v.clone());
                }
                i += 2;
                continue;
            }
            if let Some(name) = a.strip_prefix("--") {
                if caps::parse_cap(name).is_some() && !name.bytes().all(|b| b.is_ascii_digit()) {
                    out.push("--cap".into());
                    out.push(name.into());
                    i += 1;
                    continue;
                }
            }
        }
        out.push(a.clone());
        i += 1;
    }
    out.extend(args[i.min(args.len())..].iter().cloned());
    out
}

fn show() -> vsbox::sys::Result<()> {
    use std::io::Write as _;
    let bounding = caps::bounding_set();
    let (eff, perm, inh) = caps::current()?;
    let mut out = std::io::stdout().lock();
    let mark = |s: CapSet, c: u32| if s.has(c) { "X" } else { "" };
    let _ = writeln!(out, "{:>22}  {:^9} {:^9} {:^9} {:^11}", "Capability", "Bounding", "Effective", "Permitted", "Inheritable");
    for (c, name) in caps::CAP_NAMES.iter().enumerate() {
        let c = c as u32;
        let _ = writeln!(
            out,
            "{:>22}  {:^9} {:^9} {:^9} {:^11}",
            name,
            mark(bounding, c),
            mark(eff, c),
            mark(perm, c),
            mark(inh, c)
        );
    }
    Ok(())
}
