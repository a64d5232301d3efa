/*
 * fakevs: a fake Linux-VServer kernel, for the tests of vsbox's legacy backend.
 *
 *   fakevs [--log FILE] [--state FILE] [--version HEX] [--vci HEX] [--compat]
 *          [--cap-context N] -- COMMAND [ARG...]
 *
 * COMMAND runs under a seccomp filter that turns sys_vserver (236 on x86_64)
 * into user notifications (SECCOMP_RET_USER_NOTIF); fakevs answers each one from
 * a state machine holding vs2.3.0.36's semantics (kernel/vserver/switch.c,
 * context.c, network.c, signal.c, cvirt.c of the vs2.3.0.36.29.6 tree), reading
 * and writing the caller's data through process_vm_readv/writev. The filter is
 * inherited, so every descendant of COMMAND lives on the same "kernel".
 *
 * What is real: the answers and the data written back; ctx_kill sends real
 * signals; set_vhi_name really renames the UTS namespace the context was given
 * with set_space (never the host's: that is refused with EINVAL);
 * prctl(PR_CAPBSET_DROP) is refused (EPERM) where the context's bcaps withhold
 * CAP_SETPCAP, as vs2.3 does (the kernel starts every context without it), and
 * runs for real otherwise.
 * What is modelled: which task is in which context (forks are not seen: a task
 * is in the context of its nearest recorded ancestor, and when a task moves, its
 * descendants are recorded where they were), and capabilities: a task holds a
 * capability when its CapEff has it (for bits the mainline kernel has) and its
 * context's bcaps have it, unless the context is in its setup state
 * (security/commoncap.c's special case). CAP_CONTEXT is bit 63 by
 * default (the 3.x/4.x layout), or 34 (--cap-context 34, the 2.6.32 layout,
 * then checked in CapEff too). CAP_SYS_RESOURCE, which switch.c requires for
 * admin commands, is checked only when fakevs itself holds it (the test machine
 * withholds it even from root).
 * With --compat the vs2.0/2.2 compat commands new_s_context and set_ipv4root
 * exist (a CONFIG_VSERVER_LEGACY kernel); without, they are ENOSYS as on vs2.3.
 *
 * --log FILE: one line per call: pid, cmd, id, details, result.
 * --state FILE: the contexts and network contexts, rewritten after every change.
 * The command gets FAKEVS_PID and FAKEVS_STATE in its environment.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define VC_CMD(c, i, v) ((((c) & 0x3F) << 24) | (((i) & 0xFF) << 16) | ((v) & 0xFFF))

#define VCMD_get_version VC_CMD(0, 0, 0)
#define VCMD_get_vci VC_CMD(0, 1, 0)
#define VCMD_set_vhi_name VC_CMD(2, 1, 0)
#define VCMD_get_vhi_name VC_CMD(2, 2, 0)
#define VCMD_ctx_create_v0 VC_CMD(9, 1, 0)
#define VCMD_ctx_create VC_CMD(9, 1, 1)
#define VCMD_set_space_v1 VC_CMD(10, 3, 1)
#define VCMD_ctx_migrate_v0 VC_CMD(11, 1, 0)
#define VCMD_ctx_migrate VC_CMD(11, 1, 1)
#define VCMD_ctx_kill VC_CMD(12, 1, 0)
#define VCMD_net_create_v0 VC_CMD(25, 1, 0)
#define VCMD_net_create VC_CMD(25, 1, 1)
#define VCMD_net_add VC_CMD(26, 1, 0)
#define VCMD_net_add_ipv4_v1 VC_CMD(26, 1, 1)
#define VCMD_net_add_ipv4 VC_CMD(26, 1, 2)
#define VCMD_net_migrate VC_CMD(27, 1, 0)
#define VCMD_ctx_stat VC_CMD(40, 0, 0)
#define VCMD_task_xid VC_CMD(46, 1, 0)
#define VCMD_task_nid VC_CMD(46, 2, 0)
#define VCMD_vx_info VC_CMD(46, 5, 0)
#define VCMD_nx_info VC_CMD(46, 6, 0)
#define VCMD_get_cflags VC_CMD(52, 1, 0)
#define VCMD_set_cflags VC_CMD(52, 2, 0)
#define VCMD_get_ccaps VC_CMD(52, 3, 1)
#define VCMD_set_ccaps VC_CMD(52, 4, 1)
#define VCMD_get_nflags VC_CMD(52, 5, 0)
#define VCMD_set_nflags VC_CMD(52, 6, 0)
#define VCMD_get_bcaps VC_CMD(52, 9, 0)
#define VCMD_set_bcaps VC_CMD(52, 10, 0)
#define VCMD_get_rlimit VC_CMD(60, 1, 0)
#define VCMD_set_rlimit VC_CMD(60, 2, 0)
#define VCMD_new_s_context VC_CMD(63, 1, 1)
#define VCMD_set_ipv4root VC_CMD(63, 2, 3)

#define VXF_INFO_PRIVATE 0x8ULL
#define VXF_INFO_INIT 0x10ULL
#define VXF_STATE_SETUP (1ULL << 32)
#define VXF_STATE_INIT (1ULL << 33)
#define VXF_STATE_ADMIN (1ULL << 34)
#define VXF_PERSISTENT (1ULL << 38)
#define VXF_ONE_TIME (0x7ULL << 32)
#define VXF_INIT_SET (VXF_STATE_SETUP | VXF_STATE_INIT | VXF_STATE_ADMIN)
#define VXM_SET_INIT 1
#define NXF_HIDE_NETIF 0x02000000ULL
#define NXF_STATE_SETUP (1ULL << 32)
#define NXF_STATE_ADMIN (1ULL << 34)
#define NXF_PERSISTENT (1ULL << 38)
#define NXF_ONE_TIME (0x5ULL << 32)
#define NXF_INIT_SET (NXF_STATE_ADMIN | NXF_HIDE_NETIF)
#define NXA_TYPE_IPV4 0x1
#define NXA_TYPE_ADDR 0x10
#define NXA_TYPE_MASK 0x20
#define NXA_TYPE_RANGE 0x40
#define NXA_MOD_BCAST 0x100
#define NXA_MOD_LBACK 0x200
#define MAX_S_CONTEXT 65535
#define MIN_D_CONTEXT 49152
/* cap_set_init_eff: everything but CAP_SETPCAP (the transcript's get_bcaps). */
#define INIT_BCAPS (~(1ULL << 8))

