//! The context engine: what a vserver security context is, built from the kernel
//! layer. Backend-neutral: it says "a context", never "a namespace".

pub mod conf;
pub mod ipv4root;
pub mod stat;
