//! The keeper: one host-side process per registry that watches the init of every
//! context (a pidfd each, in one epoll set) and clears a context away (its
//! processes, cgroups and registry entry) as soon as its init ends.
//!
//! One process for all contexts, so an idle context costs the host its init and
//! its cgroups, not a watcher of its own. It starts with the first context (the
//! creator binds its socket, then double-forks it) and leaves a second after the
//! last one has gone. Creators hand it each new context under the registry lock:
//! a datagram on `RUNDIR/keeper.sock` with the entry's identity and the init's
//! pidfd attached. The keeper itself never waits for the lock (a creator holding
//! it may be blocked on a full socket queue): it tries, and comes back.
//!
//! A keeper that dies (killed by an admin, OOM) is replaced by the next creation;
//! the new one adopts every live context from the registry. Until then a context
//! whose init has ended is found stale by whoever meets it.

use alloc::vec::Vec;

use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags};

use super::registry::{self, Entry, Registry};
use crate::sys::error::{Context, Error, Result};
use crate::sys::process::{self, Forked};
use crate::sys::{fd, file, signal, unix};

const SOCKET: &str = "keeper.sock";
const PIDFILE: &str = "keeper.pid";
/// How long a keeper with nothing to watch waits for new contexts before it goes.
const LINGER_MS: i32 = 1000;
/// How soon a keeper retries clears that found the lock busy.
const RETRY_MS: i32 = 5;

/// The datagram a creator sends: id, creator pid, creator start time.
fn encode(e: &Entry) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0..4].copy_from_slice(&e.id.to_le_bytes());
    m[4..8].copy_from_slice(&e.creator.to_le_bytes());
    m[8..16].copy_from_slice(&e.creator_start.to_le_bytes());
    m
}

fn decode(m: &[u8]) -> Option<(u32, i32, u64)> {
    if m.len() != 16 {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]);
    let start = u64::from_le_bytes([m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]]);
    Some((u32_at(0), u32_at(4) as i32, start))
}

