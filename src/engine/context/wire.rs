//! The little messages a context's setup processes send back to the command that
//! asked for it, over a close-on-exec pipe: fixed 8-byte records, no pointers (the
//! sender may sit inside the context, where a guest could tamper with it).

use rustix::fd::AsFd;
use rustix::io::Errno;

use crate::sys::error::Error;
use crate::sys::file;

/// Where a setup step failed; each names its step for the admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    Registry = 1,
    Cgroups,
    Limits,
    Clone,
    JoinCgroups,
    CgroupNs,
    Mounts,
    Hostname,
    Domainname,
    Rlimits,
    Nice,
    Caps,
    Seccomp,
    Exec,
    Fork,
    Keeper,
    Ipv4root,
    User,
    Terminal,
    Join,
    Lost,
}

impl Stage {
    pub fn what(self) -> &'static str {
        match self {
            Stage::Registry => "reserve the context in the registry",
            Stage::Cgroups => "create the context's cgroups",
            Stage::Limits => "set the context's limits",
            Stage::Clone => "create the context's namespaces",
            Stage::JoinCgroups => "join the context's cgroups",
            Stage::CgroupNs => "create the context's cgroup namespace",
            Stage::Mounts => "set up the context's private mounts",
            Stage::Hostname => "set the host name",
            Stage::Domainname => "set the NIS domain name",
            Stage::Rlimits => "apply the resource limits",
            Stage::Nice => "set the nice value",
            Stage::Caps => "lower the capability ceiling",
            Stage::Seccomp => "install the seccomp filter",
            Stage::Exec => "execute the command",
            Stage::Fork => "start the command",
            Stage::Keeper => "hand the context to its keeper",
            Stage::Ipv4root => "attach the ipv4root BPF programs to the context's cgroup",
            Stage::User => "switch to the requested user",
            Stage::Terminal => "give the command its terminal",
            Stage::Join => "join the context's namespaces",
            Stage::Lost => "set up the context (its setup process vanished)",
        }
    }
    fn from_u8(b: u8) -> Stage {
        use Stage::*;
        [Registry, Cgroups, Limits, Clone, JoinCgroups, CgroupNs, Mounts, Hostname, Domainname, Rlimits, Nice, Caps, Seccomp, Exec, Fork, Keeper, Ipv4root, User, Terminal, Join]
            .into_iter()
            .find(|s| *s as u8 == b)
            .unwrap_or(Lost)
    }
}

/// One message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// The context is set up and its init confined: it may be recorded as ready.
    Ready,
    /// The command was executed.
    Running,
    /// A joiner's command runs with this host pid.
    Pid(i32),
    /// The command ended; its status as a shell reports it (128+signal if killed).
    Status(i32),
    /// A step failed.
    Failed(Stage, Errno),
}

impl Msg {
    fn encode(self) -> [u8; 8] {
        let (tag, stage, v) = match self {
            Msg::Ready => (b'R', 0, 0),
            Msg::Running => (b'X', 0, 0),
            Msg::Pid(p) => (b'P', 0, p),
            Msg::Status(s) => (b'S', 0, s),
            Msg::Failed(st, e) => (b'E', st as u8, e.raw_os_error()),
        };
        let v = v.to_le_bytes();
        [tag, stage, 0, 0, v[0], v[1], v[2], v[3]]
    }

    fn decode(b: [u8; 8]) -> Option<Msg> {
        let v = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        Some(match b[0] {
            b'R' => Msg::Ready,
            b'X' => Msg::Running,
            b'P' => Msg::Pid(v),
            b'S' => Msg::Status(v),
            b'E' => Msg::Failed(Stage::from_u8(b[1]), Errno::from_raw_os_error(v)),
            _ => return None,
        })
    }

    pub fn error(self) -> Option<Error> {
        match self {
            Msg::Failed(st, e) => Some(Error::new(st.what(), e)),
            _ => None,
        }
    }
}

/// Send one message (a pipe write of ≤ PIPE_BUF bytes is atomic, so several
/// senders can share the pipe). A vanished reader is not an error here.
pub fn send<F: AsFd>(fd: F, m: Msg) {
    let _ = file::write_fd(fd, &m.encode());
}

/// Receive one message; None at end of file or on garbage.
pub fn recv<F: AsFd>(fd: F) -> Option<Msg> {
    let mut b = [0u8; 8];
    match file::read_fd_into(fd, &mut b) {
        Ok(8) => Msg::decode(b),
        _ => None,
    }
}

/// A wait status as a shell reports it: the exit code, or 128 + the signal.
pub fn shell_status(raw: i32) -> i32 {
    let raw = raw as u32;
    let sig = raw & 0x7f;
    if sig == 0 { ((raw >> 8) & 0xff) as i32 } else { 128 + sig as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [Msg::Running, Msg::Ready, Msg::Pid(4242), Msg::Status(130), Msg::Failed(Stage::Mounts, Errno::PERM)] {
            assert_eq!(Msg::decode(m.encode()), Some(m));
        }
        assert_eq!(Msg::decode(*b"Zxxxxxxx"), None);
        assert_eq!(Msg::Failed(Stage::Exec, Errno::NOENT).error().unwrap().what, "execute the command");
    }

    #[test]
    fn shell_statuses() {
        assert_eq!(shell_status(0), 0);
        assert_eq!(shell_status(3 << 8), 3);
        assert_eq!(shell_status(9), 137);
        assert_eq!(shell_status(15 | 0x80), 143, "core-dump bit ignored");
    }
}
