//! applet: chbind
//! summary: run a command bound to a set of IP addresses (ipv4root)
//!
//! chbind restricts a process tree to some of the host's addresses, the vserver
//! way, with cgroup-BPF sock_addr programs (engine::ipv4root documents each rule
//! and errno). Outside any context it makes a network-only context (a cgroup in
//! every hierarchy carrying the programs, no namespaces), joins it and executes the
//! command; a watcher process on the host side removes that context (cgroups,
//! programs, registry entry) as soon as its last process is gone. Inside a context
//! it narrows that context (nesting can only narrow). `--ctx N` narrows context N
//! from the host (a vsbox extension), so that `chcontext --ctx N` joiners are bound.
//!
//! Exit status: the command's; 0 for `--ctx N` without a command; 255 for bad
//! usage, a bad address, mask or interface, a refused or failed BPF step, or a
//! command that cannot be executed (as the original's exit(-1)).

use std::io::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use argh::FromArgs;
use rustix::fd::AsFd;
use vsbox::engine::context::cgroups;
use vsbox::engine::context::{self, SetIpError};
use vsbox::engine::network::ipv4root::{self, IpRoot, V4Entry};
use vsbox::engine::context::registry::Registry;
use vsbox::engine::context::spec::Settings;
use vsbox::sys::{bpf, caps};
use vsbox::sys::netlink::Rtnl;

use crate::cli;

const FAIL: i32 = 255;
const CAP_NET_RAW: u32 = 13;

#[derive(FromArgs)]
/// Run COMMAND bound to the given addresses (its "ipv4root"): a bind to 0.0.0.0
/// (or to 127.0.0.1, unless listed) becomes the first address, binds to other
/// addresses fail with EADDRNOTAVAIL, outgoing TCP and UDP leave from a listed
/// address, IPv6 is refused with ENETUNREACH unless IPv6 addresses are given, and
/// raw sockets are refused unless CAP_NET_RAW is kept. Prints "ipv4root is now
/// A.B.C.D ..." unless --silent.
#[argh(
    note = "At most 16 IPv4 addresses (and 16 IPv6). A mask is /N or dotted and defaults to
/24. An interface name in place of an address takes that interface's IPv4
addresses and its broadcast address. 0.0.0.0 (or no --ip) means unrestricted: the
command runs as it is.

Outside any context, chbind makes a network-only context for the command (see
vserver-stat). Inside a context, it narrows that whole context: a nested chbind
can only remove addresses. Raw sockets stay allowed when CAP_NET_RAW is in the
caller's bounding set and in the context's ceiling (remove it with reducecap or
chcontext --secure to refuse them).

THE AUTOBIND HOLE: listen() or sendto() on a socket that was never bound (or
connected) binds it to 0.0.0.0:ephemeral without passing any hook. Such a
listener accepts connections to every host address on that port, and such a UDP
socket receives on every address (its outgoing source is still rewritten).
Servers that bind() before listen() are covered; for full isolation give the
context its own network namespace (the isolated network mode).",
    example = "chbind --ip 10.0.0.5 /usr/sbin/httpd
chbind --ip eth0 --silent -- sh
chbind --ip 10.0.0.5/24 --ip 10.0.0.6 --bcast 10.0.0.255 chcontext --secure sshd
chbind --ctx 7 --ip 10.0.0.5"
)]
struct Opts {
    /// print nothing but errors
    #[argh(switch)]
    silent: bool,
    /// an address the command may use: a.b.c.d[/mask], an IPv6 address, or an
    /// interface name (repeatable; the first IPv4 address is the default)
    #[argh(option)]
    ip: Vec<String>,
    /// the broadcast address binds may also use (an address or an interface)
    #[argh(option)]
    bcast: Option<String>,
    /// narrow existing context N from the host instead of running a command
    /// (vsbox extension; later `chcontext --ctx N` joiners are bound)
    #[argh(option)]
    ctx: Option<String>,
    /// ignored, with a warning (util-vserver compatibility)
    #[argh(option)]
    nid: Option<String>,
    /// the command to run, and its arguments
    #[argh(positional, greedy)]
    command: Vec<String>,
}

pub fn main(args: &[String]) -> i32 {
    cli::main_with::<Opts>(args, FAIL, run)
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    cli::error("chbind", msg);
    FAIL
}

