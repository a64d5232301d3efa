//! applet: vserver
//! summary: start, stop, enter, build and boot named virtual servers (util-vserver style)
//!
//! `vserver [--silent] [--nodev] NAME COMMAND [ARGS...]` and `vserver --onboot
//! start|stop`. The conf is $VSBOX_CONFDIR/NAME.conf (default /etc/vservers), the
//! tree $VSBOX_ROOTDIR/NAME (default /vservers); the lifecycle pieces live in
//! `engine::vserver`, the context itself in `engine::context`.
//!
//! Exit status: 0 on success (also for starting a running vserver and stopping a
//! stopped one, as the original); 1 for bad input (a bad name, no conf, no tree, a
//! bad conf, a missing IPROOTDEV, an unknown command) or a failed step; `running`:
//! 0 running, 1 not; exec, suexec, enter, service: the command's status, 255 when it
//! cannot be executed or the user does not exist (the original's capchroot).

use std::io::Write as _;

use rustix::fs::{FileType, Mode, OFlags};

use vsbox::engine::vserver::conf::{self, VserverConf};
use vsbox::engine::context::{self, Join, Outcome};
use vsbox::engine::context::relay::Io;
use vsbox::engine::network::ipv4root::IpRoot;
use vsbox::engine::context::registry::{Entry, Registry};
use vsbox::engine::context::spec::{Flags, User};
use vsbox::engine::context::wire::Stage;
use vsbox::engine::vserver::{self as vs, Paths, State, Tree, VsLock};
use vsbox::sys::caps::CapSet;
use vsbox::sys::ErrnoText;

use crate::cli;

const USAGE: &str = "\
vserver [ options ] server-name command ...
vserver --onboot start|stop

server-name is a directory in /vservers ($VSBOX_ROOTDIR); its configuration is
/etc/vservers/server-name.conf ($VSBOX_CONFDIR).

command:
  build --debootstrap SUITE [MIRROR] [--variant=V] | --copy DIR | --tarball FILE
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
  status    running or not, its context, process count, addresses and uptime
  chkconfig [--level LEVELS] SERVICE on|off
            enable or disable a service at the vserver's boot

options:
  --nodev   do not put the IP aliases on IPROOTDEV (they are there already)
  --silent  print nothing but errors and the command's own output
  --onboot start|stop
            start (or stop, in reverse) every vserver with ONBOOT=yes";