#define CAP_SETPCAP 8
#define CAP_SYS_ADMIN 21
#define CAP_SYS_RESOURCE 24

/* do_vserver's permission table */
#define VCA_VXI 1
#define VCA_NXI 2
#define VCF_INFO 0x01
#define VCF_ADMIN 0x02
#define VCF_ARES 0x06
#define VCF_SETUP 0x08

struct cmdinfo {
	uint32_t cmd;
	int perm, args, flags;
	const char *name;
};

static const struct cmdinfo CMDS[] = {
	{VCMD_get_version, 0, 0, 0, "get_version"},
	{VCMD_get_vci, 0, 0, 0, "get_vci"},
	{VCMD_task_xid, 2, 0, 0, "task_xid"},
	{VCMD_task_nid, 2, 0, 0, "task_nid"},
	{VCMD_vx_info, 3, VCA_VXI, VCF_INFO, "vx_info"},
	{VCMD_nx_info, 3, VCA_NXI, VCF_INFO, "nx_info"},
	{VCMD_get_bcaps, 3, VCA_VXI, VCF_INFO, "get_bcaps"},
	{VCMD_get_ccaps, 3, VCA_VXI, VCF_INFO, "get_ccaps"},
	{VCMD_get_cflags, 3, VCA_VXI, VCF_INFO, "get_cflags"},
	{VCMD_get_vhi_name, 3, VCA_VXI, VCF_INFO, "get_vhi_name"},
	{VCMD_get_rlimit, 3, VCA_VXI, VCF_INFO, "get_rlimit"},
	{VCMD_ctx_stat, 3, VCA_VXI, VCF_INFO, "ctx_stat"},
	{VCMD_get_nflags, 3, VCA_NXI, VCF_INFO, "get_nflags"},
	{VCMD_ctx_create_v0, 5, 0, 0, "ctx_create_v0"},
	{VCMD_ctx_create, 5, 0, 0, "ctx_create"},
	{VCMD_ctx_migrate_v0, 5, VCA_VXI, VCF_ADMIN, "ctx_migrate_v0"},
	{VCMD_ctx_migrate, 5, VCA_VXI, VCF_ADMIN, "ctx_migrate"},
	{VCMD_net_create_v0, 5, 0, 0, "net_create_v0"},
	{VCMD_net_create, 5, 0, 0, "net_create"},
	{VCMD_net_migrate, 5, VCA_NXI, VCF_ADMIN, "net_migrate"},
	{VCMD_ctx_kill, 6, VCA_VXI, VCF_ARES, "ctx_kill"},
	{VCMD_set_space_v1, 7, VCA_VXI, VCF_ARES | VCF_SETUP, "set_space"},
	{VCMD_set_ccaps, 7, VCA_VXI, VCF_ARES | VCF_SETUP, "set_ccaps"},
	{VCMD_set_bcaps, 7, VCA_VXI, VCF_ARES | VCF_SETUP, "set_bcaps"},
	{VCMD_set_cflags, 7, VCA_VXI, VCF_ARES | VCF_SETUP, "set_cflags"},
	{VCMD_set_vhi_name, 7, VCA_VXI, VCF_ARES | VCF_SETUP, "set_vhi_name"},
	{VCMD_set_rlimit, 7, VCA_VXI, VCF_ARES | VCF_SETUP, "set_rlimit"},
	{VCMD_set_nflags, 7, VCA_NXI, VCF_ARES | VCF_SETUP, "set_nflags"},
	{VCMD_net_add, 8, VCA_NXI, VCF_ARES | VCF_SETUP, "net_add"},
	{VCMD_net_add_ipv4_v1, 8, VCA_NXI, VCF_ARES | VCF_SETUP, "net_add_ipv4_v1"},
	{VCMD_net_add_ipv4, 8, VCA_NXI, VCF_ARES | VCF_SETUP, "net_add_ipv4"},
};

/* ---- state ------------------------------------------------------------------ */

struct task {
	int pid;
	unsigned long long start;
	int has_xid, has_nid;
	uint32_t xid, nid;
};

struct vctx {
	int used;
	uint32_t xid;
	uint64_t flags, bcaps, ccaps, nsmask;
	int initpid;
	int uts_fd;
	char name[65], node[65], domain[65];
	uint64_t rlim[16][2];
	int rlim_set[16];
};

struct nctx {
	int used;
	uint32_t nid;
	uint64_t flags;
	int naddr;
	uint32_t ip[16], mask[16];
	uint16_t type[16];
	uint32_t bcast, lback;
};