fn run(o: Opts) -> Result<i32, i32> {
    if o.nid.is_some() {
        let _ = writeln!(std::io::stderr(), "WARNING: --nid is not supported by this version");
    }
    let mut root = addresses(&o.ip)?;
    if let Some(b) = &o.bcast {
        root.bcast = broadcast(b)?;
    }
    let ctx = match &o.ctx {
        Some(w) => Some(cli::parse_ctx("chbind", w)?),
        None => None,
    };
    match (ctx, o.command.is_empty()) {
        (None, true) => return Err(fail("no command given (see 'chbind --help')")),
        (Some(n), false) => {
            return Err(fail(format_args!(
                "--ctx narrows context {n} and runs nothing; run the command with 'chcontext --ctx {n} -- {}'",
                o.command[0]
            )))
        }
        _ => {}
    }
    if !o.command.is_empty() {
        check_command(&o.command[0])?;
    }
    if let Some(k) = cli::vserver() {
        return Ok(cli::legacy::chbind(k, ctx, &root, o.silent, &o.command));
    }
    let announce = |root: &IpRoot| {
        if !o.silent {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "ipv4root is now");
            for e in &root.v4 {
                let _ = write!(out, " {}", e.addr);
            }
            for a in &root.v6 {
                let _ = write!(out, " {a}");
            }
            let _ = writeln!(out);
            let _ = out.flush();
        }
    };

    // Unrestricted and nothing to narrow: the original just executed the command.
    let settings = cli::settings();
    if root.is_unrestricted() && ctx.is_none() && !cli::is_root() {
        announce(&root);
        return Ok(cli::exec("chbind", &o.command, FAIL));
    }
    if !cli::is_root() {
        return Err(fail("binding to addresses takes root (cgroup BPF programs); run it as root"));
    }

    let here = locate(&settings);
    if let Some(n) = ctx {
        if let Some((inner, _)) = here {
            return Err(fail(format_args!("--ctx works from the host only (this process is in context {inner})")));
        }
        let reg = Registry::new(settings);
        let e = reg.find(n).ok_or_else(|| fail(format_args!("context {n} does not exist (see vserver-stat)")))?;
        root.keep_raw = caps::bounding_set().has(CAP_NET_RAW) && !e.remove.has(CAP_NET_RAW);
        narrow(&reg, n, &mut root)?;
        announce(&root);
        return Ok(0);
    }
    match here {
        Some((n, reg)) => {
            let e = reg.find(n).ok_or_else(|| fail(format_args!("context {n} ended meanwhile")))?;
            root.keep_raw = caps::bounding_set().has(CAP_NET_RAW) && !e.remove.has(CAP_NET_RAW);
            narrow(&reg, n, &mut root)?;
        }
        None if root.is_unrestricted() => {}
        None => {
            root.keep_raw = caps::bounding_set().has(CAP_NET_RAW);
            net_only(&Registry::new(settings), &root)?;
        }
    }
    announce(&root);
    Ok(cli::exec("chbind", &o.command, FAIL))
}

// ---- addresses -----------------------------------------------------------------------

/// The `--ip` words as an IpRoot (keep_raw is decided later).
fn addresses(words: &[String]) -> Result<IpRoot, i32> {
    let mut root = IpRoot::new();
    let mut untied = false;
    for w in words {
        if w.is_empty() {
            return Err(fail("--ip needs an address or an interface name, not an empty word"));
        }
        if w.contains(':') {
            check_ipv6(w)?;
            root.add(w).map_err(fail)?;
        } else if looks_like_ipv4(w) {
            let e = ipv4root::parse_entry(w).map_err(fail)?;
            untied |= e.addr.is_unspecified();
            push(&mut root, e, w)?;
        } else {
            let (list, bcast) = interface(w)?;
            for e in list {
                push(&mut root, e, w)?;
            }
            // As the original: an interface sets the broadcast (reset first).
            root.bcast = bcast.unwrap_or(Ipv4Addr::BROADCAST);
        }
    }
    if untied && root.v4.len() + root.v6.len() > 1 {
        return Err(fail("0.0.0.0 means unrestricted and cannot be combined with other addresses (drop one)"));
    }
    Ok(root)
}

