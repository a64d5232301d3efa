//! vpstree: every context's process tree, drawn like `pstree -p -A`.

use core::fmt::{self, Write};

use alloc::string::String;
use alloc::vec::Vec;
use heapless::String as HString;

use super::{spaces, write_text};
use crate::sys::procscan::ProcInfo;

/// A process as the tree needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeProc {
    pub pid: u32,
    pub ppid: u32,
    pub ctx: u32,
    pub comm: HString<64>,
}

impl TreeProc {
    pub fn from_proc(p: &ProcInfo<'_>, ctx: u32) -> TreeProc {
        let mut comm = HString::new();
        let _ = write_text(&mut comm, p.comm, false, 64);
        TreeProc { pid: p.pid, ppid: p.stat.ppid.max(0) as u32, ctx, comm }
    }
}

/// Every context's process tree. Within a context, the roots are the processes whose
/// parent is not in that context (a context's init, whose parent is the host's
/// vsbox, is a root of its context).
#[derive(Clone, Debug)]
pub struct Forest {
    /// Sorted by (ctx, ppid, pid): a node's children are one contiguous run.
    by_parent: Vec<TreeProc>,
    /// (ctx, pid) of every process, sorted, to tell roots from children.
    pids: Vec<(u32, u32)>,
}

impl Forest {
    pub fn new(mut procs: Vec<TreeProc>) -> Forest {
        procs.sort_by_key(|p| (p.ctx, p.ppid, p.pid));
        let mut pids: Vec<(u32, u32)> = procs.iter().map(|p| (p.ctx, p.pid)).collect();
        pids.sort_unstable();
        Forest { by_parent: procs, pids }
    }

    /// The contexts present, ascending.
    pub fn contexts(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.pids.iter().map(|e| e.0).collect();
        v.dedup();
        v
    }

    fn children(&self, ctx: u32, pid: u32) -> &[TreeProc] {
        let lo = self.by_parent.partition_point(|p| (p.ctx, p.ppid) < (ctx, pid));
        let hi = self.by_parent.partition_point(|p| (p.ctx, p.ppid) <= (ctx, pid));
        &self.by_parent[lo..hi]
    }

    /// Draw one context's trees like `pstree -p`, in ASCII:
    /// ```text
    /// init(1)-+-cron(20)
    ///         |-sshd(30)---sshd(31)---bash(32)
    ///         `-syslogd(25)
    /// ```
    /// Siblings are in pid order; several roots print one after another.
    pub fn write_context(&self, w: &mut impl Write, ctx: u32) -> fmt::Result {
        let mut roots: Vec<&TreeProc> = self
            .by_parent
            .iter()
            .filter(|p| p.ctx == ctx && (p.ppid == p.pid || self.pids.binary_search(&(ctx, p.ppid)).is_err()))
            .collect();
        roots.sort_by_key(|p| p.pid);
        for root in roots {
            self.write_tree(w, root)?;
        }
        Ok(())
    }

    /// Depth-first without recursion: a long parent chain cannot overflow the stack.
    fn write_tree(&self, w: &mut impl Write, root: &TreeProc) -> fmt::Result {
        struct Frame<'f> {
            kids: &'f [TreeProc],
            next: usize,
            /// Length of `prefix` when this node's label began.
            prefix_len: usize,
            label_len: usize,
        }
        let mut prefix = String::new();
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut cur = Some(root);
        loop {
            if let Some(node) = cur.take() {
                let mut label: HString<96> = HString::new();
                let _ = write!(label, "{}({})", node.comm, node.pid);
                w.write_str(&label)?;
                let label_len = label.chars().count();
                // A process listed as its own parent would loop: no children.
                let kids = if node.ppid == node.pid { &[][..] } else { self.children(node.ctx, node.pid) };
                let kids = if kids.first().is_some_and(|k| k.pid == node.pid) { &kids[1..] } else { kids };
                match kids.len() {
                    0 => w.write_char('\n')?,
                    n => {
                        let start = prefix.len();
                        w.write_str(if n == 1 { "---" } else { "-+-" })?;
                        push_spaces(&mut prefix, label_len);
                        prefix.push_str(if n == 1 { "   " } else { " | " });
                        stack.push(Frame { kids, next: 1, prefix_len: start, label_len });
                        cur = Some(&kids[0]);
                    }
                }
                continue;
            }
            let Some(f) = stack.last_mut() else { break };
            prefix.truncate(f.prefix_len);
            if f.next == f.kids.len() {
                stack.pop();
                continue;
            }
            let last = f.next + 1 == f.kids.len();
            w.write_str(&prefix)?;
            spaces(w, f.label_len)?;
            w.write_str(if last { " `-" } else { " |-" })?;
            push_spaces(&mut prefix, f.label_len);
            prefix.push_str(if last { "   " } else { " | " });
            cur = Some(&f.kids[f.next]);
            f.next += 1;
        }
        Ok(())
    }
}

fn push_spaces(s: &mut String, n: usize) {
    s.extend(core::iter::repeat_n(' ', n));
}

/// The line above each context's tree: `context 5: web`.
pub fn write_tree_header(w: &mut impl Write, ctx: u32, name: &str) -> fmt::Result {
    writeln!(w, "context {ctx}: {name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::monitor::report::testing::s;

    fn tp(pid: u32, ppid: u32, ctx: u32, comm: &str) -> TreeProc {
        TreeProc { pid, ppid, ctx, comm: HString::try_from(comm).unwrap() }
    }

    #[test]
    fn tree_like_pstree() {
        let f = Forest::new(vec![
            tp(1, 0, 0, "init"), tp(20, 1, 0, "cron"), tp(30, 1, 0, "sshd"), tp(31, 30, 0, "sshd"),
            tp(32, 31, 0, "bash"), tp(40, 32, 0, "vps"), tp(41, 32, 0, "less"), tp(25, 1, 0, "syslogd"),
            tp(2, 0, 0, "kthreadd"),
            // Context 5: its init's parent (the host's vsbox, pid 50) is in ctx 0.
            tp(50, 1, 0, "vsbox"), tp(51, 50, 5, "init"), tp(52, 51, 5, "httpd"), tp(53, 52, 5, "httpd"),
            tp(54, 52, 5, "httpd"),
        ]);
        assert_eq!(f.contexts(), [0, 5]);
        let host = s(|w| f.write_context(w, 0));
        assert_eq!(
            host,
            "init(1)-+-cron(20)\n\
             \x20       |-syslogd(25)\n\
             \x20       |-sshd(30)---sshd(31)---bash(32)-+-vps(40)\n\
             \x20       |                                `-less(41)\n\
             \x20       `-vsbox(50)\n\
             kthreadd(2)\n"
        );
        let ctx5 = s(|w| { write_tree_header(w, 5, "web")?; f.write_context(w, 5) });
        assert_eq!(ctx5, "context 5: web\ninit(51)---httpd(52)-+-httpd(53)\n                     `-httpd(54)\n");
        assert_eq!(s(|w| f.write_context(w, 9)), "");
    }

    #[test]
    fn tree_deep_chain_and_self_parent() {
        let mut v: Vec<TreeProc> = (1..=3000).map(|p| tp(p, p - 1, 0, "x")).collect();
        v.push(tp(7000, 7000, 1, "odd"));
        let f = Forest::new(v);
        let out = s(|w| f.write_context(w, 0));
        assert_eq!(out.lines().count(), 1);
        assert!(out.ends_with("---x(3000)\n"));
        assert_eq!(s(|w| f.write_context(w, 1)), "odd(7000)\n");
    }
}
