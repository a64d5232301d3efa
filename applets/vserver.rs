//! applet: vserver
//! summary: start, stop, enter, build and boot named virtual servers (util-vserver style)
//!
//! `vserver [--silent] [--nodev] NAME COMMAND [ARGS...]`, `vserver list [--json]`
//! and `vserver --onboot start|stop`. The conf is $VSBOX_CONFDIR/NAME.conf (default
//! /etc/vservers), the tree $VSBOX_ROOTDIR/NAME (default /vservers). The lifecycle
//! is `engine::vserver::lifecycle`; this file reads the options and prints.
//!
//! Exit status: 0 on success (also for starting a running vserver and stopping a
//! stopped one, as the original); 1 for bad input (a bad name, no conf, no tree, a
//! bad conf, a missing IPROOTDEV, an unknown command) or a failed step; `running`:
//! 0 running, 1 not; `running` and `status` as non-root: 2; exec, suexec, enter,
//! service: the command's status, 255 when it cannot be executed or the user does
//! not exist (the original's capchroot).

use std::fmt::Write as _;

use vsbox::engine::context::registry::Registry;
use vsbox::engine::monitor::report::json::{json_str, JsonArray, JsonObject};
use vsbox::engine::monitor::report::stat::fmt_time_cs;
use vsbox::engine::network::ipv4root::IpRoot;
use vsbox::engine::vserver::build::Source;
use vsbox::engine::vserver::conf;
use vsbox::engine::vserver::lifecycle::{Caller, Failure, How, Report, Status, Vserver};
use vsbox::engine::vserver::{self as vs, Paths};

use crate::cli;

const USAGE: &str = "\
vserver [ options ] server-name command ...
vserver list [--json]
vserver --onboot start|stop

server-name is a directory in /vservers ($VSBOX_ROOTDIR); its configuration is
/etc/vservers/server-name.conf ($VSBOX_CONFDIR).