/// One vserver command in progress.
struct Vs {
    name: String,
    applet: String,
    paths: Paths,
    reg: Registry,
    silent: bool,
    nodev: bool,
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
    if rest.len() < 2 {
        println!("{USAGE}");
        return 0;
    }
    let v = Vs::new(&rest[0], silent, nodev);
    if let Err(why) = vs::check_name(&rest[0]) {
        return v.fail(format_args!("invalid vserver name: {why}"));
    }
    if !cli::is_root() {
        return v.fail("vservers are managed by root only (run it as root)");
    }
    let cargs = &rest[2..];
    if rest[1] == "build" {
        return v.build(cargs);
    }
    if let Err(code) = v.check() {
        return code;
    }
    match rest[1].as_str() {
        "start" => v.start(),
        "stop" => v.stop(),
        "restart" => {
            if v.reg.find_name(&v.name).is_some() {
                let c = v.stop();
                if c != 0 {
                    return c;
                }
            }
            v.start()
        }
        "running" => i32::from(v.reg.find_name(&v.name).is_none()),
        "status" => v.status(),
        "enter" => v.enter(),
        "exec" => v.exec_as(None, cargs, "exec"),
        "suexec" => v.suexec(cargs),
        "service" => v.service(cargs),
        "chkconfig" => v.chkconfig(cargs),
        other => v.fail(format_args!("Command unknown '{other}' (see 'vserver --help')")),
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
    let confdir = confdir();
    let (mut list, problems) = conf::list_onboot(&confdir);
    let mut failed = 0;
    for p in &problems {
        cli::error("vserver", format_args!("--onboot: {p}"));
        failed += 1;
    }
    if action == "stop" {
        list.reverse();
    }
    for (_, name) in &list {
        let v = Vs::new(name, silent, nodev);
        let code = match vs::check_name(name).map_err(|w| v.fail(format_args!("invalid vserver name: {w}"))).and_then(|()| v.check()) {
            Err(c) => c,
            Ok(()) if action == "start" => v.start(),
            Ok(()) => v.stop(),
        };
        if code != 0 {
            failed += 1;
        }
    }
    i32::from(failed > 0)
}

fn confdir() -> String {
    env_dir("VSBOX_CONFDIR", "/etc/vservers")
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

fn exists(p: &str) -> bool {
    vsbox::sys::file::exists(p)
}

fn is_dir(p: &str) -> bool {
    rustix::fs::stat(p).is_ok_and(|m| FileType::from_raw_mode(m.st_mode) == FileType::Directory)
}

/// The environment as exec takes it (the same form as `cli::environment`, so the
/// engine's generic create/enter are shared with chcontext's in the binary).
fn bytes(env: Vec<String>) -> Vec<Vec<u8>> {
    env.into_iter().map(String::into_bytes).collect()
}

fn flush() {
    let _ = std::io::stdout().flush();
}

impl Vs {
    fn new(name: &str, silent: bool, nodev: bool) -> Vs {
        let settings = cli::settings();
        let paths = Paths { confdir: confdir(), rootdir: env_dir("VSBOX_ROOTDIR", "/vservers"), rundir: settings.rundir.clone() };
        Vs { name: name.to_owned(), applet: format!("vserver {name}"), paths, reg: Registry::new(settings), silent, nodev }
    }

    fn fail(&self, msg: impl std::fmt::Display) -> i32 {
        self.fail_with(1, msg)
    }

    fn fail_with(&self, code: i32, msg: impl std::fmt::Display) -> i32 {
        cli::error(&self.applet, msg);
        code
    }

    fn warn(&self, msg: impl std::fmt::Display) {
        cli::error(&self.applet, format_args!("warning: {msg}"));
    }

    fn say(&self, msg: impl std::fmt::Display) {
        if !self.silent {
            println!("{msg}");
        }
    }

    /// The checks every command but build starts with (§9.3).
    fn check(&self) -> Result<(), i32> {
        let conf = self.paths.conf(&self.name);
        if !exists(&conf) {
            return Err(self.fail(format_args!(
                "No configuration for this vserver: {conf} (create it with 'vserver {} build')",
                self.name
            )));
        }
        let root = self.paths.root(&self.name);
        if !is_dir(&root) {
            return Err(self.fail(format_args!("No directory for this vserver: {root} (create it with 'vserver {} build')", self.name)));
        }
        Ok(())
    }

    /// The profile to read the conf with: what the running vserver was started
    /// with, else $PROFILE.
    fn profile(&self, state: Option<&State>) -> Option<String> {
        state.and_then(|s| s.profile.clone()).or_else(|| std::env::var("PROFILE").ok().filter(|p| !p.is_empty()))
    }

    fn load_conf(&self, profile: Option<&str>) -> Result<VserverConf, i32> {
        let env: Vec<(&str, &str)> = profile.map(|p| ("PROFILE", p)).into_iter().collect();
        match conf::load(&self.paths.conf(&self.name), &env) {
            Ok((c, warnings)) => {
                for w in warnings {
                    self.warn(w);
                }
                Ok(c)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn tree(&self) -> Result<Tree, i32> {
        let root = self.paths.root(&self.name);
        Tree::open(&root).map_err(|e| self.fail(format_args!("cannot open {root}: {}", ErrnoText(e))))
    }

    fn term() -> Option<String> {
        std::env::var("TERM").ok()
    }

    // ---- start ------------------------------------------------------------------

    fn start(&self) -> i32 {
        println!("Starting the virtual server {}", self.name);
        let lock = match VsLock::acquire(&self.paths, &self.name) {
            Ok(l) => l,
            Err(e) => return self.fail(e),
        };
        if let Some(e) = self.reg.find_name(&self.name) {
            return self.fail_with(
                0,
                format_args!("Server {} is already running (context {}); 'vserver {} restart' restarts it", self.name, e.id, self.name),
            );
        }
        let profile = self.profile(None);
        let (conf, lock) = match self.load_conf_holding(profile.as_deref(), lock) {
            Ok(c) => c,
            Err(code) => return code,
        };
        self.boot(lock, &conf, None)
    }

    /// Bring the vserver up under `lock`: its aliases, its context, then either its
    /// init (`cmd` None: start) or a command (`cmd`: exec in a temporary context,
    /// which counts as the vserver running while it lives). Everything made is
    /// removed again when it fails.
    fn boot(&self, lock: VsLock, conf: &VserverConf, cmd: Option<(&[String], Option<User>)>) -> i32 {
        let root = self.paths.root(&self.name);
        let tree = match self.tree() {
            Ok(t) => t,
            Err(c) => {
                self.release(lock);
                return c;
            }
        };
        let plan = match vs::boot_plan(&tree, conf) {
            Ok(p) => Some(p),
            Err(e) if cmd.is_none() => {
                self.release(lock);
                return self.fail(format_args!("cannot start: {e}"));
            }
            Err(_) => None,
        };
        let runlevel = plan.as_ref().map(|p| p.runlevel).unwrap_or(vs::DEFAULT_RUNLEVEL);
        if let (None, Some(p)) = (&cmd, &plan) {
            vs::prepare_tree(&tree, conf.profile.as_deref(), p.runlevel, p.init);
        }
        drop(tree);

        let planned = if self.nodev {
            Vec::new()
        } else {
            match vs::plan_aliases(&self.name, conf) {
                Ok(p) => p,
                Err(e) => {
                    self.release(lock);
                    return self.fail(e);
                }
            }
        };
        let added = match vs::add_aliases(&planned) {
            Ok(a) => a,
            Err(e) => {
                self.release(lock);
                return self.fail(e);
            }
        };
        let remove = vs::remove_of(conf);
        let ipv4 = match vs::ipv4root_of(conf, &planned, remove) {
            Ok(r) => r,
            Err(e) => {
                vs::remove_aliases(&added);
                self.release(lock);
                return self.fail(e);
            }
        };
        let state = State { profile: conf.profile.clone(), aliases: added.clone() };
        if let Err(e) = state.save(&self.paths, &self.name) {
            vs::remove_aliases(&added);
            self.release(lock);
            return self.fail(e);
        }

        let mut spec = vs::context_spec(&self.name, &root, conf, ipv4.clone());
        let lv = runlevel.to_string();
        let mut env = vs::guest_env(conf, conf.profile.as_deref(), Self::term().as_deref(), &[]);
        let argv: Vec<String> = match (&cmd, &plan) {
            (Some((argv, user)), _) => {
                spec.disconnect = false;
                spec.user = user.clone();
                argv.to_vec()
            }
            (None, Some(p)) => {
                env.push(format!("RUNLEVEL={lv}"));
                env.push(String::from("PREVLEVEL=N"));
                p.start.clone()
            }
            (None, None) => unreachable!("a start without a plan returned above"),
        };

        // The lock goes to a helper that holds it until the context is in the
        // registry (the keeper tells it), so a long boot does not block other
        // commands, and no second start can slip in before the first is recorded.
        flush();
        let (release, helper) = match vs::hand_over(lock) {
            Ok(x) => x,
            Err(e) => {
                vs::remove_aliases(&added);
                State::remove(&self.paths, &self.name);
                return self.fail(e);
            }
        };
        let silent = self.silent;
        let hostname = conf.hostname.clone();
        let domain = spec.domainname.clone();
        let mut release = Some(release);
        let mut announce = move |n: u32| {
            if let Some(w) = release.take() {
                let _ = vsbox::sys::file::write_fd(&w, b"r");
            }
            if silent {
                return;
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ipv4root is now {}", ipv4.as_ref().map(|r| r.to_string()).unwrap_or_else(|| String::from("0.0.0.0")));
            if let Some(h) = &hostname {
                let _ = writeln!(out, "Host name is now {h}");
            }
            if let Some(d) = &domain {
                let _ = writeln!(out, "Domain name is now {d}");
            }
            let _ = writeln!(out, "New security context is {n}");
            let _ = out.flush();
        };
        // A start's rc output comes through a pty of the guest's own (its daemons
        // keep that, never the admin's terminal); an exec gets the usual plan.
        let io = match &cmd {
            Some(_) => Io::for_caller(&[]),
            None => {
                let tty_in = vsbox::sys::pty::is_tty(rustix::stdio::stdin());
                Io { pty: 0b110 | u8::from(tty_in), null: u8::from(!tty_in), ctty: false, echo: true, log: None, keep: &[] }
            }
        };
        let r = context::create(&self.reg, &spec, &argv, &bytes(env), &io, &mut announce);
        drop(announce);
        let _ = rustix::process::waitpid(Some(helper), rustix::process::WaitOptions::empty());

        let what = argv.first().cloned().unwrap_or_default();
        match r {
            Ok(Outcome::Detached(_)) => 0,
            Ok(Outcome::Exited(code)) => {
                let running = self.settled();
                if !running {
                    self.forget_if_stopped(&added);
                }
                match (&cmd, code) {
                    (Some(_), c) => c,
                    (None, 0) => 0,
                    (None, c) if running => {
                        self.warn(format_args!("{what} exited with status {c}; the vserver runs what it started"));
                        0
                    }
                    (None, c) => self.fail(format_args!("{what} exited with status {c}, and nothing is left running in the vserver")),
                }
            }
            Err(e) => {
                self.forget_if_stopped(&added);
                if e.errno == rustix::io::Errno::EXIST && e.what == Stage::Registry.what() && let Some(n) = spec.id {
                    self.fail(format_args!("cannot start: S_CONTEXT={n}: that context number is in use (pick another, or leave S_CONTEXT unset)"))
                } else if e.what == "execute the command" {
                    self.fail_with(255, format_args!("cannot execute '{what}' in {root}: {}", ErrnoText(e.errno)))
                } else {
                    self.fail(format_args!("cannot start: {e}"))
                }
            }
        }
    }

    /// Whether the vserver still runs once its boot command has ended: a context
    /// with nothing but its init left is about to end by itself (its init leaves
    /// with the last process), so wait for that rather than report it running.
    fn settled(&self) -> bool {
        for _ in 0..400 {
            let Some(e) = self.reg.find_name(&self.name) else { return false };
            if e.init > 0 && vs::pids(&self.reg, e.id).iter().any(|&p| p != e.init) {
                return true;
            }
            // Wake as soon as the init leaves (its pidfd turns readable).
            let pfd = rustix::process::Pid::from_raw(e.init)
                .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
            if let Some(pfd) = pfd {
                let mut fds = [rustix::event::PollFd::new(&pfd, rustix::event::PollFlags::IN)];
                let _ = rustix::event::poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 5_000_000 }));
            } else {
                let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 0, tv_nsec: 1_000_000 });
            }
        }
        self.reg.find_name(&self.name).is_some()
    }

    /// After a context ended or failed: unless another start got in meanwhile,
    /// remove the aliases, the state and the lock file.
    fn forget_if_stopped(&self, added: &[vs::Alias]) {
        let Ok(lock) = VsLock::acquire(&self.paths, &self.name) else { return };
        if self.reg.find_name(&self.name).is_none() {
            vs::remove_aliases(added);
            self.forget(lock);
        }
    }

    /// `load_conf` while holding the vserver's lock, which goes when the conf fails.
    fn load_conf_holding(&self, profile: Option<&str>, lock: VsLock) -> Result<(VserverConf, VsLock), i32> {
        match self.load_conf(profile) {
            Ok(c) => Ok((c, lock)),
            Err(code) => {
                self.release(lock);
                Err(code)
            }
        }
    }

    /// Unlock after a start that made nothing: the lock file goes too unless a
    /// state file (of a crashed vserver, for stop to clear) is there.
    fn release(&self, lock: VsLock) {
        if exists(&self.paths.state(&self.name)) {
            return;
        }
        lock.remove();
        let _ = rustix::fs::rmdir(self.paths.state_dir().as_str());
    }

    /// Remove the state file and the lock file (under the lock).
    fn forget(&self, lock: VsLock) {
        let _ = rustix::fs::unlink(self.paths.state(&self.name).as_str());
        lock.remove();
        let _ = rustix::fs::rmdir(self.paths.state_dir().as_str());
    }

    // ---- stop -------------------------------------------------------------------

    fn stop(&self) -> i32 {
        println!("Stopping the virtual server {}", self.name);
        let lock = match VsLock::acquire(&self.paths, &self.name) {
            Ok(l) => l,
            Err(e) => return self.fail(e),
        };
        let state = State::load(&self.paths, &self.name);
        let Some(e) = self.reg.find_name(&self.name) else {
            println!("Server {} is not running", self.name);
            // Whatever a crashed vserver left behind goes now.
            if let Some(st) = &state {
                vs::remove_aliases(&st.aliases);
            }
            self.forget(lock);
            return 0;
        };
        let profile = self.profile(state.as_ref());
        self.shutdown_scripts(&e, profile.as_deref());
        self.say("Killing all processes");
        vs::terminate_others(&self.reg, &e);
        vs::wait_for_others(&self.reg, &e, vs::STOP_GRACE_MS);
        let r = context::stop(&self.reg, e.id);
        if let Some(st) = &state {
            vs::remove_aliases(&st.aliases);
        }
        self.forget(lock);
        match r {
            Ok(_) => 0,
            Err(err) => self.fail(format_args!("cannot stop context {}: {err}", e.id)),
        }
    }

    /// The guest's own shutdown (rc 6), run inside; its problems are warnings.
    fn shutdown_scripts(&self, e: &Entry, profile: Option<&str>) {
        if e.flags.has(Flags::PRIVATE) {
            return;
        }
        let Ok(conf) = self.load_conf(profile) else { return };
        let Ok(tree) = self.tree() else { return };
        let Ok(plan) = vs::boot_plan(&tree, &conf) else { return };
        drop(tree);
        if plan.stop.is_empty() {
            return;
        }
        let lv = plan.runlevel.to_string();
        let env = vs::guest_env(&conf, profile, Self::term().as_deref(), &[("PREVLEVEL", &lv), ("RUNLEVEL", "6")]);
        flush();
        let how = Join { extra_remove: CapSet::EMPTY, extra_flags: Flags::default(), user: None };
        let code = match context::enter(&self.reg, e, &how, &plan.stop, &bytes(env), &Io::for_caller(&[])) {
            Ok(c) => c,
            Err(err) => {
                self.warn(format_args!("cannot run {}: {err}", plan.stop.join(" ")));
                255
            }
        };
        if code != 0 && code != 255 {
            self.warn(format_args!("{} exited with status {code}", plan.stop.join(" ")));
        }
    }

    // ---- status -----------------------------------------------------------------

    fn status(&self) -> i32 {
        let Some(e) = self.reg.find_name(&self.name) else {
            println!("Server {} is not running", self.name);
            return 0;
        };
        let n = vs::pids(&self.reg, e.id).len();
        let ips = IpRoot::parse_rendered(&e.ips);
        let addrs = if ips.is_unrestricted() {
            String::from("0.0.0.0 (any)")
        } else {
            ips.v4.iter().map(|x| format!("{}/{}", x.addr, u32::from(x.mask).leading_ones())).collect::<Vec<_>>().join(" ")
        };
        println!("Server {} is running", self.name);
        println!("Security context: {}", e.id);
        println!("{n} processes running");
        println!("Addresses: {addrs}");
        println!("Vserver uptime: {}", vs::fmt_uptime(vs::uptime_secs(&e)));
        0
    }

    // ---- commands inside --------------------------------------------------------

    fn enter(&self) -> i32 {
        let tree = match self.tree() {
            Ok(t) => t,
            Err(c) => return c,
        };
        let shell: Vec<String> = if tree.is_executable("bin/bash") {
            vec!["/bin/bash".into(), "--login".into()]
        } else {
            vec!["/bin/sh".into(), "-l".into()]
        };
        drop(tree);
        self.exec_as(None, &shell, "enter")
    }

    fn suexec(&self, args: &[String]) -> i32 {
        const SYNOPSIS: &str = "usage: vserver NAME suexec USER COMMAND [ARGS...]";
        let Some(user) = args.first() else {
            return self.fail(format_args!("Missing user! ({SYNOPSIS})"));
        };
        if args.len() < 2 {
            return self.fail(format_args!("Missing command and arguments! ({SYNOPSIS})"));
        }
        let u = if user == "root" {
            None
        } else {
            let tree = match self.tree() {
                Ok(t) => t,
                Err(c) => return c,
            };
            match vs::lookup_user(&tree, user) {
                Some(u) => Some(u),
                None => {
                    return self.fail_with(255, format_args!("User not found: {user} (not in {}/etc/passwd)", tree.path));
                }
            }
        };
        self.exec_as(u, &args[1..], "suexec")
    }

    /// Run `argv` inside as `user`: joined to the running context, or in a fresh
    /// temporary one when the vserver is stopped (as the original).
    fn exec_as(&self, user: Option<User>, argv: &[String], how: &str) -> i32 {
        if argv.is_empty() {
            return self.fail(format_args!("Missing command! (usage: vserver NAME {how} COMMAND [ARGS...])"));
        }
        if let Some(e) = self.reg.find_name(&self.name) {
            return self.join(&e, user, argv, how == "enter");
        }
        let lock = match VsLock::acquire(&self.paths, &self.name) {
            Ok(l) => l,
            Err(e) => return self.fail(e),
        };
        if let Some(e) = self.reg.find_name(&self.name) {
            drop(lock);
            return self.join(&e, user, argv, how == "enter");
        }
        let profile = self.profile(None);
        let (conf, lock) = match self.load_conf_holding(profile.as_deref(), lock) {
            Ok(c) => c,
            Err(code) => return code,
        };
        self.boot(lock, &conf, Some((argv, user)))
    }

    fn join(&self, e: &Entry, user: Option<User>, argv: &[String], banner: bool) -> i32 {
        let state = State::load(&self.paths, &self.name);
        let mut extra: Vec<(&str, String)> = Vec::new();
        if let Some(p) = state.as_ref().and_then(|s| s.profile.clone()) {
            extra.push(("PROFILE", p));
        }
        if banner {
            extra.push(("PS1", format!("[\\u@vserver:{} \\W]\\$ ", self.name)));
            if !self.silent {
                let ips = IpRoot::parse_rendered(&e.ips);
                let shown = if ips.is_unrestricted() { String::from("0.0.0.0") } else { ips.to_string() };
                println!("ipv4root is now {shown}");
                println!("New security context is {}", e.id);
            }
        }
        let mut env = vec![String::from(vs::GUEST_PATH), String::from("HOME=/root")];
        if let Some(t) = Self::term().filter(|t| !t.is_empty()) {
            env.push(format!("TERM={t}"));
        }
        env.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
        flush();
        let how = Join { extra_remove: CapSet::EMPTY, extra_flags: Flags::default(), user: user.as_ref() };
        match context::enter(&self.reg, e, &how, argv, &bytes(env), &Io::for_caller(&[])) {
            Ok(code) => code,
            Err(err) if err.what == "execute the command" => {
                self.fail_with(255, format_args!("cannot execute '{}': {}", argv[0], ErrnoText(err.errno)))
            }
            Err(err) => self.fail(err),
        }
    }

    fn service(&self, args: &[String]) -> i32 {
        let [service, action, ..] = args else {
            return self.fail("usage: vserver NAME service SERVICE start|stop|restart|status");
        };
        if service.contains('/') || service.starts_with('.') {
            return self.fail(format_args!("'{service}' is not a service name"));
        }
        let tree = match self.tree() {
            Ok(t) => t,
            Err(c) => return c,
        };
        let mut argv: Vec<String> = Vec::new();
        if let Some(dir) = ["etc/init.d", "etc/rc.d/init.d"].iter().find(|d| tree.is_executable(&format!("{d}/{service}"))) {
            argv.push(format!("/{dir}/{service}"));
        } else if let Some(s) = ["sbin/service", "usr/sbin/service"].iter().find(|p| tree.is_executable(p)) {
            argv.push(format!("/{s}"));
            argv.push(service.clone());
        } else {
            return self.fail(format_args!("there is no service {service} in {}/etc/init.d", tree.path));
        }
        drop(tree);
        argv.push(action.clone());
        argv.extend(args[2..].iter().cloned());
        self.exec_as(None, &argv, "service")
    }

    fn chkconfig(&self, args: &[String]) -> i32 {
        const INVALID: &str = "Invalid argument, expected vserver name chkconfig [ --level nnn ] service on|off";
        let (level, rest) = match args {
            [l, lv, rest @ ..] if l == "--level" => (Some(lv.clone()), rest),
            rest => (None, rest),
        };
        let [service, onoff] = rest else { return self.fail(INVALID) };
        let on = match onoff.as_str() {
            "on" | "start" => true,
            "off" | "stop" => false,
            _ => return self.fail(format_args!("chkconfig: Expecting on or off, not '{onoff}'")),
        };
        if let Some(l) = &level
            && (l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit() || b == b'S' || b == b's'))
        {
            return self.fail(format_args!("chkconfig: '{l}' is not a list of run levels (like 2345)"));
        }
        let tree = match self.tree() {
            Ok(t) => t,
            Err(c) => return c,
        };
        let s = |x: &str| x.to_owned();
        if tree.is_executable("sbin/chkconfig") {
            drop(tree);
            let mut argv = vec![s("/sbin/chkconfig")];
            if let Some(l) = level {
                argv.extend([s("--level"), l]);
            }
            argv.extend([service.clone(), s(if on { "on" } else { "off" })]);
            return self.exec_as(None, &argv, "chkconfig");
        }
        if tree.is_executable("usr/sbin/update-rc.d") {
            drop(tree);
            let u = s("/usr/sbin/update-rc.d");
            let steps: Vec<Vec<String>> = if on {
                vec![vec![u.clone(), s("-f"), service.clone(), s("remove")], vec![u.clone(), service.clone(), s("defaults")]]
            } else {
                vec![vec![u.clone(), service.clone(), s("defaults")], vec![u.clone(), service.clone(), s("disable")]]
            };
            for argv in steps {
                let c = self.exec_as(None, &argv, "chkconfig");
                if c != 0 {
                    return c;
                }
            }
            return 0;
        }
        match vs::chkconfig_links(&tree, service, on, level.as_deref().unwrap_or("2345")) {
            Ok(()) => 0,
            Err(e) => self.fail(format_args!("chkconfig: {e}")),
        }
    }

