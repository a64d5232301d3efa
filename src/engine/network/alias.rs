//! IP aliases a context owns: put on a device with a label at its start, and
//! taken off by whoever ends the context (its keeper, or the command that finds
//! it dead), as its registry entry records them.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rustix::io::Errno;

use crate::sys::netlink::{self, Rtnl};

/// One IP alias `vserver start` puts on a device, labelled `DEV:NAME[N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub dev: String,
    pub addr: [u8; 4],
    pub prefix: u8,
    pub bcast: Option<[u8; 4]>,
    pub label: String,
}

impl Alias {
    /// One registry line: `DEV ADDR PREFIX BCAST|- LABEL`.
    pub fn render(&self) -> String {
        let b = self.bcast.map(dotted).unwrap_or_else(|| String::from("-"));
        format!("{} {} {} {} {}", self.dev, dotted(self.addr), self.prefix, b, self.label)
    }

    pub fn parse(line: &str) -> Option<Alias> {
        let mut w = line.split(' ');
        let (dev, addr, prefix, b, label) = (w.next()?, w.next()?, w.next()?, w.next()?, w.next()?);
        let addr = super::ipv4root::parse_ipv4(addr).ok()?.octets();
        let bcast = super::ipv4root::parse_ipv4(b).ok().map(|a| a.octets());
        Some(Alias { dev: dev.to_owned(), addr, prefix: prefix.parse().ok()?, bcast, label: label.to_owned() })
    }
}

/// `A.B.C.D`.
pub fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// The inode of this process's network namespace: aliases are removed only from
/// the namespace they were added in.
pub fn netns_id() -> u64 {
    rustix::fs::stat("/proc/self/ns/net").map(|s| s.st_ino as u64).unwrap_or(0)
}

/// Add the aliases through rtnetlink. Every device is checked first, so a missing
/// one changes nothing. An address that is already there is not ours (whatever
/// its label: a crashed start of ours was cleared with its registry entry, so
/// it is another registry's or the admin's) and is left out of the result, so it
/// is never removed by us. On error, what was added is removed again.
pub fn add(plan: &[Alias]) -> core::result::Result<Vec<Alias>, String> {
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let rtnl = Rtnl::open().map_err(|e| format!("{e}"))?;
    let mut idx = Vec::new();
    for a in plan {
        match rtnl.ifindex(&a.dev) {
            Ok(Some(i)) => idx.push(i),
            Ok(None) => return Err(format!("the IPROOTDEV device {} does not exist (check IPROOTDEV, or use --nodev)", a.dev)),
            Err(e) => return Err(format!("look up {}: {}", a.dev, e.reason())),
        }
    }
    let mut added: Vec<Alias> = Vec::new();
    for (a, &i) in plan.iter().zip(&idx) {
        // Removing the subnet's first address must not take the other vservers'
        // aliases in that subnet along (kernel-feasibility §6).
        let _ = netlink::set_promote_secondaries(&a.dev, true);
        match rtnl.add_ipv4(i, a.addr, a.prefix, a.bcast, &a.label) {
            Ok(()) => added.push(a.clone()),
            Err(e) if e.errno() == Errno::EXIST => {}
            Err(e) => {
                remove(&added);
                return Err(format!("add {}/{} to {} as {}: {}", dotted(a.addr), a.prefix, a.dev, a.label, e.reason()));
            }
        }
    }
    Ok(added)
}

/// Remove aliases (only those still carrying their label); errors are ignored,
/// as the original's `ifconfig … down 2>/dev/null`.
pub fn remove(list: &[Alias]) {
    if list.is_empty() {
        return;
    }
    let Ok(rtnl) = Rtnl::open() else { return };
    for a in list {
        if let Ok(Some(i)) = rtnl.ifindex(&a.dev) {
            let _ = rtnl.del_ipv4(i, a.addr, a.prefix, Some(&a.label));
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_round_trip() {
        let a = Alias { dev: String::from("v0"), addr: [10, 0, 0, 5], prefix: 24, bcast: Some([10, 0, 0, 255]), label: String::from("v0:web") };
        assert_eq!(Alias::parse(&a.render()), Some(a.clone()));
        let b = Alias { bcast: None, ..a };
        assert_eq!(Alias::parse(&b.render()), Some(b));
    }
}
