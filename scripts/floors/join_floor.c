/* join_floor.c: the least a join of a vsbox context costs, in plain C, as a floor
 * for the benchmarks (scripts/bench.sh enter): open the context's namespace
 * handles, move into its cgroup in every hierarchy given, enter the namespaces,
 * then fork + exec the command and wait. No registry lookup, no capability ceiling,
 * no signal forwarding, no error handling.
 *
 * usage: join_floor NS_DIR [CGROUP_DIR...] -- COMMAND [ARGS...]
 *   (NS_DIR holds cgroup, ipc, uts, pid and mnt, as a vsbox registry entry does)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = 1;
    while (n < argc && strcmp(argv[n], "--")) n++;
    if (n < 2 || n + 1 >= argc) { fprintf(stderr, "usage: join_floor NS_DIR [CGROUP_DIR...] -- CMD...\n"); return 2; }
    const char *ns[] = {"cgroup", "ipc", "uts", "pid", "mnt"};
    int fds[5];
    char path[600];
    for (int i = 0; i < 5; i++) { snprintf(path, sizeof path, "%s/%s", argv[1], ns[i]); fds[i] = open(path, O_RDONLY | O_CLOEXEC); }
    for (int i = 2; i < n; i++) {
        snprintf(path, sizeof path, "%s/cgroup.procs", argv[i]);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        write(fd, "0", 1);
        close(fd);
    }
    for (int i = 0; i < 5; i++) { setns(fds[i], 0); close(fds[i]); }
    chdir("/");
    pid_t c = fork();
    if (c == 0) { execvp(argv[n + 1], argv + n + 1); _exit(127); }
    int st;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
