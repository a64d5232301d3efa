//! What each context is called: the registry's names, read once per listing, and
//! the built-in names of the host and the spectator.

use alloc::string::String;
use alloc::vec::Vec;

use super::report::ps::vps_name;
use super::report::stat::stat_name;
use crate::engine::context::registry::Registry;
use crate::engine::context::spec::SPECTATOR;

/// Context names from the registry, each read once per listing.
pub struct Names<'r> {
    reg: &'r Registry,
    /// Sorted by context.
    cache: Vec<(u32, String)>,
}

impl<'r> Names<'r> {
    pub fn new(reg: &'r Registry) -> Names<'r> {
        Names { reg, cache: Vec::new() }
    }

    /// The name the registry holds for `ctx` ("" when none: an unnamed or
    /// unregistered context, the host, the spectator).
    pub fn registered(&mut self, ctx: u32) -> &str {
        let i = match self.cache.binary_search_by_key(&ctx, |e| e.0) {
            Ok(i) => i,
            Err(i) => {
                let name = if ctx <= SPECTATOR { String::new() } else { self.reg.read(ctx).map(|e| e.name).unwrap_or_default() };
                self.cache.insert(i, (ctx, name));
                i
            }
        };
        &self.cache[i].1
    }

    /// The name vserver-stat and vpstree show: `root server` for 0, `monitoring
    /// server` for 1, else the registered name (as `context::display_name`).
    pub fn display(&mut self, ctx: u32) -> &str {
        match stat_name(ctx) {
            Some(n) => n,
            None => self.registered(ctx),
        }
    }

    /// The name vps shows: the registered one, else `MAIN` (0), `ALL_PROCS` (1) or
    /// `UNKNOWN`, so the column is never empty.
    pub fn vps(&mut self, ctx: u32) -> &str {
        let r = self.registered(ctx);
        vps_name(ctx, Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::context::registry::Entry;
    use crate::engine::context::spec::Settings;

    #[test]
    fn names_from_the_registry() {
        let dir = std::env::temp_dir().join(format!("vsbox-monitor-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = Settings { rundir: dir.to_str().unwrap().into(), cgroup_parent: "unused".into() };
        let reg = Registry::new(settings);
        std::fs::create_dir_all(dir.join("ctx/5")).unwrap();
        reg.write(&Entry { id: 5, name: "web".into(), ..Entry::default() }).unwrap();
        std::fs::create_dir_all(dir.join("ctx/6")).unwrap();
        reg.write(&Entry { id: 6, ..Entry::default() }).unwrap();
        let mut n = Names::new(&reg);
        let mut all = |c: u32| -> [String; 3] { [n.registered(c).into(), n.display(c).into(), n.vps(c).into()] };
        assert_eq!(all(5), ["web", "web", "web"]);
        assert_eq!(all(6), ["", "", "UNKNOWN"]);
        assert_eq!(all(7), ["", "", "UNKNOWN"]);
        assert_eq!(all(0), ["", "root server", "MAIN"]);
        assert_eq!(all(1), ["", "monitoring server", "ALL_PROCS"]);
        // Read once: a later rename shows in the next listing, not this one.
        reg.write(&Entry { id: 5, name: "mail".into(), ..Entry::default() }).unwrap();
        assert_eq!(n.registered(5), "web");
        assert_eq!(Names::new(&reg).registered(5), "mail");
        // The engine's own display names agree.
        for c in [0, 1, 5, 6, 7] {
            assert_eq!(Names::new(&reg).display(c), crate::engine::context::display_name(&reg, c));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