command:
  build --debootstrap SUITE [MIRROR] [--variant=V] [-- DEBOOTSTRAP-OPTIONS...]
        | --copy DIR [--fresh-identity] | --tarball FILE [--fresh-identity]
            create /vservers/server-name and a commented configuration
  enter     a login shell inside the virtual server
  exec CMD [ARGS...]
            run a command inside (in a fresh temporary context when it is stopped)
  suexec USER CMD [ARGS...]
            run a command inside as USER (from the vserver's own /etc/passwd)
  service SERVICE start|stop|restart|status
            control a service inside
  start     start the virtual server: its IP aliases, its context, its init
  stop      stop it: its shutdown scripts, then SIGTERM, then SIGKILL
  restart   stop it (if running), then start it
  running   exit 0 when it is running, 1 when not (prints nothing)
  status [--json]
            running or not, its context, process count, addresses and uptime
  log       what its last start printed (its rc scripts)
  chkconfig [--level LEVELS] SERVICE on|off
            enable or disable a service at the vserver's boot

options:
  --nodev   do not put the IP aliases on IPROOTDEV (they are there already)
  --silent  print nothing but errors and the commands' own output
  --onboot start|stop
            start (or stop, in reverse) every vserver with ONBOOT=yes";

/// The applet's printing: progress and banners on stdout (none with --silent),
/// warnings on stderr. A reader that went away (`vserver x start | head`) is
/// not an error: output stops, the work goes on.
struct Out {
    applet: String,
    silent: bool,
}

impl Report for Out {
    fn say(&mut self, line: std::fmt::Arguments<'_>) {
        if !self.silent {
            line_out(line);
        }
    }
    fn warn(&mut self, line: std::fmt::Arguments<'_>) {
        cli::error(&self.applet, format_args!("warning: {line}"));
    }
    fn banner(&mut self, line: std::fmt::Arguments<'_>) {
        if !self.silent {
            line_out(line);
        }
    }
}

fn line_out(line: std::fmt::Arguments<'_>) {
    let mut s = String::new();
    let _ = writeln!(s, "{line}");
    let _ = cli::write_out("vserver", s.as_bytes(), 0);
}

pub fn main(args: &[String]) -> i32 {
    let (mut silent, mut nodev, mut onboot) = (false, false, false);
    let mut i = 1;
    while let Some(a) = args.get(i).filter(|a| a.starts_with('-')) {
        match a.as_str() {
            "--silent" => silent = true,
            "--nodev" => nodev = true,
            "--onboot" => onboot = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return 0;
            }
            o => {
                cli::error("vserver", format_args!("unknown option '{o}' (see 'vserver --help')"));
                return 1;
            }
        }
        i += 1;
    }
    let rest = &args[i..];
    if onboot {
        return onboot_cmd(rest, silent, nodev);
    }
    if rest.first().map(String::as_str) == Some("list") {
        return list(&rest[1..]);
    }
    if rest.len() < 2 {
        println!("{USAGE}");
        return 0;
    }
    let (name, cmd, cargs) = (rest[0].as_str(), rest[1].as_str(), &rest[2..]);
    let mut out = Out { applet: format!("vserver {name}"), silent };
    let fail = |out: &Out, f: Failure| -> i32 {
        cli::error(&out.applet, &f.msg);
        f.code
    };
    if let Err(why) = vs::check_name(name) {
        return fail(&out, Failure::new(1, format_args!("invalid vserver name: {why}")));
    }
    if !cli::is_root() {
        // `running` and `status` answer 0 or 1: a caller that cannot tell gets 2.
        let code = if cmd == "running" || cmd == "status" { 2 } else { 1 };
        return fail(&out, Failure::new(code, "vservers are managed by root only (run it as root)"));
    }
    let paths = paths();
    let reg = Registry::new(cli::settings());
    let v = Vserver { name, paths: &paths, reg: &reg, nodev };
    let (profile, term) = (env("PROFILE"), env("TERM"));
    let caller = Caller { profile: profile.as_deref(), term: term.as_deref(), stdin_tty: vsbox::sys::pty::is_tty(vsbox::sys::file::stdin()), quiet: silent };
    if cmd == "build" {
        return match build_args(cargs) {
            Ok((src, fresh)) => match v.build(&src, fresh, &cli::environment(), &mut out) {
                Ok(()) => 0,
                Err(f) => fail(&out, f),
            },
            Err(f) => fail(&out, f),
        };
    }
    if let Err(f) = v.check() {
        return fail(&out, f);
    }
    let r: Result<i32, Failure> = match cmd {
        "start" => v.start(&caller, &mut out).map(|()| 0),
        "stop" => v.stop(&caller, &mut out).map(|()| 0),
        "restart" => {
            let stopped = if v.status().entry.is_some() { v.stop(&caller, &mut out) } else { Ok(()) };
            stopped.and_then(|()| v.start(&caller, &mut out)).map(|()| 0)
        }
        "running" => Ok(i32::from(!v.status().running())),
        "status" => Ok(status(&v, cargs)),
        "log" => v.log().map(|text| cli::write_out("vserver", &text, 1)),
        "enter" => v.enter(&caller, &mut out),
        "exec" => v.exec(None, cargs, How::Exec, &[], &caller, &mut out),
        "suexec" => suexec(&v, cargs, &caller, &mut out),
        "service" => match cargs {
            [service, rest @ ..] if !rest.is_empty() => v.service(service, rest, &caller, &mut out),
            _ => Err(Failure::new(1, "usage: vserver NAME service SERVICE start|stop|restart|status")),
        },
        "chkconfig" => chkconfig(&v, cargs, &caller, &mut out),
        other => Err(Failure::new(1, format_args!("Command unknown '{other}' (see 'vserver --help')"))),
    };
    match r {
        Ok(code) => code,
        Err(f) => fail(&out, f),
    }
}

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

