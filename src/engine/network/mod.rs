//! The network side of a context: its ipv4root (chbind's cgroup-BPF programs)
//! and the IP aliases it owns.

pub mod alias;
pub mod ipv4root;
