//! A vserver's IP aliases on IPROOTDEV (labelled `DEV:NAME`, put on and taken
//! off by `network::alias`) and the ipv4root they make.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;


use super::conf::{IpRoot as ConfIpRoot, VserverConf};
use crate::engine::network::alias::Alias;
use crate::engine::network::ipv4root::IpRoot;
use crate::sys::caps::CapSet;
use crate::sys::netlink::{self, Rtnl};
use super::dotted;


// ---------------------------------------------------------------------------------
// IP aliases
// ---------------------------------------------------------------------------------

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