fn push(root: &mut IpRoot, e: V4Entry, word: &str) -> Result<(), i32> {
    root.v4.push(e).map_err(|_| fail(format_args!("too many IP addresses, max {} ('{word}' is one more)", ipv4root::MAX_ADDRS)))
}

/// A dotted quad (or "localhost"), possibly with a mask; anything else is an
/// interface name.
fn looks_like_ipv4(w: &str) -> bool {
    w == "localhost" || w.starts_with("localhost/") || w.as_bytes()[0].is_ascii_digit() || w.contains('/')
}

/// IPv6 as chbind can enforce it: a unicast address of the host's own, IPv6 on.
fn check_ipv6(w: &str) -> Result<(), i32> {
    if w.contains('%') {
        return Err(fail(format_args!("'{w}': scoped (link-local %IF) IPv6 addresses are not supported; give a global or ULA address")));
    }
    let a: Ipv6Addr = ipv4root::parse_ipv6(w).map_err(fail)?;
    if a.to_ipv4_mapped().is_some() {
        return Err(fail(format_args!("'{w}' is an IPv4-mapped address; give it as {}", a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED))));
    }
    if a.is_unspecified() || a.is_multicast() {
        return Err(fail(format_args!("'{w}' is not an address a context can own (give a unicast IPv6 address)")));
    }
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        return Err(fail(format_args!("'{w}' is IPv6, but this kernel has no IPv6; drop it")));
    }
    Ok(())
}

/// An interface's IPv4 addresses (with their masks) and its broadcast address,
/// read through rtnetlink in the caller's network namespace.
fn interface(name: &str) -> Result<(Vec<V4Entry>, Option<Ipv4Addr>), i32> {
    let nl = Rtnl::open().map_err(|e| fail(format_args!("look up interface '{name}': {e}")))?;
    let idx = nl
        .ifindex(name)
        .map_err(|e| fail(format_args!("look up interface '{name}': {e}")))?
        .ok_or_else(|| fail(format_args!("'{name}' is neither an IPv4 address (a.b.c.d[/mask]) nor a network interface (see 'ip link')")))?;
    let list = nl.addresses(Some(idx)).map_err(|e| fail(format_args!("read the addresses of '{name}': {e}")))?;
    if list.is_empty() {
        return Err(fail(format_args!("interface '{name}' has no IPv4 address (add one, or give the address)")));
    }
    let mask = |p: u8| if p == 0 { Ipv4Addr::UNSPECIFIED } else { Ipv4Addr::from(u32::MAX << (32 - u32::from(p.min(32)))) };
    let entries = list.iter().map(|a| V4Entry { addr: Ipv4Addr::from(a.addr), mask: mask(a.prefix) }).collect();
    let bcast = list.iter().find_map(|a| a.broadcast).map(Ipv4Addr::from);
    Ok((entries, bcast))
}

fn broadcast(w: &str) -> Result<Ipv4Addr, i32> {
    if w.contains(':') {
        return Err(fail(format_args!("--bcast takes an IPv4 address or an interface; '{w}' is IPv6 (IPv6 has no broadcast)")));
    }
    if w.is_empty() || looks_like_ipv4(w) {
        return ipv4root::parse_ipv4(w).map_err(|_| fail(format_args!("invalid broadcast address '{w}' (expected a.b.c.d or an interface)")));
    }
    let (_, b) = interface(w)?;
    b.ok_or_else(|| fail(format_args!("interface '{w}' has no broadcast address (give one as a.b.c.d)")))
}

// ---- where we are --------------------------------------------------------------------

/// The context this process is in (None: the host), with its registry.
fn locate(settings: &Settings) -> Option<(u32, Registry)> {
    let reg = Registry::new(settings.clone());
    context::current(&reg).map(|n| (n, reg))
}

// ---- the two ways of binding ---------------------------------------------------------

