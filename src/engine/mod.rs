//! The context engine: what a vserver security context is, built from the kernel
//! layer. Backend-neutral: it says "a context", never "a namespace".
//!
//! - `context`: what a context is (`spec`), its registry, cgroups, private view
//!   (`rootfs`), init and keeper, and creating, joining and stopping one;
//! - `network`: its ipv4root;
//! - `vserver`: named virtual servers (the conf, the guest's tree, aliases, the
//!   lifecycle, build);
//! - `monitor`: what vserver-stat, vps, vpstree and vkill show and do;
//! - `backend`: mainline or a vserver-patched kernel.

pub mod backend;
pub mod context;
pub mod legacy;
pub mod monitor;
pub mod network;
pub mod vserver;
