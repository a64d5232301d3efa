//! applet: chcontext
//! summary: run a command in a new or existing security context
//!
//! Without --ctx, chcontext allocates a new context (the lowest free number from 2
//! up): new pid, mount, UTS, IPC and cgroup namespaces, a tiny init as PID 1, and a
//! cgroup `<parent>/N` in every hierarchy. `--ctx N` joins context N when it exists,
//! and creates it with that number otherwise. `--ctx 1` is the spectator: it sees
//! every process and can signal none.
//!
//! Exit status: the command's; 255 when the context or the command cannot be set up
//! (as the original's exit(-1)); 0 at once with --disconnect.

use argh::FromArgs;
use std::io::Write as _;
use vsbox::engine::context::{self, Join, Outcome};
use vsbox::engine::context::relay::Io;
use vsbox::engine::context::registry::Registry;
use vsbox::engine::context::spec::{ContextSpec, Flags, SPECTATOR};
use vsbox::sys::caps::{self, CapSet};

use crate::cli;

const FAIL: i32 = 255;

#[derive(FromArgs)]
/// Run COMMAND in a security context: a new one (the lowest free number), or
/// context N with --ctx N (joined when it exists, created otherwise). Prints
/// "New security context is N" unless --silent.
struct Opts {
    /// keep a capability that --secure would remove (CAP_NET_RAW, net_raw, 13);
    /// "!CAP" removes one instead; repeatable
    #[argh(option)]
    cap: Vec<String>,
    /// remove the vserver "secure" capability set (see reducecap --help) and refuse
    /// user namespaces, bpf, keyrings, perf, kexec, modules and the new mount API
    #[argh(switch)]
    secure: bool,
    /// the context number: 1 is the spectator; 2..65535 joins or creates that one
    #[argh(option)]
    ctx: Option<String>,
    /// detach: new session, stdio to /dev/null unless redirected, return at once
    #[argh(switch)]
    disconnect: bool,
    /// set the NIS domain name of a new context ("none" means empty)
    #[argh(option)]
    domainname: Option<String>,
    /// set the host name of a new context
    #[argh(option)]
    hostname: Option<String>,
    /// context flags, repeatable or comma-separated: lock sched nproc private
    /// fakeinit hideinfo ulimit
    #[argh(option)]
    flag: Vec<String>,
    /// print nothing but errors
    #[argh(switch)]
    silent: bool,
    /// pass descriptor N (above 2) on to the command; every other one the caller
    /// has open is closed before anything runs in the context; repeatable
    #[argh(option)]
    keep_fd: Vec<i32>,
    /// the command to run, and its arguments
    #[argh(positional, greedy)]
    command: Vec<String>,
}

pub fn main(args: &[String]) -> i32 {
    cli::main_with::<Opts>(args, FAIL, run)
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    cli::error("chcontext", msg);
    FAIL
}

