//! The vserver config, `/etc/vservers/NAME.conf`: read, checked, and turned into a
//! typed `VserverConf`; plus the template `vserver NAME build` writes and the boot
//! order of `vserver --onboot start|stop`.
//!
//! util-vserver *sourced* the conf as a shell script, so some confs hold shell logic
//! (`case $PROFILE in prod) ...;; esac`). vsbox reads it in one of two ways:
//!
//! - **Plain confs** (only `VAR=value`, `export VAR=value`, quoting, backslashes,
//!   comments, `$VAR` and `${VAR}`) are read here, without running anything, with the
//!   meaning sh gives them. This is what almost every conf looks like.
//! - **Anything else** (if, case, loops, functions, `$(...)`, backticks, `&&`, `;;`,
//!   `${VAR:-x}`, a command, ...) is evaluated by `/bin/sh`, exactly as util-vserver did:
//!   `/bin/sh -c SCRIPT sh CONF` with an environment of only PATH, the caller's
//!   variables (PROFILE) and nothing else, stdin at end of file, in the caller's
//!   directory. SCRIPT is fixed text: it moves the conf's own stdout to stderr,
//!   sources the conf (`. "$1"`, so the path is never parsed by the shell), then prints,
//!   on a spare descriptor, `NAME\0ISSET\0VALUE\0` for every known variable (and every
//!   other name the file seems to assign, for the unknown-variable warnings) and a
//!   final `vsbox-end\0`. NUL cannot occur in a shell value, so the answer is
//!   unambiguous; a missing end marker means the conf failed or called `exit`.
//!
//! Why running the conf is safe: it is admin input, with root's authority already
//! (it picks the vserver's capabilities). vsbox therefore refuses, in both ways, a
//! conf that is not a regular file owned by root (or by the caller) or that group or
//! others may write, naming the file. The check is made on the descriptor the file is
//! read through; the shell then opens it again by name, which only someone able to
//! write the conf's directory could race, i.e. root.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use rustix::fd::OwnedFd;
use rustix::fs::{self, FileType, Mode, OFlags};
use rustix::io::{self, Errno};
use rustix::process::Resource;

use crate::sys::caps::{CapSet, parse_cap};
use crate::engine::context::spec::Flags;
use crate::sys::spawn;
use crate::sys::ErrnoText;

/// The shell that evaluates confs with shell logic, as util-vserver's `#!/bin/sh`.
pub const SHELL: &str = "/bin/sh";
/// PATH for the evaluating shell (the vserver script's own, minus X11).
pub const EVAL_PATH: &str = "/sbin:/usr/sbin:/bin:/usr/bin";
/// The prefix length of an IPROOT entry when neither `/mask` nor IPROOTMASK gives one.
pub const DEFAULT_PREFIX: u8 = 24;
/// PRIORITY when the conf has none (the vservers init script's default).
pub const DEFAULT_PRIORITY: i32 = 100;
/// A conf bigger than this is not a conf.
const MAX_CONF_BYTES: usize = 1 << 20;

/// Every variable of a vserver conf (vserver-spec §9.2), in the order they are checked.
pub const KNOWN_VARIABLES: [&str; 14] = [
    "IPROOT", "IPROOTDEV", "IPROOTMASK", "IPROOTBCAST", "ONBOOT", "PRIORITY", "S_CAPS",
    "S_CONTEXT", "S_DOMAINNAME", "S_HOSTNAME", "S_NICE", "S_FLAGS", "ULIMIT", "PROFILE",
];

// ---------------------------------------------------------------------------------
// The typed conf
// ---------------------------------------------------------------------------------

/// A checked vserver conf. Empty variables mean "the default", as in the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VserverConf {
    /// The `# Description:` comment, for vserver-stat and listings.
    pub description: Option<String>,
    /// IPROOT: where the vserver's sockets may bind.
    pub iproot: IpRoot,
    /// IPROOTDEV: the device that gets the IP aliases; none means no aliases.
    pub iprootdev: Option<String>,
    /// IPROOTMASK as a prefix length: for entries without their own `/mask`.
    pub iprootmask: Option<u8>,
    /// IPROOTBCAST: the aliases' broadcast (none: computed from address and mask).
    pub iprootbcast: Option<[u8; 4]>,
    /// ONBOOT=yes: `vserver --onboot start` starts it.
    pub onboot: bool,
    /// PRIORITY: boot order, lower first.
    pub priority: i32,
    /// S_CAPS `CAP_X` words: capabilities given back over the secure ceiling.
    pub caps_keep: CapSet,
    /// S_CAPS `!CAP_X` words: capabilities removed as well. `!CAP_SYS_CHROOT` also
    /// means "no chroot" to the start sequence (`nochroot()`).
    pub caps_remove: CapSet,
    /// S_CONTEXT: a fixed context number; none means "any free one".
    pub context: Option<u32>,
    /// S_DOMAINNAME: the NIS domain name inside; `none` clears it (as chcontext).
    pub domainname: Option<String>,
    /// S_HOSTNAME: the host name inside; none keeps the host's.
    pub hostname: Option<String>,
    /// S_NICE: a niceness increment for the whole vserver.
    pub nice: Option<i32>,
    /// S_FLAGS.
    pub flags: Flags,
    /// ULIMIT, as the setrlimit calls `ulimit $ULIMIT` would make, in order.
    pub ulimits: Vec<Ulimit>,
    /// PROFILE as the conf left it (it may set a default itself).
    pub profile: Option<String>,
}

impl Default for VserverConf {
    fn default() -> Self {
        VserverConf {
            description: None,
            iproot: IpRoot::Untied,
            iprootdev: None,
            iprootmask: None,
            iprootbcast: None,
            onboot: false,
            priority: DEFAULT_PRIORITY,
            caps_keep: CapSet::EMPTY,
            caps_remove: CapSet::EMPTY,
            context: None,
            domainname: None,
            hostname: None,
            nice: None,
            flags: Flags(0),
            ulimits: Vec::new(),
            profile: None,
        }
    }
}

impl VserverConf {
    /// The prefix length that applies to `entry`: its own `/mask`, else IPROOTMASK,
    /// else /24.
    pub fn prefix_of(&self, entry: &IpEntry) -> u8 {
        entry.prefix.or(self.iprootmask).unwrap_or(DEFAULT_PREFIX)
    }

    /// `!CAP_SYS_CHROOT` was given: the vserver script's `--nochroot`.
    pub fn nochroot(&self) -> bool {
        self.caps_remove.has(18)
    }

    /// The process limit for the whole vserver under the `nproc` flag: the hard
    /// `ulimit -u` (the last one given wins, as in the shell).
    pub fn nproc_limit(&self) -> Option<Option<u64>> {
        self.ulimits
            .iter()
            .rev()
            .find(|u| u.resource == Resource::Nproc && u.which != LimitKind::Soft)
            .map(|u| u.value)
    }
}

/// IPROOT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpRoot {
    /// Empty or `0.0.0.0`: no restriction.
    Untied,
    /// `ALL`: every address the host has.
    All,
    /// Explicit entries, in order (the first is the main address).
    List(Vec<IpEntry>),
}

/// One `[dev:]ip[/mask]` entry of IPROOT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpEntry {
    /// The device for this entry's alias (overrides IPROOTDEV).
    pub dev: Option<String>,
    pub addr: [u8; 4],
    /// Its own `/mask`, as a prefix length.
    pub prefix: Option<u8>,
}

/// Which of the two limits a `ulimit` setting changes: `-S`, `-H`, or both (neither
/// or both options given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    Soft,
    Hard,
    Both,
}

/// One setrlimit that `ulimit $ULIMIT` would make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ulimit {
    /// The ulimit option letter it came from (`u`, `n`, ...), for messages.
    pub option: char,
    pub resource: Resource,
    pub which: LimitKind,
    /// In the kernel's units (bytes, seconds, count); `None` is unlimited.
    pub value: Option<u64>,
}