#define MAXT 4096
#define MAXC 256
static struct task tasks[MAXT];
static struct vctx ctxs[MAXC];
static struct nctx nets[MAXC];
static int self_pid;
static ino_t host_uts;
static int check_ares;
static int cap_context = 63;
static int compat;
static uint32_t version = 0x00020308, vci = 0x13010f11;
static FILE *logf;
static const char *state_path;
static char detail[512];

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	size_t n = strlen(detail);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail + n, sizeof detail - n, fmt, ap);
	va_end(ap);
}

/* ---- processes -------------------------------------------------------------- */

/* ppid, start time and state from /proc/PID/stat; -1 when it is gone. */
static int read_stat(int pid, int *ppid, unsigned long long *start, char *state)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	char st;
	int pp;
	unsigned long long s;
	/* fields 3 (state), 4 (ppid), then 22 (starttime) */
	if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &st, &pp, &s) != 3)
		return -1;
	if (ppid)
		*ppid = pp;
	if (start)
		*start = s;
	if (state)
		*state = st;
	return 0;
}

static struct task *find_task(int pid, int create)
{
	unsigned long long start;
	if (read_stat(pid, NULL, &start, NULL) < 0)
		return NULL;
	struct task *free_slot = NULL;
	for (int i = 0; i < MAXT; i++) {
		struct task *t = &tasks[i];
		if (t->pid == pid) {
			if (t->start == start)
				return t;
			memset(t, 0, sizeof *t); /* a reused pid */
		}
		if (!t->pid && !free_slot)
			free_slot = t;
	}
	if (!create || !free_slot)
		return NULL;
	free_slot->pid = pid;
	free_slot->start = start;
	return free_slot;
}

/* The context of a task: its own record, else its nearest recorded ancestor's. */
static uint32_t id_of(int pid, int net)
{
	for (int depth = 0; depth < 256 && pid > 1 && pid != self_pid; depth++) {
		struct task *t = find_task(pid, 0);
		if (t && (net ? t->has_nid : t->has_xid))
			return net ? t->nid : t->xid;
		int ppid;
		if (read_stat(pid, &ppid, NULL, NULL) < 0)
			return 0;
		pid = ppid;
	}
	return 0;
}

/* Whether `pid` descends from `anc`. */
static int descends(int pid, int anc)
{
	for (int depth = 0; depth < 256 && pid > 1; depth++) {
		int ppid;
		if (read_stat(pid, &ppid, NULL, NULL) < 0)
			return 0;
		if (ppid == anc)
			return 1;
		pid = ppid;
	}
	return 0;
}

/* Move a task. Its existing descendants stay where they are, as in the kernel
 * (a forked child keeps the context it was born in): they are recorded first. */
static void set_id(int pid, uint32_t id, int net)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int p = atoi(e->d_name);
		if (p <= 1 || p == pid || !descends(p, pid))
			continue;
		struct task *c = find_task(p, 1);
		if (c && !(net ? c->has_nid : c->has_xid)) {
			uint32_t old = id_of(p, net);
			if (net) {
				c->has_nid = 1;
				c->nid = old;
			} else {
				c->has_xid = 1;
				c->xid = old;
			}
		}
	}
	if (d)
		closedir(d);
	struct task *t = find_task(pid, 1);
	if (!t)
		return;
	if (net) {
		t->has_nid = 1;
		t->nid = id;
	} else {
		t->has_xid = 1;
		t->xid = id;
	}
}

static void set_xid(int pid, uint32_t xid)
{
	set_id(pid, xid, 0);
}

static void set_nid(int pid, uint32_t nid)
{
	set_id(pid, nid, 1);
}

/* Live (non-zombie) processes in context `id` (net: network context). */
static int count_tasks(uint32_t id, int net)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		char st;
		if (pid <= 0 || read_stat(pid, NULL, NULL, &st) < 0 || st == 'Z')
			continue;
		if (id_of(pid, net) == id)
			n++;
	}
	closedir(d);
	return n;
}

static struct vctx *find_ctx(uint32_t xid)
{
	for (int i = 0; i < MAXC; i++)
		if (ctxs[i].used && ctxs[i].xid == xid)
			return &ctxs[i];
	return NULL;
}

static struct nctx *find_net(uint32_t nid)
{
	for (int i = 0; i < MAXC; i++)
		if (nets[i].used && nets[i].nid == nid)
			return &nets[i];
	return NULL;
}

/* The kernel drops a context with its last task (unless persistent). */
static void sweep(void)
{
	for (int i = 0; i < MAXC; i++) {
		struct vctx *c = &ctxs[i];
		if (c->used && !(c->flags & VXF_PERSISTENT) && count_tasks(c->xid, 0) == 0) {
			if (c->uts_fd >= 0)
				close(c->uts_fd);
			memset(c, 0, sizeof *c);
		}
		struct nctx *x = &nets[i];
		if (x->used && !(x->flags & NXF_PERSISTENT) && count_tasks(x->nid, 1) == 0)
			memset(x, 0, sizeof *x);
	}
}

static uint64_t cap_eff(int pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strstr(buf, "\nCapEff:");
	return p ? strtoull(p + 8, NULL, 16) : 0;
}

/* capable() as vs2.3's cap_capable: CapEff (for bits the mainline kernel has),
 * masked by the context's bcaps unless the context is still in its setup state. */
static int capable(int pid, int cap)
{
	if (cap <= 40 && !(cap_eff(pid) >> cap & 1))
		return 0;
	uint32_t xid = id_of(pid, 0);
	struct vctx *c = xid > 1 ? find_ctx(xid) : NULL;
	return !c || (c->flags & VXF_STATE_SETUP) || (c->bcaps >> cap & 1);
}

