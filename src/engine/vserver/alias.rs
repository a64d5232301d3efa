//! A vserver's IP aliases on IPROOTDEV (rtnetlink, labelled `DEV:NAME`) and the
//! ipv4root they make.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rustix::io::Errno;

use super::conf::{IpRoot as ConfIpRoot, VserverConf};
use crate::engine::network::ipv4root::IpRoot;
use crate::sys::caps::CapSet;
use crate::sys::netlink::{self, Rtnl};
use super::dotted;

// ---------------------------------------------------------------------------------
// IP aliases
// ---------------------------------------------------------------------------------

/// One IP alias `vserver start` puts on a device, labelled `DEV:NAME[N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub dev: String,
    pub addr: [u8; 4],
    pub prefix: u8,
    pub bcast: Option<[u8; 4]>,
    pub label: String,
}

/// The aliases of IPROOT (vserver-spec §9.4): entry i gets the label
/// `DEV:NAME` for the first, then `DEV:NAME1`, `DEV:NAME2`…, the suffix advancing for
/// every entry, with a device or not. DEV is the entry's own `dev:` or IPROOTDEV;
/// entries with neither get no alias. A label longer than the kernel's 15 bytes is
/// an error (the message names it).
pub fn plan_aliases(name: &str, conf: &VserverConf) -> core::result::Result<Vec<Alias>, String> {
    let ConfIpRoot::List(entries) = &conf.iproot else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(dev) = e.dev.as_deref().or(conf.iprootdev.as_deref()) else { continue };
        let label = if i == 0 { format!("{dev}:{name}") } else { format!("{dev}:{name}{i}") };
        if label.len() > netlink::NAME_MAX {
            return Err(format!(
                "the alias label '{label}' is longer than {} bytes, the kernel's limit (use a shorter vserver or device name, or --nodev)",
                netlink::NAME_MAX
            ));
        }
        let prefix = conf.prefix_of(e);
        let bcast = conf.iprootbcast.or_else(|| netlink::default_broadcast(e.addr, prefix));
        out.push(Alias { dev: dev.to_owned(), addr: e.addr, prefix, bcast, label });
    }
    Ok(out)
}

/// Add the aliases through rtnetlink. Every device is checked first, so a missing
/// one changes nothing. An address that is already there under another label is
/// not ours and is left out of the result (stop will not remove it); one with our
/// label (a crashed earlier start) is taken over. On error, what was added is
/// removed again.
pub fn add_aliases(plan: &[Alias]) -> core::result::Result<Vec<Alias>, String> {
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
            Err(e) if e.errno() == Errno::EXIST => {
                let ours = rtnl
                    .addresses(Some(i))
                    .map(|l| l.iter().any(|x| x.addr == a.addr && x.label.as_str() == a.label))
                    .unwrap_or(false);
                if ours {
                    added.push(a.clone());
                }
            }
            Err(e) => {
                remove_aliases(&added);
                return Err(format!("add {}/{} to {} as {}: {}", dotted(a.addr), a.prefix, a.dev, a.label, e.reason()));
            }
        }
    }
    Ok(added)
}

/// Remove aliases (only those still carrying their label); errors are ignored,
/// as the original's `ifconfig … down 2>/dev/null`.
pub fn remove_aliases(list: &[Alias]) {
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

/// The ipv4root of a conf: None when untied. `ALL` is every IPv4 address of the
/// host (listdevip). The broadcast is IPROOTBCAST, else the last alias's, else
/// 255.255.255.255 (as the script's last computed BCAST). Raw sockets stay allowed
/// only when the vserver keeps CAP_NET_RAW.
pub fn ipv4root_of(conf: &VserverConf, aliases: &[Alias], remove: CapSet) -> core::result::Result<Option<IpRoot>, String> {
    let mut r = IpRoot::new();
    match &conf.iproot {
        ConfIpRoot::Untied => return Ok(None),
        ConfIpRoot::All => {
            let rtnl = Rtnl::open().map_err(|e| format!("{e}"))?;
            let list = rtnl.addresses(None).map_err(|e| format!("{e}"))?;
            for a in list.iter().take(crate::engine::network::ipv4root::MAX_ADDRS) {
                r.add(&format!("{}/{}", dotted(a.addr), a.prefix)).map_err(|e| format!("IPROOT=ALL: {e}"))?;
            }
        }
        ConfIpRoot::List(entries) => {
            for e in entries {
                r.add(&format!("{}/{}", dotted(e.addr), conf.prefix_of(e))).map_err(|e| format!("IPROOT: {e}"))?;
            }
        }
    }
    if let Some(b) = conf.iprootbcast.or_else(|| aliases.last().and_then(|a| a.bcast)) {
        r.bcast = core::net::Ipv4Addr::from(b);
    }
    r.keep_raw = !remove.has(13);
    Ok(Some(r))
}

