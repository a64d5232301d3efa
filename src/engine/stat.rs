//! Monitoring output: vserver-stat rows, vps columns, the vpstree forest, a small
//! JSON writer, and vkill's signal names. Pure formatting and aggregation over what
//! the /proc scanner reports; the only I/O (the context map from cgroup.procs,
//! /etc/passwd, /etc/localtime) goes through procscan.
//!
//! Every formatter writes into a `fmt::Write`, so an applet can hand it a stack
//! line buffer and write each line straight out: no allocation per process.

use core::fmt::{self, Write};

use alloc::string::String;
use alloc::vec::Vec;
use heapless::String as HString;

use crate::sys::procscan::{self, NO_UID, ProcInfo, Want};

// ---------------------------------------------------------------------------------
// Units shared by every view

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

fn spaces(w: &mut impl Write, n: usize) -> fmt::Result {
    const S: &str = "                                ";
    let mut left = n;
    while left > 0 {
        let k = left.min(S.len());
        w.write_str(&S[..k])?;
        left -= k;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Which context a process is in

/// pid → context, read from the cgroup side: the `cgroup.procs` files below vsbox's
/// parent cgroup, a handful of reads in all, instead of one `/proc/PID/cgroup` per
/// process. A process not listed is on the host (context 0). A process that moves
/// between the load and the /proc scan shows its old context (or 0), as any
/// snapshot tool would.
#[derive(Clone, Debug, Default)]
pub struct CtxMap {
    /// Sorted by pid.
    by_pid: Vec<(u32, u32)>,
}

impl CtxMap {
    /// `parent_dir` is the parent cgroup's directory in the cgroup2 mount (e.g.
    /// `/sys/fs/cgroup/unified/vsbox`); if it does not exist there are no contexts.
    pub fn load(parent_dir: &core::ffi::CStr) -> crate::sys::Result<CtxMap> {
        let mut by_pid = Vec::new();
        match procscan::cgroup_subtree_pids(parent_dir, |name, pid| {
            if let Some(ctx) = procscan::ctx_number(name) {
                by_pid.push((pid, ctx));
            }
        }) {
            Err(e) if e.errno == crate::sys::Errno::NOENT => {}
            r => r?,
        }
        Ok(CtxMap::from_pairs(by_pid))
    }

    /// From (pid, ctx) pairs in any order.
    pub fn from_pairs(mut by_pid: Vec<(u32, u32)>) -> CtxMap {
        by_pid.sort_unstable();
        CtxMap { by_pid }
    }

    /// The context of `pid`: 0 when no context cgroup lists it.
    pub fn ctx_of(&self, pid: u32) -> u32 {
        self.by_pid.binary_search_by_key(&pid, |e| e.0).map_or(0, |i| self.by_pid[i].1)
    }

    /// How many processes are in contexts (not on the host).
    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }
}

// ---------------------------------------------------------------------------------
// vserver-stat

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

// ---------------------------------------------------------------------------------
// JSON

/// The escaped body of a JSON string (no quotes): `"` `\` and control characters
/// escaped, everything else (UTF-8 included) as is.
pub fn json_escape(w: &mut impl Write, s: &str) -> fmt::Result {
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 || c == '\u{7f}' => "",
            _ => continue,
        };
        w.write_str(&s[plain..i])?;
        if esc.is_empty() {
            write!(w, "\\u{:04x}", c as u32)?;
        } else {
            w.write_str(esc)?;
        }
        plain = i + c.len_utf8();
    }
    w.write_str(&s[plain..])
}

/// `s` as a JSON string literal, quotes included.
pub fn json_str(w: &mut impl Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    json_escape(w, s)?;
    w.write_char('"')
}

/// Bytes that should be text (a command line, a comm) as a JSON string: NUL
/// separators become spaces (trailing ones dropped), invalid UTF-8 becomes U+FFFD.
pub fn json_bytes(w: &mut impl Write, b: &[u8]) -> fmt::Result {
    w.write_char('"')?;
    json_escape_bytes(w, trim_nuls(b))?;
    w.write_char('"')
}

fn json_escape_bytes(w: &mut impl Write, b: &[u8]) -> fmt::Result {
    for chunk in b.utf8_chunks() {
        for (i, part) in chunk.valid().split('\0').enumerate() {
            if i > 0 {
                w.write_char(' ')?;
            }
            json_escape(w, part)?;
        }
        if !chunk.invalid().is_empty() {
            w.write_char('\u{fffd}')?;
        }
    }
    Ok(())
}

/// A JSON object written field by field, on one line.
pub struct JsonObject<'w, W: Write> {
    w: &'w mut W,
    first: bool,
}

impl<'w, W: Write> JsonObject<'w, W> {
    pub fn begin(w: &'w mut W) -> Result<Self, fmt::Error> {
        w.write_char('{')?;
        Ok(JsonObject { w, first: true })
    }

    /// Write the key; the caller writes the value right after.
    pub fn key(&mut self, key: &str) -> Result<&mut W, fmt::Error> {
        if !core::mem::replace(&mut self.first, false) {
            self.w.write_char(',')?;
        }
        json_str(self.w, key)?;
        self.w.write_char(':')?;
        Ok(self.w)
    }

    pub fn str(&mut self, key: &str, v: &str) -> fmt::Result {
        json_str(self.key(key)?, v)
    }

    pub fn bytes(&mut self, key: &str, v: &[u8]) -> fmt::Result {
        json_bytes(self.key(key)?, v)
    }

    pub fn uint(&mut self, key: &str, v: u64) -> fmt::Result {
        write!(self.key(key)?, "{v}")
    }

    pub fn int(&mut self, key: &str, v: i64) -> fmt::Result {
        write!(self.key(key)?, "{v}")
    }

    /// Hundredths as a decimal number: 1234 → `12.34`.
    pub fn cents(&mut self, key: &str, v: u64) -> fmt::Result {
        write!(self.key(key)?, "{}.{:02}", v / 100, v % 100)
    }

    /// Tenths as a decimal number: 7 → `0.7`.
    pub fn tenths(&mut self, key: &str, v: u64) -> fmt::Result {
        write!(self.key(key)?, "{}.{}", v / 10, v % 10)
    }

    /// Close the object (the line ends with the array's next `item` or `close`).
    pub fn end(self) -> fmt::Result {
        self.w.write_char('}')
    }
}

/// The frame of a JSON array with one element per line: `open`, then `item` before
/// each element, then `close`.
#[derive(Debug, Default)]
pub struct JsonArray {
    started: bool,
}

impl JsonArray {
    pub fn open(w: &mut impl Write) -> Result<Self, fmt::Error> {
        w.write_char('[')?;
        Ok(JsonArray { started: false })
    }

    pub fn item(&mut self, w: &mut impl Write) -> fmt::Result {
        w.write_str(if core::mem::replace(&mut self.started, true) { ",\n" } else { "\n" })
    }

    pub fn close(self, w: &mut impl Write) -> fmt::Result {
        w.write_str(if self.started { "\n]\n" } else { "]\n" })
    }
}

// ---------------------------------------------------------------------------------
// User names

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

// ---------------------------------------------------------------------------------
// Time of day (START/STIME), without libc