    // ---- build ------------------------------------------------------------------

    fn build(&self, args: &[String]) -> i32 {
        const HOW: &str = "build takes one of --debootstrap SUITE [MIRROR] [--variant=V], --copy DIR, --tarball FILE";
        enum Method {
            Debootstrap { suite: String, mirror: Option<String> },
            Copy(String),
            Tarball(String),
        }
        let mut method: Option<Method> = None;
        let mut variant: Option<String> = None;
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            let next = |i: usize| args.get(i + 1).filter(|v| !v.starts_with("--")).cloned();
            let m = match a {
                "--debootstrap" => {
                    let Some(suite) = next(i) else { return self.fail(format_args!("--debootstrap needs a SUITE ({HOW})")) };
                    i += 1;
                    let mirror = next(i);
                    if mirror.is_some() {
                        i += 1;
                    }
                    Method::Debootstrap { suite, mirror }
                }
                "--copy" => {
                    let Some(d) = next(i) else { return self.fail(format_args!("--copy needs a DIR ({HOW})")) };
                    i += 1;
                    Method::Copy(d)
                }
                "--tarball" => {
                    let Some(f) = next(i) else { return self.fail(format_args!("--tarball needs a FILE ({HOW})")) };
                    i += 1;
                    Method::Tarball(f)
                }
                "--variant" => {
                    let Some(v) = next(i) else { return self.fail("--variant needs a value (minbase, buildd, ...)") };
                    variant = Some(v);
                    i += 2;
                    continue;
                }
                v if v.starts_with("--variant=") => {
                    variant = Some(v["--variant=".len()..].to_owned());
                    i += 1;
                    continue;
                }
                other => return self.fail(format_args!("build: unknown argument '{other}' ({HOW})")),
            };
            if method.is_some() {
                return self.fail(format_args!("build: more than one source given ({HOW})"));
            }
            method = Some(m);
            i += 1;
        }
        let Some(method) = method else { return self.fail(HOW) };
        if variant.as_deref().is_some_and(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
            return self.fail("--variant takes a debootstrap variant name (minbase, buildd, fakechroot)");
        }

