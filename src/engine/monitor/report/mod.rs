//! The views: pure formatting and aggregation over what the /proc scanner
//! reports, one module per output (`stat` for vserver-stat, `ps` for vps, `tree`
//! for vpstree, `json` for every `--json`), and here what they share: the host's
//! units and how text from /proc is printed.
//!
//! Every formatter writes into a `fmt::Write`, so an applet can hand it a stack
//! line buffer and write each line straight out: no allocation per process.

use core::fmt::{self, Write};

use crate::sys::procscan;

pub mod json;
pub mod ps;
pub mod stat;
pub mod tree;

/// The host's units: `stat` times are in clock ticks, RSS in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Units {
    pub ticks_per_sec: u64,
    pub page_size: u64,
}

impl Units {
    pub fn host() -> Units {
        Units { ticks_per_sec: procscan::clock_ticks(), page_size: procscan::page_size() }
    }

    /// Clock ticks to centiseconds (the unit of every time formatter here).
    #[inline]
    pub fn cs(self, ticks: u64) -> u64 {
        match self.ticks_per_sec {
            100 | 0 => ticks,
            hz => (u128::from(ticks) * 100 / u128::from(hz)) as u64,
        }
    }
}

/// `n` blanks (padding without a format string).
pub fn spaces(w: &mut impl Write, n: usize) -> fmt::Result {
    const S: &str = "                                ";
    let mut left = n;
    while left > 0 {
        let k = left.min(S.len());
        w.write_str(&S[..k])?;
        left -= k;
    }
    Ok(())
}

/// Text from /proc made printable, at most `max` characters; returns how many were
/// written. Control characters and invalid UTF-8 show as `?` (as ps does); with
/// `nul_is_space` the NULs between arguments show as spaces.
pub fn write_text(w: &mut impl Write, b: &[u8], nul_is_space: bool, max: usize) -> Result<usize, fmt::Error> {
    let mut n = 0;
    for chunk in b.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if n == max {
                return Ok(n);
            }
            let ch = match ch {
                '\0' if nul_is_space => ' ',
                c if c.is_control() => '?',
                c => c,
            };
            w.write_char(ch)?;
            n += 1;
        }
        if !chunk.invalid().is_empty() {
            if n == max {
                return Ok(n);
            }
            w.write_char('?')?;
            n += 1;
        }
    }
    Ok(n)
}

/// `b` without its trailing NULs (the end of a command line).
pub fn trim_nuls(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    &b[..end]
}

/// What the views' tests share: a writer's output as a String, a process as the
/// scanner reports it.
#[cfg(test)]
pub(crate) mod testing {
    use core::fmt;

    use crate::sys::procscan::{ProcInfo, Stat, Status};

    pub fn s<F: FnOnce(&mut String) -> fmt::Result>(f: F) -> String {
        let mut out = String::new();
        f(&mut out).unwrap();
        out
    }

    pub fn proc_info<'a>(pid: u32, comm: &'a [u8], cmdline: &'a [u8]) -> ProcInfo<'a> {
        ProcInfo {
            pid,
            comm,
            stat: Stat {
                state: b'S', ppid: 1, pgrp: pid as i32, session: pid as i32, tty_nr: 0, tpgid: -1, flags: 0,
                utime: 150, stime: 50, cutime: 7, cstime: 3, nice: 0, num_threads: 1, starttime: 100_000,
                vsize: 42_612 * 1024, rss_pages: 3090,
            },
            status: Status { ruid: 0, euid: 0, nspid: 1, vmlck_kb: 0 },
            cmdline,
            cgroup: b"0::/vsbox/5\n",
        }
    }
}