/// The UTC offset (seconds) at time `t` from a TZif file (/etc/localtime): the type
/// of the last transition at or before `t`, or the first type before any. The POSIX
/// TZ footer is not read, so with "slim" zone files the DST state after the last
/// listed transition may be off by an hour.
pub fn tzif_offset(data: &[u8], t: i64) -> Option<i32> {
    let be32 = |at: usize| -> Option<u32> { Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?)) };
    let counts = |at: usize| -> Option<[usize; 6]> {
        if data.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut c = [0usize; 6];
        for (i, v) in c.iter_mut().enumerate() {
            *v = be32(at + 20 + 4 * i)? as usize;
        }
        Some(c) // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    };
    let [isut, isstd, leap, timecnt, typecnt, chars] = counts(0)?;
    let v1_len = timecnt * 5 + typecnt * 6 + chars + leap * 8 + isstd + isut;
    let (base, tsize, timecnt, typecnt) = if data.get(4).is_some_and(|&v| v >= b'2') {
        let c = counts(44 + v1_len)?;
        (44 + v1_len + 44, 8, c[3], c[4])
    } else {
        (44, 4, timecnt, typecnt)
    };
    if typecnt == 0 {
        return None;
    }
    let time_at = |i: usize| -> Option<i64> {
        let at = base + i * tsize;
        Some(if tsize == 8 {
            i64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?)
        } else {
            i64::from(be32(at)? as i32)
        })
    };
    let idx_base = base + timecnt * tsize;
    let mut ty = 0usize;
    for i in 0..timecnt {
        if time_at(i)? > t {
            break;
        }
        ty = *data.get(idx_base + i)? as usize;
    }
    let tt = idx_base + timecnt + ty.min(typecnt - 1) * 6;
    Some(be32(tt)? as i32)
}

/// The host's UTC offset now, from /etc/localtime (0 when there is none: UTC).
pub fn local_utc_offset(now: i64) -> i32 {
    procscan::read_to_vec(c"/etc/localtime", 1 << 20).ok().and_then(|d| tzif_offset(&d, now)).unwrap_or(0)
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian.
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// ---------------------------------------------------------------------------------
// vps: the column model

/// A vps column. The header text is chosen by the format (`TTY` in `ax`, `TT` for
/// `-o tty`), so it lives in `Column`, not here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    Pid,
    Ppid,
    /// The context number.
    Ctx,
    /// The context name.
    Name,
    User,
    Uid,
    Pcpu,
    Pmem,
    Vsz,
    Rss,
    Tty,
    Stat,
    Start,
    /// CPU time as `[DD-]HH:MM:SS`.
    Time,
    /// CPU time as `M:SS` (BSD formats).
    BsdTime,
    Comm,
    Args,
    Nice,
    Etime,
    C,
    /// The pid inside the process's own pid namespace (its context's view).
    Vpid,
}

struct ColDef {
    col: Col,
    keys: &'static [&'static str],
    header: &'static str,
    width: usize,
    right: bool,
}

/// The `-o` keys (first = the canonical one, used in JSON), default header, width
/// and alignment, as procps prints them.
const COLS: &[ColDef] = &[
    ColDef { col: Col::Pid, keys: &["pid"], header: "PID", width: 5, right: true },
    ColDef { col: Col::Ppid, keys: &["ppid"], header: "PPID", width: 5, right: true },
    ColDef { col: Col::Ctx, keys: &["ctx", "context", "xid"], header: "CONTEXT", width: 7, right: true },
    ColDef { col: Col::Name, keys: &["name", "vname"], header: "NAME", width: 10, right: false },
    ColDef { col: Col::User, keys: &["user", "euser", "uname"], header: "USER", width: 8, right: false },
    ColDef { col: Col::Uid, keys: &["uid", "euid"], header: "UID", width: 5, right: true },
    ColDef { col: Col::Pcpu, keys: &["pcpu", "%cpu"], header: "%CPU", width: 4, right: true },
    ColDef { col: Col::Pmem, keys: &["pmem", "%mem"], header: "%MEM", width: 4, right: true },
    ColDef { col: Col::Vsz, keys: &["vsz", "vsize"], header: "VSZ", width: 6, right: true },
    ColDef { col: Col::Rss, keys: &["rss", "rssize"], header: "RSS", width: 5, right: true },
    ColDef { col: Col::Tty, keys: &["tty", "tt", "tname"], header: "TT", width: 8, right: false },
    ColDef { col: Col::Stat, keys: &["stat"], header: "STAT", width: 4, right: false },
    ColDef { col: Col::Start, keys: &["start", "stime", "start_time"], header: "START", width: 5, right: true },
    ColDef { col: Col::Time, keys: &["time", "cputime"], header: "TIME", width: 8, right: true },
    ColDef { col: Col::BsdTime, keys: &["bsdtime"], header: "TIME", width: 6, right: true },
    ColDef { col: Col::Comm, keys: &["comm", "ucomm", "ucmd"], header: "COMMAND", width: 15, right: false },
    ColDef { col: Col::Args, keys: &["args", "command", "cmd"], header: "COMMAND", width: 27, right: false },
    ColDef { col: Col::Nice, keys: &["nice", "ni"], header: "NI", width: 3, right: true },
    ColDef { col: Col::Etime, keys: &["etime"], header: "ELAPSED", width: 11, right: true },
    ColDef { col: Col::C, keys: &["c"], header: "C", width: 2, right: true },
    ColDef { col: Col::Vpid, keys: &["vpid"], header: "VPID", width: 5, right: true },
];

impl Col {
    fn def(self) -> &'static ColDef {
        COLS.iter().find(|d| d.col == self).unwrap_or(&COLS[0])
    }

    /// The canonical `-o` key, also the JSON field name.
    pub fn key(self) -> &'static str {
        self.def().keys[0]
    }

    pub fn from_key(key: &str) -> Option<Col> {
        COLS.iter().find(|d| d.keys.iter().any(|k| k.eq_ignore_ascii_case(key))).map(|d| d.col)
    }

    /// The /proc files this column needs beyond `stat`. (CONTEXT and NAME need
    /// none: the context comes from a `CtxMap`, or from `Want::CGROUP` and
    /// `ctx_of_cgroup` where no map can be had.)
    pub fn want(self) -> Want {
        match self {
            Col::User | Col::Uid => Want::OWNER,
            Col::Args => Want::CMDLINE,
            Col::Vpid => Want::STATUS,
            _ => Want::STAT,
        }
    }
}

/// A column as shown: what it is and the header it carries in this format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub col: Col,
    pub header: &'static str,
}

const fn c(col: Col, header: &'static str) -> Column {
    Column { col, header }
}

/// `vps`: PID CONTEXT NAME TTY TIME CMD.
pub const FORMAT_DEFAULT: &[Column] =
    &[c(Col::Pid, "PID"), c(Col::Ctx, "CONTEXT"), c(Col::Name, "NAME"), c(Col::Tty, "TTY"), c(Col::Time, "TIME"), c(Col::Comm, "CMD")];
/// `vps ax`: PID CONTEXT NAME TTY STAT TIME COMMAND.
pub const FORMAT_BSD: &[Column] = &[
    c(Col::Pid, "PID"), c(Col::Ctx, "CONTEXT"), c(Col::Name, "NAME"), c(Col::Tty, "TTY"), c(Col::Stat, "STAT"),
    c(Col::BsdTime, "TIME"), c(Col::Args, "COMMAND"),
];
/// `vps aux`: USER PID CONTEXT NAME %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND.
pub const FORMAT_USER: &[Column] = &[
    c(Col::User, "USER"), c(Col::Pid, "PID"), c(Col::Ctx, "CONTEXT"), c(Col::Name, "NAME"), c(Col::Pcpu, "%CPU"),
    c(Col::Pmem, "%MEM"), c(Col::Vsz, "VSZ"), c(Col::Rss, "RSS"), c(Col::Tty, "TTY"), c(Col::Stat, "STAT"),
    c(Col::Start, "START"), c(Col::BsdTime, "TIME"), c(Col::Args, "COMMAND"),
];
/// `vps -ef`: UID PID PPID CONTEXT NAME C STIME TTY TIME CMD (UID shows the name).
pub const FORMAT_FULL: &[Column] = &[
    c(Col::User, "UID"), c(Col::Pid, "PID"), c(Col::Ppid, "PPID"), c(Col::Ctx, "CONTEXT"), c(Col::Name, "NAME"),
    c(Col::C, "C"), c(Col::Start, "STIME"), c(Col::Tty, "TTY"), c(Col::Time, "TIME"), c(Col::Args, "CMD"),
];

