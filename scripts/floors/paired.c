/* paired.c: run commands alternately, round after round, and report each one's
 * median wall time and its ratio to the first command. Alternating makes the
 * machine's drift (other load, frequency, caches) hit every command alike, which
 * back-to-back batches (hyperfine) do not; the ratios are what the benchmarks
 * report. Output of the commands goes to /dev/null.
 *
 * usage: paired ROUNDS 'NAME=COMMAND ARGS' ...   (COMMAND is split on spaces, no shell)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXC 16
#define MAXA 64

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: paired ROUNDS 'NAME=CMD ARGS' ...\n"); return 2; }
    int rounds = atoi(argv[1]), nc = argc - 2;
    if (nc > MAXC || rounds < 1) return 2;
    char *name[MAXC], *av[MAXC][MAXA];
    for (int c = 0; c < nc; c++) {
        char *s = strdup(argv[c + 2]), *eq = strchr(s, '=');
        name[c] = eq ? (*eq = 0, s) : "cmd";
        char *cmd = eq ? eq + 1 : s, *save = NULL;
        int k = 0;
        for (char *w = strtok_r(cmd, " ", &save); w && k < MAXA - 1; w = strtok_r(NULL, " ", &save)) av[c][k++] = w;
        av[c][k] = NULL;
    }
    double *t = calloc((size_t)nc * rounds, sizeof *t);
    int null = open("/dev/null", O_RDWR);
    for (int r = -rounds / 10 - 1; r < rounds; r++) { /* the first rounds warm up */
        for (int i = 0; i < nc; i++) {
            int c = (i + (r < 0 ? 0 : r)) % nc; /* rotate the order round by round */
            double a = now_us();
            pid_t p = fork();
            if (p == 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); execvp(av[c][0], av[c]); _exit(127); }
            int st;
            waitpid(p, &st, 0);
            if (r >= 0) t[c * rounds + r] = now_us() - a;
            if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "%s failed\n", name[c]); return 1; }
        }
    }
    double base = 0;
    printf("%-22s %10s %10s %10s %8s\n", "command", "median_ms", "p25_ms", "p75_ms", "ratio");
    for (int c = 0; c < nc; c++) {
        double *v = t + c * rounds;
        qsort(v, rounds, sizeof *v, cmp);
        double med = v[rounds / 2];
        if (c == 0) base = med;
        printf("%-22s %10.3f %10.3f %10.3f %8.2f\n", name[c], med / 1e3, v[rounds / 4] / 1e3, v[3 * rounds / 4] / 1e3, med / base);
    }
    return 0;
}
