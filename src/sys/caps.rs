//! Capabilities: the CAP_* table, parsing of admin spellings, and the calls that
//! shrink a process's ceiling (bounding set, capset, ambient set, no_new_privs).

use core::fmt;

use rustix::thread::{self, CapabilitySet, CapabilitySets};

use super::error::{Context, Result};

/// The highest capability number vsbox knows (CAP_CHECKPOINT_RESTORE).
pub const CAP_LAST: u32 = 40;

/// Every capability name, indexed by its number (capability(7)).
pub const CAP_NAMES: [&str; CAP_LAST as usize + 1] = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/// A set of capabilities, one bit per capability number.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapSet(pub u64);

impl CapSet {
    pub const EMPTY: CapSet = CapSet(0);
    pub const ALL: CapSet = CapSet((1u64 << (CAP_LAST + 1)) - 1);

    /// What `--secure` removes. The vserver-0.2x mask 0x0BF3FA00 (LINUX_IMMUTABLE,
    /// NET_BROADCAST, NET_ADMIN, NET_RAW, IPC_LOCK, IPC_OWNER, SYS_MODULE, SYS_RAWIO,
    /// SYS_PACCT, SYS_ADMIN, SYS_BOOT, SYS_NICE, SYS_RESOURCE, SYS_TIME, MKNOD), plus
    /// every capability that mainline has split off since and that a guest must not
    /// hold: AUDIT_CONTROL, MAC_OVERRIDE, MAC_ADMIN, SYSLOG, WAKE_ALARM, BLOCK_SUSPEND,
    /// AUDIT_READ, PERFMON, BPF and CHECKPOINT_RESTORE. AUDIT_WRITE (login, sshd) and
    /// SETFCAP (package installs; still capped by the bounding set) stay, as in
    /// util-vserver's later set.
    pub const SECURE_REMOVE: CapSet = CapSet(0x0BF3_FA00 | (1 << 30) | (0x1FF << 32));

    #[inline]
    pub const fn bit(cap: u32) -> CapSet {
        CapSet(1u64 << cap)
    }
    #[inline]
    pub const fn has(self, cap: u32) -> bool {
        cap <= CAP_LAST && self.0 & (1u64 << cap) != 0
    }
    #[inline]
    pub const fn union(self, o: CapSet) -> CapSet {
        CapSet(self.0 | o.0)
    }
    #[inline]
    pub const fn minus(self, o: CapSet) -> CapSet {
        CapSet(self.0 & !o.0)
    }
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The capability numbers in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (0..=CAP_LAST).filter(move |&c| self.has(c))
    }
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapSet({:#x})", self.0)
    }
}

/// Names joined by spaces, as `--show` and error messages print them.
impl fmt::Display for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(CAP_NAMES[c as usize])?;
        }
        Ok(())
    }
}

/// Parse one capability as admins write it: `CAP_NET_RAW`, `cap_net_raw`, `NET_RAW`,
/// `net_raw` or a number `13`. Returns `None` for anything else, so the caller can
/// name the bad word in its message.
pub fn parse_cap(word: &str) -> Option<u32> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse::<u32>().ok().filter(|&n| n <= CAP_LAST);
    }
    let bare = match word.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("cap_") => &word[4..],
        _ => word,
    };
    CAP_NAMES
        .iter()
        .position(|name| name[4..].eq_ignore_ascii_case(bare))
        .map(|i| i as u32)
}

/// The current thread's bounding set, read bit by bit (PR_CAPBSET_READ); bits the
/// running kernel does not know read as absent.
pub fn bounding_set() -> CapSet {
    let mut set = CapSet::EMPTY;
    for c in 0..=CAP_LAST {
        if let Ok(true) = thread::capability_is_in_bounding_set(CapabilitySet::from_bits_retain(1 << c)) {
            set = set.union(CapSet::bit(c));
        }
    }
    set
}

/// The effective, permitted and inheritable sets of the calling thread.
pub fn current() -> Result<(CapSet, CapSet, CapSet)> {
    let s = thread::capabilities(None).ctx("read the capability sets (capget)")?;
    Ok((CapSet(s.effective.bits()), CapSet(s.permitted.bits()), CapSet(s.inheritable.bits())))
}