fn rundir_fd(reg: &Registry) -> Result<OwnedFd> {
    rustix::fs::open(reg.settings.rundir.as_str(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ctx("open the run directory")
}

/// Hand context `e` (its init's pidfd) to the keeper, starting one when none
/// listens; a new keeper moves itself into the cgroup directories `home` first
/// (when the creator runs inside a context). Returns the keeper's pid. Call with
/// the registry lock held.
pub fn register(reg: &Registry, e: &Entry, pidfd: BorrowedFd<'_>, home: &[alloc::string::String]) -> Result<i32> {
    let dir = rundir_fd(reg)?;
    let msg = encode(e);
    match unix::send_dgram_fd(dir.as_fd(), SOCKET, &msg, pidfd) {
        Ok(()) => return Ok(keeper_pid(dir.as_fd())),
        Err(Errno::CONNREFUSED) | Err(Errno::NOENT) => {}
        Err(e) => return Err(Error::new("hand the context to its keeper", e)),
    }
    let sock = unix::bind_dgram(dir.as_fd(), SOCKET).ctx("bind the keeper's socket")?;
    let pid = spawn(reg, sock, dir.as_fd(), home)?;
    unix::send_dgram_fd(dir.as_fd(), SOCKET, &msg, pidfd).ctx("hand the context to its keeper")?;
    Ok(pid)
}

/// The running keeper's pid, from its pid file (0 when unknown).
fn keeper_pid(dir: BorrowedFd<'_>) -> i32 {
    let Ok(fd) = rustix::fs::openat(dir, PIDFILE, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else { return 0 };
    let mut b = [0u8; 16];
    let n = file::read_fd_into(&fd, &mut b).unwrap_or(0);
    core::str::from_utf8(&b[..n]).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Start a keeper on `sock` (already bound, so nothing sent meanwhile is lost):
/// a grandchild, so it belongs to no command's process tree. Returns its pid.
fn spawn(reg: &Registry, sock: OwnedFd, dir: BorrowedFd<'_>, home: &[alloc::string::String]) -> Result<i32> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("create a pipe")?;
    let child = match process::fork()? {
        Forked::Child => {
            drop(r);
            match process::fork() {
                Ok(Forked::Child) => {
                    for d in home {
                        let _ = crate::sys::cgroup::add_pid(d, 0);
                    }
                    let me = rustix::process::getpid().as_raw_nonzero().get();
                    let _ = write_pidfile(dir, me);
                    let _ = file::write_fd(&w, &me.to_le_bytes());
                    drop(w);
                    serve(reg, sock)
                }
                _ => process::exit_now(0),
            }
        }
        Forked::Parent(p) => p,
    };
    drop(w);
    let _ = rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty());
    let mut b = [0u8; 4];
    match file::read_fd_into(&r, &mut b) {
        Ok(4) => Ok(i32::from_le_bytes(b)),
        _ => Err(Error::new("start the keeper", Errno::CHILD)),
    }
}

fn write_pidfile(dir: BorrowedFd<'_>, pid: i32) -> core::result::Result<(), Errno> {
    let fd = rustix::fs::openat(dir, PIDFILE, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC, Mode::from_raw_mode(0o600))?;
    let mut s: heapless::String<16> = heapless::String::new();
    let _ = core::fmt::Write::write_fmt(&mut s, format_args!("{pid}\n"));
    file::write_fd(&fd, s.as_bytes())
}

/// One watched context.
struct Watched {
    id: u32,
    creator: i32,
    creator_start: u64,
    pidfd: OwnedFd,
    /// Its init has ended; the clear waits for the lock.
    ended: bool,
}

/// The keeper's life. Never returns.
fn serve(reg: &Registry, sock: OwnedFd) -> ! {
    let _ = rustix::process::setsid();
    super::init::stdio_to_null();
    let _ = signal::ignore(signal::SIGPIPE);
    let _ = signal::set_mask(signal::SigSet::EMPTY);
    fd::close_all_except(&[rustix::fd::AsRawFd::as_raw_fd(&sock)]);
    let Ok(ep) = epoll::create(CreateFlags::CLOEXEC) else { process::exit_now(1) };
    let _ = epoll::add(&ep, &sock, EventData::new_u64(0), EventFlags::IN);
    let mut slots: Vec<Option<Watched>> = Vec::new();
    let mut watching = 0usize;
    adopt(reg, &ep, &mut slots, &mut watching);
    let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
    loop {
        let pending = slots.iter().flatten().any(|w| w.ended);
        let ms = |m: i32| rustix::event::Timespec { tv_sec: (m / 1000) as i64, tv_nsec: (m % 1000) as i64 * 1_000_000 };
        let timeout = if pending { Some(ms(RETRY_MS)) } else if watching == 0 { Some(ms(LINGER_MS)) } else { None };
        events.clear();
        match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(_) => process::exit_now(1),
        }
        let mut woke = false;
        for ev in &events {
            woke = true;
            match ev.data.u64() {
                0 => receive(&ep, &sock, &mut slots, &mut watching),
                k => {
                    if let Some(Some(w)) = slots.get_mut(k as usize - 1) {
                        w.ended = true;
                        let _ = epoll::delete(&ep, &w.pidfd);
                    }
                }
            }
        }
        // A registry removed under us (a test's run directory) has nothing left
        // to clear and nobody to serve.
        let gone = !file::exists(&reg.settings.rundir);
        if gone {
            process::exit_now(0);
        }
        if slots.iter().flatten().any(|w| w.ended) {
            if let Some(_lock) = reg.try_lock() {
                for slot in slots.iter_mut() {
                    if slot.as_ref().is_some_and(|w| w.ended) {
                        let w = slot.take().unwrap();
                        watching -= 1;
                        if let Some(e) = reg.read(w.id).filter(|e| e.creator == w.creator && e.creator_start == w.creator_start) {
                            reg.clear(&e);
                        }
                    }
                }
                while slots.last().is_some_and(|s| s.is_none()) {
                    slots.pop();
                }
            }
        }
        if watching == 0 && !woke {
            // Idle for LINGER_MS: leave, unless a creator got in just now.
            if let Some(_lock) = reg.try_lock() {
                receive(&ep, &sock, &mut slots, &mut watching);
                if watching == 0 {
                    if let Ok(dir) = rundir_fd(reg) {
                        let _ = rustix::fs::unlinkat(&dir, SOCKET, rustix::fs::AtFlags::empty());
                        let _ = rustix::fs::unlinkat(&dir, PIDFILE, rustix::fs::AtFlags::empty());
                    }
                    process::exit_now(0);
                }
            }
        }
    }
}

/// Take every registration waiting on the socket.
fn receive(ep: &OwnedFd, sock: &OwnedFd, slots: &mut Vec<Option<Watched>>, watching: &mut usize) {
    let mut buf = [0u8; 32];
    while let Ok((n, fd)) = unix::recv_fd(sock, &mut buf, true) {
        let (Some((id, creator, creator_start)), Some(pidfd)) = (decode(&buf[..n]), fd) else { continue };
        watch(ep, slots, watching, Watched { id, creator, creator_start, pidfd, ended: false });
    }
}

fn watch(ep: &OwnedFd, slots: &mut Vec<Option<Watched>>, watching: &mut usize, w: Watched) {
    let at = match slots.iter().position(Option::is_none) {
        Some(i) => i,
        None => {
            slots.push(None);
            slots.len() - 1
        }
    };
    // A pidfd of an init that has already ended is readable at once.
    if epoll::add(ep, &w.pidfd, EventData::new_u64(at as u64 + 1), EventFlags::IN).is_err() {
        return;
    }
    slots[at] = Some(w);
    *watching += 1;
}

/// A new keeper takes over every live context of the registry (its predecessor
/// died): one pass over the entries, once per keeper.
fn adopt(reg: &Registry, ep: &OwnedFd, slots: &mut Vec<Option<Watched>>, watching: &mut usize) {
    for e in reg.list() {
        if e.namespaces == 0 || !e.ready() {
            continue;
        }
        let Some(pid) = Pid::from_raw(e.init) else { continue };
        let Ok(pidfd) = rustix::process::pidfd_open(pid, PidfdFlags::empty()) else { continue };
        if registry::start_time(e.init) != Some(e.start) {
            continue;
        }
        watch(ep, slots, watching, Watched { id: e.id, creator: e.creator, creator_start: e.creator_start, pidfd, ended: false });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_round_trip() {
        let e = Entry { id: 65535, creator: 4_000_000, creator_start: u64::MAX - 1, ..Entry::default() };
        assert_eq!(decode(&encode(&e)), Some((65535, 4_000_000, u64::MAX - 1)));
        assert_eq!(decode(&[0u8; 15]), None);
    }
}