/// Narrow context `n` to `root` (only narrowing passes). The programs the context
/// had are detached once the new ones are attached: programs on one cgroup run in
/// attach order, so a stacked outer bind4 would rewrite 0.0.0.0 to its own first
/// address and the inner one would then refuse it. Between the two steps both sets
/// run, which can only refuse more, never allow more.
fn narrow(reg: &Registry, n: u32, root: &mut IpRoot) -> Result<(), i32> {
    let before = reg.find(n).ok_or_else(|| fail(format_args!("context {n} ended meanwhile")))?;
    let cur = IpRoot::parse_rendered(&before.ips);
    if root.is_unrestricted() {
        // Nothing to attach; only a context that is already untied accepts it.
        return root.within(&cur).map_err(|w| fail(format_args!("{w}: a nested chbind can only narrow")));
    }
    if !cur.is_unrestricted() {
        // Raw sockets refused before stay refused.
        root.keep_raw &= cur.keep_raw;
    }
    let cg = cgroup_dir(reg, n)?;
    let old = ours(cg.as_fd()).map_err(|e| fail(format_args!("{e} (run it as root with CAP_BPF and CAP_SYS_ADMIN)")))?;
    context::set_ipv4root(reg, n, root).map_err(|e| fail(explain(&e)))?;
    for (attach_type, id) in &old {
        let r = bpf::prog_fd_by_id(*id).and_then(|fd| bpf::prog_detach(cg.as_fd(), fd.as_fd(), *attach_type));
        match r {
            Ok(()) => {}
            Err(e) if e.errno == rustix::io::Errno::NOENT => {}
            Err(e) => {
                // Roll back to the previous programs and record.
                let now = ours(cg.as_fd()).unwrap_or_default();
                for (at, nid) in now.iter().filter(|p| !old.contains(p)) {
                    if let Ok(fd) = bpf::prog_fd_by_id(*nid) {
                        let _ = bpf::prog_detach(cg.as_fd(), fd.as_fd(), *at);
                    }
                }
                let _ = reg.write(&before);
                return Err(fail(format_args!("replace the context's programs: {e}")));
            }
        }
    }
    Ok(())
}

/// The cgroup2 directory of context `n`, opened as a handle for bpf().
fn cgroup_dir(reg: &Registry, n: u32) -> Result<rustix::fd::OwnedFd, i32> {
    use rustix::fs::{open, Mode, OFlags};
    let parents = cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir).map_err(|e| fail(explain(&SetIpError::Sys(e))))?;
    let set = cgroups::CgroupSet::of(&parents, n);
    let dir = set.v2().ok_or_else(|| fail("no cgroup2 hierarchy (mount -t cgroup2 none /sys/fs/cgroup/unified)"))?;
    open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| fail(format_args!("open the context's cgroup2 directory {dir}: {}", vsbox::sys::ErrnoText(e))))
}

/// (attach type, program id) of every vsbox program attached to `cg` itself.
fn ours(cg: rustix::fd::BorrowedFd<'_>) -> vsbox::sys::Result<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for hook in ipv4root::HOOKS {
        for &id in &bpf::prog_query(cg, hook.attach_type())?.ids {
            let Ok(fd) = bpf::prog_fd_by_id(id) else { continue };
            if bpf::prog_info(fd.as_fd())?.name.starts_with(ipv4root::PROG_PREFIX) {
                out.push((hook.attach_type(), id));
            }
        }
    }
    Ok(out)
}

