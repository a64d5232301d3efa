//! Monitoring: what vserver-stat, vps, vpstree and vkill know of the running
//! contexts, gathered in bulk from the kernel, and how they show it.
//!
//! - `scope`: which context each process is in (the cgroup side, a few reads in
//!   all), the snapshot every view starts from;
//! - `names`: what each context is called (the registry, the built-in names);
//! - `gather`: what a view reads beyond the process list (the contexts' cgroup
//!   counters) and the one scan it needs;
//! - `kill`: signalling a process or a whole context through pidfds;
//! - `report`: the views themselves, pure formatting (`stat`, `ps`, `tree`, `json`);
//! - `users`, `clock`, `signals`: uid → name, local time and dates, signal names,
//!   each read without libc.
//!
//! Processes come from the /proc scanner (`sys::procscan`); nothing here reads
//! /proc or the cgroups by itself.

pub mod clock;
pub mod gather;
pub mod kill;
pub mod names;
pub mod report;
pub mod scope;
pub mod signals;
pub mod users;