/// Lower the ceiling of this process and everything it will start: drop `remove`
/// from the bounding set (so setuid-root and file capabilities cannot bring them
/// back), clear the ambient set, and take them out of E, P and I.
///
/// The bounding drops come first because PR_CAPBSET_DROP itself needs CAP_SETPCAP,
/// which `remove` may contain.
pub fn reduce(remove: CapSet) -> Result<()> {
    if remove.is_empty() {
        return Ok(());
    }
    drop_bounding(remove)?;
    lower(remove)
}

/// The first half of `reduce`: take `remove` out of the bounding set only.
pub fn drop_bounding(remove: CapSet) -> Result<()> {
    for c in remove.iter() {
        match thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(1 << c)) {
            Ok(()) => {}
            // A capability newer than the running kernel: it cannot be held anyway.
            Err(rustix::io::Errno::INVAL) => {}
            Err(e) => return Err(e).ctx("drop a capability from the bounding set (needs CAP_SETPCAP)"),
        }
    }
    Ok(())
}

/// The second half of `reduce`: clear the ambient set and take `remove` out of the
/// effective, permitted and inheritable sets.
pub fn lower(remove: CapSet) -> Result<()> {
    thread::clear_ambient_capability_set().ctx("clear the ambient capability set")?;
    let s = thread::capabilities(None).ctx("read the capability sets (capget)")?;
    let keep = CapabilitySet::from_bits_retain(!remove.0);
    let new = CapabilitySets {
        effective: s.effective & keep,
        permitted: s.permitted & keep,
        inheritable: s.inheritable & keep,
    };
    thread::set_capabilities(None, new).ctx("lower the capability sets (capset)")
}

/// Forbid privilege gains through execve (setuid bits, file capabilities) for good.
pub fn set_no_new_privs() -> Result<()> {
    thread::set_no_new_privs(true).ctx("set no_new_privs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses() {
        for w in ["CAP_NET_RAW", "cap_net_raw", "NET_RAW", "net_raw", "Cap_Net_Raw", "13"] {
            assert_eq!(parse_cap(w), Some(13), "{w}");
        }
        assert_eq!(parse_cap("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(parse_cap("chown"), Some(0));
        assert_eq!(parse_cap("0"), Some(0));
    }

    #[test]
    fn unknown_names_are_refused() {
        for w in ["", "CAP_", "CAP_NET_RAWX", "NETRAW", "41", "-1", "cap_13", "CAP_OPENDEV"] {
            assert_eq!(parse_cap(w), None, "{w}");
        }
    }

    #[test]
    fn table_is_complete_and_consistent() {
        for (i, n) in CAP_NAMES.iter().enumerate() {
            assert!(n.starts_with("CAP_"));
            assert_eq!(parse_cap(n), Some(i as u32));
        }
        assert_eq!(CAP_NAMES[21], "CAP_SYS_ADMIN");
        assert_eq!(linux_raw_sys::general::CAP_LAST_CAP, CAP_LAST);
    }

    #[test]
    fn secure_set_matches_the_old_mask_and_the_new_caps() {
        assert_eq!(CapSet::SECURE_REMOVE.0 & 0xFFFF_FFFF, 0x0BF3_FA00 | 1 << 30);
        for keep in ["CHOWN", "KILL", "SETUID", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT",
                     "AUDIT_WRITE", "SETFCAP"] {
            assert!(!CapSet::SECURE_REMOVE.has(parse_cap(keep).unwrap()), "{keep}");
        }
        for drop in ["SYS_ADMIN", "NET_RAW", "MKNOD", "BPF", "PERFMON", "SYSLOG",
                     "CHECKPOINT_RESTORE", "AUDIT_CONTROL"] {
            assert!(CapSet::SECURE_REMOVE.has(parse_cap(drop).unwrap()), "{drop}");
        }
        // The spec's conformance case: --secure --cap CAP_NET_RAW.
        let r = CapSet::SECURE_REMOVE.minus(CapSet::bit(13));
        assert_eq!(r.0 & 0xFFFF_FFFF, 0x0BF3_DA00 | 1 << 30);
    }

    #[test]
    fn display_lists_names() {
        let s = CapSet::bit(0).union(CapSet::bit(21));
        assert_eq!(std::format!("{s}"), "CAP_CHOWN CAP_SYS_ADMIN");
    }
}