/// chbind on the host: a network-only context for this process, plus the watcher
/// that removes it once it is empty.
fn net_only(reg: &Registry, root: &IpRoot) -> Result<u32, i32> {
    use vsbox::sys::process::{fork, Forked};
    let (id_r, id_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| fail(format_args!("create a pipe: {}", vsbox::sys::ErrnoText(e))))?;
    // The watcher is forked before the join, so it stays outside the context.
    match fork().map_err(fail)? {
        Forked::Child => {
            drop(id_w);
            if let Ok(Forked::Child) = fork() {
                watch(reg, id_r);
            }
            vsbox::sys::process::exit_now(0);
        }
        Forked::Parent(pid) => {
            drop(id_r);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
    }
    let id = context::create_net_only(reg, root, "").map_err(|e| fail(explain(&e)))?;
    let _ = vsbox::sys::file::write_fd(&id_w, &id.to_le_bytes());
    Ok(id)
}

/// The watcher of a network-only context (a detached grandchild of chbind, on the
/// host side): waits for the context number, then for its cgroup2 directory to
/// empty, then clears it (cgroups, programs, registry entry). Never returns.
fn watch(reg: &Registry, id_r: rustix::fd::OwnedFd) -> ! {
    use rustix::event::{poll, PollFd, PollFlags};
    let _ = rustix::process::setsid();
    let _ = rustix::process::chdir("/");
    vsbox::engine::context::init::stdio_to_null();
    let mut b = [0u8; 4];
    if vsbox::sys::file::read_fd_into(&id_r, &mut b) != Ok(4) {
        vsbox::sys::process::exit_now(0);
    }
    drop(id_r);
    let id = u32::from_le_bytes(b);
    let Ok(parents) = vsbox::engine::context::cgroups::parents(&reg.settings.cgroup_parent, &reg.settings.rundir) else {
        vsbox::sys::process::exit_now(0)
    };
    let set = vsbox::engine::context::cgroups::CgroupSet::of(&parents, id);
    let Some(events) = set.v2().and_then(|d| vsbox::sys::file::open_read(format!("{d}/cgroup.events").as_str()).ok()) else {
        vsbox::sys::process::exit_now(0)
    };
    // cgroup.events signals "populated 0", but the kernel rate-limits these
    // notifications and drops a pending one when the cgroup is removed (a sweep by
    // another vsbox command can get there first): so look again now and then. A
    // removed cgroup reads as ENODEV, and then there is nothing left to do.
    let wake = rustix::event::Timespec { tv_sec: 5, tv_nsec: 0 };
    loop {
        let mut buf = [0u8; 128];
        let Ok(n) = rustix::io::pread(&events, &mut buf, 0) else { vsbox::sys::process::exit_now(0) };
        if std::str::from_utf8(&buf[..n]).unwrap_or("").lines().any(|l| l == "populated 0") {
            break;
        }
        let mut fds = [PollFd::new(&events, PollFlags::PRI)];
        if let Err(e) = poll(&mut fds, Some(&wake))
            && e != rustix::io::Errno::INTR
        {
            vsbox::sys::process::exit_now(0);
        }
    }
    // Whoever cleared it already (a sweep, a test's cleanup) leaves nothing to do,
    // and the registry directory is not re-created for nothing. The number may have
    // been reused meanwhile: only an empty network-only context (an init, no keeper,
    // no namespaces) is cleared, under the lock that its creator holds until it joined.
    if reg.read(id).is_some()
        && let Ok(_lock) = reg.lock()
        && let Some(e) = reg.read(id).filter(|e| e.namespaces == 0 && e.keeper == 0 && e.init > 0 && !set.populated())
    {
        reg.clear(&e);
    }
    vsbox::sys::process::exit_now(0);
}

/// A failure of set_ipv4root or create_net_only, with the fix for the usual causes.
fn explain(e: &SetIpError) -> String {
    use rustix::io::Errno;
    match e {
        SetIpError::Wider(_) => e.to_string(),
        SetIpError::Bpf(b) => {
            let hint = match b.errno() {
                Errno::PERM | Errno::ACCESS => " (cgroup BPF needs root with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN in the bounding set)",
                Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP => " (the kernel needs CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF)",
                _ => "",
            };
            format!("{b}{hint}")
        }
        SetIpError::Sys(s) => {
            let hint = match s.errno {
                Errno::NOENT => " (chbind needs a cgroup2 hierarchy: mount -t cgroup2 none /sys/fs/cgroup/unified)",
                // A context sees no writable cgroupfs.
                Errno::ROFS => " (inside a context chbind cannot make cgroups: narrow the context from the host with 'chbind --ctx N --ip ...')",
                Errno::PERM | Errno::ACCESS => " (run it as root, on a writable cgroupfs)",
                _ => "",
            };
            format!("{s}{hint}")
        }
    }
}

/// Fail before anything is attached when the command cannot be executed.
fn check_command(cmd: &str) -> Result<(), i32> {
    use rustix::fs::{access, Access};
    let ok = |p: &str| access(p, Access::EXEC_OK).is_ok() && std::fs::metadata(p).is_ok_and(|m| m.is_file());
    let found = if cmd.contains('/') {
        ok(cmd)
    } else {
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".into());
        path.split(':').any(|d| ok(&format!("{}/{cmd}", if d.is_empty() { "." } else { d })))
    };
    if found {
        Ok(())
    } else {
        Err(fail(format_args!("cannot execute '{cmd}': No such file or directory (check the name and PATH)")))
    }
}
