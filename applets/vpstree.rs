//! applet: vpstree
//! summary: the process tree of each security context, like pstree -p
//!
//! One tree per context, under a `context N: NAME` line: context 0 is the host
//! (every process in no context), and each context's trees start at the processes
//! whose parent is outside it (its init). Drawn in ASCII as `pstree -p -A` does.
//! The original was `chcontext --ctx 1 pstree`; vsbox reads the host's /proc
//! directly, where every context is visible.
//!
//! Exit status: 0; 1 for bad usage, an unknown context, or an unreadable /proc
//! (as pstree).

use argh::FromArgs;
use std::fmt::Write as _;

use vsbox::engine::monitor::gather;
use vsbox::engine::monitor::names::Names;
use vsbox::engine::context::registry::Registry;

use crate::cli;

const FAIL: i32 = 1;

#[derive(FromArgs)]
/// Show the process tree of each security context (context 0 is the host), with
/// pids, as pstree -p draws it.
struct Opts {
    /// only this context (0: the host)
    #[argh(option)]
    ctx: Option<String>,
    /// show pids (always on; accepted for pstree compatibility)
    #[argh(switch, short = 'p')]
    #[allow(dead_code)]
    pids: bool,
    /// ASCII line drawing (always on; accepted for pstree compatibility)
    #[argh(switch, short = 'A')]
    #[allow(dead_code)]
    ascii: bool,
}

pub fn main(args: &[String]) -> i32 {
    let o: Opts = match cli::parse(args, FAIL) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let only = match o.ctx.as_deref().map(|w| w.parse::<u32>()) {
        None => None,
        Some(Ok(n)) if n <= 65535 => Some(n),
        Some(_) => {
            let w = o.ctx.as_deref().unwrap_or("");
            cli::error("vpstree", format_args!("invalid context number '{w}' (use 0 for the host, or 2..65535)"));
            return FAIL;
        }
    };
    let settings = cli::settings();
    let scope = match cli::scope(&settings) {
        Ok(s) => s,
        Err(e) => {
            cli::error("vpstree", e);
            return FAIL;
        }
    };
    match only {
        Some(1) => {
            cli::error("vpstree", "context 1 is the spectator: it has no processes of its own");
            return FAIL;
        }
        Some(c) if !scope.is_running(c) => {
            cli::error("vpstree", format_args!("context {c} not found (see vserver-stat for the running ones)"));
            return FAIL;
        }
        _ => {}
    }
    let forest = match gather::forest(&scope) {
        Ok(f) => f,
        Err(e) => {
            cli::error("vpstree", e);
            return FAIL;
        }
    };
    let reg = Registry::new(settings);
    let mut names = Names::new(&reg);
    let mut out = String::with_capacity(64 << 10);
    for ctx in forest.contexts() {
        if only.is_some_and(|c| c != ctx) {
            continue;
        }
        let _ = match names.display(ctx) {
            "" => writeln!(out, "context {ctx}"),
            name => writeln!(out, "context {ctx}: {name}"),
        };
        let _ = forest.write_context(&mut out, ctx);
    }
    cli::write_out("vpstree", out.as_bytes(), FAIL)
}