/// The most columns a spec may hold.
pub const MAX_COLUMNS: usize = 32;

// ---------------------------------------------------------------------------------
// vps: arguments

/// Which processes a ps-style command line selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Select {
    /// BSD `a`: every user's processes (that have a terminal, unless `x` too).
    pub all_users: bool,
    /// BSD `x`: processes without a terminal too.
    pub no_tty_too: bool,
    /// `-e` / `-A`: everything.
    pub every: bool,
}

/// Who runs vps: the default selection is "my processes on my terminal".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Me {
    pub euid: u32,
    pub tty_nr: u32,
}

/// A parsed vps command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PsSpec {
    pub cols: heapless::Vec<Column, MAX_COLUMNS>,
    pub select: Select,
    /// `--ctx N`: only that context.
    pub ctx: Option<u32>,
    pub json: bool,
}

/// What was wrong with a vps command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PsArgError {
    /// An option letter vps does not know, and the word it was in.
    BadLetter(char, String),
    /// An `-o` key vps does not know.
    BadKey(String),
    /// A `--long` option vps does not know.
    BadOption(String),
    /// An option that needs a value came last.
    MissingValue(&'static str),
    /// `--ctx` with something that is not a context number.
    BadCtx(String),
    TooManyColumns,
}

impl fmt::Display for PsArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PsArgError::BadLetter(l, word) => write!(f, "unknown option letter '{l}' in '{word}'"),
            PsArgError::BadKey(k) => {
                write!(f, "unknown column '{k}' (known:")?;
                for d in COLS {
                    write!(f, " {}", d.keys[0])?;
                }
                f.write_str(")")
            }
            PsArgError::BadOption(o) => write!(f, "unknown option '{o}'"),
            PsArgError::MissingValue(o) => write!(f, "{o} needs a value"),
            PsArgError::BadCtx(v) => write!(f, "--ctx takes a context number, not '{v}'"),
            PsArgError::TooManyColumns => write!(f, "more than {MAX_COLUMNS} columns"),
        }
    }
}

/// Parse a ps-style command line (without the program name): BSD letters
/// (`ax`, `aux`, `x`, `o LIST`, `w` ignored), UNIX options (`-e`, `-A`, `-f`,
/// `-o LIST` or `-oLIST`, `--format LIST`), plus `--ctx N` and `--json`. Several
/// `-o` append; `-o` replaces the format's columns.
pub fn parse_ps_args(args: &[&str]) -> Result<PsSpec, PsArgError> {
    let mut spec = PsSpec { cols: heapless::Vec::new(), select: Select::default(), ctx: None, json: false };
    let (mut full, mut user, mut bsd, mut custom) = (false, false, false, false);
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        let mut value = |name: &'static str, inline: &str| -> Result<String, PsArgError> {
            if !inline.is_empty() {
                return Ok(String::from(inline));
            }
            let v = args.get(i).ok_or(PsArgError::MissingValue(name))?;
            i += 1;
            Ok(String::from(*v))
        };
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = long.split_once('=').map_or((long, ""), |(n, v)| (n, v));
            match name {
                "json" if inline.is_empty() => spec.json = true,
                "ctx" | "context" => {
                    let v = value("--ctx", inline)?;
                    spec.ctx = Some(v.parse().map_err(|_| PsArgError::BadCtx(v.clone()))?);
                }
                "format" => {
                    add_keys(&mut spec.cols, &value("--format", inline)?)?;
                    custom = true;
                }
                _ => return Err(PsArgError::BadOption(String::from(arg))),
            }
            continue;
        }
        let (letters, dashed) = match arg.strip_prefix('-') {
            Some(l) => (l, true),
            None => (arg, false),
        };
        if letters.is_empty() {
            return Err(PsArgError::BadOption(String::from(arg)));
        }
        for (at, l) in letters.char_indices() {
            match (l, dashed) {
                ('o', _) => {
                    add_keys(&mut spec.cols, &value(if dashed { "-o" } else { "o" }, &letters[at + 1..])?)?;
                    custom = true;
                    break;
                }
                ('e' | 'A', true) => spec.select.every = true,
                ('f', true) => full = true,
                ('a', false) => (spec.select.all_users, bsd) = (true, true),
                ('x', false) => (spec.select.no_tty_too, bsd) = (true, true),
                ('u', false) => (user, bsd) = (true, true),
                ('w', false) => {}
                _ => return Err(PsArgError::BadLetter(l, String::from(arg))),
            }
        }
    }
    if !custom {
        let format = match () {
            _ if user => FORMAT_USER,
            _ if full => FORMAT_FULL,
            _ if bsd => FORMAT_BSD,
            _ => FORMAT_DEFAULT,
        };
        spec.cols.extend_from_slice(format).map_err(|_| PsArgError::TooManyColumns)?;
    }
    Ok(spec)
}

fn add_keys(cols: &mut heapless::Vec<Column, MAX_COLUMNS>, list: &str) -> Result<(), PsArgError> {
    for key in list.split([',', ' ']).filter(|k| !k.is_empty()) {
        let col = Col::from_key(key).ok_or_else(|| PsArgError::BadKey(String::from(key)))?;
        cols.push(Column { col, header: col.def().header }).map_err(|_| PsArgError::TooManyColumns)?;
    }
    Ok(())
}

impl PsSpec {
    /// The /proc files the scan must read for these columns and this selection.
    pub fn want(&self) -> Want {
        let mut w = self.cols.iter().fold(Want::STAT, |w, c| w | c.col.want());
        let s = self.select;
        if !s.every && !s.all_users {
            w = w | Want::OWNER;
        }
        w
    }

    /// Whether the process belongs in the listing. `ctx` is its context number.
    pub fn selects(&self, p: &ProcInfo<'_>, ctx: u32, me: &Me) -> bool {
        if self.ctx.is_some_and(|c| c != ctx) {
            return false;
        }
        let s = self.select;
        let mine = || p.status.euid == me.euid;
        match (s.every || (s.all_users && s.no_tty_too), s.all_users, s.no_tty_too) {
            (true, _, _) => true,
            (false, true, _) => p.stat.tty_nr != 0,
            (false, false, true) => mine(),
            (false, false, false) => mine() && p.stat.tty_nr == me.tty_nr,
        }
    }
}

// ---------------------------------------------------------------------------------
// vps: rows

/// What every row's formatting needs besides the process: clocks, units, names.
#[derive(Clone, Copy, Debug)]
pub struct PsEnv<'a> {
    pub units: Units,
    /// Centiseconds since boot, taken once per listing.
    pub uptime_cs: u64,
    /// Boot time and now, seconds since the epoch.
    pub boot_time: i64,
    pub now: i64,
    /// Local time = UTC + this many seconds.
    pub utc_offset: i32,
    pub mem_total_kb: u64,
    pub users: &'a Users,
}

/// One process to print, with its context.
#[derive(Clone, Copy, Debug)]
pub struct PsRow<'a, 'p> {
    pub proc: &'a ProcInfo<'p>,
    pub ctx: u32,
    /// The context's name (vps prints `MAIN` for 0, `ALL_PROCS` for 1; see
    /// `vps_name`).
    pub name: &'a str,
}

/// The name vps shows for a context: the registry's name if any, else the
/// original vps's words, so the NAME field is never empty.
pub fn vps_name(ctx: u32, registered: Option<&str>) -> &str {
    match (ctx, registered) {
        (_, Some(n)) if !n.is_empty() => n,
        (0, _) => "MAIN",
        (1, _) => "ALL_PROCS",
        _ => "UNKNOWN",
    }
}

