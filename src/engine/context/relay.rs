//! The command's standard streams, and the relay that keeps the admin's terminal
//! out of every context.
//!
//! A process in a context never holds the caller's terminal: with it, a guest could
//! push input into the admin's shell (TIOCSTI), read the admin's keystrokes later,
//! or keep the terminal after the command has ended. Where a standard stream of the
//! caller is a terminal, the command gets a pty of the context's own instead (so
//! `tty` says /dev/pts/0 inside a vserver), and the caller copies between the two:
//! the admin's keys into the pty (the caller's terminal in raw mode, so ^C, ^Z and
//! line editing happen in the pty, for the command), the pty's output to the
//! caller's stdout, and a copy to a log if asked. When the command ends, the relay
//! drains what is left and lets go; whatever the command left behind still holds
//! only the pty, which no longer leads anywhere.

use rustix::event::{PollFd, PollFlags};
use rustix::fd::{BorrowedFd, OwnedFd, RawFd};
use rustix::io::Errno;

use crate::sys::pty::{self, RawMode};
use crate::sys::{file, unix};

/// How the command's fds 0, 1 and 2 are served (bit n: fd n).
#[derive(Clone, Copy, Debug, Default)]
pub struct Io<'a> {
    /// These get the context's own pty.
    pub pty: u8,
    /// These get /dev/null inside.
    pub null: u8,
    /// The pty is the command's controlling terminal (job control, ^C): for
    /// interactive use. Without it, nothing the command leaves behind is hung up
    /// when it ends (a vserver's rc script and its daemons).
    pub ctty: bool,
    /// Copy the pty's output to the caller's stdout (else only to `log`).
    pub echo: bool,
    /// A file that gets a copy of the pty's output (a vserver's start log).
    pub log: Option<BorrowedFd<'a>>,
    /// Descriptors above 2 the command keeps (`--keep-fd`); every other one is
    /// closed before anything runs in the context.
    pub keep: &'a [RawFd],
}

impl<'a> Io<'a> {
    /// The usual plan: the caller's streams that are terminals get the pty (its
    /// output goes to the caller's stdout), the others (pipes, files, /dev/null)
    /// are passed as they are.
    pub fn for_caller(keep: &'a [RawFd]) -> Io<'a> {
        let mut on = 0;
        for n in 0..3 {
            if pty::is_tty(std_fd(n)) {
                on |= 1 << n;
            }
        }
        Io { pty: on, null: 0, ctty: on & 1 != 0, echo: true, log: None, keep }
    }

    /// Everything passed as it is (no pty): `--disconnect`, which detaches instead.
    pub fn inherit(keep: &'a [RawFd]) -> Io<'a> {
        Io { keep, ..Io::default() }
    }

    pub fn wants_pty(&self) -> bool {
        self.pty != 0
    }
}

fn std_fd(n: u8) -> BorrowedFd<'static> {
    match n {
        0 => crate::sys::file::stdin(),
        1 => crate::sys::file::stdout(),
        _ => crate::sys::file::stderr(),
    }
}

/// Inside the context: open its pty, hand the master to the caller over `sock`,
/// and wait for the caller's go (it sets the pty up like its own terminal first).
/// Returns the slave for the command.
pub fn open_inside(sock: &OwnedFd) -> Result<OwnedFd, Errno> {
    let (master, slave) = pty::open_pair()?;
    unix::send_fd(sock, b"M", &master)?;
    drop(master);
    let mut b = [0u8; 1];
    match rustix::io::read(sock, &mut b) {
        Ok(1) => Ok(slave),
        Ok(_) => Err(Errno::PIPE),
        Err(e) => Err(e),
    }
}

/// The caller's side of a command's pty.
pub struct Relay<'a> {
    master: OwnedFd,
    /// The caller's stdin is relayed into the pty.
    input: bool,
    input_eof: bool,
    echo: bool,
    log: Option<BorrowedFd<'a>>,
    raw: Option<RawMode<'static>>,
    /// The master reads EIO: no process holds the slave any more.
    closed: bool,
}

impl<'a> Relay<'a> {
    /// Receive the master from inside (None: the setup failed before it could send
    /// one), set the pty up like the caller's terminal, put that terminal in raw
    /// mode when the admin's keys are relayed, and give the go.
    pub fn accept(sock: &OwnedFd, io: &Io<'a>) -> Result<Option<Relay<'a>>, Errno> {
        let mut b = [0u8; 1];
        let (n, master) = unix::recv_fd(sock, &mut b, false)?;
        let Some(master) = master.filter(|_| n == 1) else { return Ok(None) };
        let model = (0..3).find(|&n| io.pty & (1 << n) != 0).map(std_fd);
        if let Some(t) = model {
            pty::copy_settings(t, &master);
        }
        let input = io.pty & 1 != 0;
        let raw = input.then(|| RawMode::enter(crate::sys::file::stdin()));
        file::write_fd(sock, b"G")?;
        Ok(Some(Relay { master, input, input_eof: false, echo: io.echo, log: io.log, raw, closed: false }))
    }

    /// The descriptors the wait loop polls for the relay: the master, and the
    /// caller's stdin when it is relayed.
    pub fn poll_fds(&self) -> (PollFd<'_>, PollFd<'static>) {
        let m = PollFd::new(&self.master, if self.closed { PollFlags::empty() } else { PollFlags::IN });
        let i = PollFd::from_borrowed_fd(crate::sys::file::stdin(), if self.input && !self.input_eof { PollFlags::IN } else { PollFlags::empty() });
        (m, i)
    }

    /// Copy what the poll found ready.
    pub fn pump(&mut self, master_ready: PollFlags, input_ready: PollFlags) {
        if !master_ready.is_empty() {
            self.from_master();
        }
        if !input_ready.is_empty() {
            let mut buf = [0u8; 4096];
            match rustix::io::read(crate::sys::file::stdin(), &mut buf) {
                Ok(0) => self.input_eof = true,
                Ok(n) => {
                    let _ = file::write_fd(&self.master, &buf[..n]);
                }
                Err(Errno::INTR) | Err(Errno::AGAIN) => {}
                Err(_) => self.input_eof = true,
            }
        }
    }

    fn from_master(&mut self) {
        let mut buf = [0u8; 4096];
        match rustix::io::read(&self.master, &mut buf) {
            Ok(0) | Err(Errno::IO) => self.closed = true,
            Ok(n) => self.out(&buf[..n]),
            Err(_) => {}
        }
    }

    fn out(&self, b: &[u8]) {
        if self.echo {
            let _ = file::write_fd(crate::sys::file::stdout(), b);
        }
        if let Some(l) = self.log {
            let _ = file::write_fd(l, b);
        }
    }

    /// The caller's window changed size (SIGWINCH).
    pub fn resize(&self) {
        pty::copy_winsize(crate::sys::file::stdin(), &self.master);
    }

    /// The command has ended: copy what it printed last, without waiting for the
    /// processes it may have left holding the pty, and give the terminal back.
    pub fn finish(mut self) {
        let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        let mut rounds = 0;
        while !self.closed && rounds < 256 {
            let mut fds = [PollFd::new(&self.master, PollFlags::IN)];
            if !matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(1)) {
                break;
            }
            self.from_master();
            rounds += 1;
        }
        if let Some(r) = self.raw.as_mut() {
            r.restore();
        }
    }
}