/* ---- the caller's memory ------------------------------------------------------ */

static int rd(int pid, uint64_t addr, void *buf, size_t n)
{
	struct iovec l = {buf, n}, r = {(void *)(uintptr_t)addr, n};
	return addr && process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

static int wr(int pid, uint64_t addr, const void *buf, size_t n)
{
	struct iovec l = {(void *)buf, n}, r = {(void *)(uintptr_t)addr, n};
	return addr && process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* ---- state file ------------------------------------------------------------- */

static void dump_state(void)
{
	if (!state_path)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", state_path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	for (int i = 0; i < MAXC; i++) {
		struct vctx *c = &ctxs[i];
		if (!c->used)
			continue;
		fprintf(f, "ctx %u flags=%#llx bcaps=%#llx ccaps=%#llx nsmask=%#llx initpid=%d name=%s nodename=%s domainname=%s",
			c->xid, (unsigned long long)c->flags, (unsigned long long)c->bcaps, (unsigned long long)c->ccaps,
			(unsigned long long)c->nsmask, c->initpid, c->name, c->node, c->domain);
		for (int r = 0; r < 16; r++)
			if (c->rlim_set[r])
				fprintf(f, " rlimit%d=%llu:%llu", r, (unsigned long long)c->rlim[r][0], (unsigned long long)c->rlim[r][1]);
		fputc('\n', f);
	}
	for (int i = 0; i < MAXC; i++) {
		struct nctx *x = &nets[i];
		if (!x->used)
			continue;
		fprintf(f, "net %u flags=%#llx", x->nid, (unsigned long long)x->flags);
		for (int a = 0; a < x->naddr; a++) {
			unsigned char *ip = (unsigned char *)&x->ip[a], *m = (unsigned char *)&x->mask[a];
			fprintf(f, " %u.%u.%u.%u/%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3], m[0], m[1], m[2], m[3]);
		}
		unsigned char *b = (unsigned char *)&x->bcast;
		fprintf(f, " bcast=%u.%u.%u.%u\n", b[0], b[1], b[2], b[3]);
	}
	fclose(f);
	rename(tmp, state_path);
}

/* ---- commands ------------------------------------------------------------------ */

static uint64_t mask_flags(uint64_t v, uint64_t f, uint64_t m)
{
	return (v & ~m) | (f & m);
}

/* vs_mask_mask: one-time bits may only be cleared (they stay in the mask only
 * while set). */
static uint64_t mask_mask(uint64_t m, uint64_t f, uint64_t onetime)
{
	return (m & ~onetime) | (m & f & onetime);
}

static struct vctx *new_ctx(uint32_t xid, uint64_t flags)
{
	for (int i = 0; i < MAXC; i++)
		if (!ctxs[i].used) {
			struct vctx *c = &ctxs[i];
			memset(c, 0, sizeof *c);
			c->used = 1;
			c->xid = xid;
			c->flags = flags;
			c->bcaps = INIT_BCAPS;
			c->uts_fd = -1;
			return c;
		}
	return NULL;
}

static struct nctx *new_net(uint32_t nid, uint64_t flags)
{
	for (int i = 0; i < MAXC; i++)
		if (!nets[i].used) {
			struct nctx *x = &nets[i];
			memset(x, 0, sizeof *x);
			x->used = 1;
			x->nid = nid;
			x->flags = flags;
			x->bcast = 0xFFFFFFFF;
			x->lback = htonl(0x7F000001);
			return x;
		}
	return NULL;
}

static int migrate(int pid, struct vctx *c)
{
	if ((c->flags & VXF_INFO_PRIVATE) && !(c->flags & VXF_STATE_SETUP))
		return -EACCES;
	set_xid(pid, c->xid);
	return 0;
}

/* Rename the context's UTS namespace through a helper that enters it; never the
 * host's own. */
static int apply_uts(struct vctx *c, int field, const char *name)
{
	struct stat st;
	if (!(c->nsmask & CLONE_NEWUTS) || c->uts_fd < 0 || fstat(c->uts_fd, &st) < 0)
		return -EINVAL;
	if (st.st_ino == host_uts) {
		note(" refused:host-uts");
		return -EINVAL;
	}
	pid_t h = fork();
	if (h < 0)
		return -ENOMEM;
	if (h == 0) {
		size_t n = strnlen(name, 64);
		if (setns(c->uts_fd, CLONE_NEWUTS) < 0)
			_exit(1);
		_exit((field == 2 ? sethostname(name, n) : setdomainname(name, n)) < 0);
	}
	int ws;
	waitpid(h, &ws, 0);
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -EINVAL;
}

static long vx_kill(struct vctx *c, int pid, int sig)
{
	long ret = -ESRCH;
	if (pid == 0 || pid == -1) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			int p = atoi(e->d_name);
			char st;
			if (p <= 1 || p == self_pid || read_stat(p, NULL, NULL, &st) < 0 || st == 'Z')
				continue;
			if (id_of(p, 0) != c->xid || (pid && c->initpid == p))
				continue;
			int err = kill(p, sig) < 0 ? -errno : 0;
			if (err != -EPERM)
				ret = err;
		}
		if (d)
			closedir(d);
		return ret;
	}
	if (pid == 1 && c->initpid)
		pid = c->initpid;
	if (pid > 1 && pid != self_pid && id_of(pid, 0) == c->xid)
		ret = kill(pid, sig) < 0 ? -errno : 0;
	return ret;
}

static int mutated;

