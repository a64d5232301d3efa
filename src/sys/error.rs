//! The one error type of the kernel layer: which call failed, and the errno.

use core::fmt;

pub use rustix::io::Errno;

/// A failed kernel operation: `what` names the step in words an admin understands
/// ("drop CAP_SYS_ADMIN from the bounding set"), `errno` says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub errno: Errno,
    pub what: &'static str,
}

impl Error {
    pub const fn new(what: &'static str, errno: Errno) -> Self {
        Error { errno, what }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, ErrnoText(self.errno))
    }
}

/// An errno as its plain message ("No such file or directory"), without the
/// " (os error 2)" tail that the standard formatting appends.
pub struct ErrnoText(pub Errno);

impl fmt::Display for ErrnoText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use core::fmt::Write as _;
        let mut s: heapless::String<128> = heapless::String::new();
        if write!(s, "{}", self.0).is_err() {
            return write!(f, "errno {}", self.0.raw_os_error());
        }
        f.write_str(s.split(" (os error").next().unwrap_or(&s))
    }
}

pub type Result<T> = core::result::Result<T, Error>;

/// Attach a description to a bare errno result.
pub trait Context<T> {
    fn ctx(self, what: &'static str) -> Result<T>;
}

impl<T> Context<T> for core::result::Result<T, Errno> {
    #[inline]
    fn ctx(self, what: &'static str) -> Result<T> {
        self.map_err(|e| Error::new(what, e))
    }
}