fn env_dir(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => {
            let t = v.trim_end_matches('/');
            if t.is_empty() { String::from("/") } else { t.to_owned() }
        }
        _ => default.to_owned(),
    }
}

fn paths() -> Paths {
    Paths { confdir: env_dir("VSBOX_CONFDIR", "/etc/vservers"), rootdir: env_dir("VSBOX_ROOTDIR", "/vservers"), rundir: cli::settings().rundir }
}

fn suexec(v: &Vserver<'_>, args: &[String], caller: &Caller<'_>, out: &mut Out) -> Result<i32, Failure> {
    const SYNOPSIS: &str = "usage: vserver NAME suexec USER COMMAND [ARGS...]";
    let Some(user) = args.first() else { return Err(Failure::new(1, format_args!("Missing user! ({SYNOPSIS})"))) };
    if args.len() < 2 {
        return Err(Failure::new(1, format_args!("Missing command and arguments! ({SYNOPSIS})")));
    }
    v.suexec(user, &args[1..], caller, out)
}

fn chkconfig(v: &Vserver<'_>, args: &[String], caller: &Caller<'_>, out: &mut Out) -> Result<i32, Failure> {
    const INVALID: &str = "Invalid argument, expected vserver name chkconfig [ --level nnn ] service on|off";
    let (level, rest) = match args {
        [l, lv, rest @ ..] if l == "--level" => (Some(lv.as_str()), rest),
        rest => (None, rest),
    };
    let [service, onoff] = rest else { return Err(Failure::new(1, INVALID)) };
    let on = match onoff.as_str() {
        "on" | "start" => true,
        "off" | "stop" => false,
        _ => return Err(Failure::new(1, format_args!("chkconfig: Expecting on or off, not '{onoff}'"))),
    };
    v.chkconfig(service, on, level, caller, out)
}

/// `build` options: one source, --variant, --fresh-identity, and after `--`
/// options for debootstrap.
fn build_args(args: &[String]) -> Result<(Source, bool), Failure> {
    const HOW: &str = "build takes one of --debootstrap SUITE [MIRROR] [--variant=V] [-- OPTIONS], --copy DIR, --tarball FILE";
    let bad = |m: String| Err(Failure::new(1, m));
    let (args, passed) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let mut src: Option<Source> = None;
    let (mut variant, mut fresh) = (None, false);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let next = |i: usize| args.get(i + 1).filter(|v| !v.starts_with("--")).cloned();
        let s = match a {
            "--debootstrap" => {
                let Some(suite) = next(i) else { return bad(format!("--debootstrap needs a SUITE ({HOW})")) };
                i += 1;
                let mirror = next(i);
                if mirror.is_some() {
                    i += 1;
                }
                Source::Debootstrap { suite, mirror, variant: None, options: Vec::new() }
            }
            "--copy" => {
                let Some(d) = next(i) else { return bad(format!("--copy needs a DIR ({HOW})")) };
                i += 1;
                Source::Copy(d)
            }
            "--tarball" => {
                let Some(f) = next(i) else { return bad(format!("--tarball needs a FILE ({HOW})")) };
                i += 1;
                Source::Tarball(f)
            }
            "--fresh-identity" => {
                fresh = true;
                i += 1;
                continue;
            }
            "--variant" => {
                let Some(v) = next(i) else { return bad(String::from("--variant needs a value (minbase, buildd, ...)")) };
                variant = Some(v);
                i += 2;
                continue;
            }
            v if v.starts_with("--variant=") => {
                variant = Some(v["--variant=".len()..].to_owned());
                i += 1;
                continue;
            }
            other => return bad(format!("build: unknown argument '{other}' ({HOW})")),
        };
        if src.is_some() {
            return bad(format!("build: more than one source given ({HOW})"));
        }
        src = Some(s);
        i += 1;
    }
    let Some(mut src) = src else { return bad(String::from(HOW)) };
    if variant.as_deref().is_some_and(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
        return bad(String::from("--variant takes a debootstrap variant name (minbase, buildd, fakechroot)"));
    }
    match &mut src {
        Source::Debootstrap { variant: v, options, .. } => {
            *v = variant;
            *options = passed;
        }
        _ if variant.is_some() || !passed.is_empty() => return bad(String::from("--variant and options after -- go with --debootstrap")),
        _ => {}
    }
    if fresh && matches!(src, Source::Debootstrap { .. }) {
        return bad(String::from("--fresh-identity goes with --copy or --tarball (a debootstrap tree has no identity yet)"));
    }
    Ok((src, fresh))
}

