//! vserver-stat's rows: one context's totals, summed from its processes, and the
//! line (or JSON object) that shows them.

use core::fmt::{self, Write};

use alloc::vec::Vec;
use heapless::String as HString;

use super::Units;
use super::json::JsonObject;
use crate::sys::procscan::ProcInfo;

/// The header line of vserver-stat (old layout, without the DESCRIPTION column).
pub const STAT_HEADER: &str = "CTX  PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME";

/// A memory size as vserver-stat prints it: whole units, truncated, `B`, `kB`, `MB`,
/// `GB` or `TB` (41.9 MiB prints `41MB`).
pub fn fmt_mem(bytes: u64) -> HString<24> {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let (mut v, mut unit) = (bytes, 0);
    while v >= 1024 && unit < UNITS.len() - 1 {
        v >>= 10;
        unit += 1;
    }
    let mut s = HString::new();
    let _ = write!(s, "{v}{}", UNITS[unit]);
    s
}

/// A duration in centiseconds as vserver-stat prints it: `12m05.79` below an hour,
/// `1h57m01` below a day, `33d02h06` beyond. The original's quirks are fixed: the
/// hour wraps at 24 (not 60), the day form shows the real hour (not h%12), and zero
/// leading fields print `0` (`0m12.34`, not `m12.34`).
pub fn fmt_time_cs(cs: u64) -> HString<24> {
    let secs = cs / 100;
    let (ss, mm, h, days) = (secs % 60, secs / 60 % 60, secs / 3600 % 24, secs / 86400);
    let mut s = HString::new();
    let _ = if days > 0 {
        write!(s, "{days}d{h:02}h{mm:02}")
    } else if h > 0 {
        write!(s, "{h}h{mm:02}m{ss:02}")
    } else {
        write!(s, "{mm}m{ss:02}.{:02}", cs % 100)
    };
    s
}

/// The built-in names of vserver-stat: 0 is the host, 1 the spectator.
pub fn stat_name(ctx: u32) -> Option<&'static str> {
    match ctx {
        0 => Some("root server"),
        1 => Some("monitoring server"),
        _ => None,
    }
}

/// One context's totals. Sizes are bytes and times centiseconds, in 64 bits (the
/// original summed VSZ in 32 bits and printed the RSS page count as bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatRow {
    pub ctx: u32,
    pub procs: u32,
    pub vsz: u64,
    pub rss: u64,
    /// User and system CPU, the processes' own plus their reaped children's.
    pub utime: u64,
    pub stime: u64,
    /// Start of the oldest process, in centiseconds since boot (`u64::MAX`: none).
    pub oldest_start: u64,
}

impl StatRow {
    pub const fn new(ctx: u32) -> Self {
        StatRow { ctx, procs: 0, vsz: 0, rss: 0, utime: 0, stime: 0, oldest_start: u64::MAX }
    }

    pub fn add(&mut self, p: &ProcInfo<'_>, u: Units) {
        let s = &p.stat;
        self.procs += 1;
        self.vsz = self.vsz.saturating_add(s.vsize);
        self.rss = self.rss.saturating_add(s.rss_pages.saturating_mul(u.page_size));
        self.utime += u.cs(s.utime + s.cutime);
        self.stime += u.cs(s.stime + s.cstime);
        self.oldest_start = self.oldest_start.min(u.cs(s.starttime));
    }

    /// Replace the CPU times by the context's cgroup counters (`cpu.stat`
    /// user_usec/system_usec, or cpuacct), which also count exited processes whose
    /// parents never waited for them.
    pub fn set_cpu_usec(&mut self, user_usec: u64, sys_usec: u64) {
        self.utime = user_usec / 10_000;
        self.stime = sys_usec / 10_000;
    }

    /// How long the context has been running: now minus its oldest process's start.
    pub fn uptime_cs(&self, uptime_now_cs: u64) -> u64 {
        if self.oldest_start == u64::MAX { 0 } else { uptime_now_cs.saturating_sub(self.oldest_start) }
    }
}

