//! What the views read beyond the process list, and the one scan each needs:
//! vserver-stat's totals with the contexts' cgroup counters (so they include dead
//! processes; /proc sums where a context has no counter, and for the host), and
//! vpstree's forest.

use alloc::vec::Vec;

use super::report::Units;
use super::report::stat::StatTable;
use super::report::tree::{Forest, TreeProc};
use super::scope::Scope;
use crate::engine::context::cgroups::{CgroupDir, CgroupSet};
use crate::sys::cgroup;
use crate::sys::error::Result;
use crate::sys::procscan::{self, Flow, Want};

/// What a context's cgroups count, where the host has the controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// User and system CPU in microseconds (cgroup2 `cpu.stat`, or v1 cpuacct).
    pub cpu_usec: Option<(u64, u64)>,
    /// Memory charged to the context, bytes (`memory.current` or v1
    /// `memory.usage_in_bytes`; page cache included).
    pub memory: Option<u64>,
    /// Tasks (threads included): `pids.current`.
    pub tasks: Option<u64>,
}

/// Read the counters of context `ctx`'s cgroups below `parents`: the CPU times,
/// and with `all` the memory and task counters too.
pub fn counters(parents: &[CgroupDir], ctx: u32, all: bool) -> Counters {
    let set = CgroupSet::of(parents, ctx);
    let mut buf = [0u8; 1024];
    let mut c = Counters::default();
    if let Some(v2) = set.v2() {
        c.cpu_usec = cgroup::read(v2, "cpu.stat", &mut buf).ok().and_then(parse_cpu_stat);
    }
    let cpuacct = || set.dirs.iter().find(|d| !d.hierarchy.v2 && d.hierarchy.controllers & cgroup::CPUACCT != 0);
    if let (None, Some(d)) = (c.cpu_usec, cpuacct()) {
        let user = cgroup::read(&d.path, "cpuacct.usage_user", &mut buf).ok().and_then(parse_number);
        let sys = cgroup::read(&d.path, "cpuacct.usage_sys", &mut buf).ok().and_then(parse_number);
        if let (Some(u), Some(s)) = (user, sys) {
            c.cpu_usec = Some((u / 1000, s / 1000));
        }
    }
    if !all {
        return c;
    }
    if let Some(d) = set.dir_for(cgroup::MEMORY) {
        let v2 = set.v2() == Some(d);
        c.memory = cgroup::read(d, if v2 { "memory.current" } else { "memory.usage_in_bytes" }, &mut buf).ok().and_then(parse_number);
    }
    if let Some(d) = set.dir_for(cgroup::PIDS) {
        c.tasks = cgroup::read(d, "pids.current", &mut buf).ok().and_then(parse_number);
    }
    c
}

/// `user_usec` and `system_usec` from a cgroup2 `cpu.stat`.
pub fn parse_cpu_stat(text: &[u8]) -> Option<(u64, u64)> {
    let (mut user, mut sys) = (None, None);
    for line in text.split(|&b| b == b'\n') {
        let mut w = line.split(|&b| b == b' ');
        match (w.next(), w.next()) {
            (Some(b"user_usec"), Some(v)) => user = parse_number(v),
            (Some(b"system_usec"), Some(v)) => sys = parse_number(v),
            _ => {}
        }
    }
    Some((user?, sys?))
}

/// A control file holding one decimal number (a trailing newline allowed).
pub fn parse_number(text: &[u8]) -> Option<u64> {
    let t = text.strip_suffix(b"\n").unwrap_or(text);
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(t).ok()?.parse().ok()
}

/// vserver-stat's data: one row per context with processes (context 0, the host,
/// always first), the cgroup counters of each row, and the uptime they are
/// measured against.
pub struct StatReport {
    pub table: StatTable,
    /// Parallel to `table.rows()`; default (none) for the host.
    pub counters: Vec<Counters>,
    pub uptime_cs: u64,
}

/// Sum every process into its context's row (VSZ, RSS, process count, oldest
/// start), then replace each context's CPU times by its cgroup counters where the
/// host has them (and with `all` the memory and task counters). The calling
/// process itself is left out, as the original did.
pub fn gather_stat(scope: &Scope, all: bool) -> Result<StatReport> {
    let units = Units::host();
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let mut table = StatTable::new();
    scope.scan(Want::STAT, |p, ctx| {
        if p.pid != me {
            table.add(ctx, p, units);
        }
        Flow::Continue
    })?;
    let uptime_cs = procscan::read_uptime()?;
    let ctxs: Vec<u32> = table.rows().iter().map(|r| r.ctx).collect();
    let mut per_row = Vec::with_capacity(ctxs.len());
    for ctx in ctxs {
        let c = if ctx == 0 { Counters::default() } else { counters(&scope.parents, ctx, all) };
        if let Some((user, sys)) = c.cpu_usec {
            table.row(ctx).set_cpu_usec(user, sys);
        }
        per_row.push(c);
    }
    Ok(StatReport { table, counters: per_row, uptime_cs })
}

/// Every process, with its context, as the tree drawer needs it.
pub fn forest(scope: &Scope) -> Result<Forest> {
    let mut v = Vec::new();
    scope.scan(Want::STAT, |p, ctx| {
        v.push(TreeProc::from_proc(p, ctx));
        Flow::Continue
    })?;
    Ok(Forest::new(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_counter_files() {
        let cpu = b"usage_usec 814459\nuser_usec 500601\nsystem_usec 313858\nnice_usec 0\n";
        assert_eq!(parse_cpu_stat(cpu), Some((500_601, 313_858)));
        assert_eq!(parse_cpu_stat(b"usage_usec 1\n"), None);
        assert_eq!(parse_cpu_stat(b""), None);
        assert_eq!(parse_number(b"504000000\n"), Some(504_000_000));
        assert_eq!(parse_number(b"12"), Some(12));
        for bad in [&b""[..], b"\n", b"max\n", b"-1\n", b"1 2\n", b"99999999999999999999999\n"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }
}
