#!/usr/bin/env bash
# bench-ps.sh [VSBOX] — vps and vserver-stat against busybox ps, procps ps and the /proc
# floor (../shared/bench/ps_scale.sh), with 1000 and 5000 extra sleepers on the host, then
# with the sleepers spread over contexts (4 × 250, 4 × 1250, 50 × 20). Needs root, cc,
# hyperfine, busybox. Its contexts live in a private registry and cgroup parent and are
# killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
V=$(readlink -f "${1:-target/x86_64-unknown-linux-gnu/release/vsbox}")
SHARED=$(readlink -f "${SHARED:-../shared/bench}")
OUT=${OUT:-/tmp/vsbox-bench-ps}; mkdir -p "$OUT"
cc -O2 -o "$OUT/spawn_sleepers" "$SHARED/spawn_sleepers.c"
export VSBOX_RUNDIR=$OUT/run VSBOX_CGROUP=vsbox-bench-ps-$$
CTXS=()
cleanup() {
  for n in "${CTXS[@]}"; do "$V" vkill --ctx "$n" -KILL 2>/dev/null || true; done
  CTXS=()
  for _ in $(seq 50); do [ -z "$(ls "$VSBOX_RUNDIR/ctx" 2>/dev/null)" ] && break; sleep 0.1; done
  find /sys/fs/cgroup -maxdepth 6 -type d -name "$VSBOX_CGROUP" -exec rmdir {} + 2>/dev/null || true  # the kept parents
}
trap cleanup EXIT INT TERM

echo "== host: extra sleepers outside any context"
bash "$SHARED/ps_scale.sh" -n 1000,5000 --rss -o "$OUT/host" "vps=$V vps ax" "vstat=$V vserver-stat"

for shape in 4x250 4x1250 50x20; do
  nctx=${shape%x*}; per=${shape#*x}
  echo "== $nctx contexts x $per sleepers"
  for _ in $(seq "$nctx"); do
    out=$("$V" chcontext --disconnect -- sh -c "exec $OUT/spawn_sleepers $per 1800 </dev/null >/dev/null 2>&1")
    CTXS+=("${out##* }")
  done
  want=$((nctx * per))
  for _ in $(seq 300); do
    [ "$("$V" vps -eo ctx | awk '$1 > 1' | wc -l)" -ge "$want" ] && break; sleep 0.1
  done
  bash "$SHARED/ps_scale.sh" -n 0 --rss -o "$OUT/$shape" "vps=$V vps ax" "vstat=$V vserver-stat" "vps-ctx=$V vps -eo pid,ctx,name,comm"
  cleanup
done
