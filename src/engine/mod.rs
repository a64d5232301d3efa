//! The context engine: what a vserver security context is, built from the kernel
//! layer. Backend-neutral: it says "a context", never "a namespace".

pub mod conf;
pub mod ipv4root;
pub mod stat;
pub mod cgroups;
pub mod context;
pub mod init;
pub mod registry;
pub mod rootfs;
pub mod spec;
pub mod wire;
pub mod monitor;
pub mod vserver;
