//! The network side of a context: its ipv4root (chbind's cgroup-BPF programs).

pub mod ipv4root;
