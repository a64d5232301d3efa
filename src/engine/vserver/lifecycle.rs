//! A named vserver's life: start, stop, status, and commands inside it (exec,
//! enter, suexec, service, chkconfig), strung together from the conf, the guest's
//! tree, its aliases and a context. The applet reads options, calls these and
//! prints; everything an admin is told comes through `Report`.
//!
//! What the registry entry of a vserver's context records goes with it: the
//! aliases it added (removed by whoever ends the context: its keeper, `stop`, or
//! the next command that finds it dead), the profile it started with, and whether
//! it is only a temporary context of an `exec` on the stopped vserver.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use rustix::fd::BorrowedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::conf::{self, VserverConf};
use super::{alias, boot, tree::Tree, Paths, VsLock};
use crate::engine::context::registry::{Entry, Registry};
use crate::engine::context::relay::Io;
use crate::engine::context::spec::{Flags, User};
use crate::engine::context::wire::Stage;
use crate::engine::context::{self, Join, Outcome};
use crate::engine::network::alias as net_alias;
use crate::engine::network::ipv4root::IpRoot;
use crate::sys::caps::CapSet;
use crate::sys::netlink::Rtnl;
use crate::sys::{file, ErrnoText};

/// The last this many bytes of a start's output are kept in its log.
pub const LOG_MAX: usize = 64 << 10;

/// What the admin is told, in one-line pieces.
pub trait Report {
    /// Progress ("Starting the virtual server web"); `--silent` drops it.
    fn say(&mut self, line: fmt::Arguments<'_>);
    /// A problem that does not stop the command (stderr).
    fn warn(&mut self, line: fmt::Arguments<'_>);
    /// The banners of a started or entered vserver (`ipv4root is now …`, `New
    /// security context is N`): on stdout for start and enter, never for exec,
    /// suexec, service and chkconfig, whose stdout is the command's.
    fn banner(&mut self, line: fmt::Arguments<'_>);
}

/// A failed command: its exit status and its one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub msg: String,
}

impl Failure {
    pub fn new(code: i32, msg: impl fmt::Display) -> Failure {
        Failure { code, msg: msg.to_string() }
    }
}

pub type VsResult<T> = core::result::Result<T, Failure>;

fn fail<T>(msg: impl fmt::Display) -> VsResult<T> {
    Err(Failure::new(1, msg))
}

/// What the caller's environment brings: `$PROFILE`, `$TERM`, whether its stdin
/// is a terminal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Caller<'a> {
    pub profile: Option<&'a str>,
    pub term: Option<&'a str>,
    pub stdin_tty: bool,
    /// `--silent`: a start's rc output goes to its log only.
    pub quiet: bool,
}

/// Whether, and how, the vserver runs.
#[derive(Clone, Debug)]
pub enum Running {
    No,
    Yes(Entry),
    /// Only a temporary context of an `exec` on the stopped vserver is alive.
    Temporary(Entry),
}

/// One vserver.
pub struct Vserver<'a> {
    pub name: &'a str,
    pub paths: &'a Paths,
    pub reg: &'a Registry,
    /// Leave IPROOTDEV alone (the aliases are there already).
    pub nodev: bool,
}

/// How a command inside is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Exec,
    Enter,
    Suexec,
    Service,
    Chkconfig,
}

impl<'a> Vserver<'a> {
    /// The checks every command but build starts with (§9.3).
    pub fn check(&self) -> VsResult<()> {
        let conf = self.paths.conf(self.name);
        if !file::exists(&conf) {
            return fail(format_args!("No configuration for this vserver: {conf} (create it with 'vserver {} build')", self.name));
        }
        let root = self.paths.root(self.name);
        if !is_dir(&root) {
            return fail(format_args!("No directory for this vserver: {root} (create it with 'vserver {} build')", self.name));
        }
        Ok(())
    }

    pub fn running(&self) -> Running {
        match self.reg.find_name(self.name) {
            None => Running::No,
            Some(e) if e.temporary => Running::Temporary(e),
            Some(e) => Running::Yes(e),
        }
    }

