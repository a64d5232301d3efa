//! The context engine: what a vserver security context is, built from the kernel
//! layer. Backend-neutral: it says "a context", never "a namespace".

pub mod backend;
pub mod cgroups;
pub mod conf;
pub mod context;
pub mod init;
pub mod ipv4root;
pub mod legacy;
pub mod monitor;
pub mod registry;
pub mod rootfs;
pub mod spec;
pub mod stat;
pub mod vserver;
pub mod wire;
