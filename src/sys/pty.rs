//! Pseudo-terminals for contexts, and handing descriptors between processes.
//!
//! A command in a context never gets the admin's terminal: it gets a pty of the
//! context's own devpts instance, and vsbox relays between the two. The pty is
//! opened inside the context (so it is the context's `/dev/pts/N`) and its master
//! side is passed out over a unix socket (`unix::send_fd`).

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pty::OpenptFlags;
use rustix::termios::{self, OptionalActions, Termios};

/// A new pty from this mount namespace's /dev/ptmx: (master, slave), both
/// close-on-exec, the slave not yet anyone's controlling terminal. Inside a guest
/// the guest owns /dev: the open never blocks, and anything but the pty
/// multiplexer (char 5:2) there is refused (ENOTTY).
pub fn open_pair() -> Result<(OwnedFd, OwnedFd), Errno> {
    use rustix::fs::{FileType, Mode, OFlags};
    let master = rustix::fs::open("/dev/ptmx", OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())?;
    let st = rustix::fs::fstat(&master)?;
    let dev = st.st_rdev;
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice || rustix::fs::major(dev) != 5 || rustix::fs::minor(dev) != 2 {
        return Err(Errno::NOTTY);
    }
    let fl = rustix::fs::fcntl_getfl(&master)?;
    rustix::fs::fcntl_setfl(&master, fl - OFlags::NONBLOCK)?;
    rustix::pty::unlockpt(&master)?;
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    Ok((master, slave))
}

/// Make `tty` the controlling terminal of the calling process, which must have
/// just become a session leader (setsid).
pub fn make_controlling<F: AsFd>(tty: F) -> Result<(), Errno> {
    rustix::process::ioctl_tiocsctty(tty)
}

/// Whether `fd` is a terminal.
pub fn is_tty<F: AsFd>(fd: F) -> bool {
    termios::isatty(fd)
}

/// The terminal settings and window size of `from`, given to `to` (the master of
/// a new pty: termios ioctls on a master act on its slave).
pub fn copy_settings<A: AsFd, B: AsFd>(from: A, to: B) {
    if let Ok(t) = termios::tcgetattr(&from) {
        let _ = termios::tcsetattr(&to, OptionalActions::Now, &t);
    }
    copy_winsize(from, to);
}

/// The window size only (on SIGWINCH).
pub fn copy_winsize<A: AsFd, B: AsFd>(from: A, to: B) {
    if let Ok(w) = termios::tcgetwinsize(&from) {
        let _ = termios::tcsetwinsize(&to, w);
    }
}

/// A terminal switched to raw mode, set back as it was on `restore` (or drop).
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Option<Termios>,
}

impl<'a> RawMode<'a> {
    /// Raw mode on `fd` (no echo, no line editing, no signals from keys: the pty
    /// inside does all that for the command).
    pub fn enter(fd: BorrowedFd<'a>) -> RawMode<'a> {
        let saved = termios::tcgetattr(fd).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            raw.make_raw();
            let _ = termios::tcsetattr(fd, OptionalActions::Flush, &raw);
        }
        RawMode { fd, saved }
    }

    pub fn restore(&mut self) {
        if let Some(t) = self.saved.take() {
            let _ = termios::tcsetattr(self.fd, OptionalActions::Flush, &t);
        }
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        self.restore();
    }
}