/// `status [--json]`.
fn status(v: &Vserver<'_>, args: &[String]) -> i32 {
    let json = match args {
        [] => false,
        [j] if j == "--json" => true,
        _ => {
            cli::error(&format!("vserver {}", v.name), "status takes only --json");
            return 1;
        }
    };
    let st = v.status();
    let mut s = String::new();
    if json {
        let _ = status_json(&mut s, v.name, &st, None);
        s.push('\n');
        return cli::write_out("vserver", s.as_bytes(), 1);
    }
    match (&st.entry, st.temporary) {
        (None, _) => {
            let _ = writeln!(s, "Server {} is not running", v.name);
        }
        (Some(e), true) => {
            let _ = writeln!(s, "Server {} is not running (a temporary exec context {} is alive)", v.name, e.id);
        }
        (Some(e), false) => {
            let _ = writeln!(s, "Server {} is running", v.name);
            let _ = writeln!(s, "Security context: {}", e.id);
            let _ = writeln!(s, "{} processes running", st.processes);
            let _ = writeln!(s, "Addresses: {}", addresses(&e.ips));
            let _ = writeln!(s, "Vserver uptime: {}", fmt_time_cs(st.uptime_cs));
        }
    }
    cli::write_out("vserver", s.as_bytes(), 1)
}

fn addresses(ips: &str) -> String {
    let ips = IpRoot::parse_rendered(ips);
    if ips.is_unrestricted() {
        String::from("0.0.0.0 (any)")
    } else {
        ips.v4.iter().map(|x| format!("{}/{}", x.addr, u32::from(x.mask).leading_ones())).collect::<Vec<_>>().join(" ")
    }
}

/// One vserver as a JSON object (status --json, list --json).
fn status_json(w: &mut String, name: &str, st: &Status, conf: Option<&conf::VserverConf>) -> std::fmt::Result {
    let mut o = JsonObject::begin(w)?;
    o.str("name", name)?;
    o.str("state", if st.running() { "running" } else if st.temporary { "temporary" } else { "stopped" })?;
    match &st.entry {
        Some(e) => {
            o.uint("ctx", e.id as u64)?;
            o.uint("init_pid", e.init as u64)?;
            o.uint("processes", st.processes as u64)?;
            o.uint("uptime_s", st.uptime_cs / 100)?;
            let ips: Vec<String> = IpRoot::parse_rendered(&e.ips).v4.iter().map(|a| format!("{}/{}", a.addr, u32::from(a.mask).leading_ones())).collect();
            let w = o.key("ipv4root")?;
            w.push('[');
            for (i, ip) in ips.iter().enumerate() {
                if i > 0 {
                    w.push(',');
                }
                json_str(w, ip)?;
            }
            w.push(']');
        }
        None => o.key("ctx")?.push_str("null"),
    }
    if let Some(c) = conf {
        o.key("onboot")?.push_str(if c.onboot { "true" } else { "false" });
        o.str("iproot", &conf_iproot(c))?;
    }
    o.end()
}

fn conf_iproot(c: &conf::VserverConf) -> String {
    match &c.iproot {
        conf::IpRoot::Untied => String::new(),
        conf::IpRoot::All => String::from("ALL"),
        conf::IpRoot::List(l) => l.iter().map(|e| format!("{}/{}", vs::dotted(e.addr), c.prefix_of(e))).collect::<Vec<_>>().join(" "),
    }
}

