//! applet: vkill
//! summary: send a signal to processes of a security context, or to a whole context
//!
//! `vkill [--ctx N] [-s SIG | -SIG] [--] [PID…]`. Without --ctx the PIDs are host
//! pids. With --ctx N they are pids inside context N (as its own processes see
//! them; translated through NSpid), and without PIDs every process of context N is
//! signalled, its init last. Each process is pinned with a pidfd and checked to be
//! in the context before it is signalled. Signals: names with or without SIG (TERM,
//! SIGHUP, kill), numbers 0..64, RTMIN+N; the default is TERM.
//!
//! Exit status: 0 when every signal was sent; 1 otherwise (bad usage, a bad signal,
//! a process or context not found, a refused signal), as util-vserver's vkill.

use vsbox::engine::monitor::kill::{self, KillError};
use vsbox::engine::monitor::scope::Scope;
use vsbox::engine::monitor::signals;
use vsbox::engine::context::registry::Registry;
use vsbox::engine::context::spec::SPECTATOR;

use crate::cli;

const FAIL: i32 = 1;

const USAGE: &str = "\
Usage: vkill [--ctx N] [-s SIG | -SIG] [--] [PID...]

Send a signal (default TERM) to processes. Without --ctx, PIDs are host pids.
With --ctx N, PIDs are pids inside context N (as its processes see them: 1 is
its init); with --ctx N and no PID, every process of context N is signalled,
its init last.

Options:
  --ctx N, --xid N, -c N
                    the context (0: the host, whose processes are in no context)
  -s SIG, --signal SIG, -SIG
                    the signal: a name (TERM, SIGHUP, kill), a number 0..64, or
                    RTMIN+N / RTMAX-N
  --help            display this usage information
";

pub fn main(args: &[String]) -> i32 {
    let mut ctx: Option<u32> = None;
    let mut sig = 15;
    let mut pids: Vec<&str> = Vec::new();
    let mut i = 1;
    let mut only_pids = false;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if only_pids || !a.starts_with('-') || a == "-" {
            pids.push(a);
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if a.starts_with("--") => (n, Some(v)),
            _ => (a, None),
        };
        let mut value = |opt: &str| -> Result<String, i32> {
            if let Some(v) = inline {
                return Ok(v.to_owned());
            }
            match args.get(i) {
                Some(v) => {
                    i += 1;
                    Ok(v.clone())
                }
                None => {
                    cli::error("vkill", format_args!("{opt} needs a value (see 'vkill --help')"));
                    Err(FAIL)
                }
            }
        };
        match name {
            "--" => only_pids = true,
            "--help" | "-h" => {
                use std::io::Write as _;
                let _ = std::io::stdout().lock().write_all(USAGE.as_bytes());
                return 0;
            }
            "--ctx" | "--xid" | "-c" => {
                let w = match value(name) {
                    Ok(w) => w,
                    Err(code) => return code,
                };
                match w.parse::<u32>() {
                    Ok(n) if n <= 65535 => ctx = Some(n),
                    _ => {
                        cli::error("vkill", format_args!("invalid context number '{w}' (use 0 for the host, or 2..65535)"));
                        return FAIL;
                    }
                }
            }
            "-s" | "--signal" => {
                let w = match value(name) {
                    Ok(w) => w,
                    Err(code) => return code,
                };
                match parse_sig(&w) {
                    Some(s) => sig = s,
                    None => return bad_signal(&w),
                }
            }
            _ if name.starts_with("--") => {
                cli::error("vkill", format_args!("unknown option '{name}' (see 'vkill --help')"));
                return FAIL;
            }
            // -9, -KILL, -SIGTERM; also -sKILL.
            _ => match a.strip_prefix("-s").filter(|r| !r.is_empty() && parse_sig(a).is_none()) {
                Some(rest) => match parse_sig(rest) {
                    Some(s) => sig = s,
                    None => return bad_signal(rest),
                },
                None => match parse_sig(a) {
                    Some(s) => sig = s,
                    None => return bad_signal(a),
                },
            },
        }
    }
    run(ctx, sig, &pids)
}

/// A signal word: the leading `-` of the `-SIG` form is the option's, not part of
/// the name.
fn parse_sig(w: &str) -> Option<i32> {
    if w.starts_with("--") {
        return None;
    }
    signals::parse_signal(w)
}

fn bad_signal(w: &str) -> i32 {
    cli::error("vkill", format_args!("invalid signal specified: '{w}' (use a name such as TERM, HUP or KILL, or a number 0..64)"));
    FAIL
}

fn run(ctx: Option<u32>, sig: i32, words: &[&str]) -> i32 {
    // Every PID is checked before anything is sent.
    let mut pids = Vec::with_capacity(words.len());
    for w in words {
        match w.parse::<u32>() {
            Ok(p) if p > 0 && p <= i32::MAX as u32 => pids.push(p),
            Ok(_) => {
                cli::error("vkill", format_args!("'{w}' is not a process id (for a whole context use --ctx N without PIDs)"));
                return FAIL;
            }
            Err(_) => {
                cli::error("vkill", format_args!("'{w}' is not a number"));
                return FAIL;
            }
        }
    }
    if pids.is_empty() && ctx.is_none() {
        cli::error("vkill", "no pid specified (give PIDs, or --ctx N to signal a whole context)");
        return FAIL;
    }
    match ctx {
        Some(SPECTATOR) => {
            cli::error("vkill", "context 1 is the spectator: it has no processes of its own");
            return FAIL;
        }
        Some(0) if pids.is_empty() => {
            cli::error("vkill", "context 0 is the host: refusing to signal all of it (name the PIDs)");
            return FAIL;
        }
        _ => {}
    }
    if cli::vserver().is_some() {
        return cli::legacy::vkill(ctx, sig, &pids);
    }
    let settings = cli::settings();
    let scope = match Scope::load(&settings) {
        Ok(s) => s,
        Err(e) => {
            cli::error("vkill", e);
            return FAIL;
        }
    };
    if let Some(n) = ctx.filter(|&n| !scope.is_running(n)) {
        cli::error("vkill", KillError::NoContext(n));
        return FAIL;
    }
    if pids.is_empty() {
        let n = ctx.unwrap_or(0);
        let reg = Registry::new(settings);
        return match kill::signal_context(&scope, &reg, n, sig) {
            Ok(_) => 0,
            Err(e) => {
                cli::error("vkill", e);
                FAIL
            }
        };
    }
    let mut code = 0;
    for local in pids {
        let host = match ctx {
            None => Ok(local),
            Some(n) => match kill::host_pid(&scope, n, local) {
                Ok(Some(p)) => Ok(p),
                Ok(None) => Err(KillError::NoProcess { pid: local, ctx }),
                Err(e) => Err(KillError::Sys(e)),
            },
        };
        let r = host.and_then(|p| {
            kill::signal_pid(&scope, p, ctx, sig).map_err(|e| match e {
                // Report the pid as it was given.
                KillError::NoProcess { .. } => KillError::NoProcess { pid: local, ctx },
                e => e,
            })
        });
        if let Err(e) = r {
            cli::error("vkill", e);
            code = FAIL;
        }
    }
    code
}
