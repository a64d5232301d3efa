//! Unix sockets between vsbox's own processes: descriptors handed over with
//! SCM_RIGHTS (a pty master out of a context, an init's pidfd to the keeper), and
//! the keeper's datagram socket, bound by path in the run directory (which no
//! context can see).

use core::mem::MaybeUninit;

use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
    SocketAddrUnix, SocketFlags, SocketType,
};

/// A connected pair of unix stream sockets, close-on-exec.
pub fn socket_pair() -> Result<(OwnedFd, OwnedFd), Errno> {
    rustix::net::socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
}

/// Send `data` with descriptor `fd` attached.
pub fn send_fd<S: AsFd, F: AsFd>(sock: S, data: &[u8], fd: F) -> Result<(), Errno> {
    let fds = [fd.as_fd()];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    if !cmsg.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(Errno::NOBUFS);
    }
    rustix::net::sendmsg(sock, &[rustix::io::IoSlice::new(data)], &mut cmsg, SendFlags::NOSIGNAL).map(|_| ())
}

/// Receive one message into `buf` and the descriptor attached to it, if any.
/// `Ok((0, None))` is the end of a stream.
pub fn recv_fd<S: AsFd>(sock: S, buf: &mut [u8], nonblocking: bool) -> Result<(usize, Option<OwnedFd>), Errno> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let flags = if nonblocking { RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT } else { RecvFlags::CMSG_CLOEXEC };
    let r = rustix::net::recvmsg(sock, &mut [rustix::io::IoSliceMut::new(buf)], &mut cmsg, flags)?;
    let mut got = None;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = msg {
            for fd in fds {
                // One is expected; any more are closed here.
                got.get_or_insert(fd);
            }
        }
    }
    Ok((r.bytes, got))
}

/// The address of `name` inside the directory `dir`, spelled through
/// /proc/self/fd so that it fits sun_path whatever the directory's length.
fn address(dir: BorrowedFd<'_>, name: &str) -> Result<SocketAddrUnix, Errno> {
    let mut p: heapless::String<100> = heapless::String::new();
    core::fmt::Write::write_fmt(&mut p, format_args!("/proc/self/fd/{}/{name}", dir.as_raw_fd())).map_err(|_| Errno::NAMETOOLONG)?;
    SocketAddrUnix::new(p.as_str())
}

/// A datagram socket bound to `dir/name` (a stale socket file there is replaced).
pub fn bind_dgram(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, Errno> {
    let sock = rustix::net::socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None)?;
    let addr = address(dir, name)?;
    match rustix::net::bind(&sock, &addr) {
        Err(Errno::ADDRINUSE) => {
            rustix::fs::unlinkat(dir, name, rustix::fs::AtFlags::empty())?;
            rustix::net::bind(&sock, &addr)?;
        }
        r => r?,
    }
    Ok(sock)
}

/// Send one datagram, with `fd` attached, to the socket bound at `dir/name`.
/// ECONNREFUSED or ENOENT: nobody is listening there.
pub fn send_dgram_fd<F: AsFd>(dir: BorrowedFd<'_>, name: &str, data: &[u8], fd: F) -> Result<(), Errno> {
    let sock = rustix::net::socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None)?;
    rustix::net::connect(&sock, &address(dir, name)?)?;
    send_fd(&sock, data, fd)
}
