#!/usr/bin/env bash
# chbind benchmarks (issue 4): the BPF cost per bind, and chbind's startup.
# Usage: scripts/bench-chbind.sh [bind] [start]    (default: both)
# Needs root, cc and hyperfine. Everything runs in a private network namespace on
# 127.0.0.0/8; the contexts live under a relative cgroup parent (below this shell's
# own cgroups) and a private registry, both removed at the end.
# Env: VSBOX (binary; default: release build in $CARGO_TARGET_DIR or target/),
# ITER (binds per run, 100000), REPS (runs per case, 5), RUNS/WARMUP (hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
ITER=${ITER:-100000}; REPS=${REPS:-5}; RUNS=${RUNS:-1000}; WARMUP=${WARMUP:-50}
OUT=${OUT:-/tmp/vsbox-bench-chbind}
mkdir -p "$OUT"
if [ -z "${VSBOX:-}" ]; then
  cargo build --release -q
  VSBOX=${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release/vsbox
fi
export VSBOX_RUNDIR=$OUT/run VSBOX_CGROUP=vsbox-bench-chbind-$$
sections=("$@"); [ ${#sections[@]} -gt 0 ] || sections=(bind start)

# socket() + bind(ADDR:0) + listen() + close(), ITER times; prints ns per iteration.
cat >"$OUT/bindloop.c" <<'EOF'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[2]);
    struct sockaddr_in a = { .sin_family = AF_INET };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) { perror("bindloop"); return 1; }
        close(s);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.0f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
    return 0;
}
EOF
cc -O2 -o "$OUT/bindloop" "$OUT/bindloop.c"

cleanup() {
  sleep 0.3
  find /sys/fs/cgroup -maxdepth 6 -type d -name "$VSBOX_CGROUP" -exec rmdir {} + 2>/dev/null || true  # the kept parents
  rm -rf "$OUT/run"
}
trap cleanup EXIT

for s in "${sections[@]}"; do
  case $s in
  bind)
    echo "== BPF cost per bind: socket+bind+listen+close, $ITER per run, $REPS runs per case (ns/iteration)"
    # Cases interleaved run by run, so drift hits all alike.
    unshare --net -- bash -c '
      set -e; ip link set lo up
      L=$1; V=$2; ITER=$3; REPS=$4
      declare -A r
      cases=(outside-0.0.0.0 outside-127.0.0.2 chbind-0.0.0.0 chbind-127.0.0.2 chbind-noraw-0.0.0.0)
      for i in $(seq "$REPS"); do
        r[outside-0.0.0.0]+="$($L 0.0.0.0 "$ITER") "
        r[outside-127.0.0.2]+="$($L 127.0.0.2 "$ITER") "
        r[chbind-0.0.0.0]+="$($V chbind --silent --ip 127.0.0.2 -- $L 0.0.0.0 "$ITER") "
        r[chbind-127.0.0.2]+="$($V chbind --silent --ip 127.0.0.2 -- $L 127.0.0.2 "$ITER") "
        r[chbind-noraw-0.0.0.0]+="$($V reducecap --cap NET_RAW -- $V chbind --silent --ip 127.0.0.2 -- $L 0.0.0.0 "$ITER") "
      done
      # min: the run least disturbed by other load; median: the typical run.
      med() { tr " " "\n" | grep . | sort -n | awk "{a[NR]=\$1} END {print a[int((NR+1)/2)]}"; }
      min() { tr " " "\n" | grep . | sort -n | head -1; }
      bmed=$(echo "${r[outside-127.0.0.2]}" | med); bmin=$(echo "${r[outside-127.0.0.2]}" | min)
      for c in "${cases[@]}"; do
        m=$(echo "${r[$c]}" | med); n=$(echo "${r[$c]}" | min)
        printf "  %-22s min %6d ns x%.2f  median %6d ns x%.2f  runs: %s\n" "$c" "$n" \
          "$(echo "$n $bmin" | awk "{print \$1/\$2}")" "$m" "$(echo "$m $bmed" | awk "{print \$1/\$2}")" "${r[$c]}"
      done' _ "$OUT/bindloop" "$VSBOX" "$ITER" "$REPS"
    ;;
  start)
    echo "== startup: chbind --ip 127.0.0.2 /bin/true against a plain exec (hyperfine -N, $RUNS runs)"
    unshare --net -- hyperfine -N --style none -w "$WARMUP" -r "$RUNS" --export-csv "$OUT/start.csv" \
      -n plain-exec "/bin/true" \
      -n chbind-0.0.0.0 "$VSBOX chbind --silent --ip 0.0.0.0 /bin/true" \
      -n chbind-127.0.0.2 "$VSBOX chbind --silent --ip 127.0.0.2 /bin/true" >/dev/null
    awk -F, 'NR==2 {base=$4} NR>1 {printf "  %-18s median %7.3f ms  min %7.3f ms  x%.2f\n", $1, $4*1000, $7*1000, $4/base}' "$OUT/start.csv"
    ;;
  *) echo "unknown section $s" >&2; exit 2 ;;
  esac
done
# The watchers clear each network-only context as its command ends; give the last
# one a moment, then check.
sleep 0.5
left=$(ls "$VSBOX_RUNDIR/ctx" 2>/dev/null || true)
[ -z "$left" ] || echo "warning: contexts left: $left" >&2
