//! vps: the column model, the ps-style command line, and each process's row as
//! text or JSON, laid out as procps does.

use core::fmt::{self, Write};

use alloc::string::String;
use heapless::String as HString;

use super::json::{JsonObject, json_escape_bytes};
use super::{Units, spaces, trim_nuls, write_text};
use crate::engine::monitor::clock::{MONTHS, civil_date};
use crate::engine::monitor::users::Users;
use crate::sys::procscan::{NO_UID, ProcInfo, Want};

// ---------------------------------------------------------------------------------
// The column model

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
// Arguments

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
// Rows

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::monitor::clock::local_utc_offset;
    use crate::engine::monitor::report::testing::{proc_info, s};
    use crate::engine::monitor::scope::CtxMap;
    use crate::sys::procscan;

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
    /// `cargo test --release --lib engine::monitor::report::ps::tests::measure -- --ignored --nocapture`.
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