/// Totals for every context seen, sorted by context number; context 0 is always
/// present (the original seeded it).
#[derive(Clone, Debug)]
pub struct StatTable {
    rows: Vec<StatRow>,
}

impl Default for StatTable {
    fn default() -> Self {
        Self::new()
    }
}

impl StatTable {
    pub fn new() -> Self {
        let mut rows = Vec::with_capacity(8);
        rows.push(StatRow::new(0));
        StatTable { rows }
    }

    /// The row of `ctx`, created empty in order if it is new.
    pub fn row(&mut self, ctx: u32) -> &mut StatRow {
        let i = match self.rows.binary_search_by_key(&ctx, |r| r.ctx) {
            Ok(i) => i,
            Err(i) => {
                self.rows.insert(i, StatRow::new(ctx));
                i
            }
        };
        &mut self.rows[i]
    }

    pub fn add(&mut self, ctx: u32, p: &ProcInfo<'_>, u: Units) {
        self.row(ctx).add(p, u);
    }

    pub fn rows(&self) -> &[StatRow] {
        &self.rows
    }
}

/// One vserver-stat line: `%-4d %4d %6s %6s %9s %9s %9s %s`, for example
/// `0      37   41MB    2kB   1h57m01  49m05.79  33d02h06 root server`.
pub fn write_stat_row(w: &mut impl Write, r: &StatRow, uptime_now_cs: u64, name: &str) -> fmt::Result {
    writeln!(
        w,
        "{:<4} {:>4} {:>6} {:>6} {:>9} {:>9} {:>9} {}",
        r.ctx,
        r.procs,
        fmt_mem(r.vsz),
        fmt_mem(r.rss),
        fmt_time_cs(r.utime),
        fmt_time_cs(r.stime),
        fmt_time_cs(r.uptime_cs(uptime_now_cs)),
        name
    )
}

