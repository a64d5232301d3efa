//! What a context is asked to be: its number, name, flags, ceiling and identity.

use alloc::string::String;
use alloc::vec::Vec;

use super::ipv4root::IpRoot;
use crate::sys::caps::CapSet;

/// The highest context number (the old kernels' MAX_S_CONTEXT).
pub const MAX_CTX: u32 = 65535;
/// Context 1: the spectator, which sees every process and signals none.
pub const SPECTATOR: u32 = 1;

/// Context flags (vserver-spec §4), with the original bit values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    pub const LOCK: Flags = Flags(1);
    pub const SCHED: Flags = Flags(2);
    pub const NPROC: Flags = Flags(4);
    pub const PRIVATE: Flags = Flags(8);
    pub const FAKEINIT: Flags = Flags(16);
    pub const HIDEINFO: Flags = Flags(32);
    pub const ULIMIT: Flags = Flags(64);
    /// The original's namespace flag. Every vsbox context has a private mount
    /// namespace, so it changes nothing; S_FLAGS may name it.
    pub const NAMESPACE: Flags = Flags(128);
    /// Not an original flag: the context was made with --secure, so everything that
    /// joins it later gets the same seccomp filter.
    pub const SECURE: Flags = Flags(1 << 16);
    /// S_FLAGS' pseudo-flag `minit`: fakeinit with /sbin/minit-start as the init.
    /// Never recorded for a context.
    pub const MINIT: Flags = Flags(1 << 17);

    pub const NAMES: [(&'static str, Flags); 8] = [
        ("lock", Flags::LOCK),
        ("sched", Flags::SCHED),
        ("nproc", Flags::NPROC),
        ("private", Flags::PRIVATE),
        ("fakeinit", Flags::FAKEINIT),
        ("hideinfo", Flags::HIDEINFO),
        ("ulimit", Flags::ULIMIT),
        ("secure", Flags::SECURE),
    ];

    pub const fn has(self, f: Flags) -> bool {
        self.0 & f.0 == f.0
    }
    pub const fn with(self, f: Flags) -> Flags {
        Flags(self.0 | f.0)
    }

    /// One flag by name, as `--flag` and S_FLAGS spell it.
    pub fn parse(name: &str) -> Option<Flags> {
        Flags::NAMES.iter().find(|(n, _)| *n == name).map(|&(_, f)| f)
    }

    /// Names joined by commas ("lock,nproc"), for the registry and status output.
    pub fn write_names(self, out: &mut String) {
        let mut first = true;
        for (n, f) in Flags::NAMES {
            if self.has(f) {
                if !first {
                    out.push(',');
                }
                out.push_str(n);
                first = false;
            }
        }
    }

    /// One S_FLAGS word (any case): the flags `--flag` takes, plus `namespace` and
    /// `minit`.
    pub fn parse_conf(word: &str) -> Option<Flags> {
        let w = word.to_ascii_lowercase();
        match w.as_str() {
            "namespace" => Some(Flags::NAMESPACE),
            "minit" => Some(Flags::MINIT),
            _ => Flags::parse(&w).filter(|f| *f != Flags::SECURE),
        }
    }

    /// The inverse of `write_names`; unknown words are skipped.
    pub fn from_names(list: &str) -> Flags {
        list.split(',').filter_map(Flags::parse).fold(Flags(0), |a, f| a.with(f))
    }
}

/// One resource limit to apply: resource number (RLIMIT_*), soft and hard values
/// (None = unlimited). A side left out keeps its current value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: Option<Option<u64>>,
    pub hard: Option<Option<u64>>,
}

impl Rlimit {
    /// Every resource's current limits, as the ulimit flag records them.
    pub fn snapshot() -> Vec<Rlimit> {
        (0..16u32)
            .filter_map(|r| {
                let res = resource(r)?;
                let l = rustix::process::getrlimit(res);
                Some(Rlimit { resource: r, soft: Some(l.current), hard: Some(l.maximum) })
            })
            .collect()
    }

