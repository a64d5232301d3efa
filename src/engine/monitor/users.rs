//! User names for the USER column, without libc.

use alloc::string::String;
use alloc::vec::Vec;

use crate::sys::procscan;

/// uid → login name, from /etc/passwd (read once, parsed here: vsbox has no libc
/// and so no getpwuid).
#[derive(Clone, Debug, Default)]
pub struct Users {
    /// Sorted by uid; for a uid listed twice the first line wins, as getpwuid.
    by_uid: Vec<(u32, String)>,
}

impl Users {
    /// /etc/passwd of the host; an unreadable file gives an empty table (numbers).
    pub fn load() -> Users {
        procscan::read_to_vec(c"/etc/passwd", 8 << 20).map(|b| Users::parse(&b)).unwrap_or_default()
    }

    pub fn parse(passwd: &[u8]) -> Users {
        let mut by_uid: Vec<(u32, String)> = Vec::new();
        for line in passwd.split(|&b| b == b'\n') {
            let mut f = line.split(|&b| b == b':');
            let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else { continue };
            let Ok(name) = core::str::from_utf8(name) else { continue };
            let Some(uid) = core::str::from_utf8(uid).ok().and_then(|u| u.parse::<u32>().ok()) else { continue };
            if name.is_empty() || name.starts_with(['+', '-', '#']) {
                continue;
            }
            by_uid.push((uid, String::from(name)));
        }
        // Stable: keeps the file order among equal uids, so dedup keeps the first.
        by_uid.sort_by_key(|e| e.0);
        by_uid.dedup_by_key(|e| e.0);
        Users { by_uid }
    }

    pub fn name(&self, uid: u32) -> Option<&str> {
        self.by_uid.binary_search_by_key(&uid, |e| e.0).ok().map(|i| self.by_uid[i].1.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_names() {
        let u = Users::parse(b"root:x:0:0:root:/root:/bin/sh\n+nis::::::\nbad line\nwww:x:33:33::/:/bin/false\n\
                               toor:x:0:0::/:/bin/sh\nverylongname:x:1000:1000::/home/v:/bin/sh\n");
        assert_eq!(u.name(0), Some("root"));
        assert_eq!(u.name(33), Some("www"));
        assert_eq!(u.name(1000), Some("verylongname"));
        assert_eq!(u.name(5), None);
        assert_eq!(Users::load().name(0), Some("root"));
    }
}