        let root = self.paths.root(&self.name);
        match vs::is_empty_dir(&root) {
            Ok(true) => {}
            Ok(false) => {
                return self.fail(format_args!("Virtual server {root} already exist (remove it first, or pick another name)"));
            }
            Err(e) => return self.fail(format_args!("{root}: {}", ErrnoText(e))),
        }
        let rootdir = &self.paths.rootdir;
        if !exists(rootdir) {
            let r = vsbox::sys::file::mkdir_p(rootdir, 0o755).and_then(|()| rustix::fs::chmod(rootdir.as_str(), Mode::empty()));
            if let Err(e) = r {
                return self.fail(format_args!("cannot create {rootdir}: {}", ErrnoText(e)));
            }
            println!("Directory {rootdir} was created with permissions 000");
        }
        let made = match rustix::fs::mkdir(root.as_str(), Mode::from_raw_mode(0o755)) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            Err(e) => return self.fail(format_args!("cannot create {root}: {}", ErrnoText(e))),
        };
        let _ = rustix::fs::chmod(root.as_str(), Mode::from_raw_mode(0o755));
        let undo = |msg: String| -> i32 {
            if let Ok(t) = Tree::open(&root) {
                t.clear(".", false);
            }
            if made {
                let _ = rustix::fs::rmdir(root.as_str());
            }
            self.fail(format_args!("{msg}; {root} was emptied again"))
        };
        let hostenv = cli::environment();
        flush();
        match &method {
            Method::Debootstrap { suite, mirror } => {
                let mut argv = vec![String::from("debootstrap")];
                if let Some(v) = &variant {
                    argv.push(format!("--variant={v}"));
                }
                argv.push(suite.clone());
                argv.push(root.clone());
                argv.extend(mirror.iter().cloned());
                match vs::run_visible(&argv, &hostenv) {
                    Ok(0) => {}
                    Ok(c) => return undo(format!("debootstrap failed (status {c})")),
                    Err(e) => return undo(format!("cannot run debootstrap: {} (install it, e.g. apt-get install debootstrap)", ErrnoText(e.errno))),
                }
            }
            Method::Copy(dir) => {
                if !is_dir(dir) {
                    return undo(format!("--copy {dir}: not a directory"));
                }
                if let Err(e) = vs::copy_tree(dir, &root) {
                    return undo(format!("cannot copy {dir}: {e}"));
                }
            }
            Method::Tarball(f) => {
                if !rustix::fs::stat(f.as_str()).is_ok_and(|m| FileType::from_raw_mode(m.st_mode) == FileType::RegularFile) {
                    return undo(format!("--tarball {f}: no such file"));
                }
                let argv: Vec<String> = ["tar", "-x", "-p", "--numeric-owner", "-f", f, "-C", &root].iter().map(|s| s.to_string()).collect();
                match vs::run_visible(&argv, &hostenv) {
                    Ok(0) => {}
                    Ok(c) => return undo(format!("tar failed (status {c})")),
                    Err(e) => return undo(format!("cannot run tar: {}", ErrnoText(e.errno))),
                }
            }
        }
        match Tree::open(&root) {
            Ok(t) => vs::build_cleanup(&t),
            Err(e) => return undo(format!("cannot open the new tree: {}", ErrnoText(e))),
        }
        println!("Directory {root} has been populated");
        let confdir = &self.paths.confdir;
        if !exists(confdir) {
            let r = vsbox::sys::file::mkdir_p(confdir, 0o700).and_then(|()| rustix::fs::chmod(confdir.as_str(), Mode::from_raw_mode(0o700)));
            if let Err(e) = r {
                return self.fail(format_args!("cannot create {confdir}: {}", ErrnoText(e)));
            }
            println!("Directory {confdir} has been created");
        }
        let conf = self.paths.conf(&self.name);
        if !exists(&conf) {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
            let r = rustix::fs::open(conf.as_str(), flags, Mode::from_raw_mode(0o644))
                .and_then(|fd| vsbox::sys::file::write_fd(&fd, conf::render_template(&self.name).as_bytes()));
            if let Err(e) = r {
                return self.fail(format_args!("cannot write {conf}: {}", ErrnoText(e)));
            }
            println!("{conf} has been created. Look at it!");
        }
        0
    }
}