static long do_vcmd(int pid, uint32_t cmd, uint32_t id, uint64_t data, struct vctx *c, struct nctx *x)
{
	uint64_t d2[2];
	uint32_t w2[2];
	switch (cmd) {
	case VCMD_get_version:
		return version;
	case VCMD_get_vci:
		return vci;
	case VCMD_task_xid:
	case VCMD_task_nid:
		if (id && read_stat(id, NULL, NULL, NULL) < 0)
			return -ESRCH;
		return id_of(id ? (int)id : pid, cmd == VCMD_task_nid);
	case VCMD_vx_info:
		w2[0] = c->xid;
		w2[1] = c->initpid;
		return wr(pid, data, w2, 8);
	case VCMD_nx_info:
		return wr(pid, data, &x->nid, 4);
	case VCMD_ctx_stat: {
		int n = count_tasks(c->xid, 0);
		w2[0] = n + 1; /* usecnt: the tasks plus the hash's reference */
		w2[1] = n;
		return wr(pid, data, w2, 8);
	}
	case VCMD_get_bcaps:
	case VCMD_get_ccaps:
		d2[0] = cmd == VCMD_get_bcaps ? c->bcaps : c->ccaps;
		d2[1] = ~0ULL;
		return wr(pid, data, d2, 16);
	case VCMD_get_cflags:
		d2[0] = c->flags;
		d2[1] = mask_flags(~0ULL, c->flags, VXF_ONE_TIME);
		return wr(pid, data, d2, 16);
	case VCMD_get_nflags:
		d2[0] = x->flags;
		d2[1] = mask_flags(~0ULL, x->flags, NXF_ONE_TIME);
		return wr(pid, data, d2, 16);
	case VCMD_ctx_create_v0:
	case VCMD_ctx_create: {
		uint64_t flagword = VXF_INIT_SET;
		if (cmd == VCMD_ctx_create && rd(pid, data, &flagword, 8) < 0)
			return -EFAULT;
		note(" flagword=%#llx", (unsigned long long)flagword);
		if (id > MAX_S_CONTEXT || id < 2)
			return -EINVAL;
		sweep();
		struct vctx *old = find_ctx(id);
		if (old)
			return old->flags & VXF_STATE_SETUP ? -EBUSY : -EEXIST;
		struct vctx *n = new_ctx(id, flagword);
		if (!n)
			return -ENOMEM;
		mutated = 1;
		if (cmd == VCMD_ctx_create_v0) {
			/* The kernel unshares UTS and IPC for the caller; a fake cannot, so
			 * the caller's own become the spaces. */
			char p[64];
			snprintf(p, sizeof p, "/proc/%d/ns/uts", pid);
			n->uts_fd = open(p, O_RDONLY | O_CLOEXEC);
			n->nsmask = CLONE_NEWUTS | CLONE_NEWIPC;
		}
		int r = migrate(pid, n);
		if (r < 0) {
			memset(n, 0, sizeof *n);
			return r;
		}
		return id;
	}
	case VCMD_ctx_migrate_v0:
	case VCMD_ctx_migrate: {
		uint64_t flagword = 0;
		if (cmd == VCMD_ctx_migrate && data && rd(pid, data, &flagword, 8) < 0)
			return -EFAULT;
		int r = migrate(pid, c);
		if (r < 0)
			return r;
		mutated = 1;
		if (flagword & VXM_SET_INIT) {
			c->initpid = pid;
			c->flags &= ~VXF_STATE_INIT;
		}
		return 0;
	}
	case VCMD_set_cflags:
	case VCMD_set_nflags: {
		if (rd(pid, data, d2, 16) < 0)
			return -EFAULT;
		note(" flagword=%#llx mask=%#llx", (unsigned long long)d2[0], (unsigned long long)d2[1]);
		mutated = 1;
		if (cmd == VCMD_set_nflags) {
			uint64_t m = mask_mask(d2[1], x->flags, NXF_ONE_TIME);
			x->flags = mask_flags(x->flags, d2[0], m);
			return 0;
		}
		uint64_t m = mask_mask(d2[1], c->flags, VXF_ONE_TIME);
		uint64_t trigger = (m & c->flags) ^ (m & d2[0]);
		if (id_of(pid, 0) == c->xid && (trigger & VXF_STATE_INIT))
			c->initpid = pid; /* vx_set_init and vx_set_reaper */
		c->flags = mask_flags(c->flags, d2[0], m);
		return 0;
	}
	case VCMD_set_bcaps:
	case VCMD_set_ccaps:
		if (rd(pid, data, d2, 16) < 0)
			return -EFAULT;
		note(" value=%#llx mask=%#llx", (unsigned long long)d2[0], (unsigned long long)d2[1]);
		mutated = 1;
		if (cmd == VCMD_set_bcaps)
			c->bcaps = mask_flags(c->bcaps, d2[0], d2[1]);
		else
			c->ccaps = mask_flags(c->ccaps, d2[0], d2[1]);
		return 0;
	case VCMD_set_space_v1: {
		uint64_t mask = 0;
		if (data && rd(pid, data, &mask, 8) < 0)
			return -EFAULT;
		note(" mask=%#llx", (unsigned long long)mask);
		uint64_t allowed = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_FS;
		if (!mask)
			mask = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_FS;
		if ((mask & allowed) != mask)
			return -EINVAL;
		if (mask & CLONE_NEWUTS) {
			char p[64];
			snprintf(p, sizeof p, "/proc/%d/ns/uts", pid);
			if (c->uts_fd >= 0)
				close(c->uts_fd);
			c->uts_fd = open(p, O_RDONLY | O_CLOEXEC);
		}
		c->nsmask |= mask;
		mutated = 1;
		return 0;
	}
	case VCMD_set_vhi_name:
	case VCMD_get_vhi_name: {
		struct {
			uint32_t field;
			char name[65];
		} v;
		_Static_assert(sizeof v == 72, "vcmd_vhi_name_v0");
		if (rd(pid, data, &v, sizeof v) < 0)
			return -EFAULT;
		char *slot = v.field == 0 ? c->name : v.field == 2 ? c->node : v.field == 6 ? c->domain : NULL;
		if (!slot || (v.field && !(c->nsmask & CLONE_NEWUTS)))
			return -EINVAL;
		if (cmd == VCMD_get_vhi_name) {
			memcpy(v.name, slot, 65);
			return wr(pid, data, &v, sizeof v);
		}
		v.name[64] = 0;
		note(" field=%u name=%s", v.field, v.name);
		if (v.field) {
			int r = apply_uts(c, v.field, v.name);
			if (r < 0)
				return r;
		}
		memcpy(slot, v.name, 65);
		mutated = 1;
		return 0;
	}
	case VCMD_set_rlimit:
	case VCMD_get_rlimit: {
		struct {
			uint32_t id;
			uint64_t min, soft, max;
		} l;
		_Static_assert(sizeof l == 32, "vcmd_ctx_rlimit_v0");
		if (rd(pid, data, &l, sizeof l) < 0)
			return -EFAULT;
		/* the limits vs2.3 keeps per context: RSS NPROC NOFILE MEMLOCK AS LOCKS MSGQUEUE */
		if (l.id >= 16 || !((1u << l.id) & (1u << 5 | 1u << 6 | 1u << 7 | 1u << 8 | 1u << 9 | 1u << 10 | 1u << 12)))
			return -EINVAL;
		if (cmd == VCMD_get_rlimit) {
			l.min = 0;
			l.soft = c->rlim_set[l.id] ? c->rlim[l.id][0] : ~0ULL;
			l.max = c->rlim_set[l.id] ? c->rlim[l.id][1] : ~0ULL;
			return wr(pid, data, &l, sizeof l);
		}
		note(" id=%u soft=%llu max=%llu", l.id, (unsigned long long)l.soft, (unsigned long long)l.max);
		if (l.soft != ~1ULL)
			c->rlim[l.id][0] = l.soft;
		if (l.max != ~1ULL)
			c->rlim[l.id][1] = l.max;
		c->rlim_set[l.id] = 1;
		mutated = 1;
		return 0;
	}
	case VCMD_ctx_kill: {
		int32_t k[2];
		if (rd(pid, data, k, 8) < 0)
			return -EFAULT;
		note(" pid=%d sig=%d", k[0], k[1]);
		/* the guest-shutdown exception */
		if (!(c->flags & VXF_STATE_ADMIN) && ((k[0] < 1 && c->initpid) || k[0] > 1))
			return -EACCES;
		return vx_kill(c, k[0], k[1]);
	}
	case VCMD_net_create_v0:
	case VCMD_net_create: {
		uint64_t flagword = NXF_INIT_SET;
		if (cmd == VCMD_net_create && rd(pid, data, &flagword, 8) < 0)
			return -EFAULT;
		note(" flagword=%#llx", (unsigned long long)flagword);
		if (id > MAX_S_CONTEXT || id < 2)
			return -EINVAL;
		sweep();
		struct nctx *old = find_net(id);
		if (old)
			return old->flags & NXF_STATE_SETUP ? -EBUSY : -EEXIST;
		if (!new_net(id, flagword))
			return -ENOMEM;
		set_nid(pid, id);
		mutated = 1;
		return id;
	}
	case VCMD_net_migrate:
		set_nid(pid, x->nid);
		mutated = 1;
		return 0;
	case VCMD_net_add_ipv4_v1:
	case VCMD_net_add_ipv4: {
		struct {
			uint16_t type, flags;
			uint32_t ip, ip2, mask;
		} a = {0};
		size_t n = cmd == VCMD_net_add_ipv4 ? 16 : 12;
		if (rd(pid, data, &a, n) < 0)
			return -EFAULT;
		if (n == 12) {
			a.mask = a.ip2;
			a.ip2 = 0;
		}
		unsigned char *ip = (unsigned char *)&a.ip;
		note(" type=%#x ip=%u.%u.%u.%u mask=%#x", a.type, ip[0], ip[1], ip[2], ip[3], ntohl(a.mask));
		switch (a.type) {
		case NXA_TYPE_RANGE:
			if (n == 12)
				return -EINVAL;
			/* fall through */
		case NXA_TYPE_ADDR:
		case NXA_TYPE_MASK:
			if (x->naddr >= 16)
				return -ENOMEM;
			x->ip[x->naddr] = a.ip;
			x->mask[x->naddr] = a.mask;
			x->type[x->naddr++] = a.type;
			break;
		case NXA_TYPE_ADDR | NXA_MOD_BCAST:
			x->bcast = a.ip;
			break;
		case NXA_TYPE_ADDR | NXA_MOD_LBACK:
			x->lback = a.ip;
			break;
		default:
			return -EINVAL;
		}
		mutated = 1;
		return 0;
	}
	case VCMD_net_add: {
		struct {
			uint16_t type, count;
			uint32_t ip[4], mask[4];
		} a;
		if (rd(pid, data, &a, sizeof a) < 0)
			return -EFAULT;
		if (a.type == (NXA_TYPE_IPV4 | NXA_MOD_BCAST)) {
			x->bcast = a.ip[0];
			mutated = 1;
			return 1;
		}
		if (a.type != NXA_TYPE_IPV4 || a.count < 1 || a.count > 4)
			return -EINVAL;
		for (int i = 0; i < a.count && x->naddr < 16; i++) {
			x->ip[x->naddr] = a.ip[i];
			x->mask[x->naddr] = a.mask[i];
			x->type[x->naddr++] = NXA_TYPE_ADDR;
		}
		mutated = 1;
		return a.count;
	}
	}
	return -ENOSYS;
}