fn run(o: Opts) -> Result<i32, i32> {
    // Capabilities: --secure's set plus every "!CAP", less every "CAP" (kept wins).
    let (mut remove, mut keep) = (if o.secure { CapSet::SECURE_REMOVE } else { CapSet::EMPTY }, CapSet::EMPTY);
    for word in &o.cap {
        let (neg, name) = match word.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, word.as_str()),
        };
        let c = caps::parse_cap(name).ok_or_else(|| fail(format_args!("unknown capability '{name}' (see capabilities(7))")))?;
        if neg {
            remove = remove.union(CapSet::bit(c));
        } else {
            keep = keep.union(CapSet::bit(c));
        }
    }
    let remove = remove.minus(keep);
    let mut flags = if o.secure { Flags::SECURE } else { Flags::default() };
    for f in o.flag.iter().flat_map(|l| l.split(',')).filter(|f| !f.is_empty()) {
        let v = Flags::parse(f).filter(|v| *v != Flags::SECURE);
        flags = flags.with(v.ok_or_else(|| fail(format_args!("unknown flag '{f}' (known: lock sched nproc private fakeinit hideinfo ulimit)")))?);
    }
    let ctx = match &o.ctx {
        Some(w) => Some(cli::parse_ctx("chcontext", w)?),
        None => None,
    };
    if o.command.is_empty() {
        return Err(fail("no command given (see 'chcontext --help')"));
    }
    if !cli::is_root() {
        return Err(fail("contexts are made and joined by root only (run it as root)"));
    }
    if let Some(&bad) = o.keep_fd.iter().find(|&&n| n <= 2 || !vsbox::sys::fd::is_open(n)) {
        return Err(fail(format_args!("--keep-fd {bad}: not an open descriptor above 2")));
    }
    if let Some(k) = cli::vserver() {
        let domainname = o.domainname.as_deref().map(|d| if d == "none" { "" } else { d }.to_owned());
        let spec = ContextSpec { id: ctx, flags, remove, hostname: o.hostname.clone(), domainname, disconnect: o.disconnect, ..ContextSpec::default() };
        return Ok(cli::legacy::chcontext(k, &spec, o.silent, &o.command));
    }
    let io = if o.disconnect { Io::inherit(&o.keep_fd) } else { Io::for_caller(&o.keep_fd) };
    let env = cli::environment();

    if ctx == Some(SPECTATOR) {
        if !o.silent {
            println!("New security context is 1");
        }
        let _ = std::io::stdout().flush();
        let e = context::spectate(remove, &o.command, &env);
        return Err(fail(format_args!("cannot execute '{}' as the spectator: {e}", o.command[0])));
    }

    let reg = Registry::new(cli::settings());
    let join = |e: &vsbox::engine::context::registry::Entry| -> Result<i32, i32> {
        let n = e.id;
        if o.hostname.is_some() || o.domainname.is_some() {
            return Err(fail(format_args!("--hostname and --domainname name a new context; context {n} exists already")));
        }
        if !o.silent {
            println!("New security context is {n}");
        }
        let _ = std::io::stdout().flush();
        let how = Join { extra_remove: remove, extra_flags: flags, user: None };
        context::enter(&reg, e, &how, &o.command, &env, &io).map_err(|e| {
            if e.what == context::ENDED {
                fail(format_args!("context {n} ended meanwhile"))
            } else if e.what == "execute the command" {
                fail(format_args!("cannot execute '{}': {}", o.command[0], vsbox::sys::ErrnoText(e.errno)))
            } else {
                fail(format_args!("{e}"))
            }
        })
    };
    if let Some(e) = ctx.and_then(|n| reg.find(n)) {
        return join(&e);
    }

    let domain = o.domainname.as_deref().map(|d| if d == "none" { String::new() } else { d.to_owned() });
    let spec = ContextSpec {
        id: ctx,
        flags,
        remove,
        hostname: o.hostname.clone(),
        domainname: domain.clone(),
        disconnect: o.disconnect,
        ..ContextSpec::default()
    };
    let silent = o.silent;
    let mut announce = |n: u32| {
        if silent {
            return;
        }
        let mut out = std::io::stdout().lock();
        if let Some(h) = &o.hostname {
            let _ = writeln!(out, "Host name is now {h}");
        }
        if let Some(d) = &domain {
            let _ = writeln!(out, "Domain name is now {d}");
        }
        let _ = writeln!(out, "New security context is {n}");
        let _ = out.flush();
    };
    // --ctx N that another command created meanwhile is joined instead.
    for _ in 0..3 {
        match context::create(&reg, &spec, &o.command, &env, &io, &mut announce) {
            Ok(Outcome::Exited(code)) => return Ok(code),
            Ok(Outcome::Detached(_)) => return Ok(0),
            Err(e) if e.errno == rustix::io::Errno::EXIST && e.what == vsbox::engine::context::wire::Stage::Registry.what() => {
                if let Some(e) = ctx.and_then(|n| reg.find(n)) {
                    return join(&e);
                }
            }
            Err(e) if e.what == "execute the command" => {
                return Err(fail(format_args!("cannot execute '{}': {} (check the name and PATH)", o.command[0], vsbox::sys::ErrnoText(e.errno))))
            }
            Err(e) => return Err(fail(format_args!("{e}"))),
        }
    }
    Err(fail(format_args!("context {} is in use (see vserver-stat)", ctx.unwrap_or(0))))
}
