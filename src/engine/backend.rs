//! Which kind of kernel vsbox talks to: a mainline kernel (contexts built from
//! namespaces and cgroups) or a Linux-VServer patched one (real kernel contexts
//! through `sys_vserver`). One `get_version` call decides (vserver-spec.md §2.4).

use crate::sys::vserver;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Mainline,
    /// A patched kernel with this VCI version (0x00020308 = vs2.3.0.36).
    Legacy { version: u32 },
}

impl Backend {
    pub fn detect() -> Backend {
        match vserver::get_version() {
            Ok(v) if v >= 0x0001_0000 => Backend::Legacy { version: v },
            _ => Backend::Mainline,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_is_mainline() {
        assert_eq!(Backend::detect(), Backend::Mainline);
    }
}