/// One vserver-stat row as a JSON object: sizes in bytes, times in seconds.
pub fn write_stat_json(w: &mut impl Write, r: &StatRow, uptime_now_cs: u64, name: &str) -> fmt::Result {
    let mut o = JsonObject::begin(w)?;
    o.uint("ctx", r.ctx.into())?;
    o.str("name", name)?;
    o.uint("procs", r.procs.into())?;
    o.uint("vsz", r.vsz)?;
    o.uint("rss", r.rss)?;
    o.cents("user_s", r.utime)?;
    o.cents("sys_s", r.stime)?;
    o.cents("uptime_s", r.uptime_cs(uptime_now_cs))?;
    o.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::monitor::report::testing::{proc_info, s};
    use alloc::string::String;

    #[test]
    fn memory_sizes() {
        let cases: [(u64, &str); 9] = [
            (0, "0B"), (1023, "1023B"), (1024, "1kB"), (2047, "1kB"), (2 * 1024, "2kB"),
            (41 * 1024 * 1024 + 900_000, "41MB"), (3 << 30, "3GB"), (5u64 << 40, "5TB"), (3000u64 << 40, "3000TB"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_mem(v).as_str(), want, "{v}");
        }
    }

    #[test]
    fn times() {
        let cases: [(u64, &str); 9] = [
            (0, "0m00.00"), (1234, "0m12.34"), (6000, "1m00.00"), (294_579, "49m05.79"), (360_000, "1h00m00"),
            (702_100, "1h57m01"), (9_000_000, "1d01h00"), (285_876_000, "33d02h06"), (33 * 8_640_000, "33d00h00"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_time_cs(v).as_str(), want, "{v}");
        }
        // 23 h stays in the hour form; 24 h is a day with the real hour (00), not 12.
        assert_eq!(fmt_time_cs(23 * 360_000).as_str(), "23h00m00");
        assert_eq!(fmt_time_cs(24 * 360_000).as_str(), "1d00h00");
        assert_eq!(fmt_time_cs(36 * 360_000).as_str(), "1d12h00");
    }

    #[test]
    fn stat_seed_row_and_header() {
        let row = StatRow {
            ctx: 0, procs: 37, vsz: 41 * 1024 * 1024 + 12_345, rss: 2048, utime: 702_100, stime: 294_579,
            oldest_start: 1_000,
        };
        let line = s(|w| write_stat_row(w, &row, 1_000 + 285_876_000, stat_name(0).unwrap()));
        assert_eq!(line, "0      37   41MB    2kB   1h57m01  49m05.79  33d02h06 root server\n");
        // The header's column edges line up with the row's.
        assert_eq!(STAT_HEADER, "CTX  PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME");
        for word in ["PROC", "VSZ", "RSS", "userTIME", "sysTIME", "UPTIME"] {
            let end = STAT_HEADER.find(word).unwrap() + word.len();
            assert_eq!(&line[end - 1..end + 1].chars().nth(1), &Some(' '), "{word}");
            assert_ne!(&line[end - 1..end], " ", "{word}");
        }
        let zero = s(|w| write_stat_row(w, &StatRow::new(7), 5_000, ""));
        assert_eq!(zero, "7       0     0B     0B   0m00.00   0m00.00   0m00.00 \n");
        assert_eq!(stat_name(1), Some("monitoring server"));
        assert_eq!(stat_name(2), None);
    }

    #[test]
    fn stat_table_accumulates() {
        let u = Units { ticks_per_sec: 100, page_size: 4096 };
        let mut t = StatTable::new();
        let a = proc_info(10, b"a", b"");
        let mut b = proc_info(11, b"b", b"");
        b.stat.starttime = 50_000;
        t.add(5, &a, u);
        t.add(5, &b, u);
        t.add(2, &a, u);
        let ctxs: Vec<u32> = t.rows().iter().map(|r| r.ctx).collect();
        assert_eq!(ctxs, [0, 2, 5]);
        let r = t.rows()[2];
        assert_eq!((r.procs, r.vsz, r.rss), (2, 2 * 42_612 * 1024, 2 * 3090 * 4096));
        assert_eq!((r.utime, r.stime, r.oldest_start), (2 * 157, 2 * 53, 50_000));
        assert_eq!(r.uptime_cs(80_000), 30_000);
        assert_eq!(t.rows()[0].uptime_cs(80_000), 0);
        // Other tick rates scale to centiseconds; cgroup counters override.
        let r1000 = { let mut r = StatRow::new(1); r.add(&a, Units { ticks_per_sec: 1000, page_size: 4096 }); r };
        assert_eq!((r1000.utime, r1000.oldest_start), (15, 10_000));
        let mut o = r;
        o.set_cpu_usec(1_234_567, 10_000);
        assert_eq!((o.utime, o.stime), (123, 1));
        let json = s(|w| write_stat_json(w, &r, 80_000, "web \"1\""));
        assert_eq!(
            json,
            "{\"ctx\":5,\"name\":\"web \\\"1\\\"\",\"procs\":2,\"vsz\":87269376,\"rss\":25313280,\
             \"user_s\":3.14,\"sys_s\":1.06,\"uptime_s\":300.00}"
        );
    }

    /// The seed row, through the formatter vserver-stat uses: RSS in real
    /// bytes (2 kB), hours that wrap at 24.
    #[test]
    fn the_seed_row() {
        let row = StatRow {
            ctx: 0,
            procs: 37,
            vsz: 41 * 1024 * 1024 + 900_000,
            rss: 2 * 1024 + 100,
            utime: 702_100,
            stime: 294_579,
            oldest_start: 1_000,
        };
        let mut out = String::new();
        out.push_str(STAT_HEADER);
        out.push('\n');
        write_stat_row(&mut out, &row, 1_000 + 285_876_000, "root server").unwrap();
        assert_eq!(
            out,
            "CTX  PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME\n\
             0      37   41MB    2kB   1h57m01  49m05.79  33d02h06 root server\n"
        );
        // The cgroup counters replace the CPU times (microseconds to centiseconds).
        let mut r = row;
        r.set_cpu_usec(7_021_000_000, 2_945_790_000);
        assert_eq!((r.utime, r.stime), (702_100, 294_579));
    }
}