/// The header line. The last column is never padded (no trailing blanks).
pub fn write_ps_header(w: &mut impl Write, cols: &[Column]) -> fmt::Result {
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            w.write_char(' ')?;
        }
        let d = c.col.def();
        put(w, c.header, d.width.max(c.header.len()), d.right, i + 1 == cols.len())?;
    }
    w.write_char('\n')
}

/// One process as a text line, columns as procps lays them out: fixed widths, a
/// value that does not fit pushes the rest right; COMMAND/CMD is cut only when it
/// is not the last column.
pub fn write_ps_row(w: &mut impl Write, cols: &[Column], env: &PsEnv<'_>, row: &PsRow<'_, '_>) -> fmt::Result {
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            w.write_char(' ')?;
        }
        let last = i + 1 == cols.len();
        let d = c.col.def();
        let width = d.width.max(c.header.len());
        let p = row.proc;
        match c.col {
            Col::Comm => {
                let n = write_text(&mut Counter(0), p.comm, false, usize::MAX)?;
                write_text(w, p.comm, false, usize::MAX)?;
                if !last && n < width {
                    spaces(w, width - n)?;
                }
            }
            Col::Args => {
                let max = if last { usize::MAX } else { width };
                let n = write_args(w, p, max)?;
                if !last && n < width {
                    spaces(w, width - n)?;
                }
            }
            Col::Name => {
                let mut s: HString<64> = HString::new();
                let _ = write_text(&mut s, row.name.as_bytes(), false, 64);
                put(w, &s, width, false, last)?;
            }
            col => put(w, &cell(col, env, row), width, d.right, last)?,
        }
    }
    w.write_char('\n')
}

/// One process as a JSON object, keyed by the columns' canonical keys. Numbers stay
/// numbers: sizes in KiB, `time`/`bsdtime` in CPU seconds, `etime` in seconds,
/// `start` in seconds since the epoch, `pcpu`/`pmem` in percent.
pub fn write_ps_json(w: &mut impl Write, cols: &[Column], env: &PsEnv<'_>, row: &PsRow<'_, '_>) -> fmt::Result {
    let p = row.proc;
    let s = &p.stat;
    let t = Times::of(env, p);
    let mut o = JsonObject::begin(w)?;
    for c in cols {
        let key = c.col.key();
        match c.col {
            Col::Pid => o.uint(key, p.pid.into())?,
            Col::Ppid => o.int(key, s.ppid.into())?,
            Col::Ctx => o.uint(key, row.ctx.into())?,
            Col::Name => o.str(key, row.name)?,
            Col::User => match env.users.name(p.status.euid) {
                Some(n) => o.str(key, n)?,
                None => o.str(key, &cell(Col::Uid, env, row))?,
            },
            Col::Uid if p.status.euid == NO_UID => o.str(key, "?")?,
            Col::Uid => o.uint(key, p.status.euid.into())?,
            Col::Pcpu => o.tenths(key, t.pcpu_tenths())?,
            Col::Pmem => o.tenths(key, pmem_tenths(env, p))?,
            Col::Vsz => o.uint(key, s.vsize / 1024)?,
            Col::Rss => o.uint(key, rss_kb(env, p))?,
            Col::Time | Col::BsdTime => o.cents(key, t.cpu_cs)?,
            Col::Etime => o.uint(key, t.elapsed_cs / 100)?,
            Col::Start => o.int(key, env.boot_time + (t.start_cs / 100) as i64)?,
            Col::Nice => o.int(key, s.nice.into())?,
            Col::C => o.uint(key, t.c())?,
            Col::Vpid => o.uint(key, p.status.nspid.into())?,
            Col::Comm => o.bytes(key, p.comm)?,
            Col::Args if trim_nuls(p.cmdline).is_empty() => {
                let k = o.key(key)?;
                k.write_str("\"[")?;
                json_escape_bytes(k, p.comm)?;
                k.write_str("]\"")?;
            }
            Col::Args => o.bytes(key, p.cmdline)?,
            Col::Tty | Col::Stat => o.str(key, &cell(c.col, env, row))?,
        }
    }
    o.end()
}

/// `s` padded to `width` (right- or left-aligned); a left-aligned last column is
/// not padded.
fn put(w: &mut impl Write, s: &str, width: usize, right: bool, last: bool) -> fmt::Result {
    let n = s.chars().count();
    let pad = width.saturating_sub(n);
    if right {
        spaces(w, pad)?;
        w.write_str(s)
    } else {
        w.write_str(s)?;
        if last { Ok(()) } else { spaces(w, pad) }
    }
}

/// Counts what would be written: the display width of a text cell.
struct Counter(usize);

impl Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

/// Text from /proc made printable, at most `max` characters; returns how many were
/// written. Control characters and invalid UTF-8 show as `?` (as ps does); with
/// `nul_is_space` the NULs between arguments show as spaces.
fn write_text(w: &mut impl Write, b: &[u8], nul_is_space: bool, max: usize) -> Result<usize, fmt::Error> {
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

fn trim_nuls(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    &b[..end]
}

/// The command line, or `[comm]` for a process without one (kernel threads,
/// zombies).
fn write_args(w: &mut impl Write, p: &ProcInfo<'_>, max: usize) -> Result<usize, fmt::Error> {
    let args = trim_nuls(p.cmdline);
    if !args.is_empty() {
        return write_text(w, args, true, max);
    }
    let mut n = 0;
    if max > 0 {
        w.write_char('[')?;
        n = 1 + write_text(w, p.comm, false, max.saturating_sub(2))?;
        if n < max {
            w.write_char(']')?;
            n += 1;
        }
    }
    Ok(n)
}

/// A process's times in centiseconds.
struct Times {
    cpu_cs: u64,
    start_cs: u64,
    elapsed_cs: u64,
}

impl Times {
    fn of(env: &PsEnv<'_>, p: &ProcInfo<'_>) -> Times {
        let start_cs = env.units.cs(p.stat.starttime);
        Times { cpu_cs: env.units.cs(p.stat.utime + p.stat.stime), start_cs, elapsed_cs: env.uptime_cs.saturating_sub(start_cs) }
    }

    /// CPU used over the process's lifetime, in tenths of a percent (procps' %CPU).
    fn pcpu_tenths(&self) -> u64 {
        (self.cpu_cs * 1000).checked_div(self.elapsed_cs).unwrap_or(0)
    }

    /// `-f`'s C: the same as a whole percentage, at most 99.
    fn c(&self) -> u64 {
        (self.pcpu_tenths() / 10).min(99)
    }
}

fn rss_kb(env: &PsEnv<'_>, p: &ProcInfo<'_>) -> u64 {
    p.stat.rss_pages.saturating_mul(env.units.page_size) / 1024
}

fn pmem_tenths(env: &PsEnv<'_>, p: &ProcInfo<'_>) -> u64 {
    (rss_kb(env, p) * 1000).checked_div(env.mem_total_kb).unwrap_or(0)
}

fn write_tenths(s: &mut impl Write, t: u64) -> fmt::Result {
    if t > 999 { write!(s, "{}", t / 10) } else { write!(s, "{}.{}", t / 10, t % 10) }
}

/// A short cell's text (everything but COMMAND, CMD and NAME).
fn cell(col: Col, env: &PsEnv<'_>, row: &PsRow<'_, '_>) -> HString<64> {
    let p = row.proc;
    let s = &p.stat;
    let t = Times::of(env, p);
    let mut out: HString<64> = HString::new();
    let o = &mut out;
    let _ = match col {
        Col::Pid => write!(o, "{}", p.pid),
        Col::Ppid => write!(o, "{}", s.ppid),
        Col::Ctx => write!(o, "{}", row.ctx),
        Col::User => match env.users.name(p.status.euid) {
            // procps marks a name cut to the column width with '+'.
            Some(n) if n.chars().count() > 8 => {
                let cut = n.char_indices().nth(7).map_or(n.len(), |(i, _)| i);
                write!(o, "{}+", &n[..cut])
            }
            Some(n) => o.write_str(n),
            None => return cell(Col::Uid, env, row),
        },
        Col::Uid if p.status.euid == NO_UID => o.write_str("?"),
        Col::Uid => write!(o, "{}", p.status.euid),
        Col::Pcpu => write_tenths(o, t.pcpu_tenths()),
        Col::Pmem => write_tenths(o, pmem_tenths(env, p)),
        Col::Vsz => write!(o, "{}", s.vsize / 1024),
        Col::Rss => write!(o, "{}", rss_kb(env, p)),
        Col::Tty => o.write_str(&tty_name(s.tty_nr)),
        Col::Stat => o.write_str(&stat_flags(p)),
        Col::Start => write_start(o, env, env.boot_time + (t.start_cs / 100) as i64),
        Col::Time => write_clock(o, t.cpu_cs / 100, true),
        Col::BsdTime => {
            let secs = t.cpu_cs / 100;
            write!(o, "{}:{:02}", secs / 60, secs % 60)
        }
        Col::Etime => write_clock(o, t.elapsed_cs / 100, false),
        Col::Nice => write!(o, "{}", s.nice),
        Col::C => write!(o, "{}", t.c()),
        Col::Vpid if p.status.nspid == 0 => o.write_str("?"),
        Col::Vpid => write!(o, "{}", p.status.nspid),
        Col::Comm | Col::Args | Col::Name => Ok(()),
    };
    out
}

/// `[DD-]HH:MM:SS` (TIME: hours always shown) or `[[DD-]HH:]MM:SS` (ELAPSED).
fn write_clock(o: &mut impl Write, secs: u64, hours_always: bool) -> fmt::Result {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        write!(o, "{d}-{h:02}:{m:02}:{s:02}")
    } else if h > 0 || hours_always {
        write!(o, "{h:02}:{m:02}:{s:02}")
    } else {
        write!(o, "{m:02}:{s:02}")
    }
}