// ---------------------------------------------------------------------------------
// Errors and warnings
// ---------------------------------------------------------------------------------

/// Why a conf could not be used. Each displays as one line that names the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfError {
    /// It could not be opened or read (`errno` NOENT: there is no such conf).
    Read { path: String, errno: Errno },
    /// It is not a root-only regular file.
    Refused { path: String, why: String },
    /// A variable has a value vsbox cannot use.
    Value { path: String, var: &'static str, value: String, why: String },
    /// /bin/sh could not evaluate it.
    Shell { path: String, message: String },
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfError::Read { path, errno } => write!(f, "{path}: cannot read it: {}", ErrnoText(*errno)),
            ConfError::Refused { path, why } => write!(f, "{path}: refusing it: {why}"),
            ConfError::Value { path, var, value, why } => write!(f, "{path}: {var}: '{value}' {why}"),
            ConfError::Shell { path, message } => write!(f, "{path}: {SHELL} cannot evaluate it: {message}"),
        }
    }
}

/// Something in a usable conf that its admin should hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub path: String,
    pub kind: WarningKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// The conf sets a variable vsbox does not know (maybe a typo of `hint`).
    UnknownVariable { name: String, hint: Option<&'static str> },
    /// ONBOOT is neither yes nor no; it counts as no.
    NotYesOrNo { var: &'static str, value: String },
    /// The shell complained while evaluating (its first line), and went on.
    ShellSaid(String),
}

/// Reads as the tail of `vserver NAME: warning: ...`.
impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.kind {
            WarningKind::UnknownVariable { name, hint: None } => write!(f, "unknown variable {name} in {path}"),
            WarningKind::UnknownVariable { name, hint: Some(h) } => {
                write!(f, "unknown variable {name} in {path} (did you mean {h}?)")
            }
            WarningKind::NotYesOrNo { var, value } => {
                write!(f, "{var}='{value}' in {path} is neither yes nor no; taken as no")
            }
            WarningKind::ShellSaid(line) => write!(f, "{SHELL} said, evaluating {path}: {line}"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------

/// Read and check the conf at `path`. `env` is what the conf sees besides PATH
/// (usually `[("PROFILE", p)]`); a conf with shell logic is run by /bin/sh with it.
/// Unknown variables and odd values that still work come back as warnings.
pub fn load(path: &str, env: &[(&str, &str)]) -> Result<(VserverConf, Vec<Warning>), ConfError> {
    let text = read_conf(path)?;
    let base = base_vars(env);
    let mut warnings = Vec::new();
    let (vars, assigned) = match scan(&text, &base) {
        Some(plain) => plain,
        None => evaluate(path, &text, &base, &mut warnings)?,
    };
    for name in assigned.iter().filter(|n| !KNOWN_VARIABLES.contains(&n.as_str())) {
        let kind = WarningKind::UnknownVariable { name: name.clone(), hint: similar_known(name) };
        warnings.push(Warning { path: path.to_owned(), kind });
    }
    let conf = build(path, &vars, &text, &mut warnings)?;
    Ok((conf, warnings))
}

/// True when `text` needs /bin/sh to be understood (see the module comment).
pub fn uses_shell_logic(text: &str) -> bool {
    scan(text, &[]).is_none()
}

type Vars = Vec<(String, String)>;

fn lookup<'a>(vars: &'a Vars, name: &str) -> Option<&'a str> {
    vars.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn set(vars: &mut Vars, name: &str, value: String) {
    match vars.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name.to_owned(), value)),
    }
}

/// The variables a conf starts with: PATH, then the caller's.
fn base_vars(env: &[(&str, &str)]) -> Vars {
    let mut vars = Vars::new();
    set(&mut vars, "PATH", EVAL_PATH.to_owned());
    for (k, v) in env {
        set(&mut vars, k, (*v).to_owned());
    }
    vars
}

/// Open `path`, check that only root can have written it, and read it.
fn read_conf(path: &str) -> Result<String, ConfError> {
    let read_err = |errno| ConfError::Read { path: path.to_owned(), errno };
    // NONBLOCK: a FIFO in its place must be refused below, not hang us here.
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let fd = fs::open(path, flags, Mode::empty()).map_err(read_err)?;
    let st = fs::fstat(&fd).map_err(read_err)?;
    let refuse = |why: String| ConfError::Refused { path: path.to_owned(), why };
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(refuse("it is not a regular file".to_owned()));
    }
    let me = rustix::process::geteuid().as_raw();
    if st.st_uid != 0 && st.st_uid != me {
        return Err(refuse(format!("it is owned by uid {}, not root (chown root {path})", st.st_uid)));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(refuse(format!(
            "group or others may write it (mode {:04o}; chmod go-w {path})",
            st.st_mode & 0o7777
        )));
    }
    let bytes = read_all(&fd).map_err(read_err)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn read_all(fd: &OwnedFd) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match io::read(fd, &mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) if out.len() + n > MAX_CONF_BYTES => return Err(Errno::FBIG),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------
// The plain reader: a small sh lexer that gives up on anything beyond assignments
// ---------------------------------------------------------------------------------

/// Read a plain conf: the variables afterwards (`base` plus the file's assignments)
/// and the names the file assigned. `None` means "needs the shell": shell logic, or
/// anything this reader does not understand exactly as sh would (then sh decides,
/// and reports syntax errors in its own words).
fn scan(text: &str, base: &[(String, String)]) -> Option<(Vars, Vec<String>)> {
    let mut lx = Lexer { s: text.as_bytes(), i: 0, vars: base.to_vec(), assigned: Vec::new() };
    lx.run()?;
    Some((lx.vars, lx.assigned))
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    vars: Vars,
    assigned: Vec<String>,
}

/// What the simple command read so far is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Command {
    Empty,
    Assignments,
    Export,
}

