//! Signal names and numbers as vkill and kill accept them (Linux x86_64).

/// Linux x86_64 signal numbers and names (aliases after the main name).
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6), ("BUS", 7),
    ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13), ("ALRM", 14),
    ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CLD", 17), ("CONT", 18), ("STOP", 19), ("TSTP", 20),
    ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24), ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27),
    ("WINCH", 28), ("IO", 29), ("POLL", 29), ("PWR", 30), ("SYS", 31),
];

/// The first real-time signal user programs may use (glibc keeps 32 and 33), and the
/// last.
pub const SIGRTMIN: i32 = 34;
pub const SIGRTMAX: i32 = 64;

/// A signal as vkill and kill accept it: a number (`0` … `64`), a name with or
/// without `SIG` in any case (`HUP`, `SIGhup`), `RTMIN+N` / `RTMAX-N`, each with an
/// optional leading `-` (`-9`, `-KILL`). `None` for anything else (`x`, `1 0`).
pub fn parse_signal(s: &str) -> Option<i32> {
    let s = s.strip_prefix('-').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i32>().ok().filter(|&n| n <= SIGRTMAX);
    }
    let name = match s.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("SIG") => &s[3..],
        _ => s,
    };
    if let Some(n) = SIGNALS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|e| e.1) {
        return Some(n);
    }
    let rt = |base: &str, sign: i32, fallback: i32| -> Option<i32> {
        let head = name.get(..base.len()).filter(|h| h.eq_ignore_ascii_case(base))?;
        let rest = &name[head.len()..];
        let off = match rest.as_bytes().first() {
            None => 0,
            Some(b'+') if sign > 0 => rest[1..].parse::<i32>().ok()?,
            Some(b'-') if sign < 0 => rest[1..].parse::<i32>().ok()?,
            _ => return None,
        };
        Some(fallback + sign * off).filter(|n| (SIGRTMIN..=SIGRTMAX).contains(n))
    };
    rt("RTMIN", 1, SIGRTMIN).or_else(|| rt("RTMAX", -1, SIGRTMAX))
}

/// The name of a signal without `SIG` (`TERM`), for messages; `None` for real-time
/// and unknown numbers.
pub fn signal_name(n: i32) -> Option<&'static str> {
    SIGNALS.iter().find(|e| e.1 == n).map(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        // util-vserver's own vkill test cases.
        assert_eq!(parse_signal("0"), Some(0));
        assert_eq!(parse_signal("10"), Some(10));
        assert_eq!(parse_signal("SIGHUP"), Some(1));
        assert_eq!(parse_signal("HUP"), Some(1));
        assert_eq!(parse_signal("SIGCHLD"), Some(17));
        assert_eq!(parse_signal("CHLD"), Some(17));
        assert_eq!(parse_signal("x"), None);
        assert_eq!(parse_signal("1 0"), None);
        // And kill's spellings.
        assert_eq!(parse_signal("-9"), Some(9));
        assert_eq!(parse_signal("-KILL"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(15));
        assert_eq!(parse_signal("CLD"), Some(17));
        assert_eq!(parse_signal("RTMIN"), Some(34));
        assert_eq!(parse_signal("RTMIN+2"), Some(36));
        assert_eq!(parse_signal("SIGRTMAX-1"), Some(63));
        assert_eq!(parse_signal("RTMIN-1"), None);
        assert_eq!(parse_signal("RTMAX+1"), None);
        assert_eq!(parse_signal("RTMIN+40"), None);
        assert_eq!(parse_signal("65"), None);
        for bad in ["", "-", "--9", "SIG", "+1", "99999999999"] {
            assert_eq!(parse_signal(bad), None, "{bad:?}");
        }
        assert_eq!(signal_name(15), Some("TERM"));
        assert_eq!(signal_name(6), Some("ABRT"));
        assert_eq!(signal_name(40), None);
    }
}
