/* ctx_floor.c: the least a new vsbox context costs, written plainly in C, as a
 * floor for the benchmarks (scripts/bench.sh ctx). It does what issue 3 requires of
 * every context and nothing else: a cgroup <parent>/<pid> in each hierarchy given,
 * the first process cloned into the first one (cgroup2) with new pid, mount, UTS
 * and IPC namespaces, that process joining the others, a cgroup namespace, a
 * private mount tree with its own /proc and /proc/sys, sysrq-trigger, irq and bus
 * read-only, then fork + exec of the command and a wait. No registry, no handles,
 * no keeper, no error handling; the cgroups are removed in the background.
 *
 * usage: ctx_floor V2_PARENT [V1_PARENT...] -- COMMAND [ARGS...]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = 1;
    while (n < argc && strcmp(argv[n], "--")) n++;
    if (n < 2 || n + 1 >= argc) { fprintf(stderr, "usage: ctx_floor V2_PARENT [V1_PARENT...] -- CMD...\n"); return 2; }
    char path[600], id[16];
    snprintf(id, sizeof id, "%d", getpid());
    for (int i = 1; i < n; i++) { snprintf(path, sizeof path, "%s/%s", argv[i], id); mkdir(path, 0755); }
    snprintf(path, sizeof path, "%s/%s", argv[1], id);
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_INTO_CGROUP;
    a.exit_signal = SIGCHLD;
    a.cgroup = open(path, O_PATH | O_DIRECTORY);
    long pid = syscall(SYS_clone3, &a, sizeof a);
    if (pid == 0) {
        for (int i = 2; i < n; i++) {
            snprintf(path, sizeof path, "%s/%s/cgroup.procs", argv[i], id);
            int fd = open(path, O_WRONLY);
            write(fd, "0", 1);
            close(fd);
        }
        unshare(CLONE_NEWCGROUP);
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        const char *ro[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"};
        for (int i = 0; i < 4; i++) {
            mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL);
            mount(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        }
        pid_t c = fork();
        if (c == 0) { execvp(argv[n + 1], argv + n + 1); _exit(127); }
        int st;
        waitpid(c, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    int st;
    waitpid(pid, &st, 0);
    if (fork() == 0) {
        for (int i = 1; i < n; i++) { snprintf(path, sizeof path, "%s/%s", argv[i], id); rmdir(path); }
        _exit(0);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