/// One word of a command, after quote removal and expansion.
struct Word {
    text: Vec<u8>,
    /// `NAME=...` with NAME unquoted: the length of NAME.
    assign: Option<usize>,
    /// No quoting, escaping or expansion at all (so it can be a keyword or `export`).
    literal: bool,
    /// An unquoted glob character: harmless in an assignment, not in an argument.
    unquoted_special: bool,
    /// A `$NAME` was expanded in it.
    expanded: bool,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn run(&mut self) -> Option<()> {
        let mut cmd = Command::Empty;
        loop {
            match self.peek() {
                None => return Some(()),
                Some(b' ' | b'\t') => self.i += 1,
                Some(b'\n') => {
                    self.i += 1;
                    cmd = Command::Empty;
                }
                Some(b';') => {
                    // `;;` belongs to case; a `;` ending nothing is a syntax error.
                    if cmd == Command::Empty || self.s.get(self.i + 1) == Some(&b';') {
                        return None;
                    }
                    self.i += 1;
                    cmd = Command::Empty;
                }
                Some(b'#') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.i += 1;
                    }
                }
                Some(b'\\') if self.s.get(self.i + 1) == Some(&b'\n') => self.i += 2,
                Some(_) => {
                    let w = self.word()?;
                    cmd = self.take(cmd, w)?;
                }
            }
        }
    }

    /// Add one word to the simple command being read. Assignments take effect at
    /// once, as in sh (`A=1 B=$A` gives B=1); a word that makes the command anything
    /// but assignments, or `export` of literal assignments and names, ends the plain
    /// reading.
    fn take(&mut self, cmd: Command, w: Word) -> Option<Command> {
        if cmd == Command::Empty && w.literal && w.assign.is_none() && w.text == b"export" {
            return Some(Command::Export);
        }
        match w.assign {
            // Shells disagree on how export's arguments are expanded: ask the shell.
            Some(_) if cmd == Command::Export && (w.expanded || w.unquoted_special) => None,
            Some(n) => {
                let name = String::from_utf8_lossy(&w.text[..n]).into_owned();
                let value = String::from_utf8_lossy(&w.text[n + 1..]).into_owned();
                set(&mut self.vars, &name, value);
                if !self.assigned.contains(&name) {
                    self.assigned.push(name);
                }
                Some(if cmd == Command::Export { cmd } else { Command::Assignments })
            }
            None if cmd == Command::Export && w.literal && is_name(&w.text) => Some(cmd),
            None => None,
        }
    }

    fn word(&mut self) -> Option<Word> {
        let start = self.i;
        let mut w = Word { text: Vec::new(), assign: None, literal: true, unquoted_special: false, expanded: false };
        let name_len = self.s[start..].iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_').count();
        if name_len > 0 && !self.s[start].is_ascii_digit() && self.s.get(start + name_len) == Some(&b'=') {
            w.text.extend_from_slice(&self.s[start..=start + name_len]);
            w.assign = Some(name_len);
            self.i += name_len + 1;
        }
        loop {
            let Some(b) = self.peek() else { return Some(w) };
            match b {
                b' ' | b'\t' | b'\n' | b';' => return Some(w),
                b'\'' => {
                    w.literal = false;
                    let end = self.s[self.i + 1..].iter().position(|&c| c == b'\'')?;
                    w.text.extend_from_slice(&self.s[self.i + 1..self.i + 1 + end]);
                    self.i += end + 2;
                }
                b'"' => {
                    w.literal = false;
                    self.i += 1;
                    w.expanded |= self.double_quoted(&mut w.text)?;
                }
                b'\\' => {
                    w.literal = false;
                    match self.s.get(self.i + 1) {
                        Some(b'\n') => {}
                        Some(&c) => w.text.push(c),
                        None => return None,
                    }
                    self.i += 2;
                }
                b'$' => {
                    w.literal = false;
                    w.expanded |= self.dollar(&mut w.text)?;
                }
                b'*' | b'?' | b'[' => {
                    w.unquoted_special = true;
                    w.text.push(b);
                    self.i += 1;
                }
                // Command substitution, pipes, lists, redirections, subshells, tilde
                // expansion: the shell's business.
                b'`' | b'|' | b'&' | b'<' | b'>' | b'(' | b')' | b'~' => return None,
                _ => {
                    w.text.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// The inside of "...", the opening quote consumed; true if it expanded a variable.
    fn double_quoted(&mut self, out: &mut Vec<u8>) -> Option<bool> {
        let mut expanded = false;
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(expanded);
                }
                b'\\' => {
                    match self.s.get(self.i + 1)? {
                        b'\n' => {}
                        &c @ (b'$' | b'`' | b'"' | b'\\') => out.push(c),
                        &c => out.extend_from_slice(&[b'\\', c]),
                    }
                    self.i += 2;
                }
                b'$' => expanded |= self.dollar(out)?,
                b'`' => return None,
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `$NAME` or `${NAME}`, at a `$`; true if it was one. Every other expansion goes
    /// to the shell; a `$` before anything that cannot start one stays a `$`.
    fn dollar(&mut self, out: &mut Vec<u8>) -> Option<bool> {
        let rest = &self.s[self.i + 1..];
        let (name, used) = match rest.first() {
            Some(b'{') => {
                let n = rest[1..].iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_').count();
                if n == 0 || rest[1].is_ascii_digit() || rest.get(1 + n) != Some(&b'}') {
                    return None;
                }
                (&rest[1..1 + n], n + 2)
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let n = rest.iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_').count();
                (&rest[..n], n)
            }
            // Positional and special parameters, $(...), $((...)), and the
            // bash-only $'...' and $"...".
            Some(c) if c.is_ascii_digit() || b"@*#?$!-('\"".contains(c) => return None,
            _ => {
                out.push(b'$');
                self.i += 1;
                return Some(false);
            }
        };
        let name = core::str::from_utf8(name).ok()?;
        out.extend_from_slice(lookup(&self.vars, name).unwrap_or("").as_bytes());
        self.i += 1 + used;
        Some(true)
    }
}

fn is_name(s: &[u8]) -> bool {
    matches!(s.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && s.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

// ---------------------------------------------------------------------------------
// Evaluation by /bin/sh
// ---------------------------------------------------------------------------------

const END_MARK: &str = "vsbox-end";

/// Source the conf in /bin/sh and read back the variables (see the module comment).
fn evaluate(path: &str, text: &str, base: &Vars, warnings: &mut Vec<Warning>) -> Result<(Vars, Vec<String>), ConfError> {
    let shell_err = |message: String| ConfError::Shell { path: path.to_owned(), message };
    let mut names: Vec<String> = KNOWN_VARIABLES.iter().map(|s| (*s).to_string()).collect();
    for n in assignment_candidates(text) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let mut script = String::from("exec 3>&1 1>&2\n. \"$1\"\nprintf '%s\\0'");
    for n in &names {
        script.push_str(&format!(" {n} \"${{{n}+1}}\" \"${{{n}-}}\""));
    }
    script.push_str(&format!(" {END_MARK} >&3\n"));

    // `.` searches PATH for a name without a slash; never let it.
    let dot_path = if path.contains('/') { path.to_owned() } else { format!("./{path}") };
    let env: Vec<String> = base.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let env: Vec<&[u8]> = env.iter().map(|e| e.as_bytes()).collect();
    let argv: [&[u8]; 5] = [SHELL.as_bytes(), b"-c", script.as_bytes(), b"sh", dot_path.as_bytes()];
    let out = spawn::run_capture(&argv, &env, None).map_err(|e| shell_err(format!("{}: {}", e.what, ErrnoText(e.errno))))?;

    let said = String::from_utf8_lossy(out.stderr_first_line()).into_owned();
    let fields: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
    // Triples, the end mark, and the empty piece after the last NUL.
    let complete = fields.len() == names.len() * 3 + 2 && fields[names.len() * 3] == END_MARK.as_bytes();
    if !complete {
        if !said.is_empty() {
            return Err(shell_err(said));
        }
        return Err(shell_err(match out.status {
            spawn::ExitStatus::Code(c) => format!("it stopped before its end (exit status {c}; does it call exit?)"),
            spawn::ExitStatus::Signal(s) => format!("the shell was killed by signal {s}"),
        }));
    }
    if !said.is_empty() {
        warnings.push(Warning { path: path.to_owned(), kind: WarningKind::ShellSaid(said) });
    }

    let mut vars = Vars::new();
    let mut assigned = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (isset, value) = (fields[i * 3 + 1], fields[i * 3 + 2]);
        if isset.is_empty() {
            continue;
        }
        let value = String::from_utf8_lossy(value).into_owned();
        // A variable the caller handed in and the conf left alone is not the conf's.
        if i >= KNOWN_VARIABLES.len() && lookup(base, name) != Some(value.as_str()) {
            assigned.push(name.clone());
        }
        vars.push((name.clone(), value));
    }
    Ok((vars, assigned))
}

/// Names the file may assign: `NAME=` at the start of a word in command position
/// (after a line start, blank, `;`, `(`, `)`, `{`, `&`, `|` or backtick). It may find
/// too many (the shell then says they are unset), never too few for plain
/// `NAME=value` lines, however deep in if/case they sit.
fn assignment_candidates(text: &str) -> Vec<String> {
    const MAX: usize = 256;
    let s = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    for i in 0..s.len() {
        let at_word_start = i == 0 || b" \t\r\n;(){&|`".contains(&s[i - 1]);
        if !at_word_start || !(s[i].is_ascii_alphabetic() || s[i] == b'_') {
            continue;
        }
        let n = s[i..].iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_').count();
        if s.get(i + n) == Some(&b'=') {
            let name = String::from_utf8_lossy(&s[i..i + n]).into_owned();
            if !KNOWN_VARIABLES.contains(&name.as_str()) && !out.contains(&name) && out.len() < MAX {
                out.push(name);
            }
        }
    }
    out
}

/// A known variable within two typing mistakes of `name`, for the warning.
fn similar_known(name: &str) -> Option<&'static str> {
    fn distance(a: &[u8], b: &[u8]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut cur = alloc::vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(!ca.eq_ignore_ascii_case(cb));
                cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    KNOWN_VARIABLES
        .iter()
        .map(|k| (distance(name.as_bytes(), k.as_bytes()), *k))
        .filter(|&(d, k)| d <= 2 && d < k.len() / 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

// ---------------------------------------------------------------------------------
// Checking the values
// ---------------------------------------------------------------------------------

/// Turn the variables into a `VserverConf`, stopping at the first bad value.
fn build(path: &str, vars: &Vars, text: &str, warnings: &mut Vec<Warning>) -> Result<VserverConf, ConfError> {
    let get = |name: &str| lookup(vars, name).map(str::trim).filter(|v| !v.is_empty());
    let bad = |var: &'static str, value: &str, why: &str| ConfError::Value {
        path: path.to_owned(),
        var,
        value: value.to_owned(),
        why: why.to_owned(),
    };
    let mut c = VserverConf { description: description(text), ..VserverConf::default() };

    if let Some(v) = get("IPROOT") {
        c.iproot = parse_iproot(v).map_err(|(piece, why)| bad("IPROOT", piece, &why))?;
    }
    if let Some(v) = get("IPROOTDEV") {
        if !is_ifname(v) {
            return Err(bad("IPROOTDEV", v, "is not a network device name"));
        }
        c.iprootdev = Some(v.to_owned());
    }
    if let Some(v) = get("IPROOTMASK") {
        c.iprootmask = Some(parse_mask(v).ok_or_else(|| bad("IPROOTMASK", v, NOT_A_MASK))?);
    }
    if let Some(v) = get("IPROOTBCAST") {
        c.iprootbcast = Some(parse_ipv4(v).ok_or_else(|| bad("IPROOTBCAST", v, NOT_AN_ADDRESS))?);
    }
    match get("ONBOOT") {
        None | Some("no") => {}
        Some("yes") => c.onboot = true,
        Some(v) => warnings.push(Warning {
            path: path.to_owned(),
            kind: WarningKind::NotYesOrNo { var: "ONBOOT", value: v.to_owned() },
        }),
    }
    if let Some(v) = get("PRIORITY") {
        c.priority = v.parse().map_err(|_| bad("PRIORITY", v, "is not a number"))?;
    }
    if let Some(v) = get("S_CAPS") {
        for word in v.split_ascii_whitespace() {
            let (remove, name) = match word.strip_prefix('!') {
                Some(n) => (true, n),
                None => (false, word),
            };
            let cap = parse_cap(name).ok_or_else(|| bad("S_CAPS", word, "is not a capability (CAP_X keeps one, !CAP_X removes one)"))?;
            if remove {
                c.caps_remove = c.caps_remove.union(CapSet::bit(cap));
            } else {
                c.caps_keep = c.caps_keep.union(CapSet::bit(cap));
            }
        }
    }
    if let Some(v) = get("S_CONTEXT") {
        let n = v.parse::<u32>().ok().filter(|n| (2..=65535).contains(n) && v.bytes().all(|b| b.is_ascii_digit()));
        c.context = Some(n.ok_or_else(|| bad("S_CONTEXT", v, "is not a context number (2 to 65535)"))?);
    }
    if let Some(v) = get("S_DOMAINNAME") {
        check_uts_name(v).map_err(|why| bad("S_DOMAINNAME", v, why))?;
        c.domainname = Some(v.to_owned());
    }
    if let Some(v) = get("S_HOSTNAME") {
        check_uts_name(v).map_err(|why| bad("S_HOSTNAME", v, why))?;
        c.hostname = Some(v.to_owned());
    }
    if let Some(v) = get("S_NICE") {
        let n = parse_signed(v).filter(|n| (-20..=19).contains(n));
        c.nice = Some(n.ok_or_else(|| bad("S_NICE", v, "is not a niceness increment (-20 to 19)"))?);
    }
    if let Some(v) = get("S_FLAGS") {
        for word in v.split(|ch: char| ch.is_ascii_whitespace() || ch == ',').filter(|w| !w.is_empty()) {
            let f = Flags::parse_conf(word).ok_or_else(|| {
                bad("S_FLAGS", word, "is not a flag (lock sched nproc private fakeinit hideinfo ulimit namespace minit)")
            })?;
            c.flags = c.flags.with(f);
        }
    }
    if let Some(v) = get("ULIMIT") {
        c.ulimits = parse_ulimit(v).map_err(|(piece, why)| bad("ULIMIT", &piece, &why))?;
    }
    c.profile = get("PROFILE").map(str::to_owned);
    Ok(c)
}

const NOT_AN_ADDRESS: &str = "is not an IPv4 address";
const NOT_A_MASK: &str = "is not a netmask (a dotted mask like 255.255.255.0, or 0 to 32)";

/// The `# Description:` comment line, if any.
fn description(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix('#')?.trim_start();
        let head = rest.get(..12)?;
        head.eq_ignore_ascii_case("description:").then(|| rest[12..].trim().to_owned())
    })
    .filter(|d| !d.is_empty())
}

/// IPROOT's words; on error, the offending piece and why.
fn parse_iproot(v: &str) -> Result<IpRoot, (&str, String)> {
    let words: Vec<&str> = v.split_ascii_whitespace().collect();
    match words.as_slice() {
        [] | ["0.0.0.0"] => return Ok(IpRoot::Untied),
        ["ALL"] => return Ok(IpRoot::All),
        _ => {}
    }
    let mut list = Vec::new();
    for &word in &words {
        if word == "ALL" || word == "0.0.0.0" {
            return Err((v, format!("mixes {word} with addresses ({word} stands alone)")));
        }
        let (dev, rest) = match word.split_once(':') {
            Some((d, r)) => (Some(d), r),
            None => (None, word),
        };
        if dev.is_some_and(|d| !is_ifname(d)) {
            return Err((word, "does not start with a network device name (dev:ip)".to_owned()));
        }
        let (ip, mask) = match rest.split_once('/') {
            Some((i, m)) => (i, Some(m)),
            None => (rest, None),
        };
        let addr = parse_ipv4(ip).ok_or((ip, NOT_AN_ADDRESS.to_owned()))?;
        let prefix = match mask {
            Some(m) => Some(parse_mask(m).ok_or((word, format!("has a bad mask: {NOT_A_MASK}")))?),
            None => None,
        };
        list.push(IpEntry { dev: dev.map(str::to_owned), addr, prefix });
    }
    Ok(IpRoot::List(list))
}

/// A dotted quad, as the octets IPROOT entries keep (ipv4root's parser).
pub fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    crate::engine::network::ipv4root::parse_ipv4(s).ok().map(|a| a.octets())
}

/// A netmask as a prefix length: `0`..`32`, or a dotted mask with contiguous ones
/// (ipv4root's parser).
pub fn parse_mask(s: &str) -> Option<u8> {
    crate::engine::network::ipv4root::parse_mask(s).ok().map(|m| u32::from(m).leading_ones() as u8)
}

/// What the kernel accepts as an interface name (IFNAMSIZ less the NUL).
fn is_ifname(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

/// Host and domain names go into 65-byte utsname fields.
fn check_uts_name(s: &str) -> Result<(), &'static str> {
    if s.len() > 64 {
        return Err("is longer than 64 bytes");
    }
    if s.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err("contains blanks or control characters");
    }
    Ok(())
}

fn parse_signed(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------------------
// ULIMIT, as bash's `ulimit` builtin reads its arguments
// ---------------------------------------------------------------------------------

/// The resource options of `ulimit`: letter, resource, the unit a value counts in
/// (bytes per unit; -c and -f count 512-byte blocks, as sh in POSIX mode does).
/// `-p` (pipe size) can be asked but never set.
type UlimitOption = (char, Option<Resource>, u64);
const ULIMIT_OPTIONS: [UlimitOption; 16] = [
    ('c', Some(Resource::Core), 512),
    ('d', Some(Resource::Data), 1024),
    ('e', Some(Resource::Nice), 1),
    ('f', Some(Resource::Fsize), 512),
    ('i', Some(Resource::Sigpending), 1),
    ('l', Some(Resource::Memlock), 1024),
    ('m', Some(Resource::Rss), 1024),
    ('n', Some(Resource::Nofile), 1),
    ('p', None, 512),
    ('q', Some(Resource::Msgqueue), 1),
    ('r', Some(Resource::Rtprio), 1),
    ('s', Some(Resource::Stack), 1024),
    ('t', Some(Resource::Cpu), 1),
    ('u', Some(Resource::Nproc), 1),
    ('v', Some(Resource::As), 1024),
    ('x', Some(Resource::Locks), 1),
];

fn ulimit_option(c: char) -> Option<UlimitOption> {
    ULIMIT_OPTIONS.iter().copied().find(|o| o.0 == c)
}

/// The setrlimit calls `ulimit $ULIMIT` makes, or the offending piece and why it
/// would fail. As in bash: `-H`/`-S` apply to the whole line (neither or both: both
/// limits); every resource option takes the rest of its word or, if that is empty,
/// the next word unless it starts with `-`; a trailing operand goes to the last
/// option that has none; no option at all means `-f`; an option without a value only
/// asks, and so does `-a`. Values are decimal numbers in the option's unit, or
/// `unlimited`. Unlike bash (like dash), a leftover operand is an error rather than
/// ignored, and bash's `hard`/`soft` values are not taken.
pub fn parse_ulimit(v: &str) -> Result<Vec<Ulimit>, (String, String)> {
    let words: Vec<&str> = v.split_ascii_whitespace().collect();
    let (mut soft, mut hard, mut all) = (false, false, false);
    let mut cmds: Vec<(UlimitOption, Option<&str>)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') || w == "-" {
            break;
        }
        for (j, c) in w[1..].char_indices() {
            match c {
                'H' => hard = true,
                'S' => soft = true,
                'a' => all = true,
                c if let Some(opt) = ulimit_option(c) => {
                    let rest = &w[1 + j + c.len_utf8()..];
                    let arg = if !rest.is_empty() {
                        Some(rest)
                    } else if words.get(i + 1).is_some_and(|n| !n.starts_with('-')) {
                        i += 1;
                        Some(words[i])
                    } else {
                        None
                    };
                    cmds.push((opt, arg));
                    break;
                }
                c => {
                    return Err((
                        format!("-{c}"),
                        "is not an option of ulimit (-H -S -a -c -d -e -f -i -l -m -n -p -q -r -s -t -u -v -x)".to_owned(),
                    ));
                }
            }
        }
        i += 1;
    }
    let mut operands = words[i.min(words.len())..].iter().copied();
    if all {
        return Ok(Vec::new());
    }
    if cmds.is_empty() {
        cmds.push((('f', Some(Resource::Fsize), 512), operands.next()));
    }
    if let Some(last) = cmds.last_mut().filter(|c| c.1.is_none()) {
        last.1 = operands.next();
    }
    // Checked after the values, so that the message is about the first thing bash
    // would stumble on.
    let extra = operands.next();
    let which = match (soft, hard) {
        (true, false) => LimitKind::Soft,
        (false, true) => LimitKind::Hard,
        _ => LimitKind::Both,
    };
    let mut out = Vec::new();
    for ((option, resource, unit), arg) in cmds {
        let Some(arg) = arg else { continue };
        let Some(resource) = resource else {
            return Err((format!("-{option} {arg}"), "asks to change the pipe size, which cannot be changed".to_owned()));
        };
        let value = if arg == "unlimited" {
            None
        } else {
            if !arg.bytes().all(|b| b.is_ascii_digit()) {
                return Err((arg.to_owned(), format!("is not a number or 'unlimited' (for ulimit -{option})")));
            }
            let n: u64 = arg.parse().map_err(|_| (arg.to_owned(), "is too large".to_owned()))?;
            Some(n.checked_mul(unit).ok_or_else(|| (arg.to_owned(), "is too large".to_owned()))?)
        };
        out.push(Ulimit { option, resource, which, value });
    }
    if let Some(extra) = extra {
        return Err((extra.to_owned(), "is one argument too many for ulimit".to_owned()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// The build template, and the boot order
// ---------------------------------------------------------------------------------

/// The commented conf `vserver NAME build` writes (util-vserver's template, plain
/// assignments only so that it is read without a shell).
pub fn render_template(name: &str, root: &str) -> String {
    let hostname = sh_quote(name);
    format!(
        r#"# Description: vserver {name}
#
# The configuration of the vserver {name}, read by `vserver {name} start` and the
# other vserver commands. Its root is {root}.
# It is a shell fragment, as with util-vserver: plain VAR=value lines are read as
# they are; a file with shell logic (if, case $PROFILE, ...) is run by /bin/sh.
# It must be owned by root and writable by root only.

# The vserver's IPv4 addresses: space-separated [dev:]ip[/mask] entries, such as
# "eth0:192.0.2.10/24 192.0.2.11". Its programs can bind to these only.
# Empty or 0.0.0.0: no restriction. ALL: every address the host has.
# Replace the example address below.
IPROOT=192.0.2.1
# The device on which each address becomes an alias at start (removed at stop).
# Leave it empty when the addresses already exist on the host.
IPROOTDEV=
# The netmask and broadcast of those aliases. A /mask in IPROOT wins; the
# default is /24.
IPROOTMASK=
IPROOTBCAST=

# Start this vserver at boot (vserver --onboot start). Lower PRIORITY starts
# first and stops last.
#ONBOOT=yes
PRIORITY=100

# The host name and NIS domain name inside (empty: keep the host's; the domain
# name none clears it).
S_HOSTNAME={hostname}
S_DOMAINNAME=

# A niceness increment for every process of the vserver (-20 to 19).
S_NICE=

# Context flags: lock sched nproc private fakeinit hideinfo ulimit namespace,
# and minit.
#   lock      the vserver cannot create or enter other contexts
#   nproc     the ulimit -u below limits the whole vserver, not each user
#   fakeinit  /sbin/init runs as the vserver's process 1
S_FLAGS="lock nproc"

# Limits, as arguments of the shell's ulimit: -H hard, -S soft, -u processes,
# -n open files, -v virtual memory (KiB) ...
ULIMIT="-H -u 1000"

# Capabilities. A vserver runs without the dangerous ones, so root inside cannot
# take over the host. CAP_X gives one back (CAP_NET_RAW for ping); !CAP_X takes
# one more away (!CAP_SYS_CHROOT also stops the chroot into /vservers/{name}).
S_CAPS=""

# A fixed context number (2 to 65535); unset, a free one is picked at start.
#S_CONTEXT=

# Per-profile settings (PROFILE=backup vserver {name} start) need shell logic:
#   case $PROFILE in backup) IPROOT=192.0.2.2 ;; esac
"#
    )
}

/// `s` as one shell word.
fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+@%/:,".contains(&b)) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The vservers to start at boot: every `NAME.conf` in `confdir` with ONBOOT=yes, as
/// `(PRIORITY, NAME)` in start order (PRIORITY, then name). Stopping goes in reverse.
/// Confs that cannot be read come back as errors, one per conf, and are left out.
pub fn list_onboot(confdir: &str) -> (Vec<(i32, String)>, Vec<ConfError>) {
    let mut servers = Vec::new();
    let mut problems = Vec::new();
    let names = match conf_names(confdir) {
        Ok(n) => n,
        Err(errno) => {
            problems.push(ConfError::Read { path: confdir.to_owned(), errno });
            return (servers, problems);
        }
    };
    for name in names {
        let path = format!("{}/{name}.conf", confdir.trim_end_matches('/'));
        match load(&path, &[]) {
            Ok((conf, _)) if conf.onboot => servers.push((conf.priority, name)),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    servers.sort();
    (servers, problems)
}

/// The NAME of every `NAME.conf` in `dir`, sorted (none when it cannot be read).
pub fn list_names(dir: &str) -> Vec<String> {
    conf_names(dir).unwrap_or_default()
}

/// The NAME of every `NAME.conf` in `dir`.
fn conf_names(dir: &str) -> Result<Vec<String>, Errno> {
    let fd = fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let mut names = Vec::new();
    for entry in fs::Dir::new(fd)? {
        let entry = entry?;
        let Ok(file) = entry.file_name().to_str() else { continue };
        if let Some(name) = file.strip_suffix(".conf").filter(|n| !n.is_empty() && !n.starts_with('.')) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const EXAMPLE1: &str = include_str!("../../../config/examples/example1.conf");
    const EXAMPLE2: &str = include_str!("../../../config/examples/example2.conf");

    /// A directory of test confs, removed on drop (failures included).
    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Dir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("vsbox-conf-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        /// Write NAME.conf (mode 0644, owned by us: root when the tests run as root).
        fn conf(&self, name: &str, text: &str) -> String {
            let p = self.0.join(format!("{name}.conf"));
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            p.to_str().unwrap().to_owned()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<(VserverConf, Vec<Warning>), ConfError> {
        let d = Dir::new();
        let p = d.conf("t", text);
        load(&p, env)
    }

    fn ok(text: &str) -> VserverConf {
        let (c, w) = load_text(text, &[]).unwrap();
        assert!(w.is_empty(), "{w:?}");
        c
    }

    /// The error line with the temp path replaced by `F`.
    fn err(text: &str) -> String {
        let d = Dir::new();
        let p = d.conf("t", text);
        load(&p, &[]).unwrap_err().to_string().replace(&p, "F")
    }

    fn one_entry(addr: [u8; 4], prefix: Option<u8>, dev: Option<&str>) -> IpRoot {
        IpRoot::List(vec![IpEntry { dev: dev.map(String::from), addr, prefix }])
    }

    fn plain(text: &str) -> Vars {
        scan(text, &base_vars(&[("PROFILE", "p1")])).expect("a plain conf").0
    }

    fn var(text: &str, name: &str) -> String {
        lookup(&plain(text), name).unwrap_or("<unset>").to_owned()
    }

    #[test]
    fn seed_example_1_is_plain_and_complete() {
        assert!(!uses_shell_logic(EXAMPLE1));
        let c = ok(EXAMPLE1);
        assert_eq!(c.iproot, one_entry([147, 162, 35, 1], None, None));
        assert_eq!(c.iprootmask, Some(24));
        assert_eq!(c.iprootbcast, Some([147, 162, 35, 255]));
        assert_eq!(c.iprootdev.as_deref(), Some("eth0"));
        assert!(!c.onboot);
        assert_eq!(c.hostname.as_deref(), Some("marvin.stat.unipd.it"));
        assert_eq!((c.domainname.clone(), c.nice), (None, None));
        assert_eq!(c.flags, Flags::LOCK.with(Flags::NPROC));
        assert_eq!(c.ulimits, vec![Ulimit { option: 'u', resource: Resource::Nproc, which: LimitKind::Hard, value: Some(1000) }]);
        assert_eq!(c.nproc_limit(), Some(Some(1000)));
        assert_eq!(c.caps_keep, CapSet::bit(13));
        assert_eq!(c.caps_remove, CapSet::EMPTY);
    }

    #[test]
    fn seed_example_2_follows_the_profile() {
        assert!(uses_shell_logic(EXAMPLE2));
        let (prod, w) = load_text(EXAMPLE2, &[]).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(prod.profile.as_deref(), Some("prod"));
        assert_eq!(prod.iproot, one_entry([147, 162, 35, 206], None, None));
        assert_eq!(prod.iprootdev.as_deref(), Some("eth0"));
        assert_eq!((prod.iprootmask, prod.iprootbcast), (Some(24), Some([147, 162, 35, 255])));
        assert_eq!(prod.hostname.as_deref(), Some("db"));
        assert!(prod.onboot);
        assert_eq!(prod.caps_keep, CapSet::bit(13));

        let (backup, w) = load_text(EXAMPLE2, &[("PROFILE", "backup")]).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(backup.profile.as_deref(), Some("backup"));
        assert_eq!(backup.iproot, IpRoot::Untied);
        assert_eq!((backup.hostname, backup.iprootdev), (None, None));
        assert_eq!(backup.flags, prod.flags);
    }

    #[test]
    fn the_slides_misspelt_variables_are_reported() {
        // Example 2 as the slide printed it: IROOT... instead of IPROOT...
        let slide = EXAMPLE2.replace("IPROOT", "IROOT");
        let d = Dir::new();
        let p = d.conf("db", &slide);
        let (c, w) = load(&p, &[]).unwrap();
        assert_eq!(c.iproot, IpRoot::Untied);
        let lines: Vec<String> = w.iter().map(|w| w.to_string().replace(&p, "F")).collect();
        assert_eq!(lines, [
            "unknown variable IROOTDEV in F (did you mean IPROOTDEV?)",
            "unknown variable IROOT in F (did you mean IPROOT?)",
            "unknown variable IROOTMASK in F (did you mean IPROOTMASK?)",
            "unknown variable IROOTBCAST in F (did you mean IPROOTBCAST?)",
        ]);
        // The backup branch sets none of them: no warnings.
        assert!(load(&p, &[("PROFILE", "backup")]).unwrap().1.is_empty());
    }

    #[test]
    fn every_variable() {
        let c = ok(r#"# Description:   the web server  
IPROOT="eth1:10.0.0.5/255.255.255.128 10.0.0.6/16 10.0.0.7"
IPROOTDEV=eth0.5
IPROOTMASK=255.255.0.0
IPROOTBCAST=10.0.255.255
ONBOOT=yes
PRIORITY=-20
S_CAPS="CAP_NET_RAW sys_time !CAP_SYS_CHROOT !13"
S_CONTEXT=49151
S_DOMAINNAME=none
S_HOSTNAME=web.example.org
S_NICE=-5
S_FLAGS="lock,sched nproc private fakeinit hideinfo ulimit namespace MINIT"
ULIMIT="-HS -n 4096 -v unlimited -c 2"
PROFILE=prod
"#);
        assert_eq!(c.description.as_deref(), Some("the web server"));
        assert_eq!(
            c.iproot,
            IpRoot::List(vec![
                IpEntry { dev: Some("eth1".into()), addr: [10, 0, 0, 5], prefix: Some(25) },
                IpEntry { dev: None, addr: [10, 0, 0, 6], prefix: Some(16) },
                IpEntry { dev: None, addr: [10, 0, 0, 7], prefix: None },
            ])
        );
        let IpRoot::List(l) = &c.iproot else { unreachable!() };
        assert_eq!([c.prefix_of(&l[0]), c.prefix_of(&l[2])], [25, 16]);
        assert_eq!(c.iprootdev.as_deref(), Some("eth0.5"));
        assert_eq!((c.iprootmask, c.iprootbcast), (Some(16), Some([10, 0, 255, 255])));
        assert_eq!((c.onboot, c.priority), (true, -20));
        assert_eq!(c.caps_keep, CapSet::bit(13).union(CapSet::bit(25)));
        assert_eq!(c.caps_remove, CapSet::bit(18).union(CapSet::bit(13)));
        assert!(c.nochroot());
        assert_eq!(c.context, Some(49151));
        assert_eq!(c.domainname.as_deref(), Some("none"));
        assert_eq!(c.hostname.as_deref(), Some("web.example.org"));
        assert_eq!(c.nice, Some(-5));
        assert_eq!(c.flags.0, 0xff | Flags::MINIT.0);
        assert_eq!(
            c.ulimits,
            vec![
                Ulimit { option: 'n', resource: Resource::Nofile, which: LimitKind::Both, value: Some(4096) },
                Ulimit { option: 'v', resource: Resource::As, which: LimitKind::Both, value: None },
                Ulimit { option: 'c', resource: Resource::Core, which: LimitKind::Both, value: Some(1024) },
            ]
        );
        assert_eq!(c.nproc_limit(), None);
        assert_eq!(c.profile.as_deref(), Some("prod"));
        // Nothing set: every default.
        assert_eq!(ok("# nothing\n\n"), VserverConf::default());
        assert_eq!(ok("IPROOT=0.0.0.0\nPRIORITY=").iproot, IpRoot::Untied);
        assert_eq!(ok("IPROOT=' ALL '").iproot, IpRoot::All);
        assert!(!ok("ONBOOT=no").onboot);
    }

    #[test]
    fn quoting_and_expansion_mean_what_sh_says() {
        let cases: &[(&str, &str)] = &[
            ("X=plain", "plain"),
            ("X='single $PROFILE \\ \"q\"'", "single $PROFILE \\ \"q\""),
            ("X=\"double $PROFILE ${PROFILE}x \\$ \\\\ \\\" \\a\"", "double p1 p1x $ \\ \" \\a"),
            ("X=a\\ b\\'c\\\\", "a b'c\\"),
            ("X=\"multi\nline\"", "multi\nline"),
            ("X=con\\\ntinued", "continued"),
            ("X=a'b'\"c\"d", "abcd"),
            ("X=$PROFILE-$UNSET-end", "p1--end"),
            ("X=${PROFILE}_1 Y=$X", "p1_1"),
            ("A=1 B=$A\nX=$B$A", "11"),
            ("X=cost$ X=$X. #comment", "cost$."),
            ("X=a#b", "a#b"),
            ("X=*?[ab]", "*?[ab]"),
            ("export X=exported", "exported"),
            ("X=1; export X", "1"),
            ("X=", ""),
            ("X='' # empty", ""),
            ("X=$PATH", EVAL_PATH),
            ("  X=indented  ", "indented"),
        ];
        for (text, want) in cases {
            assert_eq!(var(text, "X"), *want, "{text}");
        }
        let (_, assigned) = scan("A=1\nexport B=2 C\nA=3", &[]).unwrap();
        assert_eq!(assigned, ["A", "B"]);
    }

    #[test]
    fn shell_logic_is_detected() {
        let shell = [
            "if [ -z \"$PROFILE\" ]; then PROFILE=prod; fi",
            "case $PROFILE in a) X=1;; esac",
            "X=$(hostname)",
            "X=`hostname`",
            "X=\"`hostname`\"",
            "X=$((1+2))",
            "X=${PROFILE:-prod}",
            "X=${#PROFILE}",
            "X=$1",
            "X=$$",
            "[ -n \"$X\" ] && X=1",
            "X=1 || true",
            "X=1 | cat",
            "X=1 > /tmp/x",
            "for i in 1 2; do X=$i; done",
            "while false; do :; done",
            "f() { X=1; }",
            "{ X=1; }",
            ". /etc/vservers/common.conf",
            "echo hello",
            "X=1 true",
            "X=~/dir",
            "X=$'ansi'",
            "export -n X",
            "export X=$PROFILE",
            "export X=\"$PROFILE\"",
            "export X=*",
            "unset X",
            "X='unterminated",
            "X=\"unterminated",
            "; X=1",
            "X=1;;",
        ];
        for text in shell {
            assert!(uses_shell_logic(text), "{text}");
        }
        for text in ["", "#!/bin/sh\n# only comments", "X=1; Y=2", "export X=1 Y", "X=\"$PROFILE\"", EXAMPLE1] {
            assert!(!uses_shell_logic(text), "{text}");
        }
    }

    #[test]
    fn shell_evaluation_reads_every_value_exactly() {
        let (c, w) = load_text(
            "echo noise on stdout\n\
             NAME=$(echo web)\n\
             if [ \"$PROFILE\" = test ]; then S_HOSTNAME=\"$NAME.test\"; else S_HOSTNAME=$NAME; fi\n\
             # Description: evaluated\n\
             S_FLAGS=\"$(printf 'lock\\nnproc')\"\n\
             IPROOT=\"${IP:-10.1.2.3}\"\n",
            &[("PROFILE", "test")],
        )
        .unwrap();
        assert_eq!(c.hostname.as_deref(), Some("web.test"));
        assert_eq!(c.flags, Flags::LOCK.with(Flags::NPROC));
        assert_eq!(c.iproot, one_entry([10, 1, 2, 3], None, None));
        assert_eq!(c.profile.as_deref(), Some("test"));
        assert_eq!(c.description.as_deref(), Some("evaluated"));
        let w: Vec<String> = w.iter().map(|w| match &w.kind {
            WarningKind::UnknownVariable { name, .. } => name.clone(),
            k => format!("{k:?}"),
        }).collect();
        assert_eq!(w, ["ShellSaid(\"noise on stdout\")", "NAME"]);
        // The environment is clean: nothing of ours leaks in.
        let (c, _) = load_text("S_HOSTNAME=\"h${HOME}${USER}$(env | grep -vc '^PATH=\\|^PWD=\\|^PROFILE=\\|^SHLVL=\\|^_=')\"; true", &[("PROFILE", "x")]).unwrap();
        assert_eq!(c.hostname.as_deref(), Some("h0"));
    }

    #[test]
    fn shell_failures_are_one_line() {
        let e = err("if true; then\nS_HOSTNAME=x\n");
        assert!(e.starts_with("F: /bin/sh cannot evaluate it: "), "{e}");
        assert!(e.contains("Syntax error") && !e.contains('\n'), "{e}");
        let e = err("S_HOSTNAME=x; exit 0");
        assert_eq!(e, "F: /bin/sh cannot evaluate it: it stopped before its end (exit status 0; does it call exit?)");
        let e = err("echo bad thing >&2; exit 3");
        assert_eq!(e, "F: /bin/sh cannot evaluate it: bad thing");
    }

    #[test]
    fn malformed_values_stop_with_one_line() {
        let cases = [
            ("IPROOT=1.2.3.999", "F: IPROOT: '1.2.3.999' is not an IPv4 address"),
            ("IPROOT='1.2.3.4 eth0:1.2.3'", "F: IPROOT: '1.2.3' is not an IPv4 address"),
            ("IPROOT=1.2.3.4/33", "F: IPROOT: '1.2.3.4/33' has a bad mask: is not a netmask (a dotted mask like 255.255.255.0, or 0 to 32)"),
            ("IPROOT=1.2.3.4/255.0.255.0", "F: IPROOT: '1.2.3.4/255.0.255.0' has a bad mask: is not a netmask (a dotted mask like 255.255.255.0, or 0 to 32)"),
            ("IPROOT=a/b:1.2.3.4", "F: IPROOT: 'a/b:1.2.3.4' does not start with a network device name (dev:ip)"),
            ("IPROOT='ALL 1.2.3.4'", "F: IPROOT: 'ALL 1.2.3.4' mixes ALL with addresses (ALL stands alone)"),
            ("IPROOTDEV=averyveryverylongname", "F: IPROOTDEV: 'averyveryverylongname' is not a network device name"),
            ("IPROOTMASK=255.255.0.255", "F: IPROOTMASK: '255.255.0.255' is not a netmask (a dotted mask like 255.255.255.0, or 0 to 32)"),
            ("IPROOTBCAST=1.2.3", "F: IPROOTBCAST: '1.2.3' is not an IPv4 address"),
            ("PRIORITY=high", "F: PRIORITY: 'high' is not a number"),
            ("S_CAPS='CAP_NET_RAW CAP_FOO'", "F: S_CAPS: 'CAP_FOO' is not a capability (CAP_X keeps one, !CAP_X removes one)"),
            ("S_CAPS='!'", "F: S_CAPS: '!' is not a capability (CAP_X keeps one, !CAP_X removes one)"),
            ("S_CONTEXT=1", "F: S_CONTEXT: '1' is not a context number (2 to 65535)"),
            ("S_CONTEXT=65536", "F: S_CONTEXT: '65536' is not a context number (2 to 65535)"),
            ("S_CONTEXT=+5", "F: S_CONTEXT: '+5' is not a context number (2 to 65535)"),
            ("S_HOSTNAME='a b'", "F: S_HOSTNAME: 'a b' contains blanks or control characters"),
            ("S_NICE=-21", "F: S_NICE: '-21' is not a niceness increment (-20 to 19)"),
            ("S_NICE=5x", "F: S_NICE: '5x' is not a niceness increment (-20 to 19)"),
            ("S_FLAGS='lock fast'", "F: S_FLAGS: 'fast' is not a flag (lock sched nproc private fakeinit hideinfo ulimit namespace minit)"),
            ("ULIMIT='-H -z 5'", "F: ULIMIT: '-z' is not an option of ulimit (-H -S -a -c -d -e -f -i -l -m -n -p -q -r -s -t -u -v -x)"),
            ("ULIMIT='-u 1k'", "F: ULIMIT: '1k' is not a number or 'unlimited' (for ulimit -u)"),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text}");
        }
        let long = format!("S_HOSTNAME={}", "a".repeat(65));
        assert!(err(&long).ends_with("' is longer than 64 bytes"));
        let (_, w) = load_text("ONBOOT=true", &[]).unwrap();
        assert_eq!(w[0].kind, WarningKind::NotYesOrNo { var: "ONBOOT", value: "true".into() });
    }

    #[test]
    fn ulimit_accepts_what_bash_accepts() {
        use LimitKind::*;
        let u = |option, resource, which, value| Ulimit { option, resource, which, value };
        let accept: &[(&str, &[Ulimit])] = &[
            ("-H -u 1000", &[u('u', Resource::Nproc, Hard, Some(1000))]),
            ("-HS -u 1000", &[u('u', Resource::Nproc, Both, Some(1000))]),
            ("-S -u 10 -n 20", &[u('u', Resource::Nproc, Soft, Some(10)), u('n', Resource::Nofile, Soft, Some(20))]),
            ("-Hu1000", &[u('u', Resource::Nproc, Hard, Some(1000))]),
            ("-n -u 5", &[u('u', Resource::Nproc, Both, Some(5))]),
            ("-n 5 -u", &[u('n', Resource::Nofile, Both, Some(5))]),
            ("-n 010", &[u('n', Resource::Nofile, Both, Some(10))]),
            ("100", &[u('f', Resource::Fsize, Both, Some(51200))]),
            ("-S unlimited", &[u('f', Resource::Fsize, Soft, None)]),
            ("-t 60 -u", &[u('t', Resource::Cpu, Both, Some(60))]),
            ("-s 8192 -d 1 -l 2 -m 3 -v 4", &[
                u('s', Resource::Stack, Both, Some(8192 * 1024)),
                u('d', Resource::Data, Both, Some(1024)),
                u('l', Resource::Memlock, Both, Some(2048)),
                u('m', Resource::Rss, Both, Some(3072)),
                u('v', Resource::As, Both, Some(4096)),
            ]),
            ("-e 10 -i 11 -q 12 -r 13 -x 14", &[
                u('e', Resource::Nice, Both, Some(10)),
                u('i', Resource::Sigpending, Both, Some(11)),
                u('q', Resource::Msgqueue, Both, Some(12)),
                u('r', Resource::Rtprio, Both, Some(13)),
                u('x', Resource::Locks, Both, Some(14)),
            ]),
            ("-c 0 -H", &[u('c', Resource::Core, Hard, Some(0))]),
            ("-u", &[]),
            ("-p", &[]),
            ("-a", &[]),
            ("-a -u 5", &[]),
            ("", &[]),
        ];
        for (text, want) in accept {
            assert_eq!(parse_ulimit(text).as_deref(), Ok(*want), "{text}");
        }
        let reject: &[(&str, &str)] = &[
            ("-z", "-z"),
            ("-u 5 -Q", "-Q"),
            ("-n -5", "-5"),
            ("-u 1k", "1k"),
            ("-u -1", "-1"),
            ("-u hard", "hard"),
            ("-nu 5", "u"),
            ("-n 5 extra", "extra"),
            ("-u 1 2 3", "2"),
            ("-u -n 5 7", "7"),
            ("-p 8", "-p 8"),
            ("-v 99999999999999999999", "99999999999999999999"),
            ("-v 18014398509481984", "18014398509481984"),
            ("-- -n 5", "-n"),
        ];
        for (text, piece) in reject {
            assert_eq!(parse_ulimit(text).map_err(|e| e.0).unwrap_err(), *piece, "{text}");
        }
    }

    #[test]
    fn unsafe_confs_are_refused() {
        let d = Dir::new();
        let p = d.conf("w", "S_HOSTNAME=x\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(load(&p, &[]).unwrap_err().to_string(), format!("{p}: refusing it: group or others may write it (mode 0664; chmod go-w {p})"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(&p, &[]).is_ok());
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&p, Some(1000), Some(1000)).unwrap();
            assert_eq!(load(&p, &[]).unwrap_err().to_string(), format!("{p}: refusing it: it is owned by uid 1000, not root (chown root {p})"));
        }
        let dir = d.0.to_str().unwrap();
        assert!(matches!(load(dir, &[]), Err(ConfError::Refused { .. })));
        let missing = format!("{dir}/missing.conf");
        assert_eq!(load(&missing, &[]), Err(ConfError::Read { path: missing.clone(), errno: Errno::NOENT }));
        assert_eq!(load(&missing, &[]).unwrap_err().to_string(), format!("{missing}: cannot read it: No such file or directory"));
    }

    #[test]
    fn the_template_is_a_clean_conf() {
        let c = ok(&render_template("web", "/vservers/web"));
        assert_eq!(c.description.as_deref(), Some("vserver web"));
        assert_eq!(c.hostname.as_deref(), Some("web"));
        assert_eq!(c.iproot, one_entry([192, 0, 2, 1], None, None));
        assert_eq!(c.flags, Flags::LOCK.with(Flags::NPROC));
        assert_eq!(c.nproc_limit(), Some(Some(1000)));
        assert!(!c.onboot && c.caps_keep.is_empty() && c.context.is_none());
        assert!(!uses_shell_logic(&render_template("a'b $c", "/vservers/x")));
        assert_eq!(ok(&render_template("a'b$c", "/vservers/x")).hostname.as_deref(), Some("a'b$c"));
    }

    #[test]
    fn onboot_order_is_priority_then_name() {
        let d = Dir::new();
        d.conf("zeta", "ONBOOT=yes\n");
        d.conf("alpha", "ONBOOT=yes\n");
        d.conf("db", "ONBOOT=yes\nPRIORITY=10\n");
        d.conf("late", "ONBOOT=yes\nPRIORITY=200\n");
        d.conf("off", "ONBOOT=no\nPRIORITY=1\n");
        d.conf("shell", "if true; then ONBOOT=yes; PRIORITY=50; fi\n");
        d.conf("broken", "ONBOOT=yes\nS_CONTEXT=0\n");
        std::fs::write(d.0.join("notes.txt"), "ONBOOT=yes").unwrap();
        let (list, problems) = list_onboot(d.0.to_str().unwrap());
        let names: Vec<(i32, &str)> = list.iter().map(|(p, n)| (*p, n.as_str())).collect();
        assert_eq!(names, [(10, "db"), (50, "shell"), (100, "alpha"), (100, "zeta"), (200, "late")]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().ends_with("broken.conf: S_CONTEXT: '0' is not a context number (2 to 65535)"));
        let (list, problems) = list_onboot("/nonexistent-vsbox-dir");
        assert!(list.is_empty() && matches!(problems[..], [ConfError::Read { errno: Errno::NOENT, .. }]));
    }
}