    /// `res=soft:hard` words ("inf" for unlimited, empty for "keep"), for the registry.
    pub fn render(list: &[Rlimit]) -> String {
        use core::fmt::Write as _;
        let mut s = String::new();
        let side = |s: &mut String, v: Option<Option<u64>>| match v {
            None => {}
            Some(None) => s.push_str("inf"),
            Some(Some(n)) => {
                let _ = write!(s, "{n}");
            }
        };
        for (i, l) in list.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{}=", l.resource);
            side(&mut s, l.soft);
            s.push(':');
            side(&mut s, l.hard);
        }
        s
    }

    /// The inverse of `render`; malformed words are skipped.
    pub fn parse_rendered(text: &str) -> Vec<Rlimit> {
        let side = |w: &str| match w {
            "" => None,
            "inf" => Some(None),
            n => n.parse().ok().map(Some),
        };
        text.split_whitespace()
            .filter_map(|w| {
                let (r, v) = w.split_once('=')?;
                let (s, h) = v.split_once(':')?;
                Some(Rlimit { resource: r.parse().ok()?, soft: side(s), hard: side(h) })
            })
            .collect()
    }
}

/// RLIMIT_* number → rustix's resource.
pub fn resource(n: u32) -> Option<rustix::process::Resource> {
    use rustix::process::Resource::*;
    [Cpu, Fsize, Data, Stack, Core, Rss, Nproc, Nofile, Memlock, As, Locks, Sigpending, Msgqueue, Nice, Rtprio, Rttime]
        .into_iter()
        .find(|r| *r as u32 == n)
}

/// Everything `create` needs to know.
#[derive(Clone, Debug, Default)]
pub struct ContextSpec {
    /// A fixed number, or None to take the lowest free one from 2 up.
    pub id: Option<u32>,
    pub name: Option<String>,
    pub flags: Flags,
    /// Capabilities removed from the ceiling of every process in the context.
    pub remove: CapSet,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub rlimits: Vec<Rlimit>,
    /// A niceness increment for the context's processes.
    pub nice: Option<i32>,
    /// The vserver's root tree; None keeps the host's tree (with a private /proc).
    pub root: Option<String>,
    /// Detach: new session, stdio to /dev/null unless redirected, the caller returns
    /// once the command runs.
    pub disconnect: bool,
    /// A separate network namespace (the isolated network mode).
    pub own_net: bool,
    /// The addresses the context may use (chbind); None or 0.0.0.0: untied.
    pub ipv4root: Option<IpRoot>,
    /// Who runs the command (vserver suexec); None keeps the caller's identity.
    pub user: Option<User>,
    /// IP aliases the context owns from its start (removed with it).
    pub aliases: Vec<crate::engine::network::alias::Alias>,
    /// Recorded for a vserver: the PROFILE it runs with, and whether it is a
    /// temporary exec context.
    pub profile: Option<String>,
    pub temporary: bool,
}

/// A user to switch to before exec: ids from the guest's own /etc/passwd and
/// /etc/group, parsed by vsbox itself (no NSS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
    pub shell: String,
}

/// Where the engine keeps its state; every location can move for tests.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The registry (VSBOX_RUNDIR, default /run/vsbox).
    pub rundir: String,
    /// Parent of the context cgroups (VSBOX_CGROUP, default /vsbox): absolute from
    /// each hierarchy's root, or relative to the caller's own cgroup.
    pub cgroup_parent: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { rundir: String::from("/run/vsbox"), cgroup_parent: String::from("/vsbox") }
    }
}

/// Check a context number given on the command line: 1 (the spectator) or 2..=65535.
pub fn valid_id(n: i64) -> bool {
    n >= 1 && n <= MAX_CTX as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_round_trip() {
        let f = Flags::LOCK.with(Flags::NPROC).with(Flags::SECURE);
        let mut s = String::new();
        f.write_names(&mut s);
        assert_eq!(s, "lock,nproc,secure");
        assert_eq!(Flags::from_names(&s), f);
        assert_eq!(Flags::parse("fakeinit"), Some(Flags::FAKEINIT));
        assert_eq!(Flags::parse("Lock"), None);
        assert_eq!(Flags::LOCK.with(Flags::SCHED).0, 3, "the original bit values");
    }

    #[test]
    fn rlimits_round_trip() {
        let l = [
            Rlimit { resource: 6, soft: Some(Some(50)), hard: Some(Some(100)) },
            Rlimit { resource: 7, soft: None, hard: Some(None) },
        ];
        let t = Rlimit::render(&l);
        assert_eq!(t, "6=50:100 7=:inf");
        assert_eq!(Rlimit::parse_rendered(&t), l);
        assert_eq!(Rlimit::snapshot().len(), 16);
    }

    #[test]
    fn context_numbers() {
        for n in [0, -1, 65536, -2] {
            assert!(!valid_id(n), "{n}");
        }
        for n in [1, 2, 49152, 65535] {
            assert!(valid_id(n), "{n}");
        }
    }
}
