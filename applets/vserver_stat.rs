//! applet: vserver-stat
//! summary: one line per running context: processes, memory, CPU time, uptime
//!
//! Columns as the original: CTX PROC VSZ RSS userTIME sysTIME UPTIME NAME. Context 0
//! is the host ("root server"): every process not in a context. PROC, VSZ and RSS
//! are /proc sums over the context's processes; userTIME and sysTIME come from the
//! context's cgroup (so they include processes that have exited), from /proc sums
//! (own plus reaped children) where there is none, as for the host; UPTIME is the
//! age of the context's oldest process.
//!
//! Exit status: 0; 255 for bad usage or when /proc cannot be read.

use std::fmt::Write as _;

use argh::FromArgs;
use vsbox::engine::monitor::gather;
use vsbox::engine::monitor::names::Names;
use vsbox::engine::monitor::report::json::{JsonArray, JsonObject};
use vsbox::engine::monitor::report::stat;
use vsbox::engine::context::registry::Registry;

use crate::cli;

const FAIL: i32 = 255;

#[derive(FromArgs)]
/// Show one line per running context: CTX PROC VSZ RSS userTIME sysTIME UPTIME NAME.
/// Context 0 is the host (root server). Sizes are in bytes with B kB MB GB TB
/// suffixes; times read 12m05.79, 1h57m01 or 33d02h06.
struct Opts {
    /// one JSON object per context (sizes in bytes, times in seconds, plus the
    /// cgroup's memory and task counters where the host has them)
    #[argh(switch)]
    json: bool,
}

pub fn main(args: &[String]) -> i32 {
    let o: Opts = match cli::parse(args, FAIL) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let settings = cli::settings();
    let reg = Registry::new(settings.clone());
    let report = match cli::scope(&settings).and_then(|s| gather::gather_stat(&s, o.json)) {
        Ok(r) => r,
        Err(e) => {
            cli::error("vserver-stat", e);
            return FAIL;
        }
    };
    let mut names = Names::new(&reg);
    // A few lines: built whole, then written at once.
    let mut out = String::with_capacity(4096);
    let mut line = String::with_capacity(256);
    let r = if o.json {
        (|| -> std::fmt::Result {
            let mut arr = JsonArray::open(&mut out)?;
            for (row, c) in report.table.rows().iter().zip(&report.counters) {
                arr.item(&mut out)?;
                let mut o = JsonObject::begin(&mut out)?;
                o.uint("ctx", row.ctx.into())?;
                o.str("name", names.display(row.ctx))?;
                o.uint("procs", row.procs.into())?;
                o.uint("vsz", row.vsz)?;
                o.uint("rss", row.rss)?;
                o.cents("user_s", row.utime)?;
                o.cents("sys_s", row.stime)?;
                o.cents("uptime_s", row.uptime_cs(report.uptime_cs))?;
                if let Some(m) = c.memory {
                    o.uint("cgroup_memory", m)?;
                }
                if let Some(t) = c.tasks {
                    o.uint("cgroup_tasks", t)?;
                }
                o.end()?;
            }
            arr.close(&mut out)
        })()
    } else {
        (|| -> std::fmt::Result {
            writeln!(out, "{}", stat::STAT_HEADER)?;
            for row in report.table.rows() {
                line.clear();
                stat::write_stat_row(&mut line, row, report.uptime_cs, names.display(row.ctx))?;
                // An unnamed context: no blank at the end of the line.
                out.push_str(line.trim_end());
                out.push('\n');
            }
            Ok(())
        })()
    };
    if r.is_err() {
        cli::error("vserver-stat", "cannot format the output");
        return FAIL;
    }
    cli::write_out("vserver-stat", out.as_bytes(), FAIL)
}