/* vs2.0/2.2 compat new_s_context (the 2.6 emulation in kernel/vserver/legacy.c). */
static long compat_new_s_context(int pid, int32_t ctx, uint64_t data)
{
	uint32_t v[2];
	if (rd(pid, data, v, 8) < 0)
		return -EFAULT;
	note(" ctx=%d remove_cap=%#x flags=%#x", ctx, v[0], v[1]);
	uint32_t cur = id_of(pid, 0);
	sweep();
	if (ctx == -2) {
		struct vctx *c = cur > 1 ? find_ctx(cur) : NULL;
		if (!c)
			return -EINVAL;
		if (v[1] & VXF_INFO_INIT) {
			if (c->initpid)
				return -EPERM;
			c->initpid = pid;
		}
		c->bcaps &= ~(uint64_t)v[0];
		c->flags |= v[1];
		mutated = 1;
		return cur;
	}
	if (cur != 0 || !capable(pid, CAP_SYS_ADMIN))
		return -EPERM;
	if (ctx == 1) {
		set_xid(pid, 1);
		mutated = 1;
		return 0;
	}
	if (ctx == 0 || (ctx > MAX_S_CONTEXT) || ctx < -1)
		return -EINVAL;
	uint32_t xid = ctx;
	if (ctx == -1)
		for (xid = MIN_D_CONTEXT; find_ctx(xid) && xid < MAX_S_CONTEXT; xid++)
			;
	struct vctx *c = find_ctx(xid);
	if (!c && !(c = new_ctx(xid, VXF_STATE_ADMIN)))
		return -ENOMEM;
	if ((c->flags & VXF_INFO_PRIVATE) && !(c->flags & VXF_STATE_SETUP))
		return -EPERM;
	set_xid(pid, xid);
	c->bcaps &= ~(uint64_t)v[0];
	c->flags |= v[1];
	if (v[1] & VXF_INFO_INIT)
		c->initpid = pid;
	mutated = 1;
	return xid;
}