/// START/STIME: `HH:MM` within the last day, `MonDD` within the year, else `YYYY`,
/// in local time.
fn write_start(o: &mut impl Write, env: &PsEnv<'_>, t: i64) -> fmt::Result {
    let local = t + i64::from(env.utc_offset);
    let ago = env.now - t;
    let (y, m, d) = civil_date(local.div_euclid(86400));
    if ago < 86400 {
        let sod = local.rem_euclid(86400);
        write!(o, "{:02}:{:02}", sod / 3600, sod / 60 % 60)
    } else if ago < 365 * 86400 {
        write!(o, "{}{:02}", MONTHS[(m - 1) as usize], d)
    } else {
        write!(o, "{y}")
    }
}

/// The terminal's name from `stat`'s tty_nr: `pts/N`, `ttyN`, `ttySN`, …; `?` for
/// none; `MAJOR,MINOR` for a device vsbox has no name for.
pub fn tty_name(tty_nr: u32) -> HString<16> {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    let mut s = HString::new();
    let _ = match (major, minor) {
        (0, 0) => s.write_str("?"),
        (4, 0..=63) => write!(s, "tty{minor}"),
        (4, _) => write!(s, "ttyS{}", minor - 64),
        (136..=143, _) => write!(s, "pts/{}", (major - 136) * 256 + minor),
        (5, 0) => s.write_str("tty"),
        (5, 1) => s.write_str("console"),
        (5, 2) => s.write_str("ptmx"),
        (166, _) => write!(s, "ttyACM{minor}"),
        (188, _) => write!(s, "ttyUSB{minor}"),
        (204, 64..) => write!(s, "ttyAMA{}", minor - 64),
        _ => write!(s, "{major},{minor}"),
    };
    s
}