    fn load_conf(&self, profile: Option<&str>, rep: &mut dyn Report) -> VsResult<VserverConf> {
        let env: Vec<(&str, &str)> = profile.map(|p| ("PROFILE", p)).into_iter().collect();
        match conf::load(&self.paths.conf(self.name), &env) {
            Ok((c, warnings)) => {
                for w in warnings {
                    rep.warn(format_args!("{w}"));
                }
                Ok(c)
            }
            Err(e) => fail(e),
        }
    }

    pub fn tree(&self) -> VsResult<Tree> {
        let root = self.paths.root(self.name);
        Tree::open(&root).map_err(|e| Failure::new(1, format_args!("cannot open {root}: {}", ErrnoText(e))))
    }

    fn lock(&self) -> VsResult<VsLock> {
        VsLock::acquire(self.paths, self.name).map_err(|e| Failure::new(1, e))
    }

    // ---- start ------------------------------------------------------------------

    /// Start the vserver: its aliases, its context, its rc program (or its own
    /// init with fakeinit). The rc program's output is relayed through a pty of
    /// the guest's own and kept in the vserver's log. Fails when nothing is left
    /// running afterwards.
    pub fn start(&self, caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<()> {
        let lock = self.lock()?;
        match self.running() {
            Running::Yes(e) => {
                return Err(Failure::new(
                    0,
                    format_args!("Server {} is already running (context {}); 'vserver {} restart' restarts it", self.name, e.id, self.name),
                ));
            }
            Running::Temporary(e) => {
                return fail(format_args!(
                    "cannot start: a temporary exec context {} of this vserver is alive (wait for its command to end, or end it with 'vserver {} stop')",
                    e.id, self.name
                ));
            }
            Running::No => {}
        }
        rep.say(format_args!("Starting the virtual server {}", self.name));
        let r = self.load_conf(caller.profile, rep).and_then(|conf| self.boot(lock, &conf, None, caller, rep));
        self.forget_if_stopped();
        r.map(|_| ())
    }

    /// After a start or a temporary context that left nothing running: the
    /// vserver's lock file goes (unless another start got in meanwhile).
    fn forget_if_stopped(&self) {
        let Ok(lock) = self.lock() else { return };
        if matches!(self.running(), Running::No) {
            lock.remove();
            self.tidy_state_dir();
        }
    }

    /// Bring the vserver up under `lock`: its aliases, its context, then either its
    /// init (`cmd` None: start) or a command (`cmd`: exec in a temporary context).
    /// Everything made is removed again when it fails.
    fn boot(&self, lock: VsLock, conf: &VserverConf, cmd: Option<(&[String], Option<&User>, Vec<String>)>, caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<i32> {
        let root = self.paths.root(self.name);
        let tree = self.tree()?;
        let plan = match boot::boot_plan(&tree, conf) {
            Ok(p) => Some(p),
            Err(e) if cmd.is_none() => return fail(format_args!("cannot start: {e}")),
            Err(_) => None,
        };
        let runlevel = plan.as_ref().map(|p| p.runlevel).unwrap_or(super::DEFAULT_RUNLEVEL);
        if let (None, Some(p)) = (&cmd, &plan) {
            boot::prepare_tree(&tree, conf.profile.as_deref(), p.runlevel, p.init);
        }
        drop(tree);

        let remove = super::remove_of(conf);
        let planned = if self.nodev { Vec::new() } else { alias::plan_aliases(self.name, conf).map_err(|e| Failure::new(1, e))? };
        let ipv4 = alias::ipv4root_of(conf, &planned, remove).map_err(|e| Failure::new(1, e))?;
        if let Some(r) = &ipv4 {
            self.check_addresses(r, rep)?;
        }
        let added = net_alias::add(&planned).map_err(|e| Failure::new(1, e))?;
        if let Some(r) = &ipv4 {
            self.warn_unassigned(r, rep);
        }

        let mut spec = super::context_spec(self.name, &root, conf, ipv4.clone());
        spec.aliases = added.clone();
        let lv = runlevel.to_string();
        let mut env = super::guest_env(conf, conf.profile.as_deref(), caller.term, &[]);
        let (argv, how): (Vec<String>, Option<How>) = match &cmd {
            Some((argv, user, extra)) => {
                spec.disconnect = false;
                spec.user = user.cloned();
                spec.temporary = true;
                env.extend(extra.iter().cloned());
                (argv.to_vec(), None)
            }
            None => {
                let p = plan.as_ref().ok_or(Failure::new(1, "cannot start: no boot plan"))?;
                env.push(format!("RUNLEVEL={lv}"));
                env.push(String::from("PREVLEVEL=N"));
                (p.start.clone(), Some(How::Exec))
            }
        };
        let starting = how.is_some();

        // The lock goes to a helper that holds it until the context is in the
        // registry, so a long boot does not block other commands, and no second
        // start can slip in before the first is recorded.
        let (release, helper) = match super::hand_over(lock) {
            Ok(x) => x,
            Err(e) => {
                net_alias::remove(&added);
                return fail(e);
            }
        };
        // A start's output comes through a pty of the guest's own (its daemons
        // keep that, never the admin's terminal) and goes into the log too.
        let log = if starting { open_log(&self.paths.log(self.name)) } else { None };
        let io = if starting {
            let tty_in = caller.stdin_tty;
            Io { pty: 0b110 | u8::from(tty_in), null: u8::from(!tty_in), ctty: false, echo: !caller.quiet, log: log.as_ref().map(|f| borrow(f)), keep: &[] }
        } else {
            Io::for_caller(&[])
        };
        let mut release = Some(release);
        let shown = ipv4.as_ref().map(|r| r.to_string()).unwrap_or_else(|| String::from("0.0.0.0"));
        let hostname = conf.hostname.clone();
        let domain = spec.domainname.clone();
        let mut announce = |n: u32| {
            if let Some(w) = release.take() {
                let _ = file::write_fd(&w, b"r");
            }
            if !starting {
                return;
            }
            rep.banner(format_args!("ipv4root is now {shown}"));
            if let Some(h) = &hostname {
                rep.banner(format_args!("Host name is now {h}"));
            }
            if let Some(d) = &domain {
                rep.banner(format_args!("Domain name is now {d}"));
            }
            rep.banner(format_args!("New security context is {n}"));
        };
        let r = context::create(self.reg, &spec, &argv, &bytes(env), &io, &mut announce);
        drop(announce);
        // The helper lets the lock go when the release pipe ends (the context was
        // never recorded when the creation failed early).
        drop(release);
        let _ = rustix::process::waitpid(Some(helper), rustix::process::WaitOptions::empty());
        if let Some(l) = &log {
            trim_log(l);
        }
        let what = argv.first().cloned().unwrap_or_default();
        match r {
            Ok(Outcome::Detached(_)) => Ok(0),
            Ok(Outcome::Exited(code)) if !starting => {
                // A temporary context whose command is done ends with its init: let
                // it go before answering, so the next command finds it stopped.
                let _ = self.settled();
                Ok(code)
            }
            Ok(Outcome::Exited(code)) => {
                if self.settled() {
                    if code != 0 {
                        rep.warn(format_args!("{what} exited with status {code}; the vserver runs what it started"));
                    }
                    Ok(0)
                } else if code != 0 {
                    fail(format_args!("{what} exited with status {code}, and nothing is left running in the vserver (see 'vserver {} log')", self.name))
                } else {
                    fail(format_args!("{what} ended and nothing is left running in the vserver: it has no services to run (see 'vserver {} log')", self.name))
                }
            }
            Err(e) => {
                // The entry, and with it the aliases, went with the failed creation;
                // aliases added before it was made are removed here.
                net_alias::remove(&added);
                if e.errno == Errno::EXIST && e.what == Stage::Registry.what() && let Some(n) = spec.id {
                    fail(format_args!("cannot start: S_CONTEXT={n}: that context number is in use (pick another, or leave S_CONTEXT unset)"))
                } else if e.what == "execute the command" {
                    Err(Failure::new(255, format_args!("cannot execute '{what}' in {root}: {}", ErrnoText(e.errno))))
                } else {
                    fail(format_args!("cannot start: {e}"))
                }
            }
        }
    }

    /// An address of IPROOT that another running context (another vserver, a
    /// chbind) holds is refused: both would fight over it. One registry lookup per
    /// address, through the context the name index points at, plus each live
    /// context's ips when the registry is small.
    fn check_addresses(&self, r: &IpRoot, _rep: &mut dyn Report) -> VsResult<()> {
        for e in self.reg.list() {
            if e.name == self.name || e.ips.is_empty() {
                continue;
            }
            let theirs = IpRoot::parse_rendered(&e.ips);
            if let Some(a) = r.v4.iter().find(|a| theirs.v4.iter().any(|b| b.addr == a.addr)) {
                let who = if e.name.is_empty() { format!("context {}", e.id) } else { format!("vserver {} (context {})", e.name, e.id) };
                return fail(format_args!("cannot start: IPROOT {} is already used by {who}; give this vserver an address of its own", a.addr));
            }
        }
        Ok(())
    }

    /// IPROOT addresses that are on no interface of the host (with --nodev, or no
    /// IPROOTDEV): the guest's daemons will fail to bind them. A warning, since the
    /// admin may add them later.
    fn warn_unassigned(&self, r: &IpRoot, rep: &mut dyn Report) {
        let Ok(rtnl) = Rtnl::open() else { return };
        let Ok(have) = rtnl.addresses(None) else { return };
        for a in &r.v4 {
            if !have.iter().any(|h| h.addr == a.addr.octets()) {
                rep.warn(format_args!(
                    "IPROOT {} is on no interface of this host: the vserver's daemons cannot bind it (set IPROOTDEV, or add the address)",
                    a.addr
                ));
            }
        }
    }

    /// Whether the vserver still runs once its boot command has ended: a context
    /// with nothing but its init left is about to end by itself (its init leaves
    /// with the last process), so wait for that rather than report it running.
    fn settled(&self) -> bool {
        for _ in 0..400 {
            let Some(e) = self.reg.find_name(self.name) else { return false };
            if e.init > 0 && super::pids(self.reg, e.id).iter().any(|&p| p != e.init) {
                return true;
            }
            let pfd = rustix::process::Pid::from_raw(e.init).and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
            if let Some(pfd) = pfd {
                let mut fds = [rustix::event::PollFd::new(&pfd, rustix::event::PollFlags::IN)];
                let _ = rustix::event::poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 5_000_000 }));
            } else {
                let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 0, tv_nsec: 1_000_000 });
            }
        }
        self.reg.find_name(self.name).is_some()
    }

    // ---- stop -------------------------------------------------------------------

    /// Stop the vserver: its shutdown scripts, SIGTERM to everything, then the
    /// context. Stopping a stopped vserver is not an error (a crashed one's leftovers
    /// go). A temporary exec context is ended too.
    pub fn stop(&self, caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<()> {
        let lock = self.lock()?;
        let e = match self.running() {
            Running::No => {
                rep.say(format_args!("Server {} is not running", self.name));
                // A crashed vserver's entry (its aliases with it) goes now.
                self.clear_stale();
                lock.remove();
                self.tidy_state_dir();
                return Ok(());
            }
            Running::Temporary(e) => e,
            Running::Yes(e) => {
                rep.say(format_args!("Stopping the virtual server {}", self.name));
                let profile = if e.profile.is_empty() { caller.profile.map(ToOwned::to_owned) } else { Some(e.profile.clone()) };
                self.shutdown_scripts(&e, profile.as_deref(), caller, rep);
                e
            }
        };
        rep.say(format_args!("Killing all processes"));
        super::terminate_others(self.reg, &e);
        super::wait_for_others(self.reg, &e, super::STOP_GRACE_MS);
        let r = context::stop(self.reg, e.id);
        lock.remove();
        self.tidy_state_dir();
        r.map(|_| ()).map_err(|err| Failure::new(1, format_args!("cannot stop context {}: {err}", e.id)))
    }

    /// Clear a dead entry of this name (found through the name index).
    fn clear_stale(&self) {
        let Ok(_lock) = self.reg.lock() else { return };
        let mut buf = [0u8; 16];
        let p = format!("{}/ctx/.names/{}", self.reg.settings.rundir, self.name);
        let Ok(n) = file::read_into(p.as_str(), &mut buf) else { return };
        let Some(id) = core::str::from_utf8(&buf[..n]).ok().and_then(|s| s.trim().parse::<u32>().ok()) else { return };
        if let Some(e) = self.reg.read(id).filter(|e| e.name == self.name) {
            if self.reg.find(id).is_none() {
                self.reg.clear_own(&e);
            }
        }
    }

    /// The state directory goes when no other vserver's lock or log is in it.
    fn tidy_state_dir(&self) {
        let _ = rustix::fs::rmdir(self.paths.state_dir().as_str());
    }

    /// The guest's own shutdown (rc 6), run inside; its problems are warnings.
    fn shutdown_scripts(&self, e: &Entry, profile: Option<&str>, caller: &Caller<'_>, rep: &mut dyn Report) {
        if e.flags.has(Flags::PRIVATE) {
            return;
        }
        let Ok(conf) = self.load_conf(profile, rep) else { return };
        let Ok(tree) = self.tree() else { return };
        let Ok(plan) = boot::boot_plan(&tree, &conf) else { return };
        drop(tree);
        if plan.stop.is_empty() {
            return;
        }
        let lv = plan.runlevel.to_string();
        let env = super::guest_env(&conf, profile, caller.term, &[("PREVLEVEL", &lv), ("RUNLEVEL", "6")]);
        let how = Join { extra_remove: CapSet::EMPTY, extra_flags: Flags::default(), user: None };
        match context::enter(self.reg, e, &how, &plan.stop, &bytes(env), &Io::for_caller(&[])) {
            Ok(0) => {}
            Ok(code) => rep.warn(format_args!("{} exited with status {code}", plan.stop.join(" "))),
            Err(err) => rep.warn(format_args!("cannot run {}: {err}", plan.stop.join(" "))),
        }
    }

    // ---- commands inside --------------------------------------------------------

    /// Run `argv` inside as `user`: joined to the running context, or in a fresh
    /// temporary one when the vserver is stopped (as the original). `extra` adds
    /// to the guest's environment. Returns the command's status.
    pub fn exec(&self, user: Option<&User>, argv: &[String], how: How, extra: &[(&str, String)], caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<i32> {
        if argv.is_empty() {
            return fail(format_args!("Missing command! (usage: vserver NAME {} COMMAND [ARGS...])", how.word()));
        }
        let extra: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Some(e) = self.joinable() {
            return self.join(&e, user, argv, how, &extra, caller, rep);
        }
        let lock = self.lock()?;
        if let Some(e) = self.joinable() {
            drop(lock);
            return self.join(&e, user, argv, how, &extra, caller, rep);
        }
        let mut env = user.map(user_env).unwrap_or_default();
        env.extend(extra);
        let r = self.load_conf(caller.profile, rep).and_then(|conf| self.boot(lock, &conf, Some((argv, user, env)), caller, rep));
        self.forget_if_stopped();
        r
    }

    fn joinable(&self) -> Option<Entry> {
        match self.running() {
            Running::Yes(e) | Running::Temporary(e) => Some(e),
            Running::No => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn join(&self, e: &Entry, user: Option<&User>, argv: &[String], how: How, extra: &[String], caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<i32> {
        if how == How::Enter {
            let ips = IpRoot::parse_rendered(&e.ips);
            let shown = if ips.is_unrestricted() { String::from("0.0.0.0") } else { ips.to_string() };
            rep.banner(format_args!("ipv4root is now {shown}"));
            rep.banner(format_args!("New security context is {}", e.id));
        }
        let mut env = Vec::from([String::from(super::GUEST_PATH)]);
        match user {
            Some(u) => env.extend(user_env(u)),
            None => env.push(String::from("HOME=/root")),
        }
        if let Some(t) = caller.term.filter(|t| !t.is_empty()) {
            env.push(format!("TERM={t}"));
        }
        if !e.profile.is_empty() {
            env.push(format!("PROFILE={}", e.profile));
        }
        env.extend(extra.iter().cloned());
        let j = Join { extra_remove: CapSet::EMPTY, extra_flags: Flags::default(), user };
        match context::enter(self.reg, e, &j, argv, &bytes(env), &Io::for_caller(&[])) {
            Ok(code) => Ok(code),
            Err(err) if err.what == "execute the command" => Err(Failure::new(255, format_args!("cannot execute '{}': {}", argv[0], ErrnoText(err.errno)))),
            Err(err) if err.what == context::ENDED => fail(format_args!("context {} ended meanwhile", e.id)),
            Err(err) => fail(err),
        }
    }

    /// A login shell inside (bash when the guest has it).
    pub fn enter(&self, caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<i32> {
        let tree = self.tree()?;
        let shell: Vec<String> = if tree.is_executable("bin/bash") { alloc::vec!["/bin/bash".into(), "--login".into()] } else { alloc::vec!["/bin/sh".into(), "-l".into()] };
        drop(tree);
        let ps1 = format!("[\\u@vserver:{} \\W]\\$ ", self.name);
        self.exec(None, &shell, How::Enter, &[("PS1", ps1)], caller, rep)
    }

    /// `suexec USER CMD…`: the user of the guest's own /etc/passwd, with its
    /// environment (HOME, USER, LOGNAME, SHELL) as `su -` gives it.
    pub fn suexec(&self, user: &str, argv: &[String], caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<i32> {
        let tree = self.tree()?;
        let u = super::lookup_user(&tree, user).ok_or_else(|| Failure::new(255, format_args!("User not found: {user} (not in {}/etc/passwd)", tree.path)))?;
        drop(tree);
        let u = if u.uid == 0 && u.name == "root" { User { groups: Vec::new(), ..u } } else { u };
        self.exec(Some(&u), argv, How::Suexec, &[], caller, rep)
    }

    /// `service SVC ACTION…`: the guest's init.d script (or its service program).
    pub fn service(&self, service: &str, rest: &[String], caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<i32> {
        if !service_name_ok(service) {
            return fail(format_args!("'{service}' is not a service name"));
        }
        let tree = self.tree()?;
        let mut argv: Vec<String> = Vec::new();
        if let Some(dir) = ["etc/init.d", "etc/rc.d/init.d"].iter().find(|d| tree.is_executable(&format!("{d}/{service}"))) {
            argv.push(format!("/{dir}/{service}"));
        } else if let Some(s) = ["sbin/service", "usr/sbin/service"].iter().find(|p| tree.is_executable(p)) {
            argv.push(format!("/{s}"));
            argv.push(service.to_owned());
        } else {
            return fail(format_args!("there is no service {service} in {}/etc/init.d", tree.path));
        }
        drop(tree);
        argv.extend(rest.iter().cloned());
        self.exec(None, &argv, How::Service, &[], caller, rep)
    }

    /// `chkconfig [--level L] SVC on|off`, all or nothing: through the guest's
    /// chkconfig, its update-rc.d (every step in one shell inside, and the service's
    /// rc?.d links put back as they were when a step fails), or vsbox's own rc?.d
    /// links.
    pub fn chkconfig(&self, service: &str, on: bool, level: Option<&str>, caller: &Caller<'_>, rep: &mut dyn Report) -> VsResult<i32> {
        if !service_name_ok(service) {
            return fail(format_args!("chkconfig: '{service}' is not a service name"));
        }
        if let Some(l) = level
            && (l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit() || b == b'S' || b == b's'))
        {
            return fail(format_args!("chkconfig: '{l}' is not a list of run levels (like 2345)"));
        }
        let tree = self.tree()?;
        let onoff = if on { "on" } else { "off" };
        if tree.is_executable("sbin/chkconfig") {
            drop(tree);
            let mut argv = alloc::vec![String::from("/sbin/chkconfig")];
            if let Some(l) = level {
                argv.extend([String::from("--level"), l.to_owned()]);
            }
            argv.extend([service.to_owned(), onoff.to_owned()]);
            return self.exec(None, &argv, How::Chkconfig, &[], caller, rep);
        }
        if tree.is_executable("usr/sbin/update-rc.d") {
            let before = boot::service_links(&tree, service);
            let script = update_rc_script(service, on, level);
            let argv = alloc::vec![String::from("/bin/sh"), String::from("-c"), script];
            let r = self.exec(None, &argv, How::Chkconfig, &[], caller, rep);
            if !matches!(r, Ok(0)) {
                boot::restore_service_links(&tree, service, &before);
                let why = match &r {
                    Ok(c) => format!("update-rc.d exited with status {c}"),
                    Err(f) => f.msg.clone(),
                };
                return fail(format_args!("chkconfig {service} {onoff}: {why}; its rc?.d links are as they were"));
            }
            return r;
        }
        boot::chkconfig_links(&tree, service, on, level.unwrap_or("2345")).map_err(|e| Failure::new(1, format_args!("chkconfig: {e}")))?;
        Ok(0)
    }

    // ---- status -----------------------------------------------------------------

    /// What `status` and `list` show.
    pub fn status(&self) -> Status {
        let (entry, temporary) = match self.running() {
            Running::No => (None, false),
            Running::Yes(e) => (Some(e), false),
            Running::Temporary(e) => (Some(e), true),
        };
        let processes = entry.as_ref().map(|e| super::pids(self.reg, e.id).len()).unwrap_or(0);
        let uptime_cs = entry.as_ref().map(super::uptime_cs).unwrap_or(0);
        Status { entry, temporary, processes, uptime_cs }
    }

    /// The log of the last start.
    pub fn log(&self) -> VsResult<Vec<u8>> {
        let p = self.paths.log(self.name);
        file::read_to_vec(p.as_str()).map_err(|e| match e {
            Errno::NOENT => Failure::new(1, format_args!("no start has been logged for {} ({p})", self.name)),
            e => Failure::new(1, format_args!("cannot read {p}: {}", ErrnoText(e))),
        })
    }
}

/// A vserver's state, for `status` and `list`.
#[derive(Clone, Debug)]
pub struct Status {
    pub entry: Option<Entry>,
    /// Only a temporary exec context runs.
    pub temporary: bool,
    pub processes: usize,
    pub uptime_cs: u64,
}

impl Status {
    pub fn running(&self) -> bool {
        self.entry.is_some() && !self.temporary
    }
}

impl How {
    pub fn word(self) -> &'static str {
        match self {
            How::Exec => "exec",
            How::Enter => "enter",
            How::Suexec => "suexec USER",
            How::Service => "service SERVICE",
            How::Chkconfig => "chkconfig",
        }
    }
}

/// A service name a shell word can carry as it is.
fn service_name_ok(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('.') && !s.starts_with('-') && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+@-".contains(&b))
}

/// The update-rc.d steps of a chkconfig, as one shell line (the name is checked
/// by `service_name_ok`; levels are digits or S). Today's update-rc.d takes
/// `defaults`, `enable [LEVEL]` and `disable [LEVEL]`.
fn update_rc_script(service: &str, on: bool, level: Option<&str>) -> String {
    let u = "/usr/sbin/update-rc.d";
    let each = |verb: &str, levels: &str| -> String {
        levels.chars().map(|c| format!(" && {u} {service} {verb} {}", c.to_ascii_uppercase())).collect()
    };
    match (on, level) {
        (true, None) => format!("{u} -f {service} remove >/dev/null && {u} {service} defaults"),
        (true, Some(l)) => format!("{u} -f {service} remove >/dev/null && {u} {service} defaults && {u} {service} disable{}", each("enable", l)),
        (false, None) => format!("{u} {service} defaults && {u} {service} disable"),
        (false, Some(l)) => format!("{u} {service} defaults{}", each("disable", l)),
    }
}

/// The environment `su -` gives a user: HOME, USER, LOGNAME, SHELL.
fn user_env(u: &User) -> Vec<String> {
    let shell = if u.shell.is_empty() { "/bin/sh" } else { u.shell.as_str() };
    Vec::from([format!("HOME={}", if u.home.is_empty() { "/" } else { &u.home }), format!("USER={}", u.name), format!("LOGNAME={}", u.name), format!("SHELL={shell}")])
}

fn bytes(env: Vec<String>) -> Vec<Vec<u8>> {
    env.into_iter().map(String::into_bytes).collect()
}

fn is_dir(p: &str) -> bool {
    rustix::fs::stat(p).is_ok_and(|m| rustix::fs::FileType::from_raw_mode(m.st_mode) == rustix::fs::FileType::Directory)
}

fn borrow(f: &rustix::fd::OwnedFd) -> BorrowedFd<'_> {
    rustix::fd::AsFd::as_fd(f)
}

/// The start log, emptied for this start.
fn open_log(path: &str) -> Option<rustix::fd::OwnedFd> {
    if let Some((dir, _)) = path.rsplit_once('/') {
        let _ = file::mkdir_p(dir, 0o700);
    }
    rustix::fs::open(path, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::APPEND | OFlags::CLOEXEC, Mode::from_raw_mode(0o600)).ok()
}

/// Keep only the last `LOG_MAX` bytes of the log.
fn trim_log(fd: &rustix::fd::OwnedFd) {
    let Ok(st) = rustix::fs::fstat(fd) else { return };
    let size = st.st_size as u64;
    if size <= LOG_MAX as u64 {
        return;
    }
    let mut tail = alloc::vec![0u8; LOG_MAX];
    let Ok(n) = rustix::io::pread(fd, &mut tail, size - LOG_MAX as u64) else { return };
    // Start at a line.
    let from = tail[..n].iter().position(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
    if rustix::fs::ftruncate(fd, 0).is_ok() {
        let _ = file::write_fd(fd, &tail[from..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_rc_steps() {
        assert_eq!(update_rc_script("ssh", true, None), "/usr/sbin/update-rc.d -f ssh remove >/dev/null && /usr/sbin/update-rc.d ssh defaults");
        assert_eq!(
            update_rc_script("ssh", true, Some("35")),
            "/usr/sbin/update-rc.d -f ssh remove >/dev/null && /usr/sbin/update-rc.d ssh defaults && /usr/sbin/update-rc.d ssh disable && /usr/sbin/update-rc.d ssh enable 3 && /usr/sbin/update-rc.d ssh enable 5"
        );
        assert_eq!(update_rc_script("ssh", false, Some("2")), "/usr/sbin/update-rc.d ssh defaults && /usr/sbin/update-rc.d ssh disable 2");
        assert!(service_name_ok("cron") && service_name_ok("php8.2-fpm") && !service_name_ok("a;b") && !service_name_ok("-x") && !service_name_ok("a b"));
    }

    #[test]
    fn user_environment() {
        let u = User { name: "web".into(), uid: 1000, gid: 1000, groups: Vec::new(), home: "/home/web".into(), shell: "/bin/ash".into() };
        assert_eq!(user_env(&u), ["HOME=/home/web", "USER=web", "LOGNAME=web", "SHELL=/bin/ash"]);
    }
}