/* compat set_ipv4root: a fresh network context with these addresses (legacynet.c). */
static long compat_set_ipv4root(int pid, uint32_t nb, uint64_t data)
{
	struct {
		uint32_t bcast;
		uint32_t pair[16][2];
	} v;
	if (nb > 16)
		return -EINVAL;
	if (rd(pid, data, &v, sizeof v) < 0)
		return -EFAULT;
	sweep();
	uint32_t nid = MIN_D_CONTEXT;
	while (find_net(nid))
		nid++;
	struct nctx *x = new_net(nid, NXF_STATE_ADMIN);
	if (!x)
		return -ENOMEM;
	for (uint32_t i = 0; i < nb; i++) {
		x->ip[i] = v.pair[i][0];
		x->mask[i] = v.pair[i][1];
		x->type[i] = NXA_TYPE_ADDR;
	}
	x->naddr = nb;
	x->bcast = v.bcast;
	set_nid(pid, nid);
	note(" nb=%u nid=%u", nb, nid);
	mutated = 1;
	return 0;
}

static long do_vserver(int pid, uint32_t cmd, uint32_t id, uint64_t data)
{
	if (compat && cmd == VCMD_new_s_context)
		return capable(pid, cap_context) ? compat_new_s_context(pid, (int32_t)id, data) : -ENOSYS;
	if (compat && cmd == VCMD_set_ipv4root)
		return capable(pid, cap_context) ? compat_set_ipv4root(pid, id, data) : -ENOSYS;
	const struct cmdinfo *ci = NULL;
	for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
		if (CMDS[i].cmd == cmd)
			ci = &CMDS[i];
	if (!ci)
		return -ENOSYS;
	note(" %s", ci->name);
	if (!capable(pid, cap_context))
		return -ENOSYS;
	if (ci->perm > 1 && !capable(pid, CAP_SYS_ADMIN))
		return -EPERM;
	if ((ci->flags & VCF_ARES) && check_ares && !capable(pid, CAP_SYS_RESOURCE))
		return -EPERM;
	if ((cmd == VCMD_ctx_migrate || cmd == VCMD_ctx_migrate_v0) && id == 1) {
		set_xid(pid, 1);
		mutated = 1;
		return 1;
	}
	if (cmd == VCMD_net_migrate && id == 1) {
		set_nid(pid, 1);
		mutated = 1;
		return 1;
	}
	uint32_t cur = id_of(pid, 0);
	int permit = 1;
	if (ci->flags & VCF_ADMIN)
		permit = cur == 0;
	if (!permit && (ci->flags & VCF_SETUP)) {
		struct vctx *own = cur > 1 ? find_ctx(cur) : NULL;
		permit = own && (own->flags & VXF_STATE_SETUP);
	}
	if (!permit)
		return -EPERM;
	struct vctx *c = NULL;
	struct nctx *x = NULL;
	if (ci->args & (VCA_VXI | VCA_NXI))
		sweep();
	if (ci->args & VCA_VXI) {
		uint32_t want = (int32_t)id < 0 ? cur : id;
		c = want > 1 ? find_ctx(want) : NULL;
		if (!c)
			return -ESRCH;
		if ((ci->flags & VCF_ADMIN) && cmd != VCMD_ctx_kill && !(c->flags & VXF_STATE_ADMIN))
			return -EACCES;
	}
	if (ci->args & VCA_NXI) {
		uint32_t want = (int32_t)id < 0 ? id_of(pid, 1) : id;
		x = want > 1 ? find_net(want) : NULL;
		if (!x)
			return -ESRCH;
		if ((ci->flags & VCF_ADMIN) && !(x->flags & NXF_STATE_ADMIN))
			return -EACCES;
	}
	return do_vcmd(pid, cmd, id, data, c, x);
}