/// BSD STAT: the state letter, then `<` (high priority) or `N` (low), `L` (pages
/// locked; known only when `status` was read), `s` (session leader), `l`
/// (multi-threaded), `+` (in the foreground process group of its terminal).
pub fn stat_flags(p: &ProcInfo<'_>) -> HString<8> {
    let s = &p.stat;
    let mut out = HString::new();
    let flags = [
        (true, s.state as char),
        (s.nice < 0, '<'),
        (s.nice > 0, 'N'),
        (p.status.vmlck_kb > 0, 'L'),
        (s.session == p.pid as i32, 's'),
        (s.num_threads > 1, 'l'),
        (s.tpgid > 0 && s.tpgid == s.pgrp, '+'),
    ];
    for (on, ch) in flags {
        if on {
            let _ = out.push(ch);
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// vpstree

/// A process as the tree needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeProc {
    pub pid: u32,
    pub ppid: u32,
    pub ctx: u32,
    pub comm: HString<64>,
}

impl TreeProc {
    pub fn from_proc(p: &ProcInfo<'_>, ctx: u32) -> TreeProc {
        let mut comm = HString::new();
        let _ = write_text(&mut comm, p.comm, false, 64);
        TreeProc { pid: p.pid, ppid: p.stat.ppid.max(0) as u32, ctx, comm }
    }
}

/// Every context's process tree. Within a context, the roots are the processes whose
/// parent is not in that context (a context's init, whose parent is the host's
/// vsbox, is a root of its context).
#[derive(Clone, Debug)]
pub struct Forest {
    /// Sorted by (ctx, ppid, pid): a node's children are one contiguous run.
    by_parent: Vec<TreeProc>,
    /// (ctx, pid) of every process, sorted, to tell roots from children.
    pids: Vec<(u32, u32)>,
}

impl Forest {
    pub fn new(mut procs: Vec<TreeProc>) -> Forest {
        procs.sort_by_key(|p| (p.ctx, p.ppid, p.pid));
        let mut pids: Vec<(u32, u32)> = procs.iter().map(|p| (p.ctx, p.pid)).collect();
        pids.sort_unstable();
        Forest { by_parent: procs, pids }
    }

    /// The contexts present, ascending.
    pub fn contexts(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.pids.iter().map(|e| e.0).collect();
        v.dedup();
        v
    }

    fn children(&self, ctx: u32, pid: u32) -> &[TreeProc] {
        let lo = self.by_parent.partition_point(|p| (p.ctx, p.ppid) < (ctx, pid));
        let hi = self.by_parent.partition_point(|p| (p.ctx, p.ppid) <= (ctx, pid));
        &self.by_parent[lo..hi]
    }

    /// Draw one context's trees like `pstree -p`, in ASCII:
    /// ```text
    /// init(1)-+-cron(20)
    ///         |-sshd(30)---sshd(31)---bash(32)
    ///         `-syslogd(25)
    /// ```
    /// Siblings are in pid order; several roots print one after another.
    pub fn write_context(&self, w: &mut impl Write, ctx: u32) -> fmt::Result {
        let mut roots: Vec<&TreeProc> = self
            .by_parent
            .iter()
            .filter(|p| p.ctx == ctx && (p.ppid == p.pid || self.pids.binary_search(&(ctx, p.ppid)).is_err()))
            .collect();
        roots.sort_by_key(|p| p.pid);
        for root in roots {
            self.write_tree(w, root)?;
        }
        Ok(())
    }

    /// Depth-first without recursion: a long parent chain cannot overflow the stack.
    fn write_tree(&self, w: &mut impl Write, root: &TreeProc) -> fmt::Result {
        struct Frame<'f> {
            kids: &'f [TreeProc],
            next: usize,
            /// Length of `prefix` when this node's label began.
            prefix_len: usize,
            label_len: usize,
        }
        let mut prefix = String::new();
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut cur = Some(root);
        loop {
            if let Some(node) = cur.take() {
                let mut label: HString<96> = HString::new();
                let _ = write!(label, "{}({})", node.comm, node.pid);
                w.write_str(&label)?;
                let label_len = label.chars().count();
                // A process listed as its own parent would loop: no children.
                let kids = if node.ppid == node.pid { &[][..] } else { self.children(node.ctx, node.pid) };
                let kids = if kids.first().is_some_and(|k| k.pid == node.pid) { &kids[1..] } else { kids };
                match kids.len() {
                    0 => w.write_char('\n')?,
                    n => {
                        let start = prefix.len();
                        w.write_str(if n == 1 { "---" } else { "-+-" })?;
                        push_spaces(&mut prefix, label_len);
                        prefix.push_str(if n == 1 { "   " } else { " | " });
                        stack.push(Frame { kids, next: 1, prefix_len: start, label_len });
                        cur = Some(&kids[0]);
                    }
                }
                continue;
            }
            let Some(f) = stack.last_mut() else { break };
            prefix.truncate(f.prefix_len);
            if f.next == f.kids.len() {
                stack.pop();
                continue;
            }
            let last = f.next + 1 == f.kids.len();
            w.write_str(&prefix)?;
            spaces(w, f.label_len)?;
            w.write_str(if last { " `-" } else { " |-" })?;
            push_spaces(&mut prefix, f.label_len);
            prefix.push_str(if last { "   " } else { " | " });
            cur = Some(&f.kids[f.next]);
            f.next += 1;
        }
        Ok(())
    }
}

fn push_spaces(s: &mut String, n: usize) {
    s.extend(core::iter::repeat_n(' ', n));
}

/// The line above each context's tree: `context 5: web`.
pub fn write_tree_header(w: &mut impl Write, ctx: u32, name: &str) -> fmt::Result {
    writeln!(w, "context {ctx}: {name}")
}

// ---------------------------------------------------------------------------------
// vkill: signals

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
    use crate::sys::procscan::{Stat, Status};

    fn s<F: FnOnce(&mut String) -> fmt::Result>(f: F) -> String {
        let mut out = String::new();
        f(&mut out).unwrap();
        out
    }

    #[test]
    fn ctx_map() {
        let m = CtxMap::from_pairs(vec![(300, 5), (12, 2), (40, 5)]);
        assert_eq!((m.ctx_of(12), m.ctx_of(40), m.ctx_of(300), m.ctx_of(1), m.len()), (2, 5, 5, 0, 3));
        let base = std::env::temp_dir().join(format!("vsbox-ctxmap-{}", std::process::id()));
        for (dir, procs) in [("5", "12\n"), ("5/x", "13\n"), ("web", "14\n"), ("07", "15\n")] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
            std::fs::write(base.join(dir).join("cgroup.procs"), procs).unwrap();
        }
        let path = std::ffi::CString::new(base.to_str().unwrap()).unwrap();
        let m = CtxMap::load(&path).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!([12, 13, 14, 15].map(|p| m.ctx_of(p)), [5, 5, 0, 0]);
        assert!(CtxMap::load(&path).unwrap().is_empty());
    }

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

    fn proc_info<'a>(pid: u32, comm: &'a [u8], cmdline: &'a [u8]) -> ProcInfo<'a> {
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

    #[test]
    fn json_escaping() {
        assert_eq!(s(|w| json_str(w, "a\"b\\c\nd\te\r\u{1}\u{7f}é€")), "\"a\\\"b\\\\c\\nd\\te\\r\\u0001\\u007fé€\"");
        assert_eq!(s(|w| json_str(w, "")), "\"\"");
        assert_eq!(s(|w| json_bytes(w, b"sleep\x0030\x00\x00")), "\"sleep 30\"");
        assert_eq!(s(|w| json_bytes(w, b"a\xffb\"")), "\"a\u{fffd}b\\\"\"");
        let mut out = String::new();
        let mut arr = JsonArray::open(&mut out).unwrap();
        for i in 0..2 {
            arr.item(&mut out).unwrap();
            let mut o = JsonObject::begin(&mut out).unwrap();
            o.uint("n", i).unwrap();
            o.int("neg", -1).unwrap();
            o.tenths("t", 7).unwrap();
            o.end().unwrap();
        }
        arr.close(&mut out).unwrap();
        assert_eq!(out, "[\n{\"n\":0,\"neg\":-1,\"t\":0.7},\n{\"n\":1,\"neg\":-1,\"t\":0.7}\n]\n");
        let mut empty = String::new();
        JsonArray::open(&mut empty).unwrap().close(&mut empty).unwrap();
        assert_eq!(empty, "[]\n");
    }

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

    fn env(users: &Users) -> PsEnv<'_> {
        PsEnv {
            units: Units { ticks_per_sec: 100, page_size: 4096 },
            uptime_cs: 200_000,
            boot_time: 1_700_000_000,
            now: 1_700_002_000,
            utc_offset: 0,
            mem_total_kb: 2_000_000,
            users,
        }
    }

    fn lines(cols: &[Column], rows: &[PsRow<'_, '_>], users: &Users) -> String {
        let e = env(users);
        let mut out = String::new();
        write_ps_header(&mut out, cols).unwrap();
        for r in rows {
            write_ps_row(&mut out, cols, &e, r).unwrap();
        }
        out
    }

    #[test]
    fn vps_formats() {
        let users = Users::parse(b"root:x:0:0::/:/bin/sh\n");
        let p = proc_info(1234, b"sleep", b"sleep\x0030\x00");
        let mut k = proc_info(2, b"kthreadd", b"");
        k.stat.ppid = 0;
        k.stat.session = 0;
        k.stat.starttime = 1;
        let rows = [PsRow { proc: &p, ctx: 5, name: "web" }, PsRow { proc: &k, ctx: 0, name: vps_name(0, None) }];
        let spec = |a: &[&str]| parse_ps_args(a).unwrap().cols;
        assert_eq!(
            lines(&spec(&[]), &rows, &users),
            "  PID CONTEXT NAME       TTY          TIME CMD\n\
             \x201234       5 web        ?        00:00:02 sleep\n\
             \x20   2       0 MAIN       ?        00:00:02 kthreadd\n"
        );
        assert_eq!(
            lines(&spec(&["ax"]), &rows, &users),
            "  PID CONTEXT NAME       TTY      STAT   TIME COMMAND\n\
             \x201234       5 web        ?        Ss     0:02 sleep 30\n\
             \x20   2       0 MAIN       ?        S      0:02 [kthreadd]\n"
        );
        assert_eq!(
            lines(&spec(&["aux"]), &rows, &users),
            "USER       PID CONTEXT NAME       %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n\
             root      1234       5 web         0.2  0.6  42612 12360 ?        Ss   22:30   0:02 sleep 30\n\
             root         2       0 MAIN        0.1  0.6  42612 12360 ?        S    22:13   0:02 [kthreadd]\n"
        );
        assert_eq!(
            lines(&spec(&["-ef"]), &rows, &users),
            "UID        PID  PPID CONTEXT NAME        C STIME TTY          TIME CMD\n\
             root      1234     1       5 web         0 22:30 ?        00:00:02 sleep 30\n\
             root         2     0       0 MAIN        0 22:13 ?        00:00:02 [kthreadd]\n"
        );
        let o = spec(&["-o", "pid,ppid,ctx,name,user,uid,stat,time,comm,args,tty,vsz,rss,nice,etime"]);
        assert_eq!(
            lines(&o, &rows[..1], &users),
            "  PID  PPID CONTEXT NAME       USER       UID STAT     TIME COMMAND         COMMAND                     TT          VSZ   RSS  NI     ELAPSED\n\
             \x201234     1       5 web        root         0 Ss   00:00:02 sleep           sleep 30                    ?         42612 12360   0       16:40\n"
        );
        // A long command is cut when it is not the last column, whole when it is.
        let long = proc_info(7, b"x", b"/usr/bin/a-rather-long-program --with --many --arguments\0");
        let row = [PsRow { proc: &long, ctx: 0, name: "MAIN" }];
        let out = lines(&spec(&["o", "args,pid"]), &row, &users);
        assert_eq!(out.lines().nth(1).unwrap(), "/usr/bin/a-rather-long-prog     7");
        let out = lines(&spec(&["-opid", "-o", "args"]), &row, &users);
        assert_eq!(out.lines().nth(1).unwrap(), "    7 /usr/bin/a-rather-long-program --with --many --arguments");
    }

    #[test]
    fn vps_cells() {
        let users = Users::parse(b"verylongname:x:1000:1000::/:/bin/sh\n");
        let e = env(&users);
        let mut p = proc_info(300, b"we\x01ird\xff", b"a\x1bb\0c\0");
        p.stat.tty_nr = (136 << 8) | 3;
        p.stat.tpgid = 300;
        p.stat.pgrp = 300;
        p.stat.nice = -5;
        p.stat.num_threads = 4;
        p.stat.utime = 90_061 * 100; // 1 day, 1 h, 1 min, 1 s
        p.stat.stime = 0;
        p.stat.starttime = 0;
        p.status.euid = 1000;
        p.status.vmlck_kb = 4;
        let row = PsRow { proc: &p, ctx: 3, name: "a name\n" };
        let cols = parse_ps_args(&["-o", "user,tty,stat,time,etime,bsdtime,comm,args,name,pcpu,c,start"]).unwrap().cols;
        let mut out = String::new();
        write_ps_row(&mut out, &cols, &e, &row).unwrap();
        assert_eq!(
            out,
            "verylon+ pts/3    S<Lsl+ 1-01:01:01       33:20 1501:01 we?ird?         a?b c                       a name?    4503 99 22:13\n"
        );
        let mut u = p;
        u.status.euid = 4242;
        let mut out = String::new();
        write_ps_row(&mut out, &parse_ps_args(&["-o", "user,uid"]).unwrap().cols, &e, &PsRow { proc: &u, ctx: 0, name: "" }).unwrap();
        assert_eq!(out, "4242      4242\n");
        let mut json = String::new();
        write_ps_json(&mut json, &cols, &e, &row).unwrap();
        assert_eq!(
            json,
            "{\"user\":\"verylongname\",\"tty\":\"pts/3\",\"stat\":\"S<Lsl+\",\"time\":90061.00,\"etime\":2000,\
             \"bsdtime\":90061.00,\"comm\":\"we\\u0001ird\u{fffd}\",\"args\":\"a\\u001bb c\",\"name\":\"a name\\n\",\
             \"pcpu\":4503.0,\"c\":99,\"start\":1700000000}"
        );
        let k = proc_info(2, b"kworker/0:1-events", b"");
        let mut json = String::new();
        let cols = parse_ps_args(&["-o", "pid,ppid,ctx,uid,vsz,rss,nice,vpid,args"]).unwrap().cols;
        write_ps_json(&mut json, &cols, &e, &PsRow { proc: &k, ctx: 0, name: "" }).unwrap();
        assert_eq!(
            json,
            "{\"pid\":2,\"ppid\":1,\"ctx\":0,\"uid\":0,\"vsz\":42612,\"rss\":12360,\"nice\":0,\"vpid\":1,\"args\":\"[kworker/0:1-events]\"}"
        );
    }

    #[test]
    fn tty_names() {
        let cases: [(u32, &str); 9] = [
            (0, "?"), ((4 << 8) | 1, "tty1"), ((4 << 8) | 64, "ttyS0"), (136 << 8, "pts/0"),
            ((137 << 8) | 2, "pts/258"), ((136 << 8) | (1 << 20) | 5, "pts/261"), ((5 << 8) | 1, "console"),
            (188 << 8, "ttyUSB0"), ((250 << 8) | 7, "250,7"),
        ];
        for (nr, want) in cases {
            assert_eq!(tty_name(nr).as_str(), want, "{nr:#x}");
        }
    }

    #[test]
    fn ps_args() {
        let p = |a: &[&str]| parse_ps_args(a);
        let ax = p(&["ax"]).unwrap();
        assert_eq!(ax.cols.as_slice(), FORMAT_BSD);
        assert_eq!(ax.select, Select { all_users: true, no_tty_too: true, every: false });
        assert_eq!(p(&["aux"]).unwrap().cols.as_slice(), FORMAT_USER);
        assert_eq!(p(&["-ef"]).unwrap().cols.as_slice(), FORMAT_FULL);
        assert_eq!(p(&["-e", "-f"]).unwrap().cols.as_slice(), FORMAT_FULL);
        assert_eq!(p(&["-A"]).unwrap().cols.as_slice(), FORMAT_DEFAULT);
        assert!(p(&["-A"]).unwrap().select.every);
        assert_eq!(p(&[]).unwrap().cols.as_slice(), FORMAT_DEFAULT);
        let o = p(&["axo", "pid,ctx", "--ctx", "5", "--json"]).unwrap();
        assert_eq!(o.cols.iter().map(|c| c.col).collect::<Vec<_>>(), [Col::Pid, Col::Ctx]);
        assert_eq!((o.ctx, o.json), (Some(5), true));
        assert_eq!(p(&["-eo", "pid", "--ctx=7"]).unwrap().ctx, Some(7));
        assert_eq!(p(&["--format", "CMD,%cpu"]).unwrap().cols.iter().map(|c| c.col).collect::<Vec<_>>(), [Col::Args, Col::Pcpu]);
        assert_eq!(p(&["-q"]), Err(PsArgError::BadLetter('q', "-q".into())));
        assert_eq!(p(&["axz"]), Err(PsArgError::BadLetter('z', "axz".into())));
        assert_eq!(p(&["-o"]), Err(PsArgError::MissingValue("-o")));
        assert_eq!(p(&["--ctx"]), Err(PsArgError::MissingValue("--ctx")));
        assert_eq!(p(&["--ctx", "web"]), Err(PsArgError::BadCtx("web".into())));
        assert_eq!(p(&["--frob"]), Err(PsArgError::BadOption("--frob".into())));
        assert_eq!(p(&["-o", "pid,bogus"]), Err(PsArgError::BadKey("bogus".into())));
        assert_eq!(p(&["-o", "pid=ID"]), Err(PsArgError::BadKey("pid=ID".into())));
        let many: String = core::iter::repeat_n("pid", 33).collect::<Vec<_>>().join(",");
        assert_eq!(p(&["-o", &many]), Err(PsArgError::TooManyColumns));
        assert_eq!(p(&["-q"]).unwrap_err().to_string(), "unknown option letter 'q' in '-q'");
        let msg = p(&["-o", "bogus"]).unwrap_err().to_string();
        assert!(msg.starts_with("unknown column 'bogus' (known: pid ppid ctx name user uid"), "{msg}");
    }

    #[test]
    fn ps_selection_and_wants() {
        let me = Me { euid: 1000, tty_nr: 34816 };
        let mut mine_tty = proc_info(1, b"a", b"");
        mine_tty.status.euid = 1000;
        mine_tty.stat.tty_nr = 34816;
        let mut mine_notty = mine_tty;
        mine_notty.stat.tty_nr = 0;
        let mut other_tty = mine_tty;
        other_tty.status.euid = 0;
        other_tty.stat.tty_nr = 34817;
        let mut other_notty = other_tty;
        other_notty.stat.tty_nr = 0;
        let all = [&mine_tty, &mine_notty, &other_tty, &other_notty];
        let picks = |a: &[&str]| -> Vec<bool> {
            let spec = parse_ps_args(a).unwrap();
            all.iter().map(|p| spec.selects(p, 0, &me)).collect()
        };
        assert_eq!(picks(&[]), [true, false, false, false]);
        assert_eq!(picks(&["x"]), [true, true, false, false]);
        assert_eq!(picks(&["a"]), [true, false, true, false]);
        assert_eq!(picks(&["ax"]), [true; 4]);
        assert_eq!(picks(&["-e"]), [true; 4]);
        assert_eq!(picks(&["-e", "--ctx", "0"]), [true; 4]);
        assert_eq!(picks(&["-e", "--ctx", "3"]), [false; 4]);
        assert_eq!(parse_ps_args(&["ax"]).unwrap().want(), Want::CMDLINE);
        assert_eq!(parse_ps_args(&["-eo", "pid,comm"]).unwrap().want(), Want::STAT);
        assert_eq!(parse_ps_args(&["-eo", "pid", "--ctx", "2"]).unwrap().want(), Want::STAT);
        assert_eq!(parse_ps_args(&[]).unwrap().want(), Want::OWNER);
        assert_eq!(parse_ps_args(&["aux"]).unwrap().want(), Want::CMDLINE | Want::OWNER);
        assert_eq!(parse_ps_args(&["-eo", "vpid"]).unwrap().want(), Want::STATUS);
    }

    fn tp(pid: u32, ppid: u32, ctx: u32, comm: &str) -> TreeProc {
        TreeProc { pid, ppid, ctx, comm: HString::try_from(comm).unwrap() }
    }

    #[test]
    fn tree_like_pstree() {
        let f = Forest::new(vec![
            tp(1, 0, 0, "init"), tp(20, 1, 0, "cron"), tp(30, 1, 0, "sshd"), tp(31, 30, 0, "sshd"),
            tp(32, 31, 0, "bash"), tp(40, 32, 0, "vps"), tp(41, 32, 0, "less"), tp(25, 1, 0, "syslogd"),
            tp(2, 0, 0, "kthreadd"),
            // Context 5: its init's parent (the host's vsbox, pid 50) is in ctx 0.
            tp(50, 1, 0, "vsbox"), tp(51, 50, 5, "init"), tp(52, 51, 5, "httpd"), tp(53, 52, 5, "httpd"),
            tp(54, 52, 5, "httpd"),
        ]);
        assert_eq!(f.contexts(), [0, 5]);
        let host = s(|w| f.write_context(w, 0));
        assert_eq!(
            host,
            "init(1)-+-cron(20)\n\
             \x20       |-syslogd(25)\n\
             \x20       |-sshd(30)---sshd(31)---bash(32)-+-vps(40)\n\
             \x20       |                                `-less(41)\n\
             \x20       `-vsbox(50)\n\
             kthreadd(2)\n"
        );
        let ctx5 = s(|w| { write_tree_header(w, 5, "web")?; f.write_context(w, 5) });
        assert_eq!(ctx5, "context 5: web\ninit(51)---httpd(52)-+-httpd(53)\n                     `-httpd(54)\n");
        assert_eq!(s(|w| f.write_context(w, 9)), "");
    }

    #[test]
    fn tree_deep_chain_and_self_parent() {
        let mut v: Vec<TreeProc> = (1..=3000).map(|p| tp(p, p - 1, 0, "x")).collect();
        v.push(tp(7000, 7000, 1, "odd"));
        let f = Forest::new(v);
        let out = s(|w| f.write_context(w, 0));
        assert_eq!(out.lines().count(), 1);
        assert!(out.ends_with("---x(3000)\n"));
        assert_eq!(s(|w| f.write_context(w, 1)), "odd(7000)\n");
    }

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

    #[test]
    fn dates_and_zones() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(19_675), (2023, 11, 14));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        // A hand-made v1 TZif: one transition at t=1000 from UTC to UTC+1.
        let mut z = Vec::new();
        z.extend_from_slice(b"TZif\0");
        z.extend_from_slice(&[0; 15]);
        for n in [0u32, 0, 0, 1, 2, 4] {
            z.extend_from_slice(&n.to_be_bytes());
        }
        z.extend_from_slice(&1000i32.to_be_bytes());
        z.push(1);
        z.extend_from_slice(&0i32.to_be_bytes());
        z.extend_from_slice(&[0, 0]);
        z.extend_from_slice(&3600i32.to_be_bytes());
        z.extend_from_slice(&[1, 0]);
        z.extend_from_slice(b"UTC\0");
        assert_eq!(tzif_offset(&z, 999), Some(0));
        assert_eq!(tzif_offset(&z, 1000), Some(3600));
        assert_eq!(tzif_offset(&z[..30], 0), None);
        assert_eq!(tzif_offset(b"nope", 0), None);
        // The system's zone files (v2+ with 64-bit times).
        if let Ok(berlin) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            assert_eq!(tzif_offset(&berlin, 1_593_561_600), Some(7200)); // 2020-07-01
            assert_eq!(tzif_offset(&berlin, 1_577_836_800), Some(3600)); // 2020-01-01
        }
        if let Ok(ny) = std::fs::read("/usr/share/zoneinfo/America/New_York") {
            assert_eq!(tzif_offset(&ny, 1_593_561_600), Some(-4 * 3600));
        }
        let _ = local_utc_offset(procscan::now());
    }

    #[test]
    fn start_column_ranges() {
        let users = Users::default();
        let mut e = env(&users);
        let p = proc_info(9, b"x", b"");
        let cols = [c(Col::Start, "START")];
        let start = |e: &PsEnv<'_>| s(|w| write_ps_row(w, &cols, e, &PsRow { proc: &p, ctx: 0, name: "" }));
        assert_eq!(start(&e), "22:30\n");
        e.utc_offset = 3600;
        assert_eq!(start(&e), "23:30\n");
        e.now += 2 * 86400;
        assert_eq!(start(&e), "Nov14\n");
        e.now += 400 * 86400;
        assert_eq!(start(&e), " 2023\n");
    }

    /// Not a timed test. Start sleeping processes first (bench/spawn_sleepers.c), then
    /// `cargo test --release --lib engine::stat::tests::measure -- --ignored --nocapture`.
    /// Runs the whole `vps ax` pipeline (scan, context, selection, formatting) into
    /// /dev/null, as the applet would.
    #[test]
    #[ignore]
    fn measure_vps_ax() {
        use crate::sys::procscan::{Flow, scan};
        use std::io::Write as _;
        let users = Users::load();
        let mut sink = std::io::BufWriter::with_capacity(64 << 10, std::fs::File::create("/dev/null").unwrap());
        for args in [&["ax"][..], &["aux"], &["-ef"], &["-eo", "pid,ctx,comm"]] {
            let spec = parse_ps_args(args).unwrap();
            let mut best = f64::MAX;
            let (mut n, mut bytes) = (0, 0);
            for _ in 0..15 {
                let t = std::time::Instant::now();
                let now = procscan::now();
                let env = PsEnv {
                    units: Units::host(),
                    uptime_cs: procscan::read_uptime().unwrap(),
                    boot_time: procscan::boot_time(),
                    now,
                    utc_offset: local_utc_offset(now),
                    mem_total_kb: procscan::mem_total_kb().unwrap(),
                    users: &users,
                };
                let me = Me { euid: 0, tty_nr: 0 };
                let map = CtxMap::load(c"/sys/fs/cgroup/unified/vsbox").unwrap();
                let mut line: HString<8192> = HString::new();
                write_ps_header(&mut line, &spec.cols).unwrap();
                (n, bytes) = (0, line.len());
                sink.write_all(line.as_bytes()).unwrap();
                scan(spec.want(), |p| {
                    let ctx = map.ctx_of(p.pid);
                    if spec.selects(p, ctx, &me) {
                        line.clear();
                        let _ = write_ps_row(&mut line, &spec.cols, &env, &PsRow { proc: p, ctx, name: vps_name(ctx, None) });
                        sink.write_all(line.as_bytes()).unwrap();
                        n += 1;
                        bytes += line.len();
                    }
                    Flow::Continue
                })
                .unwrap();
                sink.flush().unwrap();
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
            }
            println!("vps {:24} {n} rows {bytes} bytes  best {best:.2} ms", args.join(" "));
        }
    }
}
