//! applet: vps
//! summary: ps with each process's security context and its name
//!
//! A native ps (no external ps is run): the common forms `vps`, `vps ax`, `vps aux`,
//! `vps -ef`, `vps -e -o LIST`, plus `--ctx N` and `--json`. It runs on the host,
//! where every context's processes are visible, so there is no spectator re-exec.
//! Contexts come from the cgroups in bulk; the rows stream through one 64 KiB
//! buffer, with no allocation per process.
//!
//! Exit status: 0; 1 for bad usage or an unknown context (as ps's usage errors);
//! 254 when /proc cannot be read (as util-vserver's vps for internal errors).

use std::io::Write as _;

use vsbox::engine::monitor::clock;
use vsbox::engine::monitor::names::Names;
use vsbox::engine::monitor::report::Units;
use vsbox::engine::monitor::report::json::JsonArray;
use vsbox::engine::monitor::report::ps::{self, Col, Me, PsEnv, PsRow};
use vsbox::engine::monitor::users::Users;
use vsbox::engine::context::registry::Registry;
use vsbox::engine::context::spec::SPECTATOR;
use vsbox::sys::procscan::{self, Flow, Want};

use crate::cli;

const USAGE_FAIL: i32 = 1;
const FAIL: i32 = 254;

const USAGE: &str = "\
Usage: vps [ax | aux | -e | -ef | -A] [-o LIST | o LIST | --format LIST] [--ctx N] [--json]

List processes as ps does, with the security context of each (CONTEXT) and the
context's name (NAME: MAIN for the host, the registered name, or UNKNOWN). vps
runs on the host and sees the processes of every context.

Options:
  ax, -e, -A        every process (default: your own, on your terminal)
  a, x              every user's processes with a terminal; yours without one too
  u, aux            user format: USER PID CONTEXT NAME %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND
  -f, -ef           full format: UID PID PPID CONTEXT NAME C STIME TTY TIME CMD
  -o LIST, o LIST, --format LIST
                    these columns (comma-separated; repeatable): pid ppid ctx name
                    user uid pcpu pmem vsz rss tty stat start time bsdtime comm args
                    nice etime c vpid (vpid: the pid inside its context)
  --ctx N           only the processes of context N (0: the host's)
  --json            one JSON object per process, keyed by column
  --help            display this usage information
";

pub fn main(args: &[String]) -> i32 {
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    if rest.iter().any(|a| matches!(*a, "--help" | "-h" | "help")) {
        let _ = std::io::stdout().lock().write_all(USAGE.as_bytes());
        return 0;
    }
    let spec = match ps::parse_ps_args(&rest) {
        Ok(s) => s,
        Err(e) => {
            cli::error("vps", format_args!("{e} (see 'vps --help')"));
            return USAGE_FAIL;
        }
    };
    let settings = cli::settings();
    let scope = match cli::scope(&settings) {
        Ok(s) => s,
        Err(e) => {
            cli::error("vps", e);
            return FAIL;
        }
    };
    match spec.ctx {
        Some(SPECTATOR) => {
            cli::error("vps", "context 1 is the spectator: it has no processes of its own (use 'vps ax' to see all)");
            return USAGE_FAIL;
        }
        Some(c) if !scope.is_running(c) => {
            cli::error("vps", format_args!("context {c} not found (see vserver-stat for the running ones)"));
            return USAGE_FAIL;
        }
        _ => {}
    }

    let has = |col: Col| spec.cols.iter().any(|c| c.col == col);
    let users = if has(Col::User) { Users::load() } else { Users::default() };
    let now = procscan::now();
    let env = PsEnv {
        units: Units::host(),
        uptime_cs: procscan::read_uptime().unwrap_or(0),
        boot_time: procscan::boot_time(),
        now,
        utc_offset: if has(Col::Start) { clock::local_utc_offset(now) } else { 0 },
        mem_total_kb: if has(Col::Pmem) { procscan::mem_total_kb().unwrap_or(0) } else { 0 },
        users: &users,
    };
    let sel = spec.select;
    let me = if sel.every || (sel.all_users && sel.no_tty_too) {
        Me { euid: 0, tty_nr: 0 }
    } else {
        let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let tty_nr = procscan::with_pid(pid, Want::STAT, |p| p.stat.tty_nr).ok().flatten().unwrap_or(0);
        Me { euid: rustix::process::geteuid().as_raw(), tty_nr }
    };
    let reg = Registry::new(settings);
    let mut names = Names::new(&reg);
    let mut out = Out::new();

    let header = if spec.json { JsonArray::open(&mut out).map(Some) } else { ps::write_ps_header(&mut out, &spec.cols).map(|()| None) };
    let Ok(mut arr) = header else { return out.finish(Err(std::fmt::Error)) };
    let scanned = scope.scan(spec.want(), |p, ctx| {
        if !spec.selects(p, ctx, &me) {
            return Flow::Continue;
        }
        let row = PsRow { proc: p, ctx, name: names.vps(ctx) };
        let r = match arr.as_mut() {
            Some(a) => a.item(&mut out).and_then(|()| ps::write_ps_json(&mut out, &spec.cols, &env, &row)),
            None => ps::write_ps_row(&mut out, &spec.cols, &env, &row),
        };
        if r.is_ok() { Flow::Continue } else { Flow::Stop }
    });
    if let Err(e) = scanned {
        let _ = out.w.flush();
        cli::error("vps", e);
        return FAIL;
    }
    let r = match arr {
        Some(a) if out.err.is_none() => a.close(&mut out),
        _ => Ok(()),
    };
    out.finish(r)
}

/// `fmt::Write` into a 64 KiB buffer on stdout (written with rustix, one write per
/// buffer), keeping the first I/O error.
struct Out {
    w: std::io::BufWriter<Stdout>,
    err: Option<std::io::Error>,
}

struct Stdout;

impl std::io::Write for Stdout {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        loop {
            match rustix::io::write(rustix::stdio::stdout(), b) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return Ok(r?),
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Out {
    fn new() -> Out {
        Out { w: std::io::BufWriter::with_capacity(64 << 10, Stdout), err: None }
    }

    /// Flush and give the exit status: a reader that went away (EPIPE, `vps ax |
    /// head`) is no error; anything else is one line.
    fn finish(mut self, r: std::fmt::Result) -> i32 {
        if self.err.is_none()
            && let Err(e) = self.w.flush()
        {
            self.err = Some(e);
        }
        match self.err.take() {
            None if r.is_ok() => 0,
            None => {
                cli::error("vps", "cannot format the output");
                FAIL
            }
            Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
            Some(e) => {
                let errno = rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO);
                cli::error("vps", format_args!("cannot write the output: {}", vsbox::sys::ErrnoText(errno)));
                FAIL
            }
        }
    }
}

impl std::fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.err.is_some() {
            return Err(std::fmt::Error);
        }
        self.w.write_all(s.as_bytes()).map_err(|e| {
            self.err = Some(e);
            std::fmt::Error
        })
    }
}