/// `vserver list [--json]`: every configured vserver, running or not.
fn list(args: &[String]) -> i32 {
    let json = match args {
        [] => false,
        [j] if j == "--json" => true,
        _ => {
            cli::error("vserver", "list takes only --json (see 'vserver --help')");
            return 1;
        }
    };
    let paths = paths();
    let reg = Registry::new(cli::settings());
    let mut s = String::new();
    let mut arr = if json { JsonArray::open(&mut s).ok() } else { None };
    let mut text = String::new();
    if !json {
        let _ = writeln!(text, "{:<16} {:>5} {:<9} {:>5} {:<8} IPROOT", "NAME", "CTX", "STATE", "PROC", "ONBOOT");
    }
    for name in conf::list_names(&paths.confdir) {
        let v = Vserver { name: &name, paths: &paths, reg: &reg, nodev: false };
        let st = v.status();
        let c = conf::load(&paths.conf(&name), &[]).ok().map(|(c, _)| c);
        if let Some(a) = arr.as_mut() {
            let _ = a.item(&mut s);
            let _ = status_json(&mut s, &name, &st, c.as_ref());
        } else {
            let ctx = st.entry.as_ref().map(|e| e.id.to_string()).unwrap_or_else(|| String::from("-"));
            let state = if st.running() { "running" } else if st.temporary { "temporary" } else { "stopped" };
            let onboot = c.as_ref().map(|c| if c.onboot { "yes" } else { "no" }).unwrap_or("?");
            let ip = c.as_ref().map(conf_iproot).unwrap_or_default();
            let _ = writeln!(text, "{name:<16} {ctx:>5} {state:<9} {:>5} {onboot:<8} {ip}", st.processes);
        }
    }
    if let Some(a) = arr {
        let _ = a.close(&mut s);
        cli::write_out("vserver", s.as_bytes(), 1)
    } else {
        cli::write_out("vserver", text.as_bytes(), 1)
    }
}

/// `vserver --onboot start|stop`: every ONBOOT=yes vserver in PRIORITY then name
/// order (stop: the reverse); carries on past failures, exits 1 if any failed.
fn onboot_cmd(rest: &[String], silent: bool, nodev: bool) -> i32 {
    let action = match rest {
        [a] if a == "start" || a == "stop" => a.as_str(),
        _ => {
            cli::error("vserver", "--onboot takes start or stop (see 'vserver --help')");
            return 1;
        }
    };
    if !cli::is_root() {
        cli::error("vserver", "vservers are managed by root only (run it as root)");
        return 1;
    }
    let paths = paths();
    let reg = Registry::new(cli::settings());
    let (mut list, problems) = conf::list_onboot(&paths.confdir);
    let mut failed = 0;
    for p in &problems {
        cli::error("vserver", format_args!("--onboot: {p}"));
        failed += 1;
    }
    if action == "stop" {
        list.reverse();
    }
    let (profile, term) = (env("PROFILE"), env("TERM"));
    let caller = Caller { profile: profile.as_deref(), term: term.as_deref(), stdin_tty: false, quiet: silent };
    for (_, name) in &list {
        let mut out = Out { applet: format!("vserver {name}"), silent };
        let v = Vserver { name, paths: &paths, reg: &reg, nodev };
        let r = vs::check_name(name)
            .map_err(|w| Failure::new(1, format_args!("invalid vserver name: {w}")))
            .and_then(|()| v.check())
            .and_then(|()| if action == "start" { v.start(&caller, &mut out) } else { v.stop(&caller, &mut out) });
        if let Err(f) = r {
            cli::error(&out.applet, &f.msg);
            if f.code != 0 {
                failed += 1;
            }
        }
    }
    i32::from(failed > 0)
}