/* ---- the supervisor ------------------------------------------------------------ */

/* sys_vserver, and prctl(PR_CAPBSET_DROP): its CAP_SETPCAP check is masked by the
 * context's bcaps like every capability check of a vserver kernel. */
static int install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 236, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_CAPBSET_DROP, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

static void send_fd(int sock, int fd)
{
	char c = 0, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof fd);
	if (sendmsg(sock, &m, 0) < 0)
		_exit(126);
}

static int recv_fd(int sock)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	if (recvmsg(sock, &m, 0) <= 0)
		return -1;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (h && h->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(h), sizeof fd);
	return fd;
}

static void serve(int listener, struct seccomp_notif *req, struct seccomp_notif_resp *resp, size_t req_size, size_t resp_size)
{
	memset(req, 0, req_size);
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
		return; /* the caller died meanwhile */
	uint32_t cmd = req->data.args[0], id = req->data.args[1];
	uint64_t data = req->data.args[2];
	detail[0] = 0;
	mutated = 0;
	memset(resp, 0, resp_size);
	resp->id = req->id;
	if (req->data.nr == SYS_prctl) {
		/* Refused where the kernel would refuse it, else the real call runs. */
		if (capable(req->pid, CAP_SETPCAP))
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		else
			resp->error = -EPERM;
		if (logf && resp->error) {
			fprintf(logf, "pid=%d prctl(PR_CAPBSET_DROP, %u) -> -1 errno=%d\n", req->pid, id, EPERM);
			fflush(logf);
		}
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
		return;
	}
	long r = do_vserver(req->pid, cmd, id, data);
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
		return;
	if (r < 0)
		resp->error = r;
	else
		resp->val = r;
	if (logf) {
		if (r < 0)
			fprintf(logf, "pid=%d cmd=0x%08x id=%u%s -> -1 errno=%ld\n", req->pid, cmd, id, detail, -r);
		else
			fprintf(logf, "pid=%d cmd=0x%08x id=%u%s -> %ld\n", req->pid, cmd, id, detail, r);
		fflush(logf);
	}
	if (mutated)
		dump_state();
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--log") && i + 1 < argc)
			logf = fopen(argv[++i], "a");
		else if (!strcmp(argv[i], "--state") && i + 1 < argc)
			state_path = argv[++i];
		else if (!strcmp(argv[i], "--version") && i + 1 < argc)
			version = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--vci") && i + 1 < argc)
			vci = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--compat"))
			compat = 1;
		else if (!strcmp(argv[i], "--cap-context") && i + 1 < argc)
			cap_context = atoi(argv[++i]);
		else {
			fprintf(stderr, "fakevs: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: fakevs [--log F] [--state F] [--version HEX] [--vci HEX] [--compat] [--cap-context N] -- CMD [ARG...]\n");
		return 2;
	}
	char **cmd = argv + i + 1;
	self_pid = getpid();
	struct stat st;
	if (stat("/proc/self/ns/uts", &st) == 0)
		host_uts = st.st_ino;
	check_ares = cap_eff(self_pid) >> CAP_SYS_RESOURCE & 1;
	char buf[32];
	snprintf(buf, sizeof buf, "%d", self_pid);
	setenv("FAKEVS_PID", buf, 1);
	if (state_path)
		setenv("FAKEVS_STATE", state_path, 1);
	dump_state();

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("fakevs: socketpair");
		return 2;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("fakevs: fork");
		return 2;
	}
	if (child == 0) {
		close(sv[0]);
		int fd = install_filter();
		if (fd < 0) {
			perror("fakevs: seccomp(NEW_LISTENER)");
			_exit(126);
		}
		send_fd(sv[1], fd);
		close(fd);
		close(sv[1]);
		execvp(cmd[0], cmd);
		fprintf(stderr, "fakevs: cannot execute %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	int listener = recv_fd(sv[0]);
	close(sv[0]);
	if (listener < 0) {
		int ws;
		waitpid(child, &ws, 0);
		fprintf(stderr, "fakevs: no seccomp listener\n");
		return 2;
	}
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) {
		perror("fakevs: seccomp(GET_NOTIF_SIZES)");
		return 2;
	}
	struct seccomp_notif *req = calloc(1, sizes.seccomp_notif > sizeof *req ? sizes.seccomp_notif : sizeof *req);
	struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp > sizeof *resp ? sizes.seccomp_notif_resp : sizeof *resp);
	size_t req_size = sizes.seccomp_notif > sizeof *req ? sizes.seccomp_notif : sizeof *req;
	size_t resp_size = sizes.seccomp_notif_resp > sizeof *resp ? sizes.seccomp_notif_resp : sizeof *resp;
	for (;;) {
		struct pollfd p = {listener, POLLIN, 0};
		int n = poll(&p, 1, 100);
		if (n > 0 && (p.revents & POLLIN))
			serve(listener, req, resp, req_size, resp_size);
		int ws;
		if (waitpid(child, &ws, WNOHANG) == child)
			return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	}
}
